"""The petition module's year in the demo county (``pingan_demo_activity``, docs/demo.md).

Petitions registered (some at the county and diverted to the township: 签收, then 回访 by the
county), accepted or not accepted, answered, reviewed (复查), re-examined (复核) with a
hearing; several people on some (joint letters, collective visits), repeat petitioners, a few
extensions, 督办 and 催办; two in every state and a few overdue on purpose (a petition nobody
forwarded within 15 days, Art. 22; petitions in hand past their 60 days, Art. 34). The core
plays the acts in time order with the other modules' (``core.sdk.DemoActivity``).
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from core.sdk import CaseTask, acknowledge_task, dispatch_case, record_follow_up

CASE_TYPE = "petition.case"
TOPICS = {
    "land": ["承包地被占用要求退还", "土地确权面积有误", "宅基地审批迟迟未办", "征地补偿款未足额发放"],
    "labour": ["工程款拖欠农民工工资", "工厂拖欠三个月工资", "工伤待遇未落实"],
    "social_security": ["低保资格被取消要求复核", "养老保险关系转移未办理", "残疾补贴未按时发放"],
    "environment": ["养殖场污水直排河道", "石料厂粉尘扰民", "夜间施工噪音扰民"],
    "housing": ["危房改造补助未到位", "安置房迟迟未交付", "房屋质量问题无人处理"],
    "other": ["村务公开不及时", "道路硬化工程质量差", "自来水经常停水"],
}
# a path of acts to each target state, each a (name, lo, hi) gap in days from the act before
_REPLIED = [("accept", 1, 8), ("reply", 12, 50)]
_REVIEWED = _REPLIED + [("request_review", 3, 20), ("decide_review", 8, 25)]
_HEARING = _REVIEWED + [("request_recheck", 3, 20), ("start_hearing", 3, 8)]
PATHS = {
    "registered": [],
    "accepted": [("accept", 1, 8)],
    "not_accepted": [("not_accept", 1, 6)],
    "replied": _REPLIED,
    "review": _REPLIED + [("request_review", 3, 20)],
    "reviewed": _REVIEWED,
    "recheck": _REVIEWED + [("request_recheck", 3, 20)],
    "hearing": _HEARING,
    "rechecked": _HEARING + [("end_hearing", 1, 3), ("decide_recheck", 4, 15)],
}
WEIGHTS = {"registered": 2, "accepted": 3, "not_accepted": 2, "replied": 14, "review": 1,
           "reviewed": 2, "recheck": 1, "hearing": 1, "rechecked": 1}
OPEN = {"registered", "accepted", "review", "recheck", "hearing"}
CLOSING = {"reply", "not_accept", "decide_review", "decide_recheck"}  # the case leaves the handler's hands
BY_THE_COUNTY = {"decide_review", "request_recheck", "start_hearing", "end_hearing", "decide_recheck"}


def plan(demo) -> None:
    """Lay out the module's petitions of the year and plan their acts."""
    rnd = demo.random
    laid: list[tuple] = []  # (village, registered, steps, target)

    def add(target: str) -> None:
        got = demo.lay_out(PATHS[target], target in OPEN)
        if got is not None:
            laid.append((rnd.choice(demo.villages), got[0], got[1], target))

    for target in PATHS if demo.every_state else ():
        add(target)
        add(target)
    # overdue on purpose: nobody forwarded it (15 days, Art. 22); in hand past the 60 days (Art. 34)
    for age in (25, 40) if demo.every_state else ():
        laid.append((rnd.choice(demo.villages), demo.registered_at(age, age + 3), [], "registered"))
    for age in (75, 95, 120) if demo.every_state else ():
        at = demo.registered_at(age, age + 5)
        laid.append((rnd.choice(demo.villages), at, demo.steps(at, [("accept", 1, 3)]), "accepted"))
    # one extension granted whatever the draw (its notice, 延期办理告知书, exists in every demo):
    # the oldest of those, still overdue after its 30 more days
    extended = len(laid) - 1 if demo.every_state else None
    while len(laid) < demo.volume:
        add(rnd.choices(list(WEIGHTS), weights=list(WEIGHTS.values()))[0])
    for i, (village, at, steps, target) in enumerate(laid):
        _plan_case(demo, demo.new_case(village, at, target=target, divert=rnd.random() < 0.3), steps,
                   extend=i == extended)


def _plan_case(demo, case, steps: list, extend: bool = False) -> None:
    rnd = demo.random
    handler = demo.handler(case.village)
    demo.act(case.at, demo.admin if case.data["divert"] else handler, register, demo, case, registers=case)
    for when, name in steps:
        demo.act(when, demo.admin if name in BY_THE_COUNTY else handler, ACTS[name], demo, case, case=case)
    accept = next((w for w, n in steps if n == "accept"), None)
    reply = next((w for w, n in steps if n == "reply"), None)
    demo.plan_supervision(case, accept or case.at, next((w for w, n in steps if n in CLOSING), None))
    if accept and (rnd.random() < 0.08 or extend):
        ask = demo.later(accept, 20, 40)
        if (reply is None or ask < reply) and ask < demo.end - dt.timedelta(hours=2):
            demo.act(ask, handler, request_extension, demo, case, case=case)
            decided = demo.later(ask, 1, 3)
            if (reply is None or decided < reply) and decided < demo.end - dt.timedelta(minutes=30):
                demo.act(decided, demo.admin, decide_extension, demo, case, extend or rnd.random() < 0.8, case=case)
    if case.data["divert"] and reply and rnd.random() < 0.8:
        call = demo.later(reply, 1, 6)
        if call < demo.end - dt.timedelta(minutes=30):
            demo.act(call, demo.admin, follow_up, demo, case, case=case)


# --- the acts --------------------------------------------------------------------------------

def register(demo, case) -> None:
    """At the window of the acting user's unit; from the county, diverted to the township."""
    rnd = demo.random
    village = demo.unit_id(case.village)
    categories = {c["key"]: c.get("title") or c["key"] for c in demo.settings.get("categories") or []}
    category = rnd.choice(sorted(categories))
    subject = rnd.choice(TOPICS.get(category) or [f"反映{categories[category]}问题"])
    form = rnd.choices(["letter", "visit", "call", "online", "collective_visit", "joint_letter", "hotline"],
                       weights=[5, 6, 2, 3, 1, 1, 2])[0]
    collective = form == "collective_visit"
    visitors = rnd.randrange(6, 15) if collective else 1
    channel = {"joint_letter": "letter", "collective_visit": "visit"}.get(form, form)
    persons = []
    known = demo.people(case.village)
    if known and rnd.random() < 0.25:  # a villager on record, maybe petitioning again
        persons.append({"person_id": known[rnd.randrange(min(2, len(known)))], "role": "requester"})
    else:
        persons.append(demo.new_person(case.village, "requester"))
    for _ in range(rnd.randrange(2, 4) if collective or form == "joint_letter" else
                   (1 if rnd.random() < 0.15 else 0)):
        persons.append(demo.new_person(case.village, "companion"))
    made = demo.register_at_window({
        "channel": channel, "org_unit_id": demo.window, "arose_unit_id": village,
        "subject": subject, "content": f"{demo.unit_name(case.village)}村民反映：{subject}，请求有关部门依法处理。",
        "persons": persons, "case_type": CASE_TYPE, "title": subject,
        "details": {"form": form, "category": category, "visitors": visitors,
                    "demands": f"请求尽快解决{subject[:10]}问题", "first_inquiry": f"{demo.user.display_name}"[:100]}})
    case.case_id = made.case_id
    if case.data["divert"]:
        row, ctype = demo.case_of(case)
        dispatch_case(demo.work(), row, ctype, "single",
                      [{"org_unit_id": demo.unit_id(demo.township_of(case.village)),
                        "instruction": "请依照《信访工作条例》受理办理，按期答复信访人"}], "转乡镇办理")
        case.data["ack"] = True


def _acknowledge(demo, case) -> None:
    """签收 the task diverted to the township, before its first answer."""
    if not case.data.pop("ack", False):
        return
    row, ctype = demo.case_of(case)
    task = demo.session.scalar(select(CaseTask).where(CaseTask.case_id == row.id, CaseTask.state == "open"))
    if task is not None and task.acknowledged_at is None:
        acknowledge_task(demo.work(), row, ctype, task, "已签收，按期办理")


def accept(demo, case) -> None:
    _acknowledge(demo, case)
    demo.transition(case, "accept", {"procedure": demo.random.choice(["normal", "normal", "clear", "complex"])})


def not_accept(demo, case) -> None:
    _acknowledge(demo, case)
    demo.transition(case, "not_accept", {"note": demo.random.choice([
        "已经或者依法应当通过诉讼、仲裁、行政复议等法定途径解决，告知信访人向有关机关提出",
        "信访事项已经受理并正在办理，信访人在规定期限内就同一事项再次提出"])})


def reply(demo, case) -> None:
    demo.transition(case, "reply", {"outcome": demo.random.choice([
        "经调查核实，信访人反映的问题属实，已责成有关村组予以纠正，并书面答复信访人。",
        "经调查核实，信访人反映的问题部分属实，已协调相关部门解决，并书面答复信访人。",
        "经调查核实，信访人反映的问题不属实，已向信访人做好解释说明工作。"])})


def request_review(demo, case) -> None:
    demo.transition(case, "request_review", {"note": "信访人对处理意见不服，请求复查"})


def decide_review(demo, case) -> None:
    demo.transition(case, "decide_review", {"outcome": "经复查，原处理意见认定事实清楚、处理适当，予以维持。"})


def request_recheck(demo, case) -> None:
    demo.transition(case, "request_recheck", {"note": "信访人对复查意见不服，请求复核"})


def start_hearing(demo, case) -> None:
    demo.transition(case, "start_hearing", {"note": "邀请人大代表、政协委员和群众代表参加听证"})


def end_hearing(demo, case) -> None:
    demo.transition(case, "end_hearing", {"note": "听证结束，听证笔录附卷"})


def decide_recheck(demo, case) -> None:
    demo.transition(case, "decide_recheck", {"outcome": "经复核，维持复查意见。信访人仍以同一事实和理由提出的，不再受理。"})


def request_extension(demo, case) -> None:
    demo.request_extension(case, "handle", 30, "案情复杂，需待土地确权结果，申请延长办理期限")


def decide_extension(demo, case, approve: bool) -> None:
    demo.decide_extension(case, approve, "同意延期" if approve else "不同意延期，请按期办结")


def follow_up(demo, case) -> None:
    """回访 the petitioner once the township answered the diverted task."""
    row, ctype = demo.case_of(case)
    if demo.session.scalar(select(CaseTask.id).where(CaseTask.case_id == row.id, CaseTask.state == "done").limit(1)):
        record_follow_up(demo.work(), row, ctype, demo.random.choices(
            ["satisfied", "basically_satisfied", "dissatisfied"], weights=[6, 3, 1])[0], "电话回访信访人")


ACTS = {f.__name__: f for f in (accept, not_accept, reply, request_review, decide_review, request_recheck,
                                start_hearing, end_hearing, decide_recheck)}
