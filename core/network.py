"""The governance network's unit-scoped records (ORG-3 member units, ORG-4 network roles):
create in a unit you manage, change, delete. One service for ``/api/member-units``,
``/api/network-roles`` and the admin console; rows are audited on flush.
"""
from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select, true
from sqlalchemy.orm import Session

from core.authz import Grants, get_or_404
from core.errors import Conflict
from core.models import MemberUnit, OrgUnit

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
    session.delete(obj)
    session.flush()
