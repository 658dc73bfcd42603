"""Authentication: passwords, web sessions, lockout, CSRF, personal access tokens.

The tenant of a request comes from its host name (``tenant_domain``, then
``<slug>.<PINGAN_BASE_DOMAIN>``, then ``PINGAN_DEFAULT_TENANT``); API clients carry their
tenant in the token itself (``pat_<tenant>_…`` and ``oat_<tenant>_…``). A token presented
on another tenant's host name is refused.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session

from core import audit
from core.config import Config
from core.context import Actor, set_actor
from core.db import config_generation, utcnow
from core.errors import Forbidden, Invalid, TooManyRequests, Unauthorized
from core.authz import Grants, minimal_paths
from core.models import (AccessToken, LoginAttempt, OrgUnit, RoleAssignment, RolePermission, Tenant, TenantDomain,
                         User, WebSession)

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("pingan-timing-equaliser")
PASSWORD_MIN, PASSWORD_MAX = 8, 128


def active_user(session: Session, user_id: int) -> User | None:
    """The user, if the account may act now: exists, not disabled, not locked."""
    user = session.scalar(select(User).where(User.id == user_id))
    return user if may_act(user) else None


def may_act(user: User | None) -> bool:
    return user is not None and user.status == "active" and not (user.locked_until and user.locked_until > utcnow())


def with_user_and_grants(anchor, user_id_column) -> Select:
    """``anchor`` (a token or web session row) joined with its user and every (permission,
    unit path) pair of the user's role assignments: what ``authz.load_grants`` reads, in the
    same round trip. A user without assignments gives one row with NULL pairs."""
    return (select(anchor, User, RolePermission.permission, OrgUnit.path)
            .join(User, (User.tenant_id == anchor.tenant_id) & (User.id == user_id_column))
            .outerjoin(RoleAssignment, (RoleAssignment.tenant_id == User.tenant_id) & (RoleAssignment.user_id == User.id))
            .outerjoin(RolePermission, (RolePermission.tenant_id == RoleAssignment.tenant_id)
                       & (RolePermission.role_id == RoleAssignment.role_id))
            .outerjoin(OrgUnit, (OrgUnit.tenant_id == RoleAssignment.tenant_id)
                       & (OrgUnit.id == RoleAssignment.org_unit_id)))


def grants_of(user: User, rows) -> Grants:
    """The grants in the rows of :func:`with_user_and_grants` (columns 2 and 3; a query may add more)."""
    acc: dict[str, set[str]] = {}
    for row in rows:
        perm, path = row[2], row[3]
        if perm is not None and path is not None:
            acc.setdefault(perm, set()).add(path)
    return Grants(user.id, {perm: minimal_paths(paths) for perm, paths in acc.items()})


def hash_password(password: str) -> str:
    check_password_policy(password)
    return _hasher.hash(password)


def check_password_policy(password: str, field: str = "password") -> None:
    """ASVS 5 §6.2: at least 8 characters, at most 128, no composition rules."""
    if len(password) < PASSWORD_MIN:
        raise Invalid(field, "password_too_short", f"密码至少需要 {PASSWORD_MIN} 个字符")
    if len(password) > PASSWORD_MAX:
        raise Invalid(field, "password_too_long", f"密码不能超过 {PASSWORD_MAX} 个字符")


def verify_password(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# --- tenant resolution --------------------------------------------------------------------

class HostResolver:
    """Host name → tenant id, cached for a minute in each process (a new domain takes up to
    a minute in the other processes); a write to ``tenant``/``tenant_domain`` committed in
    this process drops the cache at once (``core.db.config_generation``)."""

    def __init__(self, config: Config, ttl: float = 60.0) -> None:
        self.config = config
        self.ttl = ttl
        self._cache: dict[str, tuple[int | None, bool, float, int]] = {}

    def resolve(self, session: Session, host: str) -> tuple[int | None, bool]:
        """(tenant id, explicit): explicit when the host itself names the tenant, not the default."""
        host = host.split(":")[0].strip().lower().rstrip(".")
        hit = self._cache.get(host)
        generation = config_generation()
        if hit and hit[2] > time.monotonic() and hit[3] == generation:
            return hit[0], hit[1]
        tid = session.scalar(select(TenantDomain.tenant_id).where(TenantDomain.host == host))
        base = self.config.base_domain
        if tid is None and base and host.endswith("." + base):
            tid = session.scalar(select(Tenant.id).where(Tenant.slug == host[: -len(base) - 1]))
        explicit = tid is not None
        if tid is None and self.config.default_tenant:
            tid = session.scalar(select(Tenant.id).where(Tenant.slug == self.config.default_tenant))
        self._cache[host] = (tid, explicit, time.monotonic() + self.ttl, generation)
        return tid, explicit

    def forget(self) -> None:
        self._cache.clear()


def token_tenant(token: str) -> int | None:
    """The tenant id written into a ``pat_``/``oat_``/``ort_`` token, or None."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] not in ("pat", "oat", "ort") or not parts[1].isdigit():
        return None
    return int(parts[1])


def new_token(prefix: str, tenant_id: int) -> str:
    return f"{prefix}_{tenant_id}_{secrets.token_urlsafe(32)}"


# --- log-in, lockout, sessions ------------------------------------------------------------

@dataclass
class LoginResult:
    user: User
    cookie_token: str
    web_session: WebSession


def _fail(session: Session, username: str, ip: str, reason: str) -> None:
    session.add(LoginAttempt(username=username[:64], ip=ip, success=False, reason=reason))


def login(session: Session, config: Config, username: str, password: str, ip: str,
          user_agent: str = "") -> LoginResult:
    """Check the password and open a new server session (a new id on every log-in).

    Raises 401 ``invalid_credentials`` (same answer for a wrong name or password),
    401 ``account_locked`` while locked, 429 when the address made too many failures.
    """
    now = utcnow()
    window = now - timedelta(minutes=10)
    failures = session.scalar(select(func.count()).select_from(LoginAttempt).where(
        LoginAttempt.ip == ip, LoginAttempt.success.is_(False), LoginAttempt.at >= window))
    if failures >= config.login_ip_limit:
        raise TooManyRequests("too_many_attempts", "该地址登录失败次数过多，请 10 分钟后再试")
    user = session.scalar(select(User).where(User.username == username))
    if user is not None and user.locked_until and user.locked_until > now:
        _fail(session, username, ip, "locked")
        session.commit()
        minutes = int((user.locked_until - now).total_seconds() // 60) + 1
        raise Unauthorized("account_locked", f"账号已被锁定，请 {minutes} 分钟后再试或联系管理员")
    password_ok = verify_password(user.password_hash if user else None, password)  # same cost either way
    if user is None or user.status != "active" or not password_ok:
        _fail(session, username, ip, "bad_password" if user else "unknown_user")
        if user is not None and user.status == "active":
            user.failed_logins += 1
            if user.failed_logins >= config.login_max_failures:
                user.locked_until = now + timedelta(minutes=config.login_lock_minutes)
                user.failed_logins = 0
                end_all_sessions(session, user.id)
                audit.record(session, "lock", "app_user", user.id, {"reason": "too_many_failures"})
        session.commit()
        raise Unauthorized("invalid_credentials", "用户名或密码错误")
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    token = secrets.token_urlsafe(32)
    ws = WebSession(token_hash=token_hash(token), user_id=user.id, csrf_token=secrets.token_urlsafe(32),
                    ip=ip, user_agent=(user_agent or "")[:200])
    session.add(ws)
    session.add(LoginAttempt(username=username, ip=ip, success=True))
    set_actor(Actor(user.id, f"user:{user.username}"))
    audit.record(session, "login", "app_user", user.id, {"ip": ip})
    session.commit()
    return LoginResult(user, token, ws)


def end_all_sessions(session: Session, user_id: int) -> None:
    session.execute(update(WebSession).where(WebSession.user_id == user_id, WebSession.ended_at.is_(None))
                    .values(ended_at=utcnow()).execution_options(synchronize_session=False))


def session_user(session: Session, config: Config, cookie_token: str) -> tuple[WebSession, User] | None:
    """The live session and its user for a cookie, applying idle and absolute timeouts."""
    found = session_principal(session, config, cookie_token)
    return None if found is None else found[:2]


def session_principal(session: Session, config: Config,
                      cookie_token: str) -> tuple[WebSession, User, Grants] | None:
    """The live session, its user and the user's grants for a cookie — one query, read on
    every request (an ended session, a locked user, a removed grant count at once)."""
    rows = session.execute(with_user_and_grants(WebSession, WebSession.user_id)
                           .where(WebSession.token_hash == token_hash(cookie_token))).all()
    if not rows:
        return None
    ws, user = rows[0][0], rows[0][1]
    if ws.ended_at is not None:
        return None
    now = utcnow()
    if now - ws.last_seen_at > timedelta(minutes=config.session_idle_minutes) \
            or now - ws.created_at > timedelta(hours=config.session_max_hours):
        ws.ended_at = now
        session.commit()
        return None
    if not may_act(user):
        return None
    if now - ws.last_seen_at > timedelta(seconds=60):
        ws.last_seen_at = now
        session.commit()
    return ws, user, grants_of(user, rows)


def logout(session: Session, ws: WebSession) -> None:
    ws.ended_at = utcnow()
    audit.record(session, "logout", "app_user", ws.user_id)
    session.commit()


def csrf_ok(ws: WebSession, presented: str | None) -> bool:
    return bool(presented) and hmac.compare_digest(ws.csrf_token, presented)


def change_password(session: Session, user: User, old: str, new: str) -> None:
    if not verify_password(user.password_hash, old):
        # well-formed but the proof of identity failed: 403, with the field named for forms
        raise Forbidden("wrong_password", "原密码不正确", {"json": {"old_password": ["原密码不正确"]}})
    check_password_policy(new, "new_password")
    if old == new:
        raise Invalid("new_password", "password_unchanged", "新密码不能与原密码相同")
    user.password_hash = _hasher.hash(new)
    user.must_change_password = False


# --- personal access tokens ---------------------------------------------------------------

def create_access_token(session: Session, user: User, name: str, scope: str = "",
                        expires_at: datetime | None = None) -> tuple[AccessToken, str]:
    token = new_token("pat", user.tenant_id)
    row = AccessToken(user_id=user.id, name=name, token_hash=token_hash(token), scope=scope,
                      expires_at=expires_at)
    session.add(row)
    session.flush()
    return row, token


def access_token_user(session: Session, token: str) -> tuple[User, set[str] | None] | None:
    found = access_token_principal(session, token)
    return None if found is None else found[:2]


def access_token_principal(session: Session, token: str) -> tuple[User, set[str] | None, Grants] | None:
    """The token's user, its scopes and the user's grants (not yet cut to the scopes) — one
    query, read on every request: a revoked or expired token, a disabled or locked user, a
    removed role assignment count from the very next request."""
    rows = session.execute(with_user_and_grants(AccessToken, AccessToken.user_id)
                           .where(AccessToken.token_hash == token_hash(token))).all()
    now = utcnow()
    row = rows[0][0] if rows else None
    if row is None or row.revoked_at or (row.expires_at and row.expires_at <= now):
        return None
    user = rows[0][1]
    if not may_act(user):
        return None
    grants = grants_of(user, rows)
    if row.last_used_at is None or now - row.last_used_at > timedelta(hours=1):
        # usage telemetry, at most hourly: a Core update, not an audited change of the token
        session.execute(update(AccessToken.__table__).where(
            AccessToken.__table__.c.tenant_id == row.tenant_id, AccessToken.__table__.c.id == row.id)
            .values(last_used_at=now))
        session.commit()
    scopes = set(row.scope.split()) if row.scope.strip() else None
    return user, scopes, grants
