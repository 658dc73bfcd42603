"""The mediation module's documents (PDF through the core's renderer, ``GET
/api/cases/<id>/documents/<key>``): the mediation agreement with every item of 人民调解法
Art. 29, its draft for the parties to read and sign before the agreement is recorded (草拟协议),
the referral letter (矛盾纠纷调解移送函) and the suggestion to file suit (矛盾纠纷建议立案书)
named in seed 000 doc 5 (MED-4).

Both agreements list every party of the dispute with their role (申请人, 被申请人, 第三人,
当事人) and their identity facts — ID number, phone and address masked as everywhere; in full
only when the printing asks for it (``reveal=true``) and the user may see them by the same rule
as the case's persons (``party_fields``: the case type's PII permission, audited per person).
The copies are one per party plus the committee's (``cases.copies_of``).
"""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from core.sdk import CasePerson, DocumentTemplate, Person, party_fields

from .acts import draft_of
from .cases import KEY, cn_count, copies_of, parties_of
from .permissions import PII

FOLDER = str(Path(__file__).parent / "templates" / "documents")


def _reveal() -> bool:
    from flask import has_request_context, request
    return has_request_context() and (request.values.get("reveal") or "").lower() in ("1", "true", "yes")


def signatories(w, case) -> list[dict]:
    """Every party with role and identity facts (masked unless revealed, see the module doc)."""
    s, reveal = w.session, _reveal()
    out = []
    for p in parties_of(s, case):
        person = s.scalar(select(Person).where(Person.id == p["person_id"]))
        basis = s.scalar(select(CasePerson.pii_basis).where(CasePerson.case_id == case.id,
                                                            CasePerson.person_id == p["person_id"])
                         .order_by(CasePerson.id).limit(1))
        shown, revealed = party_fields(s, w.grants, person, case, basis, reveal=reveal, permission=PII)
        out.append({**p, "id_number": shown.get("id_number") or "", "phone": shown.get("phone") or "",
                    "address": shown.get("address") or "", "revealed": revealed})
    return out


def agreement_context(w, case) -> dict:
    """The agreement's and the draft's own fields: the parties with their identity facts, the
    copies (for the draft: as they would be now), and the latest draft."""
    copies, kept = copies_of(w.session, case)
    draft = draft_of(w.session, case)
    if draft is not None:
        due = draft["performance_due"]
        draft["performance_due_cn"] = f"{due.year}年{due.month}月{due.day}日" if due else ""
    return {"parties": signatories(w, case), "draft": draft,
            "copies": {"total": copies, "total_cn": cn_count(copies), "kept_cn": cn_count(kept)}}


def _doc(key: str, title: str, title_en: str, acts: tuple[str, ...] = (), context=None) -> DocumentTemplate:
    return DocumentTemplate(key=f"mediation.{key}", title=title, title_en=title_en, template=f"{key}.html",
                            templates_dir=FOLDER, case_type=KEY, acts=acts, context=context)


TEMPLATES = [
    # the agreement records the act of reaching it: offered once it is recorded, never a blank form
    _doc("agreement", "人民调解协议书", "Mediation agreement", acts=("agree",), context=agreement_context),
    _doc("agreement_draft", "人民调解协议书（草拟稿）", "Draft mediation agreement", context=agreement_context),
    _doc("referral_letter", "矛盾纠纷调解移送函", "Referral letter", acts=("refer",)),
    _doc("suit_suggestion", "矛盾纠纷建议立案书", "Suggestion to file suit", acts=("refer",)),
]
