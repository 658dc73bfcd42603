"""Background jobs: rq on Redis in production, an in-process worker thread embedded.

Job functions are plain importable functions that take plain values (ids, never objects
or personal data) and are named by dotted path, so the same call works on both queues::

    jobs.queue().enqueue("plugins.petition.jobs.send_reminder", tenant_id=3, case_id=42)

Periodic jobs come from plugins (``pingan_scheduled_jobs``). Every ``TICK_SECONDS`` the
scheduler enqueues each job once per slot (``every_minutes``) for every tenant that has the
plugin enabled; a slot is claimed atomically (Redis ``SET NX`` or the in-process set) so
two schedulers never enqueue it twice. The job runs with its tenant bound and checks again
that the plugin is still enabled; if not, it skips.

**Two queues, urgent before bulk.** Time-critical work — outbox jobs (reminders,
escalations, notifications, the hand-off of a long job), the sweep and plugins' periodic
jobs — goes to :data:`URGENT`; long work — ledger exports and imports, recomputes — to
:data:`BULK`. A worker takes from ``URGENT`` first and from ``BULK`` only when ``URGENT`` is
empty (rq's queue order; the in-process queue keeps the same order), so a backlog of
exports never delays a reminder by more than the one bulk job a worker may be running;
``pingan worker --queue urgent`` keeps a worker for urgent work alone (docs/cases.md).

**Deterministic job ids.** A job handed to the queue under an id (an outbox row's, a long
job's) can be asked about: :meth:`RedisQueue.active` says, in one pipeline, which ids are
still waiting or running, so whatever recovers lost work (``core.outbox.redispatch``, the
lease check of ``core.ledgers``) never queues a second copy of one that is only late.
"""
from __future__ import annotations

import contextlib
import importlib
import itertools
import logging
import queue as _queue
import threading
import time
from collections.abc import Callable, Iterator

from sqlalchemy import select

from core.config import Config
from core.context import Actor, acting_as
# the running state (config, db, plugins) lives in core.runtime; core.jobs.bind_state etc. stay valid names
from core.runtime import bind_state, running, worker_state

log = logging.getLogger("pingan.jobs")
TICK_SECONDS = 30
MAX_ATTEMPTS = 3


def resolve(path: str) -> Callable:
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


URGENT, BULK = "pingan", "pingan-bulk"   # rq queue names; urgent keeps the old queue's name
SCHEDULER_INTERVAL = 1                   # seconds between two passes of rq's scheduler thread
# waiting in the queue (rq's statuses); a "started" job counts only while it started recently
_WAITING = frozenset({"queued", "deferred", "scheduled"})


class _Queued(tuple):
    """A job in the in-process queue: unpacks as ``(path, kwargs)``; urgent ones first, then
    in the order they came."""

    def __new__(cls, path: str, kwargs: dict, rank: tuple[int, int], job_id: str | None) -> "_Queued":
        item = super().__new__(cls, (path, kwargs))
        item.rank, item.job_id = rank, job_id
        return item

    def __lt__(self, other: "_Queued") -> bool:
        return self.rank < other.rank


class InProcessQueue:
    """One daemon thread running jobs, urgent ones first; for the embedded default and tests."""

    def __init__(self) -> None:
        self._q: _queue.PriorityQueue = _queue.PriorityQueue()
        self._seq = itertools.count()
        self._claimed: dict[str, float] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._running: str | None = None
        self.failed: list[tuple[str, dict, str]] = []

    def claim_many(self, claims: list[tuple[str, int]]) -> list[bool]:
        """For each (key, ttl): whether this call took the key (no one holds it for ttl seconds)."""
        now = time.monotonic()
        out = []
        with self._lock:
            self._claimed = {k: v for k, v in self._claimed.items() if v > now}
            for key, ttl in claims:
                out.append(key not in self._claimed)
                self._claimed.setdefault(key, now + ttl)
        return out

    def enqueue(self, path: str, job_id: str | None = None, job_timeout: int | None = None,
                retry: bool = True, bulk: bool = False, replace: bool = False, **kwargs) -> None:
        self._q.put(_Queued(path, kwargs, (1 if bulk else 0, next(self._seq)), job_id))

    def release(self, keys: list[str]) -> None:
        """Give back claims (their jobs could not be queued)."""
        with self._lock:
            for key in keys:
                self._claimed.pop(key, None)

    def enqueue_many(self, items: list[tuple[str, str | None, bool, dict]]) -> None:
        """Queue (path, job_id, bulk, kwargs) jobs as :meth:`enqueue` does each."""
        for path, job_id, bulk, kwargs in items:
            self.enqueue(path, job_id=job_id, bulk=bulk, **kwargs)

    def active(self, job_ids: list[str], started_within: float = 0) -> set[str]:
        """The ids of ``job_ids`` still in the queue or running now."""
        with self._q.mutex:
            waiting = {item.job_id for item in self._q.queue}
        return {i for i in job_ids if i in waiting or i == self._running}

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="pingan-worker", daemon=True)
            self._thread.start()

    def run_pending(self) -> int:
        """Run everything queued now, in this thread (tests, CLI), urgent first."""
        n = 0
        while True:
            try:
                item = self._q.get_nowait()
            except _queue.Empty:
                return n
            self._execute(item.job_id, *item)
            n += 1

    def _run(self) -> None:
        while True:
            item = self._q.get()
            self._execute(item.job_id, *item)

    def _execute(self, job_id: str | None, path: str, kwargs: dict) -> None:
        self._running = job_id
        try:
            for attempt in range(1, MAX_ATTEMPTS + 1):
                try:
                    resolve(path)(**kwargs)
                    return
                except Exception as exc:  # noqa: BLE001 — a job failing must not kill the worker
                    log.exception("job %s failed (attempt %d/%d)", path, attempt, MAX_ATTEMPTS)
                    if attempt == MAX_ATTEMPTS:
                        self.failed.append((path, kwargs, repr(exc)))
        finally:
            self._running = None


class RedisQueue:
    def __init__(self, url: str) -> None:
        from redis import Redis
        from rq import Queue
        self.redis = Redis.from_url(url)
        self.urgent = Queue(URGENT, connection=self.redis)
        self.bulk = Queue(BULK, connection=self.redis)
        self.queues = [self.urgent, self.bulk]   # in the order a worker takes from them
        self.rq = self.urgent

    def claim_many(self, claims: list[tuple[str, int]]) -> list[bool]:
        """For each (key, ttl): whether this call took the key — in one round trip to Redis (the
        scheduler claims every county's every job each tick)."""
        with self.redis.pipeline(transaction=False) as p:
            for key, ttl in claims:
                p.set(f"pingan:claim:{key}", "1", nx=True, ex=ttl)
            return [bool(taken) for taken in p.execute()]

    def release(self, keys: list[str]) -> None:
        """Give back claims (their jobs could not be queued)."""
        if keys:
            self.redis.delete(*(f"pingan:claim:{key}" for key in keys))

    def enqueue(self, path: str, job_id: str | None = None, job_timeout: int | None = None,
                retry: bool = True, bulk: bool = False, replace: bool = False, **kwargs) -> None:
        """``job_timeout`` in seconds (rq's default 180 s otherwise); ``retry=False`` for jobs
        that record their own failure (a long ledger job must not start over by itself);
        ``bulk`` for long work that may wait behind urgent jobs; ``replace`` drops an earlier
        job of the same ``job_id`` first (finished, failed or lost: ask :meth:`active` first)."""
        from rq import Retry
        if job_id is not None and replace:
            self._forget(job_id)
        (self.bulk if bulk else self.urgent).enqueue(
            path, kwargs=kwargs, job_id=job_id, job_timeout=job_timeout,
            retry=Retry(max=MAX_ATTEMPTS - 1, interval=[10, 60]) if retry else None,
            failure_ttl=7 * 24 * 3600)

    def enqueue_many(self, items: list[tuple[str, str | None, bool, dict]]) -> None:
        """Queue (path, job_id, bulk, kwargs) jobs, retried as :meth:`enqueue`'s, in one round trip."""
        from rq import Retry
        with self.redis.pipeline() as p:
            for queue, bulk in ((self.urgent, False), (self.bulk, True)):
                datas = [queue.prepare_data(path, kwargs=kwargs, job_id=job_id, failure_ttl=7 * 24 * 3600,
                                            retry=Retry(max=MAX_ATTEMPTS - 1, interval=[10, 60]))
                         for path, job_id, b, kwargs in items if b == bulk]
                if datas:
                    queue.enqueue_many(datas, pipeline=p)
            p.execute()

    def _forget(self, job_id: str) -> None:
        from rq.exceptions import NoSuchJobError
        from rq.job import Job
        try:
            Job.fetch(job_id, connection=self.redis).delete()
        except NoSuchJobError:
            pass

    def active(self, job_ids: list[str], started_within: float) -> set[str]:
        """The ids of ``job_ids`` still waiting in a queue (queued, deferred, or scheduled for
        a retry) or started less than ``started_within`` seconds ago — two pipelines.

        A status alone is not enough: a worker killed while it held a job leaves the job's hash
        saying ``queued`` after rq's clean-up has taken it out of every queue (found by
        bench/faults.py); such a job waits nowhere, so a queued or scheduled job counts only
        if it is really in its queue's list or its scheduled registry."""
        from rq.job import Job
        from rq.utils import utcparse
        if not job_ids:
            return set()
        with self.redis.pipeline(transaction=False) as p:
            for i in job_ids:
                p.hmget(Job.key_for(i), "status", "started_at", "origin")
            rows = p.execute()
        since = time.time() - started_within
        out, check = set(), []
        for job_id, (status, started, origin) in zip(job_ids, rows):
            status = status.decode() if status else None
            if status in ("queued", "scheduled") and origin:
                check.append((job_id, status, origin.decode()))
            elif status in _WAITING:
                out.add(job_id)
            elif status == "started" and started and utcparse(started.decode()).timestamp() > since:
                out.add(job_id)
        if check:
            with self.redis.pipeline(transaction=False) as p:
                for job_id, status, origin in check:
                    if status == "queued":
                        p.lpos(f"rq:queue:{origin}", job_id)
                    else:
                        p.zscore(f"rq:scheduled:{origin}", job_id)
                found = p.execute()
            out.update(job_id for (job_id, _, _), where in zip(check, found) if where is not None)
        return out


_queues: dict[str, InProcessQueue | RedisQueue] = {}


def queue(config: Config | None = None) -> InProcessQueue | RedisQueue:
    """The queue of this process (one per Redis URL, or the one in-process queue)."""
    if config is None:
        config = running().config
    key = config.redis_url or "inprocess"
    if key not in _queues:
        _queues[key] = RedisQueue(config.redis_url) if config.redis_url else InProcessQueue()
    return _queues[key]


def queue_health(config: Config) -> str:
    if not config.redis_url:
        return "ok"
    try:
        queue(config).redis.ping()  # type: ignore[union-attr]
        return "ok"
    except Exception as exc:  # noqa: BLE001
        return f"error: {type(exc).__name__}"


# --- the scheduler ------------------------------------------------------------------------

# Periodic jobs of the core itself, run for every active tenant: (name, dotted path, minutes).
# Those named in BULK_CORE_JOBS are long work and go to the bulk queue; the others are urgent.
CORE_JOBS: tuple[tuple[str, str, int], ...] = (
    ("sweep", "core.cases.sweep.sweep", 5),
    # provisional limits counted again once their year is known (an upgraded chinese-calendar)
    ("recompute", "core.cases.recompute.scheduled", 60),
    ("idempotency_purge", "core.idempotency.purge", 60),  # keys older than PINGAN_IDEMPOTENCY_HOURS
    # unsigned responsibility letters, from each kind's configured day of the year (docs/letters.md)
    ("letter_reminders", "core.letters.remind", 60),
)
BULK_CORE_JOBS = frozenset({"recompute"})


def tick(state, now: float | None = None) -> int:
    """Enqueue every due (plugin job, tenant, slot) not enqueued yet. Returns how many.

    A tick covers every county's every job (a province: hundreds of counties, a tick a minute):
    the claims go to the queue in one round trip and the claimed jobs in another. Which modules
    a county has on is read without validating their settings: :func:`run_scheduled` checks that
    again when the job runs."""
    from core.models import Tenant, TenantPlugin
    now = time.time() if now is None else now
    q = queue(state.config)
    with state.db.Session() as s:
        tenants = s.scalars(select(Tenant.id).where(Tenant.status == "active")).all()
    due: list[tuple[str, int, bool, dict]] = []   # (claim key, its ttl, bulk, the job's kwargs)
    for tenant_id in tenants:
        for name, _path, minutes in CORE_JOBS:
            due.append((f"sched:core:{name}:{tenant_id}:{int(now // (minutes * 60))}", minutes * 60 * 2,
                        name in BULK_CORE_JOBS, {"plugin": "core", "job": name, "tenant_id": tenant_id}))
        try:
            with state.db.transaction(tenant_id) as s:
                enabled = s.scalars(select(TenantPlugin.plugin).where(TenantPlugin.enabled.is_(True))).all()
        except Exception:  # noqa: BLE001 — as PluginHost.enabled: switches that cannot be read are off
            log.exception("could not read enabled plugins of tenant %s; no module job queued", tenant_id)
            enabled = []
        for plugin in sorted(set(enabled) & set(state.plugins.plugins)):
            for job in state.plugins.plugins[plugin].jobs:
                due.append((f"sched:{plugin}:{job.name}:{tenant_id}:{int(now // (job.every_minutes * 60))}",
                            job.every_minutes * 60 * 2, False, {"plugin": plugin, "job": job.name, "tenant_id": tenant_id}))
    claimed = q.claim_many([(key, ttl) for key, ttl, _, _ in due])
    taken = [(key, bulk, kwargs) for (key, _, bulk, kwargs), ok in zip(due, claimed) if ok]
    try:
        q.enqueue_many([("core.jobs.run_scheduled", key.replace(":", "-"), bulk, kwargs) for key, bulk, kwargs in taken])
    except Exception:
        q.release([key for key, _, _ in taken])   # nothing queued: the next tick claims them again
        raise
    return len(taken)


def run_scheduled(plugin: str, job: str, tenant_id: int) -> None:
    """Run one plugin's periodic job for one tenant, if the plugin is still enabled there."""
    state = worker_state()
    from core.db import bind_tenant
    if plugin == "core":
        path = next(p for n, p, _ in CORE_JOBS if n == job)
        with bind_tenant(tenant_id), acting_as(Actor(None, f"system:core.{job}")):
            resolve(path)(tenant_id)
        return
    with state.db.transaction(tenant_id) as s:
        if plugin not in state.plugins.enabled(s, tenant_id):
            log.info("skip %s.%s for tenant %s: plugin not enabled", plugin, job, tenant_id)
            return
    func = next(j.func for j in state.plugins.plugins[plugin].jobs if j.name == job)
    with bind_tenant(tenant_id), acting_as(Actor(None, f"system:{plugin}.{job}")):
        func(tenant_id)


@contextlib.contextmanager
def job_transaction() -> Iterator:
    """A session in one transaction on the worker's database, for the tenant the job runs for.

    Scheduled job functions receive only ``tenant_id`` and run with it bound (see
    :func:`run_scheduled`); this is how they read and write that tenant's data::

        with sdk.job_transaction() as s:
            s.add(VisitsTally(greetings=n))
    """
    from core.db import current_tenant_id
    with worker_state().db.transaction(current_tenant_id()) as s:
        yield s


def _beat(state, stop: threading.Event | None = None) -> None:
    stop = stop or threading.Event()
    while not stop.is_set():
        try:
            tick(state)
        except Exception:  # noqa: BLE001 — the next tick tries again
            log.exception("scheduler tick failed")
        stop.wait(TICK_SECONDS)


def start_inprocess(state) -> None:
    """Embedded default: a worker thread plus a scheduler thread in the web process."""
    bind_state(state)
    q = queue(state.config)
    if isinstance(q, InProcessQueue):
        q.start()

    threading.Thread(target=_beat, args=(state,), name="pingan-scheduler", daemon=True).start()


def _rq_scheduler(q: RedisQueue, stop: threading.Event, interval: float = SCHEDULER_INTERVAL) -> None:
    """rq's scheduler (jobs waiting for a retry) as a thread of the worker, not rq's forked
    process: it dies with the worker, even on ``kill -9``, and its lock (rq's TTL: interval +
    60 s) then runs out and another worker's thread takes it over. Never raises: a Redis
    outage is logged and tried again."""
    from rq.scheduler import RQScheduler
    scheduler = RQScheduler(q.queues, connection=q.redis, interval=interval)
    wanted, born = {x.name for x in q.queues}, False
    while not stop.wait(interval):
        try:
            if not born:
                scheduler.register_birth()  # rq's record of a live scheduler (its metadata hash)
                born = True
            if scheduler.acquired_locks != wanted:
                scheduler.acquire_locks()   # takes what no live scheduler holds; refreshes its own
            else:
                scheduler.heartbeat()       # refreshes the locks; drops one taken over
            if scheduler.acquired_locks:
                scheduler.enqueue_scheduled_jobs()
        except Exception as exc:  # noqa: BLE001 — Redis down: try again on the next pass
            log.warning("rq scheduler pass failed: %s", exc)
    try:
        scheduler.release_locks()
        scheduler.register_death()
    except Exception:  # noqa: BLE001 — Redis down: the lock runs out by itself
        pass


STOP_GRACE_SECONDS = 30.0  # a worker's default; ``pingan worker`` uses PINGAN_SHUTDOWN_GRACE_SECONDS


def worker_class(base: type | None = None) -> type:
    """rq's ``Worker`` (or ``base``, e.g. rq's ``SimpleWorker`` for tests) that stops fast."""
    from rq import Worker

    class PinganWorker(base or Worker):
        """rq's worker, stopping within a bound on the first SIGTERM, and within a second or two
        after a Redis outage too.

        **The first SIGTERM (or SIGINT) is bounded.** rq's warm shutdown waits for the running
        job without a limit: a long job (an export, a stuck horse) kept the worker up as if the
        signal had been ignored (issue 24, item 7), until a second signal killed the job as a
        failure. Here the job gets ``stop_grace`` seconds to finish; then its work horse is
        killed and the job goes back to the front of its queue — not a failed attempt, its
        database effects rolled back with the horse — for the next worker (each job acts once
        however often it is delivered: ``core.outbox``, ``core.ledgers``). A second signal is
        still rq's cold shutdown: the horse killed at once, its job left to rq's clean-up of
        abandoned jobs and to ours (``outbox.redispatch``, the leases of ``core.ledgers``).

        **Leaving after an outage.** rq's ``unsubscribe`` (on the way out) stops its pub/sub
        thread and waits for it without a limit; that thread waits in redis-py's
        ``get_message(timeout=60)``, which, while its connection is not subscribed — after an
        outage nothing subscribes it again, and the UNSUBSCRIBE reply itself clears the flag —
        sleeps the whole 60 s. The thread is a daemon: give it a second, then go.
        """

        stop_grace: float = STOP_GRACE_SECONDS
        _give_up: threading.Timer | None = None
        _requeue_id: str | None = None
        _running_id: str | None = None

        def execute_job(self, job, queue) -> None:
            self._running_id = job.id
            try:
                super().execute_job(job, queue)
            finally:
                self._running_id = None

        def request_stop(self, signum, frame) -> None:
            """rq's warm shutdown (idle: stop now; busy: after the job), the wait bounded."""
            super().request_stop(signum, frame)  # raises StopRequested when idle
            job_id = self._running_id
            if job_id and self._give_up is None:  # (its horse may be forking still)
                log.info("stopping: job %s has %.0f s to finish, then goes back to its queue", job_id, self.stop_grace)
                self._give_up = threading.Timer(self.stop_grace, self._requeue_running, args=(job_id,))
                self._give_up.daemon = True
                self._give_up.start()

        def _requeue_running(self, job_id: str) -> None:
            """The grace is over: kill the work horse; its job is queued again (below)."""
            if self.horse_pid and self._running_id == job_id:
                log.warning("job %s still running %.0f s after the stop signal: queued again", job_id, self.stop_grace)
                self._requeue_id = job_id
                self.kill_horse()

        def handle_job_failure(self, job, queue, started_job_registry=None, exc_string="", execution=None) -> None:
            if job.id != self._requeue_id:
                return super().handle_job_failure(job, queue, started_job_registry, exc_string, execution)
            self._requeue_id = None
            with self.connection.pipeline() as p:   # out of the started registry …
                self.cleanup_execution(job, pipeline=p, execution=execution)
                p.execute()
            queue.enqueue_job(job, at_front=True)    # … and first in its queue (status: queued)
            self.log.info("Worker %s: job %s queued again (stopped before it ended)", self.name, job.id)

        def teardown(self) -> None:
            if self._give_up is not None:
                self._give_up.cancel()
            super().teardown()

        def unsubscribe(self) -> None:
            thread = self.pubsub_thread
            if not thread:
                return
            try:
                self.pubsub.unsubscribe()
            except Exception:  # noqa: BLE001 — Redis down: nothing to unsubscribe from
                pass
            try:
                thread.stop(timeout=1)
            except TypeError:  # redis-py < 6: stop() only clears the flag
                thread.stop()
                thread.join(1)
            if not thread.is_alive():
                self.pubsub.close()

    return PinganWorker


def worker_queues(q: RedisQueue, which: str = "all") -> list:
    """The rq queues a ``pingan worker`` takes from, urgent first (``all``), or urgent alone."""
    return [q.urgent] if which == "urgent" else list(q.queues)


def serve_jobs(state, burst: bool = False, which: str = "all") -> None:
    """``pingan worker``: an rq worker taking urgent jobs before bulk ones, with rq's
    scheduler and our periodic tick as threads of this process (they stop with it). SIGTERM
    gives the running job ``PINGAN_SHUTDOWN_GRACE_SECONDS``, then queues it again (above)."""
    import os
    bind_state(state)
    # rq runs each job in a forked work horse: it must not share the parent's pooled
    # database connections (SQLAlchemy's recipe: dispose without closing, in the child).
    os.register_at_fork(after_in_child=lambda: state.db.engine.dispose(close=False))
    # Configure the mappers now, before the scheduler threads query: a horse forked while one
    # of them held SQLAlchemy's configure lock (its first query) inherited the lock held and
    # waited on it until rq's job timeout (found by bench/faults.py).
    from sqlalchemy.orm import configure_mappers
    configure_mappers()
    from core.runtime import settle_heap
    settle_heap()
    q = queue(state.config)
    if not isinstance(q, RedisQueue):
        raise SystemExit("pingan worker needs PINGAN_REDIS_URL; the embedded default runs jobs in `pingan serve`")
    worker = worker_class()(worker_queues(q, which), connection=q.redis)
    worker.stop_grace = float(state.config.shutdown_grace_seconds)
    if burst:
        tick(state)
        from rq.scheduler import RQScheduler
        scheduler = RQScheduler(q.queues, connection=q.redis)
        if scheduler.acquire_locks():
            try:
                scheduler.enqueue_scheduled_jobs()
            finally:
                scheduler.release_locks()
        worker.work(burst=True)
        return
    stop = threading.Event()
    threads = [threading.Thread(target=_beat, args=(state, stop), name="pingan-scheduler", daemon=True),
               threading.Thread(target=_rq_scheduler, args=(q, stop), name="rq-scheduler", daemon=True)]
    for t in threads:
        t.start()
    try:
        worker.work()
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=2)
