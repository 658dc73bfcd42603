"""Web pages of the core: log-in, log-out, password change, the language switch and the home page.

Server-rendered, Chinese first, no script needed; the full UI shell comes with the web UI
issue and reuses these routes. Forms carry a CSRF token (the session's own once signed in;
a double-submit cookie on the log-in form before there is a session) and a one-time token
(``core.idempotency``): both come from one Jinja global, ``form_tokens()``, in every form of
the core and of plugins.
"""
from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from flask import Blueprint, Flask, g, make_response, redirect, render_template, request, url_for
from markupsafe import Markup
from sqlalchemy import select

from core import auth, idempotency
from core.errors import PinganError
from core.models import OrgUnit, Role, RoleAssignment
from core.request import authenticated, current, public
from core.runtime import pingan

bp = Blueprint("web", __name__, static_folder="static", static_url_path="/assets")
PRE_CSRF = "pingan_csrf_pre"


def _cookie_args() -> dict:
    return {"httponly": True, "samesite": "Lax", "secure": pingan().config.cookie_secure, "path": "/"}


def _safe_next(target: str | None) -> str | None:
    """A same-origin path to return to (log-in, language switch, inbox), or None: never an
    open redirect. Browsers drop tabs and line breaks from a URL and read ``\\`` as ``/``, so
    ``/\\t/evil.com`` is ``//evil.com``, another site: a target with any control character,
    space or backslash is refused, as is anything with a scheme or host or starting ``//``."""
    if not target or any(c <= " " or c in "\\\x7f" for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def _menu() -> list:
    return pingan().plugins.visible(current(), "menu_items")


def _demo_login(tenant) -> dict | None:
    """The demo accounts and their password, on the demo county's log-in page only when this
    instance runs as the demo (``pingan demo`` sets ``config.extra["demo_login"]``; never in
    production)."""
    config = pingan().config
    info = config.extra.get("demo_login")
    if not info or config.is_production or info.get("tenant_id") != tenant.id:
        return None
    return info


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    ctx = current()
    if request.method == "GET":
        if ctx.user is not None:
            return redirect(url_for("web.home"))
        token = secrets.token_urlsafe(24)
        # a session cookie that no longer signs anyone in: the session timed out or was ended
        expired = bool(request.cookies.get("pingan_session"))
        resp = make_response(render_template("login.html", tenant=ctx.tenant, csrf=token, error=None,
                                             expired=expired, next=_safe_next(request.args.get("next")),
                                             demo=_demo_login(ctx.tenant)))
        resp.set_cookie(PRE_CSRF, token, max_age=3600, **_cookie_args())
        if expired:
            resp.delete_cookie("pingan_session", path="/")
        return resp
    form_token = request.form.get("csrf_token", "")
    cookie_token = request.cookies.get(PRE_CSRF, "")
    username = request.form.get("username", "").strip()[:64]
    password = request.form.get("password", "")[:auth.PASSWORD_MAX]
    error, status = None, 200
    if not form_token or not hmac.compare_digest(form_token, cookie_token):
        error = "页面已过期，请重新登录"
    else:
        try:
            result = auth.login(ctx.session, pingan().config, username, password, request.remote_addr or "",
                                request.user_agent.string)
        except PinganError as exc:
            error, status = exc.message, exc.status
    if error:
        token = secrets.token_urlsafe(24)
        resp = make_response(render_template("login.html", tenant=ctx.tenant, csrf=token, error=error,
                                             username=username, next=_safe_next(request.form.get("next")),
                                             demo=_demo_login(ctx.tenant)),
                             status)
        resp.set_cookie(PRE_CSRF, token, max_age=3600, **_cookie_args())
        return resp
    target = url_for("web.password") if result.user.must_change_password \
        else _safe_next(request.form.get("next")) or url_for("web.home")
    resp = redirect(target)
    resp.set_cookie("pingan_session", result.cookie_token, **_cookie_args())
    resp.delete_cookie(PRE_CSRF, path="/")
    return resp


@bp.route("/language", methods=["POST"])
@public
def language():
    """Switch between Chinese and English: saved as the signed-in user's locale (the form
    carries the session's CSRF token), and in the ``lang`` cookie for the log-in page."""
    from core.i18n import LOCALES
    ctx = current()
    lang = request.form.get("lang", "")
    if lang not in LOCALES:
        from core.errors import Invalid
        raise Invalid("lang", "invalid_locale", "请选择中文或 English", location="form")
    if ctx.user is not None:
        ctx.user.locale = lang
        ctx.session.commit()
    resp = redirect(_safe_next(request.form.get("next")) or url_for("web.home"))
    resp.set_cookie("lang", lang, max_age=365 * 24 * 3600, **_cookie_args())
    return resp


@bp.route("/logout", methods=["POST"])
@authenticated
def logout():
    ctx = current()
    if ctx.web_session is not None:
        auth.logout(ctx.session, ctx.web_session)
    resp = redirect(url_for("web.login"))
    resp.delete_cookie("pingan_session", path="/")
    return resp


@bp.route("/password", methods=["GET", "POST"])
@authenticated
def password():
    ctx = current()
    errors: dict = {}
    if request.method == "POST":
        try:
            new = request.form.get("new_password", "")
            if new != request.form.get("new_password2", ""):
                errors["new_password2"] = "两次输入的新密码不一致"
            else:
                auth.change_password(ctx.session, pingan().config, ctx.user, request.form.get("old_password", ""),
                                     new, ctx.web_session, revoke_tokens=request.form.get("revoke_tokens") == "1")
                ctx.session.commit()
                return redirect(url_for("web.home"))
        except PinganError as exc:
            field = getattr(exc, "field", "old_password")
            errors[field] = exc.message
    return render_template("password.html", errors=errors,
                           revoke_tokens=request.form.get("revoke_tokens") == "1"), 422 if errors else 200


def my_assignments(ctx) -> list:
    """(role, unit name, unit path, unit id) of every role the user holds, by unit."""
    return ctx.session.execute(select(Role.name, OrgUnit.name, OrgUnit.path, OrgUnit.id)
                               .join(RoleAssignment, RoleAssignment.role_id == Role.id)
                               .join(OrgUnit, OrgUnit.id == RoleAssignment.org_unit_id)
                               .where(RoleAssignment.user_id == ctx.user.id).order_by(OrgUnit.path)).all()


@bp.route("/")
@public  # signed-out visitors are sent to the log-in page
def home():
    """The dashboard of the user's scope (``?unit=`` another unit within it)."""
    ctx = current()
    if ctx.user is None:
        return redirect(url_for("web.login"))
    from core.platform import is_operator
    if is_operator(ctx.tenant, ctx.user, pingan().config):
        return redirect(url_for("web_operator.index"))
    from core.web.dashboard import home_page
    return home_page()


def _template_context() -> dict:
    """``ctx`` and ``menu`` for every page, the plugins' pages included."""
    from flask import g
    ctx = g.get("pingan")
    if ctx is None or ctx.user is None or ctx.user.must_change_password:
        return {"ctx": ctx, "menu": []}
    from core.web.transfers import visible as transfers_visible
    return {"ctx": ctx, "menu": _menu(), "letters_link": _letters_link(ctx), "transfers_link": transfers_visible(ctx)}


def _letters_link(ctx) -> bool:
    """The main menu's 责任书: for holders of ``core.letter.read`` while a module on declares a kind."""
    from core.letters import READ, kinds_for
    return ctx.grants.has(READ) and bool(kinds_for(pingan().plugins, ctx.plugins))


def form_tokens(csrf: str | None = None) -> Markup:
    """The hidden fields every form posts (Jinja: ``{{ form_tokens() }}``): the CSRF token — the
    signed-in session's, or ``csrf`` (the log-in form's pre-session token) — and a fresh
    one-time ``form_token`` that makes the form's submission idempotent (``core.idempotency``):
    a double click or a resubmission saves once and shows the first result."""
    if csrf is None:
        ctx = g.get("pingan")
        csrf = ctx.web_session.csrf_token if ctx is not None and ctx.web_session is not None else ""
    return Markup('<input type="hidden" name="{}" value="{}"><input type="hidden" name="{}" value="{}">').format(
        idempotency.CSRF_FIELD, csrf, idempotency.FORM_FIELD, idempotency.new_form_token())


def register_web(app: Flask) -> None:
    app.register_blueprint(bp)
    from core.web.intake import bp as intake_bp
    app.register_blueprint(intake_bp)
    from core.web.cases import bp as cases_bp
    app.register_blueprint(cases_bp)
    from core.web.dashboard import bp as inbox_bp
    app.register_blueprint(inbox_bp)
    from core.web.operator import bp as operator_bp
    app.register_blueprint(operator_bp)
    from core.web.admin import bp as admin_bp
    app.register_blueprint(admin_bp)
    from core.web.letters import bp as letters_bp
    app.register_blueprint(letters_bp)
    from core.web.transfers import bp as transfers_bp
    app.register_blueprint(transfers_bp)
    from core.web.tokens import bp as tokens_bp
    app.register_blueprint(tokens_bp)
    app.context_processor(_template_context)
    app.add_template_global(form_tokens)
