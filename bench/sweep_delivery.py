"""Issue 24, item 7: how long the sweep's reminders of a big backlog take to be delivered by real
``pingan worker`` processes on PostgreSQL + Redis — before (one outbox job, one forked work
horse per reminder) and after (one job per chunk of ``core.cases.sweep.DELIVERY_BATCH``).

    .venv/bin/python bench/sweep_delivery.py [--reminders 14000] [--workers 1,2] [--budget 240]
        [--trees after=/work/main,before=/tmp/before]

For each source tree (``before`` is ``git archive`` of the commit before the change, unpacked;
run with this checkout's virtualenv, the tree first on ``sys.path``):

1. a seed database ``pingan_bench_sweep_seed`` on 127.0.0.1:5432 (dropped and rebuilt):
   ``pingan demo --no-serve --cases 100`` of that tree (migrations, the demo county, its
   modules on, a year of activity through the real services), then the open cases with a
   running limit of their own (no task) cloned in SQL — every column copied, new ids from
   ``pingan_id_seq``, numbers suffixed — until ``--reminders`` limits are running and past due;
2. per worker count: ``pingan_bench_sweep`` made afresh from the seed (``CREATE DATABASE …
   TEMPLATE``), Redis db 7 flushed, the scheduler's sweep slots of the next half hour claimed
   (so no worker's tick starts a pass of its own), N ``pingan worker`` started and left to go
   idle; then **t0**: the sweep job of the county is queued (as the scheduler queues it);
   polled every 0.25 s: when the pass's reminders are committed (the sweep's transaction), and
   when none is pending any more (every reminder delivered: its event and to-dos written);
   at most ``--budget`` seconds (then the rate so far is reported); then SIGTERM to each
   worker and the seconds until it exited;
3. (after tree) the per-job cost a chunk amortises: 300 empty jobs through rq's forking
   ``Worker`` and through ``SimpleWorker``, in a process with the app loaded.

Writes ``results/sweep_delivery.md`` (and ``results/sweep_delivery.json``) with the load
average at the start and end of each run: the machine is shared, so compare before and after
of the same run, not with other days. Refuses any database but its own two.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PG = "postgres@127.0.0.1:5432"
SEED_DB, RUN_DB = "pingan_bench_sweep_seed", "pingan_bench_sweep"
REDIS_URL = "redis://127.0.0.1:6379/7"
PYTHON = str(ROOT / ".venv" / "bin" / "python")


def _admin() -> psycopg.Connection:
    return psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres", autocommit=True)


def _db(name: str) -> psycopg.Connection:
    assert name in (SEED_DB, RUN_DB)
    return psycopg.connect(f"host=127.0.0.1 port=5432 user=postgres dbname={name}", autocommit=True)


def _recreate(name: str, template: str | None = None) -> None:
    assert name in (SEED_DB, RUN_DB) and template in (None, SEED_DB)
    with _admin() as c:
        c.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        c.execute(f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if template else ""))


def _env(tree: Path, db: str, instance: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PINGAN_")}
    env.update({"PINGAN_ENV": "test", "PINGAN_DATABASE_URL": f"postgresql+psycopg://{PG}/{db}",
                "PINGAN_REDIS_URL": REDIS_URL, "PINGAN_INSTANCE_DIR": str(instance),
                "PINGAN_LOG_LEVEL": "WARNING", "PYTHONPATH": str(tree), "PYTHONUNBUFFERED": "1"})
    return env


def seed(tree: Path, reminders: int, instance: Path) -> dict:
    """The seed database of ``tree``: the demo county and ``reminders`` past-due running limits."""
    _recreate(SEED_DB)
    started = time.monotonic()
    out = subprocess.run([PYTHON, "-m", "core.cli", "demo", "--no-serve", "--cases", "100"], cwd=tree,
                         env=_env(tree, SEED_DB, instance), capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"pingan demo failed in {tree}:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    with _db(SEED_DB) as c:
        tid = c.execute("SELECT id FROM tenant WHERE slug = 'demo'").fetchone()[0]
        # the demo's own jobs never ran (no worker): done, so no pass sends them out again meanwhile
        c.execute("UPDATE outbox SET state = 'done' WHERE state = 'pending'")
        # the demo's own running limits become past due too: the pass reminds of every one
        c.execute("UPDATE case_deadline SET due_at = now() - interval '1 day', reminded = 0 WHERE state = 'running'")
        tpl = c.execute("""SELECT d.id, d.case_id FROM case_deadline d JOIN case_record r
                           ON r.tenant_id = d.tenant_id AND r.id = d.case_id
                           WHERE d.state = 'running' AND d.task_id IS NULL AND r.closed_at IS NULL
                           ORDER BY d.id""").fetchall()
        if not tpl:
            raise SystemExit("the demo left no open case with a running limit of its own to clone")
        running = c.execute("SELECT count(*) FROM case_deadline WHERE state = 'running'").fetchone()[0]
        clones = max(0, reminders - running)
        cols = {t: [r[0] for r in c.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = %s "
            "ORDER BY ordinal_position", (t,))] for t in ("case_record", "case_deadline")}
        c.execute("CREATE TEMP TABLE tpl (n int, deadline_id bigint, case_id bigint)")
        with c.cursor().copy("COPY tpl FROM STDIN") as cp:
            for n, (did, cid) in enumerate(tpl):
                cp.write_row((n, did, cid))
        c.execute("""CREATE TEMP TABLE m AS
                     SELECT g, t.deadline_id, t.case_id, nextval('pingan_id_seq') AS new_case,
                            nextval('pingan_id_seq') AS new_deadline
                     FROM generate_series(0, %s - 1) g JOIN tpl t ON t.n = g %% %s""", (clones, len(tpl)))
        rc = [x for x in cols["case_record"] if x not in ("id", "number")]
        c.execute(f"""INSERT INTO case_record (id, number, {', '.join(rc)})
                      SELECT m.new_case, left(r.number, 30) || '-' || m.g, {', '.join('r.' + x for x in rc)}
                      FROM m JOIN case_record r ON r.id = m.case_id""")
        dc = [x for x in cols["case_deadline"] if x not in ("id", "case_id")]
        c.execute(f"""INSERT INTO case_deadline (id, case_id, {', '.join(dc)})
                      SELECT m.new_deadline, m.new_case, {', '.join('d.' + x for x in dc)}
                      FROM m JOIN case_deadline d ON d.id = m.deadline_id""")
        c.execute("VACUUM ANALYZE case_record")
        c.execute("VACUUM ANALYZE case_deadline")
        total = c.execute("SELECT count(*) FROM case_deadline WHERE state = 'running'").fetchone()[0]
    return {"tenant_id": tid, "templates": len(tpl), "running_limits": total, "seed_seconds": round(time.monotonic() - started, 1)}


def _claim_sweep_slots(r, tenant_id: int) -> None:
    """What ``core.jobs.tick`` claims before queueing a pass: taken now, no worker starts one."""
    slot = int(time.time() // 300)
    for k in range(slot - 1, slot + 7):
        r.set(f"pingan:claim:sched:core:sweep:{tenant_id}:{k}", "1", ex=3600)


def run(tree: Path, workers: int, tenant_id: int, budget: float, instance: Path) -> dict:
    from redis import Redis
    from rq import Queue, Worker
    _recreate(RUN_DB, SEED_DB)
    r = Redis.from_url(REDIS_URL)
    r.flushdb()
    _claim_sweep_slots(r, tenant_id)
    logs = [open(instance / f"worker-{tree.name}-{workers}-{i}.log", "wb") for i in range(workers)]
    procs = [subprocess.Popen([PYTHON, "-m", "core.cli", "worker"], cwd=tree, env=_env(tree, RUN_DB, instance),
                              stdout=f, stderr=f, start_new_session=True) for f in logs]
    q = Queue("pingan", connection=r)
    out: dict = {"tree": tree.name, "workers": workers}
    try:
        deadline = time.monotonic() + 60
        while True:  # up, registered, and idle (the ticks' own jobs at start-up done)
            ws = Worker.all(connection=r)
            if len(ws) == workers and all(w.get_state() == "idle" for w in ws) and not q.count:
                break
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                raise SystemExit(f"workers of {tree} did not come up (see {instance})")
            time.sleep(0.5)
        time.sleep(2)
        out["load_start"] = os.getloadavg()
        with _db(RUN_DB) as c:
            t0 = time.monotonic()
            q.enqueue("core.jobs.run_scheduled", kwargs={"plugin": "core", "job": "sweep", "tenant_id": tenant_id},
                      job_timeout=3600)
            committed = None
            while True:
                time.sleep(0.25)
                total, done = c.execute("SELECT count(*), count(*) FILTER (WHERE state = 'done') FROM case_reminder"
                                        ).fetchone()
                now = time.monotonic() - t0
                if total and committed is None:
                    committed = now
                if total and done == total:
                    out["delivered_seconds"] = round(now, 2)
                    break
                if now > budget:
                    out["stopped_at_budget"] = round(now, 2)
                    break
            out["sweep_committed_seconds"] = round(committed, 2) if committed is not None else None
            out["reminders"], out["delivered"] = total, done
            since = out.get("delivered_seconds") or out["stopped_at_budget"]
            after_commit = since - (committed or 0)
            out["per_second"] = round(done / after_commit, 1) if after_commit > 0 else None
            out["notifications"] = c.execute("SELECT count(*) FROM notification WHERE key LIKE 'reminder:%'").fetchone()[0]
            out["events"] = c.execute("SELECT count(*) FROM case_event WHERE kind IN ('overdue', 'reminded', "
                                      "'task_ack_overdue', 'escalated')").fetchone()[0]
            out["outbox_jobs"] = c.execute("SELECT count(*) FROM outbox WHERE key LIKE 'remind%'").fetchone()[0]
        out["load_end"] = os.getloadavg()
    finally:
        stops = []
        for p in procs:
            if p.poll() is None:
                t = time.monotonic()
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=120)
                    stops.append(round(time.monotonic() - t, 1))
                except subprocess.TimeoutExpired:
                    stops.append(None)
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait()
        out["stop_seconds"] = stops
        for f in logs:
            f.close()
        r.flushdb()
    return out


FORK_PROBE = """
import json, sys, time
from redis import Redis
from rq import Queue, SimpleWorker, Worker
from core.cli import _config, _state
from core import jobs
state = _state(_config())
jobs.bind_state(state)
from sqlalchemy.orm import configure_mappers
configure_mappers()
r = Redis.from_url(state.config.redis_url)
q = Queue("pingan", connection=r)
out = {}
for name, base in (("fork", Worker), ("simple", SimpleWorker)):
    r.flushdb()
    for _ in range(int(sys.argv[1])):
        q.enqueue("time.sleep", args=(0,))
    w = jobs.worker_class(base)([q], connection=r)
    t = time.perf_counter()
    w.work(burst=True, logging_level="WARNING")
    out[name] = round(int(sys.argv[1]) / (time.perf_counter() - t), 1)
r.flushdb()
print(json.dumps(out))
"""


def fork_probe(tree: Path, instance: Path, n: int = 300) -> dict:
    """Empty jobs a second through rq's forking ``Worker`` and its in-process ``SimpleWorker``, in a
    process with the app loaded as in ``pingan worker`` (the per-job cost a chunk amortises)."""
    _recreate(RUN_DB, SEED_DB)
    out = subprocess.run([PYTHON, "-c", FORK_PROBE, str(n)], cwd=tree, env=_env(tree, RUN_DB, instance),
                         capture_output=True, text=True)
    if out.returncode:
        return {"error": out.stderr[-500:]}
    return {**json.loads(out.stdout.strip().splitlines()[-1]), "load": os.getloadavg()}


def report(results: list[dict], seeds: dict, args, probes: dict | None = None) -> str:
    lines = [f"# Sweep delivery: {args.reminders:,} past-due limits, one pass, real `pingan worker`s",
             "", f"Run {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC by `bench/sweep_delivery.py` on "
             f"{os.cpu_count()} cores (shared with other sessions: see the load averages). PostgreSQL on "
             "127.0.0.1:5432 (`pingan_bench_sweep`), Redis db 7, `PINGAN_ENV=test` (the app role, RLS on).",
             "", "t0 = the county's sweep job queued to idle workers. *committed*: the pass's reminders "
             "in the database (the sweep's transaction); *delivered*: none pending any more (each its "
             "timeline event and its to-dos). A run that hit the budget gives the reminders delivered "
             "by then and the rate since the commit.", "",
             "| tree | workers | reminders | committed (s) | delivered (s) | delivered / s | outbox jobs | "
             "to-dos | stop after SIGTERM (s) | load avg start → end |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        delivered = (f"{r['delivered_seconds']}" if "delivered_seconds" in r
                     else f"— ({r['delivered']:,} of {r['reminders']:,} at {r['stopped_at_budget']} s)")
        la = lambda x: "/".join(f"{v:.2f}" for v in x)  # noqa: E731
        lines.append(f"| {r['tree']} | {r['workers']} | {r['reminders']:,} | {r['sweep_committed_seconds']} | "
                     f"{delivered} | {r['per_second']} | {r['outbox_jobs']:,} | {r['notifications']:,} | "
                     f"{', '.join(str(s) for s in r['stop_seconds'])} | {la(r['load_start'])} → {la(r['load_end'])} |")
    for name, p in (probes or {}).items():
        if "error" not in p:
            lines += ["", f"Per-job cost ({name} tree, empty jobs, app loaded as in `pingan worker`): "
                      f"{p['fork']} jobs/s with rq's forking `Worker`, {p['simple']} jobs/s with `SimpleWorker` "
                      f"(load {'/'.join(f'{v:.2f}' for v in p['load'])})."]
    lines += ["", "Seeds: " + "; ".join(f"{k}: {v['running_limits']:,} running limits ({v['templates']} demo "
                                           f"templates cloned), built in {v['seed_seconds']} s" for k, v in seeds.items()),
              ""]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reminders", type=int, default=14000)
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--budget", type=float, default=240.0, help="seconds a run may take before it is cut")
    ap.add_argument("--trees", default=f"after={ROOT},before=/tmp/before")
    ap.add_argument("--out", default="sweep_delivery", help="results/<out>.md and .json")
    args = ap.parse_args()
    trees = [(k, Path(v)) for k, v in (x.split("=", 1) for x in args.trees.split(","))]
    results, seeds, probes = [], {}, {}
    instance = Path(tempfile.mkdtemp(prefix="sweep-bench-"))
    try:
        for name, tree in trees:
            seeds[name] = seed(tree, args.reminders, instance)
            print(name, seeds[name], flush=True)
            if name == "after":
                probes[name] = fork_probe(tree, instance)
                print(probes[name], flush=True)
            for n in (int(x) for x in args.workers.split(",")):
                res = run(tree, n, seeds[name]["tenant_id"], args.budget, instance)
                res["tree"] = name
                print(res, flush=True)
                results.append(res)
    finally:
        for db in (RUN_DB, SEED_DB):
            with _admin() as c:
                c.execute(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
    text = report(results, seeds, args, probes)
    out = RESULTS / f"{args.out}.md"
    old = out.read_text(encoding="utf-8") if out.exists() else ""
    keep = old[old.index("<!-- reading:"):] if "<!-- reading:" in old else ""
    out.write_text(text + ("\n" + keep if keep else ""), encoding="utf-8")
    (RESULTS / f"{args.out}.json").write_text(json.dumps({"seeds": seeds, "runs": results}, indent=1, default=str))
    print(text)
    shutil.rmtree(instance, ignore_errors=True)


if __name__ == "__main__":
    main()
