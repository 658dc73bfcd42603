"""Swagger UI at /api/docs works under its Content-Security-Policy (issue 14, finding 15)."""
from __future__ import annotations

from playwright.sync_api import expect


def test_swagger_ui_renders_under_its_csp_with_no_violation(open_page, web_county):
    # issue 14 finding 15: the docs page has a CSP (no inline script allowed) and still works
    page = open_page(web_county)
    blocked = []
    page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
    r = page.goto("/api/docs")
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["cache-control"] == "no-store"
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Pingan API")
    page.locator(".opblock-summary").first.click()  # an operation opens with its parameters
    expect(page.locator(".opblock-body").first).to_be_visible()
    assert blocked == []
