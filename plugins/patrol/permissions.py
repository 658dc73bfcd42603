"""Permissions of the patrol module (every code starts with ``patrol.``) and its role templates."""
from __future__ import annotations

from core.sdk import Permission, RoleTemplate

READ = "patrol.read"            # teams, points, routes, rosters, rounds and their figures
MANAGE = "patrol.manage"        # teams and members, points, routes, the duty roster
PATROL = "patrol.patrol"        # start a round, check in at points, end it with its results

PERMISSIONS = [
    Permission(READ, "查看群防群治（队伍、巡逻点、路线、排班、巡逻记录）", "View patrols"),
    Permission(MANAGE, "管理巡防队伍、巡逻点、路线和排班", "Manage patrol teams, points, routes and rosters"),
    Permission(PATROL, "巡逻打卡并登记巡逻战果", "Patrol: check in and record results"),
]

ROLE_TEMPLATES = [
    RoleTemplate("patrol_member", "巡逻队员", "Patrol member", (READ, PATROL)),
    RoleTemplate("patrol_manager", "巡防队管理员", "Patrol manager", (READ, MANAGE, PATROL)),
    RoleTemplate("county_admin", "县级管理员", "County administrator", (READ, MANAGE, PATROL)),
    RoleTemplate("unit_admin", "单位管理员", "Unit administrator", (READ, MANAGE, PATROL)),
    RoleTemplate("staff", "工作人员", "Staff", (READ, PATROL)),
    RoleTemplate("viewer", "只读用户", "Viewer", (READ,)),
]
