"""Rate limits for public endpoints (a petitioner's status page): at most ``limit`` hits per
``key`` in a fixed window of ``window`` seconds. Also the log-in's brakes (``core.auth``):
:func:`recent` counts failures per address over every county (the key names no county), and
:func:`backoff` / :func:`note_failure` / :func:`clear` keep a progressive delay per account name.

Counted in Redis when the platform has one (``PINGAN_REDIS_URL``), so every web process
shares the count; in the embedded default (one process) counted in memory. A limit is a
brake on guessing, not an accounting record: a Redis restart simply starts the windows
afresh.
"""
from __future__ import annotations

import threading
import time

from core.errors import TooManyRequests

_lock = threading.Lock()
_memory: dict[str, tuple[int, int]] = {}  # key → (window number, hits)


def hit(key: str, limit: int, window: int = 60) -> None:
    """Count one hit on ``key``; 429 ``too_many_requests`` once it exceeds ``limit`` in the window."""
    from core.app import pingan
    slot = int(time.time()) // window
    url = pingan().config.redis_url
    if url:
        from core.jobs import queue
        redis = queue(pingan().config).redis
        name = f"pingan:rate:{key}:{slot}"
        pipe = redis.pipeline()
        pipe.incr(name)
        pipe.expire(name, window + 1)
        hits = int(pipe.execute()[0])
    else:
        with _lock:
            if len(_memory) > 100_000:  # drop past windows rather than grow without bound
                for k in [k for k, (s, _) in _memory.items() if s != slot]:
                    del _memory[k]
            s, n = _memory.get(key, (slot, 0))
            hits = (n if s == slot else 0) + 1
            _memory[key] = (slot, hits)
    if hits > limit:
        raise TooManyRequests("too_many_requests", f"查询过于频繁，请 {window} 秒后再试")


# --- counters over the last window, and progressive delays (log-in) -------------------------

_recent: dict[str, tuple[int, int, int]] = {}   # key → (window number, hits in it, hits in the one before)
_backoff: dict[str, tuple[int, float]] = {}      # key → (failures, time of the last one)


def _redis():
    from core.app import pingan
    config = pingan().config
    if not config.redis_url:
        return None
    from core.jobs import queue
    return queue(config).redis


def recent(key: str, window: int, add: int = 0) -> int:
    """Hits on ``key`` in this fixed window and the one before — every hit of the last
    ``window`` seconds counts, and none older than twice that — after adding ``add``."""
    slot = int(time.time()) // window
    redis = _redis()
    if redis is not None:
        name = f"pingan:recent:{key}"
        pipe = redis.pipeline()
        pipe.incrby(f"{name}:{slot}", add)
        pipe.expire(f"{name}:{slot}", 2 * window + 1)
        pipe.get(f"{name}:{slot - 1}")
        hits, _, before = pipe.execute()
        return int(hits) + int(before or 0)
    with _lock:
        if len(_recent) > 100_000:
            for k in [k for k, v in _recent.items() if v[0] < slot - 1]:
                del _recent[k]
        s, hits, before = _recent.get(key, (slot, 0, 0))
        if s != slot:
            hits, before = 0, (hits if s == slot - 1 else 0)
        _recent[key] = (slot, hits + add, before)
        return hits + add + before


BACKOFF_TTL = 24 * 3600  # a failure count is forgotten a day after its last failure


def backoff(key: str, free: int, cap: int) -> int:
    """Seconds still to wait before the next try on ``key``: none for the first ``free``
    failures, then 1 s after the last failure, doubling with each further one, at most ``cap``."""
    redis = _redis()
    if redis is not None:
        raw = redis.hmget(f"pingan:backoff:{key}", "n", "last")
        n, last = int(raw[0] or 0), float(raw[1] or 0)
    else:
        with _lock:
            n, last = _backoff.get(key, (0, 0.0))
        if last < time.time() - BACKOFF_TTL:
            n = 0
    if n < free:
        return 0
    wait = min(2 ** min(n - free, 30), cap)
    return max(0, int(last + wait - time.time() + 0.999))


def note_failure(key: str) -> None:
    """One more failure on ``key``; the count is forgotten ``BACKOFF_TTL`` after the last one."""
    now, ttl = time.time(), BACKOFF_TTL
    redis = _redis()
    if redis is not None:
        name = f"pingan:backoff:{key}"
        pipe = redis.pipeline()
        pipe.hincrby(name, "n", 1)
        pipe.hset(name, "last", repr(now))
        pipe.expire(name, ttl)
        pipe.execute()
        return
    with _lock:
        if len(_backoff) > 100_000:
            for k in [k for k, (_, at) in _backoff.items() if at < now - ttl]:
                del _backoff[k]
        n, last = _backoff.get(key, (0, 0.0))
        _backoff[key] = ((n if last >= now - ttl else 0) + 1, now)


def clear(key: str) -> None:
    redis = _redis()
    if redis is not None:
        redis.delete(f"pingan:backoff:{key}")
    else:
        with _lock:
            _backoff.pop(key, None)
