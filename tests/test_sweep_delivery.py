"""Issue 24 (item 7): the reminders of one sweep pass are delivered in chunks — one outbox job
and one transaction per ``sweep.DELIVERY_BATCH`` reminders, not one forked job each — and still
exactly once: a chunk delivered twice, or after its worker died, acts once per reminder; one
reminder that fails does not hold back the others of its chunk.

The real-worker side (the first SIGTERM stops a worker within a bound) is in
tests/test_job_reliability.py; the figures in bench/results/sweep_delivery.md.
"""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import event, select

from core import outbox
from core.cases import sweep
from core.cases.models import CaseEvent, CaseReminder
from core.db import utcnow
from core.models import Notification, OutboxEntry
from tests.casework import register, run_jobs
from tests.test_case_jobs import _count, _sweep, county  # noqa: F401  (the fixture: the queue emptied first)
from tests.test_job_reliability import WorkerDied

LATER = dt.timedelta(days=60)  # far past every limit of a new case
VILLAGES = ("T01D1V1", "T01D1V1", "T01D1V2", "T01D1V3", "T01D1V2")


def _overdue(db, tenant, case_ids) -> list[tuple[int, int]]:
    """(overdue events, overdue to-dos) of each case."""
    return [(_count(db, tenant, CaseEvent, CaseEvent.case_id == c, CaseEvent.kind == "overdue"),
             _count(db, tenant, Notification, Notification.case_id == c, Notification.key.like("reminder:overdue:%")))
            for c in case_ids]


def _jobs(db, tenant) -> list[OutboxEntry]:
    with db.transaction(tenant.id) as s:
        rows = s.scalars(select(OutboxEntry).where(OutboxEntry.key.like("remind%")).order_by(OutboxEntry.key)).all()
        for r in rows:
            s.expunge(r)
        return list(rows)


def _cases(login, county) -> list[int]:
    town = login(county, "donghu.admin")
    return [register(town, county.unit(code))["id"] for code in VILLAGES]


def test_a_pass_delivers_its_reminders_in_chunks_of_ids(app, county, login, db, monkeypatch):
    """Five overdue limits, chunks of two → three delivery jobs (2 + 2 + 1 reminder keys, no
    personal data), not five; each reminder acts once; a second pass queues nothing."""
    monkeypatch.setattr(sweep, "DELIVERY_BATCH", 2)
    cases = _cases(login, county)
    now = utcnow() + LATER
    assert _sweep(app, county, now)["overdue"] == 5
    rows = _jobs(db, county)
    assert [r.job for r in rows] == [sweep.DELIVER_JOB] * 3
    assert sorted(len(r.kwargs["keys"]) for r in rows) == [1, 2, 2]
    keys = [k for r in rows for k in r.kwargs["keys"]]
    assert len(set(keys)) == 5 and all(k.startswith("overdue:") and k.split(":")[1].isdigit() for k in keys)
    assert all(r.key == sweep.batch_key(r.kwargs["keys"]) for r in rows)
    assert _sweep(app, county, now)["overdue"] == 0 and len(_jobs(db, county)) == 3
    run_jobs(app)
    assert _overdue(db, county, cases) == [(1, 1)] * 5
    assert _count(db, county, CaseReminder, CaseReminder.state == "pending") == 0
    assert _count(db, county, OutboxEntry, OutboxEntry.state != "done") == 0


def test_a_chunk_delivered_twice_or_after_its_worker_died_acts_once(app, county, login, db, monkeypatch):
    """The worker dies in the middle of a chunk (its events written, its to-dos not yet):
    nothing of it is committed; the chunk's job, delivered again (and once more after that),
    delivers each reminder once."""
    cases = _cases(login, county)
    _sweep(app, county, utcnow() + LATER)
    [row] = _jobs(db, county)
    real = sweep.notify_many

    def dies(*a, **kw):
        raise WorkerDied()
    monkeypatch.setattr(sweep, "notify_many", dies)
    with pytest.raises(WorkerDied):
        outbox.run(county.id, row.key)
    assert _overdue(db, county, cases) == [(0, 0)] * 5  # the chunk's transaction rolled back whole
    monkeypatch.setattr(sweep, "notify_many", real)
    outbox.run(county.id, row.key)   # the retry
    outbox.run(county.id, row.key)   # and a second delivery of it
    with db.transaction(county.id) as s:
        sweep.deliver(s, row.kwargs["keys"])  # the chunk run again outside its outbox row
    assert _overdue(db, county, cases) == [(1, 1)] * 5


def test_one_failing_reminder_does_not_hold_back_its_chunk(app, county, login, db, monkeypatch):
    """One reminder of the chunk raises: the other four are delivered in the chunk's
    transaction, the failing one gets an outbox job of its own — which delivers it once the
    cause is gone."""
    cases = _cases(login, county)
    _sweep(app, county, utcnow() + LATER)
    [row] = _jobs(db, county)
    bad = row.kwargs["keys"][2]
    real = sweep._remind

    def fails_for_one(chunk, r):
        if r.key == bad:
            raise RuntimeError("a plugin's hook failed")
        return real(chunk, r)
    monkeypatch.setitem(sweep._PLAN, "overdue", fails_for_one)
    outbox.run(county.id, row.key)
    done = _overdue(db, county, cases)
    assert sorted(done) == [(0, 0)] + [(1, 1)] * 4
    single = [r for r in _jobs(db, county) if r.key == f"remind:{bad}"]
    assert [(r.job, r.state, r.kwargs) for r in single] == [
        ("core.cases.sweep.remind", "pending", {"reminder_key": bad, "deadline_id": int(bad.split(":")[1])})]
    monkeypatch.setitem(sweep._PLAN, "overdue", real)
    run_jobs(app)
    assert _overdue(db, county, cases) == [(1, 1)] * 5
    assert _count(db, county, CaseReminder, CaseReminder.state == "pending") == 0


def test_a_chunk_reads_its_rows_once_not_once_a_reminder(app, county, login, db):
    """Delivering a chunk costs a constant number of reads plus the writes of each reminder
    (its event, its to-dos): five reminders take far fewer statements than five single jobs."""
    _cases(login, county)
    _sweep(app, county, utcnow() + LATER)
    [row] = _jobs(db, county)
    sent: list[str] = []
    note = lambda conn, cursor, statement, *a: sent.append(statement)  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", note)
    try:
        outbox.run(county.id, row.key)
    finally:
        event.remove(db.engine, "before_cursor_execute", note)
    selects = [x for x in sent if x.lstrip().upper().startswith("SELECT")]
    # the outbox row, the claims, cases, limits, tasks, the plugin switches (twice: the Work and
    # the channels), holders (≤ 3), users of the 3 villages, the audit chain's head …
    assert len(selects) <= 16, selects
    assert sum("FROM case_reminder" in x for x in selects) == 1
    assert sum("FROM case_record" in x for x in selects) == 1


def test_notify_many_writes_inbox_entries_once_and_schedules_each_channel(app, county, db):
    """``notify_many`` (the chunk's to-dos): without a channel, every entry in one INSERT; with
    one (a plugin's SMS), each new entry gets its delivery row and outbox job. A repeated call
    (a retried job) adds nothing."""
    from core.db import bind_tenant
    from core.models import NotificationDelivery, User
    from core.notifications import Note, notify_many
    with db.transaction(county.id) as s:
        users = list(s.scalars(select(User.id).order_by(User.id).limit(3)))
    notes = [Note(users[:2], "t:inbox", "甲"), Note(users, "t:sms", "乙", kind="todo")]
    sent: list[str] = []
    note = lambda conn, cursor, statement, *a: sent.append(statement)  # noqa: E731
    with bind_tenant(county.id):
        event.listen(db.engine, "before_cursor_execute", note)
        try:
            with db.transaction(county.id) as s:
                assert notify_many(s, notes[:1], channels=[]) == 2
        finally:
            event.remove(db.engine, "before_cursor_execute", note)
        assert sum(x.lstrip().startswith("INSERT INTO notification") for x in sent) == 1
        with db.transaction(county.id) as s:
            assert notify_many(s, notes, channels=["sms"]) == 3   # the first note's two exist already
        with db.transaction(county.id) as s:
            assert notify_many(s, notes, channels=["sms"]) == 0
    assert _count(db, county, Notification, Notification.key.like("t:%")) == 5
    assert _count(db, county, NotificationDelivery, NotificationDelivery.channel == "sms") == 3
    assert _count(db, county, OutboxEntry, OutboxEntry.key.like("deliver:%:sms")) == 3
