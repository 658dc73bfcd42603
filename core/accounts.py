"""Staff accounts (ORG-5): create one in a unit you manage, lock, unlock, reset its password.

One service for ``/api/users`` and the admin console. A new account, and one whose password
an admin reset, must change its password at the next log-in (``must_change_password``); the
one-time password is returned once, never stored in clear, and expires after
``PINGAN_ONE_TIME_PASSWORD_HOURS`` (24 h; ``password_set_at``). Locking and resetting end all
the account's sessions. Rows are audited on flush; a reset is logged as its own entry (the
hash itself is never recorded).

Anti-escalation (the rule role assignment follows): managing an account — edit, disable,
lock, unlock, reset its password, bind it to an OAuth client as its service user — needs
``core.user.manage`` over the account's home unit (else 404) *and* over every unit where the
account holds a role, with every permission of that role held there too (else 403
``account_beyond_reach``). Whoever takes over an account can then do nothing they could not
already do. :func:`check_manageable` is that check; every write here calls it.
"""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit, auth
from core.authz import Grants, get_or_404
from core.context import shows_secret_once
from core.errors import Conflict, Forbidden
from core.models import MemberUnit, OrgUnit, RoleAssignment, RolePermission, User

READ, MANAGE = "core.user.read", "core.user.manage"
LOCKED_FOR_GOOD = datetime(9999, 12, 31, tzinfo=timezone.utc)  # until an admin unlocks


def check_member_unit(session: Session, grants: Grants, member_unit_id: int | None) -> None:
    """A referenced member unit must exist and be visible to the caller (else 404)."""
    if member_unit_id is not None:
        get_or_404(session, grants, MemberUnit, member_unit_id, "core.member_unit.read")


def create_user(session: Session, grants: Grants, data: dict) -> tuple[User, str]:
    """A new account in a unit the caller manages (``data`` as ``UserCreateSchema`` loads it);
    returns it with its one-time password (the given one, or a generated one)."""
    data = dict(data)
    get_or_404(session, grants, OrgUnit, data["org_unit_id"], MANAGE)
    check_member_unit(session, grants, data.get("member_unit_id"))
    if session.scalar(select(User.id).where(User.username == data["username"])):
        raise Conflict("username_taken", "该用户名已被使用", {"json": {"username": ["该用户名已被使用"]}})
    password = data.pop("password", None) or auth.one_time_password()
    shows_secret_once()  # the answer carries the one-time password
    user = User(**data, password_hash=auth.hash_password(password), must_change_password=True)
    session.add(user)
    session.flush()
    return user, password


def beyond_reach(session: Session, grants: Grants, user: User) -> list[str]:
    """The paths of the units where ``user`` holds a role that ``grants`` do not cover — for
    ``core.user.manage`` and for each of the role's permissions (empty: the account is manageable)."""
    rows = session.execute(
        select(OrgUnit.path, RolePermission.permission)
        .join(RoleAssignment, RoleAssignment.org_unit_id == OrgUnit.id)
        .outerjoin(RolePermission, RolePermission.role_id == RoleAssignment.role_id)
        .where(RoleAssignment.user_id == user.id)).all()
    return sorted({path for path, perm in rows
                   if not grants.covers(MANAGE, path) or (perm is not None and not grants.covers(perm, path))})


def check_manageable(session: Session, grants: Grants, user: User, field: str | None = None) -> None:
    """403 ``account_beyond_reach`` unless the caller covers every role the account holds
    (see the module's docstring); ``field`` names the request field at fault, if any."""
    if beyond_reach(session, grants, user):
        message = "该账号在您管辖范围以外的单位持有角色（或持有您不具备的权限），只能由上级管理员管理"
        raise Forbidden("account_beyond_reach", message, {"json": {field: [message]}} if field else None)


def managed_user(session: Session, grants: Grants, user_id) -> User:
    """The account by id, for a management act: 404 outside the caller's scope, 403 when it
    holds roles beyond the caller's reach."""
    user = get_or_404(session, grants, User, user_id, MANAGE)
    check_manageable(session, grants, user)
    return user


def is_locked(user: User) -> bool:
    return bool(user.locked_until and user.locked_until > auth.utcnow())


def lock(session: Session, grants: Grants, user: User) -> None:
    """Lock the account until an admin unlocks it, and end all its sessions."""
    check_manageable(session, grants, user)
    user.locked_until = LOCKED_FOR_GOOD
    auth.end_all_sessions(session, user.id)


def unlock(session: Session, grants: Grants, user: User) -> None:
    check_manageable(session, grants, user)
    user.locked_until = None
    user.failed_logins = 0


def reset_password(session: Session, grants: Grants, user: User) -> str:
    """A new one-time password (returned once, good for ``one_time_password_hours``); the user
    must change it at the next log-in. Every session of the account ends and its personal
    access tokens and OAuth tokens are revoked: whoever held the old password, or a token
    minted with it, holds nothing any more."""
    check_manageable(session, grants, user)
    password = auth.one_time_password()
    shows_secret_once()
    user.password_hash = auth.hash_password(password)
    user.password_set_at = auth.utcnow()
    user.must_change_password = True
    auth.end_all_sessions(session, user.id)
    revoked = auth.revoke_all_tokens(session, user.id, "password_reset")
    audit.record(session, "reset_password", "app_user", user.id, {"revoked_tokens": revoked})
    return password


def update_user(session: Session, grants: Grants, user: User, data: dict) -> User:
    """Change an account (``UserUpdateSchema``'s fields); a move needs the new unit managed too,
    and a disabled account's sessions end."""
    check_manageable(session, grants, user)
    if "org_unit_id" in data:
        get_or_404(session, grants, OrgUnit, data["org_unit_id"], MANAGE)
    check_member_unit(session, grants, data.get("member_unit_id"))
    for key, value in data.items():
        setattr(user, key, value)
    if data.get("status") == "disabled":
        auth.end_all_sessions(session, user.id)
    session.flush()
    return user
