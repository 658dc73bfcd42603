"""/api/modules — the module catalog: switch plugins on or off for the county, edit settings.

Enabling is county-wide, so it needs ``core.plugin.manage`` on the county's root unit.
Settings are validated against the plugin's declared schema before anything is saved; a
change takes effect on the next request (no restart) and is audited with before and after.
"""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, missing
from sqlalchemy import select

from core.app import pingan
from core.authz import require_county_wide
from core.errors import NotFound, Unprocessable
from core.models import TenantPlugin
from core.request import current, requires

blp = Blueprint("core_modules", __name__, url_prefix="/api/modules", description="功能模块 / Modules")
MANAGE = "core.plugin.manage"


class ModuleSchema(Schema):
    name = fields.String()
    title = fields.String()
    title_en = fields.String(allow_none=True)
    description = fields.String(allow_none=True)
    version = fields.String(allow_none=True)
    enabled = fields.Boolean()
    settings = fields.Dict()
    settings_schema = fields.Dict(metadata={"description": "字段说明，供表单生成"})


class ModuleUpdateSchema(Schema):
    enabled = fields.Boolean(required=True)
    settings = fields.Dict(load_default=None, allow_none=True)


def _describe(name: str, row: TenantPlugin | None) -> dict:
    host = pingan().plugins
    contrib = host.plugins[name]
    schema_cls = contrib.settings_schema
    schema_doc = {}
    if schema_cls is not None:
        for fname, f in schema_cls().fields.items():
            schema_doc[fname] = {"type": type(f).__name__, "required": f.required,
                                 "default": None if f.load_default is missing or callable(f.load_default)
                                 else f.load_default,
                                 "title": f.metadata.get("title", fname), "description": f.metadata.get("description")}
    return {"name": name, "title": contrib.info.get("title"), "title_en": contrib.info.get("title_en"),
            "description": contrib.info.get("description"), "version": contrib.info.get("version"),
            "enabled": bool(row and row.enabled), "settings": (row.settings if row else {}) or {},
            "settings_schema": schema_doc}


@blp.route("")
class Modules(MethodView):
    @requires(MANAGE)
    @blp.response(200, ModuleSchema(many=True))
    def get(self):
        """Every installed module and whether this county has it on."""
        rows = {r.plugin: r for r in current().session.scalars(select(TenantPlugin))}
        return [_describe(n, rows.get(n)) for n in pingan().plugins.names]


@blp.route("/<name>")
class ModuleItem(MethodView):
    @requires(MANAGE)
    @blp.response(200, ModuleSchema)
    def get(self, name):
        if name not in pingan().plugins.plugins:
            raise NotFound()
        row = current().session.scalar(select(TenantPlugin).where(TenantPlugin.plugin == name))
        return _describe(name, row)

    @requires(MANAGE)
    @blp.arguments(ModuleUpdateSchema)
    @blp.response(200, ModuleSchema)
    def put(self, data, name):
        """Switch a module on or off and save its settings (validated first; nothing saved on error)."""
        host = pingan().plugins
        if name not in host.plugins:
            raise NotFound()
        ctx = current()
        require_county_wide(ctx.session, ctx.grants, MANAGE, "只有县级管理员可以启用或配置功能模块")
        row = ctx.session.scalar(select(TenantPlugin).where(TenantPlugin.plugin == name))
        raw = data["settings"] if data["settings"] is not None else (row.settings if row else {})
        try:
            settings = host.validate_settings(name, raw)
        except ValidationError as exc:
            raise Unprocessable("invalid_settings", "模块参数有误", {"json": {"settings": exc.messages}}) from None
        if row is None:
            row = TenantPlugin(plugin=name)
            ctx.session.add(row)
        row.enabled = data["enabled"]
        row.settings = settings
        ctx.session.commit()
        return _describe(name, row)
