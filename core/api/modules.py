"""/api/modules — the module catalog: switch plugins on or off for the county, edit settings.

Enabling is county-wide, so it needs ``core.plugin.manage`` on the county's root unit.
Settings are validated against the plugin's declared schema before anything is saved; a
change takes effect on the next request (no restart) and is audited with before and after.
"""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from core import modules
from core.runtime import pingan
from core.request import current, requires

blp = Blueprint("core_modules", __name__, url_prefix="/api/modules", description="功能模块 / Modules")
MANAGE = modules.MANAGE


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


@blp.route("")
class Modules(MethodView):
    @requires(MANAGE)
    @blp.response(200, ModuleSchema(many=True))
    def get(self):
        """Every installed module and whether this county has it on."""
        return modules.catalog(current().session, pingan().plugins)


@blp.route("/<name>")
class ModuleItem(MethodView):
    @requires(MANAGE)
    @blp.response(200, ModuleSchema)
    def get(self, name):
        return modules.module(current().session, pingan().plugins, name)

    @requires(MANAGE)
    @blp.arguments(ModuleUpdateSchema)
    @blp.response(200, ModuleSchema)
    def put(self, data, name):
        """Switch a module on or off and save its settings (validated first; nothing saved on error)."""
        host = pingan().plugins
        ctx = current()
        row = modules.save(ctx.session, ctx.grants, host, name, data["enabled"], data["settings"])
        ctx.session.commit()
        return modules.describe(host, name, row)
