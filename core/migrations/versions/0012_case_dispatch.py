"""dispatch to member units: a task's acknowledgement (签收) and the dispatcher's follow-up (回访)

``case_task`` gains ``acknowledge_due_at`` (the county's acknowledgement limit), ``acknowledged_at``,
``acknowledged_by`` and ``ack_flagged_at`` (the sweep flagged it late; partial index
``ix_case_task_ack`` of the open, unacknowledged, unflagged tasks); ``case_follow_up`` holds each
follow-up call with the petitioner's satisfaction (issue 15, item 7; ``core.cases.dispatch``).
Grants, row-level security and the Citus distribution of the new tenant table come from
``core.db.secure_schema`` and ``core.citus`` like every tenant table's.

Revision ID: 0012_case_dispatch
Revises: 0011_case_search_tenant
Create Date: 2026-12-06 14:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0012_case_dispatch'
down_revision = '0011_case_search_tenant'
branch_labels = None
depends_on = None

ACK = "state = 'open' AND acknowledged_at IS NULL AND ack_flagged_at IS NULL"  # the sweep's unflagged tasks


def upgrade() -> None:
    with op.batch_alter_table('case_task', schema=None) as batch_op:
        batch_op.add_column(sa.Column('acknowledge_due_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('acknowledged_by', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('ack_flagged_at', sa.DateTime(timezone=True), nullable=True))
    op.create_index('ix_case_task_ack', 'case_task', ['tenant_id', 'acknowledge_due_at'], unique=False,
                    postgresql_where=sa.text(ACK), sqlite_where=sa.text(ACK))
    op.create_table(
        'case_follow_up',
        sa.Column('tenant_id', sa.BigInteger(), nullable=False),
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('case_id', sa.BigInteger(), nullable=False),
        sa.Column('task_id', sa.BigInteger(), nullable=True),
        sa.Column('satisfaction', sa.String(length=24), nullable=False),
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('called_by', sa.BigInteger(), nullable=True),
        sa.Column('called_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['tenant_id', 'case_id'], ['case_record.tenant_id', 'case_record.id'],
                                name=op.f('fk_case_follow_up_tenant_id_case_id_case_record'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['tenant_id', 'task_id'], ['case_task.tenant_id', 'case_task.id'],
                                name=op.f('fk_case_follow_up_tenant_id_task_id_case_task'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_case_follow_up_tenant_id_tenant')),
        sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_case_follow_up')),
        info={'pingan_class': 'tenant'})
    op.create_index('ix_case_follow_up_case', 'case_follow_up', ['tenant_id', 'case_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_case_follow_up_case', table_name='case_follow_up')
    op.drop_table('case_follow_up')
    op.drop_index('ix_case_task_ack', table_name='case_task')
    with op.batch_alter_table('case_task', schema=None) as batch_op:
        batch_op.drop_column('ack_flagged_at')
        batch_op.drop_column('acknowledged_by')
        batch_op.drop_column('acknowledged_at')
        batch_op.drop_column('acknowledge_due_at')
