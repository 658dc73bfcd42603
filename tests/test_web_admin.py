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
    assert 'id="module-visits"' in html and 'id="module-petition"' in html
    row = html[html.index('id="module-visits"'):]
    assert 'data-enabled="true"' in row[:60] and "已启用" in row[:2000]
    assert 'data-enabled="false"' in html[html.index('id="module-petition"'):][:60]
    index = admin.get("/admin").get_data(as_text=True)
    assert 'href="/admin/modules"' in index


def test_settings_form_is_generated_from_the_schema(app, county, login):
    admin = login(county, "county.admin")
    html = admin.get("/admin/modules/visits").get_data(as_text=True)
    assert 'id="module-settings"' in html
    assert re.search(r'<input type="text" id="setting-greeting_prefix" name="greeting_prefix"[^>]*value="您好，"', html)
    assert re.search(r'<input type="number" id="setting-max_per_day" name="max_per_day"[^>]*min="1"[^>]*max="10000"'
                     r'[^>]*value="100"', html)
    assert "问候语前缀" in html and "每日问候上限" in html
    petition = admin.get("/admin/modules/petition").get_data(as_text=True)
    assert re.search(r'<select id="setting-quota_period" name="quota_period"', petition)
    # a list of records: rows of inputs, never JSON text (issue 15, item 10; tests/test_settings_controls.py)
    assert 'id="field-categories"' in petition and 'name="categories-0-key"' in petition and "<textarea" not in petition


def test_invalid_setting_is_422_with_the_error_in_chinese_next_to_the_field_and_nothing_saved(app, county, login):
    admin = login(county, "county.admin")
    html = admin.get("/admin/modules/visits").get_data(as_text=True)
    token = csrf(html)
    before = admin.get("/api/modules/visits").get_json()["settings"]
    r = admin.post("/admin/modules/visits", data={"csrf_token": token, "greeting_prefix": "早上好，",
                                                  "max_per_day": "0"})
    assert r.status_code == 422
    page = r.get_data(as_text=True)
    assert field_error(page, "max_per_day") == "超出范围（允许 1–10000）"
    assert field_error(page, "greeting_prefix") is None
    assert 'aria-invalid="true"' in page and "早上好，" in page and 'value="0"' in page  # what was typed is kept
    assert admin.get("/api/modules/visits").get_json()["settings"] == before
    # not a number, and a prefix too long: each message at its own field
    r = admin.post("/admin/modules/visits", data={"csrf_token": token, "greeting_prefix": "长" * 21,
                                                  "max_per_day": "许多"})
    page = r.get_data(as_text=True)
    assert r.status_code == 422
    assert field_error(page, "max_per_day") == "格式不正确" and field_error(page, "greeting_prefix") == "长度不符合要求"
    assert admin.get("/api/modules/visits").get_json()["settings"] == before


def test_invalid_json_and_nested_errors_name_their_place(app, fresh_tenant, login):
    admin = login(fresh_tenant, "county.admin")
    html = admin.get("/admin/modules/petition").get_data(as_text=True)
    token = csrf(html)
    r = admin.post("/admin/modules/petition", data={
        "csrf_token": token, "collective_threshold": "5", "repeat_window_days": "365", "quota_period": "year",
        "status_rate_limit": "20", "default_quotas-0-_row": "1", "default_quotas-0-_key": "village",
        "default_quotas-0-county": "许多", "accountable_roles": "area_leader"})
    assert r.status_code == 422
    page = r.get_data(as_text=True)
    assert field_error(page, "categories") == "长度不符合要求"  # no rows left
    assert field_error(page, "default_quotas-0-county") == "格式不正确"  # at its row and column
    assert field_error(page, "default_quotas").startswith("有 1 行需要更正")
    assert admin.get("/api/modules/petition").get_json()["settings"] == {}


def form_values(page: str, form_id: str) -> dict:
    """What a browser would post from a form as rendered: inputs, text areas, chosen options."""
    import html as html_lib
    form = page[page.index(f'id="{form_id}"'):]
    form = form[:form.index("</form>")]
    out = {}
    for m in re.finditer(r'<input [^>]*name="([^"]+)"[^>]*>', form):
        tag = m.group(0)
        if 'type="checkbox"' in tag and "checked" not in tag:
            continue
        value = re.search(r'value="([^"]*)"', tag)
        out[m.group(1)] = html_lib.unescape(value.group(1)) if value else ""
    for m in re.finditer(r'<textarea [^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', form, re.S):
        out[m.group(1)] = html_lib.unescape(m.group(2))
    for m in re.finditer(r'<select [^>]*name="([^"]+)"[^>]*>(.*?)</select>', form, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected', m.group(2))
        out[m.group(1)] = html_lib.unescape(chosen.group(1)) if chosen else ""
    return out


def test_saving_the_form_as_shown_keeps_every_setting(app, fresh_tenant, login):
    """Lists and tables are in the form (as rows): saving one changed number keeps them all."""
    admin = login(fresh_tenant, "county.admin")
    custom = {"collective_threshold": 6, "default_quotas": {"village": {"county": 2}},
              "accountable_roles": ["area_leader"], "quota_period": "quarter"}
    assert admin.put("/api/modules/petition", json={"enabled": True, "settings": custom}).status_code == 200
    before = admin.get("/api/modules/petition").get_json()["settings"]
    page = admin.get("/admin/modules/petition").get_data(as_text=True)
    from tests.test_settings_controls import _form_post
    data = _form_post(page)  # rows and check boxes (issue 15, item 10)
    assert all(f'id="field-{k}"' in page for k in before)  # every setting has its field
    data["collective_threshold"] = "9"
    r = admin.post("/admin/modules/petition", data=data)
    assert r.status_code == 302, re.findall(r'field-error[^>]*>([^<]*)', r.get_data(as_text=True))
    after = admin.get("/api/modules/petition").get_json()["settings"]
    assert after == {**before, "collective_threshold": 9}


def test_saving_settings_is_effective_at_once_and_the_history_shows_a_diff(app, county, login):
    admin = login(county, "county.admin")
    token = csrf(admin.get("/admin/modules/visits").get_data(as_text=True))
    r = admin.post("/admin/modules/visits", data={"csrf_token": token, "greeting_prefix": "早上好，",
                                                  "max_per_day": "7"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/admin/modules/visits?saved=1")
    assert admin.get("/api/modules/visits").get_json()["settings"] == {"greeting_prefix": "早上好，", "max_per_day": 7}
    assert "/ 7" in admin.get("/visits/").get_data(as_text=True)  # the module's own page reads the new value
    page = admin.get("/admin/modules/visits?saved=1").get_data(as_text=True)
    assert 'id="settings-saved"' in page
    history = page[page.index('id="module-history"'):]
    entry = history[history.index('class="history-entry"'):]
    assert "county.admin" in entry[:400]  # issue 15, item 10: by name, the setting's title, values in words
    assert "每日问候上限" in entry and '<del class="before">100</del>' in entry and '<ins class="after">7</ins>' in entry
    assert "问候语前缀" in entry and '<del class="before">您好，</del>' in entry and "早上好，" in entry
    audit = admin.get("/api/audit?object_type=tenant_plugin").get_json()["items"]
    assert audit[0]["changes"]["settings"][1]["max_per_day"] == 7


def test_switching_off_hides_menu_and_pages_for_this_county_only_and_back_on_keeps_data(app, login, fresh_tenant):
    from tests.conftest import load_tenant
    other = load_tenant(app)
    for tenant in (fresh_tenant, other):
        assert login(tenant, "county.admin").put("/api/modules/visits", json={"enabled": True}).status_code == 200
    admin = login(fresh_tenant, "county.admin")
    made = admin.post("/api/visits/greetings", json={"recipient": "老王", "org_unit_id": fresh_tenant.unit("T01D1V1")})
    assert made.status_code == 201, made.get_json()
    home = admin.get("/").get_data(as_text=True)
    assert 'href="/visits/"' in home
    visit = admin.post("/api/cases", json={"case_type": "visits.visit", "title": "走访", "org_unit_id": fresh_tenant.unit("T01D1V1"),
                                               "channel": "visit", "details": {"visit_kind": "home"}})
    assert visit.status_code == 201, visit.get_json()
    token = csrf(admin.get("/admin/modules").get_data(as_text=True))
    # issue 15, item 12: switching off asks first, saying how many of its matters are open
    r = admin.post("/admin/modules/visits/switch", data={"csrf_token": token, "enabled": "0"})
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and "确认停用" in page and "还有 1 件该模块的事项未办结" in page, page
    assert admin.get("/api/modules/visits").get_json()["enabled"] is True
    r = admin.post("/admin/modules/visits/switch", data={"csrf_token": token, "enabled": "0", "confirm": "1"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/admin/modules#module-visits")
    assert 'href="/visits/"' not in admin.get("/").get_data(as_text=True)
    assert admin.get("/visits/").status_code == 404
    assert 'data-enabled="false"' in admin.get("/admin/modules").get_data(as_text=True).split('id="module-visits"')[1][:40]
    # the other county keeps the module
    neighbour = login(other, "county.admin")
    assert 'href="/visits/"' in neighbour.get("/").get_data(as_text=True)
    assert neighbour.get("/visits/").status_code == 200
    # back on: the greeting made before is still there
    r = admin.post("/admin/modules/visits/switch", data={"csrf_token": token, "enabled": "1", "back": "module"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/admin/modules/visits")
    page = admin.get("/visits/")
    assert page.status_code == 200 and "老王" in page.get_data(as_text=True)


def test_module_pages_need_the_county_wide_permission_and_csrf(app, county, login):
    township = login(county, "donghu.admin")
    for path in ("/admin/modules", "/admin/modules/visits"):
        r = township.get(path)
        assert r.status_code == 403 and "<html" in r.get_data(as_text=True)
    token = csrf(township.get("/cases").get_data(as_text=True))
    assert township.post("/admin/modules/visits/switch", data={"csrf_token": token, "enabled": "0"}).status_code == 403
    assert login(county, "county.admin").get("/api/modules/visits").get_json()["enabled"] is True
    assert 'href="/admin/modules"' not in township.get("/").get_data(as_text=True)
    cadre = login(county, "village.cadre")
    assert cadre.get("/admin/modules").status_code == 403
    admin = login(county, "county.admin")
    assert admin.get("/admin/modules/nonexistent").status_code == 404
    admin.headers.pop("X-CSRF-Token")
    r = admin.post("/admin/modules/visits/switch", data={"csrf_token": "forged", "enabled": "0"})
    assert r.status_code == 403
    assert admin.get("/api/modules/visits").get_json()["enabled"] is True


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


# --- users, role assignments, roles --------------------------------------------------------------

def test_user_create_forces_a_password_change_at_first_login(app, fresh_tenant, login):
    from tests.conftest import web_login
    admin = login(fresh_tenant, "county.admin")
    page = admin.get("/admin/users/new").get_data(as_text=True)
    token = csrf(page)
    village = fresh_tenant.unit("T01D1V1")
    bad = admin.post("/admin/users/new", data={"csrf_token": token, "username": "坏 名字", "display_name": "张三",
                                               "org_unit_id": str(village), "phone": "abc"})
    assert bad.status_code == 422
    html = bad.get_data(as_text=True)
    assert "用户名只能包含" in field_error(html, "user-username") and field_error(html, "user-phone") == "电话号码格式不正确"
    assert "张三" in html
    taken = admin.post("/admin/users/new", data={"csrf_token": token, "username": "village.cadre",
                                                 "display_name": "张三", "org_unit_id": str(village)})
    assert taken.status_code == 409 and field_error(taken.get_data(as_text=True), "user-username") == "该用户名已被使用"
    r = admin.post("/admin/users/new", data={"csrf_token": token, "username": "zhang.san", "display_name": "张三",
                                             "org_unit_id": str(village), "phone": ""})
    assert r.status_code == 201 and r.headers["Cache-Control"] == "no-store"
    password = re.search(r'<code id="initial-password">([^<]+)</code>', r.get_data(as_text=True)).group(1)
    client, resp = web_login(app, fresh_tenant, "zhang.san", password)
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/password")
    assert 'href="/admin"' not in client.get("/password").get_data(as_text=True)
    users = admin.get("/admin/users?q=zhang").get_data(as_text=True)
    assert "zhang.san" in users and "待改密码" in users


def test_user_lock_unlock_reset_and_role_assignment(app, fresh_tenant, login):
    from tests.conftest import web_login
    admin = login(fresh_tenant, "county.admin")
    token = csrf(admin.get("/admin/users/new").get_data(as_text=True))
    village = fresh_tenant.unit("T01D1V1")
    r = admin.post("/admin/users/new", data={"csrf_token": token, "username": "li.si", "display_name": "李四",
                                             "org_unit_id": str(village)})
    user_id = int(re.search(r'href="/admin/users/(\d+)"', r.get_data(as_text=True)).group(1))
    assert admin.post(f"/admin/users/{user_id}/lock", data={"csrf_token": token, "locked": "1"}).status_code == 302
    assert admin.get(f"/api/users/{user_id}").get_json()["locked"] is True
    page = admin.get(f"/admin/users/{user_id}").get_data(as_text=True)
    assert 'id="user-locked"' in page
    assert admin.post(f"/admin/users/{user_id}/lock", data={"csrf_token": token, "locked": "0"}).status_code == 302
    assert admin.get(f"/api/users/{user_id}").get_json()["locked"] is False
    r = admin.post(f"/admin/users/{user_id}/reset-password", data={"csrf_token": token})
    password = re.search(r'<code id="initial-password">([^<]+)</code>', r.get_data(as_text=True)).group(1)
    _, resp = web_login(app, fresh_tenant, "li.si", password)
    assert resp.headers["Location"].endswith("/password")
    # assign the village cadre role on the village, then revoke it
    roles = {x["key"]: x["id"] for x in admin.all_items("/api/roles")}
    bad = admin.post(f"/admin/users/{user_id}/roles", data={"csrf_token": token, "role_id": "", "org_unit_id": str(village)})
    assert bad.status_code == 422 and field_error(bad.get_data(as_text=True), "assign-role_id") == "必填"
    r = admin.post(f"/admin/users/{user_id}/roles", data={"csrf_token": token, "role_id": str(roles["village_cadre"]),
                                                          "org_unit_id": str(village)})
    assert r.status_code == 302
    held = admin.all_items(f"/api/role-assignments?user_id={user_id}")
    assert [(a["role_id"], a["org_unit_id"]) for a in held] == [(roles["village_cadre"], village)]
    again = admin.post(f"/admin/users/{user_id}/roles", data={"csrf_token": token,
                                                              "role_id": str(roles["village_cadre"]), "org_unit_id": str(village)})
    assert again.status_code == 409 and "已在此单位持有该角色" in again.get_data(as_text=True)
    # a township admin may not hand out the county admin role (it does not hold all of it there)
    township = login(fresh_tenant, "donghu.admin")
    t_token = csrf(township.get(f"/admin/users/{user_id}").get_data(as_text=True))
    esc = township.post(f"/admin/users/{user_id}/roles", data={"csrf_token": t_token, "role_id": str(roles["county_admin"]),
                                                               "org_unit_id": str(village)})
    assert esc.status_code == 403 and "不具备此角色的全部权限" in esc.get_data(as_text=True)
    assert len(admin.all_items(f"/api/role-assignments?user_id={user_id}")) == 1
    assert admin.post(f"/admin/users/{user_id}/roles/{held[0]['id']}/revoke", data={"csrf_token": token}).status_code == 302
    assert admin.all_items(f"/api/role-assignments?user_id={user_id}") == []
    # a user of another township is the 404 page for this township admin
    qingshan_user = admin.all_items(f"/api/users?org_unit_id={fresh_tenant.unit('T02')}")[0]["id"]
    assert township.get(f"/admin/users/{qingshan_user}").status_code == 404
    assert township.post(f"/admin/users/{qingshan_user}/lock", data={"csrf_token": t_token, "locked": "1"}).status_code == 404
    audit = {e["action"] for e in admin.get(f"/api/audit?object_type=app_user&object_id={user_id}").get_json()["items"]}
    assert {"create", "update", "reset_password"} <= audit


def test_roles_edit_with_the_anti_escalation_rule(app, fresh_tenant, login):
    admin = login(fresh_tenant, "county.admin")
    page = admin.get("/admin/roles").get_data(as_text=True)
    assert 'id="role-village_cadre"' in page
    token = csrf(admin.get("/admin/roles/new").get_data(as_text=True))
    bad = admin.post("/admin/roles/new", data={"csrf_token": token, "key": "Bad Key", "name": "",
                                               "permissions": ["core.case.read"]})
    assert bad.status_code == 422
    html = bad.get_data(as_text=True)
    assert field_error(html, "role-key") == "角色标识只能包含小写字母、数字和下划线"
    assert field_error(html, "role-name") == "长度不符合要求"
    assert re.search(r'id="perm-core.case.read" name="permissions" value="core.case.read"\s+checked', html)
    r = admin.post("/admin/roles/new", data={"csrf_token": token, "key": "grid_clerk", "name": "网格员",
                                             "permissions": ["core.case.read", "core.case.register"]})
    assert r.status_code == 302
    role_id = int(r.headers["Location"].split("/admin/roles/")[1].split("?")[0])
    assert admin.get(f"/api/roles/{role_id}").get_json()["permissions"] == ["core.case.read", "core.case.register"]
    r = admin.post(f"/admin/roles/{role_id}", data={"csrf_token": token, "name": "网格信息员",
                                                    "permissions": ["core.case.read"]})
    assert r.status_code == 302
    saved = admin.get(f"/api/roles/{role_id}").get_json()
    assert (saved["name"], saved["permissions"]) == ("网格信息员", ["core.case.read"])
    # anti-escalation: a permission the editor does not hold is refused, nothing saved
    creator = admin.post("/api/roles", json={"key": "role_editor", "name": "角色管理员",
                                             "permissions": ["core.role.manage", "core.role.read", "core.case.read"]})
    assert creator.status_code == 201
    token2 = csrf(admin.get("/admin/users/new").get_data(as_text=True))
    made = admin.post("/admin/users/new", data={"csrf_token": token2, "username": "wang.wu", "display_name": "王五",
                                                "org_unit_id": str(fresh_tenant.unit("C"))})
    wang = int(re.search(r'href="/admin/users/(\d+)"', made.get_data(as_text=True)).group(1))
    assert admin.post("/api/role-assignments", json={"user_id": wang, "role_id": creator.get_json()["id"],
                                                     "org_unit_id": fresh_tenant.unit("C")}).status_code == 201
    password = re.search(r'<code id="initial-password">([^<]+)</code>', made.get_data(as_text=True)).group(1)
    editor = login_after_change(app, fresh_tenant, "wang.wu", password)
    page = editor.get(f"/admin/roles/{role_id}").get_data(as_text=True)
    assert re.search(r'id="perm-core.user.manage"[^>]*disabled', page)
    esc = editor.post(f"/admin/roles/{role_id}", data={"csrf_token": csrf(page), "name": "网格信息员",
                                                       "permissions": ["core.case.read", "core.user.manage"]})
    assert esc.status_code == 403 and "不能授予自己没有的权限：core.user.manage" in esc.get_data(as_text=True)
    assert admin.get(f"/api/roles/{role_id}").get_json()["permissions"] == ["core.case.read"]
    assert editor.get("/admin/users").status_code == 403  # no user.manage: no users section
    # a role still held cannot be deleted; once revoked it can
    held = admin.post(f"/admin/roles/{creator.get_json()['id']}/delete", data={"csrf_token": token})
    assert held.status_code == 409 and "仍有用户持有该角色" in held.get_data(as_text=True)
    assert admin.post(f"/admin/roles/{role_id}/delete", data={"csrf_token": token}).status_code == 302
    assert admin.get(f"/api/roles/{role_id}").status_code == 404


def login_after_change(app, tenant, username: str, password: str):
    """Log in with a one-time password, change it, and return the client with its CSRF header."""
    from tests.conftest import web_login
    client, _ = web_login(app, tenant, username, password)
    page = client.get("/password").get_data(as_text=True)
    r = client.post("/password", data={"csrf_token": csrf(page), "old_password": password,
                                       "new_password": "Neues-Passwort-2026", "new_password2": "Neues-Passwort-2026"})
    assert r.status_code == 302, r.get_data(as_text=True)
    client.headers["X-CSRF-Token"] = client.get("/api/me").get_json()["csrf_token"]
    return client


# --- member units, calendar overrides, audit log ---------------------------------------------------

def test_member_units_add_edit_deactivate_delete(app, fresh_tenant, login):
    admin = login(fresh_tenant, "county.admin")
    page = admin.get("/admin/member-units")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "县司法局" in html
    token = csrf(html)
    township = fresh_tenant.unit("T01")
    bad = admin.post("/admin/member-units", data={"csrf_token": token, "org_unit_id": str(township), "name": "",
                                                  "category": "justice_office"})
    assert bad.status_code == 422
    assert field_error(bad.get_data(as_text=True), "member-name") == "长度不符合要求"
    assert "justice_office" in bad.get_data(as_text=True)
    r = admin.post("/admin/member-units", data={"csrf_token": token, "org_unit_id": str(township),
                                                "name": "东湖镇人民法庭", "category": "court"})
    assert r.status_code == 302
    item = next(m for m in admin.all_items("/api/member-units") if m["name"] == "东湖镇人民法庭")
    dup = admin.post("/admin/member-units", data={"csrf_token": token, "org_unit_id": str(township),
                                                  "name": "东湖镇人民法庭", "category": "court"})
    assert dup.status_code == 409 and field_error(dup.get_data(as_text=True), "member-name") == "该单位已有同名的成员单位"
    r = admin.post(f"/admin/member-units/{item['id']}", data={"csrf_token": token, "action": "save",
                                                              "name": "东湖法庭巡回点", "category": "court"})
    assert r.status_code == 302, re.findall(r"field-error[^>]*>([^<]*)", r.get_data(as_text=True))
    r = admin.post(f"/admin/member-units/{item['id']}", data={"csrf_token": token, "action": "toggle"})
    got = admin.get(f"/api/member-units/{item['id']}").get_json()
    assert (got["name"], got["active"]) == ("东湖法庭巡回点", False)
    # a township admin of another township cannot touch it
    other = login(fresh_tenant, "qingshan.admin")
    o_token = csrf(other.get("/admin/member-units").get_data(as_text=True))
    assert "东湖法庭巡回点" not in other.get("/admin/member-units").get_data(as_text=True)
    assert other.post(f"/admin/member-units/{item['id']}", data={"csrf_token": o_token, "action": "delete"}).status_code == 404
    assert admin.post(f"/admin/member-units/{item['id']}", data={"csrf_token": token, "action": "delete"}).status_code == 302
    assert admin.get(f"/api/member-units/{item['id']}").status_code == 404
    kinds = {e["action"] for e in admin.get(f"/api/audit?object_type=member_unit&object_id={item['id']}").get_json()["items"]}
    assert kinds == {"create", "update", "delete"}


def test_calendar_overrides(app, fresh_tenant, login):
    admin = login(fresh_tenant, "county.admin")
    html = admin.get("/admin/calendar?year=2031").get_data(as_text=True)
    title = html.split("<title>")[1].split("</title>")[0]
    assert "<" not in title and html.count('id="year"') == 1  # the page's title is text; the form is on it once
    token = csrf(html)
    bad = admin.post("/admin/calendar", data={"csrf_token": token, "day": "2031-02-30", "kind": "rest", "note": "x"})
    assert bad.status_code == 422 and field_error(bad.get_data(as_text=True), "day-day").startswith("请填写日期")
    long_note = admin.post("/admin/calendar", data={"csrf_token": token, "day": "2031-05-06", "kind": "rest",
                                                    "note": "长" * 101})
    assert long_note.status_code == 422 and field_error(long_note.get_data(as_text=True), "day-note") == "长度不符合要求"
    assert admin.get("/api/calendar?year=2031").get_json() == []
    r = admin.post("/admin/calendar", data={"csrf_token": token, "day": "2031-05-06", "kind": "rest",
                                            "note": "本县试验：调休"})
    assert r.status_code == 302 and "year=2031" in r.headers["Location"]
    assert admin.get("/api/calendar?year=2031").get_json() == [
        {"day": "2031-05-06", "is_workday": False, "note": "本县试验：调休"}]
    assert 'id="day-2031-05-06"' in admin.get("/admin/calendar?year=2031").get_data(as_text=True)
    assert admin.post("/admin/calendar/2031-05-06/remove", data={"csrf_token": token}).status_code == 302
    assert admin.get("/api/calendar?year=2031").get_json() == []
    # a year no calendar covers: the page says limits there are provisional; the county may declare it entered
    assert "尚未发布或尚未导入平台" in html and "暂定" in html and 'id="year"' in html
    bad = admin.post("/admin/calendar/years/2031", data={"csrf_token": token, "action": "declare", "source": ""})
    assert bad.status_code == 422 and field_error(bad.get_data(as_text=True), "year-source") == "长度不符合要求"
    empty = admin.post("/admin/calendar/years/2031", data={"csrf_token": token, "action": "declare",
                                                           "source": "本县据通知录入（测试）"})
    assert empty.status_code == 422 and "还没有 2031 年的任何节假日" in empty.get_data(as_text=True)  # issue 13
    assert admin.get("/api/calendar/years").get_json() == []
    assert admin.post("/admin/calendar", data={"csrf_token": token, "day": "2031-05-06", "kind": "rest",
                                               "note": "本县试验：调休"}).status_code == 302
    declared = admin.post("/admin/calendar/years/2031", data={"csrf_token": token, "action": "declare",
                                                              "source": "本县据通知录入（测试）"})
    assert declared.status_code == 302 and "/jobs/" in declared.headers["Location"]  # the recompute's progress
    assert admin.get("/api/calendar/years").get_json() == [{"year": 2031, "source": "本县据通知录入（测试）"}]
    assert "本县录入，出处：本县据通知录入（测试）" in admin.get("/admin/calendar?year=2031").get_data(as_text=True)
    assert admin.post("/admin/calendar/years/2031", data={"csrf_token": token, "action": "remove"}).status_code == 302
    assert admin.get("/api/calendar/years").get_json() == []
    assert admin.post("/admin/calendar/2031-05-06/remove", data={"csrf_token": token}).status_code == 302
    assert admin.post("/admin/calendar/years/1999", data={"csrf_token": token, "action": "remove"}).status_code == 404
    township = login(fresh_tenant, "donghu.admin")
    assert township.get("/admin/calendar").status_code == 403
    t_token = csrf(township.get("/admin/org-units").get_data(as_text=True))
    assert township.post("/admin/calendar", data={"csrf_token": t_token, "day": "2031-05-07", "kind": "rest",
                                                  "note": ""}).status_code == 403


def test_audit_log_viewer_filters(app, fresh_tenant, login):
    admin = login(fresh_tenant, "county.admin")
    token = csrf(admin.get("/admin/calendar").get_data(as_text=True))
    admin.post("/admin/calendar", data={"csrf_token": token, "day": "2032-01-05", "kind": "rest", "note": "审计查看测试"})
    page = admin.get("/admin/audit?actor=county.admin&object_type=calendar_day")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    entries = re.findall(r'<td class="audit-who"[^>]*>(.*?)</td>\s*<td class="audit-action"[^>]*>(.*?)</td>\s*'
                         r'<td class="audit-object"[^>]*>(.*?)</td>', html, re.S)  # issue 15 item 9: in words
    assert entries and all("县综治中心管理员" in a and o.startswith("本县调休日") for a, _, o in entries)
    assert "审计查看测试" in html
    assert "审计查看测试" not in admin.get("/admin/audit?object_type=org_unit").get_data(as_text=True)
    assert "审计查看测试" not in admin.get("/admin/audit?object_type=calendar_day&until=2020-01-01").get_data(as_text=True)
    assert "审计查看测试" in admin.get("/admin/audit?object_type=calendar_day&since=2020-01-01").get_data(as_text=True)
    bad = admin.get("/admin/audit?since=yesterday")
    assert bad.status_code == 422
    assert field_error(bad.get_data(as_text=True), "since") == "日期格式应为 2026-01-31"
    assert admin.get("/admin/audit?actor=nobody.here").status_code == 404  # no such user in the county
    assert login(fresh_tenant, "donghu.admin").get("/admin/audit").status_code == 403


def test_township_admin_sees_only_its_sections(app, fresh_tenant, login):
    township = login(fresh_tenant, "donghu.admin")
    html = township.get("/admin").get_data(as_text=True)
    assert 'href="/admin/org-units"' in html and 'href="/admin/users"' in html
    for county_only in ("/admin/modules", "/admin/calendar", "/admin/audit", "/admin/roles"):
        assert f'href="{county_only}"' not in html
        assert township.get(county_only).status_code == 403
    assert login(fresh_tenant, "village.cadre").get("/admin").status_code == 403


def test_the_users_list_shows_each_accounts_roles(app, fresh_tenant, login):
    """Issue 15, item 12: the users list lacked roles — which account is the village's officer
    could only be seen by opening each one. Roles by name, with the unit where held when it is
    not the account's own; an account without any says so."""
    admin = login(fresh_tenant, "county.admin")
    admin.post("/api/users", json={"username": "no.role", "display_name": "无角色", "org_unit_id": fresh_tenant.unit("T01")})
    page = admin.get("/admin/users").get_data(as_text=True)
    rows = {m.group(1): m.group(2) for m in re.finditer(r'<a href="/admin/users/\d+"[^>]*>([^<]+)</a>(.*?)</tr>', page, re.S)}
    assert "村综治专干" in rows["village.cadre"], rows["village.cadre"]
    assert "乡镇综治中心管理员" in rows["donghu.admin"]
    assert "无角色" in rows["no.role"] and "village_cadre" not in page
