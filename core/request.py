"""The per-request context and the guards every view declares.

Each view function (or MethodView method) carries exactly one guard:

- ``@requires("perm.code")`` — a signed-in user holding the permission somewhere (403
  otherwise); object-level scope is then checked with ``authz.get_or_404``/``scoped``.
- ``@authenticated`` — any signed-in user of the tenant (their own profile, log-out).
- ``@public`` — the tenant is resolved but nobody need be signed in (the log-in page).
- ``@tenantless`` — no tenant at all (health checks, the OpenAPI document).

``check_guards(app)`` runs when the app is created and refuses to start if any URL rule's
view lacks a guard or names an undeclared permission: authorisation cannot be forgotten.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Flask, g
from sqlalchemy.orm import Session

from core.authz import Grants, require
from core.errors import Unauthorized
from core.models import Tenant, User, WebSession

GUARD_ATTR = "_pingan_guard"
ALWAYS_TENANTLESS = {"static", "api-docs.openapi_json", "api-docs.openapi_swagger_ui", "swagger_static"}


@dataclass
class RequestContext:
    tenant: Tenant
    session: Session
    user: User | None = None
    grants: Grants = field(default_factory=lambda: Grants(None))
    plugins: dict[str, dict] = field(default_factory=dict)  # enabled plugin → settings
    web_session: WebSession | None = None
    via: str | None = None  # "session" | "token"
    client_id: str | None = None


def current() -> RequestContext:
    ctx = getattr(g, "pingan", None)
    if ctx is None:
        raise RuntimeError("no Pingan request context (is this view marked @tenantless?)")
    return ctx


def _mark(fn: Callable, kind: str, perm: str | None = None) -> Callable:
    setattr(fn, GUARD_ATTR, (kind, perm))
    return fn


def requires(perm: str) -> Callable[[Callable], Callable]:
    """Guard a view: signed in and holding ``perm`` on some unit, else 401/403."""
    def deco(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            ctx = current()
            if ctx.user is None:
                raise Unauthorized()
            require(ctx.grants, perm)
            return fn(*args, **kwargs)
        return _mark(wrapper, "permission", perm)
    return deco


def authenticated(fn: Callable) -> Callable:
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if current().user is None:
            raise Unauthorized()
        return fn(*args, **kwargs)
    return _mark(wrapper, "authenticated")


def public(fn: Callable) -> Callable:
    return _mark(fn, "public")


def tenantless(fn: Callable) -> Callable:
    return _mark(fn, "tenantless")


def view_guards(app: Flask, endpoint: str) -> list[tuple[str, tuple | None]]:
    """(method or "*", guard) for one endpoint; ``None`` where a view has no guard."""
    view = app.view_functions[endpoint]
    cls = getattr(view, "view_class", None)
    if cls is None:
        return [("*", getattr(view, GUARD_ATTR, None))]
    out = []
    for method in sorted(getattr(cls, "methods", None) or []):
        fn = getattr(cls, method.lower(), None)
        out.append((method, getattr(fn, GUARD_ATTR, None)))
    return out


def endpoint_kind(app: Flask, endpoint: str) -> str:
    """``tenantless`` if the endpoint needs no tenant, else ``tenant`` — asked on every request,
    so answered once per endpoint (Flask adds no route once the app has served a request)."""
    known = app.extensions.setdefault(_KINDS, {})
    kind = known.get(endpoint)
    if kind is None:
        if endpoint in ALWAYS_TENANTLESS or endpoint.endswith(".static"):
            kind = "tenantless"
        else:
            kinds = {guard[0] for _, guard in view_guards(app, endpoint) if guard}
            kind = "tenantless" if kinds == {"tenantless"} else "tenant"
        known[endpoint] = kind
    return kind


_KINDS = "pingan_endpoint_kinds"


def check_guards(app: Flask, permissions) -> None:
    problems = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in ALWAYS_TENANTLESS or rule.endpoint.endswith(".static"):
            continue
        for method, guard in view_guards(app, rule.endpoint):
            if guard is None:
                problems.append(f"{rule.rule} [{method}] has no guard")
            elif guard[0] == "permission" and guard[1] not in permissions:
                problems.append(f"{rule.rule} [{method}] requires undeclared permission {guard[1]!r}")
    if problems:
        raise RuntimeError("unguarded views (use core.sdk.requires/public/…):\n  " + "\n  ".join(problems))
