"""Background jobs: rq on Redis in production, an in-process worker thread embedded.

Job functions are plain importable functions that take plain values (ids, never objects
or personal data) and are named by dotted path, so the same call works on both queues::

    jobs.queue().enqueue("plugins.petition.jobs.send_reminder", tenant_id=3, case_id=42)

Periodic jobs come from plugins (``pingan_scheduled_jobs``). Every ``TICK_SECONDS`` the
scheduler enqueues each job once per slot (``every_minutes``) for every tenant that has the
plugin enabled; a slot is claimed atomically (Redis ``SET NX`` or the in-process set) so
two schedulers never enqueue it twice. The job runs with its tenant bound and checks again
that the plugin is still enabled; if not, it skips.
"""
from __future__ import annotations

import contextlib
import importlib
import logging
import queue as _queue
import threading
import time
from collections.abc import Callable, Iterator

from sqlalchemy import select

from core.config import Config
from core.context import Actor, acting_as

log = logging.getLogger("pingan.jobs")
TICK_SECONDS = 30
MAX_ATTEMPTS = 3


def resolve(path: str) -> Callable:
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


class InProcessQueue:
    """One daemon thread running jobs in order; for the embedded default and tests."""

    def __init__(self) -> None:
        self._q: _queue.Queue = _queue.Queue()
        self._claimed: dict[str, float] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.failed: list[tuple[str, dict, str]] = []

    def claim(self, key: str, ttl: int) -> bool:
        now = time.monotonic()
        with self._lock:
            self._claimed = {k: v for k, v in self._claimed.items() if v > now}
            if key in self._claimed:
                return False
            self._claimed[key] = now + ttl
            return True

    def enqueue(self, path: str, job_id: str | None = None, job_timeout: int | None = None,
                retry: bool = True, **kwargs) -> None:
        self._q.put((path, kwargs))

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="pingan-worker", daemon=True)
            self._thread.start()

    def run_pending(self) -> int:
        """Run everything queued now, in this thread (tests, CLI)."""
        n = 0
        while True:
            try:
                path, kwargs = self._q.get_nowait()
            except _queue.Empty:
                return n
            self._execute(path, kwargs)
            n += 1

    def _run(self) -> None:
        while True:
            path, kwargs = self._q.get()
            self._execute(path, kwargs)

    def _execute(self, path: str, kwargs: dict) -> None:
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                resolve(path)(**kwargs)
                return
            except Exception as exc:  # noqa: BLE001 — a job failing must not kill the worker
                log.exception("job %s failed (attempt %d/%d)", path, attempt, MAX_ATTEMPTS)
                if attempt == MAX_ATTEMPTS:
                    self.failed.append((path, kwargs, repr(exc)))


class RedisQueue:
    def __init__(self, url: str, name: str = "pingan") -> None:
        from redis import Redis
        from rq import Queue
        self.redis = Redis.from_url(url)
        self.rq = Queue(name, connection=self.redis)

    def claim(self, key: str, ttl: int) -> bool:
        return bool(self.redis.set(f"pingan:claim:{key}", "1", nx=True, ex=ttl))

    def enqueue(self, path: str, job_id: str | None = None, job_timeout: int | None = None,
                retry: bool = True, **kwargs) -> None:
        """``job_timeout`` in seconds (rq's default 180 s otherwise); ``retry=False`` for jobs
        that record their own failure (a long ledger job must not start over by itself)."""
        from rq import Retry
        self.rq.enqueue(path, kwargs=kwargs, job_id=job_id, job_timeout=job_timeout,
                        retry=Retry(max=MAX_ATTEMPTS - 1, interval=[10, 60]) if retry else None,
                        failure_ttl=7 * 24 * 3600)


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

_state = None  # the worker's Pingan (config, db, plugins), set by ``serve_jobs``


def bind_state(state) -> None:
    global _state
    _state = state


def running(optional: bool = False):
    """The Pingan (config, db, plugins) this code runs in: the web app's inside a request or
    app context, else the worker's bound state; None when ``optional`` and there is neither."""
    from flask import has_app_context
    if has_app_context():
        from core.app import pingan
        return pingan()
    if _state is None and not optional:
        raise RuntimeError("neither an app context nor a bound worker state (core.jobs.bind_state)")
    return _state


def worker_state():
    """The running Pingan (config, db, plugins) of this worker or embedded web process."""
    if _state is None:
        raise RuntimeError("no worker state bound (core.jobs.bind_state)")
    return _state


# Periodic jobs of the core itself, run for every active tenant: (name, dotted path, minutes).
CORE_JOBS: tuple[tuple[str, str, int], ...] = (
    ("sweep", "core.cases.sweep.sweep", 5),
    # provisional limits counted again once their year is known (an upgraded chinese-calendar)
    ("recompute", "core.cases.recompute.scheduled", 60),
)


def tick(state, now: float | None = None) -> int:
    """Enqueue every due (plugin job, tenant, slot) not enqueued yet. Returns how many."""
    from core.models import Tenant
    now = time.time() if now is None else now
    q = queue(state.config)
    count = 0
    with state.db.Session() as s:
        tenants = s.scalars(select(Tenant.id).where(Tenant.status == "active")).all()
    for tenant_id in tenants:
        for name, _path, minutes in CORE_JOBS:
            slot = int(now // (minutes * 60))
            key = f"sched:core:{name}:{tenant_id}:{slot}"
            if q.claim(key, ttl=minutes * 60 * 2):
                q.enqueue("core.jobs.run_scheduled", job_id=key.replace(":", "-"),
                          plugin="core", job=name, tenant_id=tenant_id)
                count += 1
        with state.db.transaction(tenant_id) as s:
            enabled = state.plugins.enabled(s, tenant_id)
        for plugin in enabled:
            for job in state.plugins.plugins[plugin].jobs:
                slot = int(now // (job.every_minutes * 60))
                key = f"sched:{plugin}:{job.name}:{tenant_id}:{slot}"
                if q.claim(key, ttl=job.every_minutes * 60 * 2):
                    q.enqueue("core.jobs.run_scheduled", job_id=key.replace(":", "-"),
                              plugin=plugin, job=job.name, tenant_id=tenant_id)
                    count += 1
    return count


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
            s.add(HelloTally(greetings=n))
    """
    from core.db import current_tenant_id
    with worker_state().db.transaction(current_tenant_id()) as s:
        yield s


def _beat(state) -> None:
    while True:
        try:
            tick(state)
        except Exception:  # noqa: BLE001 — the next tick tries again
            log.exception("scheduler tick failed")
        time.sleep(TICK_SECONDS)


def start_inprocess(state) -> None:
    """Embedded default: a worker thread plus a scheduler thread in the web process."""
    bind_state(state)
    q = queue(state.config)
    if isinstance(q, InProcessQueue):
        q.start()

    threading.Thread(target=_beat, args=(state,), name="pingan-scheduler", daemon=True).start()


def serve_jobs(state, burst: bool = False) -> None:
    """``pingan worker``: an rq worker with its scheduler, plus our periodic tick."""
    import os
    from rq import Worker
    bind_state(state)
    # rq runs each job in a forked work horse: it must not share the parent's pooled
    # database connections (SQLAlchemy's recipe: dispose without closing, in the child).
    os.register_at_fork(after_in_child=lambda: state.db.engine.dispose(close=False))
    q = queue(state.config)
    if not isinstance(q, RedisQueue):
        raise SystemExit("pingan worker needs PINGAN_REDIS_URL; the embedded default runs jobs in `pingan serve`")

    if not burst:
        threading.Thread(target=_beat, args=(state,), name="pingan-scheduler", daemon=True).start()
    else:
        tick(state)
    Worker([q.rq], connection=q.redis).work(burst=burst, with_scheduler=True)
