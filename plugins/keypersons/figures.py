"""Figures per unit and period (seed 000 doc 5: 暂住人口 registered, 高危人口, 刑释解教人员 with
接茬率, 安置率, 重新犯罪): computed from the records, never typed in.

- counts per category: records of the unit's subtree under supervision at some time in the
  period (registered before its end, not ended before its start);
- released prisoners released in the period: how many, handed over (衔接 date recorded) →
  接茬率, placed (安置) → 安置率, helped (帮教) → 帮教率, re-offended;
- re-offences of released prisoners and community-corrections subjects (the indicator the
  scoring module reads for SCO-1/SCO-2: 刑满释放人员和社区服刑人员又犯罪);
- visits made in the period and how many by their due date.
"""
from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import func, select

from core.sdk import OrgUnit, period_day, period_moment, units_under

from .categories import CATEGORIES
from .models import KeyPerson, Visit


def day_after(day: dt.date) -> dt.date:
    """The day after ``day`` (the half-open end of a period), or ``day`` at the calendar's end."""
    return day + dt.timedelta(days=1) if day < dt.date.max else day


def _rate(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def _active(path: str, start: dt.date, end: dt.date):
    """Records of the subtree under supervision some time in [start, end]."""
    return (KeyPerson.org_unit_id.in_(units_under(path)),
            KeyPerson.created_at < period_moment(day_after(end)),
            (KeyPerson.ended_on.is_(None)) | (KeyPerson.ended_on >= start))


def _details(session, path: str, start: dt.date, end: dt.date, category: str) -> list[dict]:
    rows = session.scalars(select(KeyPerson.details).where(
        KeyPerson.category_bidx == CATEGORIES[category].bidx, KeyPerson.details.is_not(None), *_active(path, start, end)))
    return [json.loads(d) for d in rows if d]


def compute(session, unit: OrgUnit, start: dt.date, end: dt.date, categories: list[str]) -> dict:
    """The figures of ``unit``'s subtree for [start, end] (Beijing dates, both included), over
    ``categories`` only (those the reader may see there)."""
    counts = {}
    for key in categories:
        counts[key] = session.scalar(select(func.count(KeyPerson.id)).where(
            KeyPerson.category_bidx == CATEGORIES[key].bidx, *_active(unit.path, start, end))) or 0
    out: dict = {"org_unit_id": unit.id, "org_unit_name": unit.name, "start": start, "end": end, "counts": counts}
    if "released" in categories:
        released = [d for d in _details(session, unit.path, start, end, "released")
                    if start.isoformat() <= d.get("release_date", "") <= end.isoformat()]
        n = len(released)
        handed = sum(1 for d in released if d.get("handover_date"))
        placed = sum(1 for d in released if d.get("placed"))
        helped = sum(1 for d in released if d.get("helped"))
        out["released"] = {"count": n, "handed_over": handed, "handover_rate": _rate(handed, n),
                           "placed": placed, "placement_rate": _rate(placed, n), "helped": helped,
                           "help_rate": _rate(helped, n), "reoffended": sum(1 for d in released if d.get("reoffended"))}
    out["reoffences"] = reoffences(session, unit.path, start, end, categories)
    visits = select(func.count(Visit.id),
                    func.count(Visit.id).filter(Visit.due_on.is_(None) | (Visit.visited_on <= Visit.due_on))).join(
        KeyPerson, (KeyPerson.id == Visit.record_id) & (KeyPerson.tenant_id == Visit.tenant_id)).where(
        Visit.org_unit_id.in_(units_under(unit.path)), Visit.visited_on >= start, Visit.visited_on <= end,
        KeyPerson.category_bidx.in_([CATEGORIES[k].bidx for k in categories] or [""]))
    made, on_time = session.execute(visits).one()   # counted in SQL: a county's year is tens of thousands of visits
    out["visits"] = {"count": made, "on_time": on_time, "on_time_rate": _rate(on_time, made)}
    return out


def reoffences(session, path: str, start: dt.date, end: dt.date, categories=("released", "corrections")) -> int:
    """Released prisoners and community-corrections subjects recorded as re-offending, among
    those under supervision in the period."""
    return sum(1 for key in ("released", "corrections") if key in categories
               for d in _details(session, path, start, end, key) if d.get("reoffended"))


def reoffence_indicator(session, unit_id: int, period_start, period_end) -> float:
    """Indicator ``keypersons.reoffences`` (SCO-1, SCO-2): re-offences in the unit's subtree."""
    path = session.scalar(select(OrgUnit.path).where(OrgUnit.id == unit_id))
    if path is None:
        return 0.0
    last = period_day(period_end) - dt.timedelta(days=1)
    return float(reoffences(session, path, period_day(period_start), last))
