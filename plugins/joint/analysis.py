"""The monthly public-order analysis and warning level (RPT-2, seed 004 §6): recorded by the
county, with the figures behind it taken from the cases of every module, and shown on the home
page of the county's users (a dashboard widget)."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from core.sdk import Case, Conflict, Forbidden, Invalid, OrgUnit, may, request_work

from .models import Analysis
from .permissions import MANAGE

SHANGHAI = ZoneInfo("Asia/Shanghai")


def month_start(value: str) -> dt.date:
    """``2026-03`` → 2026-03-01; anything else is 422 at ``month``."""
    try:
        year, month = (int(p) for p in value.split("-"))
        return dt.date(year, month, 1)
    except (ValueError, TypeError):
        raise Invalid("month", "invalid_month", "月份格式：2026-03") from None


def _shift(day: dt.date, months: int) -> dt.date:
    n = day.year * 12 + day.month - 1 + months
    return dt.date(n // 12, n % 12 + 1, 1)


def _moment(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=SHANGHAI)


def figures(session, month: dt.date) -> dict:
    """Cases registered in the county in the month by type, the total, the month before and the
    same month a year before (RPT-1's comparison)."""
    def count(start: dt.date) -> int:
        return session.scalar(select(func.count(Case.id)).where(
            Case.created_at >= _moment(start), Case.created_at < _moment(_shift(start, 1)))) or 0
    titles = {k: v.title for k, v in request_work().types.items()}
    by_type = dict(session.execute(select(Case.case_type, func.count(Case.id)).where(
        Case.created_at >= _moment(month), Case.created_at < _moment(_shift(month, 1))).group_by(Case.case_type)).all())
    return {"by_type": [{"case_type": k, "title": titles.get(k, "其他"), "count": n} for k, n in sorted(by_type.items())],
            "total": sum(by_type.values()), "previous_month": count(_shift(month, -1)),
            "year_before": count(_shift(month, -12))}


def county_root(session) -> OrgUnit:
    return session.scalar(select(OrgUnit).where(OrgUnit.parent_id.is_(None)))


def record_analysis(ctx, settings: dict, data: dict) -> Analysis:
    """The county (``joint.manage`` on its root unit) sets the month's level and analysis."""
    s = ctx.session
    root = county_root(s)
    if root is None or not may(s, ctx.grants, MANAGE, root.id):
        raise Forbidden("county_only", "治安形势分析和预警等级由县级设定")
    month = month_start(data["month"])
    level = next((v for v in settings["warning_levels"] if v["key"] == data["level"]), None)
    if level is None:
        raise Invalid("level", "unknown_level", "不是本县设定的预警等级")
    if s.scalar(select(Analysis.id).where(Analysis.month == month)) is not None:
        raise Conflict("already_recorded", "该月的治安形势分析已登记")
    row = Analysis(month=month, level=level["key"], level_title=level["title"], analysis=data["analysis"],
                   figures=figures(s, month), created_by_id=ctx.user.id if ctx.user else None)
    s.add(row)
    s.flush()
    return row


def history(session, limit: int = 24) -> list[Analysis]:
    return list(session.scalars(select(Analysis).order_by(Analysis.month.desc()).limit(limit)))


def out(row: Analysis) -> dict:
    return {"id": row.id, "month": f"{row.month:%Y-%m}", "level": row.level, "level_title": row.level_title,
            "analysis": row.analysis, "figures": row.figures, "created_at": row.created_at}


def widget(ctx) -> dict | None:
    """The home page's widget: the latest month's warning level of the user's county."""
    latest = ctx.session.scalar(select(Analysis).order_by(Analysis.month.desc()).limit(1))
    if latest is None:
        return {"level": None, "month": None}
    return {"level": latest.level_title, "month": f"{latest.month.year}年{latest.month.month}月"}
