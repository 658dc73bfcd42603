"""Issue 24, item 3: statistics and the home page from tallies kept on write — before and after.

    .venv/bin/python bench/stats.py prepare                       # two copies of bench/mix.py's data set
    .venv/bin/python bench/stats.py measure --label before --code /tmp/before --db pingan_bench_stats_before
    .venv/bin/python bench/stats.py measure --label after                         # this tree, pingan_bench_stats
    .venv/bin/python bench/stats.py report                        # results/stats.md from the two JSON files

``prepare`` copies ``pingan_bench_mix`` (``bench/mix.py generate``: 1M cases, 950k of them
petitions in one county of 10,000 units, eleven users with tokens in ``results/mix_users.json``)
on ``postgres@127.0.0.1:5440`` (``PINGAN_BENCH_PG``) twice with ``createdb -T``: the copy
``pingan_bench_stats_before`` stays at the schema it was generated with, ``pingan_bench_stats``
is upgraded with this tree (``pingan db upgrade``: migration ``0014_case_tally_month`` fills the
month and limit tallies from the rows; its wall time is recorded), then ``VACUUM ANALYZE``.

``measure`` runs one tree's code (``--code``: its ``core`` first on ``sys.path``) on one copy:
the real Flask app (``create_app``, PostgreSQL as the app role ``pingan_app``, RLS on) through
the Werkzeug test client, as a township officer (``mix.township1``: the busiest township) and a
county officer (``mix.county1``), with their personal access tokens (the home page with their
web session cookie): the summary, counts by unit / by state / by month over twelve months,
on-time rates by unit (all time and this year), year on year by unit, and the home page.
Per request: p50 / p95 / p99, and the statements it ran with their bound parameters (captured
with ``before_cursor_execute``). The before tree keeps the past months of the home page's trend
in a per-process cache for ten minutes; its home page is measured both as served (cache warm)
and with the cache emptied before each request (what every tenth-minute or new process pays).
→ ``results/stats_<label>.json``; ``report`` → ``results/stats.md``.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
os.environ.setdefault("PINGAN_BENCH_PG", "postgres@127.0.0.1:5440")
import _common  # noqa: E402

_common.PG_SERVER = os.environ["PINGAN_BENCH_PG"]
from _common import RESULTS, STATS_HEADER, fmt, machine, measure, now_utc, write_result  # noqa: E402

SOURCE_DB = os.environ.get("PINGAN_BENCH_MIX_DB", "pingan_bench_mix")
AFTER_DB, BEFORE_DB = "pingan_bench_stats", "pingan_bench_stats_before"
USERS = RESULTS / "mix_users.json"
WHO = ("mix.township1", "mix.county1")
APP_ROLE = "pingan_app"


def _pg(db: str) -> tuple[str, str, str]:
    user, hostport = _common.PG_SERVER.split("@")
    host, port = hostport.split(":")
    return user, host, port


def _dsn(db: str) -> str:
    user, host, port = _pg(db)
    return f"host={host} port={port} user={user} dbname={db}"


def _refuse(db: str) -> str:
    if db in (SOURCE_DB, "postgres", "template0", "template1") or db == "test" or db.startswith("test_"):
        raise SystemExit(f"refusing to use database {db!r}")
    return db


# --- prepare ----------------------------------------------------------------------------------

def prepare() -> dict:
    user, host, port = _pg(SOURCE_DB)
    out: dict = {"started": now_utc(), "load_before": os.getloadavg()}
    for db in (BEFORE_DB, AFTER_DB):
        _refuse(db)
        subprocess.run(["dropdb", "-h", host, "-p", port, "-U", user, "--if-exists", db], check=True)
        t0 = time.perf_counter()
        subprocess.run(["createdb", "-h", host, "-p", port, "-U", user, "-T", SOURCE_DB, db], check=True)
        out[f"copy {db} s"] = round(time.perf_counter() - t0, 1)
    env = {**os.environ, "PINGAN_DATABASE_URL": f"postgresql+psycopg://{user}@{host}:{port}/{AFTER_DB}",
           "PINGAN_DB_APP_ROLE": APP_ROLE}
    t0 = time.perf_counter()
    subprocess.run([str(HERE.parent / ".venv" / "bin" / "pingan"), "db", "upgrade"], check=True, env=env,
                   cwd=HERE.parent)
    out["upgrade s"] = round(time.perf_counter() - t0, 1)
    out["load_after_upgrade"] = os.getloadavg()
    import psycopg
    with psycopg.connect(_dsn(AFTER_DB), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE case_month_tally")
        conn.execute("VACUUM ANALYZE case_limit_tally")
        out["rows"] = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                       for t in ("case_record", "case_deadline", "case_tally", "case_month_tally", "case_limit_tally")}
        out["sizes"] = {t: conn.execute("SELECT pg_size_pretty(pg_total_relation_size(%s))", (t,)).fetchone()[0]
                        for t in ("case_record", "case_tally", "case_month_tally", "case_limit_tally")}
    (RESULTS / "stats_prepare.json").write_text(json.dumps(out, indent=1, default=str), encoding="utf-8")
    print(json.dumps(out, indent=1, default=str))
    return out


# --- measure ----------------------------------------------------------------------------------

def _sessions(db: str, users: dict) -> None:
    """Fresh web sessions for the bench users (as ``bench/mix.py``'s, stored by their sha256)."""
    import psycopg
    tid = users["tenant_id"]
    with psycopg.connect(_dsn(db)) as conn:
        for u in users["users"]:
            if u["username"] not in WHO:
                continue
            # the same cookie as bench/mix.py's: a copy it ran on already holds that session
            conn.execute("DELETE FROM web_session WHERE tenant_id = %s AND token_hash = %s",
                         (tid, hashlib.sha256(u["session_cookie"].encode()).hexdigest()))
            i = conn.execute("SELECT nextval('pingan_id_seq')").fetchone()[0]
            conn.execute("INSERT INTO web_session (tenant_id, id, token_hash, user_id, csrf_token, created_at, "
                         "last_seen_at, ip, user_agent) VALUES (%s,%s,%s,%s,%s,now(),now(),'127.0.0.1','bench/stats')",
                         (tid, i, hashlib.sha256(u["session_cookie"].encode()).hexdigest(), u["user_id"],
                          hashlib.sha256(("csrf" + u["session_cookie"]).encode()).hexdigest()[:43]))
        conn.commit()


def _app(db: str):
    from core.app import create_app
    from core.config import Config
    user, host, port = _pg(db)
    cfg = Config.from_env(env="development", database_url=f"postgresql+psycopg://{user}@{host}:{port}/{db}",
                          redis_url=None, instance_dir=Path(tempfile.mkdtemp(prefix="pingan-bench-stats-")),
                          log_level="WARNING", db_app_role=APP_ROLE)
    saved = sys.stderr
    sys.stderr = open(os.devnull, "w")
    try:
        return create_app(cfg)
    finally:
        sys.stderr = saved


def _urls(today: date) -> list[tuple[str, str]]:
    y, m = today.year, today.month - 11          # the home page's trend: this month and the eleven before
    if m <= 0:
        y, m = y - 1, m + 12
    year_ago = date(y, m, 1)
    return [("summary", "/api/case-stats/summary"),
            ("counts by unit", "/api/case-stats/counts?group_by=unit"),
            ("counts by state", "/api/case-stats/counts?group_by=state"),
            ("counts by month, 12 months", f"/api/case-stats/counts?group_by=month&from={year_ago}&to={today}"),
            ("on-time by unit", "/api/case-stats/on-time?group_by=unit"),
            ("on-time by type, this year", f"/api/case-stats/on-time?from={today.year}-01-01&to={today}"),
            ("year on year by unit", "/api/case-stats/yoy?group_by=unit"),
            ("home page", "/")]


def run_measure(label: str, db: str, n: int, warmup: int) -> Path:
    users = json.loads(USERS.read_text(encoding="utf-8"))
    _sessions(db, users)
    app = _app(db)
    from sqlalchemy import event
    from core.app import pingan
    engine = pingan(app).db.engine
    seen: list[tuple[str, int]] = []

    def note(conn, cursor, statement, parameters, context, executemany):
        k = len(parameters) if isinstance(parameters, (dict, list, tuple)) else 0
        seen.append((statement, k))
    event.listen(engine, "before_cursor_execute", note)
    try:
        import core.web.dashboard as dashboard
        cache = getattr(dashboard, "_PAST_MONTHS", None)
    except ImportError:
        cache = None
    today = datetime.now(timezone(timedelta(hours=8))).date()
    host = f"http://{users['host']}"
    out: dict = {"label": label, "db": db, "code": str(Path(sys.path[0]).resolve()), "n": n, "warmup": warmup,
                 "started": now_utc(), "load_before": os.getloadavg(), "results": {}}
    for who in WHO:
        u = next(x for x in users["users"] if x["username"] == who)
        client = app.test_client()
        client.set_cookie("pingan_session", u["session_cookie"], domain=users["host"])
        headers = {"Authorization": f"Bearer {u['token']}"}
        variants = [(k, url, False) for k, url in _urls(today)]
        if cache is not None:
            variants.append(("home page, trend cache emptied", "/", True))
        for kind, url, cold in variants:
            page = url == "/"

            def call(url=url, page=page, cold=cold):
                if cold:
                    cache.clear()
                r = client.get(url, base_url=host, headers=None if page else headers)
                if r.status_code != 200:
                    raise RuntimeError(f"{who} {url}: {r.status_code} {r.get_data(as_text=True)[:300]}")
                return r
            del seen[:]
            call()
            stmts = list(seen)
            t0 = time.perf_counter()
            m = n if label != "before" or kind.startswith("home") else max(10, n // 3)
            st = measure(call, m, warmup)
            out["results"][f"{who} | {kind}"] = {
                "unit_id": u["unit_id"], "units_in_subtree": u["units_in_subtree"],
                "cases_in_subtree": u["cases_in_subtree"], "url": url, "p50_ms": st.median_us / 1000,
                "p95_ms": st.p95_us / 1000, "p99_ms": st.p99_us / 1000, "n": st.n,
                "statements": len(stmts), "params_total": sum(k for _, k in stmts),
                "params_max": max((k for _, k in stmts), default=0), "load": os.getloadavg(),
                "seconds": round(time.perf_counter() - t0, 1)}
            print(f"{label} {who} {kind}: p50 {fmt(st.median_us)} p95 {fmt(st.p95_us)} "
                  f"{len(stmts)} statements, max {out['results'][f'{who} | {kind}']['params_max']} params", flush=True)
    event.remove(engine, "before_cursor_execute", note)
    out["load_after"] = os.getloadavg()
    path = RESULTS / f"stats_{label}.json"
    path.write_text(json.dumps(out, indent=1, default=str), encoding="utf-8")
    return path


# --- report -----------------------------------------------------------------------------------

def report(labels: tuple[str, str] = ("before", "after"), name: str = "stats") -> Path:
    """Two runs side by side (``labels``: the first is "before") → ``results/<name>.md``."""
    first, second = labels
    runs = {k: json.loads((RESULTS / f"stats_{k}.json").read_text(encoding="utf-8"))
            for k in labels if (RESULTS / f"stats_{k}.json").exists()}
    prep = RESULTS / "stats_prepare.json"
    prep = json.loads(prep.read_text(encoding="utf-8")) if prep.exists() else {}
    lines = ["# Statistics and the home page from tallies (issue 24, item 3)", "",
             f"Written {now_utc()} by `bench/stats.py report`. Machine: {machine()}.", ""]
    if prep:
        lines += [f"Data: copies of `{SOURCE_DB}` (bench/mix.py). Upgrade of the after copy with this tree "
                  f"(migration 0014 backfilling the tallies): {prep.get('upgrade s')} s, load "
                  f"{', '.join(f'{x:.2f}' for x in prep.get('load_after_upgrade', []))}. Rows: "
                  + ", ".join(f"`{k}` {v:,}" for k, v in prep.get("rows", {}).items())
                  + ". Sizes: " + ", ".join(f"`{k}` {v}" for k, v in prep.get("sizes", {}).items()) + ".", ""]
    for label, run in runs.items():
        lines.append(f"- {label}: code `{run['code']}`, database `{run['db']}`, started {run['started']}, load "
                     f"{', '.join(f'{x:.2f}' for x in run['load_before'])} → "
                     f"{', '.join(f'{x:.2f}' for x in run['load_after'])}")
    lines += ["", f"| user | request | {first} p50 | {first} p95 | {second} p50 | {second} p95 | p95 {first}/{second} | "
              f"statements {first} → {second} | max bound params {first} → {second} |", "|---|---|---|---|---|---|---|---|---|"]
    keys = list(dict.fromkeys([k for r in runs.values() for k in r["results"]]))
    for key in keys:
        b = runs.get(first, {}).get("results", {}).get(key)
        a = runs.get(second, {}).get("results", {}).get(key)
        who, kind = key.split(" | ")

        def cell(r, f):
            return f"{r[f]:.1f} ms" if r else "—"
        ratio = f"{b['p95_ms'] / a['p95_ms']:.0f}×" if a and b and a["p95_ms"] else "—"
        lines.append(f"| {who} | {kind} | {cell(b, 'p50_ms')} | {cell(b, 'p95_ms')} | {cell(a, 'p50_ms')} | "
                     f"{cell(a, 'p95_ms')} | {ratio} | {b['statements'] if b else '—'} → "
                     f"{a['statements'] if a else '—'} | {b['params_max'] if b else '—'} → "
                     f"{a['params_max'] if a else '—'} |")
    lines += ["", f"Columns: {STATS_HEADER.replace(' | ', ', ')} per request kind in the JSON files "
              f"(`results/stats_{first}.json`, `results/stats_{second}.json`), with the load average at each series.", ""]
    return write_result(name, "\n".join(lines))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("prepare")
    m = sub.add_parser("measure")
    m.add_argument("--label", required=True, help="before, after, or another run's name (results/stats_<label>.json)")
    m.add_argument("--code", default=str(HERE.parent), help="the tree whose core is measured")
    m.add_argument("--db", default=None)
    m.add_argument("--n", type=int, default=100)
    m.add_argument("--warmup", type=int, default=3)
    r = sub.add_parser("report")
    r.add_argument("--labels", default="before,after", help="two runs: results/stats_<label>.json")
    r.add_argument("--name", default="stats", help="results/<name>.md")
    a = ap.parse_args()
    if a.cmd == "prepare":
        prepare()
    elif a.cmd == "measure":
        sys.path.insert(0, str(Path(a.code).resolve()))
        for mod in [k for k in sys.modules if k == "core" or k.startswith("core.") or k.startswith("plugins")]:
            del sys.modules[mod]
        print(run_measure(a.label, _refuse(a.db or (AFTER_DB if a.label == "after" else BEFORE_DB)), a.n, a.warmup))
    else:
        first, second = a.labels.split(",")
        print(report((first, second), a.name))


if __name__ == "__main__":
    main()
