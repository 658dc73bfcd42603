"""The words of the petition module's audit entries (hook ``pingan_audit_labels``): its
recorded acts, its tables and the fields the county admin reads in the audit viewer."""
from __future__ import annotations

from core.sdk import AuditLabels

from .cases import FORMS, PROCEDURES
from .oversight import GRADES, LEVELS, NOTICE_METHODS
from .quotas import KINDS, LEVELS as ESCALATION_LEVELS
from .status import RATINGS

LABELS = AuditLabels(
    actions={
        "petition.leader_assigned": ("领导包案", "Leader assigned"),
        "petition.leader_dissolved": ("解除领导包案", "Leader ownership ended"),
        "petition.situation_report": ("报告情况", "Situation reported"),
        "petition.risk_assessed": ("风险评估", "Risk assessed"),
        "petition.joint_decision": ("联席会议研究", "Joint meeting decision"),
        "petition.watch_added": ("列入重点关注", "Put on the watch list"),
        "petition.watch_ended": ("解除重点关注", "Taken off the watch list"),
        "petition.followup_added": ("安排稳控回访", "Follow-up planned"),
        "petition.followup_done": ("完成稳控回访", "Follow-up done"),
        "petition.receipt_code_shown": ("打印受理回执（查询码）", "Receipt printed"),
        "petition.quota_set": ("设定上访指标", "Quota set"),
        "petition.escalation": ("登记越级访/非正常访", "Escalation recorded"),
        "petition.accountability": ("启动责任追究", "Accountability opened"),
        "petition.accountability_closed": ("办结责任追究", "Accountability closed"),
        "petition.final_override": ("终结后再次受理", "Final answer overridden"),
        "petition.rated": ("群众评价", "Rated"),
    },
    object_types={
        "petition_case": ("信访件", "Petition"), "petition_leader": ("包案领导", "Owning leader"),
        "petition_risk": ("风险评估", "Risk assessment"), "petition_watch": ("重点关注人员", "Watch entry"),
        "petition_followup": ("稳控回访", "Follow-up"), "petition_quota": ("上访指标", "Quota"),
        "petition_escalation": ("越级访/非正常访", "Escalation"),
        "petition_accountability": ("责任追究", "Accountability"),
    },
    fields={
        "form": ("信访形式", "Form"), "demands": ("诉求", "Demands"),
        "visitors": ("来访人数", "Visitors"), "procedure": ("办理程序", "Procedure"),
        "repeat_count": ("重复信访次数", "Repeats"), "override_reason": ("再次受理理由", "Override reason"),
        "replied_at": ("答复时间", "Replied"), "reviewed_at": ("复查时间", "Reviewed"),
        "rating": ("评价", "Rating"), "rated_at": ("评价时间", "Rated"), "risk_grade": ("风险等级", "Risk grade"),
        "leader": ("包案领导", "Leader"), "leader_name": ("包案领导", "Leader"), "leader_post": ("职务", "Post"),
        "level": ("层级", "Level"), "grade": ("等级", "Grade"), "opinion": ("意见", "Opinion"),
        "method": ("报告方式", "Method"), "met_on": ("会议日期", "Met on"), "signs": ("苗头表现", "Signs"),
        "end_reason": ("解除理由", "Reason"), "task": ("回访内容", "Task"), "due_on": ("计划日期", "Due"),
        "period": ("期间", "Period"), "kind": ("类别", "Kind"), "quota": ("指标", "Quota"),
        "petitioner": ("信访人", "Petitioner"),
        "abnormal": ("非正常访", "Abnormal"), "occurred_on": ("发生日期", "Occurred"),
        "people": ("人数", "People"), "used": ("已发生", "Used"), "persons": ("人次", "Persons"),
        "channel": ("评价渠道", "Channel"), "reprint": ("补打", "Reprint"),
        "first_inquiry": ("首问责任人", "First inquiry"),
        # the receipt's query code and its hash: never shown in the log (the code is printed once)
        "petition_case.query_code": None, "petition_case.query_hash": None,
        "team": ("工作班子", "Team"), "investigate": ("包调查", "Investigate"), "handle": ("包处理", "Handle"),
        "stabilise": ("包稳定", "Keep stable"), "assigned_at": ("包案时间", "Assigned"),
        "dissolved_at": ("解除时间", "Ended"), "assessed_by": ("评估人", "Assessed by"),
        "assessed_at": ("评估时间", "Assessed"), "added_by": ("列入人", "Added by"), "added_at": ("列入时间", "Added"),
        "ended_at": ("解除时间", "Ended"), "reported_by": ("报告人", "Reported by"),
        "recorded_by": ("登记人", "Recorded by"), "closed_by": ("办结人", "Closed by"),
    },
    values={
        "form": {k: v[0] for k, v in FORMS.items()},
        "procedure": PROCEDURES,
        "rating": RATINGS,
        "risk_grade": GRADES,
        "grade": GRADES,
        "petition.risk_assessed.level": {k: v[0] for k, v in LEVELS.items()},
        "petition_risk.level": {k: v[0] for k, v in LEVELS.items()},
        "method": NOTICE_METHODS,
        "kind": KINDS,
        "petition_escalation.level": ESCALATION_LEVELS,
        "petition.rated.channel": {"public": "信访人自行评价", "county_network": "县内网络（待核实）"},
    },
)
