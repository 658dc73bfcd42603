"""Issue 24, item 1: a user's scope reaches SQL as path ranges, never as a list of unit ids.

A township officer's case list bound 2,991 parameters (996 unit ids, three times) at 1M cases:
44 % of its time was Python building the statement and psycopg parsing it. The scope is now a
subquery on the ``(tenant_id, path)`` index (``core.cases.access.in_subtrees``): the number of
bound values of a list does not grow with the units under the user, and the same holds for a
drill-down to a unit's subtree (``org_unit_id`` / ``handling_unit_id``).
"""
from __future__ import annotations

import contextlib

from sqlalchemy import event

from core.app import pingan
from tests.casework import register


@contextlib.contextmanager
def bound_values(app):
    """Every statement's number of bound parameters, with its text, while inside."""
    seen: list[tuple[int, str]] = []
    engine = pingan(app).db.engine

    def count(conn, cursor, statement, parameters, context, executemany):
        seen.append((len(parameters or ()), statement))

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def list_parameters(app, client, query: str = "") -> int:
    """The most values any statement over ``case_record`` of one list request bound."""
    with bound_values(app) as seen:
        r = client.get(f"/api/cases?limit=20{query}")
    assert r.status_code == 200, r.get_json()
    return max(n for n, sql in seen if "case_record" in sql)


def add_villages(client, parent: int, n: int) -> None:
    for i in range(n):
        r = client.post("/api/org-units", json={"parent_id": parent, "name": f"新村{i}", "level": "village"})
        assert r.status_code == 201, r.get_json()


def test_a_township_list_binds_the_same_few_values_however_many_units_it_holds(app, county, login):
    """issue 24 item 1: the township's list binds a bounded number of values (it bound the id of
    every unit in the township, in both arms of the rule); the cases it shows are unchanged."""
    admin, town = login(county, "county.admin"), login(county, "donghu.admin")
    mine = register(town, county.unit("T01D1V1"), title="镇内事项")
    register(admin, county.unit("T02"), title="别镇事项")
    before = list_parameters(app, town)
    add_villages(admin, county.unit("T01D1"), 40)
    after = list_parameters(app, town)
    assert after == before, (before, after)
    assert after <= 12, after
    assert [c["id"] for c in town.get("/api/cases").get_json()["items"]] == [mine["id"]]


def test_a_drill_down_to_a_subtree_binds_a_path_range(app, county, login):
    """issue 24 item 1: ``org_unit_id`` / ``handling_unit_id`` filters (the statistics'
    drill-downs) are path ranges too, not the subtree's ids."""
    admin = login(county, "county.admin")
    inside = register(admin, county.unit("T01D1V1"), title="东湖镇事项")
    register(admin, county.unit("T02"), title="青山乡事项")
    query = f"&org_unit_id={county.unit('T01')}"
    before = list_parameters(app, admin, query)
    add_villages(admin, county.unit("T01D1"), 40)
    assert list_parameters(app, admin, query) == before
    assert before <= 12, before
    got = admin.get(f"/api/cases?org_unit_id={county.unit('T01')}").get_json()["items"]
    assert [c["id"] for c in got] == [inside["id"]]
    handled = admin.get(f"/api/cases?handling_unit_id={county.unit('T01')}").get_json()["items"]
    assert handled == []  # nothing diverted yet


def test_the_scope_subquery_reads_the_path_index(app, county, login):
    """The units in scope are a byte-wise path range (``core.orgtree.within``) in the list's
    statement: no id of a unit is in its parameters."""
    town = login(county, "donghu.admin")
    register(town, county.unit("T01D1V1"))
    with bound_values(app) as seen:
        assert town.get("/api/cases?limit=5").status_code == 200
    (sql,) = [s for n, s in seen if "FROM case_record" in s and "LIMIT" in s.upper()]
    assert "org_unit.path >=" in sql and "org_unit.path <" in sql, sql


def _task(db, county, case_id: int, unit_id: int, state: str) -> None:
    """A task of ``unit_id`` on the case (as a diversion leaves it; ``cancelled``: withdrawn)."""
    from core.cases.models import CaseTask
    with db.transaction(county.id) as s:
        s.add(CaseTask(case_id=case_id, org_unit_id=unit_id, role="co", state=state))


def test_a_small_scope_binds_its_few_units_and_still_sees_cases_through_tasks(app, db, county, login):
    """issue 24 item 1: a village's few units (at most ``SMALL_SCOPE``) are bound as ids, and its
    tasks' cases as one array on PostgreSQL (both arms can use an index); the rule is the same:
    arose there, or a task there that was not withdrawn."""
    from core.cases.access import SMALL_SCOPE
    admin, cadre = login(county, "county.admin"), login(county, "village.cadre")  # 罗塘村 T01D1V1
    mine = register(admin, county.unit("T01D1V1"), title="村里的事")["id"]
    via_task = register(admin, county.unit("C"), title="县里交办到村")["id"]
    withdrawn = register(admin, county.unit("T02"), title="撤回了的")["id"]
    register(admin, county.unit("T02"), title="别处的事")
    _task(db, county, via_task, county.unit("T01D1V1"), "open")
    _task(db, county, withdrawn, county.unit("T01D1V1"), "cancelled")
    with bound_values(app) as seen:
        got = {c["id"] for c in cadre.get("/api/cases?limit=50").get_json()["items"]}
    assert got == {mine, via_task}
    (sql,) = [s for n, s in seen if "FROM case_record" in s and "LIMIT" in s.upper()]
    assert max(n for n, s in seen if "FROM case_record" in s) <= 2 * SMALL_SCOPE + 10
    if db.dialect == "postgresql":
        assert "ANY (array((SELECT case_task.case_id" in sql, sql
    assert {c["id"] for c in cadre.get("/api/cases?q=交办").get_json()["items"]} == {via_task}
