"""Incident reports (SAF-4): a major criminal, public-order or safety incident is reported to
the county within the county's limit (seed 004 §7: 四小时内报告县委、县政府); a later report is
flagged late and the county's people are told."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from core.sdk import Invalid, OrgUnit, get_or_404, notify, users_of_unit, utcnow

from .models import Incident
from .permissions import INCIDENT


def is_late(occurred_at: dt.datetime, reported_at: dt.datetime, limit_hours: int) -> bool:
    """Reported after ``limit_hours`` from when it occurred (exactly at the limit is on time)."""
    return reported_at - occurred_at > dt.timedelta(hours=limit_hours)


def report(ctx, data: dict) -> Incident:
    s = ctx.session
    unit = get_or_404(s, ctx.grants, OrgUnit, data["org_unit_id"], INCIDENT)
    now = utcnow()
    occurred = data["occurred_at"]
    if not 1900 <= occurred.year <= 2999:  # a form's time, bounded as the API's parser bounds it
        raise Invalid("occurred_at", "date_out_of_range", "发生时间超出范围（1900—2999 年）")
    if occurred > now + dt.timedelta(minutes=5):
        raise Invalid("occurred_at", "date_in_future", "发生时间不能晚于现在")
    hours = int(ctx.plugins["safety"]["incident_report_hours"])
    incident = Incident(org_unit_id=unit.id, title=data["title"], occurred_at=occurred, reported_at=now,
                        location=data["location"], description=data["description"], deaths=data.get("deaths", 0),
                        injuries=data.get("injuries", 0), losses=data.get("losses") or "",
                        measures=data.get("measures") or "", limit_hours=hours,
                        late=is_late(occurred, now, hours), reported_by_id=ctx.user.id if ctx.user else None)
    s.add(incident)
    s.flush()
    root = s.scalar(select(OrgUnit.id).where(OrgUnit.parent_id.is_(None)).limit(1))
    if root is not None:
        late = "（迟报）" if incident.late else ""
        notify(s, users_of_unit(s, root), f"safety.incident:{incident.id}", f"事件报告{late}：{unit.name} {incident.title}",
               f"{incident.location}；死亡 {incident.deaths} 人，受伤 {incident.injuries} 人")
    return incident
