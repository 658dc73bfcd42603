"""A case's people after registration (issue 15, item 2): a visit's other workers come forward,
a dispute gains a third party, a person was attached by mistake. People are added — an existing
person of the caller's scope, or a new one (name, ID number, phone, address) — in any role the
window or the case type knows, and removed again while the case is open.

Each change is on the timeline (``person_added`` / ``person_removed``, with the person and the
role in its data), so a module keeps its own rows in step through ``pingan_case_event`` (the
mediation module adds or drops the party) and may refuse a removal by raising there (a party
who has signed an agreement stays). The ``case_person`` rows are audited by the flush, like
every write.
"""
from __future__ import annotations

from sqlalchemy import select

from core.authz import named_unit
from core.cases import engine, intake, settings as case_settings
from core.cases.access import covers
from core.cases.models import Case, CasePerson
from core.cases.timeline import Work
from core.cases.types import CaseType
from core.db import utcnow
from core.errors import Conflict, Forbidden, Invalid, NotFound
from core.models import Person
from core.privacy import attach_basis

HANDLE = "core.case.handle"


def roles(ctype: CaseType) -> dict[str, str]:
    """The roles a person may have on a case of ``ctype``: the window's and the type's own."""
    return {**ctype.person_roles, **intake.PERSON_ROLES}


def may_edit(w: Work, case: Case, ctype: CaseType) -> bool:
    """Whoever may register such a case at its unit, or handle it, may change its people."""
    return case.closed_at is None and (
        covers(w.session, w.grants, ctype.create_permission, case.org_unit_id)
        or covers(w.session, w.grants, HANDLE, case.handling_unit_id or case.org_unit_id))


def _check(w: Work, case: Case, ctype: CaseType) -> None:
    if case.closed_at is not None:
        raise Conflict("case_closed", "事项已办结，不能再增减人员")
    if not may_edit(w, case, ctype):
        raise Forbidden("not_allowed", "您不能更改该事项的人员")


def add(w: Work, case: Case, ctype: CaseType, spec: dict) -> Person:
    """Attach a person to the case in ``spec["role"]``: ``person_id`` of someone in the caller's
    scope, or a new person (``name`` and optionally ``id_number``, ``phone``, ``address``; living
    in ``org_unit_id``, by default the case's unit)."""
    _check(w, case, ctype)
    role = spec.get("role") or ""
    if role not in roles(ctype):
        raise Invalid("role", "invalid_role", "请从列表中选择人员身份")
    found = dict(spec)
    if found.get("org_unit_id"):  # every unit id in a write is checked, even one a named person makes moot
        named_unit(w.session, w.grants, intake.PERSON_MANAGE, found["org_unit_id"], "org_unit_id")
    elif not found.get("person_id"):
        found["org_unit_id"] = case.org_unit_id
    # the window's rules for who may be named or created (scope, ID number checked), by field
    try:
        [(person, _)] = intake.resolve_persons(w, [{**found, "role": "party"}])
    except Invalid as exc:
        raise Invalid(exc.field.removeprefix("persons.0").removeprefix(".") or "name", exc.code, exc.message) from None
    s = w.session
    if s.scalar(select(CasePerson.id).where(CasePerson.case_id == case.id, CasePerson.person_id == person.id,
                                            CasePerson.role == role)) is not None:
        raise Conflict("already_attached", f"{person.name}已是该事项的{roles(ctype)[role]}")
    s.add(CasePerson(case_id=case.id, person_id=person.id, role=role, attached_by=w.user_id,
                     attached_at=utcnow(), pii_basis=attach_basis(s, w.grants, w.user_id, person, set())))
    s.flush()
    engine.record_event(w, case, ctype, case_settings.for_type(s, ctype), "person_added",
                        note=f"{person.name}（{roles(ctype)[role]}）",
                        data={"person_id": person.id, "role": role})
    return person


def remove(w: Work, case: Case, ctype: CaseType, person_id: int) -> None:
    """Detach a person from the case (every role they have on it)."""
    _check(w, case, ctype)
    s = w.session
    rows = s.scalars(select(CasePerson).where(CasePerson.case_id == case.id, CasePerson.person_id == person_id)).all()
    if not rows:
        raise NotFound("person_not_found", "该人员不是本事项的人员")
    name = s.scalar(select(Person.name).where(Person.id == person_id)) or ""
    titles = "、".join(roles(ctype).get(r.role, r.role) for r in rows)
    for row in rows:
        s.delete(row)
    s.flush()
    engine.record_event(w, case, ctype, case_settings.for_type(s, ctype), "person_removed",
                        note=f"{name}（{titles}）", data={"person_id": person_id, "roles": [r.role for r in rows]})
