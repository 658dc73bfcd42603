"""The platform operator in a real browser (issue 6): an operator made by ``pingan operator
create`` signs in with the one-time password, must set a password of their own first (a
mismatch is refused at its field, in Chinese), then reaches the console that lists the
counties. The console's pages get the same screenshot, axe and phone checks as the others."""
from __future__ import annotations

import uuid

from core.app import pingan
from core.context import Actor, acting_as
from core.platform import create_operator
from tests.browser.browsing import (DESKTOP, PHONE, blocking_violations, path_of, screenshot, sideways_overflow,
                                    sign_in)

try:
    from playwright.sync_api import expect
except ImportError:  # the ``browser`` fixture skips (or, under CI, fails) and says why
    expect = None

PLATFORM_HOST = "platform.localhost"  # the same platform tenant as tests/test_web_operator.py
ONE_TIME = "operator-first-2026"
OWN = "operator-own-pass-2026"


def new_operator(app) -> str:
    state = pingan(app)
    username = f"op.{uuid.uuid4().hex[:8]}"
    with acting_as(Actor(None, "test:operator")):
        create_operator(state.db, state.config, username, "平台运营员", [PLATFORM_HOST], ONE_TIME)
    state.resolver.forget()
    return username


def check(page, name: str) -> None:
    """Screenshot at both sizes, no serious axe finding, no sideways scrolling on a phone."""
    screenshot(page, f"{name}-1366")
    found = [f"{v['id']} ({v['impact']})" for v in blocking_violations(page)]
    assert not found, f"{name}: {found}"
    page.set_viewport_size(PHONE)
    screenshot(page, f"{name}-360")
    overflow = sideways_overflow(page)
    assert overflow["scroll"] <= overflow["width"], f"{name} scrolls sideways at 360 px: {overflow}"
    page.set_viewport_size(DESKTOP)


def test_first_log_in_forces_a_password_change_then_the_console(app, open_page, web_county):
    username = new_operator(app)
    page = open_page(PLATFORM_HOST)
    page.goto("/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(ONE_TIME)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("status")).to_contain_text("首次登录")
    assert path_of(page) == "/password"
    check(page, "password-first-login")
    page.goto("/operator")
    assert path_of(page) == "/password"  # nothing else before the password is changed

    page.get_by_label("原密码").fill(ONE_TIME)
    page.get_by_label("新密码（至少 8 位）").fill(OWN)
    page.get_by_label("再次输入新密码").fill(OWN + "x")
    page.get_by_role("button", name="保存").click()
    repeat = page.get_by_label("再次输入新密码")
    expect(repeat).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#new_password2-error")).to_have_text("两次输入的新密码不一致")

    page.get_by_label("原密码").fill(ONE_TIME)
    page.get_by_label("新密码（至少 8 位）").fill(OWN)
    page.get_by_label("再次输入新密码").fill(OWN)
    page.get_by_role("button", name="保存").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("平台运营")  # an operator's home is the console

    response = page.goto("/operator")
    assert response.status == 200
    expect(page.locator(f"#tenant-{web_county.slug}")).to_be_visible()  # the counties, with their usage
    check(page, "operator-tenants")
    assert page.goto("/operator/tenants/new").status == 200
    check(page, "operator-tenant-new")
    # the national calendar: coverage by year, and a bad file refused with every error listed
    page.goto("/operator")
    page.get_by_role("link", name="平台日历（全国节假日安排）").click()
    expect(page.locator("#calendar-coverage")).to_be_visible()
    check(page, "operator-calendar")
    page.get_by_label("日历文件（.toml，不超过 64 KB）").set_input_files(
        files=[{"name": "2099.toml", "mimeType": "text/plain", "buffer": "year = 2099\n".encode()}])
    page.get_by_role("button", name="导入并重算各县暂定期限").click()
    expect(page.locator("#calendar-errors")).to_contain_text("缺少发布依据")
    expect(page.locator("#calendar-errors")).to_contain_text("没有声明调休上班日")
    check(page, "operator-calendar-errors")

    # the one-time password no longer works; the operator's own does
    again = open_page(PLATFORM_HOST)
    again.goto("/login")
    again.get_by_label("用户名").fill(username)
    again.get_by_label("密码").fill(ONE_TIME)
    again.get_by_role("button", name="登录").click()
    expect(again.get_by_role("alert")).to_be_visible()
    sign_in(again, username, OWN, home="/operator")
