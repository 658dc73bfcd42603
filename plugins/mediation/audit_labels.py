"""The words of the mediation module's audit entries (hook ``pingan_audit_labels``): its
recorded acts, its tables and the fields the county admin reads in the audit viewer."""
from __future__ import annotations

from core.sdk import AuditLabels

from .cases import KINDS, METHODS, OUTCOMES, PARTY_SIDES, REFERRAL_OUTCOMES, RISK_GRADES
from .registers import KINDS as REGISTER_KINDS

PERFORMANCE = {"pending": "待履行", "performed": "履行完毕", "partly": "部分履行", "refused": "拒不履行"}
CONFIRMATION = {"none": "未申请", "applied": "已申请", "confirmed": "已确认有效", "invalid": "确认无效"}
CONSENT = {"pending": "待确认", "agreed": "同意调解", "refused": "拒绝调解"}
STEP_RESULTS = {"escalated": "上报", "taken_over": "上级接手", "resolved": "化解", "ended": "终止",
                "referred": "移送"}
CADENCES = {"weekly": "每周", "half_monthly": "每半月", "monthly": "每月"}

LABELS = AuditLabels(
    actions={
        "mediation.screening_filed": ("报送排查情况", "Screening report filed"),
        "mediation.referral_outcome": ("登记移送结果", "Referral outcome recorded"),
    },
    object_types={
        "mediation_dispute": ("矛盾纠纷", "Dispute"), "mediation_party": ("当事人", "Party"),
        "mediation_tier_step": ("调处层级", "Tier stay"), "mediation_session": ("调解记录", "Mediation session"),
        "mediation_agreement": ("调解协议", "Agreement"), "mediation_followup": ("履行回访", "Follow-up"),
        "mediation_referral": ("移送", "Referral"), "mediation_screening": ("排查情况报告", "Screening report"),
        "mediation_register": ("三本台账", "Register entry"),
    },
    fields={
        # None: counted as "其他字段" rather than shown as a code — the dispute type and the tier
        # (codes of the county's own taxonomy, whose titles live in its settings) and a screening
        # report's period key (``2026-W48``)
        "dispute_type": None, "tier": None, "mediation_screening.period": None,
        "people_involved": ("涉及人数", "People involved"),
        "risk_grade": ("风险等级", "Risk grade"), "may_turn_criminal": ("可能民转刑", "May turn criminal"),
        "may_become_mass": ("可能引发群体性事件", "May become a mass incident"), "emergency": ("突发事件", "Emergency"),
        "occurred_at": ("发生时间", "Occurred"), "reported_late": ("迟报", "Reported late"),
        "mediation_dispute.kind": ("调解类型", "Kind"), "method": ("调处方式", "Method"),
        "outcome": ("结果", "Outcome"), "outcome_note": ("结果说明", "Outcome note"),
        "screening_id": ("所属排查报告", "Screening report"), "side": ("当事人身份", "Side"),
        "organisation": ("单位当事人", "Organisation"), "consent": ("是否同意调解", "Consent"),
        "consent_at": ("确认时间", "Consent given"), "holders": ("负责人", "Holders"),
        "entered_at": ("进入时间", "Entered"), "left_at": ("离开时间", "Left"), "result": ("去向", "Result"),
        "reason": ("理由", "Reason"), "held_at": ("调解时间", "Held"), "place": ("地点", "Place"),
        "mediators": ("调解员", "Mediators"), "participants": ("参加人", "Participants"),
        "record": ("调解笔录", "Record"), "form": ("协议形式", "Form"), "facts": ("纠纷主要事实", "Facts"),
        "issues": ("争议事项", "Issues"), "responsibility": ("各方责任", "Responsibility"),
        "terms": ("协议内容", "Terms"), "performance": ("履行方式", "Performance"),
        "performance_due": ("履行期限", "Due"), "mediator": ("调解员", "Mediator"),
        "committee": ("人民调解委员会", "Committee"), "effective_on": ("生效日期", "Effective"),
        "copies": ("份数", "Copies"), "performed": ("履行情况", "Performed"),
        "confirmation": ("司法确认", "Judicial confirmation"), "confirmation_court": ("受理法院", "Court"),
        "confirmation_applied_on": ("申请日期", "Applied"), "confirmation_decided_on": ("确认日期", "Decided"),
        "mediation_followup.kind": ("回访类型", "Kind"), "at": ("时间", "At"), "note": ("说明", "Note"),
        "direction": ("方向", "Direction"), "from_kind": ("移出类型", "From"), "to_kind": ("移入类型", "To"),
        "from_body": ("移出单位", "From body"), "to_body": ("接收单位", "To body"),
        "document": ("文书", "Document"), "referred_at": ("移送时间", "Referred"),
        "outcome_at": ("结果时间", "Outcome at"), "cadence": ("报送周期", "Cadence"),
        "nil": ("零报告", "Nil report"), "found": ("排查出纠纷数", "Found"), "filed_at": ("报送时间", "Filed"),
        "late": ("迟报", "Late"), "unit": ("单位", "Unit"), "mediation_register.kind": ("台账", "Register"),
        "found_on": ("发现日期", "Found on"), "description": ("情况", "Description"),
        "measures": ("措施", "Measures"), "responsible": ("责任人", "Responsible"), "status": ("状态", "Status"),
        "resolved_on": ("化解日期", "Resolved on"), "escalated_by": ("上报人", "Passed up by"),
        "filed_by": ("报送人", "Filed by"),
    },
    values={
        "risk_grade": RISK_GRADES,
        "mediation_dispute.kind": KINDS,
        "method": METHODS,
        "mediation_dispute.outcome": OUTCOMES,
        "side": PARTY_SIDES,
        "consent": CONSENT,
        "result": STEP_RESULTS,
        "form": {"written": "书面协议", "oral": "口头协议"},
        "performed": PERFORMANCE,
        "confirmation": CONFIRMATION,
        "mediation_followup.kind": {"performance": "履行情况检查", "return_visit": "回访"},
        "direction": {"in": "移入", "out": "移出"},
        "from_kind": KINDS, "to_kind": KINDS,
        "document": {"letter": "移送函", "suit": "建议立案书"},
        "mediation_referral.outcome": {"pending": "待结果", **REFERRAL_OUTCOMES},
        "mediation.referral_outcome.outcome": REFERRAL_OUTCOMES,
        "cadence": CADENCES,
        "mediation_register.kind": REGISTER_KINDS,
        "status": {"open": "未化解", "resolved": "已化解"},
    },
)
