"""Acts on cases: register, transition, divert (分/合), tasks, assign, comment, flag, extend.

Every act takes a :class:`~core.cases.timeline.Work` (session, plugins, who acts), checks
the actor's permission on the right unit, changes the rows, records a timeline event
(which starts and stops time limits and tells the plugins) and leaves the commit to the
caller — an act is all or nothing.
"""
from __future__ import annotations

import datetime as dt

from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from core import bounds
from core.authz import require, unit_path
from core.cases import backdating, deadlines, fresh, search, settings as case_settings, tally, timeline
from core.cases.access import case_units, covers, require_on, task_units
from core.cases.models import (Case, CaseDeadline, CaseEvent, CaseExtension, CaseFlag, CasePerson, CaseTask,
                               Intake)
from core.cases.timeline import Work
from core.cases.types import CaseType
from core.db import _dialect_insert, current_tenant_id, take_ids, utcnow
from core.privacy import attach_basis
from core.errors import Conflict, Forbidden, Invalid, NotFound, Unprocessable
from core.models import Notification, OrgUnit, Person, User
from core.notifications import close_todos, notify
from core.workdays import SHANGHAI

CHANNEL_TITLES = {"letter": "来信", "visit": "来访", "call": "来电", "online": "网上", "hotline": "热线转办",
                  "grid": "网格上报", "higher": "上级交办", "other": "其他"}
CHANNELS = tuple(CHANNEL_TITLES)
DIVERT, HANDLE, APPROVE = "core.case.divert", "core.case.handle", "core.case.extension.approve"


# --- numbering and counts -----------------------------------------------------------------

def next_number(session: Session, ctype: CaseType, fmt: str, year: int) -> str:
    """The next number of ``ctype`` in ``year``: one upsert creates the counter at 1 or moves it
    by one and returns the value, its row lock held to the commit (no gaps, no twins)."""
    from core.cases.models import CaseCounter
    stmt = _dialect_insert(session, CaseCounter).values(tenant_id=current_tenant_id(), case_type=ctype.key,
                                                        year=year, value=1)
    stmt = stmt.on_conflict_do_update(index_elements=["tenant_id", "case_type", "year"],
                                      set_={"value": CaseCounter.value + 1}).returning(CaseCounter.value)
    return fmt.format(year=year, seq=session.execute(stmt).scalar_one())


def _tally(session: Session, case: Case, states: dict[str, int]) -> None:
    """The case's move in the statistics' tallies (``core.cases.tally``: all of them, one call)."""
    tally.count(session, case, states)


def active_unit(session: Session, unit_id: int, field: str) -> OrgUnit:
    unit = session.scalar(select(OrgUnit).where(OrgUnit.id == unit_id))
    if unit is None or unit.status != "active":
        raise Invalid(field, "unknown_unit", "单位不存在或已撤销")
    return unit


# --- register -------------------------------------------------------------------------------

def register(w: Work, ctype: CaseType, data: dict, at: dt.datetime | None = None,
             received: dt.datetime | None = None, received_note: backdating.Dated | None = None) -> Case:
    """Register a case of ``ctype`` where it arose (``data["org_unit_id"]``).

    ``data``: title, content, org_unit_id, channel, persons ``[{person_id, role}]``, flags,
    details (validated by the type's ``details_schema``), intake_id, and ``received_at`` with
    ``backdate_reason``: when the matter was received, checked here (``core.cases.backdating``).
    ``received``: a received time already checked (the window's, when an intake is sorted;
    ``received_note`` how it was checked, when that happened in the same act). The limits that
    start at registration run from the received time.
    """
    s = w.session
    at = at or utcnow()
    unit_id = data["org_unit_id"]
    unit = s.scalar(select(OrgUnit).where(OrgUnit.id == unit_id))  # one read: the scope check uses its path

    def in_scope(perm: str, uid: int | None) -> bool:
        if uid == unit_id:
            return unit is not None and w.grants.has(perm) and w.grants.covers(perm, unit.path)
        return covers(s, w.grants, perm, uid)

    if w.user is not None and not in_scope(ctype.create_permission, unit_id):
        require(w.grants, ctype.create_permission)
        raise NotFound("unit_not_found", "单位不存在或不在您的管辖范围内，不能在该单位登记事项")
    if unit is None or unit.status != "active":
        raise Invalid("org_unit_id", "unknown_unit", "单位不存在或已撤销")
    conf = case_settings.for_type(s, ctype)
    dated, checked_here = received_note, False
    if received is None and data.get("received_at") is not None:
        dated = backdating.received(w, "received_at", data["received_at"], data.get(backdating.REASON),
                                    conf.max_backdate_days, [unit_id])
        received, checked_here = dated.at, True
    received = min(received or at, at)
    details = {}
    if ctype.details_schema is not None:
        try:
            details = ctype.details_schema().load(data.get("details") or {})
        except ValidationError as exc:
            raise Unprocessable("invalid_details", "事项详情填写有误", {"json": {"details": exc.messages}}) from None
        bounds.check(details, prefix="details.")  # a module's ids and times too (issue 14)
    elif data.get("details"):
        raise Invalid("details", "unexpected_details", "该事项类型没有详情字段")
    year = at.astimezone(SHANGHAI).year
    case = Case(case_type=ctype.key, number=next_number(s, ctype, conf.number_format, year), year=year,
                title=data["title"], content=data.get("content") or "", channel=data.get("channel"),
                org_unit_id=unit_id, state=ctype.initial, intake_id=data.get("intake_id"),
                created_by=w.user_id, created_at=at, received_at=received)
    case.search_grams = search.grams(case.number, case.title, case.content)
    # its id now; its row goes in with the act's next flush, after the module's on_register
    # has set what it sets (the petition's channel …): one INSERT rather than an INSERT and an UPDATE
    case.id = take_ids(s, 1)[0]
    s.add(case)
    fresh.mark(s, case, unit)  # the rest of the act and its answer read the new case's rows from memory
    with s.no_autoflush:
        entered_by = {s.scalar(select(Intake.received_by).where(Intake.id == data["intake_id"]))} \
            if data.get("intake_id") else set()  # persons the window registered with the matter
        for p in data.get("persons") or []:
            person = s.scalar(select(Person).where(Person.id == p["person_id"]))
            if person is None or (w.user is not None and not in_scope("core.person.read", person.org_unit_id)):
                raise Invalid("persons", "unknown_person", f"人员 {p['person_id']} 不存在或不在您的管辖范围内")
            fresh.keep(s, case, person)
            s.add(CasePerson(case_id=case.id, person_id=person.id, role=p.get("role") or "party",
                             attached_by=w.user_id, attached_at=utcnow(),
                             pii_basis=attach_basis(s, w.grants, w.user_id, person, entered_by - {None})))
        for flag in data.get("flags") or []:
            add_flag(s, case, flag)
        _tally(s, case, {case.state: 1})
    if ctype.on_register is not None:
        ctype.on_register(s, case, details)
    event_data = dated.event_data() if dated else {"received_at": received.isoformat()}
    record_event(w, case, ctype, conf, "registered", at=at, to_state=case.state, unit_id=unit_id,
                 note=dated.note("收到时间") if dated and dated.backdated else None, data=event_data,
                 starts_at=received)
    if checked_here:
        backdating.audit(s, "case", case.id, dated, number=case.number)
    return case


def add_flag(session: Session, case: Case, flag: str) -> None:
    """Flag a case (``collective``, ``repeat`` …) as part of an act already on its timeline."""
    known = fresh.rows(session, case, CaseFlag)
    if known is not None:  # registered in this transaction: its flags are the ones added here
        if not any(f.flag == flag for f in known):
            session.add(CaseFlag(case_id=case.id, flag=flag))
        return
    session.flush()
    if session.scalar(select(CaseFlag.id).where(CaseFlag.case_id == case.id, CaseFlag.flag == flag)) is None:
        session.add(CaseFlag(case_id=case.id, flag=flag))


def record_event(w: Work, case: Case, ctype: CaseType, conf, kind: str, at: dt.datetime | None = None,
                 starts_at: dt.datetime | None = None, **kw):
    """Add the event to the timeline and start and stop the limits it starts and stops — at
    ``starts_at`` when the event took effect earlier than it is recorded (a matter received
    before it was registered, an act decided on an earlier day)."""
    event = timeline.add(w, case, kind, at=at, **kw)
    deadlines.on_event(w.session, case, conf, kind, starts_at or event.at)
    deadlines.stop_task_rules(w.session, case, ctype.task_limits, kind, starts_at or event.at)
    return event


def received_at(session: Session, case: Case) -> dt.datetime:
    """When the case's matter was received (the start of its limits that start at registration)."""
    return backdating.received_at(session, case)


# --- transitions ----------------------------------------------------------------------------

def available(w: Work, case: Case, ctype: CaseType) -> list[dict]:
    """The transitions the actor may take now (for the case view's action buttons)."""
    out, paths = [], {}

    def covered(perm: str, uid: int | None) -> bool:  # each unit's path read once (or known: a new case's)
        if uid is None:
            return False
        if uid not in paths:
            kept = fresh.kept(w.session, case, OrgUnit, uid)
            paths[uid] = kept.path if kept is not None else unit_path(w.session, uid)
        return paths[uid] is not None and w.grants.covers(perm, paths[uid])

    for t in ctype.transitions:
        if case.state not in t.from_states or not w.grants.has(t.permission):
            continue
        units = _transition_units(case, ctype, t)
        if any(covered(t.permission, u) for u in units):
            out.append({"name": t.name, "title": t.title, "title_en": t.title_en, "to": t.to,
                        "needs_input": t.input is not None})
    return out


def _transition_units(case: Case, ctype: CaseType, t) -> list[int | None]:
    closing = ctype.state(t.to).closed
    if (t.lead_only or closing) and case.handling_unit_id is not None:
        return [case.handling_unit_id]
    return case_units(case)


def transition(w: Work, case: Case, ctype: CaseType, name: str, raw: dict | None) -> Case:
    s = w.session
    t = ctype.transition(name)
    if t is None:
        raise NotFound("unknown_transition", f"该事项类型没有“{name}”操作")
    require(w.grants, t.permission)
    if case.state not in t.from_states:
        raise Conflict("invalid_transition",
                       f"事项当前为“{ctype.state(case.state).title}”，不能执行“{t.title}”")
    require_on(s, w.grants, t.permission, case, _transition_units(case, ctype, t),
               "只有牵头承办单位可以执行此操作" if case.handling_unit_id else "该操作只能由事项所在单位办理")
    data = {}
    if t.input is not None:
        try:
            data = t.input().load(raw or {})
        except ValidationError as exc:
            raise Unprocessable("invalid_input", "请填写完整", {"json": exc.messages}) from None
        bounds.check(data)  # a module's transition fields: ids and dates in range (issue 14)
    elif raw:
        raise Invalid("_body", "unexpected_input", "此操作不需要填写内容")
    conf = case_settings.for_type(s, ctype)
    dated = None
    if t.dated and data.get(t.dated) is not None:
        what = (t.input().fields[t.dated].metadata.get("title") or f"{t.title}日期").split("（")[0]
        dated = backdating.decided(w, t.dated, data[t.dated], data.get(backdating.REASON), conf.max_backdate_days,
                                   _transition_units(case, ctype, t) + [case.org_unit_id],
                                   received_at(s, case), what=what)
    if t.before is not None:
        t.before(s, case, data)
    old, new = case.state, t.to
    closing, reopening = ctype.state(new).closed, ctype.state(old).closed and not ctype.state(new).closed
    now = utcnow()
    if closing:
        open_co = s.scalars(select(CaseTask).where(CaseTask.case_id == case.id, CaseTask.role == "co",
                                                   CaseTask.state == "open")).all()
        if open_co:
            raise Conflict("tasks_open", "协办单位尚未全部反馈，牵头单位不能办结（可先撤回协办任务）")
    case.state = new
    _tally(s, case, {old: -1, new: 1} if old != new else {})
    note = data.pop("note", None) if isinstance(data.get("note"), str) else None
    event_data = {k: _jsonable(v) for k, v in data.items()}
    if dated is not None:
        event_data.update({k: v for k, v in dated.event_data().items() if k != t.dated})
        if dated.backdated:
            line = dated.note(what)
            note = f"{note}\n{line}" if note else line
    deadlines.on_state(s, case, conf, old, new, now)
    record_event(w, case, ctype, conf, t.name, at=now, from_state=old, to_state=new, note=note,
                 data=event_data, starts_at=dated.at if dated else None)
    if dated is not None:
        backdating.audit(s, "case", case.id, dated, number=case.number, act=t.name)
    if closing:
        case.closed_at = now
        for task in s.scalars(select(CaseTask).where(CaseTask.case_id == case.id, CaseTask.state == "open")):
            task.state, task.done_at = "done", now
        deadlines.stop_all(s, case, now)
        close_todos(s, case_id=case.id)  # answered: nobody is asked to act on it any more
    elif reopening:
        case.closed_at = None
    if t.after is not None:
        t.after(s, case, data)
    return case


def _jsonable(v):
    if isinstance(v, (dt.date, dt.datetime)):
        return v.isoformat()
    return v


# --- diversion: 分 and 合 -------------------------------------------------------------------

def divert(w: Work, case: Case, ctype: CaseType, mode: str, tasks: list[dict], note: str | None = None) -> list[CaseTask]:
    """Hand the case to one unit (``single``, 分) or several under a lead (``joint``, 合), or
    add co-units to the diversion under way (``add``: after a co-unit returned its share).

    Each task: ``org_unit_id`` and/or ``member_unit_id`` (a member unit seated in a centre, its
    seat the task's org unit: ``core.cases.dispatch.resolve_target``), ``role`` (joint: one
    ``lead``, the rest ``co``), ``instruction`` and a limit ``{"amount", "unit"}``. Open tasks of
    an earlier diversion are cancelled (not by ``add``). Every task gets the county's
    acknowledgement limit (签收, ``core.cases.dispatch``) and the type's ``task_limits`` (e.g.
    the window within which its unit may object that the matter is not its own).
    """
    from core.cases import dispatch
    s = w.session
    if ctype.state(case.state).closed:
        raise Conflict("case_closed", "事项已办结，不能分流")
    from_unit = require_on(s, w.grants, DIVERT, case, case_units(case), "只有事项所在单位或牵头单位可以分流交办")
    if mode == "single":
        if len(tasks) != 1:
            raise Invalid("tasks", "single_needs_one", "“分”只能交办给一个单位")
        roles = ["sole"]
    elif mode == "add":
        if not tasks:
            raise Invalid("tasks", "add_needs_one", "请选择追加的协办单位")
        if s.scalar(select(CaseTask.id).where(CaseTask.case_id == case.id, CaseTask.state == "open",
                                              CaseTask.role.in_(("sole", "lead"))).limit(1)) is None:
            raise Conflict("no_lead_task", "没有正在办理的承办（主办）任务，请重新分流交办")
        roles = ["co"] * len(tasks)
    else:
        leads = [t for t in tasks if t.get("role") == "lead"]
        if len(leads) != 1 or len(tasks) < 2:
            raise Invalid("tasks", "joint_needs_lead", "“合”需要一个牵头单位和至少一个协办单位")
        roles = ["lead" if t.get("role") == "lead" else "co" for t in tasks]
    targets = [dispatch.resolve_target(w, spec, i) for i, spec in enumerate(tasks)]
    taken = set()
    if mode == "add":
        taken = {(u, m) for u, m in s.execute(select(CaseTask.org_unit_id, CaseTask.member_unit_id).where(
            CaseTask.case_id == case.id, CaseTask.state == "open"))}
    if len(set(targets)) != len(targets) or set(targets) & taken:
        raise Invalid("tasks", "duplicate_unit", "同一单位不能重复交办")
    now = utcnow()
    if mode != "add":
        for old in s.scalars(select(CaseTask).where(CaseTask.case_id == case.id, CaseTask.state == "open")):
            old.state, old.done_at = "cancelled", now
            deadlines.withdraw_task(s, case, old.id, now)
            withdraw_todo(s, case, old)
    dispatch.on_redispatch(s, case)
    created, cal, ack_by = [], None, None
    for i, (spec, role, (unit_id, member)) in enumerate(zip(tasks, roles, targets)):
        active_unit(s, unit_id, f"tasks.{i}.org_unit_id")
        ack_by = ack_by or dispatch.ack_due(s, ctype, now)  # 签收 by (the county's acknowledgement limit)
        task = CaseTask(case_id=case.id, org_unit_id=unit_id, member_unit_id=member, role=role,
                        instruction=spec.get("instruction"), assigned_by=w.user_id, assigned_at=now,
                        acknowledge_due_at=ack_by)
        s.add(task)
        s.flush()
        limit = spec.get("limit")
        if limit:
            d = deadlines.start_task_limit(s, case, task.id, "交办任务办理时限", limit["amount"], limit["unit"], now)
            task.due_at = d.due_at
        for rule in ctype.task_limits:
            if rule.applies is None or rule.applies(s, case):
                cal = cal or case_settings.calendar(s)
                deadlines.start_rule(s, case, rule, now, cal, task_id=task.id)
        created.append(task)
    if mode != "add":
        lead = next(t for t in created if t.role in ("sole", "lead"))
        case.handling_unit_id = lead.org_unit_id
    deadlines.refresh(s, case)
    conf = case_settings.for_type(s, ctype)
    record_event(w, case, ctype, conf, "diverted", at=now, note=note, unit_id=case.handling_unit_id,
                    data={"mode": mode, "from_unit_id": from_unit,
                          "tasks": [{"id": t.id, "org_unit_id": t.org_unit_id, "role": t.role,
                                                   "member_unit_id": t.member_unit_id} for t in created]})
    for task in created:
        notify(s, dispatch.task_users(s, task), f"task:{task.id}", f"新交办事项：{case.number} {case.title}",
               task.instruction or "", kind="todo", case_id=case.id)
    return created


def load_task(w: Work, case: Case, task_id: int) -> CaseTask:
    task = w.session.scalar(select(CaseTask).where(CaseTask.id == task_id, CaseTask.case_id == case.id))
    if task is None:
        raise NotFound()
    return task


def finish_task(w: Work, case: Case, ctype: CaseType, task: CaseTask, outcome: str, text: str) -> CaseTask:
    """The task's unit reports its result (``done``) or sends it back (``returned``: not ours).

    A returned task's limits stop with it; when its unit was the handling unit (the sole or the
    lead task), the case goes back to the unit that diverted it (``handed_back`` on the timeline,
    which stops the case's limits that declare it: those that ran for the returning unit)."""
    from core.cases import dispatch
    s = w.session
    dispatch.require_task_unit(w, case, task)
    if task.state != "open":
        raise Conflict("task_not_open", "该任务已办结、退回或撤回")
    if not (text or "").strip():
        raise Invalid("text", "answer_required" if outcome == "done" else "reason_required",
                      "请填写办结答复" if outcome == "done" else "请填写回退理由")
    if outcome == "done" and task.acknowledged_at is None:
        dispatch.acknowledge(w, case, ctype, task, implied=True)  # an answer acknowledges too
    now = utcnow()
    task.state, task.done_at, task.result = outcome, now, text
    deadlines.stop_task(s, case, task.id, now)
    close_todos(s, key=f"task:{task.id}")  # the unit's to-do for it is done
    conf = case_settings.for_type(s, ctype)
    record_event(w, case, ctype, conf, "task_done" if outcome == "done" else "task_returned", at=now, note=text,
            unit_id=task.org_unit_id, data={"task_id": task.id, "role": task.role})
    if outcome == "returned" and task.role in ("sole", "lead") and case.handling_unit_id == task.org_unit_id:
        hand_back(w, case, ctype, conf, task, now)
    dispatch.after_finish(w, case, task, outcome, text)
    return task


def hand_back(w: Work, case: Case, ctype: CaseType, conf, task: CaseTask, at: dt.datetime) -> None:
    """The case goes back to the unit that diverted it (recorded on the diversion; before that
    was recorded: to where it arose, as before any diversion)."""
    s = w.session
    data = s.scalar(select(CaseEvent.data).where(CaseEvent.case_id == case.id, CaseEvent.kind == "diverted")
                    .order_by(CaseEvent.at.desc(), CaseEvent.id.desc()).limit(1)) or {}
    back_to = data.get("from_unit_id")
    case.handling_unit_id = back_to
    record_event(w, case, ctype, conf, "handed_back", at=at, unit_id=back_to or case.org_unit_id,
                 data={"task_id": task.id, "from_unit_id": task.org_unit_id, "to_unit_id": back_to})


def withdraw_todo(s, case: Case, task: CaseTask, reason: str = "") -> None:
    """A withdrawn task grants its unit nothing (``core.cases.access.granting_task``): the to-do
    it put in its people's inboxes (titled with the case's title, linked to it) becomes a
    message naming the case by number only, with no link."""
    from core.cases.dispatch import close_reminders, task_users
    close_reminders(s, task)
    keys = [f"task:{task.id}:u{uid}"[:200] for uid in task_users(s, task)]
    for note in s.scalars(select(Notification).where(Notification.key.in_(keys))) if keys else ():
        note.kind, note.title, note.body, note.case_id = "message", f"交办任务已撤回：{case.number}", reason, None


def cancel_task(w: Work, case: Case, ctype: CaseType, task: CaseTask, reason: str) -> CaseTask:
    """The diverting or lead unit withdraws a co-unit's task."""
    s = w.session
    require_on(s, w.grants, DIVERT, case, case_units(case), "只有牵头单位或分流单位可以撤回任务")
    if task.state != "open" or task.role != "co":
        raise Conflict("task_not_cancellable", "只能撤回未办结的协办任务")
    now = utcnow()
    task.state, task.done_at, task.result = "cancelled", now, reason
    deadlines.withdraw_task(s, case, task.id, now)
    withdraw_todo(s, case, task, reason)
    record_event(w, case, ctype, case_settings.for_type(s, ctype), "task_cancelled", at=now, note=reason,
            unit_id=task.org_unit_id, data={"task_id": task.id})
    return task


# --- assign, comment, flags ---------------------------------------------------------------

def assign(w: Work, case: Case, ctype: CaseType, handler_id: int, note: str | None = None) -> Case:
    s = w.session
    unit = require_on(s, w.grants, DIVERT, case, case_units(case), "只有承办单位可以指定经办人")
    handler = s.scalar(select(User).where(User.id == handler_id, User.status == "active"))
    if handler is None or not any(covers(s, w.grants, DIVERT, u) for u in [handler.org_unit_id]):
        raise Invalid("handler_id", "unknown_user", "经办人不存在或不在您的管辖范围内")
    case.handler_id = handler.id
    event = record_event(w, case, ctype, case_settings.for_type(s, ctype), "assigned", note=note, unit_id=unit,
                    data={"handler_id": handler.id})
    notify(s, [handler.id], f"assigned:{event.id}", f"您被指定为经办人：{case.number} {case.title}",
           kind="todo", case_id=case.id)
    return case


def comment(w: Work, case: Case, ctype: CaseType, text: str) -> None:
    units = case_units(case) + task_units(w.session, case)  # a withdrawn unit no longer speaks on it
    unit = require_on(w.session, w.grants, HANDLE, case, units, "只有相关单位可以留言")
    record_event(w, case, ctype, case_settings.for_type(w.session, ctype), "commented", note=text, unit_id=unit)


def set_flag(w: Work, case: Case, ctype: CaseType, flag: str, on: bool) -> None:
    s = w.session
    require_on(s, w.grants, HANDLE, case, case_units(case))
    row = s.scalar(select(CaseFlag).where(CaseFlag.case_id == case.id, CaseFlag.flag == flag))
    if on and row is None:
        s.add(CaseFlag(case_id=case.id, flag=flag))
    elif not on and row is not None:
        s.delete(row)
    else:
        return
    record_event(w, case, ctype, case_settings.for_type(s, ctype), "flagged" if on else "unflagged", data={"flag": flag})


# --- extensions -----------------------------------------------------------------------------

def request_extension(w: Work, case: Case, ctype: CaseType, deadline_id: int, amount: int, reason: str) -> CaseExtension:
    s = w.session
    unit = require_on(s, w.grants, HANDLE, case, case_units(case), "只有承办单位可以申请延期")
    d = s.scalar(select(CaseDeadline).where(CaseDeadline.id == deadline_id, CaseDeadline.case_id == case.id))
    if d is None:
        raise Invalid("deadline_id", "unknown_deadline", "该事项没有这个时限")
    rule = ctype.rule(d.rule)
    if d.state == "stopped":
        raise Conflict("deadline_stopped", "该时限已结束，不能延期")
    if rule is None or rule.max_extensions == 0:
        raise Conflict("not_extendable", "该时限不允许延期")
    if d.extensions >= rule.max_extensions:
        raise Conflict("extensions_exhausted", f"该时限最多延期 {rule.max_extensions} 次，已用完")
    if amount > rule.max_extension:
        raise Invalid("amount", "extension_too_long", f"每次延期不得超过 {rule.max_extension}（{rule.source or rule.title}）")
    if s.scalar(select(CaseExtension.id).where(CaseExtension.deadline_id == d.id, CaseExtension.state == "pending")):
        raise Conflict("extension_pending", "已有待审批的延期申请")
    ext = CaseExtension(case_id=case.id, deadline_id=d.id, amount=amount, reason=reason, requested_by=w.user_id)
    s.add(ext)
    s.flush()
    record_event(w, case, ctype, case_settings.for_type(s, ctype), "extension_requested", note=reason, unit_id=unit,
            data={"extension_id": ext.id, "deadline_id": d.id, "amount": amount, "unit": d.unit})
    return ext


def decide_extension(w: Work, case: Case, ctype: CaseType, ext: CaseExtension, approve: bool, note: str | None) -> CaseExtension:
    s = w.session
    unit = require_on(s, w.grants, APPROVE, case, case_units(case), "只有承办单位负责人可以审批延期")
    if ext.state != "pending":
        raise Conflict("extension_decided", "该延期申请已审批")
    if ext.requested_by is not None and ext.requested_by == w.user_id:
        raise Forbidden("self_approval", "不能审批自己提出的延期申请")
    d = s.scalar(select(CaseDeadline).where(CaseDeadline.id == ext.deadline_id))
    now = utcnow()
    ext.state, ext.decided_by, ext.decided_at, ext.decision_note = ("approved" if approve else "rejected"), w.user_id, now, note
    data = {"extension_id": ext.id, "deadline_id": d.id, "amount": ext.amount, "unit": d.unit}
    if approve:
        if d.state == "stopped":
            raise Conflict("deadline_stopped", "该时限已结束，不能延期")
        old_due = d.due_at
        d.due_at, basis = deadlines.extend_due(d, ext.amount, case_settings.calendar(s))
        d.basis = (d.basis + "；" + basis)[:300]
        d.extensions += 1
        d.reminded = 0
        deadlines.refresh(s, case)
        data.update(old_due=old_due.isoformat(), new_due=d.due_at.isoformat())
    record_event(w, case, ctype, case_settings.for_type(s, ctype), "extended" if approve else "extension_rejected",
            note=note, unit_id=unit, data=data)
    return ext
