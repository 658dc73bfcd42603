"""The key-persons pages: the masked list, registering (category first, then its fields), a
record read for a stated purpose with its visits and the visit form (usable on a 360-px
phone), and the figures. Every page is titled 重点人员 whatever the category; the category
appears only inside the body, to users who may read it. Forms post to the same code the API runs.
"""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, redirect, render_template, request, url_for
from marshmallow import fields as mfields
from sqlalchemy import select

from core.sdk import (HIDDEN_FORM_FIELDS, Invalid, NotFound, OrgUnit, PinganError, authenticated, current, load_form,
                      may, paginate, parse_int, request_work, requires, scoped, transfer_counties)

from . import figures, oversight, records
from .api import (EndIn, FigureArgs, HandoverIn, ReaderArgs, RecordCreate, TransferOfferIn, VisitIn, figure_unit,
                  list_statement)
from .categories import CATEGORIES, RISK_LEVELS, choice_label, field_titles, title_of
from .models import KeyPerson
from .permissions import EXPORT, READERS, TRANSFER, USE, manage_perm, read_perm
from .settings import purposes

bp = Blueprint("keypersons_web", __name__, url_prefix="/keypersons", template_folder="templates")
PAGE = 50


def _units(session, grants, perms: list[str]) -> list[OrgUnit]:
    """Active units where the user holds any of ``perms``, in tree order (for a select)."""
    paths = {p for perm in perms for p in grants.paths(perm)}
    if not paths:
        return []
    rows = session.scalars(select(OrgUnit).where(OrgUnit.status == "active").order_by(OrgUnit.path).limit(2000))
    return [u for u in rows if any(u.path.startswith(p) for p in paths)]


def _form() -> dict:
    """What a form posted, without the tokens and the purpose the page carries along."""
    return {k: v for k, v in request.form.items()
            if k not in HIDDEN_FORM_FIELDS and k != "purpose" and v.strip() != ""}


def _field_of(exc: PinganError) -> str:
    return (getattr(exc, "field", "") or "_form").removeprefix("details.")


@bp.route("/")
@requires(USE)
def records_page():
    ctx = current()
    s = ctx.session
    settings = records.settings_of(s)
    args = {"under": parse_int(request.args.get("under", ""), lo=1), "overdue": True if request.args.get("overdue") else None,
            "limit": PAGE, "cursor": request.args.get("cursor") or None, "sort": None}
    error = None
    try:
        page = paginate(s, list_statement(ctx, args, settings), args, KeyPerson.id, {"id": KeyPerson.id}, "-id")
        rows = records.list_page(s, ctx.grants, page["items"], settings)
        cursor = page["next_cursor"]
    except PinganError as exc:
        rows, cursor, error = [], None, exc.message
    readable = records.categories_with(ctx.grants, settings, read_perm)
    return render_template("keypersons/list.html", rows=rows, next_cursor=cursor, error=error,
                           units=_units(s, ctx.grants, [read_perm(k) for k in readable]), args=request.args,
                           may_create=bool(records.categories_with(ctx.grants, settings, manage_perm)),
                           may_export=ctx.grants.has(EXPORT), may_readers=ctx.grants.has(READERS),
                           done=request.args.get("done"))


@bp.route("/new", methods=["GET", "POST"])
@requires(USE)
def new_page():
    """Step 1 picks the category and the unit; step 2 (the category in a hidden field, never
    in the URL) fills the person and the category's fields."""
    ctx = current()
    s = ctx.session
    settings = records.settings_of(s)
    cats = [(k, title_of(k, settings)) for k in records.categories_with(ctx.grants, settings, manage_perm)]
    values = request.form.to_dict() if request.method == "POST" else {}
    errors: dict = {}
    category = values.get("category") if values.get("category") in dict(cats) else None
    step = 2 if request.method == "POST" and category else 1
    if request.method == "POST" and not category:
        errors["category"] = "请选择类别"
    if step == 2 and values.get("step") == "2":
        raw = _form()
        data = {k: raw[k] for k in ("org_unit_id", "category", "risk_level", "name", "id_number", "phone", "address",
                                    "helpers") if k in raw}
        data["details"] = _details_from_form(category, raw)
        try:
            loaded = load_form(RecordCreate, data)
            rec = records.create(s, ctx.grants, ctx.user.id, loaded)
            s.commit()
            return redirect(url_for("keypersons_web.records_page", done="created", under=rec.org_unit_id))
        except PinganError as exc:
            s.rollback()
            errors[_field_of(exc)] = exc.message
    units = _units(s, ctx.grants, [manage_perm(category)] if category else [manage_perm(k) for k, _ in cats])
    return render_template("keypersons/new.html", cats=cats, step=step, category=category,
                           category_title=title_of(category, settings) if category else "",
                           units=units, values=values, errors=errors, risks=RISK_LEVELS,
                           fields=_controls(category) if category else []), (422 if errors else 200)


def _details_from_form(category: str, raw: dict) -> dict:
    out = {}
    for name, field in CATEGORIES[category].schema().fields.items():
        if isinstance(field, mfields.Boolean):
            out[name] = raw.get(f"d_{name}") == "true"
        elif f"d_{name}" in raw:
            out[name] = raw[f"d_{name}"]
    return out


def _controls(category: str) -> list[dict]:
    """The category's fields as form controls (choices by their labels, dates as date pickers)."""
    from marshmallow import validate
    out = []
    for name, field in CATEGORIES[category].schema().fields.items():
        choices = next(([*zip(v.choices, v.labels)] for v in field.validators if isinstance(v, validate.OneOf)), None)
        out.append({"name": name, "title": field.metadata.get("title", name), "required": field.required,
                    "choices": choices, "boolean": isinstance(field, mfields.Boolean),
                    "date": isinstance(field, mfields.Date)})
    return out


@bp.route("/records/<record_id>", methods=["GET", "POST"])
@authenticated
def record_page(record_id):
    """GET asks for the purpose; POST with one shows the record (the read audited with it).
    A record the user may not read is 404, as for one that does not exist."""
    ctx = current()
    s = ctx.session
    settings = records.settings_of(s)
    rid = parse_int(record_id, lo=1)
    if rid is None:
        raise NotFound()
    records.record_or_404(s, ctx.grants, rid, settings=settings)
    if request.method == "GET" or not request.form.get("purpose"):
        error = {"purpose": "请选择查阅事由"} if request.method == "POST" else {}
        return render_template("keypersons/purpose.html", record_id=rid, purposes=purposes(settings),
                               errors=error), (422 if error else 200)
    return _show(rid, request.form.get("purpose"), {}, {}, None)


def _show(rid: int, purpose: str | None, errors: dict, values: dict, done: str | None, status: int = 200):
    ctx = current()
    s = ctx.session
    settings = records.settings_of(s)
    try:
        rec = records.read(s, ctx.grants, rid, purpose, request_work().types)
    except Invalid as exc:
        return render_template("keypersons/purpose.html", record_id=rid, purposes=purposes(settings),
                               errors={"purpose": exc.message}), 422
    s.commit()
    shown = [(title, choice_label(rec["category"], name, rec["details"].get(name)))
             for name, title in field_titles(rec["category"])]
    targets = []
    if rec["may_manage"] and not rec["ended_on"]:  # where the record may be handed over: units managing its category
        targets = s.scalars(scoped(select(OrgUnit), ctx.grants, manage_perm(rec["category"]), OrgUnit.id)
                            .where(OrgUnit.status == "active", OrgUnit.id != rec["org_unit_id"])
                            .order_by(OrgUnit.path).limit(500)).all()
    counties = []
    if (rec["may_manage"] and not rec["ended_on"] and may(s, ctx.grants, TRANSFER, rec["org_unit_id"])
            and not any(t["state"] in ("offered", "withdrawing") for t in rec["transfers"])):
        counties = transfer_counties(s)      # where the person may be transferred: the platform's other counties
    return render_template("keypersons/record.html", r=rec, shown=shown, purpose_title=purposes(settings).get(purpose, ""),
                           ways=records.WAYS, results=records.RESULTS, errors=errors, values=values, done=done,
                           today=records.today().isoformat(), targets=targets, counties=counties), status


def _record_act(record_id: str, schema, act, after):
    """A form on the record's page: load it with ``schema``, run ``act(session, grants, user_id,
    record_id, data)``, commit and answer ``after(record_id)`` — or show the record again with
    the message at its field and what was typed kept (404 stays 404)."""
    ctx = current()
    s = ctx.session
    rid = parse_int(record_id, lo=1)
    if rid is None:
        raise NotFound()
    try:
        act(s, ctx.grants, ctx.user.id, rid, load_form(schema, _form()))
        s.commit()
    except PinganError as exc:
        s.rollback()
        if exc.status == 404:
            raise
        return _show(rid, request.form.get("purpose"), {_field_of(exc): exc.message}, request.form.to_dict(), None,
                     exc.status)
    return after(rid)


@bp.route("/records/<record_id>/visits", methods=["POST"])
@authenticated
def visit_form(record_id):
    return _record_act(record_id, VisitIn, records.add_visit,
                       lambda rid: _show(rid, request.form.get("purpose"), {}, {}, "visit"))


@bp.route("/records/<record_id>/handover", methods=["POST"])
@authenticated
def handover_form(record_id):
    return _record_act(record_id, HandoverIn, records.handover,
                       lambda rid: _show(rid, request.form.get("purpose"), {}, {}, "handover"))


@bp.route("/records/<record_id>/transfer", methods=["POST"])
@authenticated
def transfer_form(record_id):
    return _record_act(record_id, TransferOfferIn,
                       lambda s, grants, user_id, rid, data: records.transfer(current(), rid, data),
                       lambda rid: _show(rid, request.form.get("purpose"), {}, {}, "transfer"))


@bp.route("/records/<record_id>/end", methods=["POST"])
@authenticated
def end_form(record_id):
    return _record_act(record_id, EndIn,
                       lambda s, grants, user_id, rid, data: records.end(s, grants, rid, data["ended_on"]),
                       lambda rid: redirect(url_for("keypersons_web.records_page", done="ended")))


@bp.route("/figures")
@requires(USE)
def figures_page():
    ctx = current()
    s = ctx.session
    settings = records.settings_of(s)
    today = records.today()
    raw = {"start": request.args.get("start") or today.replace(month=1, day=1).isoformat(),
           "end": request.args.get("end") or today.isoformat()}
    if request.args.get("under"):
        raw["under"] = request.args["under"]
    result, error = None, None
    try:
        args = load_form(FigureArgs, raw)
        unit, cats = figure_unit(ctx, args["under"], settings)
        result = figures.compute(s, unit, args["start"], args["end"], cats)
        result["titles"] = {k: title_of(k, settings) for k in cats}
    except PinganError as exc:
        error = exc.message
    readable = records.categories_with(ctx.grants, settings, read_perm)
    return render_template("keypersons/figures.html", f=result, error=error, args=raw,
                           units=_units(s, ctx.grants, [read_perm(k) for k in readable])), (200 if result else 422 if error else 200)



@bp.route("/readers")
@requires(READERS)
def readers_page():
    """The readers' report for the data-protection officer: who read which records and why."""
    ctx = current()
    today = records.today()
    raw = {"start": request.args.get("start") or (today - dt.timedelta(days=30)).isoformat(),
           "end": request.args.get("end") or today.isoformat()}
    rows, error = [], None
    try:
        args = load_form(ReaderArgs, raw)
        rows = oversight.readers(ctx.session, ctx.grants, records.settings_of(ctx.session), args["start"], args["end"])
    except PinganError as exc:
        error = exc.message
    return render_template("keypersons/readers.html", rows=rows, args=raw, error=error), (422 if error else 200)
