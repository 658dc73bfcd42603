"""/healthz (the process is up) and /readyz (the database and the queue answer).

``/healthz`` touches neither the database nor Redis: it stays fast while a lock holds up
writers (their requests give up after the web lock timeout and free their threads, issue 25).
``/readyz`` uses the web engine, so its checks are bounded by the web role's timeouts.

``/readyz`` also names, under ``details.calendar_uncovered_years``, this year (if ever) and —
from 1 November — next year when the platform does not know their holidays: limits there
are provisional until the operator loads the year (``pingan calendar import``). It never
makes the check fail."""
from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import text

from core.runtime import pingan
from core.request import tenantless

blp = Blueprint("health", __name__)


@blp.route("/healthz")
@tenantless
def healthz():
    return jsonify(status="ok")


@blp.route("/readyz")
@tenantless
def readyz():
    checks = {}
    state = pingan()
    try:
        with state.db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 — report, don't crash
        checks["database"] = f"error: {type(exc).__name__}"
    from core import jobs
    checks["queue"] = jobs.queue_health(state.config)
    ok = all(v == "ok" for v in checks.values())
    details = {}
    if checks["database"] == "ok":
        # not a failure: limits in an uncovered year are provisional — but the operator should load it
        from core import national_calendar
        try:
            with state.db.Session() as s:
                details["calendar_uncovered_years"] = national_calendar.uncovered_years(s)
        except Exception as exc:  # noqa: BLE001 — a detail, never the readiness itself
            details["calendar_uncovered_years"] = f"error: {type(exc).__name__}"
    return jsonify(status="ok" if ok else "unavailable", checks=checks, details=details), 200 if ok else 503
