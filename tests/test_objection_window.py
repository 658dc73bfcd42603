"""Issue 13, part 6 — every running limit is visible: the 5-working-day objection window of
《信访工作条例》第二十三条 is a limit on each diverted task (due time, basis, article; API and
case page), the 409 on a late return reads that same limit, the window never makes a petition
overdue, and a valid return hands the petition back to the unit that diverted it and stops the
returning unit's limits.

The clock is frozen: Monday 2026-03-09 09:00 in Beijing. 5 working days from that day (the first
day not counted; no holiday in March 2026) end with Monday 2026-03-16, i.e. at 24:00 of that day;
the 15-day notify limit (Art. 23) ends with Tuesday 2026-03-24."""
from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from sqlalchemy import select

from core.app import pingan
from core.cases import sweep
from core.cases.models import CaseReminder
from core.workdays import SHANGHAI
from tests.casework import act, events
from tests.test_petition import county, petition  # noqa: F401  (fixture)

START = dt.datetime(2026, 3, 9, 9, tzinfo=SHANGHAI)
WINDOW_END = dt.datetime(2026, 3, 17, 0, 0, tzinfo=SHANGHAI)   # 24:00 of Mon 2026-03-16
NOTIFY_END = dt.datetime(2026, 3, 25, 0, 0, tzinfo=SHANGHAI)   # 24:00 of Tue 2026-03-24
ART_23 = "《信访工作条例》第二十三条"


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def admin(county, login, clock):  # noqa: F811  (signed in on the frozen day)
    return login(county, "county.admin")


def _at(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value).astimezone(SHANGHAI)


def _divert(client, county, case: dict, *tasks: tuple[str, str]) -> list[int]:
    mode = "single" if len(tasks) == 1 else "joint"
    r = client.post(f"/api/cases/{case['id']}/divert", json={"mode": mode, "tasks": [
        {"org_unit_id": county.unit(unit), "instruction": "请办理", **({"role": role} if role != "sole" else {})}
        for unit, role in tasks]})
    assert r.status_code == 200, r.get_json()
    return [t["id"] for t in r.get_json()["tasks"]]


def _return(client, case: dict, task: int):
    return client.post(f"/api/cases/{case['id']}/tasks/{task}", json={"action": "return", "text": "不属本村职责"})


def _limits(client, case: dict) -> list[dict]:
    return client.get(f"/api/cases/{case['id']}").get_json()["deadlines"]


def _one(limits: list[dict], rule: str, task: int | None = None) -> dict:
    [d] = [d for d in limits if d["rule"] == rule and (task is None or d["task_id"] == task)]
    return d


def _sweep(app, county, now: dt.datetime) -> dict:
    state = pingan(app)
    with app.app_context(), state.db.transaction(county.id) as s:  # (an unacknowledged task's reminder is queued)
        return sweep.run(s, state.plugins, now=now)


def test_the_objection_window_is_a_limit_on_the_task_with_its_article(admin, county):
    """rule: INT-1 (a diverted matter; Art. 23 on top, PET-1) — the window is shown on the task
    in the API and on the case page with its end, basis and article; it is not the petition's
    due time."""
    case = petition(admin, county)
    [task] = _divert(admin, county, case, ("T01D1V2", "sole"))
    detail = admin.get(f"/api/cases/{case['id']}").get_json()
    window = _one(detail["deadlines"], "objection")
    assert window["task_id"] == task
    assert (window["amount"], window["unit"], window["source"], window["state"]) == (5, "working_days", ART_23, "window")
    assert window["title"] == "异议期限（认为不属于本单位职责的，可提出异议）"
    assert _at(window["due_at"]) == WINDOW_END and "工作日" in window["basis"] and window["met"] is None
    [shown] = detail["tasks"]
    assert [d["rule"] for d in shown["limits"]] == ["objection"] and shown["limits"][0]["id"] == window["id"]
    # the petition is due when its unit must say whether it accepts, not when the window ends
    assert _at(detail["due_at"]) == NOTIFY_END == _at(_one(detail["deadlines"], "notify")["due_at"])
    listed = admin.get("/api/tasks?state=open").get_json()["items"]
    assert [d["rule"] for d in next(t for t in listed if t["id"] == task)["limits"]] == ["objection"]
    page = admin.get(f"/cases/{case['id']}").get_data(as_text=True)
    assert "异议期限（认为不属于本单位职责的，可提出异议）：2026-03-16 24:00" in page  # on the task
    assert ART_23 in page and "期间内" in page and "郭岭村" in page                      # in the limits table


def test_a_return_within_the_window_hands_the_petition_back(app, admin, county, clock, login):
    """rule: INT-1 — the village finds the matter is not its own and returns it on day 3: the
    petition goes back to the unit that diverted it, the village's window and the notify limit
    that ran for it stop, nothing of it can go overdue; diverted again, both start anew."""
    case = petition(admin, county)
    [task] = _divert(admin, county, case, ("T01D1V2", "sole"))
    assert admin.get(f"/api/cases/{case['id']}").get_json()["handling_unit_id"] == county.unit("T01D1V2")
    clock.move_to(dt.datetime(2026, 3, 12, 10, tzinfo=SHANGHAI))
    admin = login(county, "county.admin")  # signed in again: the session of three days ago has expired
    r = _return(admin, case, task)
    assert r.status_code == 200, r.get_json()
    back = r.get_json()
    assert back["handling_unit_id"] == county.unit("T01D1V1")  # the diverting unit (where it was registered)
    assert back["tasks"][0]["state"] == "returned"
    window, notify = _one(back["deadlines"], "objection"), _one(back["deadlines"], "notify")
    assert (window["state"], window["met"]) == ("stopped", None)
    assert _at(window["stopped_at"]) == dt.datetime(2026, 3, 12, 10, tzinfo=SHANGHAI)
    assert notify["state"] == "stopped"
    assert [d for d in back["deadlines"] if d["state"] != "stopped"] == [] and back["due_at"] is None
    assert events(admin, case["id"])[-2:] == ["task_returned", "handed_back"]
    assert _sweep(app, county, dt.datetime(2026, 5, 1, tzinfo=SHANGHAI))["overdue"] == 0
    page = admin.get(f"/cases/{case['id']}").get_data(as_text=True)
    assert "退回分流单位" in page and "已结束" in page
    # diverted again, to the right village: its own window and notify limit
    again = _divert(admin, county, case, ("T01D1V3", "sole"))[-1]  # the case's tasks: the returned one first
    limits = _limits(admin, case)
    assert _one(limits, "objection", again)["state"] == "window"
    assert [d["state"] for d in limits if d["rule"] == "notify"] == ["stopped", "running"]


def test_a_co_units_return_leaves_the_lead_in_charge(admin, county):
    """rule: INT-3 (合) — a co-unit sending its share back does not move the petition: the lead
    keeps it and its limits run on."""
    case = petition(admin, county)
    lead, co = _divert(admin, county, case, ("T01D1V2", "lead"), ("T01D1V3", "co"))
    r = _return(admin, case, co)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["handling_unit_id"] == county.unit("T01D1V2")
    assert _one(body["deadlines"], "objection", co)["state"] == "stopped"
    assert _one(body["deadlines"], "objection", lead)["state"] == "window"
    assert _one(body["deadlines"], "notify")["state"] == "running"
    assert "handed_back" not in events(admin, case["id"])


def test_after_the_window_a_return_is_refused_in_the_pages_words_and_nothing_is_overdue(app, admin, county, clock,
                                                                                       login):
    """rule: INT-1 — on Wednesday 2026-03-18 the window has run out: the petition is not
    overdue, nobody is reminded of the window, a return answers 409 naming the window's end as
    the page shows it ("2026-03-16 24:00"); accepting the petition ends the window, which is
    counted neither met nor missed."""
    case = petition(admin, county)
    [task] = _divert(admin, county, case, ("T01D1V2", "sole"))
    clock.move_to(dt.datetime(2026, 3, 18, 9, tzinfo=SHANGHAI))
    admin = login(county, "county.admin")
    detail = admin.get(f"/api/cases/{case['id']}").get_json()
    assert detail["overdue"] is False and _at(detail["due_at"]) == NOTIFY_END
    assert _one(detail["deadlines"], "objection")["state"] == "window"
    window_id = _one(detail["deadlines"], "objection")["id"]
    assert _sweep(app, county, dt.datetime(2026, 3, 18, 9, tzinfo=SHANGHAI))["overdue"] == 0
    with pingan(app).db.transaction(county.id) as s:
        assert s.scalars(select(CaseReminder.key).where(CaseReminder.key.like(f"%:{window_id}"))).all() == []
    page = admin.get(f"/cases/{case['id']}").get_data(as_text=True)
    assert "2026-03-16 24:00" in page and "已届满" in page
    late = _return(admin, case, task)
    assert late.status_code == 409 and late.get_json()["code"] == "objection_too_late"
    message = late.get_json()["message"]
    assert "期限已于 2026-03-16 24:00 届满" in message and "第二十三条" in message and "2026-03-17" not in message
    after = admin.get(f"/api/cases/{case['id']}").get_json()
    assert after["handling_unit_id"] == county.unit("T01D1V2") and after["tasks"][0]["state"] == "open"
    accepted = act(admin, case["id"], "accept", {})
    assert accepted.status_code == 200, accepted.get_json()
    window = _one(accepted.get_json()["deadlines"], "objection")
    assert (window["state"], window["met"], _at(window["stopped_at"])) == ("stopped", None, WINDOW_END)
    rates = admin.get("/api/case-stats/on-time?group_by=case_type").get_json()["total"]
    assert (rates["stopped"], rates["met"]) == (2, 2)  # forward and notify; the window is no limit to meet
