"""The module's acts on a dispute beyond its transitions — one implementation each, called by
the API and by the web forms alike."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import select

from core.sdk import Case, Conflict, Invalid, add_case_event, utcnow

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
