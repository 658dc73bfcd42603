"""Issue 17, PAT-6: the camera register, an inspection finding a fault raises a repair ticket with
the county's limit, which the core's sweep makes overdue and the core supervises (督办)."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import time_machine

from core.app import pingan
from core.cases import sweep
from tests.casework import run_jobs
from tests.conftest import load_tenant

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = dt.datetime(2026, 11, 10, 10, tzinfo=SHANGHAI)
OK = {"label_ok": True, "housing_ok": True, "cables_ok": True, "picture_ok": True}


def test_a_fault_raises_a_ticket_with_the_countys_limit_that_goes_overdue_and_is_supervised(app, login):
    # rule: PAT-6 — maintenance state; the repair limit is the county's (case-type setting)
    county = load_tenant(app)
    admin = login(county, "county.admin")
    assert admin.put("/api/modules/patrol", json={"enabled": True}).status_code == 200
    r = admin.put("/api/case-types/patrol.repair/settings",
                  json={"settings": {"deadlines": {"repair": {"amount": 3, "unit": "calendar_days"}}}})
    assert r.status_code == 200, r.get_json()
    with time_machine.travel(T0, tick=False):
        cam = admin.post("/api/patrol/cameras", json={"org_unit_id": county.unit("T01D1V1"), "place": "罗塘村村口",
                                                      "code": "43012345671320000001", "installed_on": "2025-06-01"})
        assert cam.status_code == 201, cam.get_json()
        cid = cam.get_json()["id"]
        fine = admin.post(f"/api/patrol/cameras/{cid}/inspections", json=OK)
        assert fine.status_code == 201 and fine.get_json()["ticket_case_id"] is None
        bad = admin.post(f"/api/patrol/cameras/{cid}/inspections", json={**OK, "picture_ok": False, "note": "画面黑屏"})
        assert bad.status_code == 201, bad.get_json()
        ticket = bad.get_json()["ticket_case_id"]
        again = admin.post(f"/api/patrol/cameras/{cid}/inspections", json={**OK, "cables_ok": False})
        assert again.get_json()["ticket_case_id"] == ticket                  # one open ticket per camera
    assert admin.get(f"/api/patrol/cameras/{cid}").get_json()["state"] == "faulty"
    case = admin.get(f"/api/cases/{ticket}").get_json()
    assert case["case_type"] == "patrol.repair" and "画面" in case["content"]
    assert dt.datetime.fromisoformat(case["due_at"]) == dt.datetime(2026, 11, 14, tzinfo=SHANGHAI)  # 3 days, to 11-13 24:00
    state = pingan(app)
    with app.app_context(), state.db.transaction(county.id) as s:
        sweep.run(s, state.plugins, now=dt.datetime(2026, 11, 14, 1, tzinfo=SHANGHAI))
    run_jobs(app)                                   # the reminders the sweep scheduled
    events = [e["kind"] for e in admin.get(f"/api/cases/{ticket}/events").get_json()]
    assert "overdue" in events
    with time_machine.travel(dt.datetime(2026, 11, 14, 9, tzinfo=SHANGHAI), tick=False):
        sup = admin.post(f"/api/cases/{ticket}/supervisions", json={"kind": "supervise", "instruction": "请两日内修复"})
        assert sup.status_code == 201, sup.get_json()
        assert "supervised" in [e["kind"] for e in admin.get(f"/api/cases/{ticket}/events").get_json()]
        done = admin.post(f"/api/cases/{ticket}/transitions/repair", json={"note": "更换电源适配器"})
        assert done.status_code == 200, done.get_json()
    assert admin.get(f"/api/patrol/cameras/{cid}").get_json()["state"] == "working"
    from plugins.patrol.indicators import cameras_working_share
    with app.app_context(), state.db.transaction(county.id) as s:
        assert cameras_working_share(s, county.unit("T01"), T0.date(), T0.date()) == 100.0
    cadre2 = login(county, "village.cadre2")   # another village's user: not found
    assert cadre2.get(f"/api/patrol/cameras/{cid}/inspections").status_code in (403, 404)


def test_the_inspection_page(app, login):
    # rule: PAT-6 — inspections from a phone page; an unticked check raises the ticket
    county = load_tenant(app)
    admin = login(county, "county.admin")
    assert admin.put("/api/modules/patrol", json={"enabled": True}).status_code == 200
    cid = admin.post("/api/patrol/cameras", json={"org_unit_id": county.unit("T01D1V1"), "place": "祠堂门口"}).get_json()["id"]
    page = admin.get("/patrol/inspections").get_data(as_text=True)
    assert "祠堂门口" in page and "画面完好" in page
    missing = admin.post("/patrol/inspections", data={"note": "外壳破损"})
    assert missing.status_code == 404 and "外壳破损" in missing.get_data(as_text=True)
    r = admin.post("/patrol/inspections", data={"camera_id": str(cid), "label_ok": "true", "cables_ok": "true",
                                                 "picture_ok": "true", "note": "外壳破损"})
    assert r.status_code == 302 and "ticket=" in r.headers["Location"]
    assert admin.get(f"/api/patrol/cameras/{cid}").get_json()["state"] == "faulty"
