"""keyword search: the user's scope and a limit inside the index query (issue 24, item 2)

``case_search_ids(tenant bigint, tokens text[])`` returned every match of the county (178,585
ids for 纠纷 at 1M cases) for the app's query to cut down to the user's scope and ``LIMIT 20``:
0.7–1.8 s a search, whatever the scope. ``case_search_ids(tenant bigint, tokens text[], paths
text[], lim integer)`` returns at most ``lim`` matching ids of the subtrees ``paths`` (``NULL``:
the whole county) — cases that arose there or have a task there that was not cancelled, the
rule of ``core.cases.access``. It reads the ids of the units under ``paths`` first (a path range
per path on ``(tenant_id, path)``) and runs its query with ``EXECUTE … USING``, so each call is
planned for its values: the planner sees how many units and which tokens, and chooses between
the GIN index, the unit index and both (``BitmapAnd``). Two branches, the arising unit and the
tasks, each free to use its own index (an ``OR`` of them could use none). The county is still
an argument (Citus routes the query to the county's shard, ``0011_case_search_tenant``), and
still refused unless it is the county bound to the transaction. Same owner, ``SECURITY
DEFINER`` and grant as before (``0004_case_search``: why a function).

Also ``ix_person_name (tenant_id, name)``: the case list's ``person=<name>`` filter read every
person of the county (570k in the benchmark's county) to find a name; equality on a name is
leakproof, so the index serves it under RLS (ID numbers and phones have their blind indexes).

Revision ID: 0013_search_scope
Revises: 0012_case_dispatch
Create Date: 2026-12-06 17:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0013_search_scope'
down_revision = '0012_case_dispatch'
branch_labels = None
depends_on = None

OLD, NEW = "case_search_ids(bigint, text[])", "case_search_ids(bigint, text[], text[], integer)"
BOUND = "NULLIF(current_setting('pingan.tenant_id', true), '')::bigint"


def _app_role() -> str:
    from core.config import env
    return env("PINGAN_DB_APP_ROLE") or ""


def _grant(schema: str, name: str) -> None:
    op.execute(f'REVOKE ALL ON FUNCTION "{schema}".{name} FROM PUBLIC')
    role = _app_role()
    if role:
        op.execute(f'GRANT EXECUTE ON FUNCTION "{schema}".{name} TO "{role}"')


def _create_new(schema: str) -> None:
    grams = "string_to_array(c.search_grams, '' '') @> $2"
    op.execute(f"""
        CREATE FUNCTION "{schema}".case_search_ids(tenant bigint, tokens text[], paths text[], lim integer)
        RETURNS SETOF bigint
        LANGUAGE plpgsql STABLE SECURITY DEFINER
        SET search_path = pg_catalog, pg_temp
        ROWS 100
        AS $$
        DECLARE
          units bigint[];
        BEGIN
          IF tenant IS DISTINCT FROM {BOUND} THEN
            RETURN;
          END IF;
          IF paths IS NULL THEN
            RETURN QUERY EXECUTE
              'SELECT c.id FROM "{schema}".case_record AS c WHERE c.tenant_id = $1 AND {grams} LIMIT $3'
              USING tenant, tokens, lim;
            RETURN;
          END IF;
          -- a path range per granted subtree ('0' follows '/': core.orgtree.within)
          SELECT array_agg(u.id) INTO units
            FROM unnest(paths) AS p(path)
            JOIN "{schema}".org_unit AS u
              ON u.tenant_id = tenant AND u.path >= p.path AND u.path < left(p.path, -1) || '0';
          IF units IS NULL THEN
            RETURN;
          END IF;
          RETURN QUERY EXECUTE
            'SELECT c.id FROM "{schema}".case_record AS c
              WHERE c.tenant_id = $1 AND c.org_unit_id = ANY ($3) AND {grams}
             UNION ALL
             SELECT c.id FROM "{schema}".case_task AS t
               JOIN "{schema}".case_record AS c ON c.tenant_id = t.tenant_id AND c.id = t.case_id
              WHERE t.tenant_id = $1 AND t.org_unit_id = ANY ($3) AND t.state <> ''cancelled''
                AND c.tenant_id = $1 AND {grams}
             LIMIT $4'
            USING tenant, tokens, units, lim;
        END
        $$""")
    _grant(schema, NEW)


def _create_old(schema: str) -> None:
    op.execute(f"""
        CREATE FUNCTION "{schema}".case_search_ids(tenant bigint, tokens text[]) RETURNS SETOF bigint
        LANGUAGE plpgsql STABLE SECURITY DEFINER
        SET search_path = pg_catalog, pg_temp
        ROWS 1000
        AS $$
        BEGIN
          RETURN QUERY
            SELECT c.id FROM "{schema}".case_record AS c
            WHERE c.tenant_id = tenant AND tenant = {BOUND}
              AND string_to_array(c.search_grams, ' ') @> tokens;
        END
        $$""")
    _grant(schema, OLD)


def _schema() -> str | None:
    if op.get_bind().dialect.name != "postgresql":
        return None
    return op.get_bind().execute(sa.text("SELECT current_schema()")).scalar()


def upgrade() -> None:
    op.create_index('ix_person_name', 'person', ['tenant_id', 'name'], unique=False)
    schema = _schema()
    if schema is None:
        return  # SQLite: keyword search is a LIKE scan (core.cases.search)
    op.execute(f'DROP FUNCTION IF EXISTS "{schema}".{OLD}')
    _create_new(schema)


def downgrade() -> None:
    schema = _schema()
    if schema is not None:
        op.execute(f'DROP FUNCTION IF EXISTS "{schema}".{NEW}')
        _create_old(schema)
    op.drop_index('ix_person_name', table_name='person')
