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
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from core import audit
from core.config import Config
from core.context import Actor, set_actor
from core.db import utcnow
from core.errors import Forbidden, Invalid, TooManyRequests, Unauthorized
from core.models import AccessToken, LoginAttempt, Tenant, TenantDomain, User, WebSession

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("pingan-timing-equaliser")
PASSWORD_MIN, PASSWORD_MAX = 8, 128


def active_user(session: Session, user_id: int) -> User | None:
    """The user, if the account may act now: exists, not disabled, not locked."""
    user = session.scalar(select(User).where(User.id == user_id))
    if user is None or user.status != "active" or (user.locked_until and user.locked_until > utcnow()):
        return None
    return user


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
    """Host name → tenant id, cached for a minute (a new domain takes up to a minute)."""

    def __init__(self, config: Config, ttl: float = 60.0) -> None:
        self.config = config
        self.ttl = ttl
        self._cache: dict[str, tuple[int | None, bool, float]] = {}

    def resolve(self, session: Session, host: str) -> tuple[int | None, bool]:
        """(tenant id, explicit): explicit when the host itself names the tenant, not the default."""
        host = host.split(":")[0].strip().lower().rstrip(".")
        hit = self._cache.get(host)
        if hit and hit[2] > time.monotonic():
            return hit[0], hit[1]
        tid = session.scalar(select(TenantDomain.tenant_id).where(TenantDomain.host == host))
        base = self.config.base_domain
        if tid is None and base and host.endswith("." + base):
            tid = session.scalar(select(Tenant.id).where(Tenant.slug == host[: -len(base) - 1]))
        explicit = tid is not None
        if tid is None and self.config.default_tenant:
            tid = session.scalar(select(Tenant.id).where(Tenant.slug == self.config.default_tenant))
        self._cache[host] = (tid, explicit, time.monotonic() + self.ttl)
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
    ws = session.scalar(select(WebSession).where(WebSession.token_hash == token_hash(cookie_token)))
    if ws is None or ws.ended_at is not None:
        return None
    now = utcnow()
    if now - ws.last_seen_at > timedelta(minutes=config.session_idle_minutes) \
            or now - ws.created_at > timedelta(hours=config.session_max_hours):
        ws.ended_at = now
        session.commit()
        return None
    user = active_user(session, ws.user_id)
    if user is None:
        return None
    if now - ws.last_seen_at > timedelta(seconds=60):
        ws.last_seen_at = now
        session.commit()
    return ws, user


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
    row = session.scalar(select(AccessToken).where(AccessToken.token_hash == token_hash(token)))
    now = utcnow()
    if row is None or row.revoked_at or (row.expires_at and row.expires_at <= now):
        return None
    user = active_user(session, row.user_id)
    if user is None:
        return None
    if row.last_used_at is None or now - row.last_used_at > timedelta(hours=1):
        # usage telemetry, at most hourly: a Core update, not an audited change of the token
        session.execute(update(AccessToken.__table__).where(
            AccessToken.__table__.c.tenant_id == row.tenant_id, AccessToken.__table__.c.id == row.id)
            .values(last_used_at=now))
        session.commit()
    scopes = set(row.scope.split()) if row.scope.strip() else None
    return user, scopes
