"""open cases by the unit where they arose: ``ix_case_record_open_unit``

A count of the open cases of a subtree — a joint mechanism's figures, any "open in my
township" — was a heap read of every case of each unit (``ix_case_record_unit`` holds closed
ones too): 280 ms for a township of 87,827 cases, a parallel scan of the table for a county of a
million (bench/results/joint.md). This partial index holds the open cases only (about a tenth),
with ``case_type`` and ``due_at`` carried on PostgreSQL (``INCLUDE``): the counts become
index-only scans (3.6 ms, 29 ms). SQLite keeps the plain partial index.

Revision ID: 0019_case_open_unit
Revises: 0018_transfers
Create Date: 2026-12-07 22:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0019_case_open_unit'
down_revision = '0018_transfers'
branch_labels = None
depends_on = None

OPEN = sa.text('closed_at IS NULL')


def upgrade() -> None:
    op.create_index('ix_case_record_open_unit', 'case_record', ['tenant_id', 'org_unit_id'], unique=False,
                    postgresql_include=['case_type', 'due_at'], postgresql_where=OPEN, sqlite_where=OPEN)


def downgrade() -> None:
    op.drop_index('ix_case_record_open_unit', table_name='case_record', postgresql_where=OPEN, sqlite_where=OPEN)
