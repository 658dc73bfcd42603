"""The page of a declared register (``core.registers.Register``): ``/<plugin>/<name>/``, in the menu.

Server-rendered, Chinese first, no script: the list of the caller's records (the declared
columns, newest first, a page at a time) with the filters as real controls (a select of the units
in scope, the status, a date range, the declared filter fields), a close form on each open record,
the export link with the same filters, and the create form (the unit a select of the units the
caller may write in, by their names; the declared fields as ``core.web.intake.form_fields`` makes
them, a ``choices_from`` field a select of the county's choices, a field naming a person
(``…person_id``) a select of the people of the person register in the caller's write scope —
"姓名（单位）", narrowed to a unit's subtree by a button that redraws the form, typed values kept —
so nobody types an id or a key). The page calls what the API calls (``core.registers``); a
refused form comes back with the message at its field and everything typed kept.
"""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from marshmallow import ValidationError
from sqlalchemy import select

from core import bounds, registers
from core.api.common import paginate
from core.api.registers import close_schema, create_schema, list_args, schema_prefix
from core.authz import unit_scope
from core.bounds import parse_int
from core.cases.timeline import request_work
from core.errors import PinganError
from core.i18n import pick
from core.idempotency import HIDDEN_FORM_FIELDS
from core.models import OrgUnit, Person
from core.orgtree import within
from core.registers import STATUS, Register
from core.request import current, requires
from core.validation_messages import validation_zh
from core.web.intake import form_fields

MAX_UNITS = 500
PAGE = 20
PERSON_CHOICES = 300  # people offered at once; more: narrow to a unit
PERSON_UNDER, NARROW = "person_under", "_narrow"  # the picker's unit and its button (not data of the record)
PERSON_READ = "core.person.read"  # naming a person needs seeing them, as registering a case does


def filter_args(schema, raw: dict) -> tuple[dict, dict[str, str]]:
    """A list page's query through its API schema: (the arguments that hold, field → message for
    the ones that do not — the list is shown without them)."""
    try:
        return schema().load(raw), {}
    except ValidationError as exc:
        return schema().load({k: v for k, v in raw.items() if k not in exc.messages}), _errors(exc.messages)


def _errors(messages) -> dict[str, str]:
    """marshmallow's or a ``PinganError``'s messages as field → one Chinese line."""
    out = {}
    for name, value in (messages or {}).items():
        if isinstance(value, dict):
            out.update(_errors(value))
        else:
            items = value if isinstance(value, list) else [value]
            out[str(name)] = "；".join(validation_zh(str(m)) for m in items)
    return out


def _units(session, grants, perm: str) -> list[OrgUnit]:
    return session.scalars(select(OrgUnit).where(unit_scope(grants, perm), OrgUnit.status == "active")
                           .order_by(OrgUnit.path).limit(MAX_UNITS)).all()


def person_choices(session, grants, perm: str, under: int | None, kept: int | None = None
                   ) -> tuple[list[tuple[int, str]], bool]:
    """The people of the person register whom the caller may name in a write for ``perm`` and
    may see (``core.person.read``): their unit in both scopes. Below the unit ``under``, ordered
    by unit and name; without it, the most recently registered (the primary key's order: no sort
    of a county's every person on each page view). ``kept`` (the one chosen on a redrawn form)
    stays among them. Returns ``(id, "姓名（单位）")`` pairs and whether there were more than
    :data:`PERSON_CHOICES`."""
    q = (select(Person.id, Person.name, OrgUnit.name).join(OrgUnit, OrgUnit.id == Person.org_unit_id)
         .where(unit_scope(grants, perm), unit_scope(grants, PERSON_READ)))
    path = session.scalar(select(OrgUnit.path).where(OrgUnit.id == under)) if under else None
    ordered = (q.where(within(path)).order_by(OrgUnit.path, Person.name, Person.id) if path is not None
               else q.order_by(Person.id.desc()))
    rows = session.execute(ordered.limit(PERSON_CHOICES + 1)).all()
    out = [(pid, f"{name}（{unit}）") for pid, name, unit in rows[:PERSON_CHOICES]]
    if kept and all(pid != kept for pid, _ in out):
        out[:0] = [(pid, f"{name}（{unit}）") for pid, name, unit in session.execute(q.where(Person.id == kept))]
    return out, len(rows) > PERSON_CHOICES


def blueprint(plugin: str, reg: Register) -> Blueprint:
    """The register's page, blueprint ``<plugin>_<name>_web`` under ``/<plugin>/<name>``; its
    menu item's endpoint is ``<plugin>_<name>_web.index``."""
    prefix = schema_prefix(plugin, reg)
    Create, Close, Args = create_schema(prefix, reg), close_schema(prefix, reg), list_args(prefix, reg)
    bp = Blueprint(f"{plugin}_{reg.name}_web", __name__, url_prefix=f"/{plugin}/{reg.name}")

    def page(values: dict | None = None, errors: dict | None = None, status: int = 200, done: str | None = None):
        ctx = current()
        s = ctx.session
        raw = {k: v for k, v in request.args.items() if v.strip() != ""}
        args, filter_errors = filter_args(Args, raw)
        while (bad := bounds.first_problem(args)) is not None:  # a year past 2999 is no date to filter by
            filter_errors[bad[0]] = bad[1]
            args.pop(bad[0])
        args["limit"] = PAGE
        try:
            found = paginate(s, registers.query(s, ctx.grants, reg, args), args, reg.model.id,
                             {"id": reg.model.id, "created_at": reg.model.created_at}, "-id")
        except PinganError as exc:
            filter_errors.update(_errors((exc.errors or {}).get("query")) or {"_form": exc.message})
            found = {"items": [], "next_cursor": None}
        rows = registers.present(s, found["items"])
        may_write = ctx.grants.has(reg.write)
        work = request_work()
        filters = [f for f in form_fields(Args, work) if f["name"] in reg.filters]
        fields = [f for f in form_fields(Create, work) if f["name"] != "org_unit_id"]
        under = parse_int((values or {}).get(PERSON_UNDER, ""), lo=1)
        for f in fields:
            if f["name"].endswith("person_id") and may_write:
                f["person"] = True
                f["choices"], f["more"] = person_choices(s, ctx.grants, reg.write, under,
                                                         parse_int((values or {}).get(f["name"], ""), lo=1))
        errors = errors or {}
        return render_template(
            "registers/list.html", reg=reg, plugin=plugin, title=registers.label_text(reg.title, pick),
            columns=[(k, registers.label_text(label, pick)) for k, label in reg.columns],
            rows=[{**r, "cells": {k: registers.cell(reg, k, r, pick) for k, _ in reg.columns}} for r in rows],
            next_cursor=found["next_cursor"], args=raw, query=[(k, v) for k, v in raw.items() if k != "cursor"],
            filters=filters, filter_errors=filter_errors,
            statuses={k: pick(*v) for k, v in STATUS.items()}, read_units=_units(s, ctx.grants, reg.read),
            write_units=_units(s, ctx.grants, reg.write) if may_write else [], may_write=may_write,
            fields=fields, close_fields=form_fields(Close, work), person_under=PERSON_UNDER, narrow=NARROW,
            close_title=registers.label_text(reg.close_title, pick), values=values or {}, errors=errors,
            create_errors={k: v for k, v in errors.items() if not k.startswith("close-")},
            # a refused close shows at its record's form, or at the top when that form is not on the page
            close_alert=next((v for k, v in errors.items() if k.startswith("close-") and not any(
                f"close-{r['id']}" == k and r["status"] == "open" for r in rows)), None),
            field_labels={"org_unit_id": pick("所属单位", "Unit"), **{f["name"]: f["label"] for f in fields}},
            done=done or request.args.get("done")), status

    def form_data(schema) -> dict:
        raw = {k: v for k, v in request.form.items()
               if k not in HIDDEN_FORM_FIELDS and k not in (PERSON_UNDER, NARROW) and v.strip() != ""}
        data = schema().load(raw)
        bounds.check(data, location="form")  # what the API's parser checks: ids and dates in range
        return data

    @bp.route("/", methods=["GET"])
    @requires(reg.read)
    def index():
        return page()

    @bp.route("/", methods=["POST"])
    @requires(reg.write)
    def create():
        ctx = current()
        if request.form.get(NARROW):  # the person picker narrowed to a unit: the form again, nothing saved
            return page(request.form.to_dict())
        try:
            registers.create(ctx, reg, form_data(Create))
            ctx.session.commit()
        except ValidationError as exc:
            return page(request.form.to_dict(), _errors(exc.messages), 422)
        except PinganError as exc:
            ctx.session.rollback()
            errors = {"_form": exc.message, **_errors(exc.errors)}
            return page(request.form.to_dict(), errors, exc.status)
        return redirect(url_for(".index", done="created"))

    @bp.route("/<record_id>/close", methods=["POST"])
    @requires(reg.write)
    def close(record_id):
        ctx = current()
        rid = parse_int(record_id, lo=1) or 0
        try:
            registers.close(ctx, reg, rid, form_data(Close))
            ctx.session.commit()
        except ValidationError as exc:
            return page({"close": rid, **request.form.to_dict()}, {f"close-{rid}": "；".join(_errors(exc.messages).values())}, 422)
        except PinganError as exc:
            ctx.session.rollback()
            return page({"close": rid, **request.form.to_dict()}, {f"close-{rid}": exc.message}, exc.status)
        return redirect(url_for(".index", done="closed"))

    return bp
