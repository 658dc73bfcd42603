"""The example case type ``visits.visit`` (走访请求): a resident asks to be visited.

It shows everything a module declares about its cases — states, transitions with their
permissions and inputs, time limits (one marked statutory to show that a county may only
tighten it), a pause state and an extension — and keeps its own fields in ``visits_visit``.
The limits are examples, not law: their ``source`` says so.
"""
from __future__ import annotations

from marshmallow import Schema, fields, validate
from sqlalchemy import select

from core.sdk import CaseType, DeadlineRule, LedgerColumn, State, Transition

from .models import VisitsVisit
from .permissions import HANDLE_VISITS

EXAMPLE_SOURCE = "示例规则（演示用，非真实法规）"


class VisitDetails(Schema):
    visit_kind = fields.String(required=True, validate=validate.OneOf(["home", "phone"], labels=["上门走访", "电话回访"]),
                               metadata={"title": "走访方式", "description": "home 上门走访 | phone 电话回访"})


class CloseInput(Schema):
    result = fields.String(required=True, validate=validate.Length(min=1, max=500), metadata={"title": "走访结果"})
    note = fields.String(validate=validate.Length(max=500), metadata={"title": "备注"})


class ReasonInput(Schema):
    note = fields.String(required=True, validate=validate.Length(min=1, max=500), metadata={"title": "理由"})


def on_register(session, case, details: dict) -> None:
    session.add(VisitsVisit(case_id=case.id, visit_kind=details["visit_kind"]))


def after_close(session, case, data: dict) -> None:
    visit = session.scalar(select(VisitsVisit).where(VisitsVisit.case_id == case.id))
    visit.result = data["result"]


def details(session, case) -> dict:
    visit = session.scalar(select(VisitsVisit).where(VisitsVisit.case_id == case.id))
    return {"visit_kind": visit.visit_kind, "result": visit.result} if visit else {}


def visit_kinds(session, cases) -> dict:
    ids = [c.id for c in cases]
    rows = session.execute(select(VisitsVisit.case_id, VisitsVisit.visit_kind).where(VisitsVisit.case_id.in_(ids)))
    names = {"home": "上门走访", "phone": "电话回访"}
    return {case_id: names.get(kind, kind) for case_id, kind in rows}


VISIT = CaseType(
    key="visits.visit", title="走访请求", title_en="Visit request",
    number_format="访〔{year}〕{seq:05d}",
    states=(State("registered", "已登记", "Registered"),
            State("accepted", "办理中", "In hand"),
            State("suspended", "中止", "Suspended"),
            State("done", "已办结", "Done", closed=True),
            State("rejected", "不予受理", "Rejected", closed=True)),
    initial="registered",
    transitions=(
        Transition("accept", "受理", ("registered",), "accepted", HANDLE_VISITS, "Accept"),
        Transition("reject", "不予受理", ("registered",), "rejected", HANDLE_VISITS, "Reject", input=ReasonInput),
        Transition("suspend", "中止", ("accepted",), "suspended", HANDLE_VISITS, "Suspend", input=ReasonInput),
        Transition("resume", "恢复办理", ("suspended",), "accepted", HANDLE_VISITS, "Resume"),
        Transition("close", "办结", ("accepted",), "done", HANDLE_VISITS, "Close", input=CloseInput,
                   after=after_close),
        Transition("reopen", "重新办理", ("done",), "accepted", HANDLE_VISITS, "Reopen", input=ReasonInput),
    ),
    deadlines=(
        DeadlineRule("accept", "受理时限", 5, "working_days", start="registered", stop=("accept", "reject"),
                     source=EXAMPLE_SOURCE),
        DeadlineRule("handle", "办理时限", 15, "calendar_days", start="accept", stop=("close",),
                     source=EXAMPLE_SOURCE, statutory=True, pause_states=("suspended",),
                     max_extensions=1, max_extension=10),
    ),
    read_permission="core.case.read",
    create_permission="core.case.register",
    details_schema=VisitDetails, on_register=on_register, details=details,
    ledger_columns=(LedgerColumn("visit_kind", "走访方式", visit_kinds, "Kind of visit"),),
)
