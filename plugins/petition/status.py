"""The petitioner's own status query (当事人查询, PET-7; 《信访工作条例》第十八、二十一条).

Each petition gets a query code at registration, printed on the receipt. With it, anyone
may see — without signing in — the petition's number, category, stage and the dates of its
steps, and rate the answer once it has one (满意 / 基本满意 / 不满意). The code is printed on
the receipt only (``documents.receipt_context``): no reader of the case sees it. A rating
records its channel (``rating_channel``; docs/petition.md says why): one sent with a
signed-in user's session or token is refused, one from inside the county network is
recorded, flagged ``rating_internal`` and left out of the satisfaction rate. The page shows no
personal data: no names, ID numbers, phones, addresses, content or notes. The code is a
12-character random string (60 bits); it is stored encrypted (to reprint the receipt) and
looked up by its SHA-256, and lookups are rate-limited per address (``status_rate_limit``).
"""
from __future__ import annotations

import hashlib
import ipaddress
import secrets

from sqlalchemy import select

from core.sdk import (Case, CaseEvent, Conflict, Forbidden, NotFound, OrgUnit, Invalid, add_case_event, add_case_flag,
                      case_dispatchers, notify, record, utcnow)

from .models import PetitionCase

ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read aloud and typed from paper
RATINGS = {"satisfied": "满意", "basically_satisfied": "基本满意", "dissatisfied": "不满意"}
RATEABLE = ("replied", "reviewed", "rechecked")
# Steps a petitioner sees, with their public wording; anything else on the timeline stays inside.
STEPS = {"registered": "已登记", "diverted": "已转送、交办", "accept": "已受理", "not_accept": "不予受理",
         "extended": "办理期限已延长", "reply": "已出具处理意见", "request_review": "已申请复查",
         "decide_review": "已出具复查意见", "request_recheck": "已申请复核", "start_hearing": "举行听证",
         "end_hearing": "听证结束", "decide_recheck": "已出具复核意见", "objected": "承办单位提出异议，待重新交办"}


def new_code() -> str:
    """``ABCD-EFGH-JKLM``: 12 random characters of a 32-letter alphabet."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(12))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def code_hash(code: str) -> str:
    clean = "".join(ch for ch in code.upper() if ch.isalnum())
    return hashlib.sha256(clean.encode()).hexdigest()


def assign_code(row: PetitionCase) -> str:
    code = new_code()
    row.query_code, row.query_hash = code, code_hash(code)
    return code


def find(session, code: str) -> tuple[Case, PetitionCase]:
    """The petition with this code, or 404 ``unknown_code`` (the same for a malformed code)."""
    clean = "".join(ch for ch in (code or "").upper() if ch.isalnum())
    row = None
    if len(clean) == 12 and set(clean) <= set(ALPHABET):
        row = session.scalar(select(PetitionCase).where(PetitionCase.query_hash == code_hash(clean)))
    if row is None:
        raise NotFound("unknown_code", "查询码不正确，请核对回执上的查询码")
    return session.scalar(select(Case).where(Case.id == row.case_id)), row


def public_view(session, ctype, case: Case, row: PetitionCase, categories: dict[str, str]) -> dict:
    """What the petitioner may see: no personal data, no content, no notes, no officials' names."""
    unit = session.scalar(select(OrgUnit.name).where(OrgUnit.id == (case.handling_unit_id or case.org_unit_id)))
    events = session.execute(select(CaseEvent.kind, CaseEvent.at).where(CaseEvent.case_id == case.id)
                             .order_by(CaseEvent.at, CaseEvent.id)).all()
    steps = [{"step": STEPS[k], "at": at} for k, at in events if k in STEPS]
    return {"number": case.number, "category": categories.get(row.category, row.category),
            "state": case.state, "state_title": ctype.state(case.state).title, "handling_unit": unit,
            "registered_at": case.created_at, "due_at": case.due_at if case.closed_at is None else None,
            "steps": steps, "can_rate": case.state in RATEABLE and row.rating is None,
            "rating": row.rating, "rating_title": RATINGS.get(row.rating or "")}


CHANNELS = {"public": "信访人自行评价", "county_network": "县内网络（待核实）"}


def rating_channel(ctx, settings: dict, address: str | None) -> str:
    """Where a rating comes from: ``public``, or ``county_network`` (an address of the county's
    own networks, ``internal_networks``). A request carrying a signed-in user (a session cookie
    or a token) is refused: petitioners have no accounts, so it is staff rating for them."""
    if ctx.user is not None:
        raise Forbidden("rating_signed_in", "工作人员登录状态下不能评价：评价只能由信访人本人凭查询码提交")
    try:
        addr = ipaddress.ip_address(address or "")
    except ValueError:
        return "county_network"  # no readable address: treat it as not the petitioner's own
    nets = [ipaddress.ip_network(n, strict=False) for n in settings.get("internal_networks") or ()]
    return "county_network" if any(addr in net for net in nets) else "public"


def rate(w, case: Case, row: PetitionCase, rating: str, channel: str) -> None:
    """The petitioner's rating of the answer, once, after an answer is given, with its channel
    (on the timeline and in the audit log; ``county_network`` also flags the case)."""
    session = w.session
    if rating not in RATINGS:
        raise Invalid("rating", "invalid_rating", "评价只能是满意、基本满意或不满意")
    if case.state not in RATEABLE:
        raise Conflict("not_answered", "该事项尚未出具书面答复，暂不能评价")
    if row.rating is not None:
        raise Conflict("already_rated", "该事项已评价")
    row.rating, row.rated_at = rating, utcnow()
    add_case_event(w, case, "petition.rated", note=f"{RATINGS[rating]}（{CHANNELS[channel]}）",
                   data={"rating": rating, "channel": channel})
    if channel != "public":
        add_case_flag(session, case, "rating_internal")
    record(session, "petition.rated", "case", case.id, {"rating": rating, "channel": channel})
    notify(session, case_dispatchers(session, case), f"petition-rated:{case.id}",
           f"信访人已评价：{case.number}（{RATINGS[rating]}）", case.title, case_id=case.id)
