"""Issue 23 figures: the same province on one PostgreSQL and on a Citus cluster, side by side.

    .venv/bin/python bench/citus.py generate [--cases 1000000] [--only single,citus] [--shard-count N]
    .venv/bin/python bench/citus.py run [--n 200] [--warmup 20] [--budget 120]
    .venv/bin/python bench/citus.py report     # rewrite results/citus.md from results/citus_run.json

``generate`` builds bench/cases.py's data set (its generator, unchanged: bench/orgtree.py's
province of 100 counties and 250,000 org units, then ``--cases`` cases of ``visits.visit``, same
seed) twice:

- ``single``: database ``pingan_bench_citus_single`` on the single-node PostgreSQL
  127.0.0.1:5432 (``DROP SCHEMA public``, ``pingan db upgrade``, as cases.py does);
- ``citus``: database ``pingan_bench_citus`` on the Citus coordinator 127.0.0.1:5433 (workers
  5434, 5435; created beforehand with ``CITUS_DB=pingan_bench_citus bash
  /work/shared/citus/setup.sh``). Our own tables are dropped (not the schema: the extension
  keeps objects in ``public``), then ``pingan db upgrade`` and ``pingan db distribute`` (the real
  CLI) run *before* any row is loaded, so the org tree's INSERT/COPY and the cases' COPY go
  into distributed tables; then the app role gets ``LOGIN`` (docs/citus.md "The app on the
  coordinator"; tests/conftest.py ``distribute_for_tests`` does the same).

Both databases are then ``VACUUM ANALYZE``d (on Citus: the coordinator and each worker's
database, where the shards are). Sizes per table, per worker and per county go to
``results/citus_<target>_data.json``.

``run`` builds the real app (``core.app.create_app``, as ``pingan_app``, RLS on) once per
database in this process and times, sample by sample alternating between the two apps (so a
change in the machine's load hits both alike): the scoped case list (first page, village,
township and county officer of the largest county, cases.py's ``list_url``), case registration
(``POST /api/cases`` as the village officer) and the dashboard figures (cases.py's
``measure_stats`` URLs as the county officer). Every statement the app emits in those requests
is captured (``before_cursor_execute``) and each one seen on Citus is ``EXPLAIN``ed on the
coordinator as ``pingan_app`` inside ``BEGIN; SET LOCAL pingan.tenant_id = …`` (the tenant the
request's transaction bound), with the same parameters, and classified: router (a Citus plan
with ``Task Count: 1``: one shard, or a reference table), multi-shard (``Task Count`` > 1), or
coordinator-only (no Citus node: a plain/local object such as ``pingan_id_seq``). Writes
``results/citus.md`` (hand-written commentary after the ``<!-- reading: … -->`` line is kept)
and ``results/citus_run.json`` (every figure and plan).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(_HERE))
import _common  # noqa: E402
import cases  # noqa: E402  (sets _common.BENCH_DB at import: overridden by use() below)
import orgtree  # noqa: E402
from _common import RESULTS, ROOT, Stats, fmt, machine, now_utc, pg_dsn, sa_url, summarize, write_result  # noqa: E402

from core.citus import DROP_OWN_OBJECTS_SQL  # noqa: E402  (the repository is on sys.path via _common)

TARGETS = {
    "single": {"db": "pingan_bench_citus_single", "server": "postgres@127.0.0.1:5432",
               "label": "single PostgreSQL (127.0.0.1:5432)"},
    "citus": {"db": "pingan_bench_citus", "server": "postgres@127.0.0.1:5433",
              "label": "Citus coordinator (127.0.0.1:5433) + 2 workers (5434, 5435)"},
}
# file name stem of each target's metadata: citus_single_*.json, citus_dist_*.json
STEM = {"single": "citus_single", "citus": "citus_dist"}
WORKERS = (("127.0.0.1", 5434), ("127.0.0.1", 5435))
APP_ROLE = orgtree.APP_ROLE
MARKER = cases.MARKER


def use(target: str) -> dict:
    """Point bench/_common (and so cases.py's and orgtree.py's functions) at one target."""
    t = TARGETS[target]
    if not t["db"].startswith("pingan_bench_citus"):
        raise SystemExit(f"refusing database {t['db']!r}")
    _common.BENCH_DB = t["db"]
    _common.PG_SERVER = t["server"]
    cases.META = RESULTS / f"{STEM[target]}_data.json"
    orgtree.META = RESULTS / f"{STEM[target]}_orgtree_data.json"
    _common.bench_db_name()
    return t


def _dsn(host: str, port: int, db: str) -> str:
    return f"host={host} port={port} user=postgres dbname={db}"


def _citus_installed(conn) -> bool:
    return conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'citus'").fetchone() is not None


# --- generation --------------------------------------------------------------------------------

SCHEMA_SECONDS: dict = {}
SHARD_COUNT: list = [None]   # generate --shard-count: passed to `pingan db distribute`


def _pingan(*args: str) -> None:
    env = {**os.environ, "PINGAN_DATABASE_URL": sa_url()}
    env.pop("PINGAN_REDIS_URL", None)
    env.pop("PINGAN_MIGRATION_DATABASE_URL", None)
    subprocess.run([str(ROOT / ".venv" / "bin" / "pingan"), *args], check=True, env=env, cwd=ROOT)


def _reset_schema_citus() -> None:
    """orgtree._reset_schema for the coordinator: drop our objects, migrate, distribute, LOGIN."""
    import psycopg
    t0 = time.perf_counter()
    with psycopg.connect(pg_dsn(), autocommit=True) as conn:
        if not _citus_installed(conn):
            raise SystemExit(f"no citus extension in {_common.BENCH_DB}: run "
                             f"CITUS_DB={_common.BENCH_DB} bash /work/shared/citus/setup.sh first")
        conn.execute(DROP_OWN_OBJECTS_SQL)  # ours in public, not the extension's
    SCHEMA_SECONDS["drop"] = round(time.perf_counter() - t0, 1)
    t0 = time.perf_counter()
    _pingan("db", "upgrade")
    SCHEMA_SECONDS["pingan db upgrade"] = round(time.perf_counter() - t0, 1)
    t0 = time.perf_counter()
    _pingan("db", "distribute", *(["--shard-count", str(SHARD_COUNT[0])] if SHARD_COUNT[0] else []))
    SCHEMA_SECONDS["pingan db distribute"] = round(time.perf_counter() - t0, 1)
    with psycopg.connect(pg_dsn(), autocommit=True) as conn:
        conn.execute(f'ALTER ROLE "{APP_ROLE}" LOGIN')   # Citus connects to the workers as the current role
        layout = conn.execute("SELECT p.partmethod, p.repmodel, count(*) FROM pg_dist_partition p "
                              "GROUP BY 1, 2 ORDER BY 1, 2").fetchall()
    SCHEMA_SECONDS["layout"] = [list(r) for r in layout]
    print(f"distributed: {SCHEMA_SECONDS}", flush=True)


def _reset_schema_single() -> None:
    t0 = time.perf_counter()
    _ORIGINAL_RESET()
    SCHEMA_SECONDS["drop schema + pingan db upgrade"] = round(time.perf_counter() - t0, 1)


_ORIGINAL_RESET = orgtree._reset_schema
_ORIGINAL_DROP_SECONDARY = cases._drop_secondary


def _drop_secondary_citus(conn) -> list[str]:
    """cases._drop_secondary in one transaction on Citus: the big tables have foreign keys to
    reference tables, so Citus wants one connection per node for the DDL (its own hint)."""
    conn.execute("SET LOCAL citus.multi_shard_modify_mode TO 'sequential'")
    return _ORIGINAL_DROP_SECONDARY(conn)


def _vacuum_analyze(target: str) -> dict:
    """VACUUM ANALYZE where the rows are: the database; on Citus each worker's database too."""
    import psycopg
    out = {}
    nodes = [("coordinator" if target == "citus" else "server", *TARGETS[target]["server"].split("@")[1].split(":"))]
    if target == "citus":
        nodes += [(f"worker {p}", h, p) for h, p in WORKERS]
    for name, host, port in nodes:
        t0 = time.perf_counter()
        with psycopg.connect(_dsn(host, int(port), TARGETS[target]["db"]), autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
        out[name] = round(time.perf_counter() - t0, 1)
    return out


SIZE_TABLES = ("case_record", "case_event", "case_deadline", "visits_visit", "case_tally", "org_unit", "audit_entry",
               "app_user", "access_token")


def sizes(target: str) -> dict:
    """Bytes on disk (table + indexes + TOAST) per table, per node, per county (apportioned)."""
    import psycopg
    out: dict = {"tables": {}, "rows": {}}
    with psycopg.connect(pg_dsn(), autocommit=True) as conn:
        present = {r[0] for r in conn.execute(
            "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r'").fetchall()}
        names = [t for t in SIZE_TABLES if t in present]
        fn = "citus_total_relation_size" if target == "citus" else "pg_total_relation_size"
        for t in names:
            out["tables"][t] = conn.execute(f"SELECT {fn}(%s)", (t,)).fetchone()[0]
            out["rows"][t] = dict(conn.execute(f"SELECT tenant_id, count(*) FROM {t} GROUP BY 1").fetchall())
        if target == "citus":
            out["all_tables"] = conn.execute(
                "SELECT coalesce(sum(citus_total_relation_size(logicalrelid)), 0) FROM pg_dist_partition").fetchone()[0]
            out["per_node"] = {f"{h}:{p}": s for h, p, s in conn.execute(
                "SELECT nodename, nodeport, sum(shard_size) FROM citus_shards GROUP BY 1, 2 ORDER BY 2").fetchall()}
            out["shards"] = conn.execute("SELECT count(*) FROM pg_dist_shard s JOIN pg_dist_partition p USING "
                                         "(logicalrelid) WHERE p.partmethod = 'h'").fetchone()[0]
            out["shard_count_per_table"] = conn.execute(
                "SELECT shard_count FROM citus_tables WHERE table_name = 'case_record'::regclass").fetchone()[0]
            out["database_per_node"] = {}
            for label, host, port in [("coordinator", "127.0.0.1", 5433)] + [(f"worker {p}", h, p) for h, p in WORKERS]:
                with psycopg.connect(_dsn(host, port, TARGETS[target]["db"]), autocommit=True) as c2:
                    out["database_per_node"][label] = c2.execute(
                        "SELECT pg_database_size(current_database())").fetchone()[0]
            out["database"] = sum(out["database_per_node"].values())
            # where each county's shard is: tenant → worker port
            out["tenant_node"] = {str(tid): port for tid, port in conn.execute(
                "SELECT t.id, (SELECT nodeport FROM pg_dist_shard_placement WHERE shardid = "
                "get_shard_id_for_distribution_column('case_record', t.id)) FROM tenant t ORDER BY 1").fetchall()}
        else:
            out["all_tables"] = conn.execute(
                "SELECT sum(pg_total_relation_size(oid)) FROM pg_class WHERE relnamespace = 'public'::regnamespace "
                "AND relkind = 'r'").fetchone()[0]
            out["database"] = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
    # per county: each table's bytes apportioned by the county's share of its rows
    per_tenant: dict = {}
    for t in names:
        total_rows = sum(out["rows"][t].values()) or 1
        for tid, n in out["rows"][t].items():
            per_tenant[str(tid)] = per_tenant.get(str(tid), 0) + out["tables"][t] * n / total_rows
    out["per_tenant_bytes"] = {k: round(v) for k, v in per_tenant.items()}
    out["rows"] = {t: {str(k): v for k, v in d.items()} for t, d in out["rows"].items()}
    if target == "citus":
        per_node: dict = {}
        for tid, port in out["tenant_node"].items():
            per_node.setdefault(str(port), {"tenants": 0, "bytes_apportioned": 0, "cases": 0})
            per_node[str(port)]["tenants"] += 1
            per_node[str(port)]["bytes_apportioned"] += out["per_tenant_bytes"].get(tid, 0)
            per_node[str(port)]["cases"] += out["rows"]["case_record"].get(tid, 0)
        out["tenants_per_worker"] = per_node
    return out


def generate(seed: int, n_cases: int, targets: list[str]) -> None:
    for target in targets:
        t = use(target)
        SCHEMA_SECONDS.clear()
        cases.COPY_SECONDS.clear()
        orgtree._reset_schema = _reset_schema_citus if target == "citus" else _reset_schema_single
        cases._drop_secondary = _drop_secondary_citus if target == "citus" else _ORIGINAL_DROP_SECONDARY
        print(f"=== {target}: {t['db']} on {t['server']} ===", flush=True)
        t0 = time.perf_counter()
        meta = cases.generate(seed, n_cases)
        t_gen = time.perf_counter() - t0
        vac = _vacuum_analyze(target)
        sz = sizes(target)
        meta.update({"target": target, "database_name": t["db"], "server": t["server"], "schema_seconds": dict(SCHEMA_SECONDS),
                     "vacuum_analyze_seconds": vac, "sizes": sz, "generated": now_utc(),
                     "load_after": os.getloadavg(),
                     "wall_seconds": {"cases.generate": round(t_gen, 1),
                                      "total with vacuum": round(time.perf_counter() - t0, 1)}})
        cases.META.write_text(json.dumps(meta, ensure_ascii=False, indent=1, default=int), encoding="utf-8")
        print(f"=== {target} done in {time.perf_counter() - t0:.0f} s; database {sz['database'] / 2**30:.2f} GiB; "
              f"vacuum {vac}", flush=True)


# --- measuring -----------------------------------------------------------------------------------

class _PerDb:
    """One ``core.db.ProcessCache`` per database for the process-wide caches of core (national
    calendar, enabled plugins): two apps on two databases run in this process, and neither may
    answer from an entry the other loaded. (``core.app._TENANTS`` keys by engine already.)"""

    current = ["single"]

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._caches: dict = {}

    def _c(self):
        from core.db import ProcessCache
        c = self._caches.get(_PerDb.current[0])
        if c is None:
            c = self._caches[_PerDb.current[0]] = ProcessCache(self.ttl)
        return c

    def get(self, key):
        return self._c().get(key)

    def put(self, key, value, generation: int) -> None:
        self._c().put(key, value, generation)

    def clear(self) -> None:
        for c in self._caches.values():
            c.clear()


def _split_caches() -> None:
    import core.cases.settings as settings
    import core.plugins as plugins
    for mod, name in ((settings, "_NATIONAL"), (plugins, "_ENABLED")):
        if not isinstance(getattr(mod, name), _PerDb):
            setattr(mod, name, _PerDb(getattr(mod, name).ttl))


class Target:
    """One database: its generation metadata, the real app on it, its clients and SQL capture."""

    def __init__(self, name: str) -> None:
        import tempfile
        from core.app import pingan
        self.name = name
        t = use(name)
        self.label = t["label"]
        self.meta = cases.load_meta(cases.META)
        org = json.loads(orgtree.META.read_text(encoding="utf-8"))
        self.users = self.meta["users"]
        self.tid = self.users["tenant_id"]
        slug = next(x["slug"] for x in org["per_tenant"] if x["tenant_id"] == self.tid)
        _PerDb.current[0] = name
        self.app = orgtree.make_app(Path(tempfile.mkdtemp(prefix=f"pingan-bench-citus-{name}-")))
        self.state = pingan(self.app)
        self.cap = orgtree.Capture(self.state.db.engine)
        self.clients = {who: cases.Client(self.app, f"{slug}.localhost", cases.officer_token(self.meta["seed"], self.tid, who))
                        for who in ("village", "township", "county")}
        self.dsn = pg_dsn()

    def call(self, fn):
        _PerDb.current[0] = self.name
        return fn()


def series_defs(t: Target) -> list[tuple[str, str, str, object]]:
    """(series, group, client, request) — request: a URL to GET or a body to POST to /api/cases."""
    u = t.users
    body = {"case_type": cases.CASE_TYPE, "title": "基准测试登记的走访请求", "content": "网格员上门了解情况。",
            "org_unit_id": u["village"]["unit_id"], "channel": "grid", "details": {"visit_kind": "home"}}
    out = [(f"case list, {who} officer (page 1)", "list", who, cases.list_url(u[who]["unit_id"]))
           for who in ("village", "township", "county")]
    out.append(("case registration (POST /api/cases)", "create", "village", body))
    for label, url in (("summary", "/api/case-stats/summary"),
                       ("summary?org_unit_id=<root>", f"/api/case-stats/summary?org_unit_id={u['county']['unit_id']}"),
                       ("counts?group_by=state", "/api/case-stats/counts?group_by=state"),
                       ("counts?group_by=unit", "/api/case-stats/counts?group_by=unit")):
        out.append((f"dashboard {label}", "stats", "county", url))
    return out


def _request(t: Target, who: str, req):
    api = t.clients[who]
    if isinstance(req, dict):
        return lambda: t.call(lambda: api.post("/api/cases", req))
    return lambda: t.call(lambda: api.get(req))


def timed_pair(fa, fb, n: int, warmup: int, budget: float) -> tuple[Stats, Stats]:
    """Samples of a and b alternating (a b, b a, a b …): load drift hits both alike."""
    for _ in range(warmup):
        fa()
        fb()
    a, b = [], []
    clock = time.perf_counter_ns
    t_end = time.perf_counter() + budget
    for i in range(n):
        for f, out in (((fa, a), (fb, b)) if i % 2 == 0 else ((fb, b), (fa, a))):
            t0 = clock()
            f()
            out.append(clock() - t0)
        if len(a) >= 15 and time.perf_counter() > t_end:
            break
    return summarize(a), summarize(b)


_UTILITY = re.compile(r"^\s*(BEGIN|SET|RESET|COMMIT|ROLLBACK|SAVEPOINT|RELEASE|SHOW)\b", re.I)
_TENANT_SET = re.compile(r"SET LOCAL pingan\.tenant_id = '(\d*)'")


class Explainer:
    """EXPLAIN on the coordinator as the app role, in ``BEGIN; SET LOCAL pingan.tenant_id``."""

    def __init__(self, dsn: str) -> None:
        import psycopg
        self.conn = psycopg.connect(dsn)
        self.conn.execute(f'SET ROLE "{APP_ROLE}"')
        self.conn.execute("SET citus.propagate_set_commands = 'local'")   # as the app's connections (core.db)
        self.conn.execute("SET jit = off")
        self.conn.commit()

    def plan(self, stmt: str, params, tid: str | None) -> str:
        if isinstance(params, (list, tuple)) and params and isinstance(params[0], dict):
            params = params[0]   # executemany: the first row's parameters
        try:
            with self.conn.cursor() as cur:
                cur.execute(f"SET LOCAL pingan.tenant_id = '{tid or ''}'")
                cur.execute("EXPLAIN (COSTS OFF) " + stmt, params or None)
                return "\n".join(r[0] for r in cur.fetchall())
        except Exception as exc:  # noqa: BLE001 — recorded in the report
            return f"ERROR: {type(exc).__name__}: {str(exc).strip()}"
        finally:
            self.conn.rollback()


def classify(plan: str) -> str:
    if plan.startswith("ERROR"):
        return "error"
    counts = [int(x) for x in re.findall(r"Task Count: (\d+)", plan)]
    if any(c > 1 for c in counts):
        return "multi-shard"
    if "Custom Scan (Citus" in plan or counts:
        return "router"
    return "coordinator-only"


def _statements(ev: list[tuple]) -> list[tuple[str, object, str | None]]:
    """(statement, parameters, tenant bound by the transaction) of every execution in ``ev``."""
    out, tid = [], None
    for e in ev:
        if e[0] != "exec":
            continue
        m = _TENANT_SET.search(e[1])
        if m:
            tid = m.group(1) or None
        out.append((e[1], e[2], tid))
    return out


def _first_line(stmt: str, width: int = 150) -> str:
    s = " ".join(stmt.split())
    return s if len(s) <= width else s[:width] + " …"


class Sql:
    """psycopg as the app role (like the app's connections: no server-side prepared statements, JIT
    off; on Citus the tenant's ``SET LOCAL`` propagated): the request's statements alone."""

    def __init__(self, dsn: str, citus: bool) -> None:
        import psycopg
        self.conn = psycopg.connect(dsn, prepare_threshold=None)
        self.conn.execute(f'SET ROLE "{APP_ROLE}"')
        self.conn.execute("SET jit = off")
        if citus:
            self.conn.execute("SET citus.propagate_set_commands = 'local'")
        self.conn.commit()

    def replay(self, stmts: list[tuple[str, object, str | None]]) -> int:
        """BEGIN; SET LOCAL pingan.tenant_id; every planned statement (rows fetched); ROLLBACK."""
        rows = 0
        try:
            with self.conn.cursor() as cur:
                cur.execute(f"SET LOCAL pingan.tenant_id = '{stmts[0][2] or ''}'")
                for stmt, params, _ in stmts:
                    cur.execute(stmt, params or None)
                    if cur.description is not None:
                        rows += len(cur.fetchall())
        finally:
            self.conn.rollback()
        return rows

    def analyze(self, stmt: str, params, tid: str | None) -> tuple[float, str]:
        try:
            with self.conn.cursor() as cur:
                cur.execute(f"SET LOCAL pingan.tenant_id = '{tid or ''}'")
                cur.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + stmt, params or None)
                plan = "\n".join(r[0] for r in cur.fetchall())
        except Exception as exc:  # noqa: BLE001 — recorded in the report
            return float("nan"), f"ERROR: {type(exc).__name__}: {str(exc).strip()}"
        finally:
            self.conn.rollback()
        m = re.search(r"Execution Time: ([\d.]+) ms", plan)
        return (float(m.group(1)) if m else float("nan")), plan


def _planned(st: list[tuple[str, object, str | None]]) -> list[tuple[str, object, str | None]]:
    return [x for x in st if not _UTILITY.match(x[0])]


def run(n: int, warmup: int, budget: float) -> Path:
    from core.db import bump_config_generation
    started, load_before = now_utc(), os.getloadavg()
    _split_caches()
    single, dist = Target("single"), Target("citus")
    explainer = Explainer(dist.dsn)
    sql = {"single": Sql(single.dsn, False), "citus": Sql(dist.dsn, True)}
    res: dict = {"started": started, "load_before": load_before, "n": n, "warmup": warmup, "budget": budget,
                 "series": {}}
    plans: dict[str, dict] = {}  # statement text → {"plan", "class", "tenant", "params"}
    for name, group, who, req in series_defs(single):
        req_d = next(r for s, _, _, r in series_defs(dist) if s == name)
        fa, fb = _request(single, who, req), _request(dist, who, req_d)
        fa(), fb()
        # three requests each: the statements of all three are explained (an in-process cache entry
        # expiring every 5 s adds a statement or two to some requests); the fewest are counted
        # the first of them after ``bump_config_generation()``, as after a write to a cached table: the
        # caches (host → tenant, tenant row, enabled modules, calendar) reload, and those statements
        # are explained too
        runs_a = [_statements(single.cap.record(lambda: (bump_config_generation(), fa()))) if i == 0 else
                  _statements(single.cap.record(fa)) for i in range(3)]
        runs_b = [_statements(dist.cap.record(lambda: (bump_config_generation(), fb()))) if i == 0 else
                  _statements(dist.cap.record(fb)) for i in range(3)]
        for st in runs_b:
            for stmt, params, tid in _planned(st):
                if stmt not in plans:
                    p = explainer.plan(stmt, params, tid)
                    plans[stmt] = {"plan": p, "class": classify(p), "tenant": tid,
                                   "params": json.loads(json.dumps(params, default=str))}
        st_a, st_b = min(runs_a, key=len), min(runs_b, key=len)
        classes: dict[str, int] = {}
        per: list[dict] = []
        for stmt, _, _ in st_b:
            kind = "utility" if _UTILITY.match(stmt) else plans[stmt]["class"]
            classes[kind] = classes.get(kind, 0) + 1
            per.append({"sql": _first_line(stmt), "class": kind})
        extra = sorted({x[0] for st in runs_b for x in _planned(st)} - {x[0] for x in _planned(st_b)})
        print(f"[{name}] statements per request: single {len(st_a)}, citus {len(st_b)}: {classes}", flush=True)
        sa, sb = timed_pair(fa, fb, n, warmup, budget)
        print(f"  api single {sa.row()}\n  api citus  {sb.row()}", flush=True)
        entry = {"group": group, "who": who, "single": vars(sa), "citus": vars(sb),
                 "statements_single": len(st_a), "statements_citus": len(st_b), "statements_sometimes": extra,
                 "classes": classes, "per_statement": per}
        if group != "create":  # reads: the same statements replayed alone, and the heaviest one analysed
            pa, pb = _planned(st_a), _planned(st_b)
            qa, qb = timed_pair(lambda: sql["single"].replay(pa), lambda: sql["citus"].replay(pb),
                                max(30, n // 2), max(5, warmup // 3), budget / 2)
            print(f"  sql single {qa.row()}\n  sql citus  {qb.row()}", flush=True)
            entry["sql_single"], entry["sql_citus"] = vars(qa), vars(qb)
            times = [(sql["single"].analyze(*x), x) for x in pa]
            (t_a, plan_a), heavy = max(times, key=lambda t: t[0][0])
            t_b, plan_b = sql["citus"].analyze(*heavy)
            entry["heaviest"] = {"sql": heavy[0], "params": json.loads(json.dumps(heavy[1], default=str)),
                                 "single_ms": t_a, "citus_ms": t_b, "plan_single": plan_a, "plan_citus": plan_b}
        res["series"][name] = entry
    res["plans"] = plans
    res["load_after"] = os.getloadavg()
    res["finished"] = now_utc()
    res["meta"] = {"single": single.meta, "citus": dist.meta}
    (RESULTS / "citus_run.json").write_text(json.dumps(res, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    return save(report(res))


# --- the report -----------------------------------------------------------------------------------

def _sfmt(us: float) -> str:
    """fmt() with a sign (a difference)."""
    return ("−" + fmt(-us)) if us < 0 else fmt(us)


def _ms(x: float) -> str:
    return "failed (below)" if x != x else f"{x:.2f} ms"


_LONG_ARRAY = re.compile(r"'\{([0-9,]{120,})\}'")


def _short_plan(plan: str) -> str:
    """A plan with long id arrays shortened to their first ids and their count."""
    def sub(m):
        ids = m.group(1).split(",")
        return "'{" + ",".join(ids[:4]) + f",… {len(ids)} ids}}'"
    return _LONG_ARRAY.sub(sub, plan)


def _short_params(params) -> str:
    text = json.dumps(params, ensure_ascii=False)
    if len(text) <= 400:
        return text
    return f"{len(params)} parameters: " + text[:300] + " …"


def _st(d: dict) -> Stats:
    return Stats(**d)


def _gib(b: float) -> str:
    return f"{b / 2**30:.2f} GiB" if b >= 2**30 else f"{b / 2**20:.1f} MiB"


def _git() -> tuple[str, int]:
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "core"], capture_output=True, text=True,
                           cwd=ROOT).stdout.count("\n")
    return head, dirty


def report(res: dict) -> str:
    L: list[str] = []
    a = L.append
    head, dirty = _git()
    ms, mc = res["meta"]["single"], res["meta"]["citus"]
    a("# One PostgreSQL versus Citus (issue 23)\n")
    a(f"- date: {now_utc()} (run started {res['started']}, finished {res['finished']})")
    a(f"- machine: {machine()}; load average at the start of the run: "
      f"{', '.join(f'{x:.2f}' for x in res['load_before'])}, at the end: "
      f"{', '.join(f'{x:.2f}' for x in res['load_after'])}")
    a(f"- code: HEAD {head} plus {dirty} uncommitted files under core/ (other work in progress on the same tree)")
    a("- **single**: `pingan_bench_citus_single` on the machine's PostgreSQL 15 (127.0.0.1:5432; `fsync = on`, "
      "`shared_buffers` 128 MB; the database has `synchronous_commit = off` set with `ALTER DATABASE`, like the "
      "Citus nodes). **citus**: `pingan_bench_citus` on a Citus 13.2 coordinator (127.0.0.1:5433) with two "
      "workers (5434, 5435), three PostgreSQL 15 servers of /work/shared/citus/setup.sh on the same 2 cores "
      "(`fsync = off`, `synchronous_commit = off`, `shared_buffers` 128 MB each), "
      f"{mc['sizes'].get('shard_count_per_table', '?')} shards per distributed table")
    a("- the app: `core.app.create_app` (bench/orgtree.py's `make_app`) on each database as `pingan_app` (RLS on), "
      "both apps in one process, Werkzeug test client, personal access tokens of bench/cases.py's three case "
      "officers of the largest county; `core.cases.settings._NATIONAL` and `core.plugins._ENABLED` (process-wide "
      "caches) split per database in this process only")
    a(f"- samples: up to n = {res['n']} per database and series after {res['warmup']} warm-up calls each, the two "
      f"databases alternating call by call; a series stops after {res['budget']:.0f} s once it has 15 samples "
      "(the n column says how many were taken); `time.perf_counter_ns` around each request; nearest-rank p95")
    a("")
    a("## Commands\n")
    a("```sh")
    a("createdb -h 127.0.0.1 -U postgres pingan_bench_citus_single")
    a("psql -h 127.0.0.1 -U postgres -c 'ALTER DATABASE pingan_bench_citus_single SET synchronous_commit = off' postgres")
    a("CITUS_DB=pingan_bench_citus bash /work/shared/citus/setup.sh")
    a(f".venv/bin/python bench/citus.py generate --cases {ms['requested']}   # seed {ms['seed']}; both databases, one after the other")
    a(f".venv/bin/python bench/citus.py run --n {res['n']} --warmup {res['warmup']} --budget {res['budget']:.0f}")
    a("```\n")
    a("## Latency through the app, side by side\n")
    a("Times per request (test client, whole Flask pipeline). Ratio = Citus / single.\n")
    a("series | statements / request | single p50 | single p95 | single mean | Citus p50 | Citus p95 | Citus mean | "
      "ratio p50 | ratio p95 | ratio mean | n (each)")
    a("---|---|---|---|---|---|---|---|---|---|---|---")
    for name, s in res["series"].items():
        x, y = _st(s["single"]), _st(s["citus"])
        nst = (str(s["statements_single"]) if s["statements_single"] == s["statements_citus"]
               else f"{s['statements_single']} / {s['statements_citus']}")
        a(f"{name} | {nst} | {fmt(x.median_us)} | {fmt(x.p95_us)} | {fmt(x.mean_us)} | {fmt(y.median_us)} | "
          f"{fmt(y.p95_us)} | {fmt(y.mean_us)} | **{y.median_us / x.median_us:.2f}×** | {y.p95_us / x.p95_us:.2f}× | "
          f"{y.mean_us / x.mean_us:.2f}× | {min(x.n, y.n)}")
    a("")
    a("Statements per request: those the app sent in the request with the fewest of three captured. The first of "
      "the three follows `core.db.bump_config_generation()` (what a write to a cached platform table does): the "
      "process caches (host → county, the `tenant` row, enabled modules, calendar) reload there, as they also do "
      "when an entry expires (5 s); those extra statements are explained with the others.\n")
    sometimes = sorted({x for s in res["series"].values() for x in s.get("statements_sometimes", [])})
    if sometimes:
        a("Statements seen only in the request that reloaded the caches (their class: " +
          ", ".join(sorted({res["plans"][x]["class"] for x in sometimes if x in res["plans"]})) + "):\n")
        for x in sometimes:
            a(f"- `{_first_line(x, 160)}` — {res['plans'].get(x, {}).get('class', '?')}")
        a("")
    a("### The same statements alone (SQL replay)\n")
    a("The planned statements of one captured request of each read series, replayed with psycopg as `pingan_app` "
      "in `BEGIN; SET LOCAL pingan.tenant_id; …; ROLLBACK` (on Citus with `citus.propagate_set_commands = 'local'` "
      "like the app's connections), the two databases alternating. What the API adds on top is the app's own "
      "work in this process, the same on both.\n")
    a("series | statements | single SQL p50 | single SQL p95 | Citus SQL p50 | Citus SQL p95 | ratio p50 | "
      "Citus − single per statement (p50) | API − SQL, single (p50) | API − SQL, Citus (p50)")
    a("---|---|---|---|---|---|---|---|---|---")
    for name, s in res["series"].items():
        if "sql_single" not in s:
            continue
        x, y = _st(s["sql_single"]), _st(s["sql_citus"])
        k = sum(v for c, v in s["classes"].items() if c != "utility")
        a(f"{name} | {k} | {fmt(x.median_us)} | {fmt(x.p95_us)} | {fmt(y.median_us)} | {fmt(y.p95_us)} | "
          f"**{y.median_us / x.median_us:.2f}×** | {_sfmt((y.median_us - x.median_us) / k)} | "
          f"{_sfmt(_st(s['single']).median_us - x.median_us)} | {_sfmt(_st(s['citus']).median_us - y.median_us)}")
    a("")
    a("The heaviest statement of each read series (largest `Execution Time` of `EXPLAIN (ANALYZE, BUFFERS)` on the "
      "single database, as `pingan_app`), analysed on both; plans below the table:\n")
    a("series | statement | single execution time | Citus execution time (coordinator, incl. the worker)")
    a("---|---|---|---")
    for name, s in res["series"].items():
        h = s.get("heaviest")
        if h:
            a(f"{name} | `{_first_line(h['sql'], 90)}` | {_ms(h['single_ms'])} | {_ms(h['citus_ms'])}")
    a("")
    a("## Router execution on Citus\n")
    a("Every statement the app sent during one request of each series (captured with `before_cursor_execute` on "
      "the Citus app), `EXPLAIN (COSTS OFF)` on the coordinator as `pingan_app` inside `BEGIN; SET LOCAL "
      "pingan.tenant_id = <the tenant that request's transaction bound>` with the captured parameters. **router**: "
      "a Citus plan whose every `Task Count` is 1 (one shard of one worker, or a reference table); "
      "**coordinator-only**: no Citus node in the plan (nothing distributed is read: e.g. `nextval` of "
      "`pingan_id_seq`); **multi-shard**: a `Task Count` above 1; *utility*: `BEGIN; SET LOCAL …` and the like, "
      "not planned.\n")
    a("series | statements | utility | router | coordinator-only | multi-shard | error | share router or coordinator-only (of planned)")
    a("---|---|---|---|---|---|---|---")
    tot = {"router": 0, "coordinator-only": 0, "multi-shard": 0, "error": 0, "utility": 0}
    for name, s in res["series"].items():
        c = s["classes"]
        for k in tot:
            tot[k] += c.get(k, 0)
        planned = sum(c.get(k, 0) for k in ("router", "coordinator-only", "multi-shard", "error"))
        share = (c.get("router", 0) + c.get("coordinator-only", 0)) / planned if planned else float("nan")
        a(f"{name} | {s['statements_citus']} | {c.get('utility', 0)} | {c.get('router', 0)} | "
          f"{c.get('coordinator-only', 0)} | {c.get('multi-shard', 0)} | {c.get('error', 0)} | **{share:.0%}**")
    planned = sum(tot[k] for k in ("router", "coordinator-only", "multi-shard", "error"))
    a(f"all | {sum(tot.values())} | {tot['utility']} | {tot['router']} | {tot['coordinator-only']} | "
      f"{tot['multi-shard']} | {tot['error']} | **{(tot['router'] + tot['coordinator-only']) / planned:.0%}**")
    a("")
    bad = {k: v for k, v in res["plans"].items() if v["class"] in ("multi-shard", "error")}
    if bad:
        a("Statements that are not router-executed (or failed to EXPLAIN):\n")
        for stmt, v in bad.items():
            a(f"- **{v['class']}** (tenant {v['tenant']}): `{_first_line(stmt, 300)}`")
            a("\n```\n" + _short_plan(v["plan"])[:3000] + "\n```\n")
    else:
        a("No statement was multi-shard and every statement could be explained.\n")
    a(f"{len(res['plans'])} distinct statements were explained; their plans are in `results/citus_run.json` "
      "(`plans`). The coordinator-only ones:\n")
    for stmt, v in res["plans"].items():
        if v["class"] == "coordinator-only":
            a(f"- `{_first_line(stmt, 200)}`")
    a("")
    a("## Plans of the heaviest statements\n")
    for name, s in res["series"].items():
        h = s.get("heaviest")
        if not h:
            continue
        a(f"**{name}**: `{_first_line(h['sql'], 400)}` with " + _short_params(h["params"]) + "\n")
        a("single:\n\n```\n" + _short_plan(h["plan_single"]) + "\n```\n")
        a("Citus:\n\n```\n" + _short_plan(h["plan_citus"]) + "\n```\n")
        if h["plan_citus"].startswith("ERROR"):
            a("The same statement's plain `EXPLAIN` on the coordinator (its class above comes from it):\n\n```\n"
              + _short_plan(res["plans"].get(h["sql"], {}).get("plan", "?")) + "\n```\n")
    a("## Data actually generated\n")
    a("bench/cases.py's generator, unchanged, same seed, in both databases (Citus: tables distributed before the "
      "first row was loaded).\n")
    a("figure | single | Citus")
    a("---|---|---")
    c1, c2 = ms["counts"], mc["counts"]
    a(f"cases / events / deadlines | {c1['cases']:,} / {c1['events']:,} / {c1['deadlines']:,} | "
      f"{c2['cases']:,} / {c2['events']:,} / {c2['deadlines']:,}")
    a(f"org tree | {ms['org']['units']:,} units in {ms['org']['tenants']} counties | "
      f"{mc['org']['units']:,} units in {mc['org']['tenants']} counties")
    a(f"largest county (tenant {ms['users']['tenant_id']}) | {ms['users']['county_cases']:,} cases | "
      f"{mc['users']['county_cases']:,} cases")
    for t in SIZE_TABLES:
        if t in ms["sizes"]["tables"]:
            a(f"`{t}` (table + indexes) | {_gib(ms['sizes']['tables'][t])} | {_gib(mc['sizes']['tables'][t])}")
    a(f"all our tables | {_gib(ms['sizes']['all_tables'])} | {_gib(mc['sizes']['all_tables'])} (distributed + "
      "reference; reference tables once)")
    a(f"database(s) on disk | {_gib(ms['sizes']['database'])} | {_gib(mc['sizes']['database'])} = " +
      " + ".join(f"{k} {_gib(v)}" for k, v in mc["sizes"]["database_per_node"].items()))
    for k in ("schema_seconds",):
        a(f"schema | {ms[k]} | {mc[k]}")
    for k in ("org_tree (orgtree.generate)", "prepare", "copy", "indexes_and_foreign_keys", "analyze", "total"):
        a(f"generation: {k} (s) | {ms['seconds'][k]} | {mc['seconds'][k]}")
    a(f"COPY per table (s) | {ms['copy_seconds']} | {mc['copy_seconds']}")
    a(f"VACUUM ANALYZE after (s) | {ms['vacuum_analyze_seconds']} | {mc['vacuum_analyze_seconds']}")
    a(f"wall, generation + vacuum | {ms['wall_seconds']['total with vacuum'] / 60:.1f} min | "
      f"{mc['wall_seconds']['total with vacuum'] / 60:.1f} min")
    a("")
    tw = mc["sizes"].get("tenants_per_worker", {})
    if tw:
        a("Counties per worker on Citus (each county's shard, `get_shard_id_for_distribution_column`), with the "
          "bytes of the tables above apportioned by each county's rows, and the shards' own sizes (`citus_shards`):\n")
        a("worker | counties | cases | bytes (apportioned) | all shards on it (citus_shards)")
        a("---|---|---|---|---")
        for port, v in sorted(tw.items()):
            shard = next((b for k, b in mc["sizes"]["per_node"].items() if k.endswith(f":{port}")), 0)
            a(f"{port} | {v['tenants']} | {v['cases']:,} | {_gib(v['bytes_apportioned'])} | {_gib(shard)}")
        a("")
    per = ms["sizes"]["per_tenant_bytes"]
    rows = ms["sizes"]["rows"]["case_record"]
    big = str(ms["users"]["tenant_id"])
    cases_total = sum(rows.values())
    a(f"Per county (single database, bytes apportioned by rows): largest county {int(rows[big]):,} cases, "
      f"{_gib(per[big])}; median county {sorted(rows.values())[len(rows) // 2]:,} cases; all counties "
      f"{_gib(sum(per.values()))} for {cases_total:,} cases, i.e. **{sum(per.values()) / cases_total / 1024:.1f} KiB "
      "per case** everything included (case, events, deadlines, visit row, tally, org units, users).\n")
    return "\n".join(L)


def save(text: str) -> Path:
    path = RESULTS / "citus.md"
    kept = ""
    if path.exists() and MARKER in path.read_text(encoding="utf-8"):
        kept = path.read_text(encoding="utf-8").split(MARKER, 1)[1]
    return write_result("citus", text + "\n" + MARKER + (kept or "\n"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("generate")
    g.add_argument("--seed", type=int, default=20260105)
    g.add_argument("--cases", type=int, default=1_000_000)
    g.add_argument("--only", default="single,citus")
    g.add_argument("--shard-count", type=int, default=None,
                   help="`pingan db distribute --shard-count` (default: the server's citus.shard_count, 32)")
    r = sub.add_parser("run")
    r.add_argument("--n", type=int, default=200)
    r.add_argument("--warmup", type=int, default=20)
    r.add_argument("--budget", type=float, default=120.0, help="seconds per series (both databases), at least 15 samples")
    sub.add_parser("report", help="rewrite results/citus.md from results/citus_run.json (no measuring)")
    a = ap.parse_args()
    if a.cmd == "generate":
        SHARD_COUNT[0] = a.shard_count
        generate(a.seed, a.cases, a.only.split(","))
    elif a.cmd == "report":
        print(f"wrote {save(report(json.loads((RESULTS / 'citus_run.json').read_text(encoding='utf-8'))))}")
    else:
        print(f"wrote {run(a.n, a.warmup, a.budget)}")


if __name__ == "__main__":
    main()
