"""case search: the county is an argument of ``case_search_ids`` (issue 23, Citus)

``case_search_ids(text[])`` read the county from the setting ``pingan.tenant_id`` inside its
query. On a Citus coordinator that query cannot be routed to the county's shard (Citus prunes
shards on constants and parameters, not on ``current_setting()``), and called from a query
Citus pushes down to a shard it fails outright ("cannot execute a distributed query from a
query on a shard"). ``case_search_ids(tenant bigint, tokens text[])`` takes the county as a
parameter, so its query is router-executed, and still refuses any county but the one bound
to the transaction (the setting the row-level security policies read): called for another
county it returns nothing. Same owner, ``SECURITY DEFINER`` and grant as before
(``0004_case_search``: why a function).

Revision ID: 0011_case_search_tenant
Revises: 0010_idempotency
Create Date: 2026-12-06 10:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0011_case_search_tenant'
down_revision = '0010_idempotency'
branch_labels = None
depends_on = None

OLD, NEW = "case_search_ids(text[])", "case_search_ids(bigint, text[])"


def _app_role() -> str:
    from core.config import env
    return env("PINGAN_DB_APP_ROLE") or ""


def _create(schema: str, signature: str, tenant_filter: str) -> None:
    # PL/pgSQL, not SQL: its statement gets a plan for the actual tokens (0004_case_search)
    op.execute(f"""
        CREATE FUNCTION "{schema}".{signature} RETURNS SETOF bigint
        LANGUAGE plpgsql STABLE SECURITY DEFINER
        SET search_path = pg_catalog, pg_temp
        ROWS 1000
        AS $$
        BEGIN
          RETURN QUERY
            SELECT c.id FROM "{schema}".case_record AS c
            WHERE {tenant_filter}
              AND string_to_array(c.search_grams, ' ') @> tokens;
        END
        $$""")
    name = signature.replace("tenant bigint", "bigint").replace("tokens text[]", "text[]")
    op.execute(f'REVOKE ALL ON FUNCTION "{schema}".{name} FROM PUBLIC')
    role = _app_role()
    if role:
        op.execute(f'GRANT EXECUTE ON FUNCTION "{schema}".{name} TO "{role}"')


def _replace(old: str, signature: str, tenant_filter: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    schema = op.get_bind().execute(sa.text("SELECT current_schema()")).scalar()
    op.execute(f'DROP FUNCTION IF EXISTS "{schema}".{old}')
    _create(schema, signature, tenant_filter)


def upgrade() -> None:
    _replace(OLD, "case_search_ids(tenant bigint, tokens text[])",
             "c.tenant_id = tenant AND tenant = NULLIF(current_setting('pingan.tenant_id', true), '')::bigint")


def downgrade() -> None:
    _replace(NEW, "case_search_ids(tokens text[])",
             "c.tenant_id = NULLIF(current_setting('pingan.tenant_id', true), '')::bigint")
