"""Bulk acts in a real browser (issue 15, item 14): the township ticks two cases on the list,
picks a handler and assigns them at once, and reads the Chinese summary; on a 360-px phone
the list does not scroll sideways, its ticks are at least 24 px, and axe finds nothing
serious on it or on the inbox."""
from __future__ import annotations

import pytest

from tests.browser.browsing import PHONE, api, blocking_violations, county_with, sideways_overflow
from tests.casework import register

try:
    from playwright.sync_api import expect
except ImportError:  # the ``browser`` fixture skips (or, under CI, fails) and says why
    expect = None


@pytest.fixture(scope="module")
def batch_county(app):
    return county_with(app, "visits")


def test_township_assigns_two_cases_at_once_and_reads_the_summary(app, open_page, batch_county):
    cadre = api(app, batch_county, "village.cadre")
    a = register(cadre, batch_county.unit("T01D1V1"), title="批量指定甲（浏览器）")
    b = register(cadre, batch_county.unit("T01D1V1"), title="批量指定乙（浏览器）")
    page = open_page(batch_county, "donghu.admin")
    page.goto("/cases?sort=urgency")
    expect(page.get_by_label("排序")).to_have_value("urgency")
    page.get_by_label(f"选择 {a['number']}").check()
    page.get_by_label(f"选择 {b['number']}").check()
    page.get_by_label("指定经办人").select_option(label="罗塘村综治专干（罗塘村）")
    page.get_by_role("button", name="批量指定").click()
    summary = page.get_by_role("status")
    expect(summary).to_contain_text("已指定 2 件")
    expect(summary).to_contain_text(a["number"])
    expect(summary).to_contain_text(b["number"])
    page.get_by_role("link", name="返回事项列表").click()
    expect(page.get_by_role("heading", name="事项")).to_be_visible()
    assert "sort=urgency" in page.url  # back to the list as it was


def test_the_list_and_the_inbox_on_a_phone(app, open_page, batch_county):
    cadre = api(app, batch_county, "village.cadre")
    case = register(cadre, batch_county.unit("T01D1V1"), title="手机上的批量")
    page = open_page(batch_county, "donghu.admin", viewport=PHONE)
    page.goto("/cases")
    overflow = sideways_overflow(page)
    assert overflow["scroll"] <= overflow["width"], overflow
    tick = page.get_by_label(f"选择 {case['number']}").bounding_box()
    assert tick["width"] >= 24 and tick["height"] >= 24, tick
    assert blocking_violations(page) == []
    page.goto("/inbox")
    overflow = sideways_overflow(page)
    assert overflow["scroll"] <= overflow["width"], overflow
    assert blocking_violations(page) == []


def test_batch_print_offers_the_documents_of_the_ticked_cases_types(app, open_page):
    """The print select groups the documents by case type; ticking cases leaves only their
    types' documents choosable (a petition's receipt is no use for a visit)."""
    county = county_with(app, "visits", "petition")
    cadre = api(app, county, "village.cadre")
    visit = register(cadre, county.unit("T01D1V1"), title="批量打印的走访")
    page = open_page(county, "donghu.admin")
    page.goto("/cases")
    groups = page.locator("#batch-key optgroup")
    expect(groups).to_have_count(2)
    labels = groups.evaluate_all("gs => gs.map(g => g.label)")
    assert sorted(labels) == ["信访事项", "走访请求"], labels
    petition = page.locator('#batch-key optgroup[data-case-type="petition.case"]')
    visits = page.locator('#batch-key optgroup[data-case-type="visits.visit"]')
    assert not petition.evaluate("g => g.disabled")  # nothing ticked: everything offered
    page.get_by_label(f"选择 {visit['number']}").check()
    assert petition.evaluate("g => g.disabled") and not visits.evaluate("g => g.disabled")
    page.get_by_label(f"选择 {visit['number']}").uncheck()
    assert not petition.evaluate("g => g.disabled")
