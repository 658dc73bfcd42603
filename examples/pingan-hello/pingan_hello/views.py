"""Web pages of the hello plugin: one page listing the latest greetings in your scope."""
from __future__ import annotations

from flask import Blueprint, render_template
from sqlalchemy import select

from core.sdk import current, requires, scoped

from .api import sent_today
from .models import HelloGreeting
from .permissions import READ

bp = Blueprint("hello_web", __name__, url_prefix="/hello", template_folder="templates")


@bp.route("/")
@requires(READ)
def index():
    ctx = current()
    greetings = ctx.session.scalars(
        scoped(select(HelloGreeting), ctx.grants, READ, HelloGreeting.org_unit_id)
        .order_by(HelloGreeting.id.desc()).limit(20)).all()
    return render_template("hello/index.html", ctx=ctx, greetings=greetings, settings=ctx.plugins["hello"],
                           sent_today=sent_today(ctx.session))
