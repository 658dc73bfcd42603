"""Permissions, grants and scope: the one place that answers "may this user do P here?".

A role is a named bundle of permission strings. A role assignment binds (user, role, org
unit) and grants the role's permissions on that unit's whole subtree. Grants only add up:
there is no deny rule, and a permission held nowhere is a 403 while an object outside every
granted subtree (or of another tenant) is a 404, the same answer as for an object that does
not exist.

Plugins never reimplement any of this; they call :func:`require`, :func:`may`,
:func:`scoped` and :func:`get_or_404` through ``core.sdk``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Select, false, or_, select, true
from sqlalchemy.orm import Session

from core.errors import Forbidden, NotFound
from core.models import OrgUnit, RoleAssignment, RolePermission
from core.orgtree import is_root, within


@dataclass(frozen=True)
class Permission:
    """A permission a module declares: ``Permission("petition.case.create", "登记信访件", …)``."""

    code: str
    title: str
    title_en: str = ""
    sensitive: bool = False  # unmasks personal data; every use is audited


CORE_PERMISSIONS: tuple[Permission, ...] = (
    Permission("core.org_unit.read", "查看组织架构", "View the org tree"),
    Permission("core.org_unit.manage", "维护组织架构", "Edit the org tree"),
    Permission("core.member_unit.read", "查看成员单位", "View member units"),
    Permission("core.member_unit.manage", "维护成员单位", "Edit member units"),
    Permission("core.network_role.read", "查看网格与包片人员", "View network roles"),
    Permission("core.network_role.manage", "维护网格与包片人员", "Edit network roles"),
    Permission("core.user.read", "查看用户", "View users"),
    Permission("core.user.manage", "管理用户", "Manage users"),
    Permission("core.role.read", "查看角色", "View roles"),
    Permission("core.role.manage", "管理角色", "Manage roles"),
    Permission("core.role_assignment.manage", "分配角色", "Assign roles"),
    Permission("core.person.read", "查看人员信息", "View persons"),
    Permission("core.person.manage", "维护人员信息", "Edit persons"),
    Permission("core.person.pii.read", "查看完整身份证号和电话", "See full ID numbers and phones",
               sensitive=True),
    Permission("core.plugin.manage", "启用和配置功能模块", "Enable and configure modules"),
    Permission("core.audit.read", "查看审计日志", "Read the audit log"),
    Permission("core.oauth_client.manage", "管理接入应用", "Manage OAuth clients"),
    Permission("core.token.use", "使用个人访问令牌", "Use personal access tokens"),
    Permission("core.case.read", "查看事项", "View cases"),
    Permission("core.case.register", "登记事项（统一受理）", "Register cases at the window"),
    Permission("core.case.divert", "分流交办事项", "Divert and assign cases"),
    Permission("core.case.handle", "办理事项（反馈、留言、附件）", "Handle cases"),
    Permission("core.case.supervise", "督办催办", "Supervise and urge cases"),
    Permission("core.case.extension.approve", "审批延期", "Approve extensions"),
    Permission("core.case.export", "导出台账", "Export ledgers"),
    Permission("core.case.import", "导入台账", "Import ledgers"),
    Permission("core.case.configure", "配置事项类型与工作日历", "Configure case types and the calendar"),
    Permission("core.case.correct_records", "更正记录（补录超过本县期限的以前日期）",
               "Correct records (back-date beyond the county's limit)"),
    Permission("core.letter.read", "查看责任书", "View responsibility letters"),
    Permission("core.letter.manage", "管理责任书（生成、登记签订、撤销、配置文本）", "Manage responsibility letters"),
)


class PermissionRegistry:
    """Every permission the core and the installed plugins declare, by code."""

    def __init__(self) -> None:
        self._by_code: dict[str, tuple[Permission, str | None]] = {}

    def add(self, perm: Permission, plugin: str | None) -> None:
        if perm.code in self._by_code:
            owner = self._by_code[perm.code][1] or "core"
            raise ValueError(f"permission {perm.code!r} declared twice (by {owner} and {plugin or 'core'})")
        if plugin and not perm.code.startswith(plugin + "."):
            raise ValueError(f"plugin {plugin!r} may only declare permissions starting with '{plugin}.'")
        if "pii" in perm.code.lower() and not perm.sensitive:  # unmasks personal data: audited, marked so
            raise ValueError(f"permission {perm.code!r} names personal data (pii) and must be sensitive=True")
        self._by_code[perm.code] = (perm, plugin)

    def __contains__(self, code: str) -> bool:
        return code in self._by_code

    def get(self, code: str) -> Permission:
        return self._by_code[code][0]

    def owner(self, code: str) -> str | None:
        return self._by_code[code][1]

    def all(self) -> list[tuple[Permission, str | None]]:
        return sorted(self._by_code.values(), key=lambda p: p[0].code)


@dataclass
class Grants:
    """What one user may do where: permission → the paths of the subtrees it holds it on."""

    user_id: int | None
    by_perm: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def has(self, perm: str) -> bool:
        return bool(self.by_perm.get(perm))

    def paths(self, perm: str) -> tuple[str, ...]:
        return self.by_perm.get(perm, ())

    def covers(self, perm: str, path: str) -> bool:
        return any(path.startswith(p) for p in self.by_perm.get(perm, ()))

    def county_wide(self, perm: str) -> bool:
        """Held on the county's root unit: every unit of the county is in scope."""
        return any(is_root(p) for p in self.by_perm.get(perm, ()))

    def restrict(self, allowed: set[str] | None) -> "Grants":
        """The same grants cut down to ``allowed`` permissions (a token's scopes)."""
        if allowed is None:
            return self
        return Grants(self.user_id, {p: v for p, v in self.by_perm.items() if p in allowed})


def minimal_paths(paths: set[str]) -> tuple[str, ...]:
    """Drop paths inside another granted path: ``{/1/, /1/5/}`` → ``(/1/,)``."""
    out: list[str] = []
    for p in sorted(paths, key=len):
        if not any(p.startswith(q) for q in out):
            out.append(p)
    return tuple(sorted(out))


def load_grants(session: Session, user_id: int) -> Grants:
    """One query: the user's (permission, unit path) pairs over all role assignments."""
    rows = session.execute(
        select(RolePermission.permission, OrgUnit.path)
        .join(RoleAssignment, (RoleAssignment.role_id == RolePermission.role_id)
              & (RoleAssignment.tenant_id == RolePermission.tenant_id))
        .join(OrgUnit, (OrgUnit.id == RoleAssignment.org_unit_id) & (OrgUnit.tenant_id == RoleAssignment.tenant_id))
        .where(RoleAssignment.user_id == user_id)
    ).all()
    acc: dict[str, set[str]] = {}
    for perm, path in rows:
        acc.setdefault(perm, set()).add(path)
    return Grants(user_id, {perm: minimal_paths(paths) for perm, paths in acc.items()})


def role_permissions(session: Session, role_id: int) -> set[str]:
    return set(session.scalars(select(RolePermission.permission).where(RolePermission.role_id == role_id)))


# --- the checks ---------------------------------------------------------------------------

def require(grants: Grants, perm: str) -> None:
    """403 unless the user holds ``perm`` on at least one unit."""
    if not grants.has(perm):
        raise Forbidden("forbidden", f"缺少权限：{perm}")


def require_county_wide(session: Session, grants: Grants, perm: str, message: str) -> None:
    """403 unless ``perm`` is held on the county's root unit (county-wide acts and views)."""
    root = session.scalar(select(OrgUnit.path).where(OrgUnit.parent_id.is_(None)))
    if root is None or not grants.covers(perm, root):
        raise Forbidden("county_wide_only", message)


def unit_path(session: Session, unit_id: int) -> str | None:
    return session.scalar(select(OrgUnit.path).where(OrgUnit.id == unit_id))


def users_who_may(session: Session, user_ids, perm: str, unit_id: int) -> list[int]:
    """Of ``user_ids``, those whose grants cover ``perm`` on ``unit_id``: whom to tell of
    something only ``perm`` may know (a unit's users hold different roles)."""
    path = unit_path(session, unit_id)
    if path is None:
        return []
    return [u for u in user_ids if load_grants(session, u).covers(perm, path)]


def may(session: Session, grants: Grants, perm: str, unit_id: int | None) -> bool:
    """May the user do ``perm`` on an object that belongs to ``unit_id``?"""
    if unit_id is None or not grants.has(perm):
        return False
    path = unit_path(session, unit_id)
    return path is not None and grants.covers(perm, path)


def unit_scope(grants: Grants, perm: str):
    """SQL predicate on ``OrgUnit.path``: the units in the user's subtrees for ``perm``."""
    paths = grants.paths(perm)
    if not paths:
        return false()
    if grants.county_wide(perm):
        return true()  # the query is bound to one county already (RLS and the tenant filter)
    return or_(*(within(p) for p in paths))


def scoped(stmt: Select, grants: Grants, perm: str, unit_column) -> Select:
    """Limit any select to rows whose ``unit_column`` lies in the user's subtrees for ``perm``."""
    if unit_column is OrgUnit.id:
        return stmt.where(unit_scope(grants, perm))
    if grants.county_wide(perm):
        return stmt.where(unit_column.is_not(None))
    return stmt.where(unit_column.in_(select(OrgUnit.id).where(unit_scope(grants, perm))))


def get_or_404(session: Session, grants: Grants, model, obj_id, perm: str, unit_attr: str = "org_unit_id"):
    """Load ``model`` by id within the bound tenant and check ``perm`` on its unit.

    Missing, other-tenant and out-of-scope objects all answer 404; a permission the user
    holds nowhere answers 403 first.
    """
    require(grants, perm)
    try:
        obj_id = int(obj_id)
    except (TypeError, ValueError):
        raise NotFound() from None
    obj = session.scalar(select(model).where(model.id == obj_id))
    if obj is None:
        raise NotFound()
    ok = grants.covers(perm, obj.path) if model is OrgUnit else may(session, grants, perm, getattr(obj, unit_attr))
    if not ok:
        raise NotFound()
    return obj


def named_unit(session: Session, grants: Grants, perm: str, unit_id, field: str, location: str = "json") -> OrgUnit:
    """The active org unit a write's ``field`` names, if ``perm`` covers it there.

    Every unit id in a write body is checked so, against the scope of the act it is used for
    (registering at a window, creating a person …): a unit that does not exist, of another
    county, retired, or outside the caller's subtrees for ``perm`` answers 404
    ``unit_not_found`` naming the field (403 first when ``perm`` is held nowhere).
    """
    require(grants, perm)
    unit = session.scalar(select(OrgUnit).where(OrgUnit.id == unit_id)) if isinstance(unit_id, int) else None
    if unit is None or unit.status != "active" or not grants.covers(perm, unit.path):
        message = "单位不存在、已撤销或不在您的管辖范围内"
        raise NotFound("unit_not_found", message, {location: {field: [message]}})
    return unit
