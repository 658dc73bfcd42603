"""Permissions of the patrol module (every code starts with ``patrol.``) and its role templates."""
from __future__ import annotations

from core.sdk import Permission, RoleTemplate

READ = "patrol.read"            # teams, points, routes, rosters, rounds and their figures
MANAGE = "patrol.manage"        # teams and members, points, routes, the duty roster
PATROL = "patrol.patrol"        # start a round, check in at points, end it with its results
# information officers' clues (PAT-4): cases of type ``patrol.clue``
CLUE_READ = "patrol.clue.read"          # see clues (never an anonymous clue's reporter)
CLUE_REPORT = "patrol.clue.report"      # report a clue from the phone page
CLUE_HANDLE = "patrol.clue.handle"      # verify, reject with a reason, handle, turn into another case
CLUE_REPORTER = "patrol.clue.reporter.read"  # see who reported an anonymous clue (audited)
CAMERA_MANAGE = "patrol.camera.manage"  # the camera register; close repair tickets
CAMERA_INSPECT = "patrol.camera.inspect"  # inspect cameras (raises repair tickets)

PERMISSIONS = [
    Permission(READ, "查看群防群治（队伍、巡逻点、路线、排班、巡逻记录）", "View patrols"),
    Permission(MANAGE, "管理巡防队伍、巡逻点、路线和排班", "Manage patrol teams, points, routes and rosters"),
    Permission(PATROL, "巡逻打卡并登记巡逻战果", "Patrol: check in and record results"),
    Permission(CLUE_READ, "查看治安线索", "View clues"),
    Permission(CLUE_REPORT, "报送治安线索", "Report clues"),
    Permission(CLUE_HANDLE, "核查处理治安线索", "Triage and handle clues"),
    Permission(CAMERA_MANAGE, "管理监控探头登记并办结维修工单", "Manage cameras and repair tickets"),
    Permission(CAMERA_INSPECT, "巡检监控探头", "Inspect cameras"),
    Permission(CLUE_REPORTER, "查看匿名线索的报送人（记入审计）", "See who reported an anonymous clue (audited)",
               sensitive=True),
]

ADMIN_ACTS = (CLUE_READ, CLUE_REPORT, CLUE_HANDLE, CAMERA_MANAGE, CAMERA_INSPECT)
ROLE_TEMPLATES = [
    RoleTemplate("patrol_member", "巡逻队员", "Patrol member", (READ, PATROL, CAMERA_INSPECT)),
    RoleTemplate("patrol_manager", "巡防队管理员", "Patrol manager", (READ, MANAGE, PATROL)),
    RoleTemplate("info_officer", "治安信息员", "Information officer", (CLUE_READ, CLUE_REPORT)),
    RoleTemplate("clue_handler", "线索核查员", "Clue handler",
                 ("core.case.read", "core.case.register", CLUE_READ, CLUE_HANDLE)),
    RoleTemplate("clue_auditor", "线索审计员", "Clue auditor", (CLUE_READ, CLUE_REPORTER)),
    RoleTemplate("county_admin", "县级管理员", "County administrator", (READ, MANAGE, PATROL, *ADMIN_ACTS, CLUE_REPORTER)),
    RoleTemplate("unit_admin", "单位管理员", "Unit administrator", (READ, MANAGE, PATROL, *ADMIN_ACTS)),
    RoleTemplate("staff", "工作人员", "Staff", (READ, PATROL, CLUE_READ, CLUE_REPORT, CAMERA_INSPECT)),
    RoleTemplate("viewer", "只读用户", "Viewer", (READ, CLUE_READ)),
]
