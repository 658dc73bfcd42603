"""Acts on several cases at once (issue 15, item 14): assign one handler, print one document.

Each case goes through the same service as the single act (``engine.assign``; the document
renderer with its audit entry), checked on its own against the user's scope, so a batch can
do nothing a user could not do case by case. A case that cannot be done is reported, the
others are done:

- ``not_found``: ids of cases that do not exist or that the user may not see — never told
  apart, and never named by number (a number would tell that the case exists);
- ``refused``: cases the user can see but the act is refused for (closed, not their unit,
  a document whose act has not happened), each with its number, code and Chinese reason.

When nothing of the batch was found the whole request is 404 (nothing was written), as the
single act is for an id out of scope.
"""
from __future__ import annotations

from sqlalchemy import select

from core.cases import engine
from core.cases.access import covers, load_case
from core.cases.timeline import Work
from core.errors import Conflict, Invalid, NotFound, PinganError
from core.models import User

MAX_BATCH = 200
DIVERT = "core.case.divert"


def _ids(case_ids) -> list[int]:
    ids = sorted(set(case_ids))  # one lock order for every batch: no two batches deadlock
    if not ids:
        raise Invalid("case_ids", "required", "请至少选择一件事项")
    if len(ids) > MAX_BATCH:
        raise Invalid("case_ids", "too_many", f"一次最多处理 {MAX_BATCH} 件事项")
    return ids


def _summary(done: list[dict], refused: list[dict], not_found: list[int]) -> dict:
    if not done and not refused:
        raise NotFound()
    return {"done": done, "refused": refused, "not_found": not_found}


def assign_many(w: Work, case_ids, handler_id: int, note: str | None = None) -> dict:
    """Assign ``handler_id`` to each case of ``case_ids`` with ``engine.assign`` (each its
    timeline entry, the handler's to-do and the audit of the change). Nothing the caller may
    see among the ids → 404, as for one case; then the handler is checked once, before any
    case: not a user of the caller's scope → 422 at ``handler_id``."""
    ids = _ids(case_ids)
    s = w.session
    found, not_found = [], []
    for case_id in ids:
        try:
            found.append(load_case(s, w.grants, case_id, w.types, lock=True))
        except PinganError as exc:  # missing, another county's, or the type's read permission missing
            if exc.status in (403, 404):
                not_found.append(case_id)
                continue
            raise
    if not found:
        raise NotFound()
    handler = s.scalar(select(User).where(User.id == handler_id, User.status == "active"))
    if handler is None or not covers(s, w.grants, DIVERT, handler.org_unit_id):
        raise Invalid("handler_id", "unknown_user", "经办人不存在或不在您的管辖范围内")
    done, refused = [], []
    for case, ctype in found:
        try:
            if case.closed_at is not None:
                raise Conflict("case_closed", "事项已办结，不能指定经办人")
            engine.assign(w, case, ctype, handler.id, note)  # refuses before it changes anything
        except PinganError as exc:
            refused.append({"id": case.id, "number": case.number, "code": exc.code, "message": exc.message})
            continue
        done.append({"id": case.id, "number": case.number})
    return _summary(done, refused, not_found)


def printable(w: Work, case_ids, key: str) -> tuple[list[tuple], dict]:
    """The cases of ``case_ids`` that have document ``key``: ``[(case, ctype, template)]``
    and the summary (``done``: those, ``refused``: a case of a type without the document or
    whose act has not happened, ``not_found``). 404 when none was found."""
    from core.documents import _act, usable
    ids = _ids(case_ids)
    s = w.session
    parts, done, refused, not_found = [], [], [], []
    for case_id in ids:
        try:
            case, ctype = load_case(s, w.grants, case_id, w.types)
        except PinganError as exc:
            if exc.status in (403, 404):
                not_found.append(case_id)
                continue
            raise
        tpl = usable(w, case.case_type).get(key)
        if tpl is None:
            refused.append({"id": case.id, "number": case.number, "code": "unknown_document",
                            "message": "该类事项没有这种文书"})
        elif tpl.acts and not _act(s, case, tpl.acts, lambda _u: ""):
            refused.append({"id": case.id, "number": case.number, "code": "act_not_done",
                            "message": "文书记载的办理环节尚未发生"})
        else:
            parts.append((case, ctype, tpl))
            done.append({"id": case.id, "number": case.number})
    return parts, _summary(done, refused, not_found)


def render_many(w: Work, parts: list[tuple], county: str) -> bytes:
    """One PDF of the documents of ``parts`` (from :func:`printable`), each starting on a new
    page, in the case order given; each rendering audited as a single one (``render_document``)."""
    from core import audit, documents
    if not parts:
        raise Conflict("nothing_to_print", "所选事项都没有这种文书")
    rendered = []
    for case, ctype, tpl in parts:
        context = documents.case_context(w.session, case, ctype, county, tpl)
        if tpl.context is not None:
            context.update(tpl.context(w, case))
        rendered.append((tpl, context))
        audit.record(w.session, "render_document", "case_record", case.id, {"template": tpl.key, "batch": True})
    return documents.render_pdfs(rendered, county)
