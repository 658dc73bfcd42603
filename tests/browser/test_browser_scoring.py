"""The scoring module in Chromium: the county admin's rubric form refuses an overlapping band
with the Chinese message at that band's field and everything typed kept; a score opens to its
items and the records behind an indicator item."""
from __future__ import annotations

import datetime as dt

from tests.browser.browsing import api, beijing_today, county_with


try:
    from playwright.sync_api import expect
except ImportError:  # the ``browser`` fixture skips (or, under CI, fails) and says why
    expect = None


def test_rubric_form_refuses_an_overlapping_band_and_a_score_opens_to_its_items(app, open_page):
    # rule: SCO-1 — the rubric is the county's configuration, edited in a real form
    county = county_with(app, "petition", "scoring")
    page = open_page(county, "county.admin")
    page.goto("/scoring/rubrics/form")
    page.select_option("#level", label="乡镇（街道）")
    page.fill("#year", str(beijing_today().year))
    page.fill("#title", "平安法治区镇竞赛")
    page.fill("#items-0-category", "重点信访事件")
    page.fill("#items-0-title", "越级访")
    page.fill("#items-0-points", "10")
    page.select_option("#items-0-indicator", label="越级访（合计）次数（次）")
    page.select_option("#items-0-rule", label="按数值分档计分")
    page.fill("#items-0-bands-0-low", "0")
    page.fill("#items-0-bands-0-high", "2")
    page.fill("#items-0-bands-0-points", "10")
    page.get_by_role("button", name="添加一档").first.click()
    page.fill("#items-0-bands-1-low", "1")
    page.fill("#items-0-bands-1-points", "4")
    page.get_by_role("button", name="保存为新版本").click()
    expect(page.locator("#items-0-bands-1-low-error")).to_have_text("与第1档的区间重叠")
    expect(page.locator("#items-0-bands-1-low")).to_have_value("1")
    expect(page.locator("#items-0-title")).to_have_value("越级访")
    expect(page.locator("#title")).to_have_value("平安法治区镇竞赛")
    page.fill("#items-0-bands-1-low", "2")
    page.get_by_role("button", name="保存为新版本").click()
    expect(page.locator("#rubrics")).to_contain_text("第1版")

    admin = api(app, county, "county.admin")
    today = beijing_today()
    r = admin.post("/api/petition/escalations", json={"org_unit_id": county.unit("T01D1V1"), "petitioner": "某",
                                                      "level": "city", "occurred_on": today.isoformat()})
    assert r.status_code == 201, r.get_json()
    r = admin.post("/api/scoring/periods", json={"level": "township", "kind": "year", "year": today.year})
    assert r.status_code == 201, r.get_json()
    page.goto(f"/scoring/periods/{r.get_json()['id']}")
    page.get_by_role("link", name="东湖镇").click()
    row = page.locator("tr", has_text="越级访").first
    expect(row).to_contain_text("1次")
    expect(row).to_contain_text("得10分")
    row.get_by_text("计入的记录（1条）").click()
    expect(row.locator("details li")).to_contain_text("罗塘村")
