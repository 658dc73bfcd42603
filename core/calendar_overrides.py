"""The county's working-day calendar overrides: one day made a working day or a rest day
(a local holiday, an adjusted working day), on top of the national calendar.

One service for ``/api/calendar/<day>`` and the admin console. County-wide
(``core.case.configure`` on the root unit); effective for the next act, audited on flush.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.authz import Grants, require_county_wide
from core.cases.models import CalendarDay
from core.errors import NotFound

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
