"""Issue 17 (patrol, PAT-2): the check-in page on a 360-px phone — start a round, check in at a
point, a refused check-in keeps what was typed, end the round — server-rendered forms only."""
from __future__ import annotations

from tests.browser.browsing import PHONE, api, county_with, screenshot, sideways_overflow
from tests.browser.test_browser_pages import visible_ascii_words

try:
    from playwright.sync_api import expect
except ImportError:  # the ``browser`` fixture skips (or, under CI, fails) and says why
    expect = None


def test_check_in_on_a_phone(app, open_page):
    # rule: PAT-2 — a member checks in from a phone; compliance under the threshold is flagged
    county = county_with(app, "patrol")
    admin = api(app, county, "county.admin")
    points = []
    for name in ("村口", "祠堂"):
        r = admin.post("/api/patrol/points", json={"org_unit_id": county.unit("T01D1V1"), "name": name,
                                                    "line": "fringe"})
        assert r.status_code == 201, r.get_json()
        points.append(r.get_json()["id"])
    r = admin.post("/api/patrol/routes", json={"org_unit_id": county.unit("T01D1V1"), "name": "罗塘夜巡线",
                                               "window_start": "00:00", "window_end": "23:59", "point_ids": points})
    assert r.status_code == 201, r.get_json()

    page = open_page(county, "county.admin", viewport=PHONE)
    assert page.goto("/patrol/").status == 200
    page.select_option("#route_id", label="罗塘夜巡线（00:00–23:59）")
    with page.expect_navigation():
        page.click("#start-round button[type=submit]")
    expect(page.locator("h1")).to_have_text("罗塘夜巡线")
    first = page.locator(f"#point-{points[0]}")
    first.locator("input[name=note]").fill("路灯不亮")
    first.locator("summary").click()
    first.locator("input[name=latitude]").fill("北纬28度")
    with page.expect_navigation():
        first.locator("button[type=submit]").click()
    first = page.locator(f"#point-{points[0]}")
    expect(first.locator(".field-error")).to_contain_text("纬度")
    expect(first.locator("input[name=note]")).to_have_value("路灯不亮")      # what was typed is kept
    first.locator("input[name=latitude]").fill("")
    first.locator("input[name=photo]").set_input_files({"name": "路灯.jpg", "mimeType": "image/jpeg",  # the camera's photo
                                                         "buffer": b"\xff\xd8\xff\xe0" + b"\x00" * 64 + b"\xff\xd9"})
    with page.expect_navigation():
        first.locator("button[type=submit]").click()
    expect(page.locator(f"#point-{points[0]}")).to_contain_text("已打卡")
    expect(page.locator(f"#photo-{points[0]}")).to_have_text("照片")
    expect(page.locator("#round-figures")).to_contain_text("1/2")
    overflow = sideways_overflow(page)
    assert overflow["scroll"] <= overflow["width"], overflow
    assert visible_ascii_words(page) == []
    screenshot(page, "patrol-check-in-360")
    page.fill("#r-caught", "1")
    with page.expect_navigation():
        page.click("#end-round button[type=submit]")
    expect(page.locator("#round-state")).to_contain_text("未达标")          # 1 of 2 under 90 %
    expect(page.locator("#round-results")).to_contain_text("抓获嫌疑人：1")
