"""Case statistics for the dashboard and, later, the scoring module (issue 3, RPT-1).

Every figure counts cases **by the unit where they arose** (``Case.org_unit_id``), within
the subtrees asked about, and only cases the user may read (``queries.filtered`` →
``access.readable``). A case diverted to your unit from elsewhere counts where it arose;
the handling side is the task list and the ``handling_unit_id`` filter of the case list.

Which subtrees: ``org_unit_id`` if given (it must lie within the user's read scope, else
404), otherwise the units the user's read grants are on. Grouping by ``unit`` gives one
row per child of that unit, each counting its whole subtree (the key is the child's id:
pass it back as ``org_unit_id`` to drill down), plus a "（本级）" row for cases registered
at the unit itself; a user whose grants sit on several units gets one row per unit.

Fast paths, so a township's and the county's figures take milliseconds with a million
cases (issue 24, item 3; ``bench/stats.py``):

- counts, year on year and on-time rates come from the tallies kept on write
  (``core.cases.tally``): ``CaseTally`` (unit, type, state) without a period,
  ``CaseMonthTally`` (… and local month of registration) and ``CaseLimitTally`` (stopped
  limits per unit, type, month of the stop and outcome) over a period. For the county and for
  the county's top units (its townships…), without rows per child below a top unit, their
  roll-ups per top unit ``CaseTopTally`` and ``CaseTopLimitTally`` (:func:`_tops`): a few
  thousand rows, where the per-unit tallies of a county of 10,000 units hold ~140,000 a year. A period is read as
  whole months, corrected by the rows of its edge months (:func:`split`: the smaller side
  of each edge month is counted, and days after today weigh nothing). The tallies know
  nothing of tasks, so they are used only when the user may read the types throughout the
  subtrees (:attr:`Scope.tallied`) — then "readable and arose here" is exactly "arose
  here"; otherwise the rows are counted through ``queries.filtered`` as before (the scan,
  also what ``scan=True`` forces: the tests compare both);
- the subtrees reach SQL as a join to ``org_unit`` on the roots' path ranges
  (:func:`_scoped`), never as a list of unit ids;
- due soon / overdue read the partial index on open cases' ``due_at``; "closed this
  month" the partial index on ``closed_at`` (migration ``0004_case_search``).

Periods are local dates in Asia/Shanghai, both ends included; months are local months.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import BigInteger, Select, and_, case, cast, func, literal_column, or_, select, true

from core.authz import minimal_paths
from core.cases import settings as case_settings
from core.cases.models import (Case, CaseDeadline, CaseLimitTally, CaseMonthTally, CaseTally, CaseTask,
                               CaseTopLimitTally, CaseTopTally, CaseTypeSetting)
from core.cases.queries import dialect, filtered
from core.cases.timeline import Work
from core.cases.types import CaseType
from core.db import utcnow
from core.errors import Invalid, NotFound
from core.models import OrgUnit
from core.orgtree import path_ids, within
from core.workdays import SHANGHAI

READ = "core.case.read"
COUNT_GROUPS = ("case_type", "state", "unit", "month")
RATE_GROUPS = ("case_type", "unit")
FIRST_DAY, LAST_DAY = dt.date(1900, 1, 1), dt.date(2999, 12, 31)  # any date outside is clamped
MAX_MONTH_ROWS = 240  # empty months are listed only for a period up to 20 years


@dataclass
class Scope:
    """The subtrees a request reports on, and the case types it may count there."""

    roots: list[OrgUnit]          # disjoint subtrees where the counted cases arose
    parent: OrgUnit | None        # whose children are the ``unit`` rows (None: the roots are)
    types: dict[str, CaseType]    # enabled types the user may read somewhere
    whole: frozenset[str]         # of those, the ones readable throughout every root

    @property
    def county_wide(self) -> bool:
        return any(r.parent_id is None for r in self.roots)

    @property
    def tallied(self) -> bool:
        """Every countable type is readable throughout the subtrees: "readable and arose here"
        is then exactly "arose here", which is what the tallies count."""
        return set(self.types) <= self.whole

    def units(self) -> Select:
        """The ids of the units in the subtrees."""
        return select(OrgUnit.id).where(or_(*(within(r.path) for r in self.roots)))

    def arose(self, column):
        """Predicate: the unit in ``column`` lies in the subtrees (nothing to check county-wide)."""
        return true() if self.county_wide else column.in_(self.units())


def scope(w: Work, unit_id: int | None, case_type: str | None = None) -> Scope:
    """Resolve ``org_unit_id`` (or the user's own units) and the countable types; 404 outside scope."""
    types = {k: t for k, t in sorted(w.types.items()) if w.grants.has(t.read_permission)}
    if case_type is not None:
        if case_type not in w.types:
            raise Invalid("case_type", "unknown_case_type", "没有该事项类型，或该模块未启用", location="query")
        types = {k: t for k, t in types.items() if k == case_type}
    perms = {READ} | {t.read_permission for t in types.values()}
    if unit_id is not None:
        unit = w.session.scalar(select(OrgUnit).where(OrgUnit.id == unit_id))
        if unit is None or not any(w.grants.covers(p, unit.path) for p in perms):
            raise NotFound()
        roots, parent = [unit], unit
    else:
        paths = minimal_paths({p for perm in perms for p in w.grants.paths(perm)})
        roots = list(w.session.scalars(select(OrgUnit).where(OrgUnit.path.in_(paths)).order_by(OrgUnit.path)))
        if not roots:
            raise NotFound()
        parent = roots[0] if len(roots) == 1 else None
    whole = frozenset(k for k, t in types.items() if all(w.grants.covers(t.read_permission, r.path) for r in roots))
    return Scope(roots, parent, types, whole)


# --- periods ------------------------------------------------------------------------------

def local_midnight(day: dt.date) -> dt.datetime:
    """00:00 Asia/Shanghai of ``day``, in UTC (how times are stored)."""
    day = min(max(day, FIRST_DAY), LAST_DAY)
    return dt.datetime.combine(day, dt.time(0), tzinfo=SHANGHAI).astimezone(dt.timezone.utc)


def period(date_from: dt.date | None, date_to: dt.date | None) -> tuple[dt.datetime | None, dt.datetime | None]:
    """Local dates, both included → a half-open UTC range (``None`` = open end)."""
    start = local_midnight(date_from) if date_from else None
    end = local_midnight(min(date_to, LAST_DAY - dt.timedelta(days=1)) + dt.timedelta(days=1)) if date_to else None
    return start, end


def today() -> dt.date:
    return utcnow().astimezone(SHANGHAI).date()


def month_key(column, dialect_name: str):
    """SQL: ``'YYYY-MM'`` of a stored UTC time, as a month in Asia/Shanghai (UTC+8, no DST since 1991)."""
    if dialect_name == "postgresql":
        return func.to_char(func.timezone("Asia/Shanghai", column), "YYYY-MM")
    return func.strftime("%Y-%m", column, "+8 hours")


def _months(start: dt.date, end: dt.date) -> list[str]:
    out, (y, m) = [], (start.year, start.month)
    while (y, m) <= (end.year, end.month) and len(out) <= MAX_MONTH_ROWS:
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out if len(out) <= MAX_MONTH_ROWS else []


# --- grouping by unit -----------------------------------------------------------------------

def _unit_rows(w: Work, sc: Scope) -> list[dict]:
    """The rows of a ``unit`` grouping before counting: the parent's children, or the roots."""
    if sc.parent is None:
        return [{"key": str(r.id), "label": r.name, "path": r.path, "status": r.status} for r in sc.roots]
    kids = w.session.execute(select(OrgUnit.id, OrgUnit.name, OrgUnit.path, OrgUnit.status)
                             .where(OrgUnit.parent_id == sc.parent.id).order_by(OrgUnit.id)).all()
    rows = [{"key": str(i), "label": name, "path": path, "status": status} for i, name, path, status in kids]
    rows.append({"key": str(sc.parent.id), "label": f"{sc.parent.name}（本级）", "path": None, "status": "own"})
    return rows


def _unit_key(sc: Scope):
    """Maps a case's unit path to its row key (the child of the parent it lies under)."""
    if sc.parent is None:
        def key(path: str) -> str:
            return str(next((r.id for r in sc.roots if path.startswith(r.path)), 0))
        return key
    depth = len(path_ids(sc.parent.path))

    def key(path: str) -> str:
        ids = path_ids(path)
        return str(ids[depth] if len(ids) > depth else sc.parent.id)  # type: ignore[union-attr]
    return key


def _keep(row: dict, counted: bool) -> bool:
    """Active children are always listed; the own level and retired units only with cases."""
    return row["status"] == "active" or counted


def _join_unit(stmt: Select, column) -> Select:
    return stmt.join(OrgUnit, (OrgUnit.id == column) & (OrgUnit.tenant_id == Case.tenant_id))


def _arose_rows(w: Work, sc: Scope, column):
    """Predicate on a case row's unit for the subtrees: ``IN (units under the path ranges)``.

    On PostgreSQL written ``… OR false`` so that it stays a *hashed SubPlan* (the units read
    once into a hash, each row probed in O(1)) while the rows come from the index of the
    figure (open cases' ``due_at``, ``closed_at``, ``created_at``). A bare ``IN`` becomes a
    semi-join whose unit count the planner cannot estimate (tenant and path are correlated:
    it guesses one unit for a township of 996) and it then walks every case of each unit
    through ``ix_case_record_unit`` — 1.5 s instead of milliseconds; ``= ANY(array)`` checks
    each row against the whole array (0.6 s)."""
    if sc.county_wide:
        return true()
    units = select(OrgUnit.id).where(or_(*(within(r.path) for r in sc.roots)))
    if dialect(w) == "postgresql":
        return or_(column.in_(units), literal_column("false"))
    return column.in_(units)


def _unit_column(w: Work, sc: Scope):
    """What ``unit`` rows group by: on PostgreSQL under one parent, the id of the parent's child
    each unit lies under (``split_part`` of the path; '' at the parent itself), so the database
    sums per child and returns a few dozen rows; otherwise the unit's path, mapped in Python."""
    if sc.parent is not None and dialect(w) == "postgresql":
        return func.split_part(OrgUnit.path, "/", len(path_ids(sc.parent.path)) + 2)
    return OrgUnit.path


def _unit_of(w: Work, sc: Scope):
    """The row key of a value of :func:`_unit_column`."""
    if sc.parent is not None and dialect(w) == "postgresql":
        own = str(sc.parent.id)
        return lambda k: k or own
    return _unit_key(sc)


def _by_unit_rows(w: Work, sc: Scope, stmt: Select, *figures) -> Select:
    """Group case rows by their unit first, then name each unit's path (one join per unit, not per row)."""
    sub = stmt.add_columns(Case.org_unit_id.label("unit_id"), *(f.label(f"f{i}") for i, f in enumerate(figures))) \
        .group_by(Case.org_unit_id).subquery()
    column = _unit_column(w, sc)
    return select(column, *(func.sum(sub.c[f"f{i}"]) for i in range(len(figures)))).join(
        OrgUnit, OrgUnit.id == sub.c.unit_id).group_by(column)


def _scoped(stmt: Select, sc: Scope, unit_col, tenant_col, by_unit: bool = False) -> Select:
    """Rows whose unit lies in the subtrees: a join to ``org_unit`` on the roots' path ranges
    (``orgtree.within``, the ``(tenant_id, path)`` index), never a list of unit ids; nothing to
    join county-wide unless the rows are grouped by unit (``OrgUnit.path``)."""
    if sc.county_wide and not by_unit:
        return stmt
    stmt = stmt.join(OrgUnit, (OrgUnit.id == unit_col) & (OrgUnit.tenant_id == tenant_col))
    return stmt if sc.county_wide else stmt.where(or_(*(within(r.path) for r in sc.roots)))


def _tops(sc: Scope, by_unit: bool) -> list[int] | None:
    """The top units the subtrees are (``[]``: the whole county), when the top tallies answer
    the request — the county, or top units (a township…) without rows per child below them;
    else ``None`` (the per-unit tallies, joined to the units' path ranges)."""
    if by_unit and sc.parent is not None and sc.parent.parent_id is not None:
        return None
    if sc.county_wide:
        return []
    ids = [path_ids(r.path) for r in sc.roots]
    return [i[1] for i in ids] if all(len(i) == 2 for i in ids) else None


def _top_rows(stmt: Select, T, tops: list[int]) -> Select:
    return stmt.where(T.top_id.in_(tops)) if tops else stmt


# --- periods as whole months of the tallies -----------------------------------------------------

@dataclass
class Months:
    """A period as the month tallies answer it: the whole local months ``lo``…``hi`` (``None``:
    open end; ``tally`` false: none), corrected by the rows of short ranges — ``plus`` (the part
    of an edge month in the period, when it is the smaller side) and ``minus`` (the rest of an
    edge month counted whole). Each range is half-open in UTC. Ranges in the future weigh
    nothing: "1 January to today" reads this month whole and subtracts the days after today,
    which hold no rows."""

    lo: str | None = None
    hi: str | None = None
    tally: bool = True
    plus: list[tuple[dt.datetime, dt.datetime]] = field(default_factory=list)
    minus: list[tuple[dt.datetime, dt.datetime]] = field(default_factory=list)


def _key(day: dt.date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def _first_of_next(day: dt.date) -> dt.date:
    return dt.date(day.year + (day.month == 12), day.month % 12 + 1, 1)


def _utc(first: dt.date, last: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """Local days ``first``…``last`` (both included) as a half-open UTC range."""
    return local_midnight(first), local_midnight(last + dt.timedelta(days=1))


def split(date_from: dt.date | None, date_to: dt.date | None, on: dt.date | None = None) -> Months | None:
    """The period in whole months plus corrections (see :class:`Months`); ``None`` if empty."""
    on = on or today()
    if date_from and date_to and date_from > date_to:
        return None
    edge_of_time = LAST_DAY - dt.timedelta(days=1)
    d0 = min(max(date_from, FIRST_DAY), edge_of_time) if date_from else None
    d1 = min(max(date_to, FIRST_DAY), edge_of_time) if date_to else None
    if d0 and d1 and d0 > d1:
        return None

    def weight(a: dt.date, b: dt.date) -> int:   # days of a range that can hold rows (not after today)
        return max(0, (min(b, on) - a).days + 1)

    out = Months()

    def edge(part: tuple[dt.date, dt.date]) -> bool:
        """Count the edge month's ``part``: True if the month is then read whole from the tally."""
        first, last = part[0].replace(day=1), _first_of_next(part[0]) - dt.timedelta(days=1)
        rest = [r for r in ((first, part[0] - dt.timedelta(days=1)), (part[1] + dt.timedelta(days=1), last))
                if r[0] <= r[1]]
        if weight(*part) <= sum(weight(*r) for r in rest):
            out.plus.append(_utc(*part))
            return False
        out.minus.extend(_utc(*r) for r in rest)
        return True

    if d0 and d1 and _key(d0) == _key(d1):
        whole = d0.day == 1 and _key(d1 + dt.timedelta(days=1)) != _key(d1)
        if whole or edge((d0, d1)):
            out.lo = out.hi = _key(d0)
        else:
            out.tally = False
        return out
    if d0:
        if d0.day == 1 or edge((d0, _first_of_next(d0) - dt.timedelta(days=1))):
            out.lo = _key(d0)
        else:
            out.lo = _key(_first_of_next(d0))
    if d1:
        if _key(d1 + dt.timedelta(days=1)) != _key(d1) or edge((d1.replace(day=1), d1)):
            out.hi = _key(d1)
        else:
            out.hi = _key(d1.replace(day=1) - dt.timedelta(days=1))
    if out.lo and out.hi and out.lo > out.hi:
        out.tally = False
    return out


def _month_bounds(stmt: Select, column, m: Months) -> Select:
    if m.lo:
        stmt = stmt.where(column >= m.lo)
    if m.hi:
        stmt = stmt.where(column <= m.hi)
    return stmt


def _ranges(column, m: Months):
    """(predicate on ``column`` over every correction range, +1/−1 per row) for ``sum``."""
    spans = [(a, b, 1) for a, b in m.plus] + [(a, b, -1) for a, b in m.minus]
    conds = [(and_(column >= a, column < b), sign) for a, b, sign in spans]
    return or_(*(c for c, _ in conds)), case(*conds, else_=0)


def _grouped(w: Work, sc: Scope, stmt: Select, by_unit: bool, found: dict[str, list[int]], width: int = 1) -> None:
    """Add the rows (group key, figures…) of ``stmt`` into ``found`` (unit paths → row keys)."""
    key = _unit_of(w, sc) if by_unit else str
    for row in w.session.execute(stmt):
        acc = found.setdefault(key(row[0]), [0] * width)
        for i in range(width):
            acc[i] += int(row[1 + i] or 0)


# --- counts -----------------------------------------------------------------------------------

def counts(w: Work, group_by: str, unit_id: int | None = None, case_type: str | None = None,
           date_from: dt.date | None = None, date_to: dt.date | None = None, *, scan: bool = False) -> dict:
    """Cases registered in the period (all of them without one), grouped by type, state, unit or month.

    From the tallies whenever the user may read the types throughout the subtrees; ``scan``
    counts the case rows instead (the tests compare the two)."""
    sc = scope(w, unit_id, case_type)
    if sc.tallied and not scan:
        found = _tally_counts(w, sc, group_by, date_from, date_to)
    else:
        start, end = period(date_from, date_to)
        found = _row_counts(w, sc, group_by, case_type, start, end)
    if group_by == "case_type":
        rows = [{"key": k, "label": t.title} for k, t in sc.types.items()]
    elif group_by == "state":
        rows, seen = [], set()
        for t in sc.types.values():
            for s in t.states:
                if s.key not in seen:
                    seen.add(s.key)
                    rows.append({"key": s.key, "label": s.title})
    elif group_by == "unit":
        rows = [r for r in _unit_rows(w, sc) if _keep(r, found.get(r["key"], 0) > 0)]
    else:
        keys = sorted(k for k, n in found.items() if n)
        if date_from and date_to and date_from <= date_to:
            keys = sorted(set(keys) | set(_months(max(date_from, FIRST_DAY), min(date_to, LAST_DAY))))
        rows = [{"key": k, "label": f"{k[:4]}年{int(k[5:])}月"} for k in keys]
    items = [{"key": r["key"], "label": r["label"], "count": found.get(r["key"], 0)} for r in rows]
    return {"group_by": group_by, "org_unit_id": sc.parent.id if sc.parent else None,
            "date_from": date_from, "date_to": date_to, "total": sum(i["count"] for i in items), "items": items}


def _tally_counts(w: Work, sc: Scope, group_by: str, date_from: dt.date | None,
                  date_to: dt.date | None) -> dict[str, int]:
    """Counts from ``CaseTally`` (no period) or ``CaseMonthTally`` and the edge months' rows."""
    keys, by_unit = list(sc.types), group_by == "unit"
    m = split(date_from, date_to) if (date_from or date_to) else Months()
    if m is None or not keys:
        return {}
    found: dict[str, list[int]] = {}
    tops = _tops(sc, by_unit)
    if m.tally and tops is not None:
        T = CaseTopTally   # all months without a period: the same sums as CaseTally's
        column = {"case_type": T.case_type, "state": T.state, "unit": T.top_id, "month": T.month}[group_by]
        stmt = _month_bounds(select(column, func.sum(T.n)).where(T.case_type.in_(keys)), T.month, m)
        _grouped(w, sc, _top_rows(stmt, T, tops).group_by(column), False, found)
    T = CaseTally if (date_from is None and date_to is None and group_by != "month") else CaseMonthTally
    if m.tally and tops is None:
        column = {"case_type": T.case_type, "state": T.state, "unit": _unit_column(w, sc),
                  "month": getattr(T, "month", None)}[group_by]
        stmt = select(column, func.sum(T.n)).select_from(T).where(T.case_type.in_(keys))
        if T is CaseMonthTally:
            stmt = _month_bounds(stmt, T.month, m)
        stmt = _scoped(stmt, sc, T.org_unit_id, T.tenant_id, by_unit).group_by(column)
        _grouped(w, sc, stmt, by_unit, found)
    if m.plus or m.minus:
        within_ranges, sign = _ranges(Case.created_at, m)
        base = select().select_from(Case).where(within_ranges, Case.case_type.in_(keys),
                                                _arose_rows(w, sc, Case.org_unit_id))
        if by_unit:
            stmt = _by_unit_rows(w, sc, base, func.sum(sign))
        else:
            column = {"case_type": Case.case_type, "state": Case.state,
                      "month": month_key(Case.created_at, dialect(w))}[group_by]
            stmt = base.add_columns(column, func.sum(sign)).group_by(column)
        _grouped(w, sc, stmt, by_unit, found)
    return {k: v[0] for k, v in found.items()}


def _row_counts(w: Work, sc: Scope, group_by: str, case_type: str | None,
                start: dt.datetime | None, end: dt.datetime | None) -> dict[str, int]:
    """Counts from the case rows (what the user may read, ``queries.filtered``): the scan."""
    args = {"case_type": case_type, "created_from": start, "created_to": end}
    if group_by == "unit":
        base = _join_unit(select(OrgUnit.path, func.count(Case.id)).select_from(Case), Case.org_unit_id)
        stmt = filtered(w, args, base).where(sc.arose(Case.org_unit_id)).group_by(OrgUnit.path)
        key, found = _unit_key(sc), {}
        for path, n in w.session.execute(stmt):
            found[key(path)] = found.get(key(path), 0) + n
        return found
    column = {"case_type": Case.case_type, "state": Case.state,
              "month": month_key(Case.created_at, dialect(w))}[group_by]
    stmt = filtered(w, args, select(column, func.count(Case.id)).select_from(Case))
    stmt = stmt.where(sc.arose(Case.org_unit_id), Case.case_type.in_(list(sc.types))).group_by(column)
    return {str(k): n for k, n in w.session.execute(stmt)}


# --- the dashboard summary ----------------------------------------------------------------------

def summary(w: Work, unit_id: int | None = None, *, scan: bool = False) -> dict:
    """Per case type: open, due soon, overdue, closed this month — the dashboard's first row.

    Open cases come from ``CaseTally``; the other three change with the clock, not with a
    write, so they are counted on the partial indexes of open cases' ``due_at`` (only those due
    within the longest reminder window) and of ``closed_at`` (this month's closings) — scoped by
    the path join alone when the user reads the types throughout the subtrees."""
    sc = scope(w, unit_id)
    s, now = w.session, utcnow()
    month_start = local_midnight(today().replace(day=1))
    keys = list(sc.types)
    raw = dict(s.execute(select(CaseTypeSetting.case_type, CaseTypeSetting.settings)
                         .where(CaseTypeSetting.case_type.in_(keys))).all()) if keys else {}
    hours = {k: case_settings.effective(t, raw.get(k)).remind_before_hours for k, t in sc.types.items()}
    out = {k: {"case_type": k, "title": t.title, "open": 0, "due_soon": 0, "overdue": 0, "closed_this_month": 0,
               "remind_before_hours": hours[k]} for k, t in sc.types.items()}
    if keys:
        fast = sc.tallied and not scan
        _open_counts(w, sc, out, scan)

        def rows(*cols) -> Select:
            if fast:
                return select(*cols).select_from(Case).where(Case.case_type.in_(keys),
                                                             _arose_rows(w, sc, Case.org_unit_id))
            return filtered(w, {}, select(*cols).select_from(Case)).where(Case.case_type.in_(keys),
                                                                          sc.arose(Case.org_unit_id))
        horizon = now + dt.timedelta(hours=max(hours.values()))
        soon = or_(*(and_(Case.case_type == k, Case.due_at < now + dt.timedelta(hours=h))
                     for k, h in hours.items() if h > 0)) if any(hours.values()) else None
        overdue = func.sum(case((Case.due_at < now, 1), else_=0))
        due_soon = func.sum(case((and_(Case.due_at >= now, soon), 1), else_=0)) if soon is not None else None
        cols = [Case.case_type, overdue] + ([due_soon] if due_soon is not None else [])
        stmt = rows(*cols).where(Case.closed_at.is_(None), Case.due_at < horizon)
        for row in s.execute(stmt.group_by(Case.case_type)):
            out[row[0]]["overdue"] = int(row[1] or 0)
            if due_soon is not None:
                out[row[0]]["due_soon"] = int(row[2] or 0)
        stmt = rows(Case.case_type, func.count(Case.id)).where(Case.closed_at >= month_start)
        for k, n in s.execute(stmt.group_by(Case.case_type)):
            out[k]["closed_this_month"] = n
    items = list(out.values())
    total = {f: sum(i[f] for i in items) for f in ("open", "due_soon", "overdue", "closed_this_month")}
    return {"org_unit_id": sc.parent.id if sc.parent else None, "as_of": now, "month_from": month_start,
            "items": items, "total": total}


def _open_counts(w: Work, sc: Scope, out: dict, scan: bool = False) -> None:
    """Open cases per type: from the tally where it answers exactly, else from the open-case index."""
    tallied = [k for k in sc.types if k in sc.whole and not scan]
    if tallied:
        open_states = [(k, s.key) for k in tallied for s in sc.types[k].states if not s.closed]
        tops, T = _tops(sc, False), CaseTopTally
        if tops is not None:   # summed over every month: the same as CaseTally's, in fewer rows
            stmt = _top_rows(select(T.case_type, T.state, cast(func.sum(T.n), BigInteger))
                             .where(T.case_type.in_(tallied)), T, tops)
        else:
            T = CaseTally
            stmt = _scoped(select(T.case_type, T.state, cast(func.sum(T.n), BigInteger))
                           .where(T.case_type.in_(tallied)), sc, T.org_unit_id, T.tenant_id)
        for k, state, n in w.session.execute(stmt.group_by(T.case_type, T.state)):
            if (k, state) in open_states:
                out[k]["open"] += int(n or 0)
    rest = [k for k in sc.types if k not in tallied]
    if rest:
        stmt = filtered(w, {"status": "open"}, select(Case.case_type, func.count(Case.id))).where(
            Case.case_type.in_(rest), sc.arose(Case.org_unit_id))
        for k, n in w.session.execute(stmt.group_by(Case.case_type)):
            out[k]["open"] = n


# --- on-time rate -------------------------------------------------------------------------------

def on_time(w: Work, group_by: str, unit_id: int | None = None, case_type: str | None = None,
            date_from: dt.date | None = None, date_to: dt.date | None = None, *, scan: bool = False) -> dict:
    """Time limits that ended in the period (stopped) and the share of them met, per group.

    A limit counts once it has stopped (the act it waited for happened, or the case was
    closed); running limits are not counted yet. Limits of withdrawn (cancelled) tasks are
    left out: they stopped because the task was taken back, not because it was done; so are
    windows (an objection window: nothing to meet, ``met`` stays empty). From ``CaseLimitTally``
    (by month of the stop) and the edge months' limits when the user reads the types throughout
    the subtrees; ``scan`` reads the limits instead.
    """
    sc = scope(w, unit_id, case_type)
    if sc.tallied and not scan:
        found = _tally_on_time(w, sc, group_by, date_from, date_to)
    else:
        found = _row_on_time(w, sc, group_by, case_type, *period(date_from, date_to))
    if group_by == "unit":
        rows = [r for r in _unit_rows(w, sc) if _keep(r, found.get(r["key"], [0, 0])[0] != 0)]
    else:
        rows = [{"key": k, "label": t.title} for k, t in sc.types.items()]
    items = [_rate(r["key"], r["label"], *found.get(r["key"], [0, 0])) for r in rows]
    total = _rate("total", "合计", sum(i["stopped"] for i in items), sum(i["met"] for i in items))
    return {"group_by": group_by, "org_unit_id": sc.parent.id if sc.parent else None,
            "date_from": date_from, "date_to": date_to, "items": items, "total": total}


def _stopped_limits(stmt: Select) -> Select:
    """The limits an on-time rate counts: stopped with an outcome, not of a withdrawn task."""
    return stmt.where(CaseDeadline.state == "stopped", CaseDeadline.met.is_not(None),
                      or_(CaseDeadline.task_id.is_(None),
                          CaseDeadline.task_id.not_in(select(CaseTask.id).where(CaseTask.state == "cancelled"))))


def _tally_on_time(w: Work, sc: Scope, group_by: str, date_from: dt.date | None,
                   date_to: dt.date | None) -> dict[str, list[int]]:
    keys, by_unit = list(sc.types), group_by == "unit"
    m = split(date_from, date_to) if (date_from or date_to) else Months()
    found: dict[str, list[int]] = {}
    if m is None or not keys:
        return found
    tops = _tops(sc, by_unit)
    if m.tally and tops is not None:
        T = CaseTopLimitTally
        column = T.top_id if by_unit else T.case_type
        met = func.sum(case((T.met.is_(True), T.n), else_=0))
        stmt = _month_bounds(select(column, func.sum(T.n), met).where(T.case_type.in_(keys)), T.month, m)
        _grouped(w, sc, _top_rows(stmt, T, tops).group_by(column), False, found, 2)
    T = CaseLimitTally
    if m.tally and tops is None:
        column = _unit_column(w, sc) if by_unit else T.case_type
        met = func.sum(case((T.met.is_(True), T.n), else_=0))
        stmt = _month_bounds(select(column, func.sum(T.n), met).select_from(T).where(T.case_type.in_(keys)),
                             T.month, m)
        _grouped(w, sc, _scoped(stmt, sc, T.org_unit_id, T.tenant_id, by_unit).group_by(column), by_unit, found, 2)
    if m.plus or m.minus:
        within_ranges, sign = _ranges(CaseDeadline.stopped_at, m)
        met = func.sum(case((CaseDeadline.met.is_(True), sign), else_=0))
        base = select().select_from(CaseDeadline).join(
            Case, (Case.id == CaseDeadline.case_id) & (Case.tenant_id == CaseDeadline.tenant_id))
        base = _stopped_limits(base.where(within_ranges, Case.case_type.in_(keys), _arose_rows(w, sc, Case.org_unit_id)))
        if by_unit:
            stmt = _by_unit_rows(w, sc, base, func.sum(sign), met)
        else:
            stmt = base.add_columns(Case.case_type, func.sum(sign), met).group_by(Case.case_type)
        _grouped(w, sc, stmt, by_unit, found, 2)
    return found


def _row_on_time(w: Work, sc: Scope, group_by: str, case_type: str | None, start: dt.datetime | None,
                 end: dt.datetime | None) -> dict[str, list[int]]:
    """The on-time figures from the limit rows the user may read: the scan."""
    met = func.sum(case((CaseDeadline.met.is_(True), 1), else_=0))
    column = _unit_column(w, sc) if group_by == "unit" else Case.case_type
    base = select(column, func.count(CaseDeadline.id), met).select_from(CaseDeadline).join(
        Case, (Case.id == CaseDeadline.case_id) & (Case.tenant_id == CaseDeadline.tenant_id))
    if group_by == "unit":
        base = _join_unit(base, Case.org_unit_id)
    stmt = _stopped_limits(filtered(w, {"case_type": case_type}, base).where(
        Case.case_type.in_(list(sc.types)), sc.arose(Case.org_unit_id)))
    if start is not None:
        stmt = stmt.where(CaseDeadline.stopped_at >= start)
    if end is not None:
        stmt = stmt.where(CaseDeadline.stopped_at < end)
    found: dict[str, list[int]] = {}
    _grouped(w, sc, stmt.group_by(column), group_by == "unit", found, 2)
    return found


def _rate(key: str, label: str, stopped: int, met: int) -> dict:
    percent = round(met * 100 / stopped, 1) if stopped else None
    return {"key": key, "label": label, "stopped": stopped, "met": met, "missed": stopped - met,
            "on_time_percent": percent}


# --- year on year (RPT-1) -----------------------------------------------------------------------

def yoy_periods(year: int, on: dt.date | None = None) -> tuple[tuple[dt.date, dt.date], tuple[dt.date, dt.date]]:
    """This year's period (1 January to the same day as ``on``, or the whole year if past)
    and last year's same period. 29 February compares with 28 February."""
    on = on or today()
    month, day = (12, 31) if year < on.year else (on.month, on.day)

    def last_day(y: int) -> dt.date:
        return dt.date(y, month, 28) if (month, day) == (2, 29) and not _leap(y) else dt.date(y, month, day)
    return (dt.date(year, 1, 1), last_day(year)), (dt.date(year - 1, 1, 1), last_day(year - 1))


def _leap(y: int) -> bool:
    return y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)




def yoy(w: Work, year: int | None = None, group_by: str = "case_type", unit_id: int | None = None,
        case_type: str | None = None, *, scan: bool = False) -> dict:
    """Cases registered this year to date against the same period last year, with the change
    (from the month tallies and the edge months' rows, or ``scan``: from the case rows)."""
    sc = scope(w, unit_id, case_type)
    year = year or today().year
    (a1, b1), (a0, b0) = yoy_periods(year)
    found: dict[str, list[int]] = {}
    if sc.tallied and not scan:
        by = "unit" if group_by == "unit" else "case_type"
        for i, (a, b) in enumerate(((a1, b1), (a0, b0))):
            for k, n in _tally_counts(w, sc, by, a, b).items():
                found.setdefault(k, [0, 0])[i] += n
    else:
        (s1, e1), (s0, e0) = period(a1, b1), period(a0, b0)
        this = func.sum(case((Case.created_at >= s1, 1), else_=0))   # the two periods do not overlap
        column = _unit_column(w, sc) if group_by == "unit" else Case.case_type
        base = select(column, this, func.count(Case.id)).select_from(Case)
        if group_by == "unit":
            base = _join_unit(base, Case.org_unit_id)
        stmt = filtered(w, {"case_type": case_type}, base).where(
            or_(and_(Case.created_at >= s0, Case.created_at < e0), and_(Case.created_at >= s1, Case.created_at < e1)),
            Case.case_type.in_(list(sc.types)), sc.arose(Case.org_unit_id))
        _grouped(w, sc, stmt.group_by(column), group_by == "unit", found, 2)
        for acc in found.values():
            acc[1] -= acc[0]
    if group_by == "unit":
        rows = [r for r in _unit_rows(w, sc) if _keep(r, r["key"] in found and any(found[r["key"]]))]
    else:
        rows = [{"key": k, "label": t.title} for k, t in sc.types.items()]
    items = [_change(r["key"], r["label"], *found.get(r["key"], [0, 0])) for r in rows]
    total = _change("total", "合计", sum(i["count"] for i in items), sum(i["last_year"] for i in items))
    return {"year": year, "group_by": group_by, "org_unit_id": sc.parent.id if sc.parent else None,
            "period_from": a1, "period_to": b1, "last_from": a0, "last_to": b0, "items": items, "total": total}


def _change(key: str, label: str, count: int, last: int) -> dict:
    """RPT-1: the change against last year in percent, e.g. −56.0; none when last year had none."""
    percent = round((count - last) * 100 / last, 1) if last else None
    return {"key": key, "label": label, "count": count, "last_year": last, "change_percent": percent}
