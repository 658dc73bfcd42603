"""The platform operator's console (issue 6): operators are the users of the platform tenant
(created by ``pingan operator create``); they list counties with their usage, create one from
a ``tenants/`` folder or a form, suspend and resume one — every act audited. Anyone else
gets the 404 page."""
from __future__ import annotations

import re
import shutil
import uuid

import pytest
from sqlalchemy import select

from core.app import pingan
from core.audit import AuditEntry
from core.context import Actor, acting_as
from core.models import Tenant, User
from core.platform import create_operator
from tests.casework import register
from tests.conftest import ROOT, Client, web_login
from tests.test_attachments import PNG, upload

PLATFORM_HOST = "platform.localhost"
OP_PASSWORD = "operator-first-2026"
OP_NEW_PASSWORD = "operator-own-pass-2026"


def csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def change_first_password(c: Client, old: str, new: str) -> None:
    page = c.get("/password").get_data(as_text=True)
    assert "首次登录" in page
    r = c.post("/password", data={"csrf_token": csrf(page), "old_password": old, "new_password": new,
                                  "new_password2": new})
    assert r.status_code == 302, r.get_data(as_text=True)


@pytest.fixture
def operator(app) -> Client:
    """A new operator (the platform tenant is made on first use), signed in after the forced
    first password change."""
    state = pingan(app)
    username = f"op.{uuid.uuid4().hex[:8]}"
    with acting_as(Actor(None, "test:operator")):
        create_operator(state.db, state.config, username, "平台运营员", [PLATFORM_HOST], OP_PASSWORD)
    state.resolver.forget()
    c, r = web_login(app, PLATFORM_HOST, username, OP_PASSWORD)
    assert r.status_code == 302 and r.headers["Location"].endswith("/password")
    assert c.get("/operator").status_code == 302  # nothing else before the password is changed
    change_first_password(c, OP_PASSWORD, OP_NEW_PASSWORD)
    c.headers["X-CSRF-Token"] = c.get("/api/me").get_json()["csrf_token"]
    return c


def tenant_row(page: str, slug: str) -> str:
    return re.search(rf'<tr id="tenant-{re.escape(slug)}">(.*?)</tr>', page, re.S).group(1)


def usage(page: str, slug: str) -> dict:
    row = tenant_row(page, slug)
    return {"users": int(re.search(r'class="num users">(\d+)<', row).group(1)),
            "cases": int(re.search(r'class="num cases">(\d+)<', row).group(1)),
            "storage": int(re.search(r'data-bytes="(\d+)"', row).group(1))}


def audit_actions(db, tenant_id: int, object_id: int) -> list[str]:
    with db.transaction(tenant_id) as s:
        return list(s.scalars(select(AuditEntry.action).where(AuditEntry.object_type == "tenant",
                                                               AuditEntry.object_id == str(object_id))
                              .order_by(AuditEntry.id)))


def platform_id(db, app) -> int:
    with db.Session() as s:
        return s.scalar(select(Tenant.id).where(Tenant.slug == pingan(app).config.operator_tenant))


def test_operator_lands_on_the_console_and_sees_usage(app, db, county, login, operator):
    admin = login(county, "county.admin")
    case = register(admin, county.unit("T01D1V1"))
    register(admin, county.unit("T01D1V1"))
    assert upload(admin, case["id"], PNG, "现场.png", "image/png").status_code == 201
    assert operator.get("/").headers["Location"].endswith("/operator")
    page = operator.get("/operator").get_data(as_text=True)
    with db.transaction(county.id) as s:
        users = len(s.scalars(select(User.id).where(User.status == "active")).all())
    assert usage(page, county.slug) == {"users": users, "cases": 2, "storage": len(PNG)}
    assert county.host in tenant_row(page, county.slug) and "正常" in tenant_row(page, county.slug)


def test_operator_creates_a_county_from_a_tenants_folder(app, db, operator, tmp_path, monkeypatch):
    slug = f"f{uuid.uuid4().hex[:10]}"
    folder = tmp_path / slug
    shutil.copytree(ROOT / "tenants" / "demo", folder)
    toml = (folder / "tenant.toml").read_text(encoding="utf-8")
    toml = re.sub(r'^slug = .*$', f'slug = "{slug}"', toml, flags=re.M)
    toml = re.sub(r'^domains = .*$', f'domains = ["{slug}.localhost"]', toml, flags=re.M)
    (folder / "tenant.toml").write_text(toml, encoding="utf-8")
    broken = tmp_path / "broken"
    shutil.copytree(ROOT / "tenants" / "demo", broken)
    (broken / "org_units.csv").write_text("code,parent_code,level,name\nC,,county,甲县\nX,NOPE,township,乙镇\n",
                                          encoding="utf-8")
    monkeypatch.setattr(pingan(app).config, "tenants_dir", tmp_path)
    page = operator.get("/operator/tenants/new").get_data(as_text=True)
    assert f'<option value="{slug}"' in page and '<option value="broken"' in page
    # a folder that does not validate: every problem named, nothing created
    bad = operator.post("/operator/tenants/from-folder", data={"csrf_token": csrf(page), "folder": "broken"})
    assert bad.status_code == 422 and "NOPE 不存在" in bad.get_data(as_text=True)
    # a name that is not one of the folders (no path tricks)
    assert operator.post("/operator/tenants/from-folder",
                         data={"csrf_token": csrf(page), "folder": "../demo"}).status_code == 422
    r = operator.post("/operator/tenants/from-folder", data={"csrf_token": csrf(page), "folder": slug})
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    created = r.get_data(as_text=True)
    password = re.search(r"<td>county\.admin</td><td><code>([^<]+)</code>", created).group(1)
    with db.Session() as s:
        tid = s.scalar(select(Tenant.id).where(Tenant.slug == slug))
    assert "operator_create" in audit_actions(db, tid, tid)
    assert "operator_create" in audit_actions(db, platform_id(db, app), tid)
    # the county's administrator signs in with the one-time password and must change it
    c, r = web_login(app, f"{slug}.localhost", "county.admin", password)
    assert r.status_code == 302 and r.headers["Location"].endswith("/password")
    listing = operator.get("/operator").get_data(as_text=True)
    assert usage(listing, slug)["users"] == 8  # the demo folder's accounts
    # the same folder again: refused, the existing county untouched
    again = operator.post("/operator/tenants/from-folder", data={"csrf_token": csrf(page), "folder": slug})
    assert again.status_code == 409 and "已被使用" in again.get_data(as_text=True)


def test_operator_creates_a_county_from_the_form(app, db, operator):
    page = operator.get("/operator/tenants/new").get_data(as_text=True)
    slug = f"x{uuid.uuid4().hex[:10]}"
    bad = operator.post("/operator/tenants/from-form", data={
        "csrf_token": csrf(page), "slug": "Bad Slug", "name": "", "domain": "", "root_unit": "",
        "admin_username": "county.admin"})
    body = bad.get_data(as_text=True)
    assert bad.status_code == 422 and 'id="form-slug-error"' in body and "只能包含小写字母" in body
    assert 'id="form-root_unit-error"' in body and 'value="Bad Slug"' in body  # what was typed stays
    form = {"csrf_token": csrf(page), "slug": slug, "name": "新设县", "name_en": "Xinshe County",
            "domain": f"{slug}.localhost", "root_unit": "新设县", "admin_username": "xs.admin"}
    r = operator.post("/operator/tenants/from-form", data=form)
    assert r.status_code == 200, r.get_data(as_text=True)
    password = re.search(r"<td>xs\.admin</td><td><code>([^<]+)</code>", r.get_data(as_text=True)).group(1)
    c, r = web_login(app, f"{slug}.localhost", "xs.admin", password)
    assert r.status_code == 302 and r.headers["Location"].endswith("/password")
    change_first_password(c, password, "xinshe-admin-2026")
    c.headers["X-CSRF-Token"] = c.get("/api/me").get_json()["csrf_token"]
    units = c.get("/api/org-units").get_json()["items"]
    assert [u["name"] for u in units] == ["新设县"]
    # the slug or the host name of an existing county: 409, nothing changed
    dup = operator.post("/operator/tenants/from-form", data={**form, "slug": f"y{slug}"})
    assert dup.status_code == 409 and "已属于另一个县" in dup.get_data(as_text=True)


def test_suspend_keeps_the_countys_users_out_and_resume_lets_them_back(app, db, county, login, operator,
                                                                       token_client):
    cadre = login(county, "village.cadre")
    api = token_client(county, "county.admin")
    assert cadre.get("/").status_code == 200
    page = operator.get("/operator").get_data(as_text=True)
    r = operator.post(f"/operator/tenants/{county.id}/suspend", data={"csrf_token": csrf(page), "reason": "欠费"})
    assert r.status_code == 302
    assert "已暂停" in tenant_row(operator.get("/operator").get_data(as_text=True), county.slug)
    refused = cadre.get("/")
    assert refused.status_code == 403 and "该县的服务已暂停" in refused.get_data(as_text=True)
    assert cadre.get("/login").status_code == 403
    r = api.get("/api/me")
    assert r.status_code == 403 and r.get_json()["code"] == "tenant_suspended"
    r = operator.post(f"/operator/tenants/{county.id}/resume", data={"csrf_token": csrf(page)})
    assert r.status_code == 302
    assert cadre.get("/").status_code == 200 and api.get("/api/me").status_code == 200
    assert audit_actions(db, county.id, county.id)[-2:] == ["suspend", "resume"]
    assert audit_actions(db, platform_id(db, app), county.id)[-2:] == ["suspend", "resume"]
    with db.transaction(county.id) as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "suspend")).all()[-1]
        assert entry.changes["reason"] == "欠费" and entry.actor.startswith("user:op.")
    # the platform tenant itself cannot be suspended
    r = operator.post(f"/operator/tenants/{platform_id(db, app)}/suspend", data={"csrf_token": csrf(page)})
    assert r.status_code == 409


def test_anyone_but_an_operator_gets_404(app, demo, login, operator):
    admin = login(demo, "county.admin")
    for path in ("/operator", "/operator/tenants/new"):
        r = admin.get(path)
        assert r.status_code == 404 and "<html" in r.get_data(as_text=True)
    page = admin.get("/").get_data(as_text=True)
    assert admin.post(f"/operator/tenants/{demo.id}/suspend", data={"csrf_token": csrf(page)}).status_code == 404
    assert admin.post("/operator/tenants/from-form", data={"csrf_token": csrf(page), "slug": "zz"}).status_code == 404
    assert Client(app, PLATFORM_HOST).get("/operator").status_code == 401
    assert "/operator" not in page


def test_a_county_cannot_take_the_platform_tenants_slug(app, operator):
    page = operator.get("/operator/tenants/new").get_data(as_text=True)
    r = operator.post("/operator/tenants/from-form", data={
        "csrf_token": csrf(page), "slug": pingan(app).config.operator_tenant, "name": "假平台",
        "domain": "", "root_unit": "假平台", "admin_username": "x.admin"})
    assert r.status_code == 409 and "已被使用" in r.get_data(as_text=True)
