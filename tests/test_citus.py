"""The platform on a Citus cluster (issue 23): the schema distributed, row-level security on
every shard, and a county's requests and jobs router-executed on the shards of its tenant.

Runs when the suite's PostgreSQL is a Citus coordinator (.ci/run's third run, on
``../shared/citus``); on any other database these tests are skipped (SQLite, plain PostgreSQL).
"""
from __future__ import annotations

import re

import pytest
from sqlalchemy import create_engine, event, func, select, text

from core import citus
from core.app import pingan
from core.cases.models import Case
from core.cases import sweep
from core.db import Base, bind_tenant, bind_tenant_sql, orm_guard_disabled_unsafe, table_class
from tests.casework import register
from tests.conftest import PG_URL, on_citus

pytestmark = pytest.mark.skipif(not (PG_URL and on_citus(PG_URL)), reason="needs a Citus coordinator "
                                "(PINGAN_TEST_DATABASE_URL=…:5433/test after ../shared/citus/setup.sh)")


def platform_tables(conn) -> list:
    """The tables of the metadata this database has: the core's and the installed modules' (made
    by the migrations), and a test's throw-away module's once that test made it — not one that a
    test module merely declared on import."""
    from sqlalchemy import inspect
    have = set(inspect(conn).get_table_names())
    return [t for t in Base.metadata.sorted_tables if t.name in have]


def test_every_table_of_every_module_is_distributed_or_a_reference_table(app):
    with pingan(app).db.engine.connect() as conn:
        layout = citus.layout(conn)
        tables = platform_tables(conn)
    for table in tables:
        expected = "distributed" if table_class(table) == "tenant" else "reference"
        assert layout.get(table.name) == expected, table.name
    assert citus.distribute  # idempotent: a second run changes nothing
    from core.migrate import distribute
    report = distribute(pingan(app).config, pingan(app).plugins)
    assert (report.reference, report.distributed) == ([], [])


def test_row_level_security_holds_on_the_workers_shards(app, demo, other):
    """With the ORM guard off, the tenant bound for the transaction (propagated to the workers
    with SET LOCAL) is all that stands between two counties: another county's rows stay unseen."""
    db = pingan(app).db
    with orm_guard_disabled_unsafe(), db.transaction(demo.id) as s:
        tenants = set(s.scalars(select(Case.tenant_id).distinct()))
        assert tenants <= {demo.id}
        theirs = s.scalar(select(func.count()).select_from(Case).where(Case.tenant_id == other.id))
        assert theirs == 0


def test_a_write_for_another_county_is_refused_on_the_shard(app, demo, other):
    db = pingan(app).db
    with db.engine.connect() as conn:
        with conn.begin():
            conn.exec_driver_sql(bind_tenant_sql(demo.id), execution_options={"no_parameters": True})
            with pytest.raises(Exception, match="row-level security"):
                conn.execute(text("INSERT INTO audit_head (tenant_id, id, seq, hash) VALUES (:t, 0, 0, 'x')"),
                             {"t": other.id})


class Statements:
    """Every statement the app sends while it is on, with its parameters."""

    def __init__(self, engine) -> None:
        self.engine, self.seen = engine, []

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._note)
        return self

    def __exit__(self, *exc) -> None:
        event.remove(self.engine, "before_cursor_execute", self._note)

    def _note(self, conn, cursor, statement, parameters, context, executemany) -> None:
        if executemany:
            parameters = parameters[0] if parameters else None
        self.seen.append((statement, parameters))


TASKS = re.compile(r"Task Count: (\d+)")


def multi_shard(engine, tenant_id: int, statements) -> list[str]:
    """The statements among ``statements`` whose plan runs on more than one shard."""
    out = []
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        for statement, params in statements:
            head = statement.lstrip().split(None, 1)[0].upper()
            if head not in ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH") or "pg_" in statement[:80]:
                continue
            with raw.transaction():
                with raw.cursor() as cur:
                    cur.execute(bind_tenant_sql(tenant_id))
                    cur.execute("EXPLAIN " + statement, params or None)
                    plan = "\n".join(r[0] for r in cur.fetchall())
            counts = [int(n) for n in TASKS.findall(plan)]
            if any(n > 1 for n in counts):
                out.append(statement.split("\n")[0][:160])
    return out


def test_a_countys_requests_and_sweep_are_router_executed(app, county, login):
    """The main list, a case's page, the dashboard, a registration and the sweep: every
    statement's plan reaches one shard (Citus ``Task Count: 1``), the county's own."""
    state = pingan(app)
    village = login(county, "village.cadre")
    case = register(village, county.unit("T01D1V1"))
    town = login(county, "donghu.admin")
    with Statements(state.db.engine) as seen:
        assert village.get("/api/cases?limit=20").status_code == 200
        assert village.get(f"/api/cases/{case['id']}").status_code == 200
        assert town.get("/", headers={"Accept": "text/html"}).status_code == 200
        register(village, county.unit("T01D1V1"), title="登记：路由执行")
        with app.app_context(), state.db.transaction(county.id) as s:
            sweep.run(s, state.plugins)
    assert len(seen.seen) > 20
    kinds = {st.lstrip().split(None, 1)[0].upper() for st, _ in seen.seen}
    assert {"SELECT", "INSERT", "UPDATE"} <= kinds
    with bind_tenant(county.id):
        assert multi_shard(state.db.engine, county.id, seen.seen) == []
        # the check sees a statement that is not: every county's cases, for the operator
        everyone = [("SELECT count(*) FROM case_record", None)]
        assert multi_shard(state.db.engine, county.id, everyone) == ["SELECT count(*) FROM case_record"]


def test_a_large_county_moves_to_a_worker_of_its_own(app, county, login):
    """docs/citus.md: ``isolate_tenant_to_new_shard`` gives a county shards of its own (every
    co-located table, CASCADE), ``citus_move_shard_placement`` moves them to another worker;
    the county's work carries on."""
    village = login(county, "village.cadre")
    case = register(village, county.unit("T01D1V1"))
    owner = create_engine(PG_URL)
    try:
        with owner.begin() as conn:
            shard = conn.execute(text("SELECT isolate_tenant_to_new_shard('case_record', :t, 'CASCADE', "
                                      "shard_transfer_mode => 'block_writes')"), {"t": county.id}).scalar()
        with owner.connect() as conn:
            source = conn.execute(text("SELECT nodename, nodeport FROM citus_shards WHERE shardid = :s"),
                                  {"s": shard}).one()
            target = conn.execute(text("SELECT node_name, node_port FROM citus_get_active_worker_nodes() "
                                       "WHERE node_port <> :p LIMIT 1"), {"p": source.nodeport}).one()
        with owner.begin() as conn:
            conn.execute(text("SELECT citus_move_shard_placement(:s, :sh, :sp, :th, :tp, "
                              "shard_transfer_mode => 'block_writes')"),
                         {"s": shard, "sh": source.nodename, "sp": source.nodeport,
                          "th": target.node_name, "tp": target.node_port})
        with owner.connect() as conn:
            moved = conn.execute(text(
                "SELECT count(*) FROM citus_shards s JOIN pg_dist_shard d USING (shardid) WHERE s.nodeport = :p "
                "AND d.shardminvalue = (SELECT shardminvalue FROM pg_dist_shard WHERE shardid = :s)"),
                {"p": target.node_port, "s": shard}).scalar()
            assert moved == len([t for t in platform_tables(conn) if table_class(t) == "tenant"])
    finally:
        owner.dispose()
    assert village.get(f"/api/cases/{case['id']}").status_code == 200
    assert register(village, county.unit("T01D1V1"), title="搬迁后登记")["id"]
