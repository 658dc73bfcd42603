"""/admin/audit — the county's audit log, newest first, filtered by actor (a user name or a
label such as ``system:sweep``), action, object type and id, and a date range (Beijing days).
The query is the API's (``core.api.audit_log.entries``, county-wide ``core.audit.read``);
bad filters come back in Chinese next to their fields (422)."""
from __future__ import annotations

import datetime as dt
import json

from flask import render_template, request
from sqlalchemy import select

from core import bounds
from core.api.audit_log import COUNTY_WIDE, READ, AuditListArgs, entries
from core.authz import require_county_wide
from core.errors import PinganError
from core.models import User
from core.request import current, requires
from core.web.admin import bp, form_with_errors, section
from core.web.cases import local
from core.workdays import SHANGHAI

section(70, "web_admin.audit", READ, "审计日志", "Audit log", county_wide=True)
PAGE = 50
ACTIONS = ["create", "update", "delete", "move", "login", "logout", "reset_password", "read_sensitive"]


def _day(raw: str, field: str, errors: dict) -> dt.datetime | None:
    if not raw:
        return None
    try:
        d = dt.date.fromisoformat(raw)
    except ValueError:
        errors[field] = "日期格式应为 2026-01-31"
        return None
    if bounds.problem(d):  # year 1 or 9999 (issue 14)
        errors[field] = bounds.MESSAGE_TIME
        return None
    return dt.datetime(d.year, d.month, d.day, tzinfo=SHANGHAI)


@bp.route("/audit")
@requires(READ)
def audit():
    ctx = current()
    require_county_wide(ctx.session, ctx.grants, READ, COUNTY_WIDE)
    values = {k: request.args.get(k, "").strip() for k in ("actor", "action", "object_type", "object_id", "since",
                                                            "until", "cursor")}
    raw = {k: values[k] for k in ("action", "object_type", "object_id", "cursor") if values[k]}
    args, errors = form_with_errors(AuditListArgs(), {**raw, "limit": PAGE})
    since = _day(values["since"], "since", errors)
    until = _day(values["until"], "until", errors)
    if since:
        args["since"] = since
    if until:
        args["until"] = until + dt.timedelta(days=1)  # the last day included
    if values["actor"]:
        if ":" in values["actor"]:
            args["actor"] = values["actor"][:100]
        else:
            uid = ctx.session.scalar(select(User.id).where(User.username == values["actor"][:64]))
            if uid is None:
                errors["actor"] = "没有该用户名的用户"
            args["actor_id"] = uid
    page, error = {"items": [], "next_cursor": None}, None
    if not errors:
        try:
            page = entries(ctx.session, ctx.grants, args)
        except PinganError as exc:
            if exc.status >= 500 or exc.status == 403:
                raise
            error = exc.message
    rows = [{"id": e.id, "at": local(e.at, "%Y-%m-%d %H:%M:%S"), "actor": e.actor, "action": e.action,
             "object_type": e.object_type, "object_id": e.object_id or "",
             "changes": json.dumps(e.changes, ensure_ascii=False, sort_keys=True) if e.changes else ""}
            for e in page["items"]]
    next_args = {**{k: v for k, v in values.items() if v and k != "cursor"}, "cursor": page["next_cursor"]} \
        if page["next_cursor"] else None
    status = 422 if errors or error else 200
    return render_template("admin/audit.html", rows=rows, values=values, errors=errors, error=error,
                           next_args=next_args, actions=ACTIONS), status
