"""Authentication: passwords, web sessions, lockout, CSRF, personal access tokens.

The tenant of a request comes from its host name (``tenant_domain``, then
``<slug>.<PINGAN_BASE_DOMAIN>``, then ``PINGAN_DEFAULT_TENANT``); API clients carry their
tenant in the token itself (``pat_<tenant>_…`` and ``oat_<tenant>_…``). A token presented
on another tenant's host name is refused.
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Select, bindparam, func, literal, select, update
from sqlalchemy.orm import Session

from core import audit
from core.bounds import parse_int
from core.config import Config
from core.context import Actor, set_actor, shows_secret_once
from core.db import bound_tenant_id, config_generation, utcnow
from core.errors import Forbidden, Invalid, TooManyRequests, Unauthorized
from core.authz import Grants, minimal_paths
from core.models import (AccessToken, LoginAttempt, OrgUnit, RoleAssignment, RolePermission, Tenant, TenantDomain,
                         User, WebSession)

def password_hasher() -> PasswordHasher:
    """Production's argon2id: argon2-cffi's defaults (RFC 9106's second recommended option)."""
    return PasswordHasher()


_hasher = password_hasher()
_DUMMY_HASH = _hasher.hash("pingan-timing-equaliser")
PASSWORD_MIN, PASSWORD_MAX = 8, 128


def active_user(session: Session, user_id: int) -> User | None:
    """The user, if the account may act now: exists, not disabled, not locked."""
    user = session.scalar(select(User).where(User.id == user_id))
    return user if may_act(user) else None


def may_act(user: User | None) -> bool:
    return user is not None and user.status == "active" and not (user.locked_until and user.locked_until > utcnow())


def with_user_and_grants(anchor, user_id_column) -> Select:
    """``anchor`` (a token or web session row) joined with its user and, as column 2, every
    (permission, unit path) pair of the user's role assignments — what ``authz.load_grants``
    reads — in the same round trip and one row: "permission path" lines, aggregated by a
    correlated subquery (a county admin holds a hundred permissions; a row per pair made the
    ORM load the session and the user a hundred times on every request). NULL without grants."""
    pairs = (select(func.aggregate_strings(RolePermission.permission + literal(" ") + OrgUnit.path, "\n"))
             .select_from(RoleAssignment)
             .join(RolePermission, (RolePermission.tenant_id == RoleAssignment.tenant_id)
                   & (RolePermission.role_id == RoleAssignment.role_id))
             .join(OrgUnit, (OrgUnit.tenant_id == RoleAssignment.tenant_id) & (OrgUnit.id == RoleAssignment.org_unit_id))
             .where(RoleAssignment.tenant_id == User.tenant_id, RoleAssignment.user_id == User.id)
             .correlate(User).scalar_subquery())
    return (select(anchor, User, pairs)
            .join(User, (User.tenant_id == anchor.tenant_id) & (User.id == user_id_column)))


def grants_of(user: User, rows) -> Grants:
    """The grants in column 2 of a :func:`with_user_and_grants` row (a query may add columns)."""
    acc: dict[str, set[str]] = {}
    for line in ((rows[0][2] or "").split("\n") if rows else ()):
        perm, _, path = line.partition(" ")
        if perm and path:
            acc.setdefault(perm, set()).add(path)
    return Grants(user.id, {perm: minimal_paths(paths) for perm, paths in acc.items()})


# built once (a statement built per request cost more than running it): the hash is bound at execution
_SESSION_PRINCIPAL = with_user_and_grants(WebSession, WebSession.user_id).where(WebSession.token_hash == bindparam("h"))
_TOKEN_PRINCIPAL = with_user_and_grants(AccessToken, AccessToken.user_id).where(AccessToken.token_hash == bindparam("h"))


def hash_password(password: str) -> str:
    check_password_policy(password)
    return _hasher.hash(password)


# One-time passwords are read off a screen or a printed slip and typed on a phone: digits and
# lower-case letters only (no case to get wrong), none that look alike (0/o, 1/l/i), in
# groups of four.
OTP_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
OTP_GROUPS = 3


def one_time_password() -> str:
    """A generated one-time password, e.g. ``k4pd-7wxc-mt3e`` (12 characters of a
    31-character alphabet, ~59 bits; it must be changed at the first log-in)."""
    chars = "".join(secrets.choice(OTP_ALPHABET) for _ in range(4 * OTP_GROUPS))
    return "-".join(chars[i:i + 4] for i in range(0, len(chars), 4))


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
    if len(parts) != 3 or parts[0] not in ("pat", "oat", "ort"):
        return None
    return parse_int(parts[1])  # ASCII digits only: "pat_²_x" is no tenant (issue 14, finding 11)


def new_token(prefix: str, tenant_id: int) -> str:
    shows_secret_once()  # a token is shown once, to whoever asked for it
    return f"{prefix}_{tenant_id}_{secrets.token_urlsafe(32)}"


# --- log-in, lockout, sessions ------------------------------------------------------------

@dataclass
class LoginResult:
    user: User
    cookie_token: str
    web_session: WebSession


def _fail(session: Session, username: str, ip: str, reason: str) -> None:
    session.add(LoginAttempt(username=username[:64], ip=ip, success=False, reason=reason))


FAILED_LOGIN = "用户名或密码错误，或账号已被锁定"  # one answer for every failure: no name is confirmed
ONE_TIME_EXPIRED = "一次性密码已过期，请联系管理员重新设置密码"
KNOWN_SOURCE_DAYS = 90
IP_WINDOW_SECONDS = 600
NAME_CAP_FACTOR = 20  # failures of a name over every unknown source before the name-wide delay


def source_prefix(ip: str, v4_bits: int = 24) -> str:
    """The network a client address stands for: IPv6 by its /64 (one host picks addresses
    from a whole /64 at will: privacy addresses), IPv4 by its /``v4_bits`` (24: one
    subscriber's or office's range; 32: the address itself). An IPv4-mapped IPv6 address
    counts as IPv4; anything unparsable stands for itself."""
    try:
        addr = ipaddress.ip_address(ip.split("%")[0])
    except ValueError:
        return ip
    if addr.version == 6 and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    bits = v4_bits if addr.version == 4 else 64
    return str(ipaddress.ip_network(f"{addr}/{bits}", strict=False))


def known_source(session: Session, username: str, ip: str) -> bool:
    """Has this account name signed in successfully from this address in the last 90 days?"""
    return session.scalar(select(LoginAttempt.id).where(
        LoginAttempt.ip == ip, LoginAttempt.username == username, LoginAttempt.success.is_(True),
        LoginAttempt.at >= utcnow() - timedelta(days=KNOWN_SOURCE_DAYS)).limit(1)) is not None


def login(session: Session, config: Config, username: str, password: str, ip: str,
          user_agent: str = "") -> LoginResult:
    """Check the password and open a new server session (a new id on every log-in).

    Every failure answers 401 ``invalid_credentials`` with one message, whether the name is
    unknown, the password wrong, or the account locked or disabled (the password is checked
    either way: the same cost too). Brakes (issue 14):

    - per address, over every county: ``login_ip_limit`` failures in the last 10 minutes → 429
      ``too_many_attempts`` (``core.ratelimit.recent``, in Redis when there is one);
      an IPv6 address counts by its /64 (:func:`source_prefix`), an IPv4 address by itself
      (a /24 would let one stranger shut out a whole office behind it);
    - per account name *and source network* (IPv4 /24, IPv6 /64) for an address the account
      has never signed in from (an *unknown source*, the same for a name that does not exist):
      after ``login_max_failures`` failures from that network a progressive delay — 1 s,
      doubling, at most ``login_lock_minutes`` — 429 ``login_throttled`` while it runs. A
      stranger's failures slow down only the stranger's own network: the owner, from a new
      phone or a new address elsewhere, is not held up by them;
    - per account name over every unknown source, the same delay after ``NAME_CAP_FACTOR`` ×
      ``login_max_failures`` failures (100 by default, forgotten a day after the last): the
      bound on guessing spread over many networks (one IPv6 /48 holds 65,536 /64s, each with
      its own per-network allowance). Reaching it takes a stranger 100 failures, and even then
      the owner's known addresses are never slowed;
    - from a *known source* (the account signed in from this address before):
      ``login_max_failures`` failures lock the account for ``login_lock_minutes`` and end all its
      sessions, as does the same number of wrong old passwords on a password change.

    A one-time password (``must_change_password``: set by an admin) older than
    ``one_time_password_hours`` is refused — 401 ``one_time_password_expired``, telling the user
    to ask for a new one (only whoever knows that password learns it has expired).
    """
    from core import ratelimit
    now = utcnow()
    ip_key = f"login-fail:{source_prefix(ip, 32)}"
    if ratelimit.recent(ip_key, IP_WINDOW_SECONDS) >= config.login_ip_limit:
        raise TooManyRequests("too_many_attempts", "该地址登录失败次数过多，请 10 分钟后再试")
    name_key = f"login-name:{bound_tenant_id()}:{username.lower()}"
    source_key = f"{name_key}:{source_prefix(ip)}"
    known = known_source(session, username, ip)
    if not known:
        cap = config.login_lock_minutes * 60
        wait = max(ratelimit.backoff(source_key, config.login_max_failures, cap),
                   ratelimit.backoff(name_key, config.login_max_failures * NAME_CAP_FACTOR, cap))
        if wait:
            ratelimit.recent(ip_key, IP_WINDOW_SECONDS, add=1)
            _fail(session, username, ip, "throttled")
            session.commit()
            raise TooManyRequests("login_throttled", f"该账号登录失败次数过多，请 {wait} 秒后再试")
    user = session.scalar(select(User).where(User.username == username))
    locked = user is not None and user.locked_until is not None and user.locked_until > now
    password_ok = verify_password(user.password_hash if user else None, password)  # same cost either way
    if user is None or user.status != "active" or locked or not password_ok:
        reason = ("unknown_user" if user is None else "disabled" if user.status != "active"
                  else "locked" if locked else "bad_password")
        _fail(session, username, ip, reason)
        ratelimit.recent(ip_key, IP_WINDOW_SECONDS, add=1)
        ratelimit.note_failure(source_key)
        ratelimit.note_failure(name_key)
        if reason == "bad_password" and known:
            count_failure(session, config, user)
        session.commit()
        raise Unauthorized("invalid_credentials", FAILED_LOGIN)
    ratelimit.clear(source_key)  # the name-wide count stays: the owner's success does not reset a spread attack
    if one_time_expired(config, user, now):
        _fail(session, username, ip, "one_time_password_expired")
        session.commit()
        raise Unauthorized("one_time_password_expired",
                           f"{ONE_TIME_EXPIRED}（一次性密码 {config.one_time_password_hours} 小时内有效）")
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


def one_time_expired(config: Config, user: User, now: datetime) -> bool:
    """A password set by an admin (``must_change_password``) is good for
    ``one_time_password_hours`` after it was set; after that it opens nothing."""
    return bool(user.must_change_password and user.password_set_at is not None
                and now - user.password_set_at > timedelta(hours=config.one_time_password_hours))


def revoke_all_tokens(session: Session, user_id: int, reason: str) -> int:
    """Revoke the user's personal access tokens and every OAuth token acting as the user;
    returns how many."""
    from core.oauth import revoke_user_tokens  # core.oauth imports this module
    pats = list(session.scalars(select(AccessToken).where(AccessToken.user_id == user_id,
                                                          AccessToken.revoked_at.is_(None))))
    for row in pats:  # row-audited on flush
        row.revoked_at = utcnow()
    return len(pats) + revoke_user_tokens(session, user_id, reason)


def count_failure(session: Session, config: Config, user: User) -> bool:
    """One more failed proof of identity for ``user``; at ``login_max_failures`` the account is
    locked for ``login_lock_minutes`` and all its sessions end. True if it is now locked."""
    user.failed_logins += 1
    if user.failed_logins < config.login_max_failures:
        return False
    user.locked_until = utcnow() + timedelta(minutes=config.login_lock_minutes)
    user.failed_logins = 0
    end_all_sessions(session, user.id)
    audit.record(session, "lock", "app_user", user.id, {"reason": "too_many_failures"})
    return True


def end_all_sessions(session: Session, user_id: int) -> int:
    """End every live session of the user; returns how many."""
    return session.execute(update(WebSession).where(WebSession.user_id == user_id, WebSession.ended_at.is_(None))
                           .values(ended_at=utcnow()).execution_options(synchronize_session=False)).rowcount


def session_user(session: Session, config: Config, cookie_token: str) -> tuple[WebSession, User] | None:
    """The live session and its user for a cookie, applying idle and absolute timeouts."""
    found = session_principal(session, config, cookie_token)
    return None if found is None else found[:2]


def session_principal(session: Session, config: Config,
                      cookie_token: str) -> tuple[WebSession, User, Grants] | None:
    """The live session, its user and the user's grants for a cookie — one query, read on
    every request (an ended session, a locked user, a removed grant count at once)."""
    rows = session.execute(_SESSION_PRINCIPAL, {"h": token_hash(cookie_token)}).all()
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


def change_password(session: Session, config: Config, user: User, old: str, new: str,
                    web_session: WebSession | None, revoke_tokens: bool = False) -> dict:
    """Change one's own password, in a web session only (403 ``session_required`` with a token:
    a narrow or stolen token must not take the account over).

    A wrong old password counts as a failed log-in (committed at once, whatever the request
    does next): at ``login_max_failures`` the account is locked and every session ends (401
    ``account_locked``). On success every *other* session ends, and with ``revoke_tokens`` the
    user's personal access tokens and OAuth tokens are revoked too; the change is audited
    (``change_password``, with what was ended). Returns ``{"ended_sessions", "revoked_tokens"}``.
    """
    if web_session is None:
        raise Forbidden("session_required", "修改密码须在网页登录后进行，不能使用访问令牌",
                        {"json": {"old_password": ["修改密码须在网页登录后进行，不能使用访问令牌"]}})
    if not verify_password(user.password_hash, old):
        locked = count_failure(session, config, user)
        session.commit()
        if locked:
            raise Unauthorized("account_locked", f"原密码错误次数过多，账号已锁定 {config.login_lock_minutes} 分钟，"
                               "请稍后重新登录")
        # well-formed but the proof of identity failed: 403, with the field named for forms
        raise Forbidden("wrong_password", "原密码不正确", {"json": {"old_password": ["原密码不正确"]}})
    check_password_policy(new, "new_password")
    if old == new:
        raise Invalid("new_password", "password_unchanged", "新密码不能与原密码相同")
    user.password_hash = _hasher.hash(new)
    user.password_set_at = utcnow()
    user.must_change_password = False
    user.failed_logins = 0
    ended = session.execute(
        update(WebSession).where(WebSession.user_id == user.id, WebSession.ended_at.is_(None),
                                 WebSession.id != web_session.id)
        .values(ended_at=utcnow()).execution_options(synchronize_session=False)).rowcount
    revoked = 0
    if revoke_tokens:
        revoked = revoke_all_tokens(session, user.id, "password_changed")
    audit.record(session, "change_password", "app_user", user.id,
                 {"ended_sessions": ended, "revoked_tokens": revoked})
    return {"ended_sessions": ended, "revoked_tokens": revoked}


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
    rows = session.execute(_TOKEN_PRINCIPAL, {"h": token_hash(token)}).all()
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
