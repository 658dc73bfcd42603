"""The rental-house pages (出租房屋): the list with this year's figures, registering a house and
its landlord, and a house's page — its facts and cards, tenants moving in and out, the landlord's
star rating of a year and responsibility letter, 停止出租. Usable on a 360-px phone; every form
posts to the same code the API runs and, refused, comes back with the message at its field and
everything typed kept.
"""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for

from core.sdk import (HIDDEN_FORM_FIELDS, NotFound, PinganError, authenticated, current, may, issue_letter, load_form, paginate,
                      parse_int, requires)

from . import rental
from .models import RentalHouse
from .permissions import RENTAL_MANAGE, RENTAL_READ
from .records import settings_of, today
from .rental_api import EndIn, HouseCreate, HouseUpdate, LetterIn, MoveOutIn, RatingIn, TenantIn, unit_in_scope
from .settings import rental_cards, rental_stars
from .web import _units

bp = Blueprint("keypersons_rental_web", __name__, url_prefix="/keypersons/rental", template_folder="templates")
PAGE = 50
LISTS = ("cards", "stars")   # check boxes: every ticked value; "<name>_shown" says the boxes were on the form


def _form() -> dict:
    """What a form posted (check boxes as lists), without the tokens and the empty fields."""
    out: dict = {k: v for k, v in request.form.items() if k not in HIDDEN_FORM_FIELDS and k not in LISTS
                 and not k.endswith("_shown") and v.strip() != ""}
    for name in LISTS:
        if name in request.form or f"{name}_shown" in request.form:
            out[name] = request.form.getlist(name)
    return out


def _kept() -> dict:
    """What was typed, for the form shown again (check boxes as lists)."""
    kept: dict = request.form.to_dict()
    for name in LISTS:
        kept[name] = request.form.getlist(name)
    return kept


@bp.route("/")
@requires(RENTAL_READ)
def houses_page():
    ctx = current()
    s = ctx.session
    error, rows, cursor, figures = None, [], None, None
    try:
        under_id = parse_int(request.args.get("under", ""), lo=1)
        under = unit_in_scope(ctx, under_id) if under_id else None
        status = request.args.get("status") if request.args.get("status") in ("let", "ended") else None
        args = {"limit": PAGE, "cursor": request.args.get("cursor") or None, "sort": None}
        page = paginate(s, rental.list_statement(ctx.grants, under, status), args, RentalHouse.id,
                        {"id": RentalHouse.id}, "-id")
        rows, cursor = rental.summaries(s, ctx.grants, page["items"]), page["next_cursor"]
        unit = under or unit_in_scope(ctx, None)
        figures = dict(rental.figures(s, ctx.grants, unit), org_unit_name=unit.name)
    except PinganError as exc:
        error = exc.message
    return render_template("keypersons/rental_list.html", rows=rows, next_cursor=cursor, error=error, f=figures,
                           units=_units(s, ctx.grants, [RENTAL_READ]), args=request.args,
                           may_create=ctx.grants.has(RENTAL_MANAGE), done=request.args.get("done"))


@bp.route("/new", methods=["GET", "POST"])
@requires(RENTAL_MANAGE)
def new_page():
    ctx = current()
    s = ctx.session
    values, errors = ({"cards": []}, {})
    if request.method == "POST":
        values = _kept()
        try:
            house = rental.create(s, ctx.grants, ctx.user.id, load_form(HouseCreate, _form()))
            s.commit()
            return redirect(url_for("keypersons_rental_web.house_page", house_id=house.id, done="created"))
        except PinganError as exc:
            s.rollback()
            errors[exc.field_at_fault] = exc.message
    return render_template("keypersons/rental_new.html", units=_units(s, ctx.grants, [RENTAL_MANAGE]), values=values,
                           errors=errors, cards=rental_cards(settings_of(s))), (422 if errors else 200)


@bp.route("/<house_id>")
@authenticated
def house_page(house_id):
    return _show(_id(house_id), {}, {}, request.args.get("done"))


def _id(raw: str) -> int:
    value = parse_int(raw, lo=1)
    if value is None:
        raise NotFound()
    return value


def _show(hid: int, errors: dict, values: dict, done: str | None, status: int = 200):
    ctx = current()
    s = ctx.session
    house = rental.detail(s, ctx.grants, rental.house_or_404(s, ctx.grants, hid))
    settings = settings_of(s)
    year = today().year
    rating = next((r for r in house["ratings"] if r["year"] == year), None)
    return render_template("keypersons/rental_house.html", h=house, errors=errors, values=values, done=done,
                           cards=rental_cards(settings), stars=rental_stars(settings), today=today().isoformat(),
                           year=year, years=list(range(year, year - 5, -1)), rating=rating,
                           may_letters=may(s, ctx.grants, "core.letter.manage", house["org_unit_id"])), status


def _act(house_id: str, form: str, schema, act, done: str, clearable: tuple[str, ...] = (),
         required: tuple[str, ...] = ()):
    """A form on the house's page: load it with ``schema``, run ``act(ctx, house_id, data)``, commit
    and show the page — or show it again with the message at the field (``errors[form][field]``)
    and everything typed kept (``values[form]``); a house or tenant not found stays 404 (the
    routes need a log-in only: a house outside the user's scope is not found, as one that is not)."""
    ctx = current()
    hid = _id(house_id)
    raw = _form()
    for name in (*clearable, *required):   # a field emptied on the form is cleared (or refused), not left as it was
        if name in request.form and name not in raw:
            raw[name] = None if name in clearable else ""
    try:
        act(ctx, hid, load_form(schema, raw))
        ctx.session.commit()
    except PinganError as exc:
        ctx.session.rollback()
        if exc.code in ("house_not_found", "tenant_not_found", "not_found"):
            raise
        field = exc.field_at_fault
        field = field if field in schema().fields else "_form"   # e.g. a letter's issuing unit: not on this form
        return _show(hid, {form: {field: exc.message}}, {form: _kept()}, None,
                     exc.status)
    return redirect(url_for("keypersons_rental_web.house_page", house_id=hid, done=done))


@bp.route("/<house_id>/edit", methods=["POST"])
@authenticated
def edit_form(house_id):
    return _act(house_id, "edit", HouseUpdate,
                lambda ctx, hid, data: rental.update(ctx.session, ctx.grants, hid, data), "edited",
                clearable=("rooms", "note"), required=("address",))


@bp.route("/<house_id>/tenants", methods=["POST"])
@authenticated
def tenant_form(house_id):
    return _act(house_id, "tenant", TenantIn,
                lambda ctx, hid, data: rental.add_tenant(ctx.session, ctx.grants, ctx.user.id, hid, data), "tenant")


@bp.route("/<house_id>/tenants/<tenancy_id>/move-out", methods=["POST"])
@authenticated
def move_out_form(house_id, tenancy_id):
    tid = _id(tenancy_id)
    return _act(house_id, f"out{tid}", MoveOutIn,
                lambda ctx, hid, data: rental.move_out(ctx.session, ctx.grants, hid, tid, data["moved_out"]), "moved_out")


@bp.route("/<house_id>/ratings", methods=["POST"])
@authenticated
def rating_form(house_id):
    return _act(house_id, "rating", RatingIn,
                lambda ctx, hid, data: rental.rate(ctx.session, ctx.grants, ctx.user.id, hid, data), "rated")


def _letter(ctx, hid: int, data: dict) -> None:
    house = rental.house_or_404(ctx.session, ctx.grants, hid, RENTAL_MANAGE)
    issue_letter(ctx, rental.RENTAL_LETTER, data["year"], house.org_unit_id, "person", house.owner_person_id,
                 data.get("counterparty"))


@bp.route("/<house_id>/letter", methods=["POST"])
@authenticated
def letter_form(house_id):
    return _act(house_id, "letter", LetterIn, _letter, "letter")


@bp.route("/<house_id>/end", methods=["POST"])
@authenticated
def end_form(house_id):
    return _act(house_id, "end", EndIn,
                lambda ctx, hid, data: rental.end(ctx.session, ctx.grants, hid, data["ended_on"]), "ended")

