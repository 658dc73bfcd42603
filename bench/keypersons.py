"""Issue 20's figures: a county register of 50,000 key persons — the scoped list and the rate
report (figures) for the county, through the real app on PostgreSQL, against the SQL it runs.

    .venv/bin/python bench/keypersons.py generate [--records 50000]
    .venv/bin/python bench/keypersons.py run [--n 200] [--warmup 20]

``generate`` rebuilds the database ``pingan_bench_keypersons`` (override
``PINGAN_BENCH_KEYPERSONS_DB``; server ``PINGAN_BENCH_PG``, default ``postgres@127.0.0.1:5432``):
``pingan db upgrade``, ``tenants/demo`` (192 units, its accounts), the module on, then
``--records`` key persons spread over the county's villages and groups (Zipf-like: a few villages
hold many), in every category, 60 % with 1–4 visits, 3 % ended, through the ORM with the
core's encryption and blind indexes (names, ID numbers, the category, the fields), one
transaction per 5,000. The instance folder (its development keys) is
``/tmp/pingan-bench-keypersons``: ``run`` reads what ``generate`` encrypted.

``run``: the real app (test client) logged in as the app role ``pingan_app`` (row-level security
on), as the county admin and as a township officer (``donghu.admin``): the list (first page of
50; the overdue filter; a township's subtree) and the figures of this year (the county; a
township). Each request's statements are captured (``before_cursor_execute``) and replayed alone
with psycopg as ``pingan_app`` in ``BEGIN; SET LOCAL pingan.tenant_id …; ROLLBACK``: the ratio of
the API to its SQL. p50 / p95 / p99, statements per request, load average. → ``results/keypersons.md``
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, machine, now_utc, summarize, write_result  # noqa: E402

PG = os.environ.get("PINGAN_BENCH_PG", "postgres@127.0.0.1:5432")
DB = os.environ.get("PINGAN_BENCH_KEYPERSONS_DB", "pingan_bench_keypersons")
INSTANCE = Path(tempfile.gettempdir()) / "pingan-bench-keypersons"
APP_ROLE = "pingan_app"
PY = str(ROOT / ".venv" / "bin" / "python")
SEED = 20261207
CATEGORIES = ["released", "corrections", "drug", "concern", "youth", "floating"]
_UTILITY = re.compile(r"^\s*(BEGIN|SET|RESET|COMMIT|ROLLBACK|SAVEPOINT|RELEASE|SHOW)\b", re.I)


def _db() -> str:
    if DB == "test" or DB.startswith("test_") or DB in ("postgres", "template0", "template1"):
        raise SystemExit(f"refusing to use database {DB!r}: benchmarks only use their own database")
    return DB


def _server() -> tuple[str, str, str]:
    user, hostport = PG.split("@")
    host, port = hostport.split(":")
    return user, host, port


def _url() -> str:
    return f"postgresql+psycopg://{PG}/{_db()}"


def _env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PINGAN_")}
    env.update(PINGAN_DATABASE_URL=_url(), PINGAN_INSTANCE_DIR=str(INSTANCE), PINGAN_LOG_LEVEL="WARNING",
               PINGAN_DEFAULT_TENANT="demo")
    return env


def _app():
    from core.app import create_app
    from core.config import Config
    cfg = Config.from_env(env="development", database_url=_url(), redis_url=None, instance_dir=INSTANCE,
                          log_level="WARNING", db_app_role=APP_ROLE)
    return create_app(cfg)


def generate(records: int) -> None:
    user, host, port = _server()
    INSTANCE.mkdir(parents=True, exist_ok=True)
    subprocess.run(["dropdb", "-h", host, "-p", port, "-U", user, "--if-exists", _db()], check=True)
    subprocess.run(["createdb", "-h", host, "-p", port, "-U", user, _db()], check=True)
    cli = [PY, "-c", "from core.cli import main; main()"]
    for args in (["db", "upgrade"], ["tenant", "load", "tenants/demo", "--demo"]):
        subprocess.run(cli + args, cwd=ROOT, env=_env(), check=True, stdout=subprocess.DEVNULL)
    t0 = time.perf_counter()
    from sqlalchemy import select

    from core.app import pingan
    from core.context import Actor, acting_as
    from core.db import bind_tenant
    from core.auth import create_access_token
    from core.models import OrgUnit, Person, Tenant, User
    from core.privacy import set_person_fields
    from plugins.keypersons.categories import CATEGORIES as CATS
    from plugins.keypersons.models import KeyPerson, Visit
    from core.demo import GIVEN, SURNAMES, fake_id_number
    app = _app()
    state = pingan(app)
    rnd = random.Random(SEED)
    with state.db.transaction() as s:
        tenant_id = s.scalar(select(Tenant.id).where(Tenant.slug == "demo"))
    with bind_tenant(tenant_id), acting_as(Actor(None, "bench")), state.db.transaction(tenant_id) as s:
        admin = s.scalar(select(User).where(User.username == "county.admin"))
        _, token = create_access_token(s, admin, "bench")
        units = s.scalars(select(OrgUnit.id).where(OrgUnit.level.in_(["village", "group"])).order_by(OrgUnit.id)).all()
    r = app.test_client().put("/api/modules/keypersons", json={"enabled": True}, base_url="http://demo.localhost",
                              headers={"Authorization": f"Bearer {token}"})   # as an admin does: audited
    assert r.status_code == 200, r.get_json()
    weights = [1 / (k + 1) ** 0.8 for k in range(len(units))]
    today = dt.date.today()
    made = 0
    while made < records:
        batch = min(5000, records - made)
        with bind_tenant(tenant_id), acting_as(Actor(admin.id, "bench")), state.db.transaction(tenant_id) as s:
            people = []
            for _ in range(batch):
                unit = rnd.choices(units, weights)[0]
                p = Person(name=rnd.choice(SURNAMES) + rnd.choice(GIVEN), org_unit_id=unit, created_by=admin.id)
                set_person_fields(p, {"id_number": fake_id_number(rnd), "phone": f"139{rnd.randrange(10**8):08d}",
                                      "address": "示范县某村"})
                people.append(p)
            s.add_all(people)
            s.flush()
            rows = []
            for p in people:
                cat = rnd.choice(CATEGORIES)
                start = today - dt.timedelta(days=rnd.randrange(10, 900))
                details = ({"offence": "盗窃罪", "release_date": start.isoformat(), "placed": rnd.random() < 0.8,
                            "helped": rnd.random() < 0.9, "handover_date": start.isoformat()} if cat == "released"
                           else {"correction_category": "缓刑", "start_date": start.isoformat(),
                                 "end_date": (start + dt.timedelta(days=700)).isoformat()} if cat == "corrections"
                           else {"note": "情况说明"})
                due = today + dt.timedelta(days=rnd.randrange(-40, 90))
                rows.append(KeyPerson(person_id=p.id, org_unit_id=p.org_unit_id, category=cat,
                                      category_bidx=CATS[cat].bidx, risk_level=rnd.choice(["high", "medium", "low"]),
                                      details=json.dumps(details, ensure_ascii=False), helpers="村帮教小组",
                                      next_visit_due=due, overdue_since=due if due < today else None,
                                      ended_on=today - dt.timedelta(days=5) if rnd.random() < 0.03 else None,
                                      created_by=admin.id))
            s.add_all(rows)
            s.flush()
            visits = []
            for r in rows:
                if rnd.random() < 0.6:
                    for _ in range(rnd.randint(1, 4)):
                        on = today - dt.timedelta(days=rnd.randrange(1, 360))
                        visits.append(Visit(record_id=r.id, org_unit_id=r.org_unit_id, visited_on=on, due_on=on,
                                            way="home", visitor="村干部", content="走访", result="stable"))
            s.add_all(visits)
        made += batch
        print(f"  {made} records", flush=True)
    subprocess.run(["psql", "-h", host, "-p", port, "-U", user, "-qc", "VACUUM ANALYZE", _db()], check=True)
    (INSTANCE / "generated.json").write_text(json.dumps({"records": records, "seconds": round(time.perf_counter() - t0),
                                                          "units": len(units), "at": now_utc()}))
    print(f"generated {records} key persons in {time.perf_counter() - t0:.0f} s")


class Capture:
    """The statements the app's engine runs while on."""

    def __init__(self, engine) -> None:
        from sqlalchemy import event
        self.on, self.stmts = False, []
        event.listen(engine, "before_cursor_execute", self._before)

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        if self.on:
            self.stmts.append((statement, parameters))


def _replay(conn, tenant_id: int, stmts: list) -> None:
    with conn.cursor() as cur:
        cur.execute(f"SET LOCAL pingan.tenant_id = '{tenant_id}'")
        for stmt, params in stmts:
            if not _UTILITY.match(stmt):
                cur.execute(stmt, params or None)
                if cur.description is not None:
                    cur.fetchall()
    conn.rollback()


def run(n: int, warmup: int) -> Path:
    import psycopg
    from sqlalchemy import select

    from core.app import pingan
    from core.auth import create_access_token
    from core.context import Actor, acting_as
    from core.db import bind_tenant
    from core.models import OrgUnit, Tenant, User
    app = _app()
    state = pingan(app)
    with state.db.transaction() as s:
        tenant_id = s.scalar(select(Tenant.id).where(Tenant.slug == "demo"))
    tokens = {}
    with bind_tenant(tenant_id), acting_as(Actor(None, "bench")), state.db.transaction(tenant_id) as s:
        for name in ("county.admin", "donghu.admin"):
            tokens[name] = create_access_token(s, s.scalar(select(User).where(User.username == name)), "bench")[1]
        township = s.scalar(select(OrgUnit.id).where(OrgUnit.name == "东湖镇"))
    year = dt.date.today().year
    figures = f"start={year}-01-01&end={year}-12-31"
    cases = [("county admin", "list, first page of 50", "county.admin", "/api/keypersons/records?limit=50"),
             ("county admin", "list, overdue only", "county.admin", "/api/keypersons/records?limit=50&overdue=true"),
             ("township officer", "list, first page of 50", "donghu.admin", "/api/keypersons/records?limit=50"),
             ("county admin", "list, a township's subtree", "county.admin",
              f"/api/keypersons/records?limit=50&under={township}"),
             ("county admin", "figures of the year, county", "county.admin", f"/api/keypersons/figures?{figures}"),
             ("township officer", "figures of the year, township", "donghu.admin", f"/api/keypersons/figures?{figures}")]
    client = app.test_client()
    capture = Capture(state.db.engine)
    user, host, port = _server()
    conn = psycopg.connect(f"host={host} port={port} user={user} dbname={_db()}", prepare_threshold=None)
    conn.execute(f'SET ROLE "{APP_ROLE}"')
    conn.execute("SET jit = off")
    conn.commit()
    rows, load = [], os.getloadavg()
    for who, what, username, url in cases:
        headers = {"Authorization": f"Bearer {tokens[username]}"}

        def call():
            r = client.get(url, headers=headers, base_url="http://demo.localhost")
            assert r.status_code == 200, (url, r.status_code, r.get_data(as_text=True)[:300])
            return r
        capture.stmts, capture.on = [], True
        body = call().get_json()
        capture.on = False
        stmts = list(capture.stmts)
        samples_api, samples_sql = [], []
        for _ in range(warmup):
            call()
            _replay(conn, tenant_id, stmts)
        for i in range(n):   # alternating: drift hits both alike
            for f, out in (((call, samples_api), (lambda: _replay(conn, tenant_id, stmts), samples_sql)) if i % 2 == 0
                           else ((lambda: _replay(conn, tenant_id, stmts), samples_sql), (call, samples_api))):
                t0 = time.perf_counter_ns()
                f()
                out.append(time.perf_counter_ns() - t0)
        api, sql = summarize(samples_api), summarize(samples_sql)
        size = len(body.get("items", [])) if "items" in body else sum((body.get("counts") or {}).values())
        rows.append((who, what, api, sql, len([s for s in stmts if not _UTILITY.match(s[0])]), size))
        print(f"  {who}: {what}: p95 {api.p95_us / 1000:.1f} ms (SQL {sql.p95_us / 1000:.1f} ms)", flush=True)
    meta = json.loads((INSTANCE / "generated.json").read_text()) if (INSTANCE / "generated.json").exists() else {}
    lines = [f"# Key persons: a county register of {meta.get('records', '?'):,} (issue 20)", "",
             f"Run {now_utc()} with `bench/keypersons.py run --n {n} --warmup {warmup}` on {machine()}. "
             f"Load average at the start: {', '.join(f'{x:.2f}' for x in load)}.", "",
             f"Data: `generate` — {meta.get('records', '?'):,} key persons over {meta.get('units', '?')} villages and "
             f"groups of the demo county (Zipf-like), every category, ~1.5 visits each, made in "
             f"{meta.get('seconds', '?')} s. The app logs in as `{APP_ROLE}` (row-level security on); the SQL is "
             "the request's own statements replayed alone with psycopg as the same role.", "",
             "| user | request | n | API p50 | API p95 | API p99 | SQL p50 | SQL p95 | API/SQL (p50) | statements | rows |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for who, what, api, sql, count, size in rows:
        lines.append(f"| {who} | {what} | {api.n} | {api.median_us / 1000:.1f} ms | {api.p95_us / 1000:.1f} ms | "
                     f"{api.p99_us / 1000:.1f} ms | {sql.median_us / 1000:.1f} ms | {sql.p95_us / 1000:.1f} ms | "
                     f"{api.median_us / sql.median_us:.1f} | {count} | {size} |")
    lines.append("")
    old = (Path(__file__).parent / "results" / "keypersons.md")
    if old.exists() and "<!-- reading" in old.read_text():
        lines.append(old.read_text()[old.read_text().index("<!-- reading"):])
    return write_result("keypersons", "\n".join(lines) + "\n")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("generate")
    g.add_argument("--records", type=int, default=50000)
    r = sub.add_parser("run")
    r.add_argument("--n", type=int, default=200)
    r.add_argument("--warmup", type=int, default=20)
    a = p.parse_args()
    os.chdir(ROOT)
    if a.cmd == "generate":
        generate(a.records)
    else:
        print(run(a.n, a.warmup))


if __name__ == "__main__":
    main()
