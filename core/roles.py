"""Roles and role assignments (ORG-5): who may do what where.

One service for ``/api/roles``, ``/api/role-assignments`` and the admin console. Escalation
guard: a role may only be given permissions its editor holds, and a role may only be assigned
on a unit where the assigner holds every permission of the role. A role already assigned is
edited (renamed, narrowed, widened) only by someone holding ``core.role.manage`` over every
unit where it is assigned (else 403 ``role_beyond_reach``), and a permission added to it must
be held by the editor on each of those units (else 403 ``cannot_grant_unheld``): a role held
at the county's root is the county's to change. Rows are audited on flush.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.authz import Grants, get_or_404, load_grants, role_permissions
from core.errors import Conflict, Forbidden, NotFound
from core.models import OrgUnit, Role, RoleAssignment, RolePermission, User

ROLE_READ, ROLE_MANAGE, ASSIGN = "core.role.read", "core.role.manage", "core.role_assignment.manage"


def check_permissions(grants: Grants, codes: list[str]) -> list[str]:
    """The codes, sorted and unique, if the editor holds each one somewhere; else 403."""
    for code in codes:
        if not grants.has(code):
            raise Forbidden("cannot_grant_unheld", f"不能授予自己没有的权限：{code}")
    return sorted(set(codes))


def with_permissions(session: Session, roles: list[Role]) -> list[Role]:
    """Attach each role's sorted permission codes (``permission_codes``), in one query."""
    codes: dict[int, list[str]] = {r.id: [] for r in roles}
    if roles:
        for role_id, code in session.execute(select(RolePermission.role_id, RolePermission.permission)
                                             .where(RolePermission.role_id.in_(list(codes)))
                                             .order_by(RolePermission.permission)):
            codes[role_id].append(code)
    for role in roles:
        role.permission_codes = codes[role.id]
    return roles


def set_permissions(session: Session, role: Role, codes: list[str]) -> None:
    """Make the role hold exactly ``codes``; each removed or added row is audited."""
    current_rows = {rp.permission: rp for rp in session.scalars(
        select(RolePermission).where(RolePermission.role_id == role.id))}
    for code, row in current_rows.items():
        if code not in codes:
            session.delete(row)
    session.add_all(RolePermission(role_id=role.id, permission=c) for c in codes if c not in current_rows)


def get_role(session: Session, role_id) -> Role:
    try:
        role_id = int(role_id)
    except (TypeError, ValueError):
        raise NotFound() from None
    role = session.scalar(select(Role).where(Role.id == role_id))
    if role is None:
        raise NotFound()
    return role


def create_role(session: Session, grants: Grants, data: dict) -> Role:
    data = dict(data)
    codes = check_permissions(grants, data.pop("permissions", []))
    if session.scalar(select(Role.id).where(Role.key == data["key"])):
        raise Conflict("role_key_taken", "角色标识已存在", {"json": {"key": ["角色标识已存在"]}})
    role = Role(**data)
    session.add(role)
    session.flush()
    set_permissions(session, role, codes)
    session.flush()
    return role


def assigned_paths(session: Session, role: Role) -> set[str]:
    """The paths of the units where the role is assigned."""
    return set(session.scalars(select(OrgUnit.path).join(RoleAssignment, RoleAssignment.org_unit_id == OrgUnit.id)
                               .where(RoleAssignment.role_id == role.id)))


def editable_codes(grants: Grants, paths: set[str]):
    """``code → bool``: may this editor put ``code`` into a role assigned on ``paths``?"""
    return lambda code: grants.has(code) and all(grants.covers(code, p) for p in paths)


def check_role_edit(session: Session, grants: Grants, role: Role, codes: list[str] | None) -> list[str] | None:
    """The editor covers every unit where the role is assigned (else 403 ``role_beyond_reach``),
    holds each code somewhere (:func:`check_permissions`) and each *added* code on every unit
    where the role is assigned (else 403 ``cannot_grant_unheld``). Returns the codes, sorted."""
    paths = assigned_paths(session, role)
    if any(not grants.covers(ROLE_MANAGE, p) for p in paths):
        raise Forbidden("role_beyond_reach", "该角色已分配到您管辖范围以外的单位，只能由上级管理员修改")
    if codes is None:
        return None
    codes = check_permissions(grants, codes)
    may_add = editable_codes(grants, paths)
    for code in sorted(set(codes) - role_permissions(session, role.id)):
        if not may_add(code):
            message = f"您在该角色已分配的单位不具备此权限：{code}"
            raise Forbidden("cannot_grant_unheld", message, {"json": {"permissions": [message]}})
    return codes


def update_role(session: Session, grants: Grants, role: Role, data: dict) -> Role:
    data = dict(data)
    codes = check_role_edit(session, grants, role, data.pop("permissions", None))
    if codes is not None:
        set_permissions(session, role, codes)
    for key, value in data.items():
        setattr(role, key, value)
    session.flush()
    return role


def delete_role(session: Session, role: Role) -> None:
    """Delete a role nobody holds any more."""
    if session.scalar(select(RoleAssignment.id).where(RoleAssignment.role_id == role.id).limit(1)):
        raise Conflict("role_in_use", "仍有用户持有该角色，请先收回授权")
    set_permissions(session, role, [])
    session.flush()  # the permission rows first (each audited), then the role
    session.delete(role)
    session.flush()


def assign(session: Session, grants: Grants, user_id: int, role_id: int, org_unit_id: int) -> RoleAssignment:
    """Grant a role on a unit's subtree; the assigner must hold all of the role's permissions there.

    When the role widens the account — grants a permission it did not hold on that unit — every
    session of the account ends and its personal access tokens and OAuth tokens are revoked
    (audited ``widen_account``): a password or token captured while the account was low-level
    opens nothing at the higher level; the owner signs in again."""
    unit = get_or_404(session, grants, OrgUnit, org_unit_id, ASSIGN)
    role = get_role(session, role_id)
    get_or_404(session, grants, User, user_id, "core.user.read")
    missing = [p for p in role_permissions(session, role.id) if not grants.covers(p, unit.path)]
    if missing:
        raise Forbidden("cannot_grant_unheld", f"您在该单位不具备此角色的全部权限：{', '.join(missing[:5])}")
    exists = session.scalar(select(RoleAssignment.id).where(
        RoleAssignment.user_id == user_id, RoleAssignment.role_id == role.id,
        RoleAssignment.org_unit_id == unit.id))
    if exists:
        raise Conflict("already_assigned", "该用户已在此单位持有该角色")
    held = load_grants(session, user_id)
    widened = sorted(p for p in role_permissions(session, role.id) if not held.covers(p, unit.path))
    ra = RoleAssignment(user_id=user_id, role_id=role.id, org_unit_id=unit.id)
    session.add(ra)
    session.flush()
    if widened:
        from core import auth
        ended = auth.end_all_sessions(session, user_id)
        revoked = auth.revoke_all_tokens(session, user_id, "account_widened")
        audit.record(session, "widen_account", "app_user", user_id,
                     {"role": role.key, "org_unit_id": unit.id, "permissions": widened,
                      "ended_sessions": ended, "revoked_tokens": revoked})
    return ra


def revoke(session: Session, grants: Grants, assignment_id) -> None:
    """Revoke an assignment on a unit within the caller's scope (else 404)."""
    ra = get_or_404(session, grants, RoleAssignment, assignment_id, ASSIGN)
    session.delete(ra)
    session.flush()
