"""Who may see a case and act on it: one SQL predicate for lists, one check per act.

A case is visible, for a permission, to whoever holds that permission on the unit where
it arose or on the unit of any of its tasks (the lead and co-units it was diverted to)
that was not withdrawn: a cancelled task (撤回协办, or every open task of an earlier
diversion when the case is diverted again) grants nothing. A task done or returned still
does (its unit worked on the case). The rule is :func:`granting_task`, read by the lists'
predicate (:func:`visible`, behind the list, keyword search, ledger exports, statistics and
the dashboard) and by the detail (:func:`load_case`) alike. Its type's plugin must be
enabled for the county. Anything else answers 404, exactly like a case that does not exist.
"""
from __future__ import annotations

from sqlalchemy import Select, and_, any_, exists, false, func, or_, select, true
from sqlalchemy.orm import Session

from core.authz import Grants, may, minimal_paths, require, unit_path, unit_scope
from core.bounds import id_path
from core.cases.models import Case, CaseTask
from core.cases.types import CaseType
from core.errors import Forbidden, NotFound
from core.models import OrgUnit
from core.orgtree import within


def units_in_scope(grants: Grants, perm: str) -> Select:
    return select(OrgUnit.id).where(unit_scope(grants, perm))


def granting_task():
    """SQL predicate on ``CaseTask``: the tasks through which their unit sees the case."""
    return CaseTask.state != "cancelled"


SMALL_SCOPE = 32  # units: up to this many, a scope's unit ids are read and bound (see in_subtrees)


def _small_scope(session: Session | None, units: Select) -> list[int] | None:
    """The ids of ``units`` if there are at most :data:`SMALL_SCOPE` (PostgreSQL), else ``None``."""
    if session is None or session.get_bind().dialect.name != "postgresql":
        return None
    ids = list(session.scalars(units.limit(SMALL_SCOPE + 1)))
    return ids if len(ids) <= SMALL_SCOPE else None


def small_scope_ids(session: Session, paths: tuple[str, ...]) -> list[int] | None:
    """The unit ids of the subtrees at ``paths`` if they are a small scope (at most
    :data:`SMALL_SCOPE` units, PostgreSQL), else ``None``."""
    return _small_scope(session, select(OrgUnit.id).where(or_(*(within(p) for p in paths))))


def in_subtrees(paths: tuple[str, ...], session: Session | None = None):
    """SQL predicate on ``Case``: arose in one of the subtrees at ``paths``, or has a granting
    task there (the rule of this module) — never thousands of bound unit ids.

    A township officer's list bound 2,991 ids (996 units, three times) at 1M cases, and 44 % of
    its time was Python building and psycopg parsing them (issue 24). Now a scope reaches SQL
    one of two ways, both with a good plan (bench/results/search.md):

    - **a large subtree** (more than :data:`SMALL_SCOPE` units): path ranges on the
      ``(tenant_id, path)`` index in a subquery, two values per path. Under the ``OR``
      PostgreSQL keeps it a hashed subplan computed once, never the semi-join whose size it
      cannot estimate (the tenant and the path are correlated: it guesses one unit for a
      township of 996, and then reads its 83,662 cases unit by unit and sorts them, 3.7 s,
      instead of walking ``ix_case_record_created`` for the newest 21, 1 ms);
    - **a small subtree** (a village, a grid; PostgreSQL): its few unit ids, read first, and the
      tasks' cases as one array (``= ANY (ARRAY(SELECT …))``), so both arms can use an index
      (``BitmapOr``): a grid's 684 cases are found through ``ix_case_record_unit`` instead of
      walking the county's 950,000 (the ``OR`` with a correlated ``EXISTS`` could use none).
    """
    units = select(OrgUnit.id).where(or_(*(within(p) for p in paths)))
    ids = _small_scope(session, units)
    if ids is not None:
        tasks = select(CaseTask.case_id).where(CaseTask.org_unit_id.in_(ids), granting_task())
        return or_(Case.org_unit_id.in_(ids), Case.id == any_(func.array(tasks.scalar_subquery())))
    has_task = exists().where(CaseTask.tenant_id == Case.tenant_id, CaseTask.case_id == Case.id,
                              CaseTask.org_unit_id.in_(units), granting_task())
    return or_(Case.org_unit_id.in_(units), has_task)


def in_subtree(session: Session, column, path: str):
    """SQL predicate: the unit in ``column`` lies in the subtree at ``path`` (a drill-down's
    ``org_unit_id`` / ``handling_unit_id``), with the plans of :func:`in_subtrees`: a small
    subtree's ids, else the path range as a hashed subplan — ``coalesce`` keeps PostgreSQL from
    turning it into the misestimated semi-join (3.7 s for a township's newest 21 at 1M cases)."""
    units = select(OrgUnit.id).where(within(path))
    ids = _small_scope(session, units)
    if ids is not None:
        return column.in_(ids)
    if session.get_bind().dialect.name != "postgresql":
        return column.in_(units)
    return func.coalesce(column.in_(units), false())


def visible(session: Session, grants: Grants, perm: str):
    """SQL predicate on ``Case``: arose in scope, or has a task in scope (:func:`in_subtrees`).

    County-wide, nothing to filter.
    """
    if grants.county_wide(perm):
        return true()  # every case of the county (the query is bound to the county)
    paths = grants.paths(perm)
    return in_subtrees(paths, session) if paths else false()


def readable(session: Session, grants: Grants, types: dict[str, CaseType]):
    """SQL predicate: cases of the enabled ``types`` the user may read (each type's read permission).

    Types whose read permissions reach the same subtrees share one scope predicate (a user
    usually holds every type's read permission on the same units).
    """
    by_scope: dict[tuple[str, ...] | None, list[str]] = {}
    for ctype in types.values():
        perm = ctype.read_permission
        if grants.has(perm):
            by_scope.setdefault(None if grants.county_wide(perm) else grants.paths(perm), []).append(ctype.key)
    if not by_scope:
        return false()
    return or_(*(and_(Case.case_type.in_(sorted(keys)), true() if paths is None else in_subtrees(paths, session))
                 for paths, keys in sorted(by_scope.items(), key=lambda kv: kv[0] or ())))


def scope_paths(grants: Grants, types: dict[str, CaseType]) -> tuple[str, ...] | None:
    """The subtrees where the user reads cases of some enabled type: ``None`` if county-wide
    for any of them (the keyword search narrows its candidates to these; ``readable`` still
    decides)."""
    paths: set[str] = set()
    for ctype in types.values():
        perm = ctype.read_permission
        if grants.county_wide(perm):
            return None
        paths.update(grants.paths(perm))
    return minimal_paths(paths)


def task_units(session: Session, case: Case) -> list[int]:
    """The units of the case's tasks that let them see it (:func:`granting_task`)."""
    return list(session.scalars(select(CaseTask.org_unit_id).where(CaseTask.case_id == case.id, granting_task())))


def dispatchers(session: Session, case: Case) -> list[int]:
    """Who sent the case on its way — its registrant and every user who dispatched a task of it:
    the people told of its answers, returns and ratings (issue 15, item 8)."""
    ids = set(session.scalars(select(CaseTask.assigned_by).where(CaseTask.case_id == case.id,
                                                                 CaseTask.assigned_by.is_not(None))))
    return sorted(ids | ({case.created_by} if case.created_by else set()))


def covers(session: Session, grants: Grants, perm: str, unit_id: int | None) -> bool:
    if unit_id is None or not grants.has(perm):
        return False
    path = unit_path(session, unit_id)
    return path is not None and grants.covers(perm, path)


def load_case(session: Session, grants: Grants, case_id: int, types: dict[str, CaseType],
              lock: bool = False) -> tuple[Case, CaseType]:
    """The case if the user may read it (else 404); ``lock`` takes its row lock for an act."""
    stmt = select(Case).where(Case.id == case_id)
    if lock:
        stmt = stmt.with_for_update()
    case = session.scalar(stmt)
    if case is None or case.case_type not in types:
        raise NotFound()
    ctype = types[case.case_type]
    require(grants, ctype.read_permission)
    units = [case.org_unit_id, *task_units(session, case)]
    if not any(covers(session, grants, ctype.read_permission, u) for u in units):
        raise NotFound()
    return case, ctype


def require_on(session: Session, grants: Grants, perm: str, case: Case, units: list[int | None],
               message: str = "该操作只能由相关单位办理") -> int:
    """403 unless ``perm`` covers one of ``units`` of a case the user can already see.

    Returns the first covered unit (the unit the user acts for).
    """
    require(grants, perm)
    for unit in units:
        if covers(session, grants, perm, unit):
            return unit  # type: ignore[return-value]
    raise Forbidden("not_your_unit", message)


def case_units(case: Case) -> list[int | None]:
    """Where a case-level act may come from: the lead handling unit, then where it arose."""
    return [case.handling_unit_id, case.org_unit_id]


def request_case(case_id: str, lock: bool = False, case_type: str | None = None, perm: str | None = None):
    """``(work, case, case_type)`` for a case id from a URL in the current request (404 as
    :func:`load_case`); ``lock`` for an act that changes the case. A module's endpoint passes
    its ``case_type`` (another type answers 404) and the ``perm`` it needs on the case's
    handling or arising unit (403 without it)."""
    from core.cases.timeline import request_work
    w = request_work()
    case, ctype = load_case(w.session, w.grants, id_path(case_id), w.types, lock=lock)
    if case_type is not None and case.case_type != case_type:
        raise NotFound()
    if perm is not None:
        units = {case.handling_unit_id, case.org_unit_id} - {None}
        if not any(may(w.session, w.grants, perm, u) for u in units):
            raise Forbidden("forbidden", f"您在该事项所在单位没有权限：{perm}")
    return w, case, ctype
