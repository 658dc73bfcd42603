"""safe retries: the keys of idempotent writes and their answers (issue 25)

``idempotency_key``: one row per (county, user, key) a write was sent with — its request's
fingerprint, when it was made, and the answer it got (status; content type, headers and body
encrypted with the data key ring). Kept ``PINGAN_IDEMPOTENCY_HOURS``. Grants and row-level
security come from ``core.db.secure_schema`` like every tenant table's.

Revision ID: 0010_idempotency
Revises: 0009_job_leases
Create Date: 2026-12-06 07:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0010_idempotency'
down_revision = '0009_job_leases'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'idempotency_key',
        sa.Column('tenant_id', sa.BigInteger(), nullable=False),
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('user_id', sa.BigInteger(), nullable=False),
        sa.Column('key', sa.String(length=255), nullable=False),
        sa.Column('fingerprint', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('status', sa.Integer(), nullable=True),
        sa.Column('answer', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['tenant_id', 'user_id'], ['app_user.tenant_id', 'app_user.id'],
                                name=op.f('fk_idempotency_key_tenant_id_user_id_app_user'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_idempotency_key_tenant_id_tenant')),
        sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_idempotency_key')),
        sa.UniqueConstraint('tenant_id', 'user_id', 'key', name=op.f('uq_idempotency_key_tenant_id_user_id_key')),
        info={'pingan_class': 'tenant'})
    op.create_index('ix_idempotency_key_created', 'idempotency_key', ['tenant_id', 'created_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_idempotency_key_created', table_name='idempotency_key')
    op.drop_table('idempotency_key')
