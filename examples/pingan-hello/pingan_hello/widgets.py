"""Dashboard widget: how many greetings are in your scope, and the newest one."""
from __future__ import annotations

from sqlalchemy import func, select

from core.sdk import RequestContext, scoped

from .models import HelloGreeting
from .permissions import READ


def latest_greetings(ctx: RequestContext) -> dict:
    total = ctx.session.scalar(
        scoped(select(func.count(HelloGreeting.id)), ctx.grants, READ, HelloGreeting.org_unit_id)) or 0
    newest = ctx.session.scalars(scoped(select(HelloGreeting), ctx.grants, READ, HelloGreeting.org_unit_id)
                                 .order_by(HelloGreeting.id.desc()).limit(1)).first()
    return {"total": total, "latest": newest.message if newest else None}
