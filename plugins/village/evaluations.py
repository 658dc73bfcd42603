"""Two-ballot evaluation (两票评事, VIL-5): once a year the villagers' ballot and the party
members' ballot of a village are entered as counts per option; a satisfaction under the
county's threshold on either ballot (90 % in seed 001) registers a rectification
(``village.rectification``) with its time limit on the case engine.

Satisfaction = (满意 + 基本满意, if the county counts it) / valid ballots, per ballot. Every
figure reconciles: the valid ballots of a ballot are at most those issued.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import func, select

from core.sdk import (Case, Conflict, Invalid, OrgUnit, module_settings, period_day, period_moment, record, register_case,
                      units_under)

from .cases import KEY
from .models import Evaluation
from .projects import not_future

BALLOTS = {"villager": "村民票", "party": "党员票"}
OPTIONS = {"satisfied": "满意", "basic": "基本满意", "unsatisfied": "不满意"}


def satisfaction(counts: dict, basic_counts: bool) -> Decimal:
    valid = sum(counts[o] for o in OPTIONS)
    good = counts["satisfied"] + (counts["basic"] if basic_counts else 0)
    return (Decimal(good * 100) / valid).quantize(Decimal("0.1")) if valid else Decimal(0)


def evaluate(w, unit: OrgUnit, data: dict) -> Evaluation:
    s = w.session
    settings = module_settings(s, "village")
    not_future("held_on", data["held_on"])
    if data["held_on"].year != data["year"] and data["held_on"].year != data["year"] + 1:
        raise Invalid("held_on", "wrong_year", "评议日期须在评议年度内或次年")
    pcts = {}
    for ballot, title in BALLOTS.items():
        counts = {o: data[f"{ballot}_{o}"] for o in OPTIONS}
        valid, issued = sum(counts.values()), data[f"{ballot}_issued"]
        if valid > issued:
            raise Invalid(f"{ballot}_satisfied", "ballots_exceed_issued",
                          f"{title}有效票合计 {valid} 张，多于发出的 {issued} 张")
        if valid == 0:
            raise Invalid(f"{ballot}_satisfied", "no_ballots", f"{title}没有有效票")
        pcts[ballot] = satisfaction(counts, settings["basic_counts_as_satisfied"])
    if s.scalar(select(Evaluation.id).where(Evaluation.org_unit_id == unit.id, Evaluation.year == data["year"],
                                            Evaluation.subject == data["subject"])) is not None:
        raise Conflict("already_evaluated", f"{unit.name}{data['year']}年度的“{data['subject']}”评议已录入")
    threshold = int(settings["satisfaction_pct"])
    e = Evaluation(org_unit_id=unit.id, year=data["year"], subject=data["subject"], held_on=data["held_on"],
                   villager_pct=pcts["villager"], party_pct=pcts["party"], threshold_pct=threshold,
                   passed=all(p >= threshold for p in pcts.values()), created_by=w.user_id,
                   **{f"{b}_{o}": data[f"{b}_{o}"] for b in BALLOTS for o in (*OPTIONS, "issued")})
    s.add(e)
    s.flush()
    if not e.passed:
        low = "、".join(f"{BALLOTS[b]}满意率 {p}%" for b, p in pcts.items() if p < threshold)
        register_case(w, w.types[KEY], {
            "title": f"{unit.name}{e.year}年度两票评议整改（{e.subject}）", "org_unit_id": unit.id,
            "content": f"{low}，低于本县门槛 {threshold}%，责成村两委限期整改，直到群众满意为止。",
            "details": {"evaluation_id": e.id}})
    record(s, "village.evaluated", "village_evaluation", e.id,
           {"year": e.year, "villager_pct": str(e.villager_pct), "party_pct": str(e.party_pct),
            "threshold": threshold, "passed": e.passed, "case_id": e.case_id})
    return e


def evaluation_out(e: Evaluation, unit_name: str = "", case: Case | None = None) -> dict:
    out = {"id": e.id, "org_unit_id": e.org_unit_id, "org_unit_name": unit_name, "year": e.year,
           "subject": e.subject, "held_on": e.held_on, "villager_pct": str(e.villager_pct),
           "party_pct": str(e.party_pct), "threshold_pct": e.threshold_pct, "passed": e.passed,
           "case_id": e.case_id, "case_number": case.number if case else None,
           "case_state": case.state if case else None, "case_due_at": case.due_at if case else None,
           "case_closed": case.closed_at is not None if case else None}
    for b in BALLOTS:
        for o in (*OPTIONS, "issued"):
            out[f"{b}_{o}"] = getattr(e, f"{b}_{o}")
    return out


def below_threshold(session, unit_id: int, start, end) -> float:
    """Indicator: evaluations held in the period in the unit's subtree whose satisfaction was
    under the county's threshold (each one a rectification)."""
    path = session.scalar(select(OrgUnit.path).where(OrgUnit.id == unit_id))
    if path is None:
        return 0.0
    lo, hi = period_day(start), period_day(end)
    return float(session.scalar(select(func.count(Evaluation.id)).where(
        Evaluation.org_unit_id.in_(units_under(path)), Evaluation.passed.is_(False),
        Evaluation.held_on >= lo, Evaluation.held_on < hi)) or 0)


def rectifications_open(session, unit_id: int, start, end) -> float:
    """Indicator: rectifications registered in the period in the unit's subtree not yet finished."""
    path = session.scalar(select(OrgUnit.path).where(OrgUnit.id == unit_id))
    if path is None:
        return 0.0
    return float(session.scalar(select(func.count(Case.id)).where(
        Case.case_type == KEY, Case.org_unit_id.in_(units_under(path)), Case.closed_at.is_(None),
        Case.created_at >= period_moment(start), Case.created_at < period_moment(end))) or 0)
