"""/api/roles, /api/role-assignments, /api/permissions — who may do what where.

Escalation guard: you can only assign a role on a unit where you yourself hold every
permission of that role, and only put permissions you hold into a role.
"""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from core.api.common import IdField, ListArgs, id_path, page_of, paginate, permission_code, sort_field
from core.app import pingan
from core.authz import get_or_404, role_permissions, scoped
from core.errors import Conflict, Forbidden, NotFound
from core.models import OrgUnit, Role, RoleAssignment, RolePermission, User
from core.request import current, requires

blp = Blueprint("core_roles", __name__, url_prefix="/api", description="角色与授权 / Roles and grants")

ROLE_READ, ROLE_MANAGE, ASSIGN = "core.role.read", "core.role.manage", "core.role_assignment.manage"
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


def _check_permissions(codes: list[str]) -> list[str]:
    ctx = current()  # the schema admits declared codes only; here: only codes the editor holds
    for code in codes:
        if not ctx.grants.has(code):
            raise Forbidden("cannot_grant_unheld", f"不能授予自己没有的权限：{code}")
    return sorted(set(codes))


def _with_permissions(session, roles: list[Role]) -> list[Role]:
    """Attach each role's sorted permission codes, for a whole page in one query."""
    codes: dict[int, list[str]] = {r.id: [] for r in roles}
    if roles:
        for role_id, code in session.execute(select(RolePermission.role_id, RolePermission.permission)
                                             .where(RolePermission.role_id.in_(list(codes)))
                                             .order_by(RolePermission.permission)):
            codes[role_id].append(code)
    for role in roles:
        role.permission_codes = codes[role.id]
    return roles


def _set_permissions(session, role: Role, codes: list[str]) -> None:
    """Make the role hold exactly ``codes``; each removed or added row is audited."""
    current_rows = {rp.permission: rp for rp in session.scalars(
        select(RolePermission).where(RolePermission.role_id == role.id))}
    for code, row in current_rows.items():
        if code not in codes:
            session.delete(row)
    session.add_all(RolePermission(role_id=role.id, permission=c) for c in codes if c not in current_rows)


@blp.route("/roles")
class Roles(MethodView):
    @requires(ROLE_READ)
    @blp.arguments(RoleListArgs, location="query")
    @blp.response(200, page_of(RoleSchema))
    def get(self, args):
        """The county's roles (roles are county-wide; where they apply is set by assignments)."""
        session = current().session
        page = paginate(session, select(Role), args, Role.id, ROLE_SORTABLE, "key", unique=frozenset({"key"}))
        _with_permissions(session, page["items"])
        return page

    @requires(ROLE_MANAGE)
    @blp.arguments(RoleCreateSchema)
    @blp.response(201, RoleSchema)
    def post(self, data):
        ctx = current()
        codes = _check_permissions(data.pop("permissions"))
        if ctx.session.scalar(select(Role.id).where(Role.key == data["key"])):
            raise Conflict("role_key_taken", "角色标识已存在")
        role = Role(**data)
        ctx.session.add(role)
        ctx.session.flush()
        _set_permissions(ctx.session, role, codes)
        ctx.session.commit()
        return _with_permissions(ctx.session, [role])[0]


def _role(role_id) -> Role:
    role = current().session.scalar(select(Role).where(Role.id == id_path(role_id)))
    if role is None:
        raise NotFound()
    return role


@blp.route("/roles/<role_id>")
class RoleItem(MethodView):
    @requires(ROLE_READ)
    @blp.response(200, RoleSchema)
    def get(self, role_id):
        return _with_permissions(current().session, [_role(role_id)])[0]

    @requires(ROLE_MANAGE)
    @blp.arguments(RoleUpdateSchema)
    @blp.response(200, RoleSchema)
    def patch(self, data, role_id):
        ctx = current()
        role = _role(role_id)
        if "permissions" in data:
            _set_permissions(ctx.session, role, _check_permissions(data.pop("permissions")))
        for key, value in data.items():
            setattr(role, key, value)
        ctx.session.commit()
        return _with_permissions(ctx.session, [role])[0]

    @requires(ROLE_MANAGE)
    @blp.response(204)
    def delete(self, role_id):
        """Delete a role nobody holds any more."""
        ctx = current()
        role = _role(role_id)
        if ctx.session.scalar(select(RoleAssignment.id).where(RoleAssignment.role_id == role.id).limit(1)):
            raise Conflict("role_in_use", "仍有用户持有该角色，请先收回授权")
        _set_permissions(ctx.session, role, [])
        ctx.session.delete(role)
        ctx.session.commit()


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
        unit = get_or_404(ctx.session, ctx.grants, OrgUnit, data["org_unit_id"], ASSIGN)
        role = _role(data["role_id"])
        get_or_404(ctx.session, ctx.grants, User, data["user_id"], "core.user.read")
        missing = [p for p in role_permissions(ctx.session, role.id) if not ctx.grants.covers(p, unit.path)]
        if missing:
            raise Forbidden("cannot_grant_unheld", f"您在该单位不具备此角色的全部权限：{', '.join(missing[:5])}")
        exists = ctx.session.scalar(select(RoleAssignment.id).where(
            RoleAssignment.user_id == data["user_id"], RoleAssignment.role_id == role.id,
            RoleAssignment.org_unit_id == unit.id))
        if exists:
            raise Conflict("already_assigned", "该用户已在此单位持有该角色")
        ra = RoleAssignment(**data)
        ctx.session.add(ra)
        ctx.session.commit()
        return ra


@blp.route("/role-assignments/<assignment_id>")
class AssignmentItem(MethodView):
    @requires(ASSIGN)
    @blp.response(204)
    def delete(self, assignment_id):
        """Revoke an assignment on a unit within your scope."""
        ctx = current()
        ra = get_or_404(ctx.session, ctx.grants, RoleAssignment, id_path(assignment_id), ASSIGN)
        ctx.session.delete(ra)
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
