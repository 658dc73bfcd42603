"""Permissions of the joint-mechanisms module (every code starts with ``joint.``) and its roles."""
from __future__ import annotations

from core.sdk import Permission, RoleTemplate

READ = "joint.read"          # mechanisms, meetings, attendance figures
MANAGE = "joint.manage"      # hold meetings: agenda, attendance, decisions, minutes

PERMISSIONS = [
    Permission(READ, "查看联动机制和联席会议", "View joint mechanisms and meetings"),
    Permission(MANAGE, "召开联席会议、作出交办决定", "Hold joint meetings and make decisions"),
]

# A decision or a campaign target hands a case to units through the core's dispatch (divert); an
# overdue target is supervised (supervise).
CASEWORK = ("core.case.read", "core.case.divert", "core.case.supervise", "core.member_unit.read")

ROLE_TEMPLATES = [
    RoleTemplate("joint_secretary", "联席会议办公室", "Joint-meeting office", (*CASEWORK, READ, MANAGE)),
    RoleTemplate("county_admin", "县级管理员", "County administrator", (READ, MANAGE)),
    RoleTemplate("unit_admin", "单位管理员", "Unit administrator", (READ, MANAGE)),
    RoleTemplate("staff", "工作人员", "Staff", (READ,)),
    RoleTemplate("viewer", "只读用户", "Viewer", (READ,)),
]
