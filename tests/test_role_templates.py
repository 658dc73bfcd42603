"""Role templates reach users (issue 16, item 3): a county that switches a module on sees the
module's role templates, adopts one as a new role or adds it to an existing role — by the API
and in the console — under the anti-escalation rule, and a module switched off offers none."""
from __future__ import annotations

import re

from sqlalchemy import select

from core.audit import AuditEntry
from tests.conftest import load_tenant
from tests.test_web_admin import field_error
from tests.test_web_cases import csrf

# the example module and its own template (one place to change if the example is renamed)
MODULE, TEMPLATE, GREETINGS = "visits", "visits_greeter", "/api/visits/greetings"
READ, MANAGE = f"{MODULE}.greeting.read", f"{MODULE}.greeting.manage"


def _templates(client, module: str | None = None) -> dict[str, dict]:
    r = client.get("/api/role-templates" + (f"?module={module}" if module else ""))
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["next_cursor"] is None
    return {t["key"]: t for t in r.get_json()["items"]}


def _roles(client) -> dict[str, dict]:
    return {r["key"]: r for r in client.all_items("/api/roles")}


def _user_id(client, username: str) -> int:
    return next(u["id"] for u in client.all_items("/api/users") if u["username"] == username)


def test_switched_off_module_offers_no_templates(app, fresh_tenant, login):
    admin = login(fresh_tenant, "county.admin")
    listed = _templates(admin)
    assert TEMPLATE not in listed
    assert listed["county_admin"]["modules"] == []  # the core's bundle, nothing of the module in it
    assert not any(p["code"].startswith(f"{MODULE}.") for t in listed.values() for p in t["permissions"])
    assert _templates(admin, MODULE) == {}
    r = admin.post("/api/roles/from-template", json={"template": TEMPLATE})
    assert r.status_code == 422
    assert r.get_json()["code"] == "unknown_template" and "template" in r.get_json()["errors"]["json"]
    viewer = _roles(admin)["viewer"]
    r = admin.post(f"/api/roles/{viewer['id']}/extend", json={"template": TEMPLATE})
    assert r.status_code == 422 and r.get_json()["code"] == "unknown_template"
    # the console says the templates come with the module, and offers no form
    page = admin.get(f"/admin/modules/{MODULE}").get_data(as_text=True)
    assert 'id="role-templates-off"' in page and f'id="role-template-{TEMPLATE}"' not in page
    assert "/role-templates/" not in page  # no form
    # switched on, then off again: gone again
    assert admin.put(f"/api/modules/{MODULE}", json={"enabled": True}).status_code == 200
    assert TEMPLATE in _templates(admin)
    assert admin.put(f"/api/modules/{MODULE}", json={"enabled": False}).status_code == 200
    assert TEMPLATE not in _templates(admin)


def test_enable_adopt_assign_and_the_user_can_use_the_module(app, fresh_tenant, login):
    admin = login(fresh_tenant, "county.admin")
    assert admin.put(f"/api/modules/{MODULE}", json={"enabled": True}).status_code == 200
    listed = _templates(admin, MODULE)
    assert {TEMPLATE, "county_admin", "unit_admin", "viewer"} <= set(listed)
    greeter = listed[TEMPLATE]
    assert greeter["name"] == "问候员" and greeter["modules"] == [MODULE] and greeter["grantable"] is True
    assert {(p["code"], p["title"]) for p in greeter["permissions"]} == {(READ, "查看问候"), (MANAGE, "发送问候")}
    carrying = {r["key"] for r in greeter["roles"]}
    assert "county_admin" in carrying and "village_cadre" not in carrying
    # the county's whole list has the module's part of the core bundles too
    assert READ in {p["code"] for p in _templates(admin)["viewer"]["permissions"]}

    # the village cadre has nothing of the module yet
    cadre = login(fresh_tenant, "village.cadre")
    assert cadre.get(GREETINGS).status_code == 403

    r = admin.post("/api/roles/from-template", json={"template": TEMPLATE})
    assert r.status_code == 201, r.get_json()
    role = r.get_json()
    assert (role["key"], role["name"], role["name_en"]) == (TEMPLATE, "问候员", "Greeter")
    assert role["permissions"] == sorted([READ, MANAGE])
    assert TEMPLATE in {r["key"] for r in _templates(admin, MODULE)[TEMPLATE]["roles"]}
    # adopted again under another name: a key of its own; the same name again is refused at the field
    again = admin.post("/api/roles/from-template", json={"template": TEMPLATE, "name": "村问候员"})
    assert again.status_code == 201 and again.get_json()["key"] == f"{TEMPLATE}_2"
    same = admin.post("/api/roles/from-template", json={"template": TEMPLATE, "name": "问候员"})
    assert same.status_code == 409 and same.get_json()["code"] == "role_name_taken"
    assert "name" in same.get_json()["errors"]["json"]
    taken = admin.post("/api/roles/from-template", json={"template": TEMPLATE, "name": "问候员三",
                                                         "key": TEMPLATE})
    assert taken.status_code == 409 and taken.get_json()["code"] == "role_key_taken"
    bad = admin.post("/api/roles/from-template", json={"template": TEMPLATE, "extra": 1})
    assert bad.status_code == 422

    village = fresh_tenant.unit("T01D1V1")
    r = admin.post("/api/role-assignments", json={"user_id": _user_id(admin, "village.cadre"),
                                                  "role_id": role["id"], "org_unit_id": village})
    assert r.status_code == 201, r.get_json()
    cadre = login(fresh_tenant, "village.cadre")  # the widened account signs in again
    assert cadre.get(GREETINGS).status_code == 200
    sent = cadre.post(GREETINGS, json={"org_unit_id": village, "recipient": "罗大爷"})
    assert sent.status_code == 201, sent.get_json()

    # audited, with words for the audit viewer
    with app.extensions["pingan"].db.transaction(fresh_tenant.id) as s:
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "role_template_adopt",
                                                  AuditEntry.object_id == str(role["id"])))
        assert entry is not None and entry.changes["template"] == "问候员"
        assert sorted(entry.changes["permissions"]) == sorted([READ, MANAGE])
    log = admin.get("/admin/audit?action=role_template_adopt").get_data(as_text=True)
    assert "采用角色模板为新角色" in log and "角色模板" in log and "查看问候" in log


def test_extend_an_existing_role(app, fresh_tenant, login):
    admin = login(fresh_tenant, "county.admin")
    assert admin.put(f"/api/modules/{MODULE}", json={"enabled": True}).status_code == 200
    grid = _roles(admin)["grid_worker"]
    assert not any(c.startswith(f"{MODULE}.") for c in grid["permissions"])
    before = login(fresh_tenant, "grid.worker")
    assert before.get(GREETINGS).status_code == 403
    r = admin.post(f"/api/roles/{grid['id']}/extend", json={"template": TEMPLATE})
    assert r.status_code == 200, r.get_json()
    assert {READ, MANAGE} <= set(r.get_json()["permissions"])
    assert set(grid["permissions"]) <= set(r.get_json()["permissions"])  # nothing taken away
    assert "grid_worker" in {x["key"] for x in _templates(admin, MODULE)[TEMPLATE]["roles"]}
    # the holder's account is widened: its session ended (as when given a wider role); signed in again, it has them
    assert before.get("/api/me").status_code == 401
    worker = login(fresh_tenant, "grid.worker")
    assert worker.get(GREETINGS).status_code == 200
    # once more: nothing to add, nothing recorded
    assert admin.post(f"/api/roles/{grid['id']}/extend", json={"template": TEMPLATE}).status_code == 200
    with app.extensions["pingan"].db.transaction(fresh_tenant.id) as s:
        entries = list(s.scalars(select(AuditEntry).where(AuditEntry.action == "role_template_extend")))
    assert len(entries) == 1 and sorted(entries[0].changes["permissions"]) == sorted([READ, MANAGE])
    # an unknown template, a role id that is not a number or is nobody's: 422, 404, 404
    assert admin.post(f"/api/roles/{grid['id']}/extend", json={"template": "nope"}).status_code == 422
    assert admin.post("/api/roles/abc/extend", json={"template": TEMPLATE}).status_code == 404
    assert admin.post("/api/roles/999999999/extend", json={"template": TEMPLATE}).status_code == 404


def test_editing_a_role_to_give_more_signs_its_holders_out_and_taking_away_does_not(app, fresh_tenant, login):
    """A role widened by PATCH /api/roles/<id> is treated like a template added to it: a session
    or token captured while the account held less opens nothing at the higher level."""
    admin = login(fresh_tenant, "county.admin")
    grid = _roles(admin)["grid_worker"]
    worker = login(fresh_tenant, "grid.worker")
    fewer = [c for c in grid["permissions"] if c != "core.person.manage"]
    assert admin.patch(f"/api/roles/{grid['id']}", json={"permissions": fewer}).status_code == 200
    assert worker.get("/api/me").status_code == 200                     # less: still signed in
    more = sorted({*grid["permissions"], "core.case.supervise"})
    assert admin.patch(f"/api/roles/{grid['id']}", json={"permissions": more}).status_code == 200
    assert worker.get("/api/me").status_code == 401                     # more: signed out
    with app.extensions["pingan"].db.transaction(fresh_tenant.id) as s:
        widened = list(s.scalars(select(AuditEntry).where(AuditEntry.action == "widen_account")))
    assert len(widened) == 1 and "core.case.supervise" in widened[0].changes["permissions"]


def test_escalation_is_refused(app, fresh_tenant, login):
    admin = login(fresh_tenant, "county.admin")
    assert admin.put(f"/api/modules/{MODULE}", json={"enabled": True}).status_code == 200
    # a role clerk: may manage roles, holds nothing of the module
    clerk_role = admin.post("/api/roles", json={"key": "role_clerk", "name": "角色管理员",
                                                "permissions": ["core.role.read", "core.role.manage"]})
    assert clerk_role.status_code == 201, clerk_role.get_json()
    r = admin.post("/api/role-assignments", json={"user_id": _user_id(admin, "grid.worker"),
                                                  "role_id": clerk_role.get_json()["id"],
                                                  "org_unit_id": fresh_tenant.unit("T01D1V1W1")})
    assert r.status_code == 201, r.get_json()
    clerk = login(fresh_tenant, "grid.worker")
    listed = _templates(clerk, MODULE)
    assert listed[TEMPLATE]["grantable"] is False
    before = _roles(admin)
    r = clerk.post("/api/roles/from-template", json={"template": TEMPLATE, "name": "越权问候员"})
    assert r.status_code == 403
    body = r.get_json()
    assert body["code"] == "cannot_grant_unheld" and "查看问候" in body["message"]
    assert "template" in body["errors"]["json"]
    assert _roles(admin).keys() == before.keys()
    # nor may it add the module to its own role (or any other)
    r = clerk.post(f"/api/roles/{clerk_role.get_json()['id']}/extend", json={"template": TEMPLATE})
    assert r.status_code == 403 and r.get_json()["code"] in ("cannot_grant_unheld", "role_beyond_reach")
    r = clerk.post(f"/api/roles/{before['viewer']['id']}/extend", json={"template": TEMPLATE})
    assert r.status_code == 403
    assert _roles(admin)["viewer"]["permissions"] == before["viewer"]["permissions"]
    # a role assigned at the county's root is beyond a township admin's reach
    township = login(fresh_tenant, "donghu.admin")
    r = township.post(f"/api/roles/{before['viewer']['id']}/extend", json={"template": TEMPLATE})
    assert r.status_code == 403


def test_other_countys_role_is_not_found(app, fresh_tenant, login):
    other = load_tenant(app)
    neighbour = login(other, "county.admin")
    assert neighbour.put(f"/api/modules/{MODULE}", json={"enabled": True}).status_code == 200
    foreign = _roles(neighbour)["viewer"]
    admin = login(fresh_tenant, "county.admin")
    assert admin.put(f"/api/modules/{MODULE}", json={"enabled": True}).status_code == 200
    r = admin.post(f"/api/roles/{foreign['id']}/extend", json={"template": TEMPLATE})
    assert r.status_code == 404 and r.get_json()["code"] == "not_found"
    assert _roles(neighbour)["viewer"]["permissions"] == foreign["permissions"]
    # and the console's form: 404 as well, nothing changed
    token = csrf(admin.get(f"/admin/modules/{MODULE}").get_data(as_text=True))
    r = admin.post(f"/admin/modules/{MODULE}/role-templates/{TEMPLATE}/extend",
                   data={"csrf_token": token, "role_ids": str(foreign["id"])})
    assert r.status_code == 404
    assert _roles(neighbour)["viewer"]["permissions"] == foreign["permissions"]


def test_console_adopts_and_extends_through_the_module_page(app, fresh_tenant, login):
    admin = login(fresh_tenant, "county.admin")
    token = csrf(admin.get("/admin/modules").get_data(as_text=True))
    r = admin.post(f"/admin/modules/{MODULE}/switch", data={"csrf_token": token, "enabled": "1", "back": "module"})
    assert r.status_code == 302
    page = admin.get(r.headers["Location"]).get_data(as_text=True)
    panel = page[page.index('id="role-templates"'):]
    panel = panel[:panel.index("</section>")]
    assert "问候员" in panel and "查看问候" in panel and "发送问候" in panel
    assert "采用为新角色" in panel and "加入已有角色" in panel
    assert 'name="role_name"' in panel and 'type="checkbox"' in panel and "网格员" in panel
    text = re.sub(r"<[^>]+>", " ", panel)  # what a reader sees: no keys, no codes, no JSON
    assert TEMPLATE not in text and f"{MODULE}.greeting" not in text and "{" not in text
    carriers = re.search(rf'id="role-template-{TEMPLATE}-carriers">(.*?)</p>', panel).group(1)
    assert "县级管理员" in carriers
    # a core bundle the module adds to says which of its permissions are the module's
    part = re.search(r'id="role-template-viewer-module-part">(.*?)</p>', panel).group(1)
    assert "查看问候" in part and "查看事项" not in part
    assert f'id="role-template-{TEMPLATE}-module-part"' not in panel  # the module's own: all of it

    # an empty name: 422, the message at the field
    adopt = f"/admin/modules/{MODULE}/role-templates/{TEMPLATE}/adopt"
    r = admin.post(adopt, data={"csrf_token": token, "role_name": "  "})
    assert r.status_code == 422
    assert field_error(r.get_data(as_text=True), f"role-template-{TEMPLATE}-name") == "请填写新角色的名称"
    # a name in use: 409, the message at the field, what was typed kept
    r = admin.post(adopt, data={"csrf_token": token, "role_name": "网格员"})
    assert r.status_code == 409
    html = r.get_data(as_text=True)
    assert field_error(html, f"role-template-{TEMPLATE}-name") == "已有同名角色，请另取一个名称"
    assert re.search(rf'id="role-template-{TEMPLATE}-name"[^>]*value="网格员"', html)
    # adopted under the name typed
    r = admin.post(adopt, data={"csrf_token": token, "role_name": "村问候员"})
    assert r.status_code == 302 and "#role-templates" in r.headers["Location"]
    done = admin.get(r.headers["Location"]).get_data(as_text=True)
    assert 'id="role-templates-done"' in done and "采用为新角色" in done
    adopted = next(x for x in _roles(admin).values() if x["name"] == "村问候员")
    assert adopted["key"] == TEMPLATE and adopted["permissions"] == sorted([READ, MANAGE])

    # add to existing roles: none checked is 422; two checked, both get it
    extend = f"/admin/modules/{MODULE}/role-templates/{TEMPLATE}/extend"
    r = admin.post(extend, data={"csrf_token": token})
    assert r.status_code == 422
    assert field_error(r.get_data(as_text=True), f"role-template-{TEMPLATE}-roles") == "请至少选择一个角色"
    before = _roles(admin)
    r = admin.post(extend, data={"csrf_token": token,
                                 "role_ids": [str(before["grid_worker"]["id"]), str(before["member_staff"]["id"])]})
    assert r.status_code == 302, r.get_data(as_text=True)
    after = _roles(admin)
    for key in ("grid_worker", "member_staff"):
        assert {READ, MANAGE} <= set(after[key]["permissions"])
    assert after["village_cadre"]["permissions"] == before["village_cadre"]["permissions"]


def test_console_refuses_escalation_at_the_field(app, fresh_tenant, login):
    admin = login(fresh_tenant, "county.admin")
    assert admin.put(f"/api/modules/{MODULE}", json={"enabled": True}).status_code == 200
    # a module manager who may manage roles but holds nothing of the module
    codes = ["core.role.read", "core.role.manage", "core.plugin.manage"]
    role = admin.post("/api/roles", json={"key": "module_clerk", "name": "模块管理员", "permissions": codes})
    assert role.status_code == 201, role.get_json()
    user = admin.post("/api/role-assignments", json={"user_id": _user_id(admin, "county.viewer"),
                                                     "role_id": role.get_json()["id"],
                                                     "org_unit_id": fresh_tenant.unit("C")})
    assert user.status_code == 201
    viewer_role = _roles(admin)["viewer"]  # county.viewer's role: it already holds the module's 查看问候
    clerk = login(fresh_tenant, "county.viewer")
    page = clerk.get(f"/admin/modules/{MODULE}").get_data(as_text=True)
    assert "您本人未持有该模板的全部权限" in page
    token = csrf(page)
    r = clerk.post(f"/admin/modules/{MODULE}/role-templates/{TEMPLATE}/adopt",
                   data={"csrf_token": token, "role_name": "越权问候员"})
    assert r.status_code == 403
    html = r.get_data(as_text=True)
    message = re.search(rf'id="role-template-{TEMPLATE}-error">([^<]*)<', html).group(1)
    assert "发送问候" in message and "不能授予" in message
    assert 'value="越权问候员"' in html
    r = clerk.post(f"/admin/modules/{MODULE}/role-templates/{TEMPLATE}/extend",
                   data={"csrf_token": token, "role_ids": str(viewer_role["id"])})
    assert r.status_code == 403
    error = field_error(r.get_data(as_text=True), f"role-template-{TEMPLATE}-roles")
    assert error.startswith("“只读用户”：") and "发送问候" in error
    assert _roles(admin)["viewer"]["permissions"] == viewer_role["permissions"]
    assert "越权问候员" not in {x["name"] for x in _roles(admin).values()}
