"""Issue 24, item 4: one log handler, no lock convoy (core/logs.py).

Every log line was written twice under ``waitress.serve()`` (its ``basicConfig()`` put a second
handler on the root logger) and the request threads queued on the stream handler's lock. Now
one handler on the root logger appends the record with the request's context to a buffer in
the calling thread; one writer thread writes the JSON lines."""
from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from core import logs
from core.context import Actor, acting_as
from core.db import bind_tenant

ROOT = Path(__file__).resolve().parent.parent

SERVE_ONCE = r'''
import logging, sys
from pathlib import Path
if sys.argv[3] == "before":
    logging.basicConfig()  # a library configured logging before the app
from core.app import create_app
from core.config import Config
folder = Path(sys.argv[1])
app = create_app(Config.from_env(env="test", database_url=f"sqlite:///{folder / 'db.sqlite3'}",
                                 instance_dir=folder, redis_url=None))
if sys.argv[3] == "after":
    logging.basicConfig()  # what waitress.serve() does before serving
r = app.test_client().get("/healthz", headers={"X-Request-ID": sys.argv[2]})
assert r.status_code == 200
logging.getLogger("pingan.test").warning("one more line")
'''


def _run(tmp_path: Path, when: str) -> list[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PINGAN_")}
    env["PYTHONPATH"] = str(ROOT)
    rid = f"once-{when}-0123456789"
    out = subprocess.run([sys.executable, "-c", SERVE_ONCE, str(tmp_path), rid, when], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    return [line for line in out.stderr.splitlines() if rid in line or "one more line" in line]


def test_a_request_logs_its_line_once_with_basic_config_after_the_app(tmp_path):
    lines = _run(tmp_path, "after")
    assert len(lines) == 2, lines  # the access line and the warning, each once
    access = json.loads(lines[0])
    assert access["path"] == "/healthz" and access["status"] == 200 and access["logger"] == "pingan.web"
    assert access["request_id"] == "once-after-0123456789"
    assert json.loads(lines[1])["msg"] == "one more line"


def test_a_request_logs_its_line_once_with_basic_config_before_the_app(tmp_path):
    lines = _run(tmp_path, "before")
    assert len(lines) == 2, lines
    assert all(line.startswith("{") for line in lines), lines  # JSON only: basicConfig's plain handler is gone


class Blocked(io.StringIO):
    """A stream whose writes wait until released (a slow reader of standard error)."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def write(self, text: str) -> int:
        self.release.wait(10)
        return super().write(text)


def test_logging_threads_do_not_wait_for_the_output():
    """Eight threads log while the output is stuck: none waits (with a stream handler each call
    waited for the write, and the others queued on its lock)."""
    stream = Blocked()
    out = logs._Output(stream)
    log = logging.getLogger("pingan.test.convoy")
    log.propagate = False
    log.setLevel(logging.INFO)
    log.addHandler(out.handler)
    took: list[float] = []

    def work(i: int) -> None:
        start = time.perf_counter()
        for j in range(50):
            log.info("line %d-%d", i, j)
        took.append(time.perf_counter() - start)
    try:
        threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(5)
        assert len(took) == 8 and max(took) < 2.0, took  # the writes are stuck for up to 10 s
        stream.release.set()
    finally:
        stream.release.set()
        out.stop()
        log.removeHandler(out.handler)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 400 and len(set(lines)) == 400
    assert {json.loads(line)["msg"] for line in lines} == {f"line {i}-{j}" for i in range(8) for j in range(50)}


def test_each_line_carries_the_context_of_the_thread_that_logged_it():
    """The request id, county and actor are context variables: read where the record was made,
    not in the writer thread."""
    stream = io.StringIO()
    out = logs._Output(stream)
    log = logging.getLogger("pingan.test.context")
    log.propagate = False
    log.setLevel(logging.INFO)
    log.addHandler(out.handler)
    try:
        with acting_as(Actor(42, "user:tester"), "rid-context-1"), bind_tenant(7):
            log.info("inside %s", "the request")
            try:
                1 / 0
            except ZeroDivisionError:
                log.exception("it failed")
        log.info("outside")
    finally:
        out.stop()
        log.removeHandler(out.handler)
    inside, failed, outside = (json.loads(line) for line in stream.getvalue().splitlines())
    assert (inside["msg"], inside["request_id"], inside["tenant_id"], inside["actor"]) == \
        ("inside the request", "rid-context-1", 7, "user:tester")
    assert failed["request_id"] == "rid-context-1" and "ZeroDivisionError" in failed["exc"]
    assert outside["request_id"] is None and outside["tenant_id"] is None


def test_flush_writes_what_is_queued():
    stream = io.StringIO()
    out = logs._Output(stream)
    saved, logs._output = logs._output, out
    log = logging.getLogger("pingan.test.flush")
    log.propagate = False
    log.setLevel(logging.INFO)
    log.addHandler(out.handler)
    try:
        log.info("queued")
        logs.flush()
        assert json.loads(stream.getvalue())["msg"] == "queued"  # at once, not at the writer's next turn
    finally:
        logs._output = saved
        out.stop()
        log.removeHandler(out.handler)


def test_a_stuck_output_drops_lines_beyond_the_bound_and_says_how_many(monkeypatch):
    monkeypatch.setattr(logs, "MAX_BUFFERED", 10)
    stream = Blocked()
    out = logs._Output(stream)
    log = logging.getLogger("pingan.test.bound")
    log.propagate = False
    log.setLevel(logging.INFO)
    log.addHandler(out.handler)
    try:
        log.info("first")
        time.sleep(3 * logs.INTERVAL)  # the writer took it and is stuck writing it
        for i in range(50):
            log.info("line %d", i)
        assert len(out.buffer) == 10
    finally:
        stream.release.set()
        out.stop()
        log.removeHandler(out.handler)
    msgs = [json.loads(line)["msg"] for line in stream.getvalue().splitlines()]
    assert msgs[:11] == ["first"] + [f"line {i}" for i in range(10)]
    assert msgs[11:] == ["40 log lines dropped: standard error did not take them"]
