"""/api/transfers — transfers between counties (跨县移交), the core's capability (``core.transfers``).

The counties an offer may go to; the county's inbox of offers (county-wide holders of a
kind's permission: receiving is the county's act) with accept (the unit that takes the
subject) and decline (a reason); its own offers (holders of the permission on the subject's
unit) with withdraw. An offer itself is made from the module's own endpoint (it knows its
subject), e.g. ``POST /api/keypersons/records/<id>/transfer``. ``docs/transfers.md``.
"""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from core import transfers
from core.api.common import ErrorSchema, IdField, IdListArgs, id_path, page_of, paginate
from core.errors import Forbidden
from core.request import authenticated, current
from core.runtime import pingan
from core.transfers import STATES, TransferIn, TransferOut

blp = Blueprint("core_transfers", __name__, url_prefix="/api/transfers", description="跨县移交 / Transfers between counties")
STATE_HELP = " | ".join(f"{k} {v[0]}" for k, v in STATES.items())


def kinds() -> dict[str, transfers.TransferKind]:
    """The transfer kinds of the modules the caller's county has on."""
    return transfers.kinds_for(pingan().plugins, current().plugins)


def _require_any(incoming: bool) -> dict:
    ctx, known = current(), kinds()
    held = (transfers.receivable_kinds(ctx.grants, known) if incoming
            else [k for k, kind in known.items() if ctx.grants.has(kind.permission)])
    if not held:
        raise Forbidden("forbidden", "缺少跨县移交的权限" if not incoming else "只有全县范围的移交接收人员可以查看收到的跨县移交")
    return known


class CountySchema(Schema):
    id = fields.Integer(metadata={"description": "县（市、区）在平台上的编号：发起移交时的 to_tenant_id"})
    name = fields.String()


class IncomingSchema(Schema):
    id = fields.Integer()
    kind = fields.String(metadata={"description": "移交的种类（模块声明）"})
    kind_title = fields.String()
    from_county = fields.String(metadata={"description": "移交方县名"})
    summary = fields.String(metadata={"description": "接收前可知的概况（不含姓名、证件号）"})
    note = fields.String(metadata={"description": "移交方的说明"})
    offered_at = fields.DateTime()
    received_at = fields.DateTime()
    state = fields.String(metadata={"description": STATE_HELP})
    state_title = fields.String()
    org_unit_id = fields.Integer(allow_none=True, metadata={"description": "接收单位（接收后）"})
    org_unit_name = fields.String()
    decided_at = fields.DateTime(allow_none=True)
    answer = fields.String(metadata={"description": "拒收原因"})
    delivered_at = fields.DateTime(allow_none=True, metadata={"description": "转入本县的时间"})
    subject_id = fields.Integer(allow_none=True, metadata={"description": "转入后在本县的记录编号"})


class OutgoingSchema(Schema):
    id = fields.Integer()
    kind = fields.String()
    kind_title = fields.String()
    to_county = fields.String(metadata={"description": "接收方县名"})
    to_tenant_id = fields.Integer()
    summary = fields.String()
    note = fields.String()
    org_unit_id = fields.Integer(metadata={"description": "发起时的责任单位"})
    org_unit_name = fields.String()
    state = fields.String(metadata={"description": STATE_HELP})
    state_title = fields.String()
    created_at = fields.DateTime()
    answered_at = fields.DateTime(allow_none=True)
    delivered_at = fields.DateTime(allow_none=True)
    answer = fields.String(metadata={"description": "对方县的拒收原因"})
    subject_id = fields.Integer(metadata={"description": "本县被移交的记录编号"})


class TransferListArgs(IdListArgs):
    state = fields.String(validate=validate.OneOf(list(STATES), labels=[v[0] for v in STATES.values()]),
                          metadata={"description": STATE_HELP})


class AcceptSchema(Schema):
    org_unit_id = IdField(required=True, metadata={"description": "接收单位（须在您的管辖范围内）"})


class DeclineSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=transfers.MAX_NOTE),
                           metadata={"description": "拒收原因（移交方可见）"})


@blp.route("/counties")
class Counties(MethodView):
    @authenticated
    @blp.response(200, CountySchema(many=True))
    def get(self):
        """The other counties of the platform an offer may go to."""
        ctx = current()
        _require_any(False)
        return [{"id": t.id, "name": t.name} for t in transfers.counties(ctx.session)]


@blp.route("/incoming")
class Incoming(MethodView):
    @authenticated
    @blp.arguments(TransferListArgs, location="query")
    @blp.response(200, page_of(IncomingSchema))
    def get(self, args):
        """Offers other counties made to yours, newest first (county-wide holders only)."""
        ctx = current()
        known = _require_any(True)
        page = paginate(ctx.session, transfers.incoming_query(ctx.grants, known, args.get("state")), args,
                        TransferIn.id, {"id": TransferIn.id}, "-id")
        return {**page, "items": transfers.present_in(ctx.session, known, page["items"])}


@blp.route("/incoming/<row_id>")
class IncomingItem(MethodView):
    @authenticated
    @blp.response(200, IncomingSchema)
    def get(self, row_id):
        """One offer."""
        ctx, known = current(), kinds()
        row = transfers.incoming_or_404(ctx.session, ctx.grants, known, id_path(row_id))
        return transfers.present_in(ctx.session, known, [row])[0]


@blp.route("/incoming/<row_id>/accept")
class Accept(MethodView):
    @authenticated
    @blp.arguments(AcceptSchema)
    @blp.response(200, IncomingSchema)
    @blp.alt_response(409, schema=ErrorSchema, description="not_open: answered or withdrawn already")
    def post(self, data, row_id):
        """Accept: the unit takes the subject; the payload comes over after commit (state
        ``accepted``, then ``delivered``)."""
        ctx, known = current(), kinds()
        row = transfers.incoming_or_404(ctx.session, ctx.grants, known, id_path(row_id))
        transfers.accept(ctx.session, known[row.kind], row, ctx.grants, data["org_unit_id"], ctx.user.id)
        ctx.session.commit()
        return transfers.present_in(ctx.session, known, [row])[0]


@blp.route("/incoming/<row_id>/decline")
class Decline(MethodView):
    @authenticated
    @blp.arguments(DeclineSchema)
    @blp.response(200, IncomingSchema)
    @blp.alt_response(409, schema=ErrorSchema, description="not_open: answered or withdrawn already")
    def post(self, data, row_id):
        """Decline with a reason the sending county reads; nothing of the subject ever came here."""
        ctx, known = current(), kinds()
        row = transfers.incoming_or_404(ctx.session, ctx.grants, known, id_path(row_id))
        transfers.decline(ctx.session, row, data["reason"], ctx.user.id)
        ctx.session.commit()
        return transfers.present_in(ctx.session, known, [row])[0]


@blp.route("/outgoing")
class Outgoing(MethodView):
    @authenticated
    @blp.arguments(TransferListArgs, location="query")
    @blp.response(200, page_of(OutgoingSchema))
    def get(self, args):
        """Your county's offers on units in your scope, newest first."""
        ctx = current()
        known = _require_any(False)
        page = paginate(ctx.session, transfers.outgoing_query(ctx.grants, known, args.get("state")), args,
                        TransferOut.id, {"id": TransferOut.id}, "-id")
        return {**page, "items": transfers.present_out(ctx.session, known, page["items"])}


@blp.route("/outgoing/<row_id>")
class OutgoingItem(MethodView):
    @authenticated
    @blp.response(200, OutgoingSchema)
    def get(self, row_id):
        """One of your county's offers."""
        ctx, known = current(), kinds()
        row = transfers.outgoing_or_404(ctx.session, ctx.grants, known, id_path(row_id))
        return transfers.present_out(ctx.session, known, [row])[0]


@blp.route("/outgoing/<row_id>/withdraw")
class Withdraw(MethodView):
    @authenticated
    @blp.response(200, OutgoingSchema)
    @blp.alt_response(409, schema=ErrorSchema, description="not_open: the other county answered already")
    def post(self, row_id):
        """Withdraw an offer the other county has not answered (an answer that came first stands)."""
        ctx, known = current(), kinds()
        row = transfers.outgoing_or_404(ctx.session, ctx.grants, known, id_path(row_id))
        transfers.withdraw(ctx.session, row, ctx.user.id)
        ctx.session.commit()
        return transfers.present_out(ctx.session, known, [row])[0]
