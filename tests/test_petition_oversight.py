"""Issue 4 (petition module), second part: quotas and accountability (PET-4), the petitioner's
status page (PET-7), privacy and village scope, leader ownership (PET-3), risk assessment and
the watch list (PET-5), objections within 5 working days (Art. 23), overdue situation reports
(PET-2), documents, the monthly report and the scoring indicators."""
from __future__ import annotations

import datetime as dt
import io

import pytest
from sqlalchemy import select

from core.audit import AuditEntry
from core.cases.models import CaseDeadline
from core.models import Notification, User
from tests.casework import act, grant
from tests.test_petition import admin, county, person, petition  # noqa: F401  (fixtures)
from tests.test_petition_receipt import CODE, receipt_code

TODAY = dt.date.today()




def escalation(client, county, unit="T01D1V1", level="province", abnormal=False, expect=201, **kw):
    body = {"org_unit_id": county.unit(unit), "petitioner": "李四", "level": level, "abnormal": abnormal,
            "occurred_on": TODAY.isoformat(), "reported_by": "市信访局通报", **kw}
    r = client.post("/api/petition/escalations", json=body)
    assert r.status_code == expect, r.get_json()
    return r.get_json()


# --- PET-4 ------------------------------------------------------------------------------------

def test_quota_breach_holds_the_villages_area_leader_and_stationed_cadre_accountable(admin, county, db):
    """rule: PET-4 — a village allowed one level-skipping petition a year gets a second: an
    accountability record names its 包片领导 (held at the 管区 above) and 驻村干部 (at the
    village), the township's users are told, and the township's own quota is untouched."""
    period = str(TODAY.year)
    r = admin.put("/api/petition/quotas", json={"quotas": [
        {"org_unit_id": county.unit("T01D1V1"), "period": period, "kind": "level_skipping", "quota": 1},
        {"org_unit_id": county.unit("T01"), "period": period, "kind": "level_skipping", "quota": 5}]})
    assert r.status_code == 200, r.get_json()
    first = escalation(admin, county)
    assert first["accountability"] == []
    second = escalation(admin, county, level="city")
    [acc] = second["accountability"]
    assert (acc["org_unit_id"], acc["kind"], acc["used"], acc["quota"]) == (county.unit("T01D1V1"), "level_skipping", 2, 1)
    people = {(p["kind"], p["name"], p["org_unit_id"]) for p in acc["persons"]}
    assert people == {("area_leader", "周建国", county.unit("T01D1")), ("stationed_cadre", "李文华", county.unit("T01D1V1"))}
    usage = admin.get(f"/api/petition/quotas?period={period}&org_unit_id={county.unit('T01D1')}").get_json()
    village = next(u for u in usage if u["org_unit_id"] == county.unit("T01D1V1") and u["kind"] == "level_skipping")
    assert (village["used"], village["quota"], village["breached"]) == (2, 1, True)
    township = admin.get(f"/api/petition/quotas?period={period}&org_unit_id={county.unit('T01')}").get_json()
    own = next(u for u in township if u["org_unit_id"] == county.unit("T01") and u["kind"] == "level_skipping")
    assert (own["used"], own["breached"]) == (2, False)
    with db.transaction(county.id) as s:
        told = s.scalars(select(User.username).join(Notification, Notification.user_id == User.id)
                         .where(Notification.key.like(f"petition.accountability:{acc['id']}:%"))).all()
        audit = s.scalars(select(AuditEntry.action).where(AuditEntry.action.like("petition.%"))).all()
    assert "donghu.admin" in told
    assert audit.count("petition.escalation") == 2 and "petition.accountability" in audit
    closed = admin.post(f"/api/petition/accountability/{acc['id']}/close", json={"outcome": "约谈包片领导"})
    assert closed.get_json()["state"] == "closed"
    assert admin.post(f"/api/petition/accountability/{acc['id']}/close", json={"outcome": "x"}).status_code == 409


def test_abnormal_petition_breaks_a_zero_quota_set_per_level(admin, county):
    """rule: PET-4 — 000 doc 2: any 非正常访 brings accountability; the county's default quota
    for every village is 0 abnormal petitions (module settings), no per-unit rows needed."""
    r = admin.put("/api/modules/petition", json={"enabled": True, "settings": {
        "default_quotas": {"village": {"abnormal": 0, "beijing": 0}}}})
    assert r.status_code == 200, r.get_json()
    calm = escalation(admin, county, unit="T01D1V2", level="county")
    assert calm["accountability"] == []
    loud = escalation(admin, county, unit="T01D1V2", level="beijing", abnormal=True)
    assert sorted(a["kind"] for a in loud["accountability"]) == ["abnormal", "beijing"]
    assert {p["name"] for p in loud["accountability"][0]["persons"]} == {"周建国", "赵明"}
    bad = admin.put("/api/modules/petition", json={"enabled": True, "settings": {
        "default_quotas": {"village": {"mars": 1}}}})
    assert bad.status_code == 422


def test_quota_period_must_match_the_countys_setting(admin, county):
    r = admin.put("/api/petition/quotas", json={"quotas": [
        {"org_unit_id": county.unit("T01"), "period": "2026-03", "kind": "county", "quota": 1}]})
    assert r.status_code == 422 and r.get_json()["code"] == "invalid_period"


def test_quota_indicators_for_the_scoring_module(app, admin, county, db):
    """rule: PET-4 — counts of level-skipping petitions by level feed the scoring rubric."""
    from core.app import pingan
    escalation(admin, county, level="beijing")
    escalation(admin, county, unit="T01D1V2", level="city", abnormal=True)
    inds = {i.key: i for i in pingan(app).plugins.plugins["petition"].indicators}
    start, end = dt.date(TODAY.year, 1, 1), dt.date(TODAY.year + 1, 1, 1)
    with db.transaction(county.id) as s:
        got = {k: inds[k].compute(s, county.unit("T01"), start, end)
               for k in ("petition.level_skipping", "petition.level_skipping.beijing", "petition.abnormal")}
        village = inds["petition.level_skipping"].compute(s, county.unit("T01D1V2"), start, end)
        other = inds["petition.level_skipping"].compute(s, county.unit("T02"), start, end)
    assert got == {"petition.level_skipping": 2.0, "petition.level_skipping.beijing": 1.0, "petition.abnormal": 1.0}
    assert (village, other) == (1.0, 0.0)


# --- PET-7 ------------------------------------------------------------------------------------

def test_status_page_shows_progress_without_personal_data_and_only_with_the_code(app, admin, county):
    """rule: PET-7 — the receipt's code shows number, stage and steps; no name, ID number, phone,
    content; a wrong code is 404; rating once, after the answer."""
    from tests.conftest import Client
    someone = person(admin, county, name="王秀兰", idn="11010519700101002", phone="13912345678")
    case = petition(admin, county, [someone])
    code = receipt_code(admin, case["id"])  # the receipt's first printing (issue 14: nowhere else)
    anon = Client(app, county.host)
    r = anon.post("/api/petition/public/status", json={"code": code.lower().replace("-", " ")})
    assert r.status_code == 200, r.get_json()
    body = r.get_data(as_text=True)
    for secret in ("王秀兰", "13912345678", "1101051970", "承包地", "county.admin", "县综治中心管理员"):
        assert secret not in body
    view = r.get_json()
    assert view["number"] == case["number"] and view["state_title"] == "已登记" and not view["can_rate"]
    assert [s["step"] for s in view["steps"]] == ["已登记"]
    assert anon.post("/api/petition/public/status", json={"code": "ABCD-EFGH-JKLM"}).status_code == 404
    early = anon.post("/api/petition/public/status/rating", json={"code": code, "rating": "satisfied"})
    assert early.status_code == 409 and early.get_json()["code"] == "not_answered"
    act(admin, case["id"], "accept", {})
    act(admin, case["id"], "reply", {"outcome": "已协调归还承包地"})
    rated = anon.post("/api/petition/public/status/rating", json={"code": code, "rating": "basically_satisfied"})
    assert rated.status_code == 200 and rated.get_json()["rating_title"] == "基本满意"
    assert anon.post("/api/petition/public/status/rating", json={"code": code, "rating": "satisfied"}).status_code == 409
    # issue 15, item 8: who registered or dispatched it hears of the rating
    told = [n["title"] for n in admin.get("/api/inbox?kind=message&limit=100").get_json()["items"]
            if n["case_id"] == case["id"]]
    assert f"信访人已评价：{case['number']}（基本满意）" in told, told
    page = anon.post("/petition/status", data={"code": code})
    assert page.status_code == 200 and case["number"] in page.get_data(as_text=True)
    assert "王秀兰" not in page.get_data(as_text=True)


def test_status_lookups_are_rate_limited_per_address(app, admin, county):
    """rule: PET-7 — guessing codes is throttled: past the county's limit per minute, 429."""
    from tests.conftest import Client
    r = admin.put("/api/modules/petition", json={"enabled": True, "settings": {"status_rate_limit": 3}})
    assert r.status_code == 200
    anon = Client(app, county.host)
    got = [anon.post("/api/petition/public/status", json={"code": f"ABCD-EFGH-JKL{c}"},
                     environ_base={"REMOTE_ADDR": "10.9.8.7"}).status_code for c in "MNPQ"]
    assert got == [404, 404, 404, 429]
    other = anon.post("/api/petition/public/status", json={"code": "ABCD-EFGH-JKLM"},
                      environ_base={"REMOTE_ADDR": "10.9.8.6"})
    assert other.status_code == 404


# --- privacy and scope --------------------------------------------------------------------------

def test_village_user_sees_only_its_villagers_petitions_with_ids_masked(admin, county, db, login):
    """A village cadre with petition.read on 罗塘村 sees that village's petitions, not 郭岭村's;
    ID numbers and phones are masked; ``reveal`` needs petition.pii.read and is audited."""
    mine = petition(admin, county, [person(admin, county, name="甲", idn="11010519800101003")])
    body = {"case_type": "petition.case", "title": "郭岭村反映", "org_unit_id": county.unit("T01D1V2"),
            "content": "", "persons": [], "details": {"form": "letter", "category": "land"}}
    theirs = admin.post("/api/cases", json=body).get_json()
    grant(db, county, "village.cadre", ["petition.read", "petition.register"], unit="T01D1V1", key="v_petition")
    cadre = login(county, "village.cadre")
    listed = {c["id"] for c in cadre.get("/api/cases?case_type=petition.case").get_json()["items"]}
    assert mine["id"] in listed and theirs["id"] not in listed
    assert cadre.get(f"/api/cases/{theirs['id']}").status_code == 404
    people = cadre.get(f"/api/cases/{mine['id']}/persons").get_json()
    assert people[0]["id_number"].startswith("1101") and "*" in people[0]["id_number"]
    assert cadre.get(f"/api/cases/{mine['id']}/persons?reveal=true").status_code == 403
    grant(db, county, "village.cadre", ["petition.pii.read"], unit="T01D1V1", key="v_pii")
    full = login(county, "village.cadre").get(f"/api/cases/{mine['id']}/persons?reveal=true").get_json()
    assert "*" not in full[0]["id_number"] and len(full[0]["id_number"]) == 18
    with db.transaction(county.id) as s:
        reads = s.scalars(select(AuditEntry).where(AuditEntry.action == "read_sensitive", AuditEntry.object_type == "person")).all()
    assert reads


# --- PET-3, PET-5, PET-6 -----------------------------------------------------------------------

def test_leader_team_stays_until_the_petition_is_closed(admin, county):
    """rule: PET-3 — 一个问题、一名领导、一套班子; the team cannot be dissolved while open."""
    case = petition(admin, county)
    body = {"leader_name": "张副书记", "leader_post": "镇党委副书记", "team": [{"name": "刘干事", "post": "信访办"}],
            "investigate": "刘干事核实地界", "handle": "司法所组织调解", "stabilise": "驻村干部稳控"}
    r = admin.put(f"/api/petition/cases/{case['id']}/leader", json=body)
    assert r.status_code == 200, r.get_json()
    early = admin.post(f"/api/petition/cases/{case['id']}/leader/end", json={"reason": "调走"})
    assert early.status_code == 409 and early.get_json()["code"] == "case_open"
    assert admin.get(f"/api/cases/{case['id']}").get_json()["details"]["leader"]["name"] == "张副书记"
    act(admin, case["id"], "accept", {})
    act(admin, case["id"], "reply", {"outcome": "已解决"})
    assert admin.post(f"/api/petition/cases/{case['id']}/leader/end", json={"reason": "案结事了"}).status_code == 200
    kinds = [e["kind"] for e in admin.get(f"/api/cases/{case['id']}/events").get_json()]
    assert "petition.leader" in kinds and "petition.leader_end" in kinds


def test_risk_is_assessed_in_three_levels_in_order(admin, county, db, login):
    """rule: PET-5 — handler, then department head, then chief (each with its permission)."""
    case = petition(admin, county)
    url = f"/api/petition/cases/{case['id']}/risk"
    skip = admin.post(url, json={"level": "head", "grade": "high"})
    assert skip.status_code == 409 and skip.get_json()["code"] == "assessment_order"
    assert admin.post(url, json={"level": "handler", "grade": "medium", "opinion": "有进京苗头"}).status_code == 201
    assert admin.post(url, json={"level": "head", "grade": "high"}).status_code == 201
    grant(db, county, "donghu.admin", ["petition.read", "petition.handle"], unit="T01", key="t_petition")
    township = login(county, "donghu.admin")
    assert township.post(url, json={"level": "chief", "grade": "high"}).status_code == 403
    # the chief's level needs petition.risk.approve, not petition.handle (a 分管领导 handles nothing)
    grant(db, county, "qingshan.admin", ["core.case.read", "petition.read", "petition.risk.approve"], key="chief_t")
    assert login(county, "qingshan.admin").post(url, json={"level": "chief", "grade": "high"}).status_code == 201
    assert [r["level"] for r in admin.get(url).get_json()] == ["handler", "head", "chief"]
    assert admin.get(f"/api/cases/{case['id']}").get_json()["details"]["risk_grade"] == "high"


def test_watch_list_with_a_follow_up_task(admin, county, db):
    """rule: PET-5 — a petitioner with signs of escalation is watched; a follow-up is assigned."""
    someone = person(admin, county, name="赵某", idn="11010519800101004")
    r = admin.post("/api/petition/watch", json={"person_id": someone, "grade": "high", "signs": "扬言进京"})
    assert r.status_code == 201, r.get_json()
    watch_id = r.get_json()["id"]
    assert admin.post("/api/petition/watch", json={"person_id": someone, "grade": "low", "signs": "x"}).status_code == 409
    with db.transaction(county.id) as s:
        cadre = s.scalar(select(User.id).where(User.username == "village.cadre"))
    f = admin.post(f"/api/petition/watch/{watch_id}/followups",
                   json={"task": "每日走访", "due_on": TODAY.isoformat(), "assignee_id": cadre})
    assert f.status_code == 201, f.get_json()
    done = admin.post(f"/api/petition/followups/{f.get_json()['id']}/done", json={"result": "情绪稳定"})
    assert done.status_code == 200
    listed = admin.get("/api/petition/watch").get_json()
    assert [w["person_name"] for w in listed] == ["赵某"] and listed[0]["followups"][0]["result"] == "情绪稳定"
    assert admin.post(f"/api/petition/watch/{watch_id}/end", json={"reason": "息诉罢访"}).status_code == 200
    assert admin.get("/api/petition/watch").get_json() == []


def test_joint_meeting_decision_needs_a_repeat(admin, county):
    """rule: PET-6 — 一事一议、一人一策 is recorded on repeated petitions only."""
    a = person(admin, county, name="钱某", idn="11010519800101005")
    first = petition(admin, county, [a])
    body = {"met_on": TODAY.isoformat(), "units": ["国土所", "司法所"], "decision": "重新勘界", "measures": "包案到人"}
    assert admin.post(f"/api/petition/cases/{first['id']}/joint-decision", json=body).status_code == 409
    again = petition(admin, county, [a])
    assert admin.post(f"/api/petition/cases/{again['id']}/joint-decision", json=body).status_code == 201


# --- Art. 23, PET-2 -------------------------------------------------------------------------------

def _divert(admin, county, case, unit="T01D1V2"):
    r = admin.post(f"/api/cases/{case['id']}/divert", json={"mode": "single", "tasks": [
        {"org_unit_id": county.unit(unit), "instruction": "请办理"}]})
    assert r.status_code == 200, r.get_json()
    return r.get_json()["tasks"][0]["id"]


def test_objection_only_within_five_working_days(admin, county, db):
    """Art. 23: a unit may send a diverted petition back as not its own within 5 working days."""
    case = petition(admin, county)
    task = _divert(admin, county, case)
    ok = admin.post(f"/api/cases/{case['id']}/tasks/{task}", json={"action": "return", "text": "不属本村职责"})
    assert ok.status_code == 200, ok.get_json()
    late = petition(admin, county)
    task = _divert(admin, county, late)
    with db.transaction(county.id) as s:  # the window shown on the task is what is enforced: let it end earlier
        window = s.scalar(select(CaseDeadline).where(CaseDeadline.task_id == task, CaseDeadline.rule == "objection"))
        window.due_at = window.due_at - dt.timedelta(days=21)
    r = admin.post(f"/api/cases/{late['id']}/tasks/{task}", json={"action": "return", "text": "不属本村职责"})
    assert r.status_code == 409 and r.get_json()["code"] == "objection_too_late"


def test_overdue_petition_situation_report_and_notice_on_the_timeline(admin, county):
    """rule: PET-2 — the handling unit reports why it cannot close in time and tells the petitioner."""
    case = petition(admin, county)
    r = admin.post(f"/api/petition/cases/{case['id']}/situation-report",
                   json={"report": "需等待土地确权结果", "notice_method": "phone", "noticed_on": TODAY.isoformat()})
    assert r.status_code == 201, r.get_json()
    kinds = [e["kind"] for e in admin.get(f"/api/cases/{case['id']}/events").get_json()]
    assert "petition.situation" in kinds and "petition.notice" in kinds


# --- documents and reports ----------------------------------------------------------------------

def test_receipt_and_notices_render_to_pdf(admin, county):
    case = petition(admin, county, [person(admin, county)])
    keys = {d["key"] for d in admin.get(f"/api/cases/{case['id']}/documents").get_json()}
    assert {"petition.receipt", "petition.accept_notice", "petition.transfer_slip", "petition.reply_opinion",
            "petition.review_opinion", "petition.recheck_opinion", "petition.not_accept_notice",
            "petition.extension_notice"} <= keys
    r = admin.post(f"/api/cases/{case['id']}/documents/petition.receipt")  # the page's form (issue 14)
    assert r.status_code == 200 and r.data.startswith(b"%PDF")
    from pypdf import PdfReader
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(r.data)).pages).replace(" ", "")
    assert CODE.search(text) and case["number"] in text and "信访事项登记回执" in text
    assert "1101" not in text  # names only: no ID number reaches a document


def test_monthly_report_counts_and_exports(admin, county):
    a = person(admin, county, name="孙某", idn="11010519800101006")
    first = petition(admin, county, [a])
    petition(admin, county, [a])
    petition(admin, county, form="collective_visit", visitors=8)
    act(admin, first["id"], "accept", {})
    act(admin, first["id"], "reply", {"outcome": "已答复"})
    month = f"{TODAY:%Y-%m}"
    r = admin.get(f"/api/petition/reports/monthly?month={month}&org_unit_id={county.unit('T01D1')}")
    assert r.status_code == 200, r.get_json()
    rep = r.get_json()
    assert (rep["total"]["received"], rep["total"]["closed"], rep["total"]["on_time"]) == (3, 1, 1)
    assert rep["total"]["repeats"] == 1 and rep["total"]["collective"] == 1 and rep["total"]["on_time_percent"] == 100.0
    assert [u["received"] for u in rep["by_unit"] if u["label"] == "罗塘村"] == [3]
    x = admin.get(f"/api/petition/reports/monthly.xlsx?month={month}")
    assert x.status_code == 200
    from openpyxl import load_workbook
    wb = load_workbook(io.BytesIO(x.data))
    assert wb.sheetnames == ["按单位", "按分类", "按信访形式", "越级访与上访指标"]
    assert admin.get("/api/petition/reports/monthly?month=2026-13").status_code == 422
    # the county's own ledger layout: which figures, in which order, under which headings
    r = admin.put("/api/modules/petition", json={"enabled": True, "settings": {"report_columns": [
        {"key": "late", "title": "逾期件"}, {"key": "received"}]}})
    assert r.status_code == 200, r.get_json()
    wb = load_workbook(io.BytesIO(admin.get(f"/api/petition/reports/monthly.xlsx?month={month}").data))
    assert [c.value for c in wb["按单位"][2]] == ["单位", "逾期件", "受理数"]
    assert admin.put("/api/modules/petition", json={"enabled": True, "settings": {"report_columns": [
        {"key": "nonsense"}]}}).status_code == 422
    assert admin.put("/api/modules/petition", json={"enabled": True, "settings": {"categories": [
        {"key": "Bad Key", "title": "x"}, {"key": "land", "title": "土地"}]}}).status_code == 422
