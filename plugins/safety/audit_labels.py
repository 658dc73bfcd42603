"""The words of the safety module's audit entries: its acts, its tables and their fields, so the
county admin's audit viewer reads Chinese (never a key) for every row of this module."""
from __future__ import annotations

from core.sdk import AuditLabels

LABELS = AuditLabels(
    actions={"safety.answer_photo": ("上传检查项照片", "Inspection item photo uploaded")},
    object_types={
        "safety_place": ("检查场所", "Place"), "safety_checklist": ("检查表", "Checklist"),
        "safety_checklist_item": ("检查项", "Checklist item"), "safety_inspection": ("安全检查", "Inspection"),
        "safety_answer": ("检查项结果", "Item result"), "safety_hazard": ("安全隐患", "Hazard"),
        "safety_incident": ("事件报告", "Incident report"),
    },
    fields={
        "place_type": ("场所类型", "Place type"), "responsible_person": ("负责人", "Responsible person"),
        "latitude": ("纬度", "Latitude"), "longitude": ("经度", "Longitude"), "extra": ("场所信息", "Place fields"),
        "position": ("顺序", "Order"), "section": ("分类", "Section"), "question": ("检查内容", "Question"),
        "expected": ("合格答案", "Expected"), "weight": ("分值", "Weight"), "hazard": ("不合格即隐患", "Hazard item"),
        "grade": ("隐患等级", "Grade"), "inspected_at": ("检查时间", "Inspected"), "score": ("得分", "Score"),
        "failed": ("不合格项数", "Failed"), "hazards": ("发现隐患数", "Hazards"), "answer": ("回答", "Answer"),
        "photo_filename": ("照片", "Photo"), "photo_key": None, "photo_content_type": None, "photo_size": None,
        "photo_sha256": None, "filename": ("文件名", "File name"),
        "major": ("重大隐患", "Major"), "measures": ("整改措施", "Measures"), "funds": ("整改资金", "Funds"),
        "deadline": ("整改期限", "Deadline"), "plan": ("整改期间的防范措施", "Interim plan"),
        "reinspections": ("复查次数", "Re-inspections"), "overdue_supervised": ("逾期挂牌督办", "Listed when overdue"),
        "occurred_at": ("发生时间", "Occurred"), "reported_at": ("报告时间", "Reported"), "location": ("发生地点", "Location"),
        "deaths": ("死亡人数", "Deaths"), "injuries": ("受伤人数", "Injuries"), "losses": ("财产损失", "Losses"),
        "limit_hours": ("报告时限（小时）", "Limit (hours)"), "late": ("迟报", "Late"),
    },
)
