"""The county admin's audit viewer in a real browser (issue 15, item 9): the filters are
selects and date pickers a person uses by their Chinese words; a log-in is one row; an edited
user's change reads "姓名：旧 → 新" and a phone never shows; times are Beijing time; the page
is Chinese (the ASCII sweep), has no serious axe finding and fits a 360-px phone."""
from __future__ import annotations

import datetime as dt
import re

from tests.browser.browsing import (PHONE, api, blocking_violations, county_with, screenshot, sideways_overflow)
from tests.browser.test_browser_pages import visible_ascii_words

try:
    from playwright.sync_api import expect
except ImportError:  # the ``browser`` fixture skips (or, under CI, fails) and says why
    expect = None

SHANGHAI = dt.timezone(dt.timedelta(hours=8))


def rows(page) -> list[dict]:
    return page.eval_on_selector_all("tr.audit-entry", """rows => rows.map(r => ({
        action: r.dataset.action, at: r.querySelector('.audit-at').innerText,
        iso: r.querySelector('time').getAttribute('datetime'), who: r.querySelector('.audit-who').innerText,
        act: r.querySelector('.audit-action').innerText, object: r.querySelector('.audit-object').innerText,
        changes: r.querySelector('.audit-changes').innerText}))""")


def test_the_audit_viewer_in_words(app, open_page):
    county = county_with(app)
    open_page(county, "village.cadre")  # one log-in of the cadre: two entries in the log
    admin = api(app, county, "county.admin")
    cadre = next(u for u in admin.all_items("/api/users") if u["username"] == "village.cadre")
    assert admin.patch(f"/api/users/{cadre['id']}", json={"display_name": "罗塘村专干", "phone": "13912345678"}
                       ).status_code == 200
    page = open_page(county, "county.admin")
    assert page.goto("/admin/audit").status == 200
    assert not visible_ascii_words(page), visible_ascii_words(page)

    # who: a select of the county's users by name; what: a select of acts by their Chinese names
    page.select_option("#actor", label="罗塘村专干")  # its name now (the entry keeps the id)
    page.select_option("#action", label="登录")
    with page.expect_navigation():
        page.get_by_role("button", name="筛选").click()
    found = rows(page)
    assert [r["act"] for r in found] == ["登录"], found
    assert "罗塘村专干" in found[0]["who"] and "罗塘村" in found[0]["who"]
    # Beijing time, the UI's format
    at = dt.datetime.fromisoformat(found[0]["iso"]).astimezone(SHANGHAI)
    assert found[0]["at"] == at.strftime("%Y-%m-%d %H:%M"), found[0]

    # the edit: Chinese field, old → new; the phone only as 已修改
    page.select_option("#actor", label="县综治中心管理员")
    page.select_option("#action", label="修改")
    page.select_option("#object_type", label="用户账号")
    today = dt.datetime.now(SHANGHAI).date().isoformat()
    page.fill("#since", today)
    page.fill("#until", today)
    with page.expect_navigation():
        page.get_by_role("button", name="筛选").click()
    edits = [r for r in rows(page) if "罗塘村专干" in r["object"]]
    assert edits, rows(page)
    assert "姓名：罗塘村综治专干 → 罗塘村专干" in edits[0]["changes"] and "电话：已修改" in edits[0]["changes"]
    assert "5678" not in page.inner_text("main")
    assert not blocking_violations(page)
    screenshot(page, "admin-audit-filtered-1366")


def test_the_audit_viewer_fits_a_phone(app, open_page):
    county = county_with(app)
    page = open_page(county, "county.admin", viewport=PHONE)
    assert page.goto("/admin/audit").status == 200
    screenshot(page, "admin-audit-filtered-360")
    overflow = sideways_overflow(page)
    assert overflow["scroll"] <= overflow["width"], overflow
    assert re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", page.inner_text("#audit-entries"))
    expect(page.locator("#actor")).to_be_visible()
