"""The key-persons module's year in the demo county (``pingan_demo_activity``, docs/demo.md).

In a few villages, each act through the module's own services, at its moment, by the
township's account (JNT-4): persons of the county's categories registered through the year and
visited on the cadence of their category and risk level — most on time, some late, the last ones
of a few left undone, so that the hourly job finds them overdue; one record handed over to a
neighbouring village, one whose supervision ended. And the rental houses of seed 001's
一牌三卡五星级: houses with their landlord and the cards issued, tenants moving in (and a few out),
the landlords' stars of the year and their responsibility letters (made, left to be signed on the
责任书 page)."""
from __future__ import annotations

import datetime as dt

from core.sdk import current, issue_letter

from . import records, rental
from .api import HandoverIn, RecordCreate, VisitIn
from .categories import CATEGORIES
from .rental_api import HouseCreate, RatingIn, TenantIn
from .settings import rental_cards, rental_stars, visit_days

NOTES = {"drug": "社区戒毒期间，按期尿检", "concern": "因征地补偿问题多次越级上访", "youth": "辍学在家，无正当职业",
         "floating": "外省来务工，在本村租房居住"}
VISITS = [("了解近况，情况稳定", "stable"), ("谈心谈话，帮助联系就业", "stable"), ("家属反映其情绪波动，需持续关注", "attention")]


def plan(demo) -> None:
    rnd = demo.random
    categories = [k for k in demo.settings.get("categories", list(CATEGORIES)) if k in CATEGORIES]
    villages = rnd.sample(demo.villages, min(5, len(demo.villages)))
    for n, village in enumerate(villages):
        for _ in range(rnd.randint(2, 4)):
            category, risk = rnd.choice(categories), rnd.choice(["high", "medium", "medium", "low", "low"])
            at = demo.registered_at(30, 330)
            ref: dict = {}
            _act(demo, at, demo.handler(village), register, demo, village, category, risk, ref)
            plan_visits(demo, village, ref, at, category, risk)
        if n == 0:   # one moves to the next village: handed over
            plan_handover(demo, village, villages[1] if len(villages) > 1 else village)
        for _ in range(rnd.randint(1, 3)):
            plan_house(demo, village)


def _act(demo, when: dt.datetime, who: str, func, *args) -> None:
    """Plan the act unless it would fall after the demo's year (now)."""
    if when < demo.end:
        demo.act(when, who, func, *args)


def register(demo, village: str, category: str, risk: str, ref: dict) -> None:
    rnd = demo.random
    person = demo.new_person(village, "party")
    day = demo.now().date()
    if category == "released":
        details = {"offence": rnd.choice(["盗窃罪", "诈骗罪", "故意伤害罪", "寻衅滋事罪"]), "sentence": "有期徒刑二年",
                   "release_date": (day - dt.timedelta(days=rnd.randint(3, 20))).isoformat(),
                   "handover_date": day.isoformat(), "placed": rnd.random() < 0.8, "helped": True,
                   "placement": "在本村务农", "help": "村帮教小组结对帮教"}
    elif category == "corrections":
        details = {"correction_category": rnd.choice(["缓刑", "假释", "管制"]), "team": "司法所、村委会、家属",
                   "start_date": (day - dt.timedelta(days=rnd.randint(1, 30))).isoformat(),
                   "end_date": (day + dt.timedelta(days=rnd.randint(200, 700))).isoformat()}
    else:
        details = {"note": NOTES.get(category, "")}
    ctx = current()
    data = RecordCreate().load({"org_unit_id": demo.unit_id(village), "category": category, "risk_level": risk,
                                "name": person["name"], "id_number": person["id_number"], "phone": person["phone"],
                                "address": person["address"], "helpers": "村干部、网格员、家属", "details": details})
    ref["id"] = records.create(ctx.session, ctx.grants, ctx.user.id, data).id
    demo.count("key_persons")


def plan_visits(demo, village: str, ref: dict, at: dt.datetime, category: str, risk: str) -> None:
    """Visits on the cadence until the year's end; a few come late, and for a few the last one
    is never made (overdue when the year ends)."""
    rnd = demo.random
    every = visit_days(demo.settings, category, risk)
    when, skip_last = at, rnd.random() < 0.25
    while True:
        when = demo.later(when, every * 0.7, every * (1.25 if rnd.random() < 0.15 else 0.95))
        if when >= demo.end - dt.timedelta(days=2) or (skip_last and when >= demo.end - dt.timedelta(days=every)):
            return
        _act(demo, when, demo.handler(village), visit, demo, ref)


def visit(demo, ref: dict) -> None:
    if "id" not in ref:
        return
    content, result = demo.random.choice(VISITS)
    ctx = current()
    data = VisitIn().load({"visited_on": demo.now().date().isoformat(), "way": demo.random.choice(["home", "home", "phone"]),
                           "visitor": ctx.user.display_name, "content": content, "result": result})
    records.add_visit(ctx.session, ctx.grants, ctx.user.id, ref["id"], data)
    demo.count("key_person_visits")


def plan_handover(demo, village: str, to: str) -> None:
    at = demo.registered_at(200, 300)
    ref: dict = {}
    categories = [k for k in demo.settings.get("categories", list(CATEGORIES)) if k in CATEGORIES]
    if not categories:
        return
    category = "floating" if "floating" in categories else categories[0]
    _act(demo, at, demo.handler(village), register, demo, village, category, "low", ref)
    _act(demo, demo.later(at, 40, 60), demo.handler(village), handover, demo, ref, to)


def handover(demo, ref: dict, to: str) -> None:
    ctx = current()
    data = HandoverIn().load({"org_unit_id": demo.unit_id(to), "handed_over_on": demo.now().date().isoformat(),
                              "reason": "迁居邻村租房居住"})
    if "id" in ref:
        records.handover(ctx.session, ctx.grants, ctx.user.id, ref["id"], data)
        demo.count("key_person_handovers")


def plan_house(demo, village: str) -> None:
    """A rental house: registered, a tenant or two moving in (one moving out later), the
    landlord's stars once in the year and this year's letter."""
    rnd = demo.random
    who, ref = demo.handler(village), {}
    at = demo.registered_at(120, 340)
    _act(demo, at, who, house, demo, village, ref)
    for _ in range(rnd.randint(1, 2)):
        moved_in = demo.later(at, 1, 40)
        tenancy: dict = {}
        _act(demo, moved_in, who, tenant, demo, village, ref, tenancy)
        if rnd.random() < 0.3:
            _act(demo, demo.later(moved_in, 30, 90), who, move_out, demo, ref, tenancy)
    _act(demo, demo.later(at, 20, 100), who, rate, demo, ref)
    _act(demo, demo.later(at, 2, 10), who, letter, demo, ref)


def house(demo, village: str, ref: dict) -> None:
    rnd = demo.random
    owner = demo.new_person(village, "party")
    cards = [k for k in rental_cards(demo.settings) if rnd.random() < 0.8]
    ctx = current()
    data = HouseCreate().load({"org_unit_id": demo.unit_id(village), "address": owner["address"],
                               "owner_name": owner["name"], "owner_id_number": owner["id_number"],
                               "owner_phone": owner["phone"], "rooms": rnd.randint(1, 6), "cards": cards})
    ref["id"] = rental.create(ctx.session, ctx.grants, ctx.user.id, data).id
    demo.count("rental_houses")


def tenant(demo, village: str, ref: dict, tenancy: dict) -> None:
    if "id" not in ref:
        return
    person = demo.new_person(village, "party")
    ctx = current()
    data = TenantIn().load({"name": person["name"], "id_number": person["id_number"], "phone": person["phone"],
                            "moved_in": demo.now().date().isoformat()})
    tenancy["id"] = rental.add_tenant(ctx.session, ctx.grants, ctx.user.id, ref["id"], data).id
    demo.count("rental_tenants")


def move_out(demo, ref: dict, tenancy: dict) -> None:
    if "id" in ref and "id" in tenancy:
        ctx = current()
        rental.move_out(ctx.session, ctx.grants, ref["id"], tenancy["id"], demo.now().date())


def rate(demo, ref: dict) -> None:
    if "id" not in ref:
        return
    stars = [k for k in rental_stars(demo.settings) if demo.random.random() < 0.85]
    ctx = current()
    data = RatingIn().load({"year": demo.now().year, "stars": stars, "rated_on": demo.now().date().isoformat()})
    rental.rate(ctx.session, ctx.grants, ctx.user.id, ref["id"], data)


def letter(demo, ref: dict) -> None:
    if "id" not in ref:
        return
    ctx = current()
    h = rental.house_or_404(ctx.session, ctx.grants, ref["id"], rental.RENTAL_MANAGE)
    issue_letter(ctx, rental.RENTAL_LETTER, demo.now().year, h.org_unit_id, "person", h.owner_person_id, "社区民警")
    demo.count("rental_letters")
