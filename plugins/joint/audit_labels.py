"""The words of the joint-mechanisms module's audit entries: its recorded acts and its tables."""
from __future__ import annotations

from core.sdk import AuditLabels

LABELS = AuditLabels(
    actions={"joint.decision": ("联席会议决定", "Meeting decision")},
    object_types={
        "joint_meeting": ("联席会议", "Joint meeting"), "joint_agenda_item": ("会议议题", "Agenda item"),
        "joint_attendance": ("出席情况", "Attendance"), "joint_decision": ("会议决定", "Decision"),
        "joint_campaign": ("专项整治", "Campaign"), "joint_campaign_target": ("整治对象", "Campaign target"),
        "joint_analysis": ("治安形势分析", "Public-order analysis"),
        "joint_construction_phase": ("中心建设阶段", "Construction phase"), "joint_centre": ("综治中心", "Centre"),
        "joint_target_report": ("整治进展", "Target progress report"),
    },
    fields={
        "held_on": ("会议日期", "Held on"), "convener": ("召集人", "Convener"), "minutes": ("会议纪要", "Minutes"),
        "substitute": ("代会人", "Substitute"), "deadline": ("办结期限", "Deadline"), "focus": ("整治重点", "Focus"),
        "starts_on": ("开始日期", "Starts on"), "ends_on": ("结束日期", "Ends on"), "summary": ("整治总结", "Summary"),
        "added_on": ("列入日期", "Added on"), "closed_on": ("销号日期", "Closed on"), "close_note": ("销号说明", "Close note"),
        "month": ("月份", "Month"), "level_title": ("预警等级", "Warning level"), "analysis": ("分析意见", "Analysis"),
        "figures": ("分析数据", "Figures"), "phase": ("建设阶段", "Phase"), "target_date": ("目标日期", "Target date"),
        "accepted_on": ("验收日期", "Accepted on"), "evidence": ("验收材料", "Evidence"),
        "director_name": ("主任", "Director"), "director_post": ("主任职务", "Director's post"),
        "deputies": ("副主任", "Deputies"), "facilities": ("功能室和设施", "Facilities"),
        "reported_on": ("报告日期", "Reported on"), "kind": ("决定类型", "Kind"), "supervision_id": ("督办", "Supervision"), "intake_id": ("受理登记", "Intake item"),
    },
)
