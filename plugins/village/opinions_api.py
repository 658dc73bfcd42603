"""/api/village/opinions — people speak (VIL-2): codes for a collection point, opinions received
(from the public page with a code, or recorded by the collector) and their triage. The points
themselves are a register (``/api/village/opinion-points``)."""
from __future__ import annotations

from flask import request
from flask.views import MethodView
from marshmallow import Schema, fields, validate

from sqlalchemy import select

from core.sdk import (Blueprint, IdListArgs, NotFound, current, id_path, page_of, paginate, public, rate_limit,
                      requires, scoped)

from . import opinions
from .opinions import CodesIn, Opinion, OpinionIn, PublicOpinionIn, TriageIn
from .permissions import OPINION, READ

blp = Blueprint("village_opinions", __name__, url_prefix="/api/village", description="群众说事：社情民意 / Opinions")
public_blp = Blueprint("village_public_opinions", __name__, url_prefix="/api/village/public/opinions",
                       description="群众意见（无需登录） / Public opinion form")


class CodesOut(Schema):
    codes = fields.List(fields.String(), metadata={"description": "只显示这一次：请打印或抄写后发放"})
    expires_on = fields.Date()


class OpinionOut(Schema):
    id = fields.Integer()
    point_id = fields.Integer()
    point = fields.String()
    org_unit_id = fields.Integer()
    org_unit_name = fields.String()
    content = fields.String()
    via = fields.String()
    via_title = fields.String()
    received_at = fields.DateTime()
    state = fields.String(metadata={"description": "new 待分办 | intake 已转统一受理 | answered 已答复 | dismissed 不予处理"})
    state_title = fields.String()
    note = fields.String()
    intake_id = fields.Integer(allow_none=True)


class OpinionArgs(IdListArgs):
    state = fields.String(load_default=None, validate=validate.OneOf(list(opinions.STATES)))


class ReceivedOut(Schema):
    received = fields.Boolean()
    village = fields.String()


def one(ctx, row: Opinion) -> dict:
    return opinions.view(ctx.session, [row])[0]


def opinions_statement(ctx, args: dict):
    stmt = scoped(select(Opinion), ctx.grants, READ, Opinion.org_unit_id)
    if args.get("state"):
        stmt = stmt.where(Opinion.state == args["state"])
    return stmt


@blp.route("/opinion-points/<point_id>/codes")
class Codes(MethodView):
    @requires(OPINION)
    @blp.arguments(CodesIn)
    @blp.response(201, CodesOut)
    def post(self, data, point_id):
        """One-time codes for the point's slips (shown once; only their hashes are kept)."""
        ctx = current()
        codes, expires = opinions.issue_codes(ctx, opinions.point_or_404(ctx, id_path(point_id)), data["count"])
        ctx.session.commit()
        return {"codes": codes, "expires_on": expires}


@blp.route("/opinions")
class Opinions(MethodView):
    @requires(READ)
    @blp.arguments(OpinionArgs, location="query")
    @blp.response(200, page_of(OpinionOut))
    def get(self, args):
        """Opinions received in the user's villages, newest first."""
        ctx = current()
        page = paginate(ctx.session, opinions_statement(ctx, args), args, Opinion.id, {"id": Opinion.id}, "-id")
        page["items"] = opinions.view(ctx.session, page["items"])
        return page

    @requires(OPINION)
    @blp.arguments(OpinionIn)
    @blp.response(201, OpinionOut)
    def post(self, data):
        """An opinion the collector received in person at the point."""
        ctx = current()
        row = opinions.record(ctx, data)
        out = one(ctx, row)
        ctx.session.commit()
        return out


@blp.route("/opinions/<opinion_id>/triage")
class Triage(MethodView):
    @requires(OPINION)
    @blp.arguments(TriageIn)
    @blp.response(200, OpinionOut)
    def post(self, data, opinion_id):
        """分办: ``intake`` (a matter at the village's window, for the sorting meeting), ``answered``
        or ``dismissed`` (with the answer or the reason in ``note``)."""
        ctx = current()
        row = opinions.triage(ctx, id_path(opinion_id), data)
        out = one(ctx, row)
        ctx.session.commit()
        return out


def public_guard(count: bool = True) -> None:
    """The module on in this county, and (``count``: a submission) the address under its rate
    (429 past it); showing the form uses none of it."""
    ctx = current()
    if ctx.plugins.get("village") is None:
        raise NotFound()
    if count:
        rate_limit(f"village.opinion:{ctx.tenant.id}:{request.remote_addr}", 20)


@public_blp.route("")
class PublicOpinion(MethodView):
    @public
    @public_blp.arguments(PublicOpinionIn)
    @public_blp.response(201, ReceivedOut)
    def post(self, data):
        """An opinion with a code from a collection point's slip (no sign-in, no name asked); 422
        ``invalid_code`` for a code unknown, spent or expired. Rate-limited per address."""
        public_guard()
        ctx = current()
        row = opinions.submit_public(ctx.session, data["code"], data["content"])
        village = one(ctx, row)["org_unit_name"]
        ctx.session.commit()
        return {"received": True, "village": village}
