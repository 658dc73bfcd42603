"""访问令牌: a user's own personal access tokens, on a page (docs/api_clients.md): the list, a
new token limited to some of the user's own permissions (ticked by their Chinese names) and an
optional last day, shown once, and revoking one. The same service as ``/api/tokens``."""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, redirect, render_template, request, url_for
from sqlalchemy import select

from core import auth
from core.runtime import pingan
from core.db import utcnow
from core.errors import NotFound
from core.models import AccessToken
from core.request import current, requires
from core.timefmt import SHANGHAI

bp = Blueprint("web_tokens", __name__, url_prefix="/tokens")
USE = "core.token.use"


def _held() -> list[tuple[str, str, str]]:
    """(code, title, English title) of the permissions the user holds, in code order."""
    registry, ctx = pingan().plugins.permissions, current()
    return [(code, registry.get(code).title, registry.get(code).title_en)
            for code in sorted(ctx.grants.by_perm) if code in registry]


def _page(values: dict | None = None, errors: dict | None = None, created: dict | None = None, status: int = 200):
    ctx = current()
    rows = ctx.session.scalars(select(AccessToken).where(AccessToken.user_id == ctx.user.id)
                               .order_by(AccessToken.id.desc()).limit(200)).all()
    registry = pingan().plugins.permissions
    titles = {code: (p.title, p.title_en) for p, _ in registry.all() for code in [p.code]}
    now = utcnow()
    last = dt.timedelta(minutes=1)   # a token of "through 31 March" ends at 1 April 00:00: shown as 31 March 23:59
    tokens = [{"id": r.id, "name": r.name, "scope": [titles.get(c, ("（已不存在的权限）", "(a permission no longer declared)"))
                                                   for c in r.scope.split()],
               "created_at": r.created_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M"),
               "expires_at": (r.expires_at - last).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if r.expires_at else "",
               "last_used_at": r.last_used_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if r.last_used_at else "",
               "state": "revoked" if r.revoked_at else "expired" if r.expires_at and r.expires_at <= now else "active"}
              for r in rows]
    today = now.astimezone(SHANGHAI).date()
    return render_template("tokens.html", tokens=tokens, held=_held(), values=values or {"scope": []},
                           errors=errors or {}, created=created, today=today.isoformat()), status


@bp.route("/", methods=["GET"])
@requires(USE)
def index():
    return _page()


@bp.route("/", methods=["POST"])
@requires(USE)
def create():
    """A new token: its secret is on this answer only."""
    ctx = current()
    values = {"name": request.form.get("name", "").strip(), "expires_on": request.form.get("expires_on", "").strip(),
              "scope": request.form.getlist("scope")}
    errors = {}
    if not values["name"] or len(values["name"]) > 100:
        errors["name"] = "请填写令牌名称（100字以内），如：报表脚本"
    held = {code for code, _, _ in _held()}
    if any(code not in held for code in values["scope"]):
        errors["scope"] = "只能选择您本人拥有的权限"
    expires_at = None
    if values["expires_on"]:
        try:
            day = dt.date.fromisoformat(values["expires_on"])
        except ValueError:
            errors["expires_on"] = "请选择有效的日期"
            day = None
        if day is not None and day.year >= 9999:
            errors["expires_on"] = "请选择有效的日期"
        elif day is not None:
            # the token works through that whole day, Beijing time
            expires_at = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), SHANGHAI).astimezone(dt.timezone.utc)
            if expires_at <= utcnow():
                errors["expires_on"] = "有效期须不早于今天"
    if errors:
        return _page(values, errors, status=422)
    row, token = auth.create_access_token(ctx.session, ctx.user, values["name"], " ".join(values["scope"]), expires_at)
    ctx.session.commit()
    return _page(created={"name": row.name, "token": token})


@bp.route("/<int:token_id>/revoke", methods=["POST"])
@requires(USE)
def revoke(token_id: int):
    ctx = current()
    row = ctx.session.scalar(select(AccessToken).where(AccessToken.user_id == ctx.user.id, AccessToken.id == token_id))
    if row is None:
        raise NotFound()
    row.revoked_at = row.revoked_at or utcnow()
    ctx.session.commit()
    return redirect(url_for("web_tokens.index"))
