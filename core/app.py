"""The application factory: ``create_app()`` builds one Pingan web app.

Per request (``_begin_request``): a request id; the tenant (from the token, else the host
name); the user (token or session cookie); CSRF for cookie-authenticated writes; the
tenant's enabled plugins (a disabled plugin's routes answer 404). The view's own guard
(``core.request``) then checks the permission.
"""
from __future__ import annotations

import errno
import logging
import re
import time
from pathlib import Path

import flask_smorest
import swagger_ui_bundle
from apispec.ext.marshmallow import MarshmallowPlugin, resolver as marshmallow_name
from apispec.ext.marshmallow.common import resolve_schema_cls
from flask import Flask, current_app, g, has_request_context, request, send_from_directory
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy import event
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter

import core.schema  # noqa: F401  (every core table in the metadata)
from core import auth, bounds, crypto, idempotency, logs, timefmt
from core.authz import Grants
from core.config import Config
from core.context import Actor, new_request_id, reset_for_request, set_actor, set_for_request
from core.db import NO_DEADLINE, Database, ProcessCache, config_generation, reset_tenant, set_tenant
from core.errors import (BadRequest, Forbidden, NotFound, PinganError, ServiceUnavailable, TooLarge, Unauthorized,
                         Unprocessable, error_response, wants_json)
from core.i18n import install as install_i18n
from core.models import Tenant
from core.plugins import PluginHost
from core.proxies import TrustedProxies
from core.request import RequestContext, check_guards, endpoint_kind, tenantless
from core.runtime import Pingan, pingan  # the running state lives below the app factory (core.runtime)

log = logging.getLogger("pingan.web")
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
# The one place response headers are decided (``_after_request``), issue 14:
# - every response but a static file (the app's and plugins' ``/static``, Swagger UI's files)
#   is ``Cache-Control: no-store``: pages, the API, OAuth, exports and the public status API
#   may all carry personal data, and a per-view choice is the kind that gets forgotten;
# - one CSP on every response, Swagger UI's page (``/api/docs``) included: our template
#   ``swagger_ui.html`` and ``static/swagger-init.js`` replace flask-smorest's inline script
#   (tests/browser/test_browser_docs.py: the page works with no violation);
# - the documentation (``DOCS_ENDPOINTS``) only on a host name that serves a county.
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; object-src 'none'; base-uri 'none'; "
       "frame-ancestors 'none'; form-action 'self'")
DOCS_ENDPOINTS = {"api-docs.openapi_json", "api-docs.openapi_swagger_ui", "swagger_static"}
SECURITY_HEADERS = (("X-Content-Type-Options", "nosniff"), ("X-Frame-Options", "DENY"),
                    ("Referrer-Policy", "same-origin"), ("Content-Security-Policy", CSP))
# A JSON body is bounded before anything parses it (issue 14): no JSON body needs more (files
# go as multipart), and Python's parser recurses, so a 100,000-deep array was a RecursionError.
JSON_MAX_BYTES = 1024 * 1024
JSON_MAX_DEPTH = 32
_JSON_TOKENS = re.compile(rb'["\\\[\]{}]')
# Endpoints a user who must change the password may still use.
PASSWORD_CHANGE_ALLOWED = {"web.password", "web.logout", "core_me.Me", "web.static", "core_me.Password",
                           "web.language"}


class LazyCookieSessions(SecureCookieSessionInterface):
    """Flask's cookie session, its signing serializer built only for a request that carries the
    cookie. Pingan's sign-in is its own (``core.auth``, the ``pingan_session`` cookie) and no
    view uses Flask's ``session``; building the serializer anyway cost every request — /healthz
    too — a good part of its CPU (issue 24, bench/results/overhead.md)."""

    def open_session(self, app: Flask, request):
        if not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)


class PinganApi(flask_smorest.Api):
    """flask-smorest with Pingan's one error format."""

    from core.api.common import ErrorSchema as ERROR_SCHEMA  # documented as the default response

    def handle_http_exception(self, error: HTTPException):
        data = getattr(error, "data", None) or {}
        errors = data.get("messages")
        return error_response(error.code or 500, errors=errors, headers=data.get("headers"))


class SchemaNames:
    """OpenAPI names of the schemas: apispec's (the class name without ``Schema``), except that a
    second class of a name already taken — two modules' ``EndIn`` — carries its package
    (``KeypersonsEndIn``); apispec would number it (``EndIn1``) and a client could not tell which is which."""

    def __init__(self) -> None:
        self.taken: dict[str, type] = {}

    def __call__(self, schema) -> str:
        name = marshmallow_name(schema)
        resolved = resolve_schema_cls(schema)
        cls = resolved[0] if isinstance(resolved, list) else resolved
        if self.taken.setdefault(name, cls) is cls:
            return name
        parts = cls.__module__.split(".")
        package = parts[1] if parts[0] == "plugins" and len(parts) > 1 else parts[0]
        prefixed = "".join(word.capitalize() for word in package.removeprefix("pingan_").split("_")) + name
        return prefixed if self.taken.setdefault(prefixed, cls) is cls else name  # else apispec numbers it


def create_app(config: Config | None = None, extra_plugins: dict[str, object] | None = None,
               use_entry_points: bool = True) -> Flask:
    cfg = config or Config.from_env()
    logs.setup(cfg.log_level)
    crypto.configure(cfg.data_keys, cfg.index_key, cfg.instance_dir)
    database = Database(cfg.database_url, app_role=cfg.set_role, timeouts=cfg.web_timeouts)
    event.listen(database.Session, "before_commit", _check_deadline)
    host = PluginHost(extra_plugins, use_entry_points)

    here = Path(__file__).parent
    app = Flask("pingan", template_folder=str(here / "web" / "templates"),
                static_folder=str(here / "web" / "static"), static_url_path="/static")
    app.url_map.converters["int"] = BoundedInt  # before any route: every <int:…> is bounded
    app.config.update(
        SECRET_KEY=cfg.secret_key,
        # the attachment limit plus room for the multipart envelope (never below the old 16 MiB)
        MAX_CONTENT_LENGTH=max(16, cfg.upload_max_mb + 1) * 1024 * 1024,
        API_TITLE="Pingan API",
        API_VERSION="1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL="/api/docs-static/",
        API_SPEC_OPTIONS={
            "info": {"description": "Pingan REST API. Errors: {status, code, message, errors}. "
                                    "Lists: ?limit=&cursor=&sort= → {items, next_cursor}. "
                                    "Writes (POST, PUT, PATCH, DELETE) may carry the header Idempotency-Key "
                                    "(components.parameters.IdempotencyKey): a retry with the same key gets the "
                                    "first answer (Idempotent-Replayed: true) and writes nothing again."},
            "components": {"securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "pingan_session"}},
                "parameters": {"IdempotencyKey": idempotency.OPENAPI_PARAMETER}},
            "security": [{"bearer": []}, {"session": []}],
        },
    )
    app.json.ensure_ascii = False
    app.session_interface = LazyCookieSessions()
    timefmt.install(app)  # API times as ISO 8601 with offset, never the HTTP-date form
    # X-Forwarded-* honoured only from the proxies of PINGAN_TRUSTED_PROXIES, dropped from anyone else
    app.wsgi_app = TrustedProxies(app.wsgi_app, cfg.trusted_proxies)
    app.extensions["pingan"] = Pingan(cfg, database, host, auth.HostResolver(cfg))
    install_i18n(app)

    from core.api.common import PERMISSION_CODES
    PERMISSION_CODES[:] = sorted(set(PERMISSION_CODES) | {p.code for p, _ in host.permissions.all()})
    from core.api.common import CASE_TYPE_KEYS
    CASE_TYPE_KEYS[:] = sorted(set(CASE_TYPE_KEYS) | set(host.case_types))
    from core.api.common import ROLE_TEMPLATE_KEYS
    ROLE_TEMPLATE_KEYS[:] = sorted(set(ROLE_TEMPLATE_KEYS) | set(host.role_templates()))
    api = PinganApi(app, spec_kwargs={"marshmallow_plugin": MarshmallowPlugin(schema_name_resolver=SchemaNames())})
    api.ma_plugin.converter.add_attribute_function(_no_nul_pattern)
    from core.api import register_core_api
    register_core_api(api)
    for contrib in host.plugins.values():
        for bp in contrib.api_blueprints:
            api.register_blueprint(bp)
    from core.web import register_web
    register_web(app)
    for contrib in host.plugins.values():
        for bp in contrib.web_blueprints:
            app.register_blueprint(bp)

    swagger_dir = swagger_ui_bundle.swagger_ui_path

    @app.route("/api/docs-static/<path:filename>", endpoint="swagger_static")
    @tenantless
    def swagger_static(filename):
        return send_from_directory(swagger_dir, filename)

    app.before_request(_begin_request)
    idempotency.install(app)  # after authentication: Idempotency-Key / form_token (issue 25)
    app.teardown_request(_end_request)
    app.after_request(_after_request)
    app.register_error_handler(PinganError, _pingan_error)
    app.register_error_handler(Exception, _unexpected)
    check_guards(app, host.permissions)
    return app


class BoundedInt(IntegerConverter):
    """``<int:…>`` in every URL holds at most 63 bits (``core.bounds``): a larger number names
    no object, so the route does not match (404) instead of overflowing the database."""

    def __init__(self, map, fixed_digits=0, min=None, max=None, signed=False):  # noqa: A002 (werkzeug's names)
        super().__init__(map, fixed_digits, min, bounds.INT_MAX if max is None else max, signed)


def json_depth_ok(data: bytes, limit: int = JSON_MAX_DEPTH) -> bool:
    """Whether no array or object in ``data`` nests deeper than ``limit`` (strings skipped)."""
    depth, in_string, skip = 0, False, -1
    for m in _JSON_TOKENS.finditer(data):
        i = m.start()
        if i == skip:
            continue
        c = data[i]
        if in_string:
            if c == 0x5C:  # backslash: the next character is escaped
                skip = i + 1
            elif c == 0x22:
                in_string = False
        elif c == 0x22:
            in_string = True
        elif c in (0x5B, 0x7B):
            depth += 1
            if depth > limit:
                return False
        elif c in (0x5D, 0x7D):
            depth -= 1
    return True


def _bound_json_body() -> None:
    """A JSON body over ``JSON_MAX_BYTES`` is 413, one nested deeper than ``JSON_MAX_DEPTH``
    400 — before anything parses it (every endpoint, signed in or not)."""
    if not request.is_json:
        return
    message = f"JSON 请求内容不能超过 {JSON_MAX_BYTES // 1024} KiB"
    if (request.content_length or 0) > JSON_MAX_BYTES:
        raise TooLarge("too_large", message, {"json": {"_body": [message]}})
    data = request.get_data(cache=True)
    if len(data) > JSON_MAX_BYTES:
        raise TooLarge("too_large", message, {"json": {"_body": [message]}})
    if not json_depth_ok(data):
        message = f"JSON 嵌套不能超过 {JSON_MAX_DEPTH} 层"
        raise BadRequest("json_too_deep", message, {"json": {"_body": [message]}})


def _no_nul_pattern(self, field, ret=None, **kwargs) -> dict:
    """OpenAPI: free-text strings never hold NUL (``_reject_nul_characters`` refuses it)."""
    ret = ret or {}
    if ret.get("type") == "string" and not ({"pattern", "enum", "format"} & set(ret)):
        return {"pattern": "^[^\\u0000]*$"}
    return {}


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header[7:].strip()
    return None


def _nul_field(value, path: str = "") -> str | None:
    """The first place a NUL character hides in a decoded JSON value, or None."""
    if isinstance(value, str):
        return path or "_body" if "\x00" in value else None
    if isinstance(value, dict):
        for k, v in value.items():
            if "\x00" in str(k):
                return str(k).replace("\x00", "")
            found = _nul_field(v, k if not path else f"{path}.{k}")
            if found:
                return found
    if isinstance(value, list):
        for i, v in enumerate(value):
            found = _nul_field(v, f"{path}[{i}]")
            if found:
                return found
    return None


def _reject_nul_characters() -> None:
    """No text field holds NUL; PostgreSQL cannot store it. Refuse it at the edge (422)."""
    message = "包含不允许的空字符 (NUL)"
    for location, values in (("query", request.args), ("form", request.form)):
        for key, value in values.items(multi=True):
            if "\x00" in key or "\x00" in value:
                raise Unprocessable("invalid_character", message, {location: {key.replace("\x00", ""): [message]}})
    if request.is_json:
        body = request.get_json(silent=True)
        where = _nul_field(body)
        if where:
            raise Unprocessable("invalid_character", message, {"json": {where: [message]}})


def _begin_request():
    g.started = time.perf_counter()
    rid = request.headers.get("X-Request-ID", "")
    g.request_id = rid if _REQUEST_ID.match(rid) else new_request_id()
    g.ctx_tokens = set_for_request(Actor(None, "anonymous"), g.request_id)
    _bound_json_body()
    endpoint = request.endpoint
    app_state = pingan()
    if endpoint is None or endpoint_kind(current_app, endpoint) == "tenantless":
        if endpoint in DOCS_ENDPOINTS:
            _known_host_or_404(app_state)
        return None
    _reject_nul_characters()
    session = app_state.db.session
    bearer = _bearer()
    host_tid, explicit = app_state.resolver.resolve(session, request.host)
    if session().in_transaction():  # a cache miss queried: end that transaction before binding
        session.rollback()
    tid = host_tid
    if bearer:
        tok_tid = auth.token_tenant(bearer)
        if tok_tid is None:
            raise Unauthorized("invalid_token", "访问令牌无效")
        if explicit and host_tid != tok_tid:
            raise Unauthorized("token_tenant_mismatch", "访问令牌不属于本县")
        tid = tok_tid
    if tid is None:
        raise NotFound("unknown_tenant", "未找到对应的县（租户），请检查访问地址")
    g.tenant_token = set_tenant(tid)
    tenant = _tenant_row(session, tid)
    if tenant is None:
        raise Unauthorized("invalid_token", "访问令牌无效") if bearer else NotFound("unknown_tenant")
    if tenant.status != "active":
        raise Forbidden("tenant_suspended", "该县的服务已暂停，请联系平台运营方")
    ctx = RequestContext(tenant=tenant, session=session)
    g.pingan = ctx
    if bearer:
        _authenticate_token(ctx, bearer)
    else:
        _authenticate_cookie(ctx)
    ctx.plugins = app_state.plugins.enabled_cached(session, tid)
    g.pingan_authenticated = True  # commits from here on are the request's own (the deadline's concern)
    owner = app_state.plugins.blueprint_owner.get(request.blueprint or "")
    if owner and owner not in ctx.plugins:
        raise NotFound()
    if ctx.user is not None and ctx.user.must_change_password and endpoint not in PASSWORD_CHANGE_ALLOWED:
        if ctx.via != "session" or wants_json():  # a token of the user (pingan token create) too
            raise Forbidden("password_change_required", "首次登录请先修改密码")
        from flask import redirect, url_for
        return redirect(url_for("web.password"))
    return None


def _known_host_or_404(app_state: Pingan) -> None:
    """The API's documentation needs no county, but is served only on a host name that serves
    one (issue 14): an unknown host gets 404, not a map of the API."""
    session = app_state.db.session
    tid, _ = app_state.resolver.resolve(session, request.host)
    if session().in_transaction():
        session.rollback()
    if tid is None:
        raise NotFound("unknown_tenant", "未找到对应的县（租户），请检查访问地址")


_TENANTS = ProcessCache()  # tenant id → its detached ``tenant`` row (``_tenant_row``)


def _tenant_row(session, tid: int) -> Tenant | None:
    """The request's ``tenant`` row, from this process's cache when fresh.

    The row (name, slug, status) changes rarely; an entry lives ``core.db.CACHE_SECONDS`` and
    is dropped when this process commits a write to ``tenant``: a county suspended through
    this process is refused on its next request, through another process within seconds.
    The cached copy is merged into the request's session without a query (``load=False``),
    so views see an ordinary persistent ``Tenant``.
    """
    key = (id(session.get_bind()), tid)  # one process may run apps on several databases (tests)
    cached = _TENANTS.get(key)
    if cached is not None:
        return session.merge(cached, load=False)
    generation = config_generation()
    tenant = session.get(Tenant, tid)
    if tenant is not None:
        session.expunge(tenant)
        _TENANTS.put(key, tenant, generation)
        tenant = session.merge(tenant, load=False)
    return tenant


def _authenticate_token(ctx: RequestContext, token: str) -> None:
    session = ctx.session
    if token.startswith("pat_"):
        found = auth.access_token_principal(session, token)  # token, user and grants: one query
        client = None
    else:
        from core import oauth
        found, client = oauth.bearer_principal(session, token)  # token, client, user and grants: one query
    if found is None:
        raise Unauthorized("invalid_token", "访问令牌无效、已过期或已被撤销")
    user, scopes, grants = found
    ctx.user, ctx.via, ctx.client_id = user, "token", client
    ctx.grants = grants.restrict(scopes)
    set_actor(Actor(user.id, f"client:{client}" if client else f"user:{user.username}"))


def _authenticate_cookie(ctx: RequestContext) -> None:
    cookie = request.cookies.get("pingan_session")
    if not cookie:
        return
    found = auth.session_principal(ctx.session, pingan().config, cookie)  # session, user, grants: one query
    if found is None:
        return
    ws, user, grants = found
    ctx.user, ctx.web_session, ctx.via = user, ws, "session"
    ctx.grants = grants
    set_actor(Actor(user.id, f"user:{user.username}"))
    if request.method not in SAFE_METHODS:
        presented = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token")
        if not auth.csrf_ok(ws, presented):
            raise Forbidden("csrf_failed", "页面已过期，请刷新后重试")


def _after_request(response):
    headers = response.headers
    have = {name.lower() for name in headers.keys()}  # a view's own value of any of these stands
    defaults = [("X-Request-ID", g.get("request_id", "")), *SECURITY_HEADERS]
    if response.status_code == 503:  # also a form page re-shown with a 503 error (core/web/cases.py _act)
        defaults.append(("Retry-After", str(ServiceUnavailable.retry_after)))
    headers.extend([(name, value) for name, value in defaults if name.lower() not in have])
    if not _is_static_file(request.endpoint) and "no-store" not in headers.get("Cache-Control", ""):
        headers["Cache-Control"] = "no-store"
    if "started" in g:
        log.info("%s %s %s", request.method, request.path, response.status_code,
                 extra={"method": request.method, "path": request.path, "status": response.status_code,
                        "duration_ms": round((time.perf_counter() - g.started) * 1000, 1)})
    return response


def _is_static_file(endpoint: str | None) -> bool:
    return endpoint in ("static", "swagger_static") or bool(endpoint and endpoint.endswith(".static"))


def _end_request(exc):
    session = pingan().db.session
    try:
        if session.registry.has():  # a request that never used the database (/healthz) made no session
            session.rollback()
    finally:
        session.remove()
        if "tenant_token" in g:
            reset_tenant(g.pop("tenant_token"))
        if "ctx_tokens" in g:
            reset_for_request(g.pop("ctx_tokens"))


def _pingan_error(exc: PinganError):
    if isinstance(exc, ServiceUnavailable):
        return _unavailable_response(exc)
    return error_response(exc.status, exc.code, exc.message, exc.errors)


def _unavailable_response(exc: ServiceUnavailable):
    """503 with ``Retry-After``; the log keeps the cause (type and message) with the request id."""
    log.warning("answered 503 %s: %s", exc.code, exc.cause or "-")
    return error_response(503, exc.code, exc.message, headers={"Retry-After": str(exc.retry_after)})


def _check_deadline(session) -> None:
    """``before_commit`` of the web app's sessions: a request running longer than
    ``PINGAN_WEB_REQUEST_TIMEOUT_SECONDS`` does not commit. Its client has likely given up by now;
    saving anyway is how a retry came to write twice (issue 25). It answers 503 and rolls back."""
    if not has_request_context() or "started" not in g:
        return  # a job of the in-process worker, a CLI command: not a request
    if session.info.get(NO_DEADLINE):
        return  # bookkeeping of an answer already decided (core.idempotency stores it)
    if g.get("pingan_committed"):
        return  # the request saved something already: a 503 "not saved" would now be untrue
    limit = pingan().config.request_timeout_seconds
    elapsed = time.perf_counter() - g.started
    if limit and elapsed > limit:
        raise ServiceUnavailable("timeout", cause=f"request deadline: {elapsed:.1f} s > {limit:g} s before commit")
    if g.get("pingan_authenticated"):  # not the log-in's own bookkeeping (a session's last-seen time)
        g.pingan_committed = True


# PostgreSQL SQLSTATEs: a statement, lock or idle-in-transaction timeout (the role's timeouts,
# core.db.timeout_connect_args) — and the classes that mean the server is unreachable or failing:
# 08 connection exception, 53 insufficient resources (too many connections, disk full), 57P
# shutting down or starting up, 58 system error.
PG_TIMEOUTS = {"57014": "statement timeout or cancel", "55P03": "lock timeout", "25P03": "idle in transaction"}
PG_DOWN = ("08", "53", "57P", "58")
SQLITE_BUSY = ("database is locked", "database table is locked")
SQLITE_DOWN = ("unable to open database file", "disk i/o error", "database or disk is full", "readonly database")


def unavailable(exc: BaseException) -> ServiceUnavailable | None:
    """The 503 an infrastructure failure answers, or None when ``exc`` is not one (a bug: 500).

    The one classification every module inherits (``_unexpected``): a timeout (PostgreSQL
    57014/55P03/25P03, SQLite's busy lock, no pooled connection in time) is ``timeout``; the
    database unreachable or failing ``database_unavailable``; the file store full or read-only
    ``storage_unavailable``; Redis unreachable ``queue_unavailable``. Looks through the
    exception's driver error (``orig``) and its causes.
    """
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop(0)
        if e is None or id(e) in seen or len(seen) > 8:
            continue
        seen.add(id(e))
        found = _classify(e)
        if found is not None:
            return found
        todo += [getattr(e, "orig", None), e.__cause__]  # explicit causes: a bug raised while handling one stays a bug
    return None


def _cause(e: BaseException) -> str:
    """Type and first line of a driver's message: no SQL, no parameters (they may hold personal data)."""
    first = (str(e).strip().splitlines() or [""])[0]
    return f"{type(e).__name__}: {first[:200]}"


def _classify(e: BaseException) -> ServiceUnavailable | None:
    if isinstance(e, ServiceUnavailable):
        return e
    if isinstance(e, PoolTimeout):
        return ServiceUnavailable("timeout", cause=_cause(e))
    if isinstance(e, DBAPIError):
        orig = e.orig
        state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
        if state in PG_TIMEOUTS:
            return ServiceUnavailable("timeout", cause=f"{state} {PG_TIMEOUTS[state]}: {_cause(orig)}")
        if e.connection_invalidated:
            return ServiceUnavailable("database_unavailable", cause=_cause(orig))
        if not isinstance(e, (OperationalError, InterfaceError)):
            return None
        if state:
            return ServiceUnavailable("database_unavailable", cause=f"{state} {_cause(orig)}") \
                if state.startswith(PG_DOWN) else None
        message = str(orig).lower()
        if any(m in message for m in SQLITE_BUSY):
            return ServiceUnavailable("timeout", cause=_cause(orig))
        sqlite = type(orig).__module__.startswith("sqlite3")
        if not sqlite or any(m in message for m in SQLITE_DOWN):  # psycopg with no SQLSTATE: no connection
            return ServiceUnavailable("database_unavailable", cause=_cause(orig))
        return None
    if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EROFS, errno.EDQUOT):
        return ServiceUnavailable("storage_unavailable", cause=f"{type(e).__name__}: {e.strerror}")
    try:
        from redis.exceptions import ConnectionError as RedisDown, TimeoutError as RedisTimeout
    except ImportError:  # pragma: no cover — redis is a dependency
        return None
    if isinstance(e, (RedisDown, RedisTimeout)):
        return ServiceUnavailable("queue_unavailable", cause=_cause(e))
    return None


def _unexpected(exc: Exception):
    if isinstance(exc, HTTPException):
        return error_response(exc.code or 500)
    down = unavailable(exc)
    if down is not None:
        return _unavailable_response(down)
    if isinstance(exc, IntegrityError):
        # a safety net: views check references and uniqueness first, with better messages
        log.warning("integrity error answered 409: %s", type(exc.orig).__name__)
        return error_response(409, "integrity_conflict", "数据与现有记录冲突（引用的对象不存在或重复），未保存")
    if isinstance(exc, (OverflowError, DataError)) or isinstance(getattr(exc, "orig", None), OverflowError):
        # a safety net like the one above: request values are bounded where they are parsed
        # (core.bounds); one a view parsed by hand that the database cannot hold is bad input
        log.warning("value out of range answered 422: %s", type(getattr(exc, "orig", exc)).__name__)
        return error_response(422, "out_of_range", "输入的数值或日期超出允许范围")
    log.exception("unhandled error")
    return error_response(500, "internal_error", "服务器内部错误，请把请求编号告诉管理员")


__all__ = ["create_app", "pingan", "Grants"]
