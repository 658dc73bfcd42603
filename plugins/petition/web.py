"""The petitioner's status page (PET-7): ``/petition/status``, no sign-in, no script needed.

The same service as ``POST /api/petition/public/status``: a code from the receipt in, the
petition's stage and steps out, and the rating once an answer is given. Errors (wrong code,
too many tries) are shown on the page in Chinese.
"""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from flask import Blueprint, render_template, request

from core.sdk import PinganError, public

from . import status
from .api import _status, _view

SHANGHAI = ZoneInfo("Asia/Shanghai")
bp = Blueprint("petition_web", __name__, url_prefix="/petition", template_folder="templates")


def _local(view: dict) -> dict:
    """Dates as the petitioner reads them (Asia/Shanghai)."""
    def day(v):
        return f"{v.astimezone(SHANGHAI):%Y年%m月%d日}" if v else ""
    due = view["due_at"].astimezone(SHANGHAI) if view["due_at"] else None
    return {**view, "registered_at": day(view["registered_at"]),
            # a limit ends at 24:00 of its last day, stored as the next day's 00:00
            "due_at": f"{(due - dt.timedelta(minutes=1)):%Y年%m月%d日}" if due else "",
            "steps": [{"step": s["step"], "at": day(s["at"])} for s in view["steps"]]}


def _page(view: dict | None = None, code: str = "", error: str | None = None, done: str | None = None,
          http: int = 200):
    return render_template("petition/status.html", view=_local(view) if view else None, code=code, error=error, done=done,
                           ratings=status.RATINGS), http


@bp.route("/status", methods=["GET", "POST"])
@public
def status_page():
    if request.method == "GET":
        return _page()
    code = request.form.get("code", "").strip()[:40]
    if not code:
        return _page(error="请输入回执上的查询码", http=422)
    try:
        ctx, settings, case, row = _status(code)
        rating = request.form.get("rating")
        done = None
        if rating:
            status.rate(ctx.session, case, row, rating)
            ctx.session.commit()
            done = "感谢您的评价"
        return _page(_view(ctx, settings, case, row), code, done=done)
    except PinganError as exc:
        return _page(code=code, error=exc.message, http=exc.status)
