"""A round's findings turned into work in one act (PAT-2; issue 17: "each of which can be turned
into a case of the right module in one act"): a dispute found becomes a dispute of the mediation
module, a hazard a hazard of the safety module — each while the county has that module on — and
anything else (or a dispute or hazard while its module is off) a matter at the one window for the
sorting meeting (INT-4). Linked both ways: the round lists what it found with the case or matter,
and the case's timeline (or the matter's content) names the round.

The act is the patroller's: the case is registered by them, with their own registration scope on
the round's unit — a patroller who may not register there is refused like at the one window.
"""
from __future__ import annotations

from marshmallow import Schema, fields, validate
from sqlalchemy import select

from core.sdk import (Case, Invalid, add_case_event, local_time, module_settings, register_case,
                      register_intake, request_work)

from .models import PatrolFinding, PatrolRound, PatrolRoute

MEDIATION, SAFETY = "mediation.dispute", "safety.hazard"
KINDS = {"dispute": "矛盾纠纷", "hazard": "安全隐患", "other": "其他情况"}


def kind_choices(work) -> list[tuple[str, str]]:
    """What a finding may be, and where it goes, as the county has its modules."""
    goes = {"dispute": "转矛盾纠纷调解" if MEDIATION in work.types else "转统一受理",
            "hazard": "转安全隐患排查治理" if SAFETY in work.types else "转统一受理",
            "other": "转统一受理"}
    return [(k, f"{title}（{goes[k]}）") for k, title in KINDS.items()]


def dispute_type_choices(work) -> list[tuple[str, str]]:
    if MEDIATION not in work.types:
        return []
    return [(t["key"], t["title"]) for t in (module_settings(work.session, "mediation") or {}).get("dispute_types", [])]


def grade_choices(work) -> list[tuple[str, str]]:
    if SAFETY not in work.types:
        return []
    return [(g["key"], g["title"]) for g in (module_settings(work.session, "safety") or {}).get("hazard_grades", [])]


class FindingIn(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(list(KINDS), labels=list(KINDS.values())),
                         metadata={"title": "发现的情况", "choices_from": kind_choices})
    title = fields.String(required=True, validate=validate.Length(min=1, max=200), metadata={"title": "标题"})
    content = fields.String(required=True, validate=validate.Length(min=1, max=2000), metadata={"title": "情况描述"})
    dispute_type = fields.String(load_default=None, validate=validate.Length(max=32),
                                 metadata={"title": "纠纷类型（转调解时）", "choices_from": dispute_type_choices})
    grade = fields.String(load_default=None, validate=validate.Length(max=32),
                          metadata={"title": "隐患等级（转安全隐患时）", "choices_from": grade_choices})


def turn(ctx, rnd: PatrolRound, data: dict) -> PatrolFinding:
    """Register what the round found as a dispute, a hazard or a matter at the window; link both ways."""
    w = request_work()
    s = ctx.session
    route = s.scalar(select(PatrolRoute.name).where(PatrolRoute.id == rnd.route_id))
    named = f"巡逻记录（{route}，{local_time(rnd.started_at, '%Y-%m-%d %H:%M')}）"
    finding = PatrolFinding(round_id=rnd.id, kind=data["kind"], title=data["title"], created_by=ctx.user.id)
    body = {"title": data["title"], "content": data["content"], "org_unit_id": rnd.org_unit_id, "channel": "other"}
    if data["kind"] == "dispute" and MEDIATION in w.types:
        if not data.get("dispute_type") or data["dispute_type"] not in dict(dispute_type_choices(w)):
            raise Invalid("dispute_type", "dispute_type_required", "转为矛盾纠纷时请选择纠纷类型")
        case = register_case(w, w.types[MEDIATION], {**body, "details": {"dispute_type": data["dispute_type"]}})
    elif data["kind"] == "hazard" and SAFETY in w.types:
        if not data.get("grade") or data["grade"] not in dict(grade_choices(w)):
            raise Invalid("grade", "grade_required", "转为安全隐患时请选择隐患等级")
        case = register_case(w, w.types[SAFETY], {**body, "details": {"grade": data["grade"], "place_id": None}})
    else:
        case = None
        intake = register_intake(w, {"channel": "other", "org_unit_id": rnd.org_unit_id, "subject": data["title"],
                                     "content": f"{data['content']}\n（由{named}发现，{KINDS[data['kind']]}）"})
        finding.intake_id = intake.id
    if case is not None:
        finding.case_id = case.id
        add_case_event(w, case, "commented", note=f"由{named}发现并登记", data={"patrol_round_id": rnd.id})
    s.add(finding)
    s.flush()
    return finding


def of_round(session, rnd: PatrolRound) -> list[dict]:
    """The round's findings, oldest first, each with the number of the case it became (or the matter)."""
    rows = session.scalars(select(PatrolFinding).where(PatrolFinding.round_id == rnd.id).order_by(PatrolFinding.id)).all()
    ids = [r.case_id for r in rows if r.case_id]
    numbers = dict(session.execute(select(Case.id, Case.number).where(Case.id.in_(ids))).all()) if ids else {}
    return [{"id": r.id, "kind": r.kind, "kind_title": KINDS.get(r.kind, r.kind), "title": r.title,
             "case_id": r.case_id, "case_number": numbers.get(r.case_id), "intake_id": r.intake_id,
             "created_at": r.created_at} for r in rows]

