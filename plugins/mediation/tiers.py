"""Tiered mediation (MED-3): village committee first, then the area leader and stationed
cadre, then the township centre, then the county — "小事不出村、大事不出乡、矛盾不上交".

The county lists its tiers in the module's settings. A tier is held either by the unit of a
level above the dispute's own unit (the township centre) or by the holders of network roles
for that unit (包片领导, 驻村干部). Escalating hands the dispute to the next tier that has
someone to take it: a level tier becomes the handling unit, so its people act on the dispute
and the unit below keeps reading it (it arose there) but can no longer act; a network tier
keeps the unit and puts the holders on the case. Each stay is a :class:`TierStep`, which is
what the back-trace (责任倒查) and the tier report read.

A unit of a higher tier may also take the dispute up without an escalation: the township
centre covers its villages, and the county may divert (交办) a village's dispute to it. The
tier of a mediation is the tier of the unit that acted — the unit recorded on the act
(``by_unit_id`` of its timeline event) — so the act of a higher tier moves the dispute there
(:func:`take_over`): the stay below ends ``taken_over`` (handed over, not passed up
unresolved) and the higher tier's stay gets the act's result.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select

from core.sdk import (Case, CaseEvent, Conflict, Forbidden, OrgUnit, add_case_event, may, network_holders, notify,
                      users_of_unit, utcnow)

from .models import Dispute, TierStep
from .permissions import ESCALATE


@dataclass(frozen=True)
class Tier:
    key: str
    title: str
    level: str | None
    network_roles: tuple[str, ...]
    days: int | None


def tiers_of(settings: dict) -> list[Tier]:
    return [Tier(t["key"], t["title"], t.get("level"), tuple(t.get("network_roles") or ()), t.get("days"))
            for t in settings.get("tiers") or []]


def _chain(session, unit: OrgUnit) -> list[OrgUnit]:
    """The unit and its ancestors, the unit first."""
    ids = [int(p) for p in unit.path.strip("/").split("/") if p]
    rows = {u.id: u for u in session.scalars(select(OrgUnit).where(OrgUnit.id.in_(ids)))}
    return [rows[i] for i in reversed(ids) if i in rows]


def holder(session, tier: Tier, unit: OrgUnit) -> tuple[OrgUnit, list] | None:
    """Who would hold the dispute of ``unit`` at ``tier``: (unit, network-role holders), or None."""
    if tier.level:
        for u in _chain(session, unit):
            if u.level == tier.level:
                return u, []
        return None
    held = network_holders(session, unit, list(tier.network_roles))
    people = [r for kind in tier.network_roles for r in held.get(kind, [])]
    return (unit, people) if people else None


def first_tier(session, settings: dict, unit: OrgUnit) -> Tier:
    """The lowest tier that can hold a dispute registered at ``unit`` (a dispute registered at a
    township starts at the township centre)."""
    all_tiers = tiers_of(settings)
    for tier in all_tiers:
        if tier.level and holder(session, tier, unit) is not None:
            return tier
    return all_tiers[0]


def enter(session, case: Case, tier: Tier, unit: OrgUnit, at: dt.datetime | None = None,
          people: list | None = None) -> TierStep:
    names = "、".join(dict.fromkeys(p.person_name for p in people or []))[:300]
    step = TierStep(case_id=case.id, tier=tier.key, org_unit_id=unit.id, holders=names, entered_at=at or utcnow(),
                    reason="")
    session.add(step)
    return step


def current_step(session, case: Case) -> TierStep | None:
    return session.scalar(select(TierStep).where(TierStep.case_id == case.id, TierStep.left_at.is_(None))
                          .order_by(TierStep.entered_at.desc(), TierStep.id.desc()).limit(1))


def leave(session, case: Case, result: str, reason: str = "", by: int | None = None) -> None:
    step = current_step(session, case)
    if step is not None:
        step.left_at, step.result, step.reason, step.escalated_by = utcnow(), result, reason, by


def tier_of_unit(session, settings: dict, unit: OrgUnit) -> tuple[Tier, OrgUnit] | None:
    """The level tier a unit's people act for, and the unit that holds it: the unit's own level,
    else the nearest ancestor's that is a tier (a village group acts for the village committee,
    a 管区 with no tier of its own for the township centre). None when no tier has a level on
    the unit's chain."""
    by_level = {t.level: t for t in tiers_of(settings) if t.level}
    for u in _chain(session, unit):
        if u.level in by_level:
            return by_level[u.level], u
    return None


def acting_unit_id(session, case: Case, act: str) -> int:
    """The unit the latest ``act`` on the case was done for (``by_unit_id`` of its timeline
    event); an act without one (the system's) is the handling unit's, else the case's unit's."""
    data = session.scalar(select(CaseEvent.data).where(CaseEvent.case_id == case.id, CaseEvent.kind == act)
                          .order_by(CaseEvent.at.desc(), CaseEvent.id.desc()).limit(1)) or {}
    return data.get("by_unit_id") or case.handling_unit_id or case.org_unit_id


def take_over(session, case: Case, settings: dict, act: str) -> TierStep | None:
    """Credit the dispute to the tier of the unit that did ``act`` (MED-3) when that tier is above
    the one holding it: the current stay ends ``taken_over`` and the higher tier's begins. An act
    by a unit of the holding tier or below (the village committee acting while the area leader
    and stationed cadre hold it) leaves the dispute where it is, as does an act by a holder of
    the holding network tier, whatever unit they work in. Returns the new stay, or None."""
    row = session.scalar(select(Dispute).where(Dispute.case_id == case.id))
    unit = session.scalar(select(OrgUnit).where(OrgUnit.id == acting_unit_id(session, case, act)))
    found = tier_of_unit(session, settings, unit) if unit is not None and row is not None else None
    if found is None:
        return None
    tier, target = found
    keys = [t.key for t in tiers_of(settings)]
    if row.tier in keys and keys.index(tier.key) <= keys.index(row.tier):
        return None
    held = next((t for t in tiers_of(settings) if t.key == row.tier), None)
    if held is not None and not held.level:  # a network tier: its holders act for it wherever they work
        actor = session.scalar(select(CaseEvent.actor_id).where(CaseEvent.case_id == case.id, CaseEvent.kind == act)
                               .order_by(CaseEvent.at.desc(), CaseEvent.id.desc()).limit(1))
        home = session.scalar(select(OrgUnit).where(OrgUnit.id == case.org_unit_id))
        people = (holder(session, held, home) or (None, []))[1] if home is not None else []
        if actor is not None and actor in {getattr(p, "user_id", None) for p in people}:
            return None
    leave(session, case, "taken_over")
    step = enter(session, case, tier, target)
    row.tier = tier.key
    return step


def escalate(w, case: Case, settings: dict, reason: str) -> TierStep:
    """Hand the dispute to the next tier up that has someone to take it (MED-3)."""
    s = w.session
    row = s.scalar(select(Dispute).where(Dispute.case_id == case.id))
    all_tiers = tiers_of(settings)
    keys = [t.key for t in all_tiers]
    if case.state not in ("registered", "mediating"):
        raise Conflict("not_escalatable", "只有待调解或调解中的纠纷可以上报")
    if not may(s, w.grants, ESCALATE, case.handling_unit_id or case.org_unit_id):
        raise Forbidden("not_your_unit", "纠纷已由上一级承办，只有承办单位可以继续上报")
    position = keys.index(row.tier) if row.tier in keys else -1
    unit = s.scalar(select(OrgUnit).where(OrgUnit.id == case.org_unit_id))
    for tier in all_tiers[position + 1:]:
        found = holder(s, tier, unit)
        if found is None:
            continue
        target, people = found
        leave(s, case, "escalated", reason, w.user_id)
        old_title = next((t.title for t in all_tiers if t.key == row.tier), row.tier)
        step = enter(s, case, tier, target, people=people)
        row.tier = tier.key
        if tier.level:
            case.handling_unit_id, case.handler_id = target.id, None
            users = users_of_unit(s, target.id)
        else:
            holders_users = [p.user_id for p in people if getattr(p, "user_id", None)]
            case.handler_id = holders_users[0] if holders_users else None
            users = holders_users or users_of_unit(s, target.id)
        add_case_event(w, case, "mediation.escalated", note=reason, unit_id=target.id,
                       data={"from": old_title, "to": tier.title, "to_tier": tier.key,
                             "holders": step.holders})
        notify(s, users, f"mediation.escalated:{case.id}:{tier.key}", f"矛盾纠纷上报：{case.number} {case.title}",
               f"由{old_title}上报至{tier.title}：{reason}", kind="todo", case_id=case.id)
        return step
    raise Conflict("top_tier", "已是最高一级，无法继续上报（可移送或引导诉讼）")


def back_trace(session, case: Case, settings: dict, now: dt.datetime | None = None) -> list[dict]:
    """The tiers a dispute went through (责任倒查): how long each held it, how it left, and
    which stalled — held it past the tier's limit (``days``), or passed it up unresolved."""
    now = now or utcnow()
    titles = {t.key: t for t in tiers_of(settings)}
    out = []
    for step in session.scalars(select(TierStep).where(TierStep.case_id == case.id)
                                .order_by(TierStep.entered_at, TierStep.id)):
        end = step.left_at or now
        held = end - step.entered_at
        tier = titles.get(step.tier)
        over = bool(tier and tier.days and held > dt.timedelta(days=tier.days))
        out.append({"tier": step.tier, "title": tier.title if tier else step.tier, "org_unit_id": step.org_unit_id,
                    "holders": step.holders, "entered_at": step.entered_at, "left_at": step.left_at,
                    "days": round(held.total_seconds() / 86400, 1), "result": step.result, "reason": step.reason,
                    "over_limit": over, "stalled": over or step.result == "escalated"})
    return out


def stalled_tier(trace: list[dict]) -> dict | None:
    """Where responsibility is traced back to: the first tier that held the dispute past its
    limit, else the first that passed it up unresolved."""
    return next((t for t in trace if t["over_limit"]), None) or next((t for t in trace if t["stalled"]), None)
