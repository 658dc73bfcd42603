"""The words of the village module's audit entries (its recorded acts, its tables and their fields)."""
from __future__ import annotations

from core.sdk import AuditLabels

from .opinions import STATES as OPINION_STATES, VIA as OPINION_VIA
from .projects import STATES
from .publicity import STAGES
from .settings import BODIES, QUORUMS

LABELS = AuditLabels(
    actions={"village.project_voted": ("村级项目表决", "Project vote recorded"),
             "village.evaluated": ("录入两票评议", "Evaluation entered"),
             "village.minutes_photo": ("上传签字的表决记录", "Signed minutes uploaded")},
    object_types={"village_project": ("村级项目", "Village project"), "village_publication": ("村务公开", "Publication"),
                  "village_evaluation": ("两票评议", "Two-ballot evaluation"),
                  "village_opinion_code": ("群众意见验证码", "Opinion code"), "village_opinion": ("群众意见", "Opinion")},
    fields={
        "title": ("项目名称", "Title"), "summary": ("项目内容", "Summary"), "budget": ("预算（元）", "Budget"),
        "village_project.state": ("状态", "State"), "proposed_on": ("提议日期", "Proposed on"),
        "created_by": ("登记人", "Recorded by"), "discussed_on": ("两委讨论日期", "Discussed on"),
        "council_opinion": ("两委意见", "Council's opinion"), "body": ("表决会议", "Meeting"),
        "voted_on": ("表决日期", "Voted on"), "members": ("应到人数", "Members"), "present": ("实到人数", "Present"),
        "votes_for": ("赞成票", "For"), "votes_against": ("反对票", "Against"), "votes_abstain": ("弃权票", "Abstained"),
        "quorum_rule": ("法定人数", "Quorum"), "approval_pct": ("通过比例（%）", "Approval share"),
        "minutes": ("会议记录摘要", "Minutes"), "minutes_photo_filename": ("签字的表决记录", "Signed minutes"),
        "minutes_photo_key": None, "minutes_photo_content_type": None, "minutes_photo_size": None,
        "minutes_photo_sha256": None, "minutes_photo_at": ("表决记录上传时间", "Minutes uploaded"),
        "minutes_photo_by": ("表决记录上传人", "Minutes uploaded by"), "filename": ("文件名", "File name"), "progress_pct": ("完成比例（%）", "Progress"),
        "progress_note": ("进展情况", "Progress note"), "progress_on": ("进度日期", "Progress on"),
        "completed_on": ("完工日期", "Completed on"), "completion_note": ("完工情况", "Completion note"),
        "stage": ("公开内容", "Stage"), "content": ("公开文字", "Text"), "act_on": ("事项日期", "Act on"),
        "published_on": ("公开日期", "Published on"), "published_by": ("公开人", "Published by"),
        "on_time": ("按时公开", "On time"), "published_at": ("公开时间", "Published at"), "year": ("评议年度", "Year"), "subject": ("评议对象", "Subject"),
        "village_evaluation.held_on": ("评议日期", "Held on"), "cadre": ("干部", "Cadre"),
        "villager_issued": ("村民票发出", "Villagers' ballots issued"),
        "villager_satisfied": ("村民票满意", "Villagers satisfied"),
        "villager_basic": ("村民票基本满意", "Villagers fairly satisfied"),
        "villager_unsatisfied": ("村民票不满意", "Villagers unsatisfied"),
        "party_issued": ("党员票发出", "Party ballots issued"), "party_satisfied": ("党员票满意", "Party satisfied"),
        "party_basic": ("党员票基本满意", "Party fairly satisfied"),
        "party_unsatisfied": ("党员票不满意", "Party unsatisfied"),
        "villager_pct": ("村民票满意率", "Villagers' satisfaction"), "party_pct": ("党员票满意率", "Party satisfaction"),
        "threshold_pct": ("满意率门槛", "Threshold"), "passed": ("达标", "Met"),
        "code_hash": None, "expires_on": ("有效期至", "Valid until"), "used_at": ("使用时间", "Used at"),
        "issued_by": ("发放人", "Issued by"), "issued_at": ("发放时间", "Issued at"), "point_id": ("采集点", "Point"),
        "village_opinion.content": ("群众意见", "Opinion"), "via": ("来源", "Via"), "received_at": ("收到时间", "Received"),
        "received_by": ("登记人", "Recorded by"), "village_opinion.state": ("状态", "State"),
        "note": ("答复内容或理由", "Answer or reason"), "intake_id": ("统一受理事项", "Matter at the window"),
        "handled_by": ("分办人", "Triaged by"), "handled_at": ("分办时间", "Triaged at"),
    },
    values={"village_project.state": STATES, "via": OPINION_VIA, "village_opinion.state": OPINION_STATES, "body": {k: v[0] for k, v in BODIES.items()},
            "quorum_rule": {k: q.title for k, q in QUORUMS.items()}, "stage": STAGES},
)
