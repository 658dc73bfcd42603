"""Seed fidelity (issue 5): the mediation module in the two seed-000 counties.

- ``tenants/seed000`` after doc 2 (木瓜镇): village reports by the 20th of each month (MED-1),
  emergencies within 20 minutes (MED-2), village → 包片领导/驻村干部 → town centre with the
  back-trace (MED-3).
- ``tenants/seed000b`` after doc 5: 三调联动 with referral letters and suggestions to file
  suit (MED-4), weekly reports from the villages' 信息员 (MED-1) and the weekly report of
  closed cases (INT-4).
Time travels through March 2025 on the real calendar (time-machine).
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import time_machine

from core.app import pingan
from core.jobs import bind_state
from plugins.mediation import screening
from tests.casework import act
from tests.conftest import load_tenant

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
TENANTS = Path(__file__).resolve().parent.parent / "tenants"
KEY = "mediation.dispute"
AGREEMENT = {"form": "written", "facts": "借款到期未还", "issues": "还款数额和期限", "responsibility": "借款人逾期",
             "terms": "分两期归还借款", "performance": "银行转账", "mediator": "一村调解员",
             "committee": "一村人民调解委员会", "parties_signed": True, "mediator_signed": True,
             "committee_stamped": True}


def when(month: int, day: int, hour: int = 9, minute: int = 0) -> dt.datetime:
    return dt.datetime(2025, month, day, hour, minute, tzinfo=SHANGHAI)


def dispute(client, county, unit: str, title: str, parties=(), **details) -> dict:
    body = {"case_type": KEY, "title": title, "org_unit_id": county.unit(unit), "content": title,
            "persons": [{"person_id": p, "role": side} for p, side in parties],
            "details": {"dispute_type": "neighbours", **details}}
    r = client.post("/api/cases", json=body)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def parties(client, county, unit: str) -> list:
    out = []
    for name, side in (("甲村民", "applicant"), ("乙村民", "respondent")):
        r = client.post("/api/persons", json={"name": name, "org_unit_id": county.unit(unit)})
        assert r.status_code == 201, r.get_json()
        out.append((r.get_json()["id"], side))
    return out


def test_doc2_county_reports_by_the_20th_emergencies_in_20_minutes_and_back_traces(app, login):
    state = pingan(app)
    bind_state(state)
    with time_machine.travel(when(3, 1), tick=False) as traveller:  # the county's units exist from March
        county = load_tenant(app, folder=TENANTS / "seed000")
        traveller.move_to(when(3, 5, 10, 25))
        # MED-2: a fight in 一村 at 10:00, reported at 10:25 — past the 20 minutes
        cadre = login(county, "village1.cadre")
        fight = dispute(cadre, county, "MGA1V1", "村民斗殴", emergency=True,
                        occurred_at=when(3, 5, 10, 0).isoformat(), people_involved=6)
        assert {"emergency_late", "may_become_mass"} <= set(fight["flags"])
        town = login(county, "mugua.mediation")
        assert any(n["title"] == f"突发事件迟报：{fight['number']}"
                   for n in town.get("/api/inbox?limit=50").get_json()["items"])
        # MED-1: the March report of 一村 on the 15th, on time
        r = cadre.post("/api/mediation/screening", json={"org_unit_id": county.unit("MGA1V1"), "period": "2025-03",
                                                         "dispute_ids": [fight["id"]]})
        assert r.status_code == 201 and r.get_json()["late"] is False, r.get_json()

        # MED-3: 一村 cannot settle a boundary dispute → the area leader and stationed cadre → the town
        traveller.move_to(when(3, 10))
        cadre = login(county, "village1.cadre")
        boundary = dispute(cadre, county, "MGA1V1", "地界纠纷", parties=parties(cadre, county, "MGA1V1"),
                           dispute_type="boundary")
        r = cadre.post(f"/api/mediation/disputes/{boundary['id']}/escalate", json={"reason": "村调委会调解不成"})
        assert [s["holders"] for s in r.get_json()["steps"]] == ["", "甲片长、驻一村干部"]
        traveller.move_to(when(3, 14))
        cadre = login(county, "village1.cadre")
        r = cadre.post(f"/api/mediation/disputes/{boundary['id']}/escalate", json={"reason": "包片领导协调未果"})
        assert r.status_code == 200, r.get_json()
        trace = r.get_json()
        assert [s["tier"] for s in trace["steps"]] == ["village", "cadre", "township"]
        assert trace["stalled_title"] == "村“三委”负责人、人民调解员"
        assert trace["steps"][1]["days"] == 4.0
        town = login(county, "mugua.mediation")
        assert act(town, boundary["id"], "accept", {"consent": True, "method": "leader"}).status_code == 200
        assert act(town, boundary["id"], "agree", {**AGREEMENT, "facts": "两户地界不清", "issues": "地界",
                                                   "mediator": "镇民调办", "committee": "木瓜镇人民调解委员会"}
                   ).status_code == 200

        # MED-1: on the 21st, the villages that have not reported for March are flagged to the town
        traveller.move_to(when(3, 21, 0, 30))
        with state.db.transaction(county.id) as s:
            assert screening.check_missing(s) > 0
        town = login(county, "mugua.mediation")
        flagged = [n["title"] for n in town.get("/api/inbox?limit=100").get_json()["items"]
                   if n["title"].startswith("排查情况未报")]
        assert "排查情况未报：二村 2025年3月" in flagged and "排查情况未报：一村 2025年3月" not in flagged
        board = town.get("/api/mediation/screening/status?level=village&period=2025-03").get_json()
        states = {u["org_unit"]: u["state"] for u in board["units"]}
        assert states["一村"] == "on_time" and states["二村"] == "missing" and len(states) == 11
        # 二村 files on the 22nd: late, the town is told
        traveller.move_to(when(3, 22))
        admin = login(county, "county.admin")
        r = admin.post("/api/mediation/screening", json={"org_unit_id": county.unit("MGA1V2"), "period": "2025-03",
                                                         "nil": True})
        assert r.status_code == 201 and r.get_json()["late"] is True
        report = admin.get("/api/mediation/reports/tiers?start=2025-03-01&end=2025-03-31").get_json()
        rows = {t["tier"]: t for t in report["tiers"]}
        assert rows["village"]["escalated"] == 1 and rows["township"]["resolved"] == 1


def test_doc5_county_links_the_three_mediations_and_reports_weekly(app, login):
    state = pingan(app)
    bind_state(state)
    with time_machine.travel(when(3, 1), tick=False) as traveller:
        county = load_tenant(app, folder=TENANTS / "seed000b")
        traveller.move_to(when(3, 3))  # Monday of 2025-W10
        centre = login(county, "xiang.centre")
        # the 法庭 refers three civil disputes to people's mediation with a referral letter
        court = {"kind": "judicial", "body": "基层法庭", "document": "letter"}
        referred = [dispute(centre, county, "XV1", f"借款纠纷{i}", parties=parties(centre, county, "XV1"),
                            dispute_type="debt", referred_from=court) for i in range(3)]
        # the 派出所 refers one to the 司法所 (administrative → people's)
        police = {"kind": "administrative", "body": "乡派出所", "document": "letter"}
        from_police = dispute(centre, county, "XV2", "邻里纠纷", parties=parties(centre, county, "XV2"),
                              referred_from=police)
        for case in referred[:2] + [from_police]:
            assert act(centre, case["id"], "accept", {"consent": True, "method": "graded"}).status_code == 200
            assert act(centre, case["id"], "agree", AGREEMENT).status_code == 200
            assert act(centre, case["id"], "conclude", {"performed": "performed"}).status_code == 200
        assert act(centre, referred[2]["id"], "accept", {"consent": True}).status_code == 200
        assert act(centre, referred[2]["id"], "end", {"outcome": "no_agreement", "note": "退回法庭审理"}).status_code == 200
        # a labour dispute the centre sends to the court with a suggestion to file suit
        wages = dispute(centre, county, "XV3", "拖欠工资", parties=parties(centre, county, "XV3"),
                        dispute_type="labour_wages", people_involved=12)
        assert act(centre, wages["id"], "accept", {"consent": True, "method": "joint"}).status_code == 200
        r = act(centre, wages["id"], "refer", {"to_kind": "judicial", "to_body": "基层法庭", "document": "suit",
                                               "note": "涉及人数多、金额大，建议立案审理"})
        assert r.status_code == 200, r.get_json()
        letter = centre.get(f"/api/cases/{wages['id']}/documents/mediation.suit_suggestion")
        assert letter.status_code == 200 and letter.mimetype == "application/pdf"

        traveller.move_to(when(3, 12))
        centre = login(county, "xiang.centre")
        back = next(r for r in centre.get("/api/mediation/referrals?direction=in").get_json()
                    if r["case_id"] == referred[2]["id"])
        assert centre.post(f"/api/mediation/referrals/{back['id']}/outcome",
                           json={"outcome": "judged", "note": "法庭判决"}).status_code == 200
        assert act(centre, wages["id"], "record_outcome", {"outcome": "judged", "note": "已判决"}).status_code == 200
        report = centre.get("/api/mediation/reports/referrals?start=2025-03-01&end=2025-03-31").get_json()
        by_body = {(g["direction"], g["body"]): g for g in report}
        court_in = by_body[("in", "基层法庭")]
        assert (court_in["referred"], court_in["mediated"], court_in["judged"]) == (3, 2, 1)
        assert by_body[("in", "乡派出所")]["mediated"] == 1
        assert by_body[("out", "基层法庭")]["judged"] == 1
        # INT-4: the weekly report of closed cases, week of 3 March
        weekly = centre.get("/api/mediation/reports/weekly?day=2025-03-05").get_json()
        assert sorted(c["number"] for c in weekly["closed"]) == sorted(
            c["number"] for c in referred + [from_police])
        assert centre.get("/api/mediation/reports/weekly.xlsx?day=2025-03-05").status_code == 200

        # MED-1: 信息员 report weekly; on Monday 10 March the W10 reports are... not yet due,
        # W10 is due Sunday 9 March 24:00 — one village reported, two are flagged
        traveller.move_to(when(3, 7))
        mediator = login(county, "village1.mediator")
        assert mediator.post("/api/mediation/screening", json={"org_unit_id": county.unit("XV1"), "period": "2025-W10",
                                                              "nil": True}).status_code == 201
        traveller.move_to(when(3, 10))
        with state.db.transaction(county.id) as s:
            assert screening.check_missing(s) == 2
        centre = login(county, "xiang.centre")
        board = centre.get("/api/mediation/screening/status?level=village&period=2025-W10").get_json()
        assert {u["org_unit"]: u["state"] for u in board["units"]} == {"一村": "on_time", "二村": "missing",
                                                                       "三村": "missing"}
