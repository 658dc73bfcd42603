"""Dispatch (分流交办) to org units and member units alike, and a task's steps after it:
签收 (acknowledge), 回退 (return, with a reason), 办结 (answer) and the dispatcher's 回访
(follow-up call with the petitioner's satisfaction) — issue 15, item 7; ORG-3, INT-3.

A task goes to an org unit of the tree, or to a member unit (成员单位: 司法所, 派出所 …, ORG-3)
seated in a unit's centre: ``CaseTask.member_unit_id`` set, ``org_unit_id`` its seat. The
receiving unit's users (:func:`task_users`) are the active users of the org unit, or, for a
member unit, its staff: the users linked to it (``User.member_unit_id``, chosen on the
member-unit admin page). Acting on a member unit's task needs ``core.case.handle`` on its seat
*and* being on its staff (:func:`require_task_unit`).

Every dispatched task must be acknowledged by ``CaseTask.acknowledge_due_at``: the county's
``acknowledge_limit`` of the case type's settings (default 1 working day, counted on the
county's calendar). It is not one of the case's time limits (no ``case_deadline`` row: never
``Case.due_at``, never in the on-time figures); when it runs out unacknowledged the sweep
(``core.cases.sweep``) flags the task once (``ack_flagged_at``), records ``task_ack_overdue``
on the timeline and gives the receiving unit's users a to-do 未按时签收; the task shows
``acknowledge_overdue``. An answer given without acknowledging first acknowledges too.

The dispatcher (``CaseTask.assigned_by``; nobody recorded: ``access.dispatchers``) is told of
every acknowledgement (a message), answer (a message and a 待回访 to-do, closed by the
follow-up) and return (a 待重新交办 to-do, closed when the case is dispatched again); the
receiving unit of the follow-up's result. Acts are audited (``core.audit.record``) besides the
row changes the flush records.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.authz import Grants
from core.cases import deadlines, settings as case_settings
from core.cases.access import case_units, covers, dispatchers, require_on
from core.cases.models import Case, CaseDeadline, CaseEvent, CaseFollowUp, CaseTask
from core.cases.timeline import Work
from core.cases.types import CaseType
from core.db import utcnow
from core.workdays import deadline
from core.errors import Conflict, Forbidden, Invalid, NotFound
from core.models import MemberUnit, OrgUnit, User
from core.notifications import close_todos, notify, users_of_unit

HANDLE, DIVERT = "core.case.handle", "core.case.divert"
ACK_TITLE = "签收时限"
SATISFACTION = {"satisfied": ("满意", "Satisfied"), "basically_satisfied": ("基本满意", "Basically satisfied"),
                "dissatisfied": ("不满意", "Dissatisfied")}
ROLE_TITLES = {"sole": ("承办", "Handling"), "lead": ("主办", "Lead"), "co": ("协办", "Co-handling")}
EVENT_TITLES = {"task_acknowledged": ("签收", "Acknowledged"), "task_ack_overdue": ("签收超时", "Not acknowledged in time"),
                "followed_up": ("回访", "Follow-up call")}


# --- who receives ---------------------------------------------------------------------------

def staff_of(session: Session, member_unit_id: int) -> list[int]:
    """Active users on a member unit's staff."""
    return list(session.scalars(select(User.id).where(User.member_unit_id == member_unit_id,
                                                      User.status == "active")))


def task_users(session: Session, task: CaseTask) -> list[int]:
    """The receiving unit's users: a member unit's staff, or the org unit's users."""
    if task.member_unit_id is not None:
        return staff_of(session, task.member_unit_id)
    return users_of_unit(session, task.org_unit_id)


def may_act(session: Session, grants: Grants, user: User | None, task: CaseTask) -> bool:
    """May ``user`` act for the task's receiving unit (acknowledge, answer, return)?"""
    if not covers(session, grants, HANDLE, task.org_unit_id):
        return False
    return _staff_match(user, task)


def _staff_match(user: User | None, task: CaseTask) -> bool:
    """A member unit's task is its staff's; a member unit's staff act for it, not for the org
    units where their account sits (they stay in their own line, ORG-3)."""
    mine = user.member_unit_id if user is not None else None
    return task.member_unit_id == mine if (task.member_unit_id is not None or mine is not None) else True


def require_task_unit(w: Work, case: Case, task: CaseTask) -> int:
    """403 unless the actor acts for the task's receiving unit (see :func:`may_act`)."""
    unit = require_on(w.session, w.grants, HANDLE, case, [task.org_unit_id], "只有承办该任务的单位可以办理")
    if not _staff_match(w.user, task):
        if task.member_unit_id is not None:
            raise Forbidden("not_member_unit_staff", "只有该成员单位的工作人员可以办理此任务")
        raise Forbidden("not_your_unit", "成员单位的工作人员只能办理交给本成员单位的任务")
    return unit


def targets(session: Session, grants: Grants) -> list[MemberUnit]:
    """The active member units a user may dispatch to: those seated in the units where they
    hold ``core.case.divert`` (their own centre and the centres below it)."""
    from core.cases.access import units_in_scope
    return list(session.scalars(select(MemberUnit).where(MemberUnit.active.is_(True),
                                                         MemberUnit.org_unit_id.in_(units_in_scope(grants, DIVERT)))
                                .order_by(MemberUnit.org_unit_id, MemberUnit.name).limit(500)))


def resolve_target(w: Work, spec: dict, i: int) -> tuple[int, int | None]:
    """``(org_unit_id, member_unit_id)`` of a task spec: a member unit (its seat the org unit, or
    the given one, which must then be its seat) or an org unit of the county. A member unit that
    does not exist, is another county's or is seated outside the dispatcher's scope answers 404
    ``member_unit_not_found`` naming its field (as ``core.authz.named_unit`` does for units); an
    inactive one, one not seated in the given org unit, or one with no staff yet (nobody could
    acknowledge it), 422 at its field."""
    s = w.session
    member_id, unit_id = spec.get("member_unit_id"), spec.get("org_unit_id")
    if member_id is None:
        if unit_id is None:
            raise Invalid(f"tasks.{i}.org_unit_id", "required", "请选择承办单位或成员单位")
        return unit_id, None
    field = f"tasks.{i}.member_unit_id"
    member = s.scalar(select(MemberUnit).where(MemberUnit.id == member_id))
    if member is None or (w.user is not None and not covers(s, w.grants, DIVERT, member.org_unit_id)):
        message = "成员单位不存在或不在您的管辖范围内"
        raise NotFound("member_unit_not_found", message, {"json": {field: [message]}})
    if not member.active:
        raise Invalid(field, "member_unit_inactive", "该成员单位已停用，不能交办")
    if unit_id is not None and unit_id != member.org_unit_id:
        raise Invalid(f"tasks.{i}.member_unit_id", "unknown_member_unit", "该成员单位不属于所选单位")
    if not staff_of(s, member.id):  # nobody could acknowledge or answer it: the task would lie unseen
        raise Invalid(field, "member_unit_unstaffed",
                      "该成员单位还没有工作人员账号，无法签收办理；请管理员先为其指定工作人员，或交办其他单位")
    return member.org_unit_id, member.id


def target_names(session: Session, tasks) -> dict[int, str]:
    """Each task's receiving unit by name: ``东湖司法所（东湖镇）`` for a member unit."""
    units = dict(session.execute(select(OrgUnit.id, OrgUnit.name).where(
        OrgUnit.id.in_({t.org_unit_id for t in tasks} or {-1}))).all())
    members = dict(session.execute(select(MemberUnit.id, MemberUnit.name).where(
        MemberUnit.id.in_({t.member_unit_id for t in tasks if t.member_unit_id} or {-1}))).all())
    return {t.id: (f"{members.get(t.member_unit_id, '')}（{units.get(t.org_unit_id, '')}）" if t.member_unit_id
                   else units.get(t.org_unit_id, "")) for t in tasks}


# --- the acknowledgement limit ----------------------------------------------------------------

def ack_due(session: Session, ctype: CaseType, at: dt.datetime, cal=None) -> dt.datetime:
    """When a task dispatched at ``at`` must be acknowledged: the county's ``acknowledge_limit``
    for the case type (default 1 working day), on the county's calendar (or ``cal``: the
    recount after a year's holidays became known, ``core.cases.recompute``)."""
    limit = case_settings.for_type(session, ctype).acknowledge_limit or case_settings.ACKNOWLEDGE_DEFAULT
    cal = cal if cal is not None else case_settings.calendar(session)
    return deadlines.utc(deadline(at, limit["amount"], limit["unit"], cal).due_at)


def close_reminders(session: Session, task: CaseTask, ack_only: bool = False) -> None:
    """The to-dos the sweep sent about the task (``reminder:ack_overdue:<task>``, and unless
    ``ack_only`` those about its limits, ``reminder:<kind>:<deadline>``) ask for nothing more once
    it is acknowledged or finished: they close."""
    close_todos(session, key=f"reminder:ack_overdue:{task.id}")
    if ack_only:
        return
    for deadline_id in session.scalars(select(CaseDeadline.id).where(CaseDeadline.task_id == task.id)):
        for kind in ("overdue", "due_soon"):
            close_todos(session, key=f"reminder:{kind}:{deadline_id}")


def ack_state(tasks, now: dt.datetime | None = None) -> None:
    """Set on each task (for ``TaskSchema`` and the case page) ``acknowledge_overdue``: open, not
    acknowledged, and its acknowledgement limit has run out."""
    now = now or utcnow()
    for t in tasks:
        t.acknowledge_overdue = bool(t.state == "open" and t.acknowledged_at is None
                                     and t.acknowledge_due_at is not None and t.acknowledge_due_at <= now)


# --- acts -------------------------------------------------------------------------------------

def _dispatcher(session: Session, case: Case, task: CaseTask) -> list[int]:
    return [task.assigned_by] if task.assigned_by else dispatchers(session, case)


def _event(w: Work, case: Case, ctype: CaseType, kind: str, **kw):
    from core.cases.engine import record_event
    return record_event(w, case, ctype, case_settings.for_type(w.session, ctype), kind, **kw)


def acknowledge(w: Work, case: Case, ctype: CaseType, task: CaseTask, note: str | None = None,
                implied: bool = False) -> CaseTask:
    """签收: the receiving unit takes the task on; its acknowledgement limit stops and the
    dispatcher is told. ``implied``: part of an answer given without acknowledging first."""
    s = w.session
    if not implied:
        require_task_unit(w, case, task)
        if task.state != "open":
            raise Conflict("task_not_open", "该任务已办结、退回或撤回")
        if task.acknowledged_at is not None:
            raise Conflict("task_acknowledged", "该任务已签收")
    now = utcnow()
    task.acknowledged_at, task.acknowledged_by = now, w.user_id
    close_reminders(s, task, ack_only=True)
    if implied:
        return task
    names = target_names(s, [task])
    _event(w, case, ctype, "task_acknowledged", at=now, note=note, unit_id=task.org_unit_id,
           data={"task_id": task.id, "member_unit_id": task.member_unit_id})
    audit.record(s, "case.task.acknowledge", "case_task", task.id, {"case_id": case.id, "number": case.number})
    notify(s, _dispatcher(s, case, task), f"task-ack:{task.id}", f"已签收：{case.number} {names[task.id]}",
           note or "", case_id=case.id)
    return task


def after_finish(w: Work, case: Case, task: CaseTask, outcome: str, text: str) -> None:
    """Tell the dispatcher of an answer (a message, and a 待回访 to-do) or a return (a 待重新交办
    to-do); audit the act. Called by ``engine.finish_task`` once the task is finished."""
    s = w.session
    close_reminders(s, task)
    who = _dispatcher(s, case, task)
    name = target_names(s, [task])[task.id]
    audit.record(s, "case.task.answer" if outcome == "done" else "case.task.return", "case_task", task.id,
                 {"case_id": case.id, "number": case.number, "text": text[:200]})
    if outcome == "done":
        notify(s, who, f"task-done:{task.id}", f"任务已反馈（办结）：{case.number} {name}", text, case_id=case.id)
        notify(s, who, f"callback:{task.id}", f"待回访：{case.number} {name}已办结答复", text,
               kind="todo", case_id=case.id)
    else:
        notify(s, who, f"redispatch:{task.id}", f"任务被退回，请重新交办：{case.number} {name}", text,
               kind="todo", case_id=case.id)


def on_redispatch(session: Session, case: Case) -> None:
    """A new dispatch answers every return of the case: its 待重新交办 to-dos close."""
    for task_id in session.scalars(select(CaseTask.id).where(CaseTask.case_id == case.id,
                                                             CaseTask.state == "returned")):
        close_todos(session, key=f"redispatch:{task_id}")


def dispatch_units(session: Session, case: Case) -> list[int | None]:
    """Where the case's dispatcher acts from: the units it was diverted from, then the case's own."""
    froms = [(e or {}).get("from_unit_id") for e in session.scalars(
        select(CaseEvent.data).where(CaseEvent.case_id == case.id, CaseEvent.kind == "diverted")
        .order_by(CaseEvent.at.desc(), CaseEvent.id.desc()))]
    out: list[int | None] = []
    for u in [*froms, *case_units(case)]:
        if u is not None and u not in out:
            out.append(u)
    return out


def follow_up(w: Work, case: Case, ctype: CaseType, satisfaction: str, note: str | None,
              task_id: int | None = None) -> CaseFollowUp:
    """回访: the dispatcher calls the petitioner back after an answer and records their
    satisfaction and a note. ``task_id``: the answered task (default: the latest answer)."""
    s = w.session
    unit = require_on(s, w.grants, DIVERT, case, dispatch_units(s, case), "只有分流交办单位可以回访")
    if satisfaction not in SATISFACTION:
        raise Invalid("satisfaction", "invalid_satisfaction", "请选择满意、基本满意或不满意")
    answered = select(CaseTask).where(CaseTask.case_id == case.id, CaseTask.state == "done")
    if task_id is not None:
        task = s.scalar(answered.where(CaseTask.id == task_id))
        if task is None:
            raise Invalid("task_id", "unknown_task", "该事项没有这个已办结的任务")
    else:
        task = s.scalar(answered.order_by(CaseTask.done_at.desc(), CaseTask.id.desc()).limit(1))
        if task is None:
            raise Conflict("not_answered", "承办单位尚未办结答复，不能回访")
    now = utcnow()
    row = CaseFollowUp(case_id=case.id, task_id=task.id, satisfaction=satisfaction, note=note or "",
                       called_by=w.user_id, called_at=now)
    s.add(row)
    s.flush()
    title = SATISFACTION[satisfaction][0]
    _event(w, case, ctype, "followed_up", at=now, note=f"{title}" + (f"；{note}" if note else ""), unit_id=unit,
           data={"follow_up_id": row.id, "task_id": task.id, "satisfaction": satisfaction})
    audit.record(s, "case.follow_up", "case_follow_up", row.id,
                 {"case_id": case.id, "number": case.number, "task_id": task.id, "satisfaction": satisfaction})
    close_todos(s, key=f"callback:{task.id}")
    told = (set(task_users(s, task)) | set(dispatchers(s, case))) - {w.user_id}
    notify(s, told, f"follow-up:{row.id}", f"回访结果：{title}（{case.number}）", note or "", case_id=case.id)
    return row


def follow_ups(session: Session, case: Case) -> list[CaseFollowUp]:
    return list(session.scalars(select(CaseFollowUp).where(CaseFollowUp.case_id == case.id)
                                .order_by(CaseFollowUp.called_at, CaseFollowUp.id)))
