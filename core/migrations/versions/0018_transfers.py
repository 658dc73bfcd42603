"""transfers between counties (跨县移交): ``transfer_out`` and ``transfer_in``

The core's cross-county transfer (issue 20; ``core.transfers``): the sending county's side of a
request and the receiving county's, joined by a random token, each a tenant table with
``tenant_id`` first in every key; grants, row-level security and the Citus distribution come
from ``core.db.secure_schema`` and ``core.citus`` like every tenant table's.

Revision ID: 0018_transfers
Revises: 0017_search_serial
Create Date: 2026-12-07 18:10:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0018_transfers'
down_revision = '0017_search_serial'
branch_labels = None
depends_on = None


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(['tenant_id', column], [f'{target}.tenant_id', f'{target}.id'],
                                   name=op.f(f'fk_{table}_tenant_id_{column}_{target}'))


def upgrade() -> None:
    op.create_table(
        'transfer_out',
        sa.Column('tenant_id', sa.BigInteger(), nullable=False),
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('token', sa.String(length=32), nullable=False),
        sa.Column('kind', sa.String(length=64), nullable=False),
        sa.Column('subject_id', sa.BigInteger(), nullable=False),
        sa.Column('org_unit_id', sa.BigInteger(), nullable=False),
        sa.Column('to_tenant_id', sa.BigInteger(), nullable=False),
        sa.Column('meta', sa.Text(), nullable=False),
        sa.Column('audience_bidx', sa.String(length=32), nullable=True),
        sa.Column('note', sa.Text(), nullable=True),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('answer', sa.Text(), nullable=True),
        sa.Column('created_by', sa.BigInteger(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('withdraw_by', sa.BigInteger(), nullable=True),
        sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
        _fk('transfer_out', 'created_by', 'app_user'), _fk('transfer_out', 'org_unit_id', 'org_unit'),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_transfer_out_tenant_id_tenant')),
        sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_transfer_out')),
        sa.UniqueConstraint('tenant_id', 'token', name=op.f('uq_transfer_out_tenant_id_token')),
        info={'pingan_class': 'tenant'})
    op.create_index('ix_transfer_out_subject', 'transfer_out', ['tenant_id', 'kind', 'subject_id'])
    op.create_index('ix_transfer_out_unit', 'transfer_out', ['tenant_id', 'org_unit_id', 'state'])
    # one open offer per subject, whatever two requests at once try
    op.create_index('uq_transfer_out_open', 'transfer_out', ['tenant_id', 'kind', 'subject_id'], unique=True,
                    postgresql_where=sa.text("state IN ('offered', 'withdrawing')"),
                    sqlite_where=sa.text("state IN ('offered', 'withdrawing')"))
    op.create_table(
        'transfer_in',
        sa.Column('tenant_id', sa.BigInteger(), nullable=False),
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('token', sa.String(length=32), nullable=False),
        sa.Column('kind', sa.String(length=64), nullable=False),
        sa.Column('from_tenant_id', sa.BigInteger(), nullable=False),
        sa.Column('meta', sa.Text(), nullable=False),
        sa.Column('audience_bidx', sa.String(length=32), nullable=True),
        sa.Column('note', sa.Text(), nullable=True),
        sa.Column('offered_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('shown', sa.Boolean(), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('org_unit_id', sa.BigInteger(), nullable=True),
        sa.Column('decided_by', sa.BigInteger(), nullable=True),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('answer', sa.Text(), nullable=True),
        sa.Column('subject_id', sa.BigInteger(), nullable=True),
        sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
        _fk('transfer_in', 'decided_by', 'app_user'), _fk('transfer_in', 'org_unit_id', 'org_unit'),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_transfer_in_tenant_id_tenant')),
        sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_transfer_in')),
        sa.UniqueConstraint('tenant_id', 'token', name=op.f('uq_transfer_in_tenant_id_token')),
        info={'pingan_class': 'tenant'})
    op.create_index('ix_transfer_in_state', 'transfer_in', ['tenant_id', 'state', 'id'])


def downgrade() -> None:
    op.drop_index('ix_transfer_in_state', table_name='transfer_in')
    op.drop_table('transfer_in')
    op.drop_index('uq_transfer_out_open', table_name='transfer_out')
    op.drop_index('ix_transfer_out_unit', table_name='transfer_out')
    op.drop_index('ix_transfer_out_subject', table_name='transfer_out')
    op.drop_table('transfer_out')
