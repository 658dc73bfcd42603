"""Every marshmallow field type a plugin's settings may use is a real control (issue 16, item 5):
a throw-away plugin ``kinds`` whose schema has one setting of each type, loaded into a real app
next to the built-in modules. Its page shows no JSON and Chinese labels, a filled form saves and
comes back as typed, a wrong value is refused at its field, row or cell with everything typed
kept, a setting no control fits is shown in words and kept on save (and its author warned at
start-up), and ``GET /api/modules`` is a page like every list, each field with its real default."""
from __future__ import annotations

import enum
import logging
import re
from datetime import date
from decimal import Decimal

import pytest
from marshmallow import RAISE, Schema, fields, validate

from core.hookspecs import hookimpl
from core.web.admin import settings_form as sf
from tests.conftest import TenantInfo, load_tenant, web_login
from tests.test_settings_controls import _form_post, cell_error

CJK = re.compile(r"[\u4e00-\u9fff]")


class Shift(enum.Enum):
    DAY = "day"
    NIGHT = "night"


class Item(Schema):
    class Meta:
        unknown = RAISE
    name = fields.String(required=True, validate=validate.Length(min=1, max=10), metadata={"title": "名称"})
    count = fields.Integer(validate=validate.Range(min=0, max=100), metadata={"title": "数量"})
    rate = fields.Float(validate=validate.Range(min=0, max=1), metadata={"title": "比例"})
    on = fields.Boolean(metadata={"title": "启用"})
    kind = fields.String(validate=validate.OneOf(["a", "b"], labels=["甲类", "乙类"]), metadata={"title": "类别"})
    day = fields.Date(metadata={"title": "日期"})


class Contact(Schema):
    class Meta:
        unknown = RAISE
    phone = fields.String(validate=validate.Length(min=3, max=20), metadata={"title": "值班电话"})
    hours = fields.Integer(load_default=8, validate=validate.Range(min=1, max=24), metadata={"title": "值班时长（小时）"})


class KindsSettings(Schema):
    class Meta:
        unknown = RAISE
    greeting = fields.String(load_default="示例", validate=validate.Length(min=1, max=20),
                             metadata={"title": "问候语", "title_en": "Greeting", "description": "显示在首页"})
    level = fields.String(load_default="county", validate=validate.OneOf(["county", "township"], labels=["县级", "乡镇级"]),
                          metadata={"title": "层级"})
    count = fields.Integer(load_default=3, validate=validate.Range(min=1, max=10), metadata={"title": "提醒次数"})
    ratio = fields.Float(load_default=0.5, validate=validate.Range(min=0, max=1), metadata={"title": "达标比例"})
    budget = fields.Decimal(load_default=Decimal("100.50"), places=2, validate=validate.Range(min=0, max=10000),
                            metadata={"title": "预算（元）"})
    active = fields.Boolean(load_default=True, metadata={"title": "启用提醒"})
    shift = fields.Enum(Shift, load_default=Shift.DAY, metadata={"title": "班次", "labels": {"DAY": "白班", "NIGHT": "夜班"}})
    start = fields.Date(load_default=lambda: date(2026, 1, 1), metadata={"title": "起始日期"})
    words = fields.List(fields.String(validate=validate.Length(min=1, max=10)), load_default=list,
                        metadata={"title": "关键词"})
    days = fields.List(fields.Integer(validate=validate.Range(min=1, max=99)), load_default=lambda: [1, 2],
                       metadata={"title": "提前提醒天数"})
    items = fields.List(fields.Nested(Item), load_default=list, metadata={"title": "明细"})
    extras = fields.Nested(Item, many=True, load_default=list, metadata={"title": "附表"})
    weights = fields.Dict(keys=fields.String(), values=fields.Integer(validate=validate.Range(min=0, max=100)),
                          load_default=dict, metadata={"title": "各层级权重", "key_title": "层级", "value_title": "权重",
                                                       "labels": {"village": "村（社区）", "township": "乡镇（街道）"}})
    contact = fields.Nested(Contact, load_default=lambda: {"phone": "0000", "hours": 8}, metadata={"title": "联系方式"})
    legacy = fields.Raw(load_default=None, allow_none=True, metadata={"title": "旧版参数"})


class KindsPlugin:
    @hookimpl
    def pingan_plugin_info(self):
        return {"title": "参数类型示例"}

    @hookimpl
    def pingan_settings_schema(self):
        return KindsSettings


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(record.getMessage())


@pytest.fixture(scope="module")
def kinds_app(config, app):
    """An app with the built-in modules and ``kinds``; the start-up warnings it logged."""
    from core.app import create_app
    records = _Records()
    logger = logging.getLogger("pingan.plugins")
    logger.addHandler(records)
    try:
        made = create_app(config, extra_plugins={"kinds": KindsPlugin()})
    finally:
        logger.removeHandler(records)
    made.testing = True
    return made, records.lines


@pytest.fixture
def kinds(kinds_app):
    """(app, county, signed-in county admin) — a county of its own."""
    made, _ = kinds_app
    county: TenantInfo = load_tenant(made)
    client, r = web_login(made, county, "county.admin")
    assert r.status_code == 302
    client.headers["X-CSRF-Token"] = client.get("/api/me").get_json()["csrf_token"]
    return made, county, client


def put(form, values: dict) -> None:
    """Type into the form: each value replaces what the input held."""
    for key, value in values.items():
        form[key] = value


SOURCES = {"org_levels": [], "network_roles": [], "_work": None}


# --- the generator -------------------------------------------------------------------------------

def test_each_field_type_gets_its_control_and_only_raw_is_unsupported():
    controls = {f["name"]: f for f in sf.controls(KindsSettings, SOURCES)}
    assert {n: f["kind"] for n, f in controls.items()} == {
        "greeting": "text", "level": "select", "count": "integer", "ratio": "number", "budget": "number",
        "active": "boolean", "shift": "select", "start": "date", "words": "strings", "days": "strings", "items": "rows",
        "extras": "rows", "weights": "table", "contact": "group", "legacy": "unsupported"}
    assert controls["level"]["choices"] == [("county", "县级"), ("township", "乡镇级")]
    assert (controls["count"]["min"], controls["count"]["max"]) == (1, 10)
    assert controls["shift"]["choices"] == [("DAY", "白班"), ("NIGHT", "夜班")] and controls["shift"]["default"] == "白班"
    assert controls["start"]["input_type"] == "date" and controls["days"]["entry"]["kind"] == "integer"
    assert [c["kind"] for c in controls["items"]["columns"]] == [
        "text", "integer", "number", "boolean", "select", "date"]
    assert controls["weights"]["key"]["choices"] == [("village", "村（社区）"), ("township", "乡镇（街道）")]
    assert [c["name"] for c in controls["contact"]["children"]] == ["contact.phone", "contact.hours"]
    assert sf.unsupported(KindsSettings) == ["legacy (Raw)"]
    for f in sf.every(list(controls.values())):
        assert CJK.search(f["title"]), f["name"]


def test_the_author_is_warned_at_start_up_of_a_setting_without_a_control(kinds_app):
    _, lines = kinds_app
    assert any(line.startswith("plugin kinds: settings without a form control") and "legacy (Raw)" in line
               for line in lines), lines
    assert not any("plugin petition" in line or "plugin mediation" in line for line in lines)


# --- the page ------------------------------------------------------------------------------------

def test_the_page_has_a_labelled_control_for_every_type_and_no_json(kinds):
    _, _, admin = kinds
    assert admin.put("/api/modules/kinds", json={"enabled": True, "settings": {"legacy": {"版本": 1}}}).status_code == 200
    page = admin.get("/admin/modules/kinds").get_data(as_text=True)
    assert "<textarea" not in page and "JSON" not in page
    assert '<label for="setting-greeting">问候语</label>' in page and "显示在首页" in page
    assert re.search(r'<select id="setting-level"[^>]*>.*>县级</option>.*>乡镇级</option>', page, re.S)
    assert re.search(r'id="level-help">.*留空即用默认值：县级', page)  # a default in words, never a code
    assert re.search(r'<input type="number" id="setting-count"[^>]*inputmode="numeric"[^>]*min="1" max="10"', page)
    assert re.search(r'<input type="number" id="setting-ratio"[^>]*step="any" min="0" max="1"[^>]*value="0.5"', page)
    assert re.search(r'id="setting-budget"[^>]*value="100.50"', page)
    assert re.search(r'type="checkbox" id="setting-active"[^>]*checked', page)
    assert re.search(r'<input type="date" id="setting-start"[^>]*value="2026-01-01"', page)
    # lists: the saved entries and one blank row to type into, and the add button
    assert re.search(r'type="number"[^>]*id="setting-days-1"[^>]*value="2"', page)
    assert 'name="days-2"' in page and 'value="add:days"' in page and 'name="words-0"' in page
    assert "<th scope=\"col\">数量</th>" in page and 'name="items-0-day"' in page and 'name="extras-0-kind"' in page
    assert re.search(r'<select id="setting-weights-0-_key"[^>]*>.*>村（社区）</option>', page, re.S)
    assert "<legend>联系方式</legend>" in page and '<label for="setting-contact.hours">值班时长（小时）</label>' in page
    # the one setting no control fits: said in Chinese, its value in words, no JSON
    legacy = page[page.index('id="field-legacy"'):]
    legacy = legacy[:legacy.index("</div>")]
    assert "无法在表单中编辑" in legacy and "版本：1" in legacy and 'name="legacy"' not in legacy


def test_a_filled_form_saves_every_type_and_keeps_what_it_cannot_edit(kinds):
    _, _, admin = kinds
    assert admin.put("/api/modules/kinds", json={"enabled": True, "settings": {"legacy": [1, "二"]}}).status_code == 200
    data = _form_post(admin.get("/admin/modules/kinds").get_data(as_text=True))
    put(data, {"greeting": "老乡好", "level": "township", "count": "7", "budget": "2500.5", "shift": "NIGHT",
                 "start": "2026-03-01", "words-0": "防汛", "days-2": "30",
                 "items-0-name": "张三", "items-0-count": "5", "items-0-rate": "0.25", "items-0-on": "1",
                 "items-0-kind": "b", "items-0-day": "2026-04-02",
                 "weights-0-_key": "village", "weights-0-value": "60", "contact.phone": "0471-123"})
    put(data, {"ratio": ""})  # left blank: its default
    del data["active"]  # unchecked
    r = admin.post("/admin/modules/kinds", data=data)
    assert r.status_code == 302, re.findall(r'field-error[^>]*>([^<]*)', r.get_data(as_text=True))
    saved = admin.get("/api/modules/kinds").get_json()["settings"]
    assert saved == {
        "greeting": "老乡好", "level": "township", "count": 7, "ratio": 0.5, "budget": "2500.50", "active": False,
        "shift": "NIGHT", "start": "2026-03-01", "words": ["防汛"], "days": [1, 2, 30],
        "items": [{"name": "张三", "count": 5, "rate": 0.25, "on": True, "kind": "b", "day": "2026-04-02"}],
        "extras": [], "weights": {"village": 60}, "contact": {"phone": "0471-123", "hours": 8}, "legacy": [1, "二"]}
    # and the page shows them again as saved (a second save changes nothing)
    page = admin.get("/admin/modules/kinds").get_data(as_text=True)
    assert re.search(r'id="setting-items-0-kind"[^>]*>.*<option value="b" selected>乙类', page, re.S)
    assert 'value="2026-04-02"' in page and 'value="0471-123"' in page
    assert admin.post("/admin/modules/kinds", data=_form_post(page)).status_code == 302
    assert admin.get("/api/modules/kinds").get_json()["settings"] == saved
    history = admin.get("/admin/modules/kinds").get_data(as_text=True)
    history = history[history.index('id="module-history"'):]
    assert "村（社区）：60" in history and "乡镇级" in history


def test_wrong_values_are_refused_at_their_field_row_and_cell_with_everything_typed_kept(kinds):
    _, _, admin = kinds
    assert admin.put("/api/modules/kinds", json={"enabled": True}).status_code == 200
    before = admin.get("/api/modules/kinds").get_json()["settings"]
    data = _form_post(admin.get("/admin/modules/kinds").get_data(as_text=True))
    put(data, {"count": "11", "ratio": "1e400", "budget": "NaN", "start": "2026-02-30", "days-2": "100",
                 "items-0-name": "李四", "items-0-count": "500", "items-0-day": "昨天",
                 "weights-0-_key": "township", "weights-0-value": "-1", "contact.hours": "30"})
    r = admin.post("/admin/modules/kinds", data=data)
    assert r.status_code == 422
    page = r.get_data(as_text=True)
    assert cell_error(page, "count") == "超出范围（允许 1–10）"
    assert cell_error(page, "ratio") == "格式不正确" and cell_error(page, "start") == "格式不正确"
    assert cell_error(page, "budget") == "格式不正确"  # marshmallow's "Special numeric values …", in Chinese
    assert cell_error(page, "days-2") == "超出范围（允许 1–99）" and cell_error(page, "days").startswith("有 1 项")
    assert cell_error(page, "items-0-count") == "超出范围（允许 0–100）"
    assert cell_error(page, "items-0-day") == "格式不正确" and cell_error(page, "items").startswith("有 1 行")
    assert cell_error(page, "weights-0-value") == "超出范围（允许 0–100）"
    assert cell_error(page, "contact.hours") == "超出范围（允许 1–24）"
    for typed in ('value="11"', 'value="1e400"', 'value="NaN"', 'value="2026-02-30"', 'value="100"', 'value="李四"', 'value="500"',
                  'value="昨天"', 'value="-1"', 'value="30"'):
        assert typed in page, typed
    assert re.search(r'<option value="township" selected>乡镇（街道）', page)
    assert re.search(r'id="setting-contact.hours"[^>]*aria-invalid="true"', page)
    assert '<a href="#setting-items-0-count">明细 第 1 行 数量：超出范围（允许 0–100）</a>' in page
    assert '<a href="#setting-contact.hours">联系方式 · 值班时长（小时）：超出范围（允许 1–24）</a>' in page
    assert admin.get("/api/modules/kinds").get_json()["settings"] == before


def test_add_row_without_javascript_for_a_list_of_numbers(kinds):
    _, _, admin = kinds
    data = _form_post(admin.get("/admin/modules/kinds").get_data(as_text=True))
    put(data, {"days-2": "15", "row_action": "add:days"})
    r = admin.post("/admin/modules/kinds", data=data)
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    assert re.search(r'name="days-2" value="15"', page) and 'name="days-3"' in page
    data = _form_post(page)
    data["row_action"] = "remove:days:0"
    page = admin.post("/admin/modules/kinds", data=data).get_data(as_text=True)
    assert 'name="days-0"' not in page and 'name="days-2" value="15"' in page


# --- the API -------------------------------------------------------------------------------------

def test_the_catalog_is_a_page_like_every_list_with_each_fields_real_default(kinds):
    _, _, admin = kinds
    body = admin.get("/api/modules").get_json()
    assert set(body) == {"items", "next_cursor"} and body["next_cursor"] is None
    names = [m["name"] for m in body["items"]]
    assert names == sorted(names) and {"kinds", "petition", "visits"} <= set(names)
    walked, cursor = [], None
    while True:  # a page at a time, every module once
        page = admin.get("/api/modules", query_string={"limit": 2, **({"cursor": cursor} if cursor else {})}).get_json()
        walked += [m["name"] for m in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert walked == names
    bad = admin.get("/api/modules?cursor=%%%")
    assert bad.status_code == 422 and bad.get_json()["code"] == "invalid_cursor"
    assert "cursor" in bad.get_json()["errors"]["query"]
    schema = next(m for m in body["items"] if m["name"] == "kinds")["settings_schema"]
    defaults = {name: f["default"] for name, f in schema.items()}
    assert defaults == {"greeting": "示例", "level": "county", "count": 3, "ratio": 0.5, "budget": "100.50",
                        "active": True, "shift": "DAY", "start": "2026-01-01", "words": [], "days": [1, 2],
                        "items": [], "extras": [],
                        "weights": {}, "contact": {"phone": "0000", "hours": 8}, "legacy": None}
    petition = admin.get("/api/modules/petition").get_json()["settings_schema"]
    from plugins.petition.settings import DEFAULT_CATEGORIES, PRIVATE_NETWORKS
    assert petition["categories"]["default"] == DEFAULT_CATEGORIES
    assert petition["internal_networks"]["default"] == list(PRIVATE_NETWORKS)
    assert petition["report_columns"]["default"] == [] and petition["default_quotas"]["default"] == {}


def test_the_docs_example_schema_runs_and_every_field_has_a_control():
    """docs/plugin_settings.md's complete example is code that runs, and the form covers it."""
    from tests.conftest import ROOT
    text = (ROOT / "docs" / "plugin_settings.md").read_text(encoding="utf-8")
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    space: dict = {"__name__": "plugin_settings_example"}
    exec(compile(code, "docs/plugin_settings.md", "exec"), space)  # noqa: S102 — our own docs
    schema = space["RegisterSettings"]
    assert sf.unsupported(schema) == []
    kinds = {f["name"]: f["kind"] for f in sf.controls(schema, SOURCES)}
    assert {"select", "integer", "number", "boolean", "date", "strings", "multi", "rows", "table", "group"} == \
        set(kinds.values())


def test_a_county_folder_may_set_dates_and_decimals(kinds_app, tmp_path):
    """tenant.toml's native dates (and a decimal as text) are stored JSON-ready, like the form's."""
    import shutil

    from tests.conftest import DEMO_FOLDER
    made, _ = kinds_app
    folder = tmp_path / "county"
    shutil.copytree(DEMO_FOLDER, folder)
    with (folder / "tenant.toml").open("a", encoding="utf-8") as toml:
        toml.write('\n[plugins.kinds]\nsettings = { start = 2026-05-01, budget = "12.5", days = [3] }\n')
    county = load_tenant(made, folder=folder)
    client, r = web_login(made, county, "county.admin")
    assert r.status_code == 302
    saved = client.get("/api/modules/kinds").get_json()
    assert saved["enabled"] is True
    assert {k: saved["settings"][k] for k in ("start", "budget", "days")} == {"start": "2026-05-01", "budget": "12.50",
                                                                               "days": [3]}


def test_shapes_no_control_fits_are_named_for_the_author():
    """Never a JSON textarea: a shape without a control is listed (the start-up warning) with its type."""
    class Inner(Schema):
        name = fields.String()
        parts = fields.Nested(Contact)  # a record inside a row

    class Odd(Schema):
        pair = fields.Tuple((fields.String(), fields.Integer()))
        grid = fields.List(fields.List(fields.String()))
        anything = fields.Dict()
        plucked = fields.Pluck(Contact, "phone")
        rows = fields.List(fields.Nested(Inner))
        fine = fields.List(fields.Nested(Contact))

    assert sf.unsupported(Odd) == ["pair (Tuple)", "grid (List(List(String)))", "anything (Dict(any → any))",
                                   "plucked (Pluck)", "rows (parts（Nested(Contact)）)"]
