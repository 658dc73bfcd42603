"""joint: the centres, their directors and facilities

Revision ID: joint_0006
Revises: joint_0005
Create Date: 2026-12-07 21:46:00.923165
"""
from alembic import op
import sqlalchemy as sa


revision = 'joint_0006'
down_revision = 'joint_0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('joint_centre',
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('org_unit_id', sa.BigInteger(), nullable=False),
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('director_name', sa.String(length=50), nullable=False),
    sa.Column('director_post', sa.String(length=50), nullable=False),
    sa.Column('deputies', sa.JSON(), nullable=False),
    sa.Column('facilities', sa.JSON(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('updated_by_id', sa.BigInteger(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'org_unit_id'], ['org_unit.tenant_id', 'org_unit.id'], name=op.f('fk_joint_centre_tenant_id_org_unit_id_org_unit')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_joint_centre_tenant_id_tenant')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_joint_centre')),
    sa.UniqueConstraint('tenant_id', 'org_unit_id', name=op.f('uq_joint_centre_tenant_id_org_unit_id')),
    info={'pingan_class': 'tenant'}
    )


def downgrade() -> None:
    op.drop_table('joint_centre')
