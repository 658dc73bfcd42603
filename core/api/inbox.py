"""/api/inbox — the signed-in user's notifications: to-dos (待办) and messages, with unread counts."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import select, update

from core.api.common import ListArgs, id_path, page_of, paginate, sort_field
from core.db import utcnow
from core.errors import NotFound
from core.models import Notification
from core.notifications import MAX_BATCH, mark_read, unread_counts
from core.request import authenticated, current

blp = Blueprint("core_inbox", __name__, url_prefix="/api/inbox", description="消息与待办 / Inbox")


class NotificationSchema(Schema):
    id = fields.Integer()
    kind = fields.String(metadata={"description": "todo 待办 | message 消息"})
    title = fields.String()
    body = fields.String()
    case_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()
    read_at = fields.DateTime(allow_none=True)


class InboxArgs(ListArgs):
    sort = sort_field({"id": None})
    kind = fields.String(validate=validate.OneOf(["todo", "message"]))
    unread = fields.Boolean()


class CountsSchema(Schema):
    todo = fields.Integer()
    message = fields.Integer()


@blp.route("")
class Inbox(MethodView):
    @authenticated
    @blp.arguments(InboxArgs, location="query")
    @blp.response(200, page_of(NotificationSchema))
    def get(self, args):
        """Your notifications, newest first."""
        ctx = current()
        stmt = select(Notification).where(Notification.user_id == ctx.user.id)
        if "kind" in args:
            stmt = stmt.where(Notification.kind == args["kind"])
        if args.get("unread"):
            stmt = stmt.where(Notification.read_at.is_(None))
        args.setdefault("sort", None)
        args["sort"] = args["sort"] or "-id"
        return paginate(ctx.session, stmt, args, Notification.id, {"id": Notification.id}, "-id")


@blp.route("/counts")
class InboxCounts(MethodView):
    @authenticated
    @blp.response(200, CountsSchema)
    def get(self):
        """Unread to-dos and messages (the badges in the header)."""
        ctx = current()
        return unread_counts(ctx.session, ctx.user.id)


@blp.route("/<notification_id>/read")
class InboxRead(MethodView):
    @authenticated
    @blp.response(200, NotificationSchema)
    def post(self, notification_id):
        ctx = current()
        note = ctx.session.scalar(select(Notification).where(Notification.id == id_path(notification_id),
                                                             Notification.user_id == ctx.user.id))
        if note is None:
            raise NotFound()
        note.read_at = note.read_at or utcnow()
        ctx.session.commit()
        return note


class ReadSelectedInput(Schema):
    ids = fields.List(fields.Integer(strict=True), required=True, validate=validate.Length(min=1, max=MAX_BATCH),
                      metadata={"description": "your notifications to mark read (at most 200)"})


class ReadSelectedSchema(CountsSchema):
    read = fields.List(fields.Integer(), metadata={"description": "the ids that were yours (now read)"})


@blp.route("/read")
class InboxReadSelected(MethodView):
    @authenticated
    @blp.arguments(ReadSelectedInput)
    @blp.response(200, ReadSelectedSchema)
    def post(self, body):
        """Mark several of your notifications read (the inbox's 将勾选的标为已读). An id that is not
        yours is left out of ``read``, never told apart from one that does not exist."""
        ctx = current()
        done = mark_read(ctx.session, ctx.user.id, body["ids"])
        ctx.session.commit()
        return {"read": done, **unread_counts(ctx.session, ctx.user.id)}


@blp.route("/read-all")
class InboxReadAll(MethodView):
    @authenticated
    @blp.response(200, CountsSchema)
    def post(self):
        ctx = current()
        ctx.session.execute(update(Notification).where(Notification.user_id == ctx.user.id,
                                                       Notification.read_at.is_(None)).values(read_at=utcnow()))
        ctx.session.commit()
        return unread_counts(ctx.session, ctx.user.id)
