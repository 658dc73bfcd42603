"""The first five minutes (issue 15, item 13): ``pingan demo`` switches every built-in module on
and plays a year of activity into the demo county through the real services; its log-in page
names the demo accounts (and only the demo's does).

The generator runs for a county of its own, with the clock frozen at a fixed time, at a
smaller volume than ``pingan demo``'s (``core.demo_activity.DEFAULT_CASES``).
"""
from __future__ import annotations

import re

import datetime as dt

import pytest
import time_machine
from sqlalchemy import func, select

from core.app import pingan
from core.audit import AuditEntry
from core.cases.models import Case, CaseDeadline, CasePerson, Intake, Supervision
from core.demo_activity import builtin_modules, generate, switch_on_modules
from core.models import Person, TenantPlugin
from tests.conftest import DEMO_FOLDER, DEMO_PASSWORD, Client, load_tenant

END = dt.datetime(2026, 6, 16, 10, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))
VOLUME = 40  # plus the cases laid out on purpose: ~50 in all (pingan demo: 200)


def _run(app):
    with time_machine.travel(END, tick=False):
        county = load_tenant(app)
        state = pingan(app)
        switched = switch_on_modules(state, county.id)
        summary = generate(app, county.id, cases=VOLUME, strict=True)
    return county, switched, summary


@pytest.fixture(scope="module")
def year(app):
    return _run(app)


def test_every_built_in_module_is_switched_on_through_the_audited_service(app, year):
    county, switched, _ = year
    state = pingan(app)
    built_in = {"petition", "mediation", "patrol", "safety", "joint", "keypersons", "village", "scoring"}
    assert set(builtin_modules(state.plugins)) == built_in  # not the example plugin
    assert sorted(switched) == sorted(built_in)
    with state.db.transaction(county.id) as s:
        rows = {r.plugin: r for r in s.scalars(select(TenantPlugin))}
        assert all(rows[name].enabled for name in switched)
        assert "visits" not in rows or not rows["visits"].enabled
        audited = s.scalars(select(AuditEntry.object_id).where(
            AuditEntry.object_type == TenantPlugin.__tablename__)).all()
        assert {str(rows[n].id) for n in switched} <= set(audited)
        assert rows["mediation"].settings["screening"] == [{"level": "township", "cadence": "monthly"}]
    # a second start changes nothing
    assert switch_on_modules(state, county.id) == []


def test_a_year_of_cases_in_every_state(app, year):
    county, _, summary = year
    state = pingan(app)
    assert summary.skipped == []
    for key, ctype in state.plugins.case_types.items():
        if ctype.plugin not in ("petition", "mediation"):
            continue
        missing = [st.key for st in ctype.states if summary.cases[(key, st.key)] == 0]
        assert not missing, f"{key}: no case in {missing}"
    with state.db.transaction(county.id) as s:
        now = END
        overdue = s.scalar(select(func.count()).select_from(Case).where(Case.closed_at.is_(None), Case.due_at < now))
        assert overdue >= 3
        sups = s.scalars(select(Supervision)).all()
        assert sups and {x.kind for x in sups} >= {"supervise"}
        assert any(x.state == "answered" for x in sups)
        several = s.execute(select(CasePerson.case_id, func.count()).group_by(CasePerson.case_id)
                            .having(func.count() >= 2)).all()
        assert len(several) >= 5
        created = s.scalars(select(Case.created_at)).all()
        assert min(created) < END - dt.timedelta(days=300) and max(created) <= END
        assert s.scalar(select(func.count()).select_from(Intake).where(Intake.case_id.is_(None))) >= 3
        from plugins.mediation.models import ScreeningReport
        reports = s.scalars(select(ScreeningReport)).all()
        assert len(reports) >= 30 and any(r.nil for r in reports) and any(not r.nil for r in reports)
        # every resident the generator made is fictional: ID numbers in region 99
        ids = [p.id_number for p in s.scalars(select(Person)) if p.id_number]
        assert ids and all(i.startswith("99") for i in ids)
    assert summary.supervisions == len(sups) and summary.screening_reports == len(reports)


def test_the_same_seed_gives_the_same_year(app, year):
    _, _, first = year
    _, _, second = _run(app)
    assert second.cases == first.cases
    assert (second.intakes, second.supervisions, second.screening_reports, second.acts) == \
        (first.intakes, first.supervisions, first.screening_reports, first.acts)


def test_the_demo_log_in_page_names_the_accounts_and_no_other_does(app, year, monkeypatch):
    from core.cli import _show_demo_accounts
    county, _, _ = year
    state = pingan(app)
    page = lambda: Client(app, county.host).get("/login").get_data(as_text=True)  # noqa: E731
    assert "演示账号" not in page() and DEMO_PASSWORD not in page()  # not the demo: nothing shown
    monkeypatch.setattr(state.config, "extra", dict(state.config.extra))  # undone after the test
    _show_demo_accounts(state, county.slug, DEMO_FOLDER)  # what `pingan demo` does at start
    shown = page()
    assert "演示账号" in shown and shown.count(DEMO_PASSWORD) == 1  # the password once
    for username in ("county.admin", "county.viewer", "donghu.admin", "qingshan.admin", "village.cadre",
                     "village.cadre2", "grid.worker"):
        assert f"<code>{username}</code>" in shown
    # what each may do comes from the enabled modules' case types (titles and permissions)
    lines = {m.group(1): m.group(2) for m in re.finditer(r"(第一网格|全县)：([^<]*)", shown)}
    assert {"矛盾纠纷", "信访事项"} <= set(lines["第一网格"].split("，")[0].split("、"))
    assert lines["第一网格"].endswith("，登记上报")
    assert {"矛盾纠纷", "信访事项", "安全隐患"} <= set(lines["全县"].split("，")[0].split("、"))
    assert lines["全县"].endswith("，只读")
    # another county of the same instance: no list
    other = load_tenant(app)
    assert "演示账号" not in Client(app, other.host).get("/login").get_data(as_text=True)
    # never in production
    monkeypatch.setattr(state.config, "env", "production")
    assert "演示账号" not in page()


def test_the_grid_worker_account_works_in_one_grid(app, year, login):
    county, _, _ = year
    with time_machine.travel(END, tick=False):
        worker = login(county, "grid.worker")
        assert worker.get("/api/me").get_json()["org_unit_id"] == county.unit("T01D1V1W1")
        cases = worker.all_items("/api/cases")
        assert cases and all(c["org_unit_id"] == county.unit("T01D1V1W1") for c in cases)
        assert {c["case_type"] for c in cases} == {"mediation.dispute"}


def test_a_year_the_holiday_calendar_does_not_cover(app):
    """docs/calendar.md: chinese-calendar holds no year after its last; the generator never asks
    it (acts fall Monday to Friday) and the engine counts such limits provisionally."""
    import chinese_calendar
    later = max(d.year for d in chinese_calendar.holidays) + 3
    end = dt.datetime(later, 3, 2, 10, 0, tzinfo=END.tzinfo)
    with time_machine.travel(end, tick=False):
        county = load_tenant(app)
        switch_on_modules(pingan(app), county.id)
        summary = generate(app, county.id, cases=12, strict=True, every_state=False)
    assert summary.skipped == [] and sum(summary.cases.values()) >= 12
    with pingan(app).db.transaction(county.id) as s:
        assert s.scalar(select(func.count()).select_from(CaseDeadline).where(CaseDeadline.provisional.is_(True))) > 0


# --- the core's part is generic: modules play their own year through the hook --------------

def test_the_core_generator_names_no_module(app):
    """The core never imports a plugin nor knows one by name: each module plans its own year
    through ``pingan_demo_activity`` (plugins/<name>/demo.py)."""
    import ast
    from tests.conftest import ROOT
    source = (ROOT / "core" / "demo_activity.py").read_text(encoding="utf-8")
    host = pingan(app).plugins
    names = set(host.plugins) | {key.split(".")[0] for key in host.case_types}
    assert {"petition", "mediation", "visits"} <= names
    # a name that is also the core's own word (the village-affairs module and the level "village")
    # counts only as a module's key in quotes: a case type "village.…" or a table "village_…"
    words = {"village"}
    assert [n for n in sorted(names - words) if n in source.lower()] == []
    assert [n for n in sorted(names & words) if re.search(rf"[\"']{n}[._]", source)] == []
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
    assert not [m for m in imported if m.startswith(("plugins", "pingan_", "importlib"))]
    assert "import_module" not in source


@pytest.fixture
def visits_plays_a_year(app, monkeypatch):
    """The example plugin — a distribution of its own, like any third party's — with the
    ``pingan_demo_activity`` of ``pingan_visits/demo_activity.py`` (added here and registered
    again: pluggy reads a plugin's hooks when it is registered), watched as it plays."""
    from core.sdk import hookimpl
    from pingan_visits import demo_activity
    pm = pingan(app).plugins.pm
    visits = pm.get_plugin("visits")
    seen: dict = {"volume": [], "played": []}
    greet = demo_activity.greet

    def watched(demo, village):
        seen["played"].append((demo.now(), demo.user.username))
        greet(demo, village)

    @hookimpl
    def pingan_demo_activity(demo):
        seen["volume"].append(demo.volume)
        demo_activity.plan(demo)

    monkeypatch.setattr(demo_activity, "greet", watched)
    monkeypatch.setattr(visits, "pingan_demo_activity", pingan_demo_activity, raising=False)
    pm.unregister(name="visits")
    pm.register(visits, name="visits")
    try:
        yield seen
    finally:
        pm.unregister(name="visits")
        monkeypatch.undo()
        pm.register(visits, name="visits")


def test_a_third_party_module_plays_its_own_year(app, login, visits_plays_a_year):
    from pingan_visits.models import VisitsGreeting
    seen = visits_plays_a_year
    with time_machine.travel(END, tick=False):
        county = load_tenant(app)
        r = login(county, "county.admin").put("/api/modules/visits", json={"enabled": True})
        assert r.status_code == 200, r.get_json()
        summary = generate(app, county.id, cases=5, strict=True, every_state=False)
    # the only module on with the hook: called once, with the whole volume
    assert seen["volume"] == [5] and summary.greetings == 5 and summary.skipped == []
    played = [t for t, _ in seen["played"]]
    assert len(played) == 5 and played == sorted(played)  # in time order, the clock moved to each
    assert all(END - dt.timedelta(days=361) < t < END for t in played)
    assert {u for _, u in seen["played"]} <= {"donghu.admin", "qingshan.admin", "county.admin"}
    with pingan(app).db.transaction(county.id) as s:
        rows = s.scalars(select(VisitsGreeting).where(VisitsGreeting.created_by_id.is_not(None))).all()
        assert sorted(r.created_at for r in rows) == played
        # and the core's own share: matters that stayed at the window
        assert s.scalar(select(func.count()).select_from(Intake).where(Intake.case_id.is_(None))) >= 3


def test_the_village_module_plays_its_year(app, year, login):
    # rule: VIL-1 rule: VIL-2 rule: VIL-3 rule: VIL-4 rule: VIL-5 — the demo shows every part of 五事
    county, _, summary = year
    assert summary.skipped == []
    from plugins.village.models import Evaluation, Project, Publication
    from plugins.village.registers import Contact, Hearing
    with pingan(app).db.transaction(county.id) as s:
        states = {p.title: p.state for p in s.scalars(select(Project))}
        assert sorted(states.values()) == sorted(["completed", "completed", "in_progress", "failed", "withdrawn", "passed"])
        failed = s.scalar(select(Project).where(Project.state == "failed"))
        assert failed.votes_for * 100 < failed.approval_pct * failed.present     # under the county's share
        assert {p.stage for p in s.scalars(select(Publication))} == {"decision", "progress", "completion"}
        assert s.scalar(select(func.count()).select_from(Contact)) >= 24
        commitments = [h.commitment_case_id for h in s.scalars(select(Hearing)) if h.commitment_case_id]
        assert commitments and {c.state for c in s.scalars(select(Case).where(Case.id.in_(commitments)))} == {"done"}
        evaluations = s.scalars(select(Evaluation)).all()
        assert len(evaluations) == 6 and [e.passed for e in evaluations].count(False) == 1
        under = next(e for e in evaluations if not e.passed)
        assert s.scalar(select(Case.state).where(Case.id == under.case_id)) == "rectifying"
        village = failed.org_unit_id
    page = login(county, "county.admin").get(f"/village/public/{village}").get_data(as_text=True)
    assert failed.title in page and "未通过" in page


def test_the_key_persons_module_plays_its_year(app, year, login):
    # rule: JNT-4 — key persons followed up through the year, and the rental houses of 一牌三卡五星级
    county, _, summary = year
    assert summary.skipped == []
    from plugins.keypersons.models import Handover, KeyPerson, RentalHouse, RentalRating, RentalTenant, Visit
    with pingan(app).db.transaction(county.id) as s:
        records = s.scalars(select(KeyPerson)).all()
        assert len(records) >= 10 and len({r.category for r in records}) >= 3
        visits = s.scalars(select(Visit)).all()
        assert len(visits) >= 20
        assert any(v.due_on and v.visited_on > v.due_on for v in visits)          # some came late
        assert any(r.next_visit_due and r.next_visit_due < END.date() for r in records)   # the last visit not made
        assert s.scalar(select(func.count()).select_from(Handover)) == 1
        houses = s.scalars(select(RentalHouse)).all()
        assert len(houses) >= 5
        assert s.scalar(select(func.count()).select_from(RentalTenant)) >= len(houses)
        assert s.scalar(select(func.count()).select_from(RentalRating)) >= 1
    town = login(county, "county.admin")
    listed = town.get("/api/keypersons/rental-houses?limit=200").get_json()["items"]
    assert len(listed) == len(houses) and all(h["owner_name"] for h in listed)
    assert town.get("/api/letters?kind=keypersons.rental&limit=200").get_json()["items"]
    assert town.get("/keypersons/rental/").status_code == 200

