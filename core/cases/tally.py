"""The tallies the statistics read instead of case rows, kept in the writer's transaction.

Five counters per county (``core.cases.models``):

- ``CaseTally``: cases per (unit where they arose, type, state) — all-time counts, open cases;
- ``CaseMonthTally``: the same per local month of registration (Asia/Shanghai, as
  ``statistics.month_key``) — counts over a period, the dashboard's trend, year on year;
- ``CaseLimitTally``: stopped time limits per (unit where the case arose, type, local month of
  the stop, met) — on-time rates. Windows (``met`` empty) are not counted, nor the limits of a
  withdrawn task (``access.granting_task``): when a task is withdrawn its limits that had
  stopped leave the tally and the ones it stops are not counted (``deadlines.withdraw_task``);
- ``CaseTopTally`` and ``CaseTopLimitTally``: the month and limit tallies summed per *top unit*
  (the child of the county's root a unit lies under, :func:`top_id`), so that the county's and a
  township's figures read a few thousand rows, not every unit's (migration
  ``0016_case_top_tally``). A unit moved to another top unit takes its subtree's counts along
  (:func:`move_subtree`, called by ``orgtree.move_unit``).

:func:`count` is the one function every writer calls (registration, a transition, a limit
stopping, a task withdrawn; :func:`count_cases` is its ``states`` part for many cases at once,
what a bulk import's registrations call); each call is one ``INSERT … ON CONFLICT DO UPDATE SET n = n +
excluded.n`` per table touched, the rows sorted so that two transactions lock them in the same
order: race-free on PostgreSQL, and the same statement on SQLite. :func:`rebuild` recomputes
all five from the rows (migrations ``0014_case_tally_month`` and ``0016_case_top_tally`` do the same in SQL; the tests
compare every statistic from the tallies with the same from a scan).
"""
from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping

from sqlalchemy import delete, func, literal_column, select
from sqlalchemy.orm import Session

from core.cases.models import (Case, CaseDeadline, CaseLimitTally, CaseMonthTally, CaseTally, CaseTask,
                               CaseTopLimitTally, CaseTopTally)
from core.db import ID_SEQUENCE, _dialect_insert, current_tenant_id
from core.models import OrgUnit
from core.orgtree import path_ids, within
from core.workdays import SHANGHAI


def month_of(at: dt.datetime) -> str:
    """``'YYYY-MM'`` of a stored time, as a local month (the key of the month tallies)."""
    return at.astimezone(SHANGHAI).strftime("%Y-%m")


def count(session: Session, case: Case, states: Mapping[str, int] | None = None,
          limits: Iterable[tuple[CaseDeadline, int]] = ()) -> None:
    """Move ``case`` in the tallies: ``states`` {state: ±1} (registered: ``{initial: 1}``; a
    transition: ``{old: -1, new: 1}``), ``limits`` [(stopped limit, ±1)] — a limit counts only
    with ``met`` set (windows never)."""
    if states:
        count_cases(session, [(case, states)])
    by_key: dict[tuple, int] = {}
    for d, delta in limits:
        if d.met is None or d.stopped_at is None:
            continue
        key = (case.org_unit_id, case.case_type, month_of(d.stopped_at), bool(d.met))
        by_key[key] = by_key.get(key, 0) + delta
    if by_key:
        _add(session, CaseLimitTally, ("org_unit_id", "case_type", "month", "met"), by_key)
        top = top_of(session, case.org_unit_id)
        _add(session, CaseTopLimitTally, TOP_LIMIT_KEYS, _rolled_up(by_key, lambda unit_id: top))


def count_cases(session: Session, moves: Iterable[tuple[Case, Mapping[str, int]]]) -> None:
    """:func:`count`'s ``states`` for many cases at once: one upsert per table (per 2,000 rows),
    the units' top units read in one query (a bulk import's registrations)."""
    per_unit: Counter = Counter()
    months: Counter = Counter()
    for case, states in moves:
        month = month_of(case.created_at)
        for state, d in states.items():
            per_unit[(case.org_unit_id, case.case_type, state)] += d
            months[(case.org_unit_id, case.case_type, month, state)] += d
    top = _tops_of(session, {unit_id for unit_id, *_ in months})
    for model, keys, deltas in ((CaseTally, ("org_unit_id", "case_type", "state"), per_unit),
                                (CaseMonthTally, ("org_unit_id", "case_type", "month", "state"), months),
                                (CaseTopTally, TOP_KEYS, _rolled_up(months, top.__getitem__))):
        for chunk in _chunks(dict(deltas)):
            _add(session, model, keys, chunk)


TOP_KEYS = ("top_id", "case_type", "month", "state")
TOP_LIMIT_KEYS = ("top_id", "case_type", "month", "met")


def top_id(path: str) -> int:
    """The top unit of the unit at ``path``: the child of the county's root it lies under (the
    root itself for the root) — the key of ``CaseTopTally`` and ``CaseTopLimitTally``."""
    ids = path_ids(path)
    return ids[1] if len(ids) > 1 else ids[0]


def top_of(session: Session, unit_id: int) -> int:
    """:func:`top_id` of a unit (from the session's identity map when the unit is loaded, as it
    is at registration)."""
    unit = session.get(OrgUnit, (current_tenant_id(), unit_id))
    return top_id(unit.path)


def _tops_of(session: Session, unit_ids: set[int]) -> dict[int, int]:
    """:func:`top_id` of each unit: one unit through :func:`top_of`, many in one query per 1,000."""
    if len(unit_ids) == 1:
        (one,) = unit_ids
        return {one: top_of(session, one)}
    ids, out = sorted(unit_ids), {}
    for i in range(0, len(ids), 1000):
        out.update((uid, top_id(path)) for uid, path in session.execute(
            select(OrgUnit.id, OrgUnit.path).where(OrgUnit.id.in_(ids[i:i + 1000]))))
    return out


def _rolled_up(by_unit: Mapping[tuple, int], top) -> dict[tuple, int]:
    """Per-unit counter keys (unit, …) summed per top unit (``top(unit_id)``, …)."""
    out: dict[tuple, int] = {}
    for (unit_id, *rest), n in by_unit.items():
        key = (top(unit_id), *rest)
        out[key] = out.get(key, 0) + n
    return out


def move_subtree(session: Session, path: str, old_top: int, new_top: int) -> None:
    """The counts of the units under ``path`` leave ``old_top``'s rows for ``new_top``'s (a unit
    moved to another top unit: ``orgtree.move_unit``; the per-unit rows follow by unit id).

    Exact for what was committed when the move reads the per-unit sums. A registration or act in
    the moved subtree whose transaction is in flight at that instant has already taken the old
    top unit and adds to it when it commits: the county's figures by top unit are then off by
    that case until :func:`rebuild` (``pingan stats rebuild``; the per-unit tallies, and so
    every figure below a top unit, are not affected)."""
    if old_top == new_top:
        return
    units = select(OrgUnit.id).where(within(path))
    for source, top_model, keys, last in ((CaseMonthTally, CaseTopTally, TOP_KEYS, CaseMonthTally.state),
                                          (CaseLimitTally, CaseTopLimitTally, TOP_LIMIT_KEYS, CaseLimitTally.met)):
        sums = session.execute(select(source.case_type, source.month, last, func.sum(source.n))
                               .where(source.org_unit_id.in_(units))
                               .group_by(source.case_type, source.month, last)).all()
        deltas: dict[tuple, int] = {}
        for case_type, month, value, n in sums:
            deltas[(old_top, case_type, month, value)] = -int(n)
            deltas[(new_top, case_type, month, value)] = int(n)
        for chunk in _chunks(deltas):
            _add(session, top_model, keys, chunk)


def _add(session: Session, model, keys: tuple[str, ...], deltas: Mapping[tuple, int]) -> None:
    """One multi-row upsert adding each delta to its counter row (zero deltas dropped)."""
    rows = sorted((k, d) for k, d in deltas.items() if d)
    if not rows:
        return
    tenant = current_tenant_id()
    pg = session.get_bind().dialect.name == "postgresql"
    values = []
    for key, delta in rows:
        row = {"tenant_id": tenant, **dict(zip(keys, key)), "n": delta}
        if pg:
            row["id"] = literal_column(f"nextval('{ID_SEQUENCE}')")  # in the statement: no round trip per row
        values.append(row)
    stmt = _dialect_insert(session, model)
    stmt = stmt.values(values)
    stmt = stmt.on_conflict_do_update(index_elements=["tenant_id", *keys], set_={"n": model.n + stmt.excluded.n})
    session.execute(stmt)


# --- rebuilding from the rows -------------------------------------------------------------------

def scan_cases(session: Session, by_month: bool = True) -> dict[tuple, int]:
    """What the case tallies should hold, counted from the case rows (the tests' reference)."""
    from core.cases.statistics import month_key
    dialect = session.get_bind().dialect.name
    cols = [Case.org_unit_id, Case.case_type] + ([month_key(Case.created_at, dialect)] if by_month else []) \
        + [Case.state]
    return {tuple(r[:-1]): r[-1] for r in session.execute(select(*cols, func.count()).group_by(*cols))}


def scan_limits(session: Session) -> dict[tuple, int]:
    """What ``CaseLimitTally`` should hold, counted from the limit rows."""
    from core.cases.statistics import month_key
    dialect = session.get_bind().dialect.name
    cols = [Case.org_unit_id, Case.case_type, month_key(CaseDeadline.stopped_at, dialect), CaseDeadline.met]
    stmt = (select(*cols, func.count()).select_from(CaseDeadline)
            .join(Case, (Case.id == CaseDeadline.case_id) & (Case.tenant_id == CaseDeadline.tenant_id))
            .where(CaseDeadline.state == "stopped", CaseDeadline.met.is_not(None),
                   ~select(CaseTask.id).where(CaseTask.tenant_id == CaseDeadline.tenant_id,
                                              CaseTask.id == CaseDeadline.task_id,
                                              CaseTask.state == "cancelled").exists())
            .group_by(*cols))
    return {(u, t, m, bool(met)): n for u, t, m, met, n in session.execute(stmt)}


def scan_top(session: Session, by_unit: Mapping[tuple, int]) -> dict[tuple, int]:
    """What a top tally should hold, from what its per-unit tally should hold (``scan_cases`` or
    ``scan_limits``): each unit's counts summed into its top unit's."""
    paths = dict(session.execute(select(OrgUnit.id, OrgUnit.path)).all())
    return {k: n for k, n in _rolled_up(by_unit, lambda unit_id: top_id(paths[unit_id])).items() if n}


def rebuild(session: Session) -> None:
    """Recompute the five tallies of the bound county from its rows (a repair; the migrations'
    backfills do the same in one SQL statement per table)."""
    for model in (CaseTally, CaseMonthTally, CaseLimitTally, CaseTopTally, CaseTopLimitTally):
        session.execute(delete(model))
    months, limits = scan_cases(session), scan_limits(session)
    for chunk in _chunks(scan_cases(session, by_month=False)):
        _add(session, CaseTally, ("org_unit_id", "case_type", "state"), chunk)
    for chunk in _chunks(months):
        _add(session, CaseMonthTally, ("org_unit_id", "case_type", "month", "state"), chunk)
    for chunk in _chunks(limits):
        _add(session, CaseLimitTally, ("org_unit_id", "case_type", "month", "met"), chunk)
    for chunk in _chunks(scan_top(session, months)):
        _add(session, CaseTopTally, TOP_KEYS, chunk)
    for chunk in _chunks(scan_top(session, limits)):
        _add(session, CaseTopLimitTally, TOP_LIMIT_KEYS, chunk)


def _chunks(rows: dict[tuple, int], size: int = 2000) -> Iterable[dict[tuple, int]]:
    items = list(rows.items())
    for i in range(0, len(items), size):
        yield dict(items[i:i + size])
