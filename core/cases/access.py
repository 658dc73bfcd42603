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

from sqlalchemy import Select, and_, exists, false, or_, select, true
from sqlalchemy.orm import Session

from core.authz import Grants, may, require, unit_path, unit_scope
from core.cases.models import Case, CaseTask
from core.cases.types import CaseType
from core.errors import Forbidden, NotFound
from core.models import OrgUnit


def units_in_scope(grants: Grants, perm: str) -> Select:
    return select(OrgUnit.id).where(unit_scope(grants, perm))


def granting_task():
    """SQL predicate on ``CaseTask``: the tasks through which their unit sees the case."""
    return CaseTask.state != "cancelled"


def visible(session: Session, grants: Grants, perm: str):
    """SQL predicate on ``Case``: arose in scope, or has a task in scope.

    County-wide, nothing to filter. Otherwise the units in scope are read first and the
    predicate lists their ids. The database could read them itself in a subquery, but it
    cannot estimate how many units a path range holds within one county (the tenant and
    the path are correlated, which its statistics do not know): it guessed 39 units for a
    township of 996 and chose to read all 10,567 of its cases and sort them, 47 ms, instead
    of walking the creation-date index for the newest 21, 1.8 ms (1M cases,
    bench/results/cases.md). With the ids in hand it knows.
    """
    if grants.county_wide(perm):
        return true()  # every case of the county (the query is bound to the county)
    units = list(session.scalars(units_in_scope(grants, perm)))
    has_task = exists().where(CaseTask.tenant_id == Case.tenant_id, CaseTask.case_id == Case.id,
                              CaseTask.org_unit_id.in_(units), granting_task())
    return or_(Case.org_unit_id.in_(units), has_task)


def readable(session: Session, grants: Grants, types: dict[str, CaseType]):
    """SQL predicate: cases of the enabled ``types`` the user may read (each type's read permission)."""
    by_perm: dict[str, list[str]] = {}
    for ctype in types.values():
        if grants.has(ctype.read_permission):
            by_perm.setdefault(ctype.read_permission, []).append(ctype.key)
    if not by_perm:
        return false()
    return or_(*(and_(Case.case_type.in_(keys), visible(session, grants, perm))
                 for perm, keys in sorted(by_perm.items())))


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
    from core.api.common import id_path
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
