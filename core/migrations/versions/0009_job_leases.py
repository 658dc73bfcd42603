"""long jobs owned by the database: heartbeat and lease (issue 25)

``job_run.attempts`` counts the times a worker claimed the run (its fencing token: only the
current attempt may write progress or finish it); ``requeues`` the times the sweep put it back
in the queue; ``heartbeat_at`` is the last sign of life of the worker running it and
``lease_until`` the time after which the sweep takes it back (a running run) or checks that
its queue entry still exists (a queued run). ``ix_job_run_open`` holds only the open runs the
sweep reads. Existing open runs have no lease (NULL), which the sweep takes as over: the
first sweep after the upgrade looks at them.

Revision ID: 0009_job_leases
Revises: 0008_password_set_at
Create Date: 2026-12-06 07:20:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0009_job_leases'
down_revision = '0008_password_set_at'
branch_labels = None
depends_on = None

OPEN = sa.text("state IN ('queued', 'running')")


def upgrade() -> None:
    with op.batch_alter_table('job_run', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attempts', sa.Integer(), server_default=sa.text('0'), nullable=False))
        batch_op.add_column(sa.Column('requeues', sa.Integer(), server_default=sa.text('0'), nullable=False))
        batch_op.add_column(sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_job_run_open', ['tenant_id', 'lease_until'], unique=False,
                              postgresql_where=OPEN, sqlite_where=OPEN)


def downgrade() -> None:
    with op.batch_alter_table('job_run', schema=None) as batch_op:
        batch_op.drop_index('ix_job_run_open', postgresql_where=OPEN, sqlite_where=OPEN)
        batch_op.drop_column('lease_until')
        batch_op.drop_column('heartbeat_at')
        batch_op.drop_column('requeues')
        batch_op.drop_column('attempts')
