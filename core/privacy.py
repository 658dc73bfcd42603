"""Sensitive personal data in responses: masked by default, revealed only with permission.

One way for the core and every plugin: ``sensitive_fields(...)`` returns the fields of an
object either masked or — when the caller asks to reveal and holds the sensitive
permission on the object's unit — in plain text, with an audit entry for that read
(PIPL art. 51; 等保 2.0 level 3 audit of personal-data access).
"""
from __future__ import annotations

import re

from sqlalchemy import false, select
from sqlalchemy.orm import Session

from core import audit
from core.authz import Grants, may, unit_scope
from core.crypto import MASKERS, mask_phone, sensitive_columns
from core.errors import Forbidden, Invalid

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_ID_RE = re.compile(r"^\d{17}[\dX]$")


def id_number_checksum(first17: str) -> str:
    """Check character of an 18-digit resident ID number (GB 11643-1999, ISO 7064 MOD 11-2)."""
    return _ID_CHECK[sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS)) % 11]


def normalise_id_number(value: str, field: str = "id_number") -> str:
    """Upper-case, strip spaces, and check format and check digit; 422 on failure."""
    v = "".join(value.split()).upper()
    if not _ID_RE.match(v) or id_number_checksum(v[:17]) != v[17]:
        raise Invalid(field, "invalid_id_number", "身份证号码格式或校验位不正确")
    return v


def mask(field: str, value: str | None) -> str | None:
    return MASKERS.get(field, mask_phone)(value)


def sensitive_fields(session: Session, grants: Grants, obj, unit_id: int, *, reveal: bool,
                     permission: str) -> dict[str, str | None]:
    """The object's encrypted fields, masked — or plain and audited when revealed."""
    names = list(sensitive_columns(type(obj)))
    if not reveal:
        return {n: mask(n, getattr(obj, n)) for n in names}
    if not may(session, grants, permission, unit_id):
        raise Forbidden("pii_forbidden", "您没有查看完整个人信息的权限")
    audit.record_read(session, obj.__tablename__, obj.id, names)
    session.commit()
    return {n: getattr(obj, n) for n in names}


def set_person_fields(person, data: dict) -> None:
    """Write a person's fields: the ID number normalised (checksum checked), ID number and
    phone with their blind indexes for exact look-up."""
    from core.crypto import ring
    if data.get("id_number"):
        data["id_number"] = normalise_id_number(data["id_number"])
    for key, value in data.items():
        setattr(person, key, value)
    if "id_number" in data:
        person.id_number_bidx = ring().blind_index(data["id_number"]) if data["id_number"] else None
    if "phone" in data:
        person.phone_bidx = ring().blind_index(data["phone"]) if data["phone"] else None


PERSON_PII = "core.person.pii.read"
PII_SEARCH_LIMIT = 20  # exact searches by ID number or phone, per user and minute


def pii_search(session: Session, grants: Grants, user_id: int | None, field: str, value: str, *,
               location: str = "query", arg: str | None = None, unit_path: str | None = None):
    """SQL predicate on ``Person``: whose ``field`` (``id_number`` or ``phone``) is ``value``.

    An exact search by a full ID number or phone confirms a guess, so it is what revealing
    is: only the holder of ``core.person.pii.read`` may make it, and it finds only persons
    of the units where they hold it (``unit_path``, the subtree the caller limits the search
    to, must be covered: 403 ``pii_forbidden`` at the request's field ``arg`` otherwise).
    Each search counts towards a per-user limit (``PII_SEARCH_LIMIT`` a minute, 429
    ``too_many_requests``) and is audited (``person.pii_search``: the field, and the value's blind index — never the
    value). Used by every look-up that takes such a value (``/api/persons``, the case
    list's ``person`` filter and all that share it).
    """
    from flask import has_request_context
    from core.crypto import ring
    from core.db import current_tenant_id
    from core.models import OrgUnit, Person
    from core.ratelimit import hit
    arg = arg or field
    if not grants.has(PERSON_PII) or (unit_path is not None and not grants.covers(PERSON_PII, unit_path)):
        _pii_forbidden(arg, location)
    if has_request_context():  # a job (a ledger export) repeats a search its request counted
        hit(f"pii_search:{current_tenant_id()}:{user_id}", PII_SEARCH_LIMIT, 60)
    valid = True
    if field == "id_number":
        try:
            value = normalise_id_number(value, arg)
        except Invalid:
            valid = False  # a malformed number or a wrong check digit matches nobody
    else:
        value = value.strip()
    bidx = ring().blind_index(value) if valid else None
    audit.record(session, "person.pii_search", "person", None, {"field": field, "bidx": bidx})
    if has_request_context():
        session.commit()  # the entry is kept though the request writes nothing (a job commits its own)
    if not valid:
        return false()
    column = Person.id_number_bidx if field == "id_number" else Person.phone_bidx
    return (column == bidx) & Person.org_unit_id.in_(select(OrgUnit.id).where(unit_scope(grants, PERSON_PII)))


def _pii_forbidden(field: str, location: str):
    raise Forbidden("pii_forbidden", "按完整身份证号或电话查找需要查看完整个人信息的权限",
                    {location: {field: ["按完整身份证号或电话查找需要查看完整个人信息的权限"]}})



# --- people of a case: revealed by the case type's PII permission only when genuinely parties ---

def attach_basis(session: Session, grants: Grants, user_id: int | None, person, entered_by=()) -> str | None:
    """Why a case type's PII permission may reveal ``person`` once ``user_id`` attaches them to a
    case (``case_person.pii_basis``): ``entered`` — the person was registered by that user (or
    by the window whose matter this is, ``entered_by``); ``pii`` — that user may read the
    person's personal data (``core.person.pii.read`` on their unit); ``system`` — an import or
    job. ``None``: attached by someone who could not read them, so the case does not reveal
    them — attaching a resident to a case is not a way to read their ID number."""
    if user_id is None:
        return "system"
    if person.created_by is not None and person.created_by in {user_id, *entered_by}:
        return "entered"
    if may(session, grants, PERSON_PII, person.org_unit_id):
        return "pii"
    return None


def party_fields(session: Session, grants: Grants, person, case, basis: str | None, *, reveal: bool,
                 permission: str) -> tuple[dict[str, str | None], bool]:
    """A case's person's sensitive fields and whether they are shown in full.

    Revealed with ``permission`` (the case type's PII permission) on the case's unit, for a
    person attached on a ``basis``; a person attached without one only to holders of
    ``core.person.pii.read`` on the person's unit. Each reveal is audited with the case
    (``read_sensitive`` naming ``case_id``); the caller commits once for all its people.
    """
    names = list(sensitive_columns(type(person)))
    masked = {n: mask(n, getattr(person, n)) for n in names}
    if not reveal:
        return masked, False
    if not may(session, grants, permission, case.org_unit_id):
        raise Forbidden("pii_forbidden", "您没有查看完整个人信息的权限")
    if basis is None and not may(session, grants, PERSON_PII, person.org_unit_id):
        return masked, False
    audit.record(session, "read_sensitive", person.__tablename__, person.id,
                 {"fields": sorted(names), "case_id": case.id, "case_number": case.number})
    return {n: getattr(person, n) for n in names}, True
