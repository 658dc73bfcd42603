"""Web pages of the visits plugin: one page listing the latest greetings in your scope."""
from __future__ import annotations

from flask import Blueprint, render_template
from sqlalchemy import select

from core.sdk import current, requires, scoped

from .api import sent_today
from .models import VisitsGreeting
from .permissions import READ

bp = Blueprint("visits_web", __name__, url_prefix="/visits", template_folder="templates")


@bp.route("/")
@requires(READ)
def index():
    ctx = current()
    greetings = ctx.session.scalars(
        scoped(select(VisitsGreeting), ctx.grants, READ, VisitsGreeting.org_unit_id)
        .order_by(VisitsGreeting.id.desc()).limit(20)).all()
    return render_template("visits/index.html", ctx=ctx, greetings=greetings, settings=ctx.plugins["visits"],
                           sent_today=sent_today(ctx.session))
