"""Rental houses (出租房屋, JNT-4; seed 001 doc 4 "一牌三卡五星级"): the houses let in a unit, their
landlord (房主, a person of the core's register), the tenants from the day they moved in to the
day they moved out, the county's cards issued for the house (the "三卡"), a yearly star rating of
the landlord (the "五星级": the county's stars) and the landlord's responsibility letter
(《出租房屋责任书》, a letter kind the core keeps: docs/letters.md).

A house is read with ``keypersons.rental.read`` and changed with ``keypersons.rental.manage`` on
its unit; anything else is 404, as for another county's house. Personal numbers stay in the
person register: these pages show them masked.
"""
from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import func, select

from core.sdk import (Conflict, Invalid, LetterKind, NotFound, OrgUnit, Person, may, party_letters, scoped,
                      sensitive_fields)

from .models import RentalHouse, RentalRating, RentalTenant
from .permissions import RENTAL_MANAGE, RENTAL_READ
from .records import _person, _unit_or_404, settings_of, today
from .settings import rental_cards, rental_stars

# seed 001 doc 4: "以房管理，社区和派出所与出租房主签订《出租房屋责任书》，对现租房屋进行登记备案，落实监督责任人";
# the county replaces this text with its own on the letters page
RENTAL_LETTER = LetterKind(
    key="keypersons.rental", title="出租房屋责任书", title_en="Rental-house letter",
    paragraphs=[
        "为落实{年度}年度出租房屋“以房管理”，{发文单位}（甲方）与出租房主{责任方}（乙方）签订本责任书，"
        "由{对方}指导监督。",
        "乙方出租的房屋在甲方登记备案；承租人入住、迁出，乙方及时告知甲方；乙方落实出租房屋的监督责任。",
        "本责任书自{签订日期}起生效。"],
    parties=("person",))


def house_or_404(session, grants, house_id: int, perm: str = RENTAL_READ) -> RentalHouse:
    house = session.scalar(select(RentalHouse).where(RentalHouse.id == house_id))
    if house is None or not may(session, grants, perm, house.org_unit_id):
        raise NotFound("house_not_found", "出租房屋不存在或不在您的管辖范围内")
    return house


def list_statement(grants, under: OrgUnit | None = None, status: str | None = None):
    """The houses the user may read (on their units), narrowed to a subtree and a state."""
    stmt = scoped(select(RentalHouse), grants, RENTAL_READ, RentalHouse.org_unit_id)
    if under is not None:
        stmt = stmt.where(RentalHouse.org_unit_id.in_(select(OrgUnit.id).where(OrgUnit.path.startswith(under.path))))
    if status == "let":
        stmt = stmt.where(RentalHouse.ended_on.is_(None))
    elif status == "ended":
        stmt = stmt.where(RentalHouse.ended_on.is_not(None))
    return stmt


def _keys(value: list[str] | None, known: dict[str, str], field: str, what: str) -> list[str]:
    """The chosen keys among the county's, in the county's order; 422 at ``field`` otherwise."""
    chosen = list(dict.fromkeys(value or []))
    unknown = [k for k in chosen if k not in known]
    if unknown:
        raise Invalid(field, f"unknown_{field}", f"{what}不在本县的设置中")
    return [k for k in known if k in chosen]


def _not_future(value: dt.date, field: str, what: str) -> None:
    if value > today():
        raise Invalid(field, "in_future", f"{what}不能晚于今天")


def create(session, grants, user_id: int | None, data: dict) -> RentalHouse:
    """Register a house: its unit, landlord (found by ID number in the user's units, else a new
    person of the register), address, rooms and the cards issued."""
    unit = _unit_or_404(session, grants, RENTAL_MANAGE, data["org_unit_id"])
    cards = _keys(data.get("cards"), rental_cards(settings_of(session)), "cards", "卡的种类")
    try:
        owner = _person(session, grants, user_id, unit, RENTAL_MANAGE,
                        {"name": data["owner_name"], "id_number": data.get("owner_id_number"),
                         "phone": data.get("owner_phone")})
    except Invalid as exc:   # the person's field is the landlord's here
        raise Invalid(f"owner_{exc.field}", exc.code, exc.message) from None
    house = RentalHouse(org_unit_id=unit.id, owner_person_id=owner.id, address=data["address"],
                        rooms=data.get("rooms"), note=data.get("note") or None,
                        cards=json.dumps(cards), created_by=user_id)
    session.add(house)
    session.flush()
    return house


def update(session, grants, house_id: int, data: dict) -> RentalHouse:
    """Change the address, the rooms, the note or the cards issued."""
    house = house_or_404(session, grants, house_id, RENTAL_MANAGE)
    if house.ended_on is not None:
        raise Conflict("house_ended", "该房屋已停止出租")
    if "cards" in data:
        house.cards = json.dumps(_keys(data["cards"], rental_cards(settings_of(session)), "cards", "卡的种类"))
    for key in ("address", "rooms", "note"):
        if key in data and (key != "address" or data[key]):
            setattr(house, key, data[key] if data[key] != "" else None)
    return house


def add_tenant(session, grants, user_id: int | None, house_id: int, data: dict) -> RentalTenant:
    """A tenant moves in: the person (by ID number in the user's units, else new at the house's
    unit) and the date; the same person living there already is refused."""
    house = house_or_404(session, grants, house_id, RENTAL_MANAGE)
    if house.ended_on is not None:
        raise Conflict("house_ended", "该房屋已停止出租")
    _not_future(data["moved_in"], "moved_in", "入住日期")
    unit = session.scalar(select(OrgUnit).where(OrgUnit.id == house.org_unit_id))
    person = _person(session, grants, user_id, unit, RENTAL_MANAGE, data)
    if person.id == house.owner_person_id:
        raise Invalid("name", "tenant_is_owner", "承租人不能是房主本人")
    living = session.scalar(select(RentalTenant.id).where(RentalTenant.house_id == house.id,
                                                          RentalTenant.person_id == person.id,
                                                          RentalTenant.moved_out.is_(None)))
    if living:
        raise Conflict("already_living", "此人已登记为该房屋的承租人，尚未迁出")
    row = RentalTenant(house_id=house.id, person_id=person.id, moved_in=data["moved_in"], created_by=user_id)
    session.add(row)
    session.flush()
    return row


def move_out(session, grants, house_id: int, tenancy_id: int, moved_out: dt.date) -> RentalTenant:
    """A tenant moved out: the tenancy (``RentalTenant`` row) keeps both dates."""
    house = house_or_404(session, grants, house_id, RENTAL_MANAGE)
    row = session.scalar(select(RentalTenant).where(RentalTenant.id == tenancy_id, RentalTenant.house_id == house.id))
    if row is None:
        raise NotFound("tenant_not_found", "该房屋没有这名承租人")
    if row.moved_out is not None:
        raise Conflict("moved_out", "此承租人已迁出")
    _not_future(moved_out, "moved_out", "迁出日期")
    if moved_out < row.moved_in:
        raise Invalid("moved_out", "before_moved_in", f"迁出日期不能早于入住日期（{row.moved_in.isoformat()}）")
    row.moved_out = moved_out
    return row


def rate(session, grants, user_id: int | None, house_id: int, data: dict) -> RentalRating:
    """The landlord's stars of a year (one rating a year: a second replaces the first)."""
    house = house_or_404(session, grants, house_id, RENTAL_MANAGE)
    stars = _keys(data.get("stars"), rental_stars(settings_of(session)), "stars", "星")
    rated_on = data["rated_on"]
    _not_future(rated_on, "rated_on", "评定日期")
    if rated_on.year < data["year"]:
        raise Invalid("rated_on", "before_year", f"评定日期不能早于 {data['year']} 年")
    row = session.scalar(select(RentalRating).where(RentalRating.house_id == house.id,
                                                    RentalRating.year == data["year"]))
    if row is None:
        row = RentalRating(house_id=house.id, year=data["year"], created_by=user_id)
        session.add(row)
    row.stars, row.rated_on = json.dumps(stars), rated_on
    session.flush()
    return row


def end(session, grants, house_id: int, ended_on: dt.date) -> RentalHouse:
    """停止出租: only once every tenant has moved out."""
    house = house_or_404(session, grants, house_id, RENTAL_MANAGE)
    if house.ended_on is not None:
        raise Conflict("house_ended", "该房屋已停止出租")
    _not_future(ended_on, "ended_on", "停止出租日期")
    if session.scalar(select(func.count()).select_from(RentalTenant).where(RentalTenant.house_id == house.id,
                                                                           RentalTenant.moved_out.is_(None))):
        raise Conflict("tenants_living", "尚有承租人未迁出，请先登记迁出")
    last = session.scalar(select(func.max(RentalTenant.moved_out)).where(RentalTenant.house_id == house.id))
    if last is not None and ended_on < last:
        raise Invalid("ended_on", "before_moved_out", f"停止出租日期不能早于最后一名承租人迁出的日期（{last.isoformat()}）")
    house.ended_on = ended_on
    return house


# --- what the pages and the API show -------------------------------------------------------------

def _people(session, grants, ids: set[int]) -> dict[int, dict]:
    """Name and masked ID number and phone of persons (never the plain numbers)."""
    out = {}
    for p in session.scalars(select(Person).where(Person.id.in_(ids))) if ids else ():
        masked = sensitive_fields(session, grants, p, p.org_unit_id, reveal=False, permission=RENTAL_MANAGE)
        out[p.id] = {"name": p.name, "id_number": masked.get("id_number") or "", "phone": masked.get("phone") or ""}
    return out


def summaries(session, grants, houses: list[RentalHouse]) -> list[dict]:
    """List rows: unit, landlord, address, tenants living there, cards, this year's stars."""
    if not houses:
        return []
    settings = settings_of(session)
    ids = [h.id for h in houses]
    living = dict(session.execute(select(RentalTenant.house_id, func.count()).where(
        RentalTenant.house_id.in_(ids), RentalTenant.moved_out.is_(None)).group_by(RentalTenant.house_id)).all())
    year = today().year
    stars = dict(session.execute(select(RentalRating.house_id, RentalRating.stars).where(
        RentalRating.house_id.in_(ids), RentalRating.year == year)).all())
    units = dict(session.execute(select(OrgUnit.id, OrgUnit.name).where(
        OrgUnit.id.in_({h.org_unit_id for h in houses}))).all())
    people = _people(session, grants, {h.owner_person_id for h in houses})
    cards = rental_cards(settings)
    return [{"id": h.id, "org_unit_id": h.org_unit_id, "org_unit_name": units.get(h.org_unit_id, ""),
             "owner_name": people.get(h.owner_person_id, {}).get("name", ""), "address": h.address,
             "rooms": h.rooms, "tenants_living": living.get(h.id, 0),
             "cards": [cards[k] for k in json.loads(h.cards) if k in cards],
             "stars_this_year": None if h.id not in stars else len(json.loads(stars[h.id])),
             "ended_on": h.ended_on} for h in houses]


def detail(session, grants, house: RentalHouse) -> dict:
    """One house in full: the list row plus the landlord (masked numbers), the note, the tenants
    (newest first), the ratings by year and the landlord's responsibility letters."""
    settings = settings_of(session)
    out = summaries(session, grants, [house])[0]
    tenants = session.scalars(select(RentalTenant).where(RentalTenant.house_id == house.id)
                              .order_by(RentalTenant.moved_out.is_not(None), RentalTenant.moved_in.desc(),
                                        RentalTenant.id.desc())).all()
    people = _people(session, grants, {house.owner_person_id} | {t.person_id for t in tenants})
    stars = rental_stars(settings)
    ratings = session.scalars(select(RentalRating).where(RentalRating.house_id == house.id)
                              .order_by(RentalRating.year.desc())).all()
    owner = people.get(house.owner_person_id, {})
    out.update(
        owner_id_number=owner.get("id_number", ""), owner_phone=owner.get("phone", ""), note=house.note or "",
        card_keys=json.loads(house.cards), may_manage=may(session, grants, RENTAL_MANAGE, house.org_unit_id),
        tenants=[{"id": t.id, "name": people.get(t.person_id, {}).get("name", ""),
                  "id_number": people.get(t.person_id, {}).get("id_number", ""),
                  "phone": people.get(t.person_id, {}).get("phone", ""), "moved_in": t.moved_in,
                  "moved_out": t.moved_out} for t in tenants],
        ratings=[{"year": r.year, "rated_on": r.rated_on, "star_keys": json.loads(r.stars),
                  "stars": [stars[k] for k in json.loads(r.stars) if k in stars],
                  "count": len(json.loads(r.stars)), "of": len(stars)} for r in ratings],
        letters=party_letters(session, RENTAL_LETTER, "person", [house.owner_person_id]))
    return out


def figures(session, grants, under: OrgUnit) -> dict:
    """The unit's subtree today: houses let, tenants living there, houses with every card issued,
    landlords rated this year and with every star, this year's letters signed. Counted in SQL
    over subqueries: a county's tens of thousands of houses are neither loaded nor decrypted."""
    settings = settings_of(session)
    let = list_statement(grants, under, "let")
    ids = let.with_only_columns(RentalHouse.id).subquery()
    house_ids = select(ids.c.id)
    year = today().year
    all_cards, all_stars = set(rental_cards(settings)), len(rental_stars(settings))
    houses = session.scalar(select(func.count()).select_from(ids)) or 0
    tenants = session.scalar(select(func.count()).select_from(RentalTenant).where(
        RentalTenant.house_id.in_(house_ids), RentalTenant.moved_out.is_(None))) or 0
    cards = session.scalars(let.with_only_columns(RentalHouse.cards)).all()
    rated = [json.loads(s) for s in session.scalars(select(RentalRating.stars).where(
        RentalRating.house_id.in_(house_ids), RentalRating.year == year))]
    owners_q = let.with_only_columns(RentalHouse.owner_person_id).distinct()
    owners = session.scalar(select(func.count()).select_from(owners_q.subquery())) or 0
    letters = [r for r in party_letters(session, RENTAL_LETTER, "person", owners_q) if r["year"] == year]
    return {"year": year, "houses": houses, "tenants": tenants,
            "all_cards": sum(1 for c in cards if all_cards and all_cards <= set(json.loads(c))),
            "rated": len(rated), "all_stars": sum(1 for s in rated if len(s) >= all_stars),
            "owners": owners, "letters_signed": sum(1 for r in letters if r["status"] == "signed")}
