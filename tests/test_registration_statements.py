"""Issue 24, item 4: registering a petition takes at most 20 statements.

``POST /api/cases`` of ``petition.case`` with one petitioner, as the county's officer with a
personal access token (as ``bench/petition.py`` registers), counted with a
``before_cursor_execute`` listener on the app's engine — the request's whole cost:
authentication, the case with its person, petition row, flags, event and limits, the tallies,
the audit chain at commit and the answer (the case as the API shows it). It was 42. For a new
petitioner and for a returning one (whose earlier petitions are looked up and flagged as a
repeat); an ``Idempotency-Key`` adds its claim and its stored answer.
"""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import event

from core.app import pingan
from tests.conftest import PG_URL, Client, make_token
from tests.test_request_cost import _statements

BOUND = 20
KEY = "petition.case"


@pytest.fixture
def officer(app, fresh_tenant, login):
    admin = login(fresh_tenant, "county.admin")
    r = admin.put("/api/modules/petition", json={"enabled": True})
    assert r.status_code == 200, r.get_json()
    token = make_token(app, fresh_tenant, "county.admin")
    c = Client(app, fresh_tenant.host, {"Authorization": f"Bearer {token}"})
    assert c.get("/api/me").status_code == 200  # warms the per-process caches
    return fresh_tenant, c


def _person(c: Client, t, name: str, phone: str) -> int:
    r = c.post("/api/persons", json={"name": name, "org_unit_id": t.unit("T01D1V1"), "phone": phone})
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def _register(c: Client, t, person_id: int, key: bool = False):
    body = {"case_type": KEY, "title": "反映承包地被邻居占用", "org_unit_id": t.unit("T01D1V1"),
            "content": "邻居占用承包地", "persons": [{"person_id": person_id, "role": "petitioner"}],
            "details": {"form": "letter", "category": "land"}}
    return c.post("/api/cases", json=body, headers={"Idempotency-Key": uuid.uuid4().hex} if key else {})


def _listing(statements: list[str]) -> str:
    return f"{len(statements)} statements:\n" + "\n".join(s.replace("\n", " ")[:160] for s in statements)


def test_registering_a_petition_takes_at_most_20_statements(app, officer):
    t, c = officer
    warm = _person(c, t, "王五", "13900000001")
    assert _register(c, t, warm).status_code == 201  # the county's first petition: counters, caches
    first = _person(c, t, "赵六", "13900000002")
    out: list = []
    statements = _statements(app, lambda: out.append(_register(c, t, first)))
    case = out[0].get_json()
    assert out[0].status_code == 201, case
    assert "repeat" not in case["flags"] and case["persons"][0]["person_id"] == first, case
    assert len(case["deadlines"]) >= 1 and all(d["id"] for d in case["deadlines"]), case
    assert len(statements) <= BOUND, _listing(statements)

    statements = _statements(app, lambda: out.append(_register(c, t, first)))  # a returning petitioner
    again = out[1].get_json()
    assert out[1].status_code == 201, again
    assert "repeat" in again["flags"] and again["details"]["repeat_count"] == 1, again
    assert again["details"]["repeat_of_id"] == case["id"], again
    assert len(statements) <= BOUND, _listing(statements)

    # the answer is the case as a later read shows it
    shown = c.get(f"/api/cases/{again['id']}").get_json()
    for field in ("number", "flags", "persons", "deadlines", "details", "actions", "tasks", "state", "due_at"):
        assert shown[field] == again[field], (field, shown[field], again[field])


def test_an_idempotency_key_adds_two_statements(app, officer):
    """Its claim (one INSERT) and, after the commit, the stored answer (one UPDATE)."""
    t, c = officer
    assert _register(c, t, _person(c, t, "王五", "13900000001"), key=True).status_code == 201
    pid = _person(c, t, "赵六", "13900000002")
    out: list = []
    statements = _statements(app, lambda: out.append(_register(c, t, pid, key=True)))
    assert out[0].status_code == 201, out[0].get_json()
    assert len(statements) <= BOUND + 2, _listing(statements)


@pytest.mark.skipif(not PG_URL, reason="round trips are PostgreSQL's")
def test_the_statements_are_the_round_trips(app, officer):
    """On PostgreSQL nothing else travels: the BEGIN that binds the tenant and the COMMIT are the
    only round trips besides the statements counted above (no ping, no id fetch per row)."""
    from tests.test_request_cost import _round_trips
    t, c = officer
    assert _register(c, t, _person(c, t, "王五", "13900000001")).status_code == 201
    pid = _person(c, t, "赵六", "13900000002")
    trips = _round_trips(app, lambda: _register(c, t, pid))
    assert trips <= BOUND + 2, trips


def test_ids_come_in_blocks_and_never_twice(app, fresh_tenant, db):
    """A transaction takes its ids in blocks (one round trip for many rows); a block taken inside
    a savepoint that is rolled back is dropped — on SQLite the sequence table went back with
    it, and handing out its rest would give ids the next block gives again."""
    from sqlalchemy import text
    from core.db import ID_BLOCK, bind_tenant, take_ids
    seen: list[str] = []
    engine = pingan(app).db.engine

    def note(conn, cursor, statement, parameters, context, executemany):
        if "pingan_id_seq" in statement:
            seen.append(statement)
    event.listen(engine, "before_cursor_execute", note)
    try:
        with bind_tenant(fresh_tenant.id), db.Session() as s:
            s.execute(text("SELECT 1"))
            first = [take_ids(s, 1)[0] for _ in range(ID_BLOCK)]
            assert len(seen) == 1 and first == sorted(set(first))  # one round trip, ascending
            savepoint = s.begin_nested()
            inside = take_ids(s, 3) + [take_ids(s, 1)[0] for _ in range(ID_BLOCK)]  # a new block, inside
            savepoint.rollback()
            after = take_ids(s, 3) + take_ids(s, 10) + take_ids(s, 10)
            assert len(set(after)) == len(after) and not set(after) & set(first), (first, after)
            s.commit()
    finally:
        event.remove(engine, "before_cursor_execute", note)
    assert inside  # (ids of rolled-back rows may be given again: those rows are gone)
