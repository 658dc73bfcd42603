"""The platform operator's console, ``/operator`` (who an operator is: ``core.platform``).

Separate from a county's admin console: it is served only to users of the platform tenant,
and answers 404 to everyone else, as a page that does not exist would. Tenants are listed
with their usage; a county is created from a ``tenants/<slug>`` folder or from a form (its
first administrator's one-time password is shown once); a county is suspended or resumed.
Every act is audited (``core.platform``).
"""
from __future__ import annotations

from flask import Blueprint, make_response, redirect, render_template, request, url_for

from core import platform
from core.db import bind_tenant
from core.errors import NotFound, PinganError
from core.request import authenticated, current

bp = Blueprint("web_operator", __name__, url_prefix="/operator")
REASON_MAX = 200


def _state():
    from core.app import pingan
    return pingan()


def _operator():
    """The request's context if its user is a platform operator; else the 404 page."""
    ctx = current()
    if not platform.is_operator(ctx.tenant, ctx.user, _state().config):
        raise NotFound()
    return ctx


@bp.route("")
@authenticated
def index():
    """Every tenant with its host names, status and usage (users, cases, attachment bytes)."""
    ctx = _operator()
    state = _state()
    hosts = platform.domains(ctx.session)
    rows = [{"tenant": tenant, "domains": hosts.get(tenant.id, []),
             "platform": tenant.slug == state.config.operator_tenant} for tenant in platform.tenants(ctx.session)]
    ctx.session.commit()  # each tenant's usage is read in its own transaction, one at a time
    for row in rows:
        row["usage"] = platform.usage(state.db, row["tenant"].id)
    return render_template("operator/index.html", rows=rows, done=request.args.get("done"))


def _new_page(errors: dict | None = None, values: dict | None = None, status: int = 200):
    folders = platform.tenant_folders(_state().config)
    return render_template("operator/new.html", folders=folders, errors=errors or {}, values=values or {},
                           tenants_dir=_state().config.tenants_dir), status


@bp.route("/tenants/new")
@authenticated
def new():
    _operator()
    return _new_page()


def _create(make_spec, form_id: str):
    ctx = _operator()
    state = _state()
    values = {k: v for k, v in request.form.items() if k != "csrf_token"}
    try:
        spec = make_spec()
        ctx.session.commit()  # one transaction at a time (SQLite's write lock)
        with bind_tenant(None), state.db.Session() as s, s.begin():  # a new tenant: no tenant bound yet
            report = platform.create_tenant(s, spec, state.plugins)
    except PinganError as exc:
        errors = {form_id: exc.message}
        for group in (exc.errors or {}).values():
            if isinstance(group, dict):
                errors.update({f"{form_id}.{k}": v[0] if isinstance(v, list) else str(v) for k, v in group.items()})
        return _new_page(errors, {form_id: values}, exc.status)
    from core import audit
    audit.record(ctx.session, "operator_create", "tenant", report.tenant_id,
                 {"slug": spec.data["slug"], "name": spec.data["name"], "domains": spec.data.get("domains", [])})
    ctx.session.commit()
    state.resolver.forget()
    resp = make_response(render_template("operator/created.html", spec=spec.data, report=report))
    resp.headers["Cache-Control"] = "no-store"  # one-time passwords on the page
    return resp


@bp.route("/tenants/from-folder", methods=["POST"])
@authenticated
def from_folder():
    """Create a county from one of the folders under the configured tenants dir."""
    state = _state()
    return _create(lambda: platform.folder_spec(state.config, request.form.get("folder", ""), state.plugins),
                   "folder")


@bp.route("/tenants/from-form", methods=["POST"])
@authenticated
def from_form():
    """Create a county from the form: slug, name, domain, root unit, first administrator."""
    return _create(lambda: platform.form_spec(request.form.to_dict()), "form")


def _status(tenant_id: int, status: str):
    ctx = _operator()
    state = _state()
    reason = request.form.get("reason", "").strip()[:REASON_MAX]
    platform.set_status(state.db, state.config, ctx.session, tenant_id, status, reason)
    ctx.session.commit()
    return redirect(url_for("web_operator.index", done=f"{status}:{tenant_id}"))


@bp.route("/tenants/<int:tenant_id>/suspend", methods=["POST"])
@authenticated
def suspend(tenant_id: int):
    """Suspend a county: its users and API clients are refused (403 ``tenant_suspended``)."""
    return _status(tenant_id, "suspended")


@bp.route("/tenants/<int:tenant_id>/resume", methods=["POST"])
@authenticated
def resume(tenant_id: int):
    return _status(tenant_id, "active")
