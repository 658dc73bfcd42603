"""The org tree page as a county admin uses it (issue 15, item 12): the 192-unit demo tree was
one 5,000-px list with siblings in string order (七 九 八 十一 十). Now it opens on the townships,
each branch folds, a search finds a unit by name or code and opens the way to it; on a phone
the page fits the width and check boxes are at least 24 px."""
from __future__ import annotations

import re

from tests.browser.browsing import PHONE, screenshot, sideways_overflow

try:
    from playwright.sync_api import expect
except ImportError:  # the ``browser`` fixture skips (or, under CI, fails) and says why
    expect = None


def test_the_tree_opens_folded_and_finds_a_unit(open_page, web_county):
    page = open_page(web_county, "county.admin")
    page.goto("/admin/org-units")
    tree = page.locator("#org-tree")
    expect(tree.get_by_role("link", name="东湖镇", exact=True)).to_be_visible()
    expect(tree.get_by_role("link", name="罗塘村", exact=True)).to_be_hidden()  # folded under its township
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height < 1500, height  # was ~5,000 px: every unit listed at once
    # a township's branch opens with a click on its line
    township = tree.locator("li", has=page.get_by_role("link", name="东湖镇", exact=True)).last
    township.locator("summary").first.click()
    expect(tree.get_by_role("link", name="东湖第一管区", exact=True)).to_be_visible()
    screenshot(page, "org-tree-1366")

    page.get_by_label("查找单位").fill("罗塘")
    page.get_by_role("button", name="查找").click()
    expect(page.locator("#tree-found")).to_have_text("找到 1 个单位")
    found = page.locator("#org-tree li.hit")
    expect(found).to_have_count(1)
    expect(found.get_by_role("link", name="罗塘村", exact=True)).to_be_visible()  # the way to it is open
    expect(page.get_by_role("link", name="东湖镇", exact=True)).to_be_visible()
    # siblings in numeral order, whatever order they were made in: 第一 … 第四村民小组
    page.get_by_label("查找单位").fill("村民小组")
    page.get_by_role("button", name="查找").click()
    page.wait_for_url(re.compile(r"q=%E6%9D%91"))  # the new page, not the last search's
    village = page.locator("#org-tree li", has=page.get_by_role("link", name="罗塘村", exact=True)).last
    expect(village.locator("li a")).to_have_text(["第一村民小组", "第二村民小组", "第三村民小组", "第四村民小组"])

    page.get_by_label("查找单位").fill("不存在的单位")
    page.get_by_role("button", name="查找").click()
    expect(page.locator("#tree-found")).to_contain_text("没有名称或编码含“不存在的单位”的单位")


def test_on_a_phone_the_tree_fits_and_check_boxes_are_big_enough(open_page, web_county):
    page = open_page(web_county, "county.admin", viewport=PHONE)
    page.goto("/admin/org-units?q=罗塘")
    screenshot(page, "org-tree-search-360")
    overflow = sideways_overflow(page)
    assert overflow["scroll"] <= overflow["width"], overflow
    page.goto("/cases")
    box = page.locator("input[type=checkbox]").first.bounding_box()
    assert box and box["width"] >= 24 and box["height"] >= 24, box
