"""The county admin console in the browser (issue 6): module catalog, org tree, users and
roles, member units, calendar overrides, audit log. Driven through Flask's test client (no
script is needed on these pages); every form posts the session's CSRF token."""
from __future__ import annotations

import re

from tests.test_web_cases import csrf


def field_error(page: str, name: str) -> str | None:
    m = re.search(rf'<p class="field-error" id="{re.escape(name)}-error"[^>]*>([^<]*)</p>', page)
    return m.group(1) if m else None


# --- module catalog -----------------------------------------------------------------------------

def test_catalog_lists_modules_and_the_admin_menu(app, county, login):
    admin = login(county, "county.admin")
    home = admin.get("/").get_data(as_text=True)
    assert 'href="/admin"' in home
    page = admin.get("/admin/modules")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="module-hello"' in html and 'id="module-petition"' in html
    row = html[html.index('id="module-hello"'):]
    assert 'data-enabled="true"' in row[:60] and "已启用" in row[:2000]
    assert 'data-enabled="false"' in html[html.index('id="module-petition"'):][:60]
    index = admin.get("/admin").get_data(as_text=True)
    assert 'href="/admin/modules"' in index


def test_settings_form_is_generated_from_the_schema(app, county, login):
    admin = login(county, "county.admin")
    html = admin.get("/admin/modules/hello").get_data(as_text=True)
    assert 'id="module-settings"' in html
    assert re.search(r'<input type="text" id="setting-greeting_prefix" name="greeting_prefix"[^>]*value="您好，"', html)
    assert re.search(r'<input type="number" id="setting-max_per_day" name="max_per_day"[^>]*min="1"[^>]*max="10000"'
                     r'[^>]*value="100"', html)
    assert "问候语前缀" in html and "每日问候上限" in html
    petition = admin.get("/admin/modules/petition").get_data(as_text=True)
    assert re.search(r'<select id="setting-quota_period" name="quota_period"', petition)
    assert re.search(r'<textarea id="setting-categories" name="categories"', petition)  # a list: JSON text


def test_invalid_setting_is_422_with_the_error_in_chinese_next_to_the_field_and_nothing_saved(app, county, login):
    admin = login(county, "county.admin")
    html = admin.get("/admin/modules/hello").get_data(as_text=True)
    token = csrf(html)
    before = admin.get("/api/modules/hello").get_json()["settings"]
    r = admin.post("/admin/modules/hello", data={"csrf_token": token, "greeting_prefix": "早上好，",
                                                  "max_per_day": "0"})
    assert r.status_code == 422
    page = r.get_data(as_text=True)
    assert field_error(page, "max_per_day") == "超出范围（允许 1–10000）"
    assert field_error(page, "greeting_prefix") is None
    assert 'aria-invalid="true"' in page and "早上好，" in page and 'value="0"' in page  # what was typed is kept
    assert admin.get("/api/modules/hello").get_json()["settings"] == before
    # not a number, and a prefix too long: each message at its own field
    r = admin.post("/admin/modules/hello", data={"csrf_token": token, "greeting_prefix": "长" * 21,
                                                  "max_per_day": "许多"})
    page = r.get_data(as_text=True)
    assert r.status_code == 422
    assert field_error(page, "max_per_day") == "格式不正确" and field_error(page, "greeting_prefix") == "长度不符合要求"
    assert admin.get("/api/modules/hello").get_json()["settings"] == before


def test_invalid_json_and_nested_errors_name_their_place(app, fresh_tenant, login):
    admin = login(fresh_tenant, "county.admin")
    html = admin.get("/admin/modules/petition").get_data(as_text=True)
    token = csrf(html)
    values = {m.group(1): m.group(2) for m in re.finditer(r'name="(\w+)"[^>]*value="([^"]*)"', html)}
    r = admin.post("/admin/modules/petition", data={
        "csrf_token": token, "collective_threshold": "5", "repeat_window_days": "365", "quota_period": "year",
        "status_rate_limit": values.get("status_rate_limit", "20"), "categories": "[{不是 JSON",
        "default_quotas": "{}", "accountable_roles": '["area_leader"]', "report_columns": "[]"})
    assert r.status_code == 422
    assert field_error(r.get_data(as_text=True), "categories").startswith("不是有效的 JSON")
    r = admin.post("/admin/modules/petition", data={
        "csrf_token": token, "collective_threshold": "5", "repeat_window_days": "365", "quota_period": "year",
        "status_rate_limit": "20", "categories": "[]", "default_quotas": '{"village": {"nonsense": 1}}',
        "accountable_roles": '["area_leader"]', "report_columns": "[]"})
    assert r.status_code == 422
    page = r.get_data(as_text=True)
    assert field_error(page, "categories") == "长度不符合要求"
    assert "不是可选的值" in field_error(page, "default_quotas")
    assert admin.get("/api/modules/petition").get_json()["settings"] == {}


def test_saving_settings_is_effective_at_once_and_the_history_shows_a_diff(app, county, login):
    admin = login(county, "county.admin")
    token = csrf(admin.get("/admin/modules/hello").get_data(as_text=True))
    r = admin.post("/admin/modules/hello", data={"csrf_token": token, "greeting_prefix": "早上好，",
                                                  "max_per_day": "7"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/admin/modules/hello?saved=1")
    assert admin.get("/api/modules/hello").get_json()["settings"] == {"greeting_prefix": "早上好，", "max_per_day": 7}
    assert "/ 7" in admin.get("/hello/").get_data(as_text=True)  # the module's own page reads the new value
    page = admin.get("/admin/modules/hello?saved=1").get_data(as_text=True)
    assert 'id="settings-saved"' in page
    history = page[page.index('id="module-history"'):]
    entry = history[history.index('class="history-entry"'):]
    assert "user:county.admin" in entry[:400]
    assert "max_per_day" in entry and '<del class="before">100</del>' in entry and '<ins class="after">7</ins>' in entry
    assert "greeting_prefix" in entry and "&#34;您好，&#34;" in entry and "&#34;早上好，&#34;" in entry
    audit = admin.get("/api/audit?object_type=tenant_plugin").get_json()["items"]
    assert audit[0]["changes"]["settings"][1]["max_per_day"] == 7


def test_switching_off_hides_menu_and_pages_for_this_county_only_and_back_on_keeps_data(app, login, fresh_tenant):
    from tests.conftest import load_tenant
    other = load_tenant(app)
    for tenant in (fresh_tenant, other):
        assert login(tenant, "county.admin").put("/api/modules/hello", json={"enabled": True}).status_code == 200
    admin = login(fresh_tenant, "county.admin")
    made = admin.post("/api/hello/greetings", json={"recipient": "老王", "org_unit_id": fresh_tenant.unit("T01D1V1")})
    assert made.status_code == 201, made.get_json()
    home = admin.get("/").get_data(as_text=True)
    assert 'href="/hello/"' in home
    token = csrf(admin.get("/admin/modules").get_data(as_text=True))
    r = admin.post("/admin/modules/hello/switch", data={"csrf_token": token, "enabled": "0"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/admin/modules#module-hello")
    assert 'href="/hello/"' not in admin.get("/").get_data(as_text=True)
    assert admin.get("/hello/").status_code == 404
    assert 'data-enabled="false"' in admin.get("/admin/modules").get_data(as_text=True).split('id="module-hello"')[1][:40]
    # the other county keeps the module
    neighbour = login(other, "county.admin")
    assert 'href="/hello/"' in neighbour.get("/").get_data(as_text=True)
    assert neighbour.get("/hello/").status_code == 200
    # back on: the greeting made before is still there
    r = admin.post("/admin/modules/hello/switch", data={"csrf_token": token, "enabled": "1", "back": "module"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/admin/modules/hello")
    page = admin.get("/hello/")
    assert page.status_code == 200 and "老王" in page.get_data(as_text=True)


def test_module_pages_need_the_county_wide_permission_and_csrf(app, county, login):
    township = login(county, "donghu.admin")
    for path in ("/admin/modules", "/admin/modules/hello"):
        r = township.get(path)
        assert r.status_code == 403 and "<html" in r.get_data(as_text=True)
    token = csrf(township.get("/cases").get_data(as_text=True))
    assert township.post("/admin/modules/hello/switch", data={"csrf_token": token, "enabled": "0"}).status_code == 403
    assert login(county, "county.admin").get("/api/modules/hello").get_json()["enabled"] is True
    assert 'href="/admin/modules"' not in township.get("/").get_data(as_text=True)
    cadre = login(county, "village.cadre")
    assert cadre.get("/admin/modules").status_code == 403
    admin = login(county, "county.admin")
    assert admin.get("/admin/modules/nonexistent").status_code == 404
    admin.headers.pop("X-CSRF-Token")
    r = admin.post("/admin/modules/hello/switch", data={"csrf_token": "forged", "enabled": "0"})
    assert r.status_code == 403
    assert admin.get("/api/modules/hello").get_json()["enabled"] is True


# --- org tree editor -----------------------------------------------------------------------------

def xlsx(rows: list[list]) -> bytes:
    import io
    from openpyxl import Workbook
    wb = Workbook()
    for row in rows:
        wb.active.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_org_tree_add_rename_move_retire(app, fresh_tenant, login):
    admin = login(fresh_tenant, "county.admin")
    tree = admin.get("/admin/org-units")
    assert tree.status_code == 200
    html = tree.get_data(as_text=True)
    assert 'id="org-tree"' in html and "东湖镇" in html and "罗塘村" in html
    village = fresh_tenant.unit("T01D1V1")
    page = admin.get(f"/admin/org-units/{village}").get_data(as_text=True)
    token = csrf(page)
    assert 'id="rename"' in page and 'id="child"' in page and 'id="move"' in page and 'id="retire"' in page
    # add a grid below the village
    r = admin.post(f"/admin/org-units/{village}/children", data={"csrf_token": token, "name": "第二网格",
                                                                 "level": "grid", "code": "T01D1V1W2"})
    assert r.status_code == 302
    new_id = int(r.headers["Location"].split("/admin/org-units/")[1].split("?")[0])
    unit = admin.get(f"/api/org-units/{new_id}").get_json()
    assert unit["name"] == "第二网格" and unit["parent_id"] == village and unit["code"] == "T01D1V1W2"
    # a name left empty: 422, the message in Chinese at the field, nothing saved
    bad = admin.post(f"/admin/org-units/{new_id}/rename", data={"csrf_token": token, "name": "", "code": "X"})
    assert bad.status_code == 422
    assert field_error(bad.get_data(as_text=True), "rename-name") == "长度不符合要求"
    assert admin.get(f"/api/org-units/{new_id}").get_json()["name"] == "第二网格"
    assert admin.post(f"/admin/org-units/{new_id}/rename",
                      data={"csrf_token": token, "name": "第二网格（新）", "code": "T01D1V1W2"}).status_code == 302
    assert admin.get(f"/api/org-units/{new_id}").get_json()["name"] == "第二网格（新）"
    # a unit whose level is not below the parent's: the core's rule, shown at the level field
    bad = admin.post(f"/admin/org-units/{village}/children", data={"csrf_token": token, "name": "某村",
                                                                  "level": "village", "code": ""})
    assert bad.status_code == 409 and field_error(bad.get_data(as_text=True), "child-level") == "下级单位的层级必须低于上级单位"
    # move it to another village, then retire it
    other_village = fresh_tenant.unit("T01D1V2")
    r = admin.post(f"/admin/org-units/{new_id}/move", data={"csrf_token": token, "parent_id": str(other_village)})
    assert r.status_code == 302
    assert admin.get(f"/api/org-units/{new_id}").get_json()["parent_id"] == other_village
    bad = admin.post(f"/admin/org-units/{village}/move", data={"csrf_token": token, "parent_id": str(village)})
    assert bad.status_code == 409 and "自己的下级" in field_error(bad.get_data(as_text=True), "move-parent_id")
    bad = admin.post(f"/admin/org-units/{village}/retire", data={"csrf_token": token})
    assert bad.status_code == 409 and "在用的下级单位" in bad.get_data(as_text=True)
    assert admin.post(f"/admin/org-units/{new_id}/retire", data={"csrf_token": token}).status_code == 302
    assert admin.get(f"/api/org-units/{new_id}").get_json()["status"] == "retired"
    assert "第二网格（新）" not in admin.get("/admin/org-units").get_data(as_text=True)
    assert "第二网格（新）" in admin.get("/admin/org-units?retired=1").get_data(as_text=True)
    # every change is in the audit log
    actions = {(e["action"], e["object_id"]) for e in admin.get(
        "/api/audit?object_type=org_unit&limit=50").get_json()["items"]}
    assert {("create", str(new_id)), ("update", str(new_id)), ("move", str(new_id))} <= actions


def test_township_admin_edits_only_its_own_subtree(app, fresh_tenant, login):
    township = login(fresh_tenant, "donghu.admin")
    html = township.get("/admin/org-units").get_data(as_text=True)
    assert "罗塘村" in html and "青山乡" not in html
    assert township.get(f"/admin/org-units/{fresh_tenant.unit('T02')}").status_code == 404
    token = csrf(html)
    r = township.post(f"/admin/org-units/{fresh_tenant.unit('T02')}/rename", data={"csrf_token": token, "name": "x"})
    assert r.status_code == 404
    assert login(fresh_tenant, "village.cadre").get("/admin/org-units").status_code == 403


def test_org_import_with_row_errors_writes_nothing_then_imports(app, fresh_tenant, login):
    admin = login(fresh_tenant, "county.admin")
    page = admin.get("/admin/org-units/import").get_data(as_text=True)
    token = csrf(page)
    template = admin.get("/admin/org-units/import/template.xlsx")
    assert template.status_code == 200 and template.data[:2] == b"PK"
    bad = xlsx([["编码", "上级编码", "层级", "名称"],
                ["T01D1V9", "T01D1", "village", "新建村"],
                ["T01D1V9G1", "T01D1V9", "group", "第一组"],
                ["T01D1V1", "T01D1", "village", "重名编码村"],       # code taken
                ["T01D1V8", "NOPE", "village", "无上级村"],          # unknown parent
                ["T01D1V7", "T01D1V9", "village", "层级不对村"],      # not below its parent
                ["T01D1V6", "T01D1", "hamlet", ""]])                 # unknown level, no name
    import io
    r = admin.post("/admin/org-units/import", data={"csrf_token": token, "file": (io.BytesIO(bad), "units.xlsx")},
                   content_type="multipart/form-data")
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    errors = re.findall(r'<tr class="import-row-error" data-row="(\d+)"><td>\d+</td><td>([^<]*)</td><td>([^<]*)</td>', html)
    by_row = {}
    for row, column, message in errors:
        by_row.setdefault(int(row), []).append((column, message))
    assert set(by_row) == {4, 5, 6, 7}
    assert by_row[4] == [("编码", "编码 T01D1V1 已被单位“罗塘村”使用")]
    assert "既不是已有单位" in by_row[5][0][1]
    assert by_row[6] == [("层级", "下级单位的层级必须低于上级单位")]
    assert ("名称", "必填") in by_row[7] and any(c == "层级" for c, _ in by_row[7])
    assert "新建村" not in admin.get("/admin/org-units").get_data(as_text=True)
    good = xlsx([["code", "parent_code", "level", "name"],
                 ["T01D1V9G1", "T01D1V9", "group", "第一组"],      # its parent comes later in the sheet
                 ["T01D1V9", "T01D1", "village", "新建村"]])
    r = admin.post("/admin/org-units/import", data={"csrf_token": token, "file": (io.BytesIO(good), "units.xlsx")},
                   content_type="multipart/form-data")
    assert r.status_code == 201 and 'id="import-done"' in r.get_data(as_text=True)
    units = {u["code"]: u for u in admin.all_items("/api/org-units?q=新建村")}
    assert units["T01D1V9"]["parent_id"] == fresh_tenant.unit("T01D1")
    group = admin.all_items(f"/api/org-units?parent_id={units['T01D1V9']['id']}")
    assert [g["name"] for g in group] == ["第一组"]
    not_xlsx = admin.post("/admin/org-units/import", data={"csrf_token": token, "file": (io.BytesIO(b"a,b"), "u.csv")},
                          content_type="multipart/form-data")
    assert not_xlsx.status_code == 422 and "xlsx" in not_xlsx.get_data(as_text=True)
    # a township admin may not hang units below another township
    township = login(fresh_tenant, "donghu.admin")
    token = csrf(township.get("/admin/org-units/import").get_data(as_text=True))
    r = township.post("/admin/org-units/import", content_type="multipart/form-data", data={
        "csrf_token": token, "file": (io.BytesIO(xlsx([["code", "parent_code", "level", "name"],
                                                       ["T02X", "T02", "district", "外乡管区"]])), "u.xlsx")})
    assert r.status_code == 422 and "不在您可维护的范围内" in r.get_data(as_text=True)
