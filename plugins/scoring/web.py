"""The scoring module's pages: periods and rankings, a unit's score card opened to its items,
assessors' entries, appeals and their decisions, and the rubric form (a real form: categories,
items, rules and bands as controls, errors at the field, everything typed kept)."""
from __future__ import annotations

import re

from flask import Blueprint, redirect, render_template, request, url_for
from marshmallow import ValidationError
from sqlalchemy import select

from core.sdk import (OrgUnit, PinganError, county_indicators, current, module_settings, parse_int, requires,
                      validation_zh)

from . import acts, scores
from .api import AppealInput, DecideInput, EntryInput, PeriodInput
from .models import Appeal, Period, Rubric
from .permissions import ASSESS, MANAGE, READ
from .rubric import DIRECTIONS, KINDS, NO_DATA, RULES, SOURCES, RubricInput, fmt

bp = Blueprint("scoring_web", __name__, url_prefix="/scoring", template_folder="templates")
ITEM_FIELDS = ("key", "category", "title", "points", "source", "indicator", "rule", "per_event", "floor",
               "threshold", "direction", "target", "no_data", "veto")
BAND_FIELDS = ("low", "high", "points")
MAX_ITEMS, MAX_BANDS = 200, 20   # as the API's schema allows (rows past them are not read)


def _settings() -> dict:
    return module_settings(current().session, "scoring")


def _form_values() -> dict:
    return {k: v for k, v in request.form.items()}


def _error_page(exc: PinganError) -> dict:
    return {getattr(exc, "field", None) or "_form": exc.message}


# --- periods and rankings ------------------------------------------------------------------------

@bp.route("/", methods=["GET", "POST"])
@requires(READ)
def index():
    ctx = current()
    s = ctx.session
    errors, values, status = {}, {}, 200
    if request.method == "POST":
        values = _form_values()
        try:
            data = PeriodInput().load({k: v for k, v in values.items() if k in PeriodInput().fields and v.strip()})
            p = acts.open_period(ctx, data)
            s.commit()
            return redirect(url_for("scoring_web.period_page", period_id=p.id))
        except ValidationError as exc:
            errors = {k: validation_zh(v[0]) for k, v in exc.messages.items()}
            status = 422
        except PinganError as exc:
            s.rollback()
            errors, status = _error_page(exc), exc.status
    periods = list(s.scalars(select(Period).order_by(Period.year.desc(), Period.kind, Period.number.desc(), Period.id)))
    return render_template("scoring/index.html", periods=[acts.period_view(p) for p in periods],
                           levels=acts.level_names(s), kinds=KINDS, may_manage=ctx.grants.county_wide(MANAGE),
                           errors=errors, values=values), status


@bp.route("/periods/<int:period_id>", methods=["GET", "POST"])
@requires(READ)
def period_page(period_id):
    ctx = current()
    s = ctx.session
    error, status = None, 200
    p = acts.period_or_404(s, period_id)
    if request.method == "POST":
        try:
            acts.move(ctx, acts.period_or_404(s, period_id, lock=True), request.form.get("action", ""), _settings())
            s.commit()
            return redirect(url_for("scoring_web.period_page", period_id=period_id))
        except PinganError as exc:
            s.rollback()
            error, status = exc.message, exc.status
            p = acts.period_or_404(s, period_id)
    rows = acts.visible(ctx, scores.results(s, p, _settings()))
    return render_template("scoring/period.html", p=acts.period_view(p), rows=rows, fmt=fmt, error=error,
                           level_name=acts.level_names(s).get(p.level, p.level),
                           may_manage=ctx.grants.county_wide(MANAGE), county_wide=ctx.grants.county_wide(READ),
                           rewards=any(r.get("reward") for r in rows)), status


@bp.route("/periods/<int:period_id>/card", methods=["GET", "POST"])
@requires(READ)
def card_page(period_id):
    ctx = current()
    s = ctx.session
    unit_id = parse_int(request.args.get("org_unit_id", ""), lo=1) or 0
    errors, values, status = {}, {}, 200
    if request.method == "POST":
        values = _form_values()
        form = values.get("form", "entry")
        schema = EntryInput if form == "entry" else AppealInput
        raw = {k: v for k, v in values.items() if k in schema().fields and v.strip() != ""}
        raw.update(org_unit_id=unit_id, **({"period_id": period_id} if form == "appeal" else {}))
        try:
            data = schema().load(raw)
            if form == "entry":
                acts.enter(ctx, acts.period_or_404(s, period_id), data)
            else:
                acts.file_appeal(ctx, data)
            s.commit()
            return redirect(url_for("scoring_web.card_page", period_id=period_id, org_unit_id=unit_id))
        except ValidationError as exc:
            errors = {f"{form}-{k}": validation_zh(v[0]) for k, v in exc.messages.items()}
            status = 422
        except PinganError as exc:
            s.rollback()
            errors, status = {f"{form}-{getattr(exc, 'field', None) or '_form'}": exc.message}, exc.status
    p = acts.period_or_404(s, period_id)
    c = acts.card(ctx, period_id, unit_id, _settings())
    categories: dict[str, list] = {}
    for item in c["items"]:
        categories.setdefault(item["category"], []).append(item)
    unit = s.scalar(select(OrgUnit).where(OrgUnit.id == unit_id))
    appeals = list(s.scalars(select(Appeal).where(Appeal.period_id == p.id, Appeal.org_unit_id == unit_id)
                             .order_by(Appeal.id)))
    return render_template("scoring/card.html", p=acts.period_view(p), c=c, categories=categories, fmt=fmt,
                           may_assess=p.state == "open" and ctx.grants.covers(ASSESS, unit.path),
                           may_appeal=p.state == "appeal", appeals=appeals,
                           titles={i["key"]: i["title"] for i in c["items"]},
                           entry_items=[i for i in c["items"] if i["source"] != "indicator"],
                           errors=errors, values=values), status


@bp.route("/periods/<int:period_id>/ranking.xlsx")
@requires(READ)
def ranking_xlsx(period_id):
    from core.sdk import download_response
    ctx = current()
    p = acts.period_or_404(ctx.session, period_id)
    rows = acts.visible(ctx, scores.results(ctx.session, p, _settings()))
    return download_response(acts.ranking_xlsx(p, rows), f"考核排名-{scores.period_title(p)}.xlsx")


# --- appeals -------------------------------------------------------------------------------------

@bp.route("/appeals", methods=["GET", "POST"])
@requires(READ)
def appeals_page():
    ctx = current()
    s = ctx.session
    errors, values, status = {}, {}, 200
    if request.method == "POST":
        values = _form_values()
        appeal_id = parse_int(values.get("appeal_id", ""), lo=1) or 0
        try:
            data = DecideInput().load({k: v for k, v in values.items() if k in DecideInput().fields and v.strip()})
            acts.decide_appeal(ctx, appeal_id, data, _settings())
            s.commit()
            return redirect(url_for("scoring_web.appeals_page"))
        except ValidationError as exc:
            errors = {f"{appeal_id}-{k}": validation_zh(v[0]) for k, v in exc.messages.items()}
            status = 422
        except PinganError as exc:
            s.rollback()
            errors, status = {f"{appeal_id}-{getattr(exc, 'field', None) or '_form'}": exc.message}, exc.status
    page = acts.appeals_page(ctx, {"limit": 200, "cursor": None})
    periods = {p.id: scores.period_title(p) for p in s.scalars(select(Period))}
    names = dict(s.execute(select(OrgUnit.id, OrgUnit.name)).all())
    return render_template("scoring/appeals.html", appeals=page["items"], periods=periods, names=names, fmt=fmt,
                           may_decide=ctx.grants.county_wide(MANAGE), errors=errors, values=values), status


# --- rubrics -------------------------------------------------------------------------------------

@bp.route("/rubrics")
@requires(READ)
def rubrics_page():
    s = current().session
    rubrics = list(s.scalars(select(Rubric).order_by(Rubric.year.desc(), Rubric.level, Rubric.version.desc())))
    return render_template("scoring/rubrics.html", rubrics=rubrics, levels=acts.level_names(s),
                           may_manage=current().grants.county_wide(MANAGE))


def _parse(form) -> tuple[dict, list[int]]:
    """The posted rubric form as the API's body (blank rows left out) and each item's form row."""
    rows: dict[int, dict] = {}
    for name, value in form.items():
        m = re.fullmatch(r"items-(\d{1,3})-(\w+?)(?:-(\d{1,2})-(\w+))?", name)
        if not m:
            continue
        i = int(m.group(1))
        if i >= MAX_ITEMS or (m.group(3) is not None and int(m.group(3)) >= MAX_BANDS):
            continue
        row = rows.setdefault(i, {"bands": {}})
        if m.group(3) is not None and m.group(2) == "bands" and m.group(4) in BAND_FIELDS:
            row["bands"].setdefault(int(m.group(3)), {})[m.group(4)] = value.strip()
        elif m.group(3) is None and m.group(2) in ITEM_FIELDS:
            row[m.group(2)] = value.strip()
    items, where = [], []
    for i in sorted(rows):
        row = rows[i]
        bands = [{k: v for k, v in b.items() if v != ""} for _, b in sorted(row.pop("bands").items())]
        if not row.get("title") and not row.get("category"):
            continue
        item = {k: v for k, v in row.items() if v != "" and k != "veto"}
        item["veto"] = row.get("veto") == "1"
        item["bands"] = [b for b in bands if b]
        items.append(item)
        where.append(i)
    body = {k: form.get(k, "").strip() for k in ("level", "year", "title") if form.get(k, "").strip()}
    body["items"] = items
    return body, where


def _flatten(errors, where: list[int], prefix: str = "") -> dict:
    """Nested errors (items → row → bands → band → field) as the form's input names."""
    out = {}
    for k, v in errors.items():
        if prefix == "items-" and str(k).isdigit():
            k = where[int(k)] if int(k) < len(where) else k
        name = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, where if name == "items" else [], f"{name}-"))
        else:
            out[name] = validation_zh(v[0]) if isinstance(v, list) else str(v)
    return out


def _item_rows(values: dict, rubric: Rubric | None) -> list[dict]:
    """The form's item rows: what was posted, else the rubric copied, plus one blank row."""
    if values:
        body, _ = _parse(values)
        count = 1 + max([int(m.group(1)) for m in (re.match(r"items-(\d{1,3})-", k) for k in values)
                         if m and int(m.group(1)) < MAX_ITEMS] or [-1])
        rows = []
        for i in range(count):
            row = {f: values.get(f"items-{i}-{f}", "") for f in ITEM_FIELDS}
            nb = 1 + max([int(m.group(1)) for m in (re.match(rf"items-{i}-bands-(\d{{1,2}})-", k) for k in values)
                          if m and int(m.group(1)) < MAX_BANDS] or [-1])
            row["bands"] = [{f: values.get(f"items-{i}-bands-{j}-{f}", "") for f in BAND_FIELDS} for j in range(nb)]
            rows.append(row)
    else:
        rows = [dict({f: ("1" if item.get(f) else "") if f == "veto" else
                      ("" if item.get(f) is None else (fmt(item[f]) if isinstance(item[f], float) else str(item[f])))
                      for f in ITEM_FIELDS},
                     bands=[{f: "" if b.get(f) is None else fmt(b[f]) for f in BAND_FIELDS} for b in item.get("bands", [])])
                for item in (rubric.items if rubric else [])]
    if request.form.get("add_item") or not rows or any(rows[-1][f] for f in ("title", "category")):
        rows.append(dict({f: "" for f in ITEM_FIELDS}, bands=[]))
    for n, row in enumerate(rows):
        if request.form.get("add_band") == str(n) or not row["bands"] or any(row["bands"][-1].values()):
            row["bands"].append({f: "" for f in BAND_FIELDS})
    return rows


@bp.route("/rubrics/form", methods=["GET", "POST"])
@requires(MANAGE)
def rubric_form():
    ctx = current()
    s = ctx.session
    acts.county_only(ctx)
    errors, values, status = {}, {}, 200
    base = s.scalar(select(Rubric).where(Rubric.id == (parse_int(request.args.get("from", ""), lo=1) or 0)))
    if request.method == "POST":
        values = _form_values()
        if not (request.form.get("add_item") or request.form.get("add_band")):
            body, where = _parse(request.form)
            try:
                data = RubricInput().load(body)
                found = acts.rubric_errors(s, data, _settings())
                if found:
                    errors = _flatten(acts._keys_as_text(found), where)
                else:
                    acts.save_rubric(ctx, data, _settings())
                    s.commit()
                    return redirect(url_for("scoring_web.rubrics_page"))
            except ValidationError as exc:
                errors = _flatten(exc.messages, where)
            except PinganError as exc:
                s.rollback()
                errors = {getattr(exc, "field", None) or "_form": exc.message}
            status = 422
    head = values or ({"level": base.level, "year": str(base.year), "title": base.title} if base else {})
    indicators = sorted(county_indicators(s).items())
    return render_template("scoring/rubric_form.html", head=head, rows=_item_rows(values, base), errors=errors,
                           levels=acts.level_names(s), indicators=indicators, sources=SOURCES, rules=RULES,
                           directions=DIRECTIONS, no_data=NO_DATA, settings=_settings(), fmt=fmt), status


@bp.route("/titles")
@requires(READ)
def titles_page():
    ctx = current()
    levels = acts.level_names(ctx.session)
    ladders = _settings()["ladders"]
    level = request.args.get("level") or next((r["level"] for r in ladders), "")
    year = parse_int(request.args.get("year", ""), lo=2000, hi=2100)
    rows = acts.titles(ctx, level, year, _settings()) if level in levels and year else []
    return render_template("scoring/titles.html", levels=levels, level=level, year=year or "", rows=rows,
                           ladders=ladders)


@bp.route("/targets")
@requires(READ)
def targets_page():
    ctx = current()
    years = sorted({t["year"] for t in _settings()["creation_targets"]})
    year = parse_int(request.args.get("year", ""), lo=2000, hi=2100) or (years[0] if years else None)
    rows = acts.targets(ctx, year, _settings()) if year else []
    return render_template("scoring/targets.html", years=years, year=year or "", rows=rows, fmt=fmt)
