"""A mechanism's live work (JNT-1): the open cases of the case types the county names for it,
within the caller's scope, and its figures."""
from __future__ import annotations

from sqlalchemy import func, select

from zoneinfo import ZoneInfo

from sqlalchemy import and_

from core.sdk import Case, CaseTask, MemberUnit, NotFound, OrgUnit, scoped, utcnow

SHANGHAI = ZoneInfo("Asia/Shanghai")

CASE_READ = "core.case.read"
LIVE_LIMIT = 100


def mechanism(settings: dict, key: str) -> dict:
    found = next((m for m in settings["mechanisms"] if m["key"] == key), None)
    if found is None:
        raise NotFound()
    return found


def _of_types(mech: dict):
    return select(Case).where(Case.case_type.in_(mech["case_types"] or ["-"]))


def _cases(ctx, mech: dict):
    return scoped(_of_types(mech), ctx.grants, CASE_READ, Case.org_unit_id)


def live_cases(ctx, mech: dict) -> list[Case]:
    """Open cases of the mechanism's case types, the most urgent first (no time limit last). The
    order is the open-cases index's own (``due_at`` ascending, nulls last): the first hundred of a
    county's are read from it, not sorted from all of them."""
    stmt = _cases(ctx, mech).where(Case.closed_at.is_(None))
    return list(ctx.session.scalars(stmt.order_by(Case.due_at.asc().nulls_last(), Case.id.desc()).limit(LIVE_LIMIT)))


def figures(ctx, mech: dict) -> dict:
    """Open, overdue (earliest limit passed) and closed this month (Beijing time)."""
    now = utcnow()
    local = now.astimezone(SHANGHAI)
    month_start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    s = ctx.session
    # count(*) over the open cases in one pass, index-only on PostgreSQL (ix_case_record_open_unit
    # carries the type and the due time): a county of a million cases counts in tens of ms
    open_, overdue = s.execute(_cases(ctx, mech).with_only_columns(
        func.count(), func.count().filter(Case.due_at < now)).where(Case.closed_at.is_(None))).one()
    # the county's cases of these types closed this month (the closed-at index), then the scope: a
    # township's count no longer reads every case of each of its units
    month = _of_types(mech).with_only_columns(Case.org_unit_id).where(Case.closed_at >= month_start) \
        .cte("closed_this_month").prefix_with("MATERIALIZED", dialect="postgresql")
    closed = s.scalar(scoped(select(func.count()).select_from(month), ctx.grants, CASE_READ, month.c.org_unit_id))
    return {"open": open_, "overdue": overdue, "closed_this_month": closed}


TASK_LIMIT = 50
MEETING_LIMIT = 10


def open_tasks(ctx, mech: dict) -> dict:
    """The work handed out on the mechanism's cases (the core's dispatch): the open tasks of its
    cases in the caller's scope, the most urgent first (at most 50), and how many are open and
    past their limit."""
    s = ctx.session
    cases = _cases(ctx, mech).with_only_columns(Case.id).where(Case.closed_at.is_(None))
    base = select(CaseTask).where(CaseTask.state == "open", CaseTask.case_id.in_(cases))
    now = utcnow()
    total, late = s.execute(base.with_only_columns(func.count(), func.count().filter(CaseTask.due_at < now))).one()
    rows = list(s.execute(select(CaseTask, Case.number, Case.title).join(
        Case, and_(Case.tenant_id == CaseTask.tenant_id, Case.id == CaseTask.case_id))
        .where(CaseTask.state == "open", CaseTask.case_id.in_(cases))
        .order_by(CaseTask.due_at.asc().nulls_last(), CaseTask.id).limit(TASK_LIMIT)))
    units = dict(s.execute(select(OrgUnit.id, OrgUnit.name).where(
        OrgUnit.id.in_({t.org_unit_id for t, _, _ in rows}))).all())
    members = dict(s.execute(select(MemberUnit.id, MemberUnit.name).where(
        MemberUnit.id.in_({t.member_unit_id for t, _, _ in rows} - {None}))).all())
    return {"open": total, "overdue": late,
            "items": [{"id": t.id, "case_id": t.case_id, "case_number": number, "case_title": title, "role": t.role,
                       "unit": members.get(t.member_unit_id) or units.get(t.org_unit_id, ""), "due_at": t.due_at,
                       "overdue": t.due_at is not None and t.due_at < now} for t, number, title in rows]}


def recent_meetings(ctx, mech: dict) -> list[dict]:
    """The latest joint meetings (in the caller's scope) that had a case of the mechanism on their
    agenda or decided on one."""
    from .models import AgendaItem, Decision, Meeting
    from .permissions import READ
    cases = _cases(ctx, mech).with_only_columns(Case.id)
    concerned = select(AgendaItem.meeting_id).where(AgendaItem.case_id.in_(cases)).union(
        select(Decision.meeting_id).where(Decision.case_id.in_(cases)))
    stmt = scoped(select(Meeting).where(Meeting.id.in_(concerned)), ctx.grants, READ, Meeting.org_unit_id)
    rows = list(ctx.session.scalars(stmt.order_by(Meeting.held_on.desc(), Meeting.id.desc()).limit(MEETING_LIMIT)))
    units = dict(ctx.session.execute(select(OrgUnit.id, OrgUnit.name).where(
        OrgUnit.id.in_({m.org_unit_id for m in rows}))).all())
    return [{"id": m.id, "title": m.title, "held_on": m.held_on, "org_unit": units.get(m.org_unit_id, "")} for m in rows]
