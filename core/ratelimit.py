"""Rate limits for public endpoints (a petitioner's status page): at most ``limit`` hits per
``key`` in a fixed window of ``window`` seconds. Also the log-in's brakes (``core.auth``):
:func:`recent` counts failures per address over every county (the key names no county), and
:func:`backoff` / :func:`note_failure` / :func:`clear` keep a progressive delay per account name.

Counted in Redis when the platform has one (``PINGAN_REDIS_URL``), so every web process
shares the count; in the embedded default (one process) counted in memory. A limit is a
brake on guessing, not an accounting record: a Redis restart simply starts the windows
afresh.

No page depends on Redis being up (issue 25): a count that cannot reach Redis — refused,
timed out after ``REDIS_TIMEOUT_SECONDS``, or answering an error — is kept in this process's
memory instead, as in the embedded default, so each web process enforces the limit on its own
share of the traffic. The outage is logged once when it starts and once when it ends (never a
key: keys hold addresses and account names); while it lasts, one call every
``REDIS_RETRY_SECONDS`` tries Redis again and the others do not wait for it. The client is
this module's own (short timeouts, one retry), not the job queue's.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from core.errors import TooManyRequests
from core.runtime import pingan

log = logging.getLogger("pingan.ratelimit")
T = TypeVar("T")

REDIS_TIMEOUT_SECONDS = 0.5  # connect and each reply: a hung Redis must not hold up a request
REDIS_RETRY_SECONDS = 5.0    # during an outage, how often one call tries Redis again

_lock = threading.Lock()
_memory: dict[str, tuple[int, int]] = {}  # key → (window number, hits)


class _Redis:
    """This process's counting connection to one Redis, and whether it is in an outage."""

    def __init__(self, url: str) -> None:
        from redis import Redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry
        # one immediate retry replaces a pooled connection that a Redis restart has closed
        self.client = Redis.from_url(url, socket_timeout=REDIS_TIMEOUT_SECONDS,
                                     socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
                                     retry=Retry(NoBackoff(), 1))
        self.down_since: float | None = None
        self.next_try = 0.0
        self.lock = threading.Lock()

    def usable(self) -> bool:
        """True unless Redis is known down; then True for one caller every ``REDIS_RETRY_SECONDS``."""
        if self.down_since is None:
            return True
        now = time.monotonic()
        with self.lock:
            if now < self.next_try:
                return False
            self.next_try = now + REDIS_RETRY_SECONDS
            return True

    def failed(self, exc: Exception) -> None:
        with self.lock:
            self.next_try = time.monotonic() + REDIS_RETRY_SECONDS
            if self.down_since is not None:
                return
            self.down_since = time.monotonic()
        log.warning("Redis unreachable (%s): rate limits and log-in brakes count in this process "
                    "until it is back", type(exc).__name__)

    def succeeded(self) -> None:
        if self.down_since is None:
            return
        with self.lock:
            if self.down_since is None:
                return
            outage, self.down_since = time.monotonic() - self.down_since, None
        log.warning("Redis reachable again after %.0f s: rate limits and log-in brakes count in Redis again",
                    outage)


_connections: dict[str, _Redis] = {}


def _connection() -> _Redis | None:
    """The counting connection of this process, None without Redis (the embedded default)."""
    url = pingan().config.redis_url
    if not url:
        return None
    if url not in _connections:
        with _lock:
            _connections.setdefault(url, _Redis(url))
    return _connections[url]


def _counted(in_redis: Callable, in_memory: Callable[[], T]) -> T:
    """``in_redis(client)`` when Redis is reachable, else ``in_memory()``."""
    from redis.exceptions import RedisError
    conn = _connection()
    if conn is not None and conn.usable():
        try:
            result = in_redis(conn.client)
        except RedisError as exc:
            conn.failed(exc)
        else:
            conn.succeeded()
            return result
    return in_memory()


def hit(key: str, limit: int, window: int = 60) -> None:
    """Count one hit on ``key``; 429 ``too_many_requests`` once it exceeds ``limit`` in the window."""
    slot = int(time.time()) // window

    def in_redis(redis) -> int:
        name = f"pingan:rate:{key}:{slot}"
        pipe = redis.pipeline()
        pipe.incr(name)
        pipe.expire(name, window + 1)
        return int(pipe.execute()[0])

    def in_memory() -> int:
        with _lock:
            if len(_memory) > 100_000:  # drop past windows rather than grow without bound
                for k in [k for k, (s, _) in _memory.items() if s != slot]:
                    del _memory[k]
            s, n = _memory.get(key, (slot, 0))
            hits = (n if s == slot else 0) + 1
            _memory[key] = (slot, hits)
            return hits

    if _counted(in_redis, in_memory) > limit:
        raise TooManyRequests("too_many_requests", f"查询过于频繁，请 {window} 秒后再试")


# --- counters over the last window, and progressive delays (log-in) -------------------------

_recent: dict[str, tuple[int, int, int]] = {}   # key → (window number, hits in it, hits in the one before)
_backoff: dict[str, tuple[int, float]] = {}      # key → (failures, time of the last one)


def recent(key: str, window: int, add: int = 0) -> int:
    """Hits on ``key`` in this fixed window and the one before — every hit of the last
    ``window`` seconds counts, and none older than twice that — after adding ``add``."""
    slot = int(time.time()) // window

    def in_redis(redis) -> int:
        name = f"pingan:recent:{key}"
        pipe = redis.pipeline()
        pipe.incrby(f"{name}:{slot}", add)
        pipe.expire(f"{name}:{slot}", 2 * window + 1)
        pipe.get(f"{name}:{slot - 1}")
        hits, _, before = pipe.execute()
        return int(hits) + int(before or 0)

    def in_memory() -> int:
        with _lock:
            if len(_recent) > 100_000:
                for k in [k for k, v in _recent.items() if v[0] < slot - 1]:
                    del _recent[k]
            s, hits, before = _recent.get(key, (slot, 0, 0))
            if s != slot:
                hits, before = 0, (hits if s == slot - 1 else 0)
            _recent[key] = (slot, hits + add, before)
            return hits + add + before

    return _counted(in_redis, in_memory)


BACKOFF_TTL = 24 * 3600  # a failure count is forgotten a day after its last failure


def backoff(key: str, free: int, cap: int) -> int:
    """Seconds still to wait before the next try on ``key``: none for the first ``free``
    failures, then 1 s after the last failure, doubling with each further one, at most ``cap``."""
    def in_redis(redis) -> tuple[int, float]:
        raw = redis.hmget(f"pingan:backoff:{key}", "n", "last")
        return int(raw[0] or 0), float(raw[1] or 0)

    def in_memory() -> tuple[int, float]:
        with _lock:
            n, last = _backoff.get(key, (0, 0.0))
        return (0 if last < time.time() - BACKOFF_TTL else n), last

    n, last = _counted(in_redis, in_memory)
    if n < free:
        return 0
    wait = min(2 ** min(n - free, 30), cap)
    return max(0, int(last + wait - time.time() + 0.999))


def note_failure(key: str) -> None:
    """One more failure on ``key``; the count is forgotten ``BACKOFF_TTL`` after the last one."""
    now, ttl = time.time(), BACKOFF_TTL

    def in_redis(redis) -> None:
        name = f"pingan:backoff:{key}"
        pipe = redis.pipeline()
        pipe.hincrby(name, "n", 1)
        pipe.hset(name, "last", repr(now))
        pipe.expire(name, ttl)
        pipe.execute()

    def in_memory() -> None:
        with _lock:
            if len(_backoff) > 100_000:
                for k in [k for k, (_, at) in _backoff.items() if at < now - ttl]:
                    del _backoff[k]
            n, last = _backoff.get(key, (0, 0.0))
            _backoff[key] = ((n if last >= now - ttl else 0) + 1, now)

    _counted(in_redis, in_memory)


def clear(key: str) -> None:
    def in_memory() -> None:
        with _lock:
            _backoff.pop(key, None)

    _counted(lambda redis: redis.delete(f"pingan:backoff:{key}"), in_memory)
