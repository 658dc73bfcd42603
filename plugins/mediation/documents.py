"""The mediation module's documents (PDF through the core's renderer, ``GET
/api/cases/<id>/documents/<key>``): the mediation agreement with every item of 人民调解法
Art. 29, the referral letter (矛盾纠纷调解移送函) and the suggestion to file suit
(矛盾纠纷建议立案书) named in seed 000 doc 5 (MED-4)."""
from __future__ import annotations

from pathlib import Path

from core.sdk import DocumentTemplate

from .cases import KEY

FOLDER = str(Path(__file__).parent / "templates" / "documents")


def _doc(key: str, title: str, title_en: str, acts: tuple[str, ...] = ()) -> DocumentTemplate:
    return DocumentTemplate(key=f"mediation.{key}", title=title, title_en=title_en, template=f"{key}.html",
                            templates_dir=FOLDER, case_type=KEY, acts=acts)


TEMPLATES = [
    _doc("agreement", "人民调解协议书", "Mediation agreement"),
    _doc("referral_letter", "矛盾纠纷调解移送函", "Referral letter", acts=("refer",)),
    _doc("suit_suggestion", "矛盾纠纷建议立案书", "Suggestion to file suit", acts=("refer",)),
]
