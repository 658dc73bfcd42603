"""Ledger imports (issue 24, item 6): rows per second and the worker's peak memory.

    .venv/bin/python bench/imports.py run [--rows 10000,100000] [--before-rows 5000] [--before /tmp/before]
    .venv/bin/python bench/imports.py one --tree /work/main --rows 10000     # one measurement, printed as JSON

Each measurement runs in a process of its own, on the code of one tree (this one, "after", or
the tree of the commit before the work, "before": ``git -C /work/main archive d6efa0b``), on a
database of its own rebuilt for it (``pingan_bench_import`` on 127.0.0.1:5432, override with
``PINGAN_BENCH_IMPORT_DB``): ``pingan db upgrade`` (the tree's migrations, RLS, the app role),
``pingan tenant load tenants/demo --demo``, the example module ``visits`` switched on. The
workbook (``visits.visit``: 标题, 发生地 spread over the county's villages, 来源渠道, 内容, 走访方式) is
written beforehand by another process, so its making counts in neither time nor memory.

The import goes through the real path: ``POST /api/ledgers/imports`` as ``county.admin`` with a
personal access token (the Flask test client, in process), the outbox, ``run_job``, the
in-process queue (no Redis: the job runs in this process), ``execute`` — then the job's row is
read back. Figures: wall time from the POST to the job's end, rows/s, and the process's peak
RSS (``VmHWM``) before the POST and after the job (the growth is the import's). The before
tree refuses more than 5,000 rows, so it is measured at ``--before-rows``.
→ ``results/imports.md``

    .venv/bin/python bench/imports.py instructions --trees /tmp/base,/work/main [--rows 1000,6000]

The app's cost of a row in *instructions*, which a shared or throttled machine does not change
(seconds on such a machine varied by 2× from one run to the next): each tree's import run
under ``valgrind --tool=callgrind`` at two sizes, the difference divided by the rows between
them (start-up and the fixed cost of a job cancel out). Only the app's process is counted, not
PostgreSQL's. → ``results/imports_instructions.md``
"""
from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import ROOT, machine, now_utc, write_result  # noqa: E402

PG = os.environ.get("PINGAN_BENCH_PG", "postgres@127.0.0.1:5432")
DB = os.environ.get("PINGAN_BENCH_IMPORT_DB", "pingan_bench_import")
PY = sys.executable
HEADERS = ["标题", "发生地", "来源渠道", "内容", "走访方式"]


def _db_name() -> str:
    if DB == "test" or DB.startswith("test_") or DB in ("postgres", "template0", "template1"):
        raise SystemExit(f"refusing to use database {DB!r}")
    return DB


def _url() -> str:
    return f"postgresql+psycopg://{PG}/{_db_name()}"


def _env(tree: Path, instance: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PINGAN_")}
    env.update(PYTHONPATH=f"{tree}:{tree / 'examples' / 'pingan-visits'}", PINGAN_DATABASE_URL=_url(),
               PINGAN_INSTANCE_DIR=str(instance), PINGAN_DEFAULT_TENANT="demo", PINGAN_LOG_LEVEL="WARNING",
               PINGAN_IMPORT_MAX_ROWS="1000000")
    return env


def _pg(*args: str) -> None:
    user, hostport = PG.split("@")
    host, port = hostport.split(":")
    subprocess.run([args[0], "-h", host, "-p", port, "-U", user, *args[1:]], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def rebuild(tree: Path, instance: Path) -> None:
    """A fresh database with the tree's schema and the demo county."""
    subprocess.run(["dropdb", "-h", PG.split("@")[1].split(":")[0], "-p", PG.split(":")[-1], "-U", PG.split("@")[0],
                    "--if-exists", _db_name()], check=True)
    _pg("createdb", _db_name())
    env = _env(tree, instance)
    cli = [PY, "-c", "from core.cli import main; main()"]
    subprocess.run(cli + ["db", "upgrade"], cwd=tree, env=env, check=True, stdout=subprocess.DEVNULL)
    subprocess.run(cli + ["tenant", "load", "tenants/demo", "--demo"], cwd=tree, env=env, check=True,
                   stdout=subprocess.DEVNULL)


def workbook(path: Path, rows: int, places: list[str]) -> None:
    """The import file (write-only workbook: made in its own process, not measured)."""
    from openpyxl import Workbook
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("台账")
    ws.append(HEADERS)
    channels = ["来访", "来电", "来信", "网上", "热线转办", "网格上报"]
    for i in range(rows):
        ws.append([f"请求上门走访 第{i}号 独居老人", places[i % len(places)], channels[i % len(channels)],
                   f"王大爷独居，请求村里上门看看（台账第 {i} 行）", "上门走访" if i % 3 else "电话回访"])
    wb.save(path)


def _vm(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) // 1024  # MiB
    return -1


def _cpu() -> float:
    """CPU seconds (user + system) of this process: the app's share, whatever else the machine runs."""
    import resource
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def one(tree: Path, rows: int, xlsx: Path) -> dict:
    """The measurement itself, in this process (started by :func:`measure` with the tree's code)."""
    sys.path[:] = [str(tree)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT]  # the tree's core
    from sqlalchemy import select

    from core import jobs
    from core.app import create_app, pingan
    from core.auth import create_access_token
    from core.config import Config
    from core.context import Actor, acting_as
    from core.db import bind_tenant
    from core.models import JobRun, Tenant, User
    app = create_app(Config.from_env())
    state = pingan(app)
    jobs.bind_state(state)
    try:  # as `pingan serve` and `pingan worker` do once started (a tree without it: as it was)
        from core.runtime import settle_heap
        settle_heap()
    except ImportError:
        pass
    with state.db.transaction() as s:
        tenant_id = s.scalar(select(Tenant.id).where(Tenant.slug == "demo"))
    with bind_tenant(tenant_id), acting_as(Actor(None, "bench")), state.db.transaction(tenant_id) as s:
        user = s.scalar(select(User).where(User.username == "county.admin"))
        _, token = create_access_token(s, user, "bench")
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    base = "http://demo.localhost"
    r = client.put("/api/modules/visits", json={"enabled": True}, headers=headers, base_url=base)
    assert r.status_code == 200, r.get_json()
    q = jobs.queue(state.config)
    q.run_pending()  # whatever enabling queued
    data = xlsx.read_bytes()
    hwm_before, rss_before = _vm("VmHWM"), _vm("VmRSS")
    cpu0 = _cpu()
    t0 = time.perf_counter()
    r = client.post("/api/ledgers/imports?case_type=visits.visit", headers=headers, base_url=base,
                    data={"file": (io.BytesIO(data), xlsx.name)}, content_type="multipart/form-data")
    assert r.status_code == 202, r.get_json()
    job_id = r.get_json()["id"]
    q.run_pending()
    elapsed, cpu = time.perf_counter() - t0, _cpu() - cpu0
    with bind_tenant(tenant_id), state.db.transaction(tenant_id) as s:
        job = s.scalar(select(JobRun).where(JobRun.id == job_id))
        out = {"state": job.state, "message": job.message, "errors": (job.errors or [])[:3],
               "started": job.started_at.isoformat() if job.started_at else None,
               "finished": job.finished_at.isoformat() if job.finished_at else None}
    out.update(rows=rows, seconds=round(elapsed, 2), rows_per_s=round(rows / elapsed, 1),
               hwm_before_mib=hwm_before, rss_before_mib=rss_before, hwm_after_mib=_vm("VmHWM"),
               file_mib=round(len(data) / 1024 / 1024, 2), load=os.getloadavg(),
               app_cpu_s=round(cpu, 2), rows_per_app_cpu_s=round(rows / cpu, 1) if cpu else None)
    return out


def measure(tree: Path, rows: int, label: str, callgrind: bool = False) -> dict:
    """Rebuild the database, write the workbook, run :func:`one` in a process on ``tree``'s code
    (``callgrind``: under valgrind, its instruction count in ``instructions``)."""
    with tempfile.TemporaryDirectory(prefix="pingan-bench-import-") as tmp:
        instance = Path(tmp) / "instance"
        instance.mkdir()
        rebuild(tree, instance)
        places = [line.split(",")[0] for line in (tree / "tenants/demo/org_units.csv").read_text().splitlines()[1:]
                  if ",village," in line]
        xlsx = Path(tmp) / f"ledger-{rows}.xlsx"
        subprocess.run([PY, __file__, "workbook", "--rows", str(rows), "--out", str(xlsx),
                        "--places", ",".join(places)], check=True)
        cmd = [PY, __file__, "one", "--tree", str(tree), "--rows", str(rows), "--xlsx", str(xlsx)]
        out = Path(tmp) / "callgrind.out"
        if callgrind:
            cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", "--dump-instr=no"] + cmd
        got = subprocess.run(cmd, cwd=tree, env=_env(tree, instance), capture_output=True, text=True)
        if got.returncode != 0:
            raise SystemExit(f"{label} at {rows} rows failed:\n{got.stderr[-3000:]}")
        result = json.loads(got.stdout.strip().splitlines()[-1])
        if callgrind:
            result["instructions"] = next(int(line.split()[1]) for line in out.read_text().splitlines()
                                          if line.startswith("totals:"))
    result["label"] = label
    print(json.dumps(result, ensure_ascii=False), flush=True)
    return result


def report(results: list[dict]) -> str:
    lines = [f"# Ledger imports (issue 24, item 6) — {now_utc()}", "",
             f"Machine: {machine()}", "",
             "`bench/imports.py run`: each row a fresh database (`pingan db upgrade`, `tenants/demo`, `visits` on), "
             "the import of `visits.visit` rows through `POST /api/ledgers/imports` → outbox → queue → `execute` "
             "in one process (in-process queue), PostgreSQL on 127.0.0.1. Time: POST to the job's end. "
             "Memory: the process's peak RSS (VmHWM) before the POST and after the job.", "",
             "| code | rows | state | seconds | rows/s | app CPU s (rows per app CPU s) | file MiB "
             "| peak RSS before → after (MiB) | growth (MiB) | load (1/5/15 min) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        load = " / ".join(f"{x:.1f}" for x in r["load"])
        cpu = f"{r['app_cpu_s']} ({r['rows_per_app_cpu_s']:,})" if r.get("app_cpu_s") else "—"
        lines.append(f"| {r['label']} | {r['rows']:,} | {r['state']} | {r['seconds']} | {r['rows_per_s']:,} | {cpu} | "
                     f"{r['file_mib']} | {r['hwm_before_mib']} → {r['hwm_after_mib']} | "
                     f"{r['hwm_after_mib'] - r['hwm_before_mib']} | {load} |")
    lines += ["", "Job messages:", ""]
    lines += [f"- {r['label']}, {r['rows']:,} rows: {r['message']}" for r in results]
    return "\n".join(lines) + "\n"


def instructions_report(results: list[tuple[str, dict, dict]]) -> str:
    lines = [f"# Ledger imports in instructions (issue 24, item 6) — {now_utc()}", "",
             f"Machine: {machine()}", "",
             "`bench/imports.py instructions`: the import of `visits.visit` rows as in `imports.md`, the app's "
             "process under `valgrind --tool=callgrind` (PostgreSQL not counted), at two sizes; per row = the "
             "difference of the totals ÷ the difference of the rows.", "",
             "| tree | rows | instructions | rows | instructions | per row | relative |", "|---|---|---|---|---|---|---|"]
    first = None
    for tree, a, b in results:
        per_row = (b["instructions"] - a["instructions"]) / (b["rows"] - a["rows"])
        first = first or per_row
        lines.append(f"| `{tree}` | {a['rows']:,} | {a['instructions']:,} | {b['rows']:,} | {b['instructions']:,} "
                     f"| {per_row:,.0f} | {per_row / first:.2f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run")
    run.add_argument("--rows", default="10000,100000")
    run.add_argument("--before", default="/tmp/before")
    run.add_argument("--before-rows", default="5000", help="comma-separated; empty: skip the before tree")
    run.add_argument("--name", default="imports")
    o = sub.add_parser("one")
    o.add_argument("--tree", required=True)
    o.add_argument("--rows", type=int, required=True)
    o.add_argument("--xlsx", required=True)
    ins = sub.add_parser("instructions")
    ins.add_argument("--trees", required=True, help="comma-separated trees, e.g. /tmp/base,/work/main")
    ins.add_argument("--rows", default="1000,6000", help="the two sizes")
    wbp = sub.add_parser("workbook")
    wbp.add_argument("--rows", type=int, required=True)
    wbp.add_argument("--out", required=True)
    wbp.add_argument("--places", required=True)
    args = ap.parse_args()
    if args.cmd == "workbook":
        workbook(Path(args.out), args.rows, args.places.split(","))
    elif args.cmd == "instructions":
        small, large = (int(x) for x in args.rows.split(","))
        results = [(tree, measure(Path(tree), small, tree, True), measure(Path(tree), large, tree, True))
                   for tree in args.trees.split(",")]
        path = write_result("imports_instructions", instructions_report(results))
        print(f"→ {path}")
    elif args.cmd == "one":
        print(json.dumps(one(Path(args.tree), args.rows, Path(args.xlsx)), ensure_ascii=False))
    else:
        results = []
        for rows in [int(x) for x in args.before_rows.split(",") if x]:
            results.append(measure(Path(args.before), rows, "before"))
        for rows in [int(x) for x in args.rows.split(",") if x]:
            results.append(measure(ROOT, rows, "after"))
        path = write_result(args.name, report(results))
        print(f"→ {path}")


if __name__ == "__main__":
    main()
