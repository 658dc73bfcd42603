"""Tenant isolation over every endpoint, generated from the URL map (issue 2).

For each URL rule that takes an object id: tenant A's county admin, holding every
permission, uses an id that exists in tenant B — with every method the rule allows. The
answer must be 404, exactly as for an id that exists nowhere. For each list endpoint: no id
of any of B's rows appears in A's answer (ids come from one platform-wide sequence, so any
overlap is a leak).

A rule this test does not know makes it fail: add the table its id comes from to
``ID_TABLES`` (and a valid body to ``BODIES`` if its writes need one).
"""
from __future__ import annotations

import json

import pytest
from sqlalchemy import inspect, text

from core.db import TENANT, Base, table_class
from tests.conftest import Client, load_tenant, make_token

# rule (as in the URL map) → the table whose id fills the rule's one id argument
ID_TABLES = {
    "/api/org-units/<unit_id>": "org_unit",
    "/api/org-units/<unit_id>/move": "org_unit",
    "/api/org-units/<unit_id>/retire": "org_unit",
    "/api/org-units/<unit_id>/ancestors": "org_unit",
    "/api/users/<user_id>": "app_user",
    "/api/users/<user_id>/lock": "app_user",
    "/api/users/<user_id>/unlock": "app_user",
    "/api/users/<user_id>/reset-password": "app_user",
    "/api/roles/<role_id>": "role",
    "/api/role-assignments/<assignment_id>": "role_assignment",
    "/api/member-units/<item_id>": "member_unit",
    "/api/network-roles/<item_id>": "network_role",
    "/api/persons/<person_id>": "person",
    "/api/tokens/<token_id>": "access_token",
    "/api/oauth-clients/<client_id>": "oauth_client",
    "/api/oauth-clients/<client_id>/secret": "oauth_client",
    "/api/hello/greetings/<greeting_id>": "hello_greeting",
}
# rules whose argument is not an object id (same names in every tenant; tenant-gated by the host)
NOT_OBJECT_IDS = {"/api/modules/<name>", "/api/docs-static/<path:filename>", "/static/<path:filename>",
                  "/assets/<path:filename>"}
BODIES = {
    ("PATCH", "/api/org-units/<unit_id>"): {"name": "越权改名"},
    ("POST", "/api/org-units/<unit_id>/move"): "A_UNIT",
    ("PATCH", "/api/users/<user_id>"): {"display_name": "越权改名"},
    ("PATCH", "/api/roles/<role_id>"): {"name": "越权改名"},
    ("PATCH", "/api/member-units/<item_id>"): {"name": "越权改名"},
    ("PATCH", "/api/network-roles/<item_id>"): {"person_name": "越权改名"},
    ("PATCH", "/api/persons/<person_id>"): {"name": "越权改名"},
    ("PATCH", "/api/oauth-clients/<client_id>"): {"name": "越权改名"},
}
MISSING_ID = 8_999_999_999_999


@pytest.fixture(scope="module")
def pair(app):
    """Two counties with every module on; B has a row behind every id-taking rule."""
    a, b = load_tenant(app), load_tenant(app)
    for t in (a, b):
        admin = Client(app, t.host, {"Authorization": f"Bearer {make_token(app, t, 'county.admin')}"})
        assert admin.put("/api/modules/hello", json={"enabled": True}).status_code == 200
        r = admin.post("/api/hello/greetings", json={"org_unit_id": t.unit("T01D1V1"), "recipient": "张三"})
        assert r.status_code == 201, r.get_json()
        r = admin.post("/api/oauth-clients", json={
            "name": "县信息中心应用", "confidential": False, "redirect_uris": ["https://app.example/cb"],
            "scopes": ["core.org_unit.read"], "grant_types": ["authorization_code"]})
        assert r.status_code == 201, r.get_json()
    return a, b


def _first_id(db, tenant, table: str) -> int | None:
    with db.transaction(tenant.id) as s:
        return s.execute(text(f'SELECT id FROM "{table}" WHERE tenant_id = :t ORDER BY id LIMIT 1'),
                         {"t": tenant.id}).scalar()


def _all_ids(db, tenant) -> set[int]:
    present = set(inspect(db.engine).get_table_names())
    ids: set[int] = set()
    with db.transaction(tenant.id) as s:
        for table in Base.metadata.sorted_tables:
            if table_class(table) == TENANT and table.name in present and "id" in table.c \
                    and table.name not in ("audit_entry", "audit_head"):  # per-tenant positions, not ids
                ids |= set(s.execute(text(f'SELECT id FROM "{table.name}" WHERE tenant_id = :t'),
                                     {"t": tenant.id}).scalars())
    return ids


def _api_rules(app):
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/") and rule.rule not in ("/api/openapi.json", "/api/docs"):
            yield rule


def test_every_id_rule_answers_404_for_another_tenants_ids(app, db, pair):
    a, b = pair
    admin_a = Client(app, a.host, {"Authorization": f"Bearer {make_token(app, a, 'county.admin')}"})
    unknown, checked, leaks = [], 0, []
    for rule in _api_rules(app):
        if not rule.arguments or rule.rule in NOT_OBJECT_IDS:
            continue
        table = ID_TABLES.get(rule.rule)
        if table is None:
            unknown.append(rule.rule)
            continue
        b_id = _first_id(db, b, table)
        if b_id is None:
            unknown.append(f"{rule.rule} (tenant B has no {table} row: create one in the fixture)")
            continue
        arg = next(iter(rule.arguments))
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            body = BODIES.get((method, rule.rule))
            if body == "A_UNIT":
                body = {"parent_id": a.unit("T02")}
            kw = {"json": body if body is not None else {}} if method in ("POST", "PATCH", "PUT") else {}
            url_b = rule.rule.replace(f"<{arg}>", str(b_id))
            url_missing = rule.rule.replace(f"<{arg}>", str(MISSING_ID))
            got = admin_a.request(method, url_b, **kw)
            missing = admin_a.request(method, url_missing, **kw)
            checked += 1
            if got.status_code != 404 or got.get_json() != missing.get_json():
                leaks.append(f"{method} {rule.rule}: {got.status_code} {got.get_json()} "
                             f"(missing id: {missing.status_code})")
    assert unknown == [], "rules this matrix does not cover yet: " + json.dumps(unknown, ensure_ascii=False)
    assert leaks == []
    assert checked >= 25


def test_no_list_endpoint_returns_another_tenants_rows(app, db, pair):
    a, b = pair
    admin_a = Client(app, a.host, {"Authorization": f"Bearer {make_token(app, a, 'county.admin')}"})
    b_ids = _all_ids(db, b)
    assert len(b_ids) > 300
    checked, leaks = 0, []
    for rule in _api_rules(app):
        if rule.arguments or "GET" not in rule.methods:
            continue
        r = admin_a.get(rule.rule + "?limit=200")
        assert r.status_code < 500, rule.rule
        if r.status_code != 200:
            continue
        body = r.get_json()
        items = body["items"] if isinstance(body, dict) and "items" in body else body if isinstance(body, list) else []
        found = {i.get("id") for i in items if isinstance(i, dict)} & b_ids
        checked += 1
        if found:
            leaks.append(f"{rule.rule}: {sorted(found)[:5]}")
    assert leaks == []
    assert checked >= 9
