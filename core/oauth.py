"""OAuth 2 authorization server (Authlib): clients, codes, tokens and the ``/oauth`` endpoints.

A county admin registers a client (``/api/oauth-clients``, ``core.api.oauth_clients``;
permission ``core.oauth_client.manage``); the client then obtains tokens on the county's own host name:

- **authorization code + PKCE** (``/oauth/authorize`` → ``/oauth/token``): a signed-in staff
  member approves the client on a consent page. PKCE with ``S256`` is required for every
  client, public or confidential; ``plain`` and a missing challenge are refused.
- **client credentials**: a confidential client acts as its *service user*, a normal user
  whose role assignments bound what the integration may touch.
- **refresh token** with rotation: each refresh token works once; presenting a rotated one
  again revokes its whole family (every token descended from the same approval).

Scopes are permission codes (``core.org_unit.read`` …). A request carrying an OAuth access
token gets the user's grants cut down to the token's scopes (``Grants.restrict``), further cut
to the client's current allowed scopes.

Tokens are ``oat_<tenant>_<secret>`` (access) and ``ort_<tenant>_<secret>`` (refresh);
authorization codes are random strings. Only their SHA-256 hashes are stored, as are client
secrets. Neither the values nor the hashes reach the log or the audit chain: those rows are
not row-audited (``__audit__ = False``) and explicit events naming ids only are recorded
instead (``oauth_authorize``, ``oauth_token_issue``, ``oauth_token_revoke``,
``oauth_client_secret_set``). An authorization code presented twice is refused with
``invalid_grant`` and every token issued from it is revoked (RFC 6749 §4.1.2).

Every lookup goes through the ORM, so the tenant guard (and RLS on PostgreSQL) confines it
to the county named by the host name: a token of one county is unknown on another's host.
"""
from __future__ import annotations

import hmac
import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import ClientMixin, grants
from authlib.oauth2.rfc6749.authenticate_client import authenticate_client_secret_basic
from authlib.oauth2.rfc6749.errors import (InvalidGrantError, InvalidRequestError,
                                           InvalidScopeError, UnauthorizedClientError)
from authlib.oauth2.rfc6749.util import list_to_scope, scope_to_list
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7636.challenge import compare_s256_code_challenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from flask import Blueprint, Flask, make_response, redirect, render_template, render_template_string, request, url_for
from sqlalchemy import JSON, BigInteger, Boolean, Index, String, Text, UniqueConstraint, bindparam, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from core import audit
from core.auth import active_user, grants_of, may_act, new_token, token_hash, with_user_and_grants
from core.authz import Grants
from core.context import Actor, current_actor, set_actor, shows_secret_once
from core.db import AwareDateTime, TenantModel, tenant_fk, utcnow
from core.models import User
from core.request import current, public
from core.runtime import pingan

log = logging.getLogger("pingan.oauth")

ACCESS_TOKEN_SECONDS = 3600            # 1 hour
REFRESH_TOKEN_SECONDS = 30 * 24 * 3600  # 30 days, renewed by each rotation
CODE_SECONDS = 300                     # 5 minutes (RFC 6749 §4.1.2: at most 10)
GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials")
MANAGE = "core.oauth_client.manage"
SERVER_KEY = "pingan_oauth"


# --- models -------------------------------------------------------------------------------

class OAuthClient(TenantModel, ClientMixin):
    """An application registered by the county. ``client_id`` is public; a confidential
    client's secret is kept (hashed) in :class:`OAuthClientSecret`."""

    __tablename__ = "oauth_client"
    __table_args__ = (UniqueConstraint("tenant_id", "client_id"),
                      tenant_fk("service_user_id", "app_user"))
    client_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(100))
    confidential: Mapped[bool] = mapped_column(Boolean)
    redirect_uris: Mapped[list] = mapped_column(JSON, default=list)   # compared exactly
    scopes: Mapped[list] = mapped_column(JSON, default=list)          # permission codes
    grant_types: Mapped[list] = mapped_column(JSON, default=list)
    service_user_id: Mapped[int | None] = mapped_column(BigInteger)    # client credentials act as it
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow, onupdate=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(AwareDateTime)

    # Authlib's ClientMixin
    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> None:
        return None  # redirect_uri is required in every authorization request

    def get_allowed_scope(self, scope: str | None) -> str | None:
        """The requested scope if every code in it is allowed (default: all allowed), else None."""
        if not scope:
            return list_to_scope(list(self.scopes))
        wanted = list(dict.fromkeys(scope_to_list(scope)))
        if not wanted or any(s not in self.scopes for s in wanted):
            return None
        return list_to_scope(wanted)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in (self.redirect_uris or [])  # exact string match, no prefix

    def check_client_secret(self, client_secret: str) -> bool:
        if not self.confidential or not isinstance(client_secret, str):
            return False
        stored = _session().scalar(select(OAuthClientSecret.secret_hash)
                                   .where(OAuthClientSecret.oauth_client_id == self.id))
        return stored is not None and hmac.compare_digest(stored, token_hash(client_secret))

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.confidential:
            return method in ("client_secret_basic", "client_secret_post")
        return method == "none"

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and "authorization_code" in (self.grant_types or [])

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in (self.grant_types or [])


class OAuthClientSecret(TenantModel):
    """The SHA-256 of a confidential client's secret, one row per client.

    Apart from the client row so that credential material never enters the append-only
    audit chain (row audit masks only encrypted columns): setting a secret is recorded as an
    ``oauth_client_secret_set`` event instead.
    """

    __audit__ = False
    __tablename__ = "oauth_client_secret"
    __table_args__ = (UniqueConstraint("tenant_id", "oauth_client_id"),
                      tenant_fk("oauth_client_id", "oauth_client", ondelete="CASCADE"))
    oauth_client_id: Mapped[int] = mapped_column(BigInteger)
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)


def set_client_secret(session: Session, client: OAuthClient) -> str:
    """Give a confidential client a new random secret; returns it (to be shown once)."""
    secret = secrets.token_urlsafe(32)
    shows_secret_once()
    row = session.scalar(select(OAuthClientSecret).where(OAuthClientSecret.oauth_client_id == client.id))
    if row is None:
        session.add(OAuthClientSecret(oauth_client_id=client.id, secret_hash=token_hash(secret)))
    else:
        row.secret_hash, row.created_at = token_hash(secret), utcnow()
    audit.record(session, "oauth_client_secret_set", "oauth_client", client.id,
                 {"client_id": client.client_id, "rotated": row is not None})
    return secret


class OAuthCode(TenantModel):
    """An authorization code (hashed), bound to client, user, redirect URI and PKCE challenge.

    Kept after use (``used_at``) so that a second presentation is recognised as a replay.
    Not row-audited: approvals are recorded as ``oauth_authorize`` events.
    """

    __audit__ = False
    __tablename__ = "oauth_code"
    __table_args__ = (UniqueConstraint("tenant_id", "code_hash"),
                      tenant_fk("oauth_client_id", "oauth_client"),
                      tenant_fk("user_id", "app_user", ondelete="CASCADE"))
    code_hash: Mapped[str] = mapped_column(String(64))
    oauth_client_id: Mapped[int] = mapped_column(BigInteger)
    user_id: Mapped[int] = mapped_column(BigInteger)
    redirect_uri: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(Text, default="")
    code_challenge: Mapped[str] = mapped_column(String(128))
    code_challenge_method: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(AwareDateTime)
    used_at: Mapped[datetime | None] = mapped_column(AwareDateTime)

    # Authlib's AuthorizationCodeMixin
    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


class OAuthToken(TenantModel):
    """One issuance: an access token and (for code and refresh grants) a refresh token.

    ``family_id`` is shared by every token descended from one approval; ``code_id`` names the
    authorization code the family came from. ``rotated_at``: the refresh token was exchanged
    (its access token lives on until it expires); ``revoked_at``: both are dead.
    Not row-audited (integrations refresh all day): issuance and revocation are recorded as
    ``oauth_token_issue`` / ``oauth_token_revoke`` events without token values.
    """

    __audit__ = False
    __tablename__ = "oauth_token"
    __table_args__ = (UniqueConstraint("tenant_id", "access_token_hash"),
                      UniqueConstraint("tenant_id", "refresh_token_hash"),
                      tenant_fk("oauth_client_id", "oauth_client"),
                      tenant_fk("user_id", "app_user", ondelete="CASCADE"),
                      tenant_fk("code_id", "oauth_code"),
                      Index("ix_oauth_token_family", "tenant_id", "family_id"),
                      Index("ix_oauth_token_code", "tenant_id", "code_id"),
                      Index("ix_oauth_token_client", "tenant_id", "oauth_client_id"))
    oauth_client_id: Mapped[int] = mapped_column(BigInteger)
    user_id: Mapped[int] = mapped_column(BigInteger)
    access_token_hash: Mapped[str] = mapped_column(String(64))
    refresh_token_hash: Mapped[str | None] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(Text, default="")
    grant_type: Mapped[str] = mapped_column(String(32))
    family_id: Mapped[str] = mapped_column(String(32))
    code_id: Mapped[int | None] = mapped_column(BigInteger)
    issued_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)
    access_expires_at: Mapped[datetime] = mapped_column(AwareDateTime)
    refresh_expires_at: Mapped[datetime | None] = mapped_column(AwareDateTime)
    rotated_at: Mapped[datetime | None] = mapped_column(AwareDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(AwareDateTime)


@dataclass
class Presented:
    """A stored token row as seen through the string that was presented (access or refresh)."""

    row: OAuthToken
    kind: str  # "access_token" | "refresh_token"

    def check_client(self, client: OAuthClient) -> bool:
        return self.row.oauth_client_id == client.id

    def get_scope(self) -> str:
        return self.row.scope

    def get_expires_in(self) -> int:
        return int((self.expires_at - self.row.issued_at).total_seconds())

    @property
    def expires_at(self) -> datetime:
        return self.row.access_expires_at if self.kind == "access_token" else self.row.refresh_expires_at

    def is_expired(self) -> bool:
        return self.expires_at is None or self.expires_at <= utcnow()

    def is_revoked(self) -> bool:
        return self.row.revoked_at is not None or (self.kind == "refresh_token" and self.row.rotated_at is not None)


# --- look-ups (all through the ORM: the tenant guard applies) -------------------------------

def _session() -> Session:
    return current().session


def active_client(session: Session, pk: int) -> OAuthClient | None:
    """The client by its numeric ``id`` (not the OAuth ``client_id``), unless disabled."""
    return session.scalar(select(OAuthClient).where(OAuthClient.id == pk, OAuthClient.disabled_at.is_(None)))


def query_client(client_id) -> OAuthClient | None:
    if not isinstance(client_id, str) or not client_id or len(client_id) > 64:
        return None
    return _session().scalar(select(OAuthClient).where(OAuthClient.client_id == client_id,
                                                       OAuthClient.disabled_at.is_(None)))


def find_token(session: Session, token: str, hint: str | None = None) -> Presented | None:
    """The stored token for a presented string (``oat_``/``ort_`` decide the kind, not the hint)."""
    if not isinstance(token, str) or len(token) > 200:
        return None
    if token.startswith("oat_"):
        row = session.scalar(select(OAuthToken).where(OAuthToken.access_token_hash == token_hash(token)))
        return Presented(row, "access_token") if row else None
    if token.startswith("ort_"):
        row = session.scalar(select(OAuthToken).where(OAuthToken.refresh_token_hash == token_hash(token)))
        return Presented(row, "refresh_token") if row else None
    return None


# built once, as core.auth's principal statements are: the token's hash is bound at execution
_BEARER_PRINCIPAL = (with_user_and_grants(OAuthToken, OAuthToken.user_id)
                     .add_columns(OAuthClient.client_id, OAuthClient.scopes)
                     .join(OAuthClient, (OAuthClient.tenant_id == OAuthToken.tenant_id)
                           & (OAuthClient.id == OAuthToken.oauth_client_id) & OAuthClient.disabled_at.is_(None))
                     .where(OAuthToken.access_token_hash == bindparam("h")))


def bearer_principal(session: Session, token: str) -> tuple[tuple[User, set[str], Grants] | None, str | None]:
    """For an ``oat_`` access token: ((user, scopes, the user's grants not yet cut to the
    scopes), client_id); (None, None) if not valid now.

    The token, its client, its user and the user's grants are read in one query on every
    request (like personal access tokens and web sessions, ``core.auth``): a revoked or
    expired token, a disabled client, a locked user or a removed grant count at once.
    """
    if not isinstance(token, str) or not token.startswith("oat_") or len(token) > 200:
        return None, None
    rows = session.execute(_BEARER_PRINCIPAL, {"h": token_hash(token)}).all()
    if not rows:
        return None, None
    presented, user, client_id, client_scopes = Presented(rows[0][0], "access_token"), rows[0][1], rows[0][3], rows[0][4]
    if presented.is_revoked() or presented.is_expired() or not may_act(user):
        return None, None
    scopes = set(scope_to_list(presented.row.scope) or []) & set(client_scopes or [])
    return (user, scopes, grants_of(user, rows)), client_id


# --- revocation -----------------------------------------------------------------------------

def revoke_tokens(session: Session, where, reason: str, client: OAuthClient | None,
                  extra: dict | None = None) -> int:
    """Revoke the live tokens matching ``where`` and record one audit event (no token values)."""
    ids = list(session.scalars(select(OAuthToken.id).where(where, OAuthToken.revoked_at.is_(None))))
    if ids:
        session.execute(update(OAuthToken).where(OAuthToken.id.in_(ids)).values(revoked_at=utcnow())
                        .execution_options(synchronize_session=False))
    audit.record(session, "oauth_token_revoke", "oauth_client", client.id if client else None,
                 {"reason": reason, "token_ids": ids, **(extra or {})})
    return len(ids)


def revoke_user_tokens(session: Session, user_id: int, reason: str) -> int:
    """Revoke every live OAuth token issued to act as ``user_id`` (e.g. at a password change)."""
    return revoke_tokens(session, OAuthToken.user_id == user_id, reason, None, {"user_id": user_id})


def revoke_family(session: Session, family_id: str, reason: str, client: OAuthClient | None) -> int:
    return revoke_tokens(session, OAuthToken.family_id == family_id, reason, client, {"family_id": family_id})


def revoke_from_code(session: Session, code: OAuthCode, reason: str, client: OAuthClient | None) -> int:
    families = set(session.scalars(select(OAuthToken.family_id).where(OAuthToken.code_id == code.id)))
    where = (OAuthToken.code_id == code.id) | OAuthToken.family_id.in_(families or {""})
    return revoke_tokens(session, where, reason, client, {"code_id": code.id})


def _act_as_client(client: OAuthClient) -> None:
    if current_actor().user_id is None:
        set_actor(Actor(None, f"client:{client.client_id}"))


# --- grants ---------------------------------------------------------------------------------

class S256CodeChallenge(CodeChallenge):
    """PKCE required on every authorization request, and only with ``S256``."""

    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]
    CODE_CHALLENGE_METHODS = {"S256": compare_s256_code_challenge}

    def validate_code_challenge(self, grant, redirect_uri):
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: missing 'code_challenge'.")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("PKCE 'code_challenge_method' must be 'S256'.")
        super().validate_code_challenge(grant, redirect_uri)

    def validate_code_verifier(self, grant, result):
        if not grant.request.form.get("code_verifier"):
            raise InvalidRequestError("Missing 'code_verifier'.")
        super().validate_code_verifier(grant, result)


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

    def save_authorization_code(self, code, request):
        session, client = _session(), request.client
        data = request.payload.data
        row = OAuthCode(code_hash=token_hash(code), oauth_client_id=client.id, user_id=request.user.id,
                        redirect_uri=request.payload.redirect_uri, scope=request.scope or "",
                        code_challenge=data["code_challenge"], code_challenge_method=data["code_challenge_method"],
                        expires_at=utcnow() + timedelta(seconds=CODE_SECONDS))
        session.add(row)
        session.flush()
        audit.record(session, "oauth_authorize", "oauth_client", client.id,
                     {"client_id": client.client_id, "code_id": row.id, "scope": row.scope})

    def query_authorization_code(self, code, client):
        session = _session()
        if not isinstance(code, str) or len(code) > 200:
            return None
        row = session.scalar(select(OAuthCode).where(OAuthCode.code_hash == token_hash(code)))
        if row is None or row.oauth_client_id != client.id:
            return None
        if row.used_at is not None:
            self._replayed(row, client)
        if row.expires_at <= utcnow():
            return None
        return row

    def _replayed(self, row: OAuthCode, client: OAuthClient):
        session = _session()
        _act_as_client(client)
        n = revoke_from_code(session, row, "code_replay", client)
        session.commit()  # the revocation stands although the request fails
        log.warning("authorization code replayed; %s token(s) revoked", n,
                    extra={"client_id": client.client_id, "code_id": row.id})
        raise InvalidGrantError("Authorization code was already used; tokens issued from it are revoked.")

    def authenticate_user(self, authorization_code: OAuthCode):
        session = _session()
        claimed = session.execute(
            update(OAuthCode).where(OAuthCode.id == authorization_code.id, OAuthCode.used_at.is_(None))
            .values(used_at=utcnow()).execution_options(synchronize_session=False)).rowcount
        if claimed != 1:  # a concurrent request redeemed it first
            self._replayed(authorization_code, self.request.client)
        return active_user(session, authorization_code.user_id)

    def delete_authorization_code(self, authorization_code):
        pass  # kept, marked used (authenticate_user), to recognise a replay


class RefreshTokenGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token):
        if not isinstance(refresh_token, str) or not refresh_token.startswith("ort_"):
            return None
        found = find_token(_session(), refresh_token)
        if found is None:
            return None
        if found.row.rotated_at is not None:
            self._replayed(found)
        if found.is_revoked() or found.is_expired():
            return None
        return found

    def _replayed(self, found: Presented):
        session = _session()
        client = active_client(session, found.row.oauth_client_id)
        if client is not None:
            _act_as_client(client)
        n = revoke_family(session, found.row.family_id, "refresh_replay", client)
        session.commit()  # the revocation stands although the request fails
        log.warning("rotated refresh token replayed; family revoked (%s token(s))", n,
                    extra={"client_id": client.client_id if client else None, "token_id": found.row.id})
        raise InvalidGrantError("Refresh token was already used; all tokens of its family are revoked.")

    def authenticate_user(self, refresh_token: Presented):
        session = _session()
        claimed = session.execute(
            update(OAuthToken).where(OAuthToken.id == refresh_token.row.id, OAuthToken.rotated_at.is_(None),
                                     OAuthToken.revoked_at.is_(None))
            .values(rotated_at=utcnow()).execution_options(synchronize_session=False)).rowcount
        if claimed != 1:  # a concurrent request rotated it first
            self._replayed(refresh_token)
        return active_user(session, refresh_token.row.user_id)

    def issue_token(self, user, refresh_token: Presented):
        scope = self.request.payload.scope or refresh_token.get_scope()
        allowed = [s for s in scope_to_list(scope) if s in (self.request.client.scopes or [])]
        if not allowed:
            raise InvalidScopeError()
        return self.generate_token(user=user, scope=list_to_scope(allowed),
                                   include_refresh_token=self.INCLUDE_NEW_REFRESH_TOKEN)

    def revoke_old_credential(self, refresh_token):
        pass  # rotated atomically in authenticate_user


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def validate_token_request(self):
        super().validate_token_request()
        client = self.request.client
        user = active_user(_session(), client.service_user_id) if client.service_user_id else None
        if user is None:
            raise UnauthorizedClientError("The client has no active service user.")
        self.request.user = user


# --- the server -----------------------------------------------------------------------------

def _generate_access(client, grant_type, user, scope):
    return new_token("oat", client.tenant_id)


def _generate_refresh(client, grant_type, user, scope):
    return new_token("ort", client.tenant_id)


class PinganAuthorizationServer(AuthorizationServer):
    def create_bearer_token_generator(self, config):
        return BearerTokenGenerator(_generate_access, _generate_refresh, lambda client, grant_type: ACCESS_TOKEN_SECONDS)

    def validate_requested_scope(self, scope):
        permissions = pingan().plugins.permissions
        if scope and any(code not in permissions for code in scope_to_list(scope)):
            raise InvalidScopeError()


def save_token(token: dict, request) -> None:
    session, client, user = _session(), request.client, request.user
    parent: Presented | None = request.refresh_token
    code: OAuthCode | None = request.authorization_code
    now = utcnow()
    refresh = token.get("refresh_token")
    row = OAuthToken(
        oauth_client_id=client.id, user_id=user.id, access_token_hash=token_hash(token["access_token"]),
        refresh_token_hash=token_hash(refresh) if refresh else None, scope=token.get("scope") or "",
        grant_type=request.payload.grant_type, issued_at=now,
        family_id=parent.row.family_id if parent else uuid.uuid4().hex,
        code_id=parent.row.code_id if parent else (code.id if code else None),
        access_expires_at=now + timedelta(seconds=int(token.get("expires_in") or ACCESS_TOKEN_SECONDS)),
        refresh_expires_at=now + timedelta(seconds=REFRESH_TOKEN_SECONDS) if refresh else None)
    session.add(row)
    session.flush()
    _act_as_client(client)
    audit.record(session, "oauth_token_issue", "oauth_token", row.id,
                 {"client_id": client.client_id, "grant_type": row.grant_type, "user_id": user.id,
                  "scope": row.scope, "family_id": row.family_id,
                  "parent_id": parent.row.id if parent else None, "code_id": row.code_id})


class PinganRevocationEndpoint(RevocationEndpoint):
    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

    def query_token(self, token_string, token_type_hint):
        return find_token(_session(), token_string, token_type_hint)

    def revoke_token(self, token: Presented, request):
        """An access token: that issuance. A refresh token: its whole family (RFC 7009 §2.1)."""
        session, client = _session(), request.client
        _act_as_client(client)
        if token.kind == "refresh_token":
            revoke_family(session, token.row.family_id, "revoked_by_client", client)
        else:
            revoke_tokens(session, OAuthToken.id == token.row.id, "revoked_by_client", client)


class PinganIntrospectionEndpoint(IntrospectionEndpoint):
    """Confidential clients may introspect the tokens issued to themselves."""

    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def query_token(self, token_string, token_type_hint):
        return find_token(_session(), token_string, token_type_hint)

    def check_permission(self, token: Presented, client, request):
        return token.check_client(client)

    def introspect_token(self, token: Presented):
        session = _session()
        client = active_client(session, token.row.oauth_client_id)
        user = active_user(session, token.row.user_id)
        if client is None or user is None:
            return {"active": False}
        return {"active": True, "client_id": client.client_id, "token_type": "Bearer" if token.kind ==
                "access_token" else "refresh_token", "scope": token.row.scope, "sub": str(user.id),
                "username": user.username, "exp": int(token.expires_at.timestamp()),
                "iat": int(token.row.issued_at.timestamp())}


def _client_secret_basic(query_client_fn, request):
    """Authlib's HTTP Basic client authentication, with undecodable credentials (bad base64,
    not UTF-8) treated as no credentials (→ 401 invalid_client) instead of an exception."""
    try:
        return authenticate_client_secret_basic(query_client_fn, request)
    except ValueError:  # binascii.Error, UnicodeDecodeError
        return None


def make_server(app: Flask) -> PinganAuthorizationServer:
    server = PinganAuthorizationServer()
    server.init_app(app, query_client=query_client, save_token=save_token)
    server.register_client_auth_method("client_secret_basic", _client_secret_basic)
    server.register_grant(AuthorizationCodeGrant, [S256CodeChallenge(required=True)])
    server.register_grant(RefreshTokenGrant)
    server.register_grant(ClientCredentialsGrant)
    server.register_endpoint(PinganRevocationEndpoint)
    server.register_endpoint(PinganIntrospectionEndpoint)
    return server


def server() -> PinganAuthorizationServer:
    from flask import current_app
    return current_app.extensions[SERVER_KEY]


# --- /oauth endpoints -------------------------------------------------------------------------

bp = Blueprint("oauth", __name__, url_prefix="/oauth")

CONSENT_PAGE = """{% extends "base.html" %}
{% block title %}授权确认 · {{ ctx.tenant.name }}{% endblock %}
{% block main %}
<section class="card narrow">
  <h1>授权确认</h1>
  <p>应用 <strong>{{ client.name }}</strong> 请求以您（{{ ctx.user.display_name }}）的身份访问
     {{ ctx.tenant.name }}综治平台的以下内容：</p>
  <ul>
  {% for code, title, held in scopes %}
    <li>{{ title }} <span class="muted">（{{ code }}）</span>
      {% if not held %}<span class="muted">— 您本人没有此权限，授权后也不会生效</span>{% endif %}</li>
  {% endfor %}
  </ul>
  <p class="muted">授权后，该应用只能在您本人的管辖范围内执行上述操作。您可以随时让管理员撤销授权。
     同意后将返回：{{ redirect_uri }}</p>
  <form method="post" action="{{ action }}">
    {{ form_tokens(csrf) }}
    <button type="submit" name="decision" value="approve" class="primary">同意授权</button>
    <button type="submit" name="decision" value="deny">拒绝</button>
  </form>
</section>
{% endblock %}"""


def _error_page(error: OAuth2Error):
    messages = {"invalid_client": "未找到该接入应用，或应用已停用",
                "invalid_request": "授权请求无效（回调地址与登记的不一致，或缺少必要参数）"}
    message = messages.get(error.error, "授权请求无效")
    html = render_template("error.html", status=400, code=error.error, message=message, errors={})
    return make_response(html, 400)


def _form_action_origin(uri: str) -> str:
    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else f"{parts.scheme}:"


@bp.route("/authorize", methods=["GET", "POST"])
@public  # signed-out visitors are sent to the log-in page; the approval itself needs the session
def authorize():
    ctx = current()
    srv = server()
    try:
        grant = srv.get_consent_grant(end_user=ctx.user)
    except OAuth2Error as error:
        if error.redirect_uri:  # the client and its redirect URI are known: tell the client
            return srv.handle_error_response(None, error)
        return _error_page(error)
    if ctx.user is None or ctx.via != "session" or ctx.web_session is None:
        return redirect(url_for("web.login", next=request.full_path))
    if request.method == "GET":
        permissions = pingan().plugins.permissions
        scopes = [(code, permissions.get(code).title, ctx.grants.has(code))
                  for code in scope_to_list(grant.request.scope) or []]
        html = render_template_string(CONSENT_PAGE, ctx=ctx, menu=[], client=grant.client, scopes=scopes,
                                      redirect_uri=grant.redirect_uri, csrf=ctx.web_session.csrf_token,
                                      action=request.full_path)
        resp = make_response(html)
        # the approval form redirects to the client: allow exactly that origin as a form target
        resp.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'; "
            f"form-action 'self' {_form_action_origin(grant.redirect_uri)}")
        resp.headers["Cache-Control"] = "no-store"
        return resp
    # POST: _begin_request has already checked the session's CSRF token
    approved = request.form.get("decision") == "approve"
    try:
        resp = srv.create_authorization_response(grant_user=ctx.user if approved else None, grant=grant)
    except OAuth2Error as error:
        return srv.handle_error_response(None, error)
    if not approved:
        audit.record(ctx.session, "oauth_deny", "oauth_client", grant.client.id, {"client_id": grant.client.client_id})
    ctx.session.commit()
    return resp


def _endpoint(fn):
    """Run an Authlib endpoint: RFC 6749 errors as JSON, commit only what succeeded."""
    ctx = current()
    srv = server()
    try:
        resp = fn(srv)
    except OAuth2Error as error:  # raised before Authlib's own handling, e.g. insecure transport
        resp = srv.handle_error_response(None, error)
    if resp.status_code == 200:
        ctx.session.commit()
    else:
        ctx.session.rollback()
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Pragma"] = "no-cache"
    return resp


@bp.route("/token", methods=["POST"])
@public  # client authentication is Authlib's; the county comes from the host name
def token():
    return _endpoint(lambda srv: srv.create_token_response())


@bp.route("/revoke", methods=["POST"])
@public
def revoke():
    return _endpoint(lambda srv: srv.create_endpoint_response(PinganRevocationEndpoint.ENDPOINT_NAME))


@bp.route("/introspect", methods=["POST"])
@public
def introspect():
    return _endpoint(lambda srv: srv.create_endpoint_response(PinganIntrospectionEndpoint.ENDPOINT_NAME))


def register(app: Flask) -> None:
    """The authorization server and its ``/oauth`` endpoints on ``app``; the clients' management
    API (``/api/oauth-clients``) is ``core.api.oauth_clients``."""
    # Authlib logs issued tokens at DEBUG ("Issue token {...}"): never let that reach the log.
    logging.getLogger("authlib").setLevel(max(logging.INFO, logging.getLogger("authlib").level))
    app.extensions[SERVER_KEY] = make_server(app)
    app.register_blueprint(bp)
