"""Petition quotas (上访指标, PET-4): level-skipping and abnormal petitions counted against each
unit's quota, and the accountability a breach raises.

A county sets quotas per unit and period (``petition_quota``), or per level of the org tree
as a default (``default_quotas`` in the module settings). A level-skipping petition
(越级访: to the county, city, province or Beijing) or an abnormal one (非正常访) is recorded
against the petitioner's village, and so counts for every unit above it. When a record takes
a unit past its quota, an accountability record is raised naming the people the county holds
responsible (``accountable_roles``: by default the unit's 包片领导 and 驻村干部, as they were on
the day), and they and the unit's users are told.
"""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from core.sdk import (Conflict, Indicator, Invalid, NotFound, OrgUnit, network_holders, notify, period_day, period_moment,
                      record, units_under,
                      users_of_unit, utcnow)

from .models import Accountability, Escalation, Quota

LEVELS = {"county": "到县", "city": "赴市", "province": "赴省", "beijing": "进京"}
# Quota kinds: all level-skipping petitions together, each destination, abnormal petitions.
KINDS = {"level_skipping": "越级访（合计）", **{k: f"越级访·{v}" for k, v in LEVELS.items()}, "abnormal": "非正常访"}
PERIODS = {"year": "年度", "quarter": "季度", "month": "月度"}
ROLE_TITLES = {"area_leader": "包片领导", "stationed_cadre": "驻村干部"}  # GLOSSARY; other kinds show their key
SHANGHAI = ZoneInfo("Asia/Shanghai")


def period_of(day: dt.date, period: str) -> str:
    """``2026`` | ``2026-Q2`` | ``2026-05`` — the quota period ``day`` falls in."""
    if period == "quarter":
        return f"{day.year}-Q{(day.month - 1) // 3 + 1}"
    if period == "month":
        return f"{day.year}-{day.month:02d}"
    return str(day.year)


def period_range(period: str) -> tuple[dt.date, dt.date]:
    """First day and the day after the last of a period key (422 ``invalid_period`` if malformed)."""
    try:
        year = int(period[:4])
        if len(period) == 4:
            return dt.date(year, 1, 1), dt.date(year + 1, 1, 1)
        if period[4:6] == "-Q" and len(period) == 7 and period[6] in "1234":
            q = int(period[6])
            start = dt.date(year, 3 * q - 2, 1)
            return start, (dt.date(year + 1, 1, 1) if q == 4 else dt.date(year, 3 * q + 1, 1))
        if period[4] == "-" and len(period) == 7:
            month = int(period[5:])
            start = dt.date(year, month, 1)
            return start, (dt.date(year + 1, 1, 1) if month == 12 else dt.date(year, month + 1, 1))
    except (ValueError, IndexError):
        pass
    raise Invalid("period", "invalid_period", "期间格式应为 2026、2026-Q1 或 2026-03")


def counts_toward(esc: Escalation) -> list[str]:
    """The quota kinds one record uses up."""
    return ["level_skipping", esc.level] + (["abnormal"] if esc.abnormal else [])


def quota_of(session, unit: OrgUnit, period: str, kind: str, settings: dict) -> int | None:
    """The unit's own quota for the period, else its level's default; None: no quota."""
    own = session.scalar(select(Quota.quota).where(Quota.org_unit_id == unit.id, Quota.period == period,
                                                   Quota.kind == kind))
    if own is not None:
        return own
    return ((settings.get("default_quotas") or {}).get(unit.level) or {}).get(kind)


def used(session, unit: OrgUnit, period: str, kind: str) -> int:
    """Records of ``kind`` in the period attributed to the unit or any unit under it."""
    q = select(func.count()).select_from(Escalation).where(
        Escalation.period == period, Escalation.org_unit_id.in_(units_under(unit.path)))
    if kind == "abnormal":
        q = q.where(Escalation.abnormal.is_(True))
    elif kind != "level_skipping":
        q = q.where(Escalation.level == kind)
    return int(session.scalar(q) or 0)


def record_escalation(session, settings: dict, data: dict, user_id: int | None) -> tuple[Escalation, list]:
    """Record a level-skipping or abnormal petition and raise what it breaks. Audited."""
    unit = session.scalar(select(OrgUnit).where(OrgUnit.id == data["org_unit_id"]))
    if unit is None:
        raise Invalid("org_unit_id", "unknown_unit", "没有该单位")
    esc = Escalation(org_unit_id=unit.id, person_id=data.get("person_id"), petitioner=data["petitioner"],
                     level=data["level"], abnormal=data["abnormal"], occurred_on=data["occurred_on"],
                     period=period_of(data["occurred_on"], settings.get("quota_period", "year")),
                     people=data["people"], reported_by=data["reported_by"], case_id=data.get("case_id"),
                     note=data["note"], recorded_by=user_id)
    session.add(esc)
    session.flush()
    record(session, "petition.escalation", "petition_escalation", esc.id,
           {"unit": unit.id, "level": esc.level, "abnormal": esc.abnormal, "on": esc.occurred_on.isoformat()})
    chain = session.scalars(select(OrgUnit).where(OrgUnit.id.in_(_path_ids(unit.path)))).all()
    raised = []
    for u in sorted(chain, key=lambda u: -len(u.path)):  # the village first, then up the tree
        for kind in counts_toward(esc):
            quota = quota_of(session, u, esc.period, kind, settings)
            if quota is None:
                continue
            n = used(session, u, esc.period, kind)
            if n > quota:
                raised.append(_hold_accountable(session, settings, esc, u, kind, n, quota))
    return esc, raised


def _path_ids(path: str) -> list[int]:
    return [int(p) for p in path.strip("/").split("/") if p]


def _hold_accountable(session, settings: dict, esc: Escalation, unit: OrgUnit, kind: str, n: int,
                      quota: int) -> Accountability:
    kinds = list(settings.get("accountable_roles") or [])
    holders = network_holders(session, unit, kinds, on=esc.occurred_on)
    persons = [{"kind": k, "kind_title": ROLE_TITLES.get(k, k), "name": r.person_name, "network_role_id": r.id,
                "user_id": r.user_id, "org_unit_id": r.org_unit_id} for k in kinds for r in holders[k]]
    acc = Accountability(escalation_id=esc.id, org_unit_id=unit.id, period=esc.period, kind=kind, used=n,
                         quota=quota, persons=persons, state="open", outcome="")
    session.add(acc)
    session.flush()
    record(session, "petition.accountability", "petition_accountability", acc.id,
           {"unit": unit.id, "kind": kind, "used": n, "quota": quota,
            "persons": [p["name"] for p in persons]})
    names = "、".join(f"{p['kind_title']}{p['name']}" for p in persons) or "（未登记包片领导、驻村干部）"
    to = {u for unit_id in _path_ids(unit.path) for u in users_of_unit(session, unit_id)}  # the unit and above
    to |= {p["user_id"] for p in persons if p["user_id"]}
    notify(session, to, f"petition.accountability:{acc.id}",
           f"上访指标突破：{unit.name} {KINDS[kind]}（{esc.period}：{n}/{quota}）",
           f"问责对象：{names}。", kind="todo")
    return acc


def close_accountability(session, acc_id: int, outcome: str, user_id: int | None) -> Accountability:
    acc = session.scalar(select(Accountability).where(Accountability.id == acc_id))
    if acc is None:
        raise NotFound()
    if acc.state == "closed":
        raise Conflict("already_closed", "该问责记录已办结")
    acc.state, acc.outcome, acc.closed_by, acc.closed_at = "closed", outcome, user_id, utcnow()
    record(session, "petition.accountability_closed", "petition_accountability", acc.id, {"outcome": outcome})
    return acc


def usage(session, units: list[OrgUnit], period: str, settings: dict) -> list[dict]:
    """Quota and use per unit and kind, for the units given (their subtrees counted)."""
    out = []
    for u in units:
        for kind, title in KINDS.items():
            quota = quota_of(session, u, period, kind, settings)
            n = used(session, u, period, kind)
            if quota is None and n == 0:
                continue
            out.append({"org_unit_id": u.id, "unit_name": u.name, "period": period, "kind": kind,
                        "kind_title": title, "quota": quota, "used": n,
                        "breached": quota is not None and n > quota})
    return out


# --- indicators for the scoring module --------------------------------------------------------

def _escalations(session, kind: str, unit_id: int, period_start, period_end):
    """The filter of a unit's subtree's escalations of a kind in the period (None: no such unit)."""
    path = session.scalar(select(OrgUnit.path).where(OrgUnit.id == unit_id))
    if path is None:
        return None
    cond = [Escalation.org_unit_id.in_(units_under(path)), Escalation.occurred_on >= period_day(period_start),
            Escalation.occurred_on < period_day(period_end)]
    if kind == "abnormal":
        cond.append(Escalation.abnormal.is_(True))
    elif kind != "level_skipping":
        cond.append(Escalation.level == kind)
    return cond


def _indicator(kind: str):
    def compute(session, unit_id: int, period_start, period_end) -> float:
        cond = _escalations(session, kind, unit_id, period_start, period_end)
        return 0.0 if cond is None else float(session.scalar(select(func.count()).select_from(Escalation)
                                                             .where(*cond)) or 0)
    return compute


def _records(kind: str):
    """The escalations behind the figure: date, unit, level (no petitioner's name)."""
    def records(session, unit_id: int, period_start, period_end) -> list[dict]:
        cond = _escalations(session, kind, unit_id, period_start, period_end)
        if cond is None:
            return []
        rows = session.execute(select(Escalation.occurred_on, Escalation.level, Escalation.abnormal, OrgUnit.name)
                               .join(OrgUnit, OrgUnit.id == Escalation.org_unit_id).where(*cond)
                               .order_by(Escalation.occurred_on, Escalation.id)).all()
        return [{"date": r.occurred_on, "unit": r.name,
                 "title": "非正常访" if r.abnormal else f"越级访·{LEVELS.get(r.level, r.level)}"} for r in rows]
    return records


def breaches(session, unit_id: int, period_start, period_end) -> float:
    """Accountability records raised in the period for the unit or units under it."""
    path = session.scalar(select(OrgUnit.path).where(OrgUnit.id == unit_id))
    if path is None:
        return 0.0
    start, end = period_moment(period_start), period_moment(period_end)
    return float(session.scalar(select(func.count()).select_from(Accountability).where(
        Accountability.org_unit_id.in_(units_under(path)), Accountability.created_at >= start,
        Accountability.created_at < end)) or 0)


def indicators() -> list:
    out = [Indicator(key=f"petition.{kind}" if kind in ("level_skipping", "abnormal") else f"petition.level_skipping.{kind}",
                     title=f"{title}次数", title_en=f"Petitions: {kind.replace('_', ' ')}", unit="次",
                     compute=_indicator(kind), records=_records(kind)) for kind, title in KINDS.items()]
    out.append(Indicator(key="petition.quota_breaches", title="突破上访指标次数", title_en="Petition quota breaches",
                         unit="次", compute=breaches))
    return out
