"""The module catalog: which installed plugins a county has switched on, and their settings.

One service for ``/api/modules`` and the admin console (``/admin/modules``). Switching and
configuring is county-wide (``core.plugin.manage`` on the county's root unit). Settings are
validated against the plugin's schema before anything is saved; a change takes effect on the
next request (the enabled-plugins cache is dropped on commit) and the flushed row is audited
with before and after (``core.audit``), which is also the change history shown to admins.
"""
from __future__ import annotations

import datetime as dt
import decimal
import enum
import uuid

from marshmallow import ValidationError, missing
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.audit import AuditEntry
from core.authz import Grants, require_county_wide
from core.errors import NotFound, Unprocessable
from core.models import TenantPlugin

MANAGE = "core.plugin.manage"
COUNTY_ONLY = "只有县级管理员可以启用或配置功能模块"


def default_of(field):
    """A field's real default: ``load_default`` called when it is a callable (``list``, a
    function), ``None`` when the field has none."""
    value = field.load_default
    if value is missing:
        return None
    return value() if callable(value) else value


def stored_default(field):
    """A field's real default as stored and shown (``default_of`` in the field's own dump: an
    Enum by name or value as it loads, a date in ISO), ``None`` when it has none."""
    value = default_of(field)
    if value is None:
        return None
    try:
        return json_ready(field._serialize(value, field.name, None))
    except Exception:  # noqa: BLE001 — a default the field cannot dump (already plain): as it is
        return json_ready(value)


def json_ready(value):
    """A value as JSON holds it: dates in ISO, decimals and UUIDs as text, enums by value."""
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [json_ready(v) for v in value]
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return json_ready(value.value)
    if isinstance(value, (decimal.Decimal, uuid.UUID)):
        return str(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def as_stored(schema_cls, valid: dict) -> dict:
    """Loaded settings as they are stored (and shown): the schema's own dump (dates as ISO text,
    an Enum by name or value as it loads) made JSON-ready, so loading them again gives ``valid``."""
    if schema_cls is None:
        return json_ready(valid)
    try:
        dumped = schema_cls().dump(valid)
    except Exception:  # noqa: BLE001 — a value its schema cannot dump: stored as loaded
        dumped = {}
    return json_ready({k: dumped.get(k, v) for k, v in valid.items()})


def describe(host, name: str, row: TenantPlugin | None) -> dict:
    """A module as the catalog shows it: its info, whether it is on, settings and their fields
    (each with its real default: a callable ``load_default`` is called)."""
    contrib = host.plugins[name]
    schema_doc = {}
    if contrib.settings_schema is not None:
        for fname, f in contrib.settings_schema().fields.items():
            schema_doc[fname] = {"type": type(f).__name__, "required": f.required,
                                 "default": stored_default(f),
                                 "title": f.metadata.get("title", fname), "description": f.metadata.get("description")}
    return {"name": name, "title": contrib.info.get("title"), "title_en": contrib.info.get("title_en"),
            "description": contrib.info.get("description"), "version": contrib.info.get("version"),
            "enabled": bool(row and row.enabled), "settings": (row.settings if row else {}) or {},
            "settings_schema": schema_doc}


def row_of(session: Session, name: str) -> TenantPlugin | None:
    return session.scalar(select(TenantPlugin).where(TenantPlugin.plugin == name))


def row_settings(session: Session, name: str) -> dict:
    """The settings a county has saved for a module (``{}`` when none)."""
    row = row_of(session, name)
    return dict((row.settings if row else None) or {})


def catalog(session: Session, host) -> list[dict]:
    """Every installed module, with this county's switch and settings."""
    rows = {r.plugin: r for r in session.scalars(select(TenantPlugin))}
    return [describe(host, n, rows.get(n)) for n in host.names]


def module(session: Session, host, name: str) -> dict:
    if name not in host.plugins:
        raise NotFound()
    return describe(host, name, row_of(session, name))


def save(session: Session, grants: Grants, host, name: str, enabled: bool | None,
         settings: dict | None) -> TenantPlugin:
    """Switch a module on or off (``enabled`` None: keep) and save its settings (None: keep the
    saved ones, re-validated). Raises ``Unprocessable`` (``invalid_settings``, the schema's messages
    under ``json.settings``) before anything changes; the caller commits."""
    if name not in host.plugins:
        raise NotFound()
    require_county_wide(session, grants, MANAGE, COUNTY_ONLY)
    row = row_of(session, name)
    raw = settings if settings is not None else (row.settings if row else {})
    try:
        valid = host.validate_settings(name, raw)
    except ValidationError as exc:
        raise Unprocessable("invalid_settings", "模块参数有误", {"json": {"settings": exc.messages}}) from None
    if row is None:
        row = TenantPlugin(plugin=name, enabled=False)
        session.add(row)
    if enabled is not None:
        row.enabled = enabled
    row.settings = as_stored(host.plugins[name].settings_schema, valid)
    return row


def history(session: Session, row: TenantPlugin | None, limit: int = 50) -> list[AuditEntry]:
    """The audit entries of a module's switch and settings, newest first."""
    if row is None or row.id is None:
        return []
    return list(session.scalars(select(AuditEntry).where(AuditEntry.object_type == TenantPlugin.__tablename__,
                                                         AuditEntry.object_id == str(row.id))
                                .order_by(AuditEntry.id.desc()).limit(limit)))


def diff(changes: dict) -> list[dict]:
    """An audited change of a module row as lines ``{"key", "before", "after"}``: the switch,
    then each setting that changed (nested values compared whole)."""
    out = []
    if "enabled" in changes:
        before, after = changes["enabled"]
        out.append({"key": "enabled", "before": before, "after": after})
    if "settings" in changes:
        before, after = changes["settings"]
        before, after = before or {}, after or {}
        for key in sorted(set(before) | set(after)):
            if before.get(key) != after.get(key):
                out.append({"key": key, "before": before.get(key), "after": after.get(key)})
    return out


def require_manager(session: Session, grants: Grants) -> None:
    """403 unless the user may manage modules county-wide (the catalog's pages and writes)."""
    require_county_wide(session, grants, MANAGE, COUNTY_ONLY)
