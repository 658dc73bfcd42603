"""Information officers' clues (PAT-4: "263 received, 231 handled", seed 001 doc 4) as cases of
type ``patrol.clue`` on the core's case engine.

A clue reported anonymously is registered by the system, not by its reporter: the case, its
timeline and everything a handler reads name nobody. Who reported it is kept in
``patrol_clue.reporter_id`` and shown only to holders of ``patrol.clue.reporter.read``, each read
audited. Triage is the case's workflow (verify, reject with a reason, handle); ``turn`` makes it
a mediation dispute when the county has the mediation module on, else a matter left at the one
window for the sorting meeting (INT-4), linked both ways.
"""
from __future__ import annotations

from flask import render_template
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from core.sdk import (CaseType, Invalid, OrgUnit, State, Transition, add_case_event, fresh_case_rows, get_or_404,
                      module_settings, may, record_read, register_case, register_intake, request_work, unattributed_work,
                      user_cards)

from .models import PatrolClue
from .permissions import CLUE_HANDLE, CLUE_READ, CLUE_REPORT, CLUE_REPORTER

KEY = "patrol.clue"
MEDIATION = "mediation.dispute"
TARGETS = {"mediation": "矛盾纠纷（转调解）", "intake": "统一受理（待分流）"}


class ClueDetails(Schema):
    place = fields.String(required=True, validate=validate.Length(min=1, max=200), metadata={"title": "地点"})
    occurred_at = fields.AwareDateTime(load_default=None, metadata={"title": "发生时间"})


class ReasonInput(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500), metadata={"title": "不予采信的理由"})


class HandledInput(Schema):
    outcome = fields.String(required=True, validate=validate.Length(min=1, max=500), metadata={"title": "处理结果"})


def target_choices(work) -> list[tuple[str, str]]:
    """Where a clue may go: a dispute only while the county has mediation on; the one window always."""
    return [(k, v) for k, v in TARGETS.items() if k != "mediation" or MEDIATION in work.types]


def dispute_type_choices(work) -> list[tuple[str, str]]:
    if MEDIATION not in work.types:
        return []
    return [(t["key"], t["title"]) for t in (module_settings(work.session, "mediation") or {}).get("dispute_types", [])]


class TurnInput(Schema):
    # the choices are the county's (mediation only while it is on): a select of target_choices,
    # checked again in after_turn
    target = fields.String(required=True, validate=validate.Length(min=1, max=16),
                           metadata={"title": "转为", "choices_from": target_choices,
                                     "description": "mediation 矛盾纠纷（调解模块启用时）| intake 统一受理（待分流）"})
    dispute_type = fields.String(load_default=None, validate=validate.Length(max=32),
                                 metadata={"title": "纠纷类型（转调解时）", "choices_from": dispute_type_choices})


def clue_of(session, case) -> PatrolClue | None:
    fresh = fresh_case_rows(session, case, PatrolClue)
    if fresh:
        return fresh[0]
    return session.scalar(select(PatrolClue).where(PatrolClue.case_id == case.id))


def on_register(session, case, details: dict) -> None:
    session.add(PatrolClue(case_id=case.id, place=details["place"], occurred_at=details.get("occurred_at"),
                           reporter_id=case.created_by))


def details(session, case) -> dict:
    """What every reader of the case sees: never an anonymous clue's reporter."""
    c = clue_of(session, case)
    if c is None:
        return {}
    return {"place": c.place, "occurred_at": c.occurred_at, "anonymous": c.anonymous, "reject_reason": c.reject_reason,
            "outcome": c.outcome, "turned_case_id": c.turned_case_id, "turned_intake_id": c.turned_intake_id}


def after_reject(session, case, data: dict) -> None:
    clue_of(session, case).reject_reason = data["reason"]


def after_handle(session, case, data: dict) -> None:
    clue_of(session, case).outcome = data["outcome"]


def after_turn(session, case, data: dict) -> None:
    """Make the clue a dispute (mediation on) or a matter at the one window; link both ways."""
    w = request_work()
    clue = clue_of(session, case)
    if data["target"] not in TARGETS:
        raise Invalid("target", "unknown_target", "请选择转为矛盾纠纷或统一受理")
    if data["target"] == "mediation":
        ctype = w.types.get(MEDIATION)
        if ctype is None:
            raise Invalid("target", "mediation_disabled", "本县未启用矛盾纠纷调解模块，请选择“统一受理（待分流）”")
        if not data.get("dispute_type"):
            raise Invalid("dispute_type", "dispute_type_required", "转为矛盾纠纷时请选择纠纷类型")
        new = register_case(w, ctype, {"title": case.title, "content": case.content, "org_unit_id": case.org_unit_id,
                                       "channel": "other", "details": {"dispute_type": data["dispute_type"]}})
        clue.turned_case_id = new.id
        add_case_event(w, new, "commented", note=f"由治安线索 {case.number} 转来", data={"clue_case_id": case.id})
        add_case_event(w, case, "commented", note=f"已转为矛盾纠纷 {new.number}", data={"case_id": new.id})
    else:
        intake = register_intake(w, {"channel": "other", "org_unit_id": case.org_unit_id, "subject": case.title,
                                     "content": case.content or case.title})
        clue.turned_intake_id = intake.id
        add_case_event(w, case, "commented", note="已转至统一受理窗口，待分流", data={"intake_id": intake.id})


def report(ctx, data: dict):
    """Register a clue in a unit where the caller may report; anonymously, the system registers it."""
    get_or_404(ctx.session, ctx.grants, OrgUnit, data["org_unit_id"], CLUE_REPORT)
    body = {"title": data["title"], "content": data["content"], "org_unit_id": data["org_unit_id"], "channel": "other",
            "details": {"place": data["place"], "occurred_at": data.get("occurred_at")}}
    if data["anonymous"]:
        with unattributed_work(request_work()) as w:  # nobody on the case or its timeline
            case = register_case(w, CLUE, body)
            ctx.session.flush()
    else:
        case = register_case(request_work(), CLUE, body)
    clue = clue_of(ctx.session, case)
    clue.anonymous, clue.reporter_id = data["anonymous"], ctx.user.id
    return case


def reporter(ctx, case) -> dict:
    """Who reported the clue: open for a named one; for an anonymous one only with
    ``patrol.clue.reporter.read`` on the case's unit, and the read is audited."""
    clue = clue_of(ctx.session, case)
    if clue.anonymous:
        if not may(ctx.session, ctx.grants, CLUE_REPORTER, case.org_unit_id):
            return {"anonymous": True, "reporter": None}
        record_read(ctx.session, "patrol_clue", clue.id, ["reporter_id"])
    card = user_cards(ctx.session, [clue.reporter_id]).get(clue.reporter_id) if clue.reporter_id else None
    return {"anonymous": clue.anonymous, "reporter": card.display_name if card else None}


def panel(w, case, errors: dict, values: dict) -> str:
    """The clue's part of the case page: place, time, the reporter as the reader may see them."""
    c = clue_of(w.session, case)
    return render_template("patrol/clue_panel.html", clue=c, case=case,
                           may_reveal=bool(c and c.anonymous and may(w.session, w.grants, CLUE_REPORTER, case.org_unit_id)))


CLUE = CaseType(
    key=KEY, title="治安线索", title_en="Clue", number_format="线〔{year}〕{seq:05d}",
    states=(State("reported", "待核查", "Reported"), State("verified", "已核实", "Verified"),
            State("handled", "已处理", "Handled", closed=True), State("rejected", "不予采信", "Rejected", closed=True),
            State("turned", "已转办", "Turned into a case", closed=True)),
    initial="reported",
    transitions=(
        Transition("verify", "核实", ("reported",), "verified", CLUE_HANDLE, "Verify"),
        Transition("reject", "不予采信", ("reported", "verified"), "rejected", CLUE_HANDLE, "Reject", input=ReasonInput,
                   after=after_reject),
        Transition("handle", "处理完毕", ("verified",), "handled", CLUE_HANDLE, "Handled", input=HandledInput,
                   after=after_handle),
        Transition("turn", "转为其他事项", ("reported", "verified"), "turned", CLUE_HANDLE, "Turn into a case",
                   input=TurnInput, after=after_turn),
    ),
    read_permission=CLUE_READ, create_permission=CLUE_REPORT,
    details_schema=ClueDetails, on_register=on_register, details=details, web_panel=panel,
)
