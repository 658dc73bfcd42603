"""Rate limits for public endpoints (a petitioner's status page): at most ``limit`` hits per
``key`` in a fixed window of ``window`` seconds.

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
