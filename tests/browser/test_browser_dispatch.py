"""Dispatch to a member unit in a real browser (issue 15, item 7): the township registers a visit
of four at the one window, dispatches it to 东湖司法所 from the case page, the 司法所's staff
member finds it among the to-dos, acknowledges (签收) and answers (办结), and the township, told
by a to-do, calls the petitioner back and records the satisfaction (回访). Every click, page
load and typed field is counted: the figures of the issue's report."""
from __future__ import annotations

from sqlalchemy import select

from core import auth
from core.app import pingan
from core.models import MemberUnit, Role, RoleAssignment, RolePermission, User
from tests.browser.browsing import screenshot
from tests.conftest import DEMO_PASSWORD

try:
    from playwright.sync_api import expect
except ImportError:  # the ``browser`` fixture skips (or, under CI, fails) and says why
    expect = None


class Counted:
    """Counts what a person does on a page: clicks, fields typed or chosen, page loads."""

    def __init__(self, page):
        self.page, self.clicks, self.fields, self.loads = page, 0, 0, 0
        page.on("load", lambda _: self._loaded())

    def _loaded(self):
        self.loads += 1

    def click(self, locator):
        self.clicks += 1
        locator.click()

    def fill(self, locator, text: str):
        self.fields += 1
        locator.fill(text)

    def choose(self, locator, **option):
        self.fields += 1
        locator.select_option(**option)

    def check(self, locator):
        self.fields += 1
        locator.check()


def staff_member(app, county, username: str, display: str, member_name: str) -> None:
    """东湖司法所's staff member: an account at 东湖镇 with casework there, on the member unit's
    staff (what the member-unit page's picker sets; tests/test_dispatch.py drives that page)."""
    with pingan(app).db.transaction(county.id) as s:
        member = s.scalar(select(MemberUnit).where(MemberUnit.name == member_name))
        user = User(username=username, display_name=display, org_unit_id=member.org_unit_id, member_unit_id=member.id,
                    password_hash=auth.hash_password(DEMO_PASSWORD), must_change_password=False)
        role = Role(key=f"member_staff_{username.replace('.', '_')}", name="成员单位工作人员")
        s.add_all([user, role])
        s.flush()
        s.add_all([RolePermission(role_id=role.id, permission=p) for p in ("core.case.read", "core.case.handle")])
        s.add(RoleAssignment(user_id=user.id, role_id=role.id, org_unit_id=member.org_unit_id))


def test_a_visit_of_four_dispatched_to_the_judicial_office_answered_and_called_back(app, open_page, web_county):
    staff_member(app, web_county, "sfs.wang", "东湖司法所王干事", "东湖司法所")
    figures = {}

    # 1. the township registers a visit of four at the one window
    town = open_page(web_county, "donghu.admin")
    t = Counted(town)
    t.click(town.get_by_role("link", name="统一受理"))
    t.fill(town.get_by_label("事由"), "四名村民反映宅基地界址纠纷")
    t.fill(town.get_by_label("具体内容"), "四名村民一同来访，反映与邻居宅基地界址不清，多次协商未果。")
    t.fill(town.get_by_label("姓名", exact=True), "赵一")
    t.fill(town.get_by_label("第 1 位：姓名"), "赵二")
    t.fill(town.get_by_label("第 2 位：姓名"), "赵三")
    t.click(town.get_by_role("button", name="再加一人"))
    t.fill(town.get_by_label("第 3 位：姓名"), "赵四")
    t.choose(town.get_by_label("转为事项"), label="走访请求")
    t.choose(town.get_by_label("走访方式 *"), label="上门走访")
    t.click(town.get_by_role("button", name="登记", exact=True))
    expect(town.get_by_role("status")).to_contain_text("已登记")
    figures["register"] = (t.clicks, t.loads, t.fields)

    # 2. … and dispatches it to 东湖司法所 from the case page (a picker, no typed ids)
    t.click(town.locator("#new-case"))
    number = town.locator("h1").inner_text().split()[0]
    for name in ("赵一", "赵二", "赵三", "赵四"):
        expect(town.locator("main")).to_contain_text(name)
    form = town.locator("form#divert")
    t.click(town.locator("#divert-box > summary"))  # this step's act: a button that opens its form
    t.choose(form.get_by_label("承办（主办）单位：组织单位或成员单位"), label="东湖司法所（东湖镇）")
    t.fill(form.get_by_label("交办要求"), "请依法调处并答复来访群众")
    t.click(form.get_by_role("button", name="交办"))
    expect(town.locator("#act-done")).to_contain_text("分流交办")
    expect(town.locator("#tasks")).to_contain_text("东湖司法所（东湖镇）")
    expect(town.locator("#tasks")).to_contain_text("待签收")
    screenshot(town, "dispatch-township-dispatched")
    figures["dispatch"] = (t.clicks - figures["register"][0], t.loads - figures["register"][1],
                           t.fields - figures["register"][2])

    # 3. the 司法所's staff member finds it among the to-dos, acknowledges and answers
    sfs = open_page(web_county, "sfs.wang")
    u = Counted(sfs)
    u.click(sfs.locator("#inbox-summary").get_by_role("link", name=f"新交办事项：{number}"))
    tasks = sfs.locator("#tasks")
    u.click(tasks.get_by_role("button", name="签收"))
    expect(sfs.locator("#act-done")).to_contain_text("签收")
    expect(tasks.get_by_role("button", name="签收")).to_have_count(0)
    expect(tasks.locator("details.opener")).to_have_attribute("open", "")  # 签收 done: the answer is next, opened
    u.fill(tasks.get_by_label("办结答复，或回退理由"), "已组织双方现场勘界调解，达成协议，界桩已重新确认。")
    u.click(tasks.get_by_role("button", name="办结（答复）"))
    expect(sfs.locator("#act-done")).to_contain_text("承办单位反馈")
    expect(sfs.locator("#tasks")).to_contain_text("已办结")
    screenshot(sfs, "dispatch-judicial-office-answered")
    figures["acknowledge_and_answer"] = (u.clicks, u.loads, u.fields)  # from the home page, signed in

    # 4. the township, told by a to-do, calls back and records the satisfaction
    town.goto("/")  # (the home page, where a signed-in person is: not counted)
    before = (t.clicks, t.loads, t.fields)
    t.click(town.locator("#inbox-summary").get_by_role("link", name=f"待回访：{number} 东湖司法所（东湖镇）已办结答复"))
    expect(town.locator("#tasks")).to_contain_text("已组织双方现场勘界调解")
    call = town.locator("form#follow-up")
    t.click(town.locator("#follow-up-box > summary"))
    t.check(call.get_by_label("满意", exact=True))
    t.fill(call.get_by_label("回访情况"), "电话回访赵一，对调解结果表示满意。")
    t.click(call.get_by_role("button", name="记录回访"))
    expect(town.locator("#act-done")).to_contain_text("回访")
    expect(town.locator("#follow-ups")).to_contain_text("满意")
    expect(town.locator("#follow-ups")).to_contain_text("电话回访赵一")
    screenshot(town, "dispatch-township-called-back")
    figures["follow_up"] = (t.clicks - before[0], t.loads - before[1], t.fields - before[2])
    # the to-do asked for is done: no 待回访 left among the township's unread to-dos
    town.goto("/inbox?kind=todo&unread=1")
    expect(town.locator("main")).not_to_contain_text(f"待回访：{number}")

    total = tuple(sum(f[i] for f in figures.values()) for i in range(3))
    print("\nfigures (clicks, page loads, fields typed or chosen):", figures, "total:", total)
    assert total[0] <= 12 and total[2] <= 16, figures
