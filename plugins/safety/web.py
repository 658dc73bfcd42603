"""The safety module's pages: places (register with the type's fields), checklist templates,
the inspection form (built for a 360-px phone: one question a row, 是/否 as large radio buttons;
a refused submit comes back with every answer kept), an inspection's result, and incident
reports. Hazards are cases: their page and acts are the core's case page (/cases/<id>)."""
from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import Blueprint, redirect, render_template, request, url_for
from sqlalchemy import select

from core.sdk import (HIDDEN_FORM_FIELDS, Invalid, OrgUnit, PinganError, current, get_or_404, load_form, may,
                      parse_int, requires, scoped, utcnow)

from . import incidents, inspections, places
from .api import ChecklistInput, IncidentInput, LocationInput, PlaceInput, require_county_manage, root_unit_id
from .models import Checklist, Incident, Inspection, Place
from .permissions import INCIDENT, INSPECT, MANAGE, READ

bp = Blueprint("safety_web", __name__, url_prefix="/safety", template_folder="templates")
ROWS = 8  # blank item rows of a new checklist
SHANGHAI = ZoneInfo("Asia/Shanghai")


def _form() -> dict:
    return {k: v for k, v in request.form.items() if k not in HIDDEN_FORM_FIELDS and v.strip() != ""}


def _units(perm: str) -> list[OrgUnit]:
    ctx = current()
    return list(ctx.session.scalars(scoped(select(OrgUnit), ctx.grants, perm, OrgUnit.id)
                                    .where(OrgUnit.status == "active").order_by(OrgUnit.path).limit(500)))


def _unit_names(ids) -> dict[int, str]:
    ids = list({i for i in ids if i})
    if not ids:
        return {}
    return dict(current().session.execute(select(OrgUnit.id, OrgUnit.name).where(OrgUnit.id.in_(ids))).all())


def _error(exc: PinganError) -> dict[str, str]:
    field = getattr(exc, "field", None)
    return {field: exc.message} if field else {"_form": exc.message}


# --- places ----------------------------------------------------------------------------------------

def _places_page(values=None, errors=None, status=200):
    ctx = current()
    settings = ctx.plugins["safety"]
    chosen = (values or {}).get("place_type") or request.args.get("place_type") or settings["place_types"][0]["key"]
    rows = ctx.session.scalars(scoped(select(Place), ctx.grants, READ, Place.org_unit_id)
                               .order_by(Place.id.desc()).limit(200)).all()
    names = _unit_names(r.org_unit_id for r in rows)
    listed = [{"place": p, "unit": names.get(p.org_unit_id, ""), "extra": places.extra_display(settings, p)}
              for p in rows]
    may_manage = ctx.grants.has(MANAGE)
    return render_template("safety/places.html", rows=listed, types=places.titles(settings), chosen=chosen,
                           extra_fields=places.type_fields(settings, chosen), units=_units(MANAGE) if may_manage else [],
                           may_manage=may_manage, values=values or {}, errors=errors or {},
                           done=request.args.get("done")), status


@bp.route("/places", methods=["GET"])
@requires(READ)
def places_page():
    return _places_page()


@bp.route("/places", methods=["POST"])
@requires(MANAGE)
def create_place():
    ctx = current()
    raw = _form()
    extra = {k[len("extra."):]: v for k, v in raw.items() if k.startswith("extra.")}
    base = {k: v for k, v in raw.items() if not k.startswith("extra.")}
    try:
        data = load_form(PlaceInput, {**base, "extra": extra})
        places.create(ctx, data)
        ctx.session.commit()
    except PinganError as exc:
        ctx.session.rollback()
        return _places_page(request.form.to_dict(), _error(exc), exc.status)
    return redirect(url_for(".places_page", done="1"))


# --- checklists ------------------------------------------------------------------------------------

def _checklists_page(values=None, errors=None, status=200):
    ctx = current()
    settings = ctx.plugins["safety"]
    lists = ctx.session.scalars(select(Checklist).order_by(Checklist.place_type, Checklist.id.desc())).all()
    root = root_unit_id(ctx.session)
    return render_template("safety/checklists.html", lists=[(c, inspections.items_of(ctx.session, c.id)) for c in lists],
                           types=places.titles(settings),
                           grades={g["key"]: g["title"] for g in settings["hazard_grades"]},
                           may_manage=root is not None and may(ctx.session, ctx.grants, MANAGE, root),
                           rows=range(ROWS), values=values or {}, errors=errors or {},
                           done=request.args.get("done")), status


@bp.route("/checklists", methods=["GET"])
@requires(READ)
def checklists_page():
    return _checklists_page()


@bp.route("/checklists", methods=["POST"])
@requires(MANAGE)
def create_checklist():
    ctx = current()
    raw = _form()
    items = []
    for n in range(ROWS):
        if not raw.get(f"q{n}"):
            continue
        items.append({"section": raw.get(f"s{n}", ""), "question": raw[f"q{n}"],
                      "expected": raw.get(f"e{n}", "yes") == "yes", "weight": raw.get(f"w{n}", "1"),
                      "hazard": bool(raw.get(f"h{n}")), "grade": raw.get(f"g{n}") if raw.get(f"h{n}") else None})
    try:
        require_county_manage(ctx)
        if not items:
            raise Invalid("q0", "no_items", "请至少填写一项检查内容")
        data = load_form(ChecklistInput, {"place_type": raw.get("place_type"), "title": raw.get("title"),
                                          "items": items})
        inspections.create_checklist(ctx, data)
        ctx.session.commit()
    except PinganError as exc:
        ctx.session.rollback()
        errors = _error(exc)
        if "items" in errors or any(k.startswith("items.") for k in errors):
            errors = {"_form": errors.get("_form") or next(iter(errors.values()))}
        return _checklists_page(request.form.to_dict(), errors, exc.status)
    return redirect(url_for(".checklists_page", done="1"))


# --- inspections (the phone page) ------------------------------------------------------------------

def _inspect_page(place_id=None, values=None, errors=None, status=200):
    ctx = current()
    s = ctx.session
    choices = s.execute(scoped(select(Place.id, Place.name), ctx.grants, INSPECT, Place.org_unit_id)
                        .order_by(Place.name).limit(500)).all() if ctx.grants.has(INSPECT) else []
    place = checklist = None
    items = []
    if place_id is not None:
        place = get_or_404(s, ctx.grants, Place, place_id, INSPECT)
        try:
            checklist = inspections.checklist_for(s, place)
            items = inspections.items_of(s, checklist.id)
        except PinganError as exc:
            errors = {**(errors or {}), "place_id": exc.message}
    recent = s.scalars(scoped(select(Inspection), ctx.grants, READ, Inspection.org_unit_id)
                       .order_by(Inspection.id.desc()).limit(20)).all()
    place_names = dict(s.execute(select(Place.id, Place.name).where(
        Place.id.in_([r.place_id for r in recent] or [0]))).all())
    this_year = utcnow().astimezone(SHANGHAI).year
    return render_template("safety/inspect.html", choices=choices, place=place, checklist=checklist, items=items,
                           values=values or {}, errors=errors or {}, recent=recent, place_names=place_names,
                           years=range(this_year, this_year - 5, -1),
                           may_export=ctx.grants.has("core.case.export")), status


@bp.route("/inspect", methods=["GET"])
@requires(READ)
def inspect_page():
    return _inspect_page(parse_int(request.args.get("place_id"), lo=1))


@bp.route("/inspect", methods=["POST"])
@requires(INSPECT)
def submit_inspection():
    ctx = current()
    raw = _form()
    place_id = parse_int(raw.get("place_id"), lo=1)
    answers = [{"item_id": int(k[2:]), "answer": v == "yes", "note": raw.get(f"n_{k[2:]}", "")[:500]}
               for k, v in raw.items() if k.startswith("a_") and parse_int(k[2:], lo=1) and v in ("yes", "no")]
    try:
        if place_id is None:
            raise Invalid("place_id", "required", "请选择检查场所")
        if not answers:
            raise Invalid("_form", "unanswered", "请逐项回答检查内容")
        where = load_form(LocationInput, {k: raw[k] for k in ("latitude", "longitude") if raw.get(k)})
        inspection = inspections.submit(ctx, {"place_id": place_id, "checklist_id": parse_int(raw.get("checklist_id"), lo=1),
                                              "answers": answers, "note": raw.get("note", "")[:3000], **where})
        ctx.session.commit()
    except PinganError as exc:
        ctx.session.rollback()
        errors = _error(exc)
        if "_form" in errors and exc.code == "unanswered":
            errors = {"_form": exc.message}
        return _inspect_page(place_id, request.form.to_dict(), errors, exc.status)
    return redirect(url_for(".inspection_page", inspection_id=inspection.id))


@bp.route("/inspections/<inspection_id>")
@requires(READ)
def inspection_page(inspection_id):
    ctx = current()
    found = get_or_404(ctx.session, ctx.grants, Inspection, parse_int(inspection_id, lo=1) or 0, READ)
    place = ctx.session.scalar(select(Place).where(Place.id == found.place_id))
    return _inspection_page(found)


def _inspection_page(found: Inspection, errors: dict | None = None, status: int = 200):
    """The result, each item with its photo, and a photo form per item for who may inspect there."""
    ctx = current()
    place = ctx.session.scalar(select(Place).where(Place.id == found.place_id))
    return render_template("safety/inspection.html", inspection=found, place=place,
                           answers=inspections.answers_of(ctx.session, found), errors=errors or {},
                           may_photo=may(ctx.session, ctx.grants, INSPECT, found.org_unit_id)), status


@bp.route("/inspections/<inspection_id>/items/<item_id>/photo", methods=["POST"])
@requires(INSPECT)
def item_photo(inspection_id, item_id):
    """The photo of what an item found, added after the inspection (one act per item)."""
    ctx = current()
    found = get_or_404(ctx.session, ctx.grants, Inspection, parse_int(inspection_id, lo=1) or 0, INSPECT)
    item = parse_int(item_id, lo=1) or 0
    try:
        inspections.attach_photo(ctx, found, item, request.files.get("photo"))
        ctx.session.commit()
    except PinganError as exc:
        ctx.session.rollback()
        if exc.status == 404:
            raise
        return _inspection_page(found, {item: exc.message}, exc.status)
    return redirect(url_for(".inspection_page", inspection_id=found.id) + f"#item-{item}")


# --- incidents -------------------------------------------------------------------------------------

def _incidents_page(values=None, errors=None, status=200):
    ctx = current()
    rows = ctx.session.scalars(scoped(select(Incident), ctx.grants, READ, Incident.org_unit_id)
                               .order_by(Incident.id.desc()).limit(200)).all() if ctx.grants.has(READ) else []
    may_report = ctx.grants.has(INCIDENT)
    return render_template("safety/incidents.html", rows=rows, names=_unit_names(r.org_unit_id for r in rows),
                           units=_units(INCIDENT) if may_report else [], may_report=may_report,
                           hours=ctx.plugins["safety"]["incident_report_hours"], values=values or {},
                           errors=errors or {}, done=request.args.get("done")), status


@bp.route("/incidents", methods=["GET"])
@requires(INCIDENT)
def incidents_page():
    return _incidents_page()


@bp.route("/incidents", methods=["POST"])
@requires(INCIDENT)
def report_incident():
    ctx = current()
    try:
        incidents.report(ctx, load_form(IncidentInput, _form()))
        ctx.session.commit()
    except PinganError as exc:
        ctx.session.rollback()
        return _incidents_page(request.form.to_dict(), _error(exc), exc.status)
    return redirect(url_for(".incidents_page", done="1"))
