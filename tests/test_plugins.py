"""The plugin contract, proven with the example plugin ``pingan-visits`` (issue 2).

The plugin is pip-installed (``scripts/test.sh`` installs ``-e examples/pingan-visits``) and
loaded by the real app through its ``pingan.plugins`` entry point, like any third-party
module. Installed is not enabled: a county switches it on at ``PUT /api/modules/visits``,
and anything that keeps us from reading that switch turns the plugin off (fail closed).
"""
from __future__ import annotations

import ast
import secrets
import shutil
import sys
import time
from datetime import datetime, timedelta, timezone
from importlib.metadata import entry_points

import pluggy
import pytest
from sqlalchemy import event, inspect, select
from sqlalchemy.exc import OperationalError

from core import jobs
from core.app import create_app, pingan
from core.authz import load_grants
from core.models import Tenant, TenantPlugin, User
from core.plugins import PluginHost
from core.request import RequestContext
from core.sdk import Permission, hookimpl
from tests.conftest import DEMO_FOLDER, ROOT, load_tenant

HELLO = "/api/visits/greetings"
PLUGIN_SRC = ROOT / "examples" / "pingan-visits" / "pingan_visits"


def put_module(client, enabled: bool, settings: dict | None = None):
    body: dict = {"enabled": enabled}
    if settings is not None:
        body["settings"] = settings
    return client.put("/api/modules/visits", json=body)


def enable(client, settings: dict | None = None) -> dict:
    r = put_module(client, True, settings)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def greet(client, unit_id: int, recipient: str = "王大爷"):
    return client.post(HELLO, json={"org_unit_id": unit_id, "recipient": recipient})


# --- installed through the entry point -----------------------------------------------------

def test_example_plugin_is_found_through_its_entry_point(app, demo):
    """issue 2: installing the distribution is all it takes for the app to know the plugin."""
    eps = {ep.name: ep.value for ep in entry_points(group="pingan.plugins")}
    assert eps.get("visits") == "pingan_visits"
    host = pingan(app).plugins
    assert "visits" in host.names
    assert host.plugins["visits"].info["title"] == "走访问候（参考模块）"
    assert host.permissions.owner("visits.greeting.read") == "visits"
    assert host.permissions.owner("visits.greeting.manage") == "visits"
    rules = {r.rule for r in app.url_map.iter_rules()}
    assert {HELLO, HELLO + "/<greeting_id>", "/visits/"} <= rules
    assert host.blueprint_owner["visits_api"] == "visits" and host.blueprint_owner["visits_web"] == "visits"
    assert HELLO in app.test_client().get("/api/openapi.json", base_url=f"http://{demo.host}").get_json()["paths"]
    contrib = host.plugins["visits"]
    assert [j.name for j in contrib.jobs] == ["count_greetings"]
    assert [i.key for i in contrib.indicators] == ["visits.greetings_sent"]
    assert [m.endpoint for m in contrib.menu_items] == ["visits_web.index"]
    assert [w.key for w in contrib.widgets] == ["visits.latest"]
    assert {"visits.greeting.read", "visits.greeting.manage", "visits.visit.handle"} <= set(
        host.role_templates()["county_admin"].permissions)


def test_plugin_migration_is_its_own_branch_and_creates_its_tables(app, db):
    """issue 2: ``pingan db upgrade`` ran the plugin's branch; its tables match its models."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from core.db import Base
    from core.migrate import alembic_config, heads

    host = pingan(app).plugins
    assert heads(host)["visits"] == ["visits_0002"] and heads(host)["core"] == ["0019_case_open_unit"]
    rev = ScriptDirectory.from_config(alembic_config(host)).get_revision("visits_0001")
    assert rev.branch_labels == {"visits"} and rev.down_revision is None
    assert rev.dependencies == "0001_core"
    insp = inspect(db.engine)
    assert {"visits_greeting", "visits_tally", "visits_visit"} <= set(insp.get_table_names())
    assert insp.get_pk_constraint("visits_greeting")["constrained_columns"] == ["tenant_id", "id"]
    fks = {tuple(fk["constrained_columns"]): fk["referred_table"] for fk in insp.get_foreign_keys("visits_greeting")}
    assert fks[("tenant_id", "org_unit_id")] == "org_unit"
    assert fks[("tenant_id", "created_by_id")] == "app_user"
    with db.engine.connect() as conn:
        applied = set(conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalars())
        assert "visits_0002" in applied
        drift = [d for d in compare_metadata(MigrationContext.configure(conn), Base.metadata)
                 if "visits_" in repr(d)]
    assert drift == []


def test_example_plugin_imports_only_the_sdk_from_the_core():
    """issue 2: the example shows authors the one stable surface (CKAN's toolkit rule)."""
    allowed = {"flask", "marshmallow", "sqlalchemy", "alembic", "pingan_visits", "__future__"}
    problems = []
    files = sorted(PLUGIN_SRC.rglob("*.py"))
    assert len(files) > 5
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top == "core" and name != "core.sdk":
                    problems.append(f"{path.name}: {name}")
                elif top != "core" and top not in allowed and top not in sys.stdlib_module_names:
                    problems.append(f"{path.name}: {name}")
    assert problems == []


# --- installed is not enabled --------------------------------------------------------------

def test_installed_but_never_enabled_stays_off(app, fresh_tenant, login):
    """issue 2: a plugin on the system does nothing for a county that has not switched it on."""
    t = fresh_tenant
    admin = login(t, "county.admin")
    listed = {m["name"]: m for m in admin.get("/api/modules").get_json()["items"]}
    assert listed["visits"]["enabled"] is False and listed["visits"]["title"] == "走访问候（参考模块）"
    assert admin.get(HELLO).status_code == 404
    assert greet(admin, t.unit("T01D1V1")).status_code == 404
    assert admin.get("/visits/").status_code == 404
    codes = {p["code"] for p in admin.get("/api/permissions").get_json()}
    assert "core.org_unit.read" in codes and not any(c.startswith("visits.") for c in codes)
    assert 'href="/visits/"' not in admin.get("/").get_data(as_text=True)
    # the same user, the same roles: switching it on is the only difference
    enable(admin)
    assert admin.get(HELLO).status_code == 200
    assert admin.get("/visits/").status_code == 200
    codes = {p["code"] for p in admin.get("/api/permissions").get_json()}
    assert {"visits.greeting.read", "visits.greeting.manage"} <= codes
    assert 'href="/visits/"' in admin.get("/").get_data(as_text=True)
    assert 'href="/visits/"' in admin.get("/visits/").get_data(as_text=True)  # the plugin's own page has the menu


def test_enabled_for_one_county_and_not_the_other(app, fresh_tenant, login):
    """issue 2: each county admin switches the module for their own county only."""
    a, b = fresh_tenant, load_tenant(app)
    admin_a, admin_b = login(a, "county.admin"), login(b, "county.admin")
    assert put_module(admin_a, False).status_code == 200
    body = enable(admin_b, {"greeting_prefix": "乡亲们好，", "max_per_day": 5})
    assert body["enabled"] is True and body["settings"] == {"greeting_prefix": "乡亲们好，", "max_per_day": 5}

    r = greet(admin_b, b.unit("T01D1V1"))
    assert r.status_code == 201, r.get_json()
    g = r.get_json()
    assert g["message"] == "乡亲们好，王大爷！" and g["org_unit_id"] == b.unit("T01D1V1")
    assert [x["id"] for x in admin_b.all_items(HELLO)] == [g["id"]]
    assert admin_b.get(f"{HELLO}/{g['id']}").status_code == 200
    assert "乡亲们好，王大爷！" in admin_b.get("/visits/").get_data(as_text=True)

    assert admin_a.get(HELLO).status_code == 404
    assert greet(admin_a, a.unit("T01D1V1")).status_code == 404
    assert admin_a.get("/visits/").status_code == 404
    assert admin_a.get(f"{HELLO}/{g['id']}").status_code == 404

    # switched off: 404 again; switched back on: the data and the settings are still there
    assert put_module(admin_b, False).status_code == 200
    assert admin_b.get(HELLO).status_code == 404
    assert admin_b.get(f"{HELLO}/{g['id']}").status_code == 404
    assert admin_b.get("/visits/").status_code == 404
    assert enable(admin_b)["settings"]["greeting_prefix"] == "乡亲们好，"
    again = admin_b.get(f"{HELLO}/{g['id']}")
    assert again.status_code == 200 and again.get_json() == g


def test_only_a_county_wide_admin_switches_modules(fresh_tenant, login):
    """issue 2: a township admin cannot switch a module on for the whole county."""
    t = fresh_tenant
    township = login(t, "donghu.admin")
    assert put_module(township, True).status_code == 403
    assert login(t, "county.admin").get("/api/modules/visits").get_json()["enabled"] is False


def test_greetings_follow_the_users_subtree_and_the_countys_settings(fresh_tenant, login):
    """issue 2: the plugin scopes with ``scoped``/``get_or_404`` and reads its settings per county.

    rule: ORG-1 — a township sees its villages, not the neighbouring township's.
    Numbers in policy are tenant settings (POLICY-RULES preamble): ``max_per_day`` is one.
    """
    t = fresh_tenant
    admin = login(t, "county.admin")
    enable(admin, {"max_per_day": 3})
    in_donghu = greet(admin, t.unit("T01D1V1"), "张三").get_json()
    in_qingshan = greet(admin, t.unit("T02D1V1"), "李四").get_json()
    assert in_donghu["message"] == "您好，张三！"  # the default prefix filled in

    donghu = login(t, "donghu.admin")
    assert {g["id"] for g in donghu.all_items(HELLO)} == {in_donghu["id"]}
    assert donghu.get(f"{HELLO}/{in_qingshan['id']}").status_code == 404
    assert greet(donghu, t.unit("T02D1V1")).status_code == 404  # not a unit they manage
    assert {g["id"] for g in admin.all_items(f"{HELLO}?under={t.unit('T02')}")} == {in_qingshan["id"]}
    assert donghu.get(f"{HELLO}?under={t.unit('T02')}").status_code == 404
    assert donghu.get(f"{HELLO}/not-a-number").status_code == 404
    assert donghu.post(HELLO, json={"org_unit_id": t.unit("T01D1V2"), "recipient": ""}).status_code == 422
    assert donghu.post(HELLO, json={"org_unit_id": t.unit("T01D1V2"), "recipient": "x", "id": 5}).status_code == 422

    viewer = login(t, "county.viewer")  # the viewer bundle got visits.greeting.read only
    assert len(viewer.all_items(HELLO)) == 2
    assert greet(viewer, t.unit("T01D1V1")).status_code == 403
    assert login(t, "village.cadre").get(HELLO).status_code == 403  # no visits permission at all

    r = greet(donghu, t.unit("T01D1V2"), "王五")
    assert r.status_code == 201, r.get_json()  # third of three today
    r = greet(admin, t.unit("T01D1V3"), "赵六")
    assert r.status_code == 409 and r.get_json()["code"] == "daily_limit_reached"
    enable(admin, {"max_per_day": 4})  # the county raises its limit: effective on the next request
    assert greet(admin, t.unit("T01D1V3"), "赵六").status_code == 201


# --- settings: validated before saving, fail closed after ----------------------------------

def test_invalid_settings_are_rejected_and_nothing_is_saved(fresh_tenant, login, db):
    """issue 2: bad settings answer 422 naming the field; the stored state is untouched."""
    t = fresh_tenant
    admin = login(t, "county.admin")
    for settings, field in (({"max_per_day": 0}, "max_per_day"), ({"max_per_day": "many"}, "max_per_day"),
                            ({"greeting_prefix": ""}, "greeting_prefix"), ({"colour": "red"}, "colour")):
        r = put_module(admin, True, settings)
        assert r.status_code == 422, r.get_json()
        assert field in r.get_json()["errors"]["json"]["settings"]
    with db.transaction(t.id) as s:
        assert s.scalar(select(TenantPlugin).where(TenantPlugin.plugin == "visits")) is None
    assert admin.get(HELLO).status_code == 404

    enable(admin, {"greeting_prefix": "早上好，", "max_per_day": 7})
    assert put_module(admin, False, {"max_per_day": 100000}).status_code == 422
    assert admin.get("/api/modules/visits").get_json()["settings"] == {"greeting_prefix": "早上好，", "max_per_day": 7}
    assert admin.get(HELLO).status_code == 200  # still on: the failed PUT changed nothing


def test_stored_settings_that_no_longer_validate_turn_the_plugin_off(app, fresh_tenant, login, db):
    """issue 2: settings that fail the schema (edited by hand, schema tightened) → plugin off."""
    t = fresh_tenant
    admin = login(t, "county.admin")
    enable(admin)
    assert admin.get(HELLO).status_code == 200
    with db.transaction(t.id) as s:
        row = s.scalar(select(TenantPlugin).where(TenantPlugin.plugin == "visits"))
        row.settings = {"greeting_prefix": "您好，", "max_per_day": -1}
    assert admin.get(HELLO).status_code == 404
    assert admin.get("/visits/").status_code == 404
    with db.transaction(t.id) as s:
        assert "visits" not in pingan(app).plugins.enabled(s, t.id)
    enable(admin, {"max_per_day": 10})  # the county admin repairs them
    assert admin.get(HELLO).status_code == 200


def test_failure_reading_tenant_plugins_fails_closed(app, fresh_tenant, login, db):
    """issue 2: when the switch cannot be read the plugin is off — 404, never on, never 500."""
    t = fresh_tenant
    admin = login(t, "county.admin")
    enable(admin)
    assert admin.get(HELLO).status_code == 200

    def broken(conn, cursor, statement, parameters, context, executemany):
        if "tenant_plugin" in statement and statement.lstrip().upper().startswith("SELECT"):
            raise OperationalError(statement, parameters, Exception("数据库连接中断（测试注入）"))

    event.listen(db.engine, "before_cursor_execute", broken)
    pingan(app).plugins.forget_enabled()  # the web path keeps the switches a few seconds: read them now
    try:
        assert admin.get(HELLO).status_code == 404
        assert admin.get("/visits/").status_code == 404
        with db.transaction(t.id) as s:
            assert pingan(app).plugins.enabled(s, t.id) == {}
    finally:
        event.remove(db.engine, "before_cursor_execute", broken)
    assert admin.get(HELLO).status_code == 200


# --- the scheduler -------------------------------------------------------------------------

def _queued(q) -> list[dict]:
    """(kwargs of) every job waiting in the queue, on either backend."""
    if isinstance(q, jobs.InProcessQueue):
        return [kw for _, kw in list(q._q.queue)]
    return [job.kwargs for job in _jobs(q)]


def _jobs(q) -> list:
    """The jobs waiting in the Redis queue, fetched in one round trip (rq's get_jobs makes one a job)."""
    from rq.job import Job
    return [job for job in Job.fetch_many(q.rq.get_job_ids(), connection=q.redis) if job is not None]


def _run_queued(q, tenants: tuple[int, ...] | None = None) -> None:
    """Run what waits in the queue; with ``tenants``, only their jobs: a tick enqueues the jobs
    of every county the session has made (hundreds by then), which the test has no use for."""
    if tenants is not None:
        _drop_others(q, tenants)
    if isinstance(q, jobs.InProcessQueue):
        q.run_pending()
    else:
        from rq import SimpleWorker
        SimpleWorker([q.rq], connection=q.redis).work(burst=True)


def _drop_others(q, tenants: tuple[int, ...]) -> None:
    if isinstance(q, jobs.InProcessQueue):
        import heapq
        with q._q.mutex:
            q._q.queue[:] = [item for item in q._q.queue if item[1].get("tenant_id") in tenants]
            heapq.heapify(q._q.queue)
        return
    from rq.job import Job
    others = [job for job in _jobs(q) if job.kwargs.get("tenant_id") not in tenants]
    with q.redis.pipeline() as p:  # one round trip for the hundreds of other counties' jobs
        for job in others:
            q.rq.remove(job, pipeline=p)
            p.delete(Job.key_for(job.id), job.dependents_key)
        p.execute()


def _tallies(db, tenant_id: int) -> list[int]:
    from pingan_visits.models import VisitsTally
    with db.transaction(tenant_id) as s:
        return list(s.scalars(select(VisitsTally.greetings).order_by(VisitsTally.id)))


def test_scheduler_runs_the_job_only_where_enabled_once_per_slot(app, fresh_tenant, login, db):
    """issue 2: jobs per enabled county, one per slot, skipped if switched off meanwhile."""
    a, b = fresh_tenant, load_tenant(app)
    admin_b = login(b, "county.admin")
    enable(admin_b)
    assert greet(admin_b, b.unit("T01D1V1")).status_code == 201
    from pingan_visits.models import VisitsGreeting
    with db.transaction(a.id) as s:  # A has data but not the plugin: B's count must not see it
        s.add(VisitsGreeting(org_unit_id=a.unit("T01D1V1"), recipient="甲", message="您好，甲！"))
    state = pingan(app)
    jobs.bind_state(state)
    q = jobs.queue(state.config)
    if not isinstance(q, jobs.InProcessQueue):
        q.rq.empty()  # this test's own Redis database: leftovers of an earlier run would muddle counts
    _run_queued(q)
    ours = (a.id, b.id)
    hour = 3600
    now = (int(time.time()) // hour + secrets.randbelow(10**6) + 10**6) * hour  # a slot no run used before

    assert jobs.tick(state, now) >= 1
    mine = [kw for kw in _queued(q) if kw["tenant_id"] in (a.id, b.id) and kw.get("plugin") == "visits"]
    assert mine == [{"plugin": "visits", "job": "count_greetings", "tenant_id": b.id}]
    assert jobs.tick(state, now + 60) == 0  # same slot: already claimed, nothing enqueued twice
    _run_queued(q, ours)
    assert _tallies(db, b.id) == [1] and _tallies(db, a.id) == []

    assert jobs.tick(state, now + hour) >= 1  # the next slot
    assert greet(admin_b, b.unit("T01D1V2")).status_code == 201
    _run_queued(q, ours)
    assert _tallies(db, b.id) == [1, 2]

    assert jobs.tick(state, now + 2 * hour) >= 1
    assert [kw["tenant_id"] for kw in _queued(q) if kw["tenant_id"] in (a.id, b.id) and kw.get("plugin") == "visits"] \
        == [b.id]
    assert put_module(admin_b, False).status_code == 200  # switched off between enqueue and run
    _run_queued(q, ours)
    assert _tallies(db, b.id) == [1, 2]
    jobs.tick(state, now + 3 * hour)
    assert all(kw["tenant_id"] != b.id for kw in _queued(q) if kw.get("plugin") == "visits")
    _run_queued(q, ours)
    assert _tallies(db, b.id) == [1, 2] and _tallies(db, a.id) == []


# --- start-up checks -----------------------------------------------------------------------

class _Plugin:
    def __init__(self, *codes: str) -> None:
        self.codes = codes

    @hookimpl
    def pingan_plugin_info(self):
        return {"title": "测试模块"}

    @hookimpl
    def pingan_permissions(self):
        return [Permission(c, "测试权限") for c in self.codes]


def test_duplicate_or_foreign_permission_codes_stop_start_up(config):
    """issue 2: a code declared twice, or outside the plugin's prefix, is refused at start-up."""
    with pytest.raises(ValueError, match=r"'visits.greeting.read' declared twice \(by visits and zrogue\)"):
        create_app(config, extra_plugins={"zrogue": _Plugin("visits.greeting.read")})
    with pytest.raises(ValueError, match="declared twice"):
        PluginHost({"dup": _Plugin("dup.thing.read", "dup.thing.read")}, use_entry_points=False)
    with pytest.raises(ValueError, match="declared twice"):
        PluginHost({"dup": _Plugin("core.user.read")}, use_entry_points=False)
    with pytest.raises(ValueError, match="only declare permissions starting with 'rogue.'"):
        PluginHost({"rogue": _Plugin("petition.case.create")}, use_entry_points=False)
    with pytest.raises(ValueError, match="only declare permissions starting with 'rogue.'"):
        PluginHost({"rogue": _Plugin("roguex.thing")}, use_entry_points=False)
    host = PluginHost({"fine": _Plugin("fine.thing.read", "fine.thing.manage")}, use_entry_points=False)
    assert host.permissions.owner("fine.thing.manage") == "fine"


def test_check_pending_catches_a_misspelt_hookimpl():
    """issue 2: ``pingan_permision`` (one s) is not silently ignored."""
    class Misspelt(_Plugin):
        @hookimpl
        def pingan_permision(self):
            return []

    with pytest.raises(pluggy.PluginValidationError, match="pingan_permision"):
        PluginHost({"typo": Misspelt()}, use_entry_points=False)
    assert "typo" in PluginHost({"typo": _Plugin("typo.x.read")}, use_entry_points=False).names


# --- demo data, widget, indicator ----------------------------------------------------------

def test_tenant_folder_enables_the_plugin_with_demo_data_widget_and_indicator(app, db, tmp_path):
    """issue 2: ``[plugins.visits]`` in tenant.toml enables it, validated; demo data, widget and
    indicator answer per subtree (rule: ORG-1)."""
    from core.tenant_config import validate_folder
    from pingan_visits.models import VisitsGreeting

    folder = tmp_path / "county"
    shutil.copytree(DEMO_FOLDER, folder)
    toml = folder / "tenant.toml"
    base = toml.read_text(encoding="utf-8")
    toml.write_text(base + '\n[plugins.visits]\nsettings = { greeting_prefix = "老乡好，", max_per_day = 0 }\n',
                    encoding="utf-8")
    _, issues = validate_folder(folder, pingan(app).plugins)
    assert [str(i) for i in issues] == [f"tenant.toml:plugins.visits.settings.max_per_day: {m}"
                                        for m in ["Must be greater than or equal to 1 and less than or equal to 10000."]]
    toml.write_text(base + '\n[plugins.visits]\nsettings = { greeting_prefix = "老乡好，" }\n', encoding="utf-8")
    t = load_tenant(app, folder=folder, demo=True)

    villages_donghu = [c for c in t.units if c.startswith("T01") and c.count("V") == 1 and "G" not in c and "W" not in c]
    with db.transaction(t.id) as s:
        assert pingan(app).plugins.enabled(s, t.id) == {"visits": {"greeting_prefix": "老乡好，", "max_per_day": 100}}
        greetings = s.scalars(select(VisitsGreeting)).all()
        villages = len([c for c in t.units if c.count("V") == 1 and "G" not in c and "W" not in c])
        assert len(greetings) == villages and all(g.message.startswith("老乡好，") for g in greetings)

        indicator = pingan(app).plugins.plugins["visits"].indicators[0]
        start = datetime.now(timezone.utc) - timedelta(days=1)
        end = start + timedelta(days=2)
        assert indicator.compute(s, t.unit("T01"), start, end) == len(villages_donghu)
        assert indicator.compute(s, t.unit("C"), start, end) == villages
        assert indicator.compute(s, t.unit("T01"), end, end + timedelta(days=1)) == 0

        widget = pingan(app).plugins.plugins["visits"].widgets[0]
        donghu = s.scalar(select(User).where(User.username == "donghu.admin"))
        ctx = RequestContext(tenant=s.get(Tenant, t.id), session=s, user=donghu, grants=load_grants(s, donghu.id))
        shown = widget.render(ctx)
        assert shown["total"] == len(villages_donghu) and shown["latest"].startswith("老乡好，")


def test_dashboard_widgets_follow_enablement_and_permission(app, fresh_tenant, login, monkeypatch):
    """issue 2: a plugin's widget is on the home page and /api/me/dashboard only where its
    county enabled it and the user holds its permission; a failing widget degrades alone."""
    admin, cadre = login(fresh_tenant, "county.admin"), login(fresh_tenant, "village.cadre")
    assert admin.get("/api/me/dashboard").get_json() == []
    assert "widget-visits.latest" not in admin.get("/").get_data(as_text=True)
    enable(admin)
    assert admin.post(HELLO, json={"org_unit_id": fresh_tenant.unit("T01D1V1"), "recipient": "李四"}).status_code == 201
    widgets = admin.get("/api/me/dashboard").get_json()
    assert [w["key"] for w in widgets] == ["visits.latest"] and widgets[0]["data"]["total"] == 1
    assert "widget-visits.latest" in admin.get("/").get_data(as_text=True)
    assert cadre.get("/api/me/dashboard").get_json() == []  # village cadre lacks visits.greeting.read
    widget = pingan(app).plugins.plugins["visits"].widgets[0]
    broken = type(widget)(key=widget.key, title=widget.title, permission=widget.permission,
                          render=lambda ctx: 1 / 0, title_en=widget.title_en, order=widget.order)
    monkeypatch.setattr(pingan(app).plugins.plugins["visits"], "widgets", [broken])
    page = admin.get("/")
    assert page.status_code == 200 and "暂不可用" in page.get_data(as_text=True)
    assert admin.get("/api/me/dashboard").get_json()[0]["ok"] is False


def test_catalog_describes_settings_without_defaults(config, demo):
    """issue 2: a required setting has no default; the module catalog must still answer (it
    answered 500 on marshmallow's ``missing``)."""
    from marshmallow import Schema, fields

    from core.app import create_app
    from core.hookspecs import hookimpl
    from tests.conftest import Client, make_token

    class Strict(Schema):
        county_code = fields.String(required=True, metadata={"title": "区划代码"})

    class StrictPlugin:
        @hookimpl
        def pingan_plugin_info(self):
            return {"title": "严格参数模块"}

        @hookimpl
        def pingan_settings_schema(self):
            return Strict

    other_app = create_app(config, extra_plugins={"strict": StrictPlugin()})
    other_app.testing = True
    token = make_token(other_app, demo, "county.admin")
    r = Client(other_app, demo.host, {"Authorization": f"Bearer {token}"}).get("/api/modules/strict")
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["settings_schema"]["county_code"] == {
        "type": "String", "required": True, "default": None, "title": "区划代码", "description": None}


def test_a_tick_whose_jobs_cannot_be_queued_gives_its_claims_back(app, fresh_tenant, monkeypatch):
    """A queue that fails while a tick queues its jobs (Redis gone mid-tick) must not leave the
    slot claimed with nothing queued: the next tick claims and queues the same jobs."""
    state = pingan(app)
    jobs.bind_state(state)
    q = jobs.queue(state.config)
    now = (int(time.time()) // 3600 + secrets.randbelow(10**6) + 3 * 10**6) * 3600   # a slot no run used before

    def broken(items):
        raise ConnectionError("queue down")
    monkeypatch.setattr(q, "enqueue_many", broken)
    with pytest.raises(ConnectionError):
        jobs.tick(state, now)
    monkeypatch.undo()
    assert jobs.tick(state, now) >= 1              # claimed again: nothing was lost for the slot
    _drop_others(q, ())
