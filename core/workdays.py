"""Working days and time limits in China (groundwork of the case engine, issue 3).

Which days are working days comes from the PyPI package ``chinese-calendar`` (statutory
holidays and adjusted working days, 调休, as published each year by the State Council;
the installed version says which years it covers). A county can override single days
(``WorkCalendar(overrides=…)``), and for a year the package does not cover yet the
calendar refuses to guess: it raises :class:`CalendarGap`, naming the year, until the
county configures that year's days or the package is upgraded.

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
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import chinese_calendar

SHANGHAI = ZoneInfo("Asia/Shanghai")
UNITS = ("calendar_days", "working_days", "months", "hours", "minutes")
DAY_UNITS = ("calendar_days", "working_days", "months")  # an amount of 0 of these: by the end of the same day


class CalendarGap(LookupError):
    """No holiday data for a year: configure it for the county or upgrade chinese-calendar."""

    def __init__(self, year: int) -> None:
        super().__init__(f"{year} 年的法定节假日和调休安排尚未配置：请在本县日历中补充该年安排，"
                         f"或升级 chinese-calendar 软件包")
        self.year = year


@dataclass(frozen=True)
class Deadline:
    due_at: dt.datetime          # aware, Asia/Shanghai; the limit ends at this moment
    rule: str                    # how it was computed, for the case record
    source: str = "民法典第二百零一条至第二百零三条"


@dataclass
class WorkCalendar:
    """Working days: the package's national data, then the county's overrides on top."""

    overrides: dict[dt.date, bool] = field(default_factory=dict)  # date → is a working day
    # Years the county entered itself (its overrides hold that year's holidays and adjusted
    # working days); other days of such a year follow the week: Monday to Friday work.
    declared_years: frozenset[int] = frozenset()

    def is_workday(self, day: dt.date) -> bool:
        if day in self.overrides:
            return self.overrides[day]
        try:
            return chinese_calendar.is_workday(day)
        except NotImplementedError:
            if day.year in self.declared_years:
                return day.weekday() < 5
            raise CalendarGap(day.year) from None

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


def _end_of(day: dt.date) -> dt.datetime:
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
        return Deadline(_end_of(local.date()), "当日")
    if unit == "hours":
        return Deadline(local + dt.timedelta(hours=amount), f"{amount} 小时，自起算时刻计算")
    if unit == "minutes":
        return Deadline(local + dt.timedelta(minutes=amount), f"{amount} 分钟，自起算时刻计算")
    if unit == "working_days":
        last = cal.add_working_days(local.date(), amount)
        return Deadline(_end_of(last), f"{amount} 个工作日，开始当日不计入")
    if unit == "months":
        last, rule = add_months(local.date(), amount), f"{amount} 个月，到期月的对应日为最后一日"
    else:
        last = local.date() + dt.timedelta(days=amount)  # Art. 201: counting starts the next day
        rule = f"{amount} 日，开始当日不计入"
    if not cal.is_workday(last):  # Art. 203: a limit ending on a rest day moves on
        moved = cal.next_workday(last)
        rule += f"；最后一日 {last:%Y-%m-%d} 为休息日，顺延至 {moved:%Y-%m-%d}"
        last = moved
    return Deadline(_end_of(last), rule)
