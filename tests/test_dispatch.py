"""Issue 15, item 7: dispatch (分流交办) to org units and member units alike (ORG-3, INT-3), with
签收 (acknowledge, flagged after the county's limit), 回退 (return, with a reason), 办结 (the
answer) and the dispatcher's 回访 (follow-up call with the petitioner's satisfaction); the
dispatcher hears of every step, and a to-do closes when its work is done."""
from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from sqlalchemy import select

from core import auth
from core.app import pingan
from core.audit import AuditEntry
from core.cases import sweep
from core.cases.models import CaseDeadline
from core.models import MemberUnit, User
from core.workdays import SHANGHAI
from tests.casework import events, grant, run_jobs
from tests.conftest import DEMO_PASSWORD, load_tenant
from tests.test_petition import petition, person
from tests.test_web_cases import csrf

KEY = "petition.case"
PETITION_WORK = ["petition.read", "petition.register", "petition.handle"]
MONDAY = dt.datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI)   # an ordinary working week


@pytest.fixture
def county(app, fresh_tenant, login):
    """A county of its own with the petition module on."""
    r = login(fresh_tenant, "county.admin").put("/api/modules/petition", json={"enabled": True})
    assert r.status_code == 200, r.get_json()
    return fresh_tenant




def account(db, county, username: str, display: str, unit: str) -> int:
    """An active account at ``unit`` whose password is the demo one (no first-login change)."""
    with db.transaction(county.id) as s:
        user = User(username=username, display_name=display, org_unit_id=county.unit(unit),
                    password_hash=auth.hash_password(DEMO_PASSWORD), must_change_password=False)
        s.add(user)
        s.flush()
        return user.id


def member_unit(db, county, name: str) -> int:
    with db.transaction(county.id) as s:
        return s.scalar(select(MemberUnit.id).where(MemberUnit.name == name))


def inbox(client, case_id: int, kind: str, unread: bool = True) -> list[str]:
    r = client.get(f"/api/inbox?kind={kind}&limit=100" + ("&unread=true" if unread else ""))
    assert r.status_code == 200, r.get_json()
    return [n["title"] for n in r.get_json()["items"] if n["case_id"] == case_id]


def field_of(r) -> tuple[int, str, list[str]]:
    body = r.get_json()
    return r.status_code, body.get("code"), sorted((body.get("errors") or {}).get("json", {}))


@pytest.fixture
def people(app, db, county, login):
    """东湖镇 (the dispatcher), 东湖司法所's staff member linked on the member-unit page, 罗塘村."""
    grant(db, county, "donghu.admin", PETITION_WORK, "T01", "petition_township_t")
    account(db, county, "sfs.li", "东湖司法所李所长", "T01")
    grant(db, county, "sfs.li", ["petition.read", "core.case.read", "core.case.handle"], "T01", "member_staff_t")
    grant(db, county, "village.cadre", ["petition.read"], "T01D1V1", "petition_village_t")
    grant(db, county, "village.cadre2", ["petition.read"], "T01D1V2", "petition_village_t")
    sfs = member_unit(db, county, "东湖司法所")
    # the township admin picks the staff of its 司法所 on the member-unit page (issue 15, item 7)
    town = login(county, "donghu.admin")
    page = town.get("/admin/member-units").get_data(as_text=True)
    assert f'id="m{sfs}-staff"' in page and "东湖司法所李所长" in page
    with db.transaction(county.id) as s:
        li = s.scalar(select(User.id).where(User.username == "sfs.li"))
        demo = s.scalar(select(User.id).where(User.username == "donghu.justice"))  # the demo county's staffer
    r = town.post(f"/admin/member-units/{sfs}", data={"csrf_token": csrf(page), "action": "staff",
                                                      "staff": [str(li), str(demo)]})
    assert r.status_code == 302, r.get_data(as_text=True)[:500]
    assert "东湖司法所李所长" in town.get("/admin/member-units").get_data(as_text=True).split(f'id="member-{sfs}-staff"')[1][:200]
    return {"sfs": sfs, "li": li}


def test_dispatch_to_a_member_unit_and_a_village_acknowledge_flag_return_answer_follow_up(app, db, county, login,
                                                                                          people):
    sfs = people["sfs"]
    with time_machine.travel(MONDAY, tick=False):
        town = login(county, "donghu.admin")
        case = petition(town, county, [person(town, county)], form="visit")
        # rule: INT-3 — a matter handled jointly: 东湖司法所 leads (a member unit, ORG-3), 罗塘村 helps
        r = town.post(f"/api/cases/{case['id']}/divert", json={"mode": "joint", "note": "司法所牵头，村里配合", "tasks": [
            {"member_unit_id": sfs, "role": "lead", "instruction": "请依法调处并答复信访人"},
            {"org_unit_id": county.unit("T01D1V1"), "role": "co", "instruction": "请配合核实"}]})
        assert r.status_code == 200, r.get_json()
        lead, co = r.get_json()["tasks"]
        assert (lead["role"], lead["member_unit_id"], lead["org_unit_id"]) == ("lead", sfs, county.unit("T01"))
        assert (co["role"], co["member_unit_id"], co["org_unit_id"]) == ("co", None, county.unit("T01D1V1"))
        # the county's default acknowledgement limit: 1 working day, to the end of Tuesday
        assert lead["acknowledge_due_at"] == "2026-03-03T16:00:00+00:00" and not lead["acknowledge_overdue"]
        assert lead["acknowledged_at"] is None and lead["assigned_by"] is not None
        assert r.get_json()["handling_unit_id"] == county.unit("T01")
        li, cadre = login(county, "sfs.li"), login(county, "village.cadre")
        assert any(t.startswith("新交办事项") for t in inbox(li, case["id"], "todo"))
        assert any(t.startswith("新交办事项") for t in inbox(cadre, case["id"], "todo"))
        # the member unit's task is its staff's: not the village's, not another township user's
        assert cadre.post(f"/api/cases/{case['id']}/tasks/{lead['id']}", json={"action": "acknowledge"}).status_code == 403
        refused = town.post(f"/api/cases/{case['id']}/tasks/{lead['id']}", json={"action": "acknowledge"})
        assert (refused.status_code, refused.get_json()["code"]) == (403, "not_member_unit_staff")
        # the member unit's user sees its task in the task list and on the case
        assert [t["id"] for t in li.get("/api/tasks").get_json()["items"]] == [lead["id"]]
        # … and its staff act for it, not for the villages under the township where they sit
        refused = li.post(f"/api/cases/{case['id']}/tasks/{co['id']}", json={"action": "acknowledge"})
        assert (refused.status_code, refused.get_json()["code"]) == (403, "not_your_unit")

    with time_machine.travel(MONDAY + dt.timedelta(hours=1), tick=False):
        li = login(county, "sfs.li")
        r = li.post(f"/api/cases/{case['id']}/tasks/{lead['id']}", json={"action": "acknowledge", "text": "已签收，李所长负责"})
        assert r.status_code == 200, r.get_json()
        got = next(t for t in r.get_json()["tasks"] if t["id"] == lead["id"])
        assert got["acknowledged_at"].startswith("2026-03-02T02:00") and not got["acknowledge_overdue"]
        again = li.post(f"/api/cases/{case['id']}/tasks/{lead['id']}", json={"action": "acknowledge"})
        assert (again.status_code, again.get_json()["code"]) == (409, "task_acknowledged")
        town = login(county, "donghu.admin")
        assert any(t.startswith("已签收") and "东湖司法所" in t for t in inbox(town, case["id"], "message"))
        assert "task_acknowledged" in events(town, case["id"])

    # Wednesday: 罗塘村 has not acknowledged within the limit — its task is flagged and it is told
    wednesday = dt.datetime(2026, 3, 4, 10, 0, tzinfo=SHANGHAI)
    with time_machine.travel(wednesday, tick=False):
        state = pingan(app)
        with app.app_context(), state.db.transaction(county.id) as s:
            found = sweep.run(s, state.plugins, now=wednesday)
        assert found["ack_overdue"] == 1  # the village's task only (the 司法所 acknowledged)
        run_jobs(app)
        cadre, li, town = login(county, "village.cadre"), login(county, "sfs.li"), login(county, "donghu.admin")
        tasks = {t["id"]: t for t in town.get(f"/api/cases/{case['id']}").get_json()["tasks"]}
        assert tasks[co["id"]]["acknowledge_overdue"] and not tasks[lead["id"]]["acknowledge_overdue"]
        assert any(t.startswith("未按时签收") for t in inbox(cadre, case["id"], "todo"))
        assert not any(t.startswith("未按时签收") for t in inbox(li, case["id"], "todo"))
        assert "签收超时" in cadre.get(f"/cases/{case['id']}").get_data(as_text=True)
        assert "task_ack_overdue" in events(town, case["id"])
        # flagged once: the next sweep finds nothing new; the case's own limits are untouched
        with app.app_context(), state.db.transaction(county.id) as s:
            assert sweep.run(s, state.plugins, now=wednesday + dt.timedelta(minutes=5))["ack_overdue"] == 0
            assert set(s.scalars(select(CaseDeadline.rule).where(CaseDeadline.task_id == co["id"]))) == {"objection"}

        # 回退 needs a reason (422 at the field), then goes back to the dispatcher with it
        bare = cadre.post(f"/api/cases/{case['id']}/tasks/{co['id']}", json={"action": "return"})
        assert field_of(bare) == (422, "reason_required", ["text"])
        r = cadre.post(f"/api/cases/{case['id']}/tasks/{co['id']}",
                       json={"action": "return", "text": "争议发生在郭岭村地界，非本村事项"})
        assert r.status_code == 200, r.get_json()
        returned = next(t for t in r.get_json()["tasks"] if t["id"] == co["id"])
        assert returned["state"] == "returned" and returned["result"] == "争议发生在郭岭村地界，非本村事项"
        assert not any(t.startswith(("新交办事项", "未按时签收")) for t in inbox(cadre, case["id"], "todo"))
        assert any(t.startswith("任务被退回，请重新交办") for t in inbox(town, case["id"], "todo"))
        # the dispatcher re-dispatches the returned share to 郭岭村 (the lead's task goes on)
        r = town.post(f"/api/cases/{case['id']}/divert", json={"mode": "add", "tasks": [
            {"org_unit_id": county.unit("T01D1V2"), "instruction": "请配合司法所核实"}]})
        assert r.status_code == 200, r.get_json()
        states = [(t["org_unit_id"], t["member_unit_id"], t["state"]) for t in r.get_json()["tasks"]]
        assert (county.unit("T01"), sfs, "open") in states and (county.unit("T01D1V2"), None, "open") in states
        assert not any(t.startswith("任务被退回") for t in inbox(town, case["id"], "todo"))

        # 办结: the 司法所 answers; the dispatcher is told and asked to call back
        li = login(county, "sfs.li")
        empty = li.post(f"/api/cases/{case['id']}/tasks/{lead['id']}", json={"action": "done", "text": "  "})
        assert field_of(empty)[:2] == (422, "answer_required")
        r = li.post(f"/api/cases/{case['id']}/tasks/{lead['id']}",
                    json={"action": "done", "text": "经调解，双方签订协议，界桩已重新确认"})
        assert r.status_code == 200, r.get_json()
        assert not any(t.startswith("新交办事项") for t in inbox(li, case["id"], "todo"))
        assert any(t.startswith("任务已反馈") for t in inbox(town, case["id"], "message"))
        assert any(t.startswith("待回访") for t in inbox(town, case["id"], "todo"))

        # 回访: only the dispatching side; a satisfaction must be chosen
        assert cadre.post(f"/api/cases/{case['id']}/follow-ups", json={"satisfaction": "satisfied"}).status_code == 403
        bad = town.post(f"/api/cases/{case['id']}/follow-ups", json={"satisfaction": "ok"})
        assert field_of(bad)[0] == 422 and field_of(bad)[2] == ["satisfaction"]
        r = town.post(f"/api/cases/{case['id']}/follow-ups",
                      json={"satisfaction": "basically_satisfied", "note": "信访人认可结果，希望尽快立界桩"})
        assert r.status_code == 201, r.get_json()
        [call] = r.get_json()["follow_ups"]
        assert (call["satisfaction"], call["task_id"], call["note"]) == ("basically_satisfied", lead["id"],
                                                                         "信访人认可结果，希望尽快立界桩")
        assert not any(t.startswith("待回访") for t in inbox(town, case["id"], "todo"))
        assert any(t.startswith("回访结果：基本满意") for t in inbox(li, case["id"], "message"))
        kinds = events(town, case["id"])
        assert kinds.count("diverted") == 2 and {"task_returned", "task_done", "followed_up"} <= set(kinds)
        page = town.get(f"/cases/{case['id']}").get_data(as_text=True)
        assert "基本满意" in page and "东湖司法所（东湖镇）" in page and "经调解，双方签订协议" in page

    with db.transaction(county.id) as s:
        acts = set(s.scalars(select(AuditEntry.action).where(AuditEntry.action.in_(
            ["case.task.acknowledge", "case.task.return", "case.task.answer", "case.follow_up", "member_unit.staff"]))))
    assert acts == {"case.task.acknowledge", "case.task.return", "case.task.answer", "case.follow_up",
                    "member_unit.staff"}


def test_dispatch_ids_are_checked_against_the_county_and_the_scope(app, db, county, login, people):
    other = load_tenant(app)  # another county, its own 东湖司法所
    town = login(county, "donghu.admin")
    case = petition(town, county, [person(town, county)])
    url = f"/api/cases/{case['id']}/divert"

    def divert(*tasks, mode="single"):
        return town.post(url, json={"mode": mode, "tasks": list(tasks)})

    foreign = member_unit(db, other, "东湖司法所")
    assert field_of(divert({"member_unit_id": foreign})) == (404, "member_unit_not_found", ["tasks.0.member_unit_id"])
    qingshan = member_unit(db, county, "青山司法所")  # another township's centre: outside 东湖镇's scope
    assert field_of(divert({"member_unit_id": qingshan})) == (404, "member_unit_not_found", ["tasks.0.member_unit_id"])
    assert field_of(divert({"member_unit_id": people["sfs"], "org_unit_id": county.unit("T01D1V1")}))[:2] == \
        (422, "unknown_member_unit")
    assert field_of(divert({"org_unit_id": 987654321})) == (422, "unknown_unit", ["tasks.0.org_unit_id"])
    assert field_of(divert({"instruction": "没有单位"})) == (422, "required", ["tasks.0.org_unit_id"])
    # a member unit nobody staffs yet could never sign for it: refused at its field, and the page's
    # select shows it but does not offer it
    land = member_unit(db, county, "东湖镇国土所")
    assert field_of(divert({"member_unit_id": land})) == (422, "member_unit_unstaffed", ["tasks.0.member_unit_id"])
    page = town.get(f"/cases/{case['id']}").get_data(as_text=True)
    assert re.search(rf'<option value="m{land}"[^>]* disabled>东湖镇国土所（东湖镇）（尚无工作人员，不能交办）', page)
    assert divert({"member_unit_id": "abc"}).status_code == 422
    assert field_of(divert({"member_unit_id": people["sfs"]}, {"member_unit_id": people["sfs"]}, mode="add"))[:2] == \
        (409, "no_lead_task")
    ok = divert({"member_unit_id": people["sfs"]})
    assert ok.status_code == 200, ok.get_json()
    task = ok.get_json()["tasks"][0]
    # another county's user, another township's user: the case does not exist for them
    stranger = login(other, "county.admin")
    assert stranger.post(f"/api/cases/{case['id']}/tasks/{task['id']}", json={"action": "acknowledge"}).status_code == 404
    assert stranger.post(f"/api/cases/{case['id']}/follow-ups", json={"satisfaction": "satisfied"}).status_code == 404
    grant(db, county, "qingshan.admin", PETITION_WORK, "T02", "petition_township_t")
    qs = login(county, "qingshan.admin")
    assert qs.post(f"/api/cases/{case['id']}/tasks/{task['id']}", json={"action": "acknowledge"}).status_code == 404
    assert qs.post(url, json={"mode": "single", "tasks": [{"member_unit_id": qingshan}]}).status_code == 404
    # a follow-up before any answer, and of a task that was not answered
    assert field_of(town.post(f"/api/cases/{case['id']}/follow-ups", json={"satisfaction": "satisfied"}))[:2] == \
        (409, "not_answered")
    assert field_of(town.post(f"/api/cases/{case['id']}/follow-ups",
                              json={"satisfaction": "satisfied", "task_id": task["id"]})) == (422, "unknown_task", ["task_id"])
    # a member unit dispatched to is deactivated, not deleted
    page = town.get("/admin/member-units").get_data(as_text=True)
    r = town.post(f"/admin/member-units/{people['sfs']}", data={"csrf_token": csrf(page), "action": "delete"})
    assert r.status_code == 409
    # the staff picker offers only the seat unit's own users
    with db.transaction(county.id) as s:
        cadre = s.scalar(select(User.id).where(User.username == "village.cadre"))
    r = town.post(f"/admin/member-units/{people['sfs']}", data={"csrf_token": csrf(page), "action": "staff",
                                                                 "staff": [str(cadre)]})
    assert r.status_code == 404


def test_the_county_sets_the_acknowledgement_limit(app, db, county, login, people):
    admin = login(county, "county.admin")
    r = admin.put(f"/api/case-types/{KEY}/settings", json={"settings": {"acknowledge_limit": {"amount": 4, "unit": "hours"}}})
    assert r.status_code == 200, r.get_json()
    bad = admin.put(f"/api/case-types/{KEY}/settings", json={"settings": {"acknowledge_limit": {"amount": 0, "unit": "hours"}}})
    assert bad.status_code == 422
    with time_machine.travel(MONDAY, tick=False):
        town = login(county, "donghu.admin")
        case = petition(town, county, [person(town, county)])
        r = town.post(f"/api/cases/{case['id']}/divert", json={"mode": "single", "tasks": [{"member_unit_id": people["sfs"]}]})
        assert r.status_code == 200, r.get_json()
        task = r.get_json()["tasks"][0]
        assert task["acknowledge_due_at"] == "2026-03-02T05:00:00+00:00"  # 13:00 Beijing time
        assert [d["rule"] for d in task["limits"]] == ["objection"]  # the acknowledgement is not a case limit
        assert r.get_json()["due_at"] != task["acknowledge_due_at"]


def test_the_case_page_forms_dispatch_to_a_member_unit_and_follow_up(app, db, county, login, people):
    """The same through the case page's forms (no script): pickers, never typed ids."""
    town = login(county, "donghu.admin")
    case = petition(town, county, [person(town, county)])
    page = town.get(f"/cases/{case['id']}").get_data(as_text=True)
    assert f'value="m{people["sfs"]}"' in page and "东湖司法所（东湖镇）" in page
    missing = town.post(f"/cases/{case['id']}/divert", data={"csrf_token": csrf(page), "mode": "joint",
                                                              "target": f"m{people['sfs']}"})
    assert missing.status_code == 422 and "请至少选择一个协办单位" in missing.get_data(as_text=True)
    village = county.unit("T01D1V1")
    no_lead = town.post(f"/cases/{case['id']}/divert", data={"csrf_token": csrf(page), "mode": "joint",
                                                              "co": [f"u{village}"], "instruction": "请依法调处"})
    kept = no_lead.get_data(as_text=True)  # refused at the lead's picker; the co-unit chosen stays chosen
    assert no_lead.status_code == 422 and "请选择承办单位" in kept
    assert re.search(rf'id="divert-co".*?value="u{village}" selected', kept, re.S)
    r = town.post(f"/cases/{case['id']}/divert", data={"csrf_token": csrf(page), "mode": "joint",
                                                        "target": f"m{people['sfs']}", "co": [f"u{county.unit('T01D1V1')}"],
                                                        "instruction": "请依法调处"})
    assert r.status_code == 302, r.get_data(as_text=True)[:300]
    tasks = town.get(f"/api/cases/{case['id']}").get_json()["tasks"]
    lead = next(t for t in tasks if t["role"] == "lead")
    li = login(county, "sfs.li")
    page = li.get(f"/cases/{case['id']}").get_data(as_text=True)
    assert f'id="task-{lead["id"]}-acknowledge"' in page
    co = next(t for t in tasks if t["role"] == "co")
    assert f'id="task-{co["id"]}"' not in page  # the village's task is not the 司法所's to act on
    r = li.post(f"/cases/{case['id']}/tasks/{lead['id']}", data={"csrf_token": csrf(page), "action": "acknowledge"})
    assert r.status_code == 302
    page = li.get(r.headers["Location"]).get_data(as_text=True)
    assert "已完成：" in page and "签收" in page
    refused = li.post(f"/cases/{case['id']}/tasks/{lead['id']}", data={"csrf_token": csrf(page), "action": "done"})
    assert refused.status_code == 422 and "请填写办结答复" in refused.get_data(as_text=True)
    r = li.post(f"/cases/{case['id']}/tasks/{lead['id']}", data={"csrf_token": csrf(page), "action": "done",
                                                                   "text": "已调解结案"})
    assert r.status_code == 302
    page = town.get(f"/cases/{case['id']}").get_data(as_text=True)
    assert 'id="follow-up"' in page
    refused = town.post(f"/cases/{case['id']}/follow-up", data={"csrf_token": csrf(page), "note": "未选"})
    assert refused.status_code == 422 and re.search(r"请选择回访结果", refused.get_data(as_text=True))
    r = town.post(f"/cases/{case['id']}/follow-up", data={"csrf_token": csrf(page), "satisfaction": "satisfied",
                                                           "note": "电话回访，表示满意"})
    assert r.status_code == 302
    assert town.get(f"/api/cases/{case['id']}").get_json()["follow_ups"][0]["satisfaction"] == "satisfied"


def test_the_demo_countys_justice_office_has_staff_who_sign_for_its_tasks(app, db, county, login):
    """tenant.toml's ``member_unit`` (docs/tenants.md): the demo's donghu.justice is on 东湖司法所's
    staff, so a task dispatched there can be signed for at once; a unit's to-dos go to its own
    users, not to the member units' staff seated with it (ORG-3)."""
    from core.notifications import users_of_unit
    sfs = member_unit(db, county, "东湖司法所")
    with db.transaction(county.id) as s:
        justice = s.scalar(select(User).where(User.username == "donghu.justice"))
        assert justice.member_unit_id == sfs and justice.org_unit_id == county.unit("T01")
        assert justice.id not in users_of_unit(s, county.unit("T01"))
    grant(db, county, "donghu.admin", PETITION_WORK, "T01", "petition_township_t")
    town = login(county, "donghu.admin")
    case = petition(town, county, [person(town, county)], form="visit")
    r = town.post(f"/api/cases/{case['id']}/divert", json={"mode": "single", "tasks": [
        {"member_unit_id": sfs, "instruction": "请依法调处"}]})
    assert r.status_code == 200, r.get_json()
    task = r.get_json()["tasks"][0]["id"]
    staff = login(county, "donghu.justice")
    r = staff.post(f"/api/cases/{case['id']}/tasks/{task}", json={"action": "acknowledge"})
    assert r.status_code == 200, r.get_json()


def test_an_acknowledgement_limit_over_an_unpublished_year_is_counted_again(app, db, county, login, people):
    """An acknowledgement limit running into a year whose holidays were not published is counted
    again when they are (``core.cases.recompute``), like a case's own limits."""
    from core.cases import recompute
    from core.cases.models import CaseTask
    from core.workdays import WorkCalendar
    import chinese_calendar
    last = max(d.year for d in chinese_calendar.holidays)
    dispatched = dt.datetime(last, 12, 31, 16, 0, tzinfo=SHANGHAI)  # the last working day the package knows
    with time_machine.travel(dispatched, tick=False):
        town = login(county, "donghu.admin")
        case = petition(town, county, [person(town, county)], form="visit")
        r = town.post(f"/api/cases/{case['id']}/divert", json={"mode": "single", "tasks": [
            {"member_unit_id": people["sfs"], "instruction": "请依法调处"}]})
        assert r.status_code == 200, r.get_json()
        task_id = r.get_json()["tasks"][0]["id"]
        with db.transaction(county.id) as s:
            before = s.scalar(select(CaseTask.acknowledge_due_at).where(CaseTask.id == task_id))
        # the county declares the first three weekdays of the next January holidays
        weekdays = [d for d in (dt.date(last + 1, 1, 1) + dt.timedelta(days=i) for i in range(10)) if d.weekday() < 5]
        cal = WorkCalendar(overrides={d: False for d in weekdays[:3]}, declared_years=frozenset({last + 1}))
        state = pingan(app)
        with db.transaction(county.id) as s:
            result = recompute.run(s, state.plugins, state.plugins.enabled(s, county.id), cal=cal)
            after = s.scalar(select(CaseTask.acknowledge_due_at).where(CaseTask.id == task_id))
        def last_day(due):  # a limit ending at 24:00 is that day (core.timefmt)
            return (due.astimezone(SHANGHAI) - dt.timedelta(seconds=1)).date()
        assert last_day(before) <= weekdays[0], before  # provisional: the plain week
        assert last_day(after) == weekdays[3], (before, after, result)
        assert result.moved >= 1
