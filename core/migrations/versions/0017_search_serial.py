"""keyword search: the index query of ``case_search_ids`` runs without parallel workers

On the 1M-case set, a township's search for a common word (养老: 35,302 matches in the county,
~3,100 among its 996 units) had PostgreSQL start two parallel workers for the function's
``BitmapAnd`` of the GIN index and the unit index: 30–33 ms, against 19 ms for the same query
run serially (``max_parallel_workers_per_gather = 0``, three runs each; bench/results/
search_quiet.md). Starting workers costs more than they save on a query this size, and on a
county's few cores they take cores from other requests. The function's own setting, so nothing
else the app runs changes.

Revision ID: 0017_search_serial
Revises: 0016_case_top_tally
Create Date: 2026-12-07 08:05:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0017_search_serial'
down_revision = '0016_case_top_tally'
branch_labels = None
depends_on = None

FUNCTION = "case_search_ids(bigint, text[], text[], integer)"


def _schema() -> str | None:
    if op.get_bind().dialect.name != "postgresql":
        return None  # SQLite: keyword search is a LIKE scan (core.cases.search)
    return op.get_bind().execute(sa.text("SELECT current_schema()")).scalar()


def upgrade() -> None:
    schema = _schema()
    if schema is not None:
        op.execute(f'ALTER FUNCTION "{schema}".{FUNCTION} SET max_parallel_workers_per_gather = 0')


def downgrade() -> None:
    schema = _schema()
    if schema is not None:
        op.execute(f'ALTER FUNCTION "{schema}".{FUNCTION} RESET max_parallel_workers_per_gather')
