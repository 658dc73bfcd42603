"""Keyboard only (issue 6, accessibility): the log-in form and the case list are usable with Tab
and Enter, and whatever has the focus shows it (a visible outline)."""
from __future__ import annotations

from tests.browser.browsing import api, path_of, screenshot
from tests.casework import register

try:
    from playwright.sync_api import expect
except ImportError:  # the ``browser`` fixture skips (or, under CI, fails) and says why
    expect = None

FOCUSED = """() => {
    const el = document.activeElement, cs = getComputedStyle(el), r = el.getBoundingClientRect();
    return {tag: el.tagName.toLowerCase(), id: el.id, text: (el.innerText || el.value || '').trim(),
            outline: cs.outlineStyle, width: parseFloat(cs.outlineWidth) || 0,
            onscreen: r.right > 0 && r.bottom > 0 && r.left < innerWidth && r.width > 0};
}"""


def focused(page) -> dict:
    return page.evaluate(FOCUSED)


def assert_focus_visible(page) -> dict:
    f = focused(page)
    assert f["outline"] != "none" and f["width"] >= 2 and f["onscreen"], f"focus not visible: {f}"
    return f


def tab_to(page, check, limit: int = 40) -> dict:
    """Press Tab until ``check(focused)`` holds; fail after ``limit`` presses."""
    seen = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        f = focused(page)
        if check(f):
            return f
        seen.append(f["id"] or f["text"][:12] or f["tag"])
    raise AssertionError(f"not reached with Tab; focus went through {seen}")


def test_log_in_with_the_keyboard(open_page, web_county):
    page = open_page(web_county)
    page.goto("/login")
    assert focused(page)["id"] == "username"  # the form takes the focus on arrival
    page.keyboard.type("village.cadre")
    page.keyboard.press("Tab")
    assert focused(page)["id"] == "password"
    assert_focus_visible(page)
    page.keyboard.type("wrong password")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.get_by_role("alert")).to_be_visible()  # the error is announced…
    assert page.input_value("#username") == "village.cadre"  # …and the name is kept
    page.focus("#password")
    page.keyboard.type("pingan-demo-2026")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert path_of(page) == "/"
    # the first Tab reaches the skip link, shown while focused; Enter jumps past the menu
    page.keyboard.press("Tab")
    skip = assert_focus_visible(page)
    assert skip["text"] == "跳到正文"
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert page.evaluate("() => !!document.activeElement.closest('main')"), focused(page)


def test_the_case_list_with_the_keyboard(app, open_page, web_county):
    case = register(api(app, web_county, "village.cadre"), web_county.unit("T01D1V1"), title="键盘操作：孤寡老人走访")
    register(api(app, web_county, "village.cadre"), web_county.unit("T01D1V1"), title="键盘操作之外的事项")
    page = open_page(web_county, "village.cadre")
    tab_to(page, lambda f: f["tag"] == "a" and f["text"] == "事项")
    assert_focus_visible(page)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert path_of(page) == "/cases"
    tab_to(page, lambda f: f["id"] == "q")
    assert_focus_visible(page)
    page.keyboard.type("孤寡老人")
    with page.expect_navigation():
        page.keyboard.press("Enter")  # Enter in the keyword box runs the search
    rows = page.locator("table.list tbody tr")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text(case["number"])
    tab_to(page, lambda f: f["id"] == "overdue")  # a checkbox: Space ticks it
    assert_focus_visible(page)
    page.keyboard.press("Space")
    assert page.is_checked("#overdue")
    page.keyboard.press("Space")
    link = tab_to(page, lambda f: f["tag"] == "a" and f["text"] == case["number"])
    assert link["onscreen"]
    assert_focus_visible(page)
    screenshot(page, "keyboard-focus-case-link-1366")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert path_of(page) == f"/cases/{case['id']}"
    expect(page.get_by_role("heading", level=1)).to_contain_text("键盘操作：孤寡老人走访")
    # on the case's page a note can be added without the mouse
    tab_to(page, lambda f: f["id"] == "comment-text", limit=80)
    assert_focus_visible(page)
    page.keyboard.type("已电话联系，明日上门")
    tab_to(page, lambda f: f["tag"] == "button" and f["text"] == "保存", limit=3)
    assert_focus_visible(page)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.locator("#timeline")).to_contain_text("已电话联系，明日上门")
