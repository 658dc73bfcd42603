"""The fault suite (issue 25): the production set-up on this machine, a write and job load, and
one fault after another — then what was lost, duplicated, failed, and how long recovery took.

    .venv/bin/python bench/faults.py [--kills 120] [--quick] [--self-check] [--keep]

Everything runs isolated from the machine's services: its own PostgreSQL cluster (``initdb``
into a temporary folder, a free port; as root the server runs as the ``postgres`` OS user),
its own ``redis-server --save "" --appendonly no``, the schema migrated as an owner role with
the app logging in as ``pingan_app`` (README "Production"), ``tenants/demo`` loaded with
``PINGAN_ENV=production``, two ``pingan serve`` behind Debian's nginx (if installed; else one
``serve`` reached directly), two ``pingan worker``s, attachments on a tmpfs of their own.

Load: writer threads register cases of ``visits.visit`` with a new person each through the
API (a personal access token of ``county.admin``); every POST carries a unique
``Idempotency-Key`` and a unique marker in its title / name, has a client timeout and is
retried with the same key on a timeout, a connection error or a 5xx. Every 201 is recorded.
Jobs: ledger exports through the API, and deadline reminders (deadlines of the load's cases
moved into the past, then one pass of ``core.cases.sweep.run``).

After each fault the harness waits for recovery and counts, in the database (as the cluster's
superuser, past row-level security): acknowledged writes missing (lost), markers present more
than once (duplicated), reminder effects (timeline events) twice, outbox rows still pending,
job runs stuck ``queued``/``running``, attachments acknowledged but unreadable; then
``pingan audit verify``. One table goes to stdout and ``bench/results/faults.md``.

The pieces the CI test (tests/test_faults.py) reuses: :func:`run` (quick mode), :func:`tally`
(the pure checker) and :class:`Report`.
"""
from __future__ import annotations

import argparse
import base64
import contextlib
import dataclasses
import datetime as dt
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv" / "bin" / "python").exists() else sys.executable
PINGAN = [PY, "-m", "core.cli"]
TENANT = "demo"
UNIT_CODE = "T01D1V1"
MARK = "FLT"  # every marker starts with it: the checks count only the harness's own rows


# --- binaries --------------------------------------------------------------------------------

def pg_bindir() -> Path | None:
    """The PostgreSQL server binaries (initdb, pg_ctl, postgres), newest version first."""
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name)
                        if p.parent.name.isdigit() else 0, reverse=True)
    for d in [*candidates, Path("/usr/local/bin"), Path("/usr/bin")]:
        if (d / "initdb").exists() and (d / "pg_ctl").exists():
            return d
    return None


def missing_services() -> str | None:
    """Why the suite cannot run here (None: it can)."""
    if pg_bindir() is None:
        return "the PostgreSQL server binaries (initdb, pg_ctl) are not installed"
    if shutil.which("redis-server") is None:
        return "redis-server is not installed"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser (PostgreSQL refuses to run as root)"
    return None


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 30.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.3).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def log(msg: str) -> None:
    print(f"[faults {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --- the services --------------------------------------------------------------------------

class Postgres:
    """A cluster of its own: initdb into ``folder``, served on ``port`` (as ``postgres`` when root)."""

    def __init__(self, folder: Path) -> None:
        self.bindir = pg_bindir()
        self.data = folder / "pgdata"
        self.sock = folder / "pgsock"
        self.port = free_port()
        self.as_postgres = os.geteuid() == 0

    def _cmd(self, *args: str) -> list[str]:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        return ["runuser", "-u", "postgres", "--", *cmd] if self.as_postgres else cmd

    def init(self) -> None:
        self.sock.mkdir()
        if self.as_postgres:
            shutil.chown(self.sock, "postgres")
            shutil.chown(self.data.parent, "postgres")  # initdb creates pgdata inside
        subprocess.run(self._cmd("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                                 "--locale=C.UTF-8", "--no-sync"), check=True, capture_output=True)
        self.start()

    def start(self) -> None:
        # fsync off: the machine itself never crashes here, only the server (stopped, restarted)
        opts = f"-p {self.port} -k {self.sock} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        subprocess.run(self._cmd("pg_ctl", "-D", str(self.data), "-l", str(self.data.parent / "pg.log"),
                                 "-o", opts, "-w", "-t", "60", "start"), check=True, capture_output=True)

    def stop(self, mode: str = "fast") -> None:
        subprocess.run(self._cmd("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop"),
                       capture_output=True)

    def restart(self) -> None:
        self.stop("fast")
        self.start()

    def dsn(self, user: str = "postgres", db: str = "pingan") -> str:
        return f"host=127.0.0.1 port={self.port} user={user} dbname={db}"

    def url(self, user: str, password: str = "", db: str = "pingan") -> str:
        auth = f"{user}:{password}" if password else user
        return f"postgresql+psycopg://{auth}@127.0.0.1:{self.port}/{db}"


class Redis:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                                      "--save", "", "--appendonly", "no", "--dir", str(self.folder)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        if not wait_port(self.port):
            raise RuntimeError("redis-server did not come up")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def client(self):
        import redis
        return redis.Redis(port=self.port, socket_timeout=5)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


class Storage:
    """The attachment store: a tmpfs of its own when this process may mount one (root), which
    the read-only and full phases remount read-only and fill up; else a plain folder and those
    two phases are skipped (reported)."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "files"
        self.path.mkdir()
        self.mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m,mode=0755", "tmpfs", str(self.path)],
                                      capture_output=True).returncode == 0
        self.filler = self.path / ".filler"

    def read_only(self, on: bool) -> None:
        subprocess.run(["mount", "-o", f"remount,{'ro' if on else 'rw'}", str(self.path)], check=True)

    def fill(self) -> None:
        chunk = b"\0" * (1 << 20)
        with open(self.filler, "ab") as f:
            with contextlib.suppress(OSError):
                while True:
                    f.write(chunk)
                    f.flush()
        with contextlib.suppress(OSError), open(self.path / ".filler2", "ab") as f:
            while True:  # the last partial MiB
                f.write(b"\0" * 4096)
                f.flush()

    def unfill(self) -> None:
        for p in (self.filler, self.path / ".filler2"):
            with contextlib.suppress(FileNotFoundError):
                p.unlink()

    def close(self) -> None:
        if self.mounted:
            subprocess.run(["umount", "-l", str(self.path)], capture_output=True)


NGINX_CONF = """
worker_processes 1;
daemon off;
{user}
pid {dir}/nginx.pid;
error_log {dir}/nginx_error.log warn;
events {{ worker_connections 512; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body; proxy_temp_path {dir}/proxy; fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi; scgi_temp_path {dir}/scgi;
    upstream pingan {{ {servers} }}
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 30m;
        location / {{
            proxy_pass http://pingan;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto http;
            proxy_read_timeout 300s;
            proxy_next_upstream error timeout http_502;
        }}
    }}
}}
"""


class Proc:
    """One ``pingan`` process (serve or worker), restarted by the harness like systemd would."""

    def __init__(self, name: str, args: list[str], env: dict, folder: Path) -> None:
        self.name, self.args, self.env, self.folder = name, args, env, folder
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        out = open(self.folder / f"{self.name}.log", "ab")
        self.proc = subprocess.Popen(self.args, env=self.env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    @property
    def pid(self) -> int:
        return self.proc.pid if self.proc else -1

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig: int) -> None:
        if self.alive():
            os.kill(self.proc.pid, sig)

    def wait(self, timeout: float) -> bool:
        try:
            self.proc.wait(timeout)
            return True
        except subprocess.TimeoutExpired:
            return False

    def kill_group(self) -> None:
        """SIGKILL the process group this harness started (the process and its forks)."""
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            with contextlib.suppress(Exception):
                self.proc.wait(5)


def proc_table() -> list[tuple[int, int, int]]:
    """(pid, ppid, pgid) of every process."""
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()
            out.append((int(d.name), int(fields[1]), int(fields[2])))
    return out


def work_horses(worker_pid: int) -> list[int]:
    """rq's work horses of a worker: its children that made their own process group (rq's
    ``fork_work_horse`` calls ``os.setpgrp()``); the scheduler child stays in the worker's group."""
    return [pid for pid, ppid, pgid in proc_table() if ppid == worker_pid and pgid == pid]


def group_members(pgid: int) -> list[int]:
    return [pid for pid, _, g in proc_table() if g == pgid]


# --- the load ------------------------------------------------------------------------------

@dataclasses.dataclass
class Tally:
    """What the clients saw during one phase."""

    acked: list = dataclasses.field(default_factory=list)          # (marker, case id)
    attempts: int = 0
    failures: Counter = dataclasses.field(default_factory=Counter)  # "503", "500", "timeout", "conn" …
    first_ok_after: dict = dataclasses.field(default_factory=dict)  # fault end → monotonic of the first 2xx
    uploads: list = dataclasses.field(default_factory=list)         # (case id, attachment id, sha256)
    exports: list = dataclasses.field(default_factory=list)         # job run ids
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)

    def ok(self) -> None:
        now = time.monotonic()
        with self.lock:
            for k, v in self.first_ok_after.items():
                if v is None and now >= k:
                    self.first_ok_after[k] = now

    def fail(self, what: str) -> None:
        with self.lock:
            self.failures[what] += 1


class Client:
    """The API as a phone on a bad network: a timeout, then the same request again with the
    same ``Idempotency-Key`` until it is answered (or ``give_up`` seconds passed)."""

    def __init__(self, base: str, token: str, timeout: float, give_up: float,
                 abort: threading.Event | None = None) -> None:
        import requests
        self.base, self.timeout, self.give_up = base, timeout, give_up
        self.abort = abort or threading.Event()  # set: no further retry (the phase's load is over)
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {token}"

    def post(self, tally: Tally | None, path: str, key: str | None = None, **kw):
        import requests
        key = key or uuid.uuid4().hex
        end = time.monotonic() + self.give_up
        while True:
            if tally is not None:
                with tally.lock:
                    tally.attempts += 1
            try:
                r = self.http.post(self.base + path, headers={"Idempotency-Key": key}, timeout=self.timeout, **kw)
            except requests.Timeout:
                what, wait = "timeout", 0.2
            except requests.ConnectionError:
                what, wait = "conn", 0.5
            else:
                if r.status_code < 300:
                    if tally is not None:
                        tally.ok()
                    return r
                code = _code(r)
                if r.headers.get("Idempotent-Replayed") == "true":
                    # the first attempt's answer again (a 5xx after its commit is kept too):
                    # retrying cannot change it
                    if tally is not None:
                        tally.fail(f"{r.status_code} replayed")
                    return r
                if r.status_code == 409 and code != "request_in_progress":
                    # idempotency_result_lost / _too_large: the effect was saved, its answer is
                    # gone; a retry cannot get it (never counted as acknowledged)
                    if tally is not None:
                        tally.fail(f"409 {code}")
                    return r
                if r.status_code < 500 and r.status_code not in (409, 429):
                    if tally is not None:
                        tally.fail(str(r.status_code))
                    return r  # a refusal, not a fault: never retried
                what = str(r.status_code)
                try:
                    wait = min(2.0, float(r.headers.get("Retry-After") or 0.5))
                except ValueError:
                    wait = 0.5
            if tally is not None:
                tally.fail(what)
            if time.monotonic() + wait > end or self.abort.is_set():
                return None
            time.sleep(wait)


def _code(r) -> str:
    try:
        return str(r.json().get("code", ""))
    except ValueError:
        return ""


class Load:
    """Writer threads (person + case, each acknowledged write recorded) for one phase."""

    def __init__(self, h: "Harness", tally: Tally, threads: int) -> None:
        self.h, self.tally, self.n = h, tally, threads
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._writer, args=(i,), daemon=True) for i in range(threads)]

    def __enter__(self) -> "Load":
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for t in self.threads:
            t.join()

    def _writer(self, i: int) -> None:
        c = self.h.client(None if i % 2 == 0 else self.h.patient_timeout)
        c.abort = self.stop
        while not self.stop.is_set():
            self.write_one(c, f"{MARK}{self.h.phase_no:02d}{i}{secrets.token_hex(5)}")
            # the full run saturates the servers; the quick one (CI, beside the rest of the suite
            # on the same cores) paces its writers — each still has writes in flight through every fault
            time.sleep(random.uniform(0.1, 0.3) if self.h.quick else random.uniform(0.0, 0.05))

    def write_one(self, c: Client, marker: str) -> None:
        r = c.post(self.tally, "/api/persons", json={"name": marker, "org_unit_id": self.h.unit_id})
        if r is None or r.status_code != 201:
            return
        pid = r.json()["id"]
        body = {"case_type": "visits.visit", "title": f"{marker} 请求上门走访", "org_unit_id": self.h.unit_id,
                "content": "故障演练：独居老人请求上门", "channel": "visit", "details": {"visit_kind": "home"},
                "persons": [{"person_id": pid, "role": "party"}]}
        r = c.post(self.tally, "/api/cases", json=body)
        if r is not None and r.status_code == 201:
            with self.tally.lock:
                self.tally.acked.append((marker, r.json()["id"]))


# --- the checks ----------------------------------------------------------------------------

@dataclasses.dataclass
class Check:
    """The state of the database after a phase, as counted by :func:`observe`."""

    cases_by_marker: dict          # marker → number of case rows with it in the title
    persons_by_marker: dict        # marker → number of person rows with it as the name
    reminder_effects: dict         # (deadline id, reminder kind) → timeline events it made
    outbox_pending: int
    outbox_failed: int
    jobs_stuck: int                # job_run queued or running
    jobs_failed: int
    reminders_pending: int


def tally(acked: list[tuple[str, int]], check: Check, persons: bool = True) -> tuple[int, int, list[str]]:
    """(lost, duplicated, examples): an acknowledged write whose marker is missing is lost; a
    marker on two rows, or a reminder with two effects, is duplicated."""
    examples = []
    lost = [m for m, _ in acked if check.cases_by_marker.get(m, 0) == 0]
    dup = [m for m, n in check.cases_by_marker.items() if n > 1]
    if persons:
        dup += [f"person {m}" for m, n in check.persons_by_marker.items() if n > 1]
    dup += [f"reminder {k}" for k, n in check.reminder_effects.items() if n > 1]
    examples += [f"lost {m}" for m in lost[:3]] + [f"duplicated {m}" for m in dup[:3]]
    return len(lost), len(dup), examples


def observe(dsn: str, since: dt.datetime | None = None, prefix: str = MARK) -> Check:
    """Count in the database; with ``since``, only the work a phase made (so an item stuck in an
    earlier phase is reported there, once, and does not hold up the later ones); ``prefix``:
    the phase's markers."""
    import psycopg
    since = since or dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)
    with psycopg.connect(dsn, connect_timeout=10) as conn:
        q = lambda sql, *a: conn.execute(sql, a).fetchall()  # noqa: E731
        cases = dict(q("SELECT split_part(title, ' ', 1), count(*) FROM case_record "
                       "WHERE title LIKE %s GROUP BY 1", prefix + "%"))
        persons = dict(q("SELECT name, count(*) FROM person WHERE name LIKE %s GROUP BY name", prefix + "%"))
        effects = {(d, k): n for d, k, n in q(
            "SELECT (data::jsonb->>'deadline_id')::bigint, data::jsonb->>'reminder', count(*) FROM case_event "
            "WHERE data::jsonb ? 'reminder' GROUP BY 1, 2 HAVING max(at) >= %s", since)}
        one = lambda sql: q(sql, since)[0][0]  # noqa: E731
        return Check(cases, persons, effects,
                     one("SELECT count(*) FROM outbox WHERE state = 'pending' AND created_at >= %s"),
                     one("SELECT count(*) FROM outbox WHERE state = 'failed' AND created_at >= %s"),
                     one("SELECT count(*) FROM job_run WHERE state IN ('queued', 'running') AND created_at >= %s"),
                     one("SELECT count(*) FROM job_run WHERE state = 'failed' AND created_at >= %s"),
                     one("SELECT count(*) FROM case_reminder WHERE state = 'pending' AND created_at >= %s"))


@dataclasses.dataclass
class Row:
    phase: str
    iterations: int
    work: str
    lost: int
    duplicated: int
    failed: Counter
    attempts: int
    recovery: str
    audit: str
    notes: list

    def cells(self) -> list[str]:
        fivexx = {k: v for k, v in self.failed.items() if k.split()[0].isdigit() and k.startswith("5")}
        n5 = sum(fivexx.values())
        n503 = sum(v for k, v in fivexx.items() if k.split()[0] == "503")
        other = {k: v for k, v in self.failed.items() if k not in fivexx}
        failed = ", ".join(f"{k}×{v}" for k, v in sorted(fivexx.items())) or "0"
        if other:
            failed += " (" + ", ".join(f"{k}×{v}" for k, v in sorted(other.items())) + ")"
        share = f"{100 * n503 / n5:.0f} %" if n5 else "–"
        return [self.phase, str(self.iterations), self.work, str(self.lost), str(self.duplicated),
                f"{failed} of {self.attempts}", share, self.recovery, self.audit, "; ".join(self.notes)]


SELF_CHECK = "self-check"
HEADER = ["phase", "iterations", "work done", "lost", "duplicated", "failed requests (5xx by code; other)",
          "503 share of 5xx", "recovery (first 2xx / drained)", "audit verify", "notes"]


@dataclasses.dataclass
class Report:
    rows: list
    features: list
    started: str
    setup: str

    @property
    def phases(self) -> list:
        """The fault phases (not the self-check's row, whose loss and duplicate are staged)."""
        return [r for r in self.rows if not r.phase.startswith(SELF_CHECK)]

    @property
    def lost(self) -> int:
        return sum(r.lost for r in self.phases)

    @property
    def duplicated(self) -> int:
        return sum(r.duplicated for r in self.phases)

    @property
    def errors_500(self) -> int:
        """Answers 500, first ones and replays of a stored 500 alike."""
        return sum(n for r in self.phases for k, n in r.failed.items() if k.split()[0] == "500")

    def table(self) -> str:
        lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
        lines += ["| " + " | ".join(c.replace("|", "/") for c in r.cells()) + " |" for r in self.rows]
        return "\n".join(lines)


# --- the harness ---------------------------------------------------------------------------

class Harness:
    def __init__(self, quick: bool, kills: int, folder: Path) -> None:
        self.quick, self.kills, self.dir = quick, kills, folder
        self.pg = Postgres(folder)
        self.redis = Redis(folder)
        self.storage = Storage(folder)
        self.nginx: subprocess.Popen | None = None
        self.serves: list[Proc] = []
        self.workers: list[Proc] = []
        self.phase_no = 0
        self.unit_id = 0
        self.token = ""
        self.base = ""
        # half the writers give up before the server's lock timeout (5 s) and retry while their
        # first attempt still waits; the other half wait long enough to hear its 503
        self.client_timeout = 3.0
        self.patient_timeout = 15.0
        self.give_up = 45.0 if quick else 240.0
        self.recovery_limit = 90.0 if quick else 900.0
        self.orphans: list[int] = []
        self.redis_outage = 6.0 if quick else 30.0
        self.lock_hold = 9.0 if quick else 20.0  # over the web lock timeout (5 s) either way

    # set-up -----------------------------------------------------------------------------
    def env(self) -> dict:
        key = lambda: base64.b64encode(secrets.token_bytes(32)).decode()  # noqa: E731
        if not hasattr(self, "_keys"):
            self._keys = (secrets.token_urlsafe(40), f"k1:{key()}", key())
        env = {k: v for k, v in os.environ.items() if not k.startswith("PINGAN_")}
        env.update({
            "PINGAN_ENV": "production", "PINGAN_SECRET_KEY": self._keys[0], "PINGAN_DATA_KEYS": self._keys[1],
            "PINGAN_INDEX_KEY": self._keys[2], "PINGAN_DATABASE_URL": self.pg.url("pingan_app", "app-pw"),
            "PINGAN_MIGRATION_DATABASE_URL": self.pg.url("pingan_owner", "owner-pw"),
            "PINGAN_REDIS_URL": self.redis.url, "PINGAN_DEFAULT_TENANT": TENANT,
            "PINGAN_INSTANCE_DIR": str(self.dir / "instance"), "PINGAN_STORAGE_DIR": str(self.storage.path),
            "PINGAN_TRUSTED_PROXIES": "127.0.0.1", "PINGAN_LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1",
        })
        env.update(short_timeouts(self.quick))
        return env

    def pingan(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        r = subprocess.run([*PINGAN, *args], env=self.env(), cwd=ROOT, capture_output=True, text=True, timeout=300)
        if check and r.returncode != 0:
            raise RuntimeError(f"pingan {' '.join(args)} failed: {r.stdout}{r.stderr}")
        return r

    def helper(self, *args: str) -> str:
        r = subprocess.run([PY, __file__, "_helper", *args], env=self.env(), cwd=ROOT, capture_output=True,
                           text=True, timeout=300)
        if r.returncode != 0:
            raise RuntimeError(f"helper {args} failed: {r.stderr[-2000:]}")
        return r.stdout.strip()

    def sql(self, sql: str, db: str = "pingan"):
        import psycopg
        with psycopg.connect(self.pg.dsn(db=db), autocommit=True, connect_timeout=10) as conn:
            cur = conn.execute(sql)
            return cur.fetchall() if cur.description else None

    def setup(self) -> str:
        t0 = time.monotonic()
        self.dir.chmod(0o755)
        self.pg.init()
        for stmt in ("CREATE ROLE pingan_owner LOGIN PASSWORD 'owner-pw' NOSUPERUSER CREATEROLE",
                     "CREATE ROLE pingan_app LOGIN PASSWORD 'app-pw' NOSUPERUSER NOBYPASSRLS NOINHERIT",
                     "CREATE DATABASE pingan OWNER pingan_owner"):
            self.sql(stmt, db="postgres")
        self.redis.start()
        self.pingan("db", "upgrade")
        self.pingan("tenant", "load", str(ROOT / "tenants" / TENANT))
        self.unit_id = self.sql(f"SELECT id FROM org_unit WHERE code = '{UNIT_CODE}'")[0][0]
        self.token = self.helper("token")
        ports = [free_port() for _ in range(2 if nginx_binary() else 1)]
        for i, port in enumerate(ports):
            self.serves.append(Proc(f"serve{i}", [*PINGAN, "serve", "--port", str(port)], self.env(), self.dir))
            self.serves[-1].port = port
        for p in self.serves:
            p.start()
        for p in self.serves:
            if not wait_port(p.port, 60):
                raise RuntimeError(f"{p.name} did not come up: {(self.dir / (p.name + '.log')).read_text()[-2000:]}")
        self.base = f"http://127.0.0.1:{ports[0]}"
        if len(ports) > 1:
            self.base = f"http://127.0.0.1:{self.start_nginx(ports)}"
        for i in range(2):
            self.workers.append(Proc(f"worker{i}", [*PINGAN, "worker"], self.env(), self.dir))
            self.workers[-1].start()
        r = self.client().http.put(self.base + "/api/modules/visits", json={"enabled": True}, timeout=30)
        if r.status_code != 200:
            raise RuntimeError(f"enabling visits: {r.status_code} {r.text[:500]}")
        return (f"own PostgreSQL {self.sql('SHOW server_version')[0][0]} cluster (port {self.pg.port}, as "
                f"{'postgres' if self.pg.as_postgres else 'this user'}), own redis-server {self.redis_version()}, "
                f"{len(self.serves)} × `pingan serve`{' behind nginx' if self.nginx else ' (no nginx: direct)'}, "
                f"2 × `pingan worker`, attachments on {'a 64 MiB tmpfs' if self.storage.mounted else 'a plain folder'}; "
                f"set up in {time.monotonic() - t0:.0f} s")

    def redis_version(self) -> str:
        return self.redis.client().info("server").get("redis_version", "?")

    def start_nginx(self, ports: list[int]) -> int:
        port = free_port()
        ndir = self.dir / "nginx"
        ndir.mkdir()
        servers = " ".join(f"server 127.0.0.1:{p} max_fails=0;" for p in ports)
        user = "user root root;" if os.geteuid() == 0 else ""
        (ndir / "nginx.conf").write_text(NGINX_CONF.format(dir=ndir, servers=servers, port=port, user=user))
        self.nginx = subprocess.Popen([nginx_binary(), "-c", str(ndir / "nginx.conf"), "-p", str(ndir)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        if not wait_port(port):
            raise RuntimeError("nginx did not come up: " + (ndir / "nginx_error.log").read_text()[-1000:])
        return port

    def client(self, timeout: float | None = None) -> Client:
        return Client(self.base, self.token, timeout or self.client_timeout, self.give_up)

    def close(self) -> None:
        horses = [pid for w in self.workers for pid in work_horses(w.pid)]  # own process groups
        for p in self.serves + self.workers:
            p.kill_group()
        for pid in horses:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for pid in self.orphans:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if self.nginx is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.nginx.pid, signal.SIGKILL)
        self.redis.stop()
        self.pg.stop("immediate")
        self.storage.close()

    # job load ---------------------------------------------------------------------------
    def exports(self, tally: Tally, n: int) -> None:
        c = self.client()
        for _ in range(n):
            r = c.post(tally, "/api/ledgers/exports", json={"case_type": "visits.visit"})
            if r is not None and r.status_code == 202:
                tally.exports.append(r.json()["id"])

    def reminders(self, n: int) -> int:
        """Move the accept limits of ``n`` of the load's cases into the past, then one sweep:
        ``n`` overdue reminders, each an outbox job (a timeline event and to-dos)."""
        moved = self.sql(f"""UPDATE case_deadline SET due_at = now() - interval '1 minute' WHERE id IN (
            SELECT d.id FROM case_deadline d JOIN case_record c ON c.id = d.case_id
            WHERE c.title LIKE '{MARK}%' AND d.state = 'running' AND d.reminded = 0 LIMIT {int(n)}) RETURNING id""")
        self.helper("sweep", "3600")  # (or the workers' own scheduled sweep, whichever comes first)
        return len(moved)

    def upload(self, tally: Tally, case_id: int, once: bool = False) -> None:
        """One attachment; ``once``: a single try (during a storage fault its answer is what counts)."""
        import hashlib
        body = f"故障演练附件 {uuid.uuid4()}\n".encode() * 50
        c = Client(self.base, self.token, self.client_timeout, 0.0) if once else self.client()
        r = c.post(tally, f"/api/cases/{case_id}/attachments",
                               files={"file": ("note.txt", body, "text/plain")})
        if r is not None and r.status_code == 201:
            with tally.lock:
                tally.uploads.append((case_id, r.json()["id"], hashlib.sha256(body).hexdigest()))

    # recovery and the checks ------------------------------------------------------------
    def settle(self, fault_end: float) -> tuple[float | None, Check]:
        since, prefix = self.phase_started, f"{MARK}{self.phase_no:02d}"
        """Wait until no outbox row is pending, no job run is queued or running and no reminder
        pending (running the sweep like the scheduler does, every few seconds); the time from
        the fault's end, or None if it did not drain within the limit."""
        stale = "10" if self.quick else "60"
        last_sweep = 0.0
        while True:
            check = observe(self.pg.dsn(), since, prefix)
            if not (check.outbox_pending or check.jobs_stuck or check.reminders_pending):
                return time.monotonic() - fault_end, check
            if time.monotonic() - fault_end > self.recovery_limit:
                return None, check
            if time.monotonic() - last_sweep > (5 if self.quick else 30):
                with contextlib.suppress(RuntimeError):
                    self.helper("sweep", stale)
                last_sweep = time.monotonic()
            time.sleep(1)

    def audit_ok(self) -> str:
        r = self.pingan("audit", "verify", check=False)
        return "ok" if r.returncode == 0 else "BROKEN: " + (r.stderr or r.stdout).strip()[-200:]

    def supervise(self) -> None:
        """What systemd does: a worker or serve that died is started again."""
        for p in self.workers:
            if not p.alive():
                p.start()

    def row(self, name: str, iterations: int, tally_: Tally, fault_end: float, notes: list) -> Row:
        drained, check = self.settle(fault_end)
        lost, dup, examples = tally(tally_.acked, check)
        stuck = check.jobs_stuck + check.outbox_pending + check.reminders_pending
        lost += stuck
        if stuck:
            notes.append(f"after {self.recovery_limit:.0f} s: {check.outbox_pending} outbox pending, "
                         f"{check.jobs_stuck} job runs queued/running, {check.reminders_pending} reminders pending")
            notes.append(self.diagnose())
        lost_files = self.verify_uploads(tally_.uploads)
        lost += lost_files
        if lost_files:
            notes.append(f"{lost_files} acknowledged attachments unreadable")
        if check.outbox_failed or check.jobs_failed:
            notes.append(f"failed for good: {check.outbox_failed} outbox, {check.jobs_failed} job runs")
        notes += examples
        first = tally_.first_ok_after.get(fault_end)
        rec = (f"{first - fault_end:.1f} s" if first else "–") + " / " + (f"{drained:.1f} s" if drained is not None
                                                                           else "not drained")
        work = f"{len(tally_.acked)} writes"
        if tally_.exports:
            work += f", {len(tally_.exports)} exports"
        if tally_.uploads:
            work += f", {len(tally_.uploads)} uploads"
        if getattr(tally_, "reminders", 0):
            work += f", {tally_.reminders} reminders"
        r = Row(name, iterations, work, lost, dup, tally_.failures, tally_.attempts, rec, self.audit_ok(), notes)
        log(" | ".join(r.cells()))
        return r

    def diagnose(self) -> str:
        """What the stuck work waits on: the database's busy sessions and the work horses' kernel
        wait channels (also written to diagnose.txt in the folder)."""
        busy = self.sql("SELECT pid, usename, state, wait_event_type || ':' || wait_event, "
                        "round(extract(epoch FROM now() - xact_start)), left(query, 120) FROM pg_stat_activity "
                        "WHERE datname = 'pingan' AND pid <> pg_backend_pid() AND state <> 'idle'")
        horses = []
        for w in self.workers:
            for pid in work_horses(w.pid):
                with contextlib.suppress(OSError):
                    horses.append(f"horse {pid} of {w.name}: wchan {Path(f'/proc/{pid}/wchan').read_text()}, "
                                  f"{len(list(Path(f'/proc/{pid}/task').iterdir()))} threads")
        text = "busy sessions: " + "; ".join(" ".join(str(c) for c in r) for r in busy) + " | " + "; ".join(horses)
        with open(self.dir / "diagnose.txt", "a", encoding="utf-8") as f:
            f.write(text + "\n")
        return text[:600]

    def verify_uploads(self, uploads: list) -> int:
        import hashlib
        bad = 0
        c = self.client(timeout=30)
        for case_id, att_id, sha in uploads:
            r = c.http.get(f"{self.base}/api/cases/{case_id}/attachments/{att_id}", timeout=30)
            if r.status_code != 200 or hashlib.sha256(r.content).hexdigest() != sha:
                bad += 1
        return bad

    # the phases -------------------------------------------------------------------------
    def phase(self, name: str, fault, iterations: int = 1, threads: int = 4) -> Row:
        """Load on; ``fault(tally, notes)`` (returns when the fault is over); load on a little
        longer; then recovery and the checks."""
        self.phase_no += 1
        self.phase_started = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)
        log(f"phase {name}")
        t, notes = Tally(), []
        t.reminders = 0
        lead, tail = (1.0, 2.0) if self.quick else (5.0, 10.0)
        with Load(self, t, threads):
            time.sleep(lead)
            fault(t, notes)
            end = time.monotonic()
            t.first_ok_after[end] = None
            time.sleep(tail)
            deadline = time.monotonic() + self.give_up
            while t.first_ok_after[end] is None and time.monotonic() < deadline:
                time.sleep(0.2)
        self.supervise()
        return self.row(name, iterations, t, end, notes)

    def baseline(self, t: Tally, notes: list) -> None:
        self.exports(t, 2)
        time.sleep(3 if self.quick else 10)
        t.reminders += self.reminders(10)

    def kill_workers(self, t: Tally, notes: list) -> None:
        """``self.kills`` kill -9 of a work horse mid-job; every tenth (at least one) of a worker's
        parent instead, checking that nothing of it (rq's scheduler) lives on. A feeder keeps
        the queue busy meanwhile (an export every half second, ten reminders every few)."""
        parents = max(1, self.kills // 10)
        every = max(1, self.kills // parents)
        killed = horses = missed = 0
        stop = threading.Event()
        feeder = threading.Thread(target=self.feed, args=(t, stop), daemon=True)
        feeder.start()
        try:
            for i in range(self.kills):
                if i % every == every - 1:
                    self.kill_parent(self.workers[i % 2], notes)
                    killed += 1
                    continue
                end = time.monotonic() + 30
                while time.monotonic() < end:
                    found = [(w, pid) for w in self.workers for pid in work_horses(w.pid)]
                    if found:
                        time.sleep(random.uniform(0, 0.05))
                        try:
                            os.kill(random.choice(found)[1], signal.SIGKILL)
                            horses += 1
                            break
                        except ProcessLookupError:
                            continue  # it finished first: try again
                    time.sleep(0.005)
                else:
                    missed += 1
                self.supervise()
                time.sleep(random.uniform(0.1, 0.5))
        finally:
            stop.set()
            feeder.join()
        notes.append(f"{horses} work horses and {killed} worker parents killed"
                     + (f", {missed} times no job running within 30 s" if missed else ""))

    def feed(self, t: Tally, stop: threading.Event) -> None:
        n = 0
        while not stop.is_set():
            self.exports(t, 1)
            if n % 8 == 0:
                t.reminders += self.reminders(10)
            n += 1
            stop.wait(0.5)

    def kill_parent(self, w: Proc, notes: list) -> None:
        pgid = w.pid
        children = {pid for pid, ppid, _ in proc_table() if ppid == pgid}
        w.signal(signal.SIGKILL)
        w.wait(5)
        time.sleep(2)
        alive = {pid for pid, _, _ in proc_table()}
        left = sorted(set(group_members(pgid)) | (children & alive))
        if left:
            r = self.redis.client()
            locks = {k.decode(): (r.get(k) or b"").decode() for k in r.keys("rq:scheduler-lock:*")}
            notes.append(f"kill -9 of worker parent {pgid}: {len(left)} process(es) of it live on "
                         f"(scheduler locks {locks})")
            self.orphans += left
        w.start()

    def pg_restart(self, t: Tally, notes: list) -> None:
        self.pg.restart()

    def pg_stop(self, t: Tally, notes: list) -> None:
        self.pg.stop("fast")
        time.sleep(12)
        self.pg.start()

    def redis_down(self, t: Tally, notes: list) -> None:
        self.exports(t, 2)
        self.redis.stop()
        stopped = time.monotonic()
        self.exports(t, 2)  # accepted while Redis is down: the outbox must deliver them later
        time.sleep(max(0.0, self.redis_outage - (time.monotonic() - stopped)))
        self.redis.start()
        self.check_worker_stop(notes)

    def check_worker_stop(self, notes: list) -> None:
        """A worker that lived through the outage: how long SIGTERM takes (issue 25, item 8)."""
        w = self.workers[0]
        time.sleep(2)
        gone = [f"{p.name} (exit status {p.proc.returncode})" for p in self.workers if not p.alive()]
        if gone:
            notes.append(f"{', '.join(gone)} had exited during the outage (started again, as systemd would)")
            self.supervise()
            time.sleep(3)
        t0 = time.monotonic()
        w.signal(signal.SIGTERM)
        if not w.wait(30 if self.quick else 90):
            notes.append("worker still running 30+ s after SIGTERM (killed)")
            w.kill_group()
        else:
            notes.append(f"worker stopped {time.monotonic() - t0:.1f} s after SIGTERM")
        w.start()

    def redis_flush(self, t: Tally, notes: list) -> None:
        """Workers frozen (SIGSTOP), jobs queued, FLUSHALL, workers go on."""
        for w in self.workers:
            os.killpg(w.pid, signal.SIGSTOP)
        try:
            self.exports(t, 3)
            t.reminders += self.reminders(10)
            queued = sum(self.redis.client().llen(k) for k in self.redis.client().keys("rq:queue:*"))
            self.redis.client().flushall()
            notes.append(f"{queued} jobs in Redis flushed")
        finally:
            for w in self.workers:
                os.killpg(w.pid, signal.SIGCONT)

    def lock_hot(self, t: Tally, notes: list) -> None:
        """A connection holds FOR UPDATE on case_record rows and the audit head for a while."""
        import psycopg
        hold = self.lock_hold
        with psycopg.connect(self.pg.dsn()) as conn:
            conn.execute("SELECT id FROM audit_head FOR UPDATE")
            conn.execute(f"SELECT id FROM case_record WHERE title LIKE '{MARK}%' FOR UPDATE")
            t0 = time.monotonic()
            c = self.client(timeout=30)
            probe = c.http.get(self.base + "/healthz", timeout=hold + 60)
            notes.append(f"/healthz took {time.monotonic() - t0:.1f} s ({probe.status_code}) during the lock")
            time.sleep(max(0.0, hold - (time.monotonic() - t0)))
            conn.rollback()

    def serve_sigterm(self, t: Tally, notes: list) -> None:
        """Rolling restart: SIGTERM each serve in turn under load, start it again."""
        for p in self.serves:
            t0 = time.monotonic()
            p.signal(signal.SIGTERM)
            exited = p.wait(60)
            notes.append(f"{p.name} exited {time.monotonic() - t0:.1f} s after SIGTERM" if exited
                         else f"{p.name} still up 60 s after SIGTERM (killed)")
            if not exited:
                p.kill_group()
            p.start()
            wait_port(p.port, 60)
            time.sleep(1)

    def storage_fault(self, mode: str):
        def fault(t: Tally, notes: list) -> None:
            cases = [cid for _, cid in t.acked[-20:]] or [cid for cid, in self.sql(
                f"SELECT id FROM case_record WHERE title LIKE '{MARK}%' LIMIT 20")]
            self.upload(t, cases[0])  # one before the fault
            if mode == "ro":
                self.storage.read_only(True)
            else:
                self.storage.fill()
            try:
                for cid in cases[:6 if self.quick else 20]:
                    self.upload(t, cid, once=True)
                self.exports(t, 1)
            finally:
                if mode == "ro":
                    self.storage.read_only(False)
                else:
                    self.storage.unfill()
            self.upload(t, cases[-1])  # one after
        return fault


def short_timeouts(quick: bool) -> dict:
    """Settings of the reliability features that the harness shortens so a quick run can see
    them work (only those the installed core declares; see docs/configuration.md)."""
    try:
        sys.path.insert(0, str(ROOT))
        from core.config import SETTINGS
    except Exception:  # noqa: BLE001
        return {}
    declared = {s.env for s in SETTINGS}
    wanted = {"PINGAN_JOB_LEASE_SECONDS": "10" if quick else "60"}
    return {k: v for k, v in wanted.items() if k in declared}


def features() -> list[str]:
    """Which of issue 25's features the checkout has (by the settings and code they add)."""
    from core.config import SETTINGS
    names = {s.env for s in SETTINGS}
    found = [n for n in sorted(names) if any(w in n for w in ("TIMEOUT", "LEASE", "GRACE", "IDEMPOTEN", "QUEUE"))]
    src = lambda p: (ROOT / p).read_text(encoding="utf-8") if (ROOT / p).exists() else ""  # noqa: E731
    if "Idempotency-Key" in "".join(src(p) for p in ("core/request.py", "core/app.py", "core/idempotency.py")):
        found.append("Idempotency-Key handling")
    return found or ["none of issue 25's settings declared yet"]


def plan(h: Harness) -> list:
    storage = [("storage read-only", h.storage_fault("ro"), 1), ("storage full", h.storage_fault("full"), 1)]
    return [
        ("baseline (no fault)", h.baseline, 1),
        (f"kill -9 workers mid-job", h.kill_workers, h.kills),
        ("PostgreSQL restart", h.pg_restart, 1),
        ("PostgreSQL stopped 12 s", h.pg_stop, 1),
        (f"Redis down {h.redis_outage:.0f} s", h.redis_down, 1),
        ("Redis FLUSHALL, jobs queued", h.redis_flush, 1),
        (f"lock on case_record + audit_head {h.lock_hold:.0f} s", h.lock_hot, 1),
        ("SIGTERM serve under load (rolling)", h.serve_sigterm, len(h.serves)),
        *(storage if h.storage.mounted else []),
    ]


def run(quick: bool = True, kills: int = 6, self_check: bool = False, keep: bool = False,
        only: list[str] | None = None, progress=None) -> Report:
    """The suite; ``progress(report)`` after each phase (the script writes the table so far)."""
    folder = Path(tempfile.mkdtemp(prefix="pingan-faults-"))
    h = Harness(quick, kills, folder)
    started = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    rows = []
    try:
        setup = h.setup()
        log(setup)
        for name, fault, n in plan(h):
            if only and not any(o in name for o in only):
                continue
            rows.append(h.phase(name, fault, n))
            if progress is not None:
                progress(Report(rows, features(), started, setup))
        if not h.storage.mounted:
            rows.append(Row("storage read-only / full", 0, "skipped: tmpfs could not be mounted here", 0, 0,
                            Counter(), 0, "–", "–", []))
        if self_check:
            rows.append(self_check_row(h, rows))
        return Report(rows, features(), started, setup)
    finally:
        if keep:
            log(f"kept {folder} (processes stopped)")
        h.close()
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)


def self_check_row(h: Harness, rows: list) -> Row:
    """Prove the checker on the real database: rename one acknowledged case (it is "lost") and
    give a second one a third one's marker (a duplicate); the checker must see both."""
    marks = [t.split(" ", 1)[0] for t, in h.sql(f"SELECT title FROM case_record WHERE title LIKE '{MARK}%' "
                                                 "ORDER BY id LIMIT 3")]
    acked = [(m, 0) for m in marks]
    lost0, dup0, _ = tally(acked, observe(h.pg.dsn()))
    h.sql(f"UPDATE case_record SET title = 'gone ' || title WHERE title LIKE '{marks[0]} %'")
    h.sql(f"UPDATE case_record SET title = '{marks[1]} copy' WHERE title LIKE '{marks[2]} %'")
    lost, dup, ex = tally(acked, observe(h.pg.dsn()))
    lost, dup = lost - lost0, dup - dup0
    ok = lost == 2 and dup == 1  # marks[0] gone and marks[2] renamed away; marks[1] twice
    return Row(f"{SELF_CHECK} (1 row renamed away, 1 duplicated)", 1, "checker on the real DB", lost, dup, Counter(), 0,
               "–", "–", ["checker OK" if ok else "CHECKER BROKEN"] + ex)


# --- helpers run as subprocesses with the app's environment --------------------------------

def _helper(args: list[str]) -> None:
    sys.path.insert(0, str(ROOT))
    from sqlalchemy import select
    from core.cli import _config, _state
    from core.context import Actor, acting_as
    from core.db import bind_tenant
    from core.models import Tenant, User
    state = _state(_config())
    with state.db.Session() as s:
        tid = s.scalar(select(Tenant.id).where(Tenant.slug == TENANT))
    if args[0] == "token":
        from core import auth
        with acting_as(Actor(None, "bench:faults")), state.db.transaction(tid) as s:
            user = s.scalar(select(User).where(User.username == "county.admin"))
            # the county admin has changed the one-time password of `pingan tenant load` (until then
            # every API call of theirs, a token's too, is 403 password_change_required)
            user.must_change_password = False
            _, token = auth.create_access_token(s, user, "fault suite")
        print(token)
    elif args[0] == "sweep":
        from core import jobs
        from core.cases import sweep
        jobs.bind_state(state)
        with acting_as(Actor(None, "bench:faults")), bind_tenant(tid), state.db.transaction(tid) as s:
            out = sweep.run(s, state.plugins, stale=dt.timedelta(seconds=int(args[1])))
        print(json.dumps(out))


def machine_line() -> str:
    sys.path.insert(0, str(ROOT))
    from bench import _common
    text = _common.machine()
    return text.split(", PostgreSQL")[0] + "; load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def write_report(report: Report, args_line: str) -> Path:
    path = ROOT / "bench" / "results" / "faults.md"
    keep = ""
    if path.exists() and "<!-- reading:" in path.read_text(encoding="utf-8"):
        keep = path.read_text(encoding="utf-8").split("<!-- reading:", 1)[1]
        keep = "\n<!-- reading:" + keep
    text = (f"# Fault suite (issue 25)\n\n`{args_line}` — {report.started}\n\n"
            f"Machine: {machine_line()}.\n\nSet-up: {report.setup}.\n\n"
            f"Reliability features present in the checkout: {', '.join(report.features)}.\n\n"
            f"{report.table()}\n\n"
            f"Totals: {report.lost} lost, {report.duplicated} duplicated, {report.errors_500} answers 500.\n\n"
            "Lost = an acknowledged write missing, an outbox row still pending, a job run still queued or "
            "running, a reminder still pending after the recovery limit, or an acknowledged attachment "
            "unreadable. Duplicated = a marker on two rows, or a reminder with two timeline events. "
            "Failed requests count every attempt (a retry is a new attempt); \"timeout\" and \"conn\" are "
            "the client's own timeout and refused or cut connections.\n" + keep)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "_helper":
        _helper(argv[1:])
        return 0
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--kills", type=int, default=None, help="kill -9 of workers (default 120; --quick 6)")
    p.add_argument("--quick", action="store_true", help="a few iterations of each fault (minutes)")
    p.add_argument("--self-check", action="store_true", help="finally prove the checker on the real database")
    p.add_argument("--only", action="append", help="only the phases whose name contains this (repeatable)")
    p.add_argument("--keep", action="store_true", help="keep the temporary folder (logs)")
    args = p.parse_args(argv)
    import faulthandler
    faulthandler.register(signal.SIGUSR1)  # kill -USR1 <pid>: every thread's stack, when a phase hangs
    why = missing_services()
    if why:
        print(f"cannot run: {why}", file=sys.stderr)
        return 2
    kills = args.kills if args.kills is not None else (6 if args.quick else 120)
    line = "bench/faults.py " + " ".join(argv)
    report = run(args.quick, kills, args.self_check, args.keep, args.only,
                 progress=lambda r: write_report(r, line + " (in progress)"))
    print(report.table())
    print(f"\n{report.lost} lost, {report.duplicated} duplicated, {report.errors_500} answers 500")
    print(f"written to {write_report(report, line)}")
    return 1 if report.lost or report.duplicated or report.errors_500 else 0


if __name__ == "__main__":
    sys.exit(main())
