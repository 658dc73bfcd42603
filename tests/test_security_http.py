"""HTTP-level findings of the outside assessment (issue 14): redirects, headers, bad input."""
from __future__ import annotations

import re

import pytest

from tests.conftest import DEMO_PASSWORD, Client

# next targets that leave the site once a browser has read them (it drops tabs and line
# breaks, reads "\" as "/"), or that break the Location header
OFF_SITE = ["/\t/evil.example", "/\n/evil.example", "/\r\n/evil.example", " //evil.example",
            "\t//evil.example", "/\\/evil.example", "//evil.example", "https://evil.example/x", "https:evil.example",
            "/\x7f/evil.example", "/ /evil.example", "javascript:alert(1)", "/cases\r\nSet-Cookie: x=1"]
SAME_SITE = ["/cases", "/cases?status=open&sort=-due_at", "/oauth/authorize?client_id=x&redirect_uri=https%3A%2F%2Fa",
             "/%2F%2Fevil.example"]  # the last one is a path on this site (%2F is not a separator)


def _csrf(text: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', text).group(1)


@pytest.mark.parametrize("target", OFF_SITE + SAME_SITE)
def test_login_returns_only_to_a_same_origin_path(app, demo, target):
    # issue 14 finding 12 (open redirect, next=/%09/evil.com) and 11 (a next with a line break was a 500)
    c = Client(app, demo.host)
    page = c.get("/login", query_string={"next": target})
    assert page.status_code == 200
    r = c.post("/login", data={"csrf_token": _csrf(page.get_data(as_text=True)), "username": "county.viewer",
                               "password": DEMO_PASSWORD, "next": target})
    assert r.status_code == 302
    expected = target if target in SAME_SITE else "/"
    assert r.headers["Location"] == expected, target


@pytest.mark.parametrize("target", OFF_SITE + SAME_SITE)
def test_language_switch_returns_only_to_a_same_origin_path(app, demo, target):
    # issue 14 finding 12: the language switch uses the same helper as log-in
    r = Client(app, demo.host).post("/language", data={"lang": "en", "next": target})
    assert r.status_code == 302
    assert r.headers["Location"] == (target if target in SAME_SITE else "/"), target


def test_every_response_but_static_files_is_no_store(app, demo, login):
    # issue 14 finding 15: one rule — anything but a static file may carry personal data
    admin = login(demo, "county.admin")
    anon = Client(app, demo.host)
    for client, path in ((admin, "/api/me"), (admin, "/api/persons"), (admin, "/"), (admin, "/cases"),
                         (admin, "/api/nowhere"), (anon, "/login"), (anon, "/api/me"), (anon, "/api/openapi.json"),
                         (anon, "/api/docs"), (anon, "/healthz")):
        r = client.get(path)
        assert r.headers.get("Cache-Control") == "no-store", (path, r.status_code, r.headers.get("Cache-Control"))
        assert "default-src 'self'" in r.headers["Content-Security-Policy"], path
    r = anon.get("/static/pingan.css")
    assert r.status_code == 200 and "no-store" not in r.headers.get("Cache-Control", "")
    r = anon.get("/api/docs-static/swagger-ui-bundle.js")
    assert r.status_code == 200 and "no-store" not in r.headers.get("Cache-Control", "")


def test_api_docs_have_a_csp_and_no_inline_script(app, demo):
    # issue 14 finding 15: /api/docs ran with no CSP because its page held an inline script
    r = Client(app, demo.host).get("/api/docs")
    assert r.status_code == 200 and "default-src 'self'" in r.headers["Content-Security-Policy"]
    for attrs, body in re.findall(r"<script([^>]*)>(.*?)</script>", r.get_data(as_text=True), re.S):
        assert "src=" in attrs or 'type="application/json"' in attrs, attrs
        assert "src=" not in attrs or not body.strip()


@pytest.mark.parametrize("path", ["/api/openapi.json", "/api/docs", "/api/docs-static/swagger-ui-bundle.js"])
def test_docs_are_not_served_on_unknown_hosts(app, demo, path):
    # issue 14 finding 15: a host name that serves no county gets 404, not a map of the API
    assert Client(app, "unknown.example.org").get(path).status_code == 404
    assert Client(app, demo.host).get(path).status_code == 200


# --- no input produces a 500 (issue 14, finding 11) ------------------------------------------------

DEEP = b"[" * 100_000 + b"]" * 100_000


@pytest.mark.parametrize("method,path,signed_in", [
    ("POST", "/oauth/token", False), ("POST", "/login", False), ("POST", "/api/petition/public/status", False),
    ("POST", "/api/petition/public/status/rating", False), ("POST", "/language", False), ("GET", "/healthz", False),
    ("POST", "/api/persons", True), ("PATCH", "/api/me", True), ("POST", "/api/tokens", True),
    ("POST", "/api/org-units", True)])
def test_a_deep_or_huge_json_body_is_refused_before_it_is_parsed(app, county, login, method, path, signed_in):
    # issue 14 finding 11: a 100k-deep array was a RecursionError (500), signed in or not
    c = login(county, "county.admin") if signed_in else Client(app, county.host)
    c.headers["Accept"] = "application/json"  # pages (/login) answer the same error as HTML otherwise
    r = c.request(method, path, data=DEEP, content_type="application/json")
    assert r.status_code == 400 and r.get_json()["code"] == "json_too_deep", (path, r.status_code)
    assert r.get_json()["errors"] == {"json": {"_body": ["JSON 嵌套不能超过 32 层"]}}
    big = b'{"name": "' + b"x" * (1024 * 1024) + b'"}'
    r = c.request(method, path, data=big, content_type="application/json")
    assert r.status_code == 413 and r.get_json()["code"] == "too_large", path
    # a body just within the bounds is parsed as before (here: refused for its content, not its shape)
    r = c.request(method, path, data=b"[" * 32 + b"]" * 32, content_type="application/json")
    assert r.status_code < 500 and (r.get_json(silent=True) or {}).get("code") != "json_too_deep", path


def test_json_depth_counts_brackets_outside_strings_only():
    from core.app import json_depth_ok
    assert json_depth_ok(b'{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}')
    assert json_depth_ok(b'{"a": "\\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\\\"}')
    assert not json_depth_ok(b'{"a": "\\\\"' + b"[" * 33 + b"]" * 33 + b"}")
    assert json_depth_ok(b"[" * 32 + b"]" * 32) and not json_depth_ok(b"[" * 33 + b"]" * 33)


HUGE = "99999999999999999999"
EDGE_TIMES = ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"]


def test_out_of_range_ids_in_paths_are_not_found(app, county, login):
    # issue 14 finding 11: /admin/users/99999999999999999999 overflowed the database (500)
    admin = login(county, "county.admin")
    for path in (f"/admin/users/{HUGE}", f"/admin/users/{HUGE}/edit", f"/admin/roles/{HUGE}",
                 f"/admin/org-units/{HUGE}", f"/api/users/{HUGE}", f"/api/org-units/{HUGE}", f"/api/cases/{HUGE}",
                 f"/cases/{HUGE}", f"/inbox/{HUGE}/read"):
        method = "POST" if path.endswith(("/read", "/edit")) else "GET"
        assert admin.request(method, path).status_code == 404, path


def test_out_of_range_times_and_ids_in_the_api_are_422_at_their_field(app, county, login):
    # issue 14 finding 11: out-of-range datetimes in filters, token expiry and cursors; ids in bodies
    admin = login(county, "county.admin")
    for when in EDGE_TIMES:
        r = admin.get("/api/audit", query_string={"since": when})
        assert r.status_code == 422 and r.get_json()["code"] == "out_of_range", when
        assert "since" in r.get_json()["errors"]["query"]
        r = admin.post("/api/tokens", json={"name": "edge", "expires_at": when, "scope": ["core.org_unit.read"]})
        assert r.status_code == 422 and "expires_at" in r.get_json()["errors"]["json"], when
        import base64
        import json
        cursor = base64.urlsafe_b64encode(json.dumps([when, 5]).encode()).decode().rstrip("=")
        r = admin.get("/api/cases", query_string={"cursor": cursor, "sort": "-created_at"})
        assert r.status_code == 422 and r.get_json()["code"] == "invalid_cursor", r.get_json()
    r = admin.post("/api/org-units", json={"name": "边界组", "code": "EDGE1", "level": "group",
                                           "parent_id": int(HUGE)})
    assert r.status_code == 422 and "parent_id" in r.get_json()["errors"]["json"]


def test_module_fields_out_of_range_are_422_at_their_field(app, login):
    # issue 14 finding 11: details.*_id and module times (registration) and a transition's fields
    from tests.casework import act
    from tests.test_mediation import dispute, make_county, two_parties
    county = make_county(app, login)
    cadre = login(county, "village.cadre")
    parties = two_parties(cadre, county)
    for details in ({"screening_id": int(HUGE)}, {"occurred_at": EDGE_TIMES[0]}, {"occurred_at": EDGE_TIMES[1]}):
        r = dispute(cadre, county, parties=parties, expect=422, **details)
        assert r["code"] == "out_of_range" and list(r["errors"]["json"]) == [f"details.{next(iter(details))}"], r
    case = dispute(cadre, county, parties=parties)
    r = act(cadre, case["id"], "refuse", {"party_id": int(HUGE), "note": "边界值"})
    assert r.status_code == 422 and r.get_json()["errors"] == {"json": {"party_id": ["数值超出允许范围"]}}
    r = act(cadre, case["id"], "accept", {"consent": True, "accepted_on": "9999-12-31"})
    assert r.status_code == 422 and "accepted_on" in r.get_json()["errors"]["json"], r.get_json()


# Digits of other scripts: str.isdigit() is true of each, int() of "²" raises (issue 14, finding 11).
NON_ASCII_DIGITS = ["²", "١٢", "１２"]


@pytest.mark.parametrize("tenant_part", [*NON_ASCII_DIGITS, "", "-1", "+1", " 1", "1.0", str(2**63)])
def test_a_bearer_token_with_a_non_ascii_tenant_is_401(app, county, tenant_part):
    # issue 14 finding 11: "Authorization: Bearer pat_²_x" (byte 0xB2 read as latin-1) was a 500, unauthenticated
    for prefix in ("pat", "oat", "ort"):
        r = Client(app, county.host, {"Authorization": f"Bearer {prefix}_{tenant_part}_x"}).get("/api/cases")
        assert r.status_code == 401 and r.get_json()["code"] == "invalid_token", (prefix, tenant_part, r.status_code)


def test_parse_int_takes_ascii_digits_within_a_bigint_only():
    from core.bounds import parse_int
    assert [parse_int(s) for s in ("0", "12", "007", str(2**63 - 1))] == [0, 12, 7, 2**63 - 1]
    assert [parse_int(s) for s in (*NON_ASCII_DIGITS, "", " 1", "1 ", "+1", "-1", "1_0", "1.0", str(2**63))] == [None] * 11
    assert parse_int(None) is None and parse_int(12) is None
    assert parse_int("-1", signed=True) == -1 and parse_int("-²", signed=True) is None
    assert parse_int("5", lo=6) is None and parse_int("5", hi=4) is None and parse_int("5", lo=5, hi=5) == 5


@pytest.mark.parametrize("digits", NON_ASCII_DIGITS)
def test_web_forms_and_queries_with_non_ascii_digits_are_never_a_500(app, county, login, digits):
    # issue 14 finding 11: each of these read a number with isdigit() then int()
    from tests.casework import register
    admin = login(county, "county.admin")
    case = register(admin, county.unit("C"))
    user_id = next(u["id"] for u in admin.get("/api/users?limit=50").get_json()["items"] if u["username"] != "county.admin")
    role_id = admin.get("/api/roles?limit=1").get_json()["items"][0]["id"]
    # a unit that is no number: 404 as for any other non-number; a page cursor or a year: ignored
    assert admin.get("/", query_string={"unit": digits}).status_code == 404
    assert admin.get("/inbox", query_string={"before": digits}).status_code == 200
    assert admin.get("/admin/calendar", query_string={"year": digits}).status_code == 200
    # forms: the same 422 as for an empty or a non-numeric field
    r = admin.post(f"/admin/users/{user_id}/roles", data={"role_id": digits, "org_unit_id": str(county.unit("C"))})
    assert r.status_code == 422
    r = admin.post(f"/admin/users/{user_id}/roles", data={"role_id": str(role_id), "org_unit_id": digits})
    assert r.status_code == 422
    assert admin.post(f"/cases/{case['id']}/divert", data={"org_unit_id": digits}).status_code == 422
    r = admin.post(f"/cases/{case['id']}/divert", data={"org_unit_id": str(county.unit("T01")), "amount": digits})
    assert r.status_code == 422
    assert admin.post(f"/cases/{case['id']}/tasks/{digits}", data={"action": "done", "text": "x"}).status_code < 500
    assert admin.post("/intake/new", data={"org_unit_id": digits, "arose_unit_id": digits}).status_code < 500
    # the modules' pages: the default unit, or the same answer as for a non-number
    for path in ("/mediation/reports", "/mediation/weekly", "/mediation/registers/disputes", "/petition/quotas",
                 "/petition/watch", "/petition/reports"):
        assert admin.get(path, query_string={"org_unit_id": digits}).status_code < 500, path
    assert admin.post("/mediation/screening", data={"org_unit_id": digits, "period": "2026-10"}).status_code < 500
    assert admin.post("/mediation/registers/disputes", data={"resolve": digits}).status_code < 500
    assert admin.post(f"/api/petition/followups/{digits}/done", json={"result": "x"}).status_code < 500
