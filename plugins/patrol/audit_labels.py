"""The words of the patrol module's audit entries for its own tables (the registers' tables —
teams and points — get theirs from their declarations)."""
from __future__ import annotations

from core.sdk import AuditLabels

from .findings import KINDS
from .teams import ROLES

LABELS = AuditLabels(
    actions={"patrol.check_in_photo": ("上传巡逻打卡照片", "Check-in photo uploaded")},
    object_types={
        "patrol_member": ("巡防队员", "Team member"), "patrol_route": ("巡逻路线", "Route"),
        "patrol_route_point": ("路线巡逻点", "Route point"), "patrol_duty": ("巡逻排班", "Roster entry"),
        "patrol_round": ("巡逻记录", "Round"), "patrol_check_in": ("巡逻打卡", "Check-in"),
        "patrol_clue": ("治安线索", "Clue"), "patrol_inspection": ("探头巡检", "Camera inspection"),
        "patrol_finding": ("巡逻发现的情况", "Round finding"),
    },
    fields={
        "photo_filename": ("打卡照片", "Photo"), "photo_key": None, "photo_content_type": None, "photo_size": None,
        "photo_sha256": None, "filename": ("文件名", "File name"),
        "patrol_member.role": ("职务", "Role"), "joined_on": ("入队日期", "Joined on"), "left_on": ("离队日期", "Left on"),
        "patrol_route.name": ("路线名称", "Name"), "window_start": ("计划开始时间", "Window start"),
        "window_end": ("计划结束时间", "Window end"), "created_by": ("登记人", "Recorded by"),
        "position": ("顺序", "Order"), "duty_date": ("值班日期", "Duty date"), "shift_start": ("班次开始", "Shift start"),
        "shift_end": ("班次结束", "Shift end"), "starts_at": ("班次开始时刻", "Starts"), "ends_at": ("班次结束时刻", "Ends"),
        "started_by": ("巡逻人", "Patrolled by"), "started_at": ("开始时间", "Started"), "ended_at": ("结束时间", "Ended"),
        "window_start_at": ("计划时段开始", "Window from"), "window_end_at": ("计划时段结束", "Window to"),
        "planned": ("应到点数", "Planned"), "visited": ("实到点数", "Visited"), "on_time": ("按时", "On time"),
        "late": ("迟到", "Late"), "compliance": ("到点率（%）", "Compliance (%)"), "threshold": ("达标线（%）", "Threshold (%)"),
        "flagged": ("未达标", "Flagged"), "caught": ("抓获嫌疑人", "Suspects caught"), "stopped": ("制止违法犯罪", "Crimes stopped"),
        "hazards": ("发现隐患", "Hazards found"), "disputes": ("发现纠纷", "Disputes found"), "helped": ("帮助群众", "People helped"),
        "note": ("说明", "Note"), "at": ("打卡时间", "Checked in at"), "latitude": ("纬度", "Latitude"),
        "longitude": ("经度", "Longitude"), "by": ("打卡人", "Checked in by"),
        "place": ("地点", "Place"), "occurred_at": ("发生时间", "Occurred"), "anonymous": ("匿名报送", "Anonymous"),
        "reject_reason": ("不予采信的理由", "Rejected because"), "outcome": ("处理结果", "Outcome"),
        "label_ok": ("标识完好", "Label intact"), "housing_ok": ("外壳完好", "Housing intact"),
        "cables_ok": ("线缆完好", "Cables intact"), "picture_ok": ("画面正常", "Picture normal"),
        "round_id": ("巡逻记录", "Round"), "patrol_finding.kind": ("发现的情况", "Kind"), "title": ("标题", "Title"),
        "case_id": ("事项", "Case"), "intake_id": ("统一受理事项", "Matter at the window"),
    },
    values={"patrol_member.role": ROLES, "patrol_finding.kind": KINDS},
)
