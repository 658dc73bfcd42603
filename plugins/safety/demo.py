"""The safety module's year in the demo county (``pingan_demo_activity``, docs/demo.md): the
county's school and catering checklists, a place of each in some villages, inspections that
raise hazards, hazards through notice, progress, completion and re-inspection (passed or not),
a few left overdue on purpose, and incident reports (a few late)."""
from __future__ import annotations

import datetime as dt

from .models import Checklist, ChecklistItem, Place

CASE_TYPE = "safety.hazard"
ITEMS = {
    "school": ("学校安全检查表", [("消防", "消防通道是否畅通", True, 5, "major"), ("校舍", "教室墙体是否有裂缝", False, 3, "general"),
                           ("制度", "是否有值班记录", True, 2, None)]),
    "catering": ("餐饮场所检查表", [("燃气", "燃气报警器是否完好", True, 4, "general"),
                             ("消防", "灭火器是否在有效期内", True, 4, "general"), ("制度", "是否有安全制度上墙", True, 2, None)]),
}
TOPICS = ["配电箱未上锁", "楼梯扶手松动", "电线私拉乱接", "围墙局部倾斜", "液化气罐存放不当", "消防器材过期"]
_NOTICE = [("notice", 0, 3)]
PATHS = {
    "registered": [],
    "rectifying": _NOTICE + [("progress", 3, 10)],
    "rectified": _NOTICE + [("complete", 5, 20)],
    "closed": _NOTICE + [("complete", 5, 20), ("reinspect_pass", 1, 6)],
    "failed": _NOTICE + [("complete", 5, 20), ("reinspect_fail", 1, 6)],
}
OPEN = {"registered", "rectifying", "rectified", "failed"}


def plan(demo) -> None:
    rnd = demo.random
    demo.act(demo.start + dt.timedelta(days=1), demo.admin, setup, demo)
    laid = []
    for target in PATHS if demo.every_state else ():
        for _ in range(2):
            got = demo.lay_out(PATHS[target], target in OPEN)
            if got is not None:
                laid.append((target, *got))
    while len(laid) < max(4, demo.volume // 3):
        target = rnd.choice(list(PATHS))
        got = demo.lay_out(PATHS[target], target in OPEN)
        if got is not None:
            laid.append((target, *got))
    for age in (60, 90) if demo.every_state else ():  # overdue on purpose: the period ran out
        at = demo.registered_at(age, age + 5)
        laid.append(("rectifying", at, demo.steps(at, _NOTICE)))
    # villages a township works: the township rectifies, the county re-inspects (never the same person)
    villages = [v for v in demo.villages if demo.handler(v) != demo.admin] or demo.villages
    for target, at, steps in laid:
        case = demo.new_case(rnd.choice(villages), at, target=target)
        handler = demo.handler(case.village)
        demo.act(at, handler, register, demo, case, registers=case)
        for when, name in steps:  # the county re-inspects what the township reports rectified
            demo.act(when, demo.admin if name.startswith("reinspect") else handler, ACTS[name], demo, case, case=case)
    for _ in range(max(2, demo.volume // 10)):
        village = rnd.choice(demo.villages)
        demo.act(demo.registered_at(5, 300), demo.handler(village), incident, demo, village)


def setup(demo) -> None:
    """The county's checklists and a place of each kind in the first villages."""
    for place_type, (title, items) in ITEMS.items():
        checklist = Checklist(place_type=place_type, title=title)
        demo.session.add(checklist)
        demo.session.flush()
        demo.session.add_all([ChecklistItem(checklist_id=checklist.id, position=n, section=section, question=q,
                                            expected=expected, weight=weight, hazard=grade is not None, grade=grade)
                              for n, (section, q, expected, weight, grade) in enumerate(items)])
    for village in demo.villages[:4]:
        name = demo.unit_name(village)
        demo.session.add_all([
            Place(org_unit_id=demo.unit_id(village), place_type="school", name=f"{name}小学", responsible_person="校长",
                  extra={"students": demo.random.randrange(80, 600)}, created_by_id=demo.user.id),
            Place(org_unit_id=demo.unit_id(village), place_type="catering", name=f"{name}农家饭庄",
                  responsible_person="店主", extra={"gas": True}, created_by_id=demo.user.id)])
    demo.count("places", 8)


def register(demo, case) -> None:
    rnd = demo.random
    grade = "major" if rnd.random() < 0.15 else "general"
    row = demo.register(CASE_TYPE, {"title": f"{demo.unit_name(case.village)}{rnd.choice(TOPICS)}",
                                     "content": "排查中发现，需限期整改。", "channel": "other",
                                     "org_unit_id": demo.unit_id(case.village), "details": {"grade": grade}})
    case.case_id = row.id
    demo.count("hazards")


def notice(demo, case) -> None:
    row, _ = demo.case_of(case)
    demo.transition(case, "notice", {"responsible_unit_id": row.org_unit_id, "responsible_person": "村委会主任",
                                     "measures": "立即组织整改，设置警示标志", "funds": "村集体经费",
                                     "plan": "整改期间专人值守，发现险情立即疏散"})


def progress(demo, case) -> None:
    demo.transition(case, "progress", {"note": "整改材料已采购，正在施工"})


def complete(demo, case) -> None:
    demo.transition(case, "complete", {"note": "已按整改通知书完成整改"})


def reinspect_pass(demo, case) -> None:
    demo.transition(case, "reinspect_pass", {"note": "复查合格，予以销号"})


def reinspect_fail(demo, case) -> None:
    day = (demo.now().astimezone(demo.tz) + dt.timedelta(days=15)).date()
    demo.transition(case, "reinspect_fail", {"note": "警示标志未设置到位", "deadline": day})


def incident(demo, village: str) -> None:
    from .incidents import report
    from core.sdk import current
    late = demo.random.random() < 0.25
    occurred = demo.now() - dt.timedelta(hours=5 if late else 2)
    report(current(), {"org_unit_id": demo.unit_id(village), "title": "村道车辆侧翻", "occurred_at": occurred,
                       "location": demo.unit_name(village), "description": "车辆侧翻，无人员死亡", "injuries": 1,
                       "losses": "", "measures": "已疏导交通"})
    demo.count("incidents")


ACTS = {"notice": notice, "progress": progress, "complete": complete, "reinspect_pass": reinspect_pass,
        "reinspect_fail": reinspect_fail}
