"""A refused act in a real browser (issue 13, part 9): the case was closed meanwhile (another
user, another tab); the close form posted from the stale page answers 409 — the same case page,
the reason at the top, the form still holding what was typed, no button to post it again."""
from __future__ import annotations

from tests.browser.browsing import api
from tests.browser.disclosure import reveal
from tests.casework import act, register

try:
    from playwright.sync_api import expect
except ImportError:  # the ``browser`` fixture skips (or, under CI, fails) and says why
    expect = None


def test_a_refused_act_keeps_the_typed_form_under_the_reason(app, open_page, web_county):
    admin = api(app, web_county, "county.admin")
    case = register(admin, web_county.unit("T01D1V1"), title="两人同时办结")
    assert act(admin, case["id"], "accept").status_code == 200
    page = open_page(web_county, "county.admin")
    page.goto(f"/cases/{case['id']}")
    close = reveal(page, "form#act-close")
    close.locator('[name="result"]').fill("已上门走访，老人身体状况良好")
    assert act(admin, case["id"], "close", {"result": "另一位同事已办结"}).status_code == 200  # meanwhile
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        close.get_by_role("button", name="办结").click()
    assert posted.value.status == 409
    expect(page.locator("h1")).to_contain_text(case["number"])
    expect(page.locator("main > p.error.notice[role=alert]").first).to_contain_text("不能执行")
    expect(page.locator("#act-close-result")).to_have_value("已上门走访，老人身体状况良好")
    expect(page.locator("form#act-close button")).to_have_count(0)
