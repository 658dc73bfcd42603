"""The web half of the fuzz (issue 14, finding 11): every form of every page, at the edge values.
Its own file, so pytest-xdist runs it beside the API half (tests/test_schemathesis.py) rather than
after it; the same county and the same probe counts."""
from __future__ import annotations

import re

from core.app import pingan
from core.testing.fuzz import EDGE_DATES, EDGE_TIMES, NON_ASCII_DIGITS
from tests.test_schemathesis import PROBES, fuzz_target, pytestmark  # noqa: F401  (the fixture, the skip)

# --- web forms (issue 14, finding 11): every form of every page, at the edge values ----------------

WEB_EDGES = [str(10**20), str(-(2**63) - 1), *EDGE_TIMES, *EDGE_DATES, "9999-12-31T23:59", "0001-01-01T00:00",
             "/\n/evil.example", "[" * 3000, *NON_ASCII_DIGITS]
WEB_EDGES_PER_FIELD = [str(10**20), "9999-12-31T23:59:59-14:00", "0001-01-01", "²"]
_FORM = re.compile(r"<form\b([^>]*)>(.*?)</form>", re.S)
_NAME = re.compile(r'\bname="([^"]+)"')


def _forms(html: str) -> list[tuple[str, str, list[str]]]:
    """(method, action, field names) of each form on a page."""
    import html as html_lib
    out = []
    for attrs, inner in _FORM.findall(html):
        action = re.search(r'\baction="([^"]*)"', attrs)
        method = re.search(r'\bmethod="([^"]*)"', attrs)
        names = sorted(set(_NAME.findall(inner)) - {"csrf_token"})
        out.append(((method.group(1) if method else "get").upper(),
                    html_lib.unescape(action.group(1)) if action else "", names))
    return out


def test_web_forms_never_fail_on_edge_values(app, fuzz_target, login):
    from tests.casework import register
    from tests.conftest import Client
    tenant, token = fuzz_target
    api = Client(app, tenant.host, {"Authorization": f"Bearer {token}"})
    case = register(api, tenant.unit("T01D1V1"))
    admin = login(tenant, "county.admin")
    values = {"unit_id": tenant.unit("T01D1V1"), "case_id": case["id"], "name": "visits", "year": 2026,
              "user_id": next(u["id"] for u in api.get("/api/users?limit=50").get_json()["items"]
                              if u["username"] != "county.admin"),  # probes may lock or reset it
              "role_id": api.get("/api/roles?limit=1").get_json()["items"][0]["id"], "day": "2026-10-01",
              "kind": "disputes"}
    pages, posts = [], []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(("/api/", "/oauth", "/static", "/assets")) or rule.endpoint.endswith("static") \
                or rule.rule in ("/logout", "/login", "/password"):
            continue
        path = rule.rule
        for arg in rule.arguments:
            path = re.sub(rf"<(?:[a-z]+:)?{arg}>", str(values.get(arg, 1)), path)
        if "GET" in rule.methods:
            pages.append(path)
        if "POST" in rule.methods:
            posts.append(path)
    forms, failures = [], []

    def probe(kind: str, method: str, path: str, data: dict) -> None:
        PROBES[f"web {kind}"] += 1
        if method == "GET":
            r = admin.get(path, query_string=data)
        else:
            r = admin.post(path, data=data)
        if r.status_code >= 500:
            failures.append(f"{method} {path} {data!r:.300}: {r.status_code}")
        if path.startswith("/admin/modules/"):  # a probe may have switched a module off: on again
            for name in pingan(app).plugins.names:
                api.put(f"/api/modules/{name}", json={"enabled": True})

    for path in pages:
        r = admin.get(path)
        if r.status_code == 200 and "text/html" in r.content_type:
            forms.extend(_forms(r.get_data(as_text=True)))
    union = sorted({n for _, _, names in forms for n in names})
    assert len(forms) >= 20 and len(union) >= 30, (len(forms), union)
    # every form as the pages show it: all its fields at one edge value, then one field at a time
    for method, action, names in {(m, a, tuple(n)) for m, a, n in forms if a.startswith("/") and n}:
        for edge in WEB_EDGES:
            probe("form", method, action, {n: edge for n in names})
        for name in names:
            for edge in WEB_EDGES_PER_FIELD:
                probe("field", method, action, {name: edge})
    # every route, with every field name any page uses, at each edge value (query or form)
    for path in pages:
        for edge in WEB_EDGES:
            probe("route", "GET", path, {n: edge for n in union})
    for path in posts:
        for edge in WEB_EDGES:
            probe("route", "POST", path, {n: edge for n in union})
    print(f"\nweb probes per class: { {k: v for k, v in PROBES.items() if k.startswith('web')} }")
    assert failures == [], "\n".join(failures[:50])
