"""Key-person records: register, read for a stated purpose, list masked, visit, end.

Access is purpose-bound (PIPL Art. 28): a record is read only with its category's read
permission on the responsible unit *and* a purpose from the county's list; every read is
audited with that purpose (``record_read``). Whoever lacks the permission gets 404, exactly as
for a record that does not exist — the existence of a record says as much as its category.
"""
from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import false, or_, select

from core.sdk import (Conflict, Invalid, NotFound, OrgUnit, Person, blind_index, local_time, may, module_settings,
                      normalise_id_number, notify, open_transfer, record, record_read, scoped, set_person_fields,
                      subject_transfers, users_of_unit, users_who_may, utcnow)

from .categories import CATEGORIES, RISK_LEVELS, enabled, title_of
from . import links
from .models import Handover, KeyPerson, Visit
from .permissions import manage_perm, read_perm
from .settings import purposes, visit_days

PLUGIN = "keypersons"
TRANSFER_KIND = "keypersons.record"   # what this module transfers to another county (transfer.py)
WAYS = {"home": "上门走访", "phone": "电话联系", "interview": "约谈"}
RESULTS = {"stable": "情况稳定", "attention": "需关注", "abnormal": "有异常"}


def today() -> dt.date:
    """Today in Beijing."""
    return dt.date.fromisoformat(local_time(utcnow(), "%Y-%m-%d"))


def settings_of(session) -> dict:
    return module_settings(session, PLUGIN)


def mask_name(name: str | None) -> str:
    """``张三丰`` → ``张**``: a list shows who, not whom."""
    if not name:
        return ""
    return name[0] + "*" * max(1, len(name) - 1)


def categories_with(grants, settings: dict, perm_of) -> list[str]:
    """The county's categories of which the user holds ``perm_of(category)`` somewhere."""
    return [c.key for c in enabled(settings) if grants.has(perm_of(c.key))]


def visible(grants, settings: dict, perm_of=read_perm):
    """SQL predicate on ``KeyPerson``: records whose category's permission the user holds on
    the record's unit (each category scoped on its own)."""
    parts = [(KeyPerson.category_bidx == CATEGORIES[k].bidx)
             & scoped(select(KeyPerson.id), grants, perm_of(k), KeyPerson.org_unit_id).whereclause
             for k in categories_with(grants, settings, perm_of)]
    return or_(*parts) if parts else false()


def record_or_404(session, grants, record_id: int, perm_of=read_perm, settings: dict | None = None) -> KeyPerson:
    """The record, if the user holds ``perm_of(its category)`` on its unit; else 404 — the same
    answer as for no record at all (no 403 that would confirm one exists)."""
    settings = settings_of(session) if settings is None else settings
    rec = session.scalar(select(KeyPerson).where(KeyPerson.id == record_id))
    if rec is None or rec.anonymised_at is not None or rec.category not in settings.get("categories", ()):
        raise NotFound()
    if not may(session, grants, perm_of(rec.category), rec.org_unit_id):
        raise NotFound()
    return rec


def check_purpose(settings: dict, purpose: str | None, location: str = "query") -> str:
    """The purpose key, or 422: a record is read only for a purpose on the county's list."""
    known = purposes(settings)
    if not purpose:
        raise Invalid("purpose", "purpose_required", "查看重点人员档案须选择查阅事由", location)
    if purpose not in known:
        raise Invalid("purpose", "unknown_purpose", "查阅事由不在本县的事由清单中", location)
    return purpose


def read(session, grants, record_id: int, purpose: str | None, types: dict | None = None) -> dict:
    """One record in full, for a stated purpose, audited with it (the caller commits); with the
    person's cases of ``types`` (the county's) that the reader may read."""
    settings = settings_of(session)
    rec = record_or_404(session, grants, record_id, settings=settings)
    key = check_purpose(settings, purpose)
    person = session.get(Person, (rec.tenant_id, rec.person_id)) if rec.person_id else None
    record_read(session, KeyPerson.__tablename__, rec.id,
                ["name", "id_number", "phone", "address", "category", "details", "helpers"], purpose=key)
    out = summary(session, rec, settings, full=True, person=person)
    out.update(id_number=person.id_number if person else None, phone=person.phone if person else None,
               address=person.address if person else None, helpers=rec.helpers or "",
               details=json.loads(rec.details or "{}"), purpose=key,
               may_manage=may(session, grants, manage_perm(rec.category), rec.org_unit_id),
               visits=[visit_out(v) for v in session.scalars(
                   select(Visit).where(Visit.record_id == rec.id).order_by(Visit.visited_on.desc(), Visit.id.desc()))],
               handovers=handovers_of(session, rec), cases=links.cases_of(session, grants, types or {}, rec.person_id),
               transfers=subject_transfers(session, TRANSFER_KIND, rec.id),
               transferred_history=json.loads(rec.transferred_history or "[]"))
    return out


def handovers_of(session, rec: KeyPerson) -> list[dict]:
    """The record's hand-overs, newest first: date, from which unit to which, why."""
    rows = session.scalars(select(Handover).where(Handover.record_id == rec.id)
                           .order_by(Handover.handed_over_on.desc(), Handover.id.desc())).all()
    ids = {r.from_unit_id for r in rows} | {r.to_unit_id for r in rows}
    names = dict(session.execute(select(OrgUnit.id, OrgUnit.name).where(OrgUnit.id.in_(ids))).all()) if ids else {}
    return [{"handed_over_on": r.handed_over_on, "from_unit_name": names.get(r.from_unit_id, ""),
             "to_unit_name": names.get(r.to_unit_id, ""), "reason": r.reason or ""} for r in rows]


def summary(session, rec: KeyPerson, settings: dict, *, full: bool, person=None, names: dict | None = None,
            units: dict | None = None) -> dict:
    """A list row: the name masked unless ``full``; the category (the caller lists only
    records the user may read, so it is shown to a permitted user only)."""
    if names is not None:
        name = names.get(rec.person_id)
    else:
        person = person or (session.get(Person, (rec.tenant_id, rec.person_id)) if rec.person_id else None)
        name = person.name if person else None
    unit = (units or {}).get(rec.org_unit_id) or session.scalar(select(OrgUnit.name).where(OrgUnit.id == rec.org_unit_id))
    return {"id": rec.id, "name": name if full else mask_name(name), "org_unit_id": rec.org_unit_id,
            "org_unit_name": unit, "category": rec.category, "category_title": title_of(rec.category, settings),
            "risk_level": rec.risk_level, "risk_title": RISK_LEVELS.get(rec.risk_level, ""),
            "next_visit_due": rec.next_visit_due, "last_visit_on": rec.last_visit_on,
            "overdue": rec.overdue_since is not None, "ended_on": rec.ended_on, "created_at": rec.created_at}


def list_page(session, grants, stmt_rows: list[KeyPerson], settings: dict) -> list[dict]:
    """Rows of a page of records, names masked unless the user manages that category there."""
    ids = {r.person_id for r in stmt_rows if r.person_id}
    names = dict(session.execute(select(Person.id, Person.name).where(Person.id.in_(ids))).all()) if ids else {}
    unit_ids = {r.org_unit_id for r in stmt_rows}
    found = session.execute(select(OrgUnit.id, OrgUnit.name, OrgUnit.path).where(OrgUnit.id.in_(unit_ids))).all() \
        if unit_ids else []
    units, paths = {u.id: u.name for u in found}, {u.id: u.path for u in found}
    # the grants answer from the unit's path: one statement for the page, not one a row
    return [summary(session, r, settings, full=r.org_unit_id in paths and grants.covers(manage_perm(r.category),
                                                                                         paths[r.org_unit_id]),
                    names=names, units=units) for r in stmt_rows]


# --- writes -----------------------------------------------------------------------------------

def _unit_or_404(session, grants, perm: str, unit_id: int) -> OrgUnit:
    unit = session.scalar(select(OrgUnit).where(OrgUnit.id == unit_id))
    if unit is None or unit.status != "active" or not grants.covers(perm, unit.path):
        raise NotFound("unit_not_found", "单位不存在或不在您的管辖范围内",
                       {"json": {"org_unit_id": ["单位不存在或不在您的管辖范围内"]}})
    return unit


def typed_fields(category: str, raw: dict | None) -> dict:
    """The category's fields through its schema; 422 naming ``details.<field>``."""
    from marshmallow import ValidationError
    try:
        data = CATEGORIES[category].schema().load(raw or {})
    except ValidationError as exc:
        name = next(iter(exc.messages))
        field = CATEGORIES[category].schema().fields.get(name)
        title = field.metadata.get("title", name) if field else name
        raise Invalid(f"details.{name}", "invalid_details", f"{title}：填写有误") from None
    return {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in data.items()}


def _person(session, grants, user_id: int | None, unit: OrgUnit, perm: str, data: dict) -> Person:
    """The core person with this ID number in the user's scope, or a new one at ``unit``."""
    number = data.get("id_number")
    if number:
        number = normalise_id_number(number)
        # the oldest one in scope; one outside it is never named (the register is no oracle of who exists)
        for found in session.scalars(select(Person).where(Person.id_number_bidx == blind_index(number))
                                     .order_by(Person.id).limit(50)):
            if may(session, grants, perm, found.org_unit_id):
                return found
    person = Person(name=data["name"], org_unit_id=unit.id, created_by=user_id)
    set_person_fields(person, {k: data.get(k) or None for k in ("id_number", "phone", "address")})
    session.add(person)
    session.flush()
    return person


def create(session, grants, user_id: int | None, data: dict) -> KeyPerson:
    settings = settings_of(session)
    category = data["category"]
    if category not in settings.get("categories", ()):
        raise Invalid("category", "category_off", "本县未启用该类别")
    perm = manage_perm(category)
    unit = _unit_or_404(session, grants, perm, data["org_unit_id"])
    details = typed_fields(category, data.get("details"))
    person = _person(session, grants, user_id, unit, perm, data)
    taken = session.scalar(select(KeyPerson.id).where(KeyPerson.person_id == person.id,
                                                      KeyPerson.category_bidx == CATEGORIES[category].bidx,
                                                      KeyPerson.ended_on.is_(None)))
    if taken:
        raise Conflict("already_registered", "该人员已在本类别中列管")
    start = today()
    rec = KeyPerson(person_id=person.id, org_unit_id=unit.id, category=category,
                    category_bidx=CATEGORIES[category].bidx, risk_level=data["risk_level"],
                    details=json.dumps(details, ensure_ascii=False), helpers=data.get("helpers") or None,
                    next_visit_due=start + dt.timedelta(days=visit_days(settings, category, data["risk_level"])),
                    created_by=user_id)
    session.add(rec)
    session.flush()
    return rec


def update(session, grants, record_id: int, data: dict) -> KeyPerson:
    """Change the risk level, the helpers or the category's fields (the visit clock follows the level)."""
    settings = settings_of(session)
    rec = record_or_404(session, grants, record_id, manage_perm, settings)
    if rec.ended_on is not None:
        raise Conflict("ended", "该人员已撤销列管")
    if "details" in data:
        rec.details = json.dumps(typed_fields(rec.category, data["details"]), ensure_ascii=False)
    if "helpers" in data:
        rec.helpers = data["helpers"] or None
    if data.get("risk_level") and data["risk_level"] != rec.risk_level:
        rec.risk_level = data["risk_level"]
        rec.next_visit_due = (rec.last_visit_on or rec.created_at.date()) + dt.timedelta(
            days=visit_days(settings, rec.category, rec.risk_level))
    return rec


def add_visit(session, grants, user_id: int | None, record_id: int, data: dict) -> Visit:
    """Record a visit (date, who, how, what, result); the next one falls due by the cadence."""
    settings = settings_of(session)
    rec = record_or_404(session, grants, record_id, manage_perm, settings)
    if rec.ended_on is not None:
        raise Conflict("ended", "该人员已撤销列管")
    if data["visited_on"] > today():
        raise Invalid("visited_on", "in_future", "走访日期不能晚于今天")
    visit = Visit(record_id=rec.id, org_unit_id=rec.org_unit_id, visited_on=data["visited_on"],
                  due_on=rec.next_visit_due, way=data["way"], visitor=data["visitor"],
                  content=data.get("content") or None, result=data["result"], created_by=user_id)
    session.add(visit)
    if rec.last_visit_on is None or data["visited_on"] >= rec.last_visit_on:
        rec.last_visit_on = data["visited_on"]
        rec.next_visit_due = data["visited_on"] + dt.timedelta(days=visit_days(settings, rec.category, rec.risk_level))
        rec.overdue_since = None
    session.flush()
    return visit


def category_readers(session, category: str, unit_id: int) -> list[int]:
    """The unit's users who may read ``category`` there: the only ones a to-do about one of its
    records may reach (the to-do itself says a key person is on record there)."""
    return users_who_may(session, users_of_unit(session, unit_id), read_perm(category), unit_id)


def handover(session, grants, user_id: int | None, record_id: int, data: dict) -> Handover:
    """移交: the record moves to another responsible unit (the person moved within the county).
    The user manages the category on both units; the history stays (visits keep their units, the
    hand-over is a row); the new unit's users are told — without the person or the category."""
    rec = record_or_404(session, grants, record_id, manage_perm)
    if rec.ended_on is not None:
        raise Conflict("ended", "该人员已撤销列管")
    _not_promised(session, rec)
    to = _unit_or_404(session, grants, manage_perm(rec.category), data["org_unit_id"])
    if to.id == rec.org_unit_id:
        raise Invalid("org_unit_id", "same_unit", "该单位已是此人的责任单位，请选择接收单位")
    on = data["handed_over_on"]
    if on > today():
        raise Invalid("handed_over_on", "in_future", "移交日期不能晚于今天")
    last = session.scalar(select(Handover.handed_over_on).where(Handover.record_id == rec.id)
                          .order_by(Handover.handed_over_on.desc()).limit(1))
    if last is not None and on < last:
        raise Invalid("handed_over_on", "before_last_handover", f"移交日期不能早于上一次移交的日期（{last.isoformat()}）")
    if on < dt.date.fromisoformat(local_time(rec.created_at, "%Y-%m-%d")):
        raise Invalid("handed_over_on", "before_registration", "移交日期不能早于登记列管的日期")
    row = Handover(record_id=rec.id, from_unit_id=rec.org_unit_id, to_unit_id=to.id, handed_over_on=on,
                   reason=data.get("reason") or None, created_by=user_id)
    session.add(row)
    rec.org_unit_id = to.id
    session.flush()
    record(session, "keypersons.handed_over", "keypersons_record", rec.id,
           {"from_unit_id": row.from_unit_id, "to_unit_id": to.id, "on": on.isoformat()})
    notify(session, category_readers(session, rec.category, to.id), f"keypersons.handover:{row.id}", "重点人员移交",
           f"有一名重点人员于 {on.isoformat()} 移交本单位列管，请在“重点人员”中查看并按期走访。", kind="todo")
    return row


def _not_promised(session, rec: KeyPerson) -> None:
    """A record offered to another county stays as it is until that county answers."""
    if open_transfer(session, TRANSFER_KIND, rec.id) is not None:
        raise Conflict("transfer_open", "该人员有待外县接收的跨县移交，请等对方答复或先撤回移交")


def transfer(ctx, record_id: int, data: dict):
    """跨县移交: offer the record to another county (its category's manage permission here and
    the transfer permission); what the offer says before acceptance: the category and risk."""
    from core.sdk import offer_transfer
    rec = record_or_404(ctx.session, ctx.grants, record_id, manage_perm)
    if rec.ended_on is not None:
        raise Conflict("ended", "该人员已撤销列管")
    return offer_transfer(ctx, TRANSFER_KIND, rec.id, rec.org_unit_id, data["to_tenant_id"],
                          {"category": rec.category, "risk_level": rec.risk_level}, data.get("note"))


def end(session, grants, record_id: int, ended_on: dt.date) -> KeyPerson:
    """撤销列管: supervision ended; no more visits fall due, and the retention clock starts."""
    rec = record_or_404(session, grants, record_id, manage_perm)
    if rec.ended_on is not None:
        raise Conflict("ended", "该人员已撤销列管")
    _not_promised(session, rec)
    if ended_on > today():
        raise Invalid("ended_on", "in_future", "撤销列管日期不能晚于今天")
    rec.ended_on, rec.next_visit_due, rec.overdue_since = ended_on, None, None
    return rec


def visit_out(v: Visit) -> dict:
    return {"id": v.id, "visited_on": v.visited_on, "due_on": v.due_on, "way": v.way, "way_title": WAYS.get(v.way, ""),
            "visitor": v.visitor or "", "content": v.content or "", "result": v.result,
            "result_title": RESULTS.get(v.result, ""),
            "on_time": v.due_on is None or v.visited_on <= v.due_on}

