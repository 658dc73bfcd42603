"""The deadline sweep: finds due-soon and overdue work and reminds, exactly once.

The database is the source of truth. Every ``CORE_JOBS`` slot (5 minutes) the scheduler
runs :func:`sweep` for each county. It reads, through partial indexes, only the running
limits not yet reminded of being overdue and the open supervisions whose reply is due —
the due work, not the archive — and for each decides on a reminder whose ``key``
(``due_soon:<deadline>``, ``overdue:<deadline>``, ``escalate:<supervision>:<level>``) is
unique in ``case_reminder``. The new reminders of a pass are delivered in chunks of
``DELIVERY_BATCH``: one outbox job per chunk (its kwargs: the reminders' keys, never personal
data), one transaction per chunk (issue 24, item 7: the first pass over a backlog of 14,000
had queued one forked job per reminder, at most 14–22 a second; bench/results/sweep_delivery.md). So:

- running the sweep twice (or two schedulers at once) creates one reminder;
- the job claims its reminders (``FOR UPDATE``, only those still pending) and marks each done
  in the transaction of its own effects (timeline event, inbox entries), so a job delivered
  twice, re-run after a killed worker, or racing another worker, acts once per reminder;
- one reminder that fails does not hold back its chunk: the others are delivered, and it gets
  an outbox job of its own (retried, then listed by ``pingan jobs failed``);
- after a Redis flush, jobs still pending in the outbox are enqueued again by the next
  sweep (``outbox.redispatch``; one still waiting in the queue is left alone), and the
  scheduler simply claims its slots anew;
- long jobs (exports, imports, recomputes) whose lease ran out, or whose queue entry is gone,
  are queued again (``core.ledgers.recover``).
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import and_, literal_column, select, text, union_all, update
from sqlalchemy.orm import Session

from core import outbox
from core.cases import settings as case_settings, timeline
from core.cases.models import Case, CaseDeadline, CaseEvent, CaseReminder, CaseTask, Intake, Supervision
from core.models import OrgUnit, User
from core.cases.dispatch import ACK_TITLE, task_users
from core.cases.supervision import escalate
from core.cases.timeline import Work
from core.timefmt import limit_end
from core.db import current_tenant_id, insert_ignore_many, utcnow
from core.notifications import Note, channels_known, notify_many, plugin_channels, users_of_unit

log = logging.getLogger("pingan.sweep")
# Reminders per delivery job, delivered in one transaction: few enough that a chunk commits in
# a few seconds (the county's audit-chain head is held only at its commit) and two workers share
# a backlog, many enough that what each job pays once — a work horse's fork and rq's bookkeeping
# (~50 ms), SQLAlchemy compiling its statements afresh in the new horse (~0.4 s under load) —
# no longer counts (bench/results/sweep_delivery.md).
DELIVERY_BATCH = 500
DELIVER_JOB = "core.cases.sweep.deliver"
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
    wanted: list[tuple[str, str, int]] = []  # (kind, reminder key, case)
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
        wanted.append((kind, key, case_id))
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
            wanted.append((what, key, case_id))
            flagged.append(row_id)
            continue
        wanted.append(("escalate", f"escalate:{row_id}:{level + 1}", case_id))
    if flagged:
        s.execute(update(CaseTask).where(CaseTask.id.in_(flagged)).values(ack_flagged_at=now))
    # One multi-row INSERT … ON CONFLICT DO NOTHING for the reminders, one for their jobs: a
    # reminder that exists already (an earlier or a concurrent sweep) is skipped, and only the
    # new ones are delivered — a job per chunk of DELIVERY_BATCH, named by its first key (a
    # reminder is new once, so is in one chunk only). In key order, so two sweeps at once wait
    # on each other instead of deadlocking.
    wanted.sort(key=lambda w: w[1])
    new = set(insert_ignore_many(s, CaseReminder, [
        {"case_id": case_id, "key": key, "kind": kind, "state": "pending", "created_at": now, "enqueued_at": now}
        for kind, key, case_id in wanted], ["key"], CaseReminder.key))
    fresh = [key for _, key, _ in wanted if key in new]
    chunks = [fresh[i:i + DELIVERY_BATCH] for i in range(0, len(fresh), DELIVERY_BATCH)]
    outbox.add_many(s, [(DELIVER_JOB, batch_key(chunk), {"keys": chunk}) for chunk in chunks])
    for kind, key, _ in wanted:
        out[kind] += key in new
    out["redispatched"] = len(outbox.redispatch(s, now, stale))
    from core import ledgers  # (a domain module beside this one; imported here, on use)
    runs = ledgers.recover(s, now)
    out["requeued_runs"], out["failed_runs"] = runs["requeued"], runs["gave_up"]
    return out


def batch_key(keys: list[str]) -> str:
    """The outbox key of the job delivering ``keys`` (sorted, new in this pass): its first key
    and its size — no two chunks share it, as a reminder is new in one pass only."""
    return f"reminders:{keys[0]}+{len(keys)}"


def _target(key: str) -> int:
    """The row a reminder is about, from its key: ``<kind>:<id>[:<level>]``."""
    return int(key.split(":")[1])


# A reminder's own outbox job (the sweep's before issue 24; now one that failed in its chunk)
_SINGLE = {"due_soon": ("core.cases.sweep.remind", "deadline_id"), "overdue": ("core.cases.sweep.remind", "deadline_id"),
           "ack_overdue": ("core.cases.sweep.remind_ack", "task_id"),
           "escalate": ("core.cases.sweep.escalate_job", "supervision_id")}


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
    return holders(s, [case])[case.id]


def holders(s: Session, cases: list[Case]) -> dict[int, int]:
    """:func:`holder` of many cases in at most three queries: case id → unit."""
    out = {c.id: c.handling_unit_id for c in cases if c.handling_unit_id}
    need = [c for c in cases if not c.handling_unit_id]
    if not need:
        return out
    paths = dict(s.execute(select(OrgUnit.id, OrgUnit.path).where(OrgUnit.id.in_({c.org_unit_id for c in need}))).all())
    intakes = {c.intake_id for c in need if c.intake_id}
    windows = dict(s.execute(select(Intake.id, Intake.org_unit_id).where(Intake.id.in_(intakes))).all()) if intakes else {}
    creators = {c.created_by for c in need if c.created_by}
    owns = dict(s.execute(select(User.id, User.org_unit_id).where(User.id.in_(creators))).all()) if creators else {}
    for c in need:
        arose = paths.get(c.org_unit_id) or ""
        out[c.id] = c.org_unit_id
        for unit in (windows.get(c.intake_id), owns.get(c.created_by)):
            if unit and f"/{unit}/" in arose:  # the registering unit is the matter's own or one above it:
                out[c.id] = unit               # it can read the case (a window elsewhere could not)
                break
    return out


def _by_id(s: Session, model, ids) -> dict:
    ids = {i for i in ids if i is not None}
    return {o.id: o for o in s.scalars(select(model).where(model.id.in_(ids)))} if ids else {}


class _Chunk:
    """What delivering some reminders reads, read once for all of them: their cases, limits,
    tasks and supervisions (a query each), the holders of the cases, the users of each unit
    (once a unit), the county's plugin channels."""

    def __init__(self, s: Session, reminders: list[CaseReminder]) -> None:
        self.s, self.w = s, _work(s)
        self.types = self.w.types
        of = lambda *kinds: [_target(r.key) for r in reminders if r.kind in kinds]  # noqa: E731
        self.cases = _by_id(s, Case, {r.case_id for r in reminders})
        self.deadlines = _by_id(s, CaseDeadline, of("due_soon", "overdue"))
        self.tasks = _by_id(s, CaseTask, of("ack_overdue") + [d.task_id for d in self.deadlines.values()])
        self.supervisions = _by_id(s, Supervision, of("escalate"))
        self.channels = plugin_channels(s)
        self._holders: dict[int, int] | None = None
        self._users: dict[tuple[str, int], list[int]] = {}

    def holder(self, case: Case) -> int:
        if self._holders is None:
            self._holders = holders(self.s, list(self.cases.values()))
        return self._holders[case.id]

    def users_of(self, unit_id: int) -> list[int]:
        if ("unit", unit_id) not in self._users:
            self._users[("unit", unit_id)] = users_of_unit(self.s, unit_id)
        return self._users[("unit", unit_id)]

    def task_users(self, task: CaseTask) -> list[int]:
        """The receiving unit's users (``dispatch.task_users``), each unit's read once."""
        if task.member_unit_id is None:
            return self.users_of(task.org_unit_id)
        if ("member", task.member_unit_id) not in self._users:
            self._users[("member", task.member_unit_id)] = task_users(self.s, task)
        return self._users[("member", task.member_unit_id)]


def deliver(s: Session, keys: list[str]) -> None:
    """Outbox job: deliver a chunk of one pass's reminders (``DELIVERY_BATCH``), in the one
    transaction of the job. The reminders still pending are claimed together (``FOR UPDATE``:
    a second delivery, or another worker with the same chunk, finds them done); the rows they
    need are read a query each, and what they write is written together (:func:`_deliver`).
    If one fails, the chunk is delivered again one reminder at a time, each in a savepoint: the
    others go out, and the one that fails again is handed to an outbox job of its own (retried;
    then ``pingan jobs failed``)."""
    claimed = _claim_all(s, keys)
    if not claimed:
        return
    chunk = _Chunk(s, claimed)
    with channels_known(s, chunk.channels):
        try:
            with s.begin_nested():
                _deliver(chunk, claimed)
        except Exception:  # noqa: BLE001 — one at a time below; what fails again gets its own job
            log.exception("a reminder of the chunk %s… failed; delivering them one at a time", keys[0])
            for r in claimed:
                try:
                    with s.begin_nested():
                        _deliver(chunk, [r])
                except Exception:  # noqa: BLE001
                    log.exception("reminder %s failed; it gets a job of its own", r.key)
                    job, arg = _SINGLE[r.kind]
                    outbox.add(s, job, key=f"remind:{r.key}", reminder_key=r.key, **{arg: _target(r.key)})


def _claim_all(s: Session, keys: list[str]) -> list[CaseReminder]:
    return list(s.scalars(select(CaseReminder).where(CaseReminder.key.in_(keys), CaseReminder.state == "pending")
                          .order_by(CaseReminder.key).with_for_update()))


@dataclass
class _Todo:
    """What a reminder writes: its timeline event and its to-dos."""

    case: Case
    event: CaseEvent
    users: list[int]
    key: str
    title: str
    body: str


def _deliver(chunk: _Chunk, reminders: list[CaseReminder]) -> None:
    """Deliver ``reminders`` in the caller's transaction, writing together what they write: the
    timeline events in one flush, then each event's ``pingan_case_event`` hook (in order), the
    to-dos in one multi-row insert (when no channel needs a delivery job each), the reminders
    marked done in one UPDATE. (One at a time, each reminder took some five round trips.)"""
    s = chunk.s
    todos = [t for t in (_PLAN[r.kind](chunk, r) for r in reminders) if t is not None]
    s.add_all([t.event for t in todos])
    s.flush()
    for t in todos:
        chunk.w.host.case_event(s, chunk.w.enabled, t.case, t.event)  # type: ignore[attr-defined]
    notify_many(s, [Note(t.users, t.key, t.title, t.body, "todo", t.case.id) for t in todos], chunk.channels)
    s.execute(update(CaseReminder).where(CaseReminder.id.in_([r.id for r in reminders]))
              .values(state="done", done_at=utcnow()).execution_options(synchronize_session=False))


def _one(s: Session, reminder_key: str) -> None:
    claimed = _claim_all(s, [reminder_key])
    if claimed:
        _deliver(_Chunk(s, claimed), claimed)


def remind(s: Session, reminder_key: str, deadline_id: int) -> None:
    """Outbox job of one due-soon or overdue reminder (see :func:`deliver`)."""
    _one(s, reminder_key)


def remind_ack(s: Session, reminder_key: str, task_id: int) -> None:
    """Outbox job of one task not acknowledged in time (see :func:`deliver`)."""
    _one(s, reminder_key)


def escalate_job(s: Session, reminder_key: str, supervision_id: int) -> None:
    """Outbox job of one escalation (see :func:`deliver`)."""
    _one(s, reminder_key)


def _remind(chunk: _Chunk, r: CaseReminder) -> _Todo | None:
    """Tell the handling unit a limit is about to run out, or has run out."""
    d = chunk.deadlines.get(_target(r.key))
    case = chunk.cases.get(r.case_id)
    if d is None or case is None or case.case_type not in chunk.types or d.state != "running":
        return None  # gone, module switched off, or the limit stopped or paused since the sweep saw it
    task = chunk.tasks.get(d.task_id) if d.task_id is not None else None
    unit = task.org_unit_id if task is not None else chunk.holder(case)
    if task is not None:
        users = chunk.task_users(task)  # the receiving unit: a member unit's staff, or the unit's users
    else:
        users = [case.handler_id] if case.handler_id else chunk.users_of(unit)
    if r.kind == "overdue":
        title, kind = f"已超期：{case.number} {case.title}", "overdue"
    else:
        title, kind = f"即将到期：{case.number} {case.title}", "reminded"
    body = f"{d.title}，期限 {limit_end(d.due_at)}（{d.basis}）"
    event = timeline.build(chunk.w, case, kind, note=body, unit_id=unit, data={"deadline_id": d.id, "reminder": r.kind})
    return _Todo(case, event, users, f"reminder:{r.key}", title, body)


def _remind_ack(chunk: _Chunk, r: CaseReminder) -> _Todo | None:
    """A dispatched task was not acknowledged (签收) in time: its receiving unit's users get a
    to-do (closed when it is acknowledged or finished) and the timeline says so."""
    task = chunk.tasks.get(_target(r.key))
    case = chunk.cases.get(r.case_id)
    if task is None or case is None or case.case_type not in chunk.types or task.state != "open" \
            or task.acknowledged_at is not None:
        return None  # acknowledged, finished or withdrawn since
    body = f"{ACK_TITLE} {limit_end(task.acknowledge_due_at)}，请及时签收"
    event = timeline.build(chunk.w, case, "task_ack_overdue", note=body, unit_id=task.org_unit_id,
                           data={"task_id": task.id, "member_unit_id": task.member_unit_id})
    return _Todo(case, event, chunk.task_users(task), f"reminder:{r.key}", f"未按时签收：{case.number} {case.title}",
                 body)


def _escalate(chunk: _Chunk, r: CaseReminder) -> None:
    """Escalate an unanswered supervision one level up (its own writes: rare, and stateful)."""
    sup = chunk.supervisions.get(_target(r.key))
    case = chunk.cases.get(r.case_id)
    if sup is not None and case is not None and case.case_type in chunk.types:
        escalate(chunk.w, case, chunk.types[case.case_type], sup)


_PLAN = {"due_soon": _remind, "overdue": _remind, "ack_overdue": _remind_ack, "escalate": _escalate}
