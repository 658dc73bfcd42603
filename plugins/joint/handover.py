"""Handing a case to a lead and co-units with a deadline — what a meeting's decision and a
campaign's target both do — through the core's dispatch (``sdk.dispatch_case``)."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select

from core.sdk import Case, CaseTask, Conflict, Invalid, NotFound, OrgUnit, dispatch_case, request_work, scoped, \
    units_under, utcnow

CASE_READ = "core.case.read"
SHANGHAI = ZoneInfo("Asia/Shanghai")


def today() -> dt.date:
    return utcnow().astimezone(SHANGHAI).date()


def end_of(day: dt.date) -> dt.datetime:
    """A deadline day's 24:00, Beijing time (a decision's or a target's deadline)."""
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), SHANGHAI)


def open_cases(ctx, unit: OrgUnit):
    """The open cases that arose or are handled in the unit's subtree, as the caller may read them."""
    below = units_under(unit.path)
    stmt = select(Case).where(Case.closed_at.is_(None),
                              or_(Case.org_unit_id.in_(below), Case.handling_unit_id.in_(below)))
    return scoped(stmt, ctx.grants, CASE_READ, Case.org_unit_id)


def open_case(ctx, unit: OrgUnit, case_id: int, field: str) -> Case:
    case = ctx.session.scalar(open_cases(ctx, unit).where(Case.id == case_id))
    if case is None:
        raise NotFound("case_not_found", "事项不存在、已办结或不在本单位范围内",
                       {"json": {field: ["事项不存在、已办结或不在本单位范围内"]}})
    return case


def _task(spec: dict, role: str, instruction: str, days: int) -> dict:
    out = {"role": role, "instruction": instruction, "limit": {"amount": days, "unit": "calendar_days"}}
    for key in ("org_unit_id", "member_unit_id"):
        if spec.get(key):
            out[key] = spec[key]
    return out


def hand_over(case: Case, lead: dict, co: list[dict], deadline: dt.date, text: str, note: str) -> list[CaseTask]:
    """One task per unit (the lead's first), each with ``text`` as its instruction and a limit
    ending on ``deadline`` at 24:00 (calendar days from today); a lead alone is a single dispatch."""
    days = (deadline - today()).days
    if days < 1:
        raise Invalid("deadline", "deadline_not_future", "办结期限须晚于今天")
    w = request_work()
    ctype = w.types.get(case.case_type)
    if ctype is None:
        raise Conflict("case_type_disabled", "该事项所属模块未启用，不能交办")
    tasks = [_task(lead, "lead", text, days)] + [_task(c, "co", text, days) for c in co]
    return dispatch_case(w, case, ctype, "joint" if co else "single", tasks, note)
