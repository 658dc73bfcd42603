"""Plugin platform v2's pages in Chromium at phone width (issue 16): a declared register's page
(the example module's 问候登记) — record, filter, close — the responsibility letters a module's
kind brings (责任书: a batch for the villages of a township, then one signed), and a module's role
templates on its console page. Each by the real forms, on a 360-px phone, with no sideways scroll."""
from __future__ import annotations

import re

import pytest

from tests.browser.browsing import PHONE, county_with, screenshot, sideways_overflow

try:
    from playwright.sync_api import expect
except ImportError:  # the ``browser`` fixture skips (or, under CI, fails) and says why
    expect = None


@pytest.fixture(scope="module")
def hello_county(app):
    return county_with(app, "hello")


def choose(page, select: str, text: str) -> None:
    """Pick the option whose label contains ``text`` (unit names come indented by level)."""
    value = page.eval_on_selector(select, "(el, t) => [...el.options].find(o => o.label.includes(t)).value", text)
    page.select_option(select, value=value)


def no_sideways_scroll(page) -> None:
    size = sideways_overflow(page)
    assert size["scroll"] <= size["width"] + 1, size


def test_a_register_is_recorded_filtered_and_closed_on_a_phone(hello_county, open_page):
    page = open_page(hello_county, "county.admin", viewport=PHONE)
    page.goto("/")
    page.get_by_role("link", name="问候登记").first.click()
    expect(page.locator("h1")).to_contain_text("问候登记")
    page.click("#register-create button[type=submit]")                    # nothing filled: refused
    expect(page.locator("#register-create")).to_contain_text("必填")
    choose(page, "#org_unit_id", "罗塘村")
    page.fill("#recipient", "王大爷")
    page.click("#register-create button[type=submit]")
    expect(page.locator("table")).to_contain_text("王大爷")
    expect(page.locator("table")).to_contain_text("您好，王大爷！")            # the county's prefix, a setting
    no_sideways_scroll(page)
    screenshot(page, "register-phone")
    page.fill("#filter-recipient", "李四")
    page.click("#register-filters button[type=submit]")
    expect(page.locator("main")).not_to_contain_text("您好，王大爷！")
    page.goto(page.url.split("?")[0])
    close = page.locator("form[action$='/close']").first
    close.locator("input[name=reply], textarea[name=reply]").fill("谢谢关心")
    close.locator("button[type=submit]").click()
    expect(page.locator("table")).to_contain_text("谢谢关心")
    expect(page.locator("table")).to_contain_text("已办结")


def test_letters_for_a_townships_villages_then_one_signed_on_a_phone(hello_county, open_page):
    page = open_page(hello_county, "county.admin", viewport=PHONE)
    page.goto("/letters/")
    expect(page.locator("h1")).to_contain_text("责任书")
    choose(page, "#batch-kind", "走访问候责任书")
    choose(page, "#under_unit_id", "东湖镇")
    choose(page, "#level", "村")
    page.click("#letter-batch button[type=submit]")
    expect(page.locator("main")).to_contain_text("罗塘村")
    ids = page.eval_on_selector_all("[id]", "els => els.map(e => e.id)")
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)   # each label finds its own field
    no_sideways_scroll(page)
    screenshot(page, "letters-phone")
    form = page.locator("form[action$='/sign']").first
    form.locator("input[type=date]").fill("2026-03-02")
    form.locator("button[type=submit]").click()
    expect(page.locator("main")).to_contain_text("已签订")
    assert not re.search(r"\b(unsigned|signed|hello\.pledge)\b", page.inner_text("main"))


def test_a_modules_role_templates_on_its_console_page_on_a_phone(hello_county, open_page):
    page = open_page(hello_county, "county.admin", viewport=PHONE)
    page.goto("/admin/modules/hello")
    expect(page.locator("main")).to_contain_text("角色模板")
    expect(page.locator("main")).to_contain_text("问候员")
    expect(page.locator("main")).to_contain_text("采用为新角色")
    assert "hello.greeting" not in page.inner_text("main")                # permissions by their Chinese titles
    no_sideways_scroll(page)
    screenshot(page, "role-templates-phone")
