"""Module settings as form controls, not JSON (issue 15, item 10): the controls generated from
the settings schemas, the posted rows read back into lists and tables, the schema's messages
at their row and cell, the buttons that add and remove a row without JavaScript, and the time
limits of a case type in the county admin console — a local limit above its statutory bound
refused in Chinese at the field (the API: 422 with a machine code naming the field), every
write audited."""
from __future__ import annotations

import re

from werkzeug.datastructures import MultiDict

from core.web.admin import settings_form as sf
from plugins.mediation.settings import MediationSettings
from plugins.petition.settings import PetitionSettings
from tests.test_web_cases import csrf

CJK = re.compile(r"[\u4e00-\u9fff]")
SOURCES = {"org_levels": [("county", "县"), ("township", "乡镇（街道）"), ("village", "村（社区）")],
           "network_roles": list(sf.NETWORK_ROLE_TITLES.items()), "_work": None}


def fields_of(schema):
    return {f["name"]: f for f in sf.controls(schema, SOURCES)}


def cell_error(page: str, key: str) -> str | None:
    m = re.search(rf'<p class="field-error" id="{re.escape(key)}-error"[^>]*>([^<]*)</p>', page)
    return m.group(1) if m else None


# --- the controls -------------------------------------------------------------------------------

def test_every_petition_and_mediation_setting_has_a_control_and_none_is_json():
    petition, mediation = fields_of(PetitionSettings), fields_of(MediationSettings)
    kinds = {n: f["kind"] for n, f in {**petition, **mediation}.items()}
    assert "json" not in kinds.values(), kinds
    assert kinds["categories"] == "rows" and kinds["report_columns"] == "rows" and kinds["tiers"] == "rows"
    assert kinds["internal_networks"] == "strings"
    assert kinds["accountable_roles"] == "multi"  # rule: PET-4 (问责对象: 包片领导、驻村干部)
    assert kinds["default_quotas"] == "table" and kinds["quota_period"] == "select"
    # every choice has a Chinese label, every column a Chinese title
    assert dict(petition["quota_period"]["choices"]) == {"year": "年度", "quarter": "季度", "month": "月度"}
    assert dict(petition["accountable_roles"]["choices"])["area_leader"] == "包片领导"
    quotas = petition["default_quotas"]
    assert quotas["key"]["choices"] == SOURCES["org_levels"]
    assert [c["title"] for c in quotas["columns"]][0] == "越级访（合计）"
    tiers = {c["name"]: c for c in mediation["tiers"]["columns"]}  # rule: MED-3
    assert tiers["network_roles"]["kind"] == "multi" and tiers["level"]["kind"] == "select"
    ascii_word = re.compile(r"[A-Za-z]{2,}")
    for f in [*petition.values(), *mediation.values()]:
        shown = [f["title"], f["help"], *[c["title"] for c in f["columns"]],
                 *[label for _, label in f["choices"] or []]]
        assert not [s for s in shown if ascii_word.search((s or "").replace("Excel", ""))], (f["name"], shown)


def test_posted_rows_become_lists_and_tables_and_blank_rows_are_left_out():
    fields_ = list(fields_of(PetitionSettings).values())
    form = MultiDict([
        ("collective_threshold", "6"), ("repeat_window_days", "365"), ("quota_period", "quarter"),
        ("status_rate_limit", "20"), ("receipt_code_hours", "2"),
        # rows 0 and 3 (row 1 was removed in the page, row 2 added and left blank)
        ("categories-0-_row", "1"), ("categories-0-key", "land"), ("categories-0-title", "土地"),
        ("categories-2-_row", "1"), ("categories-2-key", ""), ("categories-2-title", "  "),
        ("categories-3-_row", "1"), ("categories-3-key", "grassland"), ("categories-3-title", "草场纠纷"),
        ("categories-4-_row", "1"), ("categories-4-key", ""), ("categories-4-title", "林权"),  # a new entry
        ("categories-6-_row", "1"), ("categories-6-key", ""), ("categories-6-title", ""),  # a new row left empty
        ("default_quotas-0-_row", "1"), ("default_quotas-0-_key", "village"), ("default_quotas-0-beijing", "0"),
        ("default_quotas-0-level_skipping", "3"), ("default_quotas-0-county", ""),
        ("accountable_roles", "area_leader"), ("accountable_roles", "mediator"),
        ("internal_networks-0", "10.0.0.0/8"), ("internal_networks-4", ""), ("internal_networks-5", " 172.16.0.0/12 "),
        ("report_columns-0-_row", "1"), ("report_columns-0-key", "received"), ("report_columns-0-title", ""),
    ])
    typed = sf.typed_values(fields_, form)
    data, errors, positions = sf.read(fields_, typed)
    assert not errors
    # a new entry is named, never coded: its code is made when saved (the stored ones never change)
    assert data["categories"][:2] == [{"key": "land", "title": "土地"}, {"key": "grassland", "title": "草场纠纷"}]
    assert data["categories"][2]["title"] == "林权" and re.fullmatch(r"k[0-9a-f]{6}", data["categories"][2]["key"])
    assert positions["categories"] == [0, 3, 4]
    assert data["default_quotas"] == {"village": {"beijing": "0", "level_skipping": "3"}}
    assert data["accountable_roles"] == ["area_leader", "mediator"]
    assert data["internal_networks"] == ["10.0.0.0/8", "172.16.0.0/12"]
    assert data["report_columns"] == [{"key": "received"}]  # an empty column name: the number's own
    loaded = PetitionSettings().load(data)
    assert loaded["default_quotas"] == {"village": {"beijing": 0, "level_skipping": 3}}
    assert loaded["quota_period"] == "quarter"


def test_the_schemas_messages_go_to_the_row_and_cell_they_are_about():
    from marshmallow import ValidationError
    fields_ = list(fields_of(PetitionSettings).values())
    typed = sf.typed_values(fields_, MultiDict([
        ("categories-0-_row", "1"), ("categories-0-key", "land"), ("categories-0-title", "土地"),
        ("categories-5-_row", "1"), ("categories-5-key", ""), ("categories-5-title", "林" * 41),
        ("default_quotas-1-_row", "1"), ("default_quotas-1-_key", "village"), ("default_quotas-1-county", "许多"),
        ("internal_networks-2", "不是地址")]))
    data, errors, positions = sf.read(fields_, typed)
    try:
        PetitionSettings().load(data)
    except ValidationError as exc:
        errors = sf.errors_at(fields_, exc.messages, positions)
    assert CJK.search(errors["categories-5-title"])  # the second row as shown, its name cell
    # an entry whose name was cleared is not dropped: its name is required
    typed = sf.typed_values(fields_, MultiDict([
        ("categories-0-_row", "1"), ("categories-0-key", "land"), ("categories-0-title", "")]))
    data, _, positions = sf.read(fields_, typed)
    assert data["categories"] == [{"key": "land"}] and positions["categories"] == [0]
    try:
        PetitionSettings().load(data)
        raise AssertionError("a category without a name was accepted")
    except ValidationError as exc:
        assert sf.errors_at(fields_, exc.messages, positions)["categories-0-title"] == "必填"
    assert "categories-0-title" not in errors and "categories-5-key" not in errors
    assert errors["categories"].startswith("有 1 行需要更正")
    assert errors["default_quotas-1-county"] == "格式不正确"
    assert errors["internal_networks-2"].startswith("不是有效的网络地址段")
    # a table's empty or repeated key is found before the schema
    typed = sf.typed_values(fields_, MultiDict([
        ("default_quotas-0-_row", "1"), ("default_quotas-0-_key", "village"), ("default_quotas-0-city", "1"),
        ("default_quotas-1-_row", "1"), ("default_quotas-1-_key", "village"), ("default_quotas-1-city", "2"),
        ("default_quotas-2-_row", "1"), ("default_quotas-2-_key", ""), ("default_quotas-2-city", "2")]))
    _, errors, _ = sf.read(fields_, typed)
    assert errors == {"default_quotas-1-_key": "与上面的行重复", "default_quotas-2-_key": "必填"}


def test_the_history_shows_values_in_words_not_json_or_keys():
    petition = fields_of(PetitionSettings)
    assert sf.readable(petition["categories"], [{"key": "land", "title": "土地"}, {"key": "x", "title": "其他"}]) == "土地；其他"
    assert sf.readable(petition["accountable_roles"], ["area_leader", "stationed_cadre"]) == "包片领导、驻村干部"
    assert sf.readable(petition["quota_period"], "quarter") == "季度"
    assert sf.readable(petition["default_quotas"], {"village": {"beijing": 0}}) == "村（社区）：越级访·进京 0"
    assert sf.readable(petition["report_columns"], [{"key": "received"}]) == "受理数"


# --- the settings page ---------------------------------------------------------------------------

def _form_post(page: str) -> MultiDict:
    """What a browser posts from the settings form as rendered (inputs, checked boxes, chosen options)."""
    import html as html_lib
    form = page[page.index('id="module-settings"'):]
    form = form[:form.index("</form>")]
    form = re.sub(r"<template.*?</template>", "", form, flags=re.S)
    out = MultiDict()
    for m in re.finditer(r'<input [^>]*name="([^"]+)"[^>]*>', form):
        tag = m.group(0)
        if 'type="checkbox"' in tag and " checked" not in tag:
            continue
        value = re.search(r'value="([^"]*)"', tag)
        out.add(m.group(1), html_lib.unescape(value.group(1)) if value else "")
    for m in re.finditer(r'<select [^>]*name="([^"]+)"[^>]*>(.*?)</select>', form, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected', m.group(2))
        out.add(m.group(1), html_lib.unescape(chosen.group(1)) if chosen else "")
    for m in re.finditer(r'<textarea [^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', form, re.S):
        out.add(m.group(1), html_lib.unescape(m.group(2)))
    return out


def test_the_page_has_no_json_and_saving_it_unchanged_keeps_every_setting(app, fresh_tenant, login):
    admin = login(fresh_tenant, "county.admin")
    custom = {"categories": [{"key": "land", "title": "土地"}, {"key": "forest", "title": "林权"}],
              "accountable_roles": ["area_leader"], "quota_period": "quarter",
              "default_quotas": {"village": {"beijing": 0, "level_skipping": 2}},
              "report_columns": [{"key": "received", "title": "收件"}, {"key": "closed"}]}
    assert admin.put("/api/modules/petition", json={"enabled": True, "settings": custom}).status_code == 200
    before = admin.get("/api/modules/petition").get_json()["settings"]
    page = admin.get("/admin/modules/petition").get_data(as_text=True)
    assert "<textarea" not in page and "JSON" not in page
    assert 'value="林权"' in page and ">包片领导<" in page and ">季度</option>" in page
    data = _form_post(page)
    data["collective_threshold"] = "9"
    r = admin.post("/admin/modules/petition", data=data)
    assert r.status_code == 302, re.findall(r'field-error[^>]*>([^<]*)', r.get_data(as_text=True))
    after = admin.get("/api/modules/petition").get_json()["settings"]
    assert after == {**before, "collective_threshold": 9}


def test_add_and_remove_row_without_javascript_keep_what_was_typed_and_save_nothing(app, fresh_tenant, login):
    admin = login(fresh_tenant, "county.admin")
    page = admin.get("/admin/modules/petition").get_data(as_text=True)
    data = _form_post(page)
    before = admin.get("/api/modules/petition").get_json()["settings"]
    rows = sorted({int(m.group(1)) for k in data for m in [re.match(r"categories-(\d+)-_row$", k)] if m})
    data[f"categories-{rows[0]}-title"] = "土地纠纷（已改）"
    data["row_action"] = "add:categories"
    r = admin.post("/admin/modules/petition", data=data)
    assert r.status_code == 200
    again = r.get_data(as_text=True)
    assert 'value="土地纠纷（已改）"' in again  # typed, kept
    new = rows[-1] + 1
    assert f'name="categories-{new}-key"' in again
    data = _form_post(again)
    data["row_action"] = f"remove:categories:{rows[0]}"
    again = admin.post("/admin/modules/petition", data=data).get_data(as_text=True)
    assert f'name="categories-{rows[0]}-key"' not in again and f'name="categories-{new}-key"' in again
    assert admin.get("/api/modules/petition").get_json()["settings"] == before


def test_a_wrong_cell_is_refused_at_its_row_with_everything_typed_kept(app, fresh_tenant, login):
    admin = login(fresh_tenant, "county.admin")
    data = _form_post(admin.get("/admin/modules/petition").get_data(as_text=True))
    data.update({"categories-90-_row": "1", "categories-90-key": "", "categories-90-title": "草场承包" * 11})
    data["internal_networks-50"] = "192.168.1.0/24"
    r = admin.post("/admin/modules/petition", data=data)
    assert r.status_code == 422
    page = r.get_data(as_text=True)
    message = cell_error(page, "categories-90-title")
    assert CJK.search(message)
    assert f'value="{"草场承包" * 11}"' in page and 'value="192.168.1.0/24"' in page
    assert re.search(r'id="setting-categories-90-title"[^>]*aria-invalid="true"', page)
    assert cell_error(page, "categories").startswith("有 1 行需要更正")
    # the summary at the top names the cell by its field, row and column, and links to it (row 8:
    # six saved categories and the blank row the page offers come first)
    assert f'<a href="#setting-categories-90-title">信访分类 第 8 行 分类名称：{message}</a>' in page
    assert admin.get("/api/modules/petition").get_json()["settings"] == {}


# --- time limits ---------------------------------------------------------------------------------

def petition_on(tenant, login):
    admin = login(tenant, "county.admin")
    assert admin.put("/api/modules/petition", json={"enabled": True}).status_code == 200
    return admin


def limits_form(page: str, form_id: str) -> dict:
    import html as html_lib
    form = page[page.index(f'id="{form_id}"'):]
    form = form[:form.index("</form>")]
    out = {}
    for m in re.finditer(r'<input [^>]*name="([^"]+)"[^>]*>', form):
        tag = m.group(0)
        if 'type="checkbox"' in tag and " checked" not in tag:
            continue
        value = re.search(r'value="([^"]*)"', tag)
        value = html_lib.unescape(value.group(1)) if value else ""
        name = m.group(1)
        if name in out:  # check boxes of one name (the ledger's columns): a list, posted as many values
            out[name] = [*(out[name] if isinstance(out[name], list) else [out[name]]), value]
        else:
            out[name] = value
    for m in re.finditer(r'<select [^>]*name="([^"]+)"[^>]*>(.*?)</select>', form, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected', m.group(2))
        out[m.group(1)] = chosen.group(1) if chosen else ""
    return out


def test_time_limits_are_edited_in_the_console_with_the_statutory_bound_shown(app, fresh_tenant, login):
    admin = petition_on(fresh_tenant, login)
    page = admin.get("/admin/modules/petition").get_data(as_text=True)
    assert 'id="limit-petition-case"' in page
    row = page[page.index('id="limit-petition-case-close_clear"'):]
    row = row[:row.index("</tr>")]
    assert "事实清楚的办结期限（本县）" in row and "60 日" in row and "《信访工作条例》第三十四条" in row  # its bound
    data = limits_form(page, "limit-petition-case")
    # rule: PET-1 — facts clear: close within 5 days, by the county's own document
    data.update({"close_clear-enabled": "1", "close_clear-amount": "5", "close_clear-unit": "calendar_days",
                 "close_clear-source": "《示范县信访工作实施办法》第五条", "forward_visit-enabled": "1",
                 "forward_visit-amount": "0", "forward_visit-unit": "calendar_days"})
    r = admin.post("/admin/modules/petition/limits/petition.case", data=data)
    assert r.status_code == 302, re.findall(r'field-error[^>]*>([^<]*)', r.get_data(as_text=True))
    saved = admin.get("/api/case-types/petition.case/settings").get_json()["settings"]["deadlines"]
    assert saved == {"close_clear": {"enabled": True, "amount": 5, "unit": "calendar_days",
                                     "source": "《示范县信访工作实施办法》第五条"},
                     "forward_visit": {"enabled": True, "amount": 0, "unit": "calendar_days"}}
    rules = {r["key"]: r for r in next(t for t in admin.get("/api/case-types").get_json()
                                       if t["key"] == "petition.case")["deadlines"]}
    assert rules["close_clear"]["enabled"] and rules["close_clear"]["amount"] == 5
    # audited like every write: the row's settings before and after, shown in the module's history
    audit = admin.get("/api/audit?object_type=case_type_setting").get_json()["items"]
    assert audit[0]["changes"]["settings"][1]["deadlines"]["close_clear"]["amount"] == 5
    page = admin.get("/admin/modules/petition?limits=petition.case").get_data(as_text=True)
    assert 'id="limit-petition-case-saved"' in page
    history = page[page.index('id="module-history"'):]
    assert "信访件：事实清楚的办结期限（本县）" in history or "事实清楚的办结期限（本县）" in history
    assert "5 日" in history


def test_a_local_limit_above_the_statutory_bound_is_refused_at_its_field(app, fresh_tenant, login):
    admin = petition_on(fresh_tenant, login)
    page = admin.get("/admin/modules/petition").get_data(as_text=True)
    data = limits_form(page, "limit-petition-case")
    # rule: PET-1 — local limits may only be stricter than the 信访工作条例's
    data.update({"close_complex-enabled": "1", "close_complex-amount": "61", "close_complex-unit": "calendar_days",
                 "handle-amount": "45", "close_clear-amount": "5"})
    r = admin.post("/admin/modules/petition/limits/petition.case", data=data)
    assert r.status_code == 422
    page = r.get_data(as_text=True)
    error = cell_error(page, "limit-petition-case-close_complex")
    assert error and "不能宽于法定时限" in error and "办理期限" in error, error
    assert re.search(r'id="limit-petition-case-close_complex-amount"[^>]*value="61"[^>]*aria-invalid="true"', page)
    assert re.search(r'id="limit-petition-case-handle-amount"[^>]*value="45"', page)  # the other typed values kept
    assert admin.get("/api/case-types/petition.case/settings").get_json()["settings"] == {}
    # a statutory limit loosened, and a number that is not one: each at its field
    data = limits_form(admin.get("/admin/modules/petition").get_data(as_text=True), "limit-petition-case")
    data.update({"handle-amount": "3", "handle-unit": "months", "review-amount": "三十"})
    page = admin.post("/admin/modules/petition/limits/petition.case", data=data).get_data(as_text=True)
    assert "不能宽于法定时限" in cell_error(page, "limit-petition-case-handle")
    assert cell_error(page, "limit-petition-case-review") == "请填写 0 至 3650 之间的整数"
    assert admin.get("/api/case-types/petition.case/settings").get_json()["settings"] == {}


def test_the_api_refuses_a_limit_above_the_bound_with_a_code_and_the_field(app, fresh_tenant, login):
    admin = petition_on(fresh_tenant, login)
    # rule: PET-1
    r = admin.put("/api/case-types/petition.case/settings",
                  json={"settings": {"deadlines": {"close_complex": {"amount": 61, "unit": "calendar_days"}}}})
    assert r.status_code == 422
    body = r.get_json()
    assert body["code"] == "invalid_settings"
    message = body["errors"]["json"]["settings"]["deadlines"]["close_complex"][0]
    assert "不能宽于法定时限" in message
    assert admin.get("/api/case-types/petition.case/settings").get_json()["settings"] == {}


def test_only_the_county_may_change_time_limits(app, fresh_tenant, login):
    petition_on(fresh_tenant, login)
    township = login(fresh_tenant, "donghu.admin")
    token = csrf(township.get("/cases").get_data(as_text=True))
    r = township.post("/admin/modules/petition/limits/petition.case",
                      data={"csrf_token": token, "handle-amount": "30", "handle-unit": "calendar_days"})
    assert r.status_code == 403
    admin = login(fresh_tenant, "county.admin")
    assert admin.post("/admin/modules/petition/limits/mediation.dispute",
                      data={"csrf_token": token}).status_code in (403, 404)
    assert admin.get("/api/case-types/petition.case/settings").get_json()["settings"] == {}


def test_mediation_tiers_with_their_roles_and_levels_round_trip_through_the_form(app, fresh_tenant, login):
    # rule: MED-3 (tiers held by a level or by network roles), MED-1 (screening cadence per level)
    admin = login(fresh_tenant, "county.admin")
    custom = {"screening": [{"level": "village", "cadence": "weekly"}, {"level": "township", "cadence": "monthly"}]}
    assert admin.put("/api/modules/mediation", json={"enabled": True, "settings": custom}).status_code == 200
    before = admin.get("/api/modules/mediation").get_json()["settings"]
    page = admin.get("/admin/modules/mediation").get_data(as_text=True)
    assert "<textarea" not in page
    assert ">每周</option>" in page and ">村（社区）</option>" in page and ">包片领导</label>" in page
    data = _form_post(page)
    r = admin.post("/admin/modules/mediation", data=data)
    assert r.status_code == 302, re.findall(r'field-error[^>]*>([^<]*)', r.get_data(as_text=True))
    assert admin.get("/api/modules/mediation").get_json()["settings"] == before
    # a tier with both a level and roles: refused at that row, in Chinese without field names
    tiers = sorted({int(m.group(1)) for k in data for m in [re.match(r"tiers-(\d+)-_row$", k)] if m})
    cadre = next(i for i in tiers if data.get(f"tiers-{i}-key") == "cadre")
    data[f"tiers-{cadre}-level"] = "village"
    data.poplist("form_token")  # a new submission (the form's token was used by the save above)
    r = admin.post("/admin/modules/mediation", data=data)
    assert r.status_code == 422
    error = cell_error(r.get_data(as_text=True), f"tiers-{cadre}-level")
    assert error and "组织层级或网格岗位" in error and not re.search(r"[a-z_]{4,}", error), error
    assert admin.get("/api/modules/mediation").get_json()["settings"] == before


def test_a_limit_that_is_a_setting_of_its_own_is_edited_too_and_an_unchanged_form_writes_nothing(app, fresh_tenant,
                                                                                                  login):
    admin = petition_on(fresh_tenant, login)
    page = admin.get("/admin/modules/petition").get_data(as_text=True)
    assert "督办、催办的默认答复期限" in page
    data = limits_form(page, "limit-petition-case")
    assert data["cfg_supervision_reply-amount"] == "3" and data["cfg_supervision_reply-unit"] == "working_days"
    r = admin.post("/admin/modules/petition/limits/petition.case", data=data)
    assert r.status_code == 302
    assert admin.get("/api/case-types/petition.case/settings").get_json()["settings"] == {}  # nothing written
    assert admin.get("/api/audit?object_type=case_type_setting").get_json()["items"] == []
    data = limits_form(admin.get("/admin/modules/petition").get_data(as_text=True), "limit-petition-case")
    data.update({"cfg_supervision_reply-amount": "2", "cfg_supervision_reply-unit": "working_days"})
    assert admin.post("/admin/modules/petition/limits/petition.case", data=data).status_code == 302
    saved = admin.get("/api/case-types/petition.case/settings").get_json()["settings"]
    assert saved["supervision_reply"] == {"amount": 2, "unit": "working_days"} and not saved.get("deadlines")
    data = limits_form(admin.get("/admin/modules/petition").get_data(as_text=True), "limit-petition-case")
    data["cfg_supervision_reply-amount"] = "0"
    page = admin.post("/admin/modules/petition/limits/petition.case", data=data).get_data(as_text=True)
    assert cell_error(page, "limit-petition-case-cfg_supervision_reply") == "请填写 1 至 3650 之间的整数"


def test_a_case_types_other_settings_are_controls_not_codes(app, fresh_tenant, login):
    """The number format as its parts, the reminder in hours, the back-dating in days and the
    ledger's columns as check boxes (issue 15, item 10): saved, shown again, refused at the field
    with everything typed kept, audited in words."""
    admin = petition_on(fresh_tenant, login)
    page = admin.get("/admin/modules/petition").get_data(as_text=True)
    form = page[page.index('id="limit-petition-case"'):]
    form = form[:form.index("</form>")]
    assert "{seq" not in form and "{year" not in form  # no format string to type
    assert "示例：信〔2026〕00001" in form
    data = limits_form(page, "limit-petition-case")
    assert data["opt-prefix"] == "信〔" and data["opt-year"] == "1" and data["opt-middle"] == "〕"
    assert data["opt-digits"] == "5" and data["opt-remind"] == "24" and data["opt-backdate"] == "30"
    assert "number" in data["opt-columns"] and "content" in data["opt-columns"]
    # nothing changed: nothing stored
    assert admin.post("/admin/modules/petition/limits/petition.case", data=data).status_code == 302
    assert admin.get("/api/case-types/petition.case/settings").get_json()["settings"] == {}
    # wrong values: each at its field, everything typed kept, nothing saved
    wrong = {**data, "opt-prefix": "信{", "opt-remind": "三十", "opt-backdate": "-1", "opt-columns": []}
    r = admin.post("/admin/modules/petition/limits/petition.case", data=wrong)
    assert r.status_code == 422
    page = r.get_data(as_text=True)
    assert cell_error(page, "limit-petition-case-opt-prefix") == "编号的文字部分不能含有 { 或 }"
    assert cell_error(page, "limit-petition-case-opt-remind") == "请填写 0 至 720 之间的整数（小时）"
    assert cell_error(page, "limit-petition-case-opt-backdate") == "请填写 0 至 3650 之间的整数（天）"
    assert cell_error(page, "limit-petition-case-opt-columns") == "台账至少要有一列"
    assert re.search(r'id="limit-petition-case-opt-remind"[^>]*value="三十"', page)
    assert admin.get("/api/case-types/petition.case/settings").get_json()["settings"] == {}
    # a county's own numbering, an earlier reminder, a shorter back-dating and fewer columns
    mine = {**data, "opt-prefix": "示信", "opt-year": "1", "opt-middle": "-", "opt-digits": "4",
            "opt-remind": "48", "opt-backdate": "7", "opt-columns": ["number", "title", "state", "due_at"]}
    assert admin.post("/admin/modules/petition/limits/petition.case", data=mine).status_code == 302
    saved = admin.get("/api/case-types/petition.case/settings").get_json()["settings"]
    assert saved == {"number_format": "示信{year}-{seq:04d}", "remind_before_hours": 48, "max_backdate_days": 7,
                     "ledger_columns": ["number", "title", "state", "due_at"]}
    page = admin.get("/admin/modules/petition?limits=petition.case").get_data(as_text=True)
    again = limits_form(page, "limit-petition-case")
    assert again["opt-prefix"] == "示信" and again["opt-digits"] == "4" and again["opt-remind"] == "48"
    assert again["opt-columns"] == ["number", "title", "state", "due_at"]
    history = page[page.index('id="module-history"'):]
    assert "编号格式" in history and "如 示信2026-0001" in history and "期满前 48 小时" in history
    assert "编号、标题、状态、办理时限" in history
    # the next petition is numbered so
    from tests.test_petition import petition
    made = petition(admin, fresh_tenant)
    assert re.fullmatch(r"示信\d{4}-\d{4}", made["number"]), made["number"]
