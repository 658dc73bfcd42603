"""``tenants/<slug>/``: a county's bootstrap configuration, validated and loaded.

Files (see docs/tenants.md):

- ``tenant.toml`` — name, domains, levels, network-role kinds, roles, users, plugins and
  their settings.
- ``org_units.csv`` — ``code,parent_code,level,name``: the org tree, root first or not.
- ``member_units.csv`` — ``unit,name,category`` (optional).
- ``network_roles.csv`` — ``unit,kind,person_name,phone`` (optional).

``validate_folder`` reports every problem at once, each with file, line or key, and reason.
``apply`` loads a valid folder into the database; it is idempotent (running it again adds
what is missing and updates names, levels, roles and plugin settings; it deletes nothing).
"""
from __future__ import annotations

import contextlib
import csv
import secrets
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from marshmallow import RAISE, Schema, ValidationError, fields, validate
from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit, auth
from core.db import adopt_tenant, bind_tenant, next_id
from core.models import (MemberUnit, NetworkRole, OrgLevel, OrgUnit, Role, RoleAssignment, RolePermission,
                         Tenant, TenantDomain, TenantPlugin, User)
from core.modules import as_stored
from core.plugins import PluginHost

SLUG = validate.Regexp(r"^[a-z][a-z0-9-]{1,62}$", error="只能包含小写字母、数字和 -，以字母开头")
KEY = validate.Regexp(r"^[a-z][a-z0-9_]{0,31}$", error="只能包含小写字母、数字和 _，以字母开头")


@dataclass(frozen=True)
class Issue:
    file: str
    where: str  # "line 12" or a key path like "roles[2].permissions[0]"
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.where}: {self.message}"


class LevelSchema(Schema):
    key = fields.String(required=True, validate=KEY)
    name = fields.String(required=True, validate=validate.Length(min=1, max=32))
    name_en = fields.String(validate=validate.Length(max=32))


class KindSchema(Schema):
    key = fields.String(required=True, validate=KEY)
    name = fields.String(required=True, validate=validate.Length(min=1, max=32))


class RoleSpecSchema(Schema):
    key = fields.String(required=True, validate=validate.Regexp(r"^[a-z][a-z0-9_]{1,63}$"))
    name = fields.String(validate=validate.Length(min=1, max=50))
    name_en = fields.String(validate=validate.Length(max=50))
    template = fields.String()
    permissions = fields.List(fields.String(), load_default=list)


class UserSpecSchema(Schema):
    username = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9_.@-]{2,64}$"))
    display_name = fields.String(required=True, validate=validate.Length(min=1, max=50))
    unit = fields.String(required=True)
    roles = fields.List(fields.String(), load_default=list)
    # the member unit (member_units.csv) seated in ``unit`` whose staff the user is (ORG-3)
    member_unit = fields.String(validate=validate.Length(min=1, max=100))


class CalendarSpecSchema(Schema):
    class Meta:
        unknown = RAISE
    day = fields.Date(required=True)
    workday = fields.Boolean(required=True)
    note = fields.String(load_default="", validate=validate.Length(max=100))


class CalendarYearSpecSchema(Schema):
    class Meta:
        unknown = RAISE
    year = fields.Integer(required=True, validate=validate.Range(min=2000, max=2100))
    source = fields.String(required=True, validate=validate.Length(min=1, max=200))


class PluginSpecSchema(Schema):
    enabled = fields.Boolean(load_default=True)
    settings = fields.Dict(load_default=dict)


class TenantSpecSchema(Schema):
    class Meta:
        unknown = RAISE

    slug = fields.String(required=True, validate=SLUG)
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    name_en = fields.String(validate=validate.Length(max=100))
    domains = fields.List(fields.String(validate=validate.Length(min=1, max=253)), load_default=list)
    demo_password = fields.String(validate=validate.Length(min=8, max=128))
    levels = fields.List(fields.Nested(LevelSchema), required=True, validate=validate.Length(min=2))
    network_role_kinds = fields.List(fields.Nested(KindSchema), load_default=list)
    roles = fields.List(fields.Nested(RoleSpecSchema), load_default=list)
    users = fields.List(fields.Nested(UserSpecSchema), load_default=list)
    plugins = fields.Dict(keys=fields.String(), values=fields.Nested(PluginSpecSchema, unknown=RAISE),
                          load_default=dict)
    cases = fields.Dict(keys=fields.String(), values=fields.Dict(), load_default=dict)
    calendar = fields.List(fields.Nested(CalendarSpecSchema), load_default=list)
    calendar_years = fields.List(fields.Nested(CalendarYearSpecSchema), load_default=list)


@dataclass
class TenantSpec:
    folder: Path
    data: dict
    units: list[dict] = field(default_factory=list)          # with "line"
    member_units: list[dict] = field(default_factory=list)
    network_roles: list[dict] = field(default_factory=list)
    plugin_settings: dict[str, dict] = field(default_factory=dict)


def _flatten(messages, prefix: str = "") -> list[tuple[str, str]]:
    out = []
    if isinstance(messages, dict):
        for k, v in messages.items():
            key = f"{prefix}[{k}]" if isinstance(k, int) else (f"{prefix}.{k}" if prefix else str(k))
            out.extend(_flatten(v, key))
    elif isinstance(messages, list):
        if all(isinstance(m, str) for m in messages):
            out.extend((prefix or "(top)", m) for m in messages)
        else:
            for m in messages:
                out.extend(_flatten(m, prefix))
    else:
        out.append((prefix or "(top)", str(messages)))
    return out


def _read_csv(folder: Path, name: str, columns: list[str], issues: list[Issue], required: bool) -> list[dict]:
    path = folder / name
    if not path.exists():
        if required:
            issues.append(Issue(name, "-", "文件不存在 (file missing)"))
        return []
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames is None or [c.strip() for c in reader.fieldnames] != columns:
            issues.append(Issue(name, "line 1", f"表头应为 {','.join(columns)}"))
            return []
        rows = []
        for i, row in enumerate(reader, start=2):
            if None in row or any(v is None for v in row.values()):
                issues.append(Issue(name, f"line {i}", "列数与表头不符"))
                continue
            rows.append({k.strip(): (v or "").strip() for k, v in row.items()} | {"line": i})
        return rows


def validate_folder(folder: Path, host: PluginHost) -> tuple[TenantSpec | None, list[Issue]]:
    """Read and check a tenant folder; every problem found is reported, not just the first."""
    folder = Path(folder)
    issues: list[Issue] = []
    toml_path = folder / "tenant.toml"
    if not toml_path.exists():
        return None, [Issue("tenant.toml", "-", "文件不存在 (file missing)")]
    try:
        raw = tomllib.loads(toml_path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        return None, [Issue("tenant.toml", str(exc).rsplit("(", 1)[-1].rstrip(")"), f"TOML 语法错误：{exc}")]
    try:
        data = TenantSpecSchema().load(raw)
    except ValidationError as exc:
        issues.extend(Issue("tenant.toml", k, m) for k, m in _flatten(exc.messages))
        data = {**raw, **exc.valid_data} if isinstance(exc.valid_data, dict) else raw
        if not isinstance(data.get("levels"), list):
            return None, issues
    spec = TenantSpec(folder, data)

    levels = [lv.get("key") for lv in data.get("levels", []) if isinstance(lv, dict)]
    rank = {k: i for i, k in enumerate(levels)}
    if len(set(levels)) != len(levels):
        issues.append(Issue("tenant.toml", "levels", "层级标识重复"))

    # org tree
    spec.units = _read_csv(folder, "org_units.csv", ["code", "parent_code", "level", "name"], issues, True)
    codes: dict[str, dict] = {}
    for row in spec.units:
        where = f"line {row['line']}"
        if not row["code"]:
            issues.append(Issue("org_units.csv", where, "code 不能为空"))
        elif row["code"] in codes:
            issues.append(Issue("org_units.csv", where, f"code {row['code']} 重复（首次出现于第 {codes[row['code']]['line']} 行）"))
        else:
            codes[row["code"]] = row
        if row["level"] not in rank:
            issues.append(Issue("org_units.csv", where, f"层级 {row['level']!r} 未在 tenant.toml 的 levels 中定义"))
        if not 1 <= len(row["name"]) <= 100:
            issues.append(Issue("org_units.csv", where, "名称长度应为 1–100"))
    roots = [r for r in spec.units if not r["parent_code"]]
    if spec.units and len(roots) != 1:
        issues.append(Issue("org_units.csv", "-", f"应有且只有一个根单位（parent_code 为空），现有 {len(roots)} 个"))
    for row in spec.units:
        parent = codes.get(row["parent_code"]) if row["parent_code"] else None
        if row["parent_code"] and parent is None:
            issues.append(Issue("org_units.csv", f"line {row['line']}", f"上级 {row['parent_code']} 不存在"))
        elif parent and row["level"] in rank and parent["level"] in rank and rank[row["level"]] <= rank[parent["level"]]:
            issues.append(Issue("org_units.csv", f"line {row['line']}", "下级的层级必须低于上级"))
    _check_cycles(spec.units, codes, issues)

    # member units and network roles
    spec.member_units = _read_csv(folder, "member_units.csv", ["unit", "name", "category"], issues, False)
    for row in spec.member_units:
        if row["unit"] not in codes:
            issues.append(Issue("member_units.csv", f"line {row['line']}", f"单位 {row['unit']} 不在 org_units.csv 中"))
        if not row["name"] or not row["category"]:
            issues.append(Issue("member_units.csv", f"line {row['line']}", "name 和 category 不能为空"))
    kinds = {k.get("key") for k in data.get("network_role_kinds", []) if isinstance(k, dict)}
    spec.network_roles = _read_csv(folder, "network_roles.csv", ["unit", "kind", "person_name", "phone"], issues, False)
    for row in spec.network_roles:
        where = f"line {row['line']}"
        if row["unit"] not in codes:
            issues.append(Issue("network_roles.csv", where, f"单位 {row['unit']} 不在 org_units.csv 中"))
        if row["kind"] not in kinds:
            issues.append(Issue("network_roles.csv", where, f"岗位类别 {row['kind']!r} 未在 network_role_kinds 中定义"))
        if not row["person_name"]:
            issues.append(Issue("network_roles.csv", where, "person_name 不能为空"))

    # roles
    templates = host.role_templates()
    role_keys = set()
    for i, role in enumerate(data.get("roles", [])):
        if not isinstance(role, dict):
            continue
        role_keys.add(role.get("key"))
        if role.get("template") and role["template"] not in templates:
            issues.append(Issue("tenant.toml", f"roles[{i}].template", f"未知的角色模板 {role['template']!r}"))
        if not role.get("template") and not role.get("name"):
            issues.append(Issue("tenant.toml", f"roles[{i}].name", "不用模板的角色必须有 name"))
        for j, perm in enumerate(role.get("permissions", [])):
            if perm not in host.permissions:
                issues.append(Issue("tenant.toml", f"roles[{i}].permissions[{j}]", f"未定义的权限 {perm!r}"))
    seated = {(row.get("unit"), row.get("name")) for row in spec.member_units}
    for i, user in enumerate(data.get("users", [])):
        if not isinstance(user, dict):
            continue
        if user.get("unit") not in codes:
            issues.append(Issue("tenant.toml", f"users[{i}].unit", f"单位 {user.get('unit')!r} 不在 org_units.csv 中"))
        if user.get("member_unit") and (user.get("unit"), user["member_unit"]) not in seated:
            issues.append(Issue("tenant.toml", f"users[{i}].member_unit",
                                f"成员单位 {user['member_unit']!r} 不在 member_units.csv 中单位 {user.get('unit')!r} 之下"))
        for j, key in enumerate(user.get("roles", [])):
            if key not in role_keys:
                issues.append(Issue("tenant.toml", f"users[{i}].roles[{j}]", f"角色 {key!r} 未在 roles 中定义"))

    # plugins
    for name, pspec in (data.get("plugins") or {}).items():
        if name not in host.plugins:
            issues.append(Issue("tenant.toml", f"plugins.{name}", "该模块未安装"))
            continue
        try:
            spec.plugin_settings[name] = host.validate_settings(name, (pspec or {}).get("settings"))
        except ValidationError as exc:
            issues.extend(Issue("tenant.toml", f"plugins.{name}.settings.{k}" if k != "(top)" else f"plugins.{name}.settings", m)
                          for k, m in _flatten(exc.messages))
    # per case type settings (docs/cases.md) and the county's calendar overrides
    from core.cases import settings as case_settings
    from core.workdays import WorkCalendar
    calendar = WorkCalendar(overrides={c["day"]: c["workday"] for c in data.get("calendar") or []},
                            declared_years=frozenset(y["year"] for y in data.get("calendar_years") or []))
    days = [c["day"] for c in data.get("calendar") or []]
    if len(set(days)) != len(days):
        issues.append(Issue("tenant.toml", "calendar", "同一天出现了多次"))
    for y in data.get("calendar_years") or []:  # a declared year holds the days it was entered with
        if not any(d.year == y["year"] for d in days):
            issues.append(Issue("tenant.toml", "calendar_years",
                                f"声明了 {y['year']} 年已录入完整，但 calendar 中没有该年的任何一天"))
    enabled = {n for n, p in (data.get("plugins") or {}).items() if (p or {}).get("enabled", True)}
    for key, raw in (data.get("cases") or {}).items():
        ctype = host.case_types.get(key)
        if ctype is None or ctype.plugin not in enabled:
            issues.append(Issue("tenant.toml", f"cases.{key}", "没有该事项类型，或其模块未在 plugins 中启用"))
            continue
        try:
            case_settings.validate(ctype, raw, calendar)
        except ValidationError as exc:
            issues.extend(Issue("tenant.toml", f"cases.{key}.{k}" if k != "(top)" else f"cases.{key}", m)
                          for k, m in _flatten(exc.messages))
    return (None if issues else spec), issues


def _check_cycles(units: list[dict], codes: dict, issues: list[Issue]) -> None:
    for row in units:
        seen, cur = set(), row
        while cur and cur["parent_code"]:
            if cur["code"] in seen:
                issues.append(Issue("org_units.csv", f"line {row['line']}", "上下级关系形成了环"))
                break
            seen.add(cur["code"])
            cur = codes.get(cur["parent_code"])


# --- loading ------------------------------------------------------------------------------

@dataclass
class LoadReport:
    tenant_id: int
    created: bool
    units_added: int = 0
    users_added: dict[str, str] = field(default_factory=dict)  # username → one-time password


def apply(session: Session, spec: TenantSpec, host: PluginHost, demo: bool = False) -> LoadReport:
    """Create or update the tenant from a validated spec, in the caller's transaction."""
    data = spec.data
    tenant = session.scalar(select(Tenant).where(Tenant.slug == data["slug"]))
    created = tenant is None
    if created:
        tenant = Tenant(slug=data["slug"], name=data["name"], name_en=data.get("name_en"))
        session.add(tenant)
        session.flush()
    else:
        tenant.name, tenant.name_en = data["name"], data.get("name_en")
    for host_name in data.get("domains", []):
        if session.get(TenantDomain, host_name.lower()) is None:
            session.add(TenantDomain(host=host_name.lower(), tenant_id=tenant.id))
    session.flush()
    report = LoadReport(tenant.id, created)
    with bind_tenant(tenant.id):
        adopt_tenant(session, tenant.id)
        if created:
            audit.ensure_head(session, tenant.id)
        # A new county's rows (its tree, accounts, roles, demo data) are one act, recorded as one
        # entry with what it made (``audit.summarised``, as a ledger import is): an entry per unit,
        # account and permission was some 650 entries a county, each hashed into the chain.
        # Applying the folder again to an existing county records each change, row by row.
        with audit.summarised(session) if created else contextlib.nullcontext():
            _apply_rows(session, spec, host, report, demo, tenant)
        if created:
            audit.record(session, "create", "tenant", tenant.id,
                         {"slug": tenant.slug, "name": tenant.name, "units": report.units_added,
                          "users": len(report.users_added)})
    return report


def _apply_rows(session: Session, spec: TenantSpec, host: PluginHost, report: LoadReport, demo: bool,
                tenant: Tenant) -> None:
    """Every row of the folder: levels, units, member units, network roles, roles, users, modules,
    case settings; with ``demo``, the demo residents and each module's demo data."""
    data = spec.data
    _apply_levels(session, data["levels"])
    unit_ids = _apply_units(session, spec.units, report)
    _apply_member_units(session, spec.member_units, unit_ids)
    _apply_network_roles(session, spec.network_roles, unit_ids)
    roles = _apply_roles(session, data.get("roles", []), host)
    _apply_users(session, data.get("users", []), unit_ids, roles, report, data.get("demo_password") if demo else None)
    _apply_plugins(session, data.get("plugins", {}), {n: as_stored(host.plugins[n].settings_schema, v)  # JSON-ready
                                                      for n, v in spec.plugin_settings.items()})
    _apply_case_settings(session, data.get("cases", {}), data.get("calendar", []), data.get("calendar_years", []))
    session.flush()
    if demo:
        from core.demo import add_demo_people
        add_demo_people(session, unit_ids)
        for name, settings in spec.plugin_settings.items():
            if (data["plugins"][name] or {}).get("enabled", True):
                host.call_for(name, "pingan_demo_data", session=session, tenant=tenant, settings=settings)
    session.flush()


def _apply_levels(session: Session, levels: list[dict]) -> None:
    existing = {lv.key: lv for lv in session.scalars(select(OrgLevel))}
    for rank, lv in enumerate(levels):
        row = existing.get(lv["key"]) or OrgLevel(key=lv["key"])
        row.rank, row.name, row.name_en = rank, lv["name"], lv.get("name_en")
        session.add(row)


def _apply_units(session: Session, units: list[dict], report: LoadReport) -> dict[str, int]:
    existing = {u.code: u for u in session.scalars(select(OrgUnit).where(OrgUnit.code.is_not(None)))}
    ids: dict[str, int] = {c: u.id for c, u in existing.items()}
    paths: dict[str, tuple[str, int]] = {c: (u.path, u.depth) for c, u in existing.items()}
    pending = list(units)
    while pending:
        progress = False
        for row in list(pending):
            parent = row["parent_code"]
            if parent and parent not in ids:
                continue
            pending.remove(row)
            progress = True
            if row["code"] in existing:
                existing[row["code"]].name = row["name"]
                continue
            uid = next_id(session)
            ppath, pdepth = paths[parent] if parent else ("/", -1)
            path = f"{ppath}{uid}/"
            session.add(OrgUnit(id=uid, parent_id=ids.get(parent) if parent else None, path=path,
                                depth=pdepth + 1, level=row["level"], name=row["name"], code=row["code"]))
            ids[row["code"]], paths[row["code"]] = uid, (path, pdepth + 1)
            report.units_added += 1
        if not progress:
            raise ValueError("org tree rows reference missing parents (validate first)")
    session.flush()
    return ids


def _apply_member_units(session: Session, rows: list[dict], unit_ids: dict[str, int]) -> None:
    existing = {(m.org_unit_id, m.name) for m in session.scalars(select(MemberUnit))}
    for row in rows:
        key = (unit_ids[row["unit"]], row["name"])
        if key not in existing:
            session.add(MemberUnit(org_unit_id=key[0], name=row["name"], category=row["category"]))
            existing.add(key)


def _apply_network_roles(session: Session, rows: list[dict], unit_ids: dict[str, int]) -> None:
    existing = {(n.org_unit_id, n.kind, n.person_name) for n in session.scalars(select(NetworkRole))}
    for row in rows:
        key = (unit_ids[row["unit"]], row["kind"], row["person_name"])
        if key not in existing:
            session.add(NetworkRole(org_unit_id=key[0], kind=row["kind"], person_name=row["person_name"],
                                    phone=row["phone"] or None))
            existing.add(key)


def _apply_roles(session: Session, specs: list[dict], host: PluginHost) -> dict[str, Role]:
    templates = host.role_templates()
    roles = {r.key: r for r in session.scalars(select(Role))}
    for spec in specs:
        tpl = templates.get(spec.get("template", ""))
        role = roles.get(spec["key"]) or Role(key=spec["key"])
        role.name = spec.get("name") or (tpl.name if tpl else spec["key"])
        role.name_en = spec.get("name_en") or (tpl.name_en if tpl else None)
        session.add(role)
        session.flush()
        wanted = set(spec.get("permissions", [])) | set(tpl.permissions if tpl else ())
        have = set(session.scalars(select(RolePermission.permission).where(RolePermission.role_id == role.id)))
        for code in sorted(wanted - have):
            session.add(RolePermission(role_id=role.id, permission=code))
        roles[role.key] = role
    return roles


def _apply_users(session: Session, specs: list[dict], unit_ids: dict[str, int], roles: dict[str, Role],
                 report: LoadReport, demo_password: str | None) -> None:
    existing = {u.username: u for u in session.scalars(select(User))}
    for spec in specs:
        user = existing.get(spec["username"])
        if user is None:
            password = demo_password or secrets.token_urlsafe(9)
            user = User(username=spec["username"], display_name=spec["display_name"],
                        org_unit_id=unit_ids[spec["unit"]], password_hash=auth.hash_password(password),
                        must_change_password=demo_password is None)
            session.add(user)
            session.flush()
            report.users_added[user.username] = password
        if spec.get("member_unit") and user.member_unit_id is None:
            user.member_unit_id = session.scalar(select(MemberUnit.id).where(
                MemberUnit.org_unit_id == unit_ids[spec["unit"]], MemberUnit.name == spec["member_unit"]))
        for key in spec.get("roles", []):
            found = session.scalar(select(RoleAssignment.id).where(
                RoleAssignment.user_id == user.id, RoleAssignment.role_id == roles[key].id,
                RoleAssignment.org_unit_id == unit_ids[spec["unit"]]))
            if not found:
                session.add(RoleAssignment(user_id=user.id, role_id=roles[key].id, org_unit_id=unit_ids[spec["unit"]]))


def _apply_plugins(session: Session, specs: dict, settings: dict[str, dict]) -> None:
    rows = {r.plugin: r for r in session.scalars(select(TenantPlugin))}
    for name, spec in specs.items():
        row = rows.get(name) or TenantPlugin(plugin=name)
        row.enabled = (spec or {}).get("enabled", True)
        row.settings = settings.get(name, {})
        session.add(row)


def _apply_case_settings(session: Session, cases: dict, calendar: list[dict], years: list[dict]) -> None:
    from core.cases.models import CalendarDay, CalendarYear, CaseTypeSetting
    declared = {y.year: y for y in session.scalars(select(CalendarYear))}
    for spec in years:
        row = declared.get(spec["year"]) or CalendarYear(year=spec["year"])
        row.source = spec["source"]
        session.add(row)
    rows = {r.case_type: r for r in session.scalars(select(CaseTypeSetting))}
    for key, raw in cases.items():
        row = rows.get(key) or CaseTypeSetting(case_type=key)
        row.settings = raw
        session.add(row)
    days = {d.day: d for d in session.scalars(select(CalendarDay))}
    for spec in calendar:
        row = days.get(spec["day"]) or CalendarDay(day=spec["day"])
        row.is_workday, row.note = spec["workday"], spec["note"]
        session.add(row)


__all__ = ["Issue", "TenantSpec", "validate_folder", "apply", "LoadReport"]
