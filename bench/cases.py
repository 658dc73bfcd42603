"""Issue 3 figures: the case engine at province scale on PostgreSQL.

    .venv/bin/python bench/cases.py generate [--cases 10000000]   # (re)build pingan_bench_cases
    .venv/bin/python bench/cases.py run [--n 300] [--only list,stats,sweep,create]
    .venv/bin/python bench/cases.py profile [--calls 300]          # pyinstrument of the list call

``generate`` drops and rebuilds the public schema of the database ``pingan_bench_cases``
(override with PINGAN_BENCH_CASES_DB; ``test``, ``test_*``, ``postgres`` and the templates are
refused) with ``pingan db upgrade``: the province of ``bench/orgtree.py`` (100 tenants, 250,000
org units, its own generator functions), the plugin ``visits`` enabled in every county, and then
``--cases`` cases of type ``visits.visit`` bulk-loaded with COPY as the schema owner:

- cases per county Zipf-like (``n_k ∝ k**-0.8``: the largest county holds ~12 %), per unit
  skewed (a log-normal weight per village, shared by its groups and grids, times a
  log-normal weight per unit), created uniformly over the three years before ``REF``,
  interleaved across counties in time order like a live system (ids from ``pingan_id_seq``
  in time order, numbers ``访〔year〕seq`` per county and year);
- ~10 % open (the younger a case, the likelier open); each open case has one running
  ``case_deadline`` (5 working days to accept, then 15 days to handle); 1 % of the open cases
  are due in the sweep window (overdue by up to 12 h or due within 24 h of ``REF``) and not yet
  reminded; open cases overdue before that were reminded already (``reminded = 2``); closed
  cases carry their stopped limits;
- a ``registered`` event on every case, ``accept`` / ``close`` / ``reject`` events as the
  state implies, the plugin's ``visits_visit`` row, ``case_tally`` and ``case_counter`` rows
  consistent with the cases.

The load runs in one transaction after ``TRUNCATE`` (``COPY … FREEZE``: no VACUUM needed),
with the secondary indexes and the foreign keys of the four big tables dropped first and
re-created (foreign keys validated) after, then ANALYZE. Everything derives from ``--seed``.

``run`` measures the figures of issue 3 and writes ``bench/results/cases.md``; the sweep
figures of each size are also kept in ``results/cases_sweep_<cases>.json`` so that a run on
10M can show the figures of an earlier run on 1M.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

_common.BENCH_DB = os.environ.get("PINGAN_BENCH_CASES_DB", "pingan_bench_cases")
from _common import (RESULTS, STATS_HEADER, Stats, bench_db_name, fmt, machine, measure, now_utc,  # noqa: E402
                     pg_dsn, summarize, write_result)
import orgtree  # noqa: E402  (its generator, app factory, SQL capture and replay)

orgtree.META = RESULTS / "cases_orgtree_data.json"  # never overwrite orgtree's own metadata
META = RESULTS / "cases_data.json"
APP_ROLE = orgtree.APP_ROLE
CASE_TYPE = "visits.visit"
ZIPF_CASES = 0.8
YEARS = 3
CHUNKS = 36                      # generation in month-sized slices of time, all counties interleaved
REF = datetime(2026, 11, 20, 0, 0, tzinfo=timezone.utc)   # "now" of the generated data (and of the sweep)
REF_T = int(REF.timestamp())
START_T = REF_T - YEARS * 365 * 86400
DAY = 86400
SH = 8 * 3600                    # Asia/Shanghai offset (no DST)
BIG_TABLES = ("case_record", "case_event", "case_deadline", "visits_visit")
OFFICER_PERMS = ("core.case.read", "core.case.register", "core.case.handle", "core.org_unit.read",
                 "core.person.read")
LEVEL_WEIGHT = {"county": 0.3, "township": 0.6, "district": 0.3, "village": 1.0, "group": 0.8, "grid": 0.8}
CHANNELS = ("visit", "call", "online", "hotline", "grid", "letter", "higher", "other")
CHANNEL_W = (30, 20, 15, 15, 12, 4, 2, 2)
TITLES = ("邻里纠纷上门调解", "独居老人上门走访", "低保户生活情况回访", "土地承包纠纷走访", "宅基地界址争议走访",
          "拖欠农民工工资反映", "物业服务纠纷调处", "家庭矛盾上门劝解", "环境卫生问题回访", "道路破损问题核实",
          "噪声扰民问题走访", "留守儿童家庭走访", "残疾人帮扶需求核实", "信访事项办理回访", "安全隐患排查回访",
          "困难群众救助需求走访")
CONTENTS = ("群众来电反映情况，请网格员上门了解核实并做好记录。", "村委会转来诉求，需上门走访了解具体困难。",
            "来访群众要求工作人员上门查看现场情况。", "网格巡查发现问题，需入户走访掌握情况。",
            "上级交办事项，请属地安排人员走访并反馈。", "")
ACCEPT_BASIS = "5 个工作日：自登记次日起算（示例规则）"
HANDLE_BASIS = "15 日：自受理次日起算，期满日为休息日的顺延至下一个工作日（民法典第二百零一条、第二百零三条）"
SOURCE = "示例规则（演示用，非真实法规）"
CHANNEL_POOL = [c for c, w in zip(CHANNELS, CHANNEL_W) for _ in range(w)]


def officer_token(seed: int, tenant_id: int, who: str) -> str:
    return f"pat_{tenant_id}_bench{hashlib.sha256(f'{seed}:{tenant_id}:{who}'.encode()).hexdigest()[:40]}"


def case_sizes(n_tenants: int, total: int) -> list[int]:
    w = [k ** -ZIPF_CASES for k in range(1, n_tenants + 1)]
    s = sum(w)
    out, acc, prev = [], 0.0, 0
    for x in w:
        acc += total * x / s
        out.append(round(acc) - prev)
        prev = round(acc)
    return out


def p_open(age_days: float) -> float:
    """The younger a case, the likelier it is still open; ~10 % over three years."""
    if age_days < 60:
        return 0.9
    if age_days < 240:
        return 0.15
    return 0.035


# --- text encoding for COPY --------------------------------------------------------------------

_days: dict[int, str] = {}


def ts(t: float) -> str:
    s = int(t)
    d, r = divmod(s, DAY)
    ds = _days.get(d)
    if ds is None:
        ds = _days[d] = (datetime(1970, 1, 1) + timedelta(days=d)).strftime("%Y-%m-%d")
    return f"{ds} {r // 3600:02d}:{r % 3600 // 60:02d}:{r % 60:02d}+00"


_years: dict[int, int] = {}


def _year(t: float) -> int:
    """The calendar year in Asia/Shanghai (case numbers restart every local year)."""
    d = (int(t) + SH) // DAY
    y = _years.get(d)
    if y is None:
        y = _years[d] = (datetime(1970, 1, 1) + timedelta(days=d)).year
    return y


def end_of_local_day(t: float, plus_days: int) -> int:
    """24:00 Asia/Shanghai of the local day ``plus_days`` after that of ``t`` (a day limit's end)."""
    local_day = (int(t) + SH) // DAY
    return (local_day + plus_days + 1) * DAY - SH


GRAMS_PAD = ""


def _template_tokens() -> list[list[str]]:
    """Per (title, content) template: the sorted CJK tokens of ``search.grams`` plus 访.

    A case's grams are then the sorted digit tokens of its number (year, sequence) followed by
    these (digits sort before CJK); checked against ``core.cases.search.grams`` itself.
    """
    global GRAMS_PAD
    from core.cases.search import grams
    GRAMS_PAD = " " if grams("访").startswith(" ") else ""
    out = []
    for title in TITLES:
        for content in CONTENTS:
            toks = set(grams(title, content).split()) | {"访"}
            assert all(not t[0].isascii() for t in toks)
            out.append(sorted(toks))
    for ti, ci, year, seq in ((0, 0, "2024", "00001"), (3, 5, "2025", "12345"), (15, 2, "2026", "23456")):
        number = f"访〔{year}〕{seq}"
        mine = GRAMS_PAD + " ".join(sorted((year, seq)) + out[ti * len(CONTENTS) + ci]) + GRAMS_PAD
        assert mine == grams(number, TITLES[ti], CONTENTS[ci]), (mine, grams(number, TITLES[ti], CONTENTS[ci]))
    return out


# --- generation ---------------------------------------------------------------------------

def _units(cur, tid: int, rng: random.Random) -> tuple[list[int], list[float], dict]:
    rows = cur.execute("SELECT id, path, level, status FROM org_unit WHERE tenant_id = %s ORDER BY id", (tid,)).fetchall()
    level = {r[0]: r[2] for r in rows}
    village_w: dict[int, float] = {}
    ids, weights = [], []
    for uid, path, lvl, status in rows:
        chain = [int(p) for p in path.strip("/").split("/")]
        village = next((u for u in chain if level[u] == "village"), None)
        w = LEVEL_WEIGHT[lvl] * rng.lognormvariate(0, 0.5)
        if village is not None:
            if village not in village_w:
                village_w[village] = rng.lognormvariate(0, 1.2)
            w *= village_w[village]
        if status != "active":
            w *= 0.05
        ids.append(uid)
        weights.append(w)
    cum, acc = [], 0.0
    for w in weights:
        acc += w
        cum.append(acc)
    return ids, cum, level


def _drop_secondary(conn) -> list[str]:
    """Drop the plain indexes and the foreign keys of the big tables; return the DDL to restore them."""
    restore = []
    tables = list(BIG_TABLES)
    for table, name, ddl in conn.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE contype = 'f' AND conrelid::regclass::text = ANY(%s) ORDER BY 1, 2", (tables,)).fetchall():
        conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        restore.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {ddl}')
    idx = []
    for name, ddl in conn.execute(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i JOIN pg_class c ON c.relname = i.indexname "
            "JOIN pg_index x ON x.indexrelid = c.oid WHERE i.tablename = ANY(%s) AND NOT x.indisunique "
            "ORDER BY 1", (tables,)).fetchall():
        conn.execute(f'DROP INDEX "{name}"')
        idx.append(ddl)
    return idx + restore  # indexes first: the foreign-key validations then run with statistics-free joins


def generate(seed: int, n_cases: int) -> dict:
    import psycopg
    t_start = time.perf_counter()
    org = orgtree.generate(seed)            # schema (pingan db upgrade) + tenants + org tree + admins + tokens
    t_org = time.perf_counter() - t_start
    tenants = [t["tenant_id"] for t in org["per_tenant"]]
    sizes = case_sizes(len(tenants), n_cases)
    tmpl = _template_tokens()
    created = REF - timedelta(days=YEARS * 365 + 30)
    with psycopg.connect(pg_dsn()) as conn:
        cur = conn.cursor()
        cur.execute("SET synchronous_commit = off")
        admin = dict(cur.execute("SELECT tenant_id, id FROM app_user WHERE username = 'county.admin'").fetchall())
        ids = _reserve(cur, len(tenants))
        with cur.copy("COPY tenant_plugin (tenant_id, id, plugin, enabled, settings, updated_at) FROM STDIN") as cp:
            for tid, i in zip(tenants, ids):
                cp.write_row((tid, i, "visits", True, "{}", created))
        units = {}
        for tid in tenants:
            units[tid] = _units(cur, tid, random.Random(f"{seed}:units:{tid}"))
        conn.commit()
        restore = _drop_secondary(conn)
        conn.commit()
        t_prep = time.perf_counter() - t_start - t_org

        # --- the cases, in 36 slices of time, every county interleaved ---------------------
        cur.execute("TRUNCATE " + ", ".join(BIG_TABLES) + " CASCADE")
        ids = iter(_reserve(cur, 7 * n_cases))  # per case at most 1 record + 3 events + 2 deadlines + 1 visit
        seqs: dict[tuple[int, int], int] = {}
        tally: Counter = Counter()
        counts = Counter()
        span = (REF_T - START_T) / CHUNKS
        writer = _Writer(cur)   # COPY of slice m overlaps the generation of slice m + 1
        try:
            for m in range(CHUNKS):
                rng = random.Random(f"{seed}:cases:{m}")
                lo, hi = START_T + m * span, START_T + (m + 1) * span
                batch = []  # (t, tid, unit)
                for k, tid in enumerate(tenants):
                    n = round(sizes[k] * (m + 1) / CHUNKS) - round(sizes[k] * m / CHUNKS)
                    if not n:
                        continue
                    uids, cum, _ = units[tid]
                    for t, u in zip([rng.uniform(lo, hi) for _ in range(n)], rng.choices(uids, cum_weights=cum, k=n)):
                        batch.append((t, tid, u))
                batch.sort()
                writer.put(_make_chunk(rng, batch, ids, admin, tmpl, seqs, tally, counts))
                print(f"  slice {m + 1}/{CHUNKS}: {len(batch):,} cases ({counts['cases']:,} so far, "
                      f"{time.perf_counter() - t_start:.0f} s; COPY so far "
                      f"{ {k: round(v, 1) for k, v in COPY_SECONDS.items()} })", flush=True)
        finally:
            writer.close()
        ids = iter(_reserve(cur, len(tally)))
        with cur.copy("COPY case_tally (tenant_id, id, org_unit_id, case_type, state, n) FROM STDIN") as cp:
            for (tid, uid, state), n in sorted(tally.items()):
                cp.write_row((tid, next(ids), uid, CASE_TYPE, state, n))
        ids = iter(_reserve(cur, len(seqs)))
        with cur.copy("COPY case_counter (tenant_id, id, case_type, year, value) FROM STDIN") as cp:
            for (tid, year), v in sorted(seqs.items()):
                cp.write_row((tid, next(ids), CASE_TYPE, year, v))
        conn.commit()
        t_copy = time.perf_counter() - t_start - t_org - t_prep
        print(f"COPY done in {t_copy:.0f} s; rebuilding indexes and foreign keys", flush=True)
        t0 = time.perf_counter()
        cur.execute("SET maintenance_work_mem = '1GB'")
        cur.execute("SET max_parallel_maintenance_workers = 1")
        index_times = {}
        for ddl in restore:
            t1 = time.perf_counter()
            cur.execute(ddl)
            conn.commit()
            index_times[ddl.split(" ON ")[0].split()[-1] if "INDEX" in ddl else ddl.split('"')[1]] = round(
                time.perf_counter() - t1, 1)
        t_index = time.perf_counter() - t0
        users = _officers(cur, seed, tenants[0])
        conn.commit()
    t0 = time.perf_counter()
    with psycopg.connect(pg_dsn(), autocommit=True) as conn:
        conn.execute("ANALYZE")
        sizes_db = dict(conn.execute(
            "SELECT relname, pg_total_relation_size(oid) FROM pg_class WHERE relname = ANY(%s)",
            (list(BIG_TABLES) + ["case_tally"],)).fetchall())
        db_size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
    t_analyze = time.perf_counter() - t0
    meta = {"seed": seed, "cases": counts["cases"], "requested": n_cases, "zipf_cases": ZIPF_CASES,
            "ref": REF.isoformat(), "org": {k: org[k] for k in ("tenants", "units", "largest", "smallest")},
            "per_tenant_cases": dict(zip(map(str, tenants), sizes)),
            "counts": dict(counts), "users": users,
            "bytes": {**sizes_db, "database": db_size},
            "copy_seconds": {k: round(v, 1) for k, v in COPY_SECONDS.items()},
            "seconds": {"org_tree (orgtree.generate)": round(t_org, 1), "prepare": round(t_prep, 1),
                        "copy": round(t_copy, 1), "indexes_and_foreign_keys": round(t_index, 1),
                        "analyze": round(t_analyze, 1), "total": round(time.perf_counter() - t_start, 1)},
            "index_seconds": index_times}
    META.write_text(json.dumps(meta, ensure_ascii=False, indent=1, default=int), encoding="utf-8")
    print(json.dumps({k: meta[k] for k in ("cases", "counts", "bytes", "seconds")}, indent=1, default=int))
    return meta


def _reserve(cur, n: int) -> range:
    """``n`` ids from pingan_id_seq in one round trip (nobody else uses the bench database)."""
    end = cur.execute("SELECT setval('pingan_id_seq', nextval('pingan_id_seq') + %s - 1)", (n,)).fetchone()[0]
    return range(end - n + 1, end + 1)


COPY_SECONDS: Counter = Counter()


class _Writer:
    """A thread that runs the COPYs of one slice while the main thread generates the next."""

    def __init__(self, cur) -> None:
        import queue
        import threading
        self.cur = cur
        self.q: queue.Queue = queue.Queue(maxsize=1)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while True:
            item = self.q.get()
            if item is None:
                return
            if self.error is not None:
                continue
            try:
                for table, cols, rows in item:
                    t0 = time.perf_counter()
                    with self.cur.copy(f"COPY {table} ({cols}) FROM STDIN (FREEZE)") as cp:
                        for i in range(0, len(rows), 20000):
                            cp.write("\n".join(rows[i:i + 20000]) + "\n")
                    COPY_SECONDS[table] += time.perf_counter() - t0
            except BaseException as exc:  # noqa: BLE001 — re-raised in the main thread
                self.error = exc

    def put(self, item) -> None:
        if self.error is not None:
            raise self.error
        self.q.put(item)

    def close(self) -> None:
        self.q.put(None)
        self.thread.join()
        if self.error is not None:
            raise self.error


def _make_chunk(rng, batch, ids, admin, tmpl, seqs, tally, counts) -> list:
    cases, events, deadlines, visits = [], [], [], []
    rnd = rng.random
    uniform = rng.uniform
    for t, tid, unit in batch:
        cid = next(ids)
        ly = _year(t)
        seq = seqs.get((tid, ly), 0) + 1
        seqs[(tid, ly)] = seq
        ystr, sstr = str(ly), f"{seq:05d}"
        number = f"访〔{ystr}〕{sstr}"
        ti = int(rnd() * len(TITLES))
        ci = int(rnd() * len(CONTENTS))
        toks = sorted((ystr, sstr)) + tmpl[ti * len(CONTENTS) + ci]
        grams = GRAMS_PAD + " ".join(toks) + GRAMS_PAD
        channel = CHANNEL_POOL[int(rnd() * len(CHANNEL_POOL))]
        age = (REF_T - t) / DAY
        actor = admin[tid]
        label = "user:county.admin"
        ct = ts(t)
        events.append(f"{tid}\t{next(ids)}\t{cid}\tregistered\t{ct}\t{actor}\t{label}\t\\N\tregistered\t{unit}\t\\N\t{{}}")
        due_s = closed_s = "\\N"
        if rnd() < p_open(age):
            counts["open"] += 1
            if age < 2 or (age < 10 and rnd() < 0.3) or rnd() < 0.03:
                state = "registered"
                start, amount, rule, title, basis, unit_s, days = t, 5, "accept", "受理时限", ACCEPT_BASIS, "working_days", 7
            else:
                state = "accepted"
                acc_t = t + uniform(0.05, min(4.0, age * 0.5)) * DAY
                acc_due = end_of_local_day(t, 7)
                deadlines.append(f"{tid}\t{next(ids)}\t{cid}\t\\N\taccept\t受理时限\t5\tworking_days\t{ct}\t{ts(acc_due)}\t"
                                 f"{ACCEPT_BASIS}\t{SOURCE}\tstopped\t\\N\t{ts(acc_t)}\t{'t' if acc_t <= acc_due else 'f'}\t0\t2")
                events.append(f"{tid}\t{next(ids)}\t{cid}\taccept\t{ts(acc_t)}\t{actor}\t{label}\tregistered\taccepted\t"
                              f"\\N\t\\N\t{{}}")
                start, amount, rule, title, basis, unit_s, days = acc_t, 15, "handle", "办理时限", HANDLE_BASIS, "calendar_days", 15
            due = end_of_local_day(start, days)
            ext = 0
            if rnd() < 0.01:                     # the due 1 %: in the sweep window, not yet reminded
                due = REF_T + int(uniform(-12 * 3600, 24 * 3600))
                reminded = 0
                counts["due"] += 1
            elif due <= REF_T - 12 * 3600:       # overdue earlier: the sweep reminded it already
                reminded = 2
            else:                                # due later; keep the window for the chosen 1 %
                if due <= REF_T + 24 * 3600:
                    due += 2 * DAY
                    ext = 1
                reminded = 0
            if reminded == 0:
                counts["running_not_reminded"] += 1
            due_s = ts(due)
            deadlines.append(f"{tid}\t{next(ids)}\t{cid}\t\\N\t{rule}\t{title}\t{amount}\t{unit_s}\t{ts(start)}\t{due_s}\t"
                             f"{basis}\t{SOURCE}\trunning\t\\N\t\\N\t\\N\t{ext}\t{reminded}")
            updated = start
            result = "\\N"
        else:
            left = max(REF_T - 3600 - t, 600)
            if rnd() < 0.15:
                state = "rejected"
                close_t = t + min(uniform(0.1, 5) * DAY, left)
                acc_due = end_of_local_day(t, 7)
                deadlines.append(f"{tid}\t{next(ids)}\t{cid}\t\\N\taccept\t受理时限\t5\tworking_days\t{ct}\t{ts(acc_due)}\t"
                                 f"{ACCEPT_BASIS}\t{SOURCE}\tstopped\t\\N\t{ts(close_t)}\t{'t' if close_t <= acc_due else 'f'}\t0\t0")
                events.append(f"{tid}\t{next(ids)}\t{cid}\treject\t{ts(close_t)}\t{actor}\t{label}\tregistered\trejected\t"
                              f"\\N\t不属于本单位受理范围\t{{}}")
                result = "\\N"
            else:
                state = "done"
                total = min(uniform(1, 25) * DAY, left)
                acc_t = t + total * uniform(0.05, 0.3)
                close_t = t + total
                acc_due = end_of_local_day(t, 7)
                h_due = end_of_local_day(acc_t, 15)
                deadlines.append(f"{tid}\t{next(ids)}\t{cid}\t\\N\taccept\t受理时限\t5\tworking_days\t{ct}\t{ts(acc_due)}\t"
                                 f"{ACCEPT_BASIS}\t{SOURCE}\tstopped\t\\N\t{ts(acc_t)}\t{'t' if acc_t <= acc_due else 'f'}\t0\t0")
                deadlines.append(f"{tid}\t{next(ids)}\t{cid}\t\\N\thandle\t办理时限\t15\tcalendar_days\t{ts(acc_t)}\t{ts(h_due)}\t"
                                 f"{HANDLE_BASIS}\t{SOURCE}\tstopped\t\\N\t{ts(close_t)}\t{'t' if close_t <= h_due else 'f'}\t0\t0")
                events.append(f"{tid}\t{next(ids)}\t{cid}\taccept\t{ts(acc_t)}\t{actor}\t{label}\tregistered\taccepted\t"
                              f"\\N\t\\N\t{{}}")
                events.append(f"{tid}\t{next(ids)}\t{cid}\tclose\t{ts(close_t)}\t{actor}\t{label}\taccepted\tdone\t"
                              f"\\N\t\\N\t{{\"result\": \"已走访\"}}")
                result = "已上门走访，问题已解决" if rnd() < 0.8 else "已电话回访，群众表示满意"
            closed_s = ts(close_t)
            updated = close_t
        tally[(tid, unit, state)] += 1
        counts["cases"] += 1
        counts[state] += 1
        cases.append(f"{tid}\t{cid}\t{CASE_TYPE}\t{number}\t{ly}\t{TITLES[ti]}\t{CONTENTS[ci]}\t{channel}\t{unit}\t{state}\t"
                     f"\\N\t\\N\t\\N\t{due_s}\t{grams}\t{actor}\t{ct}\t{ts(updated)}\t{closed_s}")
        visits.append(f"{tid}\t{next(ids)}\t{cid}\t{'home' if rnd() < 0.7 else 'phone'}\t{result}")
    counts["events"] += len(events)
    counts["deadlines"] += len(deadlines)
    return [
            ("case_record", "tenant_id, id, case_type, number, year, title, content, channel, org_unit_id, state, "
             "handling_unit_id, handler_id, intake_id, due_at, search_grams, created_by, created_at, updated_at, "
             "closed_at", cases),
            ("case_event", "tenant_id, id, case_id, kind, at, actor_id, actor_label, from_state, to_state, "
             "org_unit_id, note, data", events),
            ("case_deadline", "tenant_id, id, case_id, task_id, rule, title, amount, unit, started_at, due_at, basis, "
             "source, state, paused_at, stopped_at, met, extensions, reminded", deadlines),
            ("visits_visit", "tenant_id, id, case_id, visit_kind, result", visits)]


def _officers(cur, seed: int, tid: int) -> dict:
    """Case officers of the biggest county: one on its busiest township, one on that township's
    busiest village, one county-wide; each with a personal access token."""
    root = cur.execute("SELECT id, path FROM org_unit WHERE tenant_id = %s AND parent_id IS NULL", (tid,)).fetchone()
    per_unit = dict(cur.execute("SELECT org_unit_id, sum(n) FROM case_tally WHERE tenant_id = %s GROUP BY 1",
                                (tid,)).fetchall())
    units = cur.execute("SELECT id, path, level FROM org_unit WHERE tenant_id = %s", (tid,)).fetchall()

    def under(path):
        return sum(per_unit.get(u, 0) for u, p, _ in units if p.startswith(path))
    towns = sorted(((under(p), u, p) for u, p, lvl in units if lvl == "township"), reverse=True)
    town = towns[0]
    villages = sorted(((under(p), u, p) for u, p, lvl in units if lvl == "village" and p.startswith(town[2])),
                      reverse=True)
    village = villages[0]
    created = REF - timedelta(days=YEARS * 365 + 30)
    ids = iter(_reserve(cur, 1 + len(OFFICER_PERMS) + 3 * 3))
    role_id = next(ids)
    cur.execute("INSERT INTO role (tenant_id, id, key, name, name_en, created_at) VALUES (%s,%s,%s,%s,%s,%s)",
                (tid, role_id, "case_officer", "事项经办人", "Case officer", created))
    for p in OFFICER_PERMS:
        cur.execute("INSERT INTO role_permission (tenant_id, id, role_id, permission) VALUES (%s,%s,%s,%s)",
                    (tid, next(ids), role_id, p))
    out = {"tenant_id": tid, "county_cases": under(root[1])}
    for who, (n, unit_id, path) in (("village", village), ("township", town), ("county", (under(root[1]), root[0], root[1]))):
        uid = next(ids)
        cur.execute("INSERT INTO app_user (tenant_id, id, username, org_unit_id, display_name, password_hash, status, "
                    "failed_logins, must_change_password, locale, created_at) "
                    "VALUES (%s,%s,%s,%s,%s,NULL,'active',0,false,'zh_CN',%s)",
                    (tid, uid, f"{who}.officer", unit_id, f"{who}经办人", created))
        cur.execute("INSERT INTO role_assignment (tenant_id, id, user_id, role_id, org_unit_id, created_at) "
                    "VALUES (%s,%s,%s,%s,%s,%s)", (tid, next(ids), uid, role_id, unit_id, created))
        cur.execute("INSERT INTO access_token (tenant_id, id, user_id, name, token_hash, scope, created_at) "
                    "VALUES (%s,%s,%s,'bench',%s,'',%s)",
                    (tid, next(ids), uid, orgtree.sha256(officer_token(seed, tid, who)), created))
        out[who] = {"user_id": uid, "unit_id": unit_id, "path": path, "cases_in_subtree": n,
                    "units_in_subtree": sum(1 for _, p, _ in units if p.startswith(path))}
    return out



# --- measuring ------------------------------------------------------------------------------

def load_meta(path: Path | None = None) -> dict:
    path = path or META
    if not path.exists():
        raise SystemExit("no generated data: run `bench/cases.py generate` first")
    return json.loads(path.read_text(encoding="utf-8"))


class Client:
    """Werkzeug test client with a personal access token: the whole Flask request pipeline."""

    def __init__(self, app, host: str, token: str) -> None:
        self.c = app.test_client()
        self.base = f"http://{host}"
        self.headers = {"Authorization": f"Bearer {token}"}

    def get(self, url: str) -> bytes:
        r = self.c.get(url, base_url=self.base, headers=self.headers)
        if r.status_code != 200:
            raise RuntimeError(f"{url}: {r.status_code} {r.get_data(as_text=True)[:300]}")
        return r.get_data()

    def post(self, url: str, body: dict) -> bytes:
        r = self.c.post(url, base_url=self.base, headers=self.headers, json=body)
        if r.status_code not in (200, 201):
            raise RuntimeError(f"{url}: {r.status_code} {r.get_data(as_text=True)[:300]}")
        return r.get_data()


def _q(v: datetime) -> str:
    return v.isoformat().replace("+00:00", "Z")


LIST_FROM = datetime(2024, 1, 1, tzinfo=timezone(timedelta(hours=8)))   # 2024-01-01 00:00 in Shanghai
LIST_TO = datetime(2026, 11, 1, tzinfo=timezone(timedelta(hours=8)))


def list_url(unit_id: int, cursor: str | None = None) -> str:
    from urllib.parse import urlencode
    q = {"org_unit_id": unit_id, "state": "done", "created_from": LIST_FROM.isoformat(),
         "created_to": LIST_TO.isoformat(), "limit": 20}
    if cursor:
        q["cursor"] = cursor
    return "/api/cases?" + urlencode(q)


def case_statements(events: list[tuple], needle: str = "FROM case_record") -> list[tuple[str, dict]]:
    return [(e[1], e[2]) for e in events if e[0] == "exec" and needle in e[1]]


CURSOR_PATCH = ("in this benchmark process only, `core.api.common._decode` is wrapped to turn an ISO datetime string "
                "from the cursor back into a `datetime`: without it, page 2 of `GET /api/cases` (default sort "
                "`-created_at`) answers 500 on PostgreSQL (`operator does not exist: timestamp with time zone < "
                "character varying`) — the cursor stores the datetime with `json.dumps(default=str)` and "
                "`_cursor_type` lets any value through for a TypeDecorator column (`AwareDateTime.python_type` is "
                "`object`)")


def patch_cursor_bug() -> None:
    """Work around the datetime cursor bug (see CURSOR_PATCH) for the measurement of page N."""
    import re
    import core.api.common as common
    if getattr(common._decode, "bench_patched", False) or hasattr(common, "_cursor_value"):
        return  # already patched, or core converts the cursor value itself (fixed in core/api/common.py)
    original = common._decode
    iso = re.compile(r"^\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?[+-]\d\d:\d\d$")

    def _decode(cursor: str):
        value, ident = original(cursor)
        if isinstance(value, str) and iso.match(value):
            value = datetime.fromisoformat(value)
        return value, ident
    _decode.bench_patched = True
    common._decode = _decode


class _AppPlans:
    """Switches the app's connections between its own setting, ``prepare_threshold = None``
    (every execution planned with its values, core/db.py), and psycopg's default, 5 (server-side
    prepared statements from the 5th execution on a connection, so PostgreSQL may pick a generic
    plan): the app before that setting, for comparison."""

    threshold: int | None = None

    def install(self, engine) -> None:
        from sqlalchemy import event

        @event.listens_for(engine, "checkout")
        def _checkout(dbapi_conn, record, proxy):
            dbapi_conn.prepare_threshold = self.threshold


app_plans = _AppPlans()


class Reps:
    """The two replayers: ``d`` = psycopg default (as the app), ``c`` = custom plans only."""

    def __init__(self, d, c) -> None:
        self.d, self.c = d, c

    def tx(self, tid, stmts):
        return self.d.tx(tid, stmts)

    def explain(self, tid, stmt, params):
        return self.c.explain(tid, stmt, params)

    def replay(self, ev):
        return self.d.replay(ev)


BUDGET_S = 40.0  # per series: stop after this many seconds (at least MIN_N samples), so slow plans stay bounded
MIN_N = 15


def measure_capped(fn, n: int, warmup: int, budget_s: float = BUDGET_S) -> Stats:
    """Like _common.measure, but a series stops once it has used ``budget_s`` (n then says how many)."""
    clock = time.perf_counter_ns
    t_end = time.perf_counter() + budget_s
    for i in range(warmup):
        t0 = clock()
        fn()
        if i >= 5 and (clock() - t0) * (warmup - i) > budget_s * 1e9 / 4:
            break  # slow: keep at least the 6 warm-up calls a prepared statement needs
    out = []
    for _ in range(n):
        t0 = clock()
        fn()
        out.append(clock() - t0)
        if len(out) >= min(MIN_N, n) and time.perf_counter() > t_end:
            break
    return summarize(out)


def _series(results: dict, key: str, fn, n: int, warmup: int) -> Stats:
    st = measure_capped(fn, n, warmup)
    results[key] = st
    print(f"  {key:<58} {st.row()}", flush=True)
    return st


def run(n: int, warmup: int, only: set[str], meta_path: Path | None = None, report_path: Path | None = None) -> Path:
    import tempfile
    meta = load_meta(meta_path)
    org = json.loads(orgtree.META.read_text(encoding="utf-8"))
    users = meta["users"]
    tid = users["tenant_id"]
    slug = next(t["slug"] for t in org["per_tenant"] if t["tenant_id"] == tid)
    host = f"{slug}.localhost"
    seed = meta["seed"]
    app = orgtree.make_app(Path(tempfile.mkdtemp(prefix="pingan-bench-cases-")))
    patch_cursor_bug()
    from core.app import pingan
    state = pingan(app)
    cap = orgtree.Capture(state.db.engine)
    app_plans.install(state.db.engine)
    rep = orgtree.Replayer()              # psycopg's default, like the app's driver: prepared from the 5th run on
    rep_c = orgtree.Replayer()
    rep_c.conn.prepare_threshold = None   # never prepared: a custom plan for every execution
    for r in (rep, rep_c):                # like the app's own connections (core.db): JIT off
        r.conn.execute("SET jit = off")
        r.conn.commit()
    rep = Reps(rep, rep_c)
    clients = {who: Client(app, host, officer_token(seed, tid, who)) for who in ("village", "township", "county")}
    out: dict = {"meta": meta, "n": n, "warmup": warmup, "started": now_utc(), "load_before": os.getloadavg()}
    if "list" in only:
        out["list"] = measure_list(clients, users, tid, cap, rep, n, warmup)
    if "stats" in only:
        out["stats"] = measure_stats(clients, users, tid, cap, rep, n, warmup)
    if "sweep" in only:
        out["sweep"] = measure_sweep(state, tid, cap, rep, meta, max(20, n // 5))
    if "create" in only:
        out["create"] = measure_create(clients, users, cap, n, warmup)
    out["load_after"] = os.getloadavg()
    if report_path is not None:
        report_path.write_text(report(out), encoding="utf-8")
        return report_path
    return save(report(out))


# figure 1 -------------------------------------------------------------------------------------

def measure_list(clients, users, tid, cap, rep, n, warmup) -> dict:
    res: dict = {}
    for who in ("village", "township", "county"):
        api, unit = clients[who], users[who]["unit_id"]
        r: dict = {"stats": {}}
        res[who] = r
        first = list_url(unit)
        print(f"[list/{who}] unit {unit}, {users[who]['cases_in_subtree']:,} cases in its subtree", flush=True)
        api.get(first)
        ev = cap.record(lambda: api.get(first))
        page_q = [s for s in case_statements(ev) if "LIMIT" in s[0]][-1]
        r["round_trips"] = len(ev)
        r["events"] = [e[0] if e[0] != "exec" else e[1].split("\n")[0][:100] for e in ev]
        r["sql"], r["params"] = page_q
        # follow next_cursor to page 500 (or the last page)
        t0 = time.perf_counter()
        cursor, page, cursors = None, 1, {}
        body = json.loads(api.get(first))
        while body["next_cursor"] and page < 500:
            cursor = body["next_cursor"]
            page += 1
            body = json.loads(api.get(list_url(unit, cursor)))
        cursors[page] = cursor
        r["walk_seconds"] = round(time.perf_counter() - t0, 1)
        r["deep_page"] = page
        r["deep_rows"] = len(body["items"])
        deep = list_url(unit, cursor) if cursor else first
        ev_deep = cap.record(lambda: api.get(deep))
        deep_q = [s for s in case_statements(ev_deep) if "LIMIT" in s[0]][-1]
        r["deep_sql"], r["deep_params"] = deep_q
        r["rows_first"] = rep.tx(tid, [page_q])
        r["plan_first"] = rep.explain(tid, *page_q)
        r["plan_deep"] = rep.explain(tid, *deep_q)
        st = r["stats"]
        _series(st, "page1.api", lambda: api.get(first), n, warmup)
        _series(st, "page1.sql", lambda: rep.c.tx(tid, [page_q]), n, warmup)
        _series(st, "page1.sql.prepared (psycopg default)", lambda: rep.d.tx(tid, [page_q]), n, warmup)
        _series(st, f"page{page}.api", lambda: api.get(deep), n, warmup)
        _series(st, f"page{page}.sql", lambda: rep.c.tx(tid, [deep_q]), n, warmup)
        _series(st, f"page{page}.sql.prepared (psycopg default)", lambda: rep.d.tx(tid, [deep_q]), n, warmup)
        _series(st, "page1.sql.all_round_trips", lambda: rep.c.replay(ev), n, warmup)
        app_plans.threshold = 5
        try:
            _series(st, "page1.api, app with psycopg's prepared statements (before)", lambda: api.get(first), n, warmup)
            _series(st, f"page{page}.api, app with psycopg's prepared statements (before)", lambda: api.get(deep), n,
                    warmup)
        finally:
            app_plans.threshold = None
    return res


# figure 2 -------------------------------------------------------------------------------------

def measure_stats(clients, users, tid, cap, rep, n, warmup) -> dict:
    res: dict = {"stats": {}, "plans": {}}
    st = res["stats"]
    county = users["county"]
    path = county["path"]
    lo, hi = path, path[:-1] + "0"
    api = clients["county"]
    has_api = (orgtree.ROOT / "core" / "api" / "case_stats.py").exists()
    res["api"] = has_api
    if has_api:
        for label, url in (("summary", "/api/case-stats/summary"),
                           ("summary?org_unit_id=<root>", f"/api/case-stats/summary?org_unit_id={county['unit_id']}"),
                           ("counts?group_by=state", "/api/case-stats/counts?group_by=state"),
                           ("counts?group_by=unit", "/api/case-stats/counts?group_by=unit")):
            body = api.get(url)
            res.setdefault("answers", {})[label] = json.loads(body)
            ev = cap.record(lambda u=url: api.get(u))
            res.setdefault("events", {})[label] = [e[1] for e in ev if e[0] == "exec" and
                                                  ("case_record" in e[1] or "case_tally" in e[1])]
            res.setdefault("captured", {})[label] = [(e[1], e[2]) for e in ev if e[0] == "exec" and
                                                    ("case_record" in e[1] or "case_tally" in e[1])]
            _series(st, f"api {label}", lambda u=url: api.get(u), n, warmup)
            app_plans.threshold = 5
            try:
                _series(st, f"api {label}, app with psycopg's prepared statements (before)", lambda u=url: api.get(u),
                        n, warmup)
            finally:
                app_plans.threshold = None
        for label, stmts in res["captured"].items():
            for i, q in enumerate(stmts):
                res["plans"][f"{label} #{i + 1}"] = (q[0], rep.explain(tid, *q))
    sub = "SELECT id FROM org_unit WHERE path >= %(lo)s AND path < %(hi)s"
    qa = (f"SELECT state, count(*) FROM case_record WHERE org_unit_id IN ({sub}) GROUP BY state", {"lo": lo, "hi": hi})
    qb = (f"SELECT state, sum(n) FROM case_tally WHERE org_unit_id IN ({sub}) GROUP BY state", {"lo": lo, "hi": hi})
    qc = ("SELECT count(*) FILTER (WHERE due_at < %(now)s), count(*) FILTER (WHERE due_at >= %(now)s) "
          "FROM case_record WHERE closed_at IS NULL AND due_at < %(h)s",
          {"now": REF, "h": REF + timedelta(hours=24)})
    res["sql_a"], res["sql_b"], res["sql_c"] = qa, qb, qc
    res["plans"]["(a) COUNT over case_record"] = (qa[0], rep.explain(tid, *qa))
    res["plans"]["(b) SUM over case_tally"] = (qb[0], rep.explain(tid, *qb))
    res["plans"]["(c) due soon / overdue from the open-due index"] = (qc[0], rep.explain(tid, *qc))
    _series(st, "sql (a) COUNT(*) GROUP BY state over case_record, subtree", lambda: rep.c.tx(tid, [qa]),
            max(7, n // 40), 1)
    _series(st, "sql (b) SUM(n) GROUP BY state over case_tally, subtree", lambda: rep.c.tx(tid, [qb]), n, warmup)
    _series(st, "sql (c) overdue / due soon (ix_case_record_open_due)", lambda: rep.c.tx(tid, [qc]), n, warmup)
    return res


# figure 3 -------------------------------------------------------------------------------------

def measure_sweep(state, tid, cap, rep, meta, n) -> dict:
    from core.cases import sweep
    from core.db import bind_tenant
    res: dict = {"stats": {}, "cases": meta["cases"], "tenant_cases": meta["users"]["county_cases"]}
    host = state.plugins

    def one_run():
        with bind_tenant(tid), state.db.Session() as s:
            s.begin()
            try:
                return sweep.run(s, host, REF)
            finally:
                s.rollback()
    res["result"] = one_run()
    ev = cap.record(one_run)
    sel = [q for q in case_statements(ev, "FROM case_deadline") if q[0].lstrip().startswith("SELECT")][0]
    res["sql"], res["params"] = sel
    res["round_trips"] = len(ev)
    res["due_rows"] = rep.c.tx(tid, [sel])
    res["plan"] = rep.explain(tid, *sel)
    res["plan_generic"] = generic_plan(tid, *sel)
    st = res["stats"]
    _series(st, "sweep SELECT (psycopg, as pingan_app)", lambda: rep.c.tx(tid, [sel]), n * 5, 5)
    _series(st, "sweep SELECT, prepared (psycopg default: generic plan from the 6th run)",
            lambda: rep.d.tx(tid, [sel]), 8, 6)
    _series(st, "sweep.run() whole pass, rolled back", one_run, 5, 1)
    app_plans.threshold = 5
    try:
        _series(st, "sweep.run() whole pass, rolled back, psycopg's prepared statements (before)", one_run, 3, 6)
    finally:
        app_plans.threshold = None
    # every county once: what one 5-minute slot of the scheduler reads
    with psycopg_conn() as conn:
        tenants = [r[0] for r in conn.execute("SELECT id FROM tenant ORDER BY id").fetchall()]
    t0 = time.perf_counter_ns()
    rows = sum(rep.c.tx(t, [(sel[0], sel[1])]) for t in tenants)
    res["all_tenants"] = {"tenants": len(tenants), "rows": rows, "ms": (time.perf_counter_ns() - t0) / 1e6}
    sizes = {}
    with psycopg_conn() as conn:
        for name in ("case_deadline", "ix_case_deadline_sweep", "case_record"):
            sizes[name] = conn.execute("SELECT pg_relation_size(%s)", (name,)).fetchone()[0]
        sizes["running_not_reminded"] = conn.execute(
            "SELECT count(*) FROM case_deadline WHERE state = 'running' AND reminded < 2").fetchone()[0]
        sizes["deadline_rows"] = conn.execute("SELECT count(*) FROM case_deadline").fetchone()[0]
    res["sizes"] = sizes
    (RESULTS / f"cases_sweep_{meta['cases']}.json").write_text(json.dumps(
        {"cases": meta["cases"], "tenant_cases": res["tenant_cases"], "due_rows": res["due_rows"],
         "stats": {k: vars(v) for k, v in st.items()}, "all_tenants": res["all_tenants"], "sizes": sizes,
         "plan": res["plan"], "plan_generic": res["plan_generic"], "date": now_utc(), "load": os.getloadavg()}, indent=1, default=str), encoding="utf-8")
    return res


def generic_plan(tid: int, stmt: str, params: dict) -> str:
    """EXPLAIN ANALYZE of the plan PostgreSQL caches for the prepared statement (force_generic_plan)."""
    import re
    import psycopg
    names: list[str] = []

    def sub(m):
        if m.group(1) not in names:
            names.append(m.group(1))
        return f"${names.index(m.group(1)) + 1}"
    body = re.sub(r"%\((\w+)\)s", sub, stmt)
    with psycopg.connect(pg_dsn()) as conn:
        conn.execute(f'SET ROLE "{APP_ROLE}"')
        conn.execute(f"SET LOCAL pingan.tenant_id = '{int(tid)}'")
        conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        conn.execute(f"PREPARE bench_q AS {body}")
        from psycopg import sql
        args = ", ".join(sql.Literal(params[k]).as_string(conn) for k in names)
        plan = conn.execute(f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) EXECUTE bench_q({args})").fetchall()
        conn.rollback()
    return "\n".join(r[0] for r in plan)


def psycopg_conn():
    import psycopg
    return psycopg.connect(pg_dsn(), autocommit=True)


# figure 4 -------------------------------------------------------------------------------------

def measure_create(clients, users, cap, n, warmup) -> dict:
    from sqlalchemy import event
    from sqlalchemy.orm import Session
    import core.audit
    api = clients["village"]
    unit = users["village"]["unit_id"]
    body = {"case_type": CASE_TYPE, "title": "基准测试登记的走访请求", "content": "网格员上门了解情况。",
            "org_unit_id": unit, "channel": "grid", "details": {"visit_kind": "home"}}

    def post():
        api.post("/api/cases", body)

    def audit(on: bool):
        present = event.contains(Session, "after_flush", core.audit._note_flush)
        if on and not present:
            event.listen(Session, "after_flush", core.audit._note_flush)
        elif not on and present:
            event.remove(Session, "after_flush", core.audit._note_flush)
    res: dict = {}
    for _ in range(warmup):
        post()
    ev_on = cap.record(post)
    audit(False)
    try:
        ev_off = cap.record(post)
        for _ in range(warmup // 2):
            post()
    finally:
        audit(True)
    res["round_trips_on"], res["round_trips_off"] = len(ev_on), len(ev_off)
    res["events_on"] = [e[0] if e[0] != "exec" else e[1].split("\n")[0][:100] for e in ev_on]
    on_ns, off_ns = [], []
    clock = time.perf_counter_ns
    for i in range(n):  # interleaved, so drift in the machine's load hits both alike
        for flag in ((True, False) if i % 2 == 0 else (False, True)):
            audit(flag)
            t0 = clock()
            post()
            (on_ns if flag else off_ns).append(clock() - t0)
    audit(True)
    res["with audit"] = summarize(on_ns)
    res["without audit (listener removed)"] = summarize(off_ns)
    for k in ("with audit", "without audit (listener removed)"):
        print(f"  create {k:<50} {res[k].row()}", flush=True)
    res["created"] = 2 * n + warmup + warmup // 2 + 2
    return res



# --- the report --------------------------------------------------------------------------------

def _r(a: Stats, b: Stats) -> str:
    return f"{a.median_us / b.median_us:.1f}×"


def _pp(st: Stats) -> str:
    return f"{fmt(st.median_us)} ({fmt(st.p99_us)})"


def report(out: dict) -> str:
    import subprocess
    meta = out["meta"]
    L: list[str] = []
    a = L.append
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                          cwd=orgtree.ROOT).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "core"], capture_output=True, text=True,
                           cwd=orgtree.ROOT).stdout.count("\n")
    a("# Cases at province scale (issue 3)\n")
    a(f"- date: {now_utc()} (run started {out['started']})")
    a(f"- machine: {machine()}; load average at the start of the run: "
      f"{', '.join(f'{x:.2f}' for x in out['load_before'])}, at the end: "
      f"{', '.join(f'{x:.2f}' for x in out['load_after'])}")
    a(f"- code: HEAD {head} plus {dirty} uncommitted files under core/ (other work in progress on the same tree)")
    a(f"- database `{bench_db_name()}`: {meta['bytes']['database'] / 2**30:.1f} GiB after generation; "
      "PostgreSQL with its default `shared_buffers` = 128 MB (the data lives in the OS page cache)")
    a(f"- samples: n = {out['n']} per series after {out['warmup']} warm-up calls, but a series stops after "
      f"{BUDGET_S:.0f} s once it has {MIN_N} samples (the n column says how many were taken); "
      "time.perf_counter_ns around each call; nearest-rank percentiles")
    a("- API: the real Flask app (`create_app`, PostgreSQL as `pingan_app`, RLS on) through the Werkzeug test client, "
      "a personal access token per user. SQL: the statement the app emitted (captured with "
      "`before_cursor_execute`), replayed with psycopg 3 as `pingan_app` in `BEGIN; SET LOCAL pingan.tenant_id; …; "
      "COMMIT`, all rows fetched; the replaying connections run `SET jit = off` like the app's own (since "
      "2026-11-24; earlier reports replayed with the server's default `jit = on`)")
    import core.api.common as common
    if getattr(common._decode, "bench_patched", False):
        a(f"- **patch**: {CURSOR_PATCH}")
    a("")
    a("## Commands\n")
    a("```sh")
    a(f".venv/bin/python bench/cases.py generate --cases {meta['requested']}   # seed {meta['seed']}")
    a(f".venv/bin/python bench/cases.py run --n {out['n']}")
    a(".venv/bin/python bench/cases.py profile")
    a("```\n")
    a("## Data actually generated\n")
    c = meta["counts"]
    a(f"- {meta['org']['tenants']} tenants, {meta['org']['units']:,} org units (bench/orgtree.py's generator, seed "
      f"{meta['seed']}); `visits` enabled in every county")
    a(f"- **{c['cases']:,} cases** (`visits.visit`), created {YEARS} years up to {meta['ref']} (REF), cases per county "
      f"`∝ k**-{meta['zipf_cases']}`: largest county {max(map(int, meta['per_tenant_cases'].values())):,}, "
      f"smallest {min(map(int, meta['per_tenant_cases'].values())):,}")
    a(f"- states: done {c['done']:,}, rejected {c['rejected']:,}, accepted {c['accepted']:,}, registered "
      f"{c['registered']:,} → open {c['open']:,} ({c['open'] / c['cases']:.1%})")
    a(f"- {c['deadlines']:,} `case_deadline` rows (every open case: one running limit; "
      f"{c['running_not_reminded']:,} running and not yet reminded, of which **{c['due']:,} due in the sweep window** "
      f"= {c['due'] / c['open']:.2%} of open cases), {c['events']:,} `case_event` rows, {c['cases']:,} `visits_visit` rows; "
      "`case_tally` and `case_counter` consistent with the cases")
    a("- bytes (table + indexes): " + ", ".join(f"{k} {v / 2**30:.2f} GiB" for k, v in sorted(meta["bytes"].items())))
    sec = meta["seconds"]
    a(f"- generation: {sec['total'] / 60:.1f} min in all — " + ", ".join(f"{k} {v} s" for k, v in sec.items()
                                                                          if k != "total"))
    a("- index builds and foreign-key validations after the load (s): " +
      ", ".join(f"{k} {v}" for k, v in meta["index_seconds"].items()))
    u = meta["users"]
    a(f"- users (role `case_officer`, tenant {u['tenant_id']} = the largest county, {u['county_cases']:,} cases): " +
      "; ".join(f"{w} officer on unit {u[w]['unit_id']} ({u[w]['units_in_subtree']:,} units, "
                f"{u[w]['cases_in_subtree']:,} cases in its subtree)" for w in ("village", "township", "county")))
    a("")
    if "list" in out:
        _report_list(a, out["list"])
    if "stats" in out:
        _report_stats(a, out["stats"])
    _report_sweep(a, out.get("sweep"))
    if "create" in out:
        _report_create(a, out["create"])
    prof = RESULTS / "cases_profile.txt"
    if prof.exists():
        a("## Profile of the list request (`profile`)\n")
        a("```")
        a("\n".join(prof.read_text(encoding="utf-8").splitlines()[:70]))
        a("```\n")
    return "\n".join(L)


def _report_list(a, res) -> None:
    a("## 1. Scoped case list\n")
    a("`GET /api/cases?org_unit_id=<the user's unit>&state=done&created_from=2024-01-01T00:00+08:00"
      "&created_to=2026-11-01T00:00+08:00&limit=20` (default sort `-created_at`, keyset). Page N = the page reached "
      "by following `next_cursor` (500, or the last page if the subtree has fewer), then called directly with its "
      "cursor. Median (p99). Targets: API/SQL ≤ 3×, page N within 1.2× of page 1.\n")
    a("user | page 1 API | page 1 SQL | API/SQL | page N | page N API | page N SQL | API/SQL | page N / page 1 (API) | (SQL)")
    a("---|---|---|---|---|---|---|---|---|---")
    for who, r in res.items():
        st = r["stats"]
        p1a, p1s = st["page1.api"], st["page1.sql"]
        N = r["deep_page"]
        pna, pns = st[f"page{N}.api"], st[f"page{N}.sql"]
        a(f"{who} | {_pp(p1a)} | {_pp(p1s)} | **{_r(p1a, p1s)}** | {N} | {_pp(pna)} | {_pp(pns)} | "
          f"**{_r(pna, pns)}** | **{_r(pna, p1a)}** | {_r(pns, p1s)}")
    a("")
    a("All series:\n")
    a(f"user | series | {STATS_HEADER}")
    a("---|---|---|---|---|---|---|---")
    for who, r in res.items():
        for k, st in r["stats"].items():
            a(f"{who} | {k} | {st.row()}")
    a("")
    r = res["county"]
    a(f"Round trips of one list request ({r['round_trips']}; `page1.sql.all_round_trips` replays them all):\n")
    a("```\n" + "\n".join(r["events"]) + "\n```\n")
    a("The page query as emitted (county user, page 1), parameters " +
      json.dumps(r["params"], ensure_ascii=False, default=str) + ":\n")
    a("```sql\n" + r["sql"] + "\n```\n")
    for who, rr in res.items():
        a(f"Plan, {who} user, page 1 (EXPLAIN ANALYZE, BUFFERS as `pingan_app`):\n")
        a("```\n" + rr["plan_first"] + "\n```\n")
        a(f"Plan, {who} user, page {rr['deep_page']}:\n")
        a("```\n" + rr["plan_deep"] + "\n```\n")


def _report_stats(a, res) -> None:
    a("## 2. Dashboard counts, county subtree of the largest county\n")
    a("Target: p95 ≤ 100 ms. " + ("`GET /api/case-stats/…` existed when measured (core/api/case_stats.py) and was "
                                  "measured through the API as the county officer; " if res["api"] else
                                  "No case-stats API existed when measured; ") +
      "(a), (b), (c) are single statements through psycopg as `pingan_app`.\n")
    a(f"series | {STATS_HEADER}")
    a("---|---|---|---|---|---|---")
    for k, st in res["stats"].items():
        a(f"{k} | {st.row()}")
    a("")
    if res.get("answers"):
        a("Answers (for the record): `summary` total " + json.dumps(res["answers"]["summary"]["total"]) +
          "; `counts?group_by=state` total " + str(res["answers"]["counts?group_by=state"]["total"]) + "\n")
    for label, (sql, plan) in res["plans"].items():
        a(f"**{label}**\n")
        a("```sql\n" + sql + "\n```\n")
        a("```\n" + plan + "\n```\n")


def sweep_table() -> list[str]:
    """The table of every size measured so far (``results/cases_sweep_<cases>.json``)."""
    L: list[str] = []
    _sweep_rows(L.append)
    return L


def refresh_sweep_table() -> Path:
    """Rewrite the sweep table in results/cases.md (after measuring another size with ``--only sweep``)."""
    path = RESULTS / "cases.md"
    lines = path.read_text(encoding="utf-8").split("\n")
    start = next(i for i, line in enumerate(lines) if line.startswith("cases in the database |"))
    end = next(i for i in range(start, len(lines)) if not lines[i].strip())
    lines[start:end] = [x for x in sweep_table() if x]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _report_sweep(a, res) -> None:
    a("## 3. Deadline sweep\n")
    a("`core.cases.sweep.run(session, host, REF)` for the largest county (tenant bound, transaction rolled back), "
      "and its SELECT alone (captured, replayed as `pingan_app`). One row per generated size "
      "(`results/cases_sweep_<cases>.json`).\n")
    _sweep_rows(a)
    if res:
        _sweep_detail(a, res)


def _sweep_rows(a) -> None:
    a("cases in the database | cases of the county | deadline rows (all) | running & not reminded (all counties) | "
      "rows the SELECT returns | SELECT median (p95), custom plan | SELECT median (p95), prepared → generic plan | "
      "run() median (p95), no prepared statements (the app) | run() median (p95), psycopg's prepared statements | "
      "all 100 counties' SELECTs, one pass | ix_case_deadline_sweep | case_deadline heap")
    a("---|---|---|---|---|---|---|---|---|---|---|---")
    for f in sorted(RESULTS.glob("cases_sweep_*.json"), key=lambda p: int(p.stem.split("_")[-1])):
        d = json.loads(f.read_text(encoding="utf-8"))
        sel = d["stats"]["sweep SELECT (psycopg, as pingan_app)"]
        whole = d["stats"]["sweep.run() whole pass, rolled back"]
        gen = d["stats"].get("sweep SELECT, prepared (psycopg default: generic plan from the 6th run)")
        dflt = (d["stats"].get("sweep.run() whole pass, rolled back, psycopg's prepared statements (before)")
                or d["stats"].get("sweep.run() whole pass, rolled back, app default (prepared)"))  # older runs

        def mp(x):
            return f"{fmt(x['median_us'])} ({fmt(x['p95_us'])})" if x else "–"
        z = d["sizes"]
        a(f"{d['cases']:,} | {d['tenant_cases']:,} | {z['deadline_rows']:,} | {z['running_not_reminded']:,} | "
          f"{d['due_rows']:,} | {mp(sel)} | {mp(gen)} | {mp(whole)} | {mp(dflt)} | "
          f"{d['all_tenants']['ms']:.0f} ms for {d['all_tenants']['rows']:,} rows | "
          f"{z['ix_case_deadline_sweep'] / 2**20:.1f} MiB | {z['case_deadline'] / 2**30:.2f} GiB")
    a("")


def _sweep_detail(a, res) -> None:
    if res:
        a(f"At this size: `run()` returned {res['result']} and made {res['round_trips']} round trips. "
          "The SELECT:\n")
        a("```sql\n" + res["sql"] + "\n```\n")
        a("parameters " + json.dumps(res["params"], default=str) + "\n")
        a("EXPLAIN (ANALYZE, BUFFERS) as `pingan_app`, planned with its values (custom plan):\n")
        a("```\n" + res["plan"] + "\n```\n")
        bound = "%(state" in res["sql"]
        a("The same statement as PostgreSQL runs it once psycopg has prepared it and the plan cache has switched "
          "to the generic plan (`PREPARE` + `EXECUTE` under `plan_cache_mode = force_generic_plan`)" +
          (": `'running'` and `2` are bind parameters, so the partial index's predicate cannot be proven and "
           "ix_case_deadline_sweep is not usable:\n" if bound else
           ": the predicate of ix_case_deadline_sweep is written as a literal, so the generic plan uses it too:\n"))
        a("```\n" + res["plan_generic"] + "\n```\n")
        a(f"series | {STATS_HEADER}")
        a("---|---|---|---|---|---|---")
        for k, st in res["stats"].items():
            a(f"{k} | {st.row()}")
        a("")


def _report_create(a, res) -> None:
    on, off = res["with audit"], res["without audit (listener removed)"]
    a("## 4. Case creation through the API\n")
    a("`POST /api/cases` `{case_type: visits.visit, details: {visit_kind: home}, …}` by the village officer into "
      "its village, interleaved with and without the audit listener (`sqlalchemy.event.remove(Session, "
      "'after_flush', core.audit._note_flush)` in the benchmark process only: no entry is noted, so the "
      "commit writes none). The audit is written once per commit (one head read and one multi-row INSERT "
      "that also moves the head).\n")
    a(f"series | {STATS_HEADER}")
    a("---|---|---|---|---|---|---")
    a(f"with audit | {on.row()}")
    a(f"without audit | {off.row()}")
    a("")
    a(f"Share of the audit: median {(on.median_us - off.median_us) / on.median_us:.0%} "
      f"({fmt(on.median_us - off.median_us)}), p95 {(on.p95_us - off.p95_us) / on.p95_us:.0%}. "
      f"Round trips per request: {res['round_trips_on']} with audit, {res['round_trips_off']} without. "
      f"{res['created']:,} cases were created in the county by this run.\n")
    a("Round trips of one creation (with audit):\n")
    a("```\n" + "\n".join(res["events_on"]) + "\n```\n")


MARKER = "<!-- reading: written by hand, kept when the figures above are regenerated -->"


def save(text: str) -> Path:
    path = RESULTS / "cases.md"
    kept = ""
    if path.exists() and MARKER in path.read_text(encoding="utf-8"):
        kept = path.read_text(encoding="utf-8").split(MARKER, 1)[1]
    return write_result("cases", text + "\n" + MARKER + kept)


def profile(calls: int) -> None:
    """pyinstrument over ``calls`` first-page list calls of the county and the village officer."""
    import tempfile
    from pyinstrument import Profiler  # .venv/bin/pip install pyinstrument (not a project dependency)
    meta = load_meta()
    org = json.loads(orgtree.META.read_text(encoding="utf-8"))
    users = meta["users"]
    tid = users["tenant_id"]
    host = next(t["slug"] for t in org["per_tenant"] if t["tenant_id"] == tid) + ".localhost"
    app = orgtree.make_app(Path(tempfile.mkdtemp(prefix="pingan-bench-cases-")))
    patch_cursor_bug()
    lines = [f"pyinstrument, {now_utc()}, load average {os.getloadavg()}"]
    texts = []
    for who in ("county", "village"):
        api = Client(app, host, officer_token(meta["seed"], tid, who))
        url = list_url(users[who]["unit_id"])
        for _ in range(30):
            api.get(url)
        t0 = time.process_time()
        w0 = time.perf_counter()
        for _ in range(100):
            api.get(url)
        lines.append(f"{who}: GET {url}: CPU of this process {(time.process_time() - t0) * 10:.2f} ms per call, "
                     f"wall {(time.perf_counter() - w0) * 10:.2f} ms per call (100 calls, no profiler)")
        prof = Profiler(interval=0.0005)
        prof.start()
        for _ in range(calls):
            api.get(url)
        prof.stop()
        texts.append(f"=== {who} officer, {calls} calls ===\n" + prof.output_text(unicode=True, color=False))
    # the sweep of the largest county: where a pass spends its time besides the SELECT
    from core.app import pingan
    from core.cases import sweep
    from core.db import bind_tenant
    state = pingan(app)
    passes = 3

    def one_run():
        with bind_tenant(tid), state.db.Session() as s:
            s.begin()
            try:
                return sweep.run(s, state.plugins, REF)
            finally:
                s.rollback()
    found = one_run()
    prof = Profiler(interval=0.0005)
    prof.start()
    for _ in range(passes):
        one_run()
    prof.stop()
    texts.append(f"=== sweep.run() of tenant {tid}, {passes} passes (rolled back), {found} each ===\n"
                 + prof.output_text(unicode=True, color=False))
    text = "\n".join(lines) + "\n\n" + "\n".join(texts)
    (RESULTS / "cases_profile.txt").write_text(text, encoding="utf-8")
    print(text[:8000])


# request cost: the fixed cost of an authenticated API request ---------------------------------

REQ_META = Path(os.environ.get("PINGAN_BENCH_REQ_META", "/tmp/pingan-bench-req.json"))


class RoundTrips:
    """Counts real client/server round trips of the app's connections: libpq's protocol trace
    of every checked-out connection, one ``ReadyForQuery`` from the server per round trip
    (pings, BEGIN, statements, COMMIT/ROLLBACK — whatever SQLAlchemy or psycopg send)."""

    def __init__(self, engine) -> None:
        import tempfile
        from sqlalchemy import event
        from psycopg import pq
        self.file = tempfile.NamedTemporaryFile("w+", prefix="pingan-trace-", suffix=".txt")
        self.on = False
        self.statements: list[str] = []

        @event.listens_for(engine.pool, "checkout")
        def _checkout(dbapi_conn, record, proxy):
            if self.on:
                dbapi_conn.pgconn.trace(self.file.fileno())
                dbapi_conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)

        @event.listens_for(engine.pool, "checkin")
        def _checkin(dbapi_conn, record):
            if dbapi_conn is not None and self.on:
                dbapi_conn.pgconn.untrace()

    def record(self, fn) -> list[str]:
        """The round trips ``fn`` made: the first line of each query sent ("BEGIN", "SELECT …")."""
        self.file.seek(0)
        self.file.truncate()
        self.on = True
        try:
            fn()
        finally:
            self.on = False
        self.file.flush()
        out, pending = [], None
        for line in Path(self.file.name).read_text(encoding="utf-8", errors="replace").splitlines():
            parts = line.split("\t")
            if len(parts) < 3:
                continue
            who, kind = parts[0], parts[2]
            if who == "F" and kind in ("Query", "Parse") and pending is None:
                pending = parts[3].strip().split('"', 1)[-1] if kind == "Query" else parts[3].strip()
                pending = pending.replace('"" "', "", 1)[:90]
            elif who == "B" and kind == "ReadyForQuery":
                out.append(pending or "?")
                pending = None
        return out


def req_setup(cases: int) -> dict:
    """Prepare a database for the request-cost figures. It must hold the demo county already::

        PINGAN_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/<db> pingan db upgrade
        PINGAN_DATABASE_URL=… pingan tenant load tenants/demo --demo

    then: a token for the county admin and a township admin, the visits module on, ``cases`` cases."""
    import tempfile
    from sqlalchemy import select
    from core import auth
    from core.app import pingan
    from core.context import Actor, acting_as
    from core.db import bind_tenant
    from core.models import OrgUnit, Tenant, User
    app = orgtree.make_app(Path(tempfile.mkdtemp(prefix="pingan-bench-req-")))
    state = pingan(app)
    with state.db.Session() as s:
        tid = s.scalar(select(Tenant.id).where(Tenant.slug == "demo"))
    assert tid is not None, "load tenants/demo first"
    tokens, units = {}, {}
    with bind_tenant(tid), state.db.Session() as s, s.begin(), acting_as(Actor(None, "cli:bench")):
        for who, username in (("county", "county.admin"), ("township", "donghu.admin")):
            user = s.scalar(select(User).where(User.username == username))
            tokens[who] = auth.create_access_token(s, user, "bench")[1]
            units[who] = user.org_unit_id
        town = s.scalar(select(OrgUnit.path).where(OrgUnit.id == units["township"]))
        village = s.scalars(select(OrgUnit.id).where(OrgUnit.path >= town, OrgUnit.path < town[:-1] + "0")).all()
    host = "demo.localhost"
    county = Client(app, host, tokens["county"])
    r = county.c.put("/api/modules/visits", base_url=county.base, headers=county.headers,
                     json={"enabled": True, "settings": None})
    assert r.status_code == 200, r.get_json()
    rng = random.Random(20261123)
    for i in range(cases):
        county.post("/api/cases", {"case_type": CASE_TYPE, "title": rng.choice(TITLES), "content": rng.choice(CONTENTS),
                                   "org_unit_id": rng.choice(village), "channel": "visit",
                                   "details": {"visit_kind": "home"}})
    meta = {"tenant_id": tid, "host": host, "tokens": tokens, "units": units, "cases": cases, "db": bench_db_name()}
    REQ_META.write_text(json.dumps(meta, indent=1), encoding="utf-8")
    return meta


def request_cost(n: int, warmup: int, label: str) -> Path:
    """API vs SQL of the county and the township list, the summary, ``/api/me``; round trips."""
    import tempfile
    meta = json.loads(REQ_META.read_text(encoding="utf-8"))
    app = orgtree.make_app(Path(tempfile.mkdtemp(prefix="pingan-bench-req-")))
    patch_cursor_bug()
    from core.app import pingan
    state = pingan(app)
    tid = meta["tenant_id"]
    cap = orgtree.Capture(state.db.engine)
    rt = RoundTrips(state.db.engine)
    rep = orgtree.Replayer()
    rep.conn.prepare_threshold = None
    out: dict = {"label": label, "started": now_utc(), "load_before": os.getloadavg(), "n": n,
                 "pre_ping": bool(state.db.engine.pool._pre_ping), "series": {}, "round_trips": {}}
    urls = {"county list": ("county", "/api/cases?limit=20&state=registered"),
            "township list": ("township", f"/api/cases?limit=20&state=registered&org_unit_id={meta['units']['township']}"),
            "summary": ("county", "/api/case-stats/summary"),
            "me": ("county", "/api/me")}
    for name, (who, url) in urls.items():
        api = Client(app, meta["host"], meta["tokens"][who])
        api.get(url)
        out["round_trips"][name] = rt.record(lambda: api.get(url))
        ev = cap.record(lambda: api.get(url))
        stmts = [(e[1], e[2]) for e in ev if e[0] == "exec" and ("case_record" in e[1] or "case_tally" in e[1])]
        out["series"][f"{name} api"] = measure(lambda: api.get(url), n, warmup)
        if stmts:
            out["series"][f"{name} sql"] = measure(lambda: rep.tx(tid, stmts), n, warmup)
    out["load_after"] = os.getloadavg()
    lines = [f"### request cost, {label}: {out['started']}, load average before {tuple(round(x, 2) for x in out['load_before'])}, "
             f"after {tuple(round(x, 2) for x in out['load_after'])}; pool_pre_ping={out['pre_ping']}", "",
             "series | n | median | p95 | p99 | mean | min", "---|---|---|---|---|---|---"]
    lines += [f"{k} | {v.row()}" for k, v in out["series"].items()]
    lines += ["", "round trips (one `ReadyForQuery` each, from libpq's trace):", ""]
    for name, trips in out["round_trips"].items():
        lines.append(f"- {name}: **{len(trips)}** — " + "; ".join(f"`{t[:60]}`" for t in trips))
    text = "\n".join(lines) + "\n"
    path = RESULTS / f"cases_request_cost_{label}.md"
    path.write_text(text, encoding="utf-8")
    print(text)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("generate")
    g.add_argument("--seed", type=int, default=20260105)
    g.add_argument("--cases", type=int, default=10_000_000)
    r = sub.add_parser("run")
    r.add_argument("--n", type=int, default=300)
    r.add_argument("--warmup", type=int, default=30)
    r.add_argument("--only", default="list,stats,sweep,create")
    r.add_argument("--report", type=Path, default=None, help="write the report here instead of results/cases.md")
    sub.add_parser("sweep-table", help="rewrite the sweep table of results/cases.md from results/cases_sweep_*.json")
    r.add_argument("--meta", type=Path, default=None, help="metadata of the generated data (default results/cases_data.json)")
    p = sub.add_parser("profile")
    p.add_argument("--calls", type=int, default=300)
    rs = sub.add_parser("request-setup", help="fill an empty database for request-cost (demo county + cases)")
    rs.add_argument("--cases", type=int, default=3000)
    rc = sub.add_parser("request-cost", help="fixed cost of an authenticated request: API vs SQL, round trips")
    rc.add_argument("--n", type=int, default=300)
    rc.add_argument("--warmup", type=int, default=30)
    rc.add_argument("--label", default="now")
    a = ap.parse_args()
    bench_db_name()
    if a.cmd == "generate":
        generate(a.seed, a.cases)
    elif a.cmd == "run":
        path = run(a.n, a.warmup, set(a.only.split(",")), a.meta, a.report)
        print(f"wrote {path}")
    elif a.cmd == "request-setup":
        print(req_setup(a.cases))
    elif a.cmd == "request-cost":
        print(f"wrote {request_cost(a.n, a.warmup, a.label)}")
    elif a.cmd == "sweep-table":
        print(f"wrote {refresh_sweep_table()}")
    else:
        profile(a.calls)


if __name__ == "__main__":
    main()

