"""/api/users and /api/me — accounts of the county's staff, scoped by the unit they work in."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from core import accounts, auth
from core.api.common import PHONE, sort_field, IdField, ListArgs, id_path, page_of, paginate
from core.authz import get_or_404, scoped
from core.crypto import mask_phone
from core.models import User
from core.request import authenticated, current, requires
from core.runtime import pingan

blp = Blueprint("core_users", __name__, url_prefix="/api/users", description="用户 / Users")
me_blp = Blueprint("core_me", __name__, url_prefix="/api/me", description="当前用户 / Current user")

READ, MANAGE = accounts.READ, accounts.MANAGE
USERNAME = validate.Regexp(r"^[A-Za-z0-9_.@-]{2,64}$", error="用户名只能包含字母、数字和 _ . @ -，2–64 位")


class UserSchema(Schema):
    id = fields.Integer()
    username = fields.String()
    display_name = fields.String()
    org_unit_id = fields.Integer()
    member_unit_id = fields.Integer(allow_none=True)
    phone = fields.Function(lambda u: mask_phone(u.phone), allow_none=True)
    status = fields.String()
    locked = fields.Function(accounts.is_locked)
    must_change_password = fields.Boolean()
    locale = fields.String()
    last_login_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


class UserCreateSchema(Schema):
    username = fields.String(required=True, validate=USERNAME)
    display_name = fields.String(required=True, validate=validate.Length(min=1, max=50))
    org_unit_id = IdField(required=True)
    member_unit_id = IdField(load_default=None, allow_none=True)
    phone = fields.String(load_default=None, allow_none=True, validate=PHONE)
    password = fields.String(load_default=None, allow_none=True, load_only=True,
                             validate=validate.Length(min=auth.PASSWORD_MIN, max=auth.PASSWORD_MAX),
                             metadata={"description": "不填则生成一次性初始密码，随响应返回一次"})


class UserCreatedSchema(UserSchema):
    initial_password = fields.String(allow_none=True)


class UserUpdateSchema(Schema):
    display_name = fields.String(validate=validate.Length(min=1, max=50))
    org_unit_id = IdField()
    member_unit_id = IdField(allow_none=True)
    phone = fields.String(allow_none=True, validate=PHONE)
    status = fields.String(validate=validate.OneOf(["active", "disabled"]))
    locale = fields.String(validate=validate.OneOf(["zh_CN", "en"]))


SORTABLE = {"username": User.username, "id": User.id}


class UserListArgs(ListArgs):
    sort = sort_field(SORTABLE)
    org_unit_id = IdField()
    status = fields.String(validate=validate.OneOf(["active", "disabled"]))
    q = fields.String(validate=validate.Length(min=1, max=50))


class PasswordResetSchema(Schema):
    initial_password = fields.String()




@blp.route("")
class Users(MethodView):
    @requires(READ)
    @blp.arguments(UserListArgs, location="query")
    @blp.response(200, page_of(UserSchema))
    def get(self, args):
        """Users working in units of your scope."""
        ctx = current()
        stmt = scoped(select(User), ctx.grants, READ, User.org_unit_id)
        if "org_unit_id" in args:
            stmt = stmt.where(User.org_unit_id == args["org_unit_id"])
        if "status" in args:
            stmt = stmt.where(User.status == args["status"])
        if "q" in args:
            stmt = stmt.where(User.username.contains(args["q"], autoescape=True)
                              | User.display_name.contains(args["q"], autoescape=True))
        return paginate(ctx.session, stmt, args, User.id, SORTABLE, "username", unique=frozenset({"username"}))

    @requires(MANAGE)
    @blp.arguments(UserCreateSchema)
    @blp.response(201, UserCreatedSchema)
    def post(self, data):
        """Create an account in a unit you manage; it must change its password at first log-in."""
        ctx = current()
        user, password = accounts.create_user(ctx.session, ctx.grants, data)
        ctx.session.commit()
        user.initial_password = password
        return user


def _managed_user(user_id) -> User:
    """404 outside your scope; 403 ``account_beyond_reach`` for an account holding roles beyond it."""
    ctx = current()
    return accounts.managed_user(ctx.session, ctx.grants, id_path(user_id))


@blp.route("/<user_id>")
class UserItem(MethodView):
    @requires(READ)
    @blp.response(200, UserSchema)
    def get(self, user_id):
        ctx = current()
        return get_or_404(ctx.session, ctx.grants, User, id_path(user_id), READ)

    @requires(MANAGE)
    @blp.arguments(UserUpdateSchema)
    @blp.response(200, UserSchema)
    def patch(self, data, user_id):
        ctx = current()
        user = accounts.update_user(ctx.session, ctx.grants, _managed_user(user_id), data)
        ctx.session.commit()
        return user


@blp.route("/<user_id>/lock")
class UserLock(MethodView):
    @requires(MANAGE)
    @blp.response(200, UserSchema)
    def post(self, user_id):
        """Lock the account now and end all its sessions."""
        ctx = current()
        user = _managed_user(user_id)
        accounts.lock(ctx.session, ctx.grants, user)
        ctx.session.commit()
        return user


@blp.route("/<user_id>/unlock")
class UserUnlock(MethodView):
    @requires(MANAGE)
    @blp.response(200, UserSchema)
    def post(self, user_id):
        ctx = current()
        user = _managed_user(user_id)
        accounts.unlock(ctx.session, ctx.grants, user)
        ctx.session.commit()
        return user


@blp.route("/<user_id>/reset-password")
class UserResetPassword(MethodView):
    @requires(MANAGE)
    @blp.response(200, PasswordResetSchema)
    def post(self, user_id):
        """Set a one-time password (returned once); the user must change it at next log-in."""
        ctx = current()
        user = _managed_user(user_id)
        password = accounts.reset_password(ctx.session, ctx.grants, user)
        ctx.session.commit()
        return {"initial_password": password}


# --- the signed-in user -------------------------------------------------------------------

class GrantSchema(Schema):
    permission = fields.String()
    unit_paths = fields.List(fields.String())


class MeSchema(UserSchema):
    tenant = fields.Function(lambda u: {"id": current().tenant.id, "slug": current().tenant.slug,
                                        "name": current().tenant.name})
    permissions = fields.Function(lambda u: sorted(current().grants.by_perm))
    scope = fields.Function(lambda u: {p: list(v) for p, v in sorted(current().grants.by_perm.items())})
    enabled_plugins = fields.Function(lambda u: sorted(current().plugins))
    csrf_token = fields.Function(lambda u: current().web_session.csrf_token if current().web_session else None)


class WidgetSchema(Schema):
    key = fields.String()
    title = fields.String()
    title_en = fields.String(allow_none=True)
    ok = fields.Boolean()
    data = fields.Raw(allow_none=True, metadata={"description": "the widget's figures"})


@me_blp.route("/dashboard")
class Dashboard(MethodView):
    @authenticated
    @me_blp.response(200, WidgetSchema(many=True))
    def get(self):
        """The home dashboard's widgets for you: enabled modules, permissions you hold."""
        return [w for w in pingan().plugins.dashboard(current()) if not hasattr(w["data"], "__html__")]


class PasswordChangeSchema(Schema):
    old_password = fields.String(required=True, validate=validate.Length(max=128))
    new_password = fields.String(required=True, validate=validate.Length(min=auth.PASSWORD_MIN, max=auth.PASSWORD_MAX))
    revoke_tokens = fields.Boolean(load_default=False,
                                   metadata={"description": "同时撤销本人全部个人访问令牌和 OAuth 令牌"})


@me_blp.route("")
class Me(MethodView):
    @authenticated
    @me_blp.response(200, MeSchema)
    def get(self):
        """Who you are, in which county, and what you may do where."""
        return current().user


@me_blp.route("/password")
class Password(MethodView):
    @authenticated
    @me_blp.arguments(PasswordChangeSchema)
    @me_blp.response(204)
    def post(self, data):
        """Change your own password (required at first log-in). Only in a web session (403
        ``session_required`` with a token); ends your other sessions, and with ``revoke_tokens``
        your tokens too. A wrong old password counts towards the lockout."""
        ctx = current()
        auth.change_password(ctx.session, pingan().config, ctx.user, data["old_password"], data["new_password"],
                             ctx.web_session, revoke_tokens=data["revoke_tokens"])
        ctx.session.commit()
