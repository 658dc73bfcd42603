"""Permissions of the petition module (every code starts with ``petition.``) and its roles."""
from __future__ import annotations

from core.sdk import Permission, RoleTemplate

READ = "petition.read"
REGISTER = "petition.register"
HANDLE = "petition.handle"
REVIEW = "petition.review"                   # decide 复查 and 复核 (the level above the handling unit)
OVERRIDE_FINAL = "petition.final.override"   # accept a petition again after 复核 (with a reason)

PERMISSIONS = [
    Permission(READ, "查看信访事项", "View petitions"),
    Permission(REGISTER, "登记信访事项", "Register petitions"),
    Permission(HANDLE, "办理信访事项", "Handle petitions"),
    Permission(REVIEW, "复查、复核信访事项", "Review and re-examine petitions"),
    Permission(OVERRIDE_FINAL, "复核终结后再次受理（须说明理由）", "Accept again after re-examination (with a reason)"),
]

ROLE_TEMPLATES = [
    RoleTemplate("petition_officer", "信访工作人员", "Petition officer", (READ, REGISTER, HANDLE)),
    RoleTemplate("petition_chief", "信访部门负责人", "Head of petitions", (READ, REGISTER, HANDLE, REVIEW, OVERRIDE_FINAL)),
    RoleTemplate("county_admin", "县级管理员", "County administrator", (READ, REGISTER, HANDLE, REVIEW)),
    RoleTemplate("unit_admin", "单位管理员", "Unit administrator", (READ, REGISTER, HANDLE)),
    RoleTemplate("viewer", "只读用户", "Viewer", (READ,)),
]
