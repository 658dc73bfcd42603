"""/admin/member-units — the member units (成员单位, ORG-3) seated in the centres you manage:
list, add, rename or recategorise, deactivate, delete. The writes are ``core.network``'s
with the API's request schemas checking the forms; a member unit outside your scope is 404.
"""
from __future__ import annotations

from flask import redirect, render_template, request, url_for
from sqlalchemy import select

from core import network
from core.api.network import MemberUnitCreateSchema, MemberUnitUpdateSchema
from core.authz import get_or_404, scoped
from core.errors import PinganError
from core.models import MemberUnit, OrgUnit
from core.request import current, requires
from core.web.admin import bp, error_fields, form_with_errors, scope_units, section

MANAGE = "core.member_unit.manage"
section(40, "web_admin.member_units", MANAGE, "成员单位", "Member units")


def _page(errors: dict | None = None, values: dict | None = None, status: int = 200, done: str | None = None):
    ctx = current()
    s = ctx.session
    rows = list(s.scalars(scoped(select(MemberUnit), ctx.grants, MANAGE, MemberUnit.org_unit_id)
                          .order_by(MemberUnit.org_unit_id, MemberUnit.name).limit(2000)))
    units = scope_units(s, ctx.grants, MANAGE)
    names = dict(s.execute(select(OrgUnit.id, OrgUnit.name).where(OrgUnit.id.in_({m.org_unit_id for m in rows}))).all())
    categories = sorted({m.category for m in rows})
    seats: dict[int, list[int]] = {}
    for m in rows:
        seats.setdefault(m.org_unit_id, []).append(m.id)
    candidates = network.staff_candidates(s, seats) if may_staff(ctx) else {}
    return render_template("admin/member_units.html", rows=rows, units=units, names=names, categories=categories,
                           candidates=candidates, errors=errors or {}, values=values or {}, done=done), status


def may_staff(ctx) -> bool:
    """Staff are chosen by whoever also manages user accounts (``core.user.manage``)."""
    return ctx.grants.has(network.USER_MANAGE)


@bp.route("/member-units")
@requires(MANAGE)
def member_units():
    return _page(done=request.args.get("done"))


def _form() -> dict:
    return {k: request.form.get(k, "").strip() for k in ("org_unit_id", "name", "category")}


def _fail(exc: PinganError, prefix: str):
    current().session.rollback()
    if exc.status >= 500 or exc.status == 404:
        raise exc
    return error_fields(exc, prefix), exc.status


@bp.route("/member-units", methods=["POST"])
@requires(MANAGE)
def member_unit_add():
    ctx = current()
    values = _form()
    data, errors = form_with_errors(MemberUnitCreateSchema(), {**values, "org_unit_id": values["org_unit_id"] or None},
                             "member.")
    status = 422
    if not errors:
        try:
            network.create(ctx.session, ctx.grants, MemberUnit, data, MANAGE)
            ctx.session.commit()
            return redirect(url_for("web_admin.member_units", done="add"))
        except PinganError as exc:
            errors, status = _fail(exc, "member.")
    return _page(errors, {"member": values}, status)


@bp.route("/member-units/<int:item_id>", methods=["POST"])
@requires(MANAGE)
def member_unit_edit(item_id: int):
    """Save a row's form (``action=save``), its staff (``action=staff``: the users picked from its
    seat unit's accounts), or switch it on/off (``action=toggle``), or delete it."""
    ctx = current()
    obj = get_or_404(ctx.session, ctx.grants, MemberUnit, item_id, MANAGE)
    action = request.form.get("action", "save")
    prefix = f"m{item_id}."
    try:
        if action == "delete":
            network.delete(ctx.session, obj)
        elif action == "staff":
            from core.bounds import parse_int
            ids = [parse_int(v, lo=1) for v in request.form.getlist("staff") if v.strip()]
            if any(i is None for i in ids):
                from core.errors import Invalid
                raise Invalid("staff", "invalid_user", "请从列表中选择工作人员")
            network.set_staff(ctx.session, ctx.grants, obj, ids)
        elif action == "toggle":
            network.update(ctx.session, ctx.grants, obj, {"active": not obj.active}, MANAGE)
        else:
            values = _form()
            data, errors = form_with_errors(MemberUnitUpdateSchema(), {k: v for k, v in values.items() if k != "org_unit_id"},
                                     prefix)
            if errors:
                return _page(errors, {prefix: values}, 422)
            network.update(ctx.session, ctx.grants, obj, data, MANAGE)
        ctx.session.commit()
    except PinganError as exc:
        errors, status = _fail(exc, prefix)
        return _page(errors, {prefix: _form()}, status)
    return redirect(url_for("web_admin.member_units", done=action) + (f"#member-{item_id}" if action != "delete" else ""))
