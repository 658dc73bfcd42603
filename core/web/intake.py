"""The one-window form (统一受理): register a matter in the browser, without JavaScript.

The same service as ``POST /api/intake`` (``core.cases.intake.register``): the form only
turns fields into that call's data and its errors back into messages next to the fields.
A module's own fields (its ``details_schema``) are generated from the schema, one group
per case type; only the chosen type's group is read.
"""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, redirect, render_template, request, url_for
from marshmallow import fields as mfields
from marshmallow import validate as mvalidate
from sqlalchemy import func, or_, select

from core import bounds
from core.cases import intake
from core.cases.access import covers, units_in_scope
from core.cases.engine import CHANNEL_TITLES, CHANNELS
from core.cases.models import Case, Intake, IntakePerson
from core.cases.timeline import request_work
from core.errors import PinganError
from core.models import OrgUnit
from core.request import requires

bp = Blueprint("web_intake", __name__)
REGISTER = "core.case.register"
MAX_UNITS = 500


def form_fields(schema_cls, work=None, case=None) -> list[dict]:
    """Form inputs for a marshmallow schema (a case type's own fields, an act's input): a select
    for a fixed choice, a check box for a yes/no, a date picker for a date, a number box for an
    integer, else text. Nested and list fields are left to the API (a form cannot say them).

    A field whose values are the county's own (a taxonomy in the module's settings) names a
    function in its metadata, ``choices_from(work) -> [(value, label), …]``: with ``work`` given
    the field is a select of those labels — no user types a key (issue 15, item 1). A field of an
    act whose values are the case's own (one of its people) names ``case_choices(work, case)``
    instead, offered when ``case`` is given; its first choice may be ``("", label)`` for none."""
    if schema_cls is None:
        return []
    out = []
    for name, field in schema_cls().fields.items():
        if isinstance(field, (mfields.Nested, mfields.List, mfields.Dict)):
            continue
        one_of = next((v for v in field.validators if isinstance(v, mvalidate.OneOf)), None)
        choices = None
        if one_of is not None:  # labels, when the schema gives them (OneOf(..., labels=[…])), shown instead of keys
            labels = list(one_of.labels) if one_of.labels else list(one_of.choices)
            choices = list(zip(one_of.choices, labels))
        elif work is not None and callable(field.metadata.get("choices_from")):
            choices = [(str(v), str(label)) for v, label in field.metadata["choices_from"](work)]
        elif work is not None and case is not None and callable(field.metadata.get("case_choices")):
            choices = [(str(v), str(label)) for v, label in field.metadata["case_choices"](work, case)]
        out.append({"name": name, "label": field.metadata.get("title") or field.metadata.get("description", name),
                    "required": field.required, "choices": choices, "integer": isinstance(field, mfields.Integer),
                    "boolean": isinstance(field, mfields.Boolean),
                    "input_type": "datetime-local" if isinstance(field, mfields.DateTime)
                    else "date" if isinstance(field, mfields.Date) else "text",
                    "long": isinstance(field, mfields.String) and _max_length(field) > 200})
    return out


def _max_length(field) -> int:
    return max((v.max or 0 for v in field.validators if isinstance(v, mvalidate.Length)), default=0)


def _form_context(w, values: dict, errors: dict, status: int = 200):
    units = w.session.scalars(select(OrgUnit).where(OrgUnit.id.in_(units_in_scope(w.grants, REGISTER)),
                                                    OrgUnit.status == "active")
                              .order_by(OrgUnit.path).limit(MAX_UNITS)).all()
    types = [t for _, t in sorted(w.types.items()) if w.grants.has(t.create_permission)]
    return render_template("intake_form.html", units=units, types=types, channels=CHANNEL_TITLES,
                           details={t.key: form_fields(t.details_schema, w) for t in types}, values=values, errors=errors,
                           done=None, people_rows=people_rows(values), person_roles=intake.PERSON_ROLES), status


def _received(raw: str) -> dt.datetime | str | None:
    """The form's received time (``datetime-local``: "2026-03-03T10:00", Beijing time); the text
    itself when it is not a time (``_check`` says so at the field)."""
    raw = raw.strip()
    if not raw:
        return None
    try:
        value = dt.datetime.fromisoformat(raw)
    except ValueError:
        return raw
    return raw if bounds.problem(value) else value  # year 1 or 9999: not a time we can use (issue 14)


def _data(form) -> dict:
    def unit(name):
        raw = form.get(name, "").strip()
        return bounds.parse_int(raw, lo=0)  # ASCII digits within a bigint, else None (issue 14, finding 11)
    data = {"channel": form.get("channel", ""), "org_unit_id": unit("org_unit_id"),
            "arose_unit_id": unit("arose_unit_id"), "subject": form.get("subject", "").strip(),
            "content": form.get("content", "").strip(),
            "first_inquiry": {"outcome": form.get("outcome", "pending"), "note": form.get("note", "").strip() or None,
                              "referred_to": form.get("referred_to", "").strip() or None},
            "received_at": _received(form.get("received_at", "")),
            "backdate_reason": form.get("backdate_reason", "").strip() or None}
    home = data["arose_unit_id"] or data["org_unit_id"]
    people = [("person_name", "person_id_number", "person_phone", None)]  # who brought it: 反映人
    people += [(f"people-{i}-name", f"people-{i}-id_number", f"people-{i}-phone", f"people-{i}-role")
               for i in range(people_rows(form))]
    data["persons"] = [{"name": form[name].strip(), "id_number": form.get(idn, "").strip() or None,
                        "phone": form.get(phone, "").strip() or None, "org_unit_id": home,
                        "role": (form.get(role) if form.get(role) in intake.PERSON_ROLES and form.get(role) != "requester"
                                 else "companion") if role else "requester"}
                       for name, idn, phone, role in people if form.get(name, "").strip()]
    if not data["persons"]:
        del data["persons"]
    case_type = form.get("case_type", "")
    if case_type:
        data["case_type"] = case_type
        prefix = f"details.{case_type}."
        data["details"] = {k[len(prefix):]: v for k, v in form.items() if k.startswith(prefix) and v != ""}
    return data


MAX_PEOPLE = 50


def people_rows(form) -> int:
    """How many rows for the other people the form shows (同行人, 当事人 …): as many as it had,
    one more for "再加一人", at least two."""
    shown = bounds.parse_int(form.get("people_rows", ""), lo=0) or 2
    return max(2, min(MAX_PEOPLE, shown + (1 if form.get("add_person") else 0)))


def _field_of(name: str, form_rows: list[str]) -> str:
    """The form field of an API error's location: ``persons.2.id_number`` → the third person's row."""
    parts = str(name).split(".")
    if parts[0] == "persons" and len(parts) > 1 and parts[1].isdigit():
        i, field = int(parts[1]), (parts[2] if len(parts) > 2 else "name")
        return form_rows[i].replace("name", field) if i < len(form_rows) else field
    return "details" if "details" in str(name) else parts[-1]


def _flat(messages: dict, prefix: str = ""):
    """marshmallow's nested messages as (dotted name, messages) pairs."""
    for key, value in messages.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from _flat(value, f"{name}.")
        else:
            yield name, value


def _field_errors(exc: PinganError, form_rows: list[str] = ()) -> dict[str, str]:
    """A refusal's messages by the form field they belong to (``_field_of``)."""
    errors = {}
    for fields_ in (exc.errors or {}).values():
        for name, messages in _flat(fields_ or {}):
            errors[_field_of(name, list(form_rows))] = "；".join(map(str, messages)) \
                if isinstance(messages, list) else str(messages)
    return errors


def _check(data: dict) -> dict:
    """What the API's schema would refuse, as field → message (the form posts strings)."""
    errors = {}
    if data["channel"] not in CHANNELS:
        errors["channel"] = "请选择来源渠道"
    if not data["org_unit_id"]:
        errors["org_unit_id"] = "请选择受理单位"
    if not 1 <= len(data["subject"]) <= 200:
        errors["subject"] = "请填写事由（200 字以内）"
    if not 1 <= len(data["content"]) <= 20000:
        errors["content"] = "请填写具体内容"
    if data["first_inquiry"]["outcome"] not in intake.FIRST_OUTCOMES:
        errors["outcome"] = "请选择首问处理结果"
    if isinstance(data["received_at"], str):
        errors["received_at"] = "收到时间格式有误（如 2026-03-03 10:00）"
    if data["backdate_reason"] and len(data["backdate_reason"]) > 500:
        errors["backdate_reason"] = "补录理由不超过 500 字"
    return errors


@bp.route("/intake/new", methods=["GET", "POST"])
@requires(REGISTER)
def new():
    w = request_work()
    if request.method == "GET":
        return _form_context(w, {"channel": "visit", "outcome": "pending"}, {})
    if request.form.get("add_person"):  # "再加一人": the same form, one more row, nothing saved
        return _form_context(w, dict(request.form), {})
    data = _data(request.form)
    errors = _check(data)
    if not errors:
        try:
            row = intake.register(w, data)
            w.session.commit()
        except PinganError as exc:
            w.session.rollback()
            # the rows of the people actually sent, in order: the API's persons.<i> is the i-th of them
            sent = [n for n in ["person_name", *(f"people-{i}-name" for i in range(people_rows(request.form)))]
                    if request.form.get(n, "").strip()]
            errors.update(_field_errors(exc, sent))
            errors.setdefault("_form", exc.message)
        else:
            case = w.session.scalar(select(Case).where(Case.id == row.case_id)) if row.case_id else None
            return render_template("intake_form.html", done={"intake": row, "case": case}, units=[], types=[],
                                   channels=CHANNEL_TITLES, details={}, values={}, errors={}), 201
    return _form_context(w, dict(request.form), errors, 422)


# --- the sorting list (INT-4): pending matters, each sorted into a case or closed -------------

DIVERT = "core.case.divert"
PENDING_SHOWN = 200
OUTCOME_TITLES = {"pending": "待分流", "resolved": "当场解决", "referred": "已引导移交", "case": "已转为事项",
                  "reported_up": "已上报"}
CLOSE_OUTCOMES = {"resolved": "已解决（不再立案）", "referred": "引导或移交其他部门", "reported_up": "超出权限，上报上级"}


def _unit_names(w, ids) -> dict[int, str]:
    ids = {i for i in ids if i}
    return dict(w.session.execute(select(OrgUnit.id, OrgUnit.name).where(OrgUnit.id.in_(ids))).all()) if ids else {}


@bp.route("/intake/")
@requires(REGISTER)
def pending():
    """The matters left at the windows in the caller's scope for the sorting meeting, oldest first."""
    w = request_work()
    units = units_in_scope(w.grants, REGISTER)
    where = (Intake.outcome == "pending", or_(Intake.org_unit_id.in_(units), Intake.arose_unit_id.in_(units)))
    rows = list(w.session.scalars(select(Intake).where(*where).order_by(Intake.received_at, Intake.id)
                                  .limit(PENDING_SHOWN)))
    total = w.session.scalar(select(func.count(Intake.id)).where(*where)) if len(rows) == PENDING_SHOWN else len(rows)
    return render_template("intake/pending.html", rows=rows, total=total, channels=CHANNEL_TITLES,
                           names=_unit_names(w, {r.org_unit_id for r in rows} | {r.arose_unit_id for r in rows}))


def _item_page(intake_id: int, errors: dict | None = None, values: dict | None = None, status: int = 200):
    w = request_work()
    row = intake.load(w, intake_id)
    may_sort = row.outcome == "pending" and row.case_id is None and w.grants.has(DIVERT) and (
        covers(w.session, w.grants, DIVERT, row.org_unit_id) or covers(w.session, w.grants, DIVERT, row.arose_unit_id))
    types = [t for _, t in sorted(w.types.items()) if w.grants.has(t.create_permission)] if may_sort else []
    case = w.session.scalar(select(Case).where(Case.id == row.case_id)) if row.case_id else None
    people = w.session.scalar(select(func.count(IntakePerson.id)).where(IntakePerson.intake_id == row.id))
    return render_template("intake/item.html", i=row, case=case, people=people, may_sort=may_sort, types=types,
                           details={t.key: form_fields(t.details_schema, w) for t in types},
                           names=_unit_names(w, {row.org_unit_id, row.arose_unit_id}), channels=CHANNEL_TITLES,
                           outcomes=OUTCOME_TITLES, close_outcomes=CLOSE_OUTCOMES, errors=errors or {},
                           values=values or {}, done=request.args.get("done")), status


@bp.route("/intake/<intake_id>")
@requires(REGISTER)
def item(intake_id):
    return _item_page(bounds.parse_int(intake_id, lo=1) or 0)


@bp.route("/intake/<intake_id>/sort", methods=["POST"])
@requires(DIVERT)
def sort(intake_id):
    """The sorting meeting makes the matter a case of the type chosen (``POST /api/intake/<id>/sort``)."""
    w = request_work()
    row = intake.load(w, bounds.parse_int(intake_id, lo=1) or 0, DIVERT)
    form = dict(request.form)
    case_type = form.get("case_type", "")
    if not case_type:
        return _item_page(row.id, {"case_type": "请选择转为哪类事项"}, form, 422)
    prefix = f"details.{case_type}."
    details = {k[len(prefix):]: v for k, v in form.items() if k.startswith(prefix) and v != ""}
    title = form.get("title", "").strip() or None
    if title and len(title) > 200:
        return _item_page(row.id, {"title": "事项名称不超过 200 字"}, form, 422)
    try:
        case = intake.sort(w, row, case_type, details, title)
        w.session.commit()
    except PinganError as exc:
        w.session.rollback()
        return _item_page(row.id, _field_errors(exc) or {"_form": exc.message}, form, 422 if exc.status < 500 else exc.status)
    return redirect(url_for("web_cases.case_page", case_id=case.id))


@bp.route("/intake/<intake_id>/close", methods=["POST"])
@requires(DIVERT)
def close(intake_id):
    """Resolved, referred elsewhere, or reported upward (``POST /api/intake/<id>/close``, INT-5)."""
    w = request_work()
    row = intake.load(w, bounds.parse_int(intake_id, lo=1) or 0, DIVERT)
    form = dict(request.form)
    outcome, note, to = form.get("outcome", ""), form.get("note", "").strip(), form.get("to", "").strip() or None
    errors = {}
    if outcome not in CLOSE_OUTCOMES:
        errors["outcome"] = "请选择处理结果"
    if not 1 <= len(note) <= 2000:
        errors["note"] = "请填写处理情况（2000 字以内）"
    if to and len(to) > 200:
        errors["to"] = "去向不超过 200 字"
    if errors:
        return _item_page(row.id, errors, form, 422)
    try:
        intake.close(w, row, outcome, note, to)
        w.session.commit()
    except PinganError as exc:
        w.session.rollback()
        return _item_page(row.id, _field_errors(exc) or {"_form": exc.message}, form, 422 if exc.status < 500 else exc.status)
    return redirect(url_for("web_intake.item", intake_id=row.id, done="closed"))
