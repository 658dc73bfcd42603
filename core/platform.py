"""Platform operation: the operator who runs Pingan for many counties (tenants).

**Who is an operator.** The platform has one tenant of its own, the *platform tenant*,
whose slug is ``PINGAN_OPERATOR_TENANT`` (default ``platform``). It is no county: it has
one unit and no cases, and every active user of it is a platform operator. Operators are
created only from the command line (``pingan operator create``), which also creates the
platform tenant on first use; so the operator console (``/operator``) needs no permission
of its own that a county admin could grant, and a county's users — admins included — are
never operators (their tenant is not the platform tenant). Operators sign in like anyone
else (password rules, lockout, session timeout, forced first change) on the platform
tenant's host name.

**What an operator does** (``core/web/operator.py``): list tenants with their usage, create
a county from a ``tenants/<slug>`` folder found under ``PINGAN_TENANTS_DIR`` or from a short
form, suspend and resume a county. Each act is audited in the county's own chain and in the
platform tenant's chain. A suspended county answers 403 ``tenant_suspended`` to every request
(``core.app._begin_request``): its users see a page saying so, its API clients get the code.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from marshmallow import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import audit, auth
from core.config import Config
from core.context import shows_secret_once
from core.db import Database, adopt_tenant, bind_tenant, next_id
from core.errors import Conflict, Invalid, NotFound, Unprocessable
from core.models import OrgLevel, OrgUnit, Tenant, TenantDomain, User
from core.tenant_config import LoadReport, TenantSpec, TenantSpecSchema, apply, validate_folder

PLATFORM_UNIT = "平台运营"
# The levels a county created from the form starts with; the county renames, adds or drops
# levels in its admin console (ORG-1: the names are the county's own).
DEFAULT_LEVELS = [{"key": "county", "name": "县", "name_en": "County"},
                  {"key": "township", "name": "乡镇（街道）", "name_en": "Township"},
                  {"key": "village", "name": "村（社区）", "name_en": "Village"},
                  {"key": "group", "name": "村民小组", "name_en": "Group"},
                  {"key": "grid", "name": "网格", "name_en": "Grid"}]
ROOT_CODE = "C"


def is_operator(tenant: Tenant | None, user: User | None, config: Config) -> bool:
    """Is this signed-in user a platform operator (an active user of the platform tenant)?"""
    return tenant is not None and user is not None and user.status == "active" \
        and tenant.slug == config.operator_tenant


# --- operators (CLI) ----------------------------------------------------------------------------

def create_operator(db: Database, config: Config, username: str, display_name: str,
                    domains: list[str] | None = None, password: str | None = None) -> str | None:
    """Create an operator (and the platform tenant on first use); returns a generated one-time
    password, or None when ``password`` was given. The password must be changed at first log-in."""
    with db.Session() as s, s.begin():
        tenant = s.scalar(select(Tenant).where(Tenant.slug == config.operator_tenant))
        if tenant is None:
            tenant = Tenant(slug=config.operator_tenant, name="平安综治平台运营", name_en="Pingan platform operation")
            s.add(tenant)
            s.flush()
            with bind_tenant(tenant.id):
                adopt_tenant(s, tenant.id)
                audit.ensure_head(s, tenant.id)
                audit.record(s, "create", "tenant", tenant.id, {"slug": tenant.slug, "platform": True})
                s.add(OrgLevel(key="platform", rank=0, name="平台", name_en="Platform"))
                uid = next_id(s)
                s.add(OrgUnit(id=uid, parent_id=None, path=f"/{uid}/", depth=0, level="platform", name=PLATFORM_UNIT))
                s.flush()
        for host in domains or []:
            host = host.strip().lower()
            found = s.get(TenantDomain, host)
            if found is not None and found.tenant_id != tenant.id:
                raise Conflict("domain_taken", f"域名 {host} 已属于另一个县")
            if found is None:
                s.add(TenantDomain(host=host, tenant_id=tenant.id))
        s.flush()
        with bind_tenant(tenant.id):
            adopt_tenant(s, tenant.id)
            unit = s.scalar(select(OrgUnit).where(OrgUnit.parent_id.is_(None)).order_by(OrgUnit.id).limit(1))
            if s.scalar(select(User.id).where(User.username == username)):
                raise Conflict("username_taken", f"用户 {username} 已存在")
            generated = password is None
            password = password or auth.one_time_password()
            shows_secret_once()  # the operator's page shows the county admin's one-time password
            auth.check_password_policy(password)
            s.add(User(username=username, display_name=display_name, org_unit_id=unit.id,
                       password_hash=auth.hash_password(password), must_change_password=True))
            s.flush()
    return password if generated else None


# --- tenants: listing and usage -----------------------------------------------------------------

@dataclass
class Usage:
    users: int
    cases: int
    storage_bytes: int


def usage(db: Database, tenant_id: int) -> Usage:
    """Active users, cases (from the case tally: no case rows are read) and the bytes of the
    attachments kept, of one tenant (in its own transaction, bound to it)."""
    from core.cases.models import Attachment, CaseTally
    with db.transaction(tenant_id) as s:
        users = s.scalar(select(func.count(User.id)).where(User.status == "active")) or 0
        cases = s.scalar(select(func.coalesce(func.sum(CaseTally.n), 0))) or 0
        size = s.scalar(select(func.coalesce(func.sum(Attachment.size), 0)).where(Attachment.deleted_at.is_(None))) or 0
    return Usage(int(users), int(cases), int(size))


def tenants(session: Session) -> list[Tenant]:
    return list(session.scalars(select(Tenant).order_by(Tenant.slug)))


def domains(session: Session) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for host, tid in session.execute(select(TenantDomain.host, TenantDomain.tenant_id).order_by(TenantDomain.host)):
        out.setdefault(tid, []).append(host)
    return out


# --- creating a county --------------------------------------------------------------------------

def tenant_folders(config: Config) -> list[Path]:
    """The ``tenants/<slug>`` folders (with a ``tenant.toml``) under the configured tenants dir."""
    root = config.tenants_dir
    if root is None or not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and (p / "tenant.toml").is_file())


def folder_spec(config: Config, name: str, host) -> TenantSpec:
    """The validated spec of one folder under the tenants dir, chosen by its name."""
    chosen = next((p for p in tenant_folders(config) if p.name == name), None)
    if chosen is None:
        raise Invalid("folder", "unknown_folder", "请选择配置目录中的一个县")
    spec, issues = validate_folder(chosen, host)
    if issues:
        raise Invalid("folder", "invalid_folder", "该目录的配置有误，未创建：" + "；".join(map(str, issues[:20])))
    return spec


def form_spec(values: dict) -> TenantSpec:
    """A county from the form: slug, name, domain, root unit and its first administrator
    (who gets a one-time password); the default levels and the county_admin role."""
    raw = {"slug": values.get("slug", "").strip(), "name": values.get("name", "").strip(),
           "domains": [values["domain"].strip().lower()] if values.get("domain", "").strip() else [],
           "levels": DEFAULT_LEVELS,
           "roles": [{"key": "county_admin", "template": "county_admin"}],
           "users": [{"username": values.get("admin_username", "").strip(), "display_name": "县综治中心管理员",
                      "unit": ROOT_CODE, "roles": ["county_admin"]}]}
    if values.get("name_en", "").strip():
        raw["name_en"] = values["name_en"].strip()
    errors: dict = {}
    try:
        data = TenantSpecSchema().load(raw)
    except ValidationError as exc:
        for key, messages in exc.messages.items():
            field = {"domains": "domain", "users": "admin_username"}.get(key, key)
            errors[field] = _first(messages)
        data = raw
    root = values.get("root_unit", "").strip()
    if not 1 <= len(root) <= 100:
        errors["root_unit"] = "请填写县级单位名称（1–100 字）"
    if errors:
        raise Unprocessable("invalid", "请检查标出的字段", {"form": errors})
    return TenantSpec(Path("."), data, units=[{"code": ROOT_CODE, "parent_code": "", "level": "county",
                                               "name": root, "line": 2}])


def _first(messages) -> str:
    while isinstance(messages, (list, dict)):
        messages = next(iter(messages.values() if isinstance(messages, dict) else messages), "")
    return str(messages)


def create_tenant(session: Session, spec: TenantSpec, host) -> LoadReport:
    """Create a county from a spec (a folder's or the form's); an existing slug or a host
    name of another county is refused (an update is ``pingan tenant load``'s job)."""
    data = spec.data
    errors = {}
    if session.scalar(select(Tenant.id).where(Tenant.slug == data["slug"])) is not None:
        errors["slug"] = f"标识 {data['slug']} 已被使用（更新已有的县请用 pingan tenant load）"
    for name in data.get("domains", []):
        if session.get(TenantDomain, name.lower()) is not None:
            errors["domain"] = f"域名 {name} 已属于另一个县"
    if errors:
        raise Conflict("tenant_exists", next(iter(errors.values())), errors={"form": errors})
    report = apply(session, spec, host)
    audit.record(session, "operator_create", "tenant", report.tenant_id,
                 {"slug": data["slug"], "name": data["name"], "domains": data.get("domains", []),
                  "from": spec.folder.name if str(spec.folder) != "." else "form"},
                 tenant_id=report.tenant_id)
    return report


# --- suspend and resume -------------------------------------------------------------------------

def set_status(db: Database, config: Config, session: Session, tenant_id: int, status: str, reason: str) -> Tenant:
    """Suspend or resume a county. The change and its audit entry in the county's chain are one
    transaction of their own; the entry in the platform's chain goes in the caller's."""
    tenant = session.scalar(select(Tenant).where(Tenant.id == tenant_id))
    if tenant is None:
        raise NotFound()
    if tenant.slug == config.operator_tenant:
        raise Conflict("platform_tenant", "平台运营本身不能暂停或恢复")
    action = "suspend" if status == "suspended" else "resume"
    change = {"status": [tenant.status, status], "reason": reason, "slug": tenant.slug}
    session.commit()  # end the caller's read first: one transaction at a time (SQLite's write lock)
    with db.transaction(tenant_id) as s:
        s.get(Tenant, tenant_id).status = status
        audit.record(s, action, "tenant", tenant_id, change)
    audit.record(session, action, "tenant", tenant_id, change)
    session.refresh(tenant)
    return tenant


__all__ = ["is_operator", "create_operator", "usage", "tenants", "domains", "tenant_folders", "folder_spec",
           "form_spec", "create_tenant", "set_status", "Usage"]
