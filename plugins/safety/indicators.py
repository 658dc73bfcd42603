"""Figures for scoring (SCO): each ``compute(session, unit_id, period_start, period_end)`` counts
over the unit's subtree in the half-open period (dates are 00:00 Beijing time)."""
from __future__ import annotations

from sqlalchemy import and_, func, or_, select

from core.sdk import Case, CaseDeadline, Indicator, OrgUnit, period_moment, units_under

from .hazards import KEY, PERIOD_RULES
from .models import Hazard, Incident


def _units(session, unit_id: int):
    path = session.scalar(select(OrgUnit.path).where(OrgUnit.id == unit_id))
    return units_under(path) if path else None


def closed_on_time(session, unit_id: int, period_start, period_end) -> float:
    """Hazards closed out (销号) in the period with every rectification period met."""
    units = _units(session, unit_id)
    if units is None:
        return 0.0
    missed = select(CaseDeadline.case_id).where(CaseDeadline.rule.in_(PERIOD_RULES), CaseDeadline.met.is_(False))
    stmt = select(func.count(Case.id)).where(
        Case.case_type == KEY, Case.org_unit_id.in_(units), Case.closed_at >= period_moment(period_start),
        Case.closed_at < period_moment(period_end), Case.id.not_in(missed))
    return float(session.scalar(stmt) or 0)


def overdue(session, unit_id: int, period_start, period_end) -> float:
    """Hazards whose rectification period ran out in the period before it was reported done."""
    units = _units(session, unit_id)
    if units is None:
        return 0.0
    start, end = period_moment(period_start), period_moment(period_end)
    stmt = (select(func.count(func.distinct(CaseDeadline.case_id)))
            .join(Case, and_(Case.tenant_id == CaseDeadline.tenant_id, Case.id == CaseDeadline.case_id))
            .where(Case.case_type == KEY, Case.org_unit_id.in_(units), CaseDeadline.rule.in_(PERIOD_RULES),
                   CaseDeadline.due_at >= start, CaseDeadline.due_at < end,
                   or_(CaseDeadline.stopped_at.is_(None), CaseDeadline.stopped_at > CaseDeadline.due_at)))
    return float(session.scalar(stmt) or 0)


def major_open(session, unit_id: int, period_start, period_end) -> float:
    """重大 hazards registered before the period's end and not closed out by then."""
    units = _units(session, unit_id)
    if units is None:
        return 0.0
    end = period_moment(period_end)
    stmt = (select(func.count(Case.id))
            .join(Hazard, and_(Hazard.tenant_id == Case.tenant_id, Hazard.case_id == Case.id))
            .where(Case.case_type == KEY, Case.org_unit_id.in_(units), Hazard.major.is_(True), Case.created_at < end,
                   or_(Case.closed_at.is_(None), Case.closed_at >= end)))
    return float(session.scalar(stmt) or 0)


def incidents_late(session, unit_id: int, period_start, period_end) -> float:
    """Incidents that occurred in the period and were reported after the county's limit (SAF-4)."""
    units = _units(session, unit_id)
    if units is None:
        return 0.0
    stmt = select(func.count(Incident.id)).where(
        Incident.org_unit_id.in_(units), Incident.late.is_(True),
        Incident.occurred_at >= period_moment(period_start), Incident.occurred_at < period_moment(period_end))
    return float(session.scalar(stmt) or 0)


INDICATORS = [
    Indicator("safety.hazards.closed_on_time", "按期整改销号的隐患数", closed_on_time, "Hazards closed on time", "处"),
    Indicator("safety.hazards.overdue", "逾期未整改的隐患数", overdue, "Hazards overdue", "处"),
    Indicator("safety.hazards.major_open", "未销号的重大隐患数", major_open, "Major hazards open", "处"),
    Indicator("safety.incidents.late", "迟报的事件数", incidents_late, "Incidents reported late", "起"),
]
