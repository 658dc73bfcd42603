"""Issue 17, PAT-4: information officers' clues as ``patrol.clue`` cases — anonymity towards the
handlers, the audited reveal, triage, and turning a clue into a mediation dispute (module on)
or a matter at the one window (module off), linked both ways."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from core.audit import AuditEntry
from tests.conftest import load_tenant

HANDLER = ["core.org_unit.read", "core.case.read", "core.case.register", "core.person.read",
           "patrol.clue.read", "patrol.clue.handle", "mediation.read", "mediation.register"]
REPORTER = ["core.org_unit.read", "patrol.clue.read", "patrol.clue.report"]
AUDITOR = ["core.org_unit.read", "core.case.read", "patrol.clue.read", "patrol.clue.reporter.read"]
WHO = "罗塘村第一网格网格员"     # grid.worker's display name


@pytest.fixture
def county(app, login):
    c = load_tenant(app)
    admin = login(c, "county.admin")
    assert admin.put("/api/modules/patrol", json={"enabled": True}).status_code == 200
    users = {u["username"]: u["id"] for u in admin.get("/api/users?limit=200").get_json()["items"]}
    for key, perms, user, unit in (("clue_handler", HANDLER, "village.cadre", "T01D1V1"),
                                   ("info_officer", REPORTER, "grid.worker", "T01D1V1W1"),
                                   ("clue_auditor", AUDITOR, "county.viewer", "C")):
        role = admin.post("/api/roles", json={"key": key, "name": key, "permissions": perms})
        assert role.status_code == 201, role.get_json()
        r = admin.post("/api/role-assignments", json={"user_id": users[user], "role_id": role.get_json()["id"],
                                                      "org_unit_id": c.unit(unit)})
        assert r.status_code == 201, r.get_json()
    return c


def report(client, county, anonymous=True, title="夜间有人撬电动车") -> dict:
    r = client.post("/api/patrol/clues", json={"org_unit_id": county.unit("T01D1V1W1"), "title": title,
                                               "place": "罗塘村村口", "content": "凌晨两点见两人撬车锁",
                                               "anonymous": anonymous})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def test_an_anonymous_reporter_is_hidden_from_handlers_and_revealed_to_an_auditor_audited(county, login, db):
    # rule: PAT-4 — anonymity towards the handlers; the auditor's read is audited
    clue = report(login(county, "grid.worker"), county)
    handler = login(county, "village.cadre")
    seen = [handler.get(f"/api/cases/{clue['id']}"), handler.get(f"/api/cases/{clue['id']}/events"),
            handler.get(f"/cases/{clue['id']}"), handler.get("/api/cases?case_type=patrol.clue")]
    for r in seen:
        assert r.status_code == 200
        assert WHO not in r.get_data(as_text=True) and "grid.worker" not in r.get_data(as_text=True)
    assert handler.get(f"/api/cases/{clue['id']}").get_json()["details"]["anonymous"] is True
    assert "匿名" in seen[2].get_data(as_text=True)
    assert handler.get(f"/api/patrol/clues/{clue['id']}/reporter").get_json() == {"anonymous": True, "reporter": None}
    assert handler.get(f"/patrol/clues/{clue['id']}/reporter").status_code == 403
    auditor = login(county, "county.viewer")
    assert auditor.get(f"/api/patrol/clues/{clue['id']}/reporter").get_json() == {"anonymous": True, "reporter": WHO}
    page = auditor.get(f"/patrol/clues/{clue['id']}/reporter")
    assert page.status_code == 200 and WHO in page.get_data(as_text=True)
    with db.transaction(county.id) as s:
        reads = s.scalars(select(AuditEntry).where(AuditEntry.action == "read_sensitive",
                                                   AuditEntry.object_type == "patrol_clue")).all()
    assert len(reads) == 2 and {e.actor for e in reads} == {"user:county.viewer"}
    assert all(json.dumps(e.changes, ensure_ascii=False).find("reporter_id") >= 0 for e in reads)


def test_a_named_clue_names_its_reporter(county, login):
    clue = report(login(county, "grid.worker"), county, anonymous=False)
    handler = login(county, "village.cadre")
    assert handler.get(f"/api/patrol/clues/{clue['id']}/reporter").get_json() == {"anonymous": False, "reporter": WHO}


def test_triage_verify_and_reject_with_a_reason(county, login):
    # rule: PAT-4 — reports are triaged
    clue = report(login(county, "grid.worker"), county)
    handler = login(county, "village.cadre")
    r = handler.post(f"/api/cases/{clue['id']}/transitions/reject", json={})
    assert r.status_code == 422
    assert handler.post(f"/api/cases/{clue['id']}/transitions/verify", json={}).status_code == 200
    r = handler.post(f"/api/cases/{clue['id']}/transitions/reject", json={"reason": "经查为车主本人开锁"})
    assert r.status_code == 200, r.get_json()
    case = handler.get(f"/api/cases/{clue['id']}").get_json()
    assert case["state"] == "rejected" and case["details"]["reject_reason"] == "经查为车主本人开锁"


def test_a_clue_turned_into_a_mediation_case_is_linked_both_ways(county, login, enable_plugin, db):
    # rule: PAT-4 — handled or turned into another module's case (mediation on)
    enable_plugin("mediation", county=county)
    clue = report(login(county, "grid.worker"), county, title="两户因排水沟争吵")
    handler = login(county, "village.cadre")
    no_type = handler.post(f"/api/cases/{clue['id']}/transitions/turn", json={"target": "mediation"})
    assert no_type.status_code == 422 and no_type.get_json()["code"] == "dispute_type_required"
    r = handler.post(f"/api/cases/{clue['id']}/transitions/turn", json={"target": "mediation", "dispute_type": "neighbours"})
    assert r.status_code == 200, r.get_json()
    case = handler.get(f"/api/cases/{clue['id']}").get_json()
    assert case["state"] == "turned"
    new = handler.get(f"/api/cases/{case['details']['turned_case_id']}").get_json()
    assert new["case_type"] == "mediation.dispute" and new["title"] == "两户因排水沟争吵"
    back = handler.get(f"/api/cases/{new['id']}/events").get_json()
    assert any(clue["number"] in (e.get("note") or "") for e in back)
    there = handler.get(f"/api/cases/{clue['id']}/events").get_json()
    assert any(new["number"] in (e.get("note") or "") for e in there)
    assert "查看转成的矛盾纠纷" in handler.get(f"/cases/{clue['id']}").get_data(as_text=True)
    import datetime as dt
    from plugins.patrol.indicators import clues_handled
    with db.transaction(county.id) as s:
        today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()  # the indicator's days are Beijing's
        assert clues_handled(s, county.unit("T01"), today - dt.timedelta(days=1), today + dt.timedelta(days=2)) == 1.0


def test_with_mediation_off_the_act_offers_the_one_window(county, login):
    # rule: PAT-4 — without the mediation module the clue goes to the one window (INT-4)
    clue = report(login(county, "grid.worker"), county)
    handler = login(county, "village.cadre")
    page = handler.get(f"/cases/{clue['id']}").get_data(as_text=True)
    assert "统一受理（待分流）" in page and "矛盾纠纷（转调解）" not in page
    r = handler.post(f"/api/cases/{clue['id']}/transitions/turn", json={"target": "mediation", "dispute_type": "x"})
    assert r.status_code == 422 and r.get_json()["code"] == "mediation_disabled"
    r = handler.post(f"/api/cases/{clue['id']}/transitions/turn", json={"target": "intake"})
    assert r.status_code == 200, r.get_json()
    intake_id = handler.get(f"/api/cases/{clue['id']}").get_json()["details"]["turned_intake_id"]
    pending = handler.get("/api/intake?outcome=pending").get_json()["items"]
    assert intake_id in [i["id"] for i in pending]


def test_the_phone_page_reports_and_keeps_what_was_typed(county, login):
    officer = login(county, "grid.worker")
    page = officer.get("/patrol/clues/new")
    assert page.status_code == 200 and "匿名报送" in page.get_data(as_text=True)
    bad = officer.post("/patrol/clues/new", data={"org_unit_id": str(county.unit("T01D1V1W1")), "title": "有人打架",
                                                  "content": "村口两人打架", "anonymous": "true"})
    assert bad.status_code == 422 and "村口两人打架" in bad.get_data(as_text=True)
    ok = officer.post("/patrol/clues/new", data={"org_unit_id": str(county.unit("T01D1V1W1")), "title": "有人打架",
                                                 "place": "村口", "content": "村口两人打架", "anonymous": "true",
                                                 "occurred_at": "2026-11-10T21:30"})
    assert ok.status_code == 302 and "done=" in ok.headers["Location"]
