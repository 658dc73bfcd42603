"""Official documents (notices, agreements, letters) rendered from templates to PDF.

Plugins register templates with ``pingan_document_templates``.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DocumentTemplate:
    """A document a plugin can render: ``key`` (``mediation.agreement``), a title, and the
    Jinja2 template file (``template``) inside the plugin's ``templates_dir``."""

    key: str
    title: str
    template: str
    templates_dir: str
    title_en: str = ""
