"""The petition module's documents (PDF through the core's renderer, ``GET
/api/cases/<id>/documents/<key>``): receipt with the query code, acceptance and
non-acceptance notices, transfer slip, extension notice, and the three written answers.

The wording follows the 《信访工作条例》 (2022); article numbers are those checked for the
case type's limits (``cases.py``).
"""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from core.sdk import CaseEvent, DocumentTemplate, add_case_event, may, record

from .cases import KEY, petition_of
from .permissions import REGISTER, REPRINT

PRINTED = "petition.receipt_printed"


def receipt_context(w, case) -> dict:
    """The receipt's query code (PET-7; issue 14). A rating needs nothing but the code, so the
    code is shown to no reader of the case: it is printed once, on the receipt produced at
    registration — the first printing, by someone who may register petitions at the case's
    unit — and on a reprint only for a holder of ``petition.receipt.reprint`` there. Both go
    on the timeline (``petition.receipt_printed``, with ``reprint``) and in the audit log
    (``petition.receipt_code_shown``); any other printing leaves the code out."""
    s = w.session
    units = {case.org_unit_id, case.handling_unit_id} - {None}
    printed = s.scalar(select(CaseEvent.id).where(CaseEvent.case_id == case.id, CaseEvent.kind == PRINTED).limit(1))
    perm = REGISTER if printed is None else REPRINT
    if not any(may(s, w.grants, perm, u) for u in units):
        return {"receipt": {"query_code": None, "reprint": printed is not None}}
    add_case_event(w, case, PRINTED, data={"reprint": printed is not None})
    record(s, "petition.receipt_code_shown", "case", case.id, {"reprint": printed is not None})
    return {"receipt": {"query_code": petition_of(s, case).query_code, "reprint": printed is not None}}

FOLDER = str(Path(__file__).parent / "templates" / "documents")


def _doc(key: str, title: str, title_en: str, context=None) -> DocumentTemplate:
    return DocumentTemplate(key=f"petition.{key}", title=title, title_en=title_en, template=f"{key}.html",
                            templates_dir=FOLDER, case_type=KEY, context=context)


TEMPLATES = [
    _doc("receipt", "信访事项登记回执", "Receipt", receipt_context),
    _doc("accept_notice", "受理告知书", "Acceptance notice"),
    _doc("not_accept_notice", "不予受理告知书", "Non-acceptance notice"),
    _doc("transfer_slip", "转送（交办）单", "Transfer slip"),
    _doc("extension_notice", "延期办理告知书", "Extension notice"),
    _doc("reply_opinion", "处理意见书", "Reply opinion"),
    _doc("review_opinion", "复查意见书", "Review opinion"),
    _doc("recheck_opinion", "复核意见书", "Re-examination opinion"),
]
