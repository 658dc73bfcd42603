"""open-case limits index covers the dashboard's counts (issue 3)

On PostgreSQL ``ix_case_record_open_due`` also carries ``case_type`` and ``org_unit_id``
(``INCLUDE``), so the dashboard's overdue and due-soon counts of a county with a hundred
thousand open cases are an index-only scan instead of a heap read per case
(bench/results/cases.md). SQLite has no ``INCLUDE``; its index is unchanged.

Revision ID: 0005_case_open_due_covering
Revises: 0004_case_search
Create Date: 2026-11-23 22:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0005_case_open_due_covering'
down_revision = '0004_case_search'
branch_labels = None
depends_on = None

OPEN = sa.text('closed_at IS NULL')


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index('ix_case_record_open_due', table_name='case_record', postgresql_where=OPEN)
    op.create_index('ix_case_record_open_due', 'case_record', ['tenant_id', 'due_at'], unique=False,
                    postgresql_include=['case_type', 'org_unit_id'], postgresql_where=OPEN)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index('ix_case_record_open_due', table_name='case_record', postgresql_where=OPEN)
    op.create_index('ix_case_record_open_due', 'case_record', ['tenant_id', 'due_at'], unique=False,
                    postgresql_where=OPEN)
