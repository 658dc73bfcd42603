"""/api/tokens — personal access tokens for scripts (shown once, stored as a hash)."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from core import auth
from core.api.common import IdListArgs, id_path, page_of, paginate, permission_code
from core.db import utcnow
from core.errors import Forbidden, Invalid, NotFound
from core.models import AccessToken
from core.request import current, requires

blp = Blueprint("core_tokens", __name__, url_prefix="/api/tokens", description="个人访问令牌 / Access tokens")
USE = "core.token.use"


class TokenSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    scope = fields.String()
    created_at = fields.DateTime()
    expires_at = fields.DateTime(allow_none=True)
    last_used_at = fields.DateTime(allow_none=True)
    revoked_at = fields.DateTime(allow_none=True)


class TokenCreatedSchema(TokenSchema):
    token = fields.String(metadata={"description": "只显示这一次"})


class TokenCreateSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    scope = fields.List(permission_code(), load_default=list,
                        validate=validate.Length(max=200), metadata={"description": "权限代码；空表示本人全部权限"})
    expires_at = fields.AwareDateTime(load_default=None, allow_none=True, default_timezone=None)


def _own_tokens():
    return select(AccessToken).where(AccessToken.user_id == current().user.id)


@blp.route("")
class Tokens(MethodView):
    @requires(USE)
    @blp.arguments(IdListArgs, location="query")
    @blp.response(200, page_of(TokenSchema))
    def get(self, args):
        """Your own tokens."""
        return paginate(current().session, _own_tokens(), args, AccessToken.id, {"id": AccessToken.id}, "-id")

    @requires(USE)
    @blp.arguments(TokenCreateSchema)
    @blp.response(201, TokenCreatedSchema)
    def post(self, data):
        """Create a token limited to some of your permissions; the secret is shown once. Created
        with a token, it holds at most that token's permissions (an empty scope means exactly those)."""
        ctx = current()
        if data["expires_at"] and data["expires_at"] <= utcnow():
            raise Invalid("expires_at", "in_the_past", "过期时间必须晚于现在")
        scope = data["scope"]
        if ctx.via == "token":
            # no self-escalation: a token minted with a token holds at most what the presenting
            # one may do (its scopes as narrowed, written out: empty would mean "everything")
            held = set(ctx.grants.by_perm)
            beyond = [code for code in scope if code not in held]
            if beyond:
                raise Forbidden("cannot_grant_unheld", f"不能授予当前令牌没有的权限：{beyond[0]}",
                                {"json": {"scope": [f"不能授予当前令牌没有的权限：{beyond[0]}"]}})
            scope = scope or sorted(held)
        row, token = auth.create_access_token(ctx.session, ctx.user, data["name"], " ".join(scope),
                                              data["expires_at"])
        ctx.session.commit()
        row.token = token
        return row


@blp.route("/<token_id>")
class TokenItem(MethodView):
    @requires(USE)
    @blp.response(204)
    def delete(self, token_id):
        """Revoke one of your tokens."""
        ctx = current()
        row = ctx.session.scalar(_own_tokens().where(AccessToken.id == id_path(token_id)))
        if row is None:
            raise NotFound()
        row.revoked_at = row.revoked_at or utcnow()
        ctx.session.commit()
