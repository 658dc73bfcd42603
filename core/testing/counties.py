"""Test counties: loaded from a folder (tenant.toml + CSVs, docs/tenants.md) under a slug of
their own, or written by :func:`make_county_folder` from a few lines of code."""
from __future__ import annotations

import csv
import itertools
import json
import os
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

DEMO_PASSWORD = "pingan-demo-2026"
"""Every account of a test county has this password (``demo_password`` of its tenant.toml)."""
BUILTIN_COUNTY = Path(__file__).resolve().parent / "county"
"""The kit's own county: 县 → 2 乡镇 → 3 村; users ``county.admin``, ``township.officer`` (T01),
``qingshan.officer`` (T02), ``village.cadre`` (T01V1)."""
COUNTY_ADMIN = "county.admin"
"""The account the kit switches modules with: every test county has it, holding ``county_admin``."""
LEVELS: tuple[tuple[str, str], ...] = (("county", "县"), ("township", "乡镇（街道）"), ("district", "管区"),
                                       ("village", "村（社区）"), ("group", "村民小组"), ("grid", "网格"))
ROLES: dict[str, str] = {"county_admin": "county_admin", "unit_admin": "unit_admin", "staff": "staff",
                         "viewer": "viewer"}
_slugs = itertools.count(1)


@dataclass
class TenantInfo:
    """A loaded test county: its id, slug, host name and its units' ids by code."""
    id: int
    slug: str
    host: str
    units: dict[str, int]  # code → id

    def unit(self, code: str) -> int:
        return self.units[code]


def _toml(value) -> str:
    """A TOML value: strings and lists of strings (JSON's string escapes are TOML's)."""
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def make_county_folder(path: Path, units: Iterable[Sequence[str | None]],
                       users: Iterable[Sequence], roles: dict[str, str | list[str]] | None = None,
                       levels: Sequence[tuple[str, str]] = LEVELS, name: str = "测试县") -> Path:
    """Write a county folder (``tenant.toml`` + ``org_units.csv``) into ``path`` and return it.

    ``units``: ``(code, parent_code, level, name)``, the root's parent ``None``.
    ``users``: ``(username, unit_code, [role keys])``, the display name the username.
    ``roles``: key → a core or plugin role template key (a string) or a list of permissions;
    default the core templates under their own keys (``county_admin``, ``unit_admin``,
    ``staff``, ``viewer``). Every account's password is :data:`DEMO_PASSWORD`; give one user
    ``county.admin`` with ``county_admin`` for the kit's module switches.
    """
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    lines = [f"slug = {_toml('county')}", f"name = {_toml(name)}", f"domains = {_toml(['county.localhost'])}",
             f"demo_password = {_toml(DEMO_PASSWORD)}", ""]
    for key, label in levels:
        lines += ["[[levels]]", f"key = {_toml(key)}", f"name = {_toml(label)}", ""]
    for key, grant in (roles or ROLES).items():
        lines += ["[[roles]]", f"key = {_toml(key)}"]
        if isinstance(grant, str):
            lines.append(f"template = {_toml(grant)}")
        else:
            lines += [f"name = {_toml(key)}", f"permissions = {_toml(list(grant))}"]
        lines.append("")
    for username, unit, user_roles in users:
        lines += ["[[users]]", f"username = {_toml(username)}", f"display_name = {_toml(username)}",
                  f"unit = {_toml(unit)}", f"roles = {_toml(list(user_roles))}", ""]
    (path / "tenant.toml").write_text("\n".join(lines), encoding="utf-8")
    with (path / "org_units.csv").open("w", encoding="utf-8", newline="") as f:
        out = csv.writer(f, lineterminator="\n")
        out.writerow(["code", "parent_code", "level", "name"])
        for code, parent, level, label in units:
            out.writerow([code, parent or "", level, label])
    return path


def load_tenant(app, slug: str | None = None, folder: Path = BUILTIN_COUNTY, demo: bool = True) -> TenantInfo:
    """Load the county of ``folder`` under ``slug`` (default: a new unique one), its host
    ``<slug>.localhost``; ``demo`` gives every account the folder's ``demo_password``."""
    from sqlalchemy import select

    from core.app import pingan
    from core.context import Actor, acting_as
    from core.models import OrgUnit
    from core.tenant_config import apply, validate_folder
    state = pingan(app)
    spec, issues = validate_folder(Path(folder), state.plugins)
    assert not issues, issues
    slug = slug or f"t{next(_slugs)}x{os.getpid()}{uuid.uuid4().hex[:8]}"
    host = f"{slug}.localhost"
    spec.data = {**spec.data, "slug": slug, "domains": [host]}
    with acting_as(Actor(None, "test:load")), state.db.Session() as s, s.begin():
        report = apply(s, spec, state.plugins, demo=demo)
    with state.db.transaction(report.tenant_id) as s:
        units = dict(s.execute(select(OrgUnit.code, OrgUnit.id)).all())
    state.resolver.forget()
    return TenantInfo(report.tenant_id, slug, host, units)
