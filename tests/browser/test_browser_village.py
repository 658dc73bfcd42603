"""The village affairs pages in a real browser (issue 21): the vote form on a 360-px phone keeps
everything typed when the vote is refused for want of a quorum (VIL-3), and the village's public
page shows what was published, to anyone, without signing in (VIL-4)."""
from __future__ import annotations

import datetime as dt

from tests.browser.browsing import PHONE, api, county_with, sideways_overflow

try:
    from playwright.sync_api import expect
except ImportError:  # the ``browser`` fixture skips (or, under CI, fails) and says why
    expect = None


def test_a_refused_vote_keeps_the_typed_form_on_a_phone_and_the_public_page_shows_the_published(app, open_page):
    # rule: VIL-3, VIL-4
    county = county_with(app, "village")
    day = [(dt.date.today() - dt.timedelta(days=n)).isoformat() for n in (3, 2, 1)]  # any date the test runs on
    admin = api(app, county, "county.admin")
    r = admin.post("/api/village/projects", json={"org_unit_id": county.unit("T01D1V1"), "title": "村道硬化工程",
                                                  "budget": "120000", "proposed_on": day[0]})
    pid = r.get_json()["id"]
    admin.post(f"/api/village/projects/{pid}/discussion",
               json={"discussed_on": day[1], "opinion": "同意提交表决", "submit": True})
    page = open_page(county, "county.admin", viewport=PHONE)
    page.goto(f"/village/projects/{pid}")
    form = page.locator("form#village-vote")
    form.locator('[name="body"]').select_option(label="村民代表会议")
    typed = {"voted_on": day[2], "members": "30", "present": "12", "votes_for": "12", "votes_against": "0",
             "minutes": "到会代表十二人"}
    for name, value in typed.items():
        form.locator(f'[name="{name}"]').fill(value)
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        form.get_by_role("button", name="登记表决结果").click()
    assert posted.value.status == 422
    expect(page.locator("#vote-present-error")).to_contain_text("不足村民代表会议法定人数")
    for name, value in typed.items():
        expect(page.locator(f"#vote-{name}")).to_have_value(value)
    expect(page.locator("#vote-body")).to_have_value("representatives")
    overflow = sideways_overflow(page)
    assert overflow["scroll"] <= overflow["width"], overflow
    page.locator("#vote-present").fill("25")
    page.locator("#vote-votes_for").fill("22")
    page.locator("#vote-votes_against").fill("3")
    page.get_by_role("button", name="登记表决结果").click()
    expect(page.locator("#project-state")).to_have_text("表决通过")
    photo = page.locator("form#village-minutes_photo")            # the signed minutes, photographed on the phone
    photo.locator('input[type="file"]').set_input_files({"name": "签字.jpg", "mimeType": "image/jpeg",
                                                         "buffer": b"\xff\xd8\xff\xe0" + b"\x00" * 64 + b"\xff\xd9"})
    photo.get_by_role("button", name="上传").click()
    expect(page.locator("#project-minutes-photo")).to_contain_text("签字.jpg")
    page.locator("#publish-stage").select_option(label="表决结果")
    page.get_by_role("button", name="公开").click()
    expect(page.locator("#project-publications")).to_contain_text("赞成率 88.0%")
    public = open_page(county, viewport=PHONE)  # nobody signed in
    public.goto(f"/village/public/{county.unit('T01D1V1')}")
    expect(public.locator("h1")).to_contain_text("罗塘村")
    expect(public.locator(f"#public-project-{pid}")).to_contain_text("村道硬化工程")
    expect(public.locator("main")).not_to_contain_text("到会代表十二人")
    expect(public.locator("main")).not_to_contain_text("签字.jpg")
    overflow = sideways_overflow(public)
    assert overflow["scroll"] <= overflow["width"], overflow


def test_a_villager_sends_an_opinion_with_a_slips_code_on_a_phone(app, open_page):
    # rule: VIL-2 — opinions from a public page with a one-time code
    county = county_with(app, "village")
    admin = api(app, county, "county.admin")
    r = admin.post("/api/village/opinion-points", json={"org_unit_id": county.unit("T01D1V1"), "name": "罗塘村村部采集点"})
    code = admin.post(f"/api/village/opinion-points/{r.get_json()['id']}/codes", json={"count": 1}).get_json()["codes"][0]
    public = open_page(county, viewport=PHONE)  # nobody signed in
    public.goto("/village/opinion")
    public.locator("#code").fill("ZZZZ-ZZZZ")
    public.locator("#content").fill("村口路灯坏了三个月")
    public.get_by_role("button", name="提交").click()
    expect(public.locator("#code-error")).to_contain_text("验证码无效")
    expect(public.locator("#content")).to_have_value("村口路灯坏了三个月")      # what was typed stays
    public.locator("#code").fill(code.lower())
    public.get_by_role("button", name="提交").click()
    expect(public.locator("#opinion-received")).to_contain_text("罗塘村")
    overflow = sideways_overflow(public)
    assert overflow["scroll"] <= overflow["width"], overflow
    assert admin.get("/api/village/opinions").get_json()["items"][0]["content"] == "村口路灯坏了三个月"
