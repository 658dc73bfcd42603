"""The centres (综治中心, 工作站, 联络点; ORG-2, ORG-5): each unit's centre with its sign, director
and deputies, the member units stationed there, and the rooms and facilities of the county's
standard (``centre_standard``) it has; the subtree's overview shows how far each centre meets
the standard."""
from __future__ import annotations

from sqlalchemy import or_, select

from core.sdk import Invalid, MemberUnit, OrgUnit, units_under, utcnow

from .models import Centre

MAX_DEPUTIES = 6
OVERVIEW_LIMIT = 500


def standard_for(settings: dict, unit: OrgUnit) -> list[dict]:
    """The standard's items that apply at the unit's level (an item without levels: every level)."""
    return [f for f in settings["centre_standard"] if not f["levels"] or unit.level in f["levels"]]


def centre_of(ctx, unit: OrgUnit) -> Centre | None:
    return ctx.session.scalar(select(Centre).where(Centre.org_unit_id == unit.id))


def view(ctx, settings: dict, unit: OrgUnit, centre: Centre | None = None) -> dict:
    """A unit's centre as the API and the page show it (a unit without a record: its blanks)."""
    centre = centre if centre is not None else centre_of(ctx, unit)
    items = standard_for(settings, unit)
    has = set(centre.facilities or []) if centre else set()
    stationed = ctx.session.scalars(select(MemberUnit).where(MemberUnit.org_unit_id == unit.id,
                                                             MemberUnit.active.is_(True)).order_by(MemberUnit.name))
    return {"org_unit_id": unit.id, "org_unit": unit.name, "recorded": centre is not None,
            "name": centre.name if centre else "", "director_name": centre.director_name if centre else "",
            "director_post": centre.director_post if centre else "",
            "deputies": list(centre.deputies or []) if centre else [],
            "facilities": [{"key": f["key"], "title": f["title"], "has": f["key"] in has} for f in items],
            "met": sum(f["key"] in has for f in items), "required": len(items),
            "stationed": [{"id": m.id, "name": m.name, "category": m.category} for m in stationed],
            "note": centre.note if centre else "", "updated_at": centre.updated_at if centre else None}


def save(ctx, settings: dict, unit: OrgUnit, data: dict) -> Centre:
    """Record the unit's centre: every field as sent (the facilities it has, of the standard's
    items for its level; an item of another level or none of the county's is refused)."""
    allowed = {f["key"] for f in standard_for(settings, unit)}
    facilities = list(dict.fromkeys(data.get("facilities") or []))
    unknown = [k for k in facilities if k not in allowed]
    if unknown:
        raise Invalid("facilities", "unknown_facility", "不是本县建设标准中适用于该层级的功能室或设施")
    deputies = [{"name": d["name"].strip(), "post": (d.get("post") or "").strip()}
                for d in data.get("deputies") or [] if (d.get("name") or "").strip()]
    if len(deputies) > MAX_DEPUTIES:
        raise Invalid("deputies", "too_many", f"副主任最多 {MAX_DEPUTIES} 名")
    centre = centre_of(ctx, unit)
    if centre is None:
        centre = Centre(org_unit_id=unit.id)
        ctx.session.add(centre)
    centre.name = (data.get("name") or "").strip()
    centre.director_name = (data.get("director_name") or "").strip()
    centre.director_post = (data.get("director_post") or "").strip()
    centre.deputies, centre.facilities = deputies, facilities
    centre.note = (data.get("note") or "").strip()
    centre.updated_by_id, centre.updated_at = (ctx.user.id if ctx.user else None), utcnow()
    ctx.session.flush()
    return centre


def overview(ctx, settings: dict, unit: OrgUnit) -> dict:
    """The centres of the unit's subtree: every unit at a level with centres (``centre_levels``,
    and the levels the standard's items name), and every unit with a centre recorded, each with
    how many of its standard's items it has."""
    levels = set(settings["centre_levels"]) | {lv for f in settings["centre_standard"] for lv in f["levels"]}
    centres = {c.org_unit_id: c for c in ctx.session.scalars(select(Centre).where(
        Centre.org_unit_id.in_(units_under(unit.path))))}
    stmt = select(OrgUnit).where(OrgUnit.id.in_(units_under(unit.path)), OrgUnit.status == "active",
                                 or_(OrgUnit.level.in_(levels or [""]), OrgUnit.id.in_(list(centres) or [0])))
    units = list(ctx.session.scalars(stmt.order_by(OrgUnit.path).limit(OVERVIEW_LIMIT)))
    rows = []
    for u in units:
        items = standard_for(settings, u)
        c = centres.get(u.id)
        has = set(c.facilities or []) if c else set()
        rows.append({"org_unit_id": u.id, "org_unit": u.name, "depth": u.depth, "recorded": c is not None,
                     "name": c.name if c else "", "director_name": c.director_name if c else "",
                     "director_post": c.director_post if c else "",
                     "met": sum(f["key"] in has for f in items), "required": len(items),
                     "missing": [f["title"] for f in items if f["key"] not in has]})
    return {"org_unit_id": unit.id, "items": rows,
            "figures": {"centres": len(rows), "recorded": sum(r["recorded"] for r in rows),
                        "meeting_standard": sum(r["recorded"] and r["required"] > 0 and r["met"] == r["required"]
                                                for r in rows)}}
