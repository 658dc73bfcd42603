"""Dashboard widget: how many greetings are in your scope, and the newest one."""
from __future__ import annotations

from sqlalchemy import func, select

from core.sdk import RequestContext, scoped

from .models import VisitsGreeting
from .permissions import READ


def latest_greetings(ctx: RequestContext) -> dict:
    total = ctx.session.scalar(
        scoped(select(func.count(VisitsGreeting.id)), ctx.grants, READ, VisitsGreeting.org_unit_id)) or 0
    newest = ctx.session.scalars(scoped(select(VisitsGreeting), ctx.grants, READ, VisitsGreeting.org_unit_id)
                                 .order_by(VisitsGreeting.id.desc()).limit(1)).first()
    return {"total": total, "latest": newest.message if newest else None}
