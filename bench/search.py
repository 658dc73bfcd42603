"""Issue 24, items 1 and 2: keyword and person search per scope, and the township list's bound
parameters, before and after (scope as a predicate; scope and limit inside the index query).

    .venv/bin/python bench/search.py prepare              # two copies of pingan_bench_mix (5440)
    /tmp/before/.venv/bin/python bench/search.py run --label before --code /tmp/before \\
        --db pingan_bench_search_before
    .venv/bin/python bench/search.py run --label after      # this tree, on pingan_bench_search
    .venv/bin/python bench/search.py report               # results/search.md from the two JSON files

``prepare`` copies ``pingan_bench_mix`` (``bench/mix.py generate``: 1M cases, 950k of them in one
county of 10,000 units, eleven users) twice on ``postgres@127.0.0.1:5440`` (``PINGAN_BENCH_PG``):
``pingan_bench_search_before`` as it is (the migration head the data set was made with) and
``pingan_bench_search``, upgraded with this tree's migrations. ``run`` loads ``--code``'s app (the
"before" tree has its own virtualenv: run the script with that Python) on the database as the app
role ``pingan_app`` and calls the API through the Werkzeug test client, signed in with the users'
tokens (``results/mix_users.json``), for the first village, township and county officer:

- keyword search ``GET /api/cases?q=<word>&limit=20``, the words of the mix (``bench/mix.py``
  ``KEYWORDS``: common ones like 纠纷 and rarer ones), round robin, ``--n`` calls per scope;
- person search by name ``GET /api/cases?person=<name>&limit=20`` (names of persons of cases in
  the scope, read from the database) and, for the county administrator (who holds
  ``core.person.pii.read``), by ID number through the blind index (at most 18 a run: the API
  allows 20 such searches a minute per user);
- the plain case list ``GET /api/cases?limit=20``: time, and the most parameters any statement
  over ``case_record`` of the request bound (``before_cursor_execute``), with the statement count.

Each series records the load average before and after it; the machine has two cores shared with
other work, so compare the two labels' ratios rather than absolute figures. → ``results/search_<label>.json``;
``report`` writes ``results/search.md``.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import _common  # noqa: E402

_common.PG_SERVER = os.environ.get("PINGAN_BENCH_PG", "postgres@127.0.0.1:5440")
SOURCE_DB = os.environ.get("PINGAN_BENCH_MIX_DB", "pingan_bench_mix")
AFTER_DB, BEFORE_DB = "pingan_bench_search", "pingan_bench_search_before"
RESULTS = _common.RESULTS
USERS = RESULTS / "mix_users.json"
KEYWORDS = ("补偿", "工资", "低保", "噪声", "宅基地", "物业", "拆迁", "养老", "污水", "村务", "承包地", "纠纷")  # bench/mix.py
SCOPES = ("village", "township", "county")
APP_ROLE = "pingan_app"


def json_out(label: str) -> Path:
    return RESULTS / f"search_{label}.json"


def _host_port() -> tuple[str, str, str]:
    user, hostport = _common.PG_SERVER.split("@")
    host, port = hostport.split(":")
    return user, host, port


def prepare() -> None:
    user, host, port = _host_port()
    for db in (BEFORE_DB, AFTER_DB):
        subprocess.run(["dropdb", "-h", host, "-p", port, "-U", user, "--if-exists", db], check=True)
        subprocess.run(["createdb", "-h", host, "-p", port, "-U", user, "-T", SOURCE_DB, db], check=True)
    _common.BENCH_DB = AFTER_DB
    env = {**os.environ, "PINGAN_DATABASE_URL": _common.sa_url(), "PINGAN_DB_APP_ROLE": APP_ROLE}
    env.pop("PINGAN_REDIS_URL", None)
    subprocess.run([str(_common.ROOT / ".venv" / "bin" / "pingan"), "db", "upgrade"], check=True, env=env,
                   cwd=_common.ROOT)
    import psycopg
    with psycopg.connect(_common.pg_dsn(), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def timed(fn, n: int, warmup: int) -> dict:
    for i in range(warmup):
        fn(i)
    out = []
    l0 = load()
    for i in range(n):
        t0 = time.perf_counter_ns()
        fn(i)
        out.append(time.perf_counter_ns() - t0)
    st = _common.summarize(out)
    return {"n": st.n, "p50_ms": st.median_us / 1000, "p95_ms": st.p95_us / 1000, "p99_ms": st.p99_us / 1000,
            "mean_ms": st.mean_us / 1000, "max_ms": max(out) / 1e6, "load_before": l0, "load_after": load()}


def run(label: str, code: Path, db: str, n: int, warmup: int) -> Path:
    if str(code) != str(_common.ROOT):  # the other tree's packages, not this one's
        sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _common.ROOT]
        sys.path.insert(0, str(code))
    meta = json.loads(USERS.read_text(encoding="utf-8"))
    sys.path.insert(1, str(HERE))
    import petition  # noqa: E402  (the data keys of the data set, from its seed)
    os.environ["PINGAN_DATA_KEYS"], os.environ["PINGAN_INDEX_KEY"] = petition.keys(meta["seed"])
    import orgtree  # noqa: E402
    _common.BENCH_DB = db  # (importing petition pointed it at petition's own database)
    app = orgtree.make_app(Path(tempfile.mkdtemp(prefix="pingan-bench-search-")))
    import core.app as core_app
    assert Path(core_app.__file__).resolve().is_relative_to(code.resolve()), core_app.__file__
    from sqlalchemy import event, select, text
    from core.app import pingan
    from core.db import bind_tenant
    state = pingan(app)
    tid, host = meta["tenant_id"], meta["host"]
    users = {}
    for u in meta["users"]:
        users.setdefault(u["scope"], u)
    seen: list[tuple[int, str]] = []

    def note(conn, cursor, statement, parameters, context, executemany):
        seen.append((len(parameters or ()), statement))
    event.listen(state.db.engine, "before_cursor_execute", note)
    client = app.test_client()

    def get(user: dict, url: str) -> dict:
        r = client.get(url, base_url=f"http://{host}", headers={"Authorization": f"Bearer {user['token']}"})
        if r.status_code != 200:
            raise RuntimeError(f"{url}: {r.status_code} {r.get_data(as_text=True)[:300]}")
        return r.get_json()

    from urllib.parse import quote
    out: dict = {"label": label, "code": str(code), "db": db, "started": _common.now_utc(), "machine": _common.machine(),
                 "series": {}}
    with bind_tenant(tid), state.db.Session() as s:
        head = s.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
        out["alembic"] = head
        names: dict[str, list[str]] = {}
        import psycopg
        with psycopg.connect(_common.pg_dsn()) as owner:  # set-up only: as the owner, without RLS
            for scope in SCOPES:
                path = users[scope]["path"]
                rows = owner.execute(
                    "SELECT p.name FROM case_record c JOIN case_person cp ON cp.tenant_id = c.tenant_id "
                    "AND cp.case_id = c.id JOIN person p ON p.tenant_id = cp.tenant_id AND p.id = cp.person_id "
                    "WHERE c.tenant_id = %(t)s AND c.org_unit_id IN (SELECT id FROM org_unit WHERE tenant_id = %(t)s "
                    "AND path >= %(lo)s AND path < %(hi)s) ORDER BY c.id DESC LIMIT 400",
                    {"t": tid, "lo": path, "hi": path[:-1] + "0"}).fetchall()
                names[scope] = list(dict.fromkeys(r[0] for r in rows))[:40]
        from core.models import Person
        id_numbers = [p.id_number for p in s.scalars(select(Person).where(Person.id_number_bidx.is_not(None))
                                                      .order_by(Person.id).limit(18))]
    hits: dict[str, list[int]] = {}
    for scope in SCOPES:
        user = users[scope]
        print(f"{label}: {scope} ({user['username']}, {user['units_in_subtree']} units, "
              f"{user['cases_in_subtree']} cases)", flush=True)

        def kw(i: int, user=user, scope=scope) -> None:
            got = get(user, f"/api/cases?q={quote(KEYWORDS[i % len(KEYWORDS)])}&limit=20")
            hits.setdefault(scope, []).append(len(got["items"]))
        out["series"][f"search.{scope}"] = timed(kw, n, warmup)
        per_word = {}
        for w in KEYWORDS:
            per_word[w] = timed(lambda i, w=w, user=user: get(user, f"/api/cases?q={quote(w)}&limit=20"),
                                max(3, n // len(KEYWORDS)), 1)
        out["series"][f"search.{scope}.per_word"] = per_word
        pool = names[scope] or ["张三"]
        out["series"][f"person_name.{scope}"] = timed(
            lambda i, user=user, pool=pool: get(user, f"/api/cases?person={quote(pool[i % len(pool)])}&limit=20"),
            n, warmup)
        out["series"][f"list.{scope}"] = timed(lambda i, user=user: get(user, "/api/cases?limit=20"), n, warmup)
        seen.clear()
        get(user, "/api/cases?limit=20")
        case_stmts = [(k, sql) for k, sql in seen if "case_record" in sql]
        out["series"][f"list.{scope}"]["bound_parameters"] = max(k for k, _ in case_stmts)
        out["series"][f"list.{scope}"]["statements"] = len(seen)
        seen.clear()
        get(user, f"/api/cases?q={quote('纠纷')}&limit=20")
        out["series"][f"search.{scope}"]["bound_parameters_纠纷"] = max(
            (k for k, sql in seen if "case_record" in sql or "case_search_ids" in sql), default=0)
    admin = next((u for u in meta["users"] if u["scope"] == "county_admin"), None)
    if admin and id_numbers:
        out["series"]["person_id_number.county_admin"] = timed(
            lambda i: get(admin, f"/api/cases?person={id_numbers[i % len(id_numbers)]}&limit=20"),
            len(id_numbers) - 2, 2)
    out["hits"] = {k: sum(v) / len(v) for k, v in hits.items()}
    out["finished"] = _common.now_utc()
    json_out(label).write_text(json.dumps(out, ensure_ascii=False, indent=1), encoding="utf-8")
    print(json.dumps({k: v for k, v in out["series"].items() if not k.endswith("per_word")}, ensure_ascii=False,
                     indent=1))
    return json_out(label)


def _cell(s: dict | None) -> str:
    if not s:
        return "–"
    return f"{s['p50_ms']:.1f} / {s['p95_ms']:.1f}"


def report() -> Path:
    runs = {lab: json.loads(json_out(lab).read_text(encoding="utf-8")) for lab in ("before", "after")
            if json_out(lab).exists()}
    lines = ["# Search and scope at 1M cases (issue 24, items 1 and 2)", "",
             "`bench/search.py`; data set `bench/mix.py generate` (1M cases, 950k in one county of 10,000 units).",
             "Through the real app (Werkzeug test client, PostgreSQL as `pingan_app` under RLS, no Redis), one "
             "caller at a time. p50 / p95 in ms. The machine (2 cores) was shared with other helpers' tests and "
             "benchmarks: the load average of each series is given; compare the columns of one row.", ""]
    for lab, r in runs.items():
        lines.append(f"- **{lab}**: code `{r['code']}`, database `{r['db']}` (migration {', '.join(r['alembic'])}), "
                     f"{r['started']} → {r['finished']}; {r['machine']}")
    lines += ["", "| series | " + " | ".join(f"{lab} p50 / p95" for lab in runs) + " | load (1/5/15 min) during | ratio p95 |",
              "|---|" + "---|" * len(runs) + "---|---|"]
    keys = [k for k in next(iter(runs.values()))["series"] if not k.endswith("per_word")] if runs else []
    for k in keys:
        cells = [_cell(r["series"].get(k)) for r in runs.values()]
        loads = "; ".join(f"{lab}: {r['series'][k]['load_before']}" for lab, r in runs.items() if k in r["series"])
        ratio = ""
        if len(runs) == 2 and all(k in r["series"] for r in runs.values()):
            b, a = (runs[lab]["series"][k]["p95_ms"] for lab in ("before", "after"))
            ratio = f"{b / a:.0f}× faster" if a and b / a >= 1.5 else f"{b / a:.2f}"
        lines.append(f"| {k} | " + " | ".join(cells) + f" | {loads} | {ratio} |")
    lines += ["", "## Bound parameters of one request's statements over `case_record` (the most in one statement)", "",
              "| request | " + " | ".join(runs) + " |", "|---|" + "---|" * len(runs)]
    for scope in SCOPES:
        k = f"list.{scope}"
        lines.append(f"| `GET /api/cases?limit=20`, {scope} officer | "
                     + " | ".join(str(r["series"].get(k, {}).get("bound_parameters", "–")) for r in runs.values()) + " |")
    for scope in SCOPES:
        k = f"search.{scope}"
        lines.append(f"| `GET /api/cases?q=纠纷&limit=20`, {scope} officer | "
                     + " | ".join(str(r["series"].get(k, {}).get("bound_parameters_纠纷", "–")) for r in runs.values())
                     + " |")
    lines += ["", "## Keyword search per word (p50 / p95 ms)", "",
              "| scope | word | " + " | ".join(runs) + " |", "|---|---|" + "---|" * len(runs)]
    for scope in SCOPES:
        for w in KEYWORDS:
            lines.append(f"| {scope} | {w} | " + " | ".join(
                _cell(r["series"].get(f"search.{scope}.per_word", {}).get(w)) for r in runs.values()) + " |")
    path = RESULTS / "search.md"
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    marker = "<!-- reading:"
    tail = old[old.index(marker):] if marker in old else ""
    path.write_text("\n".join(lines) + "\n\n" + tail, encoding="utf-8")
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("prepare")
    r = sub.add_parser("run")
    r.add_argument("--label", required=True)
    r.add_argument("--code", type=Path, default=_common.ROOT)
    r.add_argument("--db", default=None)
    r.add_argument("--n", type=int, default=60)
    r.add_argument("--warmup", type=int, default=5)
    sub.add_parser("report")
    a = ap.parse_args()
    if a.cmd == "prepare":
        prepare()
    elif a.cmd == "run":
        print(run(a.label, a.code.resolve(), a.db or (BEFORE_DB if a.label == "before" else AFTER_DB), a.n, a.warmup))
    else:
        print(report())


if __name__ == "__main__":
    main()
