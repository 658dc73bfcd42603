"""Finding cases: the one filtered, scoped query behind the case list, the ledger export and
the statistics, so all three always agree on which cases a user sees.

Filters (all optional): ``case_type``, ``state`` (list), ``status`` (``open`` | ``closed``),
``org_unit_id`` (subtree where the cases arose), ``handling_unit_id`` (subtree of the lead
unit), ``created_from`` / ``created_to`` (half-open), ``due_before``, ``overdue`` (open
cases past their earliest limit), ``flag``, ``number`` (prefix), ``person_id``, ``q``
(Chinese keywords, see ``search``).
"""
from __future__ import annotations

from sqlalchemy import Select, select

from core.cases import search
from core.cases.access import readable
from core.cases.models import Case, CaseFlag, CasePerson
from core.cases.timeline import Work
from core.db import utcnow
from core.errors import Invalid
from core.models import OrgUnit
from core.orgtree import units_under


def filtered(w: Work, args: dict, base: Select | None = None) -> Select:
    """``select(Case)`` (or ``base``) limited to what the user may read and to ``args``."""
    stmt = (base if base is not None else select(Case)).where(readable(w.grants, w.types))
    if args.get("case_type"):
        if args["case_type"] not in w.types:
            raise Invalid("case_type", "unknown_case_type", "没有该事项类型，或该模块未启用", location="query")
        stmt = stmt.where(Case.case_type == args["case_type"])
    if args.get("state"):
        stmt = stmt.where(Case.state.in_(args["state"]))
    if args.get("status") == "open":
        stmt = stmt.where(Case.closed_at.is_(None))
    elif args.get("status") == "closed":
        stmt = stmt.where(Case.closed_at.is_not(None))
    for key, column in (("org_unit_id", Case.org_unit_id), ("handling_unit_id", Case.handling_unit_id)):
        if args.get(key):
            unit = _unit_or_404(w, args[key])  # the result stays limited by ``readable`` above
            stmt = stmt.where(column.in_(units_under(unit.path)))
    if args.get("created_from"):
        stmt = stmt.where(Case.created_at >= args["created_from"])
    if args.get("created_to"):
        stmt = stmt.where(Case.created_at < args["created_to"])
    if args.get("due_before"):
        stmt = stmt.where(Case.closed_at.is_(None), Case.due_at < args["due_before"])
    if args.get("overdue"):
        stmt = stmt.where(Case.closed_at.is_(None), Case.due_at < utcnow())
    if args.get("flag"):
        stmt = stmt.where(Case.id.in_(select(CaseFlag.case_id).where(CaseFlag.flag == args["flag"])))
    if args.get("number"):
        stmt = stmt.where(Case.number.startswith(args["number"], autoescape=True))
    if args.get("person_id"):
        stmt = stmt.where(Case.id.in_(select(CasePerson.case_id).where(CasePerson.person_id == args["person_id"])))
    if args.get("q"):
        stmt = stmt.where(search.matches(Case.search_grams, args["q"]))
    return stmt


def _unit_or_404(w: Work, unit_id: int) -> OrgUnit:
    """Without org-tree rights a unit filter still must name a unit the user's cases are under."""
    from core.errors import NotFound
    unit = w.session.scalar(select(OrgUnit).where(OrgUnit.id == unit_id))
    if unit is None:
        raise NotFound()
    return unit
