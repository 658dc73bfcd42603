"""The main pages in a real browser (issue 6): each one answers 200 for the user it is for, is
saved as a screenshot at 1366×768 and at a 360-px phone width (test-artifacts/screenshots/,
git-ignored, for reviewers), fits the phone's width without sideways scrolling, and has no
serious or critical axe-core violation (labelled fields, contrast, names, landmarks…)."""
from __future__ import annotations

import pytest

from tests.browser.browsing import (DESKTOP, PHONE, TIMEOUT_MS, api, blocking_violations, county_with, screenshot,
                                    register_dispute, sideways_overflow, sign_in)
from tests.casework import register

# (name, who, path): "{case}" / "{petition}" / "{dispute}" / "{township}" are filled from the sample fixture.
PAGES = [
    ("login", None, "/login"),
    ("home-village", "village.cadre", "/"),
    ("home-county", "county.admin", "/"),
    ("cases-list", "village.cadre", "/cases"),
    ("case-detail", "village.cadre", "/cases/{case}"),
    ("case-detail-township", "donghu.admin", "/cases/{case}"),
    ("case-print", "village.cadre", "/cases/{case}/print"),
    ("case-import", "donghu.admin", "/cases/import"),
    ("intake-form", "village.cadre", "/intake/new"),
    ("intake-pending", "donghu.admin", "/intake/"),
    ("intake-item", "donghu.admin", "/intake/{intake}"),
    ("password", "village.cadre", "/password"),
    ("not-found", "village.cadre", "/cases/999999999"),
    ("petition-detail", "county.admin", "/cases/{petition}"),
    ("petition-quotas", "county.admin", "/petition/quotas"),
    ("petition-watch", "county.admin", "/petition/watch"),
    ("petition-reports", "county.admin", "/petition/reports"),
    ("petition-status", None, "/petition/status"),
    ("dispute-detail", "county.admin", "/cases/{dispute}"),
    ("mediation-screening", "county.admin", "/mediation/screening"),
    ("mediation-reports", "county.admin", "/mediation/reports"),
    ("mediation-weekly", "county.admin", "/mediation/weekly"),
    ("mediation-register", "county.admin", "/mediation/registers/unstable"),
    ("admin-index", "county.admin", "/admin"),
    ("admin-modules", "county.admin", "/admin/modules"),
    ("admin-module-petition", "county.admin", "/admin/modules/petition"),
    ("admin-org-units", "county.admin", "/admin/org-units"),
    ("admin-org-unit", "county.admin", "/admin/org-units/{township}"),
    ("admin-users", "county.admin", "/admin/users"),
    ("admin-roles", "county.admin", "/admin/roles"),
    ("admin-member-units", "county.admin", "/admin/member-units"),
    ("admin-calendar", "county.admin", "/admin/calendar"),
    ("admin-audit", "county.admin", "/admin/audit"),
    ("inbox", "village.cadre", "/inbox"),
]
EXPECTED_STATUS = {"not-found": 404}


@pytest.fixture(scope="module")
def sample(app, web_county) -> dict:
    """A visit request supervised by the township, with a comment; a petition."""
    cadre = api(app, web_county, "village.cadre")
    case = register(cadre, web_county.unit("T01D1V1"), title="请求上门走访：独居老人王某")
    cadre.post(f"/api/cases/{case['id']}/comments", json={"text": "已电话联系家属"})
    township = api(app, web_county, "donghu.admin")
    r = township.post(f"/api/cases/{case['id']}/supervisions",
                      json={"kind": "supervise", "level": "listed", "instruction": "请三日内上门走访并反馈"})
    assert r.status_code in (200, 201), r.get_json()
    body = {"case_type": "petition.case", "title": "反映宅基地纠纷", "org_unit_id": web_county.unit("T01D1V1"),
            "content": "与邻居因宅基地界址发生纠纷，请求调处。", "persons": [],
            "details": {"form": "visit", "category": "land"}}
    r = api(app, web_county, "county.admin").post("/api/cases", json=body)
    assert r.status_code == 201, r.get_json()
    petition = r.get_json()["id"]
    admin = api(app, web_county, "county.admin")
    dispute = register_dispute(admin, web_county)
    assert admin.post(f"/api/mediation/disputes/{dispute}/escalate", json={"reason": "村调委会调解不成"}).status_code == 200
    assert admin.post(f"/api/cases/{dispute}/transitions/accept", json={"consent": True}).status_code == 200
    r = township.post("/api/intake", json={"channel": "visit", "org_unit_id": web_county.unit("T01"),
                                           "subject": "集市占道经营", "content": "群众反映集市占道，请求整治"})
    assert r.status_code == 201, r.get_json()
    return {"case": case["id"], "petition": petition, "dispute": dispute, "township": web_county.unit("T01"),
            "intake": r.get_json()["id"]}


@pytest.fixture(scope="module")
def signed_in(browser, live_server, web_county):
    """``signed_in(username, viewport)`` → a page signed in once per (user, viewport) for the module."""
    contexts: dict = {}

    def _page(username: str | None, viewport: dict):
        key = (username, viewport["width"])
        if key not in contexts:
            context = browser.new_context(base_url=live_server.url(web_county, ""), viewport=viewport,
                                          locale="zh-CN")
            context.set_default_timeout(TIMEOUT_MS)
            page = context.new_page()
            if username:
                sign_in(page, username)
            contexts[key] = (context, page)
        return contexts[key][1]

    yield _page
    for context, _ in contexts.values():
        context.close()


def visit(signed_in, sample, name: str, who: str | None, path: str, viewport: dict):
    page = signed_in(who, viewport)
    response = page.goto(path.format(**sample))
    expected = EXPECTED_STATUS.get(name, 200)
    assert response.status == expected, f"{path} answered {response.status}: {page.inner_text('main')[:300]}"
    return page


def test_the_axe_check_catches_an_unlabelled_field(browser):
    """The check itself: axe-core (from the wheel) is injected and its findings are read."""
    context = browser.new_context()
    page = context.new_page()
    page.set_content('<html lang="zh-CN"><head><title>x</title></head><body><main>'
                     '<input id="q"><p style="color:#bbb;background:#fff">浅灰色的字</p></main></body></html>')
    found = {v["id"] for v in blocking_violations(page)}
    context.close()
    assert {"label", "color-contrast"} <= found, found


@pytest.mark.parametrize("name,who,path", PAGES, ids=[p[0] for p in PAGES])
def test_page_at_desktop_size_has_no_serious_axe_violation(signed_in, sample, name, who, path):
    page = visit(signed_in, sample, name, who, path, DESKTOP)
    screenshot(page, f"{name}-1366")
    blocking = blocking_violations(page)
    report = "\n".join(f"[{v['impact']}] {v['id']}: {v['help']} — "
                       + "; ".join(n["target"][0] if isinstance(n["target"][0], str) else str(n["target"])
                                   for n in v["nodes"][:5])
                       for v in blocking)
    assert not blocking, f"{path}:\n{report}"


@pytest.mark.parametrize("name,who,path", PAGES, ids=[p[0] for p in PAGES])
def test_page_fits_a_360px_phone(signed_in, sample, name, who, path):
    page = visit(signed_in, sample, name, who, path, PHONE)
    screenshot(page, f"{name}-360")
    overflow = sideways_overflow(page)
    assert overflow["scroll"] <= overflow["width"], f"{path} scrolls sideways at 360 px: {overflow}"


@pytest.fixture(scope="module")
def english(app, browser, live_server):
    """A county of its own whose village cadre switched to English with the header's button
    (saved on the user, so it is kept out of the shared county)."""
    county = county_with(app, "visits")
    case = register(api(app, county, "village.cadre"), county.unit("T01D1V1"), title="请求上门走访：独居老人")
    context = browser.new_context(base_url=live_server.url(county, ""), viewport=DESKTOP, locale="zh-CN")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    sign_in(page, "village.cadre")
    page.get_by_role("button", name="English").click()
    page.wait_for_load_state()
    yield page, {"case": case["id"]}
    context.close()


@pytest.mark.parametrize("name,path", [("home", "/"), ("cases-list", "/cases"), ("case-detail", "/cases/{case}"),
                                       ("intake-form", "/intake/new")])
def test_english_pages(english, name, path):
    """English is switchable: the same pages in English after the header's button, screenshotted
    and checked by axe (the page's language included)."""
    page, ids = english
    assert page.goto(path.format(**ids)).status == 200
    assert page.get_attribute("html", "lang") == "en"
    assert page.get_by_role("navigation").get_by_role("link", name="Cases", exact=True).is_visible()
    screenshot(page, f"{name}-en-1366")
    found = [f"{v['id']} ({v['impact']})" for v in blocking_violations(page)]
    assert not found, found


# Issue 15, item 9: visible ASCII words allowed on a Chinese page — product and format names,
# and the language switch. Numbers, case numbers and codes the user typed (marked class="typed":
# usernames, unit codes, a token's name …) are not words of ours and are skipped.
ALLOWED_ASCII = {"PDF", "Excel", "API", "English", "OAuth", "ID", "CSV", "xlsx", "IP", "URL", "SMS", "HTTP", "HTTPS",
                 "Pingan", "OpenAPI", "Swagger", "JSON", "km", "GB", "KB", "MB", "Ctrl", "P", "Tab", "Enter", "Office",
                 "chinese-calendar"}  # the package the built-in holidays come from (named as the source)
ASCII_WORD = r"[A-Za-z][A-Za-z0-9_]*(?:[.:_/-][A-Za-z0-9_]+)*"


def visible_ascii_words(page) -> list[str]:
    import re
    text = page.evaluate("""() => {
        // (through the CSSOM: the pages' Content-Security-Policy refuses an injected <style>)
        const typed = [...document.querySelectorAll('.typed')];
        typed.forEach(e => e.style.setProperty('display', 'none', 'important'));
        const text = document.body.innerText;  // what is rendered: no script, no hidden element
        typed.forEach(e => e.style.removeProperty('display'));
        return text;
    }""")
    return sorted({w for w in re.findall(ASCII_WORD, text) if w not in ALLOWED_ASCII})


# Known and not fixed yet (issue 15 stays open for them): strict, so fixing one fails here
# until it is taken off this list.
NOT_YET_CHINESE = {
}


@pytest.mark.parametrize("name,who,path", [
    pytest.param(*p, marks=pytest.mark.xfail(strict=True, reason=NOT_YET_CHINESE[p[0]])) if p[0] in NOT_YET_CHINESE
    else p for p in PAGES], ids=[p[0] for p in PAGES])
def test_chinese_page_shows_no_english_key_or_internal_code(signed_in, sample, name, who, path):
    page = visit(signed_in, sample, name, who, path, DESKTOP)
    found = visible_ascii_words(page)
    assert not found, f"{path}: {found}"


def test_the_ascii_sweep_catches_a_key_and_skips_what_the_user_typed(browser):
    """The sweep itself: an internal key on the page is found; a code marked as typed, an
    allowed name and numbers are not."""
    context = browser.new_context()
    page = context.new_page()
    page.set_content('<html lang="zh-CN"><body><main><p>身份：requester · 状态 open</p>'
                     '<p>用户 <span class="typed">village.cadre</span> · 下载 PDF · 2026-12-06 24:00</p>'
                     '</main></body></html>')
    found = visible_ascii_words(page)
    context.close()
    assert found == ["open", "requester"], found
