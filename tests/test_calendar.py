"""Issue 13: time limits that never stop the work — provisional limits over a year whose
holidays are not published, the platform's national calendar, recomputing when it arrives.

The year used is the one after the last year the installed ``chinese-calendar`` covers
(``NEXT``): whatever the package's version, that year is unknown until loaded. Holidays
loaded in these tests are test data made for the test (named as such), never shipped.
"""
from __future__ import annotations

import datetime as dt
import io

import chinese_calendar
import pytest
import time_machine
from sqlalchemy import delete, select

from core.app import pingan
from core.cases import sweep
from core.cases.models import CaseDeadline, CaseReminder, NationalCalendarYear
from core.db import bind_tenant
from core.national_calendar import CalendarFileError, parse
from core.workdays import SHANGHAI, WorkCalendar, deadline
from tests.casework import act, register, run_jobs
from tests.test_web_operator import OP_NEW_PASSWORD, OP_PASSWORD, PLATFORM_HOST, change_first_password, csrf
from tests.conftest import web_login

LAST = max(d.year for d in chinese_calendar.holidays)  # the package's last year
NEXT = LAST + 1


def at(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SHANGHAI)


def calendar_file(year: int, holidays: list[tuple[str, list[dt.date]]], workdays: str = "workdays = []",
                  notice: bool = True) -> str:
    out = [f"year = {year}"]
    if workdays.startswith("workdays ="):  # a top-level key: before any table
        out.append(workdays)
        workdays = ""
    if notice:
        out += ["[notice]", f'title = "测试用：{year}年部分节假日安排（测试数据，非真实通知）"',
                'number = "测试〔0000〕1号"', f"published_on = {year - 1}-11-01"]
    out.append(workdays)
    for name, days in holidays:
        out += ["[[holidays]]", f'name = "{name}"', "days = [" + ", ".join(d.isoformat() for d in days) + "]"]
    return "\n".join(out) + "\n"


@pytest.fixture
def operator(app):
    """``operator()`` → a platform operator signed in now (call it inside the clock's travel;
    the first call creates the operator then, as its one-time password expires)."""
    import uuid
    from core.context import Actor, acting_as
    from core.platform import create_operator
    state = pingan(app)
    username = f"op.{uuid.uuid4().hex[:8]}"

    def sign_in():
        if not signed_in:  # made at the travelled time: a one-time password expires
            with acting_as(Actor(None, "test:operator")):
                create_operator(state.db, state.config, username, "平台运营员", [PLATFORM_HOST], OP_PASSWORD)
            state.resolver.forget()
        c, r = web_login(app, PLATFORM_HOST, username, OP_PASSWORD if not signed_in else OP_NEW_PASSWORD)
        assert r.status_code == 302
        if not signed_in:
            change_first_password(c, OP_PASSWORD, OP_NEW_PASSWORD)
            signed_in.append(True)
        return c
    signed_in: list = []
    return sign_in


@pytest.fixture
def clean_national(db):
    """The national calendar is the platform's, shared by every county: leave it as found."""
    yield
    with bind_tenant(None), db.transaction() as s:
        s.execute(delete(NationalCalendarYear).where(NationalCalendarYear.year == NEXT))


def _limit(client, case_id: int, rule: str) -> dict:
    return next(d for d in client.get(f"/api/cases/{case_id}").get_json()["deadlines"] if d["rule"] == rule)


def test_a_limit_into_an_unpublished_year_is_provisional_then_recomputed_when_the_year_is_loaded(
        app, county, login, operator, db, clean_national):  # noqa: F811
    """Accept a case whose limit ends in an uncovered year → 201, provisional with why; the
    operator loads that year with a holiday on the provisional last day → the limit moves to
    the right day, the timeline says so, reminders are re-armed; a met limit is untouched."""
    start = at(LAST, 12, 28, 9, 0)
    provisional = deadline(start, 5, "working_days", WorkCalendar())  # the example type's acceptance limit
    last = (provisional.due_at - dt.timedelta(days=1)).date()
    assert provisional.provisional and last.year == NEXT
    with time_machine.travel(start, tick=False) as clock:
        town = login(county, "donghu.admin")
        case = register(town, county.unit("T01D1V1"))
        met = register(town, county.unit("T01D1V2"), title="已受理的走访")
        assert act(town, met["id"], "accept").status_code == 200
        limit = case["deadlines"][0]
        assert limit["provisional"] and case["due_provisional"]
        assert f"{NEXT} 年节假日安排尚未发布，暂按周末计算；发布后自动重算" in limit["basis"]
        assert dt.datetime.fromisoformat(limit["due_at"]) == provisional.due_at
        page = town.get(f"/cases/{case['id']}").get_data(as_text=True)
        assert "暂定" in page and 'id="provisional-note"' in page
        listed = town.get(f"/api/cases?org_unit_id={county.unit('T01D1V1')}").get_json()["items"]
        assert next(c for c in listed if c["id"] == case["id"])["due_provisional"] is True
        met_before = _limit(town, met["id"], "accept")
        assert met_before["state"] == "stopped" and met_before["met"]

        # the due-soon reminder went out for the provisional due time
        state = pingan(app)
        from core import jobs
        jobs.bind_state(state)
        with bind_tenant(county.id), db.transaction(county.id) as s:
            sweep.run(s, state.plugins, now=provisional.due_at - dt.timedelta(hours=2))
        with bind_tenant(county.id), db.transaction(county.id) as s:
            assert s.scalar(select(CaseReminder.key).where(CaseReminder.key == f"due_soon:{limit['id']}"))

        # the operator loads the year: the provisional last day is a holiday in it
        clock.move_to(at(LAST, 12, 29, 10, 0))
        op = operator()
        holiday_file = calendar_file(NEXT, [("测试假日", [last])])
        page = op.get("/operator/calendar").get_data(as_text=True)
        r = op.post("/operator/calendar", data={"csrf_token": csrf(page),
                                                "file": (io.BytesIO(holiday_file.encode()), f"{NEXT}.toml")},
                    content_type="multipart/form-data")
        assert r.status_code == 302 and "/operator/jobs/" in r.headers["Location"], r.get_data(as_text=True)
        run_jobs(app)
        job_page = op.get(r.headers["Location"]).get_data(as_text=True)
        assert "重算完成" in job_page and "重算变更" in job_page
        assert f"{NEXT}" in op.get("/operator/calendar").get_data(as_text=True)

        expected = WorkCalendar(national={last: False}, national_years=frozenset({NEXT}))
        new = deadline(start, 5, "working_days", expected).due_at
        assert new > provisional.due_at
        town = login(county, "donghu.admin")
        after = _limit(town, case["id"], "accept")
        assert not after["provisional"] and dt.datetime.fromisoformat(after["due_at"]) == new
        assert "暂按周末计算" not in after["basis"] and "节假日安排发布" in after["basis"]
        detail = town.get(f"/api/cases/{case['id']}").get_json()
        assert dt.datetime.fromisoformat(detail["due_at"]) == new and not detail["due_provisional"]
        notes = [e["note"] for e in town.get(f"/api/cases/{case['id']}/events").get_json() if e["kind"] == "recomputed"]
        assert len(notes) == 1 and f"{last:%Y-%m-%d} 24:00" in notes[0] and "重算为" in notes[0]
        assert _limit(town, met["id"], "accept") == met_before  # a met limit is untouched
    # reminders re-armed: the old one is forgotten, the sweep reminds again before the new due time
    with bind_tenant(county.id), db.transaction(county.id) as s:
        assert s.scalar(select(CaseDeadline.reminded).where(CaseDeadline.id == limit["id"])) == 0
        assert s.scalar(select(CaseReminder.key).where(CaseReminder.key == f"due_soon:{limit['id']}")) is None
        found = sweep.run(s, state.plugins, now=new - dt.timedelta(hours=2))
    assert found["due_soon"] >= 1
    # loading again changes nothing more (nothing is provisional any longer)
    with bind_tenant(county.id), db.transaction(county.id) as s:
        from core.cases import recompute
        assert recompute.run(s, state.plugins, state.plugins.enabled(s, county.id)).examined == 0


def test_a_county_declaring_the_year_recomputes_its_provisional_limits(county, login, app):
    """County override → its declared year counts, and the declaration starts the recompute job."""
    start = at(LAST, 12, 28, 9, 0)
    last = (deadline(start, 5, "working_days").due_at - dt.timedelta(days=1)).date()
    with time_machine.travel(start, tick=False):
        town, admin = login(county, "donghu.admin"), login(county, "county.admin")
        case = register(town, county.unit("T01D1V1"))
        assert case["deadlines"][0]["provisional"]
        r = admin.put(f"/api/calendar/years/{NEXT}", json={"source": "本县据通知录入（测试）"})
        assert r.status_code == 422 and r.get_json()["code"] == "calendar_year_empty"  # no days entered: refused
        assert admin.put(f"/api/calendar/{last.isoformat()}", json={"is_workday": False, "note": "测试"}).status_code == 200
        r = admin.put(f"/api/calendar/years/{NEXT}", json={"source": "本县据通知录入（测试）"})
        assert r.status_code == 200 and r.get_json()["recompute_job_id"]
        run_jobs(app)
        job = admin.get(f"/api/jobs/{r.get_json()['recompute_job_id']}").get_json()
        assert job["state"] == "done" and "重算变更 1 个" in job["message"], job
        after = _limit(town, case["id"], "accept")
    cal = WorkCalendar(overrides={last: False}, declared_years=frozenset({NEXT}))
    assert not after["provisional"] and dt.datetime.fromisoformat(after["due_at"]) == \
        deadline(start, 5, "working_days", cal).due_at


def test_a_limit_already_run_out_keeps_its_due_time(county, login, app):
    """A limit whose provisional end has passed is not moved earlier (nor later) after the fact."""
    start = at(LAST, 12, 28, 9, 0)
    provisional = deadline(start, 5, "working_days").due_at
    last = (provisional - dt.timedelta(days=1)).date()
    with time_machine.travel(start, tick=False) as clock:
        town, admin = login(county, "donghu.admin"), login(county, "county.admin")
        case = register(town, county.unit("T01D1V1"))
        assert admin.put(f"/api/calendar/{last.isoformat()}", json={"is_workday": False, "note": "测试"}).status_code == 200
        clock.move_to(provisional + dt.timedelta(days=1))
        town, admin = login(county, "donghu.admin"), login(county, "county.admin")
        assert admin.put(f"/api/calendar/years/{NEXT}", json={"source": "本县据通知录入（测试）"}).status_code == 200
        run_jobs(app)
        after = _limit(town, case["id"], "accept")
    assert dt.datetime.fromisoformat(after["due_at"]) == provisional and not after["provisional"]
    assert "保留原期限" in after["basis"]


def test_the_calendar_file_is_checked_and_every_error_named():
    good = parse(calendar_file(NEXT, [("元旦", [dt.date(NEXT, 1, 1)])],
                               workdays=f'[[workdays]]\nname = "调休"\ndays = [{_weekend(NEXT).isoformat()}]'))
    assert good.year == NEXT and good.holidays == 1 and good.workdays == 1 and "测试用" in good.notice
    with pytest.raises(CalendarFileError) as bad:
        parse(calendar_file(NEXT, [("甲", [dt.date(NEXT, 1, 1), dt.date(NEXT + 1, 1, 2)]), ("乙", [dt.date(NEXT, 1, 1)])],
                            workdays="", notice=False))
    errors = bad.value.errors
    assert any(e.startswith("notice") for e in errors)                # no source
    assert any(e.startswith("workdays") for e in errors)              # no adjusted days declared
    assert any(f"{NEXT + 1}-01-02 不在 {NEXT} 年内" in e for e in errors)  # outside the year
    assert any(f"{NEXT}-01-01 重复列出" in e for e in errors)           # a day listed twice
    with pytest.raises(CalendarFileError, match="调休上班日应为周六或周日"):
        parse(calendar_file(NEXT, [("元旦", [dt.date(NEXT, 1, 1)])],
                            workdays=f'[[workdays]]\nname = "调休"\ndays = [{_weekday(NEXT).isoformat()}]'))
    with pytest.raises(CalendarFileError, match="TOML"):
        parse("year = ")


def _weekend(year: int) -> dt.date:
    day = dt.date(year, 2, 1)
    while day.weekday() < 5:
        day += dt.timedelta(days=1)
    return day


def _weekday(year: int) -> dt.date:
    day = dt.date(year, 2, 1)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


def test_operator_page_refuses_a_bad_file_with_every_error(operator):
    op = operator()
    page = op.get("/operator/calendar").get_data(as_text=True)
    r = op.post("/operator/calendar", data={"csrf_token": csrf(page),
                                            "file": (io.BytesIO(f"year = {NEXT}\n".encode()), "bad.toml")},
                content_type="multipart/form-data")
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and 'id="calendar-errors"' in html
    assert "缺少发布依据" in html and "没有列出任何节假日" in html and "没有声明调休上班日" in html


def test_uncovered_next_year_is_announced_from_november(app, county, login, operator):
    """From 1 November: the operator console, a county admin's home page and /readyz name the
    uncovered next year; /readyz stays green."""
    client = app.test_client()
    with time_machine.travel(at(LAST, 11, 15, 9, 0), tick=False) as clock:
        op = operator()
        assert f"{NEXT} 年的节假日安排尚未导入平台" in op.get("/operator").get_data(as_text=True)
        home = login(county, "county.admin").get("/").get_data(as_text=True)
        assert 'id="calendar-uncovered"' in home and f"{NEXT} 年的法定节假日安排尚未导入平台" in home
        assert 'id="calendar-uncovered"' not in login(county, "village.cadre").get("/").get_data(as_text=True)
        ready = client.get("/readyz")
        assert ready.status_code == 200 and NEXT in ready.get_json()["details"]["calendar_uncovered_years"]
        clock.move_to(at(LAST, 10, 15, 9, 0))
        op = operator()
        assert 'id="calendar-uncovered"' not in op.get("/operator").get_data(as_text=True)
        assert client.get("/readyz").get_json()["details"]["calendar_uncovered_years"] == []


def test_deadline_preview_of_an_uncovered_year_is_provisional(county, login):
    admin = login(county, "county.admin")
    r = admin.get(f"/api/calendar/deadline?start={NEXT}-03-01T09:00:00%2B08:00&amount=3&unit=working_days")
    assert r.status_code == 200 and r.get_json()["provisional"] is True
    r = admin.get("/api/calendar/deadline?start=2100-03-01T09:00:00%2B08:00&amount=3&unit=working_days")
    assert r.status_code == 422


def test_the_hourly_job_recomputes_when_a_year_becomes_known_without_a_load_job(app, county, login, db,
                                                                                clean_national):
    """As after an upgrade of chinese-calendar: nobody starts a recompute, the hourly core job
    sees the earliest provisional limit's year is known and counts the county's limits again."""
    from core import jobs, national_calendar
    from core.cases import recompute
    start = at(LAST, 12, 28, 9, 0)
    last = (deadline(start, 5, "working_days").due_at - dt.timedelta(days=1)).date()
    with time_machine.travel(start, tick=False) as clock:
        case = register(login(county, "donghu.admin"), county.unit("T01D1V1"))
        jobs.bind_state(pingan(app))
        with bind_tenant(county.id):
            recompute.scheduled(county.id)  # the year is still unknown: nothing to do
            with db.transaction(county.id) as s:
                assert recompute.due(s) is False
        with bind_tenant(None), db.transaction() as s:  # the year becomes known, no job started
            national_calendar.load(s, parse(calendar_file(NEXT, [("测试假日", [last])])), "test")
        clock.move_to(at(LAST, 12, 29, 10, 0))
        with bind_tenant(county.id):
            recompute.scheduled(county.id)
        after = _limit(login(county, "donghu.admin"), case["id"], "accept")
    assert not after["provisional"] and dt.datetime.fromisoformat(after["due_at"]) > \
        dt.datetime.fromisoformat(case["deadlines"][0]["due_at"])


def test_a_confirmed_limit_is_no_longer_provisional_on_its_case(county, login, app):
    """The year arrives and changes nothing for a limit: the limit and its case lose the 暂定 mark
    (the bench found cases of confirmed limits left marked)."""
    start = at(LAST, 12, 28, 9, 0)
    with time_machine.travel(start, tick=False):
        town, admin = login(county, "donghu.admin"), login(county, "county.admin")
        case = register(town, county.unit("T01D1V1"))
        assert case["due_provisional"]
        assert admin.put(f"/api/calendar/{NEXT}-06-01", json={"is_workday": False, "note": "测试"}).status_code == 200
        assert admin.put(f"/api/calendar/years/{NEXT}", json={"source": "本县据通知录入（测试）"}).status_code == 200
        run_jobs(app)
        detail = town.get(f"/api/cases/{case['id']}").get_json()
    assert detail["due_at"] == case["due_at"] and detail["due_provisional"] is False
    (limit,) = detail["deadlines"]
    assert not limit["provisional"] and "期限不变" in limit["basis"]


def test_a_provisional_limit_is_reminded_early(app, county, login, db):
    """The official schedule may move a provisional limit earlier: its due-soon reminder comes
    three days before the county's usual time (24 hours by default)."""
    from core import jobs
    start = at(LAST, 12, 28, 9, 0)
    with time_machine.travel(start, tick=False):
        town = login(county, "donghu.admin")
        provisional = register(town, county.unit("T01D1V1"))
        due = dt.datetime.fromisoformat(provisional["due_at"])
    state = pingan(app)
    jobs.bind_state(state)
    with bind_tenant(county.id), db.transaction(county.id) as s:
        assert sweep.run(s, state.plugins, now=due - dt.timedelta(days=4, hours=1))["due_soon"] == 0
    with bind_tenant(county.id), db.transaction(county.id) as s:
        assert sweep.run(s, state.plugins, now=due - dt.timedelta(days=3, hours=23))["due_soon"] == 1
