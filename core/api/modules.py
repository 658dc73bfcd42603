"""/api/modules — the module catalog: switch plugins on or off for the county, edit settings.

The catalog is a list like every other (``core.api.common``): ``?limit=&cursor=`` answer
``{"items": [...], "next_cursor": …}``, modules in name order. Each module's
``settings_schema`` describes its fields with their real defaults.

Enabling is county-wide, so it needs ``core.plugin.manage`` on the county's root unit.
Settings are validated against the plugin's declared schema before anything is saved; a
change takes effect on the next request (no restart) and is audited with before and after.
"""
from __future__ import annotations

import base64
import binascii

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from core import modules
from core.api.common import ListArgs, page_of
from core.errors import Invalid
from core.request import current, requires
from core.runtime import pingan

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


def _cursor(name: str) -> str:
    return base64.urlsafe_b64encode(name.encode()).decode().rstrip("=")


def _after(cursor: str) -> str:
    """The module name a cursor continues after (a forged cursor is a 422 naming ``cursor``)."""
    try:
        name = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, ValueError):
        name = ""
    if not name or not name.isprintable():
        raise Invalid("cursor", "invalid_cursor", "分页游标无效", location="query")
    return name


@blp.route("")
class Modules(MethodView):
    @requires(MANAGE)
    @blp.arguments(ListArgs, location="query")
    @blp.response(200, page_of(ModuleSchema))
    def get(self, args):
        """Every installed module and whether this county has it on, by name, a page at a time."""
        listed = modules.catalog(current().session, pingan().plugins)
        if args["cursor"]:
            after = _after(args["cursor"])
            listed = [m for m in listed if m["name"] > after]
        page = listed[:args["limit"]]
        more = len(listed) > args["limit"]
        return {"items": page, "next_cursor": _cursor(page[-1]["name"]) if more else None}


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
