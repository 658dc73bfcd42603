"""What a transaction knows of the cases it registered itself (issue 24: registration in ≤ 20
statements).

A case registered in the open transaction has no rows but those this session wrote for it: its
people, flags, events, limits and tasks are exactly the ORM objects flushed (or still pending)
since. ``core.cases.engine.register`` marks the case (:func:`mark`); from then on an
``after_flush`` listener keeps strong references to every object flushed with that ``case_id``
(and drops the deleted ones), so the rest of the act and the answer that follows — the case as
the API shows it — read those lists from memory instead of asking the database for what it
already knows (no tasks yet, no supervision, the two limits just started …). Registering a
petition asked 42 statements, a dozen of them such lists.

The knowledge ends with the transaction and with any rollback (a savepoint's too): then, or
for a case not marked, :func:`rows` answers ``None`` and the caller queries as before. Rows a
caller writes to a case's tables through Core (``insert()``, ``update()`` without the ORM) are
not seen here: readers use :func:`rows` only for tables written through the ORM alone
(``case_flag``, ``case_person``, ``case_event``, ``case_deadline``, ``case_task``,
``case_supervision``, ``case_extension``, a module's own case tables).
"""
from __future__ import annotations

from collections import defaultdict

from sqlalchemy import event
from sqlalchemy.orm import Session

_KEY = "pingan_fresh_cases"  # Session.info: {case id: {table name: [objects]}}
KEEP_CASES = 64  # the last cases a transaction registered that it remembers (bounded memory)


def mark(session: Session, case, *kept) -> None:
    """``case`` was registered in this transaction (after its flush: its id is known). ``kept``:
    other objects the answer will read (the people attached), held so they stay loaded."""
    fresh = session.info.setdefault(_KEY, {})
    while len(fresh) >= KEEP_CASES:  # a long transaction registering many: the oldest are asked again
        del fresh[next(iter(fresh))]
    known = fresh[case.id] = defaultdict(list)
    for obj in kept:
        known[obj.__tablename__].append(obj)


def keep(session: Session, case, obj) -> None:
    """Hold ``obj`` (e.g. a ``Person`` attached to the case) with what the case knows."""
    known = session.info.get(_KEY, {}).get(case.id)
    if known is not None and not any(o is obj for o in known[obj.__tablename__]):
        known[obj.__tablename__].append(obj)


def is_fresh(session: Session, case) -> bool:
    return case.id is not None and case.id in session.info.get(_KEY, {})


def rows(session: Session, case, model) -> list | None:
    """The case's ``model`` rows when it was registered in this transaction (flushed ones in
    flush order, then pending ones); ``None``: not known here, ask the database."""
    known = session.info.get(_KEY, {}).get(case.id) if case.id is not None else None
    if known is None:
        return None
    table = model.__tablename__
    out = [o for o in known.get(table, ()) if o not in session.deleted]
    out += [o for o in session.new if isinstance(o, model) and getattr(o, "case_id", None) == case.id
            and not any(o is k for k in out)]
    return out


def kept(session: Session, case, model, obj_id):
    """A ``model`` object kept with the fresh case (:func:`mark`, :func:`keep`) by its id, or None."""
    known = session.info.get(_KEY, {}).get(case.id) if case.id is not None else None
    for obj in (known or {}).get(model.__tablename__, ()):
        if obj.id == obj_id:
            return obj
    return None


@event.listens_for(Session, "after_flush")
def _note_flushed(session: Session, flush_context) -> None:
    fresh = session.info.get(_KEY)
    if not fresh:
        return
    for obj in session.new:
        known = fresh.get(getattr(obj, "case_id", None))
        if known is not None and hasattr(obj, "__tablename__"):
            lst = known[obj.__tablename__]
            if not any(o is obj for o in lst):
                lst.append(obj)
    for obj in session.deleted:
        known = fresh.get(getattr(obj, "case_id", None))
        if known is not None and hasattr(obj, "__tablename__"):
            known[obj.__tablename__] = [o for o in known[obj.__tablename__] if o is not obj]


@event.listens_for(Session, "after_soft_rollback")
def _forget_on_rollback(session: Session, previous_transaction) -> None:
    session.info.pop(_KEY, None)


@event.listens_for(Session, "after_transaction_end")
def _forget_at_end(session: Session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop(_KEY, None)


__all__ = ["mark", "keep", "is_fresh", "rows", "kept"]
