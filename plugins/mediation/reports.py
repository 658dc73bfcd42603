"""Statistics and reports of the mediation module (MED-3, MED-4, MED-6, INT-4) and the
indicators it offers the scoring module.

Definitions (stated once, used everywhere):
- received: disputes registered in the period, in the unit's subtree;
- mediated: of those, the ones whose mediation has ended one way or another (agreed, a party
  refused, no agreement, guided to litigation, withdrawn) — referrals are counted apart;
- success rate: agreed ÷ mediated;
- guided to litigation: ended as ``litigation``, plus referrals out with a 建议立案书;
- civil-to-criminal prevented (民转刑 prevented): flagged "may turn criminal" and agreed.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from core.sdk import Case, Indicator, OrgUnit, module_settings, period_moment, units_under, xlsx_append

from .cases import KEY, OUTCOMES, REFERRAL_OUTCOMES
from .models import Dispute, Referral, TierStep
from .tiers import tiers_of

SHANGHAI = ZoneInfo("Asia/Shanghai")
ENDED = ("agreed", "refused", "no_agreement", "litigation", "withdrawn")


def _rows(session, unit_path: str, start: dt.datetime, end: dt.datetime):
    return session.execute(
        select(Case.id, Case.number, Case.title, Case.org_unit_id, Case.created_at, Case.closed_at, Case.state,
               Dispute.dispute_type, Dispute.outcome, Dispute.may_turn_criminal)
        .join(Dispute, Dispute.case_id == Case.id)
        .where(Case.case_type == KEY, Case.org_unit_id.in_(units_under(unit_path)),
               Case.created_at >= start, Case.created_at < end)).all()


def _figures(rows, suits: int = 0) -> dict:
    mediated = [r for r in rows if r.outcome in ENDED]
    agreed = sum(1 for r in mediated if r.outcome == "agreed")
    return {"received": len(rows), "mediated": len(mediated), "agreed": agreed,
            "success_percent": round(100 * agreed / len(mediated), 1) if mediated else None,
            "litigation": sum(1 for r in rows if r.outcome == "litigation") + suits,
            "criminal_prevented": sum(1 for r in rows if r.may_turn_criminal and r.outcome == "agreed"),
            "referred": sum(1 for r in rows if r.outcome == "referred"),
            "open": sum(1 for r in rows if r.outcome is None)}


def statistics(session, unit: OrgUnit, start: dt.datetime, end: dt.datetime) -> dict:
    """MED-6 figures for ``unit``'s subtree, by type, by child unit and by month."""
    rows = _rows(session, unit.path, start, end)
    suits = set(session.scalars(select(Referral.case_id).where(
        Referral.case_id.in_([r.id for r in rows]), Referral.direction == "out", Referral.document == "suit")))
    settings = module_settings(session, "mediation")
    titles = {t["key"]: t["title"] for t in settings.get("dispute_types") or []}
    children = session.scalars(select(OrgUnit).where(OrgUnit.parent_id == unit.id).order_by(OrgUnit.path)).all()
    paths = {u.id: u.path for u in session.scalars(select(OrgUnit).where(
        OrgUnit.id.in_({r.org_unit_id for r in rows})))}

    def group(key_of) -> dict:
        out = defaultdict(list)
        for r in rows:
            out[key_of(r)].append(r)
        return out

    by_type = group(lambda r: r.dispute_type)
    by_month = group(lambda r: r.created_at.astimezone(SHANGHAI).strftime("%Y-%m"))
    by_child = {c.id: [r for r in rows if paths.get(r.org_unit_id, "").startswith(c.path)] for c in children}

    def figures(rs) -> dict:
        return _figures(rs, sum(1 for r in rs if r.id in suits and r.outcome != "litigation"))
    return {"unit": {"id": unit.id, "name": unit.name}, "start": start, "end": end, "total": figures(rows),
            "by_type": [{"key": k, "title": titles.get(k, k), **figures(v)} for k, v in sorted(by_type.items())],
            "by_unit": [{"id": c.id, "name": c.name, **figures(by_child[c.id])} for c in children],
            "by_month": [{"month": k, **figures(v)} for k, v in sorted(by_month.items())]}


def tier_report(session, unit: OrgUnit, start: dt.datetime, end: dt.datetime) -> dict:
    """Per tier (MED-3): disputes it received, resolved there, passed up, handed over to a
    higher tier that took them up (``taken_over``: the township mediated a village's dispute),
    held past its limit; and the share settled at the lowest tiers ("小事不出村、大事不出乡").
    A dispute counts for the tier of the unit that mediated it (``tiers.take_over``), not for
    the tier where it was registered."""
    settings = module_settings(session, "mediation")
    all_tiers = tiers_of(settings)
    steps = session.execute(
        select(TierStep.tier, TierStep.result, TierStep.entered_at, TierStep.left_at, TierStep.case_id)
        .join(Case, Case.id == TierStep.case_id)
        .where(Case.case_type == KEY, Case.org_unit_id.in_(units_under(unit.path)),
               Case.created_at >= start, Case.created_at < end)).all()
    now = dt.datetime.now(dt.timezone.utc)
    out = []
    for tier in all_tiers:
        mine = [s for s in steps if s.tier == tier.key]
        over = [s for s in mine if tier.days and (s.left_at or now) - s.entered_at > dt.timedelta(days=tier.days)]
        out.append({"tier": tier.key, "title": tier.title, "received": len({s.case_id for s in mine}),
                    "resolved": sum(1 for s in mine if s.result == "resolved"),
                    "escalated": sum(1 for s in mine if s.result == "escalated"),
                    "ended": sum(1 for s in mine if s.result in ("ended", "referred")),
                    "taken_over": sum(1 for s in mine if s.result == "taken_over"),
                    "open": sum(1 for s in mine if s.left_at is None), "over_limit": len(over)})
    cases = {s.case_id for s in steps}
    resolved_at = {s.case_id: s.tier for s in steps if s.result == "resolved"}
    within = township_and_below(session, all_tiers)
    return {"unit": {"id": unit.id, "name": unit.name}, "tiers": out, "disputes": len(cases),
            "resolved_at_first_tier_percent": round(100 * sum(1 for t in resolved_at.values()
                                                              if all_tiers and t == all_tiers[0].key) / len(cases), 1)
            if cases else None,
            "resolved_below_township_percent": round(100 * sum(1 for t in resolved_at.values() if t in within)
                                                     / len(cases), 1) if cases and within else None}


def township_and_below(session, all_tiers) -> set[str]:
    """The tiers that settle a dispute "within the township" (大事不出乡): every tier up to and
    including the one held at the township level (the level of the county root's children), in
    the county's tier order. Without such a tier, those before the first tier held at the county
    level; an empty set when neither is configured (the share is then not shown)."""
    root = session.scalar(select(OrgUnit).where(OrgUnit.parent_id.is_(None)).limit(1))
    township = session.scalar(select(OrgUnit.level).where(OrgUnit.parent_id == root.id).limit(1)) if root else None
    keys = [t.key for t in all_tiers]
    levels = [t.level for t in all_tiers]
    if township in levels:
        return set(keys[:levels.index(township) + 1])
    if root is not None and root.level in levels:
        return set(keys[:levels.index(root.level)])
    return set()


def referral_report(session, unit: OrgUnit, start: dt.datetime, end: dt.datetime) -> list[dict]:
    """MED-4: referrals in and out by the other side, with their outcomes ("法庭移送 32 件，
    调解成功 29 件，判决 3 件")."""
    rows = session.execute(
        select(Referral.direction, Referral.from_kind, Referral.to_kind, Referral.from_body, Referral.to_body,
               Referral.outcome, func.count())
        .join(Case, Case.id == Referral.case_id)
        .where(Case.org_unit_id.in_(units_under(unit.path)), Referral.referred_at >= start,
               Referral.referred_at < end)
        .group_by(Referral.direction, Referral.from_kind, Referral.to_kind, Referral.from_body, Referral.to_body,
                  Referral.outcome)).all()
    groups: dict = {}
    for direction, from_kind, to_kind, from_body, to_body, outcome, n in rows:
        body = from_body if direction == "in" else to_body
        key = (direction, from_kind if direction == "in" else to_kind, body)
        g = groups.setdefault(key, {"direction": direction, "kind": key[1], "body": body, "referred": 0,
                                    **{o: 0 for o in REFERRAL_OUTCOMES}, "pending": 0})
        g["referred"] += n
        g[outcome] += n
    return sorted(groups.values(), key=lambda g: (g["direction"], g["kind"], g["body"]))


def weekly_closed(session, unit: OrgUnit, monday: dt.date) -> dict:
    """INT-4: the disputes closed in the week starting ``monday`` (周报表)."""
    start = dt.datetime.combine(monday, dt.time(0), tzinfo=SHANGHAI)
    end = start + dt.timedelta(days=7)
    settings = module_settings(session, "mediation")
    titles = {t["key"]: t["title"] for t in settings.get("dispute_types") or []}
    rows = session.execute(
        select(Case.id, Case.number, Case.title, Case.closed_at, Case.org_unit_id, Dispute.dispute_type,
               Dispute.outcome, OrgUnit.name)
        .join(Dispute, Dispute.case_id == Case.id).join(OrgUnit, OrgUnit.id == Case.org_unit_id)
        .where(Case.case_type == KEY, Case.org_unit_id.in_(units_under(unit.path)), Case.closed_at >= start,
               Case.closed_at < end).order_by(Case.closed_at)).all()
    return {"unit": {"id": unit.id, "name": unit.name}, "week_start": monday, "week_end": monday + dt.timedelta(days=6),
            "closed": [{"id": r.id, "number": r.number, "title": r.title, "closed_at": r.closed_at,
                        "unit": r.name, "type": titles.get(r.dispute_type, r.dispute_type),
                        "outcome": OUTCOMES.get(r.outcome or "", "")} for r in rows]}


# --- indicators for the scoring module ---------------------------------------------------------

def pushed_up(session, unit_id: int, period_start, period_end) -> float:
    """Disputes passed up from the first tier (the village committee) in the period."""
    path = session.scalar(select(OrgUnit.path).where(OrgUnit.id == unit_id))
    first = next(iter(tiers_of(module_settings(session, "mediation"))), None)
    if path is None or first is None:
        return 0.0
    return float(session.scalar(select(func.count()).select_from(TierStep).join(Case, Case.id == TierStep.case_id)
                                .where(Case.org_unit_id.in_(units_under(path)), TierStep.tier == first.key,
                                       TierStep.result == "escalated", TierStep.left_at >= period_moment(period_start),
                                       TierStep.left_at < period_moment(period_end))) or 0)


def success_rate(session, unit_id: int, period_start, period_end) -> float | None:
    """Success rate (percent) of the disputes registered in the period whose mediation ended;
    None (nothing to measure) when none did."""
    unit = session.scalar(select(OrgUnit).where(OrgUnit.id == unit_id))
    if unit is None:
        return None
    figures = _figures(_rows(session, unit.path, period_moment(period_start), period_moment(period_end)))
    return None if figures["success_percent"] is None else float(figures["success_percent"])


def indicators() -> list:
    return [Indicator(key="mediation.pushed_up", title="村级上交矛盾纠纷数", title_en="Disputes pushed upward",
                      unit="件", compute=pushed_up),
            Indicator(key="mediation.success_rate", title="调解成功率", title_en="Mediation success rate",
                      unit="%", compute=success_rate)]


# --- workbooks -------------------------------------------------------------------------------------

FIGURES = (("received", "受理"), ("mediated", "调结"), ("agreed", "调解成功"), ("success_percent", "成功率%"),
           ("litigation", "引导诉讼"), ("criminal_prevented", "防止民转刑"), ("referred", "移送"), ("open", "在办"))


def _book():
    from openpyxl import Workbook
    wb = Workbook()
    wb.remove(wb.active)
    return wb


def _bytes(wb) -> bytes:
    import io
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def workbook(report: dict, county: str) -> bytes:
    """The statistics as .xlsx: one sheet per grouping, a total row on each."""
    from openpyxl.styles import Font
    wb = _book()
    heading = (f"{county} {report['unit']['name']} 矛盾纠纷排查调处统计"
               f"（{report['start'].astimezone(SHANGHAI):%Y-%m-%d} 至 "
               f"{(report['end'] - dt.timedelta(days=1)).astimezone(SHANGHAI):%Y-%m-%d}）")
    for title, key, first, label in (("按类型", "by_type", "纠纷类型", "title"), ("按单位", "by_unit", "单位", "name"),
                                     ("按月份", "by_month", "月份", "month")):
        ws = wb.create_sheet(title)
        xlsx_append(ws, [heading])
        ws["A1"].font = Font(bold=True, size=14)
        xlsx_append(ws, [first, *(t for _, t in FIGURES)])
        for cell in ws[2]:
            cell.font = Font(bold=True)
        for row in [*report[key], {label: "合计", **report["total"]}]:
            xlsx_append(ws, [row[label], *(row[k] for k, _ in FIGURES)])
        ws.column_dimensions["A"].width = 22
    return _bytes(wb)


def weekly_workbook(report: dict, county: str) -> bytes:
    from openpyxl.styles import Font
    wb = _book()
    ws = wb.create_sheet("结案周报")
    xlsx_append(ws, [f"{county} {report['unit']['name']} 矛盾纠纷结案周报（{report['week_start']:%Y-%m-%d} 至 "
               f"{report['week_end']:%Y-%m-%d}）"])
    ws["A1"].font = Font(bold=True, size=14)
    xlsx_append(ws, ["编号", "事项", "纠纷类型", "所在单位", "结果", "结案时间"])
    for cell in ws[2]:
        cell.font = Font(bold=True)
    for r in report["closed"]:
        xlsx_append(ws, [r["number"], r["title"], r["type"], r["unit"], r["outcome"],
                   r["closed_at"].astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")])
    for col, width in zip("ABCDEF", (16, 36, 12, 16, 14, 18)):
        ws.column_dimensions[col].width = width
    return _bytes(wb)
