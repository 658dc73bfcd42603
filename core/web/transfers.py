"""跨县移交: the county's transfers to and from other counties on one page (``core.transfers``):
offers received (county-wide holders of a kind's permission) with accepting — the unit picked
from a select — and declining with a reason; the county's own offers with withdrawing. The
same service as ``/api/transfers``; an offer itself is made on the module's page of its subject."""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from sqlalchemy import select

from core import transfers
from core.authz import unit_scope
from core.bounds import parse_int
from core.errors import Invalid, NotFound, PinganError
from core.models import OrgUnit
from core.orgtree import tree_order
from core.request import authenticated, current
from core.runtime import pingan
from core.timefmt import local

bp = Blueprint("web_transfers", __name__, url_prefix="/transfers")
SHOWN = 100


def kinds() -> dict[str, transfers.TransferKind]:
    return transfers.kinds_for(pingan().plugins, current().plugins)


def visible(ctx) -> bool:
    """The menu's 跨县移交: for holders of a transfer kind's permission of a module on."""
    known = transfers.kinds_for(pingan().plugins, ctx.plugins)
    return any(ctx.grants.has(kind.permission) for kind in known.values())


def _page(errors: dict | None = None, values: dict | None = None, status: int = 200):
    ctx, known = current(), kinds()
    if not any(ctx.grants.has(kind.permission) for kind in known.values()):
        raise NotFound()
    s = ctx.session
    receiving = transfers.receivable_kinds(ctx.grants, known)
    incoming = transfers.present_in(s, known, list(s.scalars(
        transfers.incoming_query(ctx.grants, known).order_by(transfers.TransferIn.id.desc()).limit(SHOWN)))) if receiving else []
    outgoing = transfers.present_out(s, known, list(s.scalars(
        transfers.outgoing_query(ctx.grants, known).order_by(transfers.TransferOut.id.desc()).limit(SHOWN))))
    units: dict[str, list[OrgUnit]] = {}
    for key in receiving:
        perm = known[key].permission
        units[key] = tree_order(s.scalars(select(OrgUnit).where(OrgUnit.status == "active", unit_scope(ctx.grants, perm))
                                          .limit(2000)))
    links = {k: kind.page for k, kind in known.items() if kind.page}
    return render_template("transfers.html", incoming=incoming, outgoing=outgoing, units=units, links=links,
                           when=local, errors=errors or {}, values=values or {}, done=request.args.get("done")), status


@bp.route("/")
@authenticated
def index():
    return _page()


def _act(row_id: str, act, done: str):
    """Run one act on a row; back to the page with the message at its field, what was typed kept."""
    ctx, known = current(), kinds()
    rid = parse_int(row_id, lo=1)
    if rid is None:
        raise NotFound()
    try:
        act(ctx, known, rid)
        ctx.session.commit()
    except PinganError as exc:
        ctx.session.rollback()
        field = exc.field_at_fault
        if exc.status == 404 and field == "_form":
            raise      # the row itself is not there (or not the user's): 404 as for any page
        return _page({rid: {field: exc.message}}, {rid: request.form.to_dict()}, exc.status)
    return redirect(url_for("web_transfers.index", done=done))


@bp.route("/incoming/<row_id>/accept", methods=["POST"])
@authenticated
def accept(row_id):
    def act(ctx, known, rid):
        row = transfers.incoming_or_404(ctx.session, ctx.grants, known, rid)
        unit_id = parse_int(request.form.get("org_unit_id", ""), lo=1)
        if unit_id is None:
            raise Invalid("org_unit_id", "required", "请选择接收单位")
        transfers.accept(ctx.session, known[row.kind], row, ctx.grants, unit_id, ctx.user.id)
    return _act(row_id, act, "accepted")


@bp.route("/incoming/<row_id>/decline", methods=["POST"])
@authenticated
def decline(row_id):
    def act(ctx, known, rid):
        row = transfers.incoming_or_404(ctx.session, ctx.grants, known, rid)
        transfers.decline(ctx.session, row, request.form.get("reason", ""), ctx.user.id)
    return _act(row_id, act, "declined")


@bp.route("/outgoing/<row_id>/withdraw", methods=["POST"])
@authenticated
def withdraw(row_id):
    def act(ctx, known, rid):
        transfers.withdraw(ctx.session, transfers.outgoing_or_404(ctx.session, ctx.grants, known, rid), ctx.user.id)
    return _act(row_id, act, "withdrawn")
