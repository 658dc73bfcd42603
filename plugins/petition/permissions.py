"""Permissions of the petition module (every code starts with ``petition.``) and its roles."""
from __future__ import annotations

from core.sdk import Permission, RoleTemplate

READ = "petition.read"
REGISTER = "petition.register"
HANDLE = "petition.handle"
REVIEW = "petition.review"                   # decide 复查 and 复核 (the level above the handling unit)
OVERRIDE_FINAL = "petition.final.override"   # accept a petition again after 复核 (with a reason)
PII = "petition.pii.read"                     # petitioners' ID numbers and phones unmasked (audited)
LEADER = "petition.leader.assign"             # put a petition under a leader and a team (PET-3)
RISK_CHIEF = "petition.risk.approve"          # the third level of the risk assessment (PET-5)
WATCH = "petition.watch.manage"               # the watch list and its follow-ups (PET-5)
QUOTA = "petition.quota.manage"               # quotas, level-skipping records, accountability (PET-4)
REPRINT = "petition.receipt.reprint"          # reprint a receipt with its query code (audited; PET-7)

PERMISSIONS = [
    Permission(READ, "查看信访事项", "View petitions"),
    Permission(REGISTER, "登记信访事项", "Register petitions"),
    Permission(HANDLE, "办理信访事项", "Handle petitions"),
    Permission(REVIEW, "复查、复核信访事项", "Review and re-examine petitions"),
    Permission(OVERRIDE_FINAL, "复核终结后再次受理（须说明理由）", "Accept again after re-examination (with a reason)"),
    Permission(PII, "查看信访人完整身份证号和电话", "See petitioners' full ID numbers and phones", sensitive=True),
    Permission(LEADER, "指定包案领导和工作班子", "Put a petition under a leader and a team"),
    Permission(RISK_CHIEF, "审定信访风险等级", "Approve a petition's risk grade"),
    Permission(WATCH, "管理重点关注信访人和稳控任务", "Manage the petitioner watch list"),
    Permission(QUOTA, "管理上访指标、越级访登记和问责", "Manage petition quotas and accountability"),
    Permission(REPRINT, "补打登记回执（含查询码）", "Reprint a receipt with its query code", sensitive=True),
]

# The core's case and person permissions a petition office works with (cases are the core's).
CASEWORK = ("core.case.read", "core.case.register", "core.case.divert", "core.case.handle", "core.person.read",
            "core.person.manage")

ROLE_TEMPLATES = [
    RoleTemplate("petition_officer", "信访工作人员", "Petition officer", (*CASEWORK, READ, REGISTER, HANDLE, WATCH)),
    RoleTemplate("petition_chief", "信访部门负责人", "Head of petitions",
                 (*CASEWORK, "core.case.supervise", "core.case.extension.approve",
                  READ, REGISTER, HANDLE, REVIEW, OVERRIDE_FINAL, PII, LEADER, WATCH, QUOTA, REPRINT)),
    RoleTemplate("petition_leader", "分管领导", "Leader in charge",
                 ("core.case.read", "core.case.extension.approve", READ, REVIEW, RISK_CHIEF, LEADER, PII)),
    RoleTemplate("county_admin", "县级管理员", "County administrator",
                 (READ, REGISTER, HANDLE, REVIEW, LEADER, RISK_CHIEF, WATCH, QUOTA)),
    RoleTemplate("unit_admin", "单位管理员", "Unit administrator", (READ, REGISTER, HANDLE, WATCH)),
    RoleTemplate("viewer", "只读用户", "Viewer", (READ,)),
]
