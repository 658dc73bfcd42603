"""Recording a key person's visit on a 360-px phone (issue 20, JNT-4): the list shows the person,
the record asks for the purpose first, then the visit form is filled and saved; the page title
never names the category and nothing sticks out sideways."""
from __future__ import annotations

from tests.browser.browsing import PHONE, api, county_with, screenshot, sideways_overflow

try:
    from playwright.sync_api import expect
except ImportError:  # the ``browser`` fixture skips (or, under CI, fails) and says why
    expect = None


def test_a_visit_is_recorded_on_a_phone(app, open_page):
    county = county_with(app, "keypersons")
    town = api(app, county, "donghu.admin")
    r = town.post("/api/keypersons/records", json={
        "org_unit_id": county.unit("T01D1V1"), "category": "released", "risk_level": "high", "name": "谢光明",
        "details": {"offence": "盗窃罪", "release_date": "2026-01-05"}})
    assert r.status_code == 201, r.get_json()
    page = open_page(county, "donghu.admin", viewport=PHONE)
    page.goto("/keypersons/")
    page.get_by_role("link", name="谢光明").click()
    expect(page.locator("h1")).to_have_text("重点人员档案")
    page.select_option("#purpose", label="走访帮教")
    page.get_by_role("button", name="查看").click()
    expect(page.locator("#kp-facts")).to_contain_text("盗窃罪")
    form = page.locator("form#kp-visit")
    form.locator("#visitor").fill("镇综治办王干事")
    form.locator("#content").fill("了解就业意向，已联系用工单位")
    form.locator("#way").select_option(label="上门走访")
    form.locator("#result").select_option(label="情况稳定")
    form.get_by_role("button", name="保存走访").click()
    expect(page.locator("#kp-done")).to_contain_text("走访已记录")
    expect(page.locator("#kp-visits")).to_contain_text("了解就业意向")
    assert "刑满释放" not in page.title() and "released" not in page.url
    overflow = sideways_overflow(page)
    assert overflow["scroll"] <= overflow["width"] + 1, overflow
    screenshot(page, "keypersons-visit-360")
