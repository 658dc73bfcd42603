"""The pages of people speak (VIL-2): 群众意见 — the opinions of the user's villages with their
triage, the collector's form, one-time codes for a point's slips (shown once, to print) — and
the public form (no sign-in) where a villager types the code from the slip and says their piece.
The collection points are the register's page (``/village/opinion-points/``)."""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from sqlalchemy import select

from core.sdk import HIDDEN_FORM_FIELDS, PinganError, current, load_form, parse_int, public, requires, scoped

from . import opinions
from .opinions import ACTIONS, CodesIn, Opinion, OpinionIn, OpinionPoint, PublicOpinionIn, TriageIn
from .opinions_api import opinions_statement, public_guard
from .permissions import OPINION, READ

bp = Blueprint("village_opinions_web", __name__, url_prefix="/village", template_folder="templates")


def _form() -> dict:
    return {k: v.strip() for k, v in request.form.items() if k not in HIDDEN_FORM_FIELDS and v.strip() != ""}


def _page(errors: dict | None = None, values: dict | None = None, codes: dict | None = None, status: int = 200):
    ctx = current()
    s = ctx.session
    state = request.args.get("state") if request.args.get("state") in opinions.STATES else None
    rows = s.scalars(opinions_statement(ctx, {"state": state}).order_by(Opinion.id.desc()).limit(200)).all()
    points = s.scalars(scoped(select(OpinionPoint), ctx.grants, OPINION, OpinionPoint.org_unit_id)
                       .where(OpinionPoint.closed_at.is_(None)).order_by(OpinionPoint.name).limit(500)).all()
    names = {p.id: p.name for p in points}
    return render_template("village/opinions.html", rows=opinions.view(s, rows), points=points, names=names,
                           may_manage=ctx.grants.has(OPINION), errors=errors or {}, values=values or {},
                           codes=codes, actions=ACTIONS, states=opinions.STATES, state=state,
                           today=opinions.today().isoformat(), done=request.args.get("done")), status


@bp.route("/opinions", methods=["GET"])
@requires(READ)
def opinions_page():
    return _page()


@bp.route("/opinions", methods=["POST"])
@requires(OPINION)
def opinion_form():
    """The collector records an opinion received in person."""
    ctx = current()
    values = _form()
    try:
        opinions.record(ctx, load_form(OpinionIn, values))
        ctx.session.commit()
        return redirect(url_for("village_opinions_web.opinions_page", done="recorded"))
    except PinganError as exc:
        ctx.session.rollback()
        return _page({"record": {exc.field_at_fault: exc.message}}, {"record": values}, status=exc.status)


@bp.route("/opinion-codes", methods=["POST"])
@requires(OPINION)
def codes_form():
    """Codes for a point's slips: shown on the page once, to print."""
    ctx = current()
    values = _form()
    try:
        point = opinions.point_or_404(ctx, parse_int(values.get("point_id", ""), lo=1) or 0)
        data = load_form(CodesIn, {"count": values.get("count", "")})
        codes, expires = opinions.issue_codes(ctx, point, data["count"])
        ctx.session.commit()
    except PinganError as exc:
        ctx.session.rollback()
        return _page({"codes": {exc.field_at_fault: exc.message}}, {"codes": values}, status=exc.status)
    return _page(codes={"point": point.name, "codes": codes, "expires_on": expires})


@bp.route("/opinions/<opinion_id>/triage", methods=["POST"])
@requires(OPINION)
def triage_form(opinion_id):
    ctx = current()
    values = _form()
    oid = parse_int(opinion_id, lo=1) or 0
    try:
        opinions.triage(ctx, oid, load_form(TriageIn, values))
        ctx.session.commit()
        return redirect(url_for("village_opinions_web.opinions_page", done="triaged") + f"#opinion-{oid}")
    except PinganError as exc:
        ctx.session.rollback()
        if exc.status == 404 and not exc.errors:   # the opinion itself: not found, as for none
            raise
        field = exc.field_at_fault
        field = field if field in TriageIn().fields else "_form"   # e.g. no registration at the village's window
        return _page({f"t{oid}": {field: exc.message}}, {f"t{oid}": values}, status=exc.status)


@bp.route("/opinion", methods=["GET", "POST"])
@public
def public_form():
    """The public form: the code from the slip and what the villager wants to say."""
    public_guard(count=request.method == "POST")
    values, errors, village = {}, {}, None
    if request.method == "POST":
        ctx = current()
        values = _form()
        try:
            row = opinions.submit_public(ctx.session, **load_form(PublicOpinionIn, values))
            village = opinions.view(ctx.session, [row])[0]["org_unit_name"]
            ctx.session.commit()
            values = {}
        except PinganError as exc:
            ctx.session.rollback()
            errors[exc.field_at_fault] = exc.message
    return render_template("village/opinion_public.html", values=values, errors=errors, village=village), (
        422 if errors else 200)
