"""Finding cases: the one filtered, scoped query behind the case list, the ledger export and
the statistics, so all three always agree on which cases a user sees.

Filters (all optional): ``case_type``, ``state`` (list), ``status`` (``open`` | ``closed``),
``org_unit_id`` (subtree where the cases arose), ``handling_unit_id`` (subtree of the lead
unit), ``created_from`` / ``created_to`` (half-open), ``due_before``, ``due_after``
(open cases whose earliest limit is not before it: with ``due_before``, the dashboard's
"due soon"), ``overdue`` (open cases past their earliest limit), ``flag``, ``number``
(prefix), ``person_id``, ``person`` (a name, an ID number or a phone, see
``person_match``), ``q`` (Chinese keywords, see ``search``). Sorting by ``due_at`` lists
only cases with a running limit; sorting by urgency (:func:`urgency_page`) lists every case:
the overdue first, then the open ones due soonest, then the rest.
"""
from __future__ import annotations

import base64
import datetime as dt
import json
import re

from sqlalchemy import Select, false, literal, or_, select, tuple_

from core.cases import search
from core.cases.access import in_subtree, readable, scope_paths
from core.cases.models import Case, CaseFlag, CasePerson
from core.cases.timeline import Work
from core.db import utcnow
from core.errors import Invalid, NotFound
from core.models import OrgUnit, Person
from core.orgtree import is_root

ID_NUMBER_SHAPE = re.compile(r"^\d{17}[\dXx]$")
PHONE_SHAPE = re.compile(r"^[0-9+\- ]{5,20}$")  # core.api.common.PHONE


def dialect(w: Work) -> str:
    """``postgresql`` or ``sqlite``: the predicates that use an index differ between them."""
    return w.session.get_bind().dialect.name


def filtered(w: Work, args: dict, base: Select | None = None) -> Select:
    """``select(Case)`` (or ``base``) limited to what the user may read and to ``args``."""
    stmt = (base if base is not None else select(Case)).where(readable(w.session, w.grants, w.types))
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
            if key == "handling_unit_id" or not is_root(unit.path):
                stmt = stmt.where(in_subtree(w.session, column, unit.path))  # see access.in_subtrees
    if args.get("created_from"):
        stmt = stmt.where(Case.created_at >= args["created_from"])
    if args.get("created_to"):
        stmt = stmt.where(Case.created_at < args["created_to"])
    if args.get("due_before"):
        stmt = stmt.where(Case.closed_at.is_(None), Case.due_at < args["due_before"])
    if args.get("due_after"):
        stmt = stmt.where(Case.closed_at.is_(None), Case.due_at >= args["due_after"])
    if args.get("overdue"):
        stmt = stmt.where(Case.closed_at.is_(None), Case.due_at < utcnow())
    if (args.get("sort") or "").lstrip("-") == "due_at":
        stmt = stmt.where(Case.due_at.is_not(None))  # keyset paging needs a non-null sort value
    if args.get("flag"):
        stmt = stmt.where(Case.id.in_(select(CaseFlag.case_id).where(CaseFlag.flag == args["flag"])))
    if args.get("number"):
        stmt = stmt.where(search.prefix(Case.number, args["number"], dialect(w)))
    if args.get("person_id"):
        stmt = stmt.where(Case.id.in_(select(CasePerson.case_id).where(CasePerson.person_id == args["person_id"])))
    if args.get("person"):
        persons = select(Person.id).where(person_match(w, args["person"]))
        stmt = stmt.where(Case.id.in_(select(CasePerson.case_id).where(CasePerson.person_id.in_(persons))))
    if args.get("q"):
        # the user's scope goes into the index query; the statement runs under a search's
        # time limit wherever it is executed (core.cases.search.bounded)
        stmt = stmt.where(search.matches(args["q"], w.session, scope_paths(w.grants, w.types)))
        stmt = stmt.execution_options(**{search.BOUNDED: True})
    return stmt


URGENCY = "urgency"


def urgency_page(w: Work, stmt: Select, limit: int, cursor: str | None) -> dict:
    """One keyset page of ``stmt`` (a ``select(Case)``, already ``filtered``) by urgency.

    Two runs, each a plain range over an index, so page 500 costs what page 1 costs:

    1. the open cases with a running limit by ``due_at`` ascending, then id — the overdue
       come first because their limit is the earliest (``ix_case_record_open_due``);
    2. then every other case (closed, or open without a limit) newest first, as the default
       list (``ix_case_record_created``).

    The cursor (opaque, ``{"items", "next_cursor"}`` as every list) names the run and the last
    row's sort value and id.
    """
    phase, value, ident = _urgency_cursor(cursor) if cursor else (0, None, None)
    due = Case.closed_at.is_(None) & Case.due_at.is_not(None)
    rows: list[Case] = []
    if phase == 0:
        first = stmt.where(due)
        if ident is not None:
            first = first.where(tuple_(Case.due_at, Case.id) > tuple_(literal(value, Case.due_at.type), ident))
        rows = list(w.session.scalars(first.order_by(Case.due_at.asc(), Case.id.asc()).limit(limit + 1)))
        if len(rows) > limit:
            rows = rows[:limit]
            return {"items": rows, "next_cursor": _urgency_encode(0, rows[-1].due_at, rows[-1].id)}
        value, ident = None, None
    if len(rows) == limit:  # the page ends with the first run: the next page goes on from there
        more = w.session.scalar(stmt.where(or_(Case.closed_at.is_not(None), Case.due_at.is_(None)))
                                .with_only_columns(Case.id).limit(1))
        return {"items": rows, "next_cursor": _urgency_encode(0, rows[-1].due_at, rows[-1].id) if more else None}
    rest = stmt.where(or_(Case.closed_at.is_not(None), Case.due_at.is_(None)))
    if ident is not None:
        rest = rest.where(tuple_(Case.created_at, Case.id) < tuple_(literal(value, Case.created_at.type), ident))
    more = list(w.session.scalars(rest.order_by(Case.created_at.desc(), Case.id.desc())
                                  .limit(limit - len(rows) + 1)))
    rows += more
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        return {"items": rows, "next_cursor": _urgency_encode(1, last.created_at, last.id)}
    return {"items": rows, "next_cursor": None}


def _urgency_encode(phase: int, value: dt.datetime, ident: int) -> str:
    raw = json.dumps(["u", phase, value.isoformat(), ident])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _urgency_cursor(cursor: str) -> tuple[int, dt.datetime, int]:
    try:
        tag, phase, value, ident = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode())
        when = dt.datetime.fromisoformat(value)
        if tag != "u" or phase not in (0, 1) or not isinstance(ident, int) or not 0 < ident < 2**63 \
                or when.tzinfo is None or not 1 < when.year < 9999:
            raise ValueError
        return phase, when, ident
    except (ValueError, TypeError, UnicodeDecodeError):
        raise Invalid("cursor", "invalid_cursor", "分页游标无效", location="query") from None


def person_match(w: Work, value: str):
    """SQL predicate on ``Person`` for the ``person`` filter.

    - 18 characters of an ID number → the ID number's blind index (after the check digit is
      verified: a wrong one can match nobody, as no stored number has it);
    - digits, ``+``, ``-`` and spaces (5–20) → the phone's blind index;
    - anything else → the name, exactly.

    ID numbers and phones are a PII search (``core.privacy.pii_search``): they need
    ``core.person.pii.read`` and find only persons where it is held, count towards the
    user's limit and are audited — a case list must not become a way to test whom an ID
    number or a phone belongs to.
    """
    from core.privacy import normalise_id_number, pii_search
    text = value.strip()
    compact = "".join(text.split())
    if ID_NUMBER_SHAPE.match(compact):
        try:
            normalise_id_number(compact, "person")
        except Invalid:
            return false()  # a wrong check digit matches nobody (no stored number has it)
        return pii_search(w.session, w.grants, w.user_id, "id_number", compact, location="query", arg="person") \
            if w.user is not None else false()
    if PHONE_SHAPE.match(text):
        return pii_search(w.session, w.grants, w.user_id, "phone", text, location="query", arg="person") \
            if w.user is not None else false()
    return Person.name == text


def _unit_or_404(w: Work, unit_id: int) -> OrgUnit:
    """Without org-tree rights a unit filter still must name a unit the user's cases are under."""
    unit = w.session.scalar(select(OrgUnit).where(OrgUnit.id == unit_id))
    if unit is None:
        raise NotFound()
    return unit
