"""/api/org-units — the org tree (ORG-1): list a subtree, add, rename, move, retire."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from core import orgtree
from core.api.common import sort_field, IdField, ListArgs, id_path, page_of, paginate
from core.authz import get_or_404, scoped
from core.models import OrgUnit
from core.request import current, requires

blp = Blueprint("core_org_units", __name__, url_prefix="/api/org-units",
                description="组织架构（县—乡镇—管区—村—组—网格） / Org tree")

READ, MANAGE = "core.org_unit.read", "core.org_unit.manage"


class OrgUnitSchema(Schema):
    id = fields.Integer()
    parent_id = fields.Integer(allow_none=True)
    path = fields.String()
    depth = fields.Integer()
    level = fields.String()
    name = fields.String()
    code = fields.String(allow_none=True)
    status = fields.String()
    retired_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


class OrgUnitCreateSchema(Schema):
    parent_id = IdField(required=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    level = fields.String(required=True, validate=validate.Length(min=1, max=32))
    code = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=32))


class OrgUnitUpdateSchema(Schema):
    name = fields.String(validate=validate.Length(min=1, max=100))
    code = fields.String(allow_none=True, validate=validate.Length(max=32))


class OrgUnitMoveSchema(Schema):
    parent_id = IdField(required=True)


SORTABLE = {"name": OrgUnit.name, "path": OrgUnit.path, "id": OrgUnit.id}


class OrgUnitListArgs(ListArgs):
    sort = sort_field(SORTABLE)
    under = IdField(metadata={"description": "只列出该单位及其全部下级（子树）"})
    parent_id = IdField(metadata={"description": "只列出该单位的直接下级"})
    level = fields.String(validate=validate.Length(max=32))
    status = fields.String(load_default="active", validate=validate.OneOf(["active", "retired", "all"]))
    q = fields.String(validate=validate.Length(min=1, max=50), metadata={"description": "名称包含"})




@blp.route("")
class OrgUnits(MethodView):
    @requires(READ)
    @blp.arguments(OrgUnitListArgs, location="query")
    @blp.response(200, page_of(OrgUnitSchema))
    def get(self, args):
        """List the units in your scope (filter by subtree, parent, level, status, name)."""
        ctx = current()
        stmt = scoped(select(OrgUnit), ctx.grants, READ, OrgUnit.id)
        if "under" in args:
            root = get_or_404(ctx.session, ctx.grants, OrgUnit, args["under"], READ)
            stmt = stmt.where(orgtree.within(root.path))
        if "parent_id" in args:
            stmt = stmt.where(OrgUnit.parent_id == args["parent_id"])
        if "level" in args:
            stmt = stmt.where(OrgUnit.level == args["level"])
        if args["status"] != "all":
            stmt = stmt.where(OrgUnit.status == args["status"])
        if "q" in args:
            stmt = stmt.where(OrgUnit.name.contains(args["q"], autoescape=True))
        return paginate(ctx.session, stmt, args, OrgUnit.id, SORTABLE, "path", unique=frozenset({"path"}))

    @requires(MANAGE)
    @blp.arguments(OrgUnitCreateSchema)
    @blp.response(201, OrgUnitSchema)
    def post(self, data):
        """Add a unit under a parent you manage."""
        ctx = current()
        parent = get_or_404(ctx.session, ctx.grants, OrgUnit, data["parent_id"], MANAGE)
        unit = orgtree.create_unit(ctx.session, parent=parent, name=data["name"], level=data["level"],
                                   code=data["code"])
        ctx.session.commit()
        return unit


@blp.route("/<unit_id>")
class OrgUnitItem(MethodView):
    @requires(READ)
    @blp.response(200, OrgUnitSchema)
    def get(self, unit_id):
        ctx = current()
        return get_or_404(ctx.session, ctx.grants, OrgUnit, id_path(unit_id), READ)

    @requires(MANAGE)
    @blp.arguments(OrgUnitUpdateSchema)
    @blp.response(200, OrgUnitSchema)
    def patch(self, data, unit_id):
        """Rename a unit or change its code."""
        ctx = current()
        unit = get_or_404(ctx.session, ctx.grants, OrgUnit, id_path(unit_id), MANAGE)
        for key, value in data.items():
            setattr(unit, key, value)
        ctx.session.commit()
        return unit


@blp.route("/<unit_id>/move")
class OrgUnitMove(MethodView):
    @requires(MANAGE)
    @blp.arguments(OrgUnitMoveSchema)
    @blp.response(200, OrgUnitSchema)
    def post(self, data, unit_id):
        """Move a unit and its whole subtree under another parent (both must be yours to manage)."""
        ctx = current()
        unit = get_or_404(ctx.session, ctx.grants, OrgUnit, id_path(unit_id), MANAGE)
        parent = get_or_404(ctx.session, ctx.grants, OrgUnit, data["parent_id"], MANAGE)
        moved = orgtree.move_unit(ctx.session, unit, parent)
        ctx.session.commit()
        return moved


@blp.route("/<unit_id>/retire")
class OrgUnitRetire(MethodView):
    @requires(MANAGE)
    @blp.response(200, OrgUnitSchema)
    def post(self, unit_id):
        """Retire a unit without active children; its history stays."""
        ctx = current()
        unit = get_or_404(ctx.session, ctx.grants, OrgUnit, id_path(unit_id), MANAGE)
        orgtree.retire_unit(ctx.session, unit)
        ctx.session.commit()
        return unit


@blp.route("/<unit_id>/ancestors")
class OrgUnitAncestors(MethodView):
    @requires(READ)
    @blp.response(200, OrgUnitSchema(many=True))
    def get(self, unit_id):
        """The chain of units above this one, county first."""
        ctx = current()
        unit = get_or_404(ctx.session, ctx.grants, OrgUnit, id_path(unit_id), READ)
        return orgtree.ancestors(ctx.session, unit)
