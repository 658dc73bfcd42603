"""Structured logs: one JSON object per line on standard error, with the request id.

Log records never carry sensitive values: sensitive columns are the encrypted ones
and the audit log masks them; code must not log a plain ID number or phone — the suite's
``tests/test_pii_at_rest.py`` searches the captured logs for them.

One handler, off the request threads (issue 24). :func:`setup` puts a single handler on the
**root** logger: ``pingan.*`` records reach it by propagation, and so do the warnings of the
libraries underneath (waitress's queue depth, SQLAlchemy's). On the root it also makes
``logging.basicConfig()`` — which ``waitress.serve()`` calls — a no-op; a plain handler that such
a call left on the root *before* :func:`setup` is removed. (Before, the JSON handler sat on the
``pingan`` logger and ``basicConfig()`` added a second one on the root: every line went out twice.)

That handler is a :class:`BufferHandler`: the logging thread only takes the message, the
request's context (request id, county, actor — context variables, which another thread cannot
read) and the traceback as text, and appends them to a buffer — no lock, no write, no wake-up.
A writer thread formats the JSON lines and writes them with one ``write`` every ``INTERVAL``
(50 ms). Before, every request thread formatted and wrote its line itself, holding the stream
handler's lock: with waitress's 8 threads the others queued on that lock while one wrote (a
slow reader of standard error — a pipe, journald — held them all). A queue with a listener
woken for each record (``logging.handlers.QueueListener``) was measured too and was worse:
each wake-up handed the GIL to the listener and back, about 100 µs of CPU per request
(bench/results/overhead.md). The writer is started again in a forked child (gunicorn workers
forked after ``--preload``) and drained when the process exits (not when a child leaves with
``os._exit``, as rq's work horses do: ``pingan worker`` does not call :func:`setup`).
"""
from __future__ import annotations

import atexit
import collections
import json
import logging
import os
import sys
import threading
from datetime import datetime, timezone

from core.context import current_actor, current_request_id
from core.db import bound_tenant_id


def log_context() -> tuple[str | None, int | None, str]:
    """The calling thread's request id, bound county and actor label."""
    return current_request_id(), bound_tenant_id(), current_actor().label


class JsonFormatter(logging.Formatter):
    """One JSON object per record; the context is the record's own (taken where it was logged)
    when a :class:`BufferHandler` carried it, else the formatting thread's."""

    def format(self, record: logging.LogRecord) -> str:
        exc = self.formatException(record.exc_info) if record.exc_info else record.exc_text
        return self.line(record, record.getMessage(), log_context(), exc)

    def line(self, record: logging.LogRecord, msg: str, context: tuple, exc: str | None) -> str:
        request_id, tenant_id, actor = context
        out = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": msg,
            "request_id": request_id,
            "tenant_id": tenant_id,
            "actor": actor,
        }
        for key in ("method", "path", "status", "duration_ms"):
            if hasattr(record, key):
                out[key] = getattr(record, key)
        if exc:
            out["exc"] = exc
        return json.dumps(out, ensure_ascii=False)


class BufferHandler(logging.Handler):
    """Appends each record — with its message, the logging thread's context and its traceback
    as text — to the output's buffer, for the writer thread. No lock (``deque.append`` is
    atomic) and no wake-up per record: the writer drains the buffer every ``INTERVAL``."""

    def __init__(self, output: "_Output") -> None:
        super().__init__()
        self.output = output

    def createLock(self) -> None:  # noqa: N802 (logging's name)
        self.lock = None  # ``Handler.handle`` takes ``self.lock`` only when there is one

    def emit(self, record: logging.LogRecord) -> None:
        try:
            exc = _EXC.formatException(record.exc_info) if record.exc_info else record.exc_text
            self.output.add((record, record.getMessage(), log_context(), exc))
        except Exception:  # noqa: BLE001 — logging never breaks the caller
            self.handleError(record)


_EXC = logging.Formatter()
INTERVAL = 0.05      # seconds between the writer's turns: a line is out within about this long
MAX_BUFFERED = 100_000  # lines held while standard error does not take them; beyond, counted and dropped


class _Output:
    """The process's log buffer, its writer thread and the stream it writes (standard error).

    Each turn the writer formats what the request threads appended and writes it with one
    ``write``. A stream that blocks (a full pipe) holds up the writer only: requests go on, the
    buffer fills up to ``MAX_BUFFERED`` lines, then lines are dropped and the number dropped is
    written when the stream takes lines again."""

    def __init__(self, stream) -> None:
        self.stream = stream
        self.formatter = JsonFormatter()
        self.handler = BufferHandler(self)
        self._reset()

    def _reset(self) -> None:
        self.buffer: collections.deque = collections.deque()
        self.dropped = 0
        self.write_lock = threading.Lock()  # the writer and flush() take turns draining
        self.wake = threading.Event()
        self.stopping = False
        self.thread = threading.Thread(target=self._run, name="pingan-log-writer", daemon=True)
        self.thread.start()

    def add(self, item: tuple) -> None:
        if len(self.buffer) >= MAX_BUFFERED:
            self.dropped += 1
            return
        self.buffer.append(item)

    def _run(self) -> None:
        while not self.stopping:
            self.wake.wait(INTERVAL)
            self.wake.clear()
            self.drain()

    def drain(self) -> None:
        """Write everything buffered so far."""
        with self.write_lock:
            items = []
            while True:
                try:
                    items.append(self.buffer.popleft())
                except IndexError:
                    break
            dropped, self.dropped = self.dropped, 0
            if not items and not dropped:
                return
            lines = []
            for record, msg, context, exc in items:
                try:
                    lines.append(self.formatter.line(record, msg, context, exc))
                except Exception:  # noqa: BLE001 — one bad record does not lose the others
                    lines.append(json.dumps({"level": "error", "logger": "pingan.logs",
                                             "msg": f"unformattable record from {record.name}"}))
            if dropped:
                lines.append(json.dumps({"level": "warning", "logger": "pingan.logs",
                                         "msg": f"{dropped} log lines dropped: standard error did not take them"}))
            try:
                self.stream.write("\n".join(lines) + "\n")
                self.stream.flush()
            except Exception:  # noqa: BLE001 — nowhere left to report it
                pass

    def stop(self) -> None:
        """Write what is buffered and end the writer (at exit; tests)."""
        self.stopping = True
        self.wake.set()
        if self.thread.is_alive() and self.thread is not threading.current_thread():
            self.thread.join(5)
        self.drain()

    def after_fork(self) -> None:
        """In a forked child the writer thread does not exist: a new buffer (the parent's may have
        been mid-append in another thread), new locks, a new writer."""
        self._reset()


_output: _Output | None = None


def _plain_root_handler(h: logging.Handler) -> bool:
    """A handler ``logging.basicConfig()`` puts on the root (a bare stream handler on stderr/stdout)."""
    return type(h) is logging.StreamHandler and getattr(h, "stream", None) in (sys.stderr, sys.stdout,
                                                                                sys.__stderr__, sys.__stdout__)


def setup(level: str = "INFO") -> None:
    """Send ``pingan.*`` records at ``level`` and up (and other libraries' warnings) to standard
    error as JSON, through the one buffer handler on the root logger. Idempotent."""
    global _output
    app_logger = logging.getLogger("pingan")
    app_logger.setLevel(level)
    app_logger.propagate = True
    root = logging.getLogger()
    if _output is not None and _output.handler in root.handlers:
        return
    if any(isinstance(h.formatter, JsonFormatter) for h in app_logger.handlers):
        return  # the host wrote JSON lines of its own already (the test suite's log file)
    for h in [h for h in root.handlers if _plain_root_handler(h)]:
        root.removeHandler(h)  # basicConfig() ran first: it would print every line a second time
    if _output is None:
        _output = _Output(sys.stderr)
        atexit.register(_output.stop)
        os.register_at_fork(after_in_child=_after_fork)
    root.addHandler(_output.handler)


def _after_fork() -> None:
    if _output is not None and not _output.stopping:
        _output.after_fork()


def flush() -> None:
    """Write every line buffered so far (the writer keeps running)."""
    if _output is not None:
        _output.drain()
