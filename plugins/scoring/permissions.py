"""Permissions of the scoring module (every code starts with ``scoring.``) and its roles."""
from __future__ import annotations

from core.sdk import Permission, RoleTemplate

READ = "scoring.read"        # see periods, scores, rankings of the units in scope; appeal for them
ASSESS = "scoring.assess"    # enter manual and check items (明查暗访) for units in scope
MANAGE = "scoring.manage"    # rubrics, periods, publishing, deciding appeals (the county)

PERMISSIONS = [
    Permission(READ, "查看考核评比", "View assessments"),
    Permission(ASSESS, "考核评分（人工评分项、检查项）", "Assess units (manual and check items)"),
    Permission(MANAGE, "管理考核细则、考核期和申诉", "Manage rubrics, periods and appeals"),
]

ROLE_TEMPLATES = [
    RoleTemplate("scoring_assessor", "考核员", "Assessor", (READ, ASSESS)),
    RoleTemplate("county_admin", "县级管理员", "County administrator", (READ, ASSESS, MANAGE)),
    RoleTemplate("unit_admin", "单位管理员", "Unit administrator", (READ,)),
    RoleTemplate("staff", "工作人员", "Staff", (READ,)),
    RoleTemplate("viewer", "只读用户", "Viewer", (READ,)),
]
