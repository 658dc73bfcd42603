"""/api/roles, /api/role-assignments, /api/permissions — who may do what where.

The service is ``core.roles`` (shared with the admin console). Escalation guard: you can only assign a role on a unit where you yourself hold every
permission of that role, and only put permissions you hold into a role.

``/api/role-templates`` lists the role templates of the core and of the county's enabled modules;
``POST /api/roles/from-template`` adopts one as a new role and ``POST /api/roles/<id>/extend``
adds one's permissions to an existing role, under the same guard (issue 16, item 3).
"""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from core.api.common import (IdField, ListArgs, id_path, page_of, paginate, permission_code, role_template_field,
                               sort_field)
from core.runtime import pingan
from core import roles
from core.authz import scoped
from core.errors import NotFound
from core.models import Role, RoleAssignment
from core.request import current, requires

blp = Blueprint("core_roles", __name__, url_prefix="/api", description="角色与授权 / Roles and grants")

ROLE_READ, ROLE_MANAGE, ASSIGN = roles.ROLE_READ, roles.ROLE_MANAGE, roles.ASSIGN
KEY = validate.Regexp(r"^[a-z][a-z0-9_]{1,63}$", error="角色标识只能包含小写字母、数字和下划线")


class RoleSchema(Schema):
    id = fields.Integer()
    key = fields.String()
    name = fields.String()
    name_en = fields.String(allow_none=True)
    description = fields.String(allow_none=True)
    permissions = fields.List(fields.String(), attribute="permission_codes")


class RoleCreateSchema(Schema):
    key = fields.String(required=True, validate=KEY)
    name = fields.String(required=True, validate=validate.Length(min=1, max=50))
    name_en = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=50))
    description = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=1000))
    permissions = fields.List(permission_code(), load_default=list, validate=validate.Length(max=500))


class RoleUpdateSchema(Schema):
    name = fields.String(validate=validate.Length(min=1, max=50))
    name_en = fields.String(allow_none=True, validate=validate.Length(max=50))
    description = fields.String(allow_none=True, validate=validate.Length(max=1000))
    permissions = fields.List(permission_code(), validate=validate.Length(max=500))


class AssignmentSchema(Schema):
    id = fields.Integer()
    user_id = fields.Integer()
    role_id = fields.Integer()
    org_unit_id = fields.Integer()
    created_at = fields.DateTime()


class AssignmentCreateSchema(Schema):
    user_id = IdField(required=True)
    role_id = IdField(required=True)
    org_unit_id = IdField(required=True)


ROLE_SORTABLE = {"key": Role.key, "id": Role.id}


class RoleListArgs(ListArgs):
    sort = sort_field(ROLE_SORTABLE)


class AssignmentListArgs(ListArgs):
    sort = sort_field({"id": RoleAssignment.id})
    user_id = IdField()
    org_unit_id = IdField()
    role_id = IdField()


class PermissionSchema(Schema):
    code = fields.String()
    title = fields.String()
    title_en = fields.String()
    sensitive = fields.Boolean()
    plugin = fields.String(allow_none=True)


@blp.route("/roles")
class Roles(MethodView):
    @requires(ROLE_READ)
    @blp.arguments(RoleListArgs, location="query")
    @blp.response(200, page_of(RoleSchema))
    def get(self, args):
        """The county's roles (roles are county-wide; where they apply is set by assignments)."""
        session = current().session
        page = paginate(session, select(Role), args, Role.id, ROLE_SORTABLE, "key", unique=frozenset({"key"}))
        roles.with_permissions(session, page["items"])
        return page

    @requires(ROLE_MANAGE)
    @blp.arguments(RoleCreateSchema)
    @blp.response(201, RoleSchema)
    def post(self, data):
        ctx = current()
        role = roles.create_role(ctx.session, ctx.grants, data)
        ctx.session.commit()
        return roles.with_permissions(ctx.session, [role])[0]


def _role(role_id) -> Role:
    return roles.get_role(current().session, id_path(role_id))


@blp.route("/roles/<role_id>")
class RoleItem(MethodView):
    @requires(ROLE_READ)
    @blp.response(200, RoleSchema)
    def get(self, role_id):
        return roles.with_permissions(current().session, [_role(role_id)])[0]

    @requires(ROLE_MANAGE)
    @blp.arguments(RoleUpdateSchema)
    @blp.response(200, RoleSchema)
    def patch(self, data, role_id):
        ctx = current()
        role = roles.update_role(ctx.session, ctx.grants, _role(role_id), data)
        ctx.session.commit()
        return roles.with_permissions(ctx.session, [role])[0]

    @requires(ROLE_MANAGE)
    @blp.response(204)
    def delete(self, role_id):
        """Delete a role nobody holds any more."""
        ctx = current()
        roles.delete_role(ctx.session, _role(role_id))
        ctx.session.commit()


class TemplatePermissionSchema(Schema):
    code = fields.String()
    title = fields.String()
    title_en = fields.String()
    module = fields.String(allow_none=True, metadata={"description": "the module declaring it; null: the core"})


class TemplateRoleSchema(Schema):
    id = fields.Integer()
    key = fields.String()
    name = fields.String()
    name_en = fields.String(allow_none=True)


class RoleTemplateSchema(Schema):
    key = fields.String(metadata={"description": "the template's key (``template`` in the requests below)"})
    name = fields.String()
    name_en = fields.String(allow_none=True)
    modules = fields.List(fields.String(), metadata={"description": "the enabled modules adding permissions to it"})
    permissions = fields.List(fields.Nested(TemplatePermissionSchema))
    roles = fields.List(fields.Nested(TemplateRoleSchema),
                        metadata={"description": "the county's roles already holding every permission of it"})
    grantable = fields.Boolean(metadata={"description": "whether you hold every permission of it"})


class RoleTemplateListArgs(Schema):
    module = fields.String(validate=validate.Length(min=1, max=64),
                           metadata={"description": "only the templates this module adds to"})


def template_key() -> fields.String:
    return role_template_field(required=True, metadata={
        "description": "a template's key, as ``GET /api/role-templates`` lists it (its module on in the county)"})


class FromTemplateSchema(Schema):
    template = template_key()
    name = fields.String(validate=validate.Length(min=1, max=50),
                         metadata={"description": "the new role's name; default the template's"})
    key = fields.String(validate=KEY, metadata={"description": "the new role's key; default the template's"})


class ExtendSchema(Schema):
    template = template_key()


@blp.route("/role-templates")
class RoleTemplates(MethodView):
    @requires(ROLE_READ)
    @blp.arguments(RoleTemplateListArgs, location="query")
    @blp.response(200, page_of(RoleTemplateSchema))
    def get(self, args):
        """The role templates of the core and of the county's enabled modules, with the roles
        carrying each (one page: ``next_cursor`` is always null)."""
        ctx = current()
        host = pingan().plugins
        if args.get("module") and args["module"] not in host.plugins:
            raise NotFound()
        return {"items": roles.listing(ctx.session, ctx.grants, host, ctx.plugins, args.get("module")),
                "next_cursor": None}


@blp.route("/roles/from-template")
class RoleFromTemplate(MethodView):
    @requires(ROLE_MANAGE)
    @blp.arguments(FromTemplateSchema)
    @blp.response(201, RoleSchema)
    def post(self, data):
        """Adopt a template as a new role. You must hold every permission of it (else 403
        ``cannot_grant_unheld`` at ``template``); a template of a module not enabled is 422
        ``unknown_template``; a name or key already used is 409."""
        ctx = current()
        role = roles.adopt(ctx.session, ctx.grants, pingan().plugins, ctx.plugins, data["template"],
                           data.get("name"), data.get("key"))
        ctx.session.commit()
        return roles.with_permissions(ctx.session, [role])[0]


@blp.route("/roles/<role_id>/extend")
class RoleExtend(MethodView):
    @requires(ROLE_MANAGE)
    @blp.arguments(ExtendSchema)
    @blp.response(200, RoleSchema)
    def post(self, data, role_id):
        """Add a template's permissions to a role (those it lacks). You must hold each added
        permission on every unit where the role is assigned (else 403 ``cannot_grant_unheld`` or
        ``role_beyond_reach``)."""
        ctx = current()
        role = _role(role_id)
        roles.extend(ctx.session, ctx.grants, pingan().plugins, ctx.plugins, role, data["template"])
        ctx.session.commit()
        return roles.with_permissions(ctx.session, [role])[0]


@blp.route("/role-assignments")
class Assignments(MethodView):
    @requires(ASSIGN)
    @blp.arguments(AssignmentListArgs, location="query")
    @blp.response(200, page_of(AssignmentSchema))
    def get(self, args):
        """Assignments on units within your scope."""
        ctx = current()
        stmt = scoped(select(RoleAssignment), ctx.grants, ASSIGN, RoleAssignment.org_unit_id)
        for key in ("user_id", "org_unit_id", "role_id"):
            if key in args:
                stmt = stmt.where(getattr(RoleAssignment, key) == args[key])
        return paginate(ctx.session, stmt, args, RoleAssignment.id, {"id": RoleAssignment.id}, "id")

    @requires(ASSIGN)
    @blp.arguments(AssignmentCreateSchema)
    @blp.response(201, AssignmentSchema)
    def post(self, data):
        """Grant a role on a unit's subtree. You must hold all of the role's permissions there."""
        ctx = current()
        ra = roles.assign(ctx.session, ctx.grants, data["user_id"], data["role_id"], data["org_unit_id"])
        ctx.session.commit()
        return ra


@blp.route("/role-assignments/<assignment_id>")
class AssignmentItem(MethodView):
    @requires(ASSIGN)
    @blp.response(204)
    def delete(self, assignment_id):
        """Revoke an assignment on a unit within your scope."""
        ctx = current()
        roles.revoke(ctx.session, ctx.grants, id_path(assignment_id))
        ctx.session.commit()


@blp.route("/permissions")
class Permissions(MethodView):
    @requires(ROLE_READ)
    @blp.response(200, PermissionSchema(many=True))
    def get(self):
        """Every permission the core and the installed plugins declare."""
        enabled = current().plugins
        return [{"code": p.code, "title": p.title, "title_en": p.title_en, "sensitive": p.sensitive,
                 "plugin": owner} for p, owner in pingan().plugins.permissions.all()
                if owner is None or owner in enabled]
