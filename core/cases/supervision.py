"""督办 and 催办: supervising and urging a case, the reply, and escalation when ignored.

A supervision is issued from the issuer's own unit to a unit handling the case (the lead
handling unit by default), with a reply limit (the county's ``supervision_reply`` setting
unless given). When the limit passes without a reply, the sweep escalates it one level up
the tree — from the issuing unit to its parent, then the next — notifying that level each
time, until the county's root unit; every step is on the timeline.
"""
from __future__ import annotations

from sqlalchemy import select

from core.cases import settings as case_settings
from core.cases.access import covers, require_on, task_units
from core.cases.deadlines import utc
from core.cases.engine import active_unit, record_event
from core.cases.models import Case, Supervision
from core.cases.timeline import Work
from core.cases.types import CaseType
from core.db import utcnow
from core.errors import Conflict, Invalid, NotFound
from core.models import OrgUnit
from core.notifications import notify, users_of_unit
from core.workdays import deadline

SUPERVISE, HANDLE = "core.case.supervise", "core.case.handle"
KINDS = ("supervise", "urge")
LEVELS = ("normal", "listed")


def issue(w: Work, case: Case, ctype: CaseType, data: dict) -> Supervision:
    """督办 (``kind="supervise"``, ``level`` normal | listed 挂牌) or 催办 (``kind="urge"``)."""
    s = w.session
    if ctype.state(case.state).closed:
        raise Conflict("case_closed", "事项已办结，无需督办")
    units = [case.org_unit_id, *task_units(s, case)]
    if w.user is not None:  # the platform's own supervision (``issue_as_system``) needs no grant
        require_on(s, w.grants, SUPERVISE, case, units, "只有上级或事项所在单位可以督办")
    target = data.get("target_unit_id") or case.handling_unit_id or case.org_unit_id
    if target not in units:
        raise Invalid("target_unit_id", "not_a_handling_unit", "督办对象必须是事项的所在单位或承办单位")
    issuer_unit = w.user.org_unit_id if w.user else (data.get("issuer_unit_id") or case.org_unit_id)
    now = utcnow()
    due = data.get("due_at")
    if due is None and data.get("response_required", True):
        limit = data.get("limit") or case_settings.for_type(s, ctype).supervision_reply
        due = utc(deadline(now, limit["amount"], limit["unit"], case_settings.calendar(s)).due_at)
    if due is not None and due <= now:
        raise Invalid("due_at", "due_in_past", "答复期限必须晚于现在")
    sup = Supervision(case_id=case.id, kind=data["kind"], level=data.get("level") or "normal", issuer_id=w.user_id,
                      issuer_unit_id=issuer_unit, target_unit_id=target, instruction=data["instruction"],
                      response_required=data.get("response_required", True), due_at=due, created_at=now)
    s.add(sup)
    s.flush()
    kind = "supervised" if sup.kind == "supervise" else "urged"
    record_event(w, case, ctype, case_settings.for_type(s, ctype), kind, at=now, note=sup.instruction, unit_id=target,
            data={"supervision_id": sup.id, "level": sup.level, "due_at": due.isoformat() if due else None})
    label = {"supervise": "督办", "urge": "催办"}[sup.kind] + ("（挂牌）" if sup.level == "listed" else "")
    notify(s, users_of_unit(s, target), f"supervision:{sup.id}", f"{label}：{case.number} {case.title}",
           sup.instruction, kind="todo", case_id=case.id)
    return sup


def issue_as_system(session, case: Case, data: dict) -> Supervision:
    """A supervision the platform issues itself, with no user: a module's rule (the safety
    module's 挂牌督办 of an overdue hazard) in a request, a job or ``pingan_case_event``.
    ``data`` as :func:`issue`'s, plus ``issuer_unit_id``: the unit it is issued from (escalation
    climbs from there; default the case's unit)."""
    from core.db import current_tenant_id
    from core.runtime import running
    host = running().plugins
    w = Work(session, host, host.enabled(session, current_tenant_id()))
    return issue(w, case, w.types[case.case_type], data)


def load(w: Work, case: Case, supervision_id: int) -> Supervision:
    sup = w.session.scalar(select(Supervision).where(Supervision.id == supervision_id, Supervision.case_id == case.id))
    if sup is None:
        raise NotFound()
    return sup


def reply(w: Work, case: Case, ctype: CaseType, sup: Supervision, text: str) -> Supervision:
    s = w.session
    unit = require_on(s, w.grants, HANDLE, case, [sup.target_unit_id], "只有被督办单位可以答复")
    if sup.state != "open":
        raise Conflict("supervision_closed", "该督办已答复或已结束")
    now = utcnow()
    sup.state, sup.response, sup.responded_by, sup.responded_at = "answered", text, w.user_id, now
    record_event(w, case, ctype, case_settings.for_type(s, ctype), "replied", at=now, note=text, unit_id=unit,
            data={"supervision_id": sup.id})
    if sup.issuer_id:
        notify(s, [sup.issuer_id], f"supervision-reply:{sup.id}", f"督办已答复：{case.number}", text, case_id=case.id)
    return sup


def escalate(w: Work, case: Case, ctype: CaseType, sup: Supervision) -> bool:
    """One level up, because the reply limit passed unanswered (the sweep calls this)."""
    s = w.session
    if sup.state != "open" or sup.due_at is None or sup.due_at > utcnow():
        return False
    current = sup.escalated_to_unit_id or sup.issuer_unit_id
    parent = s.scalar(select(OrgUnit.parent_id).where(OrgUnit.id == current))
    now = utcnow()
    conf = case_settings.for_type(s, ctype)
    if parent is None:
        sup.due_at = None  # the top of the tree: nothing above to escalate to
        record_event(w, case, ctype, conf, "escalated", at=now, unit_id=current,
                data={"supervision_id": sup.id, "level": sup.escalation_level, "top": True},
                note="督办逾期未答复，已至最高层级")
        return True
    active_unit(s, parent, "escalated_to_unit_id")
    sup.escalation_level += 1
    sup.escalated_to_unit_id = parent
    limit = conf.supervision_reply
    sup.due_at = utc(deadline(now, limit["amount"], limit["unit"], case_settings.calendar(s)).due_at)
    record_event(w, case, ctype, conf, "escalated", at=now, unit_id=parent,
            data={"supervision_id": sup.id, "level": sup.escalation_level, "to_unit_id": parent},
            note="督办逾期未答复，升级至上一级")
    title = f"督办逾期未答复，已升级：{case.number} {case.title}"
    notify(s, users_of_unit(s, parent), f"escalated:{sup.id}:{sup.escalation_level}", title, sup.instruction,
           kind="todo", case_id=case.id)
    notify(s, users_of_unit(s, sup.target_unit_id), f"escalated-target:{sup.id}:{sup.escalation_level}", title,
           sup.instruction, case_id=case.id)
    return True


def may_reply(w: Work, sup: Supervision) -> bool:
    return sup.state == "open" and covers(w.session, w.grants, HANDLE, sup.target_unit_id)
