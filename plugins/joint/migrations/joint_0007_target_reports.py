"""joint: progress reports on campaign targets

Revision ID: joint_0007
Revises: joint_0006
Create Date: 2026-12-07 21:51:16.499293
"""
from alembic import op
import sqlalchemy as sa


revision = 'joint_0007'
down_revision = 'joint_0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('joint_target_report',
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('target_id', sa.BigInteger(), nullable=False),
    sa.Column('reported_on', sa.Date(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('reported_by_id', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'target_id'], ['joint_campaign_target.tenant_id', 'joint_campaign_target.id'], name=op.f('fk_joint_target_report_tenant_id_target_id_joint_campaign_target'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_joint_target_report_tenant_id_tenant')),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_joint_target_report')),
    info={'pingan_class': 'tenant'}
    )
    with op.batch_alter_table('joint_target_report', schema=None) as batch_op:
        batch_op.create_index('ix_joint_target_report_target', ['tenant_id', 'target_id', 'reported_on'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('joint_target_report', schema=None) as batch_op:
        batch_op.drop_index('ix_joint_target_report_target')

    op.drop_table('joint_target_report')
