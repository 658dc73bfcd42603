"""Roles and role assignments (ORG-5): who may do what where.

One service for ``/api/roles``, ``/api/role-assignments`` and the admin console. Escalation
guard: a role may only be given permissions its editor holds, and a role may only be assigned
on a unit where the assigner holds every permission of the role. A role already assigned is
edited (renamed, narrowed, widened) only by someone holding ``core.role.manage`` over every
unit where it is assigned (else 403 ``role_beyond_reach``), and a permission added to it must
be held by the editor on each of those units (else 403 ``cannot_grant_unheld``): a role held
at the county's root is the county's to change. Rows are audited on flush.

Role templates (issue 16, item 3): the bundles the core and the county's enabled modules offer
(``pingan_default_roles``) are listed with the roles that already carry them, adopted as a new
role or added to an existing one, under the same guard (an admin grants only what they hold;
a role assigned beyond their reach is not theirs to widen). A module switched off offers nothing.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.authz import Grants, get_or_404, load_grants, role_permissions
from core.errors import Conflict, Forbidden, Invalid, NotFound
from core.models import OrgUnit, Role, RoleAssignment, RolePermission, User
from core.plugins import CORE_ROLE_TEMPLATES

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
    """Edit a role; holders it gives a permission they lacked are signed out (``widen_account``)."""
    data = dict(data)
    codes = check_role_edit(session, grants, role, data.pop("permissions", None))
    widens = []
    if codes is not None:
        widens = holders_gaining(session, role, set(codes) - role_permissions(session, role.id))
        set_permissions(session, role, codes)
    for key, value in data.items():
        setattr(role, key, value)
    session.flush()
    sign_out_widened(session, role, widens)
    return role


def holders_gaining(session: Session, role: Role, added) -> list[tuple[int, int, list[str]]]:
    """(user, unit, codes) for each holder of ``role`` whom ``added`` gives a permission they lack
    on the unit of the assignment — read before the role changes."""
    if not added:
        return []
    out = []
    for user_id, unit_id, path in session.execute(
            select(RoleAssignment.user_id, OrgUnit.id, OrgUnit.path)
            .join(OrgUnit, OrgUnit.id == RoleAssignment.org_unit_id)
            .where(RoleAssignment.role_id == role.id).order_by(RoleAssignment.id)):
        held = load_grants(session, user_id)
        gained = sorted(c for c in added if not held.covers(c, path))
        if gained:
            out.append((user_id, unit_id, gained))
    return out


def sign_out_widened(session: Session, role: Role, widens: list[tuple[int, int, list[str]]]) -> None:
    """Once per account, as :func:`assign` treats a widening assignment."""
    for user_id, unit_id, gained in {w[0]: w for w in reversed(widens)}.values():
        _widen_account(session, user_id, role, unit_id, gained)


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
        _widen_account(session, user_id, role, unit.id, widened)
    return ra


def _widen_account(session: Session, user_id: int, role: Role, unit_id: int, widened: list[str]) -> None:
    """End the account's sessions and revoke its tokens: it now holds ``widened`` on ``unit_id``."""
    from core import auth
    ended = auth.end_all_sessions(session, user_id)
    revoked = auth.revoke_all_tokens(session, user_id, "account_widened")
    audit.record(session, "widen_account", "app_user", user_id,
                 {"role": role.key, "org_unit_id": unit_id, "permissions": widened,
                  "ended_sessions": ended, "revoked_tokens": revoked})


def revoke(session: Session, grants: Grants, assignment_id) -> None:
    """Revoke an assignment on a unit within the caller's scope (else 404)."""
    ra = get_or_404(session, grants, RoleAssignment, assignment_id, ASSIGN)
    session.delete(ra)
    session.flush()


# --- role templates -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Template:
    """A role template as one county sees it: the core's bundle (if any) with the permissions the
    county's enabled ``modules`` add under the same key."""

    key: str
    name: str
    name_en: str
    permissions: tuple[str, ...]
    modules: tuple[str, ...] = ()


def templates(host, enabled: Iterable[str]) -> dict[str, Template]:
    """The templates a county may adopt: the core's, merged by key with those of the modules it
    has switched on (``enabled``). A code no enabled module (or the core) declares is left out."""
    on = set(enabled)
    out = {t.key: Template(t.key, t.name, t.name_en, tuple(t.permissions)) for t in CORE_ROLE_TEMPLATES}
    for name in host.names:
        if name not in on:
            continue
        for t in host.plugins[name].role_templates:
            base = out.get(t.key)
            if base is None:
                out[t.key] = Template(t.key, t.name, t.name_en, tuple(t.permissions), (name,))
            else:
                out[t.key] = Template(base.key, base.name, base.name_en,
                                      tuple(dict.fromkeys(base.permissions + tuple(t.permissions))),
                                      base.modules + (name,))
    registry = host.permissions

    def usable(code: str) -> bool:
        return code in registry and (registry.owner(code) is None or registry.owner(code) in on)
    return {k: Template(v.key, v.name, v.name_en, tuple(c for c in v.permissions if usable(c)), v.modules)
            for k, v in out.items()}


def template(host, enabled: Iterable[str], key: str) -> Template:
    """One template by key; 422 ``unknown_template`` at ``template`` when the county has none such
    (its module not installed or switched off)."""
    found = templates(host, enabled).get(key)
    if found is None:
        raise Invalid("template", "unknown_template", "没有这个角色模板，或其所属模块未在本县启用")
    return found


def carriers(session: Session, tpls: Iterable[Template]) -> dict[str, list[Role]]:
    """Template key → the county's roles holding every permission of it (by name)."""
    all_roles = with_permissions(session, list(session.scalars(select(Role).order_by(Role.name, Role.key))))
    held = {r.id: set(r.permission_codes) for r in all_roles}
    return {t.key: [r for r in all_roles if t.permissions and set(t.permissions) <= held[r.id]] for t in tpls}


def listing(session: Session, grants: Grants, host, enabled: Iterable[str], module: str | None = None) -> list[dict]:
    """The county's templates (only those ``module`` contributes to, if given), each with its
    permissions and their titles (``module_part``: those ``module`` adds), the roles carrying it,
    and whether the caller may adopt it."""
    tpls = [t for t in templates(host, enabled).values() if module is None or module in t.modules]
    carried = carriers(session, tpls)
    registry = host.permissions
    own = {t.key: set(t.permissions) for t in host.plugins[module].role_templates} if module else {}
    out = []
    for t in tpls:
        perms = [registry.get(c) for c in t.permissions]
        out.append({"key": t.key, "name": t.name, "name_en": t.name_en or None, "modules": list(t.modules),
                    "permissions": [{"code": p.code, "title": p.title, "title_en": p.title_en,
                                     "module": registry.owner(p.code)} for p in perms],
                    "module_part": [{"code": p.code, "title": p.title, "title_en": p.title_en}
                                    for p in perms if p.code in own.get(t.key, ())],
                    "roles": carried[t.key], "grantable": all(grants.has(c) for c in t.permissions)})
    return out


def _refuse(host, codes: list[str], message: str) -> None:
    """403 ``cannot_grant_unheld`` at ``template``, naming the permissions by their titles."""
    if codes:
        titles = "、".join(host.permissions.get(c).title for c in codes)
        text = f"{message}：{titles}"
        raise Forbidden("cannot_grant_unheld", text, {"json": {"template": [text]}})


def _free_key(session: Session, base: str) -> str:
    taken = set(session.scalars(select(Role.key).where(Role.key.startswith(base, autoescape=True))))
    if base not in taken:
        return base
    n = 2
    while f"{base[:60]}_{n}" in taken:
        n += 1
    return f"{base[:60]}_{n}"


def adopt(session: Session, grants: Grants, host, enabled: Iterable[str], key: str, name: str | None = None,
          role_key: str | None = None) -> Role:
    """A new role holding the template's permissions, named ``name`` (default: the template's);
    its key is ``role_key`` or the template's (``_2``, ``_3`` … when taken). Every permission must
    be the adopter's own (else 403 ``cannot_grant_unheld``); a role of the same name is refused
    (409 ``role_name_taken``). Audited ``role_template_adopt``."""
    tpl = template(host, enabled, key)
    _refuse(host, [c for c in tpl.permissions if not grants.has(c)], "您不具备该模板的以下权限，不能授予")
    name = (name or "").strip() or tpl.name
    if session.scalar(select(Role.id).where(Role.name == name).limit(1)):
        raise Conflict("role_name_taken", "已有同名角色，请另取一个名称", {"json": {"name": ["已有同名角色，请另取一个名称"]}})
    role = create_role(session, grants, {"key": role_key or _free_key(session, tpl.key), "name": name,
                                         "name_en": tpl.name_en or None, "description": None,
                                         "permissions": list(tpl.permissions)})
    audit.record(session, "role_template_adopt", "role", role.id,
                 {"template": tpl.name, "permissions": sorted(tpl.permissions)})
    return role


def extend(session: Session, grants: Grants, host, enabled: Iterable[str], role: Role, key: str) -> list[str]:
    """Add the template's permissions to ``role``; the codes added (none when it carries them
    all). The editor covers every unit where the role is assigned (else 403 ``role_beyond_reach``)
    and holds each added permission there (else 403 ``cannot_grant_unheld``). Audited
    ``role_template_extend``; an account holding the role that gains a permission is signed out
    everywhere and its tokens revoked (``widen_account``), as when it is given a wider role."""
    tpl = template(host, enabled, key)
    paths = assigned_paths(session, role)
    if any(not grants.covers(ROLE_MANAGE, p) for p in paths):
        raise Forbidden("role_beyond_reach", "该角色已分配到您管辖范围以外的单位，只能由上级管理员修改")
    have = role_permissions(session, role.id)
    added = [c for c in tpl.permissions if c not in have]
    may_add = editable_codes(grants, paths)
    _refuse(host, [c for c in added if not may_add(c)], "您（在该角色已分配的单位）不具备以下权限，不能授予")
    if not added:
        return added
    widens = holders_gaining(session, role, added)
    set_permissions(session, role, sorted(have | set(added)))
    session.flush()
    audit.record(session, "role_template_extend", "role", role.id, {"template": tpl.name, "permissions": added})
    sign_out_widened(session, role, widens)
    return added
