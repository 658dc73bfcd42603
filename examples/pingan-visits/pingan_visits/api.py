"""/api/visits/greetings — list, send and read greetings.

Every view carries ``@requires(...)`` (the app refuses to start otherwise); objects are
then checked against the user's subtree with ``scoped`` and ``get_or_404``, so a greeting
of another township (or another county) answers 404 just like one that does not exist.
"""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask.views import MethodView
from sqlalchemy import func, select

from core.sdk import (Blueprint, Conflict, OrgUnit, current, get_or_404, id_path, page_of, paginate, requires,
                      scoped, units_under, utcnow)

from .models import VisitsGreeting
from .permissions import MANAGE, READ
from .schemas import SORTABLE, GreetingCreateSchema, GreetingListArgs, GreetingSchema

blp = Blueprint("visits_api", __name__, url_prefix="/api/visits/greetings", description="问候（示例模块） / Greetings")
CHINA = ZoneInfo("Asia/Shanghai")


def sent_today(session) -> int:
    """Greetings the county sent since local (Beijing) midnight."""
    local_midnight = datetime.now(CHINA).replace(hour=0, minute=0, second=0, microsecond=0)
    since = local_midnight.astimezone(ZoneInfo("UTC"))
    return session.scalar(select(func.count(VisitsGreeting.id))
                          .where(VisitsGreeting.created_at >= since)) or 0


@blp.route("")
class Greetings(MethodView):
    @requires(READ)
    @blp.arguments(GreetingListArgs, location="query")
    @blp.response(200, page_of(GreetingSchema))
    def get(self, args):
        """Greetings in your scope, newest first (``under`` narrows to one unit's subtree)."""
        ctx = current()
        stmt = scoped(select(VisitsGreeting), ctx.grants, READ, VisitsGreeting.org_unit_id)
        if "under" in args:
            root = get_or_404(ctx.session, ctx.grants, OrgUnit, args["under"], READ)
            stmt = stmt.where(VisitsGreeting.org_unit_id.in_(units_under(root.path)))
        return paginate(ctx.session, stmt, args, VisitsGreeting.id, SORTABLE, "-id")

    @requires(MANAGE)
    @blp.arguments(GreetingCreateSchema)
    @blp.response(201, GreetingSchema)
    def post(self, data):
        """Send a greeting to someone in a unit you manage (the county's daily limit applies)."""
        ctx = current()
        settings = ctx.plugins["visits"]
        unit = get_or_404(ctx.session, ctx.grants, OrgUnit, data["org_unit_id"], MANAGE)
        if unit.status != "active":
            raise Conflict("unit_retired", "该单位已撤销，不能再发送问候")
        if sent_today(ctx.session) >= settings["max_per_day"]:
            raise Conflict("daily_limit_reached", f"今天的问候已达上限（{settings['max_per_day']} 条），请明天再发")
        greeting = VisitsGreeting(org_unit_id=unit.id, recipient=data["recipient"],
                                 message=f"{settings['greeting_prefix']}{data['recipient']}！",
                                 created_by_id=ctx.user.id, created_at=utcnow())
        ctx.session.add(greeting)
        ctx.session.commit()
        return greeting


@blp.route("/<greeting_id>")
class GreetingItem(MethodView):
    @requires(READ)
    @blp.response(200, GreetingSchema)
    def get(self, greeting_id):
        ctx = current()
        return get_or_404(ctx.session, ctx.grants, VisitsGreeting, id_path(greeting_id), READ)


__all__ = ["blp", "sent_today"]
