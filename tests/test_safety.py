"""Issue 18 (safety module): places with their type's fields (SAF-1), checklists and inspections,
hazards on the case engine with the rectification notice, re-inspection and listed supervision
(SAF-2, JNT-3), incident reports within the county's limit (SAF-4)."""
from __future__ import annotations

import datetime as dt
import io

import pytest
import time_machine
from sqlalchemy import select

from core.app import pingan
from core.cases import sweep
from core.notifications import Notification
from core.workdays import SHANGHAI
from tests.casework import act, events, grant, run_jobs
from tests.conftest import load_tenant

KEY = "safety.hazard"
ALL = ["safety.read", "safety.manage", "safety.inspect", "safety.rectify", "safety.notice", "safety.incident",
       "core.case.read", "core.case.supervise", "core.case.handle", "core.case.export"]
OFFICER = ["safety.read", "safety.manage", "safety.inspect", "safety.rectify", "safety.incident", "core.case.read"]


@pytest.fixture(scope="module")
def county(app):
    """One county for the module: safety on, the county and township holding every safety
    permission, each village's cadre a village safety officer's."""
    from core.testing import signed_in
    c = load_tenant(app)
    state = pingan(app)
    r = signed_in(app, c, "county.admin").put("/api/modules/safety", json={"enabled": True})
    assert r.status_code == 200, r.get_json()
    grant(state.db, c, "county.admin", ALL, "C", "safety_all")
    grant(state.db, c, "donghu.admin", ALL, "T01", "safety_all")
    grant(state.db, c, "village.cadre", OFFICER, "T01D1V1", "safety_officer")
    grant(state.db, c, "village.cadre2", OFFICER, "T01D1V2", "safety_officer")
    return c


@pytest.fixture(scope="module")
def setup(app, county):
    """A school in 罗塘村 and the county's school checklist: item 1 a 重大 hazard when "no",
    item 2 a 一般 hazard when "yes" (expected "no"), item 3 scored only."""
    from core.testing import signed_in
    admin, cadre = signed_in(app, county, "county.admin"), signed_in(app, county, "village.cadre")
    r = admin.post("/api/safety/checklists", json={"place_type": "school", "title": "学校安全检查表", "items": [
        {"section": "消防", "question": "消防通道是否畅通", "expected": True, "weight": 5, "hazard": True, "grade": "major"},
        {"section": "校舍", "question": "教室墙体是否有裂缝", "expected": False, "weight": 3, "hazard": True,
         "grade": "general"},
        {"section": "制度", "question": "是否有值班记录", "expected": True, "weight": 2}]})
    assert r.status_code == 201, r.get_json()
    checklist = r.get_json()
    r = cadre.post("/api/safety/places", json={"org_unit_id": county.unit("T01D1V1"), "place_type": "school",
                                               "name": "罗塘小学", "responsible_person": "张校长",
                                               "extra": {"students": 320}})
    assert r.status_code == 201, r.get_json()
    return {"checklist": checklist, "place": r.get_json(), "items": [i["id"] for i in checklist["items"]]}


def inspect(client, setup, answers=(False, True, True)):
    body = {"place_id": setup["place"]["id"],
            "answers": [{"item_id": i, "answer": a} for i, a in zip(setup["items"], answers)]}
    r = client.post("/api/safety/inspections", json=body)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def hazard_case(client, unit_id, grade="general", title="配电箱未上锁"):
    r = client.post("/api/cases", json={"case_type": KEY, "title": title, "org_unit_id": unit_id,
                                        "content": "学校配电箱未上锁", "details": {"grade": grade}})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


NOTICE = {"responsible_person": "张校长", "measures": "配电箱加锁并张贴警示标志", "funds": "学校公用经费 500 元",
          "plan": "整改期间由专人值守配电室"}


def notice(client, case, unit_id, deadline=None):
    body = {**NOTICE, "responsible_unit_id": unit_id}
    if deadline:
        body["deadline"] = deadline
    r = act(client, case["id"], "notice", body)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


# --- SAF-1: places ---------------------------------------------------------------------------------

def test_a_place_takes_its_types_fields_validated(county, login, setup):
    """SAF-1: a school needs its pupils (the type's declared field); an unknown field, or a
    word where a number belongs, is 422 at ``extra.<field>``; another village sees nothing."""
    cadre = login(county, "village.cadre")
    base = {"org_unit_id": county.unit("T01D1V1"), "place_type": "school", "name": "罗塘幼儿园",
            "responsible_person": "李园长"}
    r = cadre.post("/api/safety/places", json=base)
    assert r.status_code == 422 and r.get_json()["code"] == "invalid_extra"
    assert "extra.students" in r.get_json()["errors"]["json"]
    r = cadre.post("/api/safety/places", json={**base, "extra": {"students": "很多"}})
    assert r.status_code == 422 and "extra.students" in r.get_json()["errors"]["json"]
    r = cadre.post("/api/safety/places", json={**base, "extra": {"students": 80, "beds": 3}})
    assert r.status_code == 422 and r.get_json()["code"] == "unknown_field"
    r = cadre.post("/api/safety/places", json={**base, "extra": {"students": 80}, "latitude": 30.1})
    assert r.status_code == 422 and r.get_json()["code"] == "coordinates_incomplete"
    r = cadre.post("/api/safety/places", json={**base, "extra": {"students": 80}, "latitude": 30.1,
                                               "longitude": 114.2})
    assert r.status_code == 201 and r.get_json()["extra"] == {"students": 80}
    other = login(county, "village.cadre2")
    assert other.get(f"/api/safety/places/{r.get_json()['id']}").status_code == 404
    assert other.post("/api/safety/places", json={**base, "extra": {"students": 1}}).status_code == 404
    assert r.get_json()["id"] not in [p["id"] for p in other.get("/api/safety/places").get_json()["items"]]


# --- checklists and inspections --------------------------------------------------------------------

def test_a_checklist_no_on_a_hazard_item_raises_a_hazard_of_its_grade(county, login, setup):
    """rule: SAF-1, SAF-2 — "no" on item 1 (a 重大 item) and "yes" on item 2 (expected "no", a 一般
    item) each raise a ``safety.hazard`` of the item's grade; the score is the weights met (2 of
    10); a 重大 hazard is in the county's inbox at once."""
    cadre = login(county, "village.cadre")
    out = inspect(cadre, setup, answers=(False, True, True))
    assert out["score"] == 20.0 and out["failed"] == 2 and out["hazards"] == 2
    raised = {a["question"]: a["hazard_case_id"] for a in out["answers"]}
    assert raised["是否有值班记录"] is None
    major = cadre.get(f"/api/cases/{raised['消防通道是否畅通']}").get_json()
    general = cadre.get(f"/api/cases/{raised['教室墙体是否有裂缝']}").get_json()
    assert major["details"]["grade"] == "major" and major["details"]["place_id"] == setup["place"]["id"]
    assert general["details"]["grade"] == "general" and "major" in major["flags"]
    assert major["org_unit_id"] == county.unit("T01D1V1") and major["state"] == "registered"
    inbox = login(county, "county.admin").get("/api/inbox").get_json()["items"]
    assert any(n["case_id"] == major["id"] and "重大隐患" in n["title"] for n in inbox)
    assert not any(n["case_id"] == general["id"] for n in inbox)


def test_an_inspection_must_answer_every_item(county, login, setup):
    cadre = login(county, "village.cadre")
    r = cadre.post("/api/safety/inspections", json={"place_id": setup["place"]["id"],
                                                    "answers": [{"item_id": setup["items"][0], "answer": True}]})
    assert r.status_code == 422 and r.get_json()["code"] == "unanswered"
    assert f"item_{setup['items'][1]}" in r.get_json()["errors"]["json"]
    assert login(county, "village.cadre2").post("/api/safety/inspections", json={
        "place_id": setup["place"]["id"], "answers": [{"item_id": i, "answer": True} for i in setup["items"]]
    }).status_code == 404


# --- SAF-2: rectification, re-inspection, close-out ------------------------------------------------

def test_a_hazard_closes_only_after_a_passed_reinspection_by_someone_else(county, login):
    """rule: SAF-2 — the rectifier cannot re-inspect their own work (409
    ``reinspector_is_rectifier``); a failed re-inspection reopens with the new deadline as the
    running limit; only a passed one closes (销号)."""
    cadre, township = login(county, "village.cadre"), login(county, "donghu.admin")
    v1 = county.unit("T01D1V1")
    case = hazard_case(cadre, v1)
    assert act(cadre, case["id"], "notice", {**NOTICE, "responsible_unit_id": v1}).status_code == 403  # no notice right
    assert act(township, case["id"], "reinspect_pass", {"note": "好"}).get_json()["code"] == "invalid_transition"
    with time_machine.travel(dt.datetime(2026, 11, 2, 9, tzinfo=SHANGHAI), tick=False):
        out = notice(township, case, v1, deadline="2026-11-20")
        assert out["state"] == "rectifying"
        assert dt.datetime.fromisoformat(out["due_at"]) == dt.datetime(2026, 11, 21, tzinfo=SHANGHAI)
        assert act(cadre, case["id"], "complete", {"note": "已加锁"}).status_code == 200
        r = act(cadre, case["id"], "reinspect_pass", {"note": "自查合格"})
        assert r.status_code == 409 and r.get_json()["code"] == "reinspector_is_rectifier"
        r = act(township, case["id"], "reinspect_fail", {"note": "警示标志未张贴", "deadline": "2026-11-30"})
        assert r.status_code == 200 and r.get_json()["state"] == "rectifying"
        assert dt.datetime.fromisoformat(r.get_json()["due_at"]) == dt.datetime(2026, 12, 1, tzinfo=SHANGHAI)
        assert r.get_json()["closed_at"] is None
        assert act(cadre, case["id"], "progress", {"note": "已订购警示标志"}).status_code == 200
        assert act(cadre, case["id"], "complete", {"note": "已张贴"}).status_code == 200
        r = act(township, case["id"], "reinspect_pass", {"note": "整改到位"})
        assert r.status_code == 200 and r.get_json()["state"] == "closed" and r.get_json()["closed_at"]
    assert events(township, case["id"]).count("reinspect_fail") == 1


# --- SAF-2 / seed 004 §8: overdue → listed supervision ---------------------------------------------

def test_an_overdue_rectification_is_put_under_listed_supervision(app, county, login, db):
    """rule: SAF-2, JNT-3 — the period runs out: the core's 挂牌督办 on the timeline and a to-do
    in the responsible unit's inbox, issued from the township that gave the notice."""
    cadre, township = login(county, "village.cadre"), login(county, "donghu.admin")
    v1 = county.unit("T01D1V1")
    with time_machine.travel(dt.datetime(2026, 11, 2, 9, tzinfo=SHANGHAI), tick=False):
        case = hazard_case(cadre, v1, title="围墙倾斜")
        notice(township, case, v1, deadline="2026-11-10")
    state = pingan(app)
    with time_machine.travel(dt.datetime(2026, 11, 11, 9, tzinfo=SHANGHAI), tick=False):
        with app.app_context(), state.db.transaction(county.id) as s:
            sweep.run(s, state.plugins)
        run_jobs(app)
    detail = township.get(f"/api/cases/{case['id']}/events").get_json()
    sup = [e for e in detail if e["kind"] == "supervised"]
    assert len(sup) == 1 and sup[0]["data"]["level"] == "listed" and "挂牌督办" in sup[0]["note"]
    with db.transaction(county.id) as s:
        titles = list(s.scalars(select(Notification.title).where(Notification.case_id == case["id"],
                                                                 Notification.kind == "todo")))
    assert any(t.startswith("督办（挂牌）") for t in titles)
    inbox = cadre.get("/api/inbox").get_json()["items"]
    assert any(n["case_id"] == case["id"] and n["title"].startswith("督办（挂牌）") for n in inbox)
    with time_machine.travel(dt.datetime(2026, 11, 11, 9, 10, tzinfo=SHANGHAI), tick=False):  # once only
        with app.app_context(), state.db.transaction(county.id) as s:
            sweep.run(s, state.plugins)
        run_jobs(app)
    assert events(township, case["id"]).count("supervised") == 1


# --- the notice PDF --------------------------------------------------------------------------------

def test_the_notice_pdf_holds_the_five_items(county, login):
    """rule: SAF-2 — 措施, 资金, 时限, 责任人, 预案 (seed 000 doc 3) on the 整改通知书."""
    from pypdf import PdfReader
    cadre, township = login(county, "village.cadre"), login(county, "donghu.admin")
    v1 = county.unit("T01D1V1")
    case = hazard_case(cadre, v1, title="液化气罐存放不当")
    assert township.get(f"/api/cases/{case['id']}/documents/safety.rectification_notice").status_code == 409
    with time_machine.travel(dt.datetime(2026, 11, 2, 9, tzinfo=SHANGHAI), tick=False):
        notice(township, case, v1, deadline="2026-11-20")
        pdf = township.get(f"/api/cases/{case['id']}/documents/safety.rectification_notice")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages).replace("\n", "").replace(" ", "")
    for item in ("整改通知书", "罗塘村", "张校长", "配电箱加锁并张贴警示标志", "学校公用经费500元",
                 "2026年11月20日", "整改期间由专人值守配电室"):
        assert item in text, item


# --- SAF-4: incidents ------------------------------------------------------------------------------

def test_an_incident_reported_4h10_after_it_occurred_is_late(county, login):
    """rule: SAF-4 — seed 004 §7: 四小时内报告; 4 h 10 min is late, 3 h 59 min is not."""
    cadre = login(county, "village.cadre")
    body = {"org_unit_id": county.unit("T01D1V1"), "title": "村道货车侧翻", "location": "罗塘村村道",
            "description": "货车侧翻，司机受轻伤", "injuries": 1, "losses": "约2万元", "measures": "已疏导交通"}
    with time_machine.travel(dt.datetime(2026, 11, 5, 14, 10, tzinfo=SHANGHAI), tick=False):
        r = cadre.post("/api/safety/incidents", json={**body, "occurred_at": "2026-11-05T10:00:00"})
        assert r.status_code == 201 and r.get_json()["late"] is True and r.get_json()["limit_hours"] == 4
    with time_machine.travel(dt.datetime(2026, 11, 5, 13, 59, tzinfo=SHANGHAI), tick=False):
        r = cadre.post("/api/safety/incidents", json={**body, "occurred_at": "2026-11-05T10:00:00"})
        assert r.status_code == 201 and r.get_json()["late"] is False
        r = cadre.post("/api/safety/incidents", json={**body, "occurred_at": "2026-11-05T18:00:00"})
        assert r.status_code == 422 and r.get_json()["code"] == "date_in_future"
    late = cadre.get("/api/safety/incidents?late=true").get_json()["items"]
    assert [i["title"] for i in late] == ["村道货车侧翻"]
    assert login(county, "village.cadre2").get("/api/safety/incidents").get_json()["items"] == []


# --- the pages -------------------------------------------------------------------------------------

def test_the_pages_keep_what_was_typed_and_speak_chinese(county, login, setup):
    """The place form asks for the type's own fields and keeps everything on a refusal; the
    phone inspection form keeps every answer when one is missing, and saves when complete."""
    cadre = login(county, "village.cadre")
    token = cadre.headers["X-CSRF-Token"]
    page = cadre.get("/safety/places?place_type=school").get_data(as_text=True)
    assert "在校学生数" in page and "学校（校舍）" in page
    r = cadre.post("/safety/places", data={"csrf_token": token, "place_type": "school", "name": "罗塘中学",
                                           "org_unit_id": county.unit("T01D1V1"), "responsible_person": "王校长",
                                           "extra.students": "很多"})
    body = r.get_data(as_text=True)
    assert r.status_code == 422 and "在校学生数" in body and "罗塘中学" in body and "王校长" in body
    a, b, c = setup["items"]
    form = {"csrf_token": token, "place_id": setup["place"]["id"], f"a_{a}": "yes", f"n_{a}": "通道畅通",
            f"a_{c}": "no"}
    r = cadre.post("/safety/inspect", data=form)
    body = r.get_data(as_text=True)
    assert r.status_code == 422 and "第2题未作答" in body and "通道畅通" in body
    assert f'name="a_{a}" value="yes" checked' in body and f'name="a_{c}" value="no" checked' in body
    r = cadre.post("/safety/inspect", data={**form, f"a_{b}": "no"})
    assert r.status_code == 302
    result = cadre.get(r.headers["Location"]).get_data(as_text=True)
    assert "80.0" in result and "不合格" in result
    for url in ("/safety/checklists", "/safety/incidents", "/safety/inspect"):
        assert cadre.get(url).status_code == 200, url


JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64 + b"\xff\xd9"


def test_an_inspection_keeps_where_it_was_recorded_and_each_items_photo(county, login, setup):
    """Issue 18: photos and location per inspection — the GPS position recorded with it (both
    or neither), and the photo of what an item found, added on the result page or by the API."""
    import io
    cadre = login(county, "village.cadre")
    a, b, c = setup["items"]
    body = {"place_id": setup["place"]["id"], "latitude": 28.1, "answers": [
        {"item_id": i, "answer": v} for i, v in zip(setup["items"], (False, True, True))]}
    r = cadre.post("/api/safety/inspections", json=body)
    assert r.status_code == 422 and r.get_json()["code"] == "coordinates_incomplete"
    r = cadre.post("/api/safety/inspections", json={**body, "longitude": 115.2})
    assert r.status_code == 201 and (r.get_json()["latitude"], r.get_json()["longitude"]) == (28.1, 115.2)
    iid = r.get_json()["id"]
    url = f"/api/safety/inspections/{iid}/answers/{a}/photo"
    assert cadre.get(url).status_code == 404
    refused = cadre.post(url, data={"photo": (io.BytesIO(b"%PDF-1.4\n%%EOF\n"), "x.jpg")}, content_type="multipart/form-data")
    assert refused.status_code == 415
    r = cadre.post(url, data={"photo": (io.BytesIO(JPEG), "通道.jpg")}, content_type="multipart/form-data")
    assert r.status_code == 200, r.get_json()
    assert [x["has_photo"] for x in r.get_json()["answers"]] == [True, False, False]
    assert cadre.get(url).data == JPEG
    assert cadre.get(f"/api/safety/inspections/{iid}/answers/999999/photo").status_code == 404
    other = login(county, "village.cadre2")                          # another village's officer
    assert other.get(url).status_code == 404
    assert other.post(url, data={"photo": (io.BytesIO(JPEG), "x.jpg")}, content_type="multipart/form-data").status_code == 404
    # the result page: each item's photo form; a refusal at its item
    page = cadre.get(f"/safety/inspections/{iid}").get_data(as_text=True)
    assert "查看照片" in page and "拍照或选择照片" in page and "28.1" in page
    form = f"/safety/inspections/{iid}/items/{b}/photo"
    bad = cadre.post(form, data={"photo": (io.BytesIO(b"text"), "y.jpg")}, content_type="multipart/form-data")
    assert bad.status_code == 415 and "检查照片只能是图片" in bad.get_data(as_text=True)
    ok = cadre.post(form, data={"photo": (io.BytesIO(JPEG), "墙体.jpg")}, content_type="multipart/form-data")
    assert ok.status_code == 302 and ok.headers["Location"].endswith(f"#item-{b}")
    # the phone form takes the position too, and keeps it on a refusal
    token = cadre.headers["X-CSRF-Token"]
    form = {"csrf_token": token, "place_id": setup["place"]["id"], f"a_{a}": "yes", f"a_{b}": "no", f"a_{c}": "yes",
            "latitude": "28.1"}
    r = cadre.post("/safety/inspect", data=form)
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and "经度和纬度须同时填写" in html and 'value="28.1"' in html
    assert cadre.post("/safety/inspect", data={**form, "longitude": "115.2"}).status_code == 302


# --- MED-6 ledger, SAF-3 letter, indicators -------------------------------------------------------

def test_the_yearly_hazard_ledger_the_letter_and_the_indicators(app, county, login, db):
    """rule: MED-6 — the year's hazards export through the core's ledger with the notice's five
    items; rule: SAF-3 — the safety responsibility letter is a kind of the core's letters; the
    indicators count over a unit's subtree."""
    import datetime as _dt

    from openpyxl import load_workbook

    from plugins.safety import indicators
    cadre, township, admin = login(county, "village.cadre"), login(county, "donghu.admin"), login(county, "county.admin")
    v1 = county.unit("T01D1V1")
    with time_machine.travel(dt.datetime(2026, 6, 1, 9, tzinfo=SHANGHAI), tick=False):
        major = hazard_case(cadre, v1, grade="major", title="水库坝体渗漏")
        done = hazard_case(cadre, v1, title="楼梯扶手松动")
        notice(township, done, v1, deadline="2026-06-10")
        assert act(cadre, done["id"], "complete", {"note": "已加固"}).status_code == 200
        assert act(township, done["id"], "reinspect_pass", {"note": "合格"}).status_code == 200
        late = hazard_case(cadre, v1, title="电线私拉乱接")
        notice(township, late, v1, deadline="2026-06-05")  # never reported done
        r = cadre.post("/api/safety/incidents", json={"org_unit_id": v1, "title": "民房失火", "location": "罗塘村三组",
                                                      "description": "电线老化起火", "occurred_at": "2026-06-01T04:00:00"})
        assert r.status_code == 201 and r.get_json()["late"], r.get_json()
        r = admin.post("/api/ledgers/exports", json={"case_type": KEY, "year": 2026, "org_unit_id": v1})
        assert r.status_code == 202, r.get_json()
        run_jobs(app)
        out = admin.get(f"/api/jobs/{r.get_json()['id']}/result")
    assert out.status_code == 200
    rows = list(load_workbook(io.BytesIO(out.data)).active.iter_rows(values_only=True))
    header = rows[0]
    for title in ("隐患等级", "责任人", "整改措施", "整改资金", "整改期限", "应急预案"):
        assert title in header, title
    line = next(r for r in rows if "楼梯扶手松动" in (r[header.index("标题")] or ""))
    assert line[header.index("整改措施")] == NOTICE["measures"] and line[header.index("整改期限")] == "2026-06-10"
    r = admin.post("/api/letters", json={"kind": "safety.production", "year": 2026, "issuing_unit_id": county.unit("T01"),
                                         "party_kind": "unit", "party_id": v1})
    assert r.status_code == 201, r.get_json()
    pdf = admin.get(f"/api/letters/{r.get_json()['id']}/pdf")
    from pypdf import PdfReader
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages).replace("\n", "").replace(" ", "")
    assert "安全生产责任书" in text and "复查合格后销号" in text
    with db.transaction(county.id) as s:
        year = (_dt.date(2026, 1, 1), _dt.date(2027, 1, 1))
        assert indicators.closed_on_time(s, v1, *year) >= 1
        assert indicators.major_open(s, county.unit("T01"), *year) >= 1
        assert indicators.major_open(s, county.unit("T01D1V2"), *year) == 0
        assert indicators.closed_on_time(s, v1, _dt.date(2025, 1, 1), _dt.date(2026, 1, 1)) == 0
        june = (_dt.date(2026, 6, 1), _dt.date(2026, 7, 1))
        assert indicators.overdue(s, v1, *june) == 1 and indicators.overdue(s, v1, _dt.date(2026, 7, 1), _dt.date(2026, 8, 1)) == 0
        assert indicators.closed_on_time(s, v1, *june) == 1
        assert indicators.incidents_late(s, v1, *june) == 1
    assert major["id"]


def test_the_settings_are_form_controls_and_round_trip(app, login):
    """Every setting a real control (place types, their fields with the type as a select of
    the county's types, grades, the numbers); the form saved unchanged keeps the settings."""
    import re

    from core.web.admin import settings_form as sf
    from plugins.safety.settings import SafetySettings
    from tests.test_settings_controls import SOURCES, _form_post
    kinds = {f["name"]: f["kind"] for f in sf.controls(SafetySettings, SOURCES)}
    assert "json" not in kinds.values() and kinds["place_fields"] == "rows" and kinds["hazard_grades"] == "rows"
    fresh = load_tenant(app)
    admin = login(fresh, "county.admin")
    assert admin.put("/api/modules/safety", json={"enabled": True}).status_code == 200
    before = admin.get("/api/modules/safety").get_json()["settings"]
    page = admin.get("/admin/modules/safety").get_data(as_text=True)
    assert "<textarea" not in page and ">学校（校舍）</option>" in page and ">数字</option>" in page
    r = admin.post("/admin/modules/safety", data=_form_post(page))
    assert r.status_code == 302, re.findall(r'field-error[^>]*>([^<]*)', r.get_data(as_text=True))
    assert admin.get("/api/modules/safety").get_json()["settings"] == before
