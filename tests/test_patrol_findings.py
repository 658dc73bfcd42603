"""Issue 17, PAT-2: what a round found turned into work in one act — a dispute for mediation, a
hazard for safety (each while the county has it on), anything else a matter at the one window —
linked both ways, through the API and the round's page."""
from __future__ import annotations

import time_machine

from tests.test_patrol import NIGHT, make_county, setup_route

FINDER = ["core.org_unit.read", "core.person.read", "core.case.read", "core.case.register",
          "patrol.read", "patrol.manage", "patrol.patrol", "mediation.read", "mediation.register",
          "safety.read", "safety.inspect"]


def county_with(app, login, *modules):
    c = make_county(app, login)
    admin = login(c, "county.admin")
    for m in modules:
        assert admin.put(f"/api/modules/{m}", json={"enabled": True}).status_code == 200, m
    role = admin.post("/api/roles", json={"key": "patrol_finder", "name": "巡逻并登记", "permissions": FINDER})
    assert role.status_code == 201, role.get_json()
    r = admin.post("/api/role-assignments", json={"user_id": c.users["village.cadre"], "role_id": role.get_json()["id"],
                                                  "org_unit_id": c.unit("T01D1V1")})
    assert r.status_code == 201, r.get_json()
    return c


def a_round(cadre, county) -> int:
    route = setup_route(cadre, county, n=2)
    r = cadre.post("/api/patrol/rounds", json={"route_id": route["id"]})
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def test_a_dispute_and_a_hazard_become_cases_of_their_modules_linked_both_ways(app, login):
    # rule: PAT-2 — results of a round (disputes, hazards found) turned into the right module's case
    county = county_with(app, login, "mediation", "safety")
    cadre = login(county, "village.cadre")
    with time_machine.travel(NIGHT, tick=False):
        rid = a_round(cadre, county)
        url = f"/api/patrol/rounds/{rid}/findings"
        no_type = cadre.post(url, json={"kind": "dispute", "title": "两户争水", "content": "为灌溉用水发生口角"})
        assert no_type.status_code == 422 and no_type.get_json()["code"] == "dispute_type_required"
        r = cadre.post(url, json={"kind": "dispute", "title": "两户争水", "content": "为灌溉用水发生口角",
                                  "dispute_type": "neighbours"})
        assert r.status_code == 201, r.get_json()
        dispute = r.get_json()
        assert dispute["kind_title"] == "矛盾纠纷" and dispute["case_number"]
        r = cadre.post(url, json={"kind": "hazard", "title": "村口电线裸露", "content": "电杆下电线外皮破损",
                                  "grade": "general"})
        assert r.status_code == 201, r.get_json()
        hazard = r.get_json()
        cases = {c: cadre.get(f"/api/cases/{c}").get_json() for c in (dispute["case_id"], hazard["case_id"])}
        assert cases[dispute["case_id"]]["case_type"] == "mediation.dispute"
        assert cases[hazard["case_id"]]["case_type"] == "safety.hazard"
        for case_id in cases:
            events = cadre.get(f"/api/cases/{case_id}/events").get_json()
            assert any("由巡逻记录（罗塘夜巡线" in (e.get("note") or "") for e in events), events
        listed = cadre.get(f"/api/patrol/rounds/{rid}").get_json()["findings"]
        assert [(f["kind"], f["case_id"]) for f in listed] == [("dispute", dispute["case_id"]),
                                                              ("hazard", hazard["case_id"])]
        page = cadre.get(f"/patrol/rounds/{rid}").get_data(as_text=True)
        assert dispute["case_number"] in page and "村口电线裸露" in page and "转矛盾纠纷调解" in page


def test_with_the_modules_off_a_finding_goes_to_the_one_window(app, login):
    # rule: PAT-2 rule: INT-4 — a dispute without the mediation module is a matter for the sorting meeting
    county = county_with(app, login)
    cadre = login(county, "village.cadre")
    with time_machine.travel(NIGHT, tick=False):
        rid = a_round(cadre, county)
        r = cadre.post(f"/api/patrol/rounds/{rid}/findings",
                       json={"kind": "dispute", "title": "两户争水", "content": "为灌溉用水发生口角"})
        assert r.status_code == 201, r.get_json()
        found = r.get_json()
        assert found["case_id"] is None and found["intake_id"]
        intake = cadre.get(f"/api/intake/{found['intake_id']}").get_json()
        assert intake["subject"] == "两户争水" and "由巡逻记录（罗塘夜巡线" in intake["content"]
        page = cadre.get(f"/patrol/rounds/{rid}").get_data(as_text=True)
        assert "已转统一受理窗口，待分流" in page and "转统一受理" in page and "纠纷类型" not in page


def test_outside_the_patrol_scope_no_finding_and_the_form_keeps_what_was_typed(app, login):
    county = county_with(app, login, "mediation")
    cadre = login(county, "village.cadre")
    with time_machine.travel(NIGHT, tick=False):
        rid = a_round(cadre, county)
        other = login(county, "village.cadre2")      # patrols 郭岭村, not 罗塘村
        assert other.post(f"/api/patrol/rounds/{rid}/findings",
                          json={"kind": "other", "title": "x", "content": "y"}).status_code == 404
        r = cadre.post(f"/patrol/rounds/{rid}/findings", data={"kind": "dispute", "title": "两户争水", "content": "口角"})
        assert r.status_code == 422
        text = r.get_data(as_text=True)
        assert "转为矛盾纠纷时请选择纠纷类型" in text and 'value="两户争水"' in text and "口角</textarea>" in text
        r = cadre.post(f"/patrol/rounds/{rid}/findings", data={"kind": "dispute", "title": "两户争水", "content": "口角",
                                                               "dispute_type": "neighbours"})
        assert r.status_code == 302
        assert cadre.get(f"/api/patrol/rounds/{rid}").get_json()["findings"][0]["case_number"]
