"""Issue 25 (items 3, 7, 8): jobs that never get stuck, are not queued twice while they only
wait, urgent work before bulk work, and rq worker processes that die and stop cleanly.

- A long job's run is owned by the database: a lease renewed while it runs; the sweep takes
  back a run whose lease ran out, or whose queue entry is gone, and queues it again — the
  page says 重新排队 — and gives up after ``PINGAN_JOB_MAX_ATTEMPTS``.
- A Redis flush loses nothing, for every kind of job: outbox jobs, ledger exports and
  imports, calendar recomputes, scheduled jobs.
- ``outbox.redispatch`` leaves a job alone while it still waits in the queue.
- The real-worker tests (PostgreSQL + Redis) start ``pingan worker`` as a subprocess; the
  Redis outage uses a throwaway ``redis-server`` of the test's own, never the machine's.
"""
from __future__ import annotations

import datetime as dt
import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import create_engine, func, select, text

from core import jobs, ledgers, outbox
from core.app import pingan
from core.authz import load_grants
from core.cases import sweep
from core.cases.models import Case
from core.cases.timeline import Work
from core.context import Actor, acting_as
from core.db import bind_tenant, utcnow
from core.models import JobRun, User
from tests import casework
from tests.casework import VISIT, register, run_jobs
from tests.conftest import PG_URL, REDIS_URL, ROOT, lock_waiters

def note(n: int) -> None:
    """A queue job for the priority test: remembers the order it ran in (in ``casework.RAN``:
    this module may be imported twice, as a test and by the queue)."""
    casework.RAN.append({"n": n})


def linger(seconds: float, marker: str) -> None:
    """A queue job for the stop tests: writes ``<marker>.started``, works ``seconds``, then
    writes ``<marker>.done``."""
    Path(f"{marker}.started").write_text("1")
    time.sleep(seconds)
    Path(f"{marker}.done").write_text("1")


class WorkerDied(BaseException):
    """Stands for a killed work horse: nothing of the job's own handling runs after it."""


@pytest.fixture
def county(app, county):
    jobs.bind_state(pingan(app))
    run_jobs(app)  # nothing of earlier tests left in the queue
    return county


def _lease(app) -> dt.timedelta:
    return dt.timedelta(seconds=pingan(app).config.job_lease_seconds)


def _flush(app) -> None:
    """Lose every queued job: FLUSHDB of the test's own Redis database, or the in-process
    queue's contents (the process died with them)."""
    q = jobs.queue(pingan(app).config)
    if isinstance(q, jobs.InProcessQueue):
        with q._q.mutex:
            q._q.queue.clear()
        q._claimed.clear()
    else:
        q.redis.flushdb()


def _sweep(app, tenant, now: dt.datetime, stale: dt.timedelta = outbox.STALE) -> dict:
    state = pingan(app)
    with bind_tenant(tenant.id), state.db.transaction(tenant.id) as s:
        return sweep.run(s, state.plugins, now=now, stale=stale)


def _run(db, tenant, job_id: int) -> JobRun:
    with db.transaction(tenant.id) as s:
        job = s.scalar(select(JobRun).where(JobRun.id == job_id))
        s.expunge(job)
        return job


def _cases(db, tenant) -> int:
    with db.transaction(tenant.id) as s:
        return s.scalar(select(func.count()).select_from(Case))


def _xlsx(rows: list[list]) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append(["标题", "发生地", "来源渠道", "内容", "走访方式"])
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _start(app, county, login, kind: str) -> int:
    """Start one long job of ``kind`` as a county user; returns its id (queued, its outbox
    hand-off in the queue)."""
    town = login(county, "donghu.admin")
    if kind == "ledger_export":
        register(town, county.unit("T01D1V1"))
        r = town.post("/api/ledgers/exports", json={"case_type": VISIT})
    elif kind == "ledger_import":
        data = _xlsx([["走访 1", "T01D1V1", "", "", "home"], ["走访 2", "T01D1V2", "", "", "phone"]])
        r = town.post(f"/api/ledgers/imports?case_type={VISIT}", data={"file": (io.BytesIO(data), "台账.xlsx")},
                      content_type="multipart/form-data")
    else:  # a county's recompute, started as the recompute of the calendar starts it
        state = pingan(app)
        with bind_tenant(county.id), acting_as(Actor(None, "test")), state.db.transaction(county.id) as s:
            user = s.scalar(select(User).where(User.username == "county.admin"))
            w = Work(s, state.plugins, state.plugins.enabled(s, county.id), load_grants(s, user.id), user)
            return ledgers.start_job(w, "calendar_recompute", "重算暂定期限", {"scope": "county"}).id
    assert r.status_code == 202, r.get_json()
    return r.get_json()["id"]


def _files(config, tenant) -> set[Path]:
    root = Path(config.storage_dir) / f"t{tenant.id}" / ledgers.STORAGE_KIND
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


# --- a Redis flush loses nothing, for every kind -------------------------------------------------

@pytest.mark.parametrize("kind", ["ledger_export", "ledger_import", "calendar_recompute"])
@pytest.mark.parametrize("when", ["before_hand_off", "after_hand_off"])
def test_a_flush_loses_no_long_job(app, county, login, db, kind, when):
    """issue 25 (3): the queue is flushed while the job waits — in the outbox's hand-off, or
    handed to the bulk queue already (its outbox row done: before, nothing brought it back and
    it stayed 排队中 for good). The next sweep queues it again; it runs once; 重新排队 shows."""
    job_id = _start(app, county, login, kind)
    if when == "after_hand_off":
        outbox.run(county.id, f"jobrun:{job_id}")  # the outbox's job: hands execute to the queue
    _flush(app)
    run_jobs(app)
    assert _run(db, county, job_id).state == "queued"  # nothing left in the queue to run it
    before = _cases(db, county)
    found = _sweep(app, county, utcnow() + 2 * _lease(app), stale=dt.timedelta(0))
    assert found["requeued_runs"] == 1
    run = _run(db, county, job_id)
    assert run.state == "queued" and run.requeues == 1 and "重新排队" in run.message
    page = login(county, "county.admin" if kind == "calendar_recompute" else "donghu.admin").get(f"/jobs/{job_id}")
    assert page.status_code == 200 and "重新排队" in page.get_data(as_text=True)
    run_jobs(app)
    run_jobs(app)
    run = _run(db, county, job_id)
    assert (run.state, run.attempts) == ("done", 1), run.message
    if kind == "ledger_import":
        assert _cases(db, county) == before + 2
    assert _sweep(app, county, utcnow() + 4 * _lease(app), stale=dt.timedelta(0))["requeued_runs"] == 0


def test_a_flush_with_every_kind_queued_loses_nothing_and_runs_each_once(app, county, login, db):
    """issue 25 (3): an outbox job, a scheduled slot, an export handed to the bulk queue, an
    import and a recompute still in their outbox hand-off — all queued, then FLUSHDB. The next
    tick and sweep bring every one back, and each runs once."""
    casework.RAN.clear()
    with bind_tenant(county.id), db.transaction(county.id) as s:
        outbox.add(s, "tests.casework.record_ran", key="flushed:1", marker="one")
    state = pingan(app)
    slot = time.time() + 10**7 + 7200
    assert jobs.tick(state, slot) >= 1
    export = _start(app, county, login, "ledger_export")
    outbox.run(county.id, f"jobrun:{export}")
    imported, recomputed = _start(app, county, login, "ledger_import"), _start(app, county, login, "calendar_recompute")
    before = _cases(db, county)
    _flush(app)
    assert jobs.tick(state, slot) >= 1   # the slot's claim went with the flush: claimed anew
    found = _sweep(app, county, utcnow() + 2 * _lease(app), stale=dt.timedelta(0))
    assert found["redispatched"] == 3 and found["requeued_runs"] == 3  # record_ran and two hand-offs
    assert jobs.tick(state, slot) == 0   # and claimed once
    run_jobs(app)
    run_jobs(app)
    assert casework.RAN == [{"marker": "one"}]
    assert [(_run(db, county, i).state, _run(db, county, i).attempts) for i in (export, imported, recomputed)] \
        == [("done", 1)] * 3
    assert _cases(db, county) == before + 2


# --- a run whose worker died ---------------------------------------------------------------------

def _die_once(monkeypatch, where: str):
    """Make the next attempt die (as a killed work horse) at ``where``; later ones live."""
    died = []
    original = getattr(ledgers, where)

    def dying(*args, **kwargs):
        result = original(*args, **kwargs)
        if not died:
            died.append(True)
            raise WorkerDied()
        return result
    monkeypatch.setattr(ledgers, where, dying)
    return died


def _execute_dies(county, job_id: int) -> None:
    with pytest.raises(WorkerDied):
        with bind_tenant(county.id):
            ledgers.execute(county.id, job_id)


def test_an_export_whose_worker_died_is_taken_back_and_overwrites_its_file(app, county, login, db, config,
                                                                          monkeypatch):
    """issue 25 (3): a work horse killed after the export wrote its file, before it finished:
    the run stays 'running' (before: for good). Once its lease is over the sweep queues it
    again, says why, and the second attempt writes the SAME file (no second copy)."""
    job_id = _start(app, county, login, "ledger_export")
    outbox.run(county.id, f"jobrun:{job_id}")
    _flush(app)  # the test runs the attempt itself
    files = _files(config, county)
    _die_once(monkeypatch, "_store")
    _execute_dies(county, job_id)
    run = _run(db, county, job_id)
    assert run.state == "running" and run.attempts == 1 and run.lease_until > utcnow()
    written = _files(config, county) - files
    assert len(written) == 1
    assert _sweep(app, county, utcnow())["requeued_runs"] == 0  # the lease still runs
    found = _sweep(app, county, run.lease_until + dt.timedelta(seconds=1))
    assert found["requeued_runs"] == 1
    town = login(county, "donghu.admin")
    body = town.get(f"/api/jobs/{job_id}").get_json()
    assert body["state"] == "queued" and body["requeued"] is True and body["attempts"] == 1
    assert "上次执行中断" in body["message"] and "重新排队" in body["message"]
    run_jobs(app)
    body = town.get(f"/api/jobs/{job_id}").get_json()
    assert body["state"] == "done" and body["attempts"] == 2 and body["requeued"] is False
    assert _files(config, county) - files == written  # overwritten, not a second file
    assert town.get(body["result_url"]).status_code == 200


def test_a_run_interrupted_max_attempts_times_fails_saying_so(app, county, login, db, monkeypatch):
    """issue 25 (3): every attempt dies → after PINGAN_JOB_MAX_ATTEMPTS the sweep gives up with
    a clear failure, not a requeue loop."""
    job_id = _start(app, county, login, "ledger_export")
    outbox.run(county.id, f"jobrun:{job_id}")
    _flush(app)

    def dies(run):
        run.progress(0, 1, "正在导出")
        raise WorkerDied()
    monkeypatch.setitem(ledgers.RUNNERS, "ledger_export", dies)
    limit = pingan(app).config.job_max_attempts
    at = utcnow()
    for attempt in range(1, limit + 1):
        _execute_dies(county, job_id)
        at += 2 * _lease(app)
        found = _sweep(app, county, at)
        _flush(app)  # the sweep queued it again; the test runs the next attempt itself
        if attempt < limit:
            assert found["requeued_runs"] == 1 and _run(db, county, job_id).state == "queued"
    assert found["failed_runs"] == 1
    run = _run(db, county, job_id)
    assert run.state == "failed" and run.attempts == limit
    assert f"执行了 {limit} 次" in run.message and "不再重试" in run.message and str(job_id) in run.message


def test_an_attempt_taken_back_cannot_finish_and_its_import_rolls_back(app, county, login, db, monkeypatch):
    """issue 25 (3): an attempt still alive after its lease ran out (a pause, a slow database)
    while the sweep took the run back: it stops at its next write, its import's cases roll back
    with its finish, and the next attempt imports every row once."""
    job_id = _start(app, county, login, "ledger_import")
    outbox.run(county.id, f"jobrun:{job_id}")
    _flush(app)
    before = _cases(db, county)
    original = ledgers._register_all
    swept = []

    def late(run, ctype, valid, total):
        if not swept:  # the lease ran out while this attempt was checking the rows
            swept.append(_sweep(app, county, utcnow() + 2 * _lease(app)))
        original(run, ctype, valid, total)
    monkeypatch.setattr(ledgers, "_register_all", late)
    monkeypatch.setattr(ledgers._Run, "progress", lambda self, *a, **k: None)  # no write in between
    with bind_tenant(county.id):
        ledgers.execute(county.id, job_id)  # returns quietly: the run is not its own any more
    assert swept[0]["requeued_runs"] == 1
    assert _cases(db, county) == before and _run(db, county, job_id).state == "queued"
    run_jobs(app)
    run = _run(db, county, job_id)
    assert (run.state, run.attempts) == ("done", 2) and _cases(db, county) == before + 2


def test_a_heartbeat_keeps_a_long_running_job_its_own(app, county, login, db, monkeypatch):
    """issue 25 (3): between progress writes the heartbeat renews the lease, so a job that works
    longer than its lease is never taken back while it lives."""
    job_id = _start(app, county, login, "ledger_export")
    outbox.run(county.id, f"jobrun:{job_id}")
    _flush(app)
    renewed = []
    monkeypatch.setattr(pingan(app).config, "job_lease_seconds", 1)  # a heartbeat every 1/3 s

    def slow(run):
        first = _run(db, county, job_id).lease_until
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not renewed:
            time.sleep(0.1)
            if _run(db, county, job_id).lease_until > first:
                renewed.append(True)
        ledgers._finish(run, "done", "完成", done=0, total=0)
    monkeypatch.setitem(ledgers.RUNNERS, "ledger_export", slow)
    with bind_tenant(county.id):
        ledgers.execute(county.id, job_id)
    assert renewed and _run(db, county, job_id).state == "done"


# --- not twice what only waits; urgent before bulk ------------------------------------------------

def test_the_sweep_does_not_queue_again_what_still_waits_in_the_queue(app, county, db):
    """issue 25 (7): a pending outbox job still waiting in the queue (a backlog) is not queued a
    second time however late it is; once its queue entry is gone, it is."""
    casework.RAN.clear()
    with bind_tenant(county.id), db.transaction(county.id) as s:
        outbox.add(s, "tests.casework.record_ran", key="backlog:1", marker="late")
    late = utcnow() + dt.timedelta(hours=1)
    assert _sweep(app, county, late, stale=dt.timedelta(0))["redispatched"] == 0
    q = jobs.queue(pingan(app).config)
    assert q.active([outbox.job_id(county.id, "backlog:1")], started_within=0)
    _flush(app)
    assert _sweep(app, county, late, stale=dt.timedelta(0))["redispatched"] == 1
    run_jobs(app)
    assert casework.RAN == [{"marker": "late"}]


@pytest.mark.skipif(not REDIS_URL, reason="rq's own bookkeeping is Redis's")
def test_a_job_whose_hash_says_queued_but_waits_in_no_queue_is_not_active(app, county, db):
    """bench/faults.py found it: a worker killed while holding a job leaves the job's hash at
    ``queued`` after rq's clean-up took it out of every queue; the sweep must queue it again."""
    q = jobs.queue(pingan(app).config)
    q.redis.flushdb()
    with bind_tenant(county.id), db.transaction(county.id) as s:
        outbox.add(s, "tests.casework.record_ran", key="stranded:1", marker="stranded")
        outbox.add(s, "tests.casework.record_ran", key="waiting:1", marker="waiting")
    stranded, waiting = outbox.job_id(county.id, "stranded:1"), outbox.job_id(county.id, "waiting:1")
    q.redis.lrem(q.urgent.key, 0, stranded)  # what rq's clean-up of the dead worker's list leaves
    assert q.redis.hget(f"rq:job:{stranded}", "status") == b"queued"
    assert q.active([stranded, waiting], started_within=0) == {waiting}
    casework.RAN.clear()
    assert _sweep(app, county, utcnow() + dt.timedelta(hours=1), stale=dt.timedelta(0))["redispatched"] == 1
    run_jobs(app)
    assert sorted(r["marker"] for r in casework.RAN) == ["stranded", "waiting"]


def test_urgent_jobs_run_before_bulk_jobs_queued_earlier(app, county):
    """issue 25 (7): exports queued first, a reminder after them: the reminder runs first."""
    casework.RAN.clear()
    q = jobs.queue(pingan(app).config)
    q.enqueue("tests.test_job_reliability.note", bulk=True, n=1)
    q.enqueue("tests.test_job_reliability.note", bulk=True, n=2)
    q.enqueue("tests.test_job_reliability.note", n=3)
    run_jobs(app)
    assert [r["n"] for r in casework.RAN] == [3, 1, 2]


# --- real rq workers (PostgreSQL + Redis) ----------------------------------------------------------

real_worker = pytest.mark.skipif(not (PG_URL and REDIS_URL), reason="a real rq worker needs PostgreSQL and Redis")


def _env(config, redis_url: str = REDIS_URL or "") -> dict:
    return {**os.environ, "PINGAN_ENV": "test", "PINGAN_DATABASE_URL": PG_URL or "", "PINGAN_REDIS_URL": redis_url,
            "PINGAN_INSTANCE_DIR": str(config.instance_dir)}


def _worker(config, log_name: str, redis_url: str = REDIS_URL or "", *args: str) -> subprocess.Popen:
    log = open(config.instance_dir / log_name, "wb")
    try:
        return subprocess.Popen([sys.executable, "-m", "core.cli", "worker", *args], cwd=ROOT,
                                env=_env(config, redis_url), stdout=log, stderr=log, start_new_session=True)
    finally:
        log.close()


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(p) for p in out]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (ours, not reaped yet) is dead
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _kill(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _wait_for(predicate, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"waited {seconds} s for {what}")


class ThrowawayRedis:
    """A redis-server of this test alone (never the machine's), on a free port, no persistence."""

    def __init__(self) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> "ThrowawayRedis":
        import redis
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                                      "--save", "", "--appendonly", "no"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        conn = redis.Redis.from_url(self.url)

        def up() -> bool:
            try:
                return bool(conn.ping())
            except redis.exceptions.ConnectionError:
                return False
        _wait_for(up, 10, "the throwaway redis-server")
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None


needs_redis_server = pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")


@real_worker
@needs_redis_server
def test_a_killed_worker_leaves_no_scheduler_behind(app, config):
    """issue 25 (8): ``kill -9`` of a worker: nothing of it lives on — rq's forked scheduler
    used to, holding the scheduler lock for 17 minutes — and its lock runs out."""
    import redis
    server = ThrowawayRedis().start()
    worker, family = None, []
    try:
        conn = redis.Redis.from_url(server.url)
        worker = _worker(config, "killed-scheduler.log", server.url)
        _wait_for(lambda: conn.get("rq:scheduler-lock:pingan") is not None, 60, "the scheduler lock")
        assert conn.ttl("rq:scheduler-lock:pingan") <= 61
        family = _children(worker.pid)
        _kill([worker.pid])
        worker.wait(timeout=30)
        time.sleep(1)
        assert [pid for pid in family if _alive(pid)] == []
    finally:
        if worker is not None:
            _kill([*family, *_children(worker.pid), worker.pid])
        server.stop()


@pytest.mark.skipif(not REDIS_URL, reason="needs Redis")
def test_a_worker_leaves_its_pub_sub_thread_within_seconds(app):
    """issue 25 (8), the cause of the 60-s stop: rq's ``unsubscribe`` waits for its pub/sub
    thread without a limit, and that thread sleeps up to 60 s in redis-py's ``get_message``
    while its connection is not subscribed (after an outage; or the UNSUBSCRIBE reply read
    before the stop flag is seen). Put it in that state, then stop it as rq does on exit."""
    q = jobs.queue(pingan(app).config)
    worker = jobs.worker_class()([q.urgent], connection=q.redis)
    worker.subscribe()
    _wait_for(lambda: worker.pubsub.subscribed, 10, "the subscription")
    worker.pubsub.unsubscribe()         # the thread reads the reply and waits for a subscription
    _wait_for(lambda: not worker.pubsub.subscribed, 10, "the unsubscription")
    time.sleep(0.5)
    started = time.monotonic()
    worker.unsubscribe()
    assert time.monotonic() - started < 3


@real_worker
@needs_redis_server
def test_a_worker_stops_fast_after_a_redis_outage(app, config):
    """issue 25 (8): Redis gone for a while and back; SIGTERM → the idle worker exits within
    seconds (rq waited up to 60 s for its pub/sub thread, which sleeps 60 s once its
    subscription is lost)."""
    server = ThrowawayRedis().start()
    worker = None
    try:
        worker = _worker(config, "outage-worker.log", server.url)
        time.sleep(6)                  # up and listening
        server.stop()
        time.sleep(12)                 # the outage: the worker's reconnect attempts back off
        server.start()
        time.sleep(3)
        started = time.monotonic()
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=90)
        assert time.monotonic() - started < 10
    finally:
        if worker is not None and worker.poll() is None:
            _kill([*_children(worker.pid), worker.pid])
        server.stop()


def _waiting_on_audit_head(conn) -> bool:
    return bool(lock_waiters(conn, "audit_head"))


@real_worker
def test_a_worker_killed_mid_export_is_taken_back_by_the_sweep(app, county, login, db, config):
    """issue 25 (3): ``kill -9`` of a real worker and its work horse in the middle of an export
    (claimed, file written, its finish waiting): the run stays 'running' until its lease runs
    out (before: for good); the sweep queues it again and it ends once, in the same file."""
    job_id = _start(app, county, login, "ledger_export")
    q = jobs.queue(pingan(app).config)
    q.redis.flushdb()
    outbox.run(county.id, f"jobrun:{job_id}")  # the hand-off: execute waits in the bulk queue
    files = _files(config, county)
    # The county's audit-chain head, held: the claim's commit waits for it (it audits
    # job_started); let it through and take the head again at once, so the export's finish
    # (job_finished) waits — then kill. (Other jobs that audit are let through the same way.)
    owner = create_engine(PG_URL)
    blocker = owner.connect()
    head = text("SELECT 1 FROM audit_head WHERE tenant_id = :t FOR UPDATE")
    holder = {"tx": blocker.begin()}
    blocker.execute(head, {"t": county.id})

    def let_through() -> None:  # release the head and take it again, queued behind its waiter
        holder["tx"].rollback()
        holder["tx"] = blocker.begin()
        blocker.execute(head, {"t": county.id})

    worker = _worker(config, "killed-export-worker.log", REDIS_URL, "--burst")
    try:
        deadline = time.monotonic() + 120
        while _run(db, county, job_id).state != "running":  # the claim, and the county's urgent
            assert time.monotonic() < deadline, "the worker never claimed the export"  # jobs before it
            if _waiting_on_audit_head(blocker):
                let_through()
            time.sleep(0.05)
        _wait_for(lambda: _waiting_on_audit_head(blocker), 60, "the export's finish to wait on the audit head")
        _kill([*_children(worker.pid), worker.pid])
        worker.wait(timeout=30)
    finally:
        if worker.poll() is None:
            _kill([*_children(worker.pid), worker.pid])
        holder["tx"].rollback()
        blocker.close()
        owner.dispose()
    run = _run(db, county, job_id)
    assert run.state == "running" and run.attempts == 1
    written = _files(config, county) - files
    assert len(written) == 1
    # the killed worker's database session ends when its server notices the client gone: until then
    # it may hold the run's row, which the sweep skips (SKIP LOCKED) — under load a moment longer
    requeued = 0
    for _ in range(100):
        requeued = _sweep(app, county, run.lease_until + dt.timedelta(seconds=1))["requeued_runs"]
        if requeued:
            break
        time.sleep(0.1)
    assert requeued == 1
    run_jobs(app)
    run = _run(db, county, job_id)
    assert (run.state, run.attempts, run.requeues) == ("done", 2, 1)
    assert _files(config, county) - files == written


def _stopping_worker(config, log_name: str, grace: int) -> subprocess.Popen:
    """A ``pingan worker`` whose stop gives the running job ``grace`` seconds."""
    log = open(config.instance_dir / log_name, "wb")
    try:
        return subprocess.Popen([sys.executable, "-m", "core.cli", "worker"], cwd=ROOT,
                                env={**_env(config), "PINGAN_SHUTDOWN_GRACE_SECONDS": str(grace)},
                                stdout=log, stderr=log, start_new_session=True)
    finally:
        log.close()


def _linger_under_sigterm(app, config, seconds: float, grace: int, name: str):
    """Queue one ``linger`` job, start a real worker, SIGTERM it once as soon as the job runs;
    returns (seconds from the signal to the worker's exit, its exit code, the job, the marker)."""
    from rq.job import Job
    q = jobs.queue(pingan(app).config)
    q.redis.flushdb()
    marker = str(config.instance_dir / name)
    for suffix in (".started", ".done"):
        Path(marker + suffix).unlink(missing_ok=True)
    q.enqueue("tests.test_job_reliability.linger", job_id=name, seconds=seconds, marker=marker)
    worker = _stopping_worker(config, f"{name}.log", grace)
    try:
        _wait_for(lambda: Path(marker + ".started").exists(), 60, "the job to start")
        started = time.monotonic()
        worker.send_signal(signal.SIGTERM)     # once
        code = worker.wait(timeout=seconds + grace + 60)
        took = time.monotonic() - started
    finally:
        if worker.poll() is None:
            _kill([*_children(worker.pid), worker.pid])
    return took, code, Job.fetch(name, connection=q.redis), marker


@real_worker
def test_the_first_sigterm_stops_a_worker_whose_job_runs_long_and_queues_the_job_again(app, config):
    """issue 24 (7): the worker "ignored" the first SIGTERM — rq's warm shutdown waits for the
    running job however long it runs (here 120 s). Now the job gets the grace (2 s), its work
    horse is killed, and the job waits at the front of its queue again (not failed, no attempt
    used), whole, for the next worker; the worker exits 0 within seconds."""
    took, code, job, marker = _linger_under_sigterm(app, config, 120, 2, "long-job")
    assert took < 15, f"the worker took {took:.1f} s to stop"
    assert code == 0
    assert not Path(marker + ".done").exists()
    q = jobs.queue(pingan(app).config)
    assert job.get_status() == "queued" and q.urgent.get_job_ids()[:1] == [job.id]
    assert q.urgent.failed_job_registry.count == 0 and q.urgent.started_job_registry.count == 0
    assert job.kwargs == {"seconds": 120, "marker": marker}  # whole, for the next worker


@real_worker
def test_the_first_sigterm_lets_a_short_job_finish(app, config):
    """A job that ends within the grace runs to its end, then the worker exits."""
    took, code, job, marker = _linger_under_sigterm(app, config, 3, 30, "short-job")
    assert code == 0 and took < 20
    assert Path(marker + ".done").exists() and job.get_status() == "finished"

