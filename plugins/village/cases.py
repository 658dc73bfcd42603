"""The case type ``village.rectification`` (两票评议整改): the village council rectifies within a
time limit after a two-ballot evaluation under the county's satisfaction threshold (VIL-5,
seed 001 doc 5: "责成村两委会限期整改，直到群众满意为止"). The limit is the case type's
``rectify`` rule: the seed gives no number, so its 30 days are a default each county sets
(``PUT /api/case-types/village.rectification/settings``, docs/cases.md).
"""
from __future__ import annotations

from marshmallow import Schema, fields, validate
from sqlalchemy import select

from core.sdk import CaseType, DeadlineRule, Invalid, State, Transition

from .models import Evaluation
from .permissions import CONTACT, EVALUATE, RECTIFY

KEY = "village.rectification"
SOURCE = "两票评事：满意率未达门槛的，责成村两委限期整改（期限由本县设定）"


def open_evaluations(work) -> list[tuple[int, str]]:
    """The evaluations under the threshold still without their rectification (normally none:
    entering one registers its rectification at once)."""
    from core.sdk import OrgUnit
    rows = work.session.execute(select(Evaluation.id, Evaluation.year, Evaluation.subject, OrgUnit.name).join(
        OrgUnit, (OrgUnit.id == Evaluation.org_unit_id) & (OrgUnit.tenant_id == Evaluation.tenant_id))
        .where(Evaluation.passed.is_(False), Evaluation.case_id.is_(None)).limit(200)).all()
    return [(i, f"{unit}{year}年度两票评议（{subject}）") for i, year, subject, unit in rows]


class RectificationDetails(Schema):
    evaluation_id = fields.Integer(required=True, metadata={"title": "两票评议", "choices_from": open_evaluations})


def on_register(session, case, details: dict) -> None:
    """A rectification belongs to one evaluation under the threshold, of the case's village."""
    e = session.scalar(select(Evaluation).where(Evaluation.id == details["evaluation_id"]))
    if e is None or e.passed or e.case_id is not None or e.org_unit_id != case.org_unit_id:
        raise Invalid("details.evaluation_id", "unknown_evaluation", "该村没有待整改的两票评议")
    e.case_id = case.id


class MeasuresInput(Schema):
    note = fields.String(required=True, validate=validate.Length(min=2, max=2000), metadata={"title": "整改措施"})


class ResultInput(Schema):
    note = fields.String(required=True, validate=validate.Length(min=2, max=2000), metadata={"title": "整改结果"})


def details(session, case) -> dict:
    e = session.scalar(select(Evaluation).where(Evaluation.case_id == case.id))
    if e is None:
        return {}
    return {"evaluation_id": e.id, "year": e.year, "subject": e.subject, "villager_pct": str(e.villager_pct),
            "party_pct": str(e.party_pct), "threshold_pct": e.threshold_pct}


RECTIFICATION = CaseType(
    key=KEY, title="两票评议整改", title_en="Rectification after the two-ballot evaluation",
    number_format="整改〔{year}〕{seq:04d}",
    states=(State("registered", "待整改", "To rectify"),
            State("rectifying", "整改中", "Rectifying"),
            State("done", "整改完成", "Rectified", closed=True)),
    initial="registered",
    transitions=(
        Transition("start", "制定整改措施", ("registered",), "rectifying", RECTIFY, "Set the measures",
                   input=MeasuresInput),
        Transition("finish", "整改完成", ("rectifying",), "done", RECTIFY, "Rectified", input=ResultInput),
        Transition("reopen", "群众仍不满意，继续整改", ("done",), "rectifying", EVALUATE, "Not yet satisfied",
                   input=MeasuresInput),
    ),
    deadlines=(DeadlineRule("rectify", "整改期限", 30, "calendar_days", start="registered", stop=("finish",),
                            source=SOURCE, title_en="Rectification limit"),),
    read_permission="core.case.read",
    create_permission=EVALUATE,
    details_schema=RectificationDetails, on_register=on_register, details=details,
)


COMMITMENT_KEY = "village.commitment"


class FulfilInput(Schema):
    note = fields.String(required=True, validate=validate.Length(min=2, max=2000), metadata={"title": "兑现情况"})


COMMITMENT = CaseType(
    key=COMMITMENT_KEY, title="群众说事承诺事项", title_en="Commitment made at a hearing",
    number_format="承诺〔{year}〕{seq:04d}",
    states=(State("registered", "待兑现", "To fulfil"), State("done", "已兑现", "Fulfilled", closed=True)),
    initial="registered",
    transitions=(Transition("fulfil", "兑现承诺", ("registered",), "done", CONTACT, "Fulfilled", input=FulfilInput),),
    deadlines=(DeadlineRule("promise", "承诺兑现期限", 30, "calendar_days", start="registered", stop=("fulfil",),
                            source="群众说事：对群众呼声高的事，干部当场表态（期限由本县设定）",
                            title_en="Commitment limit"),),
    read_permission="core.case.read", create_permission=CONTACT,
)
