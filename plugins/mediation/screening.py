"""Screening rounds (排查, MED-1): which units report, how often, by when; filing a report
(the disputes found, or nil); and the missing and late reports flagged to the level above.

Periods: ``2026-W48`` (ISO week, weekly), ``2026-11-1`` / ``2026-11-2`` (1st–15th, 16th–end,
half-monthly), ``2026-11`` (monthly). A weekly report is due by 24:00 of the county's weekday
in that week, a half-monthly one by the end of its half, a monthly one by 24:00 of the
county's day of that month (the 20th by default, as in seed 000 doc 2).
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import select

from core.sdk import (Case, Conflict, Invalid, NotFound, OrgUnit, job_transaction, limit_end, local_time, may,
                      module_settings, notify, record, units_under, users_of_unit, utcnow)

from .models import Dispute, ScreeningReport
from .permissions import READ, REGISTER

SHANGHAI = ZoneInfo("Asia/Shanghai")
PATTERNS = {"weekly": re.compile(r"^(\d{4})-W(\d{2})$"), "half_monthly": re.compile(r"^(\d{4})-(\d{2})-([12])$"),
            "monthly": re.compile(r"^(\d{4})-(\d{2})$")}


@dataclass(frozen=True)
class Period:
    key: str
    cadence: str
    first: dt.date
    last: dt.date
    due_at: dt.datetime  # aware, Asia/Shanghai

    @property
    def title(self) -> str:
        if self.cadence == "weekly":
            return f"{self.first:%Y-%m-%d}至{self.last:%m-%d}（第{int(self.key[-2:])}周）"
        if self.cadence == "half_monthly":
            return f"{self.first.year}年{self.first.month}月{'上' if self.key.endswith('-1') else '下'}半月"
        return f"{self.first.year}年{self.first.month}月"


def _end_of(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=SHANGHAI)


def _month_last(year: int, month: int) -> dt.date:
    return (dt.date(year + month // 12, month % 12 + 1, 1)) - dt.timedelta(days=1)


def period(cadence: str, key: str, settings: dict) -> Period:
    """The period ``key`` of ``cadence``; ``ValueError`` if the key is not one."""
    m = PATTERNS[cadence].match(key or "")
    if not m:
        raise ValueError(key)
    if cadence == "weekly":
        first = dt.date.fromisocalendar(int(m[1]), int(m[2]), 1)
        last = first + dt.timedelta(days=6)
        due = first + dt.timedelta(days=int(settings.get("weekly_due_weekday", 7)) - 1)
    elif cadence == "half_monthly":
        year, month, half = int(m[1]), int(m[2]), m[3]
        first = dt.date(year, month, 1 if half == "1" else 16)
        last = dt.date(year, month, 15) if half == "1" else _month_last(year, month)
        due = last
    else:
        year, month = int(m[1]), int(m[2])
        first, last = dt.date(year, month, 1), _month_last(year, month)
        due = dt.date(year, month, int(settings.get("monthly_due_day", 20)))
    return Period(key, cadence, first, last, _end_of(due))


def period_on(cadence: str, day: dt.date, settings: dict) -> Period:
    """The period of ``cadence`` that ``day`` falls in."""
    if cadence == "weekly":
        year, week, _ = day.isocalendar()
        return period(cadence, f"{year}-W{week:02d}", settings)
    if cadence == "half_monthly":
        return period(cadence, f"{day:%Y-%m}-{1 if day.day <= 15 else 2}", settings)
    return period(cadence, f"{day:%Y-%m}", settings)


def cadence_of(settings: dict, level: str) -> str | None:
    return next((c["cadence"] for c in settings.get("screening") or [] if c["level"] == level), None)


def file_report(w, unit_id: int, key: str, nil: bool, note: str, dispute_ids: list[int]) -> ScreeningReport:
    """A unit files its report for a period: the disputes it found (already registered), or nil."""
    s = w.session
    settings = module_settings(s, "mediation")
    unit = s.scalar(select(OrgUnit).where(OrgUnit.id == unit_id, OrgUnit.status == "active"))
    if unit is None or not may(s, w.grants, REGISTER, unit_id):
        raise NotFound("unit_not_found", "单位不存在或不在您的管辖范围内")
    cadence = cadence_of(settings, unit.level)
    if cadence is None:
        raise Invalid("org_unit_id", "no_cadence", "本县未要求该层级单位报送排查情况（见模块设置）")
    try:
        p = period(cadence, key, settings)
    except ValueError:
        raise Invalid("period", "invalid_period", f"报送期间格式有误（{cadence}：如 "
                      f"{period_on(cadence, dt.date.today(), settings).key}）") from None
    now = utcnow()
    if p.first > now.astimezone(SHANGHAI).date():
        raise Invalid("period", "future_period", "不能报送尚未开始的期间")
    if nil and dispute_ids:
        raise Invalid("dispute_ids", "nil_with_disputes", "无矛盾纠纷报告（零报告）不能列出纠纷")
    if not nil and not dispute_ids:
        raise Invalid("dispute_ids", "no_disputes", "请列出排查发现的矛盾纠纷，或选择零报告")
    if s.scalar(select(ScreeningReport.id).where(ScreeningReport.org_unit_id == unit_id,
                                                 ScreeningReport.period == p.key)) is not None:
        raise Conflict("already_filed", f"{unit.name}已报送{p.title}的排查情况")
    report = ScreeningReport(org_unit_id=unit_id, period=p.key, cadence=cadence, nil=nil, found=0, note=note,
                             filed_at=now, filed_by=w.user_id, late=now > p.due_at)
    s.add(report)
    s.flush()
    for i, did in enumerate(dict.fromkeys(dispute_ids)):
        row = s.scalar(select(Dispute).join(Case, Case.id == Dispute.case_id).where(
            Case.id == did, Case.org_unit_id.in_(units_under(unit.path))))
        if row is None:
            raise Invalid(f"dispute_ids.{i}", "unknown_dispute", f"纠纷 {did} 不存在或不属于本单位")
        row.screening_id = report.id
        report.found += 1
    if report.late:
        notify(s, users_above(s, unit), f"mediation.screening.late:{unit.id}:{p.key}",
               f"排查情况迟报：{unit.name} {p.title}",
               f"应于 {limit_end(p.due_at)} 前报送，实际 {local_time(now)} 报送")
    record(s, "mediation.screening_filed", "mediation_screening", report.id,
           {"unit": unit.id, "period": p.key, "nil": nil, "found": report.found, "late": report.late})
    return report


def users_above(session, unit: OrgUnit) -> list[int]:
    """Who "the level above" is: the users of the nearest unit above ``unit`` that has any (a
    管区 often has none of its own, so its township is told)."""
    ids = [int(p) for p in unit.path.strip("/").split("/") if p][:-1]
    for uid in reversed(ids):
        users = users_of_unit(session, uid)
        if users:
            return users
    return []


def link_dispute(session, row: Dispute, case: Case) -> None:
    """A dispute registered from a report already filed: counted in it (same unit or below)."""
    report = session.scalar(select(ScreeningReport).where(ScreeningReport.id == row.screening_id))
    unit_path = session.scalar(select(OrgUnit.path).where(OrgUnit.id == case.org_unit_id))
    report_path = session.scalar(select(OrgUnit.path).where(OrgUnit.id == report.org_unit_id)) if report else None
    if report is None or report.nil or not unit_path.startswith(report_path):
        raise Invalid("details.screening_id", "unknown_screening", "排查报告不存在、为零报告或不属于本单位")
    report.found += 1


def status(session, grants, level: str, key: str, now: dt.datetime | None = None) -> dict:
    """Every unit of ``level`` in the user's scope for period ``key``: filed on time, filed late,
    missing (past due, flagged) or not yet due."""
    settings = module_settings(session, "mediation")
    cadence = cadence_of(settings, level)
    if cadence is None:
        raise Invalid("level", "no_cadence", "本县未要求该层级单位报送排查情况（见模块设置）")
    try:
        p = period(cadence, key, settings)
    except ValueError:
        raise Invalid("period", "invalid_period", "报送期间格式有误") from None
    now = now or utcnow()
    units = [u for u in session.scalars(select(OrgUnit).where(OrgUnit.level == level, OrgUnit.status == "active")
                                        .order_by(OrgUnit.path))
             if grants.covers(READ, u.path)]
    filed = {r.org_unit_id: r for r in session.scalars(select(ScreeningReport).where(
        ScreeningReport.period == p.key, ScreeningReport.org_unit_id.in_([u.id for u in units])))}
    rows = []
    for u in units:
        r = filed.get(u.id)
        state = ("late" if r.late else "on_time") if r else ("missing" if now > p.due_at else "pending")
        rows.append({"org_unit_id": u.id, "org_unit": u.name, "state": state, "report_id": r.id if r else None,
                     "nil": r.nil if r else None, "found": r.found if r else None,
                     "filed_at": r.filed_at if r else None})
    return {"period": p.key, "title": p.title, "cadence": cadence, "due_at": p.due_at, "units": rows}


def check_missing(session, now: dt.datetime | None = None) -> int:
    """Scheduled: each unit that must report and has not filed its last period due is flagged
    to the level above (a to-do for the parent unit's users, once per unit and period)."""
    settings = module_settings(session, "mediation")
    now = now or utcnow()
    today = now.astimezone(SHANGHAI).date()
    flagged = 0
    for entry in settings.get("screening") or []:
        p = period_on(entry["cadence"], today, settings)
        if now <= p.due_at:  # this period's report is not due yet: look at the one before
            p = period_on(entry["cadence"], p.first - dt.timedelta(days=1), settings)
        units = session.scalars(select(OrgUnit).where(OrgUnit.level == entry["level"], OrgUnit.status == "active",
                                                      OrgUnit.created_at < p.due_at)).all()
        done = set(session.scalars(select(ScreeningReport.org_unit_id).where(ScreeningReport.period == p.key)))
        for u in units:
            if u.id in done:
                continue
            flagged += notify(session, users_above(session, u),
                              f"mediation.screening.missing:{u.id}:{p.key}",
                              f"排查情况未报：{u.name} {p.title}",
                              f"应于 {limit_end(p.due_at)} 前报送", kind="todo")
    return flagged


def scheduled_check(tenant_id: int) -> None:
    with job_transaction() as s:
        check_missing(s)
