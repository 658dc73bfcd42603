"""The words of the scoring module's audit entries: its recorded acts and its tables."""
from __future__ import annotations

from core.sdk import AuditLabels

LABELS = AuditLabels(
    actions={
        "scoring.publish": ("公布考核结果", "Results published"),
        "scoring.appeal_upheld": ("支持申诉并更正得分", "Appeal upheld"),
        "scoring.appeal_rejected": ("驳回申诉", "Appeal rejected"),
    },
    object_types={
        "scoring_rubric": ("考核细则", "Rubric"), "scoring_period": ("考核期", "Period"),
        "scoring_entry": ("考核评分", "Assessment entry"), "scoring_result": ("考核结果", "Result"),
        "scoring_appeal": ("考核申诉", "Appeal"),
    },
    fields={
        "level": ("考核对象层级", "Level"), "year": ("年度", "Year"), "version": ("版本", "Version"),
        "title": ("名称", "Title"), "items": ("考核项目", "Items"), "kind": ("类别", "Kind"),
        "number": ("期次", "Number"), "state": ("状态", "State"), "total": ("总分", "Total"),
        "rank": ("名次", "Rank"), "vetoed": ("一票否决", "Vetoed"), "veto_cause": ("否决原因", "Veto cause"),
        "reason": ("理由", "Reason"), "decision": ("决定", "Decision"), "points": ("得分", "Points"),
        "note": ("评分依据", "Evidence"), "passed": ("检查结果", "Check result"),
        "total_before": ("更正前总分", "Total before"), "total_after": ("更正后总分", "Total after"),
        "starts_on": ("起始日期", "Starts on"), "ends_on": ("截止日期", "Ends on"),
        "published_at": ("公布时间", "Published at"), "appeal_until": ("申诉截止日期", "Appeals until"),
        "item_key": ("考核项目", "Item"), "entered_by": ("评分人", "Entered by"), "entered_at": ("评分时间", "Entered at"),
        "honoured": ("获得表彰资格", "Honoured"), "reward": ("奖励（元）", "Reward (yuan)"),
        "published_by": ("公布人", "Published by"), "published_unit_id": ("公布单位", "Published for"),
        "points_before": ("更正前得分", "Points before"),
        "points_after": ("更正后得分", "Points after"), "filed_by": ("申诉人", "Filed by"), "filed_at": ("申诉时间", "Filed at"),
        "decided_by": ("决定人", "Decided by"), "decided_at": ("决定时间", "Decided at"),
    },
)
