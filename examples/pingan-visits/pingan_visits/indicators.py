"""Figures the scoring module can use: greetings sent in a unit's subtree during a period."""
from __future__ import annotations

from sqlalchemy import func, select

from core.sdk import OrgUnit, period_moment, units_under

from .models import VisitsGreeting


def greetings_sent(session, unit_id: int, period_start, period_end) -> float:
    path = session.scalar(select(OrgUnit.path).where(OrgUnit.id == unit_id))
    if path is None:
        return 0.0
    units = units_under(path)
    return float(session.scalar(
        select(func.count(VisitsGreeting.id))
        .where(VisitsGreeting.org_unit_id.in_(units), VisitsGreeting.created_at >= period_moment(period_start),
               VisitsGreeting.created_at < period_moment(period_end))) or 0)
