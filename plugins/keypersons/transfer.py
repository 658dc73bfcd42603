"""A key person moving to another county (跨县移交): a request that county accepts, never a copy.

The core carries the request (``sdk.offer_transfer``, ``docs/transfers.md``); this module says
what it may show before acceptance (the category and risk level as the receiving county names
them — no name, no number), which unit may take the person there, what crosses on acceptance
(the person, the category's fields, the helpers, and the history: visits and hand-overs, as a
read-only record of the county that kept them) and what becomes of the record here once the
other county has it (ended on the day of delivery; the transfer stays on its page).

The history keeps the sending county's unit names as text: they are facts of that county, not
units of this one. A person with an open record of the same category in the receiving county
keeps that record; the history is added to it.
"""
from __future__ import annotations

import datetime as dt
import json

from flask import url_for
from sqlalchemy import select

from core.sdk import (Conflict, Invalid, NotFound, OrgUnit, Person, TransferFacts, TransferKind, blind_index, local_time,
                      record, set_person_fields, within)

from .categories import CATEGORIES, RISK_LEVELS, title_of
from .models import Handover, KeyPerson, Visit
from .permissions import TRANSFER, manage_perm, read_perm
from .records import RESULTS, TRANSFER_KIND as KIND, WAYS, settings_of
from .settings import visit_days

def audience(meta) -> str:
    """Only who may read the category sees an offer of it (the category is sensitive)."""
    return read_perm(meta.get("category") or "unknown")


def describe(session, meta) -> str:
    category = meta.get("category")
    if category not in CATEGORIES:
        return "重点人员"
    risk = RISK_LEVELS.get(meta.get("risk_level"), "")
    return f"{title_of(category, settings_of(session))}，风险等级：{risk}" if risk else title_of(category, settings_of(session))


def refusal(session, meta) -> str | None:
    category = meta.get("category")
    if category not in (settings_of(session).get("categories") or ()):
        title = CATEGORIES[category].title if category in CATEGORIES else "该"
        return f"对方县未启用“{title}”类别，无法接收"
    return None


def check_receive(session, grants, meta, unit_id: int) -> None:
    category = meta.get("category")
    if category not in (settings_of(session).get("categories") or ()):
        raise Invalid("org_unit_id", "category_off", "本县未启用该类别，无法接收")
    unit = session.scalar(select(OrgUnit).where(OrgUnit.id == unit_id))
    if unit is None or not grants.covers(manage_perm(category), unit.path):
        message = "您不能在该单位列管这一类人员，请选择您负责的单位"
        raise NotFound("unit_not_found", message, {"json": {"org_unit_id": [message]}})


def export(session, record_id: int) -> dict:
    """The record as it crosses: the person, the category's fields, the history."""
    rec = session.scalar(select(KeyPerson).where(KeyPerson.id == record_id))
    if rec is None or rec.person_id is None:
        raise RuntimeError(f"key-person record {record_id} offered for transfer is gone")
    person = session.get(Person, (rec.tenant_id, rec.person_id))
    unit_names = dict(session.execute(select(OrgUnit.id, OrgUnit.name)).all())
    visits = [{"visited_on": v.visited_on.isoformat(), "unit": unit_names.get(v.org_unit_id, ""),
               "way": WAYS.get(v.way, ""), "visitor": v.visitor or "", "content": v.content or "",
               "result": RESULTS.get(v.result, "")}
              for v in session.scalars(select(Visit).where(Visit.record_id == rec.id).order_by(Visit.visited_on, Visit.id))]
    handovers = [{"on": h.handed_over_on.isoformat(), "from": unit_names.get(h.from_unit_id, ""),
                  "to": unit_names.get(h.to_unit_id, ""), "reason": h.reason or ""}
                 for h in session.scalars(select(Handover).where(Handover.record_id == rec.id)
                                          .order_by(Handover.handed_over_on, Handover.id))]
    return {"person": {"name": person.name, "id_number": person.id_number, "phone": person.phone,
                       "address": person.address},
            "category": rec.category, "risk_level": rec.risk_level, "details": json.loads(rec.details or "{}"),
            "helpers": rec.helpers or "",
            "history": json.loads(rec.transferred_history or "[]") + [{
                "registered_on": local_time(rec.created_at, "%Y-%m-%d"), "unit": unit_names.get(rec.org_unit_id, ""),
                "last_visit_on": rec.last_visit_on.isoformat() if rec.last_visit_on else None,
                "visits": visits, "handovers": handovers}]}


def receive(session, payload: dict, facts: TransferFacts) -> int:
    """The record in this county at the accepting unit, its clock started on the day it arrived."""
    unit = session.scalar(select(OrgUnit).where(OrgUnit.id == facts.org_unit_id))
    category = payload["category"]
    # what the acceptance checked may have changed since: refuse rather than make a record nobody sees
    if category not in (settings_of(session).get("categories") or ()):
        raise Conflict("category_off", f"本县已停用“{CATEGORIES[category].title}”类别")
    if unit is None or unit.status != "active":
        raise Conflict("unit_retired", "接收单位已撤销")
    history = payload.get("history") or []
    for segment in history[-1:]:
        segment.update(county=facts.from_county, transferred_on=facts.on.isoformat())
    person = _person(session, unit, payload["person"], facts.accepted_by)
    rec = session.scalar(select(KeyPerson).where(KeyPerson.person_id == person.id,
                                                 KeyPerson.category_bidx == CATEGORIES[category].bidx,
                                                 KeyPerson.ended_on.is_(None), KeyPerson.anonymised_at.is_(None)))
    if rec is None:
        risk = payload["risk_level"] if payload["risk_level"] in RISK_LEVELS else "medium"
        rec = KeyPerson(person_id=person.id, org_unit_id=unit.id, category=category,
                        category_bidx=CATEGORIES[category].bidx, risk_level=risk,
                        details=json.dumps(payload.get("details") or {}, ensure_ascii=False),
                        helpers=payload.get("helpers") or None,
                        next_visit_due=facts.on + dt.timedelta(days=visit_days(settings_of(session), category, risk)),
                        created_by=facts.accepted_by)
        session.add(rec)
    rec.transferred_history = json.dumps(json.loads(rec.transferred_history or "[]") + history, ensure_ascii=False)
    session.flush()
    record(session, "keypersons.transferred_in", "keypersons_record", rec.id, {"org_unit_id": unit.id})
    return rec.id


def _person(session, unit: OrgUnit, data: dict, user_id: int | None) -> Person:
    """The person of the register under the receiving unit with this ID number, else a new one."""
    number = data.get("id_number")
    if number:
        found = session.scalar(select(Person).join(OrgUnit, OrgUnit.id == Person.org_unit_id)
                               .where(Person.id_number_bidx == blind_index(number), within(unit.path))
                               .order_by(Person.id).limit(1))
        if found is not None:
            return found
    person = Person(name=data["name"], org_unit_id=unit.id, created_by=user_id)
    set_person_fields(person, {k: data.get(k) or None for k in ("id_number", "phone", "address")})
    session.add(person)
    session.flush()
    return person


def handed_off(session, record_id: int, facts: TransferFacts) -> None:
    """Here the record ends on the day the other county took the person; it stays readable."""
    rec = session.scalar(select(KeyPerson).where(KeyPerson.id == record_id))
    if rec is None or rec.ended_on is not None:
        return
    rec.ended_on, rec.next_visit_due, rec.overdue_since = facts.on, None, None
    record(session, "keypersons.transferred_out", "keypersons_record", rec.id, {"on": facts.on.isoformat()})


RECORD_TRANSFER = TransferKind(
    key=KIND, title="重点人员", title_en="Key person", permission=TRANSFER, audience=audience, describe=describe,
    refusal=refusal,
    check_receive=check_receive, export=export, receive=receive, handed_off=handed_off,
    page=lambda record_id: url_for("keypersons_web.record_page", record_id=record_id))
