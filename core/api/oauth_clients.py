"""/api/oauth-clients — a county admin registers, changes and disables OAuth clients.

The authorization server, its models and the ``/oauth`` endpoints are ``core.oauth``; this
is its management API (permission ``core.oauth_client.manage``, docs/oauth.md).
"""
from __future__ import annotations

import re
import secrets
from urllib.parse import urlsplit

from flask.views import MethodView
from flask_smorest import Blueprint as ApiBlueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from core import accounts
from core.api.common import IdField, ListArgs, id_path, page_of, paginate, permission_code, sort_field
from core.authz import get_or_404
from core.db import utcnow
from core.errors import Conflict, Invalid, NotFound
from core.models import User
from core.oauth import (GRANT_TYPES, MANAGE, OAuthClient, OAuthToken, active_client, revoke_tokens,
                        set_client_secret)
from core.request import current, requires
from core.runtime import pingan

blp = ApiBlueprint("core_oauth_clients", __name__, url_prefix="/api/oauth-clients",
                   description="接入应用（OAuth 客户端） / OAuth clients")
_CUSTOM_SCHEME = re.compile(r"^[a-z][a-z0-9+\-]*(\.[a-z0-9+\-]+)+$")
_LOOPBACK = {"localhost", "127.0.0.1", "::1"}


class OAuthClientSchema(Schema):
    id = fields.Integer()
    client_id = fields.String()
    name = fields.String()
    confidential = fields.Boolean()
    redirect_uris = fields.List(fields.String())
    scopes = fields.List(fields.String())
    grant_types = fields.List(fields.String())
    service_user_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class OAuthClientCreatedSchema(OAuthClientSchema):
    client_secret = fields.String(allow_none=True, metadata={"description": "只显示这一次；公开客户端为 null"})


class OAuthClientSecretSchema(Schema):
    client_id = fields.String()
    client_secret = fields.String(metadata={"description": "只显示这一次"})


class OAuthClientCreateSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    confidential = fields.Boolean(required=True, metadata={"description": "机密客户端（有密钥，运行在服务器上）"})
    redirect_uris = fields.List(fields.String(validate=validate.Length(min=1, max=2000)),
                                validate=validate.Length(max=20), load_default=list)
    scopes = fields.List(permission_code(), required=True,
                         validate=validate.Length(min=1, max=200), metadata={"description": "权限代码"})
    grant_types = fields.List(fields.String(validate=validate.OneOf(GRANT_TYPES)), required=True,
                              validate=validate.Length(min=1, max=3))
    service_user_id = IdField(load_default=None, allow_none=True,
                              metadata={"description": "client_credentials 以此用户的身份与权限范围访问"})


class OAuthClientUpdateSchema(Schema):
    name = fields.String(validate=validate.Length(min=1, max=100))
    redirect_uris = fields.List(fields.String(validate=validate.Length(min=1, max=2000)),
                                validate=validate.Length(max=20))
    scopes = fields.List(permission_code(), validate=validate.Length(min=1, max=200))
    grant_types = fields.List(fields.String(validate=validate.OneOf(GRANT_TYPES)), validate=validate.Length(min=1, max=3))
    service_user_id = IdField(allow_none=True)


def _check_redirect_uri(uri: str) -> None:
    bad = Invalid("redirect_uris", "invalid_redirect_uri",
                  f"回调地址无效：{uri}（须为完整的 https 地址、本机 http 地址或反向域名形式的应用协议，不得含 # 或通配符）")
    if any(c.isspace() or c in "*#;,'\"\\" for c in uri):
        raise bad
    try:
        parts = urlsplit(uri)
        host = parts.hostname
    except ValueError:
        raise bad from None
    if parts.scheme == "https" and host:
        return
    if parts.scheme == "http" and host in _LOOPBACK:
        return
    if parts.scheme not in ("http", "https") and _CUSTOM_SCHEME.match(parts.scheme) and parts.path:
        return
    raise bad


def _check_client(ctx, data: dict) -> None:
    """Validate a client's settings as a whole (on create, and on update after merging)."""
    permissions = pingan().plugins.permissions
    for code in data["scopes"]:
        if code not in permissions:
            raise Invalid("scopes", "unknown_permission", f"未定义的权限：{code}")
    for uri in data["redirect_uris"]:
        _check_redirect_uri(uri)
    grant_types = data["grant_types"]
    if "authorization_code" in grant_types and not data["redirect_uris"]:
        raise Invalid("redirect_uris", "redirect_uri_required", "授权码模式至少需要一个回调地址")
    if "refresh_token" in grant_types and "authorization_code" not in grant_types:
        raise Invalid("grant_types", "refresh_needs_code", "refresh_token 只能与 authorization_code 一起使用")
    if "client_credentials" in grant_types:
        if not data["confidential"]:
            raise Invalid("grant_types", "public_client_credentials", "公开客户端不能使用 client_credentials")
        if not data.get("service_user_id"):
            raise Invalid("service_user_id", "service_user_required", "client_credentials 需要指定服务账号")
        user = _service_user(ctx, data["service_user_id"])
        if user.status != "active":
            raise Invalid("service_user_id", "user_disabled", "服务账号已停用")
    elif data.get("service_user_id"):
        raise Invalid("service_user_id", "service_user_unused", "只有 client_credentials 客户端才需要服务账号")


def _service_user(ctx, user_id) -> User:
    """The account a client-credentials client acts as, if the admin may manage it in full
    (``core.accounts.managed_user``: its home unit in scope, else 422 ``unknown_user``, and
    every role it holds within the admin's reach, else 403 ``account_beyond_reach``):
    binding an integration to an account, or re-keying it, is taking that account over."""
    try:
        user = get_or_404(ctx.session, ctx.grants, User, user_id, accounts.MANAGE)
    except NotFound:
        raise Invalid("service_user_id", "unknown_user", "服务账号不存在或不在您的管辖范围内") from None
    accounts.check_manageable(ctx.session, ctx.grants, user, "service_user_id")
    return user


def _client(client_id) -> OAuthClient:
    """The client by its numeric ``id`` in the path (not the OAuth ``client_id`` string)."""
    row = active_client(current().session, id_path(client_id))
    if row is None:
        raise NotFound()
    return row


CLIENT_SORTABLE = {"id": OAuthClient.id, "name": OAuthClient.name}


class OAuthClientListArgs(ListArgs):
    sort = sort_field(CLIENT_SORTABLE)


@blp.route("")
class OAuthClients(MethodView):
    @requires(MANAGE)
    @blp.arguments(OAuthClientListArgs, location="query")
    @blp.response(200, page_of(OAuthClientSchema))
    def get(self, args):
        """The county's active OAuth clients."""
        stmt = select(OAuthClient).where(OAuthClient.disabled_at.is_(None))
        return paginate(current().session, stmt, args, OAuthClient.id, CLIENT_SORTABLE, "id")

    @requires(MANAGE)
    @blp.arguments(OAuthClientCreateSchema)
    @blp.response(201, OAuthClientCreatedSchema)
    def post(self, data):
        """Register a client. A confidential client's secret is returned here once, never again."""
        ctx = current()
        data["scopes"] = list(dict.fromkeys(data["scopes"]))
        data["grant_types"] = list(dict.fromkeys(data["grant_types"]))
        data["redirect_uris"] = list(dict.fromkeys(data["redirect_uris"]))
        _check_client(ctx, data)
        row = OAuthClient(**data, client_id=secrets.token_hex(16))
        ctx.session.add(row)
        ctx.session.flush()
        secret = set_client_secret(ctx.session, row) if row.confidential else None
        ctx.session.commit()
        row.client_secret = secret
        return row


@blp.route("/<client_id>")
class OAuthClientItem(MethodView):
    @requires(MANAGE)
    @blp.response(200, OAuthClientSchema)
    def get(self, client_id):
        return _client(client_id)

    @requires(MANAGE)
    @blp.arguments(OAuthClientUpdateSchema)
    @blp.response(200, OAuthClientSchema)
    def patch(self, data, client_id):
        """Change a client. Tokens already issued keep working within the client's new scopes;
        a new service user revokes the client-credentials tokens of the old one."""
        ctx = current()
        row = _client(client_id)
        merged = {"confidential": row.confidential, "redirect_uris": row.redirect_uris, "scopes": row.scopes,
                  "grant_types": row.grant_types, "service_user_id": row.service_user_id}
        for key in ("scopes", "grant_types", "redirect_uris"):
            if key in data:
                data[key] = list(dict.fromkeys(data[key]))
        merged.update({k: v for k, v in data.items() if k != "name"})
        _check_client(ctx, merged)
        if "service_user_id" in data and data["service_user_id"] != row.service_user_id:
            revoke_tokens(ctx.session, (OAuthToken.oauth_client_id == row.id)
                    & (OAuthToken.grant_type == "client_credentials"), "service_user_changed", row)
        for key, value in data.items():
            setattr(row, key, value)
        ctx.session.commit()
        return row

    @requires(MANAGE)
    @blp.response(204)
    def delete(self, client_id):
        """Disable the client for good and revoke every token issued to it."""
        ctx = current()
        row = _client(client_id)
        row.disabled_at = utcnow()
        revoke_tokens(ctx.session, OAuthToken.oauth_client_id == row.id, "client_disabled", row)
        ctx.session.commit()


@blp.route("/<client_id>/secret")
class OAuthClientSecretRotation(MethodView):
    @requires(MANAGE)
    @blp.response(200, OAuthClientSecretSchema)
    def post(self, client_id):
        """Issue a new secret for a confidential client (shown once); the old one stops working."""
        ctx = current()
        row = _client(client_id)
        if not row.confidential:
            raise Conflict("public_client", "公开客户端没有密钥")
        if row.service_user_id:  # the new secret acts as the service user
            _service_user(ctx, row.service_user_id)
        secret = set_client_secret(ctx.session, row)
        ctx.session.commit()
        return {"client_id": row.client_id, "client_secret": secret}
