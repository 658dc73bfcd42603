"""Issue 24 figures: the mixed load of a county on 2 cores (item 5) and the PostgreSQL settings (item 8).

    .venv/bin/python bench/mix.py generate [--code DIR] [--cases 1000000] [--big-share 0.95]
    .venv/bin/python bench/mix.py run --label after [--db pingan_bench_mix_after] [--code DIR]
                                      [--server serve|gunicorn] [--levels 1,4,8,16,32] [--duration 60]
    .venv/bin/python bench/mix.py report                     # results/mix.md from the runs' JSON

Database: ``pingan_bench_mix`` (``PINGAN_BENCH_MIX_DB``) on ``postgres@127.0.0.1:5440``
(``PINGAN_BENCH_PG``), a cluster of its own with ``pg_stat_statements`` preloaded (see
bench/README.md). ``test``, ``test_*``, ``postgres`` and the templates are refused.

``generate`` (drops and rebuilds the database's public schema with the migrations of ``--code``,
default this tree) builds the data set of the issue: the province of ``bench/orgtree.py``
(100 counties, 250,000 org units) and

- in the largest county (10,000 units) ``--big-share`` of ``--cases`` petitions with their
  petitioners (``bench/petition.py``'s generator: encrypted, blind-indexed people, repeat
  petitioners, case_person, flags, tally, counters), plus what that generator leaves out: the
  petitions' timelines (registered / accept / not_accept / reply events) and time limits
  (forward 15 d, handle 60 d, review 30 d: stopped with ``met`` as the dates imply, running
  for the open ones), and ``received_at`` = ``created_at`` as migration 0006 sets it;
- the rest as ``visits.visit`` cases over the 99 other counties (``bench/cases.py``'s
  generator: Zipf over counties, events, limits, tally);
- eleven users of the big county, each with a personal access token derived from the seed:
  4 village officers (the busiest villages of 4 townships), 4 township officers (the 4 busiest
  townships), 2 county officers and 1 county administrator (all core permissions), the
  officers with the petition officer's permissions on their unit. → ``results/mix_users.json``.

``run`` serves the app as in production (``PINGAN_ENV=production``, PostgreSQL as the app role
``pingan_app``, Redis ``redis://127.0.0.1:6379/6``; ``pingan serve`` with ``--threads``, or
``gunicorn`` with ``--workers``) from ``--code``'s own virtualenv, and drives the issue's mix
with ``wrk`` (``bench/mix/mix.lua``, one connection per wrk thread so that every response is
timed and tagged with its kind) against 127.0.0.1, ``--duration`` seconds per concurrency
level after a warm-up: 40 % scoped case lists, 20 % case details, 15 % web pages, 10 %
statistics, 10 % registrations with a petitioner (new: ``POST /api/persons`` then ``POST
/api/cases``; returning: ``POST /api/cases`` with the person's id; a unique Idempotency-Key
each), 5 % keyword search. Per level: throughput, p50/p95/p99 overall and per kind, errors,
the load average, CPU seconds of the app, of PostgreSQL and of wrk per request, and the
``pg_stat_statements`` top statements (reset before each level). Then a py-spy profile of the
app at one level. → ``results/mix_<label>.md`` and ``.json``.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _code_root() -> Path:
    """``--code DIR``: the tree whose migrations, core functions and virtualenv are used."""
    for i, a in enumerate(sys.argv):
        if a == "--code" and i + 1 < len(sys.argv):
            return Path(sys.argv[i + 1]).resolve()
        if a.startswith("--code="):
            return Path(a.split("=", 1)[1]).resolve()
    return HERE.parent


CODE = _code_root()
sys.path.insert(0, str(HERE))
import _common  # noqa: E402

os.environ.setdefault("PINGAN_BENCH_PG", "postgres@127.0.0.1:5440")
_common.PG_SERVER = os.environ["PINGAN_BENCH_PG"]
import cases  # noqa: E402
import orgtree  # noqa: E402
import petition  # noqa: E402

sys.path.insert(0, str(CODE))   # core and plugins of --code come first
_common.BENCH_DB = os.environ.get("PINGAN_BENCH_MIX_DB", "pingan_bench_mix")
_common.ROOT = orgtree.ROOT = CODE
orgtree.META = _common.RESULTS / "mix_orgtree_data.json"
petition.META = _common.RESULTS / "mix_petition_data.json"
from _common import RESULTS, bench_db_name, pg_dsn, percentile  # noqa: E402

META = RESULTS / "mix_data.json"
USERS = RESULTS / "mix_users.json"
SEED = 20260105
DAY = 86400
HOST = "bench-001.localhost"
TENANT = 1
LUA = HERE / "mix" / "mix.lua"
WORK = Path(os.environ.get("PINGAN_BENCH_MIX_TMP", "/tmp/pingan-bench-mix"))
REDIS = os.environ.get("PINGAN_BENCH_MIX_REDIS", "redis://127.0.0.1:6379/6")
MARKER = "<!-- reading: written by hand, kept when the figures above are regenerated -->"


def db_name(name: str | None = None) -> str:
    if name:
        _common.BENCH_DB = name
    return bench_db_name()


def psql_dsn(db: str | None = None) -> str:
    if db:
        _common.BENCH_DB = db
    return pg_dsn()


# ==============================================================================================
# generate
# ==============================================================================================

class _ReceivedWriter(cases._Writer):
    """bench/cases.py's COPY thread, with ``case_record.received_at`` = ``created_at`` (migration
    0006 sets it so for existing cases; the generators predate the column)."""

    def put(self, item) -> None:
        super().put([_with_received(t) for t in item])


def _with_received(t: tuple) -> tuple:
    table, cols, rows = t
    if table != "case_record" or "received_at" in cols:
        return t
    i = [c.strip() for c in cols.split(",")].index("created_at")
    out = []
    for r in rows:
        f = r.split("\t")
        out.append(f"{r}\t{f[i]}")
    return table, cols + ", received_at", out


PET_EVENTS = """
INSERT INTO case_event (tenant_id, id, case_id, kind, at, actor_id, actor_label, from_state, to_state, org_unit_id,
                        note, data)
SELECT c.tenant_id, nextval('pingan_id_seq'), c.id, e.kind, e.at, c.created_by, 'user:petition.officer',
       e.from_state, e.to_state, e.unit, e.note, '{}'
FROM mix_pet c
CROSS JOIN LATERAL (VALUES
    ('registered', c.created_at, NULL, 'registered', c.org_unit_id, NULL),
    (CASE WHEN c.state = 'not_accepted' THEN 'not_accept' ELSE 'accept' END, c.acc_at, 'registered',
     CASE WHEN c.state = 'not_accepted' THEN 'not_accepted' ELSE 'accepted' END, NULL,
     CASE WHEN c.state = 'not_accepted' THEN '不属于信访事项受理范围' END),
    ('reply', c.replied_at, 'accepted', 'replied', NULL, NULL)
) AS e(kind, at, from_state, to_state, unit, note)
WHERE e.at IS NOT NULL AND (e.kind = 'registered' OR c.state <> 'registered')
"""

# the limits of 《信访工作条例》 as plugins/petition/cases.py declares them; a day limit ends at
# 24:00 Asia/Shanghai of its last day
END = "(date_trunc('day', ({t}) + interval '8 hours') + interval '{d} days' - interval '8 hours')"
PET_LIMITS = f"""
INSERT INTO case_deadline (tenant_id, id, case_id, task_id, rule, title, amount, unit, started_at, due_at, basis,
                           source, state, paused_at, stopped_at, met, extensions, reminded)
SELECT c.tenant_id, nextval('pingan_id_seq'), c.id, NULL, l.rule, l.title, l.amount, 'calendar_days', l.started,
       l.due, l.amount || ' 日：自次日起算', l.source,
       CASE WHEN l.stopped IS NULL THEN 'running' ELSE 'stopped' END, NULL, l.stopped,
       CASE WHEN l.stopped IS NULL THEN NULL ELSE l.stopped <= l.due END, 0,
       CASE WHEN l.stopped IS NULL AND l.due < now() THEN 2 ELSE 0 END
FROM mix_pet c
CROSS JOIN LATERAL (VALUES
    ('forward', '登记转送、交办', 15, c.created_at, {END.format(t='c.created_at', d=16)},
     CASE WHEN c.state <> 'registered' THEN c.acc_at END, '《信访工作条例》第二十二条', true),
    ('handle', '办理期限', 60, c.acc_at, {END.format(t='c.acc_at', d=61)}, c.replied_at,
     '《信访工作条例》第三十四条', c.state NOT IN ('registered', 'not_accepted')),
    ('review', '复查期限', 30, c.replied_at + interval '3 days', {END.format(t="c.replied_at + interval '3 days'", d=31)},
     CASE WHEN c.state <> 'review' THEN c.reviewed_at END, '《信访工作条例》第三十五条',
     c.state IN ('review', 'reviewed', 'recheck', 'rechecked') AND c.replied_at IS NOT NULL)
) AS l(rule, title, amount, started, due, stopped, source, applies)
WHERE l.applies
"""


def _fill_tallies(cur) -> int | None:
    """Fill ``case_month_tally`` and ``case_limit_tally`` from the loaded rows with the backfill
    SQL of ``--code``'s migration ``0014_case_tally_month``, then the top tallies from those with
    ``0016_case_top_tally``'s (the generators COPY cases after the migrations, so without this the
    statistics of a fresh data set read empty tallies). Returns the month tally's row count, or
    ``None`` for a tree without those tallies."""
    import importlib.util
    path = CODE / "core" / "migrations" / "versions" / "0014_case_tally_month.py"
    if not path.exists():
        return None
    spec = importlib.util.spec_from_file_location("_mig_0014", path)
    mig = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mig)
    for table, last, select in (("case_month_tally", "state", mig.MONTH_TALLY.format(month=mig._month("c.created_at", True))),
                                ("case_limit_tally", "met", mig.LIMIT_TALLY.format(month=mig._month("d.stopped_at", True)))):
        cur.execute(f"DELETE FROM {table}")
        cur.execute(f"INSERT INTO {table} (tenant_id, id, org_unit_id, case_type, month, {last}, n) "
                    f"SELECT tenant_id, nextval('pingan_id_seq'), org_unit_id, case_type, month, {last}, n "
                    f"FROM ({select}) AS g")
    tops = CODE / "core" / "migrations" / "versions" / "0016_case_top_tally.py"
    if tops.exists():   # the same tallies rolled up per top unit, with 0016's SQL
        spec = importlib.util.spec_from_file_location("_mig_0016", tops)
        top = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(top)
        for table, source, last in (("case_top_tally", "case_month_tally", "state"),
                                    ("case_top_limit_tally", "case_limit_tally", "met")):
            cur.execute(f"DELETE FROM {table}")
            cur.execute(f"INSERT INTO {table} (tenant_id, id, top_id, case_type, month, {last}, n) "
                        f"SELECT tenant_id, nextval('pingan_id_seq'), top_id, case_type, month, {last}, n "
                        f"FROM ({top.ROLLUP.format(top=top.TOP_PG, source=source, last=last)}) AS g")
    return cur.execute("SELECT count(*) FROM case_month_tally").fetchone()[0]


def generate(seed: int, n_cases: int, big_share: float) -> dict:
    import psycopg
    t0 = time.perf_counter()
    n_pet = round(n_cases * big_share)
    n_people = round(n_pet * 0.6)
    cases._Writer = _ReceivedWriter
    pmeta = petition.generate(seed, n_pet, n_people)   # schema, province, petitions, VACUUM ANALYZE
    t_pet = time.perf_counter() - t0
    tid = pmeta["tenant_id"]
    assert tid == TENANT, tid
    org = json.loads(orgtree.META.read_text(encoding="utf-8"))
    others = [t["tenant_id"] for t in org["per_tenant"] if t["tenant_id"] != tid]
    n_visits = n_cases - pmeta["petitions"]
    with psycopg.connect(pg_dsn()) as conn:
        cur = conn.cursor()
        cur.execute("SET synchronous_commit = off")
        cur.execute("SET maintenance_work_mem = '1GB'")
        cur.execute("SET TimeZone = 'UTC'")
        cases.BIG_TABLES = ("case_event", "case_deadline", "visits_visit")
        restore = cases._drop_secondary(conn)
        conn.commit()
        # --- the petitions' timelines and limits ------------------------------------------
        t1 = time.perf_counter()
        cur.execute("SELECT setseed(0.2026)")
        cur.execute("""
            CREATE TEMP TABLE mix_pet AS
            SELECT c.tenant_id, c.id, c.state, c.created_at, c.org_unit_id, c.created_by, pc.replied_at,
                   pc.reviewed_at,
                   CASE WHEN c.state = 'registered' THEN NULL
                        ELSE greatest(c.created_at + interval '10 minutes',
                                      least(c.created_at + random() ^ 2 * interval '18 days',
                                            coalesce(pc.replied_at, c.closed_at, now()) - interval '1 hour'))
                   END AS acc_at
            FROM case_record c JOIN petition_case pc ON pc.tenant_id = c.tenant_id AND pc.case_id = c.id
            WHERE c.tenant_id = %s ORDER BY c.id""", (tid,))
        cur.execute(PET_EVENTS)
        n_events = cur.rowcount
        cur.execute(PET_LIMITS)
        n_limits = cur.rowcount
        conn.commit()
        t_timelines = time.perf_counter() - t1
        print(f"petitions: {n_events:,} events, {n_limits:,} limits ({t_timelines:.0f} s)", flush=True)
        # --- visits.visit over the other counties -------------------------------------------
        t1 = time.perf_counter()
        created = cases.REF - timedelta(days=cases.YEARS * 365 + 30)
        ids = cases._reserve(cur, len(others))
        with cur.copy("COPY tenant_plugin (tenant_id, id, plugin, enabled, settings, updated_at) FROM STDIN") as cp:
            for t, i in zip(others, ids):
                cp.write_row((t, i, "visits", True, "{}", created))
        admin = dict(cur.execute("SELECT tenant_id, id FROM app_user WHERE username = 'county.admin'").fetchall())
        units = {t: cases._units(cur, t, random.Random(f"{seed}:units:{t}")) for t in others}
        tmpl = cases._template_tokens()
        sizes = cases.case_sizes(len(others), n_visits)
        ids = iter(cases._reserve(cur, 7 * n_visits))
        seqs: dict = {}
        tally: Counter = Counter()
        counts: Counter = Counter()
        span = (cases.REF_T - cases.START_T) / cases.CHUNKS
        for m in range(cases.CHUNKS):
            rng = random.Random(f"{seed}:mix-visits:{m}")
            lo, hi = cases.START_T + m * span, cases.START_T + (m + 1) * span
            batch = []
            for k, t in enumerate(others):
                n = round(sizes[k] * (m + 1) / cases.CHUNKS) - round(sizes[k] * m / cases.CHUNKS)
                if n:
                    uids, cum, _ = units[t]
                    batch += [(x, t, u) for x, u in zip([rng.uniform(lo, hi) for _ in range(n)],
                                                        rng.choices(uids, cum_weights=cum, k=n))]
            batch.sort()
            for table, cols, rows in map(_with_received, cases._make_chunk(rng, batch, ids, admin, tmpl, seqs,
                                                                           tally, counts)):
                with cur.copy(f"COPY {table} ({cols}) FROM STDIN") as cp:
                    for i in range(0, len(rows), 20000):
                        cp.write("\n".join(rows[i:i + 20000]) + "\n")
        ids = iter(cases._reserve(cur, len(tally) + len(seqs)))
        with cur.copy("COPY case_tally (tenant_id, id, org_unit_id, case_type, state, n) FROM STDIN") as cp:
            for (t, uid, state), n in sorted(tally.items()):
                cp.write_row((t, next(ids), uid, cases.CASE_TYPE, state, n))
        with cur.copy("COPY case_counter (tenant_id, id, case_type, year, value) FROM STDIN") as cp:
            for (t, year), v in sorted(seqs.items()):
                cp.write_row((t, next(ids), cases.CASE_TYPE, year, v))
        conn.commit()
        t_visits = time.perf_counter() - t1
        print(f"visits.visit: {counts['cases']:,} cases in {len(others)} counties ({t_visits:.0f} s)", flush=True)
        t1 = time.perf_counter()
        n_month = _fill_tallies(cur)
        conn.commit()
        t_tallies = time.perf_counter() - t1
        if n_month is not None:
            print(f"month, limit and top tallies: {n_month:,} month rows ({t_tallies:.0f} s)", flush=True)
        t1 = time.perf_counter()
        cur.execute("SET max_parallel_maintenance_workers = 0")
        for ddl in restore:
            cur.execute(ddl)
            conn.commit()
        t_index = time.perf_counter() - t1
        users = _users(cur, seed, tid)
        conn.commit()
    t1 = time.perf_counter()
    with psycopg.connect(pg_dsn(), autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
        per_tenant = conn.execute("SELECT tenant_id, count(*) FROM case_record GROUP BY 1 ORDER BY 2 DESC").fetchall()
        db_size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
        sizes_db = dict(conn.execute(
            "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = "
            "c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY 2 DESC LIMIT 15").fetchall())
        head = conn.execute("SELECT version_num FROM alembic_version").fetchall()
    t_vac = time.perf_counter() - t1
    meta = {"seed": seed, "generated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "code": str(CODE), "alembic": [h[0] for h in head], "database": bench_db_name(),
            "cases": sum(n for _, n in per_tenant), "big_county": {"tenant_id": tid, "cases": per_tenant[0][1],
                                                                   "units": pmeta["tenant_units"]},
            "other_counties": {"tenants": len(others), "cases": counts["cases"]},
            "petition_events": n_events, "petition_limits": n_limits, "people": pmeta["counts"],
            "bytes": {**sizes_db, "database": db_size},
            "seconds": {"petitions (petition.generate)": round(t_pet, 1), "timelines_and_limits": round(t_timelines, 1),
                        "visits_cases": round(t_visits, 1), "tallies": round(t_tallies, 1), "indexes": round(t_index, 1), "vacuum_analyze": round(t_vac, 1),
                        "total": round(time.perf_counter() - t0, 1)}}
    META.write_text(json.dumps(meta, ensure_ascii=False, indent=1, default=int), encoding="utf-8")
    USERS.write_text(json.dumps(users, ensure_ascii=False, indent=1), encoding="utf-8")
    print(json.dumps(meta, ensure_ascii=False, indent=1, default=int))
    return meta


def user_token(seed: int, tid: int, username: str) -> str:
    return cases.officer_token(seed, tid, f"mix:{username}")


def session_cookie(seed: int, tid: int, username: str) -> str:
    """The web session cookie of a bench user (its sha256 is stored; refreshed before each run)."""
    return "mixws" + hashlib.sha256(f"{seed}:{tid}:mix-web:{username}".encode()).hexdigest()


def _users(cur, seed: int, tid: int) -> dict:
    """Eleven users: 4 village, 4 township, 2 county officers and the county administrator."""
    from core.authz import CORE_PERMISSIONS
    units = cur.execute("SELECT id, parent_id, path, level, name FROM org_unit WHERE tenant_id = %s", (tid,)).fetchall()
    per_unit = {u: int(n) for u, n in cur.execute(
        "SELECT org_unit_id, sum(n) FROM case_tally WHERE tenant_id = %s GROUP BY 1", (tid,)).fetchall()}
    under: Counter = Counter()
    for uid, _, path, _, _ in units:
        for p in path.strip("/").split("/"):
            under[int(p)] += per_unit.get(uid, 0)
    size: Counter = Counter()
    for _, _, path, _, _ in units:
        for p in path.strip("/").split("/"):
            size[int(p)] += 1
    root = next(u for u in units if u[1] is None)
    towns = sorted((u for u in units if u[3] == "township"), key=lambda u: -under[u[0]])
    picks = [("township", t) for t in towns[:4]]
    for t in towns[:4]:
        vill = max((u for u in units if u[3] == "village" and u[2].startswith(t[2])), key=lambda u: under[u[0]])
        picks.append(("village", vill))
    picks += [("county", root), ("county", root), ("county_admin", root)]
    created = datetime(2026, 1, 5, 8, 0, tzinfo=timezone.utc)
    ids = iter(cases._reserve(cur, 200))
    officer_role, admin_role = next(ids), next(ids)
    officer_perms = petition.OFFICER_PERMS + ("core.case.handle",)
    admin_perms = sorted({p.code for p in CORE_PERMISSIONS} | set(petition.OFFICER_PERMS))
    for rid, key, name, perms in ((officer_role, "mix_officer", "信访经办人", officer_perms),
                                  (admin_role, "mix_admin", "县级管理员（信访）", admin_perms)):
        cur.execute("INSERT INTO role (tenant_id, id, key, name, name_en, created_at) VALUES (%s,%s,%s,%s,%s,%s)",
                    (tid, rid, key, name, key, created))
        for p in perms:
            cur.execute("INSERT INTO role_permission (tenant_id, id, role_id, permission) VALUES (%s,%s,%s,%s)",
                        (tid, next(ids), rid, p))
    out = {"tenant_id": tid, "host": HOST, "seed": seed, "users": []}
    seen: Counter = Counter()
    for scope, (unit_id, _, path, level, uname) in picks:
        seen[scope] += 1
        username = f"mix.{scope}{seen[scope]}"
        uid = next(ids)
        cur.execute("INSERT INTO app_user (tenant_id, id, username, org_unit_id, display_name, password_hash, status, "
                    "failed_logins, must_change_password, locale, created_at) "
                    "VALUES (%s,%s,%s,%s,%s,NULL,'active',0,false,'zh_CN',%s)",
                    (tid, uid, username, unit_id, f"{uname}经办人", created))
        cur.execute("INSERT INTO role_assignment (tenant_id, id, user_id, role_id, org_unit_id, created_at) "
                    "VALUES (%s,%s,%s,%s,%s,%s)",
                    (tid, next(ids), uid, admin_role if scope == "county_admin" else officer_role, unit_id, created))
        token = user_token(seed, tid, username)
        cur.execute("INSERT INTO access_token (tenant_id, id, user_id, name, token_hash, scope, created_at) "
                    "VALUES (%s,%s,%s,'bench',%s,'',%s)", (tid, next(ids), uid, orgtree.sha256(token), created))
        out["users"].append({"username": username, "scope": scope, "user_id": uid, "unit_id": unit_id, "path": path,
                             "level": level, "units_in_subtree": size[unit_id], "cases_in_subtree": under[unit_id],
                             "token": token, "session_cookie": session_cookie(seed, tid, username)})
    return out


# ==============================================================================================
# the plan: every request of a level decided up front, from the data set
# ==============================================================================================

MIX = (("list", 40), ("detail", 20), ("web", 15), ("stats", 10), ("register", 10), ("search", 5))
# mix.lua follows a list's next_cursor a third of the time: 31 planned + ~10 next pages = 40 % lists
PLAN_WEIGHTS = (("list", 31), ("detail", 20), ("web", 15), ("stats", 10), ("register", 10), ("search", 5))
KEYWORDS = ("补偿", "工资", "低保", "噪声", "宅基地", "物业", "拆迁", "养老", "污水", "村务", "承包地", "纠纷")
STATES = ("registered", "accepted", "replied", "not_accepted", "review")
FORM_POOL = petition.FORM_POOL


def load_users() -> dict:
    if not USERS.exists():
        raise SystemExit("no users: run `bench/mix.py generate` first")
    return json.loads(USERS.read_text(encoding="utf-8"))


def sample_data(users: dict) -> dict:
    """Per user, from the database as the owner: case ids they may see, their child units,
    units to register at, returning petitioners of their subtree (none with a petition closed by
    复核, which would need the override reason)."""
    import psycopg
    tid = users["tenant_id"]
    out = {}
    with psycopg.connect(pg_dsn(), autocommit=True) as conn:
        conn.execute("SET statement_timeout = '120s'")
        for u in users["users"]:
            like = u["path"] + "%"
            cases_ = [r[0] for r in conn.execute(
                "SELECT c.id FROM case_record c TABLESAMPLE SYSTEM (2) REPEATABLE (7) JOIN org_unit o ON "
                "o.tenant_id = c.tenant_id AND o.id = c.org_unit_id WHERE c.tenant_id = %s AND o.path LIKE %s "
                "LIMIT 400", (tid, like)).fetchall()]
            if len(cases_) < 100:
                cases_ += [r[0] for r in conn.execute(
                    "SELECT c.id FROM case_record c JOIN org_unit o ON o.tenant_id = c.tenant_id AND "
                    "o.id = c.org_unit_id WHERE c.tenant_id = %s AND o.path LIKE %s ORDER BY c.id DESC LIMIT 400",
                    (tid, like)).fetchall()]
            kids = [r[0] for r in conn.execute(
                "SELECT id FROM org_unit WHERE tenant_id = %s AND parent_id = %s AND status = 'active'",
                (tid, u["unit_id"])).fetchall()]
            reg_units = [r[0] for r in conn.execute(
                "SELECT id FROM org_unit WHERE tenant_id = %s AND path LIKE %s AND status = 'active' "
                "AND level IN ('village', 'group', 'grid') ORDER BY id LIMIT 300", (tid, like)).fetchall()]
            people = [r[0] for r in conn.execute(
                "SELECT p.id FROM person p JOIN org_unit o ON o.tenant_id = p.tenant_id AND o.id = p.org_unit_id "
                "WHERE p.tenant_id = %s AND o.path LIKE %s AND NOT EXISTS (SELECT 1 FROM case_person cp "
                "JOIN case_record c ON c.tenant_id = cp.tenant_id AND c.id = cp.case_id "
                "WHERE cp.tenant_id = p.tenant_id AND cp.person_id = p.id AND c.state = 'rechecked') "
                "ORDER BY p.id DESC LIMIT 300", (tid, like)).fetchall()]
            out[u["username"]] = {"cases": cases_, "kids": kids, "reg_units": reg_units or [u["unit_id"]],
                                  "people": people}
    return out


def _idn(rng: random.Random) -> str:
    from core.privacy import id_number_checksum
    birth = datetime(1940, 1, 1) + timedelta(days=rng.randrange(65 * 365))
    body = f"990101{birth:%Y%m%d}{rng.randrange(1000):03d}"
    return body + id_number_checksum(body)


def plan(users: dict, data: dict, n: int, rng: random.Random, today: datetime) -> list[str]:
    """``n`` request lines for bench/mix/mix.lua: kind, method, path, auth, body, second body
    (a new petitioner's registration after their ``POST /api/persons``), tab-separated."""
    kinds = [k for k, w in PLAN_WEIGHTS for _ in range(w)]
    us = users["users"]
    people = petition.People(rng)
    y0 = today.replace(month=1, day=1).date().isoformat()
    t0 = today.date().isoformat()
    month_ago = (today - timedelta(days=30)).strftime("%Y-%m-%dT00:00:00%%2B08:00")
    out = []
    for _ in range(n):
        u = rng.choice(us)
        d = data[u["username"]]
        bearer = "B" + u["token"]
        kind = rng.choice(kinds)
        if kind == "list":
            q = ["limit=20"]
            r = rng.random()
            if r < 0.15:
                q.append("status=open")
            elif r < 0.25:
                q.append("state=" + rng.choice(STATES))
            elif r < 0.30:
                q += ["overdue=true", "sort=due_at"]
            elif r < 0.40:
                q.append("created_from=" + month_ago)
            elif r < 0.50 and d["kids"]:
                q.append(f"org_unit_id={rng.choice(d['kids'])}")
            elif r < 0.55:
                q += ["status=open", "sort=due_at"]
            elif r < 0.60:
                q.append("limit=50")
                q.remove("limit=20")
            out.append(f"list\tGET\t/api/cases?{'&'.join(q)}\t{bearer}\t\t")
        elif kind == "detail":
            out.append(f"detail\tGET\t/api/cases/{rng.choice(d['cases'])}\t{bearer}\t\t")
        elif kind == "web":
            r = rng.random()
            cookie = "C" + u["session_cookie"]
            path = "/" if r < 0.4 else "/cases" if r < 0.7 else f"/cases/{rng.choice(d['cases'])}"
            out.append(f"web\tGET\t{path}\t{cookie}\t\t")
        elif kind == "stats":
            r = rng.random()
            if r < 0.4:
                path = "/api/case-stats/summary"
            elif r < 0.7:
                path = f"/api/case-stats/on-time?group_by={rng.choice(['unit', 'case_type'])}&from={y0}&to={t0}"
            else:
                path = f"/api/case-stats/counts?group_by={rng.choice(['state', 'unit', 'month'])}&from={y0}&to={t0}"
            out.append(f"stats\tGET\t{path}\t{bearer}\t\t")
        elif kind == "search":
            kw = rng.choice(KEYWORDS)
            from urllib.parse import quote
            out.append(f"search\tGET\t/api/cases?q={quote(kw)}&limit=20\t{bearer}\t\t")
        else:
            cat = rng.choice(petition.CAT_KEYS)
            unit = rng.choice(d["reg_units"])
            case = {"case_type": petition.KEY, "title": petition.TITLES[cat][0], "org_unit_id": unit,
                    "content": "信访人来访反映问题，要求调查处理。",
                    "details": {"form": rng.choice(FORM_POOL), "category": cat, "demands": "要求依法处理"},
                    "persons": [{"person_id": "%PERSON%", "role": "petitioner"}]}
            if d["people"] and rng.random() < 0.5:
                case["persons"][0]["person_id"] = rng.choice(d["people"])
                out.append(f"register\tPOST\t/api/cases\t{bearer}\t{json.dumps(case, ensure_ascii=False)}\t")
            else:
                person = {"name": people.name(), "id_number": _idn(rng), "phone": f"19{rng.randrange(10**9):09d}",
                          "org_unit_id": unit}
                body2 = json.dumps(case, ensure_ascii=False).replace('"%PERSON%"', "%PERSON%")
                out.append(f"register_new\tPOST\t/api/persons\t{bearer}\t{json.dumps(person, ensure_ascii=False)}\t"
                           f"{body2}")
    return out


def refresh_sessions(users: dict) -> None:
    """(Re)create the users' web sessions, fresh, so no idle or absolute timeout ends them mid-run."""
    import psycopg
    tid = users["tenant_id"]
    with psycopg.connect(pg_dsn()) as conn:
        conn.execute("DELETE FROM web_session WHERE tenant_id = %s AND user_agent = 'bench/mix'", (tid,))
        n = len(users["users"])
        ids = cases._reserve(conn.cursor(), n)
        for i, u in zip(ids, users["users"]):
            conn.execute("INSERT INTO web_session (tenant_id, id, token_hash, user_id, csrf_token, created_at, "
                         "last_seen_at, ip, user_agent) VALUES (%s,%s,%s,%s,%s,now(),now(),'127.0.0.1','bench/mix')",
                         (tid, i, hashlib.sha256(u["session_cookie"].encode()).hexdigest(), u["user_id"],
                          hashlib.sha256(("csrf" + u["session_cookie"]).encode()).hexdigest()[:43]))
        conn.commit()


# ==============================================================================================
# run
# ==============================================================================================

def _pids_tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            kids = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            kids = []
        todo += [int(k) for k in kids]
    return out


def _cpu_ticks(pid: int) -> int:
    try:
        f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(f[11]) + int(f[12])   # utime + stime
    except (OSError, IndexError, ValueError):
        return 0


TICK = os.sysconf("SC_CLK_TCK")


_MASTER: list[int] = []


def _pg_pids(db: str) -> tuple[dict[int, int], dict[int, int]]:
    """CPU ticks of the cluster's processes: (backends of ``db``, every other process of the cluster)."""
    if not _MASTER:
        import psycopg
        with psycopg.connect(pg_dsn(), autocommit=True) as conn:
            ddir = conn.execute("SHOW data_directory").fetchone()[0]
        _MASTER.append(int(Path(ddir, "postmaster.pid").read_text().split()[0]))
    master = _MASTER[0]
    mine, rest = {}, {master: _cpu_ticks(master)}
    for p in _pids_tree(master)[1:]:
        try:
            cmd = Path(f"/proc/{p}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        (mine if f" {db} " in cmd else rest)[p] = _cpu_ticks(p)
    return mine, rest


def _machine_ticks() -> tuple[int, int]:
    f = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = f[3] + f[4]
    return sum(f[:8]), idle


def server_env(db: str, label: str) -> dict:
    data_keys, index_key = petition.keys(SEED)
    user, hostport = _common.PG_SERVER.split("@")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PINGAN_")}
    inst = WORK / f"instance-{label}"
    inst.mkdir(parents=True, exist_ok=True)
    env.update({"PINGAN_ENV": "production",
                "PINGAN_DATABASE_URL": f"postgresql+psycopg://pingan_app@{hostport}/{db}",
                "PINGAN_MIGRATION_DATABASE_URL": f"postgresql+psycopg://{user}@{hostport}/{db}",
                "PINGAN_DB_APP_ROLE": "pingan_app", "PINGAN_REDIS_URL": REDIS,
                "PINGAN_SECRET_KEY": hashlib.sha256(f"{SEED}:mix-secret".encode()).hexdigest(),
                "PINGAN_DATA_KEYS": data_keys, "PINGAN_INDEX_KEY": index_key,
                "PINGAN_INSTANCE_DIR": str(inst), "PINGAN_LOG_LEVEL": "INFO"})
    return env


def start_server(a, env: dict, port: int, log: Path):
    import urllib.request
    venv = CODE / ".venv" / "bin"
    if a.server == "gunicorn":
        if not (venv / "gunicorn").exists():
            raise SystemExit(f"{venv / 'gunicorn'} is missing: pip install gunicorn into that virtualenv")
        cmd = [str(venv / "gunicorn"), "-w", str(a.workers), "-b", f"127.0.0.1:{port}", *a.server_args.split(),
               "core.app:create_app()"]
    else:
        cmd = [str(venv / "pingan"), "serve", "--host", "127.0.0.1", "--port", str(port), "--threads", str(a.threads),
               *a.server_args.split()]
    fh = open(log, "ab")
    proc = subprocess.Popen(cmd, env=env, cwd=CODE, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            req = urllib.request.Request(f"http://127.0.0.1:{port}/healthz", headers={"Host": HOST})
            urllib.request.urlopen(req, timeout=2).read()
            return proc, cmd
        except OSError:
            if proc.poll() is not None:
                raise SystemExit(f"server exited ({proc.returncode}); see {log}")
            time.sleep(0.3)
    proc.kill()
    raise SystemExit(f"server did not come up; see {log}")


def stop_server(proc) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(40)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def admin_dsn() -> str:
    """The cluster's ``postgres`` database: pg_stat_statements lives there, not in the data set."""
    return re.sub(r"dbname=\S+", "dbname=postgres", pg_dsn())


def pgss_reset() -> None:
    import psycopg
    with psycopg.connect(admin_dsn(), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        conn.execute("SELECT pg_stat_statements_reset()")


def pgss_top(n: int = 15) -> dict:
    import psycopg
    db = bench_db_name()
    with psycopg.connect(admin_dsn(), autocommit=True) as conn:
        tot = conn.execute(
            "SELECT coalesce(sum(calls), 0), coalesce(sum(total_exec_time), 0) FROM pg_stat_statements s "
            "JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = %s", (db,)).fetchone()
        rows = conn.execute(
            "SELECT calls, total_exec_time, mean_exec_time, rows, shared_blks_hit, shared_blks_read, temp_blks_written, "
            "left(regexp_replace(query, '\\s+', ' ', 'g'), 400) FROM pg_stat_statements s "
            "JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = %s "
            "ORDER BY total_exec_time DESC LIMIT %s", (db, n)).fetchall()
    return {"calls": int(tot[0]), "total_ms": float(tot[1]),
            "top": [{"calls": r[0], "total_ms": round(r[1], 1), "mean_ms": round(r[2], 3), "rows": r[3],
                     "hit": r[4], "read": r[5], "temp_written": r[6], "query": r[7]} for r in rows]}


def db_stats() -> dict:
    """Counters of the data set's database (pg_stat_database) and of its busiest tables
    (pg_stat_user_tables): their deltas over a level show cache misses, temporary files (work_mem)
    and the write churn autovacuum has to follow."""
    import psycopg
    with psycopg.connect(pg_dsn(), autocommit=True) as conn:
        d = conn.execute("SELECT blks_read, blks_hit, temp_files, temp_bytes, xact_commit, xact_rollback "
                         "FROM pg_stat_database WHERE datname = current_database()").fetchone()
        t = conn.execute("SELECT relname, n_tup_ins, n_tup_upd, n_tup_hot_upd, n_tup_del, n_dead_tup, n_live_tup, "
                         "autovacuum_count, autoanalyze_count, seq_scan, idx_scan FROM pg_stat_user_tables").fetchall()
    return {"db": dict(zip(("blks_read", "blks_hit", "temp_files", "temp_bytes", "commits", "rollbacks"), d)),
            "tables": {r[0]: dict(zip(("ins", "upd", "hot_upd", "del", "dead", "live", "autovacuum", "autoanalyze",
                                       "seq_scan", "idx_scan"), [x or 0 for x in r[1:]])) for r in t}}


def stats_delta(s0: dict, s1: dict) -> dict:
    db = {k: s1["db"][k] - s0["db"][k] for k in s1["db"]}
    hits = db["blks_hit"] + db["blks_read"]
    db["hit_percent"] = round(db["blks_hit"] * 100 / hits, 2) if hits else None
    tables = {}
    for name, v1 in s1["tables"].items():
        v0 = s0["tables"].get(name, {})
        d = {k: v1[k] - v0.get(k, 0) for k in ("ins", "upd", "hot_upd", "del", "autovacuum", "autoanalyze",
                                               "seq_scan", "idx_scan")}
        d["dead_end"], d["live_end"] = v1["dead"], v1["live"]
        if any(d[k] for k in ("ins", "upd", "del", "autovacuum")):
            tables[name] = d
    return {"db": db, "tables": dict(sorted(tables.items(), key=lambda kv: -(kv[1]["ins"] + kv[1]["upd"] + kv[1]["del"])))}


def kind_of(k: str) -> str:
    return "register" if k in ("register", "register_new") else k


def run_wrk(a, port: int, conns: int, seconds: float, plan_file: Path, out: Path, tag: str) -> dict:
    env = {**os.environ, "MIX_PLAN": str(plan_file), "MIX_OUT": str(out), "MIX_HOST": HOST,
           "MIX_THREADS": str(conns), "MIX_RUN": f"{tag}-{time.time_ns()}"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = subprocess.run(["wrk", "-t", str(conns), "-c", str(conns), "-d", f"{seconds}s", "--timeout", "30s",
                        "-s", str(LUA), f"http://127.0.0.1:{port}/"], env=env, capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        raise SystemExit(f"wrk failed: {r.stderr[-2000:]}")
    samples, wrk_line = [], ""
    for line in out.read_text().splitlines():
        if line.startswith("#"):
            wrk_line = line
            continue
        k, status, us = line.split()
        samples.append((k, int(status), int(us)))
    m = re.search(r"wrk (\d+) requests (\d+) us errors connect (\d+) read (\d+) write (\d+) status (\d+) timeout (\d+)",
                  wrk_line)
    dur = int(m.group(2)) / 1e6
    sock = sum(int(m.group(i)) for i in (3, 4, 5, 7))
    return {"samples": samples, "duration_s": dur, "socket_errors": sock,
            "wrk_cpu_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)}


def _pct(v: list[int]) -> dict:
    v = sorted(v)
    if not v:
        return {"n": 0}
    return {"n": len(v), "p50_ms": round(percentile(v, 50) / 1000, 1), "p95_ms": round(percentile(v, 95) / 1000, 1),
            "p99_ms": round(percentile(v, 99) / 1000, 1), "mean_ms": round(sum(v) / len(v) / 1000, 1),
            "max_ms": round(v[-1] / 1000, 1)}


def level(a, port: int, conns: int, plan_file: Path, server_pid: int, db: str, label: str) -> dict:
    pgss_reset()
    st0 = db_stats()
    load0 = os.getloadavg()
    srv0 = {p: _cpu_ticks(p) for p in _pids_tree(server_pid)}
    pg0, pgo0 = _pg_pids(db)
    m0 = _machine_ticks()
    loads = []
    import threading
    stop = threading.Event()

    def sampler():
        while not stop.wait(5):
            loads.append(os.getloadavg()[0])
    th = threading.Thread(target=sampler, daemon=True)
    th.start()
    w = run_wrk(a, port, conns, a.duration, plan_file, WORK / f"{label}-{conns}.out", f"{label}-{conns}")
    stop.set()
    m1 = _machine_ticks()
    srv1 = {p: _cpu_ticks(p) for p in _pids_tree(server_pid)}
    pg1, pgo1 = _pg_pids(db)
    load1 = os.getloadavg()
    pgss = pgss_top(a.pgss_top)
    churn = stats_delta(st0, db_stats())
    s = w["samples"]
    n = len(s)
    dur = w["duration_s"]
    srv_s = sum(t - srv0.get(p, 0) for p, t in srv1.items()) / TICK
    pg_s = sum(t - pg0.get(p, 0) for p, t in pg1.items()) / TICK
    pgo_s = sum(t - pgo0.get(p, 0) for p, t in pgo1.items()) / TICK
    busy = ((m1[0] - m0[0]) - (m1[1] - m0[1])) / TICK
    errors = Counter(f"{kind_of(k)} {st}" for k, st, _ in s if st >= 400)
    by_kind: dict[str, list[int]] = defaultdict(list)
    for k, st, us in s:
        by_kind[kind_of(k)].append(us)
    res = {"connections": conns, "requests": n, "duration_s": round(dur, 2), "rps": round(n / dur, 1),
           "overall": _pct([us for _, _, us in s]),
           "kinds": {k: {**_pct(v), "rps": round(len(v) / dur, 1), "share": round(len(v) * 100 / max(n, 1), 1)}
                     for k, v in sorted(by_kind.items())},
           "errors": sum(errors.values()) + w["socket_errors"], "errors_by": dict(errors),
           "socket_errors": w["socket_errors"],
           "load": {"start": [round(x, 2) for x in load0], "end": [round(x, 2) for x in load1],
                    "samples_1min": [round(x, 2) for x in loads]},
           "cpu_s": {"app": round(srv_s, 1), "postgres_db": round(pg_s, 1), "postgres_other": round(pgo_s, 1),
                     "wrk": round(w["wrk_cpu_s"], 1), "machine_busy": round(busy, 1)},
           "cpu_ms_per_request": {"app": round(srv_s * 1000 / max(n, 1), 2), "postgres": round(pg_s * 1000 / max(n, 1), 2),
                                  "wrk": round(w["wrk_cpu_s"] * 1000 / max(n, 1), 2)},
           "pgss": pgss, "db_stats": churn}
    res["cpu_share"] = {k: round(v / max(busy, 1e-9) * 100, 1) for k, v in res["cpu_s"].items() if k != "machine_busy"}
    res["cpu_share"]["others"] = round(100 - sum(res["cpu_share"].values()), 1)
    o = res["overall"]
    print(f"  {conns:>3} conns: {res['rps']:7.1f} req/s  p50 {o.get('p50_ms')} p95 {o.get('p95_ms')} "
          f"p99 {o.get('p99_ms')} ms  errors {res['errors']}  load {load1[0]:.2f}  cpu app {srv_s:.0f}s "
          f"pg {pg_s:.0f}s wrk {w['wrk_cpu_s']:.1f}s busy {busy:.0f}s", flush=True)
    return res


def profile(a, port: int, plan_file: Path, server_pid: int, label: str) -> dict:
    """py-spy over the app's processes during one level (not timed)."""
    spy = shutil.which("py-spy") or str(HERE.parent / ".venv" / "bin" / "py-spy")
    if not Path(spy).exists():
        return {"error": "py-spy not installed (.venv/bin/pip install py-spy)"}
    raw = WORK / f"{label}-pyspy.txt"
    secs = a.profile_seconds
    proc = subprocess.Popen([spy, "record", "--pid", str(server_pid), "--subprocesses", "--rate", "100",
                             "--nonblocking", "--format", "raw", "--duration", str(secs), "--output", str(raw)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(1)
    w = run_wrk(a, port, a.profile_level, secs - 2, plan_file, WORK / f"{label}-profile.out", f"{label}-prof")
    _, err = proc.communicate(timeout=120)
    if not raw.exists():
        return {"error": err.decode(errors="replace")[-500:]}
    return {**summarize_pyspy(raw), "requests": len(w["samples"]), "connections": a.profile_level, "seconds": secs}


LIBS = {"sqlalchemy": "sqlalchemy", "psycopg": "psycopg", "psycopg_binary": "psycopg", "psycopg_pool": "psycopg",
        "jinja2": "jinja2", "markupsafe": "jinja2", "marshmallow": "marshmallow", "flask_smorest": "flask-smorest",
        "webargs": "flask-smorest", "apispec": "flask-smorest", "werkzeug": "werkzeug", "flask": "flask",
        "waitress": "waitress", "gunicorn": "gunicorn", "cryptography": "cryptography", "argon2": "argon2",
        "redis": "redis", "rq": "rq", "authlib": "authlib", "babel": "babel", "chinese_calendar": "chinese-calendar"}
STDLIB_CATS = {"logging": "logging", "json": "json", "threading.py": "threads/sockets", "socket.py": "threads/sockets",
               "selectors.py": "threads/sockets", "queue.py": "threads/sockets"}


def _cat(frame: str) -> str:
    """The library a py-spy frame ``function (path:line)`` belongs to (py-spy shortens paths to
    their import path: ``sqlalchemy/orm/session.py``; the project's own show as ``api/cases.py``)."""
    m = re.search(r"\(([^()]*?)(?::\d+)?\)$", frame)
    path = m.group(1) if m else frame
    head = path.split("/")[0]
    if head in LIBS:
        return LIBS[head]
    if head in STDLIB_CATS:
        return STDLIB_CATS[head]
    mod = head[:-3] if head.endswith(".py") else head
    if path.startswith("<") or mod in sys.stdlib_module_names:
        return "python stdlib"
    return "pingan (core, plugins)"


def summarize_pyspy(raw: Path) -> dict:
    """Self time per library and the heaviest functions (self and inclusive) of the collapsed stacks."""
    self_cat: Counter = Counter()
    self_fn: Counter = Counter()
    incl_fn: Counter = Counter()
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        c = int(count)
        frames = [re.sub(r":\d+\)$", ")", f) for f in stack.split(";")]
        frames = [f for f in frames if not f.startswith("process ") and not f.startswith("thread ")]
        if not frames:
            continue
        total += c
        leaf = frames[-1]
        self_cat[_cat(leaf)] += c
        self_fn[leaf] += c
        for f in set(frames):
            incl_fn[f] += c
    proj = Counter({f: c for f, c in incl_fn.items() if _cat(f) == "pingan (core, plugins)"})
    return {"samples": total,
            "self_by_library": [(k, round(v * 100 / max(total, 1), 1)) for k, v in self_cat.most_common()],
            "self_top": [(k, round(v * 100 / max(total, 1), 1)) for k, v in self_fn.most_common(25)],
            "inclusive_project_top": [(k, round(v * 100 / max(total, 1), 1)) for k, v in proj.most_common(30)]}


def run(a) -> Path:
    import psycopg
    db = db_name(a.db)
    users = load_users()
    WORK.mkdir(parents=True, exist_ok=True)
    with psycopg.connect(pg_dsn(), autocommit=True) as conn:
        conn.execute("ALTER ROLE pingan_app LOGIN")
        head = [r[0] for r in conn.execute("SELECT version_num FROM alembic_version").fetchall()]
        settings = dict(conn.execute(
            "SELECT name, setting || coalesce(' ' || unit, '') FROM pg_settings WHERE name = ANY(%s)",
            (["shared_buffers", "work_mem", "effective_cache_size", "random_page_cost", "max_connections",
              "jit", "autovacuum_vacuum_scale_factor", "maintenance_work_mem", "server_version"],)).fetchall())
    print(f"database {db} at {head}, code {CODE}; sampling the data set", flush=True)
    data = sample_data(users)
    refresh_sessions(users)
    today = datetime.now(timezone(timedelta(hours=8)))
    levels = [int(x) for x in a.levels.split(",")]
    plans = {}
    for i, c in enumerate(["warmup", *levels, "profile"]):
        rng = random.Random(f"{SEED}:mix-plan:{c}")
        f = WORK / f"plan-{a.label}-{c}.tsv"
        per = max(2000, int(a.duration * 700) if c != "warmup" else 8000)
        f.write_text("\n".join(plan(users, data, per, rng, today)) + "\n", encoding="utf-8")
        plans[c] = f
    port = orgtree.free_port()
    log = WORK / f"server-{a.label}.log"
    env = server_env(db, a.label)
    started = datetime.now(timezone.utc)
    proc, cmd = start_server(a, env, port, log)
    out = {"label": a.label, "database": db, "alembic": head, "code": str(CODE), "server": a.server,
           "server_cmd": " ".join(cmd[1:]), "threads": a.threads, "workers": a.workers, "duration_s": a.duration,
           "started": started.isoformat(timespec="seconds"), "pg_settings": settings, "note": a.note,
           "machine": _common.machine(), "mix": dict(MIX), "users": [
               {k: u[k] for k in ("username", "scope", "level", "units_in_subtree", "cases_in_subtree")}
               for u in users["users"]], "levels": []}
    try:
        print(f"server: {' '.join(cmd)} (pid {proc.pid}); warm-up {a.warmup} s", flush=True)
        run_wrk(a, port, 4, a.warmup, plans["warmup"], WORK / f"{a.label}-warmup.out", f"{a.label}-warm")
        for c in levels:
            out["levels"].append(level(a, port, c, plans[c], proc.pid, db, a.label))
            JSON_OUT(a.label).write_text(json.dumps(out, ensure_ascii=False, indent=1), encoding="utf-8")
        if a.profile_seconds:
            print(f"py-spy: {a.profile_seconds} s at {a.profile_level} connections", flush=True)
            out["profile"] = profile(a, port, plans["profile"], proc.pid, a.label)
    finally:
        stop_server(proc)
    out["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    JSON_OUT(a.label).write_text(json.dumps(out, ensure_ascii=False, indent=1), encoding="utf-8")
    path = save(f"mix_{a.label}", report_one(out))
    print(f"wrote {path}")
    return path


def JSON_OUT(label: str) -> Path:  # noqa: N802
    return RESULTS / f"mix_{label}.json"


# ==============================================================================================
# reports
# ==============================================================================================

KIND_TITLES = {"list": "scoped case list (`GET /api/cases`)", "detail": "case detail (`GET /api/cases/<id>`)",
               "web": "web pages (`/`, `/cases`, `/cases/<id>`)", "stats": "statistics (`/api/case-stats/…`)",
               "register": "registration (`POST /api/cases`, petition with a petitioner)",
               "person": "new petitioner (`POST /api/persons`, before their registration)",
               "search": "keyword search (`GET /api/cases?q=`)"}
P95_BOUND = 300.0


def best(out: dict) -> dict | None:
    ok = [lv for lv in out["levels"] if lv["errors"] == 0 and lv["overall"].get("p95_ms", 1e9) <= P95_BOUND]
    return max(ok, key=lambda lv: lv["rps"]) if ok else None


def _load(lv: dict) -> str:
    s = lv["load"]["samples_1min"] or [lv["load"]["end"][0]]
    return f"{lv['load']['start'][0]:.1f}→{lv['load']['end'][0]:.1f} (max {max(s):.1f})"


def level_rows(out: dict) -> list[str]:
    rows = ["connections | req/s | p50 | p95 | p99 | errors | 1-min load (start→end) | CPU ms per request: app / "
            "PostgreSQL / wrk | CPU share: app / PostgreSQL / wrk / others | CPU-bound ceiling on 2 idle cores",
            "---|---|---|---|---|---|---|---|---|---"]
    for lv in out["levels"]:
        o, c, sh = lv["overall"], lv["cpu_ms_per_request"], lv["cpu_share"]
        rows.append(f"{lv['connections']} | {lv['rps']} | {o.get('p50_ms')} ms | {o.get('p95_ms')} ms | "
                    f"{o.get('p99_ms')} ms | {lv['errors']} | {_load(lv)} | {c['app']} / {c['postgres']} / {c['wrk']} | "
                    f"{sh['app']} % / {sh['postgres_db']} % / {sh['wrk']} % / {sh['others'] + sh['postgres_other']:.1f} % | "
                    f"{ceiling(lv)} req/s")
    return rows


def ceiling(lv: dict) -> str:
    """2 cores' CPU time divided by the app's and PostgreSQL's CPU per request: the throughput the
    mix could reach on this machine with nothing else running (robust to the other load)."""
    c = lv["cpu_ms_per_request"]
    per = c["app"] + c["postgres"]
    return f"{2000 / per:.0f}" if per else "–"


def kind_rows(lv: dict) -> list[str]:
    rows = ["kind | n | share | req/s | p50 | p95 | p99 | max", "---|---|---|---|---|---|---|---"]
    for k in ("list", "detail", "web", "stats", "register", "person", "search"):
        v = lv["kinds"].get(k)
        if v and v.get("n"):
            rows.append(f"{KIND_TITLES[k]} | {v['n']} | {v.get('share')} % | {v['rps']} | {v['p50_ms']} ms | {v['p95_ms']} ms | "
                        f"{v['p99_ms']} ms | {v['max_ms']} ms")
    return rows


def pgss_rows(lv: dict, n: int = 12) -> list[str]:
    p = lv["pgss"]
    req = max(lv["requests"], 1)
    rows = [f"All statements of the database during the level: {p['calls']:,} calls "
            f"({p['calls'] / req:.1f} per request), {p['total_ms'] / 1000:.1f} s of execution "
            f"({p['total_ms'] / req:.2f} ms per request).", "",
            "share | total | calls | mean | rows | statement (first 400 characters)", "---|---|---|---|---|---"]
    for r in p["top"][:n]:
        q = r["query"].replace("|", "\\|")
        rows.append(f"{r['total_ms'] * 100 / max(p['total_ms'], 1e-9):.1f} % | {r['total_ms'] / 1000:.2f} s | "
                    f"{r['calls']} | {r['mean_ms']} ms | {r['rows']} | `{q}`")
    return rows


def report_one(out: dict) -> str:
    a = []
    b = best(out)
    a.append(f"# Mixed load, `{out['label']}` (issue 24, item 5)")
    a.append("")
    a.append(f"- run: {out['started']} → {out.get('finished', '(running)')}; machine: {out['machine']}")
    a.append(f"- code: `{out['code']}`; database `{out['database']}` at migration {', '.join(out['alembic'])}; "
             f"PostgreSQL settings: " + ", ".join(f"{k} = {v}" for k, v in sorted(out["pg_settings"].items())))
    a.append(f"- server: `{out['server_cmd']}` (PINGAN_ENV=production, app role `pingan_app`, Redis {REDIS}); "
             f"wrk with bench/mix/mix.lua, one connection per thread, {out['duration_s']} s per level after a warm-up")
    a.append("- mix: " + ", ".join(f"{w} % {k}" for k, w in out["mix"].items()) + "; users: " +
             ", ".join(f"{u['username']} ({u['units_in_subtree']} units, {u['cases_in_subtree']:,} cases)"
                       for u in out["users"]))
    if out.get("note"):
        a.append(f"- note: {out['note']}")
    a.append("")
    a.append(f"**Highest throughput with p95 ≤ {P95_BOUND:.0f} ms and no error: "
             + (f"{b['rps']} requests/s at {b['connections']} connections (p95 {b['overall']['p95_ms']} ms).**"
                if b else "none of the levels.**"))
    a.append("")
    a.append("## Per level")
    a.append("")
    a += level_rows(out)
    a.append("")
    a.append("CPU seconds from /proc (utime + stime): the app's processes, the PostgreSQL backends of this "
             "database, wrk (getrusage of the child); *others* = the machine's busy time minus those (other "
             "helpers' tests, PostgreSQL's background processes).")
    for lv in out["levels"]:
        a.append("")
        a.append(f"## {lv['connections']} connections: per kind")
        a.append("")
        a += kind_rows(lv)
        if lv["errors_by"] or lv["socket_errors"]:
            a.append("")
            a.append(f"Errors: {lv['errors_by']}, socket errors {lv['socket_errors']}")
    top = b or max(out["levels"], key=lambda lv: lv["rps"])
    a.append("")
    a.append(f"## Where PostgreSQL's time goes ({top['connections']} connections, pg_stat_statements reset before the level)")
    a.append("")
    a += pgss_rows(top)
    ds = top.get("db_stats")
    if ds:
        d = ds["db"]
        a.append("")
        a.append(f"Database counters over the level: buffer hits {d['hit_percent']} % ({d['blks_read']:,} blocks read "
                 f"from outside shared_buffers), {d['temp_files']} temporary files ({d['temp_bytes'] / 2**20:.1f} MiB), "
                 f"{d['commits']:,} commits, {d['rollbacks']:,} rollbacks. Tables written:")
        a.append("")
        a.append("table | inserted | updated (HOT) | deleted | dead rows at the end | live rows | autovacuum runs")
        a.append("---|---|---|---|---|---|---")
        for name, t in list(ds["tables"].items())[:12]:
            a.append(f"{name} | {t['ins']} | {t['upd']} ({t['hot_upd']}) | {t['del']} | {t['dead_end']} | "
                     f"{t['live_end']} | {t['autovacuum']}")
    prof = out.get("profile")
    if prof and "samples" in prof:
        a.append("")
        a.append(f"## Where the app's time goes (py-spy, {prof['seconds']} s at {prof['connections']} connections, "
                 f"{prof['samples']} samples, {prof['requests']} requests)")
        a.append("")
        a.append("Self time by library: " + ", ".join(f"{k} {v} %" for k, v in prof["self_by_library"]))
        a.append("")
        a.append("share (inclusive) | project function")
        a.append("---|---")
        for k, v in prof["inclusive_project_top"][:20]:
            a.append(f"{v} % | `{k}`")
        a.append("")
        a.append("share (self) | function")
        a.append("---|---")
        for k, v in prof["self_top"][:15]:
            a.append(f"{v} % | `{k}`")
    elif prof:
        a.append("")
        a.append(f"py-spy: {prof.get('error')}")
    return "\n".join(a) + "\n"


def save(name: str, text: str) -> Path:
    path = RESULTS / f"{name}.md"
    if path.exists():
        old = path.read_text(encoding="utf-8")
        if MARKER in old:
            text = text + "\n" + MARKER + old.split(MARKER, 1)[1]
    return _common.write_result(name, text)


def report(labels: list[str]) -> Path:
    """results/mix.md: the runs side by side (before, after, and whatever else is named)."""
    outs = [json.loads(JSON_OUT(x).read_text(encoding="utf-8")) for x in labels if JSON_OUT(x).exists()]
    if not outs:
        raise SystemExit("no runs: bench/mix.py run --label before|after first")
    for o in outs:   # each run's own report, rewritten from its JSON (the profile summarised again)
        raw = WORK / f"{o['label']}-pyspy.txt"
        if o.get("profile") and "samples" in o["profile"] and raw.exists():
            o["profile"].update(summarize_pyspy(raw))
            JSON_OUT(o["label"]).write_text(json.dumps(o, ensure_ascii=False, indent=1), encoding="utf-8")
        save(f"mix_{o['label']}", report_one(o))
    a = ["# Mixed load before and after (issue 24, item 5)", "",
         f"The issue's mix on the 1M-case data set (bench/mix.py; `results/mix_<label>.md` for each run in full). "
         f"The machine has 2 cores shared with other work: read the load and the CPU share of *others* with "
         f"each figure. *CPU-bound ceiling* = 2 cores' 2,000 ms of CPU per second ÷ (the app's + PostgreSQL's CPU ms "
         f"per request, measured from /proc over the level): the rate the mix would reach on this machine with nothing "
         f"else running, if CPU is what limits it — a figure the other load disturbs far less than req/s or latency.", ""]
    a.append("run | code | migration | server | best req/s at p95 ≤ 300 ms, no error | peak req/s (p95) | started")
    a.append("---|---|---|---|---|---|---")
    for o in outs:
        b = best(o)
        pk = max(o["levels"], key=lambda lv: lv["rps"]) if o["levels"] else None
        a.append(f"{o['label']} | `{o['code']}` | {', '.join(o['alembic'])} | `{o['server_cmd']}` | "
                 + (f"{b['rps']} ({b['connections']} conns, p95 {b['overall']['p95_ms']} ms)" if b else "none") + " | "
                 + (f"{pk['rps']} ({pk['connections']} conns, p95 {pk['overall']['p95_ms']} ms)" if pk else "–")
                 + f" | {o['started']}")
    conns = sorted({lv["connections"] for o in outs for lv in o["levels"]})
    a += ["", "## Throughput and overall latency per level", ""]
    a.append("connections | " + " | ".join(f"{o['label']}: req/s, p50 / p95 / p99 ms, errors, load, CPU-bound ceiling"
                                           for o in outs))
    a.append("---|" + "---|" * len(outs))
    for c in conns:
        cells = []
        for o in outs:
            lv = next((x for x in o["levels"] if x["connections"] == c), None)
            cells.append("–" if lv is None else
                         f"{lv['rps']}, {lv['overall']['p50_ms']} / {lv['overall']['p95_ms']} / {lv['overall']['p99_ms']}, "
                         f"{lv['errors']}, {_load(lv)}, {ceiling(lv)} req/s")
        a.append(f"{c} | " + " | ".join(cells))
    a += ["", "## Per kind: p50 / p95 / p99 (ms)", ""]
    for c in conns:
        a.append(f"### {c} connections")
        a.append("")
        a.append("kind | " + " | ".join(o["label"] for o in outs))
        a.append("---|" + "---|" * len(outs))
        for k in ("list", "detail", "web", "stats", "register", "person", "search"):
            cells = []
            for o in outs:
                lv = next((x for x in o["levels"] if x["connections"] == c), None)
                v = lv and lv["kinds"].get(k)
                cells.append(f"{v['p50_ms']} / {v['p95_ms']} / {v['p99_ms']} (n {v['n']})" if v and v.get("n") else "–")
            a.append(f"{KIND_TITLES[k]} | " + " | ".join(cells))
        a.append("")
    a += ["## CPU per request (ms): app / PostgreSQL / wrk", ""]
    a.append("connections | " + " | ".join(o["label"] for o in outs))
    a.append("---|" + "---|" * len(outs))
    for c in conns:
        cells = []
        for o in outs:
            lv = next((x for x in o["levels"] if x["connections"] == c), None)
            cells.append("–" if lv is None else " / ".join(str(lv["cpu_ms_per_request"][k]) for k in ("app", "postgres", "wrk")))
        a.append(f"{c} | " + " | ".join(cells))
    for o in outs:
        top = best(o) or max(o["levels"], key=lambda lv: lv["rps"])
        a += ["", f"## {o['label']}: top statements at {top['connections']} connections", ""]
        a += pgss_rows(top, 8)
        prof = o.get("profile")
        if prof and "samples" in prof:
            a += ["", f"{o['label']}: app self time by library (py-spy): "
                  + ", ".join(f"{k} {v} %" for k, v in prof["self_by_library"][:10])]
    return save("mix", "\n".join(a) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--code", default=str(HERE.parent), help="the tree whose code, migrations and .venv are used")
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("generate")
    g.add_argument("--seed", type=int, default=SEED)
    g.add_argument("--cases", type=int, default=1_000_000)
    g.add_argument("--big-share", type=float, default=0.95)
    r = sub.add_parser("run")
    r.add_argument("--label", required=True, help="results/mix_<label>.md/.json (before, after, settings_tuned …)")
    r.add_argument("--db", default=None, help="database (default PINGAN_BENCH_MIX_DB or pingan_bench_mix)")
    r.add_argument("--server", choices=("serve", "gunicorn"), default="serve")
    r.add_argument("--threads", type=int, default=8, help="pingan serve --threads")
    r.add_argument("--workers", type=int, default=2, help="gunicorn -w")
    r.add_argument("--server-args", default="", help="more arguments for the server command")
    r.add_argument("--levels", default="1,4,8,16,32")
    r.add_argument("--duration", type=float, default=45)
    r.add_argument("--warmup", type=float, default=15)
    r.add_argument("--pgss-top", type=int, default=15)
    r.add_argument("--profile-level", type=int, default=8)
    r.add_argument("--profile-seconds", type=int, default=30, help="0: no py-spy profile")
    r.add_argument("--note", default=None)
    rp = sub.add_parser("report")
    rp.add_argument("--labels", default="before,after")
    a = ap.parse_args()
    if a.cmd == "generate":
        db_name()
        generate(a.seed, a.cases, a.big_share)
    elif a.cmd == "run":
        if a.label in ("", "data", "users") or not re.fullmatch(r"[a-z0-9_]+", a.label):
            raise SystemExit("--label: lower-case letters, digits and _ only")
        run(a)
    else:
        print(f"wrote {report(a.labels.split(','))}")


if __name__ == "__main__":
    main()
