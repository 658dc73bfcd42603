"""A mechanism's live work (JNT-1): the open cases of the case types the county names for it,
within the caller's scope, and its figures."""
from __future__ import annotations

from sqlalchemy import func, select

from zoneinfo import ZoneInfo

from core.sdk import Case, NotFound, scoped, utcnow

SHANGHAI = ZoneInfo("Asia/Shanghai")

CASE_READ = "core.case.read"
LIVE_LIMIT = 100


def mechanism(settings: dict, key: str) -> dict:
    found = next((m for m in settings["mechanisms"] if m["key"] == key), None)
    if found is None:
        raise NotFound()
    return found


def _cases(ctx, mech: dict):
    return scoped(select(Case).where(Case.case_type.in_(mech["case_types"] or ["-"])),
                  ctx.grants, CASE_READ, Case.org_unit_id)


def live_cases(ctx, mech: dict) -> list[Case]:
    """Open cases of the mechanism's case types, the most urgent first."""
    stmt = _cases(ctx, mech).where(Case.closed_at.is_(None))
    return list(ctx.session.scalars(stmt.order_by(Case.due_at.is_(None), Case.due_at, Case.id.desc()).limit(LIVE_LIMIT)))


def figures(ctx, mech: dict) -> dict:
    """Open, overdue (earliest limit passed) and closed this month (Beijing time)."""
    now = utcnow()
    local = now.astimezone(SHANGHAI)
    month_start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    base = _cases(ctx, mech).with_only_columns(func.count(Case.id))
    s = ctx.session
    return {"open": s.scalar(base.where(Case.closed_at.is_(None))),
            "overdue": s.scalar(base.where(Case.closed_at.is_(None), Case.due_at < now)),
            "closed_this_month": s.scalar(base.where(Case.closed_at >= month_start))}
