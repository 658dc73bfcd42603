"""The case type ``safety.hazard`` (安全隐患) on the core's case engine (SAF-2, seed 000 doc 3:
问题隐患限期督办制度 — the centre issues a 《整改通知书》, the responsible side carries out the
measures, funds, period and contingency plan; closed only after re-inspection).

Registered → rectification notice (整改中, the period a running limit of the core) → progress
reports → completion (待复查) → re-inspection by someone other than the rectifier: passed closes
it (已销号), failed sends it back with a new period. An overdue period is a listed supervision
(挂牌督办, seed 004 §8) through the core's supervision, which escalates it up the tree; a 重大
hazard notifies the county at once.
"""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from marshmallow import Schema, fields, validate
from sqlalchemy import select

from core.sdk import (Case, CaseDeadline, CaseType, Conflict, DeadlineRule, Invalid, LedgerColumn, OrgUnit, State,
                      Transition, add_case_flag, current, module_settings, notify, scoped, set_limit_due,
                      supervise_case_as_platform, users_of_unit)

from .models import Hazard, Place
from .permissions import INSPECT, NOTICE, READ, RECTIFY

KEY = "safety.hazard"
SHANGHAI = ZoneInfo("Asia/Shanghai")
PERIOD_RULES = ("rectify", "rectify_again")


def grade_choices(w) -> list[tuple[str, str]]:
    return [(g["key"], g["title"]) for g in (module_settings(w.session, "safety") or {}).get("hazard_grades") or []]


def place_choices(w) -> list[tuple[int, str]]:
    """The places in the user's scope, by name: a hazard is filed against one, never a typed id."""
    rows = w.session.execute(scoped(select(Place.id, Place.name), w.grants, READ, Place.org_unit_id)
                             .order_by(Place.name).limit(300)).all()
    return [("", "（不指明）")] + [(i, name) for i, name in rows]


class Details(Schema):
    grade = fields.String(required=True, validate=validate.Length(min=1, max=32),
                          metadata={"title": "隐患等级", "choices_from": grade_choices})
    place_id = fields.Integer(allow_none=True, metadata={"title": "所在场所", "choices_from": place_choices})


def hazard_of(session, case: Case) -> Hazard | None:
    return session.scalar(select(Hazard).where(Hazard.case_id == case.id))


def root_unit(session) -> int | None:
    return session.scalar(select(OrgUnit.id).where(OrgUnit.parent_id.is_(None)).limit(1))


def on_register(session, case: Case, details: dict) -> None:
    settings = module_settings(session, "safety")
    grades = {g["key"]: g for g in settings["hazard_grades"]}
    if details["grade"] not in grades:
        raise Invalid("details.grade", "unknown_grade", "请从列表中选择隐患等级")
    place_id = details.get("place_id")
    if place_id is not None:
        place = session.scalar(select(Place).where(Place.id == place_id))
        if place is None or place.org_unit_id != case.org_unit_id:
            raise Invalid("details.place_id", "unknown_place", "请选择隐患所在单位的场所")
    major = bool(grades[details["grade"]].get("major"))
    session.add(Hazard(case_id=case.id, grade=details["grade"], major=major, place_id=place_id))
    session.flush()
    if major:  # a 重大 hazard: the county is told at once
        add_case_flag(session, case, "major")
        root = root_unit(session)
        if root is not None:
            notify(session, users_of_unit(session, root), f"safety.major:{case.id}",
                   f"重大隐患：{case.number} {case.title}", "发现重大安全隐患，请县级立即掌握并督促整改",
                   kind="todo", case_id=case.id)


# --- acts ----------------------------------------------------------------------------------------

def unit_choices(work, case: Case) -> list[tuple[int, str]]:
    """The responsible unit: where the hazard is, or its handling unit (the units a supervision
    may name)."""
    ids = [u for u in (case.org_unit_id, case.handling_unit_id) if u]
    rows = work.session.execute(select(OrgUnit.id, OrgUnit.name).where(OrgUnit.id.in_(ids))).all()
    names = dict(rows)
    return [(i, names[i]) for i in dict.fromkeys(ids) if i in names]


class NoticeInput(Schema):
    responsible_unit_id = fields.Integer(required=True, metadata={"title": "责任单位", "case_choices": unit_choices})
    responsible_person = fields.String(required=True, validate=validate.Length(min=1, max=50),
                                       metadata={"title": "责任人"})
    measures = fields.String(required=True, validate=validate.Length(min=1, max=3000),
                             metadata={"title": "整改措施"})
    funds = fields.String(required=True, validate=validate.Length(min=1, max=200),
                          metadata={"title": "整改资金（来源和数额）"})
    deadline = fields.Date(metadata={"title": "整改期限（不填按本县默认天数）"})
    plan = fields.String(required=True, validate=validate.Length(min=1, max=3000),
                         metadata={"title": "应急预案（整改期间的防范措施）"})


class ReportInput(Schema):
    note = fields.String(required=True, validate=validate.Length(min=1, max=3000), metadata={"title": "整改情况"})


class PassInput(Schema):
    note = fields.String(required=True, validate=validate.Length(min=1, max=3000), metadata={"title": "复查意见"})


class FailInput(Schema):
    note = fields.String(required=True, validate=validate.Length(min=1, max=3000),
                         metadata={"title": "复查意见（未整改到位的情况）"})
    deadline = fields.Date(required=True, metadata={"title": "新的整改期限"})


def _today() -> dt.date:
    return dt.datetime.now(SHANGHAI).date()


def _end_of(day: dt.date) -> dt.datetime:
    """A period that ends with its last day: 00:00 of the next day, Beijing time (read “24:00”)."""
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), SHANGHAI)


def _future(day: dt.date | None, field: str) -> None:
    if day is not None and day < _today():
        raise Invalid(field, "deadline_in_past", "整改期限不能早于今天")


def _user():
    try:
        return current().user
    except RuntimeError:
        return None


def before_notice(session, case: Case, data: dict) -> None:
    _future(data.get("deadline"), "deadline")
    if data["responsible_unit_id"] not in (case.org_unit_id, case.handling_unit_id):
        raise Invalid("responsible_unit_id", "not_a_handling_unit", "责任单位须是隐患所在单位或承办单位")


def after_notice(session, case: Case, data: dict) -> None:
    h = hazard_of(session, case)
    days = module_settings(session, "safety")["rectification_days"]
    day = data.get("deadline") or _today() + dt.timedelta(days=days)
    user = _user()
    h.responsible_unit_id, h.responsible_person = data["responsible_unit_id"], data["responsible_person"]
    h.measures, h.funds, h.deadline, h.plan = data["measures"], data["funds"], day, data["plan"]
    h.notice_unit_id = user.org_unit_id if user is not None else case.org_unit_id
    set_limit_due(session, case, "rectify", _end_of(day), f"整改通知书限定 {day.isoformat()} 前整改完毕")


def after_complete(session, case: Case, data: dict) -> None:
    user = _user()
    hazard_of(session, case).rectified_by_id = user.id if user is not None else None


def before_reinspect(session, case: Case, data: dict) -> None:
    """The re-inspector is not the one who reported it rectified (409 ``reinspector_is_rectifier``)."""
    user = _user()
    h = hazard_of(session, case)
    if user is not None and h is not None and h.rectified_by_id == user.id:
        raise Conflict("reinspector_is_rectifier", "复查须由整改人以外的人员进行")
    _future(data.get("deadline"), "deadline")


def after_pass(session, case: Case, data: dict) -> None:
    hazard_of(session, case).reinspections += 1


def after_fail(session, case: Case, data: dict) -> None:
    h = hazard_of(session, case)
    h.reinspections += 1
    h.deadline, h.rectified_by_id = data["deadline"], None
    set_limit_due(session, case, "rectify_again", _end_of(data["deadline"]),
                  f"复查未通过，限定 {data['deadline'].isoformat()} 前重新整改完毕")


# --- the timeline: 挂牌督办 of an overdue period --------------------------------------------------

def on_case_event(session, case: Case, event) -> None:
    """A rectification period ran out: the core's listed supervision (挂牌督办) of the responsible
    unit, issued from the unit that gave the notice (escalation climbs from there)."""
    if case.case_type != KEY or event.kind != "overdue":
        return
    rule = session.scalar(select(CaseDeadline.rule).where(CaseDeadline.id == (event.data or {}).get("deadline_id")))
    if rule not in PERIOD_RULES:
        return
    h = hazard_of(session, case)
    if h is None:
        return
    h.overdue_supervised += 1
    day = h.deadline.isoformat() if h.deadline else ""
    supervise_case_as_platform(session, case, {
        "kind": "supervise", "level": "listed", "target_unit_id": h.responsible_unit_id or case.org_unit_id,
        "issuer_unit_id": h.notice_unit_id or case.org_unit_id,
        "instruction": f"隐患逾期未整改（整改期限 {day}），挂牌督办：请立即整改并报告整改情况"})


# --- display and ledger --------------------------------------------------------------------------

def details(session, case: Case) -> dict:
    h = hazard_of(session, case)
    if h is None:
        return {}
    settings = module_settings(session, "safety")
    grades = {g["key"]: g["title"] for g in settings["hazard_grades"]}
    names = dict(session.execute(select(OrgUnit.id, OrgUnit.name).where(
        OrgUnit.id.in_([u for u in (h.responsible_unit_id, h.notice_unit_id) if u]))).all())
    place = session.scalar(select(Place.name).where(Place.id == h.place_id)) if h.place_id else None
    return {"grade": h.grade, "grade_title": grades.get(h.grade, h.grade), "major": h.major, "place_id": h.place_id,
            "place_name": place or "", "inspection_id": h.inspection_id,
            "responsible_unit_id": h.responsible_unit_id,
            "responsible_unit_name": names.get(h.responsible_unit_id, ""), "responsible_person": h.responsible_person,
            "measures": h.measures, "funds": h.funds, "deadline": h.deadline, "plan": h.plan,
            "notice_unit_name": names.get(h.notice_unit_id, ""), "reinspections": h.reinspections}


def _column(value_of):
    def value(session, cases) -> dict:
        rows = session.scalars(select(Hazard).where(Hazard.case_id.in_([c.id for c in cases])))
        return {r.case_id: value_of(session, r) for r in rows}
    return value


def _grade_title(session, h: Hazard) -> str:
    return {g["key"]: g["title"] for g in module_settings(session, "safety")["hazard_grades"]}.get(h.grade, h.grade)


HAZARD = CaseType(
    key=KEY, title="安全隐患", title_en="Safety hazard",
    number_format="隐〔{year}〕{seq:05d}",
    states=(State("registered", "待下达整改通知", "Awaiting notice"),
            State("rectifying", "整改中", "Being rectified"),
            State("rectified", "待复查", "Awaiting re-inspection"),
            State("closed", "已销号", "Closed out", closed=True)),
    initial="registered",
    transitions=(
        Transition("notice", "下达整改通知书", ("registered",), "rectifying", NOTICE, "Issue rectification notice",
                   input=NoticeInput, before=before_notice, after=after_notice),
        Transition("progress", "报告整改进度", ("rectifying",), "rectifying", RECTIFY, "Report progress",
                   input=ReportInput),
        Transition("complete", "报告整改完成", ("rectifying",), "rectified", RECTIFY, "Report completion",
                   input=ReportInput, after=after_complete),
        Transition("reinspect_pass", "复查合格（销号）", ("rectified",), "closed", INSPECT,
                   "Re-inspection passed (close out)", input=PassInput, before=before_reinspect, after=after_pass),
        Transition("reinspect_fail", "复查不合格（限期重新整改）", ("rectified",), "rectifying", INSPECT,
                   "Re-inspection failed", input=FailInput, before=before_reinspect, after=after_fail),
    ),
    deadlines=(
        DeadlineRule("rectify", "整改期限", 30, "calendar_days", start="notice", stop=("complete",),
                     source="整改通知书", title_en="Rectification period"),
        DeadlineRule("rectify_again", "重新整改期限", 30, "calendar_days", start="reinspect_fail",
                     stop=("complete",), source="复查意见", title_en="Second rectification period"),
    ),
    read_permission=READ, create_permission=INSPECT,
    details_schema=Details, on_register=on_register, details=details,
    flag_titles={"major": ("重大隐患", "Major hazard")},
    ledger_columns=(
        LedgerColumn("grade", "隐患等级", _column(_grade_title), "Grade"),
        LedgerColumn("responsible_person", "责任人", _column(lambda s, h: h.responsible_person), "Responsible person"),
        LedgerColumn("measures", "整改措施", _column(lambda s, h: h.measures), "Measures"),
        LedgerColumn("funds", "整改资金", _column(lambda s, h: h.funds), "Funds"),
        LedgerColumn("deadline", "整改期限", _column(lambda s, h: h.deadline.isoformat() if h.deadline else ""),
                     "Deadline"),
        LedgerColumn("plan", "应急预案", _column(lambda s, h: h.plan), "Contingency plan")),
)
