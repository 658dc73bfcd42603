"""Issue 13 figure: the recompute job on PostgreSQL — the time to count 100,000 provisional
limits again across 100 counties once their year's holidays are loaded, and whether it is one
pass per county (a number of statements that does not grow with the cases) or one query per case.

    .venv/bin/python -m bench.calendar_recompute --url postgresql+psycopg://postgres@127.0.0.1:5432/bench_calendar

Run it as a module (``-m bench.calendar_recompute``): it imports ``bench._common`` as a package.
(It was ``bench/calendar.py``, which stood in for the standard library's ``calendar`` in every
other bench script run as a file.)

What it does, every time from scratch, in its own database (``bench_calendar`` by default;
created with ``createdb`` when missing; ``test``, ``test_*``, ``postgres`` and the templates are
refused):

1. drops and re-creates the public schema and builds it with ``core.migrate.upgrade`` (what
   ``pingan db upgrade`` does: core and plugin migrations, the role ``pingan_app``, RLS);
2. bulk-loads with COPY, as the schema owner, ``--counties`` minimal counties (a ``tenant`` row,
   its domain, a county root ``org_unit``, the ``audit_head`` and the plugins ``visits``,
   ``mediation`` and ``petition`` enabled, so that ``host.case_event`` calls three plugins) and
   in each ``--cases`` open cases (``mediation.dispute`` / ``petition.case`` alternately; no
   plugin detail rows: the recompute does not read them), each with one running limit of N
   working days counted with ``core.workdays.deadline`` itself from a day in December of year
   Y, its last day in January of Y+1, where Y+1 is the first year the installed
   ``chinese-calendar`` does not cover — so every limit is stored provisional, exactly as the
   engine stores it (basis, ``count_from``, ``working_days``, ``case_record.due_provisional``);
3. loads a test year file for Y+1 (``national_calendar.parse`` + ``import_year``: one holiday
   on a Wednesday in mid-January, so that the limits ending on or after it move and those
   ending before are confirmed; its notice title says it is test data);
4. times ``core.cases.recompute.run_all(db, host)`` — the job's own code, on the app's engine as
   ``pingan_app`` under RLS — with the clock travelled to Y-12-20 (before every due time),
   counting statements with a ``before_cursor_execute`` listener (a cursor ``execute`` or
   ``executemany`` = one statement as SQLAlchemy sends it; the parameter sets of an
   ``executemany`` are counted as well: PostgreSQL runs one statement per set);
5. checks the outcome against the same counting done here (moved / confirmed, no provisional
   limit left, one timeline entry per moved limit);
6. scaling: counties of 100, 1,000 and 10,000 cases (``--scale``) recomputed alone
   (``run_all(db, host, tenant_ids=[…])``), their statements compared.

Writes ``bench/results/calendar_recompute_<date>.md`` (a section after the ``<!-- reading``
line is hand-written and kept on a re-run).
"""
from __future__ import annotations

if not __package__:  # started as a file: see the docstring
    raise SystemExit("run this as a module: .venv/bin/python -m bench.calendar_recompute [--url …]")

import argparse
import datetime as dt
import os
import random
import re
import statistics
import subprocess
import tempfile
import time
from collections import Counter
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from bench._common import RESULTS, machine, now_utc

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_calendar"
MARKER = "<!-- reading: written by hand, kept when the figures above are regenerated -->"
CASE_TYPES = ("mediation.dispute", "petition.case")
PLUGINS = ("visits", "mediation", "petition")
SOURCE = "基准测试数据（非真实规则）"
SH = dt.timezone(dt.timedelta(hours=8))
UPD = "UPDATE case_deadline"


# --- the database -----------------------------------------------------------------------------

def _parts(url: str) -> dict:
    u = urlsplit(url.replace("+psycopg", ""))
    name = u.path.lstrip("/")
    if not name or name == "test" or name.startswith("test_") or name in ("postgres", "template0", "template1"):
        raise SystemExit(f"refusing to use database {name!r}: this benchmark only uses its own database")
    return {"host": u.hostname or "127.0.0.1", "port": u.port or 5432, "user": u.username or "postgres",
            "dbname": name}


def dsn(url: str) -> str:
    p = _parts(url)
    return f"host={p['host']} port={p['port']} user={p['user']} dbname={p['dbname']}"


def ensure_database(url: str) -> None:
    import psycopg
    p = _parts(url)
    with psycopg.connect(f"host={p['host']} port={p['port']} user={p['user']} dbname=postgres",
                         autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (p["dbname"],)).fetchone():
            return
    print(f"creating database {p['dbname']}", flush=True)
    subprocess.run(["createdb", "-h", p["host"], "-p", str(p["port"]), "-U", p["user"], p["dbname"]], check=True)


def config(url: str):
    from core.config import Config
    return Config.from_env(env="development", database_url=url, redis_url=None, db_app_role="pingan_app",
                           instance_dir=Path(tempfile.mkdtemp(prefix="pingan-bench-calendar-")))


def build_schema(url: str) -> float:
    """Drop and rebuild the public schema: ``pingan db upgrade``."""
    import psycopg
    from core.migrate import upgrade
    from core.plugins import PluginHost
    t0 = time.perf_counter()
    with psycopg.connect(dsn(url), autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
        conn.execute("CREATE SCHEMA public")
    upgrade(config(url), PluginHost())
    return time.perf_counter() - t0


# --- the data ---------------------------------------------------------------------------------

def years() -> tuple[int, int]:
    """(Y, Y+1): Y+1 is the first year the installed chinese-calendar does not cover."""
    import chinese_calendar
    nxt = max(d.year for d in chinese_calendar.holidays) + 1
    return nxt - 1, nxt


def holiday(next_year: int) -> dt.date:
    """The test file's one holiday: the second Wednesday of January of Y+1."""
    day = dt.date(next_year, 1, 8)
    while day.weekday() != 2:
        day += dt.timedelta(days=1)
    return day


def year_file(next_year: int) -> str:
    h = holiday(next_year)
    return (f"year = {next_year}\n"
            "workdays = []          # no adjusted working day (a top-level key: before the tables)\n\n"
            "[notice]\n"
            f'title = "{next_year}年部分节假日安排（基准测试用，非真实通知）"\n'
            f'number = "基准测试〔{next_year - 1}〕1号（非真实文号）"\n'
            f"published_on = {next_year - 1}-11-12\n\n"
            "[[holidays]]\n"
            'name = "基准测试假日（非真实安排）"\n'
            f"days = [{h.isoformat()}]\n")


_DEADLINES: dict = {}


def limit_for(start: dt.datetime, amount: int):
    """``core.workdays.deadline`` with the calendar a county has before the year is loaded
    (cached per start day and amount: a few hundred combinations for 100,000 limits)."""
    from core.workdays import WorkCalendar, deadline
    key = (start.date(), amount)
    hit = _DEADLINES.get(key)
    if hit is None:
        hit = _DEADLINES[key] = deadline(start, amount, "working_days", WorkCalendar())
    return hit


@lru_cache(maxsize=None)
def _workdays_left(day: dt.date) -> int:
    """Working days after ``day`` up to 31 December (year Y is covered by the package)."""
    import chinese_calendar
    n, d = 0, day
    while True:
        d += dt.timedelta(days=1)
        if d.month == 1:
            return n
        n += chinese_calendar.is_workday(d)


def _reserve(cur, n: int) -> range:
    end = cur.execute("SELECT setval('pingan_id_seq', nextval('pingan_id_seq') + %s - 1)", (n,)).fetchone()[0]
    return range(end - n + 1, end + 1)


def add_counties(url: str, slugs: list[str], cases_each: list[int], seed: int,
                 this_year: int) -> tuple[list[int], dict]:
    """Minimal counties with ``cases_each[i]`` open cases, each with one running provisional limit."""
    import psycopg
    from core.audit import GENESIS
    created = dt.datetime(this_year, 1, 5, 0, 0, tzinfo=dt.timezone.utc)
    tids: list[int] = []
    counts: Counter = Counter()
    with psycopg.connect(dsn(url)) as conn:
        cur = conn.cursor()
        cur.execute("SET synchronous_commit = off")
        roots = {}
        for slug in slugs:
            k = len(tids) + 1
            tid = cur.execute("INSERT INTO tenant (slug, name, name_en, status, created_at) "
                              "VALUES (%s, %s, %s, 'active', %s) RETURNING id",
                              (slug, f"基准县 {slug}", f"Bench county {slug}", created)).fetchone()[0]
            cur.execute("INSERT INTO tenant_domain (host, tenant_id) VALUES (%s, %s)", (f"{slug}.localhost", tid))
            ids = iter(_reserve(cur, 2 + len(PLUGINS)))
            root = next(ids)
            cur.execute("INSERT INTO org_level (tenant_id, id, key, rank, name, name_en) "
                        "VALUES (%s, %s, 'county', 0, '县', 'County')", (tid, next(ids)))
            cur.execute("INSERT INTO org_unit (tenant_id, id, parent_id, path, depth, level, name, code, status, "
                        "created_at) VALUES (%s, %s, NULL, %s, 0, 'county', %s, %s, 'active', %s)",
                        (tid, root, f"/{root}/", f"基准县{k:03d}", slug, created))
            cur.execute("INSERT INTO audit_head (tenant_id, id, seq, hash) VALUES (%s, 0, 0, %s)", (tid, GENESIS))
            for plugin in PLUGINS:
                cur.execute("INSERT INTO tenant_plugin (tenant_id, id, plugin, enabled, settings, updated_at) "
                            "VALUES (%s, %s, %s, true, '{}', %s)", (tid, next(ids), plugin, created))
            tids.append(tid)
            roots[tid] = root
        total = sum(cases_each)
        ids = iter(_reserve(cur, 2 * total))
        case_rows, limit_rows = [], []
        for tid, n in zip(tids, cases_each):
            rng = random.Random(f"{seed}:{tid}:{n}")
            for i in range(n):
                day = dt.date(this_year, 12, rng.randint(1, 19))
                start = dt.datetime.combine(day, dt.time(rng.randint(8, 17), rng.randint(0, 59)), tzinfo=SH)
                amount = _workdays_left(day) + rng.randint(1, 20)
                lim = limit_for(start, amount)
                assert lim.provisional and lim.due_at.year == this_year + 1, (start, amount, lim)
                cid, did = next(ids), next(ids)
                ctype = CASE_TYPES[i % len(CASE_TYPES)]
                prefix = "调" if ctype.startswith("mediation") else "信"
                due = lim.due_at.astimezone(dt.timezone.utc)
                at = start.astimezone(dt.timezone.utc)
                case_rows.append((tid, cid, ctype, f"{prefix}〔{this_year}〕{i + 1:05d}", this_year,
                                  "基准测试事项（非真实）", "", "visit", roots[tid], "accepted", due, True, "",
                                  at, at))
                limit_rows.append((tid, did, cid, "handle", "办理时限", amount, "working_days", at, due, lim.rule,
                                   SOURCE, "running", 0, 0, True, lim.count_from, lim.working_days))
                counts["cases"] += 1
        with cur.copy("COPY case_record (tenant_id, id, case_type, number, year, title, content, channel, "
                      "org_unit_id, state, due_at, due_provisional, search_grams, created_at, updated_at) "
                      "FROM STDIN") as cp:
            for r in case_rows:
                cp.write_row(r)
        with cur.copy("COPY case_deadline (tenant_id, id, case_id, rule, title, amount, unit, started_at, due_at, "
                      "basis, source, state, extensions, reminded, provisional, count_from, working_days) "
                      "FROM STDIN") as cp:
            for r in limit_rows:
                cp.write_row(r)
        conn.commit()
    with psycopg.connect(dsn(url), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE tenant, org_unit, tenant_plugin, audit_head, case_record, case_deadline")
    return tids, {"counts": dict(counts), "limits": limit_rows}


def expected(limit_rows: list[tuple], next_year: int) -> Counter:
    """What the recompute should do, counted here independently: moved / confirmed."""
    from core.workdays import WorkCalendar, end_of
    cal = WorkCalendar(national={holiday(next_year): False}, national_years=frozenset({next_year}))
    out: Counter = Counter()
    prev = None
    for r in sorted(limit_rows, key=lambda r: (r[0], r[1])):  # per county, in id order (as the ORM flushes)
        due, count_from, wd = r[8], r[15], r[16]
        new = end_of(cal.last_day(count_from, wd)).astimezone(dt.timezone.utc)
        what = "moved" if new != due else "confirmed"
        out[what] += 1
        # consecutive limits of another kind: a moved one changes (due_at, basis, provisional), a confirmed one
        # (basis, provisional); the unit of work batches only consecutive rows with the same columns
        out["runs"] += (r[0], what) != prev
        prev = (r[0], what)
    return out


# --- counting statements ----------------------------------------------------------------------

_TABLE = re.compile(r'\b(?:FROM|INTO|UPDATE)\s+"?(\w+)"?', re.IGNORECASE)


def kind(statement: str) -> str:
    s = statement.lstrip()
    if s.startswith("BEGIN"):
        return "BEGIN + set_config(pingan.tenant_id)"
    if "set_config" in s[:40]:
        return "SELECT set_config(pingan.tenant_id)"
    if "nextval" in s[:60]:
        return "SELECT nextval (reserve_ids)"
    if s.upper().startswith("WITH"):  # core.audit: the last multi-row INSERT moves the chain head in a CTE
        main_ = re.search(r"\)\s*INSERT\s+INTO\s+\"?(\w+)", s)
        return f"INSERT {main_.group(1) if main_ else '?'} (WITH … UPDATE audit_head)"
    verb = s.split(None, 1)[0].upper()
    m = _TABLE.search(s)
    table = m.group(1) if m else "?"
    if verb == "SELECT" and "FOR UPDATE" in s:
        verb = "SELECT … FOR UPDATE"
    return f"{verb} {table}"


class Sections:
    """Where the wall time goes: wrappers (timers only, behaviour unchanged) around the audit
    chain's write at commit, the plugin hook and the counting; the DB time of the statements
    is attributed to the section that sent them."""

    NAMES = {"audit": "`core.audit._write` at each county's commit (entry hashes, multi-row INSERTs)",
             "hook": "`host.case_event` (pluggy: visits, mediation, petition) per timeline entry",
             "count": "`WorkCalendar.last_day` (counting the limit again)"}

    def __init__(self) -> None:
        self.current: str | None = None
        self.ns: Counter = Counter()
        self.db_ns: Counter = Counter()
        self.calls: Counter = Counter()

    def wrap(self, owner, attr: str, name: str) -> None:
        original = getattr(owner, attr)
        sections = self

        def timed(*args, **kw):
            outer, sections.current = sections.current, name
            t0 = time.perf_counter_ns()
            try:
                return original(*args, **kw)
            finally:
                sections.ns[name] += time.perf_counter_ns() - t0
                sections.calls[name] += 1
                sections.current = outer
        setattr(owner, attr, timed)

    def install(self, host) -> None:
        import core.audit
        from core.workdays import WorkCalendar
        self.wrap(core.audit, "_write", "audit")        # looked up as a module global by _write_noted
        self.wrap(host, "case_event", "hook")           # the instance attribute shadows the method
        self.wrap(WorkCalendar, "last_day", "count")

    def snapshot(self) -> dict:
        return {"ns": Counter(self.ns), "db_ns": Counter(self.db_ns), "calls": Counter(self.calls)}


class StatementCounter:
    """``before_cursor_execute`` / ``after_cursor_execute`` on the app's engine."""

    def __init__(self, engine, sections: Sections | None = None) -> None:
        from sqlalchemy import event
        self.sections = sections
        self.calls = 0          # cursor execute / executemany calls: statements as SQLAlchemy sends them
        self.rows = 0           # with executemany expanded: statements PostgreSQL runs
        self.commits = 0
        self.db_ns = 0
        self.by_kind: Counter = Counter()
        self.rows_by_kind: Counter = Counter()
        self._t0 = 0
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)
        event.listen(engine, "commit", self._commit)

    def _before(self, conn, cursor, statement, parameters, context, executemany) -> None:
        n = len(parameters) if executemany and parameters is not None else 1
        k = kind(statement)
        self.calls += 1
        self.rows += n
        self.by_kind[k] += 1
        self.rows_by_kind[k] += n
        self._t0 = time.perf_counter_ns()

    def _after(self, *args) -> None:
        ns = time.perf_counter_ns() - self._t0
        self.db_ns += ns
        if self.sections is not None and self.sections.current is not None:
            self.sections.db_ns[self.sections.current] += ns

    def _commit(self, conn) -> None:
        self.commits += 1

    def snapshot(self) -> dict:
        return {"calls": self.calls, "rows": self.rows, "commits": self.commits, "db_ns": self.db_ns,
                "by_kind": Counter(self.by_kind), "rows_by_kind": Counter(self.rows_by_kind)}

    @staticmethod
    def diff(a: dict, b: dict) -> dict:
        return {"calls": b["calls"] - a["calls"], "rows": b["rows"] - a["rows"], "commits": b["commits"] - a["commits"],
                "db_ns": b["db_ns"] - a["db_ns"], "by_kind": b["by_kind"] - a["by_kind"],
                "rows_by_kind": b["rows_by_kind"] - a["rows_by_kind"]}


# --- the measurement --------------------------------------------------------------------------

def recompute_timed(db, host, cnt: StatementCounter, tenant_ids: list[int] | None = None) -> dict:
    """``run_all`` with a per-county clock and statement count (from its progress callback)."""
    from core.cases import recompute
    marks = []
    base = cnt.snapshot()
    sec0 = cnt.sections.snapshot() if cnt.sections else None

    def progress(done: int, total: int, result) -> None:
        marks.append((time.perf_counter(), cnt.snapshot(), result.moved, result.confirmed))
        if done % 10 == 0 or done == total:
            print(f"  {done}/{total} counties · {recompute.describe(result)} · "
                  f"{marks[-1][0] - t0:.1f} s", flush=True)

    t0 = time.perf_counter()
    result = recompute.run_all(db, host, progress, tenant_ids)
    wall = time.perf_counter() - t0
    per = []
    prev_t, prev_s, prev_m, prev_c = t0, base, 0, 0
    for t, snap, moved, confirmed in marks:
        d = StatementCounter.diff(prev_s, snap)
        per.append({"seconds": t - prev_t, **d, "moved": moved - prev_m, "confirmed": confirmed - prev_c})
        prev_t, prev_s, prev_m, prev_c = t, snap, moved, confirmed
    total = StatementCounter.diff(base, cnt.snapshot())
    sections = None
    if sec0 is not None:
        sec1 = cnt.sections.snapshot()
        sections = {k: sec1[k] - sec0[k] for k in sec1}
    return {"wall": wall, "result": result, "per_county": per, "total": total, "sections": sections}


def check(url: str, tids: list[int]) -> dict:
    import psycopg
    with psycopg.connect(dsn(url)) as conn:
        q = lambda sql: conn.execute(sql, (tids,)).fetchone()[0]  # noqa: E731
        return {
            "provisional_left": q("SELECT count(*) FROM case_deadline WHERE provisional AND tenant_id = ANY(%s)"),
            "cases_provisional_left": q("SELECT count(*) FROM case_record WHERE due_provisional "
                                        "AND tenant_id = ANY(%s)"),
            "recomputed_events": q("SELECT count(*) FROM case_event WHERE kind = 'recomputed' AND tenant_id = ANY(%s)"),
            "cases_due_mismatch": q("SELECT count(*) FROM case_record c JOIN case_deadline d ON d.tenant_id = "
                                    "c.tenant_id AND d.case_id = c.id WHERE c.due_at <> d.due_at "
                                    "AND c.tenant_id = ANY(%s)"),
            "audit_entries": q("SELECT count(*) FROM audit_entry WHERE tenant_id = ANY(%s)"),
        }


def pg_version(url: str) -> str:
    import psycopg
    with psycopg.connect(dsn(url)) as conn:
        return conn.execute("SELECT version()").fetchone()[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default=os.environ.get("PINGAN_BENCH_CALENDAR_URL", DEFAULT_URL))
    ap.add_argument("--counties", type=int, default=100)
    ap.add_argument("--cases", type=int, default=1000, help="open cases (provisional limits) per county")
    ap.add_argument("--scale", default="100,1000,10000", help="cases of the single-county scaling runs")
    ap.add_argument("--seed", type=int, default=20261206)
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args()

    import time_machine
    import core.schema  # noqa: F401 — every model registered, as the CLI's _state does
    from core import national_calendar
    from core.db import Database
    from core.plugins import PluginHost

    today = dt.date.today()  # the real date (the clock is travelled below)
    out_path = a.out or RESULTS / f"calendar_recompute_{today.isoformat()}.md"
    this_year, next_year = years()
    scale = [int(x) for x in a.scale.split(",") if x.strip()]
    info: dict = {"load_start": os.getloadavg(), "started": now_utc()}

    ensure_database(a.url)
    info["pg"] = pg_version(a.url)
    from importlib.metadata import version
    for pkg in ("chinese_calendar", "sqlalchemy", "psycopg"):
        info[pkg] = version(pkg.replace("_", "-"))
    print(f"schema (core.migrate.upgrade) on {_parts(a.url)['dbname']} …", flush=True)
    info["schema_s"] = build_schema(a.url)
    t0 = time.perf_counter()
    tids, gen = add_counties(a.url, [f"bench-{k:03d}" for k in range(1, a.counties + 1)],
                             [a.cases] * a.counties, a.seed, this_year)
    info["generate_s"] = time.perf_counter() - t0
    info["expected"] = expected(gen["limits"], next_year)
    dues = sorted(r[8] for r in gen["limits"])
    info["due_range"] = (dues[0], dues[-1])
    info["combos"] = len(_DEADLINES)
    print(f"{gen['counts']['cases']:,} cases in {len(tids)} counties in {info['generate_s']:.1f} s; "
          f"expected {dict(info['expected'])}", flush=True)

    cfg = config(a.url)
    host = PluginHost()
    db = Database(a.url, app_role=cfg.db_app_role)
    sections = Sections()
    sections.install(host)
    cnt = StatementCounter(db.engine, sections)
    travel_to = dt.datetime(this_year, 12, 20, 9, 0, tzinfo=SH)
    schedule = national_calendar.parse(year_file(next_year).encode())
    with time_machine.travel(travel_to, tick=True):
        national_calendar.import_year(db, cfg, schedule, "bench:calendar")
        info["load_before_run"] = os.getloadavg()
        print(f"recompute.run_all: {len(tids)} counties, clock at {travel_to.isoformat()} …", flush=True)
        main_run = recompute_timed(db, host, cnt)
        info["load_after_run"] = os.getloadavg()
        info["check"] = check(a.url, tids)
        print(f"  {main_run['wall']:.1f} s, {main_run['total']['calls']} statements; check {info['check']}",
              flush=True)
        scaling = []
        for n in scale:
            stid, sgen = add_counties(a.url, [f"scale-{n}"], [n], a.seed, this_year)
            print(f"scaling: one county of {n:,} cases …", flush=True)
            r = recompute_timed(db, host, cnt, stid)
            r["n"] = n
            r["expected"] = expected(sgen["limits"], next_year)
            r["check"] = check(a.url, stid)
            print(f"  {r['wall']:.2f} s, {r['total']['calls']} statements ({r['total']['rows']} with executemany "
                  f"expanded)", flush=True)
            scaling.append(r)
    info["load_end"] = os.getloadavg()
    db.dispose()
    text = report(a, info, main_run, scaling, this_year, next_year, travel_to)
    kept = ""
    if out_path.exists() and MARKER in out_path.read_text(encoding="utf-8"):
        kept = out_path.read_text(encoding="utf-8").split(MARKER, 1)[1]
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(text + "\n" + MARKER + (kept or "\n"), encoding="utf-8")
    print(f"wrote {out_path}")


# --- the report -------------------------------------------------------------------------------

def _load(t) -> str:
    return " / ".join(f"{x:.2f}" for x in t)


def _kinds_table(d: dict, per: int = 1) -> list[str]:
    rows = ["statement | calls | with executemany expanded", "---|---:|---:"]
    for k, n in sorted(d["by_kind"].items(), key=lambda kv: (-kv[1], kv[0])):
        rows.append(f"`{k}` | {n / per:g} | {d['rows_by_kind'][k] / per:g}")
    rows.append(f"**total** | **{d['calls'] / per:g}** | **{d['rows'] / per:g}**")
    return rows


def report(a, info, main_run, scaling, this_year, next_year, travel_to) -> str:
    res = main_run["result"]
    per = main_run["per_county"]
    secs = sorted(p["seconds"] for p in per)
    calls = [p["calls"] for p in per]
    rows = [p["rows"] for p in per]
    total = main_run["total"]
    n_limits = res.examined
    L: list[str] = []
    a_ = L.append
    a_(f"# Recompute job: {n_limits:,} provisional limits across {len(per)} counties (issue 13)\n")
    a_(f"Generated by `bench/calendar_recompute.py` on {info['started']} (clock of the run travelled to "
       f"{travel_to.isoformat()}).\n")
    a_("## What was measured\n")
    a_(f"`core.cases.recompute.run_all(db, host)` — the code the `calendar_recompute` job and `pingan calendar import` "
       f"run — over {len(per)} counties of {a.cases:,} open cases each, every case with one running provisional limit: "
       f"N working days counted (by `core.workdays.deadline` itself) from a day in December {this_year}, ending in "
       f"January {next_year}, the first year the installed `chinese-calendar` does not cover "
       f"(`max(d.year for d in chinese_calendar.holidays) + 1`). Due times from {info['due_range'][0]:%Y-%m-%d %H:%M} "
       f"to {info['due_range'][1]:%Y-%m-%d %H:%M} UTC. Before the run a test year file for {next_year} is loaded with "
       f"`national_calendar.parse` + `import_year`: one holiday on Wednesday {holiday(next_year):%Y-%m-%d}, "
       "so the limits "
       f"whose last day falls on or after it move by a working day and the others are confirmed. The file "
       f"(test data, said so in its notice title):\n")
    a_("```toml\n" + year_file(next_year) + "```\n")
    a_("The engine is the app's (`core.db.Database`, psycopg 3, `SET ROLE pingan_app`: row-level security on), the "
       "plugin host is the real one with `visits`, `mediation` and `petition` enabled in every county (so "
       "`host.case_event` calls their `pingan_case_event` for every timeline entry), the audit listener writes its "
       "entries at each county's commit. Statements are counted with a `before_cursor_execute` listener on that "
       "engine: *calls* = cursor `execute`/`executemany` calls, i.e. statements as SQLAlchemy sends them "
       "(`BEGIN; SELECT set_config(…)` is one); *expanded* counts each parameter set of an `executemany` (psycopg 3 "
       "pipelines them: few network round trips, but PostgreSQL executes one statement per set). The pool's idle ping "
       "and `COMMIT` are not cursor calls (commits are listed apart). *DB time* = the sum of the time between "
       "`before_cursor_execute` and `after_cursor_execute` (round trips included); the rest of the wall time is "
       "Python (ORM, the counting, audit hashing, the plugin hook).\n")
    a_("## How to reproduce\n")
    a_("```sh\ncreatedb -h 127.0.0.1 -U postgres bench_calendar   # the script also does this when it is missing\n"
       f".venv/bin/python -m bench.calendar_recompute --url {a.url}\n```\n")
    a_(f"Options: `--counties {a.counties} --cases {a.cases} --scale {a.scale} --seed {a.seed}`. Every run drops and "
       "rebuilds the public schema of that database only (`test` and the other shared databases are refused).\n")
    a_("## Machine\n")
    a_(machine() + "\n")
    a_(f"- PostgreSQL: `{info['pg']}`")
    a_(f"- chinese-calendar {info['chinese_calendar']} (covers up to {this_year}), SQLAlchemy {info['sqlalchemy']}, "
       f"psycopg {info['psycopg']}")
    a_(f"- load average (1/5/15 min): at start {_load(info['load_start'])}; just before the timed run "
       f"{_load(info['load_before_run'])}; right after it {_load(info['load_after_run'])}; at the end "
       f"{_load(info['load_end'])} (2 cores shared with other engineers' test runs: the figures are upper bounds)")
    a_(f"- schema build (`core.migrate.upgrade`): {info['schema_s']:.1f} s; COPY of {n_limits:,} cases + limits "
       f"(+ counties, VACUUM ANALYZE): {info['generate_s']:.1f} s\n")
    a_("## Figures\n")
    a_(f"### {len(per)} counties × {a.cases:,} limits\n")
    a_("what | figure")
    a_("---|---")
    a_(f"wall time of `run_all`, all counties | **{main_run['wall']:.1f} s** "
       f"({main_run['wall'] / max(n_limits, 1) * 1e6:.0f} µs per limit)")
    a_(f"per county ({a.cases:,} limits, its own transaction) | median {statistics.median(secs):.2f} s, "
       f"min {secs[0]:.2f} s, "
       f"max {secs[-1]:.2f} s (first county {per[0]['seconds']:.2f} s)")
    a_(f"limits examined / moved / confirmed / still pending | {res.examined:,} / {res.moved:,} / {res.confirmed:,} / "
       f"{res.pending:,} (expected, counted independently: moved {info['expected']['moved']:,}, confirmed "
       f"{info['expected']['confirmed']:,})")
    a_(f"statements (calls), all counties | {total['calls']:,} (+ {total['commits']} commits): "
       f"{total['calls'] / max(len(per), 1):.1f} per county — min {min(calls)}, max {max(calls)}")
    a_(f"statements with executemany expanded | {total['rows']:,}: per county min {min(rows):,}, max {max(rows):,}")
    upd = [p["by_kind"].get(UPD, 0) for p in per]
    a_(f"of which `{UPD}` calls | {sum(upd):,}: per county min {min(upd)}, max {max(upd)} — runs of consecutive "
       f"moved/confirmed limits in id order (counted from the data): {info['expected']['runs']:,}")
    other = [p["calls"] - u for p, u in zip(per, upd)]
    a_(f"all other statements per county | min {min(other)}, max {max(other)}")
    a_(f"DB time (inside cursor calls) | {total['db_ns'] / 1e9:.1f} s of {main_run['wall']:.1f} s "
       f"({total['db_ns'] / 1e9 / main_run['wall'] * 100:.0f} %)")
    c = info["check"]
    a_(f"after the run | provisional limits left {c['provisional_left']}, cases still marked provisional "
       f"(`case_record.due_provisional`) {c['cases_provisional_left']:,}, `recomputed` timeline entries "
       f"{c['recomputed_events']:,}, cases whose "
       f"`due_at` differs from their limit's {c['cases_due_mismatch']}, audit entries written {c['audit_entries']:,}\n")
    sec = main_run["sections"]
    if sec:
        a_("Where the wall time of `run_all` went (timers around three functions, in the same run; their "
           "overhead, two clock reads a call, is negligible):\n")
        a_("part | calls | wall | of which inside cursor calls (DB)")
        a_("---|---:|---:|---:")
        for k, title in Sections.NAMES.items():
            share = sec["ns"][k] / 1e9 / main_run["wall"] * 100
            a_(f"{title} | {sec['calls'][k]:,} | {sec['ns'][k] / 1e9:.1f} s ({share:.0f} %) "
                  f"| {sec['db_ns'][k] / 1e9:.1f} s")
        rest = main_run["wall"] * 1e9 - sum(sec["ns"].values())
        rest_db = total["db_ns"] - sum(sec["db_ns"].values())
        a_(f"everything else: `recompute.run`/`_chunk` (queries, ORM flushes, timeline entries), sessions, commits | "
           f"| {rest / 1e9:.1f} s ({rest / 1e9 / main_run['wall'] * 100:.0f} %) | {rest_db / 1e9:.1f} s\n")
    first_tid_per = per[1] if len(per) > 1 else per[0]
    a_("Statements of one county (the second; the first also carries the one `SELECT tenant` with which "
       "`run_all` lists the counties):\n")
    a_("\n".join(_kinds_table(first_tid_per)) + "\n")
    sizes = " / ".join(f"{r['n']:,}" for r in scaling)
    a_(f"### Scaling: one county, {sizes} limits\n")
    a_(f"limits | wall | per limit | statements (calls) | of which `{UPD}` | moved/confirmed runs in id order | "
       "all other statements | with executemany expanded | DB time | moved / confirmed (expected) | limits / cases "
       "still provisional")
    a_("---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---")
    for r in scaling:
        t = r["total"]
        res_ = r["result"]
        u = t["by_kind"].get(UPD, 0)
        a_(f"{r['n']:,} | {r['wall']:.2f} s | {r['wall'] / r['n'] * 1e6:.0f} µs | {t['calls']:,} | {u:,} | "
           f"{r['expected']['runs']} | {t['calls'] - u} | {t['rows']:,} | "
           f"{t['db_ns'] / 1e9:.2f} s | {res_.moved:,} / {res_.confirmed:,} ({r['expected']['moved']:,} / "
           f"{r['expected']['confirmed']:,}) | {r['check']['provisional_left']} / "
           f"{r['check']['cases_provisional_left']:,}")
    a_("")
    for r in scaling:
        a_(f"<details><summary>statements of the county of {r['n']:,} limits</summary>\n")
        a_("\n".join(_kinds_table(r["total"])) + "\n")
        a_("</details>\n")
    return "\n".join(L)


if __name__ == "__main__":
    main()
