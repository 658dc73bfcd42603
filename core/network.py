"""The governance network's unit-scoped records (ORG-3 member units, ORG-4 network roles):
create in a unit you manage, change, delete, and a member unit's staff (the users who handle
the tasks dispatched to it, :func:`set_staff`). One service for ``/api/member-units``,
``/api/network-roles`` and the admin console; rows are audited on flush.
"""
from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select, true
from sqlalchemy.orm import Session

from core.authz import Grants, get_or_404, may
from core.errors import Conflict
from core.models import MemberUnit, OrgUnit, User

BeforeSave = Callable[[object, dict], None]


def _flush(session: Session, obj) -> None:
    """Flush, refusing first a member unit whose name its centre already has (a 409 at ``name``)."""
    if isinstance(obj, MemberUnit):
        with session.no_autoflush:
            clash = session.scalar(select(MemberUnit.id).where(
                MemberUnit.org_unit_id == obj.org_unit_id, MemberUnit.name == obj.name,
                MemberUnit.id != obj.id if obj.id is not None else true()))
        if clash:
            raise Conflict("duplicate_name", "该单位已有同名的成员单位", {"json": {"name": ["该单位已有同名的成员单位"]}})
    session.flush()


def create(session: Session, grants: Grants, model, data: dict, manage: str, before_save: BeforeSave | None = None):
    """A new record in a unit the caller manages (``manage``)."""
    get_or_404(session, grants, OrgUnit, data["org_unit_id"], manage)
    obj = model()
    for key, value in data.items():
        setattr(obj, key, value)
    (before_save or (lambda o, d: None))(obj, data)
    session.add(obj)
    _flush(session, obj)
    return obj


def update(session: Session, grants: Grants, obj, data: dict, manage: str, before_save: BeforeSave | None = None):
    """Change a record the caller manages; moving it needs the new unit managed too."""
    if "org_unit_id" in data:
        get_or_404(session, grants, OrgUnit, data["org_unit_id"], manage)
    with session.no_autoflush:  # the checks of before_save must not flush the unchecked values
        for key, value in data.items():
            setattr(obj, key, value)
        (before_save or (lambda o, d: None))(obj, data)
    _flush(session, obj)
    return obj


def delete(session: Session, obj) -> None:
    """Delete a record; a member unit's staff keep their accounts (unlinked), and a member unit
    that was dispatched tasks is refused (409 ``member_unit_in_use``: deactivate it instead)."""
    if isinstance(obj, MemberUnit):
        from core.cases.models import CaseTask  # (the case engine sits above; read on use)
        if session.scalar(select(CaseTask.id).where(CaseTask.member_unit_id == obj.id).limit(1)) is not None:
            raise Conflict("member_unit_in_use", "该成员单位已有交办任务，不能删除，可以停用")
        for user in session.scalars(select(User).where(User.member_unit_id == obj.id)):
            user.member_unit_id = None
    session.delete(obj)
    session.flush()


# --- a member unit's staff (issue 15, item 7) -------------------------------------------------

USER_MANAGE = "core.user.manage"


def staff_candidates(session: Session, member_ids_by_seat: dict[int, list[int]]) -> dict[int, list[User]]:
    """Per seat unit: its active users, the people a member unit seated there may be staffed with."""
    out: dict[int, list[User]] = {seat: [] for seat in member_ids_by_seat}
    if out:
        for user in session.scalars(select(User).where(User.org_unit_id.in_(list(out)), User.status == "active")
                                    .order_by(User.display_name, User.id)):
            out[user.org_unit_id].append(user)
    return out


def set_staff(session: Session, grants: Grants, member: MemberUnit, user_ids: list[int]) -> list[int]:
    """Make exactly ``user_ids`` the member unit's staff (``User.member_unit_id``): the users who
    acknowledge, answer and return the tasks dispatched to it. Each must be an active user of
    its seat unit whose account the caller manages (else 404 ``user_not_found`` at ``staff``);
    a user taken off the staff keeps their account. Audited (the users' rows, and the act)."""
    from core import audit
    from core.errors import NotFound
    if not may(session, grants, USER_MANAGE, member.org_unit_id):
        message = "您不能管理该单位的用户"
        raise NotFound("user_not_found", message, {"json": {"staff": [message]}})
    wanted = set(user_ids)
    found = {u.id: u for u in session.scalars(select(User).where(User.id.in_(wanted or {-1}),
                                                                 User.org_unit_id == member.org_unit_id,
                                                                 User.status == "active"))}
    if set(found) != wanted:
        message = "用户不存在、已停用或不在该成员单位所在单位"
        raise NotFound("user_not_found", message, {"json": {"staff": [message]}})
    before = set(session.scalars(select(User.id).where(User.member_unit_id == member.id)))
    for user in session.scalars(select(User).where(User.member_unit_id == member.id, User.id.not_in(wanted or {-1}))):
        user.member_unit_id = None
    for user in found.values():
        user.member_unit_id = member.id
    session.flush()
    audit.record(session, "member_unit.staff", "member_unit", member.id,
                 {"added": sorted(wanted - before), "removed": sorted(before - wanted)})
    return sorted(wanted)
