"""The module's indicators for the scoring module (SCO-7: centre staff assessed by the joint
mechanisms' work): over a unit's subtree and a half-open period (docs/plugin_hooks.md)."""
from __future__ import annotations

import datetime as dt
from functools import partial

from sqlalchemy import and_, func, select

from core.sdk import Case, CaseTask, Indicator, MemberUnit, OrgUnit, Supervision, module_settings, period_day, \
    period_moment, units_under

from .handover import end_of
from .models import Attendance, Campaign, CampaignTarget, Decision, Meeting


def _below(session, unit_id: int):
    path = session.scalar(select(OrgUnit.path).where(OrgUnit.id == unit_id))
    return None if path is None else units_under(path)


def meetings_held(session, unit_id, period_start, period_end) -> float:
    """Joint meetings held by the subtree's units in the period."""
    below = _below(session, unit_id)
    if below is None:
        return 0.0
    return float(session.scalar(select(func.count(Meeting.id)).where(
        Meeting.org_unit_id.in_(below), Meeting.held_on >= period_day(period_start),
        Meeting.held_on < period_day(period_end))) or 0)


def decisions_on_time(session, unit_id, period_start, period_end) -> float | None:
    """Of the decisions of the subtree's meetings whose deadline fell in the period, the share (%)
    done on time: a hand-over whose lead unit finished its task within its time limit, a
    supervision the unit answered by the decision's deadline. None (nothing to measure) when none
    fell due — a rubric says what that scores. A new matter has no deadline of the meeting's."""
    below = _below(session, unit_id)
    if below is None:
        return None
    due_in_period = and_(Meeting.org_unit_id.in_(below), Decision.deadline >= period_day(period_start),
                         Decision.deadline < period_day(period_end))
    meeting = and_(Meeting.tenant_id == Decision.tenant_id, Meeting.id == Decision.meeting_id)
    handed = session.execute(select(CaseTask.state, CaseTask.done_at, CaseTask.due_at)
                             .join(Decision, and_(Decision.tenant_id == CaseTask.tenant_id,
                                                  Decision.lead_task_id == CaseTask.id))
                             .join(Meeting, meeting).where(due_in_period)).all()
    # a supervision answered by the meeting's deadline (24:00 Beijing): the core's own reply limit
    # moves when a late one is escalated, so it is not the measure
    supervised = session.execute(select(Supervision.state, Supervision.responded_at, Decision.deadline)
                                 .join(Decision, and_(Decision.tenant_id == Supervision.tenant_id,
                                                      Decision.supervision_id == Supervision.id))
                                 .join(Meeting, meeting).where(due_in_period)).all()
    rows = [(state == "done", at, due) for state, at, due in handed] + \
           [(state == "answered", at, end_of(deadline)) for state, at, deadline in supervised]
    if not rows:
        return None
    on_time = sum(1 for done, at, due in rows if done and at is not None and (due is None or at <= due))
    return round(100.0 * on_time / len(rows), 2)


def targets_closed(session, unit_id, period_start, period_end) -> float:
    """Campaign targets of the subtree's campaigns closed (销号) in the period."""
    below = _below(session, unit_id)
    if below is None:
        return 0.0
    return float(session.scalar(select(func.count(CampaignTarget.id)).join(
        Campaign, and_(Campaign.tenant_id == CampaignTarget.tenant_id, Campaign.id == CampaignTarget.campaign_id))
        .where(Campaign.org_unit_id.in_(below), CampaignTarget.closed_on >= period_day(period_start),
               CampaignTarget.closed_on < period_day(period_end))) or 0)


def _periods(cadence: str, start: dt.date, end: dt.date) -> int:
    """How many meetings of ``cadence`` fall due in [start, end): the weeks (Mondays) or the months
    (first days) that begin in it."""
    if cadence == "weekly":
        first = start + dt.timedelta(days=(7 - start.weekday()) % 7)
        return 0 if first >= end else (end - first).days // 7 + (1 if (end - first).days % 7 else 0)
    months = (end.year - start.year) * 12 + end.month - start.month   # first days in (start, end]
    return months + (1 if start.day == 1 else 0) - (1 if end.day == 1 else 0)


def meetings_as_planned(session, unit_id, period_start, period_end) -> float | None:
    """Of the meetings the county's settings plan in the period for the subtree's units — each kind
    at its level, weekly or monthly — the share (%) held: per unit and kind, meetings held up to the
    number planned (meetings beyond it do not count). None when none is planned."""
    unit = session.scalar(select(OrgUnit).where(OrgUnit.id == unit_id))
    if unit is None:
        return None
    start, end = period_day(period_start), period_day(period_end)
    planned = held = 0
    for kind in module_settings(session, "joint")["meetings"]:
        n = _periods(kind["cadence"], start, end)
        units = list(session.scalars(select(OrgUnit.id).where(OrgUnit.id.in_(units_under(unit.path)),
                                                             OrgUnit.level == kind["level"], OrgUnit.status == "active")))
        if not n or not units:
            continue
        counts = dict(session.execute(select(Meeting.org_unit_id, func.count(Meeting.id)).where(
            Meeting.kind == kind["key"], Meeting.org_unit_id.in_(units), Meeting.held_on >= start,
            Meeting.held_on < end).group_by(Meeting.org_unit_id)).all())
        planned += n * len(units)
        held += sum(min(counts.get(u, 0), n) for u in units)
    return round(100.0 * held / planned, 2) if planned else None


def attendance_rate(session, unit_id, period_start, period_end) -> float | None:
    """The member units seated in the subtree: of their attendances recorded at meetings held in
    the period, the share (%) present or by a substitute. None when none was recorded."""
    below = _below(session, unit_id)
    if below is None:
        return None
    rows = dict(session.execute(select(Attendance.status, func.count(Attendance.id))
                                .join(Meeting, and_(Meeting.tenant_id == Attendance.tenant_id,
                                                    Meeting.id == Attendance.meeting_id))
                                .join(MemberUnit, and_(MemberUnit.tenant_id == Attendance.tenant_id,
                                                       MemberUnit.id == Attendance.member_unit_id))
                                .where(MemberUnit.org_unit_id.in_(below), Meeting.held_on >= period_day(period_start),
                                       Meeting.held_on < period_day(period_end))
                                .group_by(Attendance.status)).all())
    total = sum(rows.values())
    came = rows.get("present", 0) + rows.get("substitute", 0)
    return round(100.0 * came / total, 2) if total else None


INDICATORS = [
    Indicator("joint.meetings.held", "召开联席会议数", meetings_held, "Joint meetings held", "次"),
    Indicator("joint.meetings.as_planned", "联席会议按计划召开率", meetings_as_planned, "Joint meetings held as planned", "%"),
    Indicator("joint.attendance.rate", "成员单位出席率", attendance_rate, "Member units' attendance", "%"),
    Indicator("joint.decisions.on_time", "会议决定按期办结率", decisions_on_time, "Decisions done on time", "%"),
    Indicator("joint.campaign.targets_closed", "专项整治目标销号数", targets_closed, "Campaign targets closed", "个"),
]


def tasks_on_time(case_types: list[str], session, unit_id, period_start, period_end) -> float | None:
    """A mechanism's share of the work (SCO-7, "按照'五联'机制分解工作任务"): of the tasks handed
    to the subtree's units on cases of the mechanism's types and due in the period, the share (%)
    done by their limit. None when none fell due."""
    below = _below(session, unit_id)
    if below is None or not case_types:
        return None
    rows = session.execute(select(CaseTask.state, CaseTask.done_at, CaseTask.due_at)
                           .join(Case, and_(Case.tenant_id == CaseTask.tenant_id, Case.id == CaseTask.case_id))
                           .where(Case.case_type.in_(case_types), CaseTask.org_unit_id.in_(below),
                                  CaseTask.state != "cancelled", CaseTask.due_at >= period_moment(period_start),
                                  CaseTask.due_at < period_moment(period_end))).all()
    if not rows:
        return None
    done = sum(1 for state, at, due in rows if state == "done" and at is not None and at <= due)
    return round(100.0 * done / len(rows), 2)


def mechanism_indicators(settings: dict) -> list[Indicator]:
    """One indicator per mechanism the county declares (``pingan_county_indicators``)."""
    return [Indicator(f"joint.mechanism.{m['key']}.tasks_on_time", f"{m['title']}：交办任务按期办结率",
                      partial(tasks_on_time, list(m["case_types"])), f"{m['title']}: tasks done on time", "%")
            for m in settings.get("mechanisms") or []]
