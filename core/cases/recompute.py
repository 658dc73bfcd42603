"""Provisional time limits counted again once their year's holiday schedule is known.

A limit counted over a year whose schedule was not published yet assumed Monday to Friday
(``core.workdays``). When the year arrives — the operator loads it, a county declares it, or
an upgraded ``chinese-calendar`` package covers it (checked hourly, :func:`scheduled`) —
every open provisional limit of the county is counted again from its ``count_from``/``working_days`` in one pass: one query reads
them (a partial index holds only open provisional limits), the changes go out as batched
statements (one executemany of the same columns per batch of 1,000, audited row by row as a
flush would be), each case's earliest limit is refreshed for the batch at once.

What changes, and what does not (docs/cases.md, "Provisional limits"):

- an open limit whose recomputed end lies ahead moves there, earlier or later; the case's
  timeline says so ("节假日安排发布，期限由 … 重算为 …") and its reminders are re-armed;
- a limit already stopped (met or not) is never touched;
- a limit that has already run out, or whose recomputed end has already passed, keeps its
  due time: a handler who worked to the date the page showed is not made overdue after the
  fact, and an overdue record is not erased. The basis notes the official end all the same.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import bindparam, delete, func, select, text, update
from sqlalchemy.orm import Session

from core.cases.models import Case, CaseDeadline, CaseEvent, CaseReminder, CaseTask
from core.cases.settings import calendar
from core.context import current_actor
from core import audit
from core.db import current_tenant_id, reserve_ids, utcnow
from core.timefmt import limit_end, limit_last_day
from core.workdays import SHANGHAI, WorkCalendar, end_of

log = logging.getLogger("pingan.recompute")
PROVISIONAL = text("case_deadline.provisional AND case_deadline.state <> 'stopped'")  # = ix_case_deadline_provisional
CHUNK = 1000
PROVISIONAL_NOTE = "暂按周末计算；发布后自动重算）"


@dataclass
class Result:
    examined: int = 0   # open provisional limits read
    moved: int = 0      # due time changed
    confirmed: int = 0  # no longer provisional, due time unchanged (or kept, see above)
    pending: int = 0    # still provisional: their year is still unknown

    def add(self, other: "Result") -> None:
        for k in ("examined", "moved", "confirmed", "pending"):
            setattr(self, k, getattr(self, k) + getattr(other, k))


def _strip_provisional(basis: str) -> str:
    """The basis without its "not published yet" remark (the remark is the last parenthesis)."""
    while (at := basis.find(PROVISIONAL_NOTE)) >= 0:
        start = basis.rfind("（", 0, at)
        basis = basis[:max(start, 0)] + basis[at + len(PROVISIONAL_NOTE):]
    return basis


_READ = (CaseDeadline.id, CaseDeadline.case_id, CaseDeadline.title, CaseDeadline.started_at, CaseDeadline.due_at,
         CaseDeadline.basis, CaseDeadline.count_from, CaseDeadline.working_days, CaseDeadline.reminded)


def run(s: Session, host, enabled, now: dt.datetime | None = None, cal: WorkCalendar | None = None) -> Result:
    """Recompute the bound county's open provisional limits in the caller's transaction."""
    now = now or utcnow()
    cal = cal or calendar(s, cached=False)  # a year just loaded, perhaps in another process
    result = Result()
    last_id = 0
    while True:  # in chunks by id: a county's whole December in memory is not needed
        rows = s.execute(select(*_READ).where(PROVISIONAL, CaseDeadline.id > last_id)
                         .order_by(CaseDeadline.id).limit(CHUNK)).all()
        if not rows:
            _acknowledgement_limits(s, host, enabled, now, cal, result)
            return result
        last_id = rows[-1].id
        _chunk(s, host, enabled, rows, now, cal, result)


def _acknowledgement_limits(s: Session, host, enabled, now: dt.datetime, cal: WorkCalendar, result: Result) -> None:
    """Open, unacknowledged tasks whose acknowledgement limit (签收期限, ``core.cases.dispatch``)
    ran over a year now known: counted again from when they were dispatched. Like a case's
    limits, one still ahead moves (either way); one already past keeps its time."""
    from core.cases.dispatch import ack_due
    types = host.case_types_for(enabled)
    tid = current_tenant_id()
    rows = s.execute(select(CaseTask.id, CaseTask.assigned_at, CaseTask.acknowledge_due_at, Case.case_type)
                     .join(Case, (Case.tenant_id == CaseTask.tenant_id) & (Case.id == CaseTask.case_id))
                     .where(CaseTask.state == "open", CaseTask.acknowledged_at.is_(None),
                            CaseTask.ack_flagged_at.is_(None), CaseTask.acknowledge_due_at > now)).all()
    changes, entries = [], []
    for task_id, assigned_at, old_due, case_type in rows:
        ctype = types.get(case_type)
        if ctype is None:
            continue
        result.examined += 1
        new_due = ack_due(s, ctype, assigned_at, cal)
        if new_due == old_due or new_due <= now:
            result.confirmed += 1
            continue
        changes.append({"b_id": task_id, "b_due": new_due})
        entries.append(audit.Entry("update", CaseTask.__tablename__, str(task_id),
                                   {"acknowledge_due_at": [old_due.isoformat(), new_due.isoformat()]}))
        result.moved += 1
    if changes:
        table = CaseTask.__table__
        s.execute(update(table).where(table.c.tenant_id == tid, table.c.id == bindparam("b_id"))
                  .values(acknowledge_due_at=bindparam("b_due")), changes)
        audit.note(s, tid, entries)


def _chunk(s: Session, host, enabled, rows, now: dt.datetime, cal: WorkCalendar, result: Result) -> None:
    """One batch: every change goes out as one executemany of the same columns (the ORM's flush
    would split it at each change of the columns set), audited row by row like a flush."""
    tid = current_tenant_id()
    changes: list[dict] = []
    entries: list[audit.Entry] = []
    events: list[tuple[int, str, dict]] = []   # (case id, note, data)
    rearm: list[int] = []
    for d in rows:
        result.examined += 1
        due, basis, reminded = d.due_at, _strip_provisional(d.basis), d.reminded
        if d.count_from is None:  # cannot be counted again (hours, "the same day"): nothing unknown in it
            result.confirmed += 1
        else:
            last = cal.last_day(d.count_from, d.working_days)
            if cal.uncovered(min(d.count_from, d.started_at.astimezone(SHANGHAI).date()), last):
                result.pending += 1
                continue
            new_due = end_of(last).astimezone(dt.timezone.utc)
            if new_due == d.due_at:
                basis += "；节假日安排发布后核对，期限不变"
                result.confirmed += 1
            elif d.due_at <= now or new_due <= now:
                basis += f"；按发布的节假日安排应于 {limit_end(new_due)} 届满，因已届满或已过该时刻，保留原期限"
                note = f"节假日安排发布，{d.title}按发布安排应于 {limit_end(new_due)} 届满；因已过该时刻，仍以 {limit_end(d.due_at)} 为准"
                events.append((d.case_id, note, {"deadline_id": d.id, "old_due": d.due_at.isoformat(),
                                                 "official_due": new_due.isoformat(), "kept": True}))
                result.confirmed += 1
            else:
                due, reminded = new_due, 0
                basis += f"；节假日安排发布，由 {limit_end(d.due_at)} 重算为 {limit_end(new_due)}"
                rearm.append(d.id)
                note = f"节假日安排发布，{d.title}期限由 {limit_end(d.due_at)} 重算为 {limit_end(new_due)}"
                events.append((d.case_id, note, {"deadline_id": d.id, "old_due": d.due_at.isoformat(),
                                                 "new_due": new_due.isoformat()}))
                result.moved += 1
        basis = basis[:300]
        changes.append({"b_id": d.id, "b_due": due, "b_basis": basis, "b_reminded": reminded, "case_id": d.case_id})
        diff = {"provisional": [True, False], "basis": [d.basis, basis]}
        if due != d.due_at:
            diff["due_at"] = [d.due_at.isoformat(), due.isoformat()]
        if reminded != d.reminded:
            diff["reminded"] = [d.reminded, reminded]
        entries.append(audit.Entry("update", CaseDeadline.__tablename__, str(d.id), diff))
    if not changes:
        return
    table = CaseDeadline.__table__
    s.execute(update(table).where(table.c.tenant_id == tid, table.c.id == bindparam("b_id"))
              .values(provisional=False, due_at=bindparam("b_due"), basis=bindparam("b_basis"),
                      reminded=bindparam("b_reminded")), changes)
    rearm_reminders(s, rearm)
    _refresh_cases(s, tid, sorted({c["case_id"] for c in changes}), entries)
    audit.note(s, tid, entries)
    _add_events(s, host, enabled, events)


def _refresh_cases(s: Session, tid: int, case_ids: list[int], entries: list) -> None:
    """Each open case's earliest running limit and whether it is provisional, as ``deadlines.refresh``."""
    dues: dict[int, tuple] = {}
    for case_id, due_at, provisional in s.execute(
            select(CaseDeadline.case_id, CaseDeadline.due_at, CaseDeadline.provisional)
            .where(CaseDeadline.case_id.in_(case_ids), CaseDeadline.state == "running")):
        dues[case_id] = min(dues.get(case_id, (due_at, provisional)), (due_at, provisional))
    changed = []
    for case_id, due_at, provisional in s.execute(select(Case.id, Case.due_at, Case.due_provisional)
                                                  .where(Case.id.in_(case_ids), Case.closed_at.is_(None))):
        new_due, new_provisional = dues.get(case_id, (None, False))
        if (new_due, new_provisional) == (due_at, provisional):
            continue
        changed.append({"b_id": case_id, "b_due": new_due, "b_provisional": new_provisional})
        diff = {"due_provisional": [provisional, new_provisional]} if provisional != new_provisional else {}
        if new_due != due_at:
            diff["due_at"] = [due_at and due_at.isoformat(), new_due and new_due.isoformat()]
        entries.append(audit.Entry("update", Case.__tablename__, str(case_id), diff))
    if changed:
        table = Case.__table__
        s.execute(update(table).where(table.c.tenant_id == tid, table.c.id == bindparam("b_id"))
                  .values(due_at=bindparam("b_due"), due_provisional=bindparam("b_provisional"),
                          updated_at=utcnow()), changed)


def _add_events(s: Session, host, enabled, events: list[tuple[int, str, dict]]) -> None:
    """The timeline entries, ids reserved in one round trip, then the plugins told of each."""
    if not events:
        return
    actor, at = current_actor(), utcnow()
    added = [CaseEvent(id=eid, case_id=case_id, kind="recomputed", at=at, actor_id=None,
                       actor_label=actor.label[:100], note=note, data=data, org_unit_id=None)
             for eid, (case_id, note, data) in zip(reserve_ids(s, len(events)), events)]
    s.add_all(added)
    s.flush()
    cases = {c.id: c for c in s.scalars(select(Case).where(Case.id.in_({e.case_id for e in added})))}
    for event in added:
        host.case_event(s, enabled, cases[event.case_id], event)


def rearm_reminders(s: Session, deadline_ids: list[int]) -> None:
    """A limit whose due time moved is reminded again: its reminders are forgotten (the sweep
    keys them by limit, so it would otherwise take them as sent)."""
    for i in range(0, len(deadline_ids), CHUNK):
        keys = [f"{kind}:{d}" for d in deadline_ids[i:i + CHUNK] for kind in ("due_soon", "overdue")]
        s.execute(delete(CaseReminder).where(CaseReminder.key.in_(keys)))


def due(s: Session, cal: WorkCalendar | None = None) -> bool:
    """Is there anything to recompute? True when the earliest open provisional limit's year is
    known now (asked hourly by :func:`scheduled`: an upgraded package needs no one to act)."""
    earliest = s.scalar(select(func.min(CaseDeadline.due_at)).where(PROVISIONAL))
    if earliest is None:
        return False
    cal = cal or calendar(s, cached=False)
    return cal.covers(limit_last_day(earliest).year)


def scheduled(tenant_id: int) -> None:
    """Hourly core job (``core.jobs.CORE_JOBS``), with ``tenant_id`` bound: recompute when a
    year became known without anyone loading it — ``chinese-calendar`` was upgraded."""
    from core.jobs import worker_state
    state = worker_state()
    with state.db.transaction(tenant_id) as s:
        if due(s):
            result = run(s, state.plugins, state.plugins.enabled(s, tenant_id))
            log.info("recomputed provisional limits of tenant %s: %s", tenant_id, result)


def describe(result: Result) -> str:
    return (f"暂定期限 {result.examined} 个，重算变更 {result.moved} 个，核对确认 {result.confirmed} 个，"
            f"仍待发布 {result.pending} 个")


def run_all(db, host, progress: Callable[[int, int, Result], None] | None = None,
            tenant_ids: list[int] | None = None) -> Result:
    """Recompute every county (or ``tenant_ids``), each in a transaction of its own."""
    from core.context import Actor, acting_as
    from core.db import bind_tenant
    from core.models import Tenant
    if tenant_ids is None:
        with db.transaction() as s:
            tenant_ids = list(s.scalars(select(Tenant.id).order_by(Tenant.id)))
    total = Result()
    for i, tid in enumerate(tenant_ids, 1):
        with bind_tenant(tid), acting_as(Actor(None, "system:calendar")), db.transaction(tid) as s:
            part = run(s, host, host.enabled(s, tid))
        total.add(part)
        log.info("recomputed provisional limits of tenant %s: %s", tid, part)
        if progress:
            progress(i, len(tenant_ids), total)
    return total
