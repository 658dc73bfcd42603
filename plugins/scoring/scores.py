"""Scores: computed live from the indicators while a period is open, frozen when it is
published, corrected by upheld appeals; ranking with the county's tie rule."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from core.sdk import Conflict, OrgUnit, county_indicators, local_time, utcnow

from .models import Entry, Period, Result, Rubric
from .rubric import SOURCES, fmt, indicator_points, no_data_points, vetoes

STATES = {"open": "进行中", "published": "已公布", "appeal": "申诉期", "final": "已终结"}


def period_bounds(kind: str, year: int, number: int) -> tuple[dt.date, dt.date]:
    """The local dates [start, end) of a quarter, half-year or year."""
    months = {"quarter": 3, "half": 6, "year": 12}[kind]
    first = (number - 1) * months + 1
    start = dt.date(year, first, 1)
    end_month = first + months
    end = dt.date(year + 1, 1, 1) if end_month > 12 else dt.date(year, end_month, 1)
    return start, end


def period_title(p: Period) -> str:
    if p.kind == "quarter":
        return f"{p.year}年第{p.number}季度"
    if p.kind == "half":
        return f"{p.year}年{'上' if p.number == 1 else '下'}半年"
    return f"{p.year}年度"


def rubric_in_force(session, level: str, year: int) -> Rubric | None:
    """The latest version of the level's rubric for the year."""
    return session.scalar(select(Rubric).where(Rubric.level == level, Rubric.year == year)
                          .order_by(Rubric.version.desc()).limit(1))


def next_version(session, level: str, year: int) -> int:
    return (session.scalar(select(func.max(Rubric.version)).where(Rubric.level == level, Rubric.year == year)) or 0) + 1


def units_assessed(session, level: str) -> list[OrgUnit]:
    return list(session.scalars(select(OrgUnit).where(OrgUnit.level == level).order_by(OrgUnit.path)))


def _entries(session, period: Period, unit_id: int | None = None) -> dict:
    q = select(Entry).where(Entry.period_id == period.id)
    if unit_id is not None:
        q = q.where(Entry.org_unit_id == unit_id)
    return {(e.org_unit_id, e.item_key): e for e in session.scalars(q)}


def score_unit(session, period: Period, rubric: Rubric, unit: OrgUnit, indicators: dict, entries: dict,
               with_records: bool = False) -> dict:
    """One unit's score: every item with its figure (or entry), the rule in words and its points."""
    items, total, causes = [], 0.0, []
    for item in rubric.items:
        out = {"key": item["key"], "category": item["category"], "title": item["title"], "source": item["source"],
               "source_title": SOURCES[item["source"]], "max_points": item["points"], "veto": bool(item.get("veto")),
               "figure": None, "figure_unit": "", "indicator_title": "", "points": 0.0, "rule_text": "",
               "note": "", "records": None, "vetoed": False, "corrected": False}
        figure, passed = None, None
        if item["source"] == "indicator":
            ind = indicators.get(item["indicator"])
            if ind is None:
                out["rule_text"] = "该指标所属模块已停用，本项不计分"
            else:
                figure = ind.compute(session, unit.id, period.starts_on, period.ends_on)  # None: nothing to measure
                figure = None if figure is None else float(figure)
                out.update(figure=figure, figure_unit=ind.unit, indicator_title=ind.title)
                if with_records and ind.records is not None:
                    out["records"] = [dict(r, date=_day(r.get("date"))) for r in
                                      ind.records(session, unit.id, period.starts_on, period.ends_on)]
                if item.get("veto"):
                    out["rule_text"] = f"一票否决：达到{fmt(item.get('threshold'))}{ind.unit}即否决；" + (
                        "本期无数据，不否决" if figure is None else f"实际{fmt(figure)}{ind.unit}")
                elif figure is None:
                    out["points"], out["rule_text"] = no_data_points(item, ind.title)
                else:
                    out["points"], out["rule_text"] = indicator_points(item, figure)
        else:
            e = entries.get((unit.id, item["key"]))
            if e is not None:
                out["note"] = e.note
                if item["source"] == "manual":
                    out["points"] = min(item["points"], e.points or 0.0)
                    out["rule_text"] = f"考核人员评定{fmt(out['points'])}分（满分{fmt(item['points'])}分）"
                else:
                    passed = e.passed
                    out["passed"] = passed
                    if not item.get("veto"):
                        out["points"] = item["points"] if passed else 0.0
                    out["rule_text"] = f"检查结果：{'是' if passed else '否'}" + (
                        "" if item.get("veto") else f"，得{fmt(out['points'])}分")
            else:
                out["rule_text"] = "尚未评定"
        if vetoes(item, figure, passed):
            out["vetoed"] = True
            causes.append(item["title"])
        total += out["points"]
        items.append(out)
    return {"org_unit_id": unit.id, "unit_name": unit.name, "total": round(total, 2), "vetoed": bool(causes),
            "veto_cause": "、".join(causes), "items": items}


def _day(value) -> str | None:
    if isinstance(value, dt.datetime):
        return local_time(value)
    return value.isoformat() if isinstance(value, dt.date) else value


def rank(rows: list[dict], tie_rule: str, honours_top: int) -> list[dict]:
    """Rows ordered by total, ranked (ties as the county says: shared 1,1,3 or dense 1,1,2);
    the top ``honours_top`` that are not vetoed are honoured."""
    rows = sorted(rows, key=lambda r: (-r["total"], r["unit_name"]))
    last, place, dense = None, 0, 0
    for i, r in enumerate(rows):
        if r["total"] != last:
            place, dense, last = i + 1, dense + 1, r["total"]
        r["rank"] = place if tie_rule == "shared" else dense
        r["honoured"] = r["rank"] <= honours_top and not r["vetoed"]
    return rows


def reward(settings: dict, period: Period, rank_: int, vetoed: bool) -> int | None:
    """Yuan for a unit of ``period`` at ``rank_`` by the county's rewards per rank; None when none
    applies (a vetoed unit gets none)."""
    if vetoed:
        return None
    return next((r["amount"] for r in settings.get("rewards") or ()
                 if r["level"] == period.level and r["kind"] == period.kind and r["rank_from"] <= rank_ <= r["rank_to"]),
                None)


def live(session, period: Period, settings: dict) -> tuple[Rubric | None, list[dict]]:
    """The open period's scores from the indicators now (no records: those are on each card)."""
    rubric = rubric_in_force(session, period.level, period.year)
    if rubric is None:
        return None, []
    indicators, entries = county_indicators(session), _entries(session, period)
    rows = rank([score_unit(session, period, rubric, u, indicators, entries)
                 for u in units_assessed(session, period.level)], settings["tie_rule"], settings["honours_top"])
    for r in rows:
        r["reward"] = reward(settings, period, r["rank"], r["vetoed"])
    return rubric, rows


def frozen(session, period: Period) -> list[dict]:
    names = dict(session.execute(select(OrgUnit.id, OrgUnit.name)).all())
    return [{"org_unit_id": r.org_unit_id, "unit_name": names.get(r.org_unit_id, ""), "total": r.total,
             "rank": r.rank, "vetoed": r.vetoed, "veto_cause": r.veto_cause, "honoured": r.honoured, "reward": r.reward,
             "items": r.items}
            for r in session.scalars(select(Result).where(Result.period_id == period.id)
                                     .order_by(Result.rank, Result.org_unit_id))]


def results(session, period: Period, settings: dict) -> list[dict]:
    """Ranked rows of the period: live while open, the frozen snapshot afterwards. In an annual
    assessment a unit vetoed in the year before as well is marked with the county's advice (SCO-4)."""
    rows = live(session, period, settings)[1] if period.state == "open" else frozen(session, period)
    again = vetoed_the_year_before(session, period)
    for r in rows:
        r["repeat_veto_advice"] = settings["repeat_veto_advice"] if r["vetoed"] and r["org_unit_id"] in again else ""
    return rows


def vetoed_the_year_before(session, period: Period) -> set[int]:
    """The units vetoed in the published annual assessment of the year before (annual periods only)."""
    if period.kind != "year":
        return set()
    return set(session.scalars(select(Result.org_unit_id).join(Period, Period.id == Result.period_id).where(
        Period.level == period.level, Period.kind == "year", Period.year == period.year - 1,
        Period.state != "open", Result.vetoed.is_(True))))


def card(session, period: Period, unit: OrgUnit, settings: dict) -> dict | None:
    """One unit's score with every item explained and the records behind each indicator."""
    if period.state != "open":
        return next((r for r in frozen(session, period) if r["org_unit_id"] == unit.id), None)
    rubric = rubric_in_force(session, period.level, period.year)
    if rubric is None or unit.level != period.level:
        return None
    row = score_unit(session, period, rubric, unit, county_indicators(session), _entries(session, period, unit.id),
                     with_records=True)
    ranked = {r["org_unit_id"]: r for r in live(session, period, settings)[1]}
    row.update(rank=ranked[unit.id]["rank"], honoured=ranked[unit.id]["honoured"], reward=ranked[unit.id]["reward"])
    return row


def publish(session, period: Period, settings: dict) -> int:
    """Freeze the open period: every unit's score, its inputs and records, the rubric version."""
    if period.state != "open":
        raise Conflict("not_open", "只有进行中的考核期可以公布")
    rubric = rubric_in_force(session, period.level, period.year)
    if rubric is None:
        raise Conflict("no_rubric", "该层级本年度还没有考核细则")
    indicators, entries = county_indicators(session), _entries(session, period)
    rows = rank([score_unit(session, period, rubric, u, indicators, entries, with_records=True)
                 for u in units_assessed(session, period.level)], settings["tie_rule"], settings["honours_top"])
    for r in rows:
        session.add(Result(period_id=period.id, org_unit_id=r["org_unit_id"], total=r["total"], rank=r["rank"],
                           vetoed=r["vetoed"], veto_cause=r["veto_cause"], honoured=r["honoured"],
                           reward=reward(settings, period, r["rank"], r["vetoed"]), items=r["items"]))
    period.state, period.rubric_id, period.published_at = "published", rubric.id, utcnow()
    return len(rows)


def rerank(session, period: Period, settings: dict) -> None:
    """Ranks and honours of a frozen period again (after an upheld appeal changed a total)."""
    res = list(session.scalars(select(Result).where(Result.period_id == period.id)))
    names = dict(session.execute(select(OrgUnit.id, OrgUnit.name)).all())
    rows = rank([{"id": r.id, "total": r.total, "vetoed": r.vetoed, "unit_name": names.get(r.org_unit_id, "")}
                 for r in res], settings["tie_rule"], settings["honours_top"])
    by_id = {r.id: r for r in res}
    for row in rows:
        by_id[row["id"]].rank, by_id[row["id"]].honoured = row["rank"], row["honoured"]
        by_id[row["id"]].reward = reward(settings, period, row["rank"], row["vetoed"])
