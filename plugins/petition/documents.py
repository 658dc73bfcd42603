"""The petition module's documents (PDF through the core's renderer, ``GET
/api/cases/<id>/documents/<key>``): receipt with the query code, acceptance and
non-acceptance notices, transfer slip, extension notice, and the three written answers.

The wording follows the 《信访工作条例》 (2022); article numbers are those checked for the
case type's limits (``cases.py``).
"""
from __future__ import annotations

from pathlib import Path

from core.sdk import DocumentTemplate

from .cases import KEY

FOLDER = str(Path(__file__).parent / "templates" / "documents")


def _doc(key: str, title: str, title_en: str) -> DocumentTemplate:
    return DocumentTemplate(key=f"petition.{key}", title=title, title_en=title_en, template=f"{key}.html",
                            templates_dir=FOLDER, case_type=KEY)


TEMPLATES = [
    _doc("receipt", "信访事项登记回执", "Receipt"),
    _doc("accept_notice", "受理告知书", "Acceptance notice"),
    _doc("not_accept_notice", "不予受理告知书", "Non-acceptance notice"),
    _doc("transfer_slip", "转送（交办）单", "Transfer slip"),
    _doc("extension_notice", "延期办理告知书", "Extension notice"),
    _doc("reply_opinion", "处理意见书", "Reply opinion"),
    _doc("review_opinion", "复查意见书", "Review opinion"),
    _doc("recheck_opinion", "复核意见书", "Re-examination opinion"),
]
