"""The county admin's module catalog in a real browser (issue 6): switching a module off hides
its menu and pages for that county only, switching it on brings them back with the data
intact; a setting edited to an invalid value shows the error in Chinese next to the field and
saves nothing."""
from __future__ import annotations

import re

from tests.browser.browsing import api, county_with

try:
    from playwright.sync_api import expect
except ImportError:  # the ``browser`` fixture skips (or, under CI, fails) and says why
    expect = None

PETITION_MENU = ("上访指标", "重点关注", "信访月报")
CJK = re.compile(r"[\u4e00-\u9fff]")


def menu(page):
    return page.get_by_role("navigation", name="主菜单")


def petition_case(app, tenant) -> dict:
    body = {"case_type": "petition.case", "title": "反映宅基地纠纷（模块开关）", "org_unit_id": tenant.unit("T01D1V1"),
            "content": "与邻居因宅基地界址发生纠纷。", "persons": [], "details": {"form": "visit", "category": "land"}}
    r = api(app, tenant, "county.admin").post("/api/cases", json=body)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def switch(page, name: str, label: str) -> None:
    page.goto("/admin/modules")
    row = page.locator(f"#module-{name}")
    row.get_by_role("button", name=label).click()
    if label == "停用":  # issue 15, item 12: it asks first, saying what users will no longer see
        expect(page.locator("#confirm-off")).to_be_visible()
        page.get_by_role("button", name="确认停用").click()
    expect(page.locator(f"#module-{name}")).to_have_attribute("data-enabled", "true" if label == "启用" else "false")


def test_switching_a_module_off_and_on_for_one_county(app, open_page, web_county):
    county, neighbour = county_with(app, "petition"), web_county  # both with the petition module on
    case = petition_case(app, county)
    admin = open_page(county, "county.admin")
    for item in PETITION_MENU:
        expect(menu(admin).get_by_role("link", name=item)).to_be_visible()
    # a setting changed before the switch-off must survive it
    admin.goto("/admin/modules/petition")
    admin.get_by_label("集体访人数").fill("7")
    admin.get_by_role("button", name="保存参数").click()
    expect(admin.locator("#settings-saved")).to_be_visible()

    switch(admin, "petition", "停用")
    for item in PETITION_MENU:
        expect(menu(admin).get_by_role("link", name=item)).to_have_count(0)
    for path in ("/petition/quotas", "/petition/watch", "/petition/reports"):
        assert admin.goto(path).status == 404, path
    assert api(app, county, "county.admin").get("/api/petition/watch").status_code == 404

    other = open_page(neighbour, "county.admin")  # the neighbouring county keeps it
    for item in PETITION_MENU:
        expect(menu(other).get_by_role("link", name=item)).to_be_visible()
    assert other.goto("/petition/quotas").status == 200

    switch(admin, "petition", "启用")
    admin.goto("/")
    for item in PETITION_MENU:
        expect(menu(admin).get_by_role("link", name=item)).to_be_visible()
    menu(admin).get_by_role("link", name="上访指标").click()
    expect(admin.get_by_role("heading", level=1)).to_be_visible()
    assert admin.goto("/petition/quotas").status == 200
    assert api(app, county, "county.admin").get("/api/petition/watch").status_code == 200
    # the data: the petition with its module's panel (the query code only on the receipt, issue 14), the saved setting
    assert admin.goto(f"/cases/{case['id']}").status == 200
    expect(admin.locator("#module")).to_contain_text("仅印在登记回执上")
    expect(admin.locator("#petition-acts > summary")).to_be_visible()  # the module's acts, in its menu
    expect(admin.locator("#petition-leader")).to_be_attached()
    admin.goto("/admin/modules/petition")
    expect(admin.get_by_label("集体访人数")).to_have_value("7")


def test_an_invalid_setting_is_refused_in_chinese_at_its_field_and_nothing_is_saved(app, open_page, web_county):
    county = web_county
    before = api(app, county, "county.admin").get("/api/modules/petition").get_json()
    admin = open_page(county, "county.admin")
    admin.goto("/admin/modules/petition")
    history = admin.locator("#module-history tr.history-entry").count()
    admin.get_by_label("集体访人数").fill("8")  # valid, but in the same form as an invalid one
    window = admin.get_by_label("重复信访识别期限（日）")
    window.fill("0")  # the schema's range is 1–3650
    with admin.expect_response(lambda r: r.request.method == "POST") as posted:
        admin.get_by_role("button", name="保存参数").click()
    assert posted.value.status == 422
    error = admin.locator("#field-repeat_window_days .field-error")
    expect(error).to_be_visible()
    assert CJK.search(error.inner_text()), error.inner_text()
    expect(admin.locator("#field-collective_threshold .field-error")).to_have_count(0)
    expect(admin.get_by_label("重复信访识别期限（日）")).to_have_attribute("aria-invalid", "true")
    expect(admin.get_by_label("重复信访识别期限（日）")).to_have_value("0")  # what was typed stays to be fixed
    expect(admin.get_by_label("集体访人数")).to_have_value("8")
    # nothing saved: neither field, no history entry
    after = api(app, county, "county.admin").get("/api/modules/petition").get_json()
    assert after["settings"] == before["settings"]
    admin.goto("/admin/modules/petition")
    expect(admin.get_by_label("集体访人数")).to_have_value(str(before["settings"]["collective_threshold"]))
    expect(admin.get_by_label("重复信访识别期限（日）")).to_have_value(str(before["settings"]["repeat_window_days"]))
    expect(admin.locator("#module-history tr.history-entry")).to_have_count(history)
    # a fraction where a whole number of days belongs: refused the same way
    admin.get_by_label("重复信访识别期限（日）").fill("3.5")
    admin.get_by_role("button", name="保存参数").click()
    expect(admin.locator("#field-repeat_window_days .field-error")).to_be_visible()
    assert CJK.search(admin.locator("#field-repeat_window_days .field-error").inner_text())
