"""/healthz (the process is up) and /readyz (the database and the queue answer)."""
from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import text

from core.app import pingan
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
    return jsonify(status="ok" if ok else "unavailable", checks=checks), 200 if ok else 503
