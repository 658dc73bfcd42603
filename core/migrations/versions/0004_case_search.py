"""case search: indexed keyword and number search, indexes for the statistics (issue 3)

- ``case_record.search_grams`` is stored without the space it had at each end (the tokens,
  sorted, one space apart; see ``core.cases.search``).
- PostgreSQL: a GIN index over ``string_to_array(search_grams, ' ')`` (locale-independent:
  the tokens are cut by ``core.cases.search``, not by the database) and the function
  ``case_search_ids(text[])`` that reads it. The function is ``SECURITY DEFINER`` because
  under row-level security only leakproof operators may use an index ahead of the policy
  and no GIN operator is leakproof; it filters ``tenant_id`` from the same setting the
  policy reads. It is executable by the app role only. Its owner (the role running the
  migrations) must bypass RLS (superuser or ``BYPASSRLS``) for the index to be used; if it
  does not, search still answers correctly, by reading the county's cases.
- PostgreSQL: ``(tenant_id, number COLLATE "C")`` for number prefix search as a byte-wise
  range (LIKE is not leakproof either; SQLite compares bytes and uses the unique key).
- Both: partial indexes on ``case_record (tenant_id, closed_at)`` of closed cases ("closed
  this month") and on ``case_deadline (tenant_id, stopped_at)`` of stopped limits (on-time
  rates).

Revision ID: 0004_case_search
Revises: 0003_cases
Create Date: 2026-11-23 20:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0004_case_search'
down_revision = '0003_cases'
branch_labels = None
depends_on = None

FUNCTION = "case_search_ids(text[])"


def _app_role() -> str:
    from core.config import env
    return env("PINGAN_DB_APP_ROLE") or ""


def _forced(table: str) -> bool:
    query = sa.text("SELECT relforcerowsecurity FROM pg_class WHERE oid = CAST(:t AS regclass)")
    return bool(op.get_bind().execute(query, {"t": table}).scalar())


def upgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    forced = pg and _forced("case_record")
    if forced:  # the owner is subject to a forced policy: no tenant bound here, so it would see no rows
        op.execute("ALTER TABLE case_record NO FORCE ROW LEVEL SECURITY")
    op.execute("UPDATE case_record SET search_grams = trim(search_grams, ' ') "
               "WHERE search_grams LIKE ' %' OR search_grams LIKE '% '")
    if forced:
        op.execute("ALTER TABLE case_record FORCE ROW LEVEL SECURITY")
    op.create_index('ix_case_record_closed', 'case_record', ['tenant_id', 'closed_at'], unique=False,
                    postgresql_where=sa.text('closed_at IS NOT NULL'), sqlite_where=sa.text('closed_at IS NOT NULL'))
    op.create_index('ix_case_deadline_stopped', 'case_deadline', ['tenant_id', 'stopped_at'], unique=False,
                    postgresql_where=sa.text("state = 'stopped'"), sqlite_where=sa.text("state = 'stopped'"))
    if not pg:
        return
    op.execute("CREATE INDEX ix_case_record_grams ON case_record USING gin (string_to_array(search_grams, ' '))")
    op.execute('CREATE INDEX ix_case_record_number_c ON case_record (tenant_id, number COLLATE "C")')
    schema = op.get_bind().execute(sa.text("SELECT current_schema()")).scalar()
    # PL/pgSQL, not SQL: its statement gets a plan for the actual tokens (the array statistics
    # of the index tell a rare token from a common one), where a SQL function's is generic.
    op.execute(f"""
        CREATE FUNCTION "{schema}".case_search_ids(tokens text[]) RETURNS SETOF bigint
        LANGUAGE plpgsql STABLE SECURITY DEFINER
        SET search_path = pg_catalog, pg_temp
        ROWS 1000
        AS $$
        BEGIN
          RETURN QUERY
            SELECT c.id FROM "{schema}".case_record AS c
            WHERE c.tenant_id = NULLIF(current_setting('pingan.tenant_id', true), '')::bigint
              AND string_to_array(c.search_grams, ' ') @> tokens;
        END
        $$""")
    op.execute(f'REVOKE ALL ON FUNCTION "{schema}".{FUNCTION} FROM PUBLIC')
    role = _app_role()
    if role:
        op.execute(f"""
            DO $$ BEGIN
              IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
                CREATE ROLE "{role}" NOLOGIN NOBYPASSRLS;  -- as core.db.secure_schema creates it
              END IF;
            END $$""")
        op.execute(f'GRANT EXECUTE ON FUNCTION "{schema}".{FUNCTION} TO "{role}"')


def downgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    if pg:
        op.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}")
        op.execute("DROP INDEX IF EXISTS ix_case_record_number_c")
        op.execute("DROP INDEX IF EXISTS ix_case_record_grams")
    op.drop_index('ix_case_deadline_stopped', table_name='case_deadline',
                  postgresql_where=sa.text("state = 'stopped'"), sqlite_where=sa.text("state = 'stopped'"))
    op.drop_index('ix_case_record_closed', table_name='case_record',
                  postgresql_where=sa.text('closed_at IS NOT NULL'), sqlite_where=sa.text('closed_at IS NOT NULL'))
