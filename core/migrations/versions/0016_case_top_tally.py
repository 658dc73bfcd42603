"""statistics: the month and limit tallies rolled up to the county's top units

``case_top_tally`` and ``case_top_limit_tally`` hold what ``case_month_tally`` and
``case_limit_tally`` hold, summed per *top unit* instead of per unit: the child of the county's
root the case's unit lies under (the root itself for cases registered at the root). The county's
figures and a township's then read a few thousand counter rows instead of a hundred thousand
(issue 24, item 3: the county's count by month read ~137,000 per-unit rows, 45 ms alone and 81 ms
under the mixed load; year on year by township 147 ms). Kept by ``core.cases.tally`` in the
writer's transaction like the per-unit tallies; the upgrade fills them from those in one
``INSERT … SELECT … GROUP BY`` each. Grants, row-level security and the Citus distribution come
from ``core.db.secure_schema`` and ``core.citus`` like every tenant table's.

Revision ID: 0016_case_top_tally
Revises: 0015_letters
Create Date: 2026-12-07 07:20:00
"""
from contextlib import ExitStack

from alembic import op
import sqlalchemy as sa

from core.db import rls_unforced


revision = '0016_case_top_tally'
down_revision = '0015_letters'
branch_labels = None
depends_on = None

# the top unit of a unit: its own id at the root, else the second id of its path '/root/top/…/'
TOP_PG = "CASE WHEN u.parent_id IS NULL THEN u.id ELSE split_part(u.path, '/', 3)::bigint END"
_REST = "substr(u.path, instr(substr(u.path, 2), '/') + 2)"  # 'top/…/' of '/root/top/…/'
TOP_SQLITE = f"CASE WHEN u.parent_id IS NULL THEN u.id ELSE CAST(substr({_REST}, 1, instr({_REST}, '/') - 1) AS INTEGER) END"

ROLLUP = """
    SELECT t.tenant_id, {top} AS top_id, t.case_type, t.month, t.{last}, sum(t.n) AS n
    FROM {source} t JOIN org_unit u ON u.tenant_id = t.tenant_id AND u.id = t.org_unit_id
    GROUP BY t.tenant_id, {top}, t.case_type, t.month, t.{last}"""


def _fill(table: str, source: str, last: str, pg: bool) -> None:
    select = ROLLUP.format(top=TOP_PG if pg else TOP_SQLITE, source=source, last=last)
    cols = f"tenant_id, id, top_id, case_type, month, {last}, n"
    if pg:
        op.execute(f"INSERT INTO {table} ({cols}) SELECT tenant_id, nextval('pingan_id_seq'), top_id, "
                   f"case_type, month, {last}, n FROM ({select}) AS g")
        return
    op.execute(f"INSERT INTO {table} ({cols}) SELECT tenant_id, (SELECT value FROM pingan_id_seq) "
               f"+ row_number() OVER (), top_id, case_type, month, {last}, n FROM ({select}) AS g")
    op.execute(f"UPDATE pingan_id_seq SET value = value + (SELECT count(*) FROM {table})")


def upgrade() -> None:
    for table, last, kind in (("case_top_tally", "state", sa.String(length=32)),
                              ("case_top_limit_tally", "met", sa.Boolean())):
        op.create_table(
            table,
            sa.Column('tenant_id', sa.BigInteger(), nullable=False),
            sa.Column('id', sa.BigInteger(), nullable=False),
            sa.Column('top_id', sa.BigInteger(), nullable=False),
            sa.Column('case_type', sa.String(length=64), nullable=False),
            sa.Column('month', sa.String(length=7), nullable=False),
            sa.Column(last, kind, nullable=False),
            sa.Column('n', sa.BigInteger(), nullable=False),
            sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f(f'fk_{table}_tenant_id_tenant')),
            sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f(f'pk_{table}')),
            sa.UniqueConstraint('tenant_id', 'top_id', 'case_type', 'month', last,
                                name=op.f(f'uq_{table}_tenant_id_top_id_case_type_month_{last}')),
            info={'pingan_class': 'tenant'})
    bind = op.get_bind()
    pg = bind.dialect.name == "postgresql"
    with ExitStack() as stack:
        for table in ("case_month_tally", "case_limit_tally", "org_unit"):
            stack.enter_context(rls_unforced(bind, table))
        _fill("case_top_tally", "case_month_tally", "state", pg)
        _fill("case_top_limit_tally", "case_limit_tally", "met", pg)


def downgrade() -> None:
    op.drop_table('case_top_limit_tally')
    op.drop_table('case_top_tally')
