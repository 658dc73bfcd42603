"""Permissions of the village affairs module (every code starts with ``village.``) and its roles."""
from __future__ import annotations

from core.sdk import Permission, RoleTemplate

READ = "village.read"               # the projects, votes, evaluations and figures of a village
DELIBERATE = "village.deliberate"   # propose a project, record the council's discussion and the vote, progress
PUBLISH = "village.publish"         # publish a project's decision, progress and completion (公开办事)
EVALUATE = "village.evaluate"       # enter the two ballots of the yearly evaluation (两票评事)
RECTIFY = "village.rectify"         # carry out a rectification ordered by the evaluation
CONTACT = "village.contact"         # cadres ask and people speak: contacts, hearings, commitments
OPINION = "village.opinion"         # opinion collection points, their codes, receiving and triaging opinions

PERMISSIONS = [
    Permission(READ, "查看村务（五事）", "View village affairs"),
    Permission(DELIBERATE, "村级项目提议、议事和表决登记", "Propose, deliberate and record votes on village projects"),
    Permission(PUBLISH, "村务公开", "Publish village affairs"),
    Permission(EVALUATE, "录入两票评议结果", "Enter the two-ballot evaluation"),
    Permission(RECTIFY, "办理两票评议整改", "Carry out rectifications"),
    Permission(CONTACT, "干部问事、群众说事登记", "Record cadres' contacts and hearings"),
    Permission(OPINION, "社情民意采集：采集点、验证码、登记和分办群众意见", "Collect and triage villagers' opinions"),
]

CASEWORK = ("core.case.read", "core.case.register", "core.case.handle")
ALL = (READ, DELIBERATE, PUBLISH, EVALUATE, RECTIFY, CONTACT, OPINION)

ROLE_TEMPLATES = [
    RoleTemplate("village_affairs_officer", "村务工作人员", "Village affairs officer",
                 (*CASEWORK, READ, DELIBERATE, PUBLISH, RECTIFY, CONTACT, OPINION)),
    RoleTemplate("township_village_affairs", "乡镇村务指导人员", "Township village-affairs officer",
                 (*CASEWORK, *ALL)),
    RoleTemplate("county_admin", "县级管理员", "County administrator", ALL),
    RoleTemplate("unit_admin", "单位管理员", "Unit administrator", ALL),
    RoleTemplate("viewer", "只读用户", "Viewer", (READ,)),
]
