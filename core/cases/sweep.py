"""The deadline sweep: finds due-soon and overdue work and reminds, exactly once.

The database is the source of truth. Every ``CORE_JOBS`` slot (5 minutes) the scheduler
runs :func:`sweep` for each county. It reads, through partial indexes, only the running
limits not yet reminded of being overdue and the open supervisions whose reply is due —
the due work, not the archive — and for each decides on a reminder whose ``key``
(``due_soon:<deadline>``, ``overdue:<deadline>``, ``escalate:<supervision>:<level>``) is
unique in ``case_reminder``. A new reminder schedules its job through the outbox, so:

- running the sweep twice (or two schedulers at once) creates one reminder;
- the job marks its reminder done in the transaction of its own effects (timeline event,
  inbox entries), so a job delivered twice or re-run after a killed worker acts once;
- after a Redis flush, jobs still pending in the outbox are enqueued again by the next
  sweep (``outbox.redispatch``; one still waiting in the queue is left alone), and the
  scheduler simply claims its slots anew;
- long jobs (exports, imports, recomputes) whose lease ran out, or whose queue entry is gone,
  are queued again (``core.ledgers.recover``).
"""
from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import and_, literal_column, select, text, union_all, update
from sqlalchemy.orm import Session

from core import outbox
from core.cases import settings as case_settings, timeline
from core.cases.models import Case, CaseDeadline, CaseReminder, CaseTask, Intake, Supervision
from core.models import OrgUnit, User
from core.cases.dispatch import ACK_TITLE, task_users
from core.cases.supervision import escalate
from core.cases.timeline import Work
from core.timefmt import limit_end
from core.db import current_tenant_id, insert_ignore_many, utcnow
from core.notifications import notify, users_of_unit

log = logging.getLogger("pingan.sweep")
# A provisional limit (its year's holidays unpublished) may end earlier once they are (an
# adjusted working Saturday): it is reminded this much before the county's usual time.
PROVISIONAL_EARLIER = dt.timedelta(days=3)
SWEEP_PREDICATE = text("case_deadline.state = 'running' AND case_deadline.reminded < 2")  # = ix_case_deadline_sweep
ACK_PREDICATE = text("case_task.state = 'open' AND case_task.acknowledged_at IS NULL "
                     "AND case_task.ack_flagged_at IS NULL")  # = ix_case_task_ack


def sweep(tenant_id: int) -> None:
    """Scheduled entry point (``core.jobs.CORE_JOBS``), with ``tenant_id`` bound."""
    from core.jobs import worker_state
    state = worker_state()
    with state.db.transaction(tenant_id) as s:
        found = run(s, state.plugins)
    log.info("sweep of tenant %s: %s", tenant_id, found)


def run(s: Session, host, now: dt.datetime | None = None, stale: dt.timedelta = outbox.STALE) -> dict:
    """One pass of the sweep in the caller's transaction; returns what it scheduled."""
    now = now or utcnow()
    types = host.case_types_for(host.enabled(s, current_tenant_id()))
    horizons = {key: dt.timedelta(hours=case_settings.for_type(s, t).remind_before_hours) for key, t in types.items()}
    widest = max(horizons.values(), default=dt.timedelta(0)) + PROVISIONAL_EARLIER
    out = {"due_soon": 0, "overdue": 0, "ack_overdue": 0, "escalate": 0, "redispatched": 0, "requeued_runs": 0, "failed_runs": 0}
    # The partial indexes' predicates are written as literals, not bind parameters: a prepared
    # statement's generic plan could not prove them and would scan the table (bench/results/cases.md).
    rows = s.execute(
        select(CaseDeadline.id, CaseDeadline.case_id, CaseDeadline.due_at, CaseDeadline.reminded, Case.case_type,
               CaseDeadline.provisional)
        .join(Case, and_(Case.tenant_id == CaseDeadline.tenant_id, Case.id == CaseDeadline.case_id))
        .where(SWEEP_PREDICATE, CaseDeadline.due_at <= now + widest)).all()
    reminded_now: dict[int, list[int]] = {1: [], 2: []}
    wanted: list[tuple[str, str, int, str, dict]] = []  # (kind, reminder key, case, job, job kwargs)
    for deadline_id, case_id, due_at, reminded, case_type, provisional in rows:
        if case_type not in types:
            continue  # the type's module is off for this county
        horizon = horizons[case_type] + (PROVISIONAL_EARLIER if provisional and horizons[case_type] else dt.timedelta(0))
        if due_at <= now:
            kind, level = "overdue", 2
        elif reminded < 1 and horizon and due_at - now <= horizon:
            kind, level = "due_soon", 1
        else:
            continue
        key = f"{kind}:{deadline_id}"
        wanted.append((kind, key, case_id, "core.cases.sweep.remind", {"reminder_key": key, "deadline_id": deadline_id}))
        reminded_now[level].append(deadline_id)
    for level, ids in reminded_now.items():
        if ids:
            s.execute(update(CaseDeadline).where(CaseDeadline.id.in_(ids)).values(reminded=level))
    # Open supervisions whose reply is due, and dispatched tasks not acknowledged (签收) within
    # the county's limit and not yet flagged (``ack_flagged_at``): each read through its partial
    # index, in one statement (UNION ALL, told apart by ``what``).
    sups = select(Supervision.id, Supervision.case_id, Supervision.escalation_level, Case.case_type,
                  literal_column("'escalate'").label("what")) \
        .join(Case, and_(Case.tenant_id == Supervision.tenant_id, Case.id == Supervision.case_id)) \
        .where(text("case_supervision.state = 'open'"), Supervision.due_at <= now)
    acks = select(CaseTask.id, CaseTask.case_id, literal_column("0"), Case.case_type,
                  literal_column("'ack_overdue'")) \
        .join(Case, and_(Case.tenant_id == CaseTask.tenant_id, Case.id == CaseTask.case_id)) \
        .where(ACK_PREDICATE, CaseTask.acknowledge_due_at <= now)
    flagged = []
    for row_id, case_id, level, case_type, what in s.execute(union_all(sups, acks)).all():
        if case_type not in types:
            continue
        if what == "ack_overdue":
            key = f"ack_overdue:{row_id}"
            wanted.append((what, key, case_id, "core.cases.sweep.remind_ack", {"reminder_key": key, "task_id": row_id}))
            flagged.append(row_id)
            continue
        key = f"escalate:{row_id}:{level + 1}"
        wanted.append(("escalate", key, case_id, "core.cases.sweep.escalate_job",
                       {"reminder_key": key, "supervision_id": row_id}))
    if flagged:
        s.execute(update(CaseTask).where(CaseTask.id.in_(flagged)).values(ack_flagged_at=now))
    # One multi-row INSERT … ON CONFLICT DO NOTHING for the reminders, one for their jobs: a
    # reminder that exists already (an earlier or a concurrent sweep) is skipped with its job.
    # In key order, so two sweeps at once wait on each other instead of deadlocking.
    wanted.sort(key=lambda w: w[1])
    new = set(insert_ignore_many(s, CaseReminder, [
        {"case_id": case_id, "key": key, "kind": kind, "state": "pending", "created_at": now, "enqueued_at": now}
        for kind, key, case_id, _, _ in wanted], ["key"], CaseReminder.key))
    outbox.add_many(s, [(job, f"remind:{key}", kwargs) for _, key, _, job, kwargs in wanted if key in new])
    for kind, key, *_ in wanted:
        out[kind] += key in new
    out["redispatched"] = len(outbox.redispatch(s, now, stale))
    from core import ledgers  # (a domain module beside this one; imported here, on use)
    runs = ledgers.recover(s, now)
    out["requeued_runs"], out["failed_runs"] = runs["requeued"], runs["gave_up"]
    return out


def _claim(s: Session, key: str) -> CaseReminder | None:
    r = s.scalar(select(CaseReminder).where(CaseReminder.key == key).with_for_update())
    return r if r is not None and r.state == "pending" else None


def _work(s: Session) -> Work:
    from core.jobs import worker_state
    host = worker_state().plugins
    return Work(s, host, host.enabled(s, current_tenant_id()))


def holder(s: Session, case: Case) -> int:
    """The unit that holds a case's own limits (issue 15, item 8: reminders of a township's own
    registrations went to the village where the matter arose): the handling unit once the case
    is handed to one; before that, the unit that registered it — the window that received it, or
    the registering user's unit — when that unit is where the matter arose or above it (one
    elsewhere could not read the case), else where it arose."""
    if case.handling_unit_id:
        return case.handling_unit_id
    arose = s.scalar(select(OrgUnit.path).where(OrgUnit.id == case.org_unit_id)) or ""
    window = s.scalar(select(Intake.org_unit_id).where(Intake.id == case.intake_id)) if case.intake_id else None
    own = s.scalar(select(User.org_unit_id).where(User.id == case.created_by)) if case.created_by else None
    for unit in (window, own):
        if unit and f"/{unit}/" in arose:  # the registering unit is the matter's own or one above it:
            return unit                    # it can read the case (a window elsewhere could not)
    return case.org_unit_id


def remind(s: Session, reminder_key: str, deadline_id: int) -> None:
    """Outbox job: tell the handling unit a limit is about to run out, or has run out."""
    r = _claim(s, reminder_key)
    if r is None:
        return
    w = _work(s)
    d = s.scalar(select(CaseDeadline).where(CaseDeadline.id == deadline_id))
    case = s.scalar(select(Case).where(Case.id == r.case_id))
    if d is None or case is None or case.case_type not in w.types or d.state != "running":
        # gone, module switched off, or the limit stopped or paused since the sweep saw it
        r.state, r.done_at = "done", utcnow()
        return
    task = s.scalar(select(CaseTask).where(CaseTask.id == d.task_id)) if d.task_id is not None else None
    unit = task.org_unit_id if task is not None else holder(s, case)
    if task is not None:
        users = task_users(s, task)  # the receiving unit: a member unit's staff, or the unit's users
    else:
        users = [case.handler_id] if case.handler_id else users_of_unit(s, unit)
    if r.kind == "overdue":
        title, kind = f"已超期：{case.number} {case.title}", "overdue"
    else:
        title, kind = f"即将到期：{case.number} {case.title}", "reminded"
    body = f"{d.title}，期限 {limit_end(d.due_at)}（{d.basis}）"
    timeline.add(w, case, kind, note=body, unit_id=unit, data={"deadline_id": d.id, "reminder": r.kind})
    notify(s, users, f"reminder:{reminder_key}", title, body, kind="todo", case_id=case.id)
    r.state, r.done_at = "done", utcnow()


def remind_ack(s: Session, reminder_key: str, task_id: int) -> None:
    """Outbox job: a dispatched task was not acknowledged (签收) in time — its receiving unit's
    users get a to-do (closed when it is acknowledged or finished) and the timeline says so."""
    r = _claim(s, reminder_key)
    if r is None:
        return
    w = _work(s)
    task = s.scalar(select(CaseTask).where(CaseTask.id == task_id))
    case = s.scalar(select(Case).where(Case.id == r.case_id))
    if task is None or case is None or case.case_type not in w.types or task.state != "open" \
            or task.acknowledged_at is not None:
        r.state, r.done_at = "done", utcnow()  # acknowledged, finished or withdrawn since
        return
    body = f"{ACK_TITLE} {limit_end(task.acknowledge_due_at)}，请及时签收"
    timeline.add(w, case, "task_ack_overdue", note=body, unit_id=task.org_unit_id,
                 data={"task_id": task.id, "member_unit_id": task.member_unit_id})
    notify(s, task_users(s, task), f"reminder:{reminder_key}", f"未按时签收：{case.number} {case.title}", body,
           kind="todo", case_id=case.id)
    r.state, r.done_at = "done", utcnow()


def escalate_job(s: Session, reminder_key: str, supervision_id: int) -> None:
    """Outbox job: escalate an unanswered supervision one level up."""
    r = _claim(s, reminder_key)
    if r is None:
        return
    w = _work(s)
    sup = s.scalar(select(Supervision).where(Supervision.id == supervision_id))
    case = s.scalar(select(Case).where(Case.id == r.case_id))
    if sup is not None and case is not None and case.case_type in w.types:
        escalate(w, case, w.types[case.case_type], sup)
    r.state, r.done_at = "done", utcnow()
