"""/admin/users and /admin/roles — staff accounts, their roles per unit, and the roles.

The same services as ``/api/users``, ``/api/role-assignments`` and ``/api/roles``
(``core.accounts``, ``core.roles``) with the API's request schemas checking the forms. A new
account gets a one-time password shown once; it must change it at its first log-in. The
escalation guard is the core's: a role holds only permissions its editor holds, and is
assigned only on a unit where the assigner holds all of them.
"""
from __future__ import annotations

from flask import make_response, redirect, render_template, request, url_for
from sqlalchemy import select

from core import accounts, roles
from core.api.roles import RoleCreateSchema, RoleUpdateSchema
from core.api.users import UserCreateSchema, UserUpdateSchema
from core.authz import get_or_404, scoped
from core.bounds import parse_int
from core.errors import NotFound, PinganError
from core.models import OrgUnit, Role, RoleAssignment, User
from core.request import current, requires
from core.web.admin import bp, error_fields, form_with_errors, scope_units, section

MANAGE = accounts.MANAGE
section(20, "web_admin.user_list", MANAGE, "用户", "Users")
section(30, "web_admin.role_list", roles.ROLE_MANAGE, "角色与权限", "Roles and permissions")
PAGE = 100


def _fail(exc: PinganError, prefix: str) -> tuple[dict, int]:
    """Roll back; a 404 or a server error stays what it is, else the messages by field and the status."""
    current().session.rollback()
    if exc.status >= 500 or exc.status == 404:
        raise exc
    return error_fields(exc, prefix), exc.status


def _no_store(body: str, status: int):
    """A page showing a one-time password: kept in no cache."""
    resp = make_response(body, status)
    resp.headers["Cache-Control"] = "no-store"
    return resp


# --- users -----------------------------------------------------------------------------------

@bp.route("/users")
@requires(MANAGE)
def user_list():
    ctx = current()
    q = request.args.get("q", "").strip()[:50]
    stmt = scoped(select(User), ctx.grants, MANAGE, User.org_unit_id)
    if q:
        stmt = stmt.where(User.username.contains(q, autoescape=True) | User.display_name.contains(q, autoescape=True))
    users = list(ctx.session.scalars(stmt.order_by(User.username).limit(PAGE + 1)))
    names = dict(ctx.session.execute(select(OrgUnit.id, OrgUnit.name).where(
        OrgUnit.id.in_({u.org_unit_id for u in users}))).all())
    held: dict[int, list[tuple[str, str | None, str]]] = {}  # user id → (role name, English name, unit name)
    for user_id, name, name_en, unit in ctx.session.execute(
            select(RoleAssignment.user_id, Role.name, Role.name_en, OrgUnit.name)
            .join(Role, Role.id == RoleAssignment.role_id).join(OrgUnit, OrgUnit.id == RoleAssignment.org_unit_id)
            .where(RoleAssignment.user_id.in_([u.id for u in users[:PAGE]])).order_by(OrgUnit.path, Role.name)):
        held.setdefault(user_id, []).append((name, name_en, unit))
    return render_template("admin/users.html", users=users[:PAGE], more=len(users) > PAGE, names=names, q=q,
                           locked=accounts.is_locked, held=held)


def _new_page(values: dict, errors: dict, status: int = 200):
    ctx = current()
    return render_template("admin/user_new.html", units=scope_units(ctx.session, ctx.grants, MANAGE),
                           values=values, errors=errors), status


@bp.route("/users/new", methods=["GET", "POST"])
@requires(MANAGE)
def user_new():
    ctx = current()
    if request.method == "GET":
        return _new_page({}, {})
    values = {k: request.form.get(k, "").strip() for k in ("username", "display_name", "org_unit_id", "phone")}
    data, errors = form_with_errors(UserCreateSchema(), {**values, "org_unit_id": values["org_unit_id"] or None,
                                                  "phone": values["phone"] or None}, "user.")
    status = 422
    if not errors:
        try:
            user, password = accounts.create_user(ctx.session, ctx.grants, data)
            ctx.session.commit()
            return _no_store(render_template("admin/user_created.html", user=user, password=password), 201)
        except PinganError as exc:
            errors, status = _fail(exc, "user.")
    return _new_page(values, errors, status)


def _user(user_id: int) -> User:
    ctx = current()
    return get_or_404(ctx.session, ctx.grants, User, user_id, MANAGE)


def _user_page(user: User, errors: dict | None = None, values: dict | None = None, status: int = 200,
               password: str | None = None, done: str | None = None):
    ctx = current()
    s = ctx.session
    rows = s.execute(select(RoleAssignment, Role, OrgUnit)
                     .join(Role, Role.id == RoleAssignment.role_id)
                     .join(OrgUnit, OrgUnit.id == RoleAssignment.org_unit_id)
                     .where(RoleAssignment.user_id == user.id).order_by(OrgUnit.path, Role.key)).all()
    assignments = [{"id": ra.id, "role": role, "unit": unit,
                    "may_revoke": ctx.grants.covers(roles.ASSIGN, unit.path)} for ra, role, unit in rows]
    may_assign = ctx.grants.has(roles.ASSIGN)
    unit = s.scalar(select(OrgUnit).where(OrgUnit.id == user.org_unit_id))
    return render_template(
        "admin/user.html", user=user, unit=unit, locked=accounts.is_locked(user), assignments=assignments,
        manageable=not accounts.beyond_reach(s, ctx.grants, user),
        may_assign=may_assign, all_roles=list(s.scalars(select(Role).order_by(Role.key))) if may_assign else [],
        assign_units=scope_units(s, ctx.grants, roles.ASSIGN) if may_assign else [],
        units=scope_units(s, ctx.grants, MANAGE), errors=errors or {}, values=values or {}, password=password,
        done=done), status


@bp.route("/users/<int:user_id>")
@requires(MANAGE)
def user_page(user_id: int):
    return _user_page(_user(user_id), done=request.args.get("done"))


def _back(user: User, done: str):
    return redirect(url_for("web_admin.user_page", user_id=user.id, done=done))


@bp.route("/users/<int:user_id>/edit", methods=["POST"])
@requires(MANAGE)
def user_edit(user_id: int):
    ctx = current()
    user = _user(user_id)
    values = {k: request.form.get(k, "").strip() for k in ("display_name", "org_unit_id", "phone", "status")}
    payload = {**values, "org_unit_id": values["org_unit_id"] or None}
    if not values["phone"]:
        del payload["phone"]  # the saved number is not shown (personal data); empty keeps it
    data, errors = form_with_errors(UserUpdateSchema(), payload, "edit.")
    status = 422
    if not errors:
        try:
            accounts.update_user(ctx.session, ctx.grants, user, data)
            ctx.session.commit()
            return _back(user, "edit")
        except PinganError as exc:
            errors, status = _fail(exc, "edit.")
            user = _user(user_id)
    return _user_page(user, errors, {"edit": values}, status)


@bp.route("/users/<int:user_id>/lock", methods=["POST"])
@requires(MANAGE)
def user_lock(user_id: int):
    ctx = current()
    user = _user(user_id)
    try:
        if request.form.get("locked") == "1":
            accounts.lock(ctx.session, ctx.grants, user)
        else:
            accounts.unlock(ctx.session, ctx.grants, user)
    except PinganError as exc:
        errors, status = _fail(exc, "account.")
        return _user_page(_user(user_id), errors, status=status)
    ctx.session.commit()
    return _back(user, "lock")


@bp.route("/users/<int:user_id>/reset-password", methods=["POST"])
@requires(MANAGE)
def user_reset(user_id: int):
    ctx = current()
    user = _user(user_id)
    try:
        password = accounts.reset_password(ctx.session, ctx.grants, user)
    except PinganError as exc:
        errors, status = _fail(exc, "account.")
        return _user_page(_user(user_id), errors, status=status)
    ctx.session.commit()
    return _no_store(*_user_page(user, password=password))


@bp.route("/users/<int:user_id>/roles", methods=["POST"])
@requires(roles.ASSIGN)
def user_assign(user_id: int):
    ctx = current()
    user = get_or_404(ctx.session, ctx.grants, User, user_id, "core.user.read")
    values = {"role_id": request.form.get("role_id", ""), "org_unit_id": request.form.get("org_unit_id", "")}
    ids = {k: parse_int(v, lo=0) for k, v in values.items()}  # ASCII digits only (issue 14, finding 11)
    errors = {f"assign.{k}": "必填" for k, v in ids.items() if v is None}
    status = 422
    if not errors:
        try:
            roles.assign(ctx.session, ctx.grants, user.id, ids["role_id"], ids["org_unit_id"])
            ctx.session.commit()
            return _back(user, "assign")
        except PinganError as exc:
            errors, status = _fail(exc, "assign.")
    return _user_page(_user(user_id), errors, {"assign": values}, status)


@bp.route("/users/<int:user_id>/roles/<int:assignment_id>/revoke", methods=["POST"])
@requires(roles.ASSIGN)
def user_revoke(user_id: int, assignment_id: int):
    ctx = current()
    user = get_or_404(ctx.session, ctx.grants, User, user_id, "core.user.read")
    ra = get_or_404(ctx.session, ctx.grants, RoleAssignment, assignment_id, roles.ASSIGN)
    if ra.user_id != user.id:
        raise NotFound()
    roles.revoke(ctx.session, ctx.grants, ra.id)
    ctx.session.commit()
    return _back(user, "revoke")


# --- roles -----------------------------------------------------------------------------------

def _permissions() -> list[dict]:
    from core.runtime import pingan
    enabled = current().plugins
    return [{"code": p.code, "title": p.title, "title_en": p.title_en, "sensitive": p.sensitive, "plugin": owner}
            for p, owner in pingan().plugins.permissions.all() if owner is None or owner in enabled]


@bp.route("/roles")
@requires(roles.ROLE_MANAGE)
def role_list():
    ctx = current()
    all_roles = roles.with_permissions(ctx.session, list(ctx.session.scalars(select(Role).order_by(Role.key))))
    return render_template("admin/roles.html", roles=all_roles)


def _role_page(role: Role | None, values: dict, errors: dict, status: int = 200, done: bool = False):
    ctx = current()
    paths = roles.assigned_paths(ctx.session, role) if role else set()
    beyond = any(not ctx.grants.covers(roles.ROLE_MANAGE, p) for p in paths)
    return render_template("admin/role.html", role=role, values=values, errors=errors, done=done,
                           permissions=_permissions(), held=roles.editable_codes(ctx.grants, paths),
                           beyond=beyond), status


def _role_form() -> dict:
    return {"key": request.form.get("key", "").strip(), "name": request.form.get("name", "").strip(),
            "name_en": request.form.get("name_en", "").strip() or None,
            "description": request.form.get("description", "").strip() or None,
            "permissions": request.form.getlist("permissions")}


@bp.route("/roles/new", methods=["GET", "POST"])
@requires(roles.ROLE_MANAGE)
def role_new():
    ctx = current()
    if request.method == "GET":
        return _role_page(None, {"permissions": []}, {})
    values = _role_form()
    data, errors = form_with_errors(RoleCreateSchema(), values, "role.")
    status = 422
    if not errors:
        try:
            role = roles.create_role(ctx.session, ctx.grants, data)
            ctx.session.commit()
            return redirect(url_for("web_admin.role_page", role_id=role.id, done=1))
        except PinganError as exc:
            errors, status = _fail(exc, "role.")
    return _role_page(None, values, errors, status)


@bp.route("/roles/<int:role_id>", methods=["GET", "POST"])
@requires(roles.ROLE_MANAGE)
def role_page(role_id: int):
    ctx = current()
    role = roles.get_role(ctx.session, role_id)
    if request.method == "GET":
        roles.with_permissions(ctx.session, [role])
        return _role_page(role, {"key": role.key, "name": role.name, "name_en": role.name_en or "",
                                 "description": role.description or "", "permissions": role.permission_codes},
                          {}, done=request.args.get("done") == "1")
    values = _role_form()
    values.pop("key")
    data, errors = form_with_errors(RoleUpdateSchema(), values, "role.")
    status = 422
    if not errors:
        try:
            roles.update_role(ctx.session, ctx.grants, role, data)
            ctx.session.commit()
            return redirect(url_for("web_admin.role_page", role_id=role.id, done=1))
        except PinganError as exc:
            errors, status = _fail(exc, "role.")
            role = roles.get_role(ctx.session, role_id)
    return _role_page(role, {**values, "key": role.key}, errors, status)


@bp.route("/roles/<int:role_id>/delete", methods=["POST"])
@requires(roles.ROLE_MANAGE)
def role_delete(role_id: int):
    """Delete a role nobody holds any more (else 409 on the role's page, nothing deleted)."""
    ctx = current()
    role = roles.get_role(ctx.session, role_id)
    try:
        roles.delete_role(ctx.session, role)
        ctx.session.commit()
    except PinganError as exc:
        errors, status = _fail(exc, "delete.")
        role = roles.with_permissions(ctx.session, [roles.get_role(ctx.session, role_id)])[0]
        return _role_page(role, {"key": role.key, "name": role.name, "name_en": role.name_en or "",
                                 "description": role.description or "", "permissions": role.permission_codes},
                          errors, status)
    return redirect(url_for("web_admin.role_list"))
