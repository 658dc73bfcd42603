"""Every id in every write body is checked against the caller's scope (issue 14, finding 8).

Generated from the app's OpenAPI spec: every field of every POST/PUT/PATCH request body
(nested lists included) whose name ends in ``_id`` or ``_ids`` and names an org unit, a
person, a user or a case is a probe site. A village officer holding *every* permission on
their own village (罗塘村) sends a body that is valid in their scope with that one field
swapped for an id outside it — the sibling village, the township above, the other county,
an id that exists nowhere. The answer must be 403, 404 or 422, and nothing may be written.
Each route's in-scope body is then sent as is and must succeed: the probes' bodies are
otherwise valid, so a refusal is the scope check and nothing else.

A write route with an id field this test has no body for makes it fail: add the body to
``BODIES`` (placeholders ``$unit``, ``$person``, ``$user``, ``$case`` are in-scope ids).
"""
from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re

import pytest
import time_machine
from sqlalchemy import inspect, text, update

from core.app import pingan
from core.db import TENANT, Base, table_class
from core.models import User
from tests.conftest import Client, load_tenant, make_token

# an id field's name → the class of object it names (None: not scoped by unit — keys, or
# objects of the path's own case, checked by their own rules)
CLASSES = [(re.compile(r"^member_unit_id$"), "member_unit"), (re.compile(r"(^|_)unit_id$|^parent_id$"), "unit"), (re.compile(r"person_id$"), "person"),
           (re.compile(r"(^|_)(user|handler|assignee|service_user)_id$"), "user"),
           (re.compile(r"^case_ids?$|^dispute_ids$"), "case"), (re.compile(r"^intake_ids?$"), "intake"), (re.compile(r"^screening_id$"), "screening"),
           (re.compile(r"^party_id$"), "person"), (re.compile(r"^(role_id|deadline_id|task_id)$"), None),
           (re.compile(r"^place_id$"), "place"), (re.compile(r"^(checklist_id|item_id)$"), None),  # county-wide templates
           # the patrol module's own objects, found through get_or_404 on the caller's scope (tests/test_patrol.py)
           (re.compile(r"^(team_id|route_id|member_id|point_ids?)$"), None),
           (re.compile(r"^evaluation_id$"), None),  # a rectification's evaluation: of the case's own village
           (re.compile(r"^period_id$"), None),
           # a county of the platform an offer goes to (跨县移交): not an object of the caller's
           # scope; the own county is refused (tests/test_transfers.py)
           (re.compile(r"^to_tenant_id$"), None)]
# acts only a county-wide holder may do (receiving a transfer is the county's act): probed with
# the county admin, whose scope is the whole county, against the other county's ids
COUNTY_WIDE = {("POST", "/api/transfers/incoming/{row_id}/accept")}

NOW = "2026-03-10T10:00:00+08:00"
BODIES = {
    ("POST", "/api/transfers/incoming/{row_id}/accept"): {"org_unit_id": "$unit"},
    ("POST", "/api/org-units"): {"parent_id": "$unit", "name": "新网格", "level": "grid"},
    ("POST", "/api/org-units/{unit_id}/move"): {"parent_id": "$unit"},
    ("POST", "/api/users"): {"username": "$fresh", "display_name": "新用户", "org_unit_id": "$unit",
                             "member_unit_id": "$member_unit"},
    ("PATCH", "/api/users/{user_id}"): {"org_unit_id": "$unit", "member_unit_id": "$member_unit"},
    ("POST", "/api/role-assignments"): {"user_id": "$user", "role_id": "$role", "org_unit_id": "$unit"},
    ("POST", "/api/member-units"): {"org_unit_id": "$unit", "name": "$fresh", "category": "police"},
    ("PATCH", "/api/member-units/{item_id}"): {"org_unit_id": "$unit"},
    ("POST", "/api/network-roles"): {"org_unit_id": "$unit", "kind": "grid_worker", "person_name": "某网格员",
                                     "user_id": "$user"},
    ("PATCH", "/api/network-roles/{item_id}"): {"org_unit_id": "$unit", "user_id": "$user"},
    ("POST", "/api/persons"): {"name": "新居民", "org_unit_id": "$unit"},
    ("PATCH", "/api/persons/{person_id}"): {"org_unit_id": "$unit"},
    ("POST", "/api/cases"): {"case_type": "visits.visit", "title": "走访", "org_unit_id": "$unit",
                             "persons": [{"person_id": "$person"}], "details": {"visit_kind": "home"}},
    ("POST", "/api/cases/{case_id}/divert"): {"mode": "single", "tasks": [
        {"org_unit_id": "$unit", "member_unit_id": "$member_unit", "role": "lead"}]},
    ("POST", "/api/cases/{case_id}/assign"): {"handler_id": "$user"},
    ("POST", "/api/cases/batch/assign"): {"case_ids": ["$case"], "handler_id": "$user"},
    ("POST", "/api/cases/batch/documents"): {"case_ids": ["$petition"], "key": "petition.receipt"},
    ("POST", "/api/cases/{case_id}/extensions"): {"deadline_id": "$deadline", "amount": 1, "reason": "补充调查"},
    ("POST", "/api/cases/{case_id}/supervisions"): {"kind": "urge", "instruction": "请加快", "target_unit_id": "$unit"},
    # a module's own fields: POST /api/cases with the type's ``details``, and its acts' bodies
    ("POST", "/api/cases#mediation.dispute"): {"case_type": "mediation.dispute", "title": "纠纷", "org_unit_id": "$unit",
                                               "persons": [{"person_id": "$person", "role": "applicant"}],
                                               "details": {"dispute_type": "debt", "screening_id": "$screening"}},
    ("POST", "/api/cases/{case_id}/transitions/refuse#mediation.dispute"): {"party_id": "$person", "note": "不愿调解"},
    ("POST", "/api/cases#safety.hazard"): {"case_type": "safety.hazard", "title": "隐患", "org_unit_id": "$unit",
                                           "details": {"grade": "general", "place_id": "$place"}},
    ("POST", "/api/cases/{case_id}/transitions/notice#safety.hazard"): {
        "responsible_unit_id": "$unit", "responsible_person": "某", "measures": "整改", "funds": "自筹", "plan": "值守"},
    ("POST", "/api/safety/places"): {"org_unit_id": "$unit", "place_type": "catering", "name": "饭庄",
                                     "responsible_person": "某"},
    ("POST", "/api/safety/inspections"): {"place_id": "$place", "answers": [{"item_id": "$item", "answer": True}]},
    ("POST", "/api/safety/incidents"): {"org_unit_id": "$unit", "title": "事件", "location": "某地", "description": "经过",
                                        "occurred_at": "2026-03-10T09:00:00+08:00"},
    ("POST", "/api/cases/{case_id}/persons"): {"person_id": "$person", "org_unit_id": "$unit", "role": "party"},
    ("POST", "/api/intake"): {"channel": "visit", "org_unit_id": "$unit", "arose_unit_id": "$unit",
                              "subject": "来访", "content": "反映问题",
                              "persons": [{"person_id": "$person"}, {"name": "新来访人", "org_unit_id": "$unit"}]},
    ("POST", "/api/ledgers/exports"): {"case_type": "visits.visit", "org_unit_id": "$unit",
                                       "handling_unit_id": "$unit", "person_id": "$person"},
    ("POST", "/api/oauth-clients"): {"name": "$fresh", "confidential": True, "redirect_uris": [],
                                     "scopes": ["core.org_unit.read"], "grant_types": ["client_credentials"],
                                     "service_user_id": "$user"},
    ("PATCH", "/api/oauth-clients/{client_id}"): {"service_user_id": "$user"},
    ("POST", "/api/visits/greetings"): {"org_unit_id": "$unit", "recipient": "张三"},
    ("POST", "/api/hello/greetings"): {"org_unit_id": "$unit", "recipient": "张三"},  # a declared register
    # a responsibility letter with a person of the village (party_id names a person here), and a
    # batch for the village's groups
    ("POST", "/api/letters"): {"kind": "hello.pledge", "year": 2026, "issuing_unit_id": "$unit",
                               "party_kind": "person", "party_id": "$person"},
    ("POST", "/api/letters/batch"): {"kind": "hello.pledge", "year": 2026, "under_unit_id": "$unit",
                                     "level": "group", "issuing_unit_id": "$unit"},
    ("POST", "/api/mediation/screening"): {"org_unit_id": "$unit", "period": "$period", "dispute_ids": ["$dispute"]},
    ("POST", "/api/mediation/registers/{kind}"): {"org_unit_id": "$unit", "found_on": "2026-03-09",
                                                  "description": "苗头", "case_id": "$dispute"},
    ("POST", "/api/petition/watch"): {"person_id": "$person", "grade": "low", "signs": "扬言上访"},
    ("POST", "/api/patrol/teams"): {"org_unit_id": "$unit", "name": "巡逻队", "kind": "village_patrol"},
    ("POST", "/api/village/opinion-points"): {"org_unit_id": "$unit", "name": "村部采集点", "collector_person_id": "$person"},
    ("POST", "/api/patrol/points"): {"org_unit_id": "$unit", "name": "村口", "line": "fringe"},
    ("POST", "/api/patrol/cameras"): {"org_unit_id": "$unit", "place": "村口"},
    ("POST", "/api/patrol/groups"): {"org_unit_id": "$unit", "name": "十店联防一组", "kind": "shops",
                                     "leader_person_id": "$person", "households": 10},
    ("POST", "/api/patrol/clues"): {"org_unit_id": "$unit", "title": "线索", "place": "村口", "content": "可疑人员"},
    ("POST", "/api/patrol/routes"): {"org_unit_id": "$unit", "name": "夜巡", "window_start": "20:00", "window_end": "22:00",
                                     "point_ids": ["$patrol_point"]},
    ("POST", "/api/patrol/teams/{team_id}/members"): {"person_id": "$person", "user_id": "$user", "joined_on": "2026-03-01"},
    ("POST", "/api/village/projects"): {"org_unit_id": "$unit", "title": "村道硬化", "budget": "1000",
                                        "proposed_on": "2026-03-09"},
    ("POST", "/api/village/evaluations"): {"org_unit_id": "$unit", "year": 2026, "held_on": "2026-03-09",
                                           "villager_issued": 10, "villager_satisfied": 10, "villager_basic": 0,
                                           "villager_unsatisfied": 0, "party_issued": 5, "party_satisfied": 5,
                                           "party_basic": 0, "party_unsatisfied": 0},
    ("POST", "/api/village/contacts"): {"org_unit_id": "$unit", "kind": "villager", "contacted_on": "2026-03-09",
                                        "outcome": "none"},
    ("POST", "/api/village/hearings"): {"org_unit_id": "$unit", "held_on": "2026-03-09", "questions": "路灯不亮"},
    ("POST", "/api/petition/watch/{watch_id}/followups"): {"task": "走访", "due_on": "2026-03-20",
                                                           "assignee_id": "$user"},
    ("PUT", "/api/petition/quotas"): {"quotas": [{"org_unit_id": "$unit", "period": "2026", "kind": "abnormal",
                                                  "quota": 1}]},
    ("POST", "/api/petition/escalations"): {"org_unit_id": "$unit", "person_id": "$person", "petitioner": "某甲",
                                            "level": "city", "occurred_on": "2026-03-09", "case_id": "$petition"},
    ("POST", "/api/joint/meetings"): {"org_unit_id": "$unit", "kind": "township_joint", "held_on": "2026-03-09",
                                      "convener": "某", "case_ids": ["$case"], "intake_ids": ["$intake"]},
    ("POST", "/api/joint/meetings/{meeting_id}/agenda"): {"case_ids": ["$case"], "intake_ids": ["$intake"]},
    ("POST", "/api/joint/meetings/{meeting_id}/attendance"): {"member_unit_id": "$member_unit", "status": "present"},
    **{("POST", path): {"case_id": "$case", text: "交办", "deadline": "2026-03-20",
                        "lead": {"org_unit_id": "$unit", "member_unit_id": "$member_unit"},
                        "co": [{"org_unit_id": "$unit", "member_unit_id": "$member_unit"}]}
       for path, text in (("/api/joint/meetings/{meeting_id}/decisions", "text"),
                          ("/api/joint/campaigns/{campaign_id}/targets", "instruction"))},
    ("POST", "/api/joint/campaigns"): {"org_unit_id": "$unit", "title": "整治", "starts_on": "2026-03-01",
                                       "ends_on": "2026-12-31"},
    ("POST", "/api/joint/construction"): {"org_unit_id": "$unit", "phase": "prep", "target_date": "2026-03-20"},
    ("POST", "/api/keypersons/records"): {"org_unit_id": "$unit", "category": "drug", "risk_level": "low", "name": "某丙"},
    ("POST", "/api/keypersons/records/{record_id}/handover"): {"org_unit_id": "$unit", "handed_over_on": "$today"},
    ("POST", "/api/keypersons/rental-houses"): {"org_unit_id": "$unit", "address": "新街 2 号", "owner_name": "某己"},
    ("POST", "/api/scoring/periods/{period_id}/entries"): {"org_unit_id": "$unit", "item_key": "$scoring_item",
                                                            "passed": True, "note": "检查台账"},
    ("POST", "/api/scoring/appeals"): {"period_id": "$scoring_appealable", "org_unit_id": "$unit",
                                       "item_key": "$scoring_item", "reason": "已整改"},
}
# bodies whose ids are filters of a read, not objects of a write: what they select stays
# bounded by what the caller may read (the export is the case list's own query,
# core.cases.queries.filtered, as GET /api/cases?org_unit_id=… is)
FILTERS = {("POST", "/api/ledgers/exports")}
# a placeholder that names a case: which case (mediation and petition ids are their own cases)
CASE_OF = {"$dispute": "dispute", "$petition": "petition"}


def id_fields(spec: dict) -> dict[tuple[str, str], list[str]]:
    """(method, path) → dotted paths of the id fields of its JSON body (``a[].b`` in lists)."""
    comps = spec["components"]["schemas"]

    def resolve(s):
        while "$ref" in s or ("allOf" in s and len(s["allOf"]) == 1):
            s = comps[s["$ref"].split("/")[-1]] if "$ref" in s else s["allOf"][0]
        return s

    def walk(s, prefix, out):
        s = resolve(s)
        if "items" in s:
            walk(s["items"], prefix + "[]", out)
            return
        for name, sub in (s.get("properties") or {}).items():
            path = f"{prefix}.{name}" if prefix else name
            if re.search(r"_ids?$", name):
                out.append(path)
            walk(sub, path, out)

    found = {}
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            if not isinstance(op, dict):
                continue  # the path's parameters
            content = (op.get("requestBody") or {}).get("content", {}).get("application/json")
            if method in ("post", "put", "patch") and content:
                out: list[str] = []
                walk(content["schema"], "", out)
                if out:
                    found[(method.upper(), path)] = out
    return found


def module_fields(app) -> dict[tuple[str, str], list[str]]:
    """The id fields of every case type's ``details`` and of its acts' bodies (not in the spec:
    the core's schemas take them as a dict), keyed ``path#case type``."""
    from core.app import pingan
    found = {}

    def ids(schema, prefix=""):
        out = []
        for name, field in schema().fields.items() if isinstance(schema, type) else schema.fields.items():
            if re.search(r"_ids?$", name):
                out.append(prefix + name)
        return out

    for key, ctype in pingan(app).plugins.case_types.items():
        if ctype.details_schema is not None and ids(ctype.details_schema, "details."):
            found[("POST", f"/api/cases#{key}")] = ids(ctype.details_schema, "details.")
        for t in ctype.transitions:
            if t.input is not None and ids(t.input):
                found[("POST", f"/api/cases/{{case_id}}/transitions/{t.name}#{key}")] = ids(t.input)
    return found


def kind_of(field: str) -> str | None:
    name = field.split(".")[-1].rstrip("[]")
    for pattern, kind in CLASSES:
        if pattern.search(name):
            return kind
    raise AssertionError(f"id field {field}: add its class to CLASSES")


def put(body, field: str, value):
    """A copy of ``body`` with ``field`` (dotted, ``[]`` for every list element) set to ``value``."""
    import copy
    body = copy.deepcopy(body)
    parts = field.split(".")

    def go(node, i):
        key = parts[i]
        many = key.endswith("[]")
        key = key.rstrip("[]") if many else key
        if i == len(parts) - 1:
            if many:
                node[key] = [value]
            else:
                node[key] = value
            return
        target = node[key]
        for sub in (target if many else [target]):
            go(sub, i + 1)

    go(body, 0)
    return body


def has(body, field: str) -> bool:
    """Whether ``field`` is in ``body`` (in some element of a list)."""
    head, _, rest = field.partition(".")
    key = head.removesuffix("[]")
    if not isinstance(body, dict) or key not in body:
        return False
    if not rest:
        return True
    return any(has(sub, rest) for sub in (body[key] if head.endswith("[]") else [body[key]]))


SKIPPED_TABLES = ("audit_entry", "audit_head", "access_token", "web_session")


@functools.cache
def _digest_sql(db) -> str:
    """One statement: a digest of each of the county's tables (its rows as text, in order).
    On PostgreSQL the rows are hashed where they are (md5 of the row's text form); on SQLite
    each row is its columns ``quote``d. Either way one round trip for every table, where a
    ``SELECT *`` a table, each row ``repr``'d in Python, made the snapshots most of this test.
    Built once per database: the tables do not change during the session."""
    present = set(inspect(db.engine).get_table_names())
    postgres = db.engine.dialect.name == "postgresql"
    parts = []
    for table in Base.metadata.sorted_tables:
        if table_class(table) != TENANT or table.name not in present or table.name in SKIPPED_TABLES:
            continue
        name = f'"{table.name}"'
        if postgres:
            parts.append(f"SELECT '{table.name}', md5(coalesce(string_agg(md5(t::text), '' ORDER BY t::text), '')) "
                         f"FROM {name} t WHERE tenant_id = :t")
        else:
            row = " || '|' || ".join(f'quote("{c.name}")' for c in table.columns)
            parts.append(f"SELECT '{table.name}', (SELECT group_concat(r, char(10)) FROM "
                         f"(SELECT {row} AS r FROM {name} WHERE tenant_id = :t ORDER BY r))")
    return " UNION ALL ".join(parts)


def snapshot(db, tenant) -> str:
    """A digest of every row of the county's tables (but the audit chain and the caller's token)."""
    sql = _digest_sql(db)
    h = hashlib.sha256()
    with db.transaction(tenant.id) as s:
        for name, digest in s.execute(text(sql), {"t": tenant.id}):
            h.update(f"{name}:{digest}".encode())
    return h.hexdigest()


def audit_seq(db, tenant) -> int:
    """Where the county's audit chain stands: every write through the API moves it."""
    with db.transaction(tenant.id) as s:
        return s.execute(text("SELECT seq FROM audit_head WHERE tenant_id = :t AND id = 0"), {"t": tenant.id}).scalar() or 0


@pytest.fixture(scope="module")
def world(app):
    """Two counties with every module on; in the first, ``scope.all`` holds every permission
    on 罗塘村 only, and the county admin has made a person, a user, cases of each module and
    their rows in 罗塘村 and in the sibling 郭岭村."""
    with time_machine.travel(NOW, tick=True):
        a, b = load_tenant(app), load_tenant(app)
        out = {"a": a, "b": b, "app": app}
        for t in (a, b):
            admin = Client(app, t.host, {"Authorization": f"Bearer {make_token(app, t, 'county.admin')}"})
            for name, settings in (("visits", {}), ("hello", {}), ("petition", {"default_quotas": {"village": {"abnormal": 0}}}),
                                   ("mediation", {"screening": [{"level": "village", "cadence": "monthly"}]}),
                                   ("joint", {}),
                                   ("keypersons", {}),
                                   ("safety", {}),
                                   ("patrol", {}),
                                   ("village", {})):
                r = admin.put(f"/api/modules/{name}", json={"enabled": True, "settings": settings})
                assert r.status_code == 200, r.get_json()
            r = admin.post("/api/safety/checklists", json={"place_type": "catering", "title": "餐饮", "items": [
                {"question": "灭火器有效"}]})
            assert r.status_code == 201, r.get_json()
            item = r.get_json()["items"][0]["id"]
            ids = {}
            for place in ("T01D1V1", "T01D1V2"):
                unit = t.unit(place)
                person = admin.post("/api/persons", json={"name": f"{place}居民", "org_unit_id": unit}).get_json()["id"]
                r = admin.post("/api/member-units", json={"org_unit_id": unit, "name": f"{place}警务室",
                                                          "category": "police"})
                assert r.status_code == 201, r.get_json()
                member_unit = r.get_json()["id"]
                r = admin.post("/api/users", json={"username": f"u{place.lower()}", "display_name": "村干部",
                                                   "org_unit_id": unit})
                assert r.status_code == 201, r.get_json()
                user = r.get_json()["id"]
                cases = _cases(admin, unit, person)
                r = admin.post("/api/mediation/screening", json={"org_unit_id": unit, "period": "2026-02",
                                                                 "dispute_ids": [cases["dispute"]]})
                assert r.status_code == 201, r.get_json()
                screening = r.get_json()["id"]
                r = admin.post("/api/safety/places", json={"org_unit_id": unit, "place_type": "catering",
                                                           "name": f"{place}饭庄", "responsible_person": "某"})
                assert r.status_code == 201, r.get_json()
                safety_place = r.get_json()["id"]
                r = admin.post("/api/patrol/points", json={"org_unit_id": unit, "name": "村口", "line": "fringe"})
                assert r.status_code == 201, r.get_json()
                point = r.get_json()["id"]
                r = admin.post("/api/intake", json={"channel": "visit", "org_unit_id": unit, "subject": "来访",
                                                    "content": "待分流"})  # a matter pending at the village's window
                assert r.status_code == 201, r.get_json()
                ids[place] = {"unit": unit, "person": person, "user": user, "member_unit": member_unit,
                              "screening": screening, "place": safety_place, "item": item,
                              "patrol_point": point, "intake": r.get_json()["id"], **cases}
            scoring = _scoring(admin)
            for place in ids:
                ids[place].update(scoring)
            out[t.slug if hasattr(t, "slug") else id(t)] = ids
            t.ids = ids
            t.admin = admin
        perms = a.admin.get("/api/me").get_json()["permissions"]  # all the county admin may grant
        r = a.admin.post("/api/roles", json={"key": "everything", "name": "全部权限", "permissions": perms})
        assert r.status_code == 201, r.get_json()
        role = r.get_json()["id"]
        r = a.admin.post("/api/users", json={"username": "scope.all", "display_name": "罗塘村全权",
                                             "org_unit_id": a.unit("T01D1V1")})
        assert r.status_code == 201, r.get_json()
        user = r.get_json()["id"]
        r = a.admin.post("/api/role-assignments", json={"user_id": user, "role_id": role,
                                                        "org_unit_id": a.unit("T01D1V1")})
        assert r.status_code == 201, r.get_json()
        out["role"] = role
        # a new account must change its one-time password first, its tokens too (6ed99f3): done
        with pingan(app).db.transaction(a.id) as s:
            s.execute(update(User).where(User.id == user).values(must_change_password=False))
        out["caller"] = Client(app, a.host, {"Authorization": f"Bearer {make_token(app, a, 'scope.all')}"})
        return out


def _incoming_offer(world) -> int:
    """An offer the other county made to the first (its relay's work done here: the row and its
    audit entry), open until the in-scope probe accepts it."""
    import json
    import secrets

    from core import audit
    from core.context import Actor, acting_as
    from core.transfers import TransferIn
    a, b = world["a"], world["b"]
    if world.get("incoming_open"):
        return world["incoming_open"]
    with acting_as(Actor(None, "test")), pingan(world["app"]).db.transaction(a.id) as s:
        row = TransferIn(token=secrets.token_hex(16), kind="keypersons.record", from_tenant_id=b.id,
                         meta=json.dumps({"category": "released", "risk_level": "low"}), offered_at=dt.datetime.now(dt.timezone.utc),
                         state="offered")
        s.add(row)
        s.flush()
        audit.record(s, "core.transfer.received", "transfer_in", row.id, {"kind": row.kind})
        world["incoming_open"] = row.id
    return row.id


def _scoring(admin) -> dict:
    """The scoring module on: a village rubric with a check item, an open quarter and a quarter
    published and open to appeals."""
    assert admin.put("/api/modules/scoring", json={"enabled": True}).status_code == 200
    r = admin.post("/api/scoring/rubrics", json={"level": "village", "year": 2026, "title": "六个无", "items": [
        {"category": "六个无", "title": "无矛盾上交", "points": 10, "source": "check"}]})
    assert r.status_code == 201, r.get_json()
    out = {"scoring_item": r.get_json()["items"][0]["key"]}
    for number, name in ((1, "scoring_open"), (2, "scoring_appealable")):
        r = admin.post("/api/scoring/periods", json={"level": "village", "kind": "quarter", "year": 2026, "number": number})
        assert r.status_code == 201, r.get_json()
        out[name] = r.get_json()["id"]
    for action in ("publish", "open_appeals"):
        r = admin.post(f"/api/scoring/periods/{out['scoring_appealable']}/state", json={"action": action})
        assert r.status_code == 200, r.get_json()
    return out


def _cases(admin, unit: int, person: int) -> dict:
    r = admin.post("/api/cases", json={"case_type": "mediation.dispute", "title": "纠纷", "org_unit_id": unit,
                                       "persons": [{"person_id": person, "role": "applicant"}],
                                       "details": {"dispute_type": "debt"}})
    assert r.status_code == 201, r.get_json()
    dispute = r.get_json()["id"]
    r = admin.post("/api/cases", json={"case_type": "petition.case", "title": "信访", "org_unit_id": unit,
                                       "persons": [{"person_id": person, "role": "petitioner"}],
                                       "details": {"form": "letter", "category": "land"}})
    assert r.status_code == 201, r.get_json()
    return {"dispute": dispute, "petition": r.get_json()["id"], "case": dispute}


def _target(world, method: str, path: str) -> str:
    """The route's URL with an in-scope object of the caller for its path argument."""
    a, caller, mine = world["a"], world["caller"], world["a"].ids["T01D1V1"]
    path, _, ctype = path.partition("#")
    if "{" not in path:
        return path
    if path.startswith("/api/cases/{case_id}/transitions/") and ctype == "safety.hazard":
        r = caller.post("/api/cases", json={"case_type": ctype, "title": "隐患", "org_unit_id": mine["unit"],
                                            "details": {"grade": "general"}})
        assert r.status_code == 201, r.get_json()
        return path.replace("{case_id}", str(r.get_json()["id"]))
    if path.startswith("/api/cases/{case_id}/transitions/") and ctype == "mediation.dispute":
        r = caller.post("/api/cases", json={"case_type": ctype, "title": "纠纷", "org_unit_id": mine["unit"],
                                            "persons": [{"person_id": mine["person"], "role": "applicant"}],
                                            "details": {"dispute_type": "debt"}})
        assert r.status_code == 201, r.get_json()
        return path.replace("{case_id}", str(r.get_json()["id"]))
    if path == "/api/transfers/incoming/{row_id}/accept":
        return path.replace("{row_id}", str(_incoming_offer(world)))
    if path == "/api/org-units/{unit_id}/move":
        r = caller.post("/api/org-units", json={"parent_id": mine["unit"], "name": _fresh("网格"), "level": "grid"})
        assert r.status_code == 201, r.get_json()
        return path.replace("{unit_id}", str(r.get_json()["id"]))
    if path == "/api/users/{user_id}":
        return path.replace("{user_id}", str(mine["user"]))
    if path == "/api/persons/{person_id}":
        return path.replace("{person_id}", str(mine["person"]))
    if path == "/api/member-units/{item_id}":
        r = caller.post("/api/member-units", json={"org_unit_id": mine["unit"], "name": _fresh("派出所"),
                                                   "category": "police"})
        assert r.status_code == 201, r.get_json()
        return path.replace("{item_id}", str(r.get_json()["id"]))
    if path == "/api/network-roles/{item_id}":
        r = caller.post("/api/network-roles", json={"org_unit_id": mine["unit"], "kind": "grid_worker",
                                                    "person_name": "某网格员"})
        assert r.status_code == 201, r.get_json()
        return path.replace("{item_id}", str(r.get_json()["id"]))
    if path == "/api/oauth-clients/{client_id}":
        r = caller.post("/api/oauth-clients", json={**BODIES[("POST", "/api/oauth-clients")], "name": _fresh("应用"),
                                                    "service_user_id": mine["user"]})
        assert r.status_code == 201, r.get_json()
        return path.replace("{client_id}", str(r.get_json()["id"]))
    if path.startswith("/api/cases/{case_id}/"):
        r = caller.post("/api/cases", json={"case_type": "visits.visit", "title": "走访", "org_unit_id": mine["unit"],
                                            "details": {"visit_kind": "home"}})
        assert r.status_code == 201, r.get_json()
        case = r.get_json()
        assert caller.post(f"/api/cases/{case['id']}/transitions/accept", json={}).status_code == 200
        world["deadline"] = next((d["id"] for d in caller.get(f"/api/cases/{case['id']}").get_json()["deadlines"]),
                                 None)
        return path.replace("{case_id}", str(case["id"]))
    if path == "/api/patrol/teams/{team_id}/members":
        r = caller.post("/api/patrol/teams", json={**BODIES[("POST", "/api/patrol/teams")], "org_unit_id": mine["unit"]})
        assert r.status_code == 201, r.get_json()
        return path.replace("{team_id}", str(r.get_json()["id"]))
    if path == "/api/mediation/registers/{kind}":
        return path.replace("{kind}", "unstable")
    if path.startswith(("/api/joint/meetings/{meeting_id}", "/api/joint/campaigns/{campaign_id}")):
        kind, arg = ("meetings", "{meeting_id}") if "meeting_id" in path else ("campaigns", "{campaign_id}")
        r = caller.post(f"/api/joint/{kind}", json=_fill(world, BODIES[("POST", f"/api/joint/{kind}")],
                                                          lambda ph: _value(world, ph, mine)))
        assert r.status_code == 201, r.get_json()
        return path.replace(arg, str(r.get_json()["id"]))
    if path == "/api/petition/watch/{watch_id}/followups":
        person = caller.post("/api/persons", json={"name": _fresh("居民"), "org_unit_id": mine["unit"]}).get_json()
        r = caller.post("/api/petition/watch", json={"person_id": person["id"], "grade": "low", "signs": "苗头"})
        assert r.status_code == 201, r.get_json()
        return path.replace("{watch_id}", str(r.get_json()["id"]))
    if path == "/api/keypersons/records/{record_id}/handover":  # a record elsewhere, handed over to $unit
        r = caller.post("/api/keypersons/records", json={**BODIES[("POST", "/api/keypersons/records")],
                                                         "org_unit_id": a.unit("T01D1V1G1"), "name": _fresh("某丁")})
        assert r.status_code == 201, r.get_json()
        return path.replace("{record_id}", str(r.get_json()["id"]))
    if path == "/api/scoring/periods/{period_id}/entries":
        return path.replace("{period_id}", str(mine["scoring_open"]))
    raise AssertionError(f"{method} {path}: say in _target which in-scope object its path names")


_count = iter(range(1, 1_000_000))


def _fresh(stem: str) -> str:
    return f"{stem}{next(_count)}"


def _fill(world, body, value_of):
    if isinstance(body, dict):
        return {k: _fill(world, v, value_of) for k, v in body.items()}
    if isinstance(body, list):
        return [_fill(world, v, value_of) for v in body]
    if isinstance(body, str) and body.startswith("$") and not body.startswith("$$"):
        return value_of(body)
    return body


def probe(app, db, world, caller, outside: dict, county_wide: bool = False) -> tuple[dict[str, int], list[str]]:
    """Send ``caller`` every write body with each id field in turn set to each object of
    ``outside`` (class → [(label, id)]); then the route's in-scope body, which must succeed.
    Returns the probes per class and the failures (a 2xx or anything else than 403/404/422,
    or a row written in either county)."""
    a, b, mine = world["a"], world["b"], world["a"].ids["T01D1V1"]
    spec = caller.get("/api/openapi.json").get_json()
    fields = {**id_fields(spec), **module_fields(app)}
    missing = [f"{m} {p} {f}" for (m, p), fs in fields.items() for f in fs
               if kind_of(f) is not None and not has(BODIES.get((m, p), {}), f)]
    assert missing == [], "write bodies with id fields this test has no body for: " + "; ".join(missing)
    probes: dict[str, int] = {k: 0 for k in outside}
    failures = []
    last = None  # ((audit seq of a, of b), (snapshot of a, of b)) after the last probe
    with time_machine.travel(NOW, tick=True):
        for (method, path), field_list in sorted(fields.items()):
            scoped = [f for f in field_list if kind_of(f) is not None]
            if not scoped or (method, path) in FILTERS or ((method, path) in COUNTY_WIDE) != county_wide:
                continue
            for field in scoped:
                kind = kind_of(field)
                for label, bad in outside[kind]:
                    url = _target(world, method, path)
                    base = _fill(world, BODIES[(method, path)], lambda ph: _value(world, ph, mine))
                    if field.endswith("_ids") or field.endswith("_ids[]"):
                        body = put(base, field.removesuffix("[]"), [bad])
                    else:
                        body = put(base, field, bad)
                    # the last probe's "after" is this one's "before" when building the body wrote
                    # nothing (a fresh member unit does, through the API: the audit chain moves)
                    seqs = audit_seq(db, a), audit_seq(db, b)
                    if last is None or last[0] != seqs:
                        last = seqs, (snapshot(db, a), snapshot(db, b))
                    before = last[1]
                    r = caller.request(method, url, json=body)
                    probes[kind] += 1
                    after = snapshot(db, a), snapshot(db, b)
                    last = (audit_seq(db, a), audit_seq(db, b)), after
                    wrote = after != before
                    if r.status_code not in (403, 404, 422) or wrote:
                        failures.append(f"{method} {path} {field}={label}: {r.status_code} "
                                        f"{(r.get_json() or {}).get('code')}" + (" (wrote)" if wrote else ""))
            url = _target(world, method, path)
            body = _fill(world, BODIES[(method, path)], lambda ph: _value(world, ph, mine))
            r = caller.request(method, url, json=body)
            assert r.status_code < 300, (method, path, body, r.get_json())
    return probes, failures


MISSING = 8_999_999_999_999


def other_county(world) -> dict:
    """Per class: the other county's object of that class, and an id that exists nowhere."""
    theirs = world["b"].ids["T01D1V1"]
    return {kind: [("other county", theirs[kind]), ("missing", MISSING)]
            for kind in ("unit", "person", "user", "member_unit", "screening", "case", "place", "intake")}


def test_every_id_in_every_write_body_is_checked_against_the_callers_scope(app, db, world):
    """Finding 8 of issue 14 (ORG-2; every id in a write is checked against the caller's
    scope for that act): a village officer's out-of-scope ids in bodies are refused and
    write nothing."""
    a, sibling = world["a"], world["a"].ids["T01D1V2"]
    outside = other_county(world)
    for kind in outside:  # and the sibling village's
        outside[kind].insert(0, ("sibling village", sibling[kind]))
    outside["unit"].insert(1, ("township above", a.unit("T01")))
    probes, failures = probe(app, db, world, world["caller"], outside)
    print("write-scope probes per class:", probes, "failures:", len(failures))
    assert failures == [], "\n".join(failures)
    assert all(n >= 3 for n in probes.values()) and sum(probes.values()) >= 140, probes


def test_a_county_wide_acts_ids_are_checked_too(app, db, world):
    """The same for the acts only a county-wide holder may do: the county admin's ids of the
    other county, or of nothing, are refused and write nothing."""
    a = world["a"]
    probes, failures = probe(app, db, world, a.admin, other_county(world), county_wide=True)
    assert failures == [], "\n".join(failures)
    assert probes["unit"] >= 2, probes


def _value(world, placeholder: str, mine: dict):
    if placeholder == "$fresh":
        return _fresh("n")
    if placeholder == "$today":  # a date on or after a record made during the probe (the clock runs)
        return dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date().isoformat()
    if placeholder == "$role":
        return world["role"]
    if placeholder == "$deadline":
        return world.get("deadline")
    if placeholder == "$member_unit":
        r = world["caller"].post("/api/member-units", json={"org_unit_id": mine["unit"], "name": _fresh("站"),
                                                            "category": "police"})
        assert r.status_code == 201, r.get_json()
        member = r.get_json()["id"]
        # staffed: a task can only be dispatched to a member unit someone can sign for (issue 15)
        r = world["caller"].post("/api/users", json={"username": _fresh("s"), "display_name": "驻站民警",
                                                     "org_unit_id": mine["unit"], "member_unit_id": member})
        assert r.status_code == 201, r.get_json()
        return member
    if placeholder == "$period":
        return "2026-03"  # the month of NOW
    key = placeholder[1:]
    return mine[CASE_OF.get(placeholder, key).lstrip("$")] if placeholder in CASE_OF else mine[key]


def test_the_snapshot_sees_one_changed_field_and_nothing_else(db, world):
    """The check's own eyes: one field of one row changed moves the county's digest; reading does not."""
    a = world["a"]
    before = snapshot(db, a)
    assert snapshot(db, a) == before
    with db.transaction(a.id) as s:
        s.execute(update(User).where(User.username == "county.admin").values(display_name="县管理员（改）"))
    assert snapshot(db, a) != before
