"""/admin/calendar — the county's working-day overrides (a local holiday, an adjusted working
day) on top of the national calendar: list a year's, set one, remove one. County-wide
(``core.case.configure`` on the root unit); the service is ``core.calendar_overrides``, the
form is checked by the API's ``CalendarDayPutSchema``.
"""
from __future__ import annotations

import datetime as dt

from flask import redirect, render_template, request, url_for

from core import calendar_overrides, ledgers, national_calendar
from core.api.case_config import CalendarDayPutSchema, CalendarYearPutSchema
from core.authz import require_county_wide
from core.bounds import parse_int
from core.cases.timeline import request_work
from core.errors import Invalid, NotFound, PinganError
from core.request import current, requires
from core.web.admin import bp, error_fields, form_with_errors, section
from core.workdays import SHANGHAI

CONFIGURE = calendar_overrides.CONFIGURE
section(60, "web_admin.calendar", CONFIGURE, "工作日历", "Working-day calendar", county_wide=True)


def _year() -> int:
    raw = request.args.get("year", "")
    year = parse_int(raw, lo=2000, hi=2100)  # ASCII digits only: "²" is no year (issue 14, finding 11)
    if year is not None:
        return year
    return dt.datetime.now(SHANGHAI).year


def _page(year: int, errors: dict | None = None, values: dict | None = None, status: int = 200,
          done: str | None = None):
    ctx = current()
    declared = {y.year: y for y in calendar_overrides.years(ctx.session)}
    return render_template("admin/calendar.html", year=year, days=calendar_overrides.days(ctx.session, year),
                           covered=national_calendar.covered(ctx.session, year),
                           national_source=national_calendar.source_of(ctx.session, year), declared=declared.get(year),
                           declared_years=list(declared.values()), errors=errors or {}, values=values or {},
                           done=done), status


@bp.route("/calendar")
@requires(CONFIGURE)
def calendar():
    ctx = current()
    require_county_wide(ctx.session, ctx.grants, CONFIGURE, calendar_overrides.COUNTY_WIDE)
    return _page(_year(), done=request.args.get("done"))


@bp.route("/calendar", methods=["POST"])
@requires(CONFIGURE)
def calendar_set():
    ctx = current()
    values = {k: request.form.get(k, "").strip() for k in ("day", "kind", "note")}
    errors = {}
    try:
        day = dt.date.fromisoformat(values["day"])
        if not 2000 <= day.year <= 2100:
            raise ValueError
    except ValueError:
        day, errors["day.day"] = None, "请填写日期，例如 2026-10-09"
    if values["kind"] not in ("work", "rest"):
        errors["day.kind"] = "请选择工作日或休息日"
    data, schema_errors = form_with_errors(CalendarDayPutSchema(), {"is_workday": values["kind"] == "work",
                                                             "note": values["note"]}, "day.")
    errors.update(schema_errors)
    year = day.year if day else _year()
    if errors:
        return _page(year, errors, {"day": values}, 422)
    try:
        calendar_overrides.set_day(ctx.session, ctx.grants, day, data["is_workday"], data["note"])
        ctx.session.commit()
    except PinganError as exc:
        ctx.session.rollback()
        if exc.status != 422:
            raise
        return _page(year, error_fields(exc, "day."), {"day": values}, 422)
    return redirect(url_for("web_admin.calendar", year=year, done=day.isoformat()))


@bp.route("/calendar/<day>/remove", methods=["POST"])
@requires(CONFIGURE)
def calendar_remove(day: str):
    ctx = current()
    try:
        d = dt.date.fromisoformat(day)
    except ValueError:
        raise NotFound() from None
    calendar_overrides.remove_day(ctx.session, ctx.grants, d)
    ctx.session.commit()
    return redirect(url_for("web_admin.calendar", year=d.year, done="removed"))


@bp.route("/calendar/years/<int:year>", methods=["POST"])
@requires(CONFIGURE)
def calendar_year(year: int):
    """Declare (``action=declare``, with the notice as ``source``) or withdraw (``action=remove``)
    that the county's overrides hold the whole year's holidays and adjusted working days."""
    ctx = current()
    calendar_overrides.check_year(year)
    if request.form.get("action") == "remove":
        calendar_overrides.undeclare_year(ctx.session, ctx.grants, year)
        ctx.session.commit()
        return redirect(url_for("web_admin.calendar", year=year, done="year"))
    values = {"source": request.form.get("source", "").strip()}
    data, errors = form_with_errors(CalendarYearPutSchema(), values, "year.")
    if errors:
        return _page(year, errors, {"year": values}, 422)
    try:
        calendar_overrides.declare_year(ctx.session, ctx.grants, year, data["source"])
    except Invalid as exc:
        return _page(year, {"year._form": exc.message}, {"year": values}, exc.status)
    job = ledgers.start_job(request_work(), "calendar_recompute", f"按本县录入的 {year} 年日历重算暂定期限",
                            {"year": year})
    ctx.session.commit()
    return redirect(url_for("web_cases.job_page", job_id=job.id))
