"""Platform contracts, checked by walking the real app (issue 2 "Tests that must exist")."""
from __future__ import annotations

import re
import shutil

import pytest
from flask import Blueprint

from core.app import create_app, pingan
from core.config import SETTINGS
from core.migrate import heads
from core.request import ALWAYS_TENANTLESS, endpoint_kind, view_guards
from core.tenant_config import validate_folder
from tests.conftest import ROOT, Client


def _sample_url(rule) -> str:
    url = rule.rule
    for arg in rule.arguments:
        url = re.sub(rf"<(?:[a-z]+:)?{arg}>", "1", url)
    return url


def test_every_url_rule_has_a_guard_with_a_declared_permission(app):
    registry = pingan(app).plugins.permissions
    missing = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in ALWAYS_TENANTLESS or rule.endpoint.endswith(".static"):
            continue
        for method, guard in view_guards(app, rule.endpoint):
            if guard is None:
                missing.append(f"{rule.rule} {method}")
            elif guard[0] == "permission":
                assert guard[1] in registry, f"{rule.rule} needs undeclared {guard[1]}"
    assert missing == []


def test_every_tenant_rule_is_gated_by_the_tenant(app):
    """On a host that names no county, every tenant-gated URL answers 404 unknown_tenant."""
    c = Client(app, "no-such-county.example")
    checked = 0
    for rule in app.url_map.iter_rules():
        if endpoint_kind(app, rule.endpoint) == "tenantless":
            continue
        method = sorted(rule.methods - {"HEAD", "OPTIONS"})[0]
        r = c.request(method, _sample_url(rule))
        assert r.status_code == 404, (rule.rule, r.status_code)
        if rule.rule.startswith("/api/"):
            assert r.get_json()["code"] == "unknown_tenant", rule.rule
        checked += 1
    assert checked >= 30


def test_every_permission_rule_refuses_anonymous_callers(app, demo):
    """401 for anonymous callers — or 404 where the route's plugin is off for the county."""
    c = Client(app, demo.host)
    owners = pingan(app).plugins.blueprint_owner
    checked = 0
    for rule in app.url_map.iter_rules():
        guards = {g for _, g in view_guards(app, rule.endpoint)} if rule.endpoint in app.view_functions else set()
        if not guards or any(g is None or g[0] != "permission" for g in guards):
            continue
        plugin = owners.get(rule.endpoint.rsplit(".", 1)[0])
        expected = 404 if plugin else 401  # no plugin is enabled for the demo county
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            r = c.request(method, _sample_url(rule), json={} if method != "GET" else None)
            assert r.status_code == expected, (method, rule.rule, r.status_code)
            checked += 1
    assert checked >= 40


def test_an_unguarded_view_stops_the_app_from_starting(config):
    bp = Blueprint("careless", __name__, url_prefix="/careless")

    @bp.route("/")
    def open_door():
        return "oops"

    class Careless:
        from core.hookspecs import hookimpl

        @hookimpl
        def pingan_plugin_info(self):
            return {"title": "疏忽的插件"}

        @hookimpl
        def pingan_web_blueprints(self):
            return [bp]

    with pytest.raises(RuntimeError, match="/careless/ .* has no guard"):
        create_app(config, extra_plugins={"careless": Careless()}, use_entry_points=False)


def test_every_tenants_folder_validates(app):
    folders = [p for p in (ROOT / "tenants").iterdir() if p.is_dir()]
    assert folders
    for folder in folders:
        _, issues = validate_folder(folder, pingan(app).plugins)
        assert issues == [], f"{folder.name}: {[str(i) for i in issues]}"


def test_validate_reports_every_error_with_file_and_place(app, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(ROOT / "tenants" / "demo", broken)
    toml = (broken / "tenant.toml").read_text(encoding="utf-8")
    toml = toml.replace('"core.person.manage", "core.case.read"', '"core.person.mange", "core.case.read"').replace('slug = "demo"', 'slug = "Demo!"')
    (broken / "tenant.toml").write_text(toml, encoding="utf-8")
    csv_lines = (broken / "org_units.csv").read_text(encoding="utf-8").splitlines()
    csv_lines[4] = csv_lines[4].replace(",village,", ",hamlet,")
    csv_lines.append("X1,NOPE,group,孤儿组")
    (broken / "org_units.csv").write_text("\n".join(csv_lines) + "\n", encoding="utf-8")
    _, issues = validate_folder(broken, pingan(app).plugins)
    found = {(i.file, i.where) for i in issues}
    assert ("tenant.toml", "slug") in found
    assert any(f == "tenant.toml" and w.startswith("roles[") and ".permissions[" in w for f, w in found)
    assert ("org_units.csv", "line 5") in found
    assert ("org_units.csv", f"line {len(csv_lines)}") in found
    assert all(i.message for i in issues)


def test_tenant_validate_cli_exit_code(app, tmp_path):
    from click.testing import CliRunner
    from core.cli import main
    ok = CliRunner().invoke(main, ["tenant", "validate", str(ROOT / "tenants" / "demo")])
    assert ok.exit_code == 0, ok.output
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "tenant.toml").write_text("slug = [", encoding="utf-8")
    r = CliRunner().invoke(main, ["tenant", "validate", str(bad)])
    assert r.exit_code == 1 and "tenant.toml" in r.output


def test_each_migration_branch_has_one_head(app):
    branches = heads(pingan(app).plugins)
    assert "core" in branches
    assert {label: revs for label, revs in branches.items() if len(revs) != 1} == {}


def test_configuration_doc_lists_every_setting():
    doc = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert [s.env for s in SETTINGS if f"`{s.env}`" not in doc] == []


def test_unknown_body_fields_are_rejected(demo, token_client):
    c = token_client(demo, "county.admin")
    r = c.post("/api/org-units", json={"parent_id": demo.unit("T01"), "name": "x", "level": "village",
                                       "tenant_id": 1})
    assert r.status_code == 422 and "tenant_id" in r.get_json()["errors"]["json"]


def test_errors_share_one_format(demo, token_client):
    c = token_client(demo, "county.admin")
    for r in (c.get("/api/org-units/abc"), c.post("/api/org-units", json={"name": 5}),
              c.get("/api/org-units?limit=9999"), c.delete("/api/org-units"),
              c.get("/api/org-units?cursor=%%%"), c.post("/api/org-units", data="not json",
                                                           headers={"Content-Type": "application/json"})):
        body = r.get_json()
        assert 400 <= r.status_code < 500, (r.status_code, body)
        assert set(body) >= {"status", "code", "message"} and body["status"] == r.status_code
        assert isinstance(body["code"], str) and body["message"]


def test_openapi_and_docs_are_served_locally(app, demo):
    c = Client(app, demo.host)
    spec = c.get("/api/openapi.json").get_json()
    assert spec["openapi"].startswith("3.") and "/api/org-units" in spec["paths"]
    page = c.get("/api/docs").get_data(as_text=True)
    assert "/api/docs-static/swagger-ui-bundle.js" in page and "cdn" not in page.lower()
    assert c.get("/api/docs-static/swagger-ui-bundle.js").status_code == 200


def test_health_endpoints(app):
    c = Client(app, "anything.example")
    assert c.get("/healthz").get_json() == {"status": "ok"}
    r = c.get("/readyz")
    assert r.status_code == 200 and r.get_json()["checks"] == {"database": "ok", "queue": "ok"}


def test_request_id_is_echoed(demo, app):
    r = Client(app, demo.host).get("/api/me", headers={"X-Request-ID": "abcdef1234567890"})
    assert r.headers["X-Request-ID"] == "abcdef1234567890"


def test_forged_cursors_are_422_not_500(demo, token_client):
    import base64
    import json
    c = token_client(demo, "county.admin")
    for payload in ([5, 1], [None, 1], ["/1/", "x"], {"a": 1}, [[1], 2], ["/1/", 2**64], ["/1/\u0000", 5]):
        cursor = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
        r = c.get(f"/api/org-units?cursor={cursor}")
        assert r.status_code == 422 and r.get_json()["code"] == "invalid_cursor", payload


def test_keyset_pages_cover_the_list_once(demo, token_client):
    c = token_client(demo, "county.admin")
    for sort in ("path", "-path", "name", "-name", "id"):
        seen, cursor = [], None
        while True:
            r = c.get(f"/api/org-units?limit=17&sort={sort}" + (f"&cursor={cursor}" if cursor else ""))
            body = r.get_json()
            seen += [u["id"] for u in body["items"]]
            cursor = body["next_cursor"]
            if not cursor:
                break
        assert len(seen) == len(set(seen)) == len(demo.units), sort


def test_county_defined_values_are_checked(demo, token_client):
    """Values OpenAPI cannot describe: the county's own level keys, the ID number check digit."""
    c = token_client(demo, "county.admin")
    r = c.post("/api/org-units", json={"parent_id": demo.unit("T01D1V1"), "name": "组", "level": "hamlet"})
    assert r.status_code == 422 and r.get_json()["code"] == "unknown_level"
    r = c.post("/api/persons", json={"name": "甲", "org_unit_id": demo.unit("T01D1V1"),
                                     "id_number": "990101199001011231"})
    assert r.status_code == 422 and r.get_json()["code"] == "invalid_id_number"


def test_a_missing_reference_is_404_not_500(demo, token_client):
    c = token_client(demo, "county.admin")
    r = c.post("/api/users", json={"username": "ref.check", "display_name": "引用检查",
                                   "org_unit_id": demo.unit("T01"), "member_unit_id": 424242})
    assert r.status_code == 404


def test_integrity_errors_become_409(app, demo):
    """The safety net behind the views' own checks: never a 500 for a constraint."""
    from sqlalchemy.exc import IntegrityError
    from core.app import _unexpected
    with app.test_request_context("/api/x"):
        resp = _unexpected(IntegrityError("INSERT …", {}, Exception("fk")))
    assert resp.status_code == 409 and resp.get_json()["code"] == "integrity_conflict"


def test_nul_characters_are_refused_everywhere(demo, token_client, app):
    """PostgreSQL cannot store NUL; it is refused at the edge with the field named (422)."""
    c = token_client(demo, "county.admin")
    r = c.get("/api/audit?object_id=a%00b")
    assert r.status_code == 422 and r.get_json()["errors"] == {"query": {"object_id": ["包含不允许的空字符 (NUL)"]}}
    r = c.post("/api/persons", json={"name": "甲\u0000", "org_unit_id": demo.unit("T01D1V1")})
    assert r.status_code == 422 and "name" in r.get_json()["errors"]["json"]
    r = c.post("/api/roles", json={"key": "x_role", "name": "x", "permissions": ["a\u0000"]})
    assert r.status_code == 422 and "permissions[0]" in r.get_json()["errors"]["json"]
    r = Client(app, demo.host).post("/login", data={"username": "a\x00", "password": "x", "csrf_token": "t"})
    assert r.status_code == 422
