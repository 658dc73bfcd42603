"""The module's acts on a dispute beyond its transitions — one implementation each, called by
the API and by the web forms alike."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import select

from core.sdk import Case, CaseEvent, Conflict, Invalid, add_case_event, utcnow

from .models import Agreement, FollowUp, MediationSession

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _today() -> dt.date:
    return utcnow().astimezone(SHANGHAI).date()


def record_session(w, case: Case, data: dict) -> MediationSession:
    """A mediation session with its record (调解笔录), only while the dispute is being mediated."""
    if case.state != "mediating":
        raise Conflict("not_mediating", "只有调解中的纠纷可以记录调解")
    # the form gives minutes: a session in the minute of the registration is after it
    registered = case.created_at.replace(second=0, microsecond=0)
    if data["held_at"] > utcnow() + dt.timedelta(minutes=5) or data["held_at"] < registered:
        raise Invalid("held_at", "invalid_time", "调解时间须在登记之后、不晚于现在")
    row = MediationSession(case_id=case.id, created_by=w.user_id, **data)
    w.session.add(row)
    w.session.flush()
    add_case_event(w, case, "mediation.session", note=f"{data['held_at'].astimezone(SHANGHAI):%Y-%m-%d %H:%M} "
                                                       f"{data['place']} 调解（{data['mediators']}）")
    return row


def record_followup(w, case: Case, data: dict) -> FollowUp:
    """A performance check or return visit (Art. 31: the committee supervises performance)."""
    agreement = w.session.scalar(select(Agreement).where(Agreement.case_id == case.id))
    if agreement is None:
        raise Conflict("no_agreement", "尚未达成调解协议，无需回访")
    row = FollowUp(case_id=case.id, created_by=w.user_id, at=utcnow(), **data)
    w.session.add(row)
    agreement.performed = data["performed"]
    w.session.flush()
    add_case_event(w, case, f"mediation.{data['kind']}", note=data["note"] or None,
                   data={"performed": data["performed"]})
    return row


def record_confirmation(w, case: Case, data: dict) -> Agreement:
    """The court's decision on the application for judicial confirmation (Art. 33)."""
    row = w.session.scalar(select(Agreement).where(Agreement.case_id == case.id))
    if row is None or row.confirmation != "applied":
        raise Conflict("not_applied", "尚未申请司法确认，或已登记确认结果")
    if data["decided_on"] < row.confirmation_applied_on or data["decided_on"] > _today():
        raise Invalid("decided_on", "invalid_date", "确认日期须在申请之日和今天之间")
    row.confirmation, row.confirmation_decided_on = data["result"], data["decided_on"]
    add_case_event(w, case, "mediation.confirmation",
                   note="人民法院确认调解协议有效" if data["result"] == "confirmed"
                   else "人民法院确认调解协议无效（可变更原协议、达成新协议或起诉）")
    return row


DRAFT = "mediation.draft"
DRAFT_FIELDS = ("facts", "issues", "responsibility", "terms", "performance", "performance_due", "mediator",
                "committee")


def save_draft(w, case: Case, data: dict) -> dict:
    """The draft agreement (草拟协议) the parties read and sign before the agreement is recorded
    (``agree``): the items of 人民调解法 Art. 29 as drafted so far, only while the dispute is being
    mediated. Each saving is a timeline entry (who drafted what, when); the latest is the draft.
    The facts default to the dispute's content as registered."""
    if case.state != "mediating":
        raise Conflict("not_mediating", "只有调解中的纠纷可以草拟调解协议")
    if data.get("performance_due") and data["performance_due"] < _today():
        raise Invalid("performance_due", "invalid_date", "履行期限不能早于今天")
    draft = {k: data.get(k) or "" for k in DRAFT_FIELDS}
    draft["facts"] = draft["facts"] or (case.content or "")
    draft["performance_due"] = data["performance_due"].isoformat() if data.get("performance_due") else None
    add_case_event(w, case, DRAFT, note="草拟调解协议（供当事人核对签署）", data={"draft": draft})
    return draft_of(w.session, case)


def draft_of(session, case: Case) -> dict | None:
    """The latest draft agreement of the dispute, with who saved it and when; None before one."""
    event = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.kind == DRAFT)
                            .order_by(CaseEvent.at.desc(), CaseEvent.id.desc()).limit(1)).first()
    if event is None:
        return None
    draft = dict((event.data or {}).get("draft") or {})
    due = draft.get("performance_due")
    draft["performance_due"] = dt.date.fromisoformat(due) if due else None
    return {**{k: draft.get(k) if k == "performance_due" else draft.get(k) or "" for k in DRAFT_FIELDS},
            "saved_at": event.at, "saved_by": event.actor_id}
