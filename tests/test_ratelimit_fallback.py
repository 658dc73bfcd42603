"""Issue 25, item 4: no public page depends on Redis being up.

The rate limiter of the petitioner's status page and the log-in's brakes counted in Redis
unguarded: with Redis down the status page and the log-in answered 500. A limiter that cannot
reach Redis now counts in this process (the limits still hold), logs the outage once, never
waits long for a hung Redis, and counts in Redis again once it is back.

Redis is "down" here as a closed port, or a throwaway ``redis-server`` on a free port that
the test starts, stops (SIGSTOP: hung) and kills — never the machine's Redis.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import signal
import socket
import subprocess
import time

import pytest
import redis

from core import ratelimit
from core.app import create_app
from tests.conftest import DEMO_PASSWORD, Client, web_login

REDIS_SERVER = shutil.which("redis-server") or ("/usr/bin/redis-server" if os.access("/usr/bin/redis-server", os.X_OK)
                                                 else None)
DOWN = "Redis unreachable"
BACK = "Redis reachable again"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _app(config, redis_url: str, **overrides):
    application = create_app(dataclasses.replace(config, redis_url=redis_url, **overrides))
    application.testing = True
    return application


def _outage_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "pingan.ratelimit"]


def _status_limit(login, tenant, limit: int) -> None:
    r = login(tenant, "county.admin").put("/api/modules/petition", json={
        "enabled": True, "settings": {"status_rate_limit": limit}})
    assert r.status_code == 200, r.get_json()


def _status(c: Client, ip: str):
    return c.post("/api/petition/public/status", json={"code": "NOPE-NOPE-NOPE"}, environ_base={"REMOTE_ADDR": ip})


def _status_page(c: Client, ip: str):
    return c.post("/petition/status", data={"code": "NOPE-NOPE-NOPE"}, environ_base={"REMOTE_ADDR": ip})


def test_the_public_status_page_answers_and_limits_with_redis_down(config, app, fresh_tenant, login, caplog):
    _status_limit(login, fresh_tenant, 3)
    down = _app(config, f"redis://127.0.0.1:{_free_port()}/0")  # nothing listens there
    c = Client(down, fresh_tenant.host)
    caplog.set_level(logging.INFO, logger="pingan")
    started = time.monotonic()
    assert c.get("/petition/status").status_code == 200
    # the per-address limit still holds, counted in this process: 3 lookups, then 429
    assert [_status(c, "198.51.100.7").status_code for _ in range(4)] == [404, 404, 404, 429]
    assert [_status_page(c, "198.51.100.8").status_code for _ in range(4)] == [404, 404, 404, 429]
    assert _status(c, "198.51.100.9").status_code == 404  # another address has its own count
    assert time.monotonic() - started < 5
    lines = _outage_lines(caplog)
    assert len(lines) == 1 and lines[0].startswith(DOWN), lines  # once per outage, not per request
    assert "198.51.100" not in lines[0] and "petition" not in lines[0]  # no key, no address


def test_log_in_works_and_its_brakes_hold_with_redis_down(config, app, fresh_tenant, caplog):
    down = _app(config, f"redis://127.0.0.1:{_free_port()}/0", login_ip_limit=3)
    caplog.set_level(logging.INFO, logger="pingan")
    c, r = web_login(down, fresh_tenant, "county.admin", DEMO_PASSWORD, ip="198.51.100.20")
    assert r.status_code == 302, r.get_data(as_text=True)[:300]
    assert c.get("/api/me").get_json()["username"] == "county.admin"
    # the per-address brake, counted in this process: 3 failures, then that address is refused
    codes = [web_login(down, fresh_tenant, "nobody.here", "wrong-password", ip="198.51.100.21")[1].status_code
             for _ in range(4)]
    assert codes == [401, 401, 401, 429], codes
    _, r = web_login(down, fresh_tenant, "county.admin", DEMO_PASSWORD, ip="198.51.100.22")
    assert r.status_code == 302
    lines = _outage_lines(caplog)
    assert len(lines) == 1 and lines[0].startswith(DOWN), lines
    assert "nobody" not in lines[0] and "198.51.100" not in lines[0]


class ThrowawayRedis:
    """A redis-server of the test's own on a free port (started, hung, killed by the test)."""

    def __init__(self, folder) -> None:
        self.port, self.folder, self.proc = _free_port(), folder, None

    def start(self) -> None:
        self.proc = subprocess.Popen([REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--dir", str(self.folder)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                redis.Redis(port=self.port, socket_timeout=0.2).ping()
                return
            except redis.RedisError:
                time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None


@pytest.fixture
def throwaway_redis(tmp_path):
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed")
    server = ThrowawayRedis(tmp_path)
    yield server
    server.stop()


def test_a_hung_redis_does_not_hold_up_requests_and_counting_returns_to_redis(
        config, app, fresh_tenant, login, throwaway_redis, caplog, monkeypatch):
    server = throwaway_redis
    monkeypatch.setattr(ratelimit, "REDIS_RETRY_SECONDS", 1.0, raising=False)
    _status_limit(login, fresh_tenant, 50)
    server.start()
    c = Client(_app(config, f"redis://127.0.0.1:{server.port}/0"), fresh_tenant.host)
    caplog.set_level(logging.INFO, logger="pingan")
    assert _status(c, "198.51.100.30").status_code == 404
    store = redis.Redis(port=server.port)
    assert any(b"198.51.100.30" in k for k in store.keys("pingan:rate:*"))  # the count every process shares

    # hung: the server is stopped; the kernel accepts connections and nothing ever answers
    server.proc.send_signal(signal.SIGSTOP)
    try:
        started = time.monotonic()
        assert _status(c, "198.51.100.31").status_code == 404
        assert time.monotonic() - started < 2.5  # two tries of REDIS_TIMEOUT_SECONDS, not redis-py's 5 s × 11
        started = time.monotonic()
        assert [_status(c, "198.51.100.31").status_code for _ in range(5)] == [404] * 5
        assert time.monotonic() - started < 1  # the outage is known: nobody waits on Redis meanwhile
    finally:
        server.proc.send_signal(signal.SIGCONT)
    server.stop()  # and now gone altogether: still one line for the whole outage
    time.sleep(1.1)
    assert _status(c, "198.51.100.32").status_code == 404
    lines = _outage_lines(caplog)
    assert len(lines) == 1 and lines[0].startswith(DOWN), lines

    server.start()  # back (and empty): within REDIS_RETRY_SECONDS the count is in Redis again
    time.sleep(1.1)
    assert _status(c, "198.51.100.33").status_code == 404
    assert any(b"198.51.100.33" in k for k in redis.Redis(port=server.port).keys("pingan:rate:*"))
    lines = _outage_lines(caplog)
    assert len(lines) == 2 and lines[1].startswith(BACK), lines
