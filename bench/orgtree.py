"""Figure 1: org-tree subtree and ancestor queries, API versus the same SQL (PostgreSQL).

    .venv/bin/python bench/orgtree.py generate            # (re)build pingan_bench: 100 tenants, 250,000 units
    .venv/bin/python bench/orgtree.py run [--n 500]       # measure, write bench/results/orgtree.md
    .venv/bin/python bench/orgtree.py profile             # pyinstrument profile of the first-page call

``generate`` drops and rebuilds the public schema of the database ``pingan_bench`` (override
with PINGAN_BENCH_DB; ``test`` and ``test_*`` are refused) with ``pingan db upgrade``, then
bulk-loads the data with COPY as the schema owner. Everything is derived from ``--seed``:
tree shapes, ids (taken from ``pingan_id_seq`` in one round trip per tenant) and the personal
access tokens (``pat_<tenant>_bench<hash(seed, tenant)>``, stored as sha256 like the app does).
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import random
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (ROOT, STATS_HEADER, Stats, bench_db_name, fmt, machine, measure, now_utc, pg_dsn,  # noqa: E402
                     sa_url, write_result)

N_TENANTS = 100
TOTAL_UNITS = 250_000
LARGEST = 10_000
LEVELS = [("county", "县", "County"), ("township", "乡镇（街道）", "Township"), ("district", "管区", "District"),
          ("village", "村（社区）", "Village"), ("group", "村民小组", "Group"), ("grid", "网格", "Grid")]
APP_ROLE = "pingan_app"
READ = "core.org_unit.read"
META = Path(__file__).resolve().parent / "results" / "orgtree_data.json"


# --- sizes and shapes ----------------------------------------------------------------------

def zipf_sizes(n: int = N_TENANTS, total: int = TOTAL_UNITS, largest: int = LARGEST) -> tuple[list[int], float]:
    """Sizes ``largest / k**s`` (k = 1…n) with ``s`` chosen so they add up to ``total``."""
    lo, hi = 0.0, 3.0
    for _ in range(80):
        s = (lo + hi) / 2
        if sum(largest * k ** -s for k in range(1, n + 1)) > total:
            lo = s
        else:
            hi = s
    sizes = [max(10, round(largest * k ** -s)) for k in range(1, n + 1)]
    diff = total - sum(sizes)
    i = 1
    while diff:  # spread the rounding error over the tenants after the largest
        step = 1 if diff > 0 else -1
        sizes[i] += step
        diff -= step
        i = i + 1 if i + 1 < n else 1
    return sizes, s


@dataclass
class Node:
    level: str
    children: list["Node"] = field(default_factory=list)


def _village(rng: random.Random, budget: int) -> tuple[Node, int]:
    """A village with its groups and grids, at most ``budget`` units; returns (node, used)."""
    v = Node("village")
    used = 1
    for _ in range(rng.randint(2, 8)):
        if used >= budget:
            break
        g = Node("group")
        v.children.append(g)
        used += 1
        for _ in range(rng.choice((0, 1, 2, 2, 3, 4))):
            if used >= budget:
                break
            g.children.append(Node("grid"))
            used += 1
    return v, used


def _fill_villages(rng: random.Random, parent: Node, budget: int) -> None:
    while budget > 0:
        v, used = _village(rng, budget)
        parent.children.append(v)
        budget -= used


def _split(rng: random.Random, total: int, parts: int) -> list[int]:
    """``total`` split into ``parts`` positive integers with log-normal weights."""
    w = [rng.lognormvariate(0, 0.5) for _ in range(parts)]
    s = sum(w)
    raw = [total * x / s for x in w]
    out = [max(1, int(r)) for r in raw]
    i = 0
    while sum(out) < total:
        out[i % parts] += 1
        i += 1
    while sum(out) > total:
        j = max(range(parts), key=lambda k: out[k])
        out[j] -= 1
    return out


def county_tree(rng: random.Random, size: int) -> Node:
    """County → townships → (districts, in ~40 % of townships) → villages → groups → grids."""
    root = Node("county")
    n_town = max(3, min(40, round(size ** 0.5 / 4)))
    rest = size - 1 - n_town
    for budget in _split(rng, rest, n_town):
        t = Node("township")
        root.children.append(t)
        if budget > 40 and rng.random() < 0.4:
            n_d = rng.randint(3, 6)
            for db in _split(rng, budget - n_d, n_d):
                d = Node("district")
                t.children.append(d)
                _fill_villages(rng, d, db)
        else:
            _fill_villages(rng, t, budget)
    return root


def count(node: Node) -> int:
    return 1 + sum(count(c) for c in node.children)


def bench_token(seed: int, tenant_id: int) -> str:
    return f"pat_{tenant_id}_bench{hashlib.sha256(f'{seed}:{tenant_id}'.encode()).hexdigest()[:40]}"


def sha256(s: str) -> str:
    return hashlib.sha256(s.encode()).hexdigest()


# --- generation ----------------------------------------------------------------------------

def _reset_schema() -> None:
    import psycopg
    with psycopg.connect(pg_dsn(), autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
        conn.execute("CREATE SCHEMA public")
    env = {**os.environ, "PINGAN_DATABASE_URL": sa_url()}
    env.pop("PINGAN_REDIS_URL", None)
    subprocess.run([str(ROOT / ".venv" / "bin" / "pingan"), "db", "upgrade"], check=True, env=env, cwd=ROOT)


def generate(seed: int) -> dict:
    import psycopg
    from core.audit import GENESIS
    from core.authz import CORE_PERMISSIONS

    bench_db_name()
    t_start = time.perf_counter()
    _reset_schema()
    t_schema = time.perf_counter() - t_start
    sizes, s = zipf_sizes()
    created = datetime(2026, 1, 5, 8, 0, tzinfo=timezone.utc)
    perms = [p.code for p in CORE_PERMISSIONS]
    per_tenant = []
    with psycopg.connect(pg_dsn()) as conn:
        cur = conn.cursor()
        for k, size in enumerate(sizes, start=1):
            rng = random.Random(seed * 1_000_003 + k)
            tree = county_tree(rng, size)
            assert count(tree) == size, (k, size, count(tree))
            slug = f"bench-{k:03d}"
            tid = cur.execute("INSERT INTO tenant (slug, name, name_en, status, created_at) "
                              "VALUES (%s, %s, %s, 'active', %s) RETURNING id",
                              (slug, f"基准县{k:03d}", f"Bench county {k}", created)).fetchone()[0]
            cur.execute("INSERT INTO tenant_domain (host, tenant_id) VALUES (%s, %s)", (f"{slug}.localhost", tid))
            n_ids = size + len(LEVELS) + 1 + len(perms) + 1 + 1 + 1
            ids = iter(r[0] for r in cur.execute(
                "SELECT nextval('pingan_id_seq') FROM generate_series(1, %s)", (n_ids,)).fetchall())
            with cur.copy("COPY org_level (tenant_id, id, key, rank, name, name_en) FROM STDIN") as cp:
                for rank, (key, name, name_en) in enumerate(LEVELS):
                    cp.write_row((tid, next(ids), key, rank, name, name_en))
            # the tree, depth first; ids in creation order; ~1 % of grids retired
            rows = []
            stats = {"townships": 0, "max_depth": 0}
            stack = [(tree, None, "/", 0)]
            counter = 0
            while stack:
                node, parent_id, ppath, depth = stack.pop()
                uid = next(ids)
                path = f"{ppath}{uid}/"
                counter += 1
                retired = node.level == "grid" and rng.random() < 0.01
                rows.append((tid, uid, parent_id, path, depth, node.level, f"{LEVELS_NAME[node.level]}{counter:05d}",
                             f"{k:03d}-{counter:05d}", "retired" if retired else "active",
                             created + timedelta(days=30) if retired else None, created))
                stats["max_depth"] = max(stats["max_depth"], depth)
                for child in reversed(node.children):
                    stack.append((child, uid, path, depth + 1))
            root_id = rows[0][1]
            with cur.copy("COPY org_unit (tenant_id, id, parent_id, path, depth, level, name, code, status, "
                          "retired_at, created_at) FROM STDIN") as cp:
                for r in rows:
                    cp.write_row(r)
            role_id = next(ids)
            cur.execute("INSERT INTO role (tenant_id, id, key, name, name_en, created_at) VALUES (%s,%s,%s,%s,%s,%s)",
                        (tid, role_id, "county_admin", "县级管理员", "County administrator", created))
            with cur.copy("COPY role_permission (tenant_id, id, role_id, permission) FROM STDIN") as cp:
                for p in perms:
                    cp.write_row((tid, next(ids), role_id, p))
            user_id = next(ids)
            cur.execute("INSERT INTO app_user (tenant_id, id, username, org_unit_id, display_name, password_hash, "
                        "status, failed_logins, must_change_password, locale, created_at) "
                        "VALUES (%s,%s,'county.admin',%s,'县管理员',NULL,'active',0,false,'zh_CN',%s)",
                        (tid, user_id, root_id, created))
            cur.execute("INSERT INTO role_assignment (tenant_id, id, user_id, role_id, org_unit_id, created_at) "
                        "VALUES (%s,%s,%s,%s,%s,%s)", (tid, next(ids), user_id, role_id, root_id, created))
            cur.execute("INSERT INTO audit_head (tenant_id, id, seq, hash) VALUES (%s, 0, 0, %s)", (tid, GENESIS))
            cur.execute("INSERT INTO access_token (tenant_id, id, user_id, name, token_hash, scope, created_at) "
                        "VALUES (%s,%s,%s,'bench',%s,'',%s)",
                        (tid, next(ids), user_id, sha256(bench_token(seed, tid)), created))
            per_tenant.append({"tenant_id": tid, "slug": slug, "units": size, "townships": len(tree.children),
                               "max_depth": stats["max_depth"]})
        conn.commit()
    t_load = time.perf_counter() - t_start - t_schema
    t0 = time.perf_counter()
    with psycopg.connect(pg_dsn(), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    t_analyze = time.perf_counter() - t0
    meta = {"seed": seed, "zipf_s": round(s, 4), "tenants": len(sizes), "units": sum(sizes),
            "largest": max(sizes), "smallest": min(sizes), "median_size": sorted(sizes)[len(sizes) // 2],
            "seconds": {"schema": round(t_schema, 1), "load": round(t_load, 1), "vacuum_analyze": round(t_analyze, 1),
                        "total": round(time.perf_counter() - t_start, 1)},
            "per_tenant": per_tenant}
    META.parent.mkdir(parents=True, exist_ok=True)
    META.write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")
    print(f"generated {meta['units']} units in {meta['tenants']} tenants (zipf s={meta['zipf_s']}, "
          f"{meta['smallest']}…{meta['largest']} units) in {meta['seconds']['total']} s: {meta['seconds']}")
    return meta


LEVELS_NAME = {"county": "县", "township": "镇", "district": "管区", "village": "村", "group": "组", "grid": "网格"}


def load_meta() -> dict:
    if not META.exists():
        raise SystemExit("no generated data: run `bench/orgtree.py generate` first")
    return json.loads(META.read_text(encoding="utf-8"))


# --- scenarios -----------------------------------------------------------------------------

@dataclass
class Scenario:
    label: str           # "small", "median", "largest" …
    tenant_id: int
    tenant_units: int
    host: str
    token: str
    township_id: int
    township_units: int  # active units in its subtree (what the API lists)
    deep_id: int         # a deepest unit of the tenant, for /ancestors
    deep_depth: int


def scenarios(meta: dict) -> list[Scenario]:
    """Townships of the smallest, the median and the largest tenant (the median-sized township
    of each), plus the largest township of the largest tenant."""
    import psycopg
    tenants = sorted(meta["per_tenant"], key=lambda t: t["units"])
    picks = [("small", tenants[0], "median"), ("median", tenants[len(tenants) // 2], "median"),
             ("largest", tenants[-1], "median"), ("largest/biggest township", tenants[-1], "max")]
    out = []
    with psycopg.connect(pg_dsn()) as conn:
        for label, t, which in picks:
            tid = t["tenant_id"]
            towns = conn.execute(
                "SELECT t.id, (SELECT count(*) FROM org_unit u WHERE u.tenant_id = t.tenant_id "
                "  AND u.path LIKE t.path || '%%' AND u.status = 'active') AS n "
                "FROM org_unit t WHERE t.tenant_id = %s AND t.level = 'township' ORDER BY n, t.id", (tid,)).fetchall()
            town = towns[len(towns) // 2] if which == "median" else towns[-1]
            deep = conn.execute("SELECT id, depth FROM org_unit WHERE tenant_id = %s AND status = 'active' "
                                "ORDER BY depth DESC, id LIMIT 1", (tid,)).fetchone()
            out.append(Scenario(label, tid, t["units"], f"{t['slug']}.localhost", bench_token(meta["seed"], tid),
                                town[0], town[1], deep[0], deep[1]))
    return out


# --- the app, SQL capture and replay -------------------------------------------------------

class Capture:
    """Records what the app's engine sends: statements with parameters, pings, commits, rollbacks."""

    def __init__(self, engine) -> None:
        from sqlalchemy import event
        self.events: list[tuple] | None = None
        event.listen(engine, "before_cursor_execute", self._exec)
        event.listen(engine.pool, "checkout", self._checkout)
        event.listen(engine, "commit", lambda conn: self._add(("commit",)))
        event.listen(engine, "rollback", lambda conn: self._add(("rollback",)))

    def _add(self, ev) -> None:
        if self.events is not None:
            self.events.append(ev)

    def _exec(self, conn, cursor, statement, parameters, context, executemany) -> None:
        self._add(("exec", statement, parameters))

    def _checkout(self, dbapi_conn, record, proxy) -> None:
        self._add(("ping",))  # pool_pre_ping: one "SELECT 1" round trip per checkout

    def record(self, fn):
        self.events = []
        try:
            fn()
            return self.events
        finally:
            self.events = None


def make_app(instance_dir: Path, log_level: str = "INFO"):
    """The real app on the bench database, as `pingan serve` builds it (request log to /dev/null)."""
    from core.app import create_app
    from core.config import Config
    saved = sys.stderr
    sys.stderr = open(os.devnull, "w")  # the JSON request log: formatted and written, but not shown
    try:
        cfg = Config.from_env(env="development", database_url=sa_url(), redis_url=None,
                              instance_dir=instance_dir, log_level=log_level, db_app_role=APP_ROLE)
        app = create_app(cfg)
    finally:
        devnull, sys.stderr = sys.stderr, saved
    import logging
    for h in logging.getLogger("pingan").handlers:
        if getattr(h, "stream", None) is saved:
            h.stream = devnull
    return app


class ApiClient:
    """Werkzeug test client: the whole Flask request pipeline, no HTTP socket."""

    def __init__(self, app, sc: Scenario) -> None:
        self.c = app.test_client()
        self.base = f"http://{sc.host}"
        self.headers = {"Authorization": f"Bearer {sc.token}"}

    def get(self, url: str) -> bytes:
        r = self.c.get(url, base_url=self.base, headers=self.headers)
        if r.status_code != 200:
            raise RuntimeError(f"{url}: {r.status_code} {r.get_data(as_text=True)[:300]}")
        return r.get_data()


class HttpClient:
    """A keep-alive HTTP/1.1 connection to a real `pingan serve` (waitress) on loopback."""

    def __init__(self, port: int, sc: Scenario) -> None:
        import http.client
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.headers = {"Authorization": f"Bearer {sc.token}", "Host": sc.host}

    def get(self, url: str) -> bytes:
        self.conn.request("GET", url, headers=self.headers)
        r = self.conn.getresponse()
        body = r.read()
        if r.status != 200:
            raise RuntimeError(f"{url}: {r.status} {body[:300]!r}")
        return body


def next_cursor(body: bytes) -> str | None:
    return json.loads(body)["next_cursor"]


def walk(client, url: str) -> int:
    """Every page of a list; returns the number of pages."""
    pages, cursor = 0, None
    while True:
        body = client.get(url + (f"&cursor={cursor}" if cursor else ""))
        pages += 1
        cursor = next_cursor(body)
        if not cursor:
            return pages


class Replayer:
    """psycopg as the app role (SET ROLE pingan_app, RLS applies), no SQLAlchemy."""

    def __init__(self) -> None:
        import psycopg
        self.conn = psycopg.connect(pg_dsn())
        self.conn.execute(f'SET ROLE "{APP_ROLE}"')
        self.conn.commit()

    def tx(self, tenant_id: int, statements: list[tuple[str, dict]]) -> int:
        """BEGIN; SET LOCAL pingan.tenant_id; the statements (all rows fetched); COMMIT."""
        rows = 0
        with self.conn.cursor() as cur:
            cur.execute(f"SET LOCAL pingan.tenant_id = '{int(tenant_id)}'")
            for stmt, params in statements:
                cur.execute(stmt, params)
                rows += len(cur.fetchall())
        self.conn.commit()
        return rows

    def replay(self, events: list[tuple]) -> int:
        """Every round trip the request made, in order (pings, statements, commits, rollbacks)."""
        rows = 0
        with self.conn.cursor() as cur:
            for ev in events:
                if ev[0] == "exec":
                    cur.execute(ev[1], ev[2])
                    if cur.description is not None:
                        rows += len(cur.fetchall())
                elif ev[0] == "ping":
                    cur.execute("SELECT 1")
                    cur.fetchall()
                elif ev[0] == "commit":
                    self.conn.commit()
                else:
                    self.conn.rollback()
        self.conn.rollback()
        return rows

    def explain(self, tenant_id: int, stmt: str, params: dict) -> str:
        with self.conn.cursor() as cur:
            cur.execute(f"SET LOCAL pingan.tenant_id = '{int(tenant_id)}'")
            cur.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + stmt, params)
            plan = "\n".join(r[0] for r in cur.fetchall())
        self.conn.rollback()
        return plan


def range_rewrite(stmt: str, params: dict) -> tuple[str, dict]:
    """The suggested fix, for measurement: ``path LIKE 'p%'`` → ``path ~>=~ 'p' AND path ~<~ 'p+1'``.

    ``textlike`` is not leakproof, so under RLS PostgreSQL may not use it as an index condition;
    the pattern comparison operators are leakproof and use ix_org_unit_path_prefix.
    """
    import re
    params = dict(params)

    def sub(m):
        key = m.group(1)
        prefix = params[key]
        assert prefix.endswith("%") and "%" not in prefix[:-1] and "_" not in prefix, prefix
        prefix = prefix[:-1]
        params[key + "_lo"], params[key + "_hi"] = prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)
        return (f"(org_unit.path::text ~>=~ %({key}_lo)s AND org_unit.path::text ~<~ %({key}_hi)s)")
    return re.sub(r"org_unit\.path LIKE %\((path_\d+)\)s::VARCHAR", sub, stmt), params


def org_unit_statements(events: list[tuple]) -> list[tuple[str, dict]]:
    """The statements the view itself ran: those that read org_unit (in order)."""
    return [(e[1], e[2]) for e in events if e[0] == "exec" and "FROM org_unit" in e[1]]


def start_server(instance_dir: Path, port: int, threads: int = 4) -> subprocess.Popen:
    import urllib.request
    env = {**os.environ, "PINGAN_DATABASE_URL": sa_url(), "PINGAN_INSTANCE_DIR": str(instance_dir),
           "PINGAN_LOG_LEVEL": "INFO", "PINGAN_DB_APP_ROLE": APP_ROLE}
    env.pop("PINGAN_REDIS_URL", None)
    proc = subprocess.Popen([str(ROOT / ".venv" / "bin" / "pingan"), "serve", "--port", str(port),
                             "--threads", str(threads)], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2).read()
            return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("pingan serve did not come up")


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the measurements ----------------------------------------------------------------------

def _ratio(a: Stats, b: Stats) -> str:
    return f"{a.median_us / b.median_us:.1f}×"


def run(n: int, warmup: int, with_server: bool) -> str:
    import tempfile
    meta = load_meta()
    scs = scenarios(meta)
    instance = Path(tempfile.mkdtemp(prefix="pingan-bench-"))
    app = make_app(instance)
    from core.app import pingan
    state = pingan(app)
    cap = Capture(state.db.engine)
    rep = Replayer()
    results: dict[str, dict[str, Stats]] = {}
    info: dict[str, dict] = {}
    plans: dict[str, str] = {}
    captured: dict[str, list] = {}

    port = free_port() if with_server else None
    server = start_server(instance, port) if with_server else None
    try:
        for sc in scs:
            r = results.setdefault(sc.label, {})
            api = ApiClient(app, sc)
            http = HttpClient(port, sc) if server else None
            first = f"/api/org-units?under={sc.township_id}&limit=200"
            anc = f"/api/org-units/{sc.deep_id}/ancestors"
            print(f"[{sc.label}] tenant {sc.tenant_id} ({sc.tenant_units} units), township {sc.township_id} "
                  f"({sc.township_units} active units), deep unit {sc.deep_id} (depth {sc.deep_depth})", flush=True)

            # what the app sends, captured from one (warm) request of each kind
            api.get(first), api.get(anc)
            ev_first = cap.record(lambda: api.get(first))
            ev_anc = cap.record(lambda: api.get(anc))
            ev_walk = cap.record(lambda: walk(api, first))
            view_first = org_unit_statements(ev_first)       # root lookup (get_or_404) + the page query
            page_query = [view_first[-1]]
            view_anc = org_unit_statements(ev_anc)           # unit lookup + ancestors IN (…)
            walk_pages = [s for s in org_unit_statements(ev_walk) if "LIMIT" in s[0]]
            walk_view = org_unit_statements(ev_walk)
            captured[sc.label] = [ev_first, ev_anc]
            info[sc.label] = {
                "round_trips_first": len(ev_first), "round_trips_anc": len(ev_anc), "pages": len(walk_pages),
                "rows_first": rep.tx(sc.tenant_id, page_query), "rows_anc": rep.tx(sc.tenant_id, view_anc[-1:]),
                "events_first": [e[0] if e[0] != "exec" else e[1].split("\n")[0][:90] for e in ev_first]}
            plans[sc.label] = rep.explain(sc.tenant_id, *page_query[0])
            plans[sc.label + "/range"] = rep.explain(sc.tenant_id, *range_rewrite(*page_query[0]))

            def series(key, fn, nn=n):
                r[key] = measure(fn, nn, warmup)
                print(f"  {key:<38} {r[key].row()}", flush=True)

            # first page
            series("page1.api.testclient", lambda: api.get(first))
            if http:
                series("page1.api.waitress", lambda: http.get(first))
            series("page1.sql.page_query", lambda: rep.tx(sc.tenant_id, page_query))
            series("page1.sql.page_query_range_rewrite (suggestion)",
                   lambda: rep.tx(sc.tenant_id, [range_rewrite(*page_query[0])]))
            series("page1.sql.view_statements", lambda: rep.tx(sc.tenant_id, view_first))
            series("page1.sql.all_request_roundtrips", lambda: rep.replay(ev_first))
            # the whole subtree, following next_cursor
            nw = max(50, n // max(1, len(walk_pages)))
            series("all_pages.api.testclient", lambda: walk(api, first), nw)
            if http:
                series("all_pages.api.waitress", lambda: walk(http, first), nw)
            series("all_pages.sql.page_queries", lambda: [rep.tx(sc.tenant_id, [q]) for q in walk_pages], nw)
            series("all_pages.sql.all_request_roundtrips", lambda: rep.replay(ev_walk), nw)
            # ancestors of a deepest unit
            series("ancestors.api.testclient", lambda: api.get(anc))
            if http:
                series("ancestors.api.waitress", lambda: http.get(anc))
            series("ancestors.sql.ancestors_query", lambda: rep.tx(sc.tenant_id, view_anc[-1:]))
            series("ancestors.sql.view_statements", lambda: rep.tx(sc.tenant_id, view_anc))
            series("ancestors.sql.all_request_roundtrips", lambda: rep.replay(ev_anc))
            del walk_view
        bd = breakdown(app, scs[2], n, warmup)
    finally:
        if server:
            rss = _rss(server.pid)
            server.terminate()
            server.wait(10)
    return report(meta, scs, results, info, plans, captured, bd, n, warmup, rss if server else None)


def _rss(pid: int) -> str:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return line.split(":", 1)[1].strip()
    return "?"


def breakdown(app, sc: Scenario, n: int, warmup: int) -> dict[str, Stats]:
    """Where an API call's time goes: the view's ORM work, marshmallow, JSON, the pipeline."""
    from sqlalchemy import select
    from core.api.common import page_of, paginate
    from core.api.org_units import SORTABLE, OrgUnitSchema
    from core.app import pingan
    from core.authz import get_or_404, load_grants, scoped
    from core.db import bind_tenant
    from core.models import OrgUnit, User
    state = pingan(app)
    out: dict[str, Stats] = {}
    api = ApiClient(app, sc)
    args = {"limit": 200, "status": "active", "under": sc.township_id, "cursor": None, "sort": None}

    def view_db(session, grants):
        stmt = scoped(select(OrgUnit), grants, READ, OrgUnit.id)
        root = get_or_404(session, grants, OrgUnit, args["under"], READ)
        stmt = stmt.where(OrgUnit.path.like(root.path + "%")).where(OrgUnit.status == "active")
        return paginate(session, stmt, args, OrgUnit.id, SORTABLE, "path")

    with app.app_context(), bind_tenant(sc.tenant_id):
        with state.db.Session() as s:
            uid = s.scalar(select(User.id).where(User.username == "county.admin"))
            grants = load_grants(s, uid)
            s.rollback()

        def orm_view():
            with state.db.Session() as s2:
                view_db(s2, grants)
                s2.rollback()
        out["view SQL through SQLAlchemy ORM (tx + root lookup + page, 201 objects)"] = measure(orm_view, n, warmup)

        def core_view():  # the same two statements through SQLAlchemy Core rows, no ORM objects
            with state.db.Session() as s2:
                stmt = scoped(select(*OrgUnit.__table__.c), grants, READ, OrgUnit.id)
                path = s2.scalar(select(OrgUnit.path).where(OrgUnit.id == sc.township_id))
                stmt = stmt.where(OrgUnit.path.like(path + "%")).where(OrgUnit.status == "active")
                s2.execute(stmt.order_by(OrgUnit.path, OrgUnit.id).limit(201)).all()
                s2.rollback()
        out["same via SQLAlchemy Core rows (session, no ORM objects)"] = measure(core_view, n, warmup)

        with state.db.Session() as s2:
            page = view_db(s2, grants)
            s2.expunge_all()  # keep the loaded objects usable after the rollback, as the view's are
            s2.rollback()
        schema = page_of(OrgUnitSchema)()
        dumped = schema.dump(page)
        out["marshmallow dump of the page (200 × OrgUnitSchema)"] = measure(lambda: schema.dump(page), n, warmup)
        out["JSON encoding (app.json.dumps, sort_keys, ensure_ascii=False)"] = measure(
            lambda: app.json.dumps(dumped), n, warmup)
        import json as _json
        out["(for scale) json.dumps without sort_keys"] = measure(
            lambda: _json.dumps(dumped, ensure_ascii=False), n, warmup)

        def pipeline_only():
            with state.db.Session() as s2:
                s2.rollback()
        out["request pipeline + one-unit view: GET /api/org-units/<id>"] = measure(
            lambda: api.get(f"/api/org-units/{sc.township_id}"), n, warmup)
        out["full API call: first page of 200 (test client)"] = measure(
            lambda: api.get(f"/api/org-units?under={sc.township_id}&limit=200"), n, warmup)
        with state.db.Session() as s2:
            out["load_grants (one query, in an open tx)"] = measure(lambda: load_grants(s2, uid), n, warmup)
            s2.rollback()
    return out


def report(meta, scs, results, info, plans, captured, bd, n, warmup, server_rss) -> str:
    L = []
    a = L.append
    a("# Org-tree queries: API versus SQL (figure 1)\n")
    a(f"- date: {now_utc()}")
    a(f"- machine: {machine()}")
    a(f"- data: {meta['tenants']} tenants, {meta['units']:,} org units, sizes Zipf-like "
      f"(`10000 / k**{meta['zipf_s']}`; {meta['smallest']:,} … {meta['largest']:,} units, median "
      f"{meta['median_size']:,}); seed {meta['seed']}; generated by `bench/orgtree.py generate` in "
      f"{meta['seconds']['total']} s (schema {meta['seconds']['schema']} s, COPY {meta['seconds']['load']} s, "
      f"VACUUM ANALYZE {meta['seconds']['vacuum_analyze']} s)")
    a(f"- samples: n = {n} per series after {warmup} warm-up calls (walks over all pages: n ≥ 50); "
      "time.perf_counter_ns around each call; nearest-rank percentiles")
    a("- API: the real Flask app (`create_app`, PostgreSQL as role `pingan_app`, RLS on, request log at INFO "
      "to /dev/null) called through the Werkzeug test client, and a real `pingan serve` (waitress, 4 threads) "
      "over a keep-alive loopback HTTP connection; signed in with a personal access token of a county admin "
      "(role assigned at the county root)")
    a("- SQL: the statements the app emitted (captured with `before_cursor_execute`), replayed with psycopg 3 "
      "(same text and parameters) on a connection that did `SET ROLE pingan_app`, each replay in its own "
      "transaction that starts with `SET LOCAL pingan.tenant_id = '<id>'` and ends with COMMIT; all rows fetched")
    a("")
    a("## Scenarios\n")
    a("label | tenant (units) | township id | active units under it | pages of 200 | deep unit (depth) | "
      "round trips per first-page call | per ancestors call")
    a("---|---|---|---|---|---|---|---")
    for sc in scs:
        i = info[sc.label]
        a(f"{sc.label} | {sc.tenant_id} ({sc.tenant_units:,}) | {sc.township_id} | {sc.township_units} | "
          f"{i['pages']} | {sc.deep_id} ({sc.deep_depth}) | {i['round_trips_first']} | {i['round_trips_anc']}")
    a("")
    a("## Headline: median (p99) and the API/SQL ratio of medians\n")
    a("SQL = the one statement that answers the question (the page query; for ancestors the `id IN (…)` "
      "query), in its own transaction with `SET LOCAL`. Target: API/SQL ≤ 3×.\n")
    a("call | scenario | API test client | API waitress | SQL | ratio (test client) | ratio (waitress)")
    a("---|---|---|---|---|---|---")
    for kind, sql_key, title in (("page1", "page1.sql.page_query", "first page (limit=200)"),
                                 ("all_pages", "all_pages.sql.page_queries", "whole subtree (all pages)"),
                                 ("ancestors", "ancestors.sql.ancestors_query", "ancestors of the deepest unit")):
        for sc in scs:
            r = results[sc.label]
            tc, sql = r[f"{kind}.api.testclient"], r[sql_key]
            wt = r.get(f"{kind}.api.waitress")
            a(f"{title} | {sc.label} | {fmt(tc.median_us)} ({fmt(tc.p99_us)}) | "
              f"{(fmt(wt.median_us) + ' (' + fmt(wt.p99_us) + ')') if wt else '–'} | "
              f"{fmt(sql.median_us)} ({fmt(sql.p99_us)}) | **{_ratio(tc, sql)}** | "
              f"{('**' + _ratio(wt, sql) + '**') if wt else '–'}")
    a("")
    a("## All series\n")
    a("`sql.view_statements` = every statement the view function ran (root lookup + page query) in one "
      "transaction; `sql.all_request_roundtrips` = every round trip the whole request made, replayed in order "
      "(pool pre-ping `SELECT 1`, `set_config`, tenant, token, user, grants, enabled plugins, the view's "
      "statements, commits/rollbacks) — the database floor of the current request design.\n")
    for sc in scs:
        a(f"### {sc.label}\n")
        a(f"series | {STATS_HEADER}")
        a("---|---|---|---|---|---|---")
        for key, st in results[sc.label].items():
            a(f"{key} | {st.row()}")
        a("")
    a("## Breakdown of one first-page call (largest tenant, median township), in-process\n")
    a(f"component | {STATS_HEADER}")
    a("---|---|---|---|---|---|---")
    for key, st in bd.items():
        a(f"{key} | {st.row()}")
    a("")
    a("## What one first-page request sends to PostgreSQL (largest tenant)\n")
    a("```")
    for e in info[scs[2].label]["events_first"]:
        a(e)
    a("```\n")
    ev = captured[scs[2].label][0]
    page = org_unit_statements(ev)[-1]
    a("The page query, as emitted (parameters: " + json.dumps(page[1], ensure_ascii=False, default=str) + "):\n")
    a("```sql\n" + page[0] + "\n```\n")
    a("Its plan (EXPLAIN ANALYZE as `pingan_app`, RLS on):\n")
    a("```\n" + plans[scs[2].label] + "\n```\n")
    a("The same query with each `path LIKE 'p%'` rewritten as `path ~>=~ 'p' AND path ~<~ 'p+1'` "
      "(series `page1.sql.page_query_range_rewrite`):\n")
    a("```\n" + plans[scs[2].label + "/range"] + "\n```\n")
    if server_rss:
        a(f"RSS of the waitress process after this run: {server_rss}.\n")
    return "\n".join(L)


MARKER = "<!-- reading: written by hand, kept when the figures above are regenerated -->"


def save(text: str, name: str = "orgtree") -> Path:
    from _common import RESULTS
    path = RESULTS / f"{name}.md"
    kept = ""
    if path.exists() and MARKER in path.read_text(encoding="utf-8"):
        kept = path.read_text(encoding="utf-8").split(MARKER, 1)[1]
    return write_result(name, text + "\n" + MARKER + kept)


def profile(calls: int) -> None:
    """pyinstrument over `calls` first-page API calls (largest tenant, median township)."""
    import tempfile
    from pyinstrument import Profiler  # .venv/bin/pip install pyinstrument (not a project dependency)
    meta = load_meta()
    sc = scenarios(meta)[2]
    app = make_app(Path(tempfile.mkdtemp(prefix="pingan-bench-")))
    api = ApiClient(app, sc)
    url = f"/api/org-units?under={sc.township_id}&limit=200"
    for _ in range(50):
        api.get(url)
    cpu = {}
    for label, u in (("first page of 200", url), ("one unit, GET /api/org-units/<id>", f"/api/org-units/{sc.township_id}")):
        for _ in range(50):
            api.get(u)
        t0 = time.process_time()
        for _ in range(200):
            api.get(u)
        cpu[label] = (time.process_time() - t0) / 200 * 1000
    prof = Profiler(interval=0.0002)
    prof.start()
    for _ in range(calls):
        api.get(url)
    prof.stop()
    from _common import RESULTS
    RESULTS.mkdir(exist_ok=True)
    text = prof.output_text(unicode=True, color=False, show_all=False)
    (RESULTS / "orgtree_profile.txt").write_text(
        f"pyinstrument {calls} × GET {url} (tenant {sc.tenant_id}), {now_utc()}\n"
        + "".join(f"CPU time of this process per call, no profiler (200 calls): {k}: {v:.2f} ms\n" for k, v in cpu.items())
        + "\n" + text, encoding="utf-8")
    print(text[:6000])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("generate")
    g.add_argument("--seed", type=int, default=20260105)
    r = sub.add_parser("run")
    r.add_argument("--n", type=int, default=500)
    r.add_argument("--warmup", type=int, default=50)
    r.add_argument("--no-server", action="store_true", help="skip the waitress (real HTTP) series")
    p = sub.add_parser("profile")
    p.add_argument("--calls", type=int, default=500)
    a = ap.parse_args()
    if a.cmd == "generate":
        generate(a.seed)
    elif a.cmd == "run":
        path = save(run(a.n, a.warmup, not a.no_server))
        print(f"wrote {path}")
    else:
        profile(a.calls)


if __name__ == "__main__":
    main()
