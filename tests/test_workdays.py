"""Working days and time limits (issue 3 groundwork): Civil Code Art. 201 and 203.

Holiday facts come from the chinese-calendar package (2026: Mid-Autumn 25–27 Sep, National
Day 1–7 Oct, adjusted working days Sun 20 Sep and Sat 10 Oct). Rule ids: PET-1 (local day
limits), MED-2 (minute limits).
"""
from __future__ import annotations

import datetime as dt

import pytest

from core.workdays import SHANGHAI, WorkCalendar, deadline


def at(y, m, d, hh=10, mm=0):
    return dt.datetime(y, m, d, hh, mm, tzinfo=SHANGHAI)


def test_five_working_days_from_the_friday_before_national_day():
    # rule: PET-1 — the start day is not counted (Art. 201); holidays are skipped
    due = deadline(at(2026, 9, 25), 5, "working_days")
    assert due.due_at == at(2026, 10, 10, 0, 0)  # 24:00 of Fri 9 Oct (28, 29, 30 Sep, 8, 9 Oct)
    assert "开始当日不计入" in due.rule and "第二百零一条" in due.source


def test_an_adjusted_saturday_counts_as_a_working_day():
    assert deadline(at(2026, 9, 25), 6, "working_days").due_at == at(2026, 10, 11, 0, 0)  # Sat 10 Oct
    assert deadline(at(2026, 9, 18), 1, "working_days").due_at == at(2026, 9, 21, 0, 0)   # Sun 20 Sep


def test_a_day_limit_ending_on_a_holiday_moves_to_the_next_working_day():
    # Art. 203: 10 days from Mon 21 Sep end on 1 Oct (National Day) → 8 Oct, 24:00
    due = deadline(at(2026, 9, 21), 10, "calendar_days")
    assert due.due_at == at(2026, 10, 9, 0, 0)
    assert "顺延至 2026-10-08" in due.rule


def test_a_day_limit_ending_on_a_working_day_stays():
    assert deadline(at(2026, 9, 21, 23, 59), 3, "calendar_days").due_at == at(2026, 9, 25, 0, 0)


def test_a_weekend_before_an_adjusted_sunday_ends_with_that_sunday():
    # 5 days from Mon 14 Sep end on Sat 19 Sep; the rest ends that day, Sun 20 Sep is a working day
    assert deadline(at(2026, 9, 14), 5, "calendar_days").due_at == at(2026, 9, 21, 0, 0)


def test_hour_and_minute_limits_run_from_the_moment():
    # rule: MED-2 — an emergency reported within 20 minutes
    assert deadline(at(2026, 10, 3, 23, 50), 20, "minutes").due_at == at(2026, 10, 4, 0, 10)
    utc_start = dt.datetime(2026, 9, 30, 20, 0, tzinfo=dt.timezone.utc)  # 04:00 on 1 Oct in Shanghai
    assert deadline(utc_start, 24, "hours").due_at == at(2026, 10, 2, 4, 0)


def test_county_overrides_win_over_the_national_data():
    cal = WorkCalendar({dt.date(2026, 10, 8): False})  # e.g. a local flood holiday
    assert deadline(at(2026, 9, 25), 5, "working_days", cal).due_at == at(2026, 10, 11, 0, 0)


def test_a_year_without_data_is_counted_provisionally_never_refused():
    """issue 13: an unpublished year never blocks an act — Monday to Friday are counted as
    working days, and the limit says it is provisional and why."""
    d = deadline(at(2099, 3, 2), 5, "working_days")  # Mon 2 Mar 2099 → Mon 9 Mar (weekend skipped)
    assert d.due_at == at(2099, 3, 10, 0, 0) and d.provisional and d.provisional_years == {2099}
    assert "2099 年节假日安排尚未发布，暂按周末计算；发布后自动重算" in d.rule
    assert (d.count_from, d.working_days) == (dt.date(2099, 3, 2), 5)
    month = deadline(at(2099, 1, 31), 1, "months")  # 28 Feb 2099 is a Saturday → Monday 2 March
    assert month.due_at == at(2099, 3, 3, 0, 0) and month.provisional
    assert (month.count_from, month.working_days) == (dt.date(2099, 2, 28), 0)
    # a limit wholly inside a published year is not provisional
    assert not deadline(at(2026, 3, 2), 5, "working_days").provisional
    cal = WorkCalendar({dt.date(2099, 3, 3): False})  # a county's single override does not make the year known
    assert deadline(at(2099, 3, 2), 1, "working_days", cal).due_at == at(2099, 3, 5, 0, 0)
    assert deadline(at(2099, 3, 2), 1, "working_days", cal).provisional


def test_bad_arguments_are_refused():
    for args in ((dt.datetime(2026, 9, 1), 1, "hours"), (at(2026, 9, 1), 0, "hours"), (at(2026, 9, 1), 1, "weeks")):
        with pytest.raises(ValueError):
            deadline(*args)


def test_a_year_the_county_entered_itself_is_computed():
    """A county enters a year's arrangement (its holidays and adjusted days as overrides) and
    declares the year; the other days follow the week and the limits are no longer provisional."""
    holiday = dt.date(2099, 3, 4)  # a Wednesday the county marks as a rest day (illustration, not a real notice)
    cal = WorkCalendar(overrides={holiday: False}, declared_years=frozenset({2099}))
    assert cal.is_workday(dt.date(2099, 3, 3)) and not cal.is_workday(holiday)
    assert not cal.is_workday(dt.date(2099, 3, 7))  # a Saturday
    assert cal.add_working_days(dt.date(2099, 3, 2), 3) == dt.date(2099, 3, 6)  # Tue, (Wed off), Thu, Fri
    assert cal.covers(2099) and not WorkCalendar().covers(2099)
    assert not deadline(at(2099, 3, 2), 3, "working_days", cal).provisional


def test_precedence_county_then_platform_then_package():
    """issue 13: county override → platform (national) calendar → chinese-calendar → provisional."""
    national_day = dt.date(2026, 10, 8)  # a working day in the package (after the National Day week)
    assert WorkCalendar().is_workday(national_day)
    platform = WorkCalendar(national={national_day: False}, national_years=frozenset({2026}))
    assert not platform.is_workday(national_day)
    county = WorkCalendar(overrides={national_day: True}, national={national_day: False},
                          national_years=frozenset({2026}))
    assert county.is_workday(national_day)
    # a year the platform loaded is known: its unlisted days follow the week, nothing provisional
    loaded = WorkCalendar(national={dt.date(2099, 3, 4): False}, national_years=frozenset({2099}))
    d = deadline(at(2099, 3, 2), 3, "working_days", loaded)
    assert d.due_at == at(2099, 3, 7, 0, 0) and not d.provisional  # Tue, (Wed off), Thu, Fri


def test_a_month_limit_ends_on_the_corresponding_day_or_the_months_last_day():
    # Civil Code Art. 202 (MED-3's one-month mediation limit is counted this way)
    assert deadline(at(2026, 3, 16), 1, "months").due_at == at(2026, 4, 17, 0, 0)    # Thu 16 Apr, 24:00
    # no 31 Feb: 28 Feb, a Saturday but an adjusted working day in 2026 (Spring Festival)
    assert deadline(at(2026, 1, 31), 1, "months").due_at == at(2026, 3, 1, 0, 0)
    due = deadline(at(2026, 4, 30), 1, "months")                                      # Sat 30 May → Mon 1 Jun
    assert due.due_at == at(2026, 6, 2, 0, 0) and "顺延至 2026-06-01" in due.rule
    assert deadline(at(2026, 8, 31), 1, "months").due_at == at(2026, 10, 1, 0, 0)     # Wed 30 Sep, 24:00
