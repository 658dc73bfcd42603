"""The county's working-day calendar overrides: one day made a working day or a rest day
(a local holiday, an adjusted working day), on top of the national calendar; and the years
the county entered itself in full (declared, with the notice they come from).

Declaring or withdrawing a year changes the county's time limits: the caller starts a
recompute of its provisional limits (``core.cases.recompute``) once the change commits.

One service for ``/api/calendar/<day>`` and the admin console. County-wide
(``core.case.configure`` on the root unit); effective for the next act, audited on flush.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.authz import Grants, require_county_wide
from core.cases.models import CalendarDay, CalendarYear
from core.errors import Invalid, NotFound

CONFIGURE = "core.case.configure"
COUNTY_WIDE = "只有县级管理员可以修改事项设置和工作日历"


def days(session: Session, year: int | None = None) -> list[CalendarDay]:
    stmt = select(CalendarDay).order_by(CalendarDay.day)
    if year is not None:
        stmt = stmt.where(CalendarDay.day >= dt.date(year, 1, 1), CalendarDay.day < dt.date(year + 1, 1, 1))
    return list(session.scalars(stmt))


def set_day(session: Session, grants: Grants, day: dt.date, is_workday: bool, note: str) -> CalendarDay:
    require_county_wide(session, grants, CONFIGURE, COUNTY_WIDE)
    row = session.scalar(select(CalendarDay).where(CalendarDay.day == day))
    if row is None:
        row = CalendarDay(day=day)
        session.add(row)
    row.is_workday, row.note = is_workday, note
    session.flush()
    return row


def remove_day(session: Session, grants: Grants, day: dt.date) -> None:
    """Drop an override: the day follows the national calendar again."""
    require_county_wide(session, grants, CONFIGURE, COUNTY_WIDE)
    row = session.scalar(select(CalendarDay).where(CalendarDay.day == day))
    if row is None:
        raise NotFound()
    session.delete(row)
    session.flush()


# --- years the county entered itself ----------------------------------------------------------

def years(session: Session) -> list[CalendarYear]:
    return list(session.scalars(select(CalendarYear).order_by(CalendarYear.year)))


def check_year(year: int) -> int:
    """A year the calendar can hold (2000–2100); any other number is simply not found."""
    if not 2000 <= year <= 2100:
        raise NotFound()
    return year


def declare_year(session: Session, grants: Grants, year: int, source: str) -> CalendarYear:
    """Declare that this county's overrides hold the whole year's holidays and adjusted working
    days (``source``: the notice they were taken from); its other days then follow the week."""
    require_county_wide(session, grants, CONFIGURE, COUNTY_WIDE)
    if not days(session, check_year(year)):
        raise Invalid("year", "calendar_year_empty",
                      f"本县日历中还没有 {year} 年的任何节假日或调休日：请先逐日录入该年的安排，再声明已录入完整")
    row = session.scalar(select(CalendarYear).where(CalendarYear.year == year))
    if row is None:
        row = CalendarYear(year=year)
        session.add(row)
    row.source = source
    session.flush()
    return row


def undeclare_year(session: Session, grants: Grants, year: int) -> None:
    require_county_wide(session, grants, CONFIGURE, COUNTY_WIDE)
    row = session.scalar(select(CalendarYear).where(CalendarYear.year == check_year(year)))
    if row is None:
        raise NotFound()
    session.delete(row)
    session.flush()
