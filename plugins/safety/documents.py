"""The rectification notice (整改通知书, SAF-2; seed 000 doc 3: 责任、措施、资金、期限和应急预案),
rendered to PDF by the core (``GET /api/cases/<id>/documents/safety.rectification_notice``)
once the notice has been issued (the core has no county-edited document templates yet)."""
from __future__ import annotations

from pathlib import Path

from core.sdk import Conflict, DocumentTemplate

from .hazards import KEY, hazard_of


def notice_context(w, case) -> dict:
    """Only an issued notice prints (409 ``notice_not_issued`` before): never a blank form."""
    h = hazard_of(w.session, case)
    if h is None or h.deadline is None:
        raise Conflict("notice_not_issued", "尚未下达整改通知书")
    return {}

FOLDER = str(Path(__file__).parent / "templates" / "documents")

TEMPLATES = [
    DocumentTemplate(key="safety.rectification_notice", title="整改通知书", title_en="Rectification notice",
                     template="rectification_notice.html", templates_dir=FOLDER, case_type=KEY, acts=("notice",),
                     context=notice_context),
]
