"""Issue 19's figure: a mechanism's page (JNT-1) for a county with a million cases, on PostgreSQL,
through the real app against the SQL it runs.

    .venv/bin/python bench/joint.py generate [--cases 1000000]
    .venv/bin/python bench/joint.py run [--n 200] [--warmup 20]

``generate`` builds its own database ``pingan_bench_joint`` (override ``PINGAN_BENCH_JOINT_DB``;
server ``PINGAN_BENCH_PG``) with ``bench/petition.py``'s generator: the province of
``bench/orgtree.py`` (100 counties, 250,000 units) and ``--cases`` petitions (``petition.case``,
three years, every state) in the largest county (10,000 units). Then the joint module on in that
county with two mechanisms — one over the petitions (信访联办), one over a case type the county
has no case of — and two readers with personal access tokens: the county's petition officer (on
the root, ``core.case.read``) given ``joint.read``, and a township officer (the county's largest
township) with ``core.case.read`` and ``joint.read`` there. Its metadata goes to
``results/joint_data.json`` (the petition and orgtree generators' own to ``joint_*`` files too).

``run``: ``GET /api/joint/mechanisms/<key>`` (the page's data: the figures — open, overdue,
closed this month — and the 100 most urgent open cases) and ``GET /api/joint/mechanisms`` (every
mechanism with its figures), as each reader, through the whole Flask pipeline (Werkzeug test
client, the app logged in as ``pingan_app``: row-level security on); each request's round trips
captured and replayed alone with psycopg as the same role. p50 / p95 / p99 and the ratio.
→ ``results/joint.md``
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("PINGAN_BENCH_PETITION_DB", os.environ.get("PINGAN_BENCH_JOINT_DB", "pingan_bench_joint"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402
import orgtree  # noqa: E402
import petition  # noqa: E402  (its generator; it points _common at the database above)

orgtree.META = _common.RESULTS / "joint_orgtree_data.json"
petition.META = _common.RESULTS / "joint_petition_data.json"
from _common import RESULTS, machine, now_utc, pg_dsn, summarize, write_result  # noqa: E402
from cases import Client, _reserve, officer_token  # noqa: E402

META = RESULTS / "joint_data.json"
MECHANISMS = [{"key": "petitions", "title": "信访联办", "lead": None, "members": [], "case_types": ["petition.case"]},
              {"key": "empty", "title": "无事项的机制", "lead": None, "members": [], "case_types": ["hello.visit"]}]


def _reader(cur, seed: int, tid: int, unit: int, who: str, perms: list[str]) -> int:
    """A user with ``perms`` on ``unit`` and a personal access token ``officer_token(seed, tid, who)``."""
    ids = iter(_reserve(cur, 4 + len(perms)))
    role_id, uid = next(ids), next(ids)
    cur.execute("INSERT INTO role (tenant_id, id, key, name, created_at) VALUES (%s,%s,%s,%s,now())",
                (tid, role_id, f"bench_{who}", who))
    for p in perms:
        cur.execute("INSERT INTO role_permission (tenant_id, id, role_id, permission) VALUES (%s,%s,%s,%s)",
                    (tid, next(ids), role_id, p))
    cur.execute("INSERT INTO app_user (tenant_id, id, username, org_unit_id, display_name, password_hash, status, "
                "failed_logins, must_change_password, locale, created_at) "
                "VALUES (%s,%s,%s,%s,%s,NULL,'active',0,false,'zh_CN',now())", (tid, uid, f"bench.{who}", unit, who))
    cur.execute("INSERT INTO role_assignment (tenant_id, id, user_id, role_id, org_unit_id, created_at) "
                "VALUES (%s,%s,%s,%s,%s,now())", (tid, next(ids), uid, role_id, unit))
    cur.execute("INSERT INTO access_token (tenant_id, id, user_id, name, token_hash, scope, created_at) "
                "VALUES (%s,%s,%s,'bench',%s,'',now())", (tid, next(ids), uid, orgtree.sha256(officer_token(seed, tid, who))))
    return uid


def generate(seed: int, n_cases: int) -> dict:
    import psycopg
    t0 = time.perf_counter()
    meta = petition.generate(seed, n_cases, int(n_cases * 0.6))
    tid = meta["tenant_id"]
    with psycopg.connect(pg_dsn()) as conn:
        cur = conn.cursor()
        cur.execute("INSERT INTO tenant_plugin (tenant_id, id, plugin, enabled, settings, updated_at) "
                    "VALUES (%s, nextval('pingan_id_seq'), 'joint', true, %s, now())",
                    (tid, json.dumps({"mechanisms": MECHANISMS}, ensure_ascii=False)))
        root = cur.execute("SELECT id FROM org_unit WHERE tenant_id = %s AND parent_id IS NULL", (tid,)).fetchone()[0]
        town, town_cases = cur.execute(
            "SELECT t.id, count(c.id) FROM org_unit t JOIN org_unit u ON u.tenant_id = t.tenant_id "
            "AND u.path LIKE t.path || '%%' JOIN case_record c ON c.tenant_id = u.tenant_id AND c.org_unit_id = u.id "
            "WHERE t.tenant_id = %s AND t.parent_id = %s GROUP BY t.id ORDER BY 2 DESC LIMIT 1", (tid, root)).fetchone()
        _reader(cur, seed, tid, root, "joint_county", ["core.case.read", "joint.read"])
        _reader(cur, seed, tid, town, "joint_town", ["core.case.read", "joint.read"])
        conn.commit()
    out = {"seed": seed, "tenant_id": tid, "cases": n_cases, "township_id": town, "township_cases": town_cases,
           "seconds": round(time.perf_counter() - t0), "at": now_utc()}
    META.write_text(json.dumps(out, indent=1), encoding="utf-8")
    return out


def run(n: int, warmup: int) -> Path:
    meta = json.loads(META.read_text(encoding="utf-8"))
    tid, seed = meta["tenant_id"], meta["seed"]
    os.environ["PINGAN_DATA_KEYS"], os.environ["PINGAN_INDEX_KEY"] = petition.keys(seed)
    org = json.loads(orgtree.META.read_text(encoding="utf-8"))
    host = next(t["slug"] for t in org["per_tenant"] if t["tenant_id"] == tid) + ".localhost"
    app = orgtree.make_app(Path(tempfile.mkdtemp(prefix="pingan-bench-joint-")))
    from core.app import pingan
    state = pingan(app)
    cap = orgtree.Capture(state.db.engine)
    rep = orgtree.Replayer()
    rep.conn.prepare_threshold = None        # as the app (core/db.py)
    rep.conn.execute("SET jit = off")        # as the app
    rep.conn.commit()
    load = os.getloadavg()
    readers = {"county officer": Client(app, host, officer_token(seed, tid, "joint_county")),
               "township officer": Client(app, host, officer_token(seed, tid, "joint_town"))}
    series = [("the petitions' mechanism", "/api/joint/mechanisms/petitions"),
              ("a mechanism with no case", "/api/joint/mechanisms/empty"),
              ("every mechanism with its figures", "/api/joint/mechanisms")]
    rows = []
    for who, client in readers.items():
        for what, url in series:
            body = json.loads(client.get(url))
            events = cap.record(lambda: client.get(url))
            api_ns, sql_ns = [], []
            for _ in range(warmup):
                client.get(url)
                rep.replay(events)
            for i in range(n):   # alternating, so drift hits both alike
                pair = ((lambda: client.get(url), api_ns), (lambda: rep.replay(events), sql_ns))
                for fn, out in (pair if i % 2 == 0 else pair[::-1]):
                    t0 = time.perf_counter_ns()
                    fn()
                    out.append(time.perf_counter_ns() - t0)
            api, sql = summarize(api_ns), summarize(sql_ns)
            figures = body["figures"] if isinstance(body, dict) else body[0]["figures"]
            shown = len(body["cases"]) if isinstance(body, dict) else len(body)
            stmts = sum(1 for e in events if e[0] == "exec")
            rows.append((who, what, api, sql, stmts, figures, shown))
            print(f"  {who}: {what}: p95 {api.p95_us / 1000:.1f} ms (SQL {sql.p95_us / 1000:.1f} ms)", flush=True)
    lines = [f"# Joint mechanisms: a mechanism's page over {meta['cases']:,} cases (issue 19)", "",
             f"Run {now_utc()} with `bench/joint.py run --n {n} --warmup {warmup}` on {machine()}. "
             f"Load average at the start: {', '.join(f'{x:.2f}' for x in load)}.", "",
             f"Data: `generate` ({meta['seconds']} s) — bench/petition.py's province and {meta['cases']:,} petitions "
             f"in the largest county (10,000 units); the township officer's township holds "
             f"{meta['township_cases']:,} of them. The app logs in as `pingan_app` (row-level security on); the SQL "
             "is every round trip of the request replayed alone with psycopg as the same role.", "",
             "| reader | request | n | API p50 | API p95 | API p99 | SQL p50 | SQL p95 | API/SQL (p50) | statements | figures | cases shown |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for who, what, api, sql, stmts, figures, shown in rows:
        lines.append(f"| {who} | {what} | {api.n} | {api.median_us / 1000:.1f} ms | {api.p95_us / 1000:.1f} ms | "
                     f"{api.p99_us / 1000:.1f} ms | {sql.median_us / 1000:.1f} ms | {sql.p95_us / 1000:.1f} ms | "
                     f"{api.median_us / sql.median_us:.1f} | {stmts} | "
                     f"{', '.join(f'{k} {v:,}' for k, v in figures.items())} | {shown} |")
    lines.append("")
    old = RESULTS / "joint.md"
    if old.exists() and "<!-- reading" in old.read_text(encoding="utf-8"):
        text = old.read_text(encoding="utf-8")
        lines.append(text[text.index("<!-- reading"):])
    return write_result("joint", "\n".join(lines) + "\n")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("generate")
    g.add_argument("--seed", type=int, default=20260105)
    g.add_argument("--cases", type=int, default=1_000_000)
    r = sub.add_parser("run")
    r.add_argument("--n", type=int, default=200)
    r.add_argument("--warmup", type=int, default=20)
    a = p.parse_args()
    os.chdir(_common.ROOT)
    if a.cmd == "generate":
        print(generate(a.seed, a.cases))
    else:
        print(run(a.n, a.warmup))


if __name__ == "__main__":
    main()
