"""Personal data that leaks through look-ups and case parties (issue 14, findings 3, 6 and 7)."""
from __future__ import annotations

import random

import pytest
import time_machine
from sqlalchemy import select

from core.app import pingan
from core.audit import AuditEntry
from core.demo import fake_id_number
from core.models import Role, RoleAssignment, RolePermission, User
from tests.casework import register
from tests.conftest import Client, make_token

NOW = "2026-05-12T10:00:00+08:00"


def _person(admin, unit: int, name: str, id_number: str, phone: str) -> int:
    r = admin.post("/api/persons", json={"name": name, "org_unit_id": unit, "id_number": id_number, "phone": phone})
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def _token(app, t, username: str) -> str:
    """A token of a user made by the admin, once they have changed their one-time password at
    the first log-in (until then every API call of theirs is 403 password_change_required)."""
    with pingan(app).db.transaction(t.id) as s:
        s.scalar(select(User).where(User.username == username)).must_change_password = False
    return make_token(app, t, username)


def _user(app, t, admin, username: str, grants: list[tuple[str, str]]) -> Client:
    """A user homed at the first unit of ``grants`` ((role key, unit code) pairs), by token."""
    roles = {r["key"]: r["id"] for r in admin.get("/api/roles?limit=200").get_json()["items"]}
    r = admin.post("/api/users", json={"username": username, "display_name": username,
                                       "org_unit_id": t.unit(grants[0][1])})
    assert r.status_code == 201, r.get_json()
    user_id = r.get_json()["id"]
    for role, unit in grants:
        r = admin.post("/api/role-assignments", json={"user_id": user_id, "role_id": roles[role],
                                                      "org_unit_id": t.unit(unit)})
        assert r.status_code == 201, r.get_json()
    return Client(app, t.host, {"Authorization": f"Bearer {_token(app, t, username)}"})


def _searches(app, t) -> list[dict]:
    with pingan(app).db.transaction(t.id) as s:
        return [e.changes for e in s.scalars(select(AuditEntry).where(AuditEntry.action == "person.pii_search")
                                            .order_by(AuditEntry.id))]


# --- finding 3: masked ID numbers and phones recovered by exact search ------------------------

def test_exact_search_by_id_number_or_phone_needs_the_pii_permission(app, county, login, token_client):
    """Issue 14 finding 3 (PIPL art. 51): a user who sees only masked numbers cannot confirm a
    guessed phone or ID number through /api/persons or the case list's person filter."""
    admin = login(county, "county.admin")
    idn = fake_id_number(random.Random(14))
    zhang = _person(admin, county.unit("T01D1V1"), "张三", idn, "13900001714")
    register(admin, county.unit("T01D1V1"), title="张三的事", persons=[{"person_id": zhang, "role": "party"}])
    cadre = token_client(county, "village.cadre")  # core.person.read on 罗塘村, no PII permission
    assert cadre.get(f"/api/persons/{zhang}").get_json()["phone"] != "13900001714"  # masked
    for url, field in ((f"/api/persons?phone=13900001714", "phone"), (f"/api/persons?id_number={idn}", "id_number"),
                       ("/api/cases?person=13900001714", "person"), (f"/api/cases?person={idn}", "person"),
                       ("/api/persons?phone=13900009999", "phone")):  # a wrong guess answers alike
        r = cadre.get(url)
        assert r.status_code == 403, (url, r.get_json())
        assert r.get_json()["code"] == "pii_forbidden" and field in r.get_json()["errors"]["query"]
    # the name still finds them, as before
    assert [p["id"] for p in cadre.get("/api/persons?q=张三").get_json()["items"]] == [zhang]


def test_pii_search_finds_only_where_the_permission_is_held(app, county, login):
    """Issue 14 finding 3: the PII permission on 东湖镇 does not make a 青山乡 resident findable
    by number, and naming 青山乡 as the scope searched is refused."""
    admin = login(county, "county.admin")
    phone = "13700002468"
    qingshan = _person(admin, county.unit("T02"), "李四", fake_id_number(random.Random(15)), phone)
    officer = _user(app, county, admin, "pii.donghu", [("pii_officer", "T01"), ("village_cadre", "C")])
    assert officer.get(f"/api/persons/{qingshan}").status_code == 200  # readable, masked
    r = officer.get(f"/api/persons?phone={phone}")
    assert r.status_code == 200 and r.get_json()["items"] == []
    r = officer.get(f"/api/persons?phone={phone}&org_unit_id={county.unit('T02')}")
    assert r.status_code == 403 and r.get_json()["code"] == "pii_forbidden"
    found = admin.get(f"/api/persons?phone={phone}").get_json()["items"]  # county-wide PII: found
    assert [p["id"] for p in found] == [qingshan]


def test_pii_searches_are_rate_limited_per_user_and_audited(app, county, login):
    """Issue 14 finding 3: 20 exact searches a minute per user, the 21st is 429; each one is an
    audit entry naming the field and the value's blind index, never the value."""
    from core.crypto import ring
    from core.privacy import PII_SEARCH_LIMIT
    import datetime as dt
    import secrets
    # a minute of its own: the counts live in Redis across runs, and ids repeat on a fresh database
    start = dt.datetime(2026, 5, 12, 2, 0, tzinfo=dt.timezone.utc) + dt.timedelta(minutes=secrets.randbelow(10**6))
    with time_machine.travel(start, tick=False):
        admin = login(county, "county.admin")  # signed in inside the travel
        officer = _user(app, county, admin, "pii.limit", [("pii_officer", "C"), ("village_cadre", "C")])
        before = len(_searches(app, county))
        for i in range(PII_SEARCH_LIMIT):
            url = f"/api/persons?phone=1350000{i:04d}" if i % 2 else f"/api/cases?person=1350000{i:04d}"
            assert officer.get(url).status_code == 200, url
        r = officer.get("/api/persons?phone=13500009999")
        assert r.status_code == 429 and r.get_json()["code"] == "too_many_requests"
        other = _user(app, county, admin, "pii.other", [("pii_officer", "C")])
        assert other.get("/api/persons?phone=13500009999").status_code == 200  # per user
    with time_machine.travel(start + dt.timedelta(seconds=61), tick=False):
        assert officer.get("/api/persons?phone=13500009999").status_code == 200  # next minute
    entries = _searches(app, county)[before:]
    assert len(entries) == PII_SEARCH_LIMIT + 2
    assert entries[0] == {"field": "phone", "bidx": ring().blind_index("13500000000")}
    assert all("13500" not in str(e) for e in entries)


# --- finding 7: repeat detection across scope -------------------------------------------------

def test_repeat_of_a_petition_the_registrant_cannot_read_is_told_to_the_unit_above(app, fresh_tenant, login):
    """Issue 14 finding 7 (PET-6): 罗塘村 registers a petition by a person whose ID number has an
    earlier petition in 郭岭村, which 罗塘村 may not read. The registrant learns only that it may be
    a repeat and that the level above was told — not its number, id or count; the 管区 above both
    gets a to-do naming both; the county, which reads both, sees the link in full."""
    from core.demo import fake_id_number
    t = fresh_tenant
    admin = login(t, "county.admin")
    assert admin.put("/api/modules/petition", json={"enabled": True}).status_code == 200
    r = admin.post("/api/roles", json={"key": "petition_desk", "name": "信访登记",
                                       "permissions": ["petition.read", "petition.register", "core.case.read", "core.case.register", "core.person.read",
                                                       "core.person.manage"]})
    assert r.status_code == 201, r.get_json()
    luotang = _user(app, t, admin, "desk.luotang", [("petition_desk", "T01D1V1")])
    guoling = _user(app, t, admin, "desk.guoling", [("petition_desk", "T01D1V2")])
    above = _user(app, t, admin, "desk.guanqu", [("petition_desk", "T01D1")])
    idn = fake_id_number(random.Random(7))

    def petition(client, unit: str) -> dict:
        person = client.post("/api/persons", json={"name": "王五", "org_unit_id": t.unit(unit), "id_number": idn})
        assert person.status_code == 201, person.get_json()
        r = client.post("/api/cases", json={
            "case_type": "petition.case", "title": "反映宅基地纠纷", "org_unit_id": t.unit(unit),
            "persons": [{"person_id": person.get_json()["id"], "role": "petitioner"}],
            "details": {"form": "visit", "category": "land"}})
        assert r.status_code == 201, r.get_json()
        return r.get_json()

    first = petition(guoling, "T01D1V2")
    second = petition(luotang, "T01D1V1")
    d = second["details"]
    assert (d["repeat_of_id"], d["repeat_of_number"], d["repeat_count"]) == (None, None, 0)
    assert d["repeat_note"] == "可能为重复信访，已提示上级"
    r = luotang.get(f"/api/cases/{second['id']}")
    assert r.status_code == 200 and r.get_json()["details"]["repeat_note"] == "可能为重复信访，已提示上级"
    shown = str(r.get_json())
    assert first["number"] not in shown and str(first["id"]) not in shown.replace(str(second["id"]), "")
    todos = [n for n in above.get("/api/inbox?limit=50").get_json()["items"] if n["case_id"] == second["id"]]
    assert len(todos) == 1 and todos[0]["kind"] == "todo" and first["number"] in todos[0]["body"]
    full = admin.get(f"/api/cases/{second['id']}").get_json()["details"]
    assert (full["repeat_of_id"], full["repeat_of_number"], full["repeat_count"], full["repeat_note"]) == \
        (first["id"], first["number"], 1, None)
    assert above.get(f"/api/cases/{second['id']}").get_json()["details"]["repeat_of_number"] == first["number"]


# --- finding 6: a module's PII permission reveals only genuine parties ------------------------

def test_mediation_pii_reveals_only_people_genuinely_attached(app, fresh_tenant, login):
    """Issue 14 finding 6 (PIPL art. 51): a mediator holding mediation.pii.read but not
    core.person.pii.read attaches an uninvolved resident to a new dispute: the case reveals
    the party they registered themselves, not the resident (masked, revealed false); who
    attached each person and when is recorded, and each reveal is audited with the case."""
    t = fresh_tenant
    admin = login(t, "county.admin")
    assert admin.put("/api/modules/mediation", json={"enabled": True}).status_code == 200
    perms = ["mediation.read", "mediation.register", "mediation.pii.read", "core.case.read", "core.case.register",
             "core.person.read", "core.person.manage"]
    r = admin.post("/api/users", json={"username": "desk.mediator", "display_name": "调解员",
                                       "org_unit_id": t.unit("T01D1V1")})
    assert r.status_code == 201, r.get_json()
    with pingan(app).db.transaction(t.id) as s:  # as tenant.toml would: the county admin lacks mediation.pii.read
        role = Role(key="mediator_desk", name="调解登记")
        s.add(role)
        s.flush()
        s.add_all([RolePermission(role_id=role.id, permission=p) for p in perms])
        s.add(RoleAssignment(user_id=r.get_json()["id"], role_id=role.id, org_unit_id=t.unit("T01D1V1")))
    mediator = Client(app, t.host, {"Authorization": f"Bearer {_token(app, t, 'desk.mediator')}"})
    resident_idn, party_idn = fake_id_number(random.Random(61)), fake_id_number(random.Random(62))
    resident = _person(admin, t.unit("T01D1V1"), "赵六", resident_idn, "13600006666")  # uninvolved
    r = mediator.post("/api/persons", json={"name": "钱七", "org_unit_id": t.unit("T01D1V1"),
                                            "id_number": party_idn, "phone": "13600007777"})
    assert r.status_code == 201, r.get_json()
    party = r.get_json()["id"]
    with time_machine.travel(NOW, tick=False):
        r = mediator.post("/api/cases", json={
            "case_type": "mediation.dispute", "title": "邻里纠纷", "org_unit_id": t.unit("T01D1V1"),
            "persons": [{"person_id": party, "role": "applicant"}, {"person_id": resident, "role": "respondent"}],
            "details": {"dispute_type": "debt"}})
    assert r.status_code == 201, r.get_json()
    case = r.get_json()
    people = {p["person_id"]: p for p in mediator.get(f"/api/cases/{case['id']}/persons?reveal=true").get_json()}
    assert people[party]["id_number"] == party_idn and people[party]["revealed"] is True
    assert people[resident]["id_number"] != resident_idn and people[resident]["revealed"] is False
    assert resident_idn[-4:] not in str(people[resident]) or people[resident]["id_number"].count("*") >= 8
    me = mediator.get("/api/me").get_json()["id"]
    assert {p["attached_by"] for p in people.values()} == {me}
    assert all(p["attached_at"].startswith("2026-05-12T02:00:00") for p in people.values())
    # the case type's PII permission is still needed first: the county admin lacks it here
    assert admin.get(f"/api/cases/{case['id']}/persons?reveal=true").status_code == 403
    with pingan(app).db.transaction(t.id) as s:
        reads = [(e.actor_id, e.object_id, e.changes) for e in s.scalars(
            select(AuditEntry).where(AuditEntry.action == "read_sensitive", AuditEntry.object_type == "person"))]
    assert (me, str(party)) in {(a, o) for a, o, _ in reads}
    assert (me, str(resident)) not in {(a, o) for a, o, _ in reads}
    assert all(c.get("case_id") == case["id"] and c.get("case_number") == case["number"]
               for a, o, c in reads if o in (str(party), str(resident)))


def test_people_the_window_registered_are_revealed_after_sorting_residents_it_attached_are_not(
        app, fresh_tenant, login, token_client):
    """Issue 14 finding 6: the window (罗塘村's cadre, no PII permission) registers a matter with a
    new person it typed in and an existing resident picked by id; the sorting meeting makes it
    a dispute. The mediation PII permission reveals the person the window registered
    (``entered``), not the resident (attached by someone who could not read them)."""
    t = fresh_tenant
    admin = login(t, "county.admin")
    assert admin.put("/api/modules/mediation", json={"enabled": True}).status_code == 200
    r = admin.post("/api/users", json={"username": "desk.sorter", "display_name": "分类会议",
                                       "org_unit_id": t.unit("T01D1V1")})
    assert r.status_code == 201, r.get_json()
    with pingan(app).db.transaction(t.id) as s:
        role = Role(key="sorting_desk", name="分类会议")
        s.add(role)
        s.flush()
        s.add_all([RolePermission(role_id=role.id, permission=p) for p in (
            "mediation.read", "mediation.register", "mediation.pii.read", "core.case.read", "core.case.register",
            "core.case.divert", "core.person.read")])
        s.add(RoleAssignment(user_id=r.get_json()["id"], role_id=role.id, org_unit_id=t.unit("T01D1V1")))
    sorter = Client(app, t.host, {"Authorization": f"Bearer {_token(app, t, 'desk.sorter')}"})
    resident_idn, visitor_idn = fake_id_number(random.Random(63)), fake_id_number(random.Random(64))
    resident = _person(admin, t.unit("T01D1V1"), "孙八", resident_idn, "13600008888")
    cadre = token_client(t, "village.cadre")
    r = cadre.post("/api/intake", json={
        "channel": "visit", "org_unit_id": t.unit("T01D1V1"), "subject": "邻里纠纷", "content": "反映邻里纠纷",
        "persons": [{"name": "周九", "org_unit_id": t.unit("T01D1V1"), "id_number": visitor_idn},
                    {"person_id": resident}]})
    assert r.status_code == 201, r.get_json()
    visitor = next(p for p in r.get_json()["person_ids"] if p != resident)
    r = sorter.post(f"/api/intake/{r.get_json()['id']}/sort", json={"case_type": "mediation.dispute",
                                                                    "details": {"dispute_type": "debt"}})
    assert r.status_code == 200, r.get_json()
    case_id = r.get_json()["case_id"]
    people = {p["person_id"]: p for p in sorter.get(f"/api/cases/{case_id}/persons?reveal=true").get_json()}
    assert people[visitor]["id_number"] == visitor_idn and people[visitor]["revealed"] is True
    assert people[resident]["id_number"] != resident_idn and people[resident]["revealed"] is False


def test_a_malformed_id_number_search_matches_nobody(app, county, login):
    """Issue 14 finding 3: a malformed ID number or a wrong check digit finds nobody (200, no
    items) — still only with the PII permission, counted and audited like any search."""
    admin = login(county, "county.admin")
    idn = fake_id_number(random.Random(16))
    _person(admin, county.unit("T01D1V1"), "吴十", idn, "13300001111")
    wrong = idn[:17] + ("0" if idn[17] != "0" else "1")
    before = len(_searches(app, county))
    for guess in ("¿", wrong, idn.lower()):
        r = admin.get(f"/api/persons?id_number={guess}")
        assert r.status_code == 200, r.get_json()
        assert len(r.get_json()["items"]) == (1 if guess == idn.lower() else 0), guess
    assert len(_searches(app, county)) == before + 3
