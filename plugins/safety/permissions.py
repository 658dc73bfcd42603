"""Permissions of the safety module (every code starts with ``safety.``) and its role templates."""
from __future__ import annotations

from core.sdk import Permission, RoleTemplate

READ = "safety.read"            # places, checklists, inspections, hazards, incidents
MANAGE = "safety.manage"        # the register of places and the checklist templates
INSPECT = "safety.inspect"      # inspect, raise hazards, re-inspect (复查)
RECTIFY = "safety.rectify"      # report rectification progress and completion
NOTICE = "safety.notice"        # issue the rectification notice (整改通知书)
INCIDENT = "safety.incident"    # report incidents (事故、事件报告)

PERMISSIONS = [
    Permission(READ, "查看安全隐患排查治理", "View safety screening"),
    Permission(MANAGE, "管理检查场所和检查表", "Manage places and checklists"),
    Permission(INSPECT, "开展安全检查和复查", "Inspect and re-inspect"),
    Permission(RECTIFY, "报告隐患整改情况", "Report rectification"),
    Permission(NOTICE, "下达整改通知书", "Issue rectification notices"),
    Permission(INCIDENT, "报告事故和重大事件", "Report incidents"),
]

CASEWORK = ("core.case.read", "core.org_unit.read")
ALL = (READ, MANAGE, INSPECT, RECTIFY, NOTICE, INCIDENT)

ROLE_TEMPLATES = [
    RoleTemplate("safety_officer", "安全员", "Safety officer", (*CASEWORK, READ, INSPECT, RECTIFY, INCIDENT)),
    RoleTemplate("safety_chief", "安监站负责人", "Head of the safety office",
                 (*CASEWORK, "core.case.supervise", "core.case.export", *ALL)),
    RoleTemplate("county_admin", "县级管理员", "County administrator", ALL),
    RoleTemplate("unit_admin", "单位管理员", "Unit administrator", (READ, MANAGE, INSPECT, RECTIFY, NOTICE, INCIDENT)),
    RoleTemplate("viewer", "只读用户", "Viewer", (READ,)),
]
