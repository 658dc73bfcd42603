"""Module settings and time limits through the real form in Chromium (issue 15, item 10): the
county admin adds and removes rows of a list of records, entries of a list of words, ticks
choices with Chinese labels, types Chinese (character by character, as an input method commits
it), saves and sees the values saved; a bad value — an empty required cell, a local time limit
above its statutory bound — comes back with the Chinese message at that field and everything
typed kept. The same without JavaScript: the buttons post the form and it comes back changed."""
from __future__ import annotations

import re

import pytest

from tests.browser.browsing import DESKTOP, TIMEOUT_MS, api, county_with, screenshot, sign_in

try:
    from playwright.sync_api import expect
except ImportError:  # the ``browser`` fixture skips (or, under CI, fails) and says why
    expect = None

CJK = re.compile(r"[\u4e00-\u9fff]")


def settings(app, county) -> dict:
    return api(app, county, "county.admin").get("/api/modules/petition").get_json()["settings"]


def deadlines(app, county) -> dict:
    r = api(app, county, "county.admin").get("/api/case-types/petition.case/settings")
    return r.get_json()["settings"].get("deadlines") or {}


def cell(page, row: int, column: str, field: str = "信访分类"):
    return page.get_by_label(f"{field} 第 {row} 行 {column}", exact=True)


def test_rows_entries_and_choices_are_edited_in_place_and_saved(app, open_page):
    county = county_with(app, "petition")
    admin = open_page(county, "county.admin")
    admin.goto("/admin/modules/petition")
    categories = admin.locator("#field-categories")
    rows = categories.locator("tbody tr.setting-row")
    expect(rows).to_have_count(6)  # the default taxonomy
    posts = []
    admin.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)

    # a list of records: add a row, type Chinese into it, remove another row — all in the page
    categories.get_by_role("button", name="添加一行").click()
    expect(rows).to_have_count(7)
    expect(cell(admin, 7, "分类名称")).to_be_focused()  # named, never coded: no code column at all
    expect(categories.get_by_role("columnheader", name="分类代码")).to_have_count(0)
    cell(admin, 7, "分类名称").press_sequentially("草场纠纷")
    admin.get_by_role("button", name="删除信访分类第 2 行").click()
    expect(rows).to_have_count(6)
    expect(cell(admin, 6, "分类名称")).to_have_value("草场纠纷")  # renumbered
    expect(cell(admin, 2, "分类名称")).to_have_value("社会保障")

    # a list of words: one entry per line, add and remove
    networks = admin.locator("#field-internal_networks")
    networks.get_by_role("button", name="删除县内网络地址段第 2 项").click()
    networks.get_by_role("button", name="添加一项").click()
    admin.get_by_label("县内网络地址段 第 3 项", exact=True).fill("100.64.0.0/10")

    # choices with Chinese labels: rule: PET-4 (问责对象岗位)
    admin.locator("#field-accountable_roles").get_by_label("调解员").check()
    admin.get_by_label("上访指标期间").select_option(label="季度")
    # a table: the default quota of one level (rule: PET-4)
    quotas = admin.locator("#field-default_quotas")
    quotas.get_by_role("button", name="添加一行").click()
    admin.get_by_label("各层级默认上访指标 第 1 行 组织层级", exact=True).select_option(label="村（社区）")
    admin.get_by_label("各层级默认上访指标 第 1 行 越级访·进京", exact=True).fill("0")
    assert posts == [], posts  # nothing was posted: the buttons acted in the page

    with admin.expect_navigation():
        admin.get_by_role("button", name="保存参数").click()
    expect(admin.locator("#settings-saved")).to_be_visible()
    saved = settings(app, county)
    assert [c["title"] for c in saved["categories"]] == ["土地", "社会保障", "环境", "住房", "其他", "草场纠纷"]
    assert saved["categories"][-1]["title"] == "草场纠纷"
    assert re.fullmatch(r"k[0-9a-f]{6}", saved["categories"][-1]["key"])  # its code made when saved
    assert saved["categories"][0]["key"] == "land"  # the stored codes never change
    assert saved["internal_networks"] == ["10.0.0.0/8", "192.168.0.0/16", "100.64.0.0/10"]
    assert saved["accountable_roles"] == ["area_leader", "stationed_cadre", "mediator"]
    assert saved["quota_period"] == "quarter" and saved["default_quotas"] == {"village": {"beijing": 0}}
    # the page shows them again, and the history says what changed in words
    expect(cell(admin, 6, "分类名称")).to_have_value("草场纠纷")
    entry = admin.locator("#module-history tr.history-entry").first
    expect(entry).to_contain_text("信访分类")
    expect(entry).to_contain_text("草场纠纷")
    expect(entry).to_contain_text("包片领导、驻村干部、调解员")
    screenshot(admin, "settings-saved-1366")


def test_a_wrong_cell_is_refused_at_its_row_with_everything_typed_kept(app, open_page):
    county = county_with(app, "petition")
    admin = open_page(county, "county.admin")
    admin.goto("/admin/modules/petition")
    before = settings(app, county)
    admin.get_by_label("集体访人数").fill("8")
    categories = admin.locator("#field-categories")
    categories.get_by_role("button", name="添加一行").click()
    name = cell(admin, 7, "分类名称")
    name.press_sequentially("林权争议" * 11)  # longer than a category's name may be
    with admin.expect_response(lambda r: r.request.method == "POST") as posted:
        admin.get_by_role("button", name="保存参数").click()
    assert posted.value.status == 422
    error = categories.locator("tbody tr.setting-row").nth(6).locator(".field-error")
    expect(error).to_be_visible()
    assert CJK.search(error.inner_text())
    expect(name).to_have_attribute("aria-invalid", "true")
    expect(categories.locator("p.field-error[data-field=categories]")).to_contain_text("有 1 行需要更正")
    assert CJK.search(admin.locator("#settings-error").inner_text())
    # everything typed is kept
    expect(cell(admin, 7, "分类名称")).to_have_value("林权争议" * 11)
    expect(admin.get_by_label("集体访人数")).to_have_value("8")
    assert settings(app, county) == before  # nothing saved
    screenshot(admin, "settings-refused-1366")
    # corrected, it saves
    cell(admin, 7, "分类名称").fill("林权争议")
    with admin.expect_navigation():
        admin.get_by_role("button", name="保存参数").click()
    expect(admin.locator("#settings-saved")).to_be_visible()
    assert settings(app, county)["categories"][-1]["title"] == "林权争议"


def test_a_time_limit_is_changed_and_one_above_its_statutory_bound_is_refused(app, open_page):
    county = county_with(app, "petition")
    admin = open_page(county, "county.admin")
    admin.goto("/admin/modules/petition")
    limits = admin.locator("#limit-petition-case")
    clear = limits.locator("#limit-petition-case-close_clear")
    expect(clear).to_contain_text("60 日")  # the statutory bound next to the local limit
    expect(clear).to_contain_text("《信访工作条例》第三十四条")
    # rule: PET-1 — facts clear: close within 5 days, by the county's own document
    clear.get_by_label("启用").check()
    admin.get_by_label("事实清楚的办结期限（本县） 时限数量", exact=True).fill("5")
    admin.get_by_label("事实清楚的办结期限（本县） 时限单位", exact=True).select_option(label="个工作日")
    admin.get_by_label("事实清楚的办结期限（本县） 本县依据", exact=True).press_sequentially("《示范县信访工作实施办法》第五条")
    with admin.expect_navigation():
        limits.get_by_role("button", name=re.compile("保存设置")).click()
    expect(admin.locator("#limit-petition-case-saved")).to_be_visible()
    assert deadlines(app, county) == {"close_clear": {"enabled": True, "amount": 5, "unit": "working_days",
                                                      "source": "《示范县信访工作实施办法》第五条"}}
    expect(admin.get_by_label("事实清楚的办结期限（本县） 时限数量", exact=True)).to_have_value("5")
    expect(admin.locator("#module-history")).to_contain_text("事实清楚的办结期限（本县）")

    # rule: PET-1 — local limits may only be stricter: 61 days where the law gives 60 is refused
    complex_ = limits.locator("#limit-petition-case-close_complex")
    complex_.get_by_label("启用").check()
    amount = admin.get_by_label("情况复杂的办结期限（本县） 时限数量", exact=True)
    amount.fill("61")
    admin.get_by_label("情况复杂的办结期限（本县） 本县依据", exact=True).press_sequentially("县委办〔2026〕3号")
    admin.get_by_label("办理期限 时限数量", exact=True).fill("45")  # a valid change in the same form
    with admin.expect_response(lambda r: r.request.method == "POST") as posted:
        limits.get_by_role("button", name=re.compile("保存设置")).click()
    assert posted.value.status == 422
    error = complex_.locator(".field-error")
    expect(error).to_contain_text("不能宽于法定时限")
    assert CJK.search(error.inner_text()) and not re.search(r"[A-Z]{2,5}-\d", error.inner_text())
    expect(amount).to_have_attribute("aria-invalid", "true")
    expect(amount).to_have_value("61")
    expect(admin.get_by_label("情况复杂的办结期限（本县） 本县依据", exact=True)).to_have_value("县委办〔2026〕3号")
    expect(admin.get_by_label("办理期限 时限数量", exact=True)).to_have_value("45")
    expect(complex_.get_by_label("启用")).to_be_checked()
    assert deadlines(app, county) == {"close_clear": {"enabled": True, "amount": 5, "unit": "working_days",
                                                      "source": "《示范县信访工作实施办法》第五条"}}  # nothing saved
    screenshot(admin, "limits-refused-1366")


@pytest.fixture
def no_script_page(browser, live_server):
    contexts = []

    def _open(tenant, username):
        context = browser.new_context(base_url=live_server.url(tenant, ""), viewport=DESKTOP, locale="zh-CN",
                                      java_script_enabled=False)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        sign_in(page, username)
        return page

    yield _open
    for c in contexts:
        c.close()


def test_without_javascript_the_buttons_post_the_form_and_nothing_is_lost(app, no_script_page):
    county = county_with(app, "petition")
    admin = no_script_page(county, "county.admin")
    admin.goto("/admin/modules/petition")
    before = settings(app, county)
    cell(admin, 1, "分类名称").fill("土地承包")
    categories = admin.locator("#field-categories")
    with admin.expect_navigation():
        categories.get_by_role("button", name="添加一行").click()
    # six saved, the blank row the page offers without JavaScript, and the one added
    expect(categories.locator("tbody tr.setting-row")).to_have_count(8)
    expect(cell(admin, 1, "分类名称")).to_have_value("土地承包")  # what was typed came back
    assert settings(app, county) == before  # nothing saved by the button
    cell(admin, 7, "分类名称").fill("渔业")
    with admin.expect_navigation():
        admin.get_by_role("button", name="删除信访分类第 2 行").click()
    expect(categories.locator("tbody tr.setting-row")).to_have_count(7)
    # Enter in a field saves the form (its default button), never removes a row
    with admin.expect_navigation():
        admin.get_by_label("集体访人数").press("Enter")
    expect(admin.locator("#settings-saved")).to_be_visible()
    titles = [c["title"] for c in settings(app, county)["categories"]]
    assert titles == ["土地承包", "社会保障", "环境", "住房", "其他", "渔业"]


@pytest.mark.parametrize("module", ["petition", "mediation"])
def test_module_pages_have_no_english_key_no_json_and_fit_a_phone(app, open_page, web_county, module):
    """Both modules' settings pages (the petition page is also in test_browser_pages): no key,
    rule id or JSON shown, no serious axe violation, no sideways scrolling at 360 px."""
    from tests.browser.browsing import PHONE, blocking_violations, sideways_overflow
    from tests.browser.test_browser_pages import visible_ascii_words
    page = open_page(web_county, "county.admin")
    assert page.goto(f"/admin/modules/{module}").status == 200
    screenshot(page, f"settings-{module}-1366")
    assert visible_ascii_words(page) == []
    assert page.locator("textarea").count() == 0
    assert not re.search(r"[A-Z]{2,5}-\d+", page.inner_text("main"))  # no policy rule id
    found = [f"{v['id']} ({v['impact']})" for v in blocking_violations(page)]
    assert not found, found
    phone = open_page(web_county, "county.admin", PHONE)
    phone.goto(f"/admin/modules/{module}")
    overflow = sideways_overflow(phone)
    assert overflow["scroll"] <= overflow["width"], overflow
