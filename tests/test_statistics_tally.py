"""Issue 24, item 3: the statistics and the home page read tallies kept on write, not case rows.

A county lives through a year and more of acts — cases registered on month edges in Beijing
time, accepted on time and late, rejected, closed, reopened, diverted with task limits that
are reported, returned and withdrawn — and then every statistic (counts by type, state, unit
and month; the summary; on-time rates; year on year) for several users, units and periods is
computed twice, from the tallies and by a scan of the rows, and must agree; the tallies equal
a direct count of the rows; the home page runs a constant number of statements however many
units the county has.
"""
from __future__ import annotations

import datetime as dt
import random

import pytest
import time_machine
from sqlalchemy import event, select

from core.app import pingan
from core.authz import load_grants
from core.cases import engine, statistics, tally
from core.cases.models import (Case, CaseLimitTally, CaseMonthTally, CaseTally, CaseTask, CaseTopLimitTally,
                               CaseTopTally)
from core.cases.timeline import Work
from core.context import Actor, acting_as
from core.models import OrgUnit, User
from core.workdays import SHANGHAI
from tests.casework import VISIT, register

UNITS = ("C", "T01", "T01D1", "T01D1V1", "T01D1V1G1", "T01D1V2", "T02", "T03")
NOW = dt.datetime(2026, 3, 17, 10, 0, tzinfo=SHANGHAI)   # a fixed "today": periods cut months at known days


def _work(app, s, county, username: str = "county.admin") -> Work:
    state = pingan(app)
    user = s.scalar(select(User).where(User.username == username))
    return Work(s, state.plugins, state.plugins.enabled(s, county.id), load_grants(s, user.id), user)


def _at(app, db, county, when: dt.datetime, fn) -> None:
    """Run ``fn(work)`` as the county's admin in one transaction with the clock at ``when``."""
    with time_machine.travel(when, tick=False), acting_as(Actor(None, "test")), db.transaction(county.id) as s:
        fn(_work(app, s, county))


def _live(app, db, county, rnd: random.Random, i: int) -> None:
    """One case's life: registered at a random time (often on a month's edge), then acts."""
    back = rnd.randrange(0, 15)
    y, m = NOW.year, NOW.month - back
    while m <= 0:
        y, m = y - 1, m + 12
    day = rnd.choice((1, 1, 2, 10, 15, 27, 28))
    hour = rnd.choice((0, 0, 7, 12, 23, 23))
    at = min(dt.datetime(y, m, day, hour, 30, tzinfo=SHANGHAI), NOW - dt.timedelta(hours=2))
    unit = rnd.choice(UNITS)
    ids: dict[str, int] = {}

    def reg(w: Work) -> None:
        case = engine.register(w, w.types[VISIT], {"title": f"事项{i}", "content": "", "org_unit_id": county.unit(unit),
                                                   "channel": "visit", "details": {"visit_kind": "home"}})
        ids["case"] = case.id
    _at(app, db, county, at, reg)
    t = at

    def step(days: float, fn) -> bool:
        nonlocal t
        t = t + dt.timedelta(days=days)
        if t >= NOW:
            return False

        def run(w: Work) -> None:
            case = w.session.scalar(select(Case).where(Case.id == ids["case"]).with_for_update())
            fn(w, case, w.types[VISIT])
        _at(app, db, county, t, run)
        return True

    if rnd.random() < 0.15:
        step(rnd.choice((1, 9)), lambda w, c, ct: engine.transition(w, c, ct, "reject", {"note": "不予受理"}))
        return
    if rnd.random() < 0.2 or not step(rnd.choice((0.2, 3, 12)), lambda w, c, ct: engine.transition(w, c, ct, "accept", None)):
        return
    roll = rnd.random()
    target = county.unit(rnd.choice(("T01D1V1", "T01D1V2", "T02")))
    limit = {"amount": 3, "unit": "working_days"}

    def divert(w, c, ct):
        engine.divert(w, c, ct, "single", [{"org_unit_id": target, "limit": limit}])

    def joint(w, c, ct):
        engine.divert(w, c, ct, "joint", [{"org_unit_id": county.unit("T01D1V1"), "role": "lead", "limit": limit},
                                          {"org_unit_id": county.unit("T02"), "role": "co", "limit": limit}])

    def task(role: str | None = None):
        def pick(w, c):
            stmt = select(CaseTask).where(CaseTask.case_id == c.id, CaseTask.state == "open")
            if role:
                stmt = stmt.where(CaseTask.role == role)
            return w.session.scalars(stmt.order_by(CaseTask.id)).first()
        return pick

    if roll < 0.25:
        if step(1, divert):
            step(rnd.choice((1, 8)), lambda w, c, ct: engine.finish_task(w, c, ct, task()(w, c), "done", "已办"))
    elif roll < 0.4:
        if step(1, divert):
            step(rnd.choice((2, 9)), lambda w, c, ct: engine.finish_task(w, c, ct, task()(w, c), "returned", "非本单位"))
    elif roll < 0.55:
        if step(1, divert) and step(rnd.choice((1, 7)), divert):   # the first task withdrawn, its limit with it
            step(2, lambda w, c, ct: engine.finish_task(w, c, ct, task()(w, c), "done", "已办"))
    elif roll < 0.7:
        if step(1, joint):
            step(rnd.choice((2, 6)), lambda w, c, ct: engine.cancel_task(w, c, ct, task("co")(w, c), "无需协办"))
    if rnd.random() < 0.6:
        def close(w, c, ct):
            for co in w.session.scalars(select(CaseTask).where(CaseTask.case_id == c.id, CaseTask.role == "co",
                                                               CaseTask.state == "open")):
                engine.cancel_task(w, c, ct, co, "办结前撤回")
            engine.transition(w, c, ct, "close", {"result": "已走访"})
        if step(rnd.choice((2, 20)), close) and rnd.random() < 0.3:
            if step(3, lambda w, c, ct: engine.transition(w, c, ct, "reopen", {"note": "不满意"})):
                step(2, lambda w, c, ct: engine.transition(w, c, ct, "close", {"result": "再次走访"}))


@pytest.fixture
def history(app, db, county):
    rnd = random.Random(20260317)
    for i in range(45):
        _live(app, db, county, rnd, i)
    return county


def _nonzero(rows) -> dict:
    return {k: n for k, n in rows.items() if n}


def test_tallies_equal_a_count_of_the_rows(app, db, history):
    """Every writer keeps the five tallies equal to the rows, and ``tally.rebuild`` agrees."""
    county = history
    with db.transaction(county.id) as s:
        cases = {(u, t, st): n for u, t, st, n in s.execute(select(CaseTally.org_unit_id, CaseTally.case_type,
                                                                  CaseTally.state, CaseTally.n))}
        months = {(u, t, m, st): n for u, t, m, st, n in s.execute(select(
            CaseMonthTally.org_unit_id, CaseMonthTally.case_type, CaseMonthTally.month, CaseMonthTally.state,
            CaseMonthTally.n))}
        limits = {(u, t, m, met): n for u, t, m, met, n in s.execute(select(
            CaseLimitTally.org_unit_id, CaseLimitTally.case_type, CaseLimitTally.month, CaseLimitTally.met,
            CaseLimitTally.n))}
        assert _nonzero(cases) == tally.scan_cases(s, by_month=False)
        assert _nonzero(months) == tally.scan_cases(s)
        assert _nonzero(limits) == tally.scan_limits(s)
        assert _nonzero(_tops(s)) == tally.scan_top(s, tally.scan_cases(s))
        assert _nonzero(_tops(s, limits=True)) == tally.scan_top(s, tally.scan_limits(s))
        assert len({top for (top, *_) in _tops(s)}) >= 3   # the root and townships
        assert len({m for (_, _, m, _) in months}) >= 10 and {met for (*_, met) in limits} == {True, False}
        assert any(t.state == "cancelled" for t in s.scalars(select(CaseTask)))   # withdrawn tasks were there
        tally.rebuild(s)
        assert {tuple(r[:-1]): r[-1] for r in s.execute(select(
            CaseMonthTally.org_unit_id, CaseMonthTally.case_type, CaseMonthTally.month, CaseMonthTally.state,
            CaseMonthTally.n))} == tally.scan_cases(s)
        assert {tuple(r[:-1]): r[-1] for r in s.execute(select(
            CaseLimitTally.org_unit_id, CaseLimitTally.case_type, CaseLimitTally.month, CaseLimitTally.met,
            CaseLimitTally.n))} == tally.scan_limits(s)
        assert _tops(s) == tally.scan_top(s, tally.scan_cases(s))
        assert _tops(s, limits=True) == tally.scan_top(s, tally.scan_limits(s))


def _tops(s, limits: bool = False) -> dict:
    T = CaseTopLimitTally if limits else CaseTopTally
    last = T.met if limits else T.state
    return {(top, t, m, v): n for top, t, m, v, n in s.execute(select(T.top_id, T.case_type, T.month, last, T.n))}


def test_a_unit_moved_to_another_township_takes_its_counts_along(app, db, history):
    """Moving a district from one township to another moves its subtree's counts between the two
    townships' top tallies: the township and county figures still equal the scan."""
    from core import orgtree
    county = history
    with acting_as(Actor(None, "test")), db.transaction(county.id) as s:
        unit = s.scalar(select(OrgUnit).where(OrgUnit.id == county.unit("T01D1")))
        target = s.scalar(select(OrgUnit).where(OrgUnit.id == county.unit("T03")))
        moved = tally.scan_cases(s)
        assert any(u == county.unit("T01D1V1") for (u, *_) in moved)   # it has cases to carry
        orgtree.move_unit(s, unit, target)
    with time_machine.travel(NOW, tick=False), db.transaction(county.id) as s:
        assert _nonzero(_tops(s)) == tally.scan_top(s, tally.scan_cases(s))
        assert _nonzero(_tops(s, limits=True)) == tally.scan_top(s, tally.scan_limits(s))
        w = _work(app, s, county)
        for code in (None, "T01", "T03"):
            unit_id = county.unit(code) if code else None
            for group in ("case_type", "unit", "month"):
                assert statistics.counts(w, group, unit_id, None, D(2025, 6, 15), D(2026, 3, 16)) == \
                    statistics.counts(w, group, unit_id, None, D(2025, 6, 15), D(2026, 3, 16), scan=True)
            assert statistics.on_time(w, "unit", unit_id) == statistics.on_time(w, "unit", unit_id, scan=True)
            assert statistics.summary(w, unit_id) | {"as_of": None} == \
                statistics.summary(w, unit_id, scan=True) | {"as_of": None}
        t03 = statistics.counts(w, "case_type", county.unit("T03"))["total"]
        assert t03 >= sum(n for (u, *_), n in tally.scan_cases(s).items() if u == county.unit("T01D1V1")) > 0


def test_pingan_stats_rebuild_recounts_a_county(app, db, history, config, monkeypatch):
    """The operator's repair: ``pingan stats rebuild --tenant`` puts tallies that drifted (here
    a top unit's counter changed by hand) back to what the rows say."""
    from click.testing import CliRunner

    from core.cli import main as cli
    from core.models import Tenant
    monkeypatch.setenv("PINGAN_DATABASE_URL", config.database_url)
    monkeypatch.setenv("PINGAN_INSTANCE_DIR", str(config.instance_dir))
    with db.transaction(history.id) as s:
        slug = s.scalar(select(Tenant.slug).where(Tenant.id == history.id))
        row = s.scalars(select(CaseTopTally).order_by(CaseTopTally.id)).first()
        row.n += 5
    with db.transaction(history.id) as s:
        assert _nonzero(_tops(s)) != tally.scan_top(s, tally.scan_cases(s))
    out = CliRunner().invoke(cli, ["stats", "rebuild", "--tenant", slug])
    assert out.exit_code == 0 and f"{slug}: tallies recounted" in out.output, out.output
    with db.transaction(history.id) as s:
        assert _tops(s) == tally.scan_top(s, tally.scan_cases(s))
        assert _tops(s, limits=True) == tally.scan_top(s, tally.scan_limits(s))
    assert CliRunner().invoke(cli, ["stats", "rebuild", "--tenant", "no-such-county"]).exit_code != 0


def test_the_migration_backfill_counts_what_the_tallies_count(app, db, history):
    """``0014_case_tally_month`` fills the tallies with the same figures (its SELECTs, run here)."""
    import importlib.util
    from pathlib import Path

    from sqlalchemy import text
    path = Path(__file__).resolve().parent.parent / "core/migrations/versions/0014_case_tally_month.py"
    spec = importlib.util.spec_from_file_location("m0014", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    with db.transaction(history.id) as s:
        pg = s.get_bind().dialect.name == "postgresql"
        got = {(u, t, m, st): n for tid, u, t, m, st, n in s.execute(text(mod.MONTH_TALLY.format(
            month=mod._month("c.created_at", pg)))) if tid == history.id}   # SQLite: every county's rows
        assert got == tally.scan_cases(s)
        got = {(u, t, m, bool(met)): n for tid, u, t, m, met, n in s.execute(text(mod.LIMIT_TALLY.format(
            month=mod._month("d.stopped_at", pg)))) if tid == history.id}
        assert got == tally.scan_limits(s)
    path = path.parent / "0016_case_top_tally.py"   # the top tallies, rolled up from the per-unit ones
    spec = importlib.util.spec_from_file_location("m0016", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    with db.transaction(history.id) as s:
        pg = s.get_bind().dialect.name == "postgresql"
        top = mod.TOP_PG if pg else mod.TOP_SQLITE
        for source, last, scan in (("case_month_tally", "state", tally.scan_cases(s)),
                                   ("case_limit_tally", "met", tally.scan_limits(s))):
            got = {(u, t, m, bool(v) if last == "met" else v): n for tid, u, t, m, v, n in s.execute(text(
                mod.ROLLUP.format(top=top, source=source, last=last))) if tid == history.id and n}
            assert got == tally.scan_top(s, scan)


D = dt.date
PERIODS = [(None, None), (D(2025, 1, 1), D(2026, 3, 17)), (D(2025, 12, 10), D(2026, 3, 16)),
           (D(2026, 2, 3), D(2026, 2, 20)), (D(2026, 2, 1), D(2026, 2, 28)), (D(2025, 11, 28), D(2025, 12, 2)),
           (D(2025, 6, 15), None), (None, D(2025, 10, 9)), (D(2026, 3, 1), D(2026, 3, 17)),
           (D(2026, 3, 17), D(2026, 3, 17)), (D(2026, 1, 31), D(2026, 2, 1)), (D(2026, 2, 2), D(2026, 1, 1)),
           (D(2024, 1, 1), D(2024, 12, 31))]
VIEWS = [("county.admin", (None, "T01", "T01D1", "T01D1V1", "T02")), ("donghu.admin", (None, "T01D1")),
         ("village.cadre", (None, "T01D1V1G1")), ("qingshan.admin", (None,))]


def test_every_statistic_from_the_tallies_equals_the_scan(app, db, history):
    """Counts (type, state, unit, month), summary, on-time rates and year on year: tallies == scan,
    for the county, a township, a district, villages, each over periods cut anywhere in a month."""
    county = history
    with time_machine.travel(NOW, tick=False), db.transaction(county.id) as s:
        for username, units in VIEWS:
            w = _work(app, s, county, username)
            for code in units:
                unit = county.unit(code) if code else None
                assert statistics.scope(w, unit).tallied
                assert statistics.summary(w, unit) | {"as_of": None} == \
                    statistics.summary(w, unit, scan=True) | {"as_of": None}
                for a, b in PERIODS:
                    for group in statistics.COUNT_GROUPS:
                        fast = statistics.counts(w, group, unit, None, a, b)
                        assert fast == statistics.counts(w, group, unit, None, a, b, scan=True), (username, code,
                                                                                                   group, a, b)
                    for group in statistics.RATE_GROUPS:
                        assert statistics.on_time(w, group, unit, None, a, b) == \
                            statistics.on_time(w, group, unit, None, a, b, scan=True), (username, code, group, a, b)
                for year in (2025, 2026):
                    for group in statistics.RATE_GROUPS:
                        assert statistics.yoy(w, year, group, unit) == statistics.yoy(w, year, group, unit, scan=True)
        w = _work(app, s, county)
        total = statistics.counts(w, "case_type")["total"]
        assert total == 45 and statistics.on_time(w, "case_type")["total"]["stopped"] > 10
        assert statistics.counts(w, "case_type", None, VISIT, D(2026, 2, 3), D(2026, 2, 20)) == \
            statistics.counts(w, "case_type", None, VISIT, D(2026, 2, 3), D(2026, 2, 20), scan=True)


def test_split_reads_whole_months_and_the_smaller_side_of_each_edge():
    """A period becomes whole months plus corrections; days after today hold no rows, so
    "1 January to today" reads this month whole and subtracts only the future."""
    m = statistics.split(D(2026, 1, 1), D(2026, 3, 17), on=D(2026, 3, 17))
    assert (m.lo, m.hi, m.tally, m.plus) == ("2026-01", "2026-03", True, [])
    assert m.minus == [statistics._utc(D(2026, 3, 18), D(2026, 3, 31))]
    m = statistics.split(D(2025, 1, 1), D(2025, 3, 10), on=D(2026, 3, 17))      # a past year: the 10 days
    assert (m.lo, m.hi, m.minus) == ("2025-01", "2025-02", []) and m.plus == [statistics._utc(D(2025, 3, 1),
                                                                                             D(2025, 3, 10))]
    m = statistics.split(D(2025, 1, 1), D(2025, 3, 17), on=D(2026, 3, 17))      # … or the 14 days after
    assert (m.lo, m.hi, m.plus) == ("2025-01", "2025-03", []) and m.minus == [statistics._utc(D(2025, 3, 18),
                                                                                             D(2025, 3, 31))]
    m = statistics.split(D(2025, 11, 28), D(2025, 12, 2), on=D(2026, 3, 17))
    assert not m.tally and len(m.plus) == 2
    m = statistics.split(D(2026, 2, 2), D(2026, 2, 27), on=D(2026, 3, 17))     # most of one month
    assert (m.lo, m.hi, len(m.minus), m.plus) == ("2026-02", "2026-02", 2, [])
    assert statistics.split(D(2026, 2, 2), D(2026, 1, 1)) is None
    m = statistics.split(None, None)
    assert (m.lo, m.hi, m.tally, m.plus, m.minus) == (None, None, True, [], [])


def _statements(db):
    seen: list[str] = []

    def note(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)
    event.listen(db.engine, "before_cursor_execute", note)
    return seen, lambda: event.remove(db.engine, "before_cursor_execute", note)


def test_tallied_figures_read_no_case_rows(app, db, history):
    """Counts over whole months, all-time counts by unit and on-time rates over whole months
    read only the tallies and the org tree — no case or limit row."""
    county = history
    seen, stop = _statements(db)
    try:
        with time_machine.travel(NOW, tick=False), db.transaction(county.id) as s:
            w = _work(app, s, county, "donghu.admin")
            del seen[:]
            statistics.counts(w, "month", None, None, D(2025, 4, 1), D(2026, 2, 28))
            statistics.counts(w, "unit")
            statistics.on_time(w, "unit", None, None, D(2025, 1, 1), D(2026, 2, 28))
            statistics.yoy(w, 2025, "unit")
    finally:
        stop()
    assert seen and not [q for q in seen if "case_record" in q or "case_deadline" in q]


def test_the_county_and_its_townships_read_the_top_tallies(app, db, history):
    """The county's figures, a township's and the county's by township read the counters
    rolled up per top unit, not every unit's (a county of 10,000 units: ~140,000 rows a year)."""
    county = history
    seen, stop = _statements(db)
    try:
        with time_machine.travel(NOW, tick=False), db.transaction(county.id) as s:
            w = _work(app, s, county)
            for unit in (None, county.unit("T01")):
                del seen[:]
                statistics.counts(w, "month", unit, None, D(2025, 4, 1), D(2026, 2, 28))
                statistics.counts(w, "state", unit)
                statistics.on_time(w, "case_type", unit, None, D(2025, 1, 1), D(2026, 2, 28))
                statistics.summary(w, unit)
                if unit is None:
                    statistics.yoy(w, 2025, "unit")
                    statistics.on_time(w, "unit", None, None, D(2025, 1, 1), D(2026, 2, 28))
                tallies = [q for q in seen if "_tally" in q]
                assert tallies and all("case_top_tally" in q or "case_top_limit_tally" in q for q in tallies), \
                    [q for q in tallies if "case_top" not in q]
            del seen[:]
            statistics.counts(w, "unit", county.unit("T01"))   # a township's villages: the per-unit rows
            assert any("case_tally" in q for q in seen)
    finally:
        stop()


def _more_units(app, db, county, n: int) -> None:
    from core import orgtree
    with acting_as(Actor(None, "test")), db.transaction(county.id) as s:
        parent = s.scalar(select(OrgUnit).where(OrgUnit.id == county.unit("T01D1V2")))
        for i in range(n):
            unit = orgtree.create_unit(s, parent=parent, name=f"新增第{i}组", level="group", code=f"X{i}")
            s.flush()
            w = _work(app, s, county)
            engine.register(w, w.types[VISIT], {"title": "新组事项", "content": "", "org_unit_id": unit.id,
                                                 "channel": "visit", "details": {"visit_kind": "home"}})


def test_the_home_page_runs_a_constant_number_of_statements(app, db, county, login):
    """The dashboard's statements do not grow with the units of the county or of a township."""
    admin = login(county, "county.admin")
    register(admin, county.unit("T01D1V1"))

    def count(url: str) -> int:
        seen, stop = _statements(db)
        try:
            r = admin.get(url)
        finally:
            stop()
        assert r.status_code == 200
        return len(seen)
    pages = ("/", f"/?unit={county.unit('T01')}")
    [count(p) for p in pages]   # caches warm
    before = [count(p) for p in pages]
    _more_units(app, db, county, 25)
    assert [count(p) for p in pages] == before


def test_the_migration_creates_the_tallies_as_the_models_declare(db):
    """``0014_case_tally_month``, ``0016_case_top_tally``: tables, keys and indexes match the models
    (tenant first in every key)."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import inspect

    from core.db import Base
    insp = inspect(db.engine)
    tables = ("case_month_tally", "case_limit_tally", "case_top_tally", "case_top_limit_tally")
    for table in tables:
        assert insp.get_pk_constraint(table)["constrained_columns"] == ["tenant_id", "id"]
        assert [u["column_names"][0] for u in insp.get_unique_constraints(table)] == ["tenant_id"]
    with db.engine.connect() as conn:
        drift = [d for d in compare_metadata(MigrationContext.configure(conn), Base.metadata)
                 if any(t in repr(d) for t in tables)]
    assert drift == []
