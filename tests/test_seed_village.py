"""Seed fidelity (issue 21): a year of the "五事" in ``tenants/seed001b``, a township after seed 001
doc 5 — a group instructor's "四个一" contacts (VIL-1), a quarterly hearing with a commitment
(VIL-2), a project that passes and one that fails the 80 % rule (VIL-3), their publication on
the village's public page (VIL-4), and the yearly two ballots with one village under 90 % and
its rectification followed to its end (VIL-5)."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import time_machine

from core.workdays import SHANGHAI
from plugins.village.evaluations import below_threshold
from tests.casework import act
from tests.conftest import load_tenant

TENANTS = Path(__file__).resolve().parent.parent / "tenants"


def when(month: int, day: int) -> dt.datetime:
    return dt.datetime(2025, month, day, 10, tzinfo=SHANGHAI)


def ballots(county, unit, villager, party) -> dict:
    return {"org_unit_id": county.unit(unit), "year": 2025, "held_on": "2025-12-10",
            "villager_issued": sum(villager), "villager_satisfied": villager[0], "villager_basic": villager[1],
            "villager_unsatisfied": villager[2], "party_issued": sum(party), "party_satisfied": party[0],
            "party_basic": party[1], "party_unsatisfied": party[2]}


def test_a_year_of_the_five_affairs_in_the_seed_001_township(app, login, county_session):
    # rule: VIL-1, VIL-2, VIL-3, VIL-4, VIL-5
    with time_machine.travel(when(1, 2), tick=False) as clock:
        county = load_tenant(app, folder=TENANTS / "seed001b")

        def signed_in():  # a session lasts hours, the year months: sign in again at each step
            return (login(county, u) for u in ("instructor.a", "lianxin.officer", "xiang.centre"))

        # VIL-1: the instructor's "四个一" in the first quarter (the district counts by quarter)
        clock.move_to(when(2, 15))
        instructor, officer, centre = signed_in()
        for kind in ("party_member", "villager", "hardship_household", "enterprise"):
            r = instructor.post("/api/village/contacts", json={
                "org_unit_id": county.unit("XV1G1"), "kind": kind, "contacted_on": "2025-02-15",
                "raised": "村东道路坑洼，雨天难行" if kind == "villager" else "", "outcome": "deliberation"
                if kind == "villager" else "none"})
            assert r.status_code == 201, r.get_json()
        figures = centre.get(f"/api/village/contact-figures?org_unit_id={county.unit('X')}").get_json()
        assert (figures["first"], figures["last"]) == ("2025-01-01", "2025-03-31")
        assert [(c["name"], c["met"]) for c in figures["cadres"]] == [("乡机关干部甲", True)]
        # VIL-2: the first quarter's hearing; the road is promised an answer within the limit
        r = officer.post("/api/village/hearings", json={
            "org_unit_id": county.unit("XV1"), "held_on": "2025-02-15", "questions": "村东道路坑洼；路灯不亮",
            "answers": "路灯本周修复", "commitment": "村东道路硬化提交村民代表会议议事"})
        assert r.status_code == 201 and r.get_json()["commitment_case_id"], r.get_json()
        commitment = r.get_json()["commitment_case_id"]
        # VIL-3: two projects; the road passes with 85 %, the clubhouse fails with 78 %
        clock.move_to(when(4, 10))
        instructor, officer, centre = signed_in()
        road, club = (officer.post("/api/village/projects", json={
            "org_unit_id": county.unit("XV1"), "title": title, "budget": budget, "proposed_on": "2025-04-01"})
            .get_json() for title, budget in (("村东道路硬化", "360000"), ("村民活动室扩建", "150000")))
        for p in (road, club):
            r = officer.post(f"/api/village/projects/{p['id']}/discussion",
                             json={"discussed_on": "2025-04-03", "opinion": "两委同意提交表决", "submit": True})
            assert r.status_code == 200, r.get_json()
        r = officer.post(f"/api/village/projects/{road['id']}/vote", json={
            "body": "representatives", "voted_on": "2025-04-08", "members": 45, "present": 40, "votes_for": 34,
            "votes_against": 5, "votes_abstain": 1})
        assert r.get_json()["state"] == "passed", r.get_json()
        r = officer.post(f"/api/village/projects/{club['id']}/vote", json={
            "body": "representatives", "voted_on": "2025-04-08", "members": 45, "present": 41, "votes_for": 32,
            "votes_against": 9, "votes_abstain": 0})
        assert r.get_json()["state"] == "failed" and r.get_json()["approval"] == "78.0"
        assert act(officer, commitment, "fulfil", {"note": "已提交村民代表会议，表决通过"}).status_code == 200
        # VIL-4: both decisions published within the district's 7 days; the road's progress and completion
        for p in (road, club):
            r = officer.post(f"/api/village/projects/{p['id']}/publications", json={"stage": "decision"})
            assert r.get_json()["on_time"] is True, r.get_json()
        clock.move_to(when(9, 30))
        instructor, officer, centre = signed_in()
        officer.post(f"/api/village/projects/{road['id']}/completion", json={"completed_on": "2025-09-28",
                                                                           "note": "800米道路硬化完成并验收"})
        assert officer.post(f"/api/village/projects/{road['id']}/publications",
                            json={"stage": "completion"}).status_code == 201
        assert officer.post(f"/api/village/projects/{club['id']}/completion",
                            json={"completed_on": "2025-09-28", "note": "完工"}).status_code == 409
        public = app.test_client().get(f"http://{county.host}/api/village/public/villages/{county.unit('XV1')}")
        shown = {p["title"]: [s["stage"] for s in p["stages"]] for p in public.get_json()["projects"]}
        assert shown == {"村东道路硬化": ["decision", "completion"], "村民活动室扩建": ["decision"]}
        # VIL-5: the year's two ballots; 九和村's party members' ballot is under 90 %
        clock.move_to(when(12, 10))
        instructor, officer, centre = signed_in()
        r = centre.post("/api/village/evaluations", json=ballots(county, "XV1", (300, 20, 10), (60, 5, 3)))
        assert r.get_json()["passed"] is True, r.get_json()
        r = centre.post("/api/village/evaluations", json=ballots(county, "XV2", (280, 20, 20), (50, 2, 8)))
        low = r.get_json()
        assert (low["passed"], low["party_pct"]) == (False, "86.7") and low["case_id"], low
        with county_session(county) as s:
            assert below_threshold(s, county.unit("X"), dt.date(2025, 1, 1), dt.date(2026, 1, 1)) == 1.0
        jiuhe = login(county, "jiuhe.officer")
        assert act(jiuhe, low["case_id"], "start", {"note": "两委逐户走访党员，制定整改措施"}).status_code == 200
        clock.move_to(when(12, 30))
        jiuhe = login(county, "jiuhe.officer")
        assert act(jiuhe, low["case_id"], "finish", {"note": "整改完成，复评满意"}).status_code == 200
        done = login(county, "xiang.centre").get(f"/api/village/evaluations/{low['id']}").get_json()
        assert done["case_closed"] is True
