"""Working days and time limits in China (groundwork of the case engine, issue 3).

Which days are working days, in order of precedence:

1. the county's own overrides (single days, or whole years it entered itself);
2. the platform's national calendar (``national_calendar_*`` tables: a year the operator
   loaded from the State Council's notice, ``pingan calendar import``);
3. the PyPI package ``chinese-calendar`` (statutory holidays and adjusted working days,
   调休, as published each year by the State Council; the installed version says which
   years it covers);
4. for a year none of them covers yet: **provisionally** Monday to Friday. Such a limit is
   computed all the same — an unpublished year never blocks an act — and marked
   provisional; when the year's schedule arrives, ``core.cases.recompute`` recomputes it.

Counting follows the Civil Code (民法典):

- Art. 201: a period counted in days starts on the day after the start day (the start day
  is not counted); a period counted in hours starts at the moment given.
- Art. 202: a period counted in months ends on the corresponding day of the last month, or
  on that month's last day when it has no such day (31 January + 1 month → 28/29 February).
- Art. 203: if the last day of a period is a statutory rest day, the period ends on the day
  after the rest ends; the last day ends at 24:00.

All times are Asia/Shanghai.
"""
from __future__ import annotations

import datetime as dt
from calendar import monthrange
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from zoneinfo import ZoneInfo

import chinese_calendar

SHANGHAI = ZoneInfo("Asia/Shanghai")
UNITS = ("calendar_days", "working_days", "months", "hours", "minutes")
DAY_UNITS = ("calendar_days", "working_days", "months")  # an amount of 0 of these: by the end of the same day


@lru_cache(maxsize=100_000)
def _package_workday(day: dt.date) -> bool | None:
    """``chinese-calendar``'s answer for a day, or None for a year it does not hold (cached:
    the package scans its holiday tables on every call)."""
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        return None


@lru_cache(maxsize=None)
def package_covers(year: int) -> bool:
    """Does the installed ``chinese-calendar`` hold this year's holidays?"""
    try:
        chinese_calendar.is_workday(dt.date(year, 1, 1))
        return True
    except NotImplementedError:
        return False


def provisional_basis(years: Iterable[int]) -> str:
    """Why a limit is provisional, in the words the case page shows."""
    names = "、".join(str(y) for y in sorted(set(years)))
    return f"{names} 年节假日安排尚未发布，暂按周末计算；发布后自动重算"


@dataclass(frozen=True)
class Deadline:
    due_at: dt.datetime          # aware, Asia/Shanghai; the limit ends at this moment
    rule: str                    # how it was computed, for the case record
    source: str = "民法典第二百零一条至第二百零三条"
    # Counted over a year whose holidays are not published yet (weekends assumed): the
    # official schedule may move the limit either way, so it is recomputed when it arrives.
    provisional_years: frozenset[int] = frozenset()
    # How to count the last day again on another calendar (``WorkCalendar.last_day``):
    # the ``working_days``-th working day after ``count_from``, or with 0 the first working
    # day on or after it. None for limits in hours or minutes and for "the same day".
    count_from: dt.date | None = None
    working_days: int = 0

    @property
    def provisional(self) -> bool:
        return bool(self.provisional_years)


@dataclass
class WorkCalendar:
    """Working days: the county's overrides, the platform's national calendar, the package,
    and provisionally the plain week (see the module's docstring)."""

    overrides: dict[dt.date, bool] = field(default_factory=dict)  # date → is a working day
    # Years the county entered itself (its overrides hold that year's holidays and adjusted
    # working days); other days of such a year follow the week: Monday to Friday work.
    declared_years: frozenset[int] = frozenset()
    national: dict[dt.date, bool] = field(default_factory=dict)  # the platform's national calendar
    national_years: frozenset[int] = frozenset()

    def covers(self, year: int) -> bool:
        """Is this year's schedule known (else its days are provisional)?"""
        return year in self.declared_years or year in self.national_years or package_covers(year)

    def is_workday(self, day: dt.date) -> bool:
        if day in self.overrides:
            return self.overrides[day]
        if day.year in self.declared_years:
            return day.weekday() < 5
        if day in self.national:
            return self.national[day]
        if day.year in self.national_years:
            return day.weekday() < 5
        known = _package_workday(day)
        return day.weekday() < 5 if known is None else known  # None: provisional, see ``covers``

    def uncovered(self, first: dt.date, last: dt.date) -> frozenset[int]:
        """The years from ``first`` to ``last`` whose schedule is not known yet."""
        return frozenset(y for y in range(first.year, last.year + 1) if not self.covers(y))

    def last_day(self, count_from: dt.date, working_days: int) -> dt.date:
        """The ``working_days``-th working day after ``count_from``; with 0, the first working
        day on or after it (a calendar-day or month limit's last day, Art. 203)."""
        if working_days:
            return self.add_working_days(count_from, working_days)
        return self.next_workday(count_from)

    def next_workday(self, day: dt.date) -> dt.date:
        """The first working day on or after ``day``."""
        while not self.is_workday(day):
            day += dt.timedelta(days=1)
        return day

    def add_working_days(self, start: dt.date, n: int) -> dt.date:
        """The n-th working day after ``start`` (the start day itself is not counted)."""
        if n < 1:
            raise ValueError("a working-day limit needs at least one day")
        day, counted = start, 0
        while counted < n:
            day += dt.timedelta(days=1)
            if self.is_workday(day):
                counted += 1
        return day


def add_months(start: dt.date, n: int) -> dt.date:
    """The corresponding day ``n`` months after ``start``, or that month's last day (Art. 202)."""
    month0 = start.month - 1 + n
    year, month = start.year + month0 // 12, month0 % 12 + 1
    return dt.date(year, month, min(start.day, monthrange(year, month)[1]))


def end_of(day: dt.date) -> dt.datetime:
    """24:00 of ``day`` = 00:00 of the next day, Asia/Shanghai (Art. 203)."""
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=SHANGHAI)


def deadline(start: dt.datetime, amount: int, unit: str, calendar: WorkCalendar | None = None) -> Deadline:
    """When a limit of ``amount`` ``unit`` that starts at ``start`` runs out."""
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {UNITS}")
    if amount < (0 if unit in DAY_UNITS else 1):
        raise ValueError("amount must be at least 1 (0 days: the same day)")
    cal = calendar or WorkCalendar()
    local = start.astimezone(SHANGHAI)
    if amount == 0:  # "当天完成" (PET-1): the day it starts, whatever kind of day that is
        return Deadline(end_of(local.date()), "当日")
    if unit == "hours":
        return Deadline(local + dt.timedelta(hours=amount), f"{amount} 小时，自起算时刻计算")
    if unit == "minutes":
        return Deadline(local + dt.timedelta(minutes=amount), f"{amount} 分钟，自起算时刻计算")
    if unit == "working_days":
        last = cal.add_working_days(local.date(), amount)
        return _counted(cal, f"{amount} 个工作日，开始当日不计入", local.date(), amount, local.date(), last)
    if unit == "months":
        nominal, rule = add_months(local.date(), amount), f"{amount} 个月，到期月的对应日为最后一日"
    else:
        nominal = local.date() + dt.timedelta(days=amount)  # Art. 201: counting starts the next day
        rule = f"{amount} 日，开始当日不计入"
    last = cal.next_workday(nominal)
    if last != nominal:  # Art. 203: a limit ending on a rest day moves on
        rule += f"；最后一日 {nominal:%Y-%m-%d} 为休息日，顺延至 {last:%Y-%m-%d}"
    return _counted(cal, rule, nominal, 0, nominal, last)


def _counted(cal: WorkCalendar, rule: str, count_from: dt.date, working_days: int,
             first_read: dt.date, last: dt.date) -> Deadline:
    """A day limit ending on ``last``; provisional when a day read lies in an unknown year."""
    years = cal.uncovered(first_read, last)
    if years:
        rule += "（" + provisional_basis(years) + "）"
    return Deadline(end_of(last), rule, provisional_years=years, count_from=count_from, working_days=working_days)

