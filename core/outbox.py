"""The transactional outbox: jobs that run only if the transaction that caused them commits.

::

    outbox.add(session, "core.cases.sweep.remind", key="remind:overdue:42", reminder_key="overdue:42")

writes an ``outbox`` row in the caller's transaction. When that transaction commits, the
job is handed to the queue (rq, or the in-process worker); when it rolls back, the row and
the job are gone together — nothing is ever enqueued for work that was not saved.

The job itself (:func:`run`) locks its row, calls the function with the session of one
transaction, and marks the row done in that same transaction. So a job delivered twice,
or re-enqueued after a worker was killed or Redis was flushed, runs its database effects
once. :func:`redispatch` (called by the sweep) enqueues again what is still pending after
``STALE`` — that is how nothing is lost — but not a job still waiting in the queue: each
row goes to the queue under its own job id (:func:`job_id`), and one pipeline asks the
queue which of them are still queued or just started (``core.jobs.RedisQueue.active``); a
backlog is left alone, only a lost or failed delivery goes out again. A job that fails
``MAX_ATTEMPTS`` times is marked ``failed``, with its last error, for the operator
(``pingan jobs failed``). Outbox jobs are time-critical: they go to the urgent queue.

Job functions take ``(session, **kwargs)``; kwargs are plain JSON values (ids, never
personal data). A function marked ``outbox_standalone = True`` takes only the kwargs and runs
outside the row's transaction, opening its own (a job that must touch two counties one after
the other, ``core.transfers.relay``); its steps must be idempotent, since it is marked done in
a transaction after it returns.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import logging

from sqlalchemy import event, or_, select, update
from sqlalchemy.orm import Session

from core.db import bind_tenant, current_tenant_id, insert_ignore_many, utcnow
from core.models import OutboxEntry

log = logging.getLogger("pingan.outbox")
MAX_ATTEMPTS = 5
STALE = dt.timedelta(minutes=5)
_PENDING_KEY = "pingan_outbox_pending"


def add(session: Session, job: str, key: str, **kwargs) -> bool:
    """Schedule ``job(session, **kwargs)`` to run after the current transaction commits.

    ``key`` identifies the effect (``"remind:overdue:42"``); adding the same key twice is a
    no-op. Returns True if this call scheduled it.
    """
    return bool(add_many(session, [(job, key, kwargs)]))


def add_many(session: Session, jobs: list[tuple[str, str, dict]]) -> list[str]:
    """:func:`add` for many ``(job, key, kwargs)`` at once (one multi-row INSERT); returns the
    keys this call scheduled (a key already in the outbox is skipped)."""
    now = utcnow()
    keys = insert_ignore_many(session, OutboxEntry, [
        {"key": key, "job": job, "kwargs": kwargs, "state": "pending", "attempts": 0,
         "created_at": now, "enqueued_at": now} for job, key, kwargs in jobs], ["key"], OutboxEntry.key)
    if keys:
        tenant_id = current_tenant_id()
        session.info.setdefault(_PENDING_KEY, []).extend((tenant_id, k, False) for k in keys)
    return keys


def job_id(tenant_id: int, key: str) -> str:
    """The queue's id of an outbox row's job: the same for every delivery of that row."""
    return f"outbox-{int(tenant_id)}-{hashlib.sha1(key.encode()).hexdigest()}"


@event.listens_for(Session, "after_commit")
def _enqueue_committed(session: Session) -> None:
    pending = session.info.pop(_PENDING_KEY, None)
    for tenant_id, key, replace in pending or ():
        _enqueue(tenant_id, key, replace)


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    session.info.pop(_PENDING_KEY, None)


def _enqueue(tenant_id: int, key: str, replace: bool = False) -> None:
    from core.jobs import queue
    try:
        queue().enqueue("core.outbox.run", job_id=job_id(tenant_id, key), replace=replace,
                        tenant_id=tenant_id, key=key)
    except Exception:  # noqa: BLE001 — the row stays pending; redispatch enqueues it again
        log.exception("could not enqueue outbox job %s of tenant %s", key, tenant_id)


def run(tenant_id: int, key: str) -> None:
    """The queue's entry point: run one outbox job once, for its tenant."""
    from core.jobs import resolve, worker_state
    from core.context import Actor, acting_as
    db = worker_state().db
    with bind_tenant(tenant_id), acting_as(Actor(None, "system:outbox")):
        try:
            with db.transaction(tenant_id) as s:
                entry = s.scalar(select(OutboxEntry).where(OutboxEntry.key == key).with_for_update())
                if entry is None or entry.state != "pending":
                    return  # done already (a second delivery), or failed for good
                func = resolve(entry.job)
                if not getattr(func, "outbox_standalone", False):
                    func(s, **entry.kwargs)
                    entry.state, entry.done_at, entry.attempts = "done", utcnow(), entry.attempts + 1
                    return
                kwargs = dict(entry.kwargs)
            # a standalone job opens its own transactions (core.transfers.relay: one county's at
            # a time); its steps are idempotent, so running it again after a failure is safe
            func(**kwargs)
            with db.transaction(tenant_id) as s:
                s.execute(update(OutboxEntry).where(OutboxEntry.key == key, OutboxEntry.state == "pending")
                          .values(state="done", done_at=utcnow(), attempts=OutboxEntry.attempts + 1))
        except Exception as exc:  # noqa: BLE001 — recorded on the row; retried by redispatch
            log.exception("outbox job %s of tenant %s failed", key, tenant_id)
            with db.transaction(tenant_id) as s:
                entry = s.scalar(select(OutboxEntry).where(OutboxEntry.key == key).with_for_update())
                if entry is not None and entry.state == "pending":
                    entry.attempts += 1
                    entry.last_error = f"{type(exc).__name__}: {exc}"[:500]
                    if entry.attempts >= MAX_ATTEMPTS:
                        entry.state = "failed"


def redispatch(session: Session, now: dt.datetime | None = None, stale: dt.timedelta = STALE) -> list[str]:
    """Enqueue again every pending job not done within ``stale`` of its last enqueue whose
    queue entry is gone (lost in a crash or a Redis flush) or over (an attempt that failed):
    never one still waiting in the queue or started less than ``stale`` ago. Marks them
    re-enqueued now; returns their keys."""
    from core.jobs import queue
    now = now or utcnow()
    tenant_id = current_tenant_id()
    keys = list(session.scalars(select(OutboxEntry.key).where(
        OutboxEntry.state == "pending",
        or_(OutboxEntry.enqueued_at.is_(None), OutboxEntry.enqueued_at <= now - stale))))
    if not keys:
        return []
    ids = {job_id(tenant_id, k): k for k in keys}
    try:
        waiting = queue().active(list(ids), started_within=stale.total_seconds())
    except Exception:  # noqa: BLE001 — the queue is down: nothing can be enqueued now anyway
        log.exception("outbox: cannot ask the queue what is waiting; the next sweep tries again")
        return []
    keys = [k for i, k in ids.items() if i not in waiting]
    if keys:
        session.execute(update(OutboxEntry).where(OutboxEntry.key.in_(keys)).values(enqueued_at=now))
        session.info.setdefault(_PENDING_KEY, []).extend((tenant_id, k, True) for k in keys)
    return keys


def failed(session: Session) -> list[OutboxEntry]:
    return list(session.scalars(select(OutboxEntry).where(OutboxEntry.state == "failed")
                                .order_by(OutboxEntry.id.desc())))


def retry(session: Session, key: str) -> bool:
    """Give a failed job another round of attempts (the operator fixed the cause)."""
    entry = session.scalar(select(OutboxEntry).where(OutboxEntry.key == key))
    if entry is None or entry.state != "failed":
        return False
    entry.state, entry.attempts, entry.enqueued_at = "pending", 0, utcnow()
    session.info.setdefault(_PENDING_KEY, []).append((current_tenant_id(), key, True))
    return True
