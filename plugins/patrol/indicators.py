"""Indicators for the scoring module (``pingan_indicators``): each computed over a unit's subtree
(``units_under``) in a half-open period whose bounds are dates or aware datetimes."""
from __future__ import annotations

from sqlalchemy import func, select

from core.sdk import Case, Indicator, OrgUnit, period_moment, units_under

from .models import PatrolCamera, PatrolRound


def _path(session, unit_id: int) -> str | None:
    return session.scalar(select(OrgUnit.path).where(OrgUnit.id == unit_id))


def compliance(session, unit_id: int, period_start, period_end) -> float | None:
    """Mean compliance (%) of the rounds started in the period and ended (PAT-2); None (nothing to
    measure) when no round was."""
    path = _path(session, unit_id)
    if path is None:
        return None
    value = session.scalar(select(func.avg(PatrolRound.compliance)).where(
        PatrolRound.org_unit_id.in_(units_under(path)), PatrolRound.ended_at.is_not(None),
        PatrolRound.started_at >= period_moment(period_start), PatrolRound.started_at < period_moment(period_end)))
    return None if value is None else round(float(value), 1)


def caught(session, unit_id: int, period_start, period_end) -> float:
    """Suspects caught on the rounds started in the period (PAT-2: "抓获各类犯罪嫌疑人")."""
    path = _path(session, unit_id)
    if path is None:
        return 0.0
    return float(session.scalar(select(func.coalesce(func.sum(PatrolRound.caught), 0)).where(
        PatrolRound.org_unit_id.in_(units_under(path)),
        PatrolRound.started_at >= period_moment(period_start), PatrolRound.started_at < period_moment(period_end))) or 0)


def clues_handled(session, unit_id: int, period_start, period_end) -> float:
    """Clues closed as handled or turned into another case in the period (PAT-4: "231 handled")."""
    path = _path(session, unit_id)
    if path is None:
        return 0.0
    return float(session.scalar(select(func.count(Case.id)).where(
        Case.case_type == "patrol.clue", Case.state.in_(("handled", "turned")), Case.org_unit_id.in_(units_under(path)),
        Case.closed_at >= period_moment(period_start), Case.closed_at < period_moment(period_end))) or 0)


def cameras_working_share(session, unit_id: int, period_start, period_end) -> float | None:
    """Share (%) of the registered, not removed cameras that work now (PAT-6); None (nothing to
    measure) without any camera. The register keeps each camera's current state, not its
    history, so the period is not read."""
    path = _path(session, unit_id)
    if path is None:
        return None
    total, working = session.execute(select(func.count(PatrolCamera.id),
                                            func.count(PatrolCamera.id).filter(PatrolCamera.state == "working"))
                                     .where(PatrolCamera.org_unit_id.in_(units_under(path)),
                                            PatrolCamera.closed_at.is_(None))).one()
    return round(100.0 * working / total, 1) if total else None


INDICATORS = [
    Indicator(key="patrol.compliance", title="巡逻到点率", title_en="Patrol compliance", unit="%", compute=compliance),
    Indicator(key="patrol.results.caught", title="巡逻抓获嫌疑人数", title_en="Suspects caught on patrol", unit="人",
              compute=caught),
    Indicator(key="patrol.clues.handled", title="治安线索处理数", title_en="Clues handled", unit="条",
              compute=clues_handled),
    Indicator(key="patrol.cameras.working_share", title="监控探头完好率", title_en="Cameras working", unit="%",
              compute=cameras_working_share),
]
