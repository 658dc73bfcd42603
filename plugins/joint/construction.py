"""Building and accepting the centres (ORG-5, seed 002): phases with target dates per unit,
their acceptance, and the county's progress against the plan — a phase past its target date
without acceptance is flagged."""
from __future__ import annotations

from sqlalchemy import select

from core.sdk import Invalid, OrgUnit, get_or_404, units_under

from .handover import today
from .meetings import unit_at
from .models import ConstructionPhase
from .permissions import MANAGE

RESULTS = {"passed": "验收合格", "failed": "验收不合格"}


def plan(ctx, settings: dict, data: dict) -> ConstructionPhase:
    """Set (or move) a unit's phase target date."""
    unit = unit_at(ctx, data["org_unit_id"], MANAGE)
    if data["phase"] not in {p["key"] for p in settings["construction_phases"]}:
        raise Invalid("phase", "unknown_phase", "不是本县设定的建设阶段")
    row = ctx.session.scalar(select(ConstructionPhase).where(ConstructionPhase.org_unit_id == unit.id,
                                                             ConstructionPhase.phase == data["phase"]))
    if row is None:
        row = ConstructionPhase(org_unit_id=unit.id, phase=data["phase"])
        ctx.session.add(row)
    row.target_date = data["target_date"]
    ctx.session.flush()
    return row


def load(ctx, phase_id: int) -> ConstructionPhase:
    return get_or_404(ctx.session, ctx.grants, ConstructionPhase, phase_id, MANAGE)


def accept(ctx, row: ConstructionPhase, data: dict) -> ConstructionPhase:
    """The check's result: passed sets the acceptance date; failed leaves the phase open."""
    if data["checked_on"] > today():
        raise Invalid("checked_on", "in_future", "验收日期不能晚于今天")
    row.result = data["result"]
    row.accepted_on = data["checked_on"] if data["result"] == "passed" else None
    row.evidence = data.get("evidence") or ""
    ctx.session.flush()
    return row


def flagged(row: ConstructionPhase) -> bool:
    return row.accepted_on is None and row.target_date < today()


def progress(ctx, settings: dict, unit: OrgUnit) -> dict:
    """Every planned phase in the unit's subtree, by unit, with its state; the figures."""
    titles = {p["key"]: p["title"] for p in settings["construction_phases"]}
    order = {p["key"]: i for i, p in enumerate(settings["construction_phases"])}
    rows = list(ctx.session.scalars(select(ConstructionPhase).where(
        ConstructionPhase.org_unit_id.in_(units_under(unit.path)))))
    names = {u.id: u for u in ctx.session.scalars(select(OrgUnit).where(OrgUnit.id.in_({r.org_unit_id for r in rows})))}
    rows.sort(key=lambda r: (names[r.org_unit_id].path if r.org_unit_id in names else "", order.get(r.phase, 99)))
    items = []
    for r in rows:
        state = "accepted" if r.accepted_on else ("flagged" if flagged(r) else "pending")
        items.append({"id": r.id, "org_unit_id": r.org_unit_id,
                      "org_unit": names[r.org_unit_id].name if r.org_unit_id in names else "",
                      "phase": r.phase, "phase_title": titles.get(r.phase, "（已停用的阶段）"),
                      "target_date": r.target_date, "result": r.result, "accepted_on": r.accepted_on,
                      "evidence": r.evidence, "state": state})
    return {"org_unit_id": unit.id, "items": items,
            "figures": {"phases": len(items), "accepted": sum(i["state"] == "accepted" for i in items),
                        "flagged": sum(i["state"] == "flagged" for i in items)}}


