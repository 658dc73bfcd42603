"""Per-request cost (issue 24, item 4): ``/healthz`` against a bare Flask app under the same
servers, and what registering a petition costs in statements and app CPU.

``healthz``: ``wrk`` (10 s runs, 127.0.0.1 only) against

- pingan and a bare Flask app that answers ``/healthz`` with the same body (``{"status":"ok"}``),
  each under waitress (one process, ``--threads`` threads, as ``pingan serve`` runs it) and under
  gunicorn (``--workers`` sync workers; skipped when gunicorn is not installed: ``pip install
  -e '.[server]'``);
- pingan behind nginx (Debian's; skipped without it): one ``pingan serve``, N ``pingan serve``
  processes, and gunicorn's N workers — the production layouts docs/operations.md compares.

Each server is started fresh, warmed with 200 requests, then measured once; the load average
is read before each run. The servers run with ``PINGAN_REDIS_URL`` set (so ``pingan serve``
starts no in-process job runner) and a SQLite file nobody reads: ``/healthz`` touches neither.

``register``: its own SQLite database (or ``--pg``: PostgreSQL database
``pingan_bench_overhead``, created when missing and rebuilt every run) with the demo county
and the petition module on; ``--n`` registrations ``POST /api/cases`` of ``petition.case`` with
one person each through the Werkzeug test client (the app in this process: thread CPU time is
the app's own; on SQLite it includes the database's work), with a personal access token (and
``--key``: an ``Idempotency-Key``): half new petitioners, half returning ones. Statements are counted with ``before_cursor_execute``.

``--root DIR`` runs another copy of the code (e.g. ``git archive HEAD | tar -x -C DIR``) with
the same interpreter: the before/after comparison in one sitting. Results of every label are
kept in ``results/overhead_run.json`` and rendered to ``results/overhead.md``.

    .venv/bin/python bench/overhead.py healthz [--label after] [--root DIR] [--only waitress,gunicorn,nginx]
    .venv/bin/python bench/overhead.py register [--label after] [--root DIR] [--n 200] [--pg]
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
MAIN = HERE.parent
RESULTS = HERE / "results"
RUN_FILE = RESULTS / "overhead_run.json"
REPORT = RESULTS / "overhead.md"
PG_SERVER = os.environ.get("PINGAN_BENCH_PG", "postgres@127.0.0.1:5432")
PG_DB = "pingan_bench_overhead"
REDIS_URL = os.environ.get("PINGAN_BENCH_REDIS", "redis://127.0.0.1:6379/3")

BARE_APP = '''
from flask import Flask, jsonify
app = Flask("bare")

@app.route("/healthz")
def healthz():
    return jsonify(status="ok")

if __name__ == "__main__":
    import sys
    from waitress import create_server
    create_server(app, host="127.0.0.1", port=int(sys.argv[1]), threads=int(sys.argv[2])).run()
'''

# as docs/operations.md ("Rolling restarts"): no upstream keep-alive, one connection per request
NGINX_CONF = """
worker_processes 1;
daemon off;
{user}
pid {dir}/nginx.pid;
error_log {dir}/nginx_error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body; proxy_temp_path {dir}/proxy; fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi; scgi_temp_path {dir}/scgi;
    upstream pingan {{ {servers} }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://pingan;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto http;
        }}
    }}
}}
"""


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, seconds: float = 60) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
        time.sleep(0.1)
    return False


def wait_healthz(port: int, seconds: float = 120) -> bool:
    """Until ``/healthz`` answers 200 (gunicorn listens before its workers have loaded the app)."""
    import urllib.request
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
                if r.status == 200:
                    for _ in range(20):  # every worker answers once (sync workers: one at a time)
                        urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5).read()
                    return True
        time.sleep(0.2)
    return False


def python() -> str:
    venv = MAIN / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def gunicorn_available() -> bool:
    return subprocess.run([python(), "-c", "import gunicorn"], capture_output=True).returncode == 0


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None)


class Servers:
    """The processes of one measurement, each in its own process group, killed at the end."""

    def __init__(self, root: Path, folder: Path) -> None:
        self.root, self.folder, self.procs = root, folder, []
        (folder / "bare.py").write_text(BARE_APP)

    def env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PINGAN_")}
        env.update(PYTHONPATH=str(self.root), PINGAN_INSTANCE_DIR=str(self.folder / "instance"),
                   PINGAN_DATABASE_URL=f"sqlite:///{self.folder / 'unused.sqlite3'}", PINGAN_REDIS_URL=REDIS_URL,
                   PINGAN_LOG_LEVEL="INFO")
        return env

    def start(self, name: str, args: list[str], port: int, cwd: Path | None = None) -> int:
        log = open(self.folder / f"{name}.log", "ab")
        p = subprocess.Popen(args, env=self.env(), cwd=cwd or self.root, stdout=log, stderr=subprocess.STDOUT,
                             start_new_session=True)
        self.procs.append(p)
        if not (wait_port(port) and (name.startswith("nginx") or wait_healthz(port))):
            raise RuntimeError(f"{name} did not come up: {(self.folder / (name + '.log')).read_text()[-2000:]}")
        return port

    def pingan_waitress(self, threads: int) -> int:
        port = free_port()
        args = [python(), "-c", "from core.cli import main; main()", "serve", "--port", str(port),
                "--threads", str(threads)]
        return self.start(f"pingan-waitress-{port}", args, port)

    def bare_waitress(self, threads: int) -> int:
        port = free_port()
        return self.start(f"bare-waitress-{port}", [python(), str(self.folder / "bare.py"), str(port), str(threads)],
                          port, cwd=self.folder)

    def gunicorn(self, target: str, workers: int, cwd: Path | None = None) -> int:
        port = free_port()
        args = [python(), "-m", "gunicorn", "--workers", str(workers), "--bind", f"127.0.0.1:{port}", target]
        return self.start(f"gunicorn-{port}", args, port, cwd=cwd)

    def nginx(self, ports: list[int]) -> int:
        port = free_port()
        ndir = self.folder / f"nginx-{port}"
        ndir.mkdir()
        servers = " ".join(f"server 127.0.0.1:{p} max_fails=0;" for p in ports)
        user = "user root root;" if os.geteuid() == 0 else ""
        (ndir / "nginx.conf").write_text(NGINX_CONF.format(dir=ndir, servers=servers, port=port, user=user))
        return self.start(f"nginx-{port}", [nginx_binary(), "-c", str(ndir / "nginx.conf"), "-p", str(ndir)], port)

    def stop(self) -> None:
        for p in self.procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        self.procs = []


def _duration_ms(text: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s|m)", text)
    if not m:
        return float("nan")
    v, unit = float(m.group(1)), m.group(2)
    return v / 1000 if unit == "us" else v if unit == "ms" else v * 1000 if unit == "s" else v * 60000


def wrk(port: int, seconds: int, connections: int) -> dict:
    """One bounded wrk run against 127.0.0.1 (2 threads), after a warm-up."""
    url = f"http://127.0.0.1:{port}/healthz"
    subprocess.run(["wrk", "-t1", "-c2", "-d1s", url], capture_output=True, check=True)  # warm-up
    load = loadavg()
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url],
                         capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = {q: _duration_ms(v) for q, v in re.findall(r"^\s+(50|90|99)%\s+(\S+)", out, re.M)}
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    return {"rps": rps, "p50_ms": lat.get("50"), "p90_ms": lat.get("90"), "p99_ms": lat.get("99"),
            "non_2xx": int(errors.group(1)) if errors else 0,
            "socket_errors": socket_errors.group(1).strip() if socket_errors else "", "load": load}


def healthz(args) -> dict:
    root = Path(args.root).resolve() if args.root else MAIN
    only = set(args.only.split(",")) if args.only else {"waitress", "gunicorn", "nginx"}
    have_gunicorn = gunicorn_available()
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="pingan-overhead-") as tmp:
        folder = Path(tmp)
        (folder / "instance").mkdir()
        plans = []
        if "waitress" in only:
            plans += [("bare Flask", f"waitress, 1 process × {args.threads} threads",
                       lambda s: s.bare_waitress(args.threads)),
                      ("pingan", f"waitress, 1 process × {args.threads} threads",
                       lambda s: s.pingan_waitress(args.threads))]
        if "gunicorn" in only and have_gunicorn:
            plans += [("bare Flask", f"gunicorn, {args.workers} sync workers",
                       lambda s: s.gunicorn("bare:app", args.workers, cwd=s.folder)),
                      ("pingan", f"gunicorn, {args.workers} sync workers",
                       lambda s: s.gunicorn("core.app:create_app()", args.workers))]
        if "nginx" in only and nginx_binary():
            per = max(1, args.threads // args.workers)
            plans += [("pingan", f"nginx → 1 × waitress ({args.threads} threads)",
                       lambda s: s.nginx([s.pingan_waitress(args.threads)])),
                      ("pingan", f"nginx → {args.workers} × waitress ({per} threads each)",
                       lambda s: s.nginx([s.pingan_waitress(per) for _ in range(args.workers)]))]
            if have_gunicorn:
                plans.append(("pingan", f"nginx → gunicorn, {args.workers} sync workers",
                               lambda s: s.nginx([s.gunicorn("core.app:create_app()", args.workers)])))
        for app_name, server, start in plans:
            servers = Servers(root, folder)
            try:
                port = start(servers)
                result = wrk(port, args.duration, args.connections)
            finally:
                servers.stop()
            rows.append({"app": app_name, "server": server, **result})
            print(f"{app_name:10} {server:45} {result['rps']:8.0f} req/s  p50 {result['p50_ms']:.2f} ms  "
                  f"p99 {result['p99_ms']:.2f} ms  load {result['load']}", flush=True)
    load = loadavg()
    cpu = [wsgi_cpu(root, 3000) for _ in range(3)]
    cpu = {k: statistics.median(c[k] for c in cpu) for k in cpu[0]}
    print(f"WSGI CPU per request: bare {cpu['bare_us']:.0f} µs, pingan {cpu['pingan_us']:.0f} µs, "
          f"pingan without INFO lines {cpu['pingan_no_info_us']:.0f} µs", flush=True)
    return {"kind": "healthz", "rows": rows, "connections": args.connections, "duration_s": args.duration,
            "gunicorn": have_gunicorn, "cpu": {**cpu, "load": load}}


# --- registration --------------------------------------------------------------------------

def register(args) -> dict:
    """Run in a child interpreter with the chosen code root first on ``sys.path``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PINGAN_")}
    root = Path(args.root).resolve() if args.root else MAIN
    env["PYTHONPATH"] = str(root)
    with tempfile.TemporaryDirectory(prefix="pingan-overhead-reg-") as tmp:
        out = Path(tmp) / "result.json"
        cmd = [python(), str(HERE / "overhead.py"), "_register", "--n", str(args.n), "--out", str(out),
               "--instance", tmp] + (["--pg"] if args.pg else []) + (["--key"] if args.key else [])
        subprocess.run(cmd, env=env, cwd=root, check=True)
        return json.loads(out.read_text())


def wsgi_cpu(root: Path, n: int) -> dict:
    """CPU time per ``/healthz`` through the WSGI app in one process (no server, no socket):
    pingan with its log line (written to /dev/null by its writer), pingan with INFO lines off,
    and the bare app — process CPU time, so the log writer's thread counts too. Less at the
    mercy of a busy machine than req/s: contention stretches wall time, not CPU time."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PINGAN_")}
    env["PYTHONPATH"] = str(root)
    out = subprocess.run([python(), str(HERE / "overhead.py"), "_wsgi_cpu", "--n", str(n)], env=env, cwd=root,
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def _wsgi_cpu_here(args) -> None:
    import io
    import logging

    from flask import Flask, jsonify

    from core import logs
    from core.app import create_app
    from core.config import Config
    bare = Flask("bare")
    bare.route("/healthz")(lambda: jsonify(status="ok"))
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(Config.from_env(env="development", database_url=f"sqlite:///{tmp}/unused.sqlite3",
                                         instance_dir=Path(tmp), redis_url=REDIS_URL))
        devnull = open(os.devnull, "w")
        for h in logging.getLogger().handlers + logging.getLogger("pingan").handlers:
            if isinstance(h, logging.StreamHandler):
                h.setStream(devnull)
        output = getattr(logs, "_output", None)
        if output is not None and hasattr(output, "stream"):
            output.stream = devnull
        environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/healthz", "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80",
                   "wsgi.url_scheme": "http", "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "127.0.0.1"}

        def per_request(wsgi, n):
            for _ in range(200):
                b"".join(wsgi({**environ, "wsgi.input": io.BytesIO()}, lambda *a: None))
            t = time.process_time()
            for _ in range(n):
                b"".join(wsgi({**environ, "wsgi.input": io.BytesIO()}, lambda *a: None))
            if output is not None and hasattr(output, "drain"):
                output.drain()
            return (time.process_time() - t) / n * 1e6

        result = {"bare_us": per_request(bare.wsgi_app, args.n), "pingan_us": per_request(app.wsgi_app, args.n)}
        logging.getLogger("pingan").setLevel("WARNING")
        result["pingan_no_info_us"] = per_request(app.wsgi_app, args.n)
    print(json.dumps(result))


def _register_here(args) -> None:
    import uuid

    from sqlalchemy import create_engine, event, select, text

    from core import auth
    from core.app import create_app, pingan
    from core.config import Config
    from core.context import Actor, acting_as
    from core.migrate import upgrade
    from core.models import OrgUnit, User
    from core.tenant_config import apply, validate_folder

    if args.pg:
        admin = create_engine(f"postgresql+psycopg://{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)"))
            conn.execute(text(f"CREATE DATABASE {PG_DB}"))
        admin.dispose()
        url = f"postgresql+psycopg://{PG_SERVER}/{PG_DB}"
    else:
        url = f"sqlite:///{Path(args.instance) / 'bench.sqlite3'}"
    config = Config.from_env(env="test", database_url=url, redis_url=None, instance_dir=Path(args.instance),
                             login_ip_limit=100000)
    app = create_app(config)
    state = pingan(app)
    upgrade(config, state.plugins)
    code_root = Path(os.environ.get("PYTHONPATH", str(MAIN)).split(os.pathsep)[0])
    spec, issues = validate_folder(code_root / "tenants" / "demo", state.plugins)  # the demo county of that code
    assert not issues, issues
    spec.data = {**spec.data, "slug": "bench", "domains": ["bench.localhost"]}
    with acting_as(Actor(None, "bench")), state.db.Session() as s, s.begin():
        tid = apply(s, spec, state.plugins, demo=True).tenant_id
    with state.db.transaction(tid) as s:
        unit = s.scalar(select(OrgUnit.id).where(OrgUnit.code == "T01D1V1"))
    with acting_as(Actor(None, "bench")), state.db.transaction(tid) as s:
        user = s.scalar(select(User).where(User.username == "county.admin"))
        _, token = auth.create_access_token(s, user, "bench")
    http = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}

    def call(method: str, path: str, body: dict | None = None, key: bool = False):
        h = dict(headers, **({"Idempotency-Key": uuid.uuid4().hex} if key else {}))
        r = http.open(path, method=method, base_url="http://bench.localhost", headers=h, json=body)
        assert r.status_code in (200, 201), (path, r.status_code, r.get_data(as_text=True)[:500])
        return r.get_json()

    call("PUT", "/api/modules/petition", {"enabled": True})
    seen: list[str] = []
    event.listen(state.db.engine, "before_cursor_execute", lambda c, cur, st, *a: seen.append(st))

    def person(i: int) -> int:
        return call("POST", "/api/persons", {"name": f"信访人{i}", "org_unit_id": unit,
                                             "phone": f"139{i:08d}"})["id"]

    def petition(pid: int) -> dict:
        body = {"case_type": "petition.case", "title": "反映承包地被邻居占用", "org_unit_id": unit,
                "content": "邻居占用承包地", "persons": [{"person_id": pid, "role": "petitioner"}],
                "details": {"form": "letter", "category": "land"}}
        return call("POST", "/api/cases", body, key=args.key)

    for i in range(20):  # warm-up: caches, counters, compiled statements
        petition(person(i))
    samples = {"new": [], "returning": []}
    returning: list[int] = []
    for i in range(args.n):
        kind = "returning" if returning and i % 2 else "new"
        pid = returning.pop() if kind == "returning" else person(1000 + i)
        seen.clear()
        cpu, wall = time.thread_time_ns(), time.perf_counter_ns()
        case = petition(pid)
        wall, cpu = time.perf_counter_ns() - wall, time.thread_time_ns() - cpu
        statements = [s for s in seen if not s.lstrip().upper().startswith("BEGIN")]
        samples[kind].append({"wall_ms": wall / 1e6, "cpu_ms": cpu / 1e6, "statements": len(statements),
                              "repeat": "repeat" in case["flags"]})
        if kind == "new":
            returning.append(pid)
    last = statements
    out = {"kind": "register", "database": ("PostgreSQL" if args.pg else "SQLite") + (" + key" if args.key else ""),
           "n": args.n,
           "load_end": loadavg(), "statements_of_last": [s[:200] for s in last]}
    for kind, rows in samples.items():
        if not rows:
            continue
        out[kind] = {"n": len(rows), "statements": max(r["statements"] for r in rows),
                     "wall_ms_p50": statistics.median(r["wall_ms"] for r in rows),
                     "cpu_ms_p50": statistics.median(r["cpu_ms"] for r in rows),
                     "cpu_ms_mean": statistics.fmean(r["cpu_ms"] for r in rows),
                     "repeats": sum(r["repeat"] for r in rows)}
    state.db.dispose()
    Path(args.out).write_text(json.dumps(out, ensure_ascii=False))


# --- report --------------------------------------------------------------------------------

def save(label: str, root: str | None, result: dict) -> None:
    RESULTS.mkdir(exist_ok=True)
    runs = json.loads(RUN_FILE.read_text()) if RUN_FILE.exists() else []
    key = (label, result["kind"], result.get("database"))
    runs = [r for r in runs if (r["label"], r["kind"], r.get("database")) != key]
    runs.append({"label": label, "root": root or "working tree",
                 "at": datetime.now(timezone.utc).isoformat(timespec="seconds"), **result})
    RUN_FILE.write_text(json.dumps(runs, ensure_ascii=False, indent=1))
    render(runs)


def render(runs: list[dict]) -> None:
    kept = ""
    if REPORT.exists():
        text = REPORT.read_text()
        i = text.find("<!-- reading")
        kept = text[i:] if i >= 0 else ""
    lines = ["# Per-request cost: /healthz and registration (issue 24, item 4)", "",
             f"Machine: {platform.node()}, {os.cpu_count()} cores shared with other work; "
             f"Python {platform.python_version()}. Generated by `bench/overhead.py` "
             f"(raw: `results/overhead_run.json`). Load average (1/5/15 min) read before each run.", ""]
    for run in [r for r in runs if r["kind"] == "healthz"]:
        lines += [f"## /healthz — {run['label']} ({run['at']}, {run['root']})", "",
                  f"`wrk -t2 -c{run['connections']} -d{run['duration_s']}s --latency`, 127.0.0.1.", "",
                  "| app | server | req/s | p50 | p90 | p99 | non-2xx | socket errors | load |",
                  "|---|---|---:|---:|---:|---:|---:|---|---|"]
        for r in run["rows"]:
            lines.append(f"| {r['app']} | {r['server']} | {r['rps']:,.0f} | {r['p50_ms']:.2f} ms | "
                         f"{r['p90_ms']:.2f} ms | {r['p99_ms']:.2f} ms | {r['non_2xx']} | "
                         f"{r['socket_errors'] or '—'} | {r['load']} |")
        bare = {r["server"]: r["rps"] for r in run["rows"] if r["app"] == "bare Flask"}
        ratios = [f"{r['server']}: bare/pingan = {bare[r['server']] / r['rps']:.2f}"
                  for r in run["rows"] if r["app"] == "pingan" and r["server"] in bare and r["rps"]]
        if ratios:
            lines += ["", "Ratio in the same run: " + "; ".join(ratios) + " (goal: ≤ 2)."]
        cpu = run.get("cpu")
        if cpu:
            lines += ["", f"CPU per `/healthz` through the WSGI app, one process, median of 3 × 3,000 requests "
                          f"(load {cpu['load']}): bare Flask {cpu['bare_us']:.0f} µs, pingan {cpu['pingan_us']:.0f} µs "
                          f"(**{cpu['pingan_us'] / cpu['bare_us']:.2f}×**), pingan with its INFO lines off "
                          f"{cpu['pingan_no_info_us']:.0f} µs."]
        lines.append("")
    regs = [r for r in runs if r["kind"] == "register"]
    if regs:
        lines += ["## Registering a petition (`POST /api/cases`, `petition.case`, one person)", "",
                  "In-process (Werkzeug test client), personal access token (\"+ key\": with an `Idempotency-Key`); statements "
                  "counted with `before_cursor_execute` (BEGIN excluded), app CPU = the request thread's CPU time.", "",
                  "| label | database | petitioner | n | statements (max) | wall p50 | app CPU p50 | app CPU mean | "
                  "flagged repeat | load at end |", "|---|---|---|---:|---:|---:|---:|---:|---:|---|"]
        for run in regs:
            for kind in ("new", "returning"):
                if kind in run:
                    k = run[kind]
                    lines.append(f"| {run['label']} | {run['database']} | {kind} | {k['n']} | {k['statements']} | "
                                 f"{k['wall_ms_p50']:.1f} ms | {k['cpu_ms_p50']:.1f} ms | {k['cpu_ms_mean']:.1f} ms | "
                                 f"{k['repeats']} | {run['load_end']} |")
        lines.append("")
        for run in regs:
            lines += [f"<details><summary>Statements of the last registration — {run['label']}, "
                      f"{run['database']}</summary>", "", "```"] + run["statements_of_last"] + ["```", "</details>", ""]
    REPORT.write_text("\n".join(lines) + ("\n" + kept if kept else ""))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    h = sub.add_parser("healthz")
    h.add_argument("--label", default="after")
    h.add_argument("--root")
    h.add_argument("--only")
    h.add_argument("--duration", type=int, default=10)
    h.add_argument("--connections", type=int, default=16)
    h.add_argument("--threads", type=int, default=8)
    h.add_argument("--workers", type=int, default=2)
    r = sub.add_parser("register")
    r.add_argument("--label", default="after")
    r.add_argument("--root")
    r.add_argument("--n", type=int, default=200)
    r.add_argument("--pg", action="store_true")
    r.add_argument("--key", action="store_true", help="send an Idempotency-Key (adds its claim and stored answer)")
    wc = sub.add_parser("_wsgi_cpu")
    wc.add_argument("--n", type=int, default=3000)
    inner = sub.add_parser("_register")
    inner.add_argument("--n", type=int)
    inner.add_argument("--out")
    inner.add_argument("--instance")
    inner.add_argument("--pg", action="store_true")
    inner.add_argument("--key", action="store_true")
    args = ap.parse_args()
    if args.cmd == "_register":
        _register_here(args)
        return
    if args.cmd == "_wsgi_cpu":
        _wsgi_cpu_here(args)
        return
    if args.cmd == "healthz" and not 1 <= args.duration <= 30:
        raise SystemExit("runs are bounded: 1 ≤ --duration ≤ 30 s")
    result = healthz(args) if args.cmd == "healthz" else register(args)
    save(args.label, args.root, result)
    print(f"→ {REPORT}")


if __name__ == "__main__":
    main()
