"""Issue 13, parts 5 and 7: limits run from when the matter was received, not when it was typed
in (《信访工作条例》第二十二条 counts from receipt); a date on acceptance (the day the unit
decided) within bounds; every back-dated act audited with who and why; local rules cite the
county's own document, never a requirement id.

The clock is frozen (time-machine): "now" is Thursday 2026-03-12 09:00 in Beijing, the letter
arrived on Tuesday 2026-03-10 at 10:00."""
from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from sqlalchemy import select

from core.audit import AuditEntry
from core.cases.models import CaseEvent
from core.models import User
from core.workdays import SHANGHAI
from plugins.mediation.cases import DISPUTE
from plugins.petition.cases import PETITION
from tests.casework import act

KEY = "petition.case"
THURSDAY = dt.datetime(2026, 3, 12, 9, tzinfo=SHANGHAI)      # typed in
TUESDAY = "2026-03-10T10:00:00+08:00"                         # received
MONDAY_AFTER = dt.datetime(2026, 3, 16, 9, tzinfo=SHANGHAI)   # the acceptance typed in
# the requirement ids of ../shared/POLICY-RULES.md (a random token on the page may hold "KDSA-3")
RULE_ID = re.compile(r"(?<![A-Za-z0-9])(?:INT|JNT|MED|ORG|PAT|PET|RPT|SAF|SCO|VIL|KEY)-\d+")


@pytest.fixture
def county(app, fresh_tenant, login):
    """A county of its own with the petition module on."""
    admin = login(fresh_tenant, "county.admin")
    r = admin.put("/api/modules/petition", json={"enabled": True})
    assert r.status_code == 200, r.get_json()
    return fresh_tenant


def frozen(moment: dt.datetime = THURSDAY):
    return time_machine.travel(moment, tick=False)


def petition_body(county, **extra) -> dict:
    return {"case_type": KEY, "title": "反映承包地被邻居占用", "org_unit_id": county.unit("T01D1V1"),
            "content": "邻居占用承包地", "details": {"form": "letter", "category": "land"}, **extra}


def limit(case: dict, rule: str) -> dict:
    return next(d for d in case["deadlines"] if d["rule"] == rule)


def local(iso: str) -> dt.datetime:
    return dt.datetime.fromisoformat(iso).astimezone(SHANGHAI)


def field_error(r, code: str, field: str) -> str:
    """The 422 names its machine code and the field at fault; the message is Chinese."""
    body = r.get_json()
    assert r.status_code == 422, body
    assert body["code"] == code, body
    assert field in body["errors"]["json"], body
    message = body["errors"]["json"][field][0]
    assert re.search(r"[\u4e00-\u9fff]", message), message
    return message


def audits(db, county, action: str) -> list[AuditEntry]:
    with db.transaction(county.id) as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)).all()
        s.expunge_all()
    return rows


def user_id(db, county, username: str) -> int:
    with db.transaction(county.id) as s:
        return s.scalar(select(User.id).where(User.username == username))


def registered_event(db, county, case_id: int) -> CaseEvent:
    with db.transaction(county.id) as s:
        event = s.scalar(select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.kind == "registered"))
        s.expunge(event)
    return event


# --- part 5: received time ------------------------------------------------------------------

def test_registered_two_days_after_receipt_counts_from_receipt(county, login, db):
    """《信访工作条例》第二十二条: received Tuesday 03-10, registered Thursday 03-12 — the 15 days
    run from Tuesday: the first day not counted (Civil Code Art. 201), day 15 is Wed 03-25, a
    working day, so the limit ends at 24:00 of 03-25 (not 03-27, as counted from the typing)."""
    town = login(county, "donghu.admin")
    with frozen():
        r = town.post("/api/cases", json=petition_body(county, received_at=TUESDAY, backdate_reason="周二收信，周四登记"))
    assert r.status_code == 201, r.get_json()
    case = r.get_json()
    forward = limit(case, "forward")
    assert local(forward["started_at"]) == dt.datetime(2026, 3, 10, 10, tzinfo=SHANGHAI)
    assert local(forward["due_at"]) == dt.datetime(2026, 3, 26, 0, 0, tzinfo=SHANGHAI)  # 2026-03-25 24:00
    assert forward["source"] == "《信访工作条例》第二十二条"
    assert local(case["received_at"]) == dt.datetime(2026, 3, 10, 10, tzinfo=SHANGHAI)
    assert local(case["created_at"]) == THURSDAY                       # typed in on Thursday
    assert case["due_at"] == forward["due_at"]
    # the timeline keeps when and why; the audit log who, when it was typed in and why
    event = registered_event(db, county, case["id"])
    assert event.data["backdated"] is True and event.data["backdate_reason"] == "周二收信，周四登记"
    assert local(event.data["received_at"]) == dt.datetime(2026, 3, 10, 10, tzinfo=SHANGHAI)
    assert "收到时间 2026-03-10 10:00" in event.note and "周二收信，周四登记" in event.note
    (entry,) = audits(db, county, "case.backdated")
    assert entry.object_type == "case" and entry.object_id == str(case["id"])
    assert entry.actor_id == user_id(db, county, "donghu.admin") and "donghu.admin" in entry.actor
    assert entry.changes["reason"] == "周二收信，周四登记" and entry.changes["field"] == "received_at"
    assert entry.changes["beyond_limit"] is False
    assert local(entry.changes["recorded_at"]) == THURSDAY
    # the case page shows both times
    page = town.get(f"/cases/{case['id']}").get_data(as_text=True)
    assert "收到时间" in page and "2026-03-10 10:00" in page and "2026-03-12 09:00" in page


def test_the_window_received_it_on_tuesday_the_sorting_meeting_sorts_it_later(county, login, db):
    """At the window (INT-1) the received time is stored and counts: registered there as a
    petition at once, or sorted by the meeting days later — the 15 days run from Tuesday."""
    town = login(county, "donghu.admin")
    matter = {"channel": "letter", "org_unit_id": county.unit("T01"), "arose_unit_id": county.unit("T01D1V1"),
              "subject": "反映承包地被邻居占用", "content": "邻居占用承包地", "received_at": TUESDAY,
              "backdate_reason": "周二收信，周四登记"}
    with frozen():
        at_once = town.post("/api/intake", json={**matter, "case_type": KEY,
                                                 "details": {"form": "letter", "category": "land"}})
        pending = town.post("/api/intake", json=matter)
    assert at_once.status_code == 201 and pending.status_code == 201, (at_once.get_json(), pending.get_json())
    assert local(pending.get_json()["received_at"]) == dt.datetime(2026, 3, 10, 10, tzinfo=SHANGHAI)
    with frozen(MONDAY_AFTER):  # the sorting meeting, the Monday after
        r = town.post(f"/api/intake/{pending.get_json()['id']}/sort",
                      json={"case_type": KEY, "details": {"form": "letter", "category": "land"}})
    assert r.status_code == 200, r.get_json()
    for intake in (at_once.get_json(), r.get_json()):
        case = town.get(f"/api/cases/{intake['case_id']}").get_json()
        assert local(limit(case, "forward")["due_at"]) == dt.datetime(2026, 3, 26, 0, 0, tzinfo=SHANGHAI)
        assert local(case["received_at"]) == dt.datetime(2026, 3, 10, 10, tzinfo=SHANGHAI)
    # the window's back-dating is audited once per matter, on the intake
    entries = audits(db, county, "intake.backdated")
    assert [e.object_id for e in entries] == [str(at_once.get_json()["id"]), str(pending.get_json()["id"])]
    assert entries[0].changes["case_id"] == at_once.get_json()["case_id"]
    assert all(e.changes["reason"] == "周二收信，周四登记" for e in entries)


def test_future_too_old_or_unexplained_received_times_are_refused_with_the_field(county, login):
    """Not in the future; not more than the county's maximum back (default 30 days); an earlier
    day needs a reason. 422 with a machine code and the field; nothing is registered."""
    town = login(county, "donghu.admin")
    with frozen():
        field_error(town.post("/api/cases", json=petition_body(county, received_at="2026-03-12T12:00:00+08:00")),
                    "date_in_future", "received_at")
        too_old = field_error(town.post("/api/cases", json=petition_body(
            county, received_at="2026-02-09T10:00:00+08:00", backdate_reason="补录")), "backdate_too_old", "received_at")
        assert "30" in too_old
        field_error(town.post("/api/cases", json=petition_body(county, received_at=TUESDAY)),
                    "backdate_reason_required", "backdate_reason")
        field_error(town.post("/api/intake", json={
            "channel": "letter", "org_unit_id": county.unit("T01"), "subject": "来信", "content": "来信内容",
            "received_at": "2026-04-01T08:00:00+08:00"}), "date_in_future", "received_at")
        field_error(town.post("/api/cases", json=petition_body(county, received_at="1999-12-31T10:00:00+08:00",
                                                               backdate_reason="补录")),
                    "date_out_of_range", "received_at")
        assert town.all_items("/api/cases") == [] and town.get("/api/intake").get_json()["items"] == []
        # 30 days back is allowed; the same day needs no reason; a clock a minute ahead is "now"
        ok = town.post("/api/cases", json=petition_body(county, received_at="2026-02-10T10:00:00+08:00",
                                                        backdate_reason="春节后补录"))
        assert ok.status_code == 201, ok.get_json()
        same_day = town.post("/api/cases", json=petition_body(county, received_at="2026-03-12T08:00:00+08:00"))
        assert same_day.status_code == 201, same_day.get_json()
        ahead = town.post("/api/cases", json=petition_body(county, received_at="2026-03-12T09:01:00+08:00"))
        assert ahead.status_code == 201 and local(ahead.get_json()["received_at"]) == THURSDAY
    # the county sets its own maximum (a case-type setting)
    admin = login(county, "county.admin")
    r = admin.put(f"/api/case-types/{KEY}/settings", json={"settings": {"max_backdate_days": 45}})
    assert r.status_code == 200, r.get_json()
    assert admin.put(f"/api/case-types/{KEY}/settings",
                     json={"settings": {"max_backdate_days": -1}}).status_code == 422
    with frozen():
        r = town.post("/api/cases", json=petition_body(county, received_at="2026-02-09T10:00:00+08:00",
                                                       backdate_reason="节后补录"))
    assert r.status_code == 201, r.get_json()


def test_backdating_beyond_the_limit_needs_the_permission_to_correct_records_and_is_audited(county, login, db):
    """Older than the county's maximum: only for a holder of core.case.correct_records (the county
    administrator's template has it), audited with who and why; the limit ran out long ago."""
    town = login(county, "donghu.admin")
    admin = login(county, "county.admin")
    assert "core.case.correct_records" not in town.get("/api/me").get_json()["permissions"]
    assert "core.case.correct_records" in admin.get("/api/me").get_json()["permissions"]
    old = "2026-01-20T09:00:00+08:00"
    with frozen():
        field_error(town.post("/api/cases", json=petition_body(county, received_at=old, backdate_reason="补录")),
                    "backdate_too_old", "received_at")
        field_error(admin.post("/api/cases", json=petition_body(county, received_at=old)),
                    "backdate_reason_required", "backdate_reason")
        r = admin.post("/api/cases", json=petition_body(county, received_at=old,
                                                        backdate_reason="档案清理发现漏登的来信，依县信访局意见补录"))
    assert r.status_code == 201, r.get_json()
    case = r.get_json()
    forward = limit(case, "forward")
    assert local(forward["due_at"]) == dt.datetime(2026, 2, 5, 0, 0, tzinfo=SHANGHAI)  # 01-20 + 15 days
    assert case["overdue"] is True
    (entry,) = audits(db, county, "case.backdated")
    assert entry.actor_id == user_id(db, county, "county.admin")
    assert entry.changes["beyond_limit"] is True and entry.changes["max_backdate_days"] == 30
    assert entry.changes["reason"] == "档案清理发现漏登的来信，依县信访局意见补录"
    assert registered_event(db, county, case["id"]).data["beyond_limit"] is True


def test_a_time_without_a_zone_is_beijing_time_never_a_500(county, login):
    """"2026-03-10T10:00:00" is 10:00 in Beijing (it answered 500 before); an absurd one is a 422."""
    town = login(county, "donghu.admin")
    with frozen():
        r = town.post("/api/cases", json=petition_body(county, received_at="2026-03-10T10:00:00",
                                                       backdate_reason="周二收信"))
        assert r.status_code == 201, r.get_json()
        assert r.get_json()["received_at"] == "2026-03-10T02:00:00+00:00"
        assert local(limit(r.get_json(), "forward")["due_at"]) == dt.datetime(2026, 3, 26, 0, 0, tzinfo=SHANGHAI)
        w = town.post("/api/intake", json={"channel": "visit", "org_unit_id": county.unit("T01"), "subject": "来访",
                                           "content": "来访内容", "received_at": "2026-03-12T08:30:00"})
        assert w.status_code == 201, w.get_json()
        assert w.get_json()["received_at"] == "2026-03-12T00:30:00+00:00"
        for weird in ("0001-01-01T00:00:00", "0001-01-01T00:00:00-12:00", "9999-12-31T23:59:59",
                      "2026-13-01T00:00:00", "昨天"):
            r = town.post("/api/intake", json={"channel": "visit", "org_unit_id": county.unit("T01"),
                                               "subject": "来访", "content": "来访内容", "received_at": weird,
                                               "backdate_reason": "补录"})
            assert r.status_code == 422, (weird, r.get_json())
            assert "received_at" in r.get_json()["errors"]["json"], (weird, r.get_json())


def test_accepted_on_is_the_day_the_unit_decided_within_bounds(county, login, db):
    """The acceptance decided on Friday 03-13 and typed in on Monday 03-16: the 60 days of
    《信访工作条例》第三十四条 run from Friday (day 60 is Tue 05-12, a working day), and the
    forward limit (第二十二条) stopped on Friday, met. Not in the future, not before the letter
    arrived, not older than the county's maximum without the permission; audited with why."""
    town = login(county, "donghu.admin")
    with frozen():
        case = town.post("/api/cases", json=petition_body(county, received_at=TUESDAY,
                                                          backdate_reason="周二收信")).get_json()
    with frozen(MONDAY_AFTER):
        field_error(act(town, case["id"], "accept", {"accepted_on": "2026-03-17"}), "date_in_future", "accepted_on")
        field_error(act(town, case["id"], "accept", {"accepted_on": "2026-03-09", "backdate_reason": "补录"}),
                    "date_before_received", "accepted_on")
        field_error(act(town, case["id"], "accept", {"accepted_on": "2026-03-13"}),
                    "backdate_reason_required", "backdate_reason")
        bad = act(town, case["id"], "accept", {"accepted_on": "13/03/2026"})  # not a date: the schema's 422
        assert bad.status_code == 422 and "accepted_on" in bad.get_json()["errors"]["json"]
        assert town.get(f"/api/cases/{case['id']}").get_json()["state"] == "registered"
        r = act(town, case["id"], "accept", {"accepted_on": "2026-03-13", "backdate_reason": "周五研究决定受理，周一录入",
                                             "procedure": "normal"})
    assert r.status_code == 200, r.get_json()
    accepted = r.get_json()
    handle = limit(accepted, "handle")
    assert local(handle["started_at"]).date() == dt.date(2026, 3, 13)
    assert local(handle["due_at"]) == dt.datetime(2026, 5, 13, 0, 0, tzinfo=SHANGHAI)  # 2026-05-12 24:00
    forward = limit(accepted, "forward")
    assert forward["state"] == "stopped" and forward["met"] is True
    with db.transaction(county.id) as s:
        event = s.scalar(select(CaseEvent).where(CaseEvent.case_id == case["id"], CaseEvent.kind == "accept"))
        assert event.at == MONDAY_AFTER           # the timeline says when it was typed in …
        assert event.data["accepted_on"] == "2026-03-13" and event.data["backdated"] is True  # … and the day decided
        assert "受理决定日期 2026-03-13" in event.note and "周五研究决定受理" in event.note
    entry = audits(db, county, "case.backdated")[-1]
    assert entry.changes["field"] == "accepted_on" and entry.changes["act"] == "accept"
    assert entry.actor_id == user_id(db, county, "donghu.admin")
    assert entry.changes["reason"] == "周五研究决定受理，周一录入"


def test_accepted_on_older_than_the_maximum_needs_the_permission(county, login):
    """A letter received in January (registered by the county, which may correct records) and
    accepted in January: the township may not back-date the acceptance that far; the county may."""
    town = login(county, "donghu.admin")
    admin = login(county, "county.admin")
    with frozen():
        first = admin.post("/api/cases", json=petition_body(county, received_at="2026-01-20T09:00:00+08:00",
                                                            backdate_reason="漏登补录")).get_json()
        second = admin.post("/api/cases", json=petition_body(county, received_at="2026-01-20T09:00:00+08:00",
                                                             backdate_reason="漏登补录")).get_json()
        body = {"accepted_on": "2026-01-22", "backdate_reason": "一月已决定受理，漏录"}
        field_error(act(town, first["id"], "accept", body), "backdate_too_old", "accepted_on")
        assert act(admin, second["id"], "accept", body).status_code == 200
        # today is not back-dating: no reason needed
        assert act(town, first["id"], "accept", {"accepted_on": "2026-03-12"}).status_code == 200


def test_the_web_forms_show_the_error_at_the_field_and_keep_what_was_typed(county, login):
    """The window's form and the acceptance form on the case page: a refused date comes back at
    its field, in Chinese, with everything typed kept."""
    town = login(county, "donghu.admin")
    form = {"channel": "letter", "org_unit_id": str(county.unit("T01")), "arose_unit_id": str(county.unit("T01D1V1")),
            "subject": "反映承包地被邻居占用", "content": "邻居占用承包地", "person_name": "",
            "outcome": "pending", "case_type": "", "received_at": "2026-03-13T10:00"}
    with frozen():
        page = town.get("/intake/new").get_data(as_text=True)
        assert 'name="received_at"' in page and 'type="datetime-local"' in page and 'name="backdate_reason"' in page
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        r = town.post("/intake/new", data={**form, "csrf_token": token})
        assert r.status_code == 422
        html = r.get_data(as_text=True)
        assert 'id="received_at-error"' in html and "收到时间不能晚于现在" in html
        assert 'value="2026-03-13T10:00"' in html and "反映承包地被邻居占用" in html
        r = town.post("/intake/new", data={**form, "csrf_token": token, "received_at": "2026-03-10T10:00"})
        assert r.status_code == 422 and 'id="backdate_reason-error"' in r.get_data(as_text=True)
        r = town.post("/intake/new", data={**form, "csrf_token": token, "received_at": "2026-03-10T10:00",
                                            "backdate_reason": "周二收信"})
        assert r.status_code == 201, r.get_data(as_text=True)[:2000]
        (row,) = town.get("/api/intake").get_json()["items"]
        assert local(row["received_at"]) == dt.datetime(2026, 3, 10, 10, tzinfo=SHANGHAI)
        case = town.post("/api/cases", json=petition_body(county)).get_json()
        page = town.get(f"/cases/{case['id']}").get_data(as_text=True)
        assert 'name="accepted_on"' in page and 'name="backdate_reason"' in page
        r = town.post(f"/cases/{case['id']}/act/accept", data={"csrf_token": token, "accepted_on": "2026-03-20",
                                                             "note": "经研究决定受理"})
        assert r.status_code == 422
        html = r.get_data(as_text=True)
        assert 'id="act-accept.accepted_on-error"' in html and "不能晚于今天" in html
        assert 'value="2026-03-20"' in html and "经研究决定受理" in html


# --- part 7: a local rule cites the county's own document -------------------------------------

def test_a_local_rule_cites_the_countys_document_or_this_county_never_a_rule_id(county, login):
    """rule: PET-1 — the county's own amounts, each citing the county's document when it names
    one (the setting ``source``), else 本县规定; a statutory rule's source is the law's and
    cannot be changed; nowhere a requirement id such as PET-1."""
    admin = login(county, "county.admin")
    doc = "《东湖镇信访工作实施办法》第五条"
    r = admin.put(f"/api/case-types/{KEY}/settings", json={"settings": {"deadlines": {
        "forward_letter": {"amount": 3, "unit": "calendar_days", "source": doc},
        "forward_visit": {"amount": 0, "unit": "calendar_days"}}}})
    assert r.status_code == 200, r.get_json()
    with frozen():
        letter = admin.post("/api/cases", json=petition_body(county)).get_json()
        visit = admin.post("/api/cases", json=petition_body(county, details={"form": "visit",
                                                                             "category": "land"})).get_json()
    assert limit(letter, "forward_letter")["source"] == doc
    assert limit(visit, "forward_visit")["source"] == "本县规定"
    assert limit(letter, "forward")["source"] == "《信访工作条例》第二十二条"
    listed = {r["key"]: r for t in admin.get("/api/case-types").get_json() if t["key"] == KEY for r in t["deadlines"]}
    assert listed["forward_letter"]["source"] == doc and listed["close_clear"]["source"] == "本县规定"
    assert not [r for r in listed.values() if RULE_ID.search(r["source"])]
    page = admin.get(f"/cases/{letter['id']}").get_data(as_text=True)
    assert doc in page and not RULE_ID.search(re.sub(r"<[^>]+>", "", page))
    # a source only, for a local rule a county has switched on: kept with its amount
    r = admin.put(f"/api/case-types/{KEY}/settings", json={"settings": {"deadlines": {
        "forward_letter": {"amount": 3, "unit": "calendar_days"}, "forward_visit": {"amount": 0, "unit": "calendar_days",
                                                                                     "source": "《东湖镇来访接待规定》"}}}})
    assert r.status_code == 200, r.get_json()
    # refused: changing the law's source; switching a local rule on with a source but no amount
    r = admin.put(f"/api/case-types/{KEY}/settings",
                  json={"settings": {"deadlines": {"forward": {"amount": 10, "unit": "calendar_days", "source": doc}}}})
    assert r.status_code == 422 and "forward" in r.get_json()["errors"]["json"]["settings"]["deadlines"]
    r = admin.put(f"/api/case-types/{KEY}/settings",
                  json={"settings": {"deadlines": {"close_clear": {"source": doc}}}})
    assert r.status_code == 422 and "close_clear" in r.get_json()["errors"]["json"]["settings"]["deadlines"]
    r = admin.put(f"/api/case-types/{KEY}/settings",
                  json={"settings": {"deadlines": {"forward_letter": {"amount": 3, "unit": "calendar_days",
                                                                      "source": ""}}}})
    assert r.status_code == 422


def test_no_declared_rule_or_module_text_shows_a_requirement_id():
    """rule: PET-1, MED-5 — the sources the modules declare (and the county's default) carry no
    requirement id; an id in a declaration would be replaced by 本县规定 all the same."""
    from core.cases.settings import effective, local_source
    for ctype in (PETITION, DISPUTE):
        for rule in effective(ctype, {}).rules + ctype.deadlines:
            assert rule.source and not RULE_ID.search(rule.source), (ctype.key, rule.key, rule.source)
    assert local_source("本县规定（PET-1）") == "本县规定" and local_source("") == "本县规定"
    assert local_source("《XX镇信访工作实施办法》第五条") == "《XX镇信访工作实施办法》第五条"
