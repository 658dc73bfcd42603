"""Issue 4 figures: registering a petition with repeat detection (PET-6) against 1M earlier ones.

    .venv/bin/python bench/petition.py generate [--petitions 1000000] [--people 600000]
    .venv/bin/python bench/petition.py run [--n 300] [--warmup 20] [--report petition]
    .venv/bin/python bench/petition.py probe [--records 2000]   # what-if, rolled back: a phone shared by many

``generate`` drops and rebuilds the public schema of the database ``pingan_bench_petition``
(override with PINGAN_BENCH_PETITION_DB; ``test``, ``test_*``, ``postgres`` and the templates are
refused) with ``pingan db upgrade``: the province of ``bench/orgtree.py`` (100 tenants, 250,000
org units, its own generator), the module ``petition`` enabled in the largest county (10,000
units) and, in that county alone, ``--petitions`` cases of type ``petition.case`` bulk-loaded with
COPY … FREEZE as the schema owner (the helpers of ``bench/cases.py``: id reservation, the COPY
thread, dropping and rebuilding secondary indexes and foreign keys):

- ``--people`` distinct people (residents of the county's villages, groups and grids, weighted
  like the case units of bench/cases.py); ~86 % petition once, the others 2–20 times
  (``P(k) ∝ k**-1.5``, so about half of all petitions come from repeat petitioners), their
  petitions clustered in a campaign of 1 month to 2 years, mostly in one category;
- a ``person`` row per person, plus, for a quarter of the repeat petitioners, a second record of
  the same person made later by another clerk: with the same ID number, or without an ID
  number but with the same name and phone (what the blind-index matching is for); 8 % of people
  without ID number, 6 % without phone; ID numbers valid (GB 11643 check digit, the core's
  ``id_number_checksum``), names from common surnames (many namesakes);
- ID number, phone and address encrypted and blind-indexed with the core's own functions
  (``core.crypto.KeyRing.encrypt`` / ``blind_index`` under keys derived from the seed; ``run``
  gives the app the same keys through PINGAN_DATA_KEYS / PINGAN_INDEX_KEY);
- petitions created over the three years before the day of generation (``REF``), ids from
  ``pingan_id_seq`` in time order, numbers ``信〔year〕seq`` per local year, states by age
  (registered / accepted / replied / not accepted / review / reviewed / recheck / rechecked),
  ``petition_case`` with ``repeat_of_id`` / ``repeat_count`` as PET-6 would have set them,
  ``case_person`` links (3 % joint letters or collective visits with 2–5 petitioners),
  ``case_flag`` (repeat, collective), ``case_tally`` and ``case_counter`` consistent.
  Not generated: timelines (``case_event``) and time limits (``case_deadline``) of the old
  petitions — the registration does not read them.

``run`` registers ``--n`` petitions through the REST API (``POST /api/cases`` with
``case_type = "petition.case"`` and petition ``details``, as tests/test_petition.py does) as a
county petition officer, half by people who petitioned before (their own person record, or a
new record matching by ID number blind index, or by name + phone blind index), half by new
people (``POST /api/persons`` first, untimed). It times the request, the ``earlier_petitions``
call inside it and its SQL as executed in the request, then replays that SQL alone with psycopg
as ``pingan_app`` and records EXPLAIN (ANALYZE, BUFFERS) plans. → ``results/petition.md``,
raw samples in ``results/petition_run.json``, generation metadata in ``results/petition_data.json``.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import random
import subprocess
import sys
import threading
import time
from bisect import bisect
from collections import Counter, defaultdict, deque
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402
import cases  # noqa: E402  (its COPY helpers; importing it points _common at its database: reset below)
import orgtree  # noqa: E402

_common.BENCH_DB = os.environ.get("PINGAN_BENCH_PETITION_DB", "pingan_bench_petition")
orgtree.META = _common.RESULTS / "petition_orgtree_data.json"
from _common import (RESULTS, STATS_HEADER, Stats, bench_db_name, fmt, machine, now_utc, pg_dsn,  # noqa: E402
                     summarize, write_result)
from cases import DAY, Client, _reserve, _year, officer_token, ts  # noqa: E402

META = RESULTS / "petition_data.json"
RAW = RESULTS / "petition_run.json"
KEY = "petition.case"
YEARS = 3
TABLES = ("case_record", "petition_case", "person", "case_person", "case_flag")
OFFICER_PERMS = ("core.case.read", "core.case.register", "core.person.read", "core.person.manage",
                 "core.org_unit.read", "petition.read", "petition.register", "petition.handle", "petition.review",
                 "petition.final.override")
CATEGORIES = {"land": 25, "labour": 20, "social_security": 15, "environment": 10, "housing": 15, "other": 15}
CAT_KEYS = list(CATEGORIES)
CAT_CUM = [sum(list(CATEGORIES.values())[:i + 1]) for i in range(len(CATEGORIES))]
TITLES = {
    "land": ("反映承包地被他人占用问题", "反映征地补偿款未足额发放", "反映宅基地审批问题", "反映土地流转费用拖欠"),
    "labour": ("反映工程项目拖欠农民工工资", "反映企业未签订劳动合同", "反映工伤待遇未落实"),
    "social_security": ("反映低保待遇被取消问题", "反映养老保险待遇核定问题", "反映医保报销问题", "申请临时救助"),
    "environment": ("反映养殖场污水直排问题", "反映企业夜间噪声扰民", "反映垃圾站异味问题"),
    "housing": ("反映安置房质量问题", "反映拆迁安置补偿问题", "反映危房改造补助问题", "反映物业服务问题"),
    "other": ("反映村务公开问题", "反映村干部作风问题", "反映道路修建占地问题", "反映邻里用水问题"),
}
CONTENTS = ("信访人反映上述问题，要求有关部门调查处理。", "信访人称多次向村委会反映未果，请求上级督促解决。",
            "信访人要求依法依规处理并书面答复。", "")
FORMS = ("visit", "letter", "call", "online", "hotline", "grid", "higher")
FORM_W = (30, 12, 18, 20, 12, 5, 3)
FORM_POOL = [f for f, w in zip(FORMS, FORM_W) for _ in range(w)]
CHANNEL = {"letter": "letter", "joint_letter": "letter", "visit": "visit", "collective_visit": "visit", "call": "call",
           "online": "online", "hotline": "hotline", "grid": "grid", "higher": "higher"}
SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜"
            "崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华建国红梅玉兰志强海燕春林永福金凤德明文斌秀珍小红淑珍宝成凤英长" \
        "青云飞建华晓东立新玉梅桂英家兴学军振华"
REGION = "430521"  # the county's 6-digit region code in the ID numbers (made up)


def keys(seed: int) -> tuple[str, str]:
    """PINGAN_DATA_KEYS and PINGAN_INDEX_KEY of the benchmark, derived from the seed."""
    data = base64.b64encode(hashlib.sha256(f"{seed}:data-key".encode()).digest()).decode()
    index = base64.b64encode(hashlib.sha256(f"{seed}:index-key".encode()).digest()).decode()
    return f"bench1:{data}", index


def petitions_per_person(rng: random.Random, people: int, total: int) -> list[int]:
    """Petitions of each person: 1, or 2–20 with ``P(k) ∝ k**-1.5``; adds up to ``total``."""
    ks = list(range(2, 21))
    w = [k ** -1.5 for k in ks]
    mean = sum(k * x for k, x in zip(ks, w)) / sum(w)
    multi = max(0, min(people, round((total - people) / (mean - 1))))
    counts = [1] * (people - multi) + rng.choices(ks, weights=w, k=multi)
    diff = total - sum(counts)
    while diff:  # spread the sampling error over the repeat petitioners
        i = rng.randrange(people - multi, people) if multi else rng.randrange(people)
        step = 1 if diff > 0 else -1
        if 2 <= counts[i] + step <= 20 or (not multi and counts[i] + step >= 1):
            counts[i] += step
            diff -= step
    rng.shuffle(counts)
    return counts


class People:
    """Made-up residents: unique ID numbers and phones, common names."""

    def __init__(self, rng: random.Random) -> None:
        from core.privacy import id_number_checksum
        self.rng, self.check = rng, id_number_checksum
        self.ids: set[str] = set()
        self.phones: set[str] = set()

    def name(self) -> str:
        r = self.rng
        return r.choice(SURNAMES) + "".join(r.choice(GIVEN) for _ in range(1 if r.random() < 0.3 else 2))

    def id_number(self) -> str:
        r = self.rng
        while True:
            birth = datetime(1940, 1, 1) + timedelta(days=r.randrange(65 * 365))
            body = f"{REGION}{birth:%Y%m%d}{r.randrange(1000):03d}"
            v = body + self.check(body)
            if v not in self.ids:
                self.ids.add(v)
                return v

    def phone(self) -> str:
        r = self.rng
        while True:
            v = f"1{r.choice('3456789')}{r.randrange(10**9):09d}"
            if v not in self.phones:
                self.phones.add(v)
                return v

    def address(self, unit_name: str) -> str:
        return f"{unit_name}{self.rng.randint(1, 60)}号"


def _residence_units(cur, tid: int, rng: random.Random) -> tuple[list[int], list[float], list[int], list[float], dict]:
    """Weighted units (bench/cases.py's weights): (all units, their cumulative weights, villages /
    groups / grids, their cumulative weights, id → name)."""
    ids, cum, level = cases._units(cur, tid, rng)
    names = dict(cur.execute("SELECT id, name FROM org_unit WHERE tenant_id = %s", (tid,)).fetchall())
    res, rcum, acc, prev = [], [], 0.0, 0.0
    for uid, c in zip(ids, cum):
        if level[uid] in ("village", "group", "grid"):
            acc += c - prev
            res.append(uid)
            rcum.append(acc)
        prev = c
    return ids, cum, res, rcum, names


def _state(rng: random.Random, age_days: float) -> str:
    r = rng.random()
    if age_days < 15:
        return "registered" if r < 0.4 else "accepted" if r < 0.95 else "not_accepted"
    if age_days < 75:
        return "accepted" if r < 0.5 else "replied" if r < 0.9 else "not_accepted" if r < 0.97 else "review"
    for state, p in (("replied", 0.75), ("not_accepted", 0.85), ("reviewed", 0.94), ("rechecked", 0.97),
                     ("review", 0.98), ("recheck", 0.99)):
        if r < p:
            return state
    return "accepted"


CLOSED = {"not_accepted", "replied", "reviewed", "rechecked"}


def generate(seed: int, n_petitions: int, n_people: int) -> dict:
    import psycopg
    from core import crypto
    from core.cases.search import grams
    t_start = time.perf_counter()
    ref = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    ref_t = int(ref.timestamp())
    start_t = ref_t - YEARS * 365 * DAY
    data_keys, index_key = keys(seed)
    ring = crypto.KeyRing.parse(data_keys, index_key)
    org = orgtree.generate(seed)   # schema (pingan db upgrade) + the province + admins + tokens
    t_org = time.perf_counter() - t_start
    tid = max(org["per_tenant"], key=lambda t: t["units"])["tenant_id"]
    tmpl: dict[tuple[str, int, int], set[str]] = {}
    for cat, titles in TITLES.items():
        for ti, title in enumerate(titles):
            for ci, content in enumerate(CONTENTS):
                tmpl[(cat, ti, ci)] = set(grams("信", title, content).split())
    for (cat, ti, ci), year, seq in ((("land", 0, 0), "2025", "00001"), (("housing", 3, 3), "2026", "31234")):
        number = f"信〔{year}〕{seq}"
        assert " ".join(sorted(tmpl[(cat, ti, ci)] | {year, seq})) == grams(number, TITLES[cat][ti], CONTENTS[ci])
    counts: Counter = Counter()
    with psycopg.connect(pg_dsn()) as conn:
        cur = conn.cursor()
        cur.execute("SET synchronous_commit = off")
        created = ref - timedelta(days=YEARS * 365 + 30)
        cur.execute("INSERT INTO tenant_plugin (tenant_id, id, plugin, enabled, settings, updated_at) "
                    "VALUES (%s, nextval('pingan_id_seq'), 'petition', true, '{}', %s)", (tid, created))
        officer = _officer(cur, seed, tid, created)
        uids, ucum, res, rcum, unit_names = _residence_units(cur, tid, random.Random(f"{seed}:units"))
        conn.commit()
        cases.BIG_TABLES = TABLES   # cases._drop_secondary reads its module's BIG_TABLES
        restore = cases._drop_secondary(conn)
        conn.commit()
        t_prep = time.perf_counter() - t_start - t_org

        # --- people and their petitions (in memory), then in time order -----------------------
        rng = random.Random(f"{seed}:people")
        gen = People(rng)
        per_person = petitions_per_person(rng, n_people, n_petitions)
        pids = iter(_reserve(cur, int(n_people * 1.3) + 10))
        persons = []     # (pid, name, idn, phone, unit, created_t)
        petitions = []   # (t, person index, record pid, category, co-petitioner pids or None)
        who = []         # per person: (name, idn, phone, unit, primary pid)
        for i, k in enumerate(per_person):
            name = gen.name()
            idn = gen.id_number() if rng.random() >= 0.08 else None
            phone = gen.phone() if (rng.random() >= 0.06 or idn is None) else None
            unit = res[bisect(rcum, rng.random() * rcum[-1])]
            if k == 1:
                times = [rng.uniform(start_t, ref_t)]
            else:
                t0 = rng.uniform(start_t, ref_t - 86400)
                t1 = min(ref_t, t0 + rng.uniform(30, 720) * DAY)
                times = sorted(rng.uniform(t0, t1) for _ in range(k))
            main = CAT_KEYS[bisect(CAT_CUM, rng.random() * CAT_CUM[-1])]
            pid = next(pids)
            persons.append((pid, name, idn, phone, unit, times[0] - rng.uniform(0, 600)))
            who.append((name, idn, phone, unit, pid))
            dup_from, dup = len(times), None
            if k > 1 and rng.random() < 0.25:   # a second record of the same person, made by another clerk
                dup_from = rng.randint(1, k - 1)
                dup = next(pids)
                if idn and (not phone or rng.random() < 0.5):
                    persons.append((dup, name, idn, gen.phone() if rng.random() < 0.5 else None, unit,
                                    times[dup_from] - 60))
                    counts["duplicate_records_same_id_number"] += 1
                else:
                    persons.append((dup, name, None, phone, unit, times[dup_from] - 60))
                    counts["duplicate_records_same_name_phone"] += 1
            for j, t in enumerate(times):
                cat = main if rng.random() < 0.8 else CAT_KEYS[bisect(CAT_CUM, rng.random() * CAT_CUM[-1])]
                rec = dup if (j >= dup_from and rng.random() < 0.6) else pid
                petitions.append((t, i, rec, cat))
        counts["people"] = n_people
        counts["person_records"] = len(persons)
        counts["repeat_petitioners"] = sum(1 for k in per_person if k > 1)
        petitions.sort()
        t_mem = time.perf_counter() - t_start - t_org - t_prep
        print(f"{len(persons):,} person records of {n_people:,} people, {len(petitions):,} petitions in memory "
              f"({t_mem:.0f} s)", flush=True)

        cur.execute("TRUNCATE " + ", ".join(TABLES) + " CASCADE")
        writer = cases._Writer(cur)
        try:
            _copy_persons(writer, persons, ring, gen, unit_names, tid)
            ids = iter(_reserve(cur, 5 * len(petitions)))
            seqs: dict[int, int] = {}
            tally: Counter = Counter()
            recent: dict[tuple[int, str], deque] = defaultdict(deque)
            step = 100_000
            for lo in range(0, len(petitions), step):
                writer.put(_make_chunk(rng, petitions[lo:lo + step], ids, tid, officer["user_id"], who, tmpl, seqs,
                                       tally, recent, counts, uids, ucum, ref_t))
                print(f"  {min(lo + step, len(petitions)):,} petitions ({time.perf_counter() - t_start:.0f} s; COPY "
                      f"so far { {k: round(v, 1) for k, v in cases.COPY_SECONDS.items()} })", flush=True)
        finally:
            writer.close()
        ids = iter(_reserve(cur, len(tally) + len(seqs)))
        with cur.copy("COPY case_tally (tenant_id, id, org_unit_id, case_type, state, n) FROM STDIN") as cp:
            for (uid, state), n in sorted(tally.items()):
                cp.write_row((tid, next(ids), uid, KEY, state, n))
        with cur.copy("COPY case_counter (tenant_id, id, case_type, year, value) FROM STDIN") as cp:
            for year, v in sorted(seqs.items()):
                cp.write_row((tid, next(ids), KEY, year, v))
        conn.commit()
        t_copy = time.perf_counter() - t_start - t_org - t_prep
        print(f"COPY done in {t_copy:.0f} s; rebuilding indexes and foreign keys", flush=True)
        t0 = time.perf_counter()
        cur.execute("SET maintenance_work_mem = '1GB'")
        cur.execute("SET max_parallel_maintenance_workers = 0")   # single process: the machine is shared
        index_times = {}
        for ddl in restore:
            t1 = time.perf_counter()
            cur.execute(ddl)
            conn.commit()
            index_times[ddl.split(" ON ")[0].split()[-1] if "INDEX" in ddl else ddl.split('"')[1]] = round(
                time.perf_counter() - t1, 1)
        t_index = time.perf_counter() - t0
    t0 = time.perf_counter()
    with psycopg.connect(pg_dsn(), autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) " + ", ".join(TABLES + ("case_tally", "case_counter")))
        sizes_db = dict(conn.execute("SELECT relname, pg_total_relation_size(oid) FROM pg_class "
                                     "WHERE relname = ANY(%s)", (list(TABLES),)).fetchall())
        db_size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
        per_person_db = conn.execute(
            "SELECT n, count(*) FROM (SELECT person_id, count(*) n FROM case_person GROUP BY 1) x GROUP BY 1 ORDER BY 1"
        ).fetchall()
    t_analyze = time.perf_counter() - t0
    meta = {"seed": seed, "tenant_id": tid, "ref": ref.isoformat(), "petitions": len(petitions),
            "requested": {"petitions": n_petitions, "people": n_people},
            "org": {k: org[k] for k in ("tenants", "units", "largest", "smallest")},
            "tenant_units": max(t["units"] for t in org["per_tenant"]),
            "officer": officer, "counts": dict(counts),
            "petitions_per_person": dict(sorted(Counter(per_person).items())),
            "petitions_per_person_record": dict(per_person_db),
            "bytes": {**sizes_db, "database": db_size},
            "copy_seconds": {k: round(v, 1) for k, v in cases.COPY_SECONDS.items()},
            "seconds": {"org_tree (orgtree.generate)": round(t_org, 1), "prepare": round(t_prep, 1),
                        "copy (incl. generation)": round(t_copy, 1), "indexes_and_foreign_keys": round(t_index, 1),
                        "vacuum_analyze": round(t_analyze, 1), "total": round(time.perf_counter() - t_start, 1)},
            "index_seconds": index_times}
    META.write_text(json.dumps(meta, ensure_ascii=False, indent=1, default=int), encoding="utf-8")
    print(json.dumps({k: meta[k] for k in ("petitions", "counts", "bytes", "seconds")}, indent=1, default=int))
    return meta


def _officer(cur, seed: int, tid: int, created: datetime) -> dict:
    """The county's petition officer (信访局, on the county root) with a personal access token."""
    root = cur.execute("SELECT id FROM org_unit WHERE tenant_id = %s AND parent_id IS NULL", (tid,)).fetchone()[0]
    ids = iter(_reserve(cur, 4 + len(OFFICER_PERMS)))
    role_id, uid = next(ids), next(ids)
    cur.execute("INSERT INTO role (tenant_id, id, key, name, name_en, created_at) VALUES (%s,%s,%s,%s,%s,%s)",
                (tid, role_id, "petition_chief", "信访部门负责人", "Head of petitions", created))
    for p in OFFICER_PERMS:
        cur.execute("INSERT INTO role_permission (tenant_id, id, role_id, permission) VALUES (%s,%s,%s,%s)",
                    (tid, next(ids), role_id, p))
    cur.execute("INSERT INTO app_user (tenant_id, id, username, org_unit_id, display_name, password_hash, status, "
                "failed_logins, must_change_password, locale, created_at) "
                "VALUES (%s,%s,'petition.officer',%s,'信访局登记员',NULL,'active',0,false,'zh_CN',%s)",
                (tid, uid, root, created))
    cur.execute("INSERT INTO role_assignment (tenant_id, id, user_id, role_id, org_unit_id, created_at) "
                "VALUES (%s,%s,%s,%s,%s,%s)", (tid, next(ids), uid, role_id, root, created))
    cur.execute("INSERT INTO access_token (tenant_id, id, user_id, name, token_hash, scope, created_at) "
                "VALUES (%s,%s,%s,'bench',%s,'',%s)",
                (tid, next(ids), uid, orgtree.sha256(officer_token(seed, tid, "petition")), created))
    return {"user_id": uid, "unit_id": root, "permissions": list(OFFICER_PERMS)}


def _copy_persons(writer, persons, ring, gen: People, unit_names: dict, tid: int) -> None:
    enc, bidx, null = ring.encrypt, ring.blind_index, "\\N"
    rows = []
    for pid, name, idn, phone, unit, t in persons:
        c = ts(t)
        rows.append(f"{tid}\t{pid}\t{name}\t{enc(idn) if idn else null}\t{bidx(idn) if idn else null}\t"
                    f"{enc(phone) if phone else null}\t{bidx(phone) if phone else null}\t"
                    f"{enc(gen.address(unit_names[unit]))}\t{unit}\t{c}\t{c}")
        if len(rows) == 200_000:
            writer.put([("person", "tenant_id, id, name, id_number, id_number_bidx, phone, phone_bidx, address, "
                                   "org_unit_id, created_at, updated_at", rows)])
            rows = []
    writer.put([("person", "tenant_id, id, name, id_number, id_number_bidx, phone, phone_bidx, address, org_unit_id, "
                           "created_at, updated_at", rows)])


def _make_chunk(rng, batch, ids, tid, officer, who, tmpl, seqs, tally, recent, counts, uids, ucum, ref_t) -> list:
    recs, pets, links, flags = [], [], [], []
    rnd, uniform = rng.random, rng.uniform
    window = 365 * DAY
    for t, i, rec, cat in batch:
        cid = next(ids)
        ly = _year(t)
        seq = seqs.get(ly, 0) + 1
        seqs[ly] = seq
        ystr, sstr = str(ly), f"{seq:05d}"
        ti, ci = int(rnd() * len(TITLES[cat])), int(rnd() * len(CONTENTS))
        title, content = TITLES[cat][ti], CONTENTS[ci]
        grams_s = " ".join(sorted(tmpl[(cat, ti, ci)] | {ystr, sstr}))
        unit = who[i][3] if rnd() < 0.85 else uids[bisect(ucum, rnd() * ucum[-1])]
        co = None
        if rnd() < 0.03:
            form = "joint_letter" if rnd() < 0.4 else "collective_visit"
            co = {who[int(rnd() * len(who))][4] for _ in range(rng.randint(1, 4))} - {rec}
            visitors = len(co) + 1 if form == "joint_letter" else rng.randint(5, 40)
        else:
            form = FORM_POOL[int(rnd() * len(FORM_POOL))]
            visitors = 1 if form != "visit" else (1 if rnd() < 0.9 else rng.randint(2, 4))
        age = (ref_t - t) / DAY
        state = _state(rng, age)
        ct = ts(t)
        closed = updated = due = replied = reviewed = "\\N"
        procedure = "normal" if state not in ("registered", "not_accepted") else "\\N"
        outcome = ""
        if state in CLOSED or state in ("review", "recheck"):
            reply_t = t + uniform(3, min(60, max(3.5, age * 0.6))) * DAY
            reply_t = min(reply_t, ref_t - 3600)
            if state != "not_accepted":
                replied = ts(reply_t)
                outcome = "经调查核实，已依法依规作出处理意见并书面答复信访人。"
            if state in ("reviewed", "rechecked", "recheck"):
                reviewed = ts(min(reply_t + uniform(10, 40) * DAY, ref_t - 1800))
            last = min(reply_t + (uniform(20, 80) * DAY if state in ("reviewed", "rechecked") else 0), ref_t - 600)
            updated = ts(last)
            if state in CLOSED:
                closed = updated
            else:
                due = ts(last + 30 * DAY)
        else:
            updated = ts(t + min(age, 2) * DAY * rnd())
            due = ts(t + (15 if state == "registered" else 60) * DAY)
        recs.append(f"{tid}\t{cid}\t{KEY}\t信〔{ystr}〕{sstr}\t{ly}\t{title}\t{content}\t{CHANNEL[form]}\t{unit}\t"
                    f"{state}\t\\N\t\\N\t\\N\t{due}\t{grams_s}\t{officer}\t{ct}\t{updated}\t{closed}")
        # PET-6 as the module would have set it: earlier petitions of this person in this category
        q = recent[(i, cat)]
        while q and q[0][0] < t - window:
            q.popleft()
        repeat_of = q[-1][1] if q else "\\N"
        if q:
            flags.append(f"{tid}\t{next(ids)}\t{cid}\trepeat\t{ct}")
            counts["flagged_repeat"] += 1
        if form == "collective_visit" or visitors >= 5:
            flags.append(f"{tid}\t{next(ids)}\t{cid}\tcollective\t{ct}")
        pets.append(f"{tid}\t{next(ids)}\t{cid}\t{form}\t{cat}\t\t{visitors}\t{procedure}\t\t{repeat_of}\t{len(q)}\t"
                    f"\\N\t{replied}\t{reviewed}\t{outcome}")
        q.append((t, cid))
        links.append(f"{tid}\t{next(ids)}\t{cid}\t{rec}\tpetitioner")
        for p in sorted(co or ()):
            links.append(f"{tid}\t{next(ids)}\t{cid}\t{p}\tpetitioner")
        tally[(unit, state)] += 1
        counts[f"state_{state}"] += 1
        counts["case_person"] += 1 + len(co or ())
    counts["case_flag"] += len(flags)
    return [("case_record", "tenant_id, id, case_type, number, year, title, content, channel, org_unit_id, state, "
                            "handling_unit_id, handler_id, intake_id, due_at, search_grams, created_by, created_at, "
                            "updated_at, closed_at", recs),
            ("petition_case", "tenant_id, id, case_id, form, category, demands, visitors, procedure, first_inquiry, "
                              "repeat_of_id, repeat_count, override_reason, replied_at, reviewed_at, outcome", pets),
            ("case_person", "tenant_id, id, case_id, person_id, role", links),
            ("case_flag", "tenant_id, id, case_id, flag, created_at", flags)]


# --- measuring ------------------------------------------------------------------------------

def load_meta() -> dict:
    if not META.exists():
        raise SystemExit("no generated data: run `bench/petition.py generate` first")
    return json.loads(META.read_text(encoding="utf-8"))


def psycopg_conn():
    import psycopg
    return psycopg.connect(pg_dsn(), autocommit=True)


GROUPS = {"new": "new person (POST /api/persons first)",
          "same_record": "returning, own person record (matches by person id, ID number and name + phone)",
          "same_id_number": "returning, new record with the same ID number, another phone (ID number blind index)",
          "same_name_phone": "returning, new record without ID number, same name and phone (name + phone blind index)"}


def plan_registrations(meta: dict, n: int, rng: random.Random) -> list[dict]:
    """The mix: half new people, half returning petitioners (picked by petition, so frequent
    petitioners come back more often), category of their latest petition 80 % of the time."""
    from core.privacy import id_number_checksum
    tid = meta["tenant_id"]
    returning = n // 2
    kinds = (["same_record"] * round(returning * 0.4) + ["same_id_number"] * round(returning * 0.3))
    kinds += ["same_name_phone"] * (returning - len(kinds))
    picks = []
    with psycopg_conn() as conn:
        # one petitioner per returning registration: a random petition's petitioner, with what the kind needs
        lo, hi = conn.execute("SELECT min(id), max(id) FROM case_record WHERE tenant_id = %s", (tid,)).fetchone()
        need = {"same_record": "true", "same_id_number": "p.id_number_bidx IS NOT NULL",
                "same_name_phone": "p.phone_bidx IS NOT NULL"}
        seen: set[int] = set()
        for kind in kinds:
            while True:
                row = conn.execute(
                    "SELECT p.id, p.name, p.id_number, p.phone, p.org_unit_id, pc.category, p.id_number_bidx, "
                    "p.phone_bidx FROM case_person cp "
                    "JOIN person p ON p.tenant_id = cp.tenant_id AND p.id = cp.person_id "
                    "JOIN petition_case pc ON pc.tenant_id = cp.tenant_id AND pc.case_id = cp.case_id "
                    f"WHERE cp.tenant_id = %s AND cp.case_id >= %s AND {need[kind]} ORDER BY cp.case_id LIMIT 1",
                    (tid, rng.randint(lo, hi))).fetchone()
                if row and row[0] not in seen:
                    break
            seen.add(row[0])
            picks.append((kind, row))
    from core import crypto
    ring = crypto.ring()
    out = []
    gen = People(rng)
    for kind, (pid, name, idn_enc, phone_enc, unit, cat, idn_bidx, phone_bidx) in picks:
        idn = ring.decrypt(idn_enc) if idn_enc else None
        phone = ring.decrypt(phone_enc) if phone_enc else None
        r = {"kind": kind, "unit": unit, "petitioner": pid, "match": (pid, idn_bidx, name, phone_bidx),
             "category": cat if rng.random() < 0.8 else rng.choice(CAT_KEYS)}
        if kind == "same_record":
            r["person_id"] = pid
        elif kind == "same_id_number":
            r["person"] = {"name": name, "id_number": idn,
                           "phone": f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}"}
        else:
            r["person"] = {"name": name, "phone": phone}
        out.append(r)
    with psycopg_conn() as conn:
        units = [u for (u,) in conn.execute("SELECT id FROM org_unit WHERE tenant_id = %s AND status = 'active' "
                                            "AND level IN ('village', 'group', 'grid')", (tid,)).fetchall()]
    for _ in range(n - returning):
        while True:   # a made-up ID number nobody in the county has
            birth = datetime(1940, 1, 1) + timedelta(days=rng.randrange(65 * 365))
            body = f"990101{birth:%Y%m%d}{rng.randrange(1000):03d}"
            idn = body + id_number_checksum(body)
            if idn not in gen.ids:
                gen.ids.add(idn)
                break
        out.append({"kind": "new", "unit": rng.choice(units), "category": rng.choice(CAT_KEYS),
                    "person": {"name": gen.name(), "id_number": idn,
                               "phone": f"19{rng.randrange(10**9):09d}"}})
    rng.shuffle(out)
    for r in out:
        r["form"] = FORM_POOL[int(rng.random() * len(FORM_POOL))]
    return out


def after_recheck(tid: int, plan: list[dict]) -> set[int]:
    """The returning registrations whose petitioner (matched as earlier_petitions matches: the
    record, the ID number, name + phone) has a petition in that category closed by 复核."""
    out = set()
    with psycopg_conn() as conn:
        for r in plan:
            if "match" not in r:
                continue
            pid, idn_bidx, name, phone_bidx = r["match"]
            hit = conn.execute(
                "SELECT 1 FROM case_record c JOIN petition_case pc ON pc.tenant_id = c.tenant_id AND pc.case_id = c.id "
                "JOIN case_person cp ON cp.tenant_id = c.tenant_id AND cp.case_id = c.id "
                "JOIN person p ON p.tenant_id = cp.tenant_id AND p.id = cp.person_id "
                "WHERE c.tenant_id = %s AND c.state = 'rechecked' AND pc.category = %s "
                "AND (p.id = %s OR p.id_number_bidx = %s OR (p.name = %s AND p.phone_bidx = %s)) LIMIT 1",
                (tid, r["category"], pid, idn_bidx, name, phone_bidx)).fetchone()
            if hit:
                out.add(id(r))
    return out


class SqlTimer:
    """Time of every statement the app's engine runs (before/after_cursor_execute), kept when
    ``on``: psycopg fetches the whole result in ``execute``, so this is the server's work plus
    the round trip."""

    def __init__(self, engine) -> None:
        from sqlalchemy import event
        self.on = False
        self.log: list[tuple[str, dict, int]] = []
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn, cursor, statement, parameters, context, executemany) -> None:
        conn.info["bench_t0"] = time.perf_counter_ns()

    def _after(self, conn, cursor, statement, parameters, context, executemany) -> None:
        if self.on:
            self.log.append((statement, parameters, time.perf_counter_ns() - conn.info.pop("bench_t0")))


def is_main(stmt: str) -> bool:
    return "JOIN petition_case" in stmt and "FROM case_record" in stmt


def is_people(stmt: str) -> bool:
    return stmt.lstrip().startswith("SELECT person.id, person.name, person.id_number_bidx")


def run(n: int, warmup: int, report_name: str, note: str | None) -> Path:
    import tempfile
    meta = load_meta()
    tid, seed = meta["tenant_id"], meta["seed"]
    os.environ["PINGAN_DATA_KEYS"], os.environ["PINGAN_INDEX_KEY"] = keys(seed)
    org = json.loads(orgtree.META.read_text(encoding="utf-8"))
    host = next(t["slug"] for t in org["per_tenant"] if t["tenant_id"] == tid) + ".localhost"
    app = orgtree.make_app(Path(tempfile.mkdtemp(prefix="pingan-bench-petition-")))
    from core.app import pingan
    import plugins.petition.cases as pc
    state = pingan(app)
    timer = SqlTimer(state.db.engine)
    cap = orgtree.Capture(state.db.engine)
    rep = orgtree.Replayer()
    rep.conn.prepare_threshold = None        # as the app (core/db.py): no server-side prepared statements
    rep.conn.execute("SET jit = off")        # as the app
    rep.conn.commit()
    api = Client(app, host, officer_token(seed, tid, "petition"))
    load = LoadSampler()
    out: dict = {"meta": meta, "n": n, "warmup": warmup, "started": now_utc(), "load_before": os.getloadavg(),
                 "note": note, "top_before": top_processes()}

    # bench process only: time the module's earlier_petitions() inside the request (the plugin is unchanged)
    inner: list[tuple[int, int, int, int]] = []
    original = pc.earlier_petitions

    def timed_earlier(session, case, category):
        i0 = len(timer.log)
        t0 = time.perf_counter_ns()
        found = original(session, case, category)
        inner.append((time.perf_counter_ns() - t0, len(found), i0, len(timer.log)))
        return found
    pc.earlier_petitions = timed_earlier

    rng = random.Random(f"{seed}:run:{time.time_ns()}")
    plan = plan_registrations(meta, n + warmup + 1, rng)
    final = after_recheck(tid, plan)
    def body(r: dict, person_id: int) -> dict:
        details = {"form": r["form"], "category": r["category"], "demands": "要求依法处理"}
        if id(r) in final:
            # the same matter was closed by 复核: the officer registers it again with a reason (Art. 36 override)
            details["override_reason"] = "出现新的事实和理由"
        return {"case_type": KEY, "title": TITLES[r["category"]][0], "org_unit_id": r["unit"],
                "content": "信访人来访反映问题，要求调查处理。", "details": details,
                "persons": [{"person_id": person_id, "role": "petitioner"}]}

    def new_person(r: dict) -> tuple[int, int]:
        t0 = time.perf_counter_ns()
        p = json.loads(api.post("/api/persons", {**r["person"], "org_unit_id": r["unit"]}))
        return p["id"], time.perf_counter_ns() - t0

    print(f"warm-up: {warmup} registrations", flush=True)
    for r in plan[:warmup]:
        pid = r.get("person_id") or new_person(r)[0]
        api.post("/api/cases", body(r, pid))
    # the round trips of one registration, for the record (an extra one, not in the figures)
    r0 = plan[-1]
    p0 = r0.get("person_id") or new_person(r0)[0]
    ev = cap.record(lambda: api.post("/api/cases", body(r0, p0)))
    out["events"] = [e[0] if e[0] != "exec" else " ".join(e[1].split())[:110] for e in ev]
    out["events_kind"] = r0["kind"]

    samples = []
    load.start()
    clock = time.perf_counter_ns
    print(f"registering {n} petitions", flush=True)
    for k, r in enumerate(plan[warmup:warmup + n]):
        person_ns = None
        if "person_id" in r:
            pid = r["person_id"]
        else:
            pid, person_ns = new_person(r)
        b = body(r, pid)
        inner.clear()
        timer.log.clear()
        timer.on = True
        t0 = clock()
        resp = json.loads(api.post("/api/cases", b))
        api_ns = clock() - t0
        timer.on = False
        main = [x for x in timer.log if is_main(x[0])]
        people = [x for x in timer.log if is_people(x[0])]
        assert len(main) == 1 and len(people) == 1 and len(inner) == 1, (len(main), len(people), len(inner))
        flush = [x for x in timer.log[inner[0][2]:inner[0][3]] if not is_main(x[0]) and not is_people(x[0])]
        samples.append({"kind": r["kind"], "category": r["category"], "person_id": pid, "case_id": resp["id"],
                        "override": "override_reason" in b["details"],
                        "api_us": api_ns / 1000, "earlier_fn_us": inner[0][0] / 1000, "earlier_rows": inner[0][1],
                        "sql_main_us": main[0][2] / 1000, "sql_people_us": people[0][2] / 1000,
                        "flush_statements": len(flush), "sql_flush_us": sum(x[2] for x in flush) / 1000,
                        "statements": len(timer.log), "sql_all_us": sum(x[2] for x in timer.log) / 1000,
                        "repeat_count": resp["details"]["repeat_count"], "flags": resp["flags"],
                        "person_post_us": person_ns / 1000 if person_ns else None,
                        "main": (main[0][0], main[0][1]), "people": (people[0][0], people[0][1])})
        if (k + 1) % 50 == 0:
            print(f"  {k + 1}/{n}: last API {api_ns / 1e6:.1f} ms, load {os.getloadavg()[0]:.2f}", flush=True)
    load.stop()
    out["load_during_api"] = load.summary()

    # the SQL alone: each registration's two statements replayed as pingan_app (second execution)
    load.start()
    print("replaying the SQL of earlier_petitions", flush=True)
    for s in samples:
        s["replay_main_us"], s["replay_main_rows"] = timed_sql(rep, tid, [s["main"]])
        s["replay_both_us"], _ = timed_sql(rep, tid, [s["people"], s["main"]])
    load.stop()
    out["load_during_sql"] = load.summary()
    out["samples"] = samples
    out["plans"] = pick_plans(rep, tid, samples)
    out["load_after"] = os.getloadavg()
    raw = RESULTS / f"{report_name}_run.json"
    raw.write_text(json.dumps({k: v for k, v in out.items() if k != "meta"}, ensure_ascii=False, indent=1,
                              default=str), encoding="utf-8")
    path = save(report_name, report(out))
    return path


def timed_sql(rep, tid: int, stmts: list[tuple[str, dict]]) -> tuple[float, int]:
    """BEGIN; SET LOCAL pingan.tenant_id (untimed); the statements, all rows fetched (timed); COMMIT."""
    rows = 0
    with rep.conn.cursor() as cur:
        cur.execute(f"SET LOCAL pingan.tenant_id = '{int(tid)}'")
        t0 = time.perf_counter_ns()
        for stmt, params in stmts:
            cur.execute(stmt, params)
            rows = len(cur.fetchall())
        ns = time.perf_counter_ns() - t0
    rep.conn.commit()
    return ns / 1000, rows


def pick_plans(rep, tid: int, samples: list[dict]) -> list[dict]:
    """EXPLAIN (ANALYZE, BUFFERS) of the main query: the median sample of each kind, the slowest
    one in the request, and the one that found the most earlier petitions."""
    picks = []
    for kind in GROUPS:
        mine = sorted((s for s in samples if s["kind"] == kind), key=lambda s: s["sql_main_us"])
        if mine:
            picks.append((f"{kind}: median in-request SQL time", mine[len(mine) // 2]))
    picks.append(("slowest in-request SQL time", max(samples, key=lambda s: s["sql_main_us"])))
    picks.append(("most earlier petitions found", max(samples, key=lambda s: s["earlier_rows"])))
    out = []
    for label, s in picks:
        out.append({"label": label, "kind": s["kind"], "earlier_rows": s["earlier_rows"],
                    "sql_main_us": s["sql_main_us"], "sql": s["main"][0], "params": s["main"][1],
                    "plan": rep.explain(tid, *s["main"]), "people_plan": rep.explain(tid, *s["people"])})
    return out


def top_processes() -> str:
    """The busiest processes of the machine (other work sharing the cores), from ps."""
    try:
        lines = subprocess.run(["ps", "-eo", "pid,pcpu,etime,comm", "--sort=-pcpu"], capture_output=True, text=True,
                               timeout=10).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        return "?"
    return "; ".join(" ".join(x.split()) for x in lines[1:6])


class LoadSampler:
    """/proc/loadavg and the machine's CPU busy share (all processes, /proc/stat) every 5 s while a
    phase runs."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @staticmethod
    def _cpu() -> tuple[int, int]:
        v = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = v[3] + v[4]
        return sum(v) - idle, sum(v)

    def start(self) -> None:
        self.samples, self._stop = [], threading.Event()

        def loop():
            b0, t0 = self._cpu()
            while True:
                stop = self._stop.wait(5)
                b1, t1 = self._cpu()
                if t1 > t0:   # the last, partial interval too: a short phase gets one sample
                    self.samples.append((os.getloadavg()[0], (b1 - b0) / (t1 - t0)))
                b0, t0 = b1, t1
                if stop:
                    return
        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()

    def summary(self) -> dict:
        if not self.samples:
            return {}
        la = [s[0] for s in self.samples]
        cpu = [s[1] for s in self.samples]
        return {"samples": len(la), "load1_min": min(la), "load1_max": max(la), "load1_mean": sum(la) / len(la),
                "cpu_busy_mean": sum(cpu) / len(cpu), "cpu_busy_max": max(cpu)}


# --- the report --------------------------------------------------------------------------------

def _st(samples: list[dict], key: str, kind: str | None = None) -> Stats:
    return summarize([int(s[key] * 1000) for s in samples if (kind is None or s["kind"] == kind)
                      and s.get(key) is not None])


def report(out: dict) -> str:
    meta, samples = out["meta"], out["samples"]
    L: list[str] = []
    a = L.append
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                          cwd=orgtree.ROOT).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "core", "plugins"], capture_output=True, text=True,
                           cwd=orgtree.ROOT).stdout.count("\n")
    a("# Petition registration with repeat detection (issue 4, PET-6)\n")
    if out.get("note"):
        a(f"**{out['note']}**\n")
    a(f"- date: {now_utc()} (run started {out['started']})")
    a(f"- machine: {machine()}")
    a(f"- load: 1-min load average {', '.join(f'{x:.2f}' for x in out['load_before'])} (1/5/15 min) at the start, "
      f"{', '.join(f'{x:.2f}' for x in out['load_after'])} at the end; " + "; ".join(
          f"{label}: 1-min load {d['load1_min']:.2f}…{d['load1_max']:.2f} (mean {d['load1_mean']:.2f}), CPU busy "
          f"{d['cpu_busy_mean']:.0%} mean / {d['cpu_busy_max']:.0%} max of all cores ({d['samples']} samples, 5 s)"
          for label, d in (("API phase", out["load_during_api"]), ("SQL phase", out["load_during_sql"])) if d) +
      " (CPU busy includes this benchmark and its PostgreSQL backend); busiest processes at the start (pid, "
      f"%CPU since start, elapsed, name): {out['top_before']}")
    a(f"- code: HEAD {head} plus {dirty} uncommitted files under core/ and plugins/ (work in progress on the same "
      "tree)")
    a(f"- database `{bench_db_name()}`: {meta['bytes']['database'] / 2**30:.2f} GiB after generation; PostgreSQL "
      "default `shared_buffers` = 128 MB (the data lives in the OS page cache)")
    a(f"- samples: n = {out['n']} registrations after {out['warmup']} warm-up registrations; "
      "time.perf_counter_ns; nearest-rank percentiles")
    a("- API: the real Flask app (`create_app`, PostgreSQL as `pingan_app`, RLS on, audit on) through the Werkzeug "
      "test client, as the county's petition officer (role with `petition.*` and `core.person.*`, on the county root, "
      "personal access token): `POST /api/cases` `{case_type: petition.case, title, content, org_unit_id, "
      "persons: [{person_id, role: petitioner}], details: {form, category, demands}}` → 201. For new people and new "
      "person records `POST /api/persons` runs first (timed separately, not in the figure)")
    a("- `earlier_petitions()`: the module's function timed inside the request (a wrapper installed in the benchmark "
      "process only; the plugin is unchanged): its `flush`, its two SELECTs and the ORM work. *SQL in the request*: "
      "the execute of its SELECTs as timed by `before/after_cursor_execute` (psycopg fetches the result in "
      "`execute`): the first time this petitioner's rows are read. *SQL replayed*: the same statement with the same "
      "parameters through psycopg as `pingan_app` (`BEGIN; SET LOCAL pingan.tenant_id` untimed; the statement, all "
      "rows fetched; `COMMIT` untimed), custom plan, `jit = off` as the app; a second execution, so its pages are "
      "cached")
    a("")
    a("## Commands\n")
    a("```sh")
    a("createdb -h 127.0.0.1 -U postgres pingan_bench_petition")
    a(f".venv/bin/python bench/petition.py generate --petitions {meta['requested']['petitions']} "
      f"--people {meta['requested']['people']}   # seed {meta['seed']}")
    a(f".venv/bin/python bench/petition.py run --n {out['n']} --warmup {out['warmup']}")
    a("```\n")
    _report_data(a, meta)
    a("## Figures\n")
    a("All registrations, then per kind of petitioner. Median / p95 / p99.\n")
    a("series | kind | " + STATS_HEADER)
    a("---|---|---|---|---|---|---|---")
    for key, label in (("api_us", "**POST /api/cases** (whole request)"),
                       ("earlier_fn_us", "earlier_petitions() in the request"),
                       ("sql_main_us", "**main SELECT of earlier_petitions, in the request**"),
                       ("sql_people_us", "petitioners' SELECT of earlier_petitions, in the request"),
                       ("sql_flush_us", "SQL of the session.flush() at the start of earlier_petitions()"),
                       ("sql_all_us", "all SQL of the request (sum of its statements)"),
                       ("replay_main_us", "**main SELECT replayed alone** (psycopg, pingan_app)"),
                       ("replay_both_us", "both SELECTs of earlier_petitions replayed")):
        a(f"{label} | all | {_st(samples, key).row()}")
        for kind in GROUPS:
            if any(s["kind"] == kind for s in samples):
                a(f"{label} | {kind} | {_st(samples, key, kind).row()}")
    a(f"POST /api/persons (before the registration; not in the figures above) | new person or record | "
      f"{_st(samples, 'person_post_us').row()}")
    a("")
    a("Kinds of registration:\n")
    a("kind | what | n | earlier petitions found (median / max) | flagged repeat | with override_reason "
      "(earlier 复核 in the category) | statements per request (median) | of which flushed by earlier_petitions()")
    a("---|---|---|---|---|---|---|---")
    for kind, what in GROUPS.items():
        mine = [s for s in samples if s["kind"] == kind]
        if not mine:
            continue
        rows = sorted(s["earlier_rows"] for s in mine)
        st = sorted(s["statements"] for s in mine)
        fl = sorted(s["flush_statements"] for s in mine)
        a(f"{kind} | {what} | {len(mine)} | {rows[len(rows) // 2]} / {rows[-1]} | "
          f"{sum('repeat' in s['flags'] for s in mine)} | {sum(s['override'] for s in mine)} | {st[len(st) // 2]} | "
          f"{fl[len(fl) // 2]}")
    a("")
    a(f"Round trips of one registration ({GROUPS[out['events_kind']]}):\n")
    a("```\n" + "\n".join(out["events"]) + "\n```\n")
    a("## Plans\n")
    a("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) as `pingan_app` with the tenant bound, custom plan, after the "
      "measurements (cache warm). The statement as the app emits it (parameters of the first plan below):\n")
    p0 = out["plans"][0]
    a("```sql\n" + p0["sql"] + "\n```\n")
    for p in out["plans"]:
        a(f"**{p['label']}** ({p['kind']}, {p['earlier_rows']} earlier petitions, {fmt(p['sql_main_us'])} in the "
          f"request), parameters `{json.dumps(p['params'], ensure_ascii=False, default=str)}`:\n")
        a("```\n" + p["plan"] + "\n```\n")
    a("The petitioners' SELECT (first pick):\n")
    a("```sql\n" + samples[0]["people"][0] + "\n```\n")
    a("```\n" + out["plans"][0]["people_plan"] + "\n```\n")
    return "\n".join(L)


def _report_data(a, meta: dict) -> None:
    c = meta["counts"]
    a("## Data actually generated\n")
    a(f"- {meta['org']['tenants']} tenants, {meta['org']['units']:,} org units (bench/orgtree.py's generator, seed "
      f"{meta['seed']}); `petition` enabled in tenant {meta['tenant_id']} (the largest county, "
      f"{meta['tenant_units']:,} units), which holds all the petitions")
    a(f"- **{meta['petitions']:,} petitions** (`case_record` of type `petition.case` + `petition_case`), created over "
      f"the {YEARS} years before {meta['ref'][:10]} (REF, the day of generation); states: " +
      ", ".join(f"{k[6:]} {v:,}" for k, v in sorted(c.items()) if k.startswith("state_")))
    a(f"- **{c['people']:,} people**, {c['repeat_petitioners']:,} of them with 2–20 petitions; "
      f"**{c['person_records']:,} `person` rows** ({c['duplicate_records_same_id_number']:,} second records with the "
      f"same ID number, {c['duplicate_records_same_name_phone']:,} with the same name and phone but no ID number); "
      f"ID number, phone and address encrypted (AES-GCM), ID number and phone blind-indexed (HMAC), with the core's "
      f"KeyRing")
    ppp = meta["petitions_per_person"]
    a("- petitions per person: " + ", ".join(f"{k}: {v:,}" for k, v in ppp.items()))
    ppr = meta["petitions_per_person_record"]
    a("- `case_person` rows per person record: " + ", ".join(f"{k}: {v:,}" for k, v in ppr.items()))
    a(f"- {c['case_person']:,} `case_person` rows (3 % joint letters / collective visits with 2–5 petitioners), "
      f"{c['case_flag']:,} `case_flag` rows ({c['flagged_repeat']:,} `repeat`); `case_tally` and `case_counter` "
      "consistent; no `case_event` / `case_deadline` rows for the old petitions")
    a("- bytes (table + indexes): " + ", ".join(f"{k} {v / 2**20:.0f} MiB" for k, v in sorted(meta["bytes"].items())
                                               if k != "database"))
    sec = meta["seconds"]
    a(f"- generation: {sec['total'] / 60:.1f} min in all — " + ", ".join(f"{k} {v} s" for k, v in sec.items()
                                                                          if k != "total"))
    a("- index builds and foreign-key validations after the load (s): " +
      ", ".join(f"{k} {v}" for k, v in meta["index_seconds"].items()))
    a("")


def probe(records: int, n: int) -> Path:
    """What-if, rolled back: ``records`` person rows sharing one phone (a village office's number
    written down for many petitioners), then the main SELECT of earlier_petitions for one of them
    (name + phone), before and after an index on (tenant_id, phone_bidx, name)."""
    import psycopg
    import statistics
    meta = load_meta()
    tid, seed = meta["tenant_id"], meta["seed"]
    from core import crypto
    ring = crypto.KeyRing.parse(*keys(seed))
    raw = json.loads(RAW.read_text(encoding="utf-8"))
    sample = next(x for x in raw["samples"] if x["kind"] == "same_name_phone")
    sql, params = sample["main"][0], dict(sample["main"][1])
    rng = random.Random(f"{seed}:probe")
    gen = People(rng)
    phone = "13907450000"
    L = [f"# What-if: {records:,} person records sharing one phone (rolled back)\n", f"- date: {now_utc()}; load "
         f"average {', '.join(f'{x:.2f}' for x in os.getloadavg())}; median of {n} executions as `pingan_app`\n"]
    with psycopg.connect(pg_dsn()) as conn:
        ids = list(_reserve(conn.cursor(), records))
        conn.commit()
        unit = conn.execute("SELECT org_unit_id FROM person WHERE tenant_id = %s LIMIT 1", (tid,)).fetchone()[0]
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO person (tenant_id, id, name, phone, phone_bidx, org_unit_id, created_at, "
                            "updated_at) VALUES (%s, %s, %s, %s, %s, %s, now(), now())",
                            [(tid, i, gen.name(), ring.encrypt(phone), ring.blind_index(phone), unit) for i in ids])
        name = conn.execute("SELECT name FROM person WHERE tenant_id = %s AND id = %s", (tid, ids[0])).fetchone()[0]
        params.update(name_1=name, phone_bidx_1=ring.blind_index(phone), id_2_1=ids[0])
        conn.execute("ANALYZE person")
        conn.execute(f'SET ROLE "{orgtree.APP_ROLE}"')
        conn.execute(f"SET LOCAL pingan.tenant_id = '{int(tid)}'")
        conn.execute("SET LOCAL jit = off")

        def series(label: str) -> None:
            out = []
            for _ in range(n):
                t0 = time.perf_counter_ns()
                conn.execute(sql, params).fetchall()
                out.append(time.perf_counter_ns() - t0)
            plan = "\n".join(r[0] for r in conn.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql, params))
            L.append(f"## {label}: median {fmt(statistics.median(out) / 1000)}, p95 "
                     f"{fmt(sorted(out)[int(0.95 * len(out)) - 1] / 1000)}\n")
            L.append("```\n" + plan + "\n```\n")
            print(L[-2], flush=True)
        series("ix_person_phone (tenant_id, phone_bidx) only — as shipped")
        conn.execute("RESET ROLE")
        conn.execute("CREATE INDEX ix_person_phone_name ON person (tenant_id, phone_bidx, name)")
        conn.execute(f'SET ROLE "{orgtree.APP_ROLE}"')
        series("with CREATE INDEX ix_person_phone_name ON person (tenant_id, phone_bidx, name)")
        conn.rollback()
    path = RESULTS / "petition_probe.md"
    path.write_text("\n".join(L), encoding="utf-8")
    return path


MARKER = "<!-- reading: written by hand, kept when the figures above are regenerated -->"


def save(name: str, text: str) -> Path:
    path = RESULTS / f"{name}.md"
    kept = ""
    if path.exists() and MARKER in path.read_text(encoding="utf-8"):
        kept = path.read_text(encoding="utf-8").split(MARKER, 1)[1]
    return write_result(name, text + "\n" + MARKER + kept)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("generate")
    g.add_argument("--seed", type=int, default=20260105)
    g.add_argument("--petitions", type=int, default=1_000_000)
    g.add_argument("--people", type=int, default=600_000)
    r = sub.add_parser("run")
    r.add_argument("--n", type=int, default=300)
    r.add_argument("--warmup", type=int, default=20)
    r.add_argument("--report", default="petition", help="results/<report>.md and results/<report>_run.json")
    r.add_argument("--note", default=None, help="a line at the top of the report (e.g. an index created by hand)")
    pr = sub.add_parser("probe", help="what-if, rolled back: many person records sharing one phone")
    pr.add_argument("--records", type=int, default=2000)
    pr.add_argument("--n", type=int, default=50)
    a = ap.parse_args()
    bench_db_name()
    if a.cmd == "generate":
        generate(a.seed, a.petitions, a.people)
    elif a.cmd == "probe":
        print(f"wrote {probe(a.records, a.n)}")
    else:
        if not a.report.startswith("petition"):
            raise SystemExit("--report must start with 'petition'")
        print(f"wrote {run(a.n, a.warmup, a.report, a.note)}")


if __name__ == "__main__":
    main()
