"""The platform operator's console, ``/operator`` (who an operator is: ``core.platform``).

Separate from a county's admin console: it is served only to users of the platform tenant,
and answers 404 to everyone else, as a page that does not exist would. Tenants are listed
with their usage; a county is created from a ``tenants/<slug>`` folder or from a form (its
first administrator's one-time password is shown once); a county is suspended or resumed; a
year of the national holiday calendar is loaded (``/operator/calendar``).
Every act is audited (``core.platform``).
"""
from __future__ import annotations

from flask import Blueprint, make_response, redirect, render_template, request, url_for

from core import national_calendar, platform
from core.db import bind_tenant
from core.errors import NotFound, PinganError
from core.idempotency import HIDDEN_FORM_FIELDS
from core.request import authenticated, current
from core.runtime import pingan

bp = Blueprint("web_operator", __name__, url_prefix="/operator")
REASON_MAX = 200
CALENDAR_FILE_MAX = 64 * 1024  # a year's schedule is a page of text


def _state():
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
    uncovered = national_calendar.uncovered_next_year(ctx.session)
    ctx.session.commit()
    return render_template("operator/index.html", rows=rows, done=request.args.get("done"), uncovered=uncovered)


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
    values = {k: v for k, v in request.form.items() if k not in HIDDEN_FORM_FIELDS}
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


# --- the national holiday calendar (core.national_calendar) -------------------------------------

def _calendar_page(errors: list[str] | None = None, status: int = 200):
    ctx = _operator()
    from core.workdays import SHANGHAI
    from core.db import utcnow
    this_year = utcnow().astimezone(SHANGHAI).year
    coverage = [{"year": y, "source": national_calendar.source_of(ctx.session, y)}
                for y in range(this_year - 1, this_year + 3)]
    return render_template("operator/calendar.html", years=national_calendar.years(ctx.session), coverage=coverage,
                           uncovered=national_calendar.uncovered_next_year(ctx.session), errors=errors or [],
                           max_kb=CALENDAR_FILE_MAX // 1024), status


@bp.route("/calendar")
@authenticated
def calendar():
    """The years the platform knows, and the form that loads one from the State Council's notice."""
    return _calendar_page()


@bp.route("/calendar", methods=["POST"])
@authenticated
def calendar_import():
    """Load a year from a file (format: docs/calendar.md); then every county's provisional limits
    are recomputed in a job whose progress page this redirects to."""
    ctx = _operator()
    state = _state()
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _calendar_page(["请选择要导入的日历文件（.toml）"], 422)
    content = upload.stream.read(CALENDAR_FILE_MAX + 1)
    if len(content) > CALENDAR_FILE_MAX:
        return _calendar_page([f"文件过大（不能超过 {CALENDAR_FILE_MAX // 1024} KB）"], 413)
    try:
        schedule = national_calendar.parse(content)
    except national_calendar.CalendarFileError as exc:
        return _calendar_page(exc.errors, 422)
    ctx.session.commit()  # one transaction at a time (SQLite's write lock)
    national_calendar.import_year(state.db, state.config, schedule, f"user:{ctx.user.username}")
    from core import ledgers
    from core.cases.timeline import request_work
    job = ledgers.start_job(request_work(), "calendar_recompute",
                            f"{schedule.year} 年节假日安排已导入：重算各县暂定期限", {"scope": "platform", "year": schedule.year})
    ctx.session.commit()
    return redirect(url_for("web_operator.job", job_id=job.id))


@bp.route("/jobs/<int:job_id>")
@authenticated
def job(job_id: int):
    """An operator's job: its progress bar (the page reloads itself until the job is over)."""
    _operator()
    from core.api.jobs import _mine, present as present_job
    return render_template("cases/job.html", job=present_job(_mine(str(job_id))),
                           back=(url_for("web_operator.calendar"), "平台日历", "Platform calendar"))


@bp.route("/tenants/<int:tenant_id>/resume", methods=["POST"])
@authenticated
def resume(tenant_id: int):
    return _status(tenant_id, "active")
