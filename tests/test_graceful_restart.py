"""Issue 25, item 5: ``pingan serve`` stops gracefully, and a rolling restart loses no request.

SIGTERM used to end ``pingan serve`` on the spot (11 of 11 requests in flight aborted). Now
(``core.serving``) it stops accepting, lets the requests in flight finish within
``PINGAN_SHUTDOWN_GRACE_SECONDS``, closes idle keep-alive connections and exits 0. The tests
run the server as real subprocesses over the session's database and send them real signals:

- one with a test-only slow route (a WSGI wrapper around the real app, served by
  ``core.cli._serve`` exactly as ``pingan serve`` serves);
- two ``pingan serve`` behind Debian's nginx (the upstream of docs/operations.md), restarted
  one after the other under a load of reads and writes: no request fails, every acknowledged
  write is stored exactly once. Without nginx that test is skipped, unless
  ``PINGAN_REQUIRE_PROXY=1`` (CI).
"""
from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter

import pytest
import requests
from sqlalchemy import select

from core.models import OrgUnit
from tests.conftest import ROOT, make_token
from tests.test_reverse_proxy import NGINX, NGINX_HEAD

GRACE = 10

SLOW_SERVER = """
import sys, time
from core.app import create_app
from core.cli import _config, _serve

app = create_app(_config())
inner = app.wsgi_app


def wsgi(environ, start_response):  # test-only routes: answers after the seconds asked for; the heap
    if environ["PATH_INFO"] == "/_test/heap":
        import gc
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [f"{gc.get_freeze_count()} {gc.get_threshold()[0]}".encode()]
    if environ["PATH_INFO"] != "/_test/slow":
        return inner(environ, start_response)
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    time.sleep(float(environ["QUERY_STRING"]))
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"done " + body]


app.wsgi_app = wsgi
_serve(app, "127.0.0.1", int(sys.argv[1]), 4)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(config, **settings: str) -> dict:
    """The environment of a server process over the session's database (and Redis)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PINGAN_")}
    env.update({"PINGAN_ENV": "test", "PINGAN_DATABASE_URL": config.database_url,
                "PINGAN_INSTANCE_DIR": str(config.instance_dir), "PINGAN_LOG_LEVEL": "WARNING",
                "PINGAN_SHUTDOWN_GRACE_SECONDS": str(GRACE), **settings})
    if config.redis_url:
        env["PINGAN_REDIS_URL"] = config.redis_url
    return env


def _start(args: list[str], port: int, env: dict, log) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, *args], cwd=ROOT, env=env, stdout=log, stderr=log)
    for _ in range(600):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            if proc.poll() is not None:
                raise AssertionError(f"the server exited with {proc.returncode} (see {log.name})")
            time.sleep(0.05)
    proc.kill()
    raise AssertionError(f"the server did not come up on port {port}")


def _refused(port: int, within: float = 15.0) -> bool:
    """Whether connecting is refused within ``within`` seconds (the stop takes a moment to
    happen: the server notices the signal between two polls, later on a busy machine)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except ConnectionRefusedError:
            return True
        except TimeoutError:  # a connection attempt during the stop: its SYN dropped (core/serving.py)
            continue
        time.sleep(0.05)
    return False


@pytest.fixture
def slow_server(config, app, tmp_path):
    """Start the server with the slow route: ``start(grace) → (process, port)``."""
    procs = []

    def start(grace: int = GRACE):
        port = _free_port()
        log = open(tmp_path / f"serve-{port}.log", "w")
        env = _env(config, PINGAN_SHUTDOWN_GRACE_SECONDS=str(grace))
        procs.append(_start(["-c", SLOW_SERVER, str(port)], port, env, log))
        return procs[-1], port

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_sigterm_finishes_requests_in_flight_and_refuses_new_connections(slow_server):
    proc, port = slow_server()
    idle = http.client.HTTPConnection("127.0.0.1", port, timeout=10)  # a keep-alive connection, then idle
    idle.request("GET", "/healthz")
    assert idle.getresponse().read() and idle.sock is not None  # kept open
    answers = {}

    def slow() -> None:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        c.request("GET", "/_test/slow?2")
        r = c.getresponse()
        answers["slow"] = (r.status, r.read())

    in_app = threading.Thread(target=slow)
    in_app.start()
    # a request still being received: its headers and half its body are in
    upload = socket.create_connection(("127.0.0.1", port), timeout=10)
    upload.sendall(b"POST /_test/slow?0 HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhello")
    time.sleep(0.5)  # the slow request is in the app now

    proc.send_signal(signal.SIGTERM)
    stopped = time.monotonic()
    assert _refused(port)  # no new connection: the proxy sends it to the other process
    idle.sock.settimeout(2)
    assert idle.sock.recv(1) == b""  # the idle keep-alive connection is closed, not waited on
    upload.sendall(b"world")
    reply = upload.makefile("rb").read()  # the response, then the close (nothing else in flight)
    assert reply.startswith(b"HTTP/1.1 200 ") and reply.endswith(b"done helloworld"), reply
    in_app.join(10)
    assert answers["slow"] == (200, b"done ")
    assert proc.wait(GRACE) == 0
    assert time.monotonic() - stopped < 5  # once the last request is done, not at the end of the grace


def test_the_served_process_settles_its_heap(slow_server):
    """Once serving, start-up's objects are frozen out of the garbage collector's sight and the
    young generation is collected less often (``core.runtime.settle_heap``)."""
    from core.runtime import GC_YOUNG_THRESHOLD
    proc, port = slow_server()
    frozen, young = map(int, requests.get(f"http://127.0.0.1:{port}/_test/heap", timeout=10).text.split())
    assert frozen > 50_000 and young == GC_YOUNG_THRESHOLD


def test_the_grace_period_bounds_the_wait(slow_server):
    proc, port = slow_server(grace=1)
    cut = {}

    def too_slow() -> None:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        c.request("GET", "/_test/slow?30")
        try:
            cut["status"] = c.getresponse().status
        except (http.client.RemoteDisconnected, ConnectionError) as exc:
            cut["error"] = type(exc).__name__

    client = threading.Thread(target=too_slow)
    client.start()
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    stopped = time.monotonic()
    assert proc.wait(20) == 0
    # the grace (1 s) and a margin for a busy machine (the suite runs a test per core), not the
    # 30 s the request wanted
    assert time.monotonic() - stopped < 12
    client.join(10)
    assert "error" in cut, cut


# --- rolling restart behind nginx ---------------------------------------------------------

NGINX_CONF = NGINX_HEAD + """  upstream pingan {{
    server 127.0.0.1:{a} max_fails=0;
    server 127.0.0.1:{b} max_fails=0;
  }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://pingan;
      proxy_next_upstream error timeout;
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
    }}
  }}
}}
"""


class Load:
    """Clients sending reads and writes through the proxy until stopped; every outcome kept."""

    def __init__(self, base: str, host: str, token: str, parent_id: int, clients: int = 4) -> None:
        self.base, self.host, self.token, self.parent_id = base, host, token, parent_id
        self.prefix = f"滚动重启-{uuid.uuid4().hex[:6]}-"
        self.acknowledged: list[str] = []
        self.failures: list[str] = []
        self.reads = 0
        self.done = threading.Event()
        self.threads = [threading.Thread(target=self._client, args=(n,)) for n in range(clients)]

    def __enter__(self) -> "Load":
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        self.done.set()
        for t in self.threads:
            t.join(60)

    def _client(self, n: int) -> None:
        s = requests.Session()
        s.trust_env = False
        s.headers.update({"Host": self.host, "Authorization": f"Bearer {self.token}"})
        i = 0
        while not self.done.is_set():
            i += 1
            name = f"{self.prefix}{n}-{i}"
            try:
                r = s.get(f"{self.base}/api/org-units?limit=5", timeout=30)
                if r.status_code != 200:
                    self.failures.append(f"GET {r.status_code} {r.text[:200]}")
                else:
                    self.reads += 1
                r = s.post(f"{self.base}/api/org-units", timeout=30,
                           json={"parent_id": self.parent_id, "name": name, "level": "township"})
                if r.status_code == 201:
                    self.acknowledged.append(name)
                else:
                    self.failures.append(f"POST {name}: {r.status_code} {r.text[:200]}")
            except requests.RequestException as exc:
                self.failures.append(f"{name}: {type(exc).__name__}: {exc}")


def test_a_rolling_restart_behind_nginx_loses_no_request(config, app, fresh_tenant, db, tmp_path):
    if NGINX is None:
        if os.environ.get("PINGAN_REQUIRE_PROXY") == "1":
            pytest.fail("nginx is not installed (apt-get install nginx-light) and PINGAN_REQUIRE_PROXY=1")
        pytest.skip("nginx is not installed (apt-get install nginx-light); PINGAN_REQUIRE_PROXY=1 makes this a failure")
    ports = {"a": _free_port(), "b": _free_port()}
    # what is tested is the restart, not the lock timeout: two servers writing one SQLite file on
    # a machine busy with the rest of the suite once waited past the 5-s default (a 503 `timeout`,
    # the designed answer); the deadline stays below the load's own 30-s client timeout
    env = _env(config, PINGAN_WEB_LOCK_TIMEOUT_SECONDS="20", PINGAN_WEB_REQUEST_TIMEOUT_SECONDS="25")
    logs = {k: open(tmp_path / f"serve-{k}.log", "a") for k in ports}

    def serve(k: str) -> subprocess.Popen:
        return _start(["-m", "core.cli", "serve", "--port", str(ports[k]), "--threads", "4"], ports[k], env, logs[k])

    procs = {k: serve(k) for k in ports}
    port = _free_port()
    conf = tmp_path / "nginx.conf"
    conf.write_text(NGINX_CONF.format(tmp=tmp_path, port=port, a=ports["a"], b=ports["b"]))
    nginx = subprocess.Popen([NGINX, "-c", str(conf), "-p", str(tmp_path)], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        token = make_token(app, fresh_tenant, "county.admin")
        with Load(f"http://127.0.0.1:{port}", fresh_tenant.host, token, fresh_tenant.unit("C")) as load:
            time.sleep(1)
            for k in ("a", "b"):  # the procedure of docs/operations.md, one process at a time
                procs[k].send_signal(signal.SIGTERM)
                assert procs[k].wait(GRACE + 5) == 0
                down = len(load.acknowledged)
                procs[k] = serve(k)  # up again: it listens once the app is ready (the procedure's /healthz)
                assert len(load.acknowledged) > down  # while it started, the other process served alone
                time.sleep(1)  # both serve a while
        print(f"rolling restart: {load.reads} reads, {len(load.acknowledged)} writes, {len(load.failures)} failed")
        assert load.failures == [], (load.failures[:3], (tmp_path / "error.log").read_text()[-3000:],
                                     [(tmp_path / f"serve-{k}.log").read_text()[-2000:] for k in ports])
        assert load.reads > 20 and len(load.acknowledged) > 20
        with db.transaction(fresh_tenant.id) as s:
            stored = Counter(s.scalars(select(OrgUnit.name).where(OrgUnit.name.startswith(load.prefix))))
        assert stored == Counter(load.acknowledged)  # every acknowledged write exactly once, nothing else
    finally:
        nginx.terminate()
        nginx.wait(10)
        for proc in procs.values():
            proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            try:
                proc.wait(GRACE + 5)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="socket filters are Linux's")
def test_a_stopping_listener_completes_no_new_connection_but_keeps_its_backlog():
    """The drain's first step (core.serving.refuse_new_connections): a connection completed
    before it is still accepted; one attempted after it does not complete, so closing the
    listener cannot reset a connection whose request was already sent."""
    from core.serving import refuse_new_connections

    listener = socket.create_server(("127.0.0.1", 0), backlog=8)
    port = listener.getsockname()[1]
    queued = socket.create_connection(("127.0.0.1", port), timeout=2)
    try:
        assert refuse_new_connections(listener)
        with pytest.raises(OSError):  # socket.timeout: its SYN is dropped, the handshake never ends
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        listener.settimeout(2)
        accepted, _ = listener.accept()  # the one completed before is still there
        queued.sendall(b"ping")
        assert accepted.recv(4) == b"ping"
        accepted.close()
        listener.setblocking(False)
        with pytest.raises(BlockingIOError):  # and nothing else completed meanwhile
            listener.accept()
    finally:
        queued.close()
        listener.close()
