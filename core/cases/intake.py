"""The one window (统一受理, INT-1 … INT-5).

Any matter — by letter, visit, call, online, hotline or grid report — is registered once,
with its channel, the person(s) and the content, by the person who first received it
(first-inquiry responsibility, INT-2: ``received_by`` and the outcome: resolved on the
spot, referred with where to, or left pending). Then it is either handed straight to a
module's case type, or left ``pending`` for the centre's sorting meeting (INT-4), which
sorts it into a case type later; a matter beyond the centre's remit is reported upward
with a record (INT-5).
"""
from __future__ import annotations

from sqlalchemy import select

from core.authz import named_unit, require
from core.cases import backdating, engine, settings as case_settings
from core.cases.access import covers
from core.cases.models import Case, Intake, IntakePerson
from core.cases.timeline import Work
from core.cases.types import CaseType
from core.db import utcnow
from core.errors import Conflict, Invalid, NotFound
from core.models import Person
from core.privacy import set_person_fields

REGISTER, DIVERT = "core.case.register", "core.case.divert"
PERSON_MANAGE = "core.person.manage"  # a new person is created where the caller may create persons
FIRST_OUTCOMES = ("pending", "resolved", "referred")
# the people of a matter at the window, by their part in it (a case type adds its own, e.g. 信访人)
PERSON_ROLES = {"requester": "反映人", "companion": "同行人", "party": "当事人"}


def case_role(ctype: CaseType, role: str) -> str:
    """An intake person's role on the case it becomes: whoever brought the matter is the type's
    first role (信访人, 申请人 …) when it declares roles; the others keep theirs."""
    if role == "requester" and ctype.person_roles:
        return next(iter(ctype.person_roles))
    return role


def resolve_persons(w: Work, specs: list[dict]) -> list[tuple[Person, str]]:
    """Existing persons by id, or new ones (name, ID number, phone, address, unit); the window's
    and the case page's (``core.cases.people``) one way of naming a person."""
    s, out = w.session, []
    for i, spec in enumerate(specs):
        role = spec.get("role") or "requester"
        if role not in PERSON_ROLES:
            raise Invalid(f"persons.{i}.role", "invalid_role", "人员身份只能是反映人、同行人或当事人")
        if spec.get("person_id"):
            person = s.scalar(select(Person).where(Person.id == spec["person_id"]))
            if person is None or not covers(s, w.grants, "core.person.read", person.org_unit_id):
                raise Invalid(f"persons.{i}.person_id", "unknown_person", "人员不存在或不在您的管辖范围内")
        else:
            if not spec.get("name") or not spec.get("org_unit_id"):
                raise Invalid(f"persons.{i}", "person_incomplete", "新登记的人员需要姓名和所在单位")
            named_unit(s, w.grants, PERSON_MANAGE, spec["org_unit_id"], f"persons.{i}.org_unit_id")
            person = Person(created_by=w.user_id)
            try:
                set_person_fields(person, {k: spec.get(k) for k in ("name", "id_number", "phone", "address",
                                                                     "org_unit_id")})
            except Invalid as exc:
                raise Invalid(f"persons.{i}.id_number", exc.code, exc.message) from None
            s.add(person)
            s.flush()
        out.append((person, role))
    return out


def register(w: Work, data: dict) -> Intake:
    """Register a matter at the window of ``data["org_unit_id"]`` (the receiving centre)."""
    s = w.session
    named_unit(s, w.grants, REGISTER, data["org_unit_id"], "org_unit_id")  # only windows in your scope
    arose = data.get("arose_unit_id") or data["org_unit_id"]
    if arose != data["org_unit_id"]:
        named_unit(s, w.grants, REGISTER, arose, "arose_unit_id")
    first = data.get("first_inquiry") or {}
    outcome = first.get("outcome", "pending")
    if outcome == "referred" and not first.get("referred_to"):
        raise Invalid("first_inquiry.referred_to", "referred_to_required", "请填写引导或移交的去向")
    if outcome == "resolved" and data.get("case_type"):
        raise Invalid("case_type", "resolved_needs_no_case", "当场解决的事项不再转为案件")
    dated = None
    if data.get("received_at") is not None:
        # the case type's back-dating limit when it is chosen now, else the default (30 days)
        ctype = _ctype(w, data["case_type"]) if data.get("case_type") else None
        max_days = case_settings.for_type(s, ctype).max_backdate_days if ctype else backdating.DEFAULT_MAX_DAYS
        dated = backdating.received(w, "received_at", data["received_at"], data.get(backdating.REASON), max_days,
                                    [data["org_unit_id"], arose])
    intake = Intake(channel=data["channel"], org_unit_id=data["org_unit_id"], arose_unit_id=arose,
                    subject=data["subject"], content=data["content"], received_by=w.user_id,
                    received_at=dated.at if dated else utcnow(), outcome=outcome,
                    outcome_note=first.get("note"), referred_to=first.get("referred_to"))
    if outcome != "pending":
        intake.decided_by, intake.decided_at = w.user_id, utcnow()
    s.add(intake)
    s.flush()
    persons = resolve_persons(w, data.get("persons") or [])
    for person, role in persons:
        s.add(IntakePerson(intake_id=intake.id, person_id=person.id, role=role))
    case = None
    if data.get("case_type"):
        case = sort(w, intake, data["case_type"], data.get("details"), data.get("title"), dated)
    if dated is not None:
        backdating.audit(s, "intake", intake.id, dated, case_id=case.id if case else None,
                         number=case.number if case else None)
    return intake


def _ctype(w: Work, key: str) -> CaseType:
    ctype = w.types.get(key)
    if ctype is None:
        raise Invalid("case_type", "unknown_case_type", "没有该事项类型，或该模块未启用")
    return ctype


def sort(w: Work, intake: Intake, case_type: str, details: dict | None = None, title: str | None = None,
         dated: backdating.Dated | None = None) -> Case:
    """Hand a registered matter to a module's case type (at once, or at the sorting meeting).

    The case's limits that start at registration run from when the window received the
    matter (``intake.received_at``), not from the sorting meeting's day.
    """
    s = w.session
    if intake.case_id is not None or intake.outcome in ("resolved", "reported_up"):
        raise Conflict("intake_decided", "该事项已分类处理")
    ctype = _ctype(w, case_type)
    persons = s.execute(select(IntakePerson.person_id, IntakePerson.role)
                        .where(IntakePerson.intake_id == intake.id)).all()
    case = engine.register(w, ctype, {
        "title": title or intake.subject, "content": intake.content, "channel": intake.channel,
        "org_unit_id": intake.arose_unit_id or intake.org_unit_id, "intake_id": intake.id, "details": details,
        "persons": [{"person_id": pid, "role": case_role(ctype, role)} for pid, role in persons]}, at=None,
        received=intake.received_at, received_note=dated)
    intake.case_id, intake.outcome = case.id, "case"
    intake.decided_by, intake.decided_at = w.user_id, utcnow()
    return case


def close(w: Work, intake: Intake, outcome: str, note: str, to: str | None = None) -> Intake:
    """Resolve on the spot, refer elsewhere, or report upward (INT-5) a matter not made a case."""
    if intake.case_id is not None or intake.outcome in ("resolved", "reported_up"):
        raise Conflict("intake_decided", "该事项已分类处理")
    if outcome in ("referred", "reported_up") and not to:
        raise Invalid("to", "destination_required", "请填写移交或上报的单位")
    intake.outcome, intake.outcome_note, intake.referred_to = outcome, note, to
    intake.decided_by, intake.decided_at = w.user_id, utcnow()
    return intake


def load(w: Work, intake_id: int, perm: str = REGISTER) -> Intake:
    require(w.grants, perm)
    intake = w.session.scalar(select(Intake).where(Intake.id == intake_id))
    if intake is None or not (covers(w.session, w.grants, perm, intake.org_unit_id)
                              or covers(w.session, w.grants, perm, intake.arose_unit_id)):
        raise NotFound()
    return intake
