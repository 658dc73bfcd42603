"""The village module's year in the demo county (``pingan_demo_activity``, docs/demo.md).

In a few villages, each act through the module's own services, at its moment, by the
township's account: cadres' contacts against the "四个一" (VIL-1); a hearing now and then, some
with a commitment that becomes a case, most of them fulfilled (VIL-2); village projects through
proposal, the council, the vote — one withdrawn by the council, one failing the county's
approval share — then publication, progress and completion (VIL-3, VIL-4); and, after the
year's end, the two-ballot evaluation with one village under the threshold and its
rectification under way (VIL-5)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import select

from core.sdk import NotFound, OrgUnit, create_record, current, get_or_404

from . import evaluations, projects, publicity
from .models import Evaluation, Project
from .permissions import DELIBERATE, EVALUATE, PUBLISH
from .registers import CONTACTS, HEARINGS
from .settings import CONTACT_KINDS

PROJECTS = [("村道硬化", "380000", "硬化通组道路 1.2 公里，宽 3.5 米"),
            ("文化广场照明", "56000", "广场安装路灯 16 盏"),
            ("灌溉水渠清淤", "120000", "清淤灌溉主渠 2.4 公里，修复闸门 3 处"),
            ("村卫生室改造", "90000", "卫生室屋面防漏、诊室隔断改造"),
            ("垃圾收集点建设", "45000", "新建垃圾收集点 6 处"),
            ("饮水管网延伸", "210000", "自来水管网延伸到三个村民小组")]
RAISED = ["村口路灯不亮", "低保申请进度", "邻里宅基地界址不清", "小孩上学接送安全", "灌溉用水分配", "无"]
QUESTIONS = [("村里垃圾清运不及时", "已与保洁公司约定每周清运两次", ""),
             ("通组道路坑洼，雨天难走", "两委研究后提交集中议事", "一个月内修补坑洼路段"),
             ("村务公开栏内容更新慢", "当场答复：每月5日前更新", ""),
             ("河堤护栏损坏", "已报乡镇水利站", "两周内修复河堤护栏")]


def plan(demo) -> None:
    rnd = demo.random
    villages = rnd.sample(demo.villages, min(6, len(demo.villages)))
    for village in villages:
        who = demo.handler(village)
        for _ in range(rnd.randint(4, 8)):
            demo.act(demo.registered_at(3, 330), who, contact, demo, village)
        for age in (300, 150):
            at = demo.registered_at(age - 30, age)
            commitment = demo.new_case(village, at)  # its case_id once the hearing made one
            demo.act(at, who, hearing, demo, village, rnd.randrange(len(QUESTIONS)), commitment)
            demo.act(demo.later(at, 10, 25), who, fulfil, demo, commitment, case=commitment)
    fates = ["completed", "completed", "in_progress", "failed", "withdrawn", "passed"]
    for n, (village, fate) in enumerate(zip(villages, fates)):
        plan_project(demo, village, PROJECTS[n], fate)
    # the evaluation of the year before, held in January: when the demo's year holds one
    held = demo.work_hour(dt.date(demo.end.year, 1, 15))
    if demo.start < held < demo.end - dt.timedelta(days=20):
        for n, village in enumerate(villages):
            rectification = demo.new_case(village, held)
            demo.act(held, demo.handler(village), evaluate, demo, village, n == 0, rectification)
            demo.act(demo.later(held, 2, 6), demo.handler(village), demo.transition, rectification, "start",
                     {"note": "召开两委会议，逐条制定整改措施，张榜公布"}, case=rectification)


def contact(demo, village: str) -> None:
    """A cadre's contact with a villager of the village (no villager's name is kept)."""
    rnd = demo.random
    raised = rnd.choice(RAISED)
    create_record(current(), CONTACTS, {
        "org_unit_id": _group(demo, village), "kind": rnd.choice(list(CONTACT_KINDS)),
        "contacted_on": demo.now().date(), "raised": "" if raised == "无" else raised,
        "outcome": "none" if raised == "无" else rnd.choice(["answered", "answered", "case", "deliberation"])})
    demo.count("contacts")


def hearing(demo, village: str, n: int, commitment) -> None:
    """A hearing (群众说事会); a commitment made there is a case (``commitment.case_id``)."""
    question, answer, promised = QUESTIONS[n]
    row = create_record(current(), HEARINGS, {"org_unit_id": demo.unit_id(village), "held_on": demo.now().date(),
                                              "questions": question, "answers": answer, "commitment": promised})
    commitment.case_id = row.commitment_case_id
    demo.count("hearings")


def fulfil(demo, commitment) -> None:
    demo.transition(commitment, "fulfil", {"note": "已按承诺办结，向群众反馈"})


def plan_project(demo, village: str, spec: tuple, fate: str) -> None:
    """A project from its proposal to its ``fate``, each step a later act by the township."""
    title, budget, summary = spec
    who, ref = demo.handler(village), {}
    at = demo.registered_at(200, 320)
    demo.act(at, who, propose, demo, village, ref, {"title": title, "budget": Decimal(budget), "summary": summary})
    discussed = demo.later(at, 3, 10)
    demo.act(discussed, who, step, demo, ref, projects.discuss, {
        "opinion": "经两委研究，资金来源未落实，暂缓实施" if fate == "withdrawn" else "经两委研究，同意提交村民代表会议表决",
        "submit": fate != "withdrawn"}, "discussed_on")
    if fate == "withdrawn":
        return
    voted = demo.later(discussed, 5, 15)
    present, votes_for = 38, 29 if fate == "failed" else 35  # 29 of 38 present: 76 %, under the county's 80 %
    demo.act(voted, who, step, demo, ref, projects.vote, {
        "body": "representatives", "members": 45, "present": present, "votes_for": votes_for,
        "votes_against": present - votes_for - 1, "votes_abstain": 1, "minutes": "会议由村委会主任主持，举手表决"},
        "voted_on")
    demo.act(demo.later(voted, 1, 5), who, publish, demo, ref, "decision")
    if fate in ("failed", "passed"):
        return
    worked = demo.later(voted, 20, 40)
    demo.act(worked, who, step, demo, ref, projects.progress, {"progress_pct": 60, "note": "主体工程已完成六成"},
             "progress_on")
    demo.act(demo.later(worked, 1, 5), who, publish, demo, ref, "progress")
    if fate == "completed":
        done = demo.later(worked, 20, 40)
        demo.act(done, who, step, demo, ref, projects.complete, {"note": "已完工，经村民代表验收合格"}, "completed_on")
        demo.act(demo.later(done, 1, 6), who, publish, demo, ref, "completion")


def propose(demo, village: str, ref: dict, data: dict) -> None:
    w = demo.work()
    unit = projects.village(w, demo.unit_id(village), DELIBERATE)
    ref["id"] = projects.propose(w, unit, {**data, "proposed_on": demo.now().date()}).id
    demo.count("projects")


def step(demo, ref: dict, act, data: dict, day_field: str) -> None:
    """One act on the project (``projects.discuss``, ``vote`` …), dated today."""
    act(demo.work(), _project(demo, ref), {**data, day_field: demo.now().date()})


def publish(demo, ref: dict, stage: str) -> None:
    publicity.publish(demo.work(), _project(demo, ref, PUBLISH), stage)
    demo.count("publications")


def _project(demo, ref: dict, perm: str = DELIBERATE) -> Project:
    """The project, as the API loads it for the act (404 out of the user's scope); a proposal
    that was refused leaves nothing to act on: the act is skipped."""
    if "id" not in ref:
        raise NotFound()
    return get_or_404(demo.session, demo.work().grants, Project, ref["id"], perm)


def evaluate(demo, village: str, under: bool, rectification) -> None:
    """Last year's two-ballot evaluation; ``under``: the villagers' ballot under the threshold,
    its rectification a case (``rectification.case_id``)."""
    rnd = demo.random
    w = demo.work()
    issued, party = rnd.randrange(180, 320), rnd.randrange(25, 60)
    unhappy, basic = (issued // 6 if under else rnd.randrange(0, 4)), rnd.randrange(5, 20)
    data = {"year": demo.now().year - 1, "subject": "村两委班子和村干部", "held_on": demo.now().date(),
            "villager_issued": issued, "villager_satisfied": issued - unhappy - basic - 2, "villager_basic": basic,
            "villager_unsatisfied": unhappy, "party_issued": party, "party_satisfied": party - 2, "party_basic": 2,
            "party_unsatisfied": 0}
    e: Evaluation = evaluations.evaluate(w, projects.village(w, demo.unit_id(village), EVALUATE), data)
    rectification.case_id = e.case_id
    demo.count("evaluations")


def _group(demo, village: str) -> int:
    """A villager group of the village (or the village itself when it has none)."""
    groups = demo.session.scalars(select(OrgUnit.id).where(OrgUnit.parent_id == demo.unit_id(village),
                                                           OrgUnit.level == "group").order_by(OrgUnit.id)).all()
    return demo.random.choice(groups) if groups else demo.unit_id(village)
