"""The petition module's documents (PDF through the core's renderer, ``GET
/api/cases/<id>/documents/<key>``): receipt with the query code, acceptance and
non-acceptance notices, transfer slip, extension notice, and the three written answers.

The wording follows the 《信访工作条例》 (2022); article numbers are those checked for the
case type's limits (``cases.py``).
"""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from core.sdk import CaseEvent, DocumentTemplate, Intake, add_case_event, current, may, record, utcnow

from .cases import KEY, petition_of
from .permissions import REGISTER, REPRINT

PRINTED = "petition.receipt_printed"


def _deliberate(w) -> bool:
    """A printing asked for on purpose: a POST (for a cookie session the core has checked its
    CSRF token) or any request with an access token (no cookie, so no cross-site forgery). A
    plain GET with the session cookie may come from a link on another site (SameSite=Lax sends
    the cookie with a top-level GET), so it never shows the code nor uses up the first printing."""
    from flask import has_request_context, request
    return has_request_context() and (request.method == "POST" or current().via == "token")


def _registrant_in_time(w, case) -> bool:
    """The user who registered the petition (the case's creator, or the window user who took
    its intake), within ``receipt_code_hours`` of its registration."""
    from datetime import timedelta
    if w.user_id is None or case.created_at is None:
        return False
    hours = (w.enabled.get("petition") or {}).get("receipt_code_hours", 2)
    if utcnow() - case.created_at > timedelta(hours=hours):
        return False
    if case.created_by == w.user_id:
        return True
    return case.intake_id is not None and w.session.scalar(
        select(Intake.received_by).where(Intake.id == case.intake_id)) == w.user_id


def receipt_context(w, case) -> dict:
    """The receipt's query code (PET-7; issue 14). A rating needs nothing but the code, so the
    code is shown to no reader of the case. It is printed on the receipt only on a deliberate
    printing (``_deliberate``: a POST with the CSRF token, or a token request) and then only
    - on the first printing, by the user who registered the petition, within
      ``receipt_code_hours`` of registration (and holding ``petition.register`` there), or
    - for a holder of ``petition.receipt.reprint`` on the case's unit or handling unit.
    Both go on the timeline (``petition.receipt_printed``, with ``reprint``) and in the audit
    log (``petition.receipt_code_shown``); any other printing leaves the code out and says
    where to get it."""
    s = w.session
    units = {case.org_unit_id, case.handling_unit_id} - {None}
    printed = s.scalar(select(CaseEvent.id).where(CaseEvent.case_id == case.id, CaseEvent.kind == PRINTED).limit(1))
    reprint = printed is not None
    shown = _deliberate(w) and (
        (not reprint and _registrant_in_time(w, case) and any(may(s, w.grants, REGISTER, u) for u in units))
        or any(may(s, w.grants, REPRINT, u) for u in units))
    if not shown:
        return {"receipt": {"query_code": None, "reprint": reprint}}
    add_case_event(w, case, PRINTED, data={"reprint": reprint})
    record(s, "petition.receipt_code_shown", "case", case.id, {"reprint": reprint})
    return {"receipt": {"query_code": petition_of(s, case).query_code, "reprint": reprint}}


FOLDER = str(Path(__file__).parent / "templates" / "documents")


def _doc(key: str, title: str, title_en: str, context=None, acts: tuple[str, ...] = ()) -> DocumentTemplate:
    return DocumentTemplate(key=f"petition.{key}", title=title, title_en=title_en, template=f"{key}.html",
                            templates_dir=FOLDER, case_type=KEY, context=context, acts=acts)


TEMPLATES = [
    _doc("receipt", "信访事项登记回执", "Receipt", receipt_context, acts=("registered",)),
    _doc("accept_notice", "受理告知书", "Acceptance notice", acts=("accept",)),
    _doc("not_accept_notice", "不予受理告知书", "Non-acceptance notice", acts=("not_accept",)),
    _doc("transfer_slip", "转送（交办）单", "Transfer slip", acts=("diverted",)),
    _doc("extension_notice", "延期办理告知书", "Extension notice", acts=("extended",)),
    _doc("reply_opinion", "处理意见书", "Reply opinion", acts=("reply",)),
    _doc("review_opinion", "复查意见书", "Review opinion", acts=("decide_review",)),
    _doc("recheck_opinion", "复核意见书", "Re-examination opinion", acts=("decide_recheck",)),
]
