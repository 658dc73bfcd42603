"""Issue 19 (joint mechanisms, plugins/joint): the county's mechanisms and their live work
(JNT-1), joint meetings whose decisions become tasks through the core's dispatch (JNT-2,
INT-4), attendance by member unit. One county for the module (built once: speed)."""
from __future__ import annotations

import datetime as dt
import re
import types

import pytest
import time_machine
from sqlalchemy import select

from core.models import MemberUnit
from core.workdays import SHANGHAI
from tests.casework import act, grant, register
from core.testing import signed_in
from tests.conftest import load_tenant

MONDAY = dt.datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI)   # an ordinary working week
JOINT_WORK = ["joint.read", "joint.manage", "core.case.read", "core.case.register", "core.case.divert",
              "core.member_unit.read", "core.case.supervise", "visits.visit.handle"]


MECHANISMS = [{"key": "visit_care", "title": "走访联动", "lead": "judicial_office",
               "members": ["police_station", "judicial_office"], "case_types": ["visits.visit"]},
              {"key": "joint_defence", "title": "治安联防", "case_types": []}]


@pytest.fixture(scope="module")
def world(app):
    from core.app import pingan
    from tests.conftest import Client, make_token
    db = pingan(app).db
    county = load_tenant(app)

    def client(user):
        return Client(app, county.host, {"Authorization": f"Bearer {make_token(app, county, user)}"})
    admin = client("county.admin")
    for name, settings in (("visits", None), ("joint", {"mechanisms": MECHANISMS})):
        body = {"enabled": True} | ({"settings": settings} if settings else {})
        r = admin.put(f"/api/modules/{name}", json=body)
        assert r.status_code == 200, r.get_json()
    grant(db, county, "donghu.admin", JOINT_WORK, "T01", "joint_township_t")
    grant(db, county, "qingshan.admin", JOINT_WORK, "T02", "joint_township_t")
    grant(db, county, "village.cadre", ["joint.read"], "T01D1V1", "joint_village_t")
    with db.transaction(county.id) as s:
        members = dict(s.execute(select(MemberUnit.name, MemberUnit.id)).all())
    return types.SimpleNamespace(county=county, admin=admin, town=client("donghu.admin"),
                                 other_town=client("qingshan.admin"), cadre=client("village.cadre"),
                                 members=members)


def meeting(w, case_ids=(), held_on="2026-03-02", client=None, unit="T01", kind="township_joint") -> dict:
    r = (client or w.town).post("/api/joint/meetings", json={
        "org_unit_id": w.county.unit(unit), "kind": kind, "held_on": held_on, "convener": "张镇长",
        "case_ids": list(case_ids)})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def test_the_settings_are_real_controls_and_a_mechanism_page_lists_its_live_cases(world):
    """JNT-1: the county's mechanisms with lead and member units (kinds of member unit), case types."""
    w = world
    form = w.admin.get("/admin/modules/joint").get_data(as_text=True)
    # lead and members are selects / check boxes of the county's member-unit kinds, case types by title
    assert "牵头成员单位" in form and "judicial_office" in form and "走访请求" in form
    bad = w.admin.put("/api/modules/joint", json={"enabled": True, "settings": {"mechanisms": [
        {"key": "a", "title": "甲"}, {"key": "a", "title": "乙"}]}})
    assert bad.status_code == 422 and "mechanisms" in bad.get_json()["errors"]["json"]["settings"]
    with time_machine.travel(MONDAY, tick=False):
        case = register(w.town, w.county.unit("T01D1V1"), title="独居老人走访")
    mechs = {m["key"]: m for m in w.town.get("/api/joint/mechanisms").get_json()}
    assert mechs["visit_care"]["figures"]["open"] >= 1 and mechs["joint_defence"]["figures"]["open"] == 0
    one = w.town.get("/api/joint/mechanisms/visit_care").get_json()
    assert case["id"] in [c["id"] for c in one["cases"]]
    page = w.town.get("/joint/mechanisms/visit_care").get_data(as_text=True)
    assert "走访联动" in page and "独居老人走访" in page and "visit_care" not in page.split("<main")[1].replace(
        'href="/joint/mechanisms/visit_care"', "")
    # the figures move with the work: a case registered is open, one closed counts this month
    with time_machine.travel(MONDAY + dt.timedelta(days=1), tick=False):
        base = w.town.get("/api/joint/mechanisms/visit_care").get_json()["figures"]
        done = register(w.town, w.county.unit("T01D1V1"), title="已走访的独居老人")
        assert act(w.town, done["id"], "accept").status_code == 200
        assert act(w.town, done["id"], "close", {"result": "已上门走访"}).status_code == 200
        register(w.town, w.county.unit("T01D1V1"), title="待走访的独居老人")
        now = w.town.get("/api/joint/mechanisms/visit_care").get_json()
        assert now["figures"]["open"] == base["open"] + 1
        assert now["figures"]["closed_this_month"] == base["closed_this_month"] + 1
    with time_machine.travel(MONDAY + dt.timedelta(days=40), tick=False):   # April: past every 5-day limit
        now = w.town.get("/api/joint/mechanisms/visit_care").get_json()
        assert now["figures"]["closed_this_month"] == 0 and now["figures"]["overdue"] >= 2
        # the most urgent first, cases without a limit last
        dues = [c["due_at"] for c in now["cases"]]
        assert dues == sorted(d for d in dues if d) + [d for d in dues if not d]
    # another township's user does not see 东湖's case; an unknown mechanism is 404
    other = w.other_town.get("/api/joint/mechanisms/visit_care").get_json()
    assert case["id"] not in [c["id"] for c in other["cases"]]
    assert w.town.get("/api/joint/mechanisms/nope").status_code == 404


def _indicator(app, w, key: str, unit: str, start: dt.date, end: dt.date) -> float:
    """The county's indicator ``key`` — the module's own or one its settings make — computed as
    the scoring module's jobs compute it (outside a request)."""
    from core.app import pingan
    from core.jobs import bind_state
    from core.sdk import bind_tenant, county_indicators
    bind_state(pingan(app))
    with bind_tenant(w.county.id), pingan(app).db.transaction(w.county.id) as s:
        return county_indicators(s)[key].compute(s, w.county.unit(unit), start, end)


def test_a_decision_to_a_lead_and_two_co_units_creates_three_tasks_and_stays_on_the_agenda_until_done(app, world):
    """JNT-2: each decision becomes work — the core's dispatch, one task per unit with the deadline;
    the next meeting's agenda starts with it until the lead closes it."""
    # rule: JNT-2
    w = world
    with time_machine.travel(MONDAY, tick=False):
        case = register(w.town, w.county.unit("T01D1V1"), title="独居老人需要联合走访")
        first = meeting(w, [case["id"]])
        assert [a["case_id"] for a in first["agenda"]] == [case["id"]]
        r = w.town.post(f"/api/joint/meetings/{first['id']}/decisions", json={
            "case_id": case["id"], "text": "村里牵头上门，司法所、派出所配合", "deadline": "2026-03-13",
            "lead": {"org_unit_id": w.county.unit("T01D1V1")},
            "co": [{"member_unit_id": w.members["东湖司法所"]}, {"org_unit_id": w.county.unit("T01D1V2")}]})
        assert r.status_code == 201, r.get_json()
        decision = r.get_json()
        tasks = w.town.get(f"/api/cases/{case['id']}").get_json()["tasks"]
        assert len(tasks) == 3 and sorted(t["role"] for t in tasks) == ["co", "co", "lead"]
        # the deadline's day ends at 24:00 Beijing time: 2026-03-13 16:00 UTC, on every task
        assert {t["due_at"] for t in tasks} == {"2026-03-13T16:00:00+00:00"}
        assert {t["unit"] for t in decision["tasks"]} == {"罗塘村", "东湖司法所", "郭岭村"}
        assert decision["state"] == "open"
        # JNT-1: the mechanism's page shows the tasks handed out on its cases and the meeting
        mech = w.town.get("/api/joint/mechanisms/visit_care").get_json()
        assert {t["unit"] for t in mech["tasks"]["items"] if t["case_id"] == case["id"]} == {"罗塘村", "东湖司法所", "郭岭村"}
        assert mech["tasks"]["open"] >= 3 and first["id"] in [m["id"] for m in mech["meetings"]]
        page = w.town.get("/joint/mechanisms/visit_care").get_data(as_text=True)
        assert "东湖司法所（协办）" in page and first["title"] in page.split('id="mechanism-meetings"')[1]
        minutes = _pdf_text(w.town.get(f"/api/joint/meetings/{first['id']}/minutes.pdf"))
        assert "2026年3月2日" in minutes and "独居老人需要联合走访" in minutes
        assert "村里牵头上门，司法所、派出所配合。由罗塘村牵头" in minutes and "2026年3月13日前办结" in minutes
        # a deadline not after today is refused at its field
        past = w.town.post(f"/api/joint/meetings/{first['id']}/decisions", json={
            "case_id": case["id"], "text": "x", "deadline": "2026-03-02", "lead": {"org_unit_id": w.county.unit("T01")}})
        assert past.status_code == 422 and past.get_json()["errors"]["json"] == {"deadline": ["办结期限须晚于今天"]}
        # a case of another township is not this meeting's to decide (404 at the field)
        foreign = register(w.other_town, w.county.unit("T02"), title="青山的事项")
        out = w.town.post(f"/api/joint/meetings/{first['id']}/decisions", json={
            "case_id": foreign["id"], "text": "x", "deadline": "2026-03-13", "lead": {"org_unit_id": w.county.unit("T01")}})
        assert out.status_code == 404 and "case_id" in out.get_json()["errors"]["json"]
    with time_machine.travel(MONDAY + dt.timedelta(days=7), tick=False):
        second = meeting(w, held_on="2026-03-09")
        assert [d["id"] for d in second["carried"]] == [decision["id"]]
        page = w.town.get(f"/joint/meetings/{second['id']}").get_data(as_text=True)
        assert "独居老人需要联合走访" in page.split('id="meeting-carried"')[1].split("</table>")[0]
        # the lead (罗塘村) closes its task: the decision leaves the next agenda
        lead = next(t for t in decision["tasks"] if t["role"] == "lead")
        done = w.cadre.post(f"/api/cases/{case['id']}/tasks/{lead['id']}", json={"action": "done", "text": "已上门走访"})
        assert done.status_code == 200, done.get_json()
        third = meeting(w, held_on="2026-03-16")
        assert third["carried"] == []
        assert w.town.get(f"/api/joint/meetings/{first['id']}").get_json()["decisions"][0]["state"] == "done"
    # SCO-7: the indicators — meetings held, decisions done on time (the lead within its limit)
    march = (dt.date(2026, 3, 1), dt.date(2026, 4, 1))
    assert _indicator(app, w, "joint.meetings.held", "T01", *march) == 3.0
    assert _indicator(app, w, "joint.meetings.held", "T02", *march) == 0.0
    assert _indicator(app, w, "joint.decisions.on_time", "T01", *march) == 100.0
    assert _indicator(app, w, "joint.decisions.on_time", "T01", dt.date(2026, 4, 1), dt.date(2026, 5, 1)) is None  # none fell due


def test_a_decision_may_supervise_a_case_or_raise_a_new_matter_at_the_window(app, world):
    """JNT-2: a decision becomes work of three kinds — besides a hand-over, the core's 督办 of a
    case (its reply due on the deadline; the decision open until the unit answers) and a new
    matter registered at the convening unit's window (open until sorted into a case and closed)."""
    # rule: JNT-2
    w = world
    with time_machine.travel(MONDAY + dt.timedelta(days=28), tick=False):   # 2026-03-30
        case = register(w.town, w.county.unit("T01D1V1"), title="村道路灯长期不亮")
        first = meeting(w, [case["id"]], held_on="2026-03-30")
        r = w.town.post(f"/api/joint/meetings/{first['id']}/decisions", json={
            "kind": "supervise", "case_id": case["id"], "text": "限期修复路灯", "deadline": "2026-04-03",
            "level": "listed"})
        assert r.status_code == 201, r.get_json()
        sup = r.get_json()
        assert (sup["kind"], sup["state"], sup["state_title"], sup["supervised_unit"]) == (
            "supervise", "open", "督办中", "罗塘村")
        held = w.town.get(f"/api/cases/{case['id']}").get_json()["supervisions"]
        assert [(x["level"], x["due_at"]) for x in held] == [("listed", "2026-04-03T16:00:00+00:00")]
        # a supervision needs its case and a deadline after today, each refused at its field
        for body, field in (({"text": "x", "deadline": "2026-04-03"}, "case_id"),
                            ({"case_id": case["id"], "text": "x", "deadline": "2026-03-30"}, "deadline"),
                            ({"case_id": case["id"], "text": "x"}, "deadline")):
            bad = w.town.post(f"/api/joint/meetings/{first['id']}/decisions", json={"kind": "supervise", **body})
            assert bad.status_code == 422 and list(bad.get_json()["errors"]["json"]) == [field], bad.get_json()
        # a new matter: registered at 东湖's window, pending there
        r = w.town.post(f"/api/joint/meetings/{first['id']}/decisions", json={
            "kind": "new_matter", "subject": "集市占道经营", "text": "由综治中心登记，分流到相关单位"})
        assert r.status_code == 201, r.get_json()
        matter = r.get_json()
        assert (matter["state"], matter["state_title"], matter["case_title"]) == ("pending", "待分流", "集市占道经营")
        intake = w.town.get(f"/api/intake/{matter['intake_id']}").get_json()
        assert intake["org_unit_id"] == w.county.unit("T01") and intake["subject"] == "集市占道经营"
        assert "决定：由综治中心登记" in intake["content"]
        nameless = w.town.post(f"/api/joint/meetings/{first['id']}/decisions", json={"kind": "new_matter", "text": "x"})
        assert nameless.status_code == 422 and list(nameless.get_json()["errors"]["json"]) == ["subject"]
        minutes = _pdf_text(w.town.get(f"/api/joint/meetings/{first['id']}/minutes.pdf"))
        assert "对罗塘村挂牌督办，2026年4月3日前答复" in minutes and "登记到东湖镇统一受理窗口分流办理" in minutes
    with time_machine.travel(MONDAY + dt.timedelta(days=35), tick=False):   # 2026-04-06
        second = meeting(w, held_on="2026-04-06")
        assert {d["kind"] for d in second["carried"]} == {"supervise", "new_matter"}
        # late, the supervision was escalated to the top of the tree (the core's sweep clears its reply
        # limit there): still late by the meeting's deadline for the indicator below
        from core.app import pingan
        from core.sdk import Supervision
        with pingan(app).db.transaction(w.county.id) as s:
            s.get(Supervision, (w.county.id, sup["supervision_id"])).due_at = None
        # the village answers the supervision; the window sorts the matter into a case
        answered = w.cadre.post(f"/api/cases/{case['id']}/supervisions/{sup['supervision_id']}/reply",
                                json={"response": "已更换灯泡"})
        assert answered.status_code == 200, answered.get_json()
        sorted_ = w.town.post(f"/api/intake/{matter['intake_id']}/sort", json={
            "case_type": "visits.visit", "details": {"visit_kind": "home"}})
        assert sorted_.status_code in (200, 201), sorted_.get_json()
        third = meeting(w, held_on="2026-04-06")
        assert [d["kind"] for d in third["carried"]] == ["new_matter"]   # its case is open
        now = {d["kind"]: d for d in w.town.get(f"/api/joint/meetings/{first['id']}").get_json()["decisions"]}
        assert now["supervise"]["state_title"] == "已答复"
        assert now["new_matter"]["state"] == "registered" and now["new_matter"]["case_number"]
        page = w.town.get(f"/joint/meetings/{first['id']}").get_data(as_text=True)
        assert "【督办（挂牌）】限期修复路灯" in page and "【立为新事项】" in page and "已立案" in page
        # the matter's case handed over at a later meeting: that decision replaces the new matter
        handed = w.town.post(f"/api/joint/meetings/{third['id']}/decisions", json={
            "case_id": now["new_matter"]["case_id"], "text": "由罗塘村办理", "deadline": "2026-04-10",
            "lead": {"org_unit_id": w.county.unit("T01D1V1")}})
        assert handed.status_code == 201, handed.get_json()
        # a hand-over, then a supervision of the same case, answered: the hand-over, still open, stays
        other = register(w.town, w.county.unit("T01D1V1"), title="村口积水")
        for body in ({"case_id": other["id"], "text": "清理排水沟", "deadline": "2026-04-10",
                      "lead": {"org_unit_id": w.county.unit("T01D1V1")}},
                     {"kind": "supervise", "case_id": other["id"], "text": "抓紧", "deadline": "2026-04-08"}):
            r = w.town.post(f"/api/joint/meetings/{third['id']}/decisions", json=body)
            assert r.status_code == 201, r.get_json()
        assert w.cadre.post(f"/api/cases/{other['id']}/supervisions/{r.get_json()['supervision_id']}/reply",
                            json={"response": "正在清理"}).status_code == 200
        # a supervision of a case then closed (not accepted): over, not carried
        gone = register(w.town, w.county.unit("T01D1V1"), title="重复反映的事项")
        r = w.town.post(f"/api/joint/meetings/{third['id']}/decisions", json={
            "kind": "supervise", "case_id": gone["id"], "text": "核实", "deadline": "2026-04-09"})
        assert r.status_code == 201, r.get_json()
        assert act(w.town, gone["id"], "reject", {"note": "重复登记"}).status_code == 200
        fourth = meeting(w, held_on="2026-04-06")
        carried = {(d["kind"], d["case_title"]) for d in fourth["carried"]}
        assert carried == {("dispatch", "集市占道经营"), ("dispatch", "村口积水")}, carried
        gone_state = next(d for d in w.town.get(f"/api/joint/meetings/{third['id']}").get_json()["decisions"]
                          if d["case_id"] == gone["id"])
        assert (gone_state["state"], gone_state["state_title"]) == ("closed", "已结束")
    # SCO-7: of April's five decisions with a deadline, one done on time — the supervision of 村口积水,
    # answered on the 6th for the 8th. Late or not done: the supervision due on the 3rd answered on the
    # 6th (escalated meanwhile), the two hand-overs still open, the supervision of the rejected case
    # (a new matter has no deadline of the meeting's and is not counted)
    assert _indicator(app, w, "joint.decisions.on_time", "T01", dt.date(2026, 4, 1), dt.date(2026, 5, 1)) == 20.0


def test_the_meeting_page_decides_a_supervision_and_a_new_matter_refusing_at_the_field(app, world):
    w = world
    with time_machine.travel(MONDAY, tick=False):
        case = register(w.town, w.county.unit("T01D1V2"), title="河道垃圾堆放")
        m = meeting(w, [case["id"]], held_on="2026-03-02")
        town = signed_in(app, w.county, "donghu.admin")
        page = town.get(f"/joint/meetings/{m['id']}").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        assert 'id="sup"' in page and 'id="mat"' in page and "挂牌督办" in page
        r = town.post(f"/joint/meetings/{m['id']}/supervision", data={
            "csrf_token": token, "case_id": str(case["id"]), "text": "三天内清理", "deadline": "2026-03-02"})
        body = r.get_data(as_text=True)
        assert r.status_code == 422 and "答复期限须晚于今天" in body and "三天内清理" in body
        assert 'id="sup.deadline-error"' in body
        r = town.post(f"/joint/meetings/{m['id']}/supervision", data={
            "csrf_token": token, "case_id": str(case["id"]), "text": "三天内清理", "deadline": "2026-03-05"})
        assert r.status_code == 302, r.get_data(as_text=True)[:500]
        r = town.post(f"/joint/meetings/{m['id']}/matter", data={"csrf_token": token, "text": "先摸排"})
        body = r.get_data(as_text=True)
        assert r.status_code == 422 and 'id="mat.subject-error"' in body and "先摸排" in body
        r = town.post(f"/joint/meetings/{m['id']}/matter", data={"csrf_token": token, "subject": "渣土车夜间扰民",
                                                                 "text": "先摸排"})
        assert r.status_code == 302
    decisions = w.town.get(f"/api/joint/meetings/{m['id']}").get_json()["decisions"]
    assert [(d["kind"], d["state"]) for d in decisions] == [("supervise", "open"), ("new_matter", "pending")]


def test_matters_pending_at_the_window_go_on_the_agenda_and_show_what_became_of_them(app, world):
    """INT-4: the sorting meeting's agenda takes the matters left at the windows of the unit's
    subtree (picked from a list), each shown with the window's outcome and, once sorted, its case."""
    # rule: INT-4
    w = world
    with time_machine.travel(MONDAY + dt.timedelta(days=42), tick=False):   # 2026-04-13
        body = {"channel": "visit", "content": "村民反映", "persons": []}
        mine = w.town.post("/api/intake", json={**body, "org_unit_id": w.county.unit("T01"), "subject": "广场舞噪音"})
        assert mine.status_code == 201, mine.get_json()
        mine = mine.get_json()
        theirs = w.other_town.post("/api/intake", json={**body, "org_unit_id": w.county.unit("T02"),
                                                         "subject": "青山的来访"}).get_json()
        town = signed_in(app, w.county, "donghu.admin")
        new = town.get("/joint/meetings/new").get_data(as_text=True)
        assert 'name="intake_ids"' in new and "广场舞噪音" in new and "青山的来访" not in new
        m = meeting(w, held_on="2026-04-13")
        r = w.town.post(f"/api/joint/meetings/{m['id']}/agenda", json={"intake_ids": [theirs["id"]]})
        assert r.status_code == 404 and list(r.get_json()["errors"]["json"]) == ["intake_ids"]
        r = w.town.post(f"/api/joint/meetings/{m['id']}/agenda", json={})
        assert r.status_code == 422 and list(r.get_json()["errors"]["json"]) == ["case_ids"]
        r = w.town.post(f"/api/joint/meetings/{m['id']}/agenda", json={"intake_ids": [mine["id"], mine["id"]]})
        assert r.status_code in (200, 201), r.get_json()
        agenda = w.town.get(f"/api/joint/meetings/{m['id']}").get_json()["agenda"]
        assert [(a["intake_id"], a["title"], a["intake_state_title"], a["case_id"]) for a in agenda] == [
            (mine["id"], "广场舞噪音", "待分流", None)]
        page = town.get(f"/joint/meetings/{m['id']}").get_data(as_text=True)
        assert f'href="/intake/{mine["id"]}"' in page and "去分流" in page
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        r = town.post(f"/joint/meetings/{m['id']}/agenda", data={"csrf_token": token, "intake_ids": str(theirs["id"])})
        body = r.get_data(as_text=True)
        assert r.status_code == 422 and 'id="agd.intake_ids-error"' in body and "<details open>" in body
        assert "统一受理待分流事项" in _pdf_text(w.town.get(f"/api/joint/meetings/{m['id']}/minutes.pdf"))
        # the meeting sorts it (the core's sort): the agenda shows its case; it leaves the choices
        sorted_ = w.town.post(f"/api/intake/{mine['id']}/sort", json={"case_type": "visits.visit",
                                                                      "details": {"visit_kind": "home"}})
        assert sorted_.status_code == 200, sorted_.get_json()
        agenda = w.town.get(f"/api/joint/meetings/{m['id']}").get_json()["agenda"]
        assert agenda[0]["intake_state_title"] == "已立案" and agenda[0]["case_id"] == sorted_.get_json()["case_id"]
        # deciding on that case now: it is on the agenda once, through the matter
        r = w.town.post(f"/api/joint/meetings/{m['id']}/decisions", json={
            "case_id": agenda[0]["case_id"], "text": "居委会协调", "deadline": "2026-04-20",
            "lead": {"org_unit_id": w.county.unit("T01D1V1")}})
        assert r.status_code == 201, r.get_json()
        assert len(w.town.get(f"/api/joint/meetings/{m['id']}").get_json()["agenda"]) == 1
        assert "广场舞噪音（" not in town.get("/joint/meetings/new").get_data(as_text=True)
        r = w.town.post("/api/joint/meetings", json={"org_unit_id": w.county.unit("T01"), "kind": "township_joint",
                                                     "held_on": "2026-04-13", "convener": "张镇长",
                                                     "intake_ids": [mine["id"]]})
        assert r.status_code == 404 and list(r.get_json()["errors"]["json"]) == ["intake_ids"]   # sorted already


def test_absence_without_a_reason_is_refused_and_attendance_figures_per_member_unit_are_right(world):
    """JNT-2: attendance by member unit; absent needs a reason, a substitute a name."""
    # rule: JNT-2
    w = world
    sfs, pcs, xf = w.members["东湖司法所"], w.members["东湖派出所"], w.members["东湖镇信访办"]
    with time_machine.travel(MONDAY, tick=False):
        a, b = meeting(w, held_on="2025-06-02"), meeting(w, held_on="2025-06-09")

    def attend(m, member, status, **extra):
        return w.town.post(f"/api/joint/meetings/{m['id']}/attendance",
                           json={"member_unit_id": member, "status": status, **extra})
    refused = attend(a, sfs, "absent")
    assert refused.status_code == 422 and refused.get_json()["code"] == "reason_required"
    assert refused.get_json()["errors"]["json"] == {"reason": ["缺席须填写原因"]}
    assert attend(a, sfs, "substitute").get_json()["code"] == "substitute_required"
    assert attend(a, sfs, "absent", reason="参加县里培训").status_code == 200
    assert attend(a, pcs, "present").status_code == 200
    assert attend(a, xf, "substitute", substitute="李干事").status_code == 200
    assert attend(b, sfs, "present").status_code == 200
    assert attend(b, pcs, "absent", reason="出警").status_code == 200
    assert attend(b, pcs, "present").status_code == 200           # corrected: one row per unit and meeting
    # a member unit of another township is not this centre's (404 at the field)
    qs = w.members["青山司法所"]
    out = attend(a, qs, "present")
    assert out.status_code == 404 and "member_unit_id" in out.get_json()["errors"]["json"]
    rows = {r["member_unit"]: r for r in w.town.get(
        f"/api/joint/attendance?org_unit_id={w.county.unit('T01')}&start=2025-06-01&end=2025-06-30").get_json()}
    assert (rows["东湖司法所"]["meetings"], rows["东湖司法所"]["present"], rows["东湖司法所"]["absent"]) == (2, 1, 1)
    assert rows["东湖司法所"]["rate"] == 0.5
    assert (rows["东湖派出所"]["present"], rows["东湖派出所"]["absent"], rows["东湖派出所"]["rate"]) == (2, 0, 1.0)
    assert (rows["东湖镇信访办"]["substitute"], rows["东湖镇信访办"]["rate"]) == (1, 1.0)
    assert rows["东湖人民法庭"]["meetings"] == 0 and rows["东湖人民法庭"]["rate"] is None
    assert "青山司法所" not in rows
    page = w.town.get(f"/joint/attendance?org_unit_id={w.county.unit('T01')}").get_data(as_text=True)
    assert "东湖司法所" in page and "出席率" in page
    # the 纪要 states who attended, who was absent and why, who stood in — dated the day held
    text = _pdf_text(w.town.get(f"/api/joint/meetings/{a['id']}/minutes.pdf"))
    assert "2025年6月2日" in text and "张镇长" in text and "出席单位东湖派出所" in text
    assert "东湖司法所（参加县里培训）" in text and "东湖镇信访办（李干事）" in text
    assert w.other_town.get(f"/api/joint/meetings/{a['id']}/minutes.pdf").status_code == 404


def _pdf_text(r) -> str:
    import io

    from pypdf import PdfReader
    assert r.status_code == 200 and r.mimetype == "application/pdf", r.status_code
    return "".join(p.extract_text() for p in PdfReader(io.BytesIO(r.data)).pages).replace("\n", "").replace(" ", "")


def test_the_meeting_page_refuses_an_absence_without_reason_at_the_field_keeping_what_was_typed(app, world):
    w = world
    with time_machine.travel(MONDAY, tick=False):
        m = meeting(w, held_on="2025-07-01")
    town = signed_in(app, w.county, "donghu.admin")
    page = town.get(f"/joint/meetings/{m['id']}").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    r = town.post(f"/joint/meetings/{m['id']}/attendance", data={
        "csrf_token": token, "member_unit_id": str(w.members["东湖司法所"]), "status": "absent", "substitute": "王五"})
    body = r.get_data(as_text=True)
    assert r.status_code == 422 and "缺席须填写原因" in body and 'value="王五"' in body
    assert 'id="att.reason-error"' in body
    # the decision form's pickers: member units and org units by name, never a typed id
    assert "<optgroup" in body and "东湖派出所" in body and 'name="case_id"' in body
    # the new-meeting page picks the agenda from open cases with check boxes
    new = town.get("/joint/meetings/new").get_data(as_text=True)
    assert 'type="checkbox" name="case_ids"' in new or "本单位暂无在办事项" in new
    # the plan and campaign forms: refused at the field, what was typed kept
    r = town.post("/joint/construction/", data={"csrf_token": token, "org_unit_id": str(w.county.unit("T01D1V2")),
                                                "phase": "build"})
    assert r.status_code == 422 and "目标日期" in r.get_data(as_text=True).split('id="plan-error"')[1][:200]
    with time_machine.travel(MONDAY, tick=False):
        c = w.town.post("/api/joint/campaigns", json={"org_unit_id": w.county.unit("T01"), "title": "夜市整治",
                                                      "starts_on": "2026-03-01", "ends_on": "2026-03-31"}).get_json()
        r = town.post(f"/joint/campaigns/{c['id']}/targets", data={"csrf_token": token, "deadline": "2026-03-20",
                                                                   "instruction": "限期整改"})
    body = r.get_data(as_text=True)
    assert r.status_code == 422 and "请选择单位" in body and "限期整改" in body


def test_a_campaign_target_past_its_deadline_is_supervised_at_the_listed_level(app, world):
    """JNT-3: targets with responsible units and deadlines, added and closed while the campaign
    runs; one past its deadline gets the core's listed supervision (挂牌督办), once."""
    # rule: JNT-3
    w = world
    with time_machine.travel(MONDAY, tick=False):
        r = w.town.post("/api/joint/campaigns", json={"org_unit_id": w.county.unit("T01"), "title": "校园周边网吧整治",
                                                      "focus": "学校周边200米内的网吧", "starts_on": "2026-03-01",
                                                      "ends_on": "2026-03-31"})
        assert r.status_code == 201, r.get_json()
        campaign = r.get_json()
        bad = w.town.post("/api/joint/campaigns", json={"org_unit_id": w.county.unit("T01"), "title": "x",
                                                        "starts_on": "2026-03-31", "ends_on": "2026-03-01"})
        assert bad.status_code == 422 and bad.get_json()["code"] == "ends_before_start"
        late_case = register(w.town, w.county.unit("T01D1V1"), title="罗塘小学旁网吧")
        done_case = register(w.town, w.county.unit("T01D1V1"), title="罗塘中学旁网吧")
        targets = []
        for case in (late_case, done_case):
            t = w.town.post(f"/api/joint/campaigns/{campaign['id']}/targets", json={
                "case_id": case["id"], "deadline": "2026-03-06", "lead": {"org_unit_id": w.county.unit("T01D1V1")},
                "co": [{"member_unit_id": w.members["东湖司法所"]}]})
            assert t.status_code == 201, t.get_json()
            targets.append(t.get_json())
        assert targets[0]["state"] == "open" and targets[0]["lead_unit"] == "罗塘村"
        again = w.town.post(f"/api/joint/campaigns/{campaign['id']}/targets", json={
            "case_id": late_case["id"], "deadline": "2026-03-06", "lead": {"org_unit_id": w.county.unit("T01D1V1")}})
        assert again.status_code == 409 and again.get_json()["code"] == "already_a_target"
    with time_machine.travel(MONDAY + dt.timedelta(days=1), tick=False):   # progress reports on a target
        url = f"/api/joint/campaigns/{campaign['id']}/targets/{targets[0]['id']}/reports"
        r = w.town.post(url, json={"text": "已约谈网吧业主"})   # the organiser
        assert r.status_code == 201 and r.get_json()["reported_on"] == "2026-03-03", r.get_json()
        r = w.cadre.post(url, json={"text": "村里已张贴整改通知", "reported_on": "2026-03-02"})   # the unit responsible
        assert r.status_code == 201, r.get_json()
        assert w.other_town.post(url, json={"text": "x"}).status_code == 404   # neither
        for body, field in (({"text": "x", "reported_on": "2026-03-04"}, "reported_on"),
                            ({"text": "x", "reported_on": "2026-02-27"}, "reported_on"), ({"text": " "}, "text")):
            bad = w.town.post(url, json=body)
            assert bad.status_code == 422 and list(bad.get_json()["errors"]["json"]) == [field], bad.get_json()
        got = next(t for t in w.town.get(f"/api/joint/campaigns/{campaign['id']}").get_json()["targets"]
                   if t["id"] == targets[0]["id"])
        assert [x["text"] for x in got["reports"]] == ["已约谈网吧业主", "村里已张贴整改通知"]   # latest first
        notes = [e.get("note") or "" for e in w.town.get(f"/api/cases/{late_case['id']}/events").get_json()]
        assert any("校园周边网吧整治”进展（2026-03-03）：已约谈网吧业主" in n for n in notes)
        browser = signed_in(app, w.county, "donghu.admin")
        page = browser.get(f"/joint/campaigns/{campaign['id']}").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        assert "2026-03-03：已约谈网吧业主" in page and "全部 2 次" in page
        r = browser.post(f"/joint/campaigns/{campaign['id']}/report", data={
            "csrf_token": token, "target_id": str(targets[0]["id"]), "reported_on": "2026-03-09", "text": "复查"})
        body = r.get_data(as_text=True)
        assert r.status_code == 422 and f'id="report-{targets[0]["id"]}.reported_on-error"' in body and 'value="复查"' in body
    with time_machine.travel(MONDAY + dt.timedelta(days=2), tick=False):   # rolling treatment: one closed
        closed = w.town.post(f"/api/joint/campaigns/{campaign['id']}/targets/{targets[1]['id']}/close",
                             json={"note": "网吧已搬离"})
        assert closed.status_code == 200 and closed.get_json()["state"] == "closed"
        assert w.town.post(f"/api/joint/campaigns/{campaign['id']}/targets/{targets[1]['id']}/close",
                           json={"note": "x"}).get_json()["code"] == "already_closed"
    with time_machine.travel(MONDAY + dt.timedelta(days=7), tick=False):   # 2026-03-09: past the deadline
        view = w.town.get(f"/api/joint/campaigns/{campaign['id']}").get_json()
        assert {t["id"]: t["state"] for t in view["targets"]} == {targets[0]["id"]: "overdue", targets[1]["id"]: "closed"}
        # the core's time limit made the case overdue too
        overdue = w.town.get("/api/cases?overdue=true&limit=200").get_json()["items"]
        assert late_case["id"] in [c["id"] for c in overdue]
        r = w.town.post(f"/api/joint/campaigns/{campaign['id']}/supervise")
        assert r.status_code == 200, r.get_json()
        assert [t["id"] for t in r.get_json()] == [targets[0]["id"]] and r.get_json()[0]["supervised"]
        sups = w.town.get(f"/api/cases/{late_case['id']}").get_json()["supervisions"]
        assert [(s["kind"], s["level"], s["target_unit_id"]) for s in sups] == [
            ("supervise", "listed", w.county.unit("T01D1V1"))]
        assert w.town.post(f"/api/joint/campaigns/{campaign['id']}/supervise").get_json() == []   # once
        assert w.town.get(f"/api/cases/{done_case['id']}").get_json()["supervisions"] == []
        page = w.town.get(f"/joint/campaigns/{campaign['id']}").get_data(as_text=True)
        assert "已逾期" in page and "挂牌督办" in page and "已销号" in page
    with time_machine.travel(dt.datetime(2026, 4, 2, 9, tzinfo=SHANGHAI), tick=False):   # after the window
        late = register(w.town, w.county.unit("T01D1V1"), title="新发现的网吧")
        out = w.town.post(f"/api/joint/campaigns/{campaign['id']}/targets", json={
            "case_id": late["id"], "deadline": "2026-04-20", "lead": {"org_unit_id": w.county.unit("T01D1V1")}})
        assert out.status_code == 409 and out.get_json()["code"] == "campaign_not_running"
    assert _indicator(app, world, "joint.campaign.targets_closed", "T01", dt.date(2026, 3, 1), dt.date(2026, 4, 1)) == 1.0
    assert _indicator(app, world, "joint.campaign.targets_closed", "T02", dt.date(2026, 3, 1), dt.date(2026, 4, 1)) == 0.0
    # another township cannot see the campaign
    assert w.other_town.get(f"/api/joint/campaigns/{campaign['id']}").status_code == 404


def test_the_warning_level_shows_on_the_home_page_of_every_user_of_the_county_and_only_there(app, world):
    """RPT-2: the county records the month's analysis and warning level (its own levels); every
    user of the county sees the level on the home page; another county's users do not."""
    # rule: RPT-2
    from core.app import pingan
    from tests.conftest import Client, make_token
    w = world
    db = pingan(app).db
    usernames = ["county.admin", "donghu.admin", "qingshan.admin", "village.cadre", "village.cadre2",
                 "county.viewer", "donghu.justice", "grid.worker"]
    for name in usernames:   # the county gives every user joint.read (the module's role templates do in practice)
        grant(db, w.county, name, ["joint.read"], "C", "joint_everyone_t")
    grant(db, w.county, "county.admin", ["joint.manage"], "C", "joint_county_t")
    other = load_tenant(app)
    other_admin = Client(app, other.host, {"Authorization": f"Bearer {make_token(app, other, 'county.admin')}"})
    assert other_admin.put("/api/modules/joint", json={"enabled": True}).status_code == 200
    grant(db, other, "county.admin", ["joint.read"], "C", "joint_everyone_t")
    with time_machine.travel(MONDAY, tick=False):
        # a township may not set the county's level; an unknown level is refused at its field
        town = w.town.post("/api/joint/analyses", json={"month": "2026-02", "level": "red", "analysis": "x"})
        assert town.status_code == 403 and town.get_json()["code"] == "county_only"
        bad = w.admin.post("/api/joint/analyses", json={"month": "2026-02", "level": "purple", "analysis": "x"})
        assert bad.status_code == 422 and bad.get_json()["errors"]["json"] == {"level": ["不是本县设定的预警等级"]}
        r = w.admin.post("/api/joint/analyses", json={"month": "2026-02", "level": "orange",
                                                       "analysis": "盗窃案件环比上升，春节后外出务工人员返乡"})
        assert r.status_code == 201, r.get_json()
        assert r.get_json()["level_title"] == "橙色" and "total" in r.get_json()["figures"]
        assert w.admin.post("/api/joint/analyses", json={"month": "2026-02", "level": "red", "analysis": "x"}
                            ).get_json()["code"] == "already_recorded"
        assert w.admin.post("/api/joint/analyses", json={"month": "2026-03", "level": "red",
                                                          "analysis": "两会期间"}).status_code == 201
        for name in usernames:
            home = signed_in(app, w.county, name).get("/").get_data(as_text=True)
            card = home.split('id="widget-joint.warning_level"')[1].split("</section>")[0]
            assert "红色" in card and "2026年3月" in card, name
        assert [a["month"] for a in w.town.get("/api/joint/analyses").get_json()] == ["2026-03", "2026-02"]  # history
        theirs = signed_in(app, other, "county.admin").get("/").get_data(as_text=True)
        card = theirs.split('id="widget-joint.warning_level"')[1].split("</section>")[0]
        assert "红色" not in card and "橙色" not in card
        assert other_admin.get("/api/joint/analyses").get_json() == []


def test_a_village_past_its_phase_target_date_without_acceptance_is_flagged_on_the_plan_page(world):
    """ORG-5 (seed 002): phases with target dates per unit; past the date without acceptance → flagged."""
    # rule: ORG-5
    w = world
    with time_machine.travel(MONDAY, tick=False):   # 2026-03-02

        def plan(unit, phase, day, client=None):
            return (client or w.town).post("/api/joint/construction", json={
                "org_unit_id": w.county.unit(unit), "phase": phase, "target_date": day})
        late = plan("T01D1V1", "prep", "2026-02-27")
        assert late.status_code == 201, late.get_json()
        assert plan("T01D1V1", "build", "2026-03-20").get_json()["state"] == "pending"
        ok = plan("T01D1V2", "prep", "2026-02-27").get_json()
        assert late.get_json()["state"] == "flagged"
        r = w.town.post(f"/api/joint/construction/{ok['id']}/acceptance",
                        json={"result": "passed", "checked_on": "2026-02-26", "evidence": "市综治办检查合格"})
        assert r.status_code == 200 and r.get_json()["state"] == "accepted"
        failed = w.town.post(f"/api/joint/construction/{late.get_json()['id']}/acceptance",
                             json={"result": "failed", "checked_on": "2026-03-01", "evidence": "接待室未建成"})
        assert failed.get_json()["state"] == "flagged" and failed.get_json()["result"] == "failed"
        assert plan("T01D1V1", "nope", "2026-03-20").get_json()["errors"]["json"] == {"phase": ["不是本县设定的建设阶段"]}
        out = plan("T01D1V1", "prep", "2026-03-20", client=w.other_town)
        assert out.status_code == 404 and "org_unit_id" in out.get_json()["errors"]["json"]
        progress = w.town.get(f"/api/joint/construction?org_unit_id={w.county.unit('T01')}").get_json()
        assert progress["figures"] == {"phases": 3, "accepted": 1, "flagged": 1}
        page = w.town.get("/joint/construction/").get_data(as_text=True)
        row = page.split(f'id="phase-{late.get_json()["id"]}"')[1].split("</tr>")[0]
        assert "罗塘村" in row and "前期准备" in row and "逾期未验收" in row
        assert "逾期未验收" not in page.split(f'id="phase-{ok["id"]}"')[1].split("</tr>")[0]
    with time_machine.travel(MONDAY + dt.timedelta(days=30), tick=False):   # the build phase is now late too
        assert w.town.get("/api/joint/construction").get_json()["figures"]["flagged"] == 2


def test_a_centre_records_its_director_deputies_and_the_standard_it_meets(app, world):
    """ORG-2, ORG-5: each unit's centre — its sign, director and deputies, the member units
    stationed there, and which rooms of the county's standard (a setting, per level) it has; the
    overview shows what each centre still lacks."""
    # rule: ORG-5
    w = world
    standard = [{"key": "office", "title": "综治办", "levels": ["township"]},
                {"key": "video", "title": "“雪亮”工程视频监控室", "levels": []},
                {"key": "police_room", "title": "警务室", "levels": ["village"]}]
    r = w.admin.put("/api/modules/joint", json={"enabled": True, "settings": {"centre_standard": standard,
                                                                              "mechanisms": MECHANISMS}})
    assert r.status_code == 200, r.get_json()
    try:
        town = w.county.unit("T01")
        r = w.town.put(f"/api/joint/centres/{town}", json={
            "name": "东湖镇综治中心", "director_name": "张书记", "director_post": "镇党委书记兼任",
            "deputies": [{"name": "李副镇长", "post": "分管综治"}], "facilities": ["office"]})
        assert r.status_code == 200, r.get_json()
        c = r.get_json()
        assert (c["met"], c["required"]) == (1, 2) and [f["title"] for f in c["facilities"]] == ["综治办", "“雪亮”工程视频监控室"]
        assert "东湖司法所" in [m["name"] for m in c["stationed"]]
        # a village's room is not the township's to have; an unknown key neither
        for bad in (["police_room"], ["gym"]):
            r = w.town.put(f"/api/joint/centres/{town}", json={"facilities": bad})
            assert r.status_code == 422 and list(r.get_json()["errors"]["json"]) == ["facilities"], r.get_json()
        assert w.town.get(f"/api/joint/centres/{town}").get_json()["director_name"] == "张书记"   # unchanged
        # another township's centre is not 东湖's to record; the village cadre may read, not write
        assert w.town.put(f"/api/joint/centres/{w.county.unit('T02')}", json={}).status_code == 404
        assert w.other_town.put(f"/api/joint/centres/{town}", json={}).status_code == 404
        assert w.cadre.put(f"/api/joint/centres/{w.county.unit('T01D1V1')}", json={}).status_code in (403, 404)
        o = w.town.get(f"/api/joint/centres?org_unit_id={town}").get_json()
        rows = {r["org_unit"]: r for r in o["items"]}
        assert rows["东湖镇"]["missing"] == ["“雪亮”工程视频监控室"] and rows["罗塘村"]["recorded"] is False
        assert rows["罗塘村"]["required"] == 2 and "东湖第一管区" not in rows   # a level the standard does not cover
        assert o["figures"]["recorded"] == 1 and o["figures"]["meeting_standard"] == 0
        # the page: a form of real controls, refused at the field with everything typed kept
        browser = signed_in(app, w.county, "donghu.admin")
        page = browser.get(f"/joint/centres/{town}").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        assert 'type="checkbox" name="facilities" value="office" checked' in page and "东湖司法所" in page
        r = browser.post(f"/joint/centres/{town}", data={"csrf_token": token, "name": "东湖镇综治中心",
                                                         "director_name": "王" * 51, "deputy_rows": "2",
                                                         "deputy-0-name": "李副镇长", "facilities": ["office", "video"]})
        body = r.get_data(as_text=True)
        assert r.status_code == 422 and 'id="director_name-error"' in body and 'value="李副镇长"' in body
        assert 'value="video" checked' in body
        r = browser.post(f"/joint/centres/{town}", data={"csrf_token": token, "name": "东湖镇综治中心",
                                                         "director_name": "王书记", "deputy_rows": "2",
                                                         "deputy-0-name": "李副镇长", "facilities": ["office", "video"]})
        assert r.status_code == 302
        listing = browser.get("/joint/centres/").get_data(as_text=True)
        assert "东湖镇综治中心" in listing and "2 / 2" in listing and "警务室" in listing
    finally:
        assert w.admin.put("/api/modules/joint", json={"enabled": True, "settings": {"mechanisms": MECHANISMS}}
                           ).status_code == 200


def test_meetings_held_as_planned_and_member_units_attendance_are_indicators(app, world):
    """SCO-7: meetings held against the county's plan (each kind at its level, weekly or monthly)
    and the member units' attendance, for the scoring module."""
    # rule: SCO-7
    w = world
    june = (dt.date(2026, 6, 1), dt.date(2026, 7, 1))   # five Mondays, one month
    assert _indicator(app, w, "joint.meetings.as_planned", "T02", *june) == 0.0
    assert _indicator(app, w, "joint.attendance.rate", "T02", *june) is None   # nothing recorded
    with time_machine.travel(dt.datetime(2026, 6, 30, 9, tzinfo=SHANGHAI), tick=False):
        made = [meeting(w, held_on=day, client=w.other_town, unit="T02", kind=kind)
                for day, kind in (("2026-06-01", "sorting"), ("2026-06-03", "sorting"), ("2026-06-15", "township_joint"),
                                  ("2026-06-16", "township_joint"))]
        for member, status in (("青山派出所", "present"), ("青山司法所", "absent")):
            r = w.other_town.post(f"/api/joint/meetings/{made[2]['id']}/attendance", json={
                "member_unit_id": w.members[member], "status": status, "reason": "外出执勤"})
            assert r.status_code in (200, 201), r.get_json()
    # planned: five weekly sorting meetings and one monthly joint meeting at the township; held: two
    # sorting meetings and the joint meeting (the second in the month does not count twice)
    assert _indicator(app, w, "joint.meetings.as_planned", "T02", *june) == 50.0
    assert _indicator(app, w, "joint.attendance.rate", "T02", *june) == 50.0
    assert _indicator(app, w, "joint.meetings.as_planned", "T02D1V1", *june) is None   # no meeting at a village


def test_each_mechanism_of_the_county_is_an_indicator_of_its_tasks_done_on_time(app, world):
    """SCO-7: centre staff assessed by the mechanism task split — one indicator per mechanism the
    county declares (its settings), the share of its cases' tasks done by their limit."""
    # rule: SCO-7
    from core.app import pingan
    from core.jobs import bind_state
    from core.sdk import bind_tenant, county_indicators
    w = world
    bind_state(pingan(app))
    with bind_tenant(w.county.id), pingan(app).db.transaction(w.county.id) as s:
        found = county_indicators(s)
    assert found["joint.mechanism.visit_care.tasks_on_time"].title == "走访联动：交办任务按期办结率"
    assert "joint.mechanism.joint_defence.tasks_on_time" in found
    # the scoring module offers them to a rubric with the county's own names
    assert w.admin.put("/api/modules/scoring", json={"enabled": True}).status_code == 200
    try:
        offered = {i["key"]: i["title"] for i in w.admin.get("/api/scoring/indicators").get_json()["items"]}
        assert offered["joint.mechanism.visit_care.tasks_on_time"] == "走访联动：交办任务按期办结率"
    finally:
        assert w.admin.put("/api/modules/scoring", json={"enabled": False}).status_code == 200
    with time_machine.travel(dt.datetime(2026, 7, 6, 9, tzinfo=SHANGHAI), tick=False):   # a Monday
        m = meeting(w, held_on="2026-07-06")
        cases = [register(w.town, w.county.unit("T01D1V1"), title=f"七月走访{i}") for i in range(2)]
        for c in cases:
            r = w.town.post(f"/api/joint/meetings/{m['id']}/decisions", json={
                "case_id": c["id"], "text": "上门走访", "deadline": "2026-07-10",
                "lead": {"org_unit_id": w.county.unit("T01D1V1")}})
            assert r.status_code == 201, r.get_json()
            if c is cases[0]:
                lead = r.get_json()["tasks"][0]
                assert w.cadre.post(f"/api/cases/{c['id']}/tasks/{lead['id']}",
                                    json={"action": "done", "text": "已走访"}).status_code == 200
    july = (dt.date(2026, 7, 1), dt.date(2026, 8, 1))
    # of the two tasks due on 10 July at 罗塘村, one done in time
    assert _indicator(app, w, "joint.mechanism.visit_care.tasks_on_time", "T01D1V1", *july) == 50.0
    assert _indicator(app, w, "joint.mechanism.joint_defence.tasks_on_time", "T01D1V1", *july) is None

