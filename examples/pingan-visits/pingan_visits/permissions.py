"""Permissions (every code starts with ``visits.``) and the role bundles the plugin offers."""
from __future__ import annotations

from core.sdk import Permission, RoleTemplate

READ = "visits.greeting.read"
MANAGE = "visits.greeting.manage"
HANDLE_VISITS = "visits.visit.handle"

PERMISSIONS = [
    Permission(READ, "查看问候", "View greetings"),
    Permission(MANAGE, "发送问候", "Send greetings"),
    Permission(HANDLE_VISITS, "办理走访请求", "Handle visit requests"),
]

ROLE_TEMPLATES = [
    # A role of its own a county can adopt in tenant.toml (``template = "visits_greeter"``) …
    RoleTemplate("visits_greeter", "问候员", "Greeter", (READ, MANAGE)),
    # … and the core bundles with the same key get these permissions added.
    RoleTemplate("county_admin", "县级管理员", "County administrator", (READ, MANAGE, HANDLE_VISITS)),
    RoleTemplate("unit_admin", "单位管理员", "Unit administrator", (READ, MANAGE, HANDLE_VISITS)),
    RoleTemplate("viewer", "只读用户", "Viewer", (READ,)),
]
