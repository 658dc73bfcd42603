"""Declared registers and the plugin manifest (issue 16, item 4): a throw-away plugin, ``regdemo``,
declared here with ``sdk.Manifest`` and one ``sdk.Register``, loaded into an app of its own,
and every endpoint and the page exercised — scope, pagination, filters, the close act, refused
ids, the export, the audit entries and the Chinese page with its form errors."""
from __future__ import annotations

import io
import re
import types
from datetime import datetime, timezone

import pytest
import time_machine
from marshmallow import fields, validate
from sqlalchemy import BigInteger, String, create_engine, select
from sqlalchemy.orm import Mapped, mapped_column

from core import citus
from core.app import create_app, pingan
from core.audit import AuditEntry
from core.context import Actor, acting_as
from core.db import secure_schema
from core.models import User
from core.sdk import (IdField, Manifest, MenuItem, Permission, Register, RegisterRecord, RoleTemplate, Widget,
                      hookimpl)
from tests.conftest import Client, load_tenant, web_login

READ, WRITE = "regdemo.note.read", "regdemo.note.write"
NOTES_API = "/api/regdemo/notes"
PAGE = "/regdemo/notes/"


class RegdemoNote(RegisterRecord):
    """The throw-away register's records: the standard columns plus these."""

    __tablename__ = "regdemo_note"
    subject: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))
    helper_unit_id: Mapped[int | None] = mapped_column(BigInteger)
    outcome: Mapped[str | None] = mapped_column(String(200))


NOTES = Register(
    name="notes", title=("走访登记", "Visit notes"), model=RegdemoNote, read=READ, write=WRITE,
    fields={"subject": fields.String(required=True, validate=validate.Length(min=1, max=100),
                                     metadata={"title": "事由"}),
            "kind": fields.String(required=True, validate=validate.OneOf(["home", "phone"], labels=["上门走访", "电话回访"]),
                                  metadata={"title": "走访方式"}),
            "helper_unit_id": IdField(metadata={"title": "协助单位"})},
    filters=("kind", "subject"),
    columns=(("org_unit", "所属单位"), ("subject", "事由"), ("kind", "走访方式"), ("status", "状态"),
             ("created_at", "登记时间"), ("outcome", "走访结果")),
    close_fields={"outcome": fields.String(required=True, validate=validate.Length(min=1, max=200),
                                           metadata={"title": "走访结果"})},
    close_title=("办结", "Close"))

MANIFEST = Manifest(
    name="regdemo", title="走访登记（测试）", title_en="Visit notes (test)", description="登记簿测试模块", version="0.1",
    permissions=[Permission(READ, "查看走访登记", "View notes"), Permission(WRITE, "登记走访", "Write notes")],
    roles=[RoleTemplate("county_admin", "县级管理员", "County administrator", (READ, WRITE)),
           RoleTemplate("unit_admin", "单位管理员", "Unit administrator", (READ, WRITE))],
    settings={"daily_limit": fields.Integer(load_default=10, validate=validate.Range(min=1),
                                            metadata={"title": "每日上限"})},
    registers=[NOTES], indicators=[NOTES.indicator("regdemo.notes", "走访登记数", "Visit notes")])


def _plugin() -> types.ModuleType:
    """The plugin as a module: the manifest's hooks plus one written by hand."""
    module = types.ModuleType("regdemo_plugin")

    @hookimpl
    def pingan_dashboard_widgets():
        return [Widget(key="regdemo.count", title="走访登记", permission=READ, render=lambda ctx: "<p>0</p>")]

    module.pingan_dashboard_widgets = pingan_dashboard_widgets
    MANIFEST.hooks(module.__dict__)
    return module


@pytest.fixture(scope="module")
def world(config, app):
    """An app with ``regdemo`` installed, its table made, two counties with it switched on and
    the village cadre of 罗塘村 holding its permissions there."""
    other_app = create_app(config, extra_plugins={"regdemo": _plugin()})
    other_app.testing = True
    owner = create_engine(config.migration_url)
    try:
        with owner.begin() as conn:
            citus.create_new_table(conn, RegdemoNote.__table__)  # on Citus: distributed, as a migration does
            secure_schema(conn, config.db_app_role)
    finally:
        owner.dispose()
    a, b = load_tenant(other_app), load_tenant(other_app)
    clients = {}
    for key, county, user in (("admin", a, "county.admin"), ("cadre", a, "village.cadre"),
                              ("township", a, "donghu.admin"), ("other", b, "county.admin")):
        c, r = web_login(other_app, county, user)
        assert r.status_code == 302
        c.headers["X-CSRF-Token"] = c.get("/api/me").get_json()["csrf_token"]
        clients[key] = c
    for key in ("admin", "other"):
        assert clients[key].put("/api/modules/regdemo", json={"enabled": True}).status_code == 200
    role = clients["admin"].post("/api/roles", json={"key": "regdemo_village", "name": "村走访登记员",
                                                     "permissions": [READ, WRITE]}).get_json()
    with pingan(other_app).db.transaction(a.id) as s:
        cadre_id = s.scalar(select(User.id).where(User.username == "village.cadre"))
    r = clients["admin"].post("/api/role-assignments", json={"user_id": cadre_id, "role_id": role["id"],
                                                             "org_unit_id": a.unit("T01D1V1")})
    assert r.status_code == 201, r.get_json()
    c, _ = web_login(other_app, a, "village.cadre")  # signed in again: grants are read at sign-in
    c.headers["X-CSRF-Token"] = c.get("/api/me").get_json()["csrf_token"]
    clients["cadre"] = c
    return types.SimpleNamespace(app=other_app, a=a, b=b, **clients)


def _note(client: Client, unit: int, subject: str = "走访王大爷", kind: str = "home", **extra) -> dict:
    r = client.post(NOTES_API, json={"org_unit_id": unit, "subject": subject, "kind": kind, **extra})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


# --- the manifest -------------------------------------------------------------------------------

def test_the_manifest_contributes_its_hooks_beside_the_modules_own(world):
    c = pingan(world.app).plugins.plugins["regdemo"]
    assert c.info == {"title": "走访登记（测试）", "title_en": "Visit notes (test)", "description": "登记簿测试模块",
                      "version": "0.1"}
    assert c.settings_schema().load({}) == {"daily_limit": 10}
    assert [b.name for b in c.api_blueprints] == ["regdemo_notes_api"]
    assert [b.name for b in c.web_blueprints] == ["regdemo_notes_web"]
    assert [(m.endpoint, m.title, m.permission) for m in c.menu_items] == [("regdemo_notes_web.index", "走访登记", READ)]
    assert [i.key for i in c.indicators] == ["regdemo.notes"]
    assert [w.key for w in c.widgets] == ["regdemo.count"]  # the module's own hook, registered with the manifest's
    assert {READ, WRITE} <= set(pingan(world.app).plugins.role_templates()["county_admin"].permissions)
    assert c.audit_labels.object_types["regdemo_note"] == ("走访登记", "Visit notes")
    assert c.audit_labels.fields["regdemo_note.subject"] == ("事由", "事由")
    assert c.audit_labels.values["regdemo_note.kind"] == {"home": "上门走访", "phone": "电话回访"}
    spec = world.admin.get("/api/openapi.json").get_json()
    assert {"/api/regdemo/notes", "/api/regdemo/notes/{record_id}", "/api/regdemo/notes/{record_id}/close",
            "/api/regdemo/notes/export"} <= set(spec["paths"])
    assert {"RegdemoNotesCreate", "RegdemoNotesRecord", "RegdemoNotesClose"} <= set(spec["components"]["schemas"])


def test_a_hook_declared_twice_stops_the_import():
    namespace = {"pingan_permissions": lambda: []}
    with pytest.raises(ValueError, match="pingan_permissions is both in the manifest"):
        MANIFEST.hooks(namespace)


def test_a_register_refuses_a_declaration_that_does_not_fit_its_model():
    with pytest.raises(ValueError, match="not a column"):
        Register(name="bad", title="坏", model=RegdemoNote, read=READ, write=WRITE, columns=(("nope", "无"),))
    with pytest.raises(ValueError, match="RegisterRecord"):
        Register(name="bad", title="坏", model=User, read=READ, write=WRITE)


def test_a_count_indicator_counts_the_subtree_in_the_period(world):
    admin, a = world.admin, world.a
    with time_machine.travel(datetime(2026, 3, 2, 3, tzinfo=timezone.utc)):
        _note(admin, a.unit("T02"), "青山乡的登记")
        _note(admin, a.unit("T01D1V2"), "郭岭村的登记")
    compute = pingan(world.app).plugins.plugins["regdemo"].indicators[0].compute
    with acting_as(Actor(None, "test")), pingan(world.app).db.transaction(a.id) as s:
        start, end = datetime(2026, 3, 1, tzinfo=timezone.utc), datetime(2026, 3, 3, tzinfo=timezone.utc)
        assert compute(s, a.unit("T02"), start, end) == 1.0
        assert compute(s, a.unit("C"), start, end) == 2.0
        assert compute(s, a.unit("T01D1V1"), start, end) == 0.0


# --- the API --------------------------------------------------------------------------------------

def test_create_show_and_close_within_scope(world):
    admin, cadre, other, a = world.admin, world.cadre, world.other, world.a
    mine = _note(cadre, a.unit("T01D1V1"), "罗塘村走访")
    assert mine["org_unit_name"] == "罗塘村" and mine["status"] == "open" and mine["closed_at"] is None
    sibling = _note(admin, a.unit("T01D1V2"), "郭岭村走访")
    ids = {n["id"] for n in cadre.all_items(NOTES_API)}
    assert mine["id"] in ids and sibling["id"] not in ids  # a village officer sees their village only
    assert cadre.get(f"{NOTES_API}/{mine['id']}").get_json()["subject"] == "罗塘村走访"
    assert cadre.get(f"{NOTES_API}/{sibling['id']}").status_code == 404
    assert other.get(f"{NOTES_API}/{mine['id']}").status_code == 404  # another county: the same 404
    assert other.post(f"{NOTES_API}/{mine['id']}/close", json={"outcome": "已走访"}).status_code == 404
    assert cadre.post(f"{NOTES_API}/{sibling['id']}/close", json={"outcome": "已走访"}).status_code == 404
    assert cadre.get(f"{NOTES_API}/99999999999").status_code == 404
    assert cadre.get(f"{NOTES_API}/abc").status_code == 404
    r = cadre.post(f"{NOTES_API}/{mine['id']}/close", json={})
    assert r.status_code == 422 and "outcome" in r.get_json()["errors"]["json"]
    r = cadre.post(f"{NOTES_API}/{mine['id']}/close", json={"outcome": "老人身体健康"})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["status"] == "closed" and r.get_json()["outcome"] == "老人身体健康"
    r = cadre.post(f"{NOTES_API}/{mine['id']}/close", json={"outcome": "再办结一次"})
    assert r.status_code == 409 and r.get_json()["code"] == "already_closed"
    assert admin.get(f"{NOTES_API}/{mine['id']}").get_json()["outcome"] == "老人身体健康"  # the township and county see it


def test_every_unit_id_of_a_write_is_checked(world):
    admin, cadre, other, a, b = world.admin, world.cadre, world.other, world.a, world.b
    for unit in (a.unit("T01D1V2"), a.unit("T01"), b.unit("T01D1V1"), 99999999999):
        r = cadre.post(NOTES_API, json={"org_unit_id": unit, "subject": "越权", "kind": "home"})
        assert r.status_code == 404 and r.get_json()["code"] == "unit_not_found"
        assert "org_unit_id" in r.get_json()["errors"]["json"]
    r = cadre.post(NOTES_API, json={"org_unit_id": a.unit("T01D1V1"), "subject": "协助", "kind": "home",
                                    "helper_unit_id": a.unit("T01D1V2")})
    assert r.status_code == 404 and "helper_unit_id" in r.get_json()["errors"]["json"]
    assert _note(cadre, a.unit("T01D1V1"), "本村协助", helper_unit_id=a.unit("T01D1V1"))["helper_unit_id"] \
        == a.unit("T01D1V1")
    r = cadre.post(NOTES_API, json={"org_unit_id": a.unit("T01D1V1"), "kind": "home"})
    assert r.status_code == 422 and "subject" in r.get_json()["errors"]["json"]
    r = cadre.post(NOTES_API, json={"org_unit_id": a.unit("T01D1V1"), "subject": "x", "kind": "mail"})
    assert r.status_code == 422 and "kind" in r.get_json()["errors"]["json"]
    r = cadre.post(NOTES_API, json={"org_unit_id": a.unit("T01D1V1"), "subject": "x", "kind": "home", "closed_at": "2026-01-01T00:00:00Z"})
    assert r.status_code == 422 and "closed_at" in r.get_json()["errors"]["json"]  # no mass assignment
    assert other.post(NOTES_API, json={"org_unit_id": a.unit("T01D1V1"), "subject": "x", "kind": "home"}).status_code == 404
    assert admin.get(NOTES_API + "?under=" + str(b.unit("T01"))).status_code == 404
    assert cadre.get(NOTES_API + "?under=" + str(a.unit("T01D1V2"))).status_code == 404


def test_lists_page_and_filter(world):
    admin = world.admin
    county = load_tenant(world.app)
    c, _ = web_login(world.app, county, "county.admin")
    c.headers["X-CSRF-Token"] = c.get("/api/me").get_json()["csrf_token"]
    assert c.put("/api/modules/regdemo", json={"enabled": True}).status_code == 200
    made = []
    for day, unit, kind, subject in ((1, "T01D1V1", "home", "甲"), (2, "T01D1V2", "phone", "乙"),
                                     (3, "T01D1V2", "home", "丙"), (4, "T02", "phone", "丁"), (5, "T01D1V1", "home", "甲")):
        # 08:30 Beijing time is 00:30 UTC: the day is the local day
        with time_machine.travel(datetime(2026, 3, day, 0, 30, tzinfo=timezone.utc)):
            made.append(_note(c, county.unit(unit), subject, kind))
    c.post(f"{NOTES_API}/{made[1]['id']}/close", json={"outcome": "好"})
    first = c.get(NOTES_API + "?limit=2").get_json()
    assert [n["id"] for n in first["items"]] == [made[4]["id"], made[3]["id"]] and first["next_cursor"]
    second = c.get(NOTES_API + f"?limit=2&cursor={first['next_cursor']}").get_json()
    assert [n["id"] for n in second["items"]] == [made[2]["id"], made[1]["id"]]
    assert [n["id"] for n in c.all_items(NOTES_API + "?sort=id")] == [n["id"] for n in made]

    def ids(query: str) -> list[int]:
        return sorted(made.index(next(m for m in made if m["id"] == n["id"])) for n in c.all_items(f"{NOTES_API}?{query}"))
    assert ids("status=closed") == [1] and ids("status=open") == [0, 2, 3, 4]
    assert ids("kind=phone") == [1, 3] and ids("subject=甲") == [0, 4]
    assert ids(f"under={county.unit('T01D1V2')}") == [1, 2] and ids(f"under={county.unit('T01')}") == [0, 1, 2, 4]
    assert ids("created_from=2026-03-02&created_to=2026-03-04") == [1, 2, 3]
    assert ids("created_from=2026-03-05") == [4]
    r = c.get(NOTES_API + "?created_from=2026-03-05&created_to=2026-03-01")
    assert r.status_code == 422 and "created_to" in r.get_json()["errors"]["query"]
    for bad in ("status=gone", "kind=mail", "limit=0", "cursor=%%%", "sort=subject", "created_from=yesterday"):
        r = c.get(f"{NOTES_API}?{bad}")
        assert r.status_code == 422, bad
        assert r.get_json()["code"] and r.get_json()["errors"], bad
    assert not {n["id"] for n in admin.all_items(NOTES_API)} & {m["id"] for m in made}  # another county's records


def test_the_export_is_the_filtered_list_in_chinese_with_text_kept_text(world):
    from openpyxl import load_workbook
    admin, a = world.admin, world.a
    evil = _note(admin, a.unit("T01D1V1"), '=HYPERLINK("http://x","点我")', "phone")
    _note(admin, a.unit("T02"), "青山乡导出", "home")
    r = world.cadre.get(f"{NOTES_API}/export?kind=phone")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    assert "attachment" in r.headers["Content-Disposition"] and "no-store" in r.headers["Cache-Control"]
    ws = load_workbook(io.BytesIO(r.data)).active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0] == ("所属单位", "事由", "走访方式", "状态", "登记时间", "走访结果")
    subjects = [row[1] for row in rows[1:]]
    assert '=HYPERLINK("http://x","点我")' in subjects and "青山乡导出" not in subjects  # scope and filter
    line = next(row for row in ws.iter_rows(min_row=2) if row[1].value == evil["subject"])
    assert line[1].data_type == "s" and line[0].value == "罗塘村" and line[2].value == "电话回访" and line[3].value == "在办"
    assert world.cadre.get(f"{NOTES_API}/export?under={a.unit('T02')}").status_code == 404


def test_creating_and_closing_are_audited_with_words(world):
    admin, a = world.admin, world.a
    note = _note(admin, a.unit("T01D1V1"), "审计走访")
    admin.post(f"{NOTES_API}/{note['id']}/close", json={"outcome": "已办"})
    with pingan(world.app).db.transaction(a.id) as s:
        entries = s.scalars(select(AuditEntry).where(AuditEntry.object_type == "regdemo_note",
                                                     AuditEntry.object_id == str(note["id"]))
                            .order_by(AuditEntry.id)).all()
    assert [e.action for e in entries] == ["create", "update"]
    assert entries[0].changes["subject"] == [None, "审计走访"] and entries[0].actor == "user:county.admin"
    assert entries[1].changes["outcome"] == [None, "已办"] and entries[1].changes["closed_at"][1]
    page = admin.get("/admin/audit").get_data(as_text=True)
    assert "走访登记" in page and "事由" in page and "走访结果" in page and ">regdemo_note<" not in page


# --- the page ---------------------------------------------------------------------------------------

def test_the_page_is_chinese_scoped_and_in_the_menu(world):
    cadre, a = world.cadre, world.a
    _note(cadre, a.unit("T01D1V1"), "页面上的走访", "phone")
    _note(world.admin, a.unit("T01D1V2"), "郭岭村不显示")
    r = cadre.get(PAGE)
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    assert f'href="{PAGE}"' in cadre.get("/").get_data(as_text=True)  # the menu item
    for words in ("走访登记", "所属单位", "事由", "走访方式", "登记时间", "页面上的走访", "电话回访", "在办", "办结",
                  "导出 Excel", "筛选", "登记日期起"):
        assert words in html, words
    assert "郭岭村不显示" not in html
    for raw in ("org_unit_id<", ">phone<", ">open<", "regdemo.", "None", "undefined"):
        assert raw not in html, raw
    units = re.search(r'<select id="org_unit_id".*?</select>', html, re.S).group(0)
    assert "罗塘村" in units and "郭岭村" not in units
    assert 'name="viewport"' in html and 'class="list"' in html  # the phone layout: the list scrolls in itself
    english = cadre.get(PAGE, headers={"Cookie": "lang=en"})
    assert english.status_code == 200


def test_the_page_filters_with_real_controls(world):
    cadre, a = world.cadre, world.a
    _note(cadre, a.unit("T01D1V1"), "只在电话里", "phone")
    _note(cadre, a.unit("T01D1V1"), "只在家里", "home")
    html = cadre.get(PAGE + "?kind=phone&status=open").get_data(as_text=True)
    assert "只在电话里" in html and "只在家里" not in html
    assert re.search(r'<select id="filter-kind" name="kind"[^>]*>.*?<option value="phone" selected>电话回访', html, re.S)
    assert re.search(r'<select id="filter-kind" name="kind"[^>]*><option value="">全部</option>', html)  # a filter left open: all
    assert 'href="/api/regdemo/notes/export?kind=phone&amp;status=open"' in html
    bad = cadre.get(PAGE + "?created_from=昨天").get_data(as_text=True)
    assert 'id="created_from-error"' in bad and "格式不正确" in bad
    far = cadre.get(PAGE + "?created_to=9999-12-31")
    assert far.status_code == 200 and 'id="created_to-error"' in far.get_data(as_text=True)
    assert cadre.get(NOTES_API + "?created_to=9999-12-31").status_code == 422


def test_a_refused_form_keeps_what_was_typed_and_names_the_field(world):
    cadre, a = world.cadre, world.a
    r = cadre.post(PAGE, data={"org_unit_id": str(a.unit("T01D1V1")), "kind": "phone", "subject": ""})
    html = r.get_data(as_text=True)
    assert r.status_code == 422
    assert 'id="subject-error"' in html and "必填" in html and 'aria-invalid="true"' in html
    assert '<option value="phone" selected>' in html  # what was chosen is kept
    r = cadre.post(PAGE, data={"org_unit_id": str(a.unit("T01D1V2")), "kind": "home", "subject": "越权的登记"})
    html = r.get_data(as_text=True)
    assert r.status_code == 404 and 'id="org_unit_id-error"' in html and 'value="越权的登记"' in html
    r = cadre.post(PAGE, data={"org_unit_id": str(a.unit("T01D1V1")), "kind": "home", "subject": "从页面登记"})
    assert r.status_code == 302 and "done=created" in r.headers["Location"]
    page = cadre.get(r.headers["Location"]).get_data(as_text=True)
    assert "从页面登记" in page and "已登记" in page
    note = next(n for n in cadre.all_items(NOTES_API) if n["subject"] == "从页面登记")
    r = cadre.post(f"{PAGE}{note['id']}/close", data={})
    assert r.status_code == 422 and f'id="close-{note["id"]}-error"' in r.get_data(as_text=True)
    r = cadre.post(f"{PAGE}{note['id']}/close", data={"outcome": "群众满意"})
    assert r.status_code == 302 and "done=closed" in r.headers["Location"]
    r = cadre.post(f"{PAGE}{note['id']}/close", data={"outcome": "再次办结"})
    assert r.status_code == 409 and "已于" in r.get_data(as_text=True)


def test_a_module_switched_off_takes_its_register_away(world):
    county = load_tenant(world.app)
    c, _ = web_login(world.app, county, "county.admin")
    assert c.get(NOTES_API).status_code == 404 and c.get(PAGE).status_code == 404
    assert f'href="{PAGE}"' not in c.get("/").get_data(as_text=True)


def test_the_kits_isolation_matrix_finds_a_registers_table_by_its_blueprint(world):
    """A register named otherwise than its table (``calls`` over ``regdemo_note``) is placed by the
    blueprint the core built for it, not by a guess from the path."""
    from types import SimpleNamespace
    from core.testing.isolation import guess_id_tables
    built = SimpleNamespace(blueprints={"regdemo_calls_api": SimpleNamespace(url_prefix="/api/regdemo/calls",
                                                                              pingan_table="regdemo_note")})
    rule = SimpleNamespace(rule="/api/regdemo/calls/<int:record_id>/close", arguments={"record_id"})
    assert guess_id_tables(built, "regdemo", [rule]) == {rule.rule: "regdemo_note"}
    assert guess_id_tables(SimpleNamespace(blueprints={}), "regdemo", [rule]) == {}   # a guess would miss it
    real = next(bp for bp in world.app.blueprints.values() if bp.name == "regdemo_notes_api")
    assert real.pingan_table == "regdemo_note"
