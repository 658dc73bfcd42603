"""joint: decisions of three kinds, window matters on the agenda

Revision ID: joint_0005
Revises: joint_0004
Create Date: 2026-12-07 21:40:03.985168
"""
from alembic import op
import sqlalchemy as sa

from core.sdk import rls_unforced


revision = 'joint_0005'
down_revision = 'joint_0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('joint_agenda_item', schema=None) as batch_op:
        batch_op.add_column(sa.Column('intake_id', sa.BigInteger(), nullable=True))
        batch_op.alter_column('case_id',
               existing_type=sa.BIGINT(),
               nullable=True)
        batch_op.create_unique_constraint(batch_op.f('uq_joint_agenda_item_tenant_id_meeting_id_intake_id'), ['tenant_id', 'meeting_id', 'intake_id'])
        batch_op.create_foreign_key(batch_op.f('fk_joint_agenda_item_tenant_id_intake_id_intake'), 'intake', ['tenant_id', 'intake_id'], ['tenant_id', 'id'], ondelete='CASCADE')

    with op.batch_alter_table('joint_decision', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=12), server_default='dispatch', nullable=False))
        batch_op.add_column(sa.Column('supervision_id', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('intake_id', sa.BigInteger(), nullable=True))
        batch_op.alter_column('case_id',
               existing_type=sa.BIGINT(),
               nullable=True)
        batch_op.alter_column('deadline',
               existing_type=sa.DATE(),
               nullable=True)
        batch_op.alter_column('lead_task_id',
               existing_type=sa.BIGINT(),
               nullable=True)
        batch_op.create_foreign_key(batch_op.f('fk_joint_decision_tenant_id_supervision_id_case_supervision'), 'case_supervision', ['tenant_id', 'supervision_id'], ['tenant_id', 'id'])
        batch_op.create_foreign_key(batch_op.f('fk_joint_decision_tenant_id_intake_id_intake'), 'intake', ['tenant_id', 'intake_id'], ['tenant_id', 'id'])



def downgrade() -> None:
    # what has no case — decisions other than hand-overs, window matters on agendas — goes
    with rls_unforced(op.get_bind(), "joint_decision"):
        op.execute("DELETE FROM joint_decision WHERE kind <> 'dispatch'")
    with rls_unforced(op.get_bind(), "joint_agenda_item"):
        op.execute("DELETE FROM joint_agenda_item WHERE case_id IS NULL")
    with op.batch_alter_table('joint_decision', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_joint_decision_tenant_id_intake_id_intake'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_joint_decision_tenant_id_supervision_id_case_supervision'), type_='foreignkey')
        batch_op.alter_column('lead_task_id',
               existing_type=sa.BIGINT(),
               nullable=False)
        batch_op.alter_column('deadline',
               existing_type=sa.DATE(),
               nullable=False)
        batch_op.alter_column('case_id',
               existing_type=sa.BIGINT(),
               nullable=False)
        batch_op.drop_column('intake_id')
        batch_op.drop_column('supervision_id')
        batch_op.drop_column('kind')

    with op.batch_alter_table('joint_agenda_item', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_joint_agenda_item_tenant_id_intake_id_intake'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_joint_agenda_item_tenant_id_meeting_id_intake_id'), type_='unique')
        batch_op.alter_column('case_id',
               existing_type=sa.BIGINT(),
               nullable=False)
        batch_op.drop_column('intake_id')

