"""Tenant isolation: the ORM guard, RLS, and every id-taking endpoint (issue 2)."""
from __future__ import annotations

import pytest
from sqlalchemy import select, text

from core.db import TenantNotBound, orm_guard_disabled_unsafe
from core.models import OrgUnit, Person
from tests.conftest import PG_URL


def test_query_without_tenant_raises(db, demo):
    with db.Session() as s:
        with pytest.raises(TenantNotBound):
            s.scalars(select(OrgUnit)).all()


def test_guard_filters_to_the_bound_tenant(db, demo, other):
    with db.transaction(demo.id) as s:
        tenants = set(s.scalars(select(OrgUnit.tenant_id)).all())
    assert tenants == {demo.id}


def test_writing_a_row_of_another_tenant_is_refused(db, demo, other):
    from core.db import TenantMismatch
    with pytest.raises(TenantMismatch):
        with db.transaction(demo.id) as s:
            s.add(Person(tenant_id=other.id, name="x", org_unit_id=other.unit("C")))


@pytest.mark.skipif(not PG_URL, reason="row-level security is PostgreSQL's")
def test_rls_alone_hides_other_tenants(db, demo, other):
    with orm_guard_disabled_unsafe():
        with db.transaction(demo.id) as s:
            orm_rows = set(s.scalars(select(OrgUnit.tenant_id)).all())
            raw_rows = set(s.execute(text("SELECT DISTINCT tenant_id FROM person")).scalars())
        with db.Session() as s:  # nothing bound: RLS shows nothing at all
            none = s.execute(text("SELECT count(*) FROM org_unit")).scalar()
    assert orm_rows == {demo.id}
    assert raw_rows == {demo.id}
    assert none == 0


@pytest.mark.skipif(not PG_URL, reason="PostgreSQL roles")
def test_app_role_owns_nothing_and_may_only_append_audit(db, demo):
    with db.Session() as s:
        role = s.execute(text("SELECT current_user")).scalar()
        attrs = s.execute(text("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")).one()
        owned = s.execute(text("SELECT count(*) FROM pg_tables WHERE schemaname='public' AND tableowner = current_user")).scalar()
    assert role == "pingan_app" and attrs == (False, False) and owned == 0
    from sqlalchemy.exc import ProgrammingError
    for stmt in ("UPDATE audit_entry SET action = 'x'", "DELETE FROM audit_entry"):
        with pytest.raises(ProgrammingError, match="permission denied"):
            with db.transaction(demo.id) as s:
                s.execute(text(stmt))


def test_pool_does_not_bleed_tenants(app, demo, other, token_client):
    """Thousands of interleaved requests of two tenants over a pool of two connections."""
    from concurrent.futures import ThreadPoolExecutor
    from core.app import pingan
    from core.db import Database
    state = pingan(app)
    original = state.db
    pg = original.dialect == "postgresql"
    state.db = Database(original.url, app_role=state.config.db_app_role if pg else None,
                        pool_size=2, max_overflow=0, pool_timeout=120)
    try:
        a, b = token_client(demo, "county.admin"), token_client(other, "county.admin")
        a_units, b_units = set(demo.units.values()), set(other.units.values())

        def one(i: int) -> bool:
            client, mine = (a, a_units) if i % 2 else (b, b_units)
            r = client.get("/api/org-units?limit=200&level=village")
            ids = {u["id"] for u in r.get_json()["items"]}
            return r.status_code == 200 and len(ids) == 40 and ids <= mine

        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(one, range(2000)))
        assert all(results), results.count(False)
    finally:
        state.db.dispose()
        state.db = original


def test_guard_covers_tables_named_only_in_from(db, demo, other):
    """``select(count()).select_from(Model)`` has no entity column; the guard must still apply."""
    from sqlalchemy import func
    with db.Session() as s:
        with pytest.raises(TenantNotBound):
            s.scalar(select(func.count()).select_from(OrgUnit))
    with db.transaction(demo.id) as s:
        assert s.scalar(select(func.count()).select_from(OrgUnit)) == len(demo.units)


@pytest.mark.skipif(not PG_URL, reason="PostgreSQL plans")
def test_subtree_query_uses_the_path_index_under_rls(db, demo):
    """LIKE is not leakproof, so under RLS PostgreSQL would filter the whole tenant instead of
    using the index; ``orgtree.within`` uses leakproof comparisons that the index can serve."""
    from sqlalchemy import create_engine
    from core.orgtree import within
    owner = create_engine(PG_URL)
    with owner.begin() as conn:  # statistics, as the owner (the app role may not ANALYZE)
        conn.execute(text("ANALYZE org_unit"))
    owner.dispose()
    township = demo.unit("T01")
    with db.transaction(demo.id) as s:
        path = s.scalar(select(OrgUnit.path).where(OrgUnit.id == township))
        s.execute(text("SET LOCAL enable_seqscan = off"))
        # the county filter the ORM guard adds when the statement runs (compiling skips it);
        # on Citus it is also what routes the query to the county's shard
        stmt = select(OrgUnit.id).where(within(path), OrgUnit.tenant_id == demo.id)
        compiled = stmt.compile(dialect=s.get_bind().dialect, compile_kwargs={"literal_binds": True})
        plan = "\n".join(s.execute(text(f"EXPLAIN {compiled}")).scalars())
        assert s.execute(text("SELECT current_user")).scalar() == "pingan_app"
    index_conds = [line for line in plan.splitlines() if "Index Cond" in line]
    assert any("path" in line for line in index_conds), plan
