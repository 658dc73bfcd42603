"""national calendar and provisional time limits (issue 13)

- ``national_calendar_year`` / ``national_calendar_day``: the State Council's holiday
  schedule of a year as the platform operator loaded it (reference tables: the same for
  every county).
- existing limits' sources that named a requirement id say ``本县规定`` (issue 13, part 7).
- ``case_record.received_at``: when the matter was received (issue 13, part 5); existing cases
  take their registration time, from which their limits ran.
- ``case_record.due_provisional``: the case's earliest running limit is provisional (lists).
- ``case_deadline.provisional``: the limit was counted over a year whose schedule is not
  published yet; ``count_from`` and ``working_days`` let it be counted again when it is.

Revision ID: 0006_national_calendar
Revises: 0005_case_open_due_covering
Create Date: 2026-12-06 04:30:00
"""
from alembic import op
import sqlalchemy as sa

from core.db import rls_unforced


revision = '0006_national_calendar'
down_revision = '0005_case_open_due_covering'
branch_labels = None
depends_on = None

PROVISIONAL = sa.text("provisional AND state <> 'stopped'")


def upgrade() -> None:
    op.create_table(
        'national_calendar_year',
        sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('notice', sa.String(length=200), nullable=False),
        sa.Column('notice_number', sa.String(length=60), nullable=False),
        sa.Column('published_on', sa.Date(), nullable=False),
        sa.Column('loaded_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('loaded_by', sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint('year', name=op.f('pk_national_calendar_year')))
    op.create_table(
        'national_calendar_day',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('is_workday', sa.Boolean(), nullable=False),
        sa.Column('name', sa.String(length=50), nullable=False),
        sa.ForeignKeyConstraint(['year'], ['national_calendar_year.year'],
                                name=op.f('fk_national_calendar_day_year_national_calendar_year'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('day', name=op.f('pk_national_calendar_day')))
    op.create_index(op.f('ix_national_calendar_day_year'), 'national_calendar_day', ['year'], unique=False)
    with op.batch_alter_table('case_record', schema=None) as batch_op:
        batch_op.add_column(sa.Column('due_provisional', sa.Boolean(), server_default=sa.text('false'), nullable=False))
        batch_op.add_column(sa.Column('received_at', sa.DateTime(timezone=True), nullable=True))
    with rls_unforced(op.get_bind(), "case_record"):  # before this field, limits ran from registration
        op.execute("UPDATE case_record SET received_at = created_at")
    # local limits cited a requirement id ("本县规定（PET-1）"): users see the county's words only
    with rls_unforced(op.get_bind(), "case_deadline"):
        op.execute("UPDATE case_deadline SET source = '本县规定' WHERE source LIKE '本县规定（%'")
    with op.batch_alter_table('case_deadline', schema=None) as batch_op:
        batch_op.add_column(sa.Column('provisional', sa.Boolean(), server_default=sa.text('false'), nullable=False))
        batch_op.add_column(sa.Column('count_from', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('working_days', sa.Integer(), server_default=sa.text('0'), nullable=False))
        batch_op.create_index('ix_case_deadline_provisional', ['tenant_id', 'id'], unique=False,
                              postgresql_where=PROVISIONAL, sqlite_where=PROVISIONAL)


def downgrade() -> None:
    with op.batch_alter_table('case_deadline', schema=None) as batch_op:
        batch_op.drop_index('ix_case_deadline_provisional', postgresql_where=PROVISIONAL, sqlite_where=PROVISIONAL)
        batch_op.drop_column('working_days')
        batch_op.drop_column('count_from')
        batch_op.drop_column('provisional')
    with op.batch_alter_table('case_record', schema=None) as batch_op:
        batch_op.drop_column('received_at')
        batch_op.drop_column('due_provisional')
    op.drop_index(op.f('ix_national_calendar_day_year'), table_name='national_calendar_day')
    op.drop_table('national_calendar_day')
    op.drop_table('national_calendar_year')
