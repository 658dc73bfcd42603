"""The joint meeting's page in a real browser at 1366 px and on a 360-px phone (issue 19): the
township's secretary records attendance (an absence without a reason is refused at its field,
what was typed kept), then hands an agenda case to a lead and a co-unit with a deadline from
the pickers; the decision shows with both units. On the phone nothing sticks out sideways."""
from __future__ import annotations

import datetime as dt

from core.app import pingan
from tests.browser.browsing import DESKTOP, PHONE, api, beijing_today, county_with, screenshot, sideways_overflow
from tests.casework import grant, register


try:
    from playwright.sync_api import expect
except ImportError:  # the ``browser`` fixture skips (or, under CI, fails) and says why
    expect = None

WORK = ["joint.read", "joint.manage", "core.case.read", "core.case.register", "core.case.divert",
        "core.member_unit.read"]


def test_the_meeting_page_records_attendance_and_a_decision_at_1366_and_on_a_phone(app, open_page):
    county = county_with(app, "visits", "joint")
    grant(pingan(app).db, county, "donghu.admin", WORK, "T01", "joint_browser_t")
    town_api = api(app, county, "donghu.admin")
    case = register(town_api, county.unit("T01D1V1"), title="独居老人联合走访")
    r = town_api.post("/api/joint/meetings", json={"org_unit_id": county.unit("T01"), "kind": "township_joint",
                                                   "held_on": beijing_today().isoformat(), "convener": "张镇长",
                                                   "case_ids": [case["id"]]})
    assert r.status_code == 201, r.get_json()
    meeting = r.get_json()

    page = open_page(county, "donghu.admin", viewport=DESKTOP)
    page.goto(f"/joint/meetings/{meeting['id']}")
    expect(page.get_by_role("heading", name="乡镇联席会议")).to_be_visible()
    expect(page.locator("#meeting-agenda")).to_contain_text("独居老人联合走访")
    # attendance: absent without a reason is refused at the field, the substitute typed is kept
    page.get_by_label("成员单位 *").select_option(label="东湖司法所")
    page.get_by_label("出席情况 *").select_option(label="缺席")
    page.get_by_label("代为参会人员（委托参会时必填）").fill("王五")
    page.get_by_role("button", name="登记出席").click()
    expect(page.locator("#att\\.reason-error")).to_have_text("缺席须填写原因")
    expect(page.get_by_label("代为参会人员（委托参会时必填）")).to_have_value("王五")
    page.get_by_label("缺席原因（缺席时必填）").fill("参加县里培训")
    page.get_by_role("button", name="登记出席").click()
    expect(page.locator("#meeting-attendance")).to_contain_text("参加县里培训")
    # a decision from the pickers: the case, a lead (a village) and a co-unit (the 司法所)
    page.get_by_label("事项 *", exact=True).select_option(value=str(case["id"]))
    page.get_by_label("决定事项 *").fill("村里牵头上门，司法所配合")
    page.get_by_label("办结期限 *").fill((beijing_today() + dt.timedelta(days=10)).isoformat())
    page.get_by_label("牵头单位 *").select_option(label="罗塘村")
    page.locator("#dec-co").get_by_label("东湖司法所").check()
    page.get_by_role("button", name="交办").click()
    decisions = page.locator("#meeting-decisions")
    expect(decisions).to_contain_text("村里牵头上门，司法所配合")
    expect(decisions).to_contain_text("罗塘村（牵头）")
    expect(decisions).to_contain_text("东湖司法所（协办）")
    screenshot(page, "joint-meeting-1366")

    phone = open_page(county, "donghu.admin", viewport=PHONE)
    phone.goto(f"/joint/meetings/{meeting['id']}")
    expect(phone.locator("#meeting-decisions")).to_contain_text("罗塘村")
    overflow = sideways_overflow(phone)
    assert overflow["scroll"] <= overflow["width"] + 1, overflow
    phone.get_by_label("成员单位 *").select_option(label="东湖派出所")
    phone.get_by_label("出席情况 *").select_option(label="出席")
    phone.get_by_role("button", name="登记出席").click()
    expect(phone.locator("#meeting-attendance")).to_contain_text("东湖派出所")
    screenshot(phone, "joint-meeting-360")


def test_a_supervision_decision_the_mechanism_and_the_centres_at_1366_and_on_a_phone(app, open_page):
    """The meeting's 督办 form refuses a deadline of today at its field and keeps what was typed,
    then saves; the mechanism's page and the centres' pages fit a 360-px phone."""
    county = county_with(app, "visits", "joint")
    grant(pingan(app).db, county, "donghu.admin", [*WORK, "core.case.supervise"], "T01", "joint_browser_t")
    town_api = api(app, county, "donghu.admin")
    admin = api(app, county, "county.admin")
    r = admin.put("/api/modules/joint", json={"enabled": True, "settings": {
        "mechanisms": [{"key": "visit_care", "title": "走访联动", "case_types": ["visits.visit"]}],
        "centre_standard": [{"key": "police_room", "title": "警务室", "levels": ["village"]}]}})
    assert r.status_code == 200, r.get_json()
    case = register(town_api, county.unit("T01D1V1"), title="村道路灯不亮")
    r = town_api.post("/api/joint/meetings", json={"org_unit_id": county.unit("T01"), "kind": "township_joint",
                                                   "held_on": beijing_today().isoformat(), "convener": "张镇长",
                                                   "case_ids": [case["id"]]})
    assert r.status_code == 201, r.get_json()
    meeting = r.get_json()

    page = open_page(county, "donghu.admin", viewport=DESKTOP)
    page.goto(f"/joint/meetings/{meeting['id']}")
    page.get_by_label("督办的事项 *").select_option(value=str(case["id"]))
    page.get_by_label("督办要求 *").fill("三日内修复")
    page.get_by_label("答复期限 *").fill(beijing_today().isoformat())
    page.get_by_label("督办级别").select_option(label="挂牌督办")
    page.get_by_role("button", name="督办", exact=True).click()
    expect(page.locator("#sup\\.deadline-error")).to_have_text("答复期限须晚于今天")
    expect(page.get_by_label("督办要求 *")).to_have_value("三日内修复")
    page.get_by_label("答复期限 *").fill((beijing_today() + dt.timedelta(days=3)).isoformat())
    page.get_by_role("button", name="督办", exact=True).click()
    expect(page.locator("#meeting-decisions")).to_contain_text("【督办（挂牌）】三日内修复")
    screenshot(page, "joint-supervision-1366")

    phone = open_page(county, "donghu.admin", viewport=PHONE)
    for path, shows in (("/joint/mechanisms/visit_care", "村道路灯不亮"), ("/joint/centres/", "罗塘村"),
                        (f"/joint/centres/{county.unit('T01D1V1')}", "警务室")):
        phone.goto(path)
        expect(phone.locator("main")).to_contain_text(shows)
        overflow = sideways_overflow(phone)
        assert overflow["scroll"] <= overflow["width"] + 1, (path, overflow)
    screenshot(phone, "joint-centre-360")
