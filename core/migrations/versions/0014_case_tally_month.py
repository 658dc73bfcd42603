"""statistics from tallies: cases per month of registration, stopped limits per month and outcome

``case_month_tally`` counts cases per (unit where they arose, type, local month of registration,
state) and ``case_limit_tally`` stopped time limits per (unit where the case arose, type, local
month of the stop, met) — windows and the limits of withdrawn tasks left out, as the on-time
rate leaves them out. Both are kept by ``core.cases.tally`` in the writer's transaction, so the
statistics and the home page read a few hundred counter rows instead of a county's cases
(issue 24, item 3). The upgrade fills them from the rows in one ``INSERT … SELECT … GROUP BY``
each (months in Asia/Shanghai, as ``statistics.month_key``). Grants, row-level security and the
Citus distribution of the new tenant tables come from ``core.db.secure_schema`` and
``core.citus`` like every tenant table's.

Revision ID: 0014_case_tally_month
Revises: 0013_search_scope
Create Date: 2026-12-06 17:30:00
"""
from contextlib import ExitStack

from alembic import op
import sqlalchemy as sa

from core.db import rls_unforced


revision = '0014_case_tally_month'
down_revision = '0013_search_scope'
branch_labels = None
depends_on = None

MONTH_TALLY = """
    SELECT c.tenant_id, c.org_unit_id, c.case_type, {month} AS month, c.state, count(*) AS n
    FROM case_record c
    GROUP BY c.tenant_id, c.org_unit_id, c.case_type, {month}, c.state"""
LIMIT_TALLY = """
    SELECT c.tenant_id, c.org_unit_id, c.case_type, {month} AS month, d.met, count(*) AS n
    FROM case_deadline d JOIN case_record c ON c.tenant_id = d.tenant_id AND c.id = d.case_id
    WHERE d.state = 'stopped' AND d.met IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM case_task t
                      WHERE t.tenant_id = d.tenant_id AND t.id = d.task_id AND t.state = 'cancelled')
    GROUP BY c.tenant_id, c.org_unit_id, c.case_type, {month}, d.met"""


def _month(column: str, pg: bool) -> str:
    return f"to_char(timezone('Asia/Shanghai', {column}), 'YYYY-MM')" if pg \
        else f"strftime('%Y-%m', {column}, '+8 hours')"


def _fill(table: str, last: str, select: str, pg: bool) -> None:
    cols = f"tenant_id, id, org_unit_id, case_type, month, {last}, n"
    if pg:
        op.execute(f"INSERT INTO {table} ({cols}) SELECT tenant_id, nextval('pingan_id_seq'), org_unit_id, "
                   f"case_type, month, {last}, n FROM ({select}) AS g")
        return
    # SQLite: ids from the one-row id table, numbered in the statement, then the table moved on
    op.execute(f"INSERT INTO {table} ({cols}) SELECT tenant_id, (SELECT value FROM pingan_id_seq) "
               f"+ row_number() OVER (), org_unit_id, case_type, month, {last}, n FROM ({select}) AS g")
    op.execute(f"UPDATE pingan_id_seq SET value = value + (SELECT count(*) FROM {table})")


def upgrade() -> None:
    for table, last, kind in (("case_month_tally", "state", sa.String(length=32)),
                              ("case_limit_tally", "met", sa.Boolean())):
        op.create_table(
            table,
            sa.Column('tenant_id', sa.BigInteger(), nullable=False),
            sa.Column('id', sa.BigInteger(), nullable=False),
            sa.Column('org_unit_id', sa.BigInteger(), nullable=False),
            sa.Column('case_type', sa.String(length=64), nullable=False),
            sa.Column('month', sa.String(length=7), nullable=False),
            sa.Column(last, kind, nullable=False),
            sa.Column('n', sa.BigInteger(), nullable=False),
            sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f(f'fk_{table}_tenant_id_tenant')),
            sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f(f'pk_{table}')),
            sa.UniqueConstraint('tenant_id', 'org_unit_id', 'case_type', 'month', last,
                                name=op.f(f'uq_{table}_tenant_id_org_unit_id_case_type_month_{last}')),
            info={'pingan_class': 'tenant'})
    bind = op.get_bind()
    pg = bind.dialect.name == "postgresql"
    with ExitStack() as stack:
        for table in ("case_record", "case_deadline", "case_task"):
            stack.enter_context(rls_unforced(bind, table))
        _fill("case_month_tally", "state", MONTH_TALLY.format(month=_month("c.created_at", pg)), pg)
        _fill("case_limit_tally", "met", LIMIT_TALLY.format(month=_month("d.stopped_at", pg)), pg)
    op.create_index('ix_case_month_tally_month', 'case_month_tally', ['tenant_id', 'month'], unique=False)
    op.create_index('ix_case_limit_tally_month', 'case_limit_tally', ['tenant_id', 'month'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_case_limit_tally_month', table_name='case_limit_tally')
    op.drop_index('ix_case_month_tally_month', table_name='case_month_tally')
    op.drop_table('case_limit_tally')
    op.drop_table('case_month_tally')
