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

Fast paths, so the county dashboard stays fast with a million cases:

- counts without a period come from ``CaseTally`` (cases per unit, type and state, kept by
  the engine on every state change), not from the case rows. ``CaseTally`` knows nothing
  of tasks, so it is used only when the user may read the type throughout the subtree —
  then "readable and arose here" is exactly "arose here";
- due soon / overdue read the partial index on open cases' ``due_at``; "closed this
  month" the partial index on ``closed_at``; on-time rates the one on stopped limits'
  ``stopped_at`` (migration ``0004_case_search``).

Periods are local dates in Asia/Shanghai, both ends included; months are local months.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import BigInteger, Select, and_, case, cast, func, or_, select, true

from core.authz import minimal_paths
from core.cases import settings as case_settings
from core.cases.models import Case, CaseDeadline, CaseTally, CaseTask
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


# --- counts -----------------------------------------------------------------------------------

def counts(w: Work, group_by: str, unit_id: int | None = None, case_type: str | None = None,
           date_from: dt.date | None = None, date_to: dt.date | None = None) -> dict:
    """Cases registered in the period (all of them without one), grouped by type, state, unit or month."""
    sc = scope(w, unit_id, case_type)
    start, end = period(date_from, date_to)
    if start is None and end is None and group_by != "month" and set(sc.types) <= sc.whole:
        found = _tally_counts(w, sc, group_by)
    else:
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
        keys = sorted(found)
        if date_from and date_to and date_from <= date_to:
            keys = sorted(set(keys) | set(_months(max(date_from, FIRST_DAY), min(date_to, LAST_DAY))))
        rows = [{"key": k, "label": f"{k[:4]}年{int(k[5:])}月"} for k in keys]
    items = [{"key": r["key"], "label": r["label"], "count": found.get(r["key"], 0)} for r in rows]
    return {"group_by": group_by, "org_unit_id": sc.parent.id if sc.parent else None,
            "date_from": date_from, "date_to": date_to, "total": sum(i["count"] for i in items), "items": items}


def _tally_counts(w: Work, sc: Scope, group_by: str) -> dict[str, int]:
    keys = list(sc.types)
    found: dict[str, int] = {}
    if group_by == "unit":
        stmt = (select(OrgUnit.path, func.sum(CaseTally.n))
                .join(OrgUnit, (OrgUnit.id == CaseTally.org_unit_id) & (OrgUnit.tenant_id == CaseTally.tenant_id))
                .where(CaseTally.case_type.in_(keys), or_(*(within(r.path) for r in sc.roots)))
                .group_by(OrgUnit.path))
        key = _unit_key(sc)
        for path, n in w.session.execute(stmt):
            found[key(path)] = found.get(key(path), 0) + int(n or 0)
        return found
    column = CaseTally.case_type if group_by == "case_type" else CaseTally.state
    stmt = (select(column, func.sum(CaseTally.n)).where(CaseTally.case_type.in_(keys), sc.arose(CaseTally.org_unit_id))
            .group_by(column))
    return {k: int(n or 0) for k, n in w.session.execute(stmt)}


def _row_counts(w: Work, sc: Scope, group_by: str, case_type: str | None,
                start: dt.datetime | None, end: dt.datetime | None) -> dict[str, int]:
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

def summary(w: Work, unit_id: int | None = None) -> dict:
    """Per case type: open, due soon, overdue, closed this month — the dashboard's first row."""
    sc = scope(w, unit_id)
    s, now = w.session, utcnow()
    month_start = local_midnight(today().replace(day=1))
    hours = {k: case_settings.for_type(s, t).remind_before_hours for k, t in sc.types.items()}
    keys = list(sc.types)
    out = {k: {"case_type": k, "title": t.title, "open": 0, "due_soon": 0, "overdue": 0, "closed_this_month": 0,
               "remind_before_hours": hours[k]} for k, t in sc.types.items()}
    if keys:
        _open_counts(w, sc, out)
        horizon = now + dt.timedelta(hours=max(hours.values()))
        soon = or_(*(and_(Case.case_type == k, Case.due_at < now + dt.timedelta(hours=h))
                     for k, h in hours.items() if h > 0)) if any(hours.values()) else None
        overdue = func.sum(case((Case.due_at < now, 1), else_=0))
        due_soon = func.sum(case((and_(Case.due_at >= now, soon), 1), else_=0)) if soon is not None else None
        cols = [Case.case_type, overdue] + ([due_soon] if due_soon is not None else [])
        stmt = filtered(w, {}, select(*cols)).where(Case.closed_at.is_(None), Case.due_at < horizon,
                                                    Case.case_type.in_(keys), sc.arose(Case.org_unit_id))
        for row in s.execute(stmt.group_by(Case.case_type)):
            out[row[0]]["overdue"] = int(row[1] or 0)
            if due_soon is not None:
                out[row[0]]["due_soon"] = int(row[2] or 0)
        stmt = filtered(w, {}, select(Case.case_type, func.count(Case.id))).where(
            Case.closed_at >= month_start, Case.case_type.in_(keys), sc.arose(Case.org_unit_id))
        for k, n in s.execute(stmt.group_by(Case.case_type)):
            out[k]["closed_this_month"] = n
    items = list(out.values())
    total = {f: sum(i[f] for i in items) for f in ("open", "due_soon", "overdue", "closed_this_month")}
    return {"org_unit_id": sc.parent.id if sc.parent else None, "as_of": now, "month_from": month_start,
            "items": items, "total": total}


def _open_counts(w: Work, sc: Scope, out: dict) -> None:
    """Open cases per type: from the tally where it answers exactly, else from the open-case index."""
    tallied = [k for k in sc.types if k in sc.whole]
    if tallied:
        open_states = [(k, s.key) for k in tallied for s in sc.types[k].states if not s.closed]
        stmt = (select(CaseTally.case_type, CaseTally.state, cast(func.sum(CaseTally.n), BigInteger))
                .where(CaseTally.case_type.in_(tallied), sc.arose(CaseTally.org_unit_id))
                .group_by(CaseTally.case_type, CaseTally.state))
        for k, state, n in w.session.execute(stmt):
            if (k, state) in open_states:
                out[k]["open"] += int(n or 0)
    rest = [k for k in sc.types if k not in sc.whole]
    if rest:
        stmt = filtered(w, {"status": "open"}, select(Case.case_type, func.count(Case.id))).where(
            Case.case_type.in_(rest), sc.arose(Case.org_unit_id))
        for k, n in w.session.execute(stmt.group_by(Case.case_type)):
            out[k]["open"] = n


# --- on-time rate -------------------------------------------------------------------------------

def on_time(w: Work, group_by: str, unit_id: int | None = None, case_type: str | None = None,
            date_from: dt.date | None = None, date_to: dt.date | None = None) -> dict:
    """Time limits that ended in the period (stopped) and the share of them met, per group.

    A limit counts once it has stopped (the act it waited for happened, or the case was
    closed); running limits are not counted yet. Limits of withdrawn (cancelled) tasks are
    left out: they stopped because the task was taken back, not because it was done; so are
    windows (an objection window: nothing to meet, ``met`` stays empty).
    """
    sc = scope(w, unit_id, case_type)
    start, end = period(date_from, date_to)
    met = func.sum(case((CaseDeadline.met.is_(True), 1), else_=0))
    column = OrgUnit.path if group_by == "unit" else Case.case_type
    base = select(column, func.count(CaseDeadline.id), met).select_from(CaseDeadline).join(
        Case, (Case.id == CaseDeadline.case_id) & (Case.tenant_id == CaseDeadline.tenant_id))
    if group_by == "unit":
        base = _join_unit(base, Case.org_unit_id)
    stmt = filtered(w, {"case_type": case_type}, base).where(
        CaseDeadline.state == "stopped", CaseDeadline.met.is_not(None), Case.case_type.in_(list(sc.types)),
        sc.arose(Case.org_unit_id),
        or_(CaseDeadline.task_id.is_(None),
            CaseDeadline.task_id.not_in(select(CaseTask.id).where(CaseTask.state == "cancelled"))))
    if start is not None:
        stmt = stmt.where(CaseDeadline.stopped_at >= start)
    if end is not None:
        stmt = stmt.where(CaseDeadline.stopped_at < end)
    found: dict[str, list[int]] = {}
    key = _unit_key(sc) if group_by == "unit" else str
    for k, n, m in w.session.execute(stmt.group_by(column)):
        acc = found.setdefault(key(k), [0, 0])
        acc[0] += n
        acc[1] += int(m or 0)
    if group_by == "unit":
        rows = [r for r in _unit_rows(w, sc) if _keep(r, r["key"] in found)]
    else:
        rows = [{"key": k, "label": t.title} for k, t in sc.types.items()]
    items = [_rate(r["key"], r["label"], *found.get(r["key"], [0, 0])) for r in rows]
    total = _rate("total", "合计", sum(i["stopped"] for i in items), sum(i["met"] for i in items))
    return {"group_by": group_by, "org_unit_id": sc.parent.id if sc.parent else None,
            "date_from": date_from, "date_to": date_to, "items": items, "total": total}


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
        case_type: str | None = None) -> dict:
    """Cases registered this year to date against the same period last year, with the change."""
    sc = scope(w, unit_id, case_type)
    year = year or today().year
    (a1, b1), (a0, b0) = yoy_periods(year)
    (s1, e1), (s0, e0) = period(a1, b1), period(a0, b0)
    this = func.sum(case((Case.created_at >= s1, 1), else_=0))   # the two periods do not overlap
    column = OrgUnit.path if group_by == "unit" else Case.case_type
    base = select(column, this, func.count(Case.id)).select_from(Case)
    if group_by == "unit":
        base = _join_unit(base, Case.org_unit_id)
    stmt = filtered(w, {"case_type": case_type}, base).where(
        or_(and_(Case.created_at >= s0, Case.created_at < e0), and_(Case.created_at >= s1, Case.created_at < e1)),
        Case.case_type.in_(list(sc.types)), sc.arose(Case.org_unit_id))
    found: dict[str, list[int]] = {}
    key = _unit_key(sc) if group_by == "unit" else str
    for k, n_this, n_all in w.session.execute(stmt.group_by(column)):
        acc = found.setdefault(key(k), [0, 0])
        acc[0] += int(n_this or 0)
        acc[1] += int(n_all or 0) - int(n_this or 0)
    if group_by == "unit":
        rows = [r for r in _unit_rows(w, sc) if _keep(r, r["key"] in found)]
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
