"""/api/member-units (ORG-3) and /api/network-roles (ORG-4): the governance network.

Both are plain unit-scoped records, so one helper registers the same five endpoints for
each: list (scoped), create (in a unit you manage), get, patch, delete — the writes are
``core.network``'s (shared with the admin console).
"""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from core import network
from core.api.common import PHONE, IdField, IdListArgs, id_path, page_of, paginate
from core.authz import get_or_404, scoped
from core.orgtree import units_under
from core.crypto import mask_phone
from core.models import MemberUnit, NetworkRole, OrgUnit
from core.request import current, requires

blp = Blueprint("core_network", __name__, url_prefix="/api",
                description="成员单位与网格、包片人员 / Member units and network roles")


class UnitScopedListArgs(IdListArgs):
    org_unit_id = IdField(metadata={"description": "只列出该单位子树内的记录"})


def register_scoped_crud(path: str, model, item_schema, create_schema, update_schema,
                         read: str, manage: str, before_save=None) -> None:
    """Add list/create/get/patch/delete for a model that belongs to one org unit."""
    name = model.__name__

    class Collection(MethodView):
        @requires(read)
        @blp.arguments(UnitScopedListArgs, location="query")
        @blp.response(200, page_of(item_schema))
        def get(self, args):
            ctx = current()
            stmt = scoped(select(model), ctx.grants, read, model.org_unit_id)
            if "org_unit_id" in args:
                unit = get_or_404(ctx.session, ctx.grants, OrgUnit, args["org_unit_id"], read)
                stmt = stmt.where(model.org_unit_id.in_(units_under(unit.path)))
            return paginate(ctx.session, stmt, args, model.id, {"id": model.id}, "id")

        @requires(manage)
        @blp.arguments(create_schema)
        @blp.response(201, item_schema)
        def post(self, data):
            ctx = current()
            obj = network.create(ctx.session, ctx.grants, model, data, manage, before_save)
            ctx.session.commit()
            return obj

    class Item(MethodView):
        @requires(read)
        @blp.response(200, item_schema)
        def get(self, item_id):
            ctx = current()
            return get_or_404(ctx.session, ctx.grants, model, id_path(item_id), read)

        @requires(manage)
        @blp.arguments(update_schema)
        @blp.response(200, item_schema)
        def patch(self, data, item_id):
            ctx = current()
            obj = get_or_404(ctx.session, ctx.grants, model, id_path(item_id), manage)
            network.update(ctx.session, ctx.grants, obj, data, manage, before_save)
            ctx.session.commit()
            return obj

        @requires(manage)
        @blp.response(204)
        def delete(self, item_id):
            ctx = current()
            network.delete(ctx.session, get_or_404(ctx.session, ctx.grants, model, id_path(item_id), manage))
            ctx.session.commit()

    Collection.__name__, Item.__name__ = f"{name}Collection", f"{name}Item"
    blp.route(path)(Collection)
    blp.route(path + "/<item_id>")(Item)


# --- member units -------------------------------------------------------------------------

class MemberUnitSchema(Schema):
    id = fields.Integer()
    org_unit_id = fields.Integer()
    name = fields.String()
    category = fields.String()
    active = fields.Boolean()
    created_at = fields.DateTime()


class MemberUnitCreateSchema(Schema):
    org_unit_id = IdField(required=True, metadata={"description": "所在综治中心的单位"})
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    category = fields.String(required=True, validate=validate.Length(min=1, max=32))
    active = fields.Boolean(load_default=True)


class MemberUnitUpdateSchema(Schema):
    org_unit_id = IdField()
    name = fields.String(validate=validate.Length(min=1, max=100))
    category = fields.String(validate=validate.Length(min=1, max=32))
    active = fields.Boolean()


register_scoped_crud("/member-units", MemberUnit, MemberUnitSchema, MemberUnitCreateSchema,
                     MemberUnitUpdateSchema, "core.member_unit.read", "core.member_unit.manage")


# --- network roles ------------------------------------------------------------------------

class NetworkRoleSchema(Schema):
    id = fields.Integer()
    org_unit_id = fields.Integer()
    kind = fields.String()
    user_id = fields.Integer(allow_none=True)
    person_name = fields.String()
    phone = fields.Function(lambda r: mask_phone(r.phone), allow_none=True)
    started_on = fields.Date(allow_none=True)
    ended_on = fields.Date(allow_none=True)




class NetworkRoleCreateSchema(Schema):
    org_unit_id = IdField(required=True)
    kind = fields.String(required=True, validate=validate.Length(min=1, max=32),
                         metadata={"description": "area_leader, stationed_cadre, mediator, information_officer, "
                                                  "grid_worker, household_head … (本县配置)"})
    user_id = IdField(load_default=None, allow_none=True)
    person_name = fields.String(required=True, validate=validate.Length(min=1, max=50))
    phone = fields.String(load_default=None, allow_none=True, validate=PHONE)
    started_on = fields.Date(load_default=None, allow_none=True)
    ended_on = fields.Date(load_default=None, allow_none=True)


class NetworkRoleUpdateSchema(Schema):
    org_unit_id = IdField()
    kind = fields.String(validate=validate.Length(min=1, max=32))
    user_id = IdField(allow_none=True)
    person_name = fields.String(validate=validate.Length(min=1, max=50))
    phone = fields.String(allow_none=True, validate=PHONE)
    started_on = fields.Date(allow_none=True)
    ended_on = fields.Date(allow_none=True)


def _check_network_role(obj: NetworkRole, data: dict) -> None:
    from core.errors import Invalid
    from core.models import User
    if obj.started_on and obj.ended_on and obj.ended_on < obj.started_on:
        raise Invalid("ended_on", "ends_before_start", "结束日期不能早于开始日期")
    if data.get("user_id") is not None:
        ctx = current()
        get_or_404(ctx.session, ctx.grants, User, data["user_id"], "core.user.read")


register_scoped_crud("/network-roles", NetworkRole, NetworkRoleSchema, NetworkRoleCreateSchema,
                     NetworkRoleUpdateSchema, "core.network_role.read", "core.network_role.manage",
                     before_save=_check_network_role)
