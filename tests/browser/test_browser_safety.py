"""The safety inspection form on a 360-px phone (issue 18): pick a place, answer the checklist
with the large 是/否 buttons; a submit with one question unanswered comes back with the message
at that question and every answer and note kept; the complete one shows the score and opens
the hazard it raised. No sideways scrolling, no serious accessibility finding."""
from __future__ import annotations

from tests.browser.browsing import PHONE, api, blocking_violations, county_with, sideways_overflow

try:
    from playwright.sync_api import expect
except ImportError:  # the ``browser`` fixture skips (or, under CI, fails) and says why
    expect = None


def test_the_phone_inspection_keeps_every_answer_and_raises_the_hazard(app, open_page):
    county = county_with(app, "safety")
    from tests.casework import grant
    from core.app import pingan
    perms = ["safety.read", "safety.manage", "safety.inspect", "safety.rectify", "core.case.read"]
    grant(pingan(app).db, county, "county.admin", perms, "C", "safety_all")
    admin = api(app, county, "county.admin")
    r = admin.post("/api/safety/checklists", json={"place_type": "catering", "title": "餐饮场所检查表", "items": [
        {"question": "燃气报警器是否完好", "weight": 4, "hazard": True, "grade": "general"},
        {"question": "灭火器是否在有效期内", "weight": 4, "hazard": True, "grade": "major"},
        {"question": "是否有安全制度上墙", "weight": 2}]})
    assert r.status_code == 201, r.get_json()
    r = admin.post("/api/safety/places", json={"org_unit_id": county.unit("T01D1V1"), "place_type": "catering",
                                               "name": "罗塘农家饭庄", "responsible_person": "赵老板"})
    assert r.status_code == 201, r.get_json()
    page = open_page(county, "county.admin", viewport=PHONE)
    page.goto("/safety/inspect")
    page.select_option("#pick-place", label="罗塘农家饭庄")
    with page.expect_navigation():
        page.get_by_role("button", name="打开检查表").click()
    form = page.locator("form#inspection-form")
    items = form.locator("fieldset")
    expect(items).to_have_count(3)
    items.nth(0).get_by_label("是").check()
    items.nth(0).get_by_label("情况说明").fill("报警器正常")
    items.nth(2).get_by_label("否").check()
    assert sideways_overflow(page)["scroll"] <= PHONE["width"]
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        form.get_by_role("button", name="提交检查结果").click()
    assert posted.value.status == 422
    expect(page.locator(".error-summary")).to_contain_text("第2题未作答")
    items = page.locator("form#inspection-form fieldset")
    expect(items.nth(0).get_by_label("是")).to_be_checked()
    expect(items.nth(0).get_by_label("情况说明")).to_have_value("报警器正常")
    expect(items.nth(2).get_by_label("否")).to_be_checked()
    expect(items.nth(1).locator(".field-error")).to_contain_text("未作答")
    assert blocking_violations(page) == []
    items.nth(1).get_by_label("否").check()
    with page.expect_navigation():
        page.get_by_role("button", name="提交检查结果").click()
    expect(page.locator("#score")).to_have_text("40.0")
    assert sideways_overflow(page)["scroll"] <= PHONE["width"]
    with page.expect_navigation():
        page.get_by_role("link", name="查看隐患并下达整改").click()
    expect(page.locator("h1")).to_contain_text("隐〔")
    expect(page.locator("main")).to_contain_text("灭火器是否在有效期内")
