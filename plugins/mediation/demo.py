"""The mediation module's year in the demo county (``pingan_demo_activity``, docs/demo.md).

Disputes registered by the townships (at the window, or directly with villagers on record as
the parties) and by the grid worker (网格上报), mediated with sessions, agreements, judicial
confirmation, return visits and conclusion, ended, refused, referred to the court and its
outcome recorded; 督办 and 催办; two in every state and a few overdue on purpose (mediated past
the month; agreements past the 30 days for judicial confirmation, 人民调解法 Art. 33); and the
townships' monthly screening reports (排查报送, by the 20th, a few late, some nil). The core
plays the acts in time order with the other modules' (``core.sdk.DemoActivity``).
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from core.sdk import Case, OrgUnit

from . import acts as mediation_acts, screening
from .models import Dispute

CASE_TYPE = "mediation.dispute"
MONTHLY = {"level": "township", "cadence": "monthly"}
TOPICS = {
    "land_contract": "土地承包经营权纠纷", "boundary": "宅基地地界纠纷", "neighbours": "邻里排水纠纷",
    "marriage_family": "婚姻家庭赡养纠纷", "labour_wages": "务工工资纠纷", "debt": "民间借贷纠纷",
    "traffic": "交通事故赔偿纠纷", "forest_rights": "山林权属纠纷", "medical": "医疗费用纠纷",
    "village_enterprise": "村企用地纠纷",
}
_MEDIATED = [("accept", 0, 3), ("session", 1, 6)]
PATHS = {
    "registered": [],
    "mediating": _MEDIATED,
    "agreed": _MEDIATED + [("agree", 2, 12)],
    "concluded": _MEDIATED + [("session", 3, 8), ("agree", 2, 12), ("apply_confirmation", 3, 20),
                              ("return_visit", 5, 20), ("conclude", 5, 30)],
    "ended": _MEDIATED + [("end", 3, 15)],
    "refused": [("refuse", 0, 3)],
    "referred": [("refer", 0, 4)],
    "referral_done": [("refer", 0, 4), ("record_outcome", 10, 40)],
}
WEIGHTS = {"registered": 2, "mediating": 3, "agreed": 3, "concluded": 12, "ended": 3, "refused": 1,
           "referred": 1, "referral_done": 1}
OPEN = {"registered", "mediating", "agreed", "referred"}
CLOSING = {"end", "refuse", "conclude", "record_outcome", "agree"}  # the mediation itself is over
BY_THE_COUNTY = {"refer", "record_outcome"}


def plan(demo) -> None:
    """Lay out the module's disputes of the year and the screening reports, and plan their acts."""
    rnd = demo.random
    if not demo.settings.get("screening"):  # the townships report monthly, by the 20th
        demo.configure(screening=[MONTHLY])
    laid: list[list] = []  # [village, registered, steps, target, from the grid]

    def add(target: str) -> None:
        got = demo.lay_out(PATHS[target], target in OPEN)
        if got is not None:
            laid.append([rnd.choice(demo.villages), got[0], got[1], target, False])

    for target in PATHS if demo.every_state else ():
        add(target)
        add(target)
    # overdue on purpose: mediated past the month; agreed, past the 30 days for confirmation
    for age in (45, 70) if demo.every_state else ():
        at = demo.registered_at(age, age + 5)
        laid.append([rnd.choice(demo.villages), at, demo.steps(at, [("accept", 0, 2), ("session", 2, 5)]),
                     "mediating", False])
    for age in (50, 80) if demo.every_state else ():
        at = demo.registered_at(age, age + 5)
        laid.append([rnd.choice(demo.villages), at,
                     demo.steps(at, [("accept", 0, 2), ("session", 1, 4), ("agree", 2, 6)]), "agreed", False])
    while len(laid) < demo.volume:
        add(rnd.choices(list(WEIGHTS), weights=list(WEIGHTS.values()))[0])
    if demo.grid:  # the grid worker reports some disputes from the grid (网格上报)
        for item in [x for x in laid if x[3] != "referred"][: max(3, demo.volume // 15)]:
            item[0], item[4] = demo.grid, True
    for village, at, steps, target, grid in laid:
        _plan_case(demo, demo.new_case(village, at, target=target, grid=grid), steps)
    if MONTHLY in (demo.settings.get("screening") or []):
        _plan_screening(demo)


def _plan_case(demo, case, steps: list) -> None:
    handler = demo.handler(case.village)
    by = demo.grid_worker if case.data["grid"] and demo.grid_worker else handler
    demo.act(case.at, by, register, demo, case, registers=case)
    for when, name in steps:
        demo.act(when, demo.admin if name in BY_THE_COUNTY else handler, ACTS[name], demo, case, case=case)
    opened = steps[0][0] if steps and steps[0][1] == "accept" else case.at
    demo.plan_supervision(case, opened, next((w for w, n in steps if n in CLOSING), None))


def _plan_screening(demo) -> None:
    """Each township, each month of the year, files its report, by the 20th (mostly)."""
    rnd = demo.random
    month = (demo.end - dt.timedelta(days=330)).astimezone(demo.tz).date().replace(day=1)
    last = demo.end.astimezone(demo.tz).date()
    while month <= last:
        for township in demo.townships:
            late = rnd.random() < 0.1
            when = demo.work_hour(month.replace(day=rnd.randrange(21, 27) if late else rnd.randrange(8, 19)))
            if when < demo.end - dt.timedelta(minutes=10):
                demo.act(when, demo.handler(township), file_screening, demo, township, f"{month:%Y-%m}")
        month = (month + dt.timedelta(days=32)).replace(day=1)


# --- the acts --------------------------------------------------------------------------------

def register(demo, case) -> None:
    """At the window of the acting user's unit, or directly with villagers on record as the parties."""
    rnd = demo.random
    village = demo.unit_id(case.village)
    types = {x["key"]: x["title"] for x in demo.settings.get("dispute_types") or []}
    dtype = rnd.choice([k for k in TOPICS if k in types] or sorted(types))
    topic = TOPICS.get(dtype) or f"{types[dtype]}纠纷"
    title = f"{demo.unit_name(case.village)}{topic}"
    people = rnd.choices([2, 3, 4, 8], weights=[10, 4, 2, 1])[0]
    details = {"dispute_type": dtype, "people_involved": people,
               "risk_grade": rnd.choices(["low", "medium", "high"], weights=[12, 4, 1])[0],
               "may_turn_criminal": rnd.random() < 0.08, "kind": "people"}
    if rnd.random() < 0.05:
        details.update(emergency=True, occurred_at=(demo.now() - dt.timedelta(minutes=rnd.choice([8, 15, 45])))
                       .isoformat())
    content = f"双方因{topic[:-2]}问题发生争执，申请调解。"
    known = demo.people(case.village)
    if not case.data["grid"] and len(known) >= 2 and rnd.random() < 0.5:
        # the parties are villagers on record: registered on the case as applicant and respondent
        pick = rnd.sample(known, min(len(known), 3 if people >= 3 else 2))
        roles = ["applicant", "respondent", "third"]
        row = demo.register(CASE_TYPE, {
            "title": title, "content": content, "channel": "visit", "org_unit_id": village,
            "persons": [{"person_id": pid, "role": roles[i]} for i, pid in enumerate(pick)], "details": details})
        case.case_id = row.id
        return
    channel = "grid" if case.data["grid"] else rnd.choice(["visit", "call", "visit"])
    persons = [demo.new_person(case.village, "requester")] + \
              [demo.new_person(case.village, "party") for _ in range(1 if people < 3 else 2)]
    made = demo.register_at_window({"channel": channel, "org_unit_id": demo.window, "arose_unit_id": village,
                                    "subject": title, "content": content, "persons": persons,
                                    "case_type": CASE_TYPE, "title": title, "details": details})
    case.case_id = made.case_id


def _committee_place(demo, case) -> str:
    """The committee of the unit the acting user works for (a township that took the dispute
    over mediates in its own committee's name), else of the dispute's village."""
    user = getattr(demo, "user", None)
    if user is not None and getattr(user, "org_unit_id", None):
        return demo.session.scalar(select(OrgUnit.name).where(OrgUnit.id == user.org_unit_id))
    return demo.unit_name(demo.village_of(case.village))


def accept(demo, case) -> None:
    demo.transition(case, "accept", {"consent": True, "method": demo.random.choice(
        ["graded", "graded", "directed", "leader", "joint"])})


def session(demo, case) -> None:
    row, _ = demo.case_of(case)
    if row.state != "mediating":
        return
    mediation_acts.record_session(demo.work(), row, {
        "held_at": demo.now() - dt.timedelta(minutes=10), "place": f"{_committee_place(demo, case)}调解室",
        "mediators": demo.random.choice(["王秀英", "张德胜", "李文华"]), "participants": "双方当事人及亲属",
        "record": "调解员听取双方陈述，释法说理，双方同意继续协商。"})


def agree(demo, case) -> None:
    due = (demo.now() + dt.timedelta(days=demo.random.randrange(10, 40))).date()
    demo.transition(case, "agree", {
        "form": "written", "facts": "双方因相邻关系发生争执。", "issues": "赔偿数额及履行方式",
        "responsibility": "双方均有一定责任", "terms": "一方一次性补偿对方人民币二千元，双方不再追究",
        "performance": "现金支付", "performance_due": due.isoformat(), "mediator": "王秀英",
        "committee": f"{_committee_place(demo, case)}人民调解委员会",
        "parties_signed": True, "mediator_signed": True, "committee_stamped": True})


def apply_confirmation(demo, case) -> None:
    demo.transition(case, "apply_confirmation", {"court": "示范县人民法院", "note": "双方共同申请司法确认"})


def return_visit(demo, case) -> None:
    row, _ = demo.case_of(case)
    mediation_acts.record_followup(demo.work(), row, {"kind": "return_visit", "performed": "performed",
                                                      "note": "回访双方当事人，协议已履行，关系和睦"})


def conclude(demo, case) -> None:
    demo.transition(case, "conclude", {"performed": "performed", "note": "协议履行完毕，结案"})


def end(demo, case) -> None:
    demo.transition(case, "end", {"outcome": demo.random.choice(["no_agreement", "litigation", "withdrawn"]),
                                  "note": "经多次调解双方分歧较大"})


def refuse(demo, case) -> None:
    demo.transition(case, "refuse", {"note": "被申请人明确表示拒绝调解"})


def refer(demo, case) -> None:
    demo.transition(case, "refer", {"to_kind": "judicial", "to_body": "示范县人民法院", "document": "suit",
                                    "note": "争议标的较大，建议通过诉讼解决"})


def record_outcome(demo, case) -> None:
    demo.transition(case, "record_outcome", {"outcome": demo.random.choice(["mediated", "judged"]),
                                             "note": "法院已处理完毕"})


def file_screening(demo, township: str, month: str) -> None:
    """The township's report for ``month``: the disputes registered under it since the month
    began and not yet reported, or nil."""
    start = dt.datetime.strptime(month + "-01", "%Y-%m-%d").replace(tzinfo=demo.tz)
    found = list(demo.session.scalars(select(Case.id).join(Dispute, Dispute.case_id == Case.id).where(
        Case.org_unit_id.in_(demo.units_under(township)), Case.created_at >= start,
        Dispute.screening_id.is_(None)).order_by(Case.id)))
    screening.file_report(demo.work(), demo.unit_id(township), month, not found,
                          "本月排查未发现矛盾纠纷" if not found else f"本月排查发现矛盾纠纷{len(found)}件，均已登记调处",
                          found)
    demo.count("screening_reports")


ACTS = {f.__name__: f for f in (accept, session, agree, apply_confirmation, return_visit, conclude, end, refuse,
                                refer, record_outcome)}
