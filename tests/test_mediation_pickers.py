"""No id typed on the mediation pages (issue 15, item 1): who refused mediation is picked from
the dispute's parties by name and side; a screening report ticks the disputes found in a list
of the unit's registered ones."""
from __future__ import annotations

import datetime as dt
import re

import time_machine
from sqlalchemy import select

from core.workdays import SHANGHAI
from plugins.mediation.models import Dispute
from tests.test_mediation import county, dispute, two_parties  # noqa: F401  (the county fixture)


def csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def test_the_refusing_party_is_chosen_by_name_and_side(app, county, login):  # noqa: F811
    # rule: MED-3 (the village committee mediates first); 人民调解法 Art. 17: a party refuses
    cadre = login(county, "village.cadre")
    parties = two_parties(cadre, county)
    case = dispute(cadre, county, parties=parties)
    page = cadre.get(f"/cases/{case['id']}").get_data(as_text=True)
    form = page[page.index('id="act-refuse"'):]
    form = form[:form.index("</form>")]
    assert "人员编号" not in form
    options = dict((label, value) for value, label in re.findall(r'<option value="([^"]*)"[^>]*>([^<]+)</option>', form))
    assert options == {"（不指明）": "", "王大山（申请人）": str(parties[0][0]), "李小河（被申请人）": str(parties[1][0])}
    r = cadre.post(f"/cases/{case['id']}/act/refuse", data={"csrf_token": csrf(page), "party_id": options["李小河（被申请人）"],
                                                          "note": "李小河明确表示不接受调解"})
    assert r.status_code == 302, r.get_data(as_text=True)[:500]
    who = {p["name"]: p["consent"] for p in cadre.get(f"/api/mediation/disputes/{case['id']}/parties").get_json()}
    assert who == {"王大山": "pending", "李小河": "refused"}


def test_a_screening_report_ticks_the_units_disputes(app, county, login, db):  # noqa: F811
    # rule: MED-1 (weekly village screening reports list the disputes found)
    cadre = login(county, "village.cadre")
    with time_machine.travel(dt.datetime(2026, 11, 4, 10, tzinfo=SHANGHAI), tick=True):  # Wed, week 45
        mine = dispute(cadre, county, title="排查发现的宅基地纠纷")
        page = cadre.get("/mediation/screening?level=village").get_data(as_text=True)
        form = page[page.index('id="screening-file"'):]
        assert "逗号分隔" not in form and f'value="{mine["id"]}"' in form and mine["number"] in form
        unit = county.unit("T01D1V1")
        refused = cadre.post("/mediation/screening?level=village", data={
            "csrf_token": csrf(page), "org_unit_id": str(unit), "period": "2026-W45"})
        assert refused.status_code == 422 and "请列出排查发现的矛盾纠纷" in refused.get_data(as_text=True)
        forged = cadre.post("/mediation/screening?level=village", data={  # a value no tick box offers
            "csrf_token": csrf(page), "org_unit_id": str(unit), "period": "2026-W45", "dispute_ids": ["x"]})
        html = forged.get_data(as_text=True)
        assert forged.status_code == 422 and "请在列表中勾选排查发现的纠纷" in html and "invalid_input" not in html
        r = cadre.post("/mediation/screening?level=village", data={
            "csrf_token": csrf(page), "org_unit_id": str(unit), "period": "2026-W45", "dispute_ids": [str(mine["id"])]})
        assert r.status_code == 302, r.get_data(as_text=True)[:800]
    with db.transaction(county.id) as s:
        assert s.scalar(select(Dispute.screening_id).where(Dispute.case_id == mine["id"])) is not None
    after = cadre.get("/mediation/screening?level=village&period=2026-W45").get_data(as_text=True)
    assert f'value="{mine["id"]}"' not in after[after.index('id="screening-file"'):]  # reported: no longer offered


def test_the_intake_form_offers_dispute_types_and_screening_reports_by_name(app, county, login):  # noqa: F811
    # rule: MED-1 (a dispute found in a screening round is registered against its report)
    cadre = login(county, "village.cadre")
    with time_machine.travel(dt.datetime(2026, 11, 4, 10, tzinfo=SHANGHAI), tick=True):
        found = dispute(cadre, county, title="排查发现的纠纷")
        r = cadre.post("/api/mediation/screening", json={"org_unit_id": county.unit("T01D1V1"), "period": "2026-W45",
                                                         "dispute_ids": [found["id"]]})
        assert r.status_code == 201, r.get_json()
        page = cadre.get("/intake/new").get_data(as_text=True)

    def options(name: str) -> dict:
        select_ = re.search(rf'<select id="details\.mediation\.dispute\.{name}"[^>]*>(.*?)</select>', page, re.S).group(1)
        return {label: value for value, label in re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', select_)}

    types = options("dispute_type")
    boundary = next(label for label, value in types.items() if value == "boundary")  # the type dispute() uses
    assert re.search(r"[\u4e00-\u9fff]", boundary) and "（代码" not in page
    assert all(not re.fullmatch(r"[a-z_]+", label) for label in types if label)  # labels, never keys
    reports = options("screening_id")
    assert reports.get("罗塘村 2026-W45") == str(r.get_json()["id"])
