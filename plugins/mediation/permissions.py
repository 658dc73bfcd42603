"""Permissions of the mediation module (every code starts with ``mediation.``) and its roles."""
from __future__ import annotations

from core.sdk import Permission, RoleTemplate

READ = "mediation.read"
REGISTER = "mediation.register"        # register a dispute, file a screening report
MEDIATE = "mediation.mediate"          # accept, hold sessions, record agreements, end mediation
ESCALATE = "mediation.escalate"        # hand a dispute to the next tier (MED-3)
REFER = "mediation.refer"              # refer between people's, administrative and judicial mediation (MED-4)
PII = "mediation.pii.read"             # parties' full ID numbers and phones (audited)
REGISTER_MANAGE = "mediation.registers.manage"  # the three ledgers (MED-6)

PERMISSIONS = [
    Permission(READ, "查看矛盾纠纷", "View disputes"),
    Permission(REGISTER, "登记矛盾纠纷、报送排查情况", "Register disputes and file screening reports"),
    Permission(MEDIATE, "调解矛盾纠纷", "Mediate disputes"),
    Permission(ESCALATE, "逐级上报矛盾纠纷", "Escalate disputes to the next tier"),
    Permission(REFER, "移送人民调解、行政调解、司法调解", "Refer disputes between mediation types"),
    Permission(PII, "查看当事人完整身份证号和电话", "See parties' full ID numbers and phones", sensitive=True),
    Permission(REGISTER_MANAGE, "管理三本台账", "Manage the three ledgers"),
]

# The core's case and person permissions a mediator works with (cases are the core's).
CASEWORK = ("core.case.read", "core.case.register", "core.case.divert", "core.case.handle", "core.person.read",
            "core.person.manage")

ROLE_TEMPLATES = [
    RoleTemplate("mediator", "人民调解员", "Mediator", (*CASEWORK, READ, REGISTER, MEDIATE, ESCALATE)),
    RoleTemplate("mediation_chief", "调解中心负责人", "Head of mediation",
                 (*CASEWORK, "core.case.supervise", "core.case.extension.approve",
                  READ, REGISTER, MEDIATE, ESCALATE, REFER, PII, REGISTER_MANAGE)),
    RoleTemplate("county_admin", "县级管理员", "County administrator",
                 (READ, REGISTER, MEDIATE, ESCALATE, REFER, REGISTER_MANAGE)),
    RoleTemplate("unit_admin", "单位管理员", "Unit administrator", (READ, REGISTER, MEDIATE, ESCALATE, REGISTER_MANAGE)),
    RoleTemplate("viewer", "只读用户", "Viewer", (READ,)),
]
