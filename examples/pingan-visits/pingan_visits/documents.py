"""The example's official document: 走访告知书 (visit notice) for ``visits.visit`` cases.

A template is restricted markup (see ``docs/plugins.md`` §8): the core renders it with the
case's context and turns it into a PDF with Chinese fonts (``GET
/api/cases/<id>/documents/visits.visit_notice``); a plugin can also call ``render_pdf``
itself, e.g. in a job, with a context of its own.
"""
from __future__ import annotations

from pathlib import Path

from core.sdk import DocumentTemplate

TEMPLATES = Path(__file__).parent / "templates" / "visits"

VISIT_NOTICE = DocumentTemplate(key="visits.visit_notice", title="走访告知书", title_en="Visit notice",
                                template="visit_notice.html", templates_dir=str(TEMPLATES),
                                case_type="visits.visit")
