"""The responsibility-letter page (责任书): ``/letters/``, in the main menu for holders of
``core.letter.read`` while the county has a module declaring a kind.

Server-rendered, Chinese first, no script: the filters (kind, year, status, unit), the list with
each letter's status, the batch form (a letter for every unit of a level under a unit), and per
letter the sign form (a date picker and the scan), the withdraw form and the PDF link; the
county's admin sets each kind's text (a textarea, a paragraph a line, the placeholders listed)
and its reminder day on ``/letters/kinds/<key>``. The page calls what the API calls
(``core.letters``, with the API's schemas); a refused form comes back with the message at its
field and everything typed kept.
"""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, redirect, render_template, request, url_for
from marshmallow import ValidationError
from sqlalchemy import select

from core import bounds, letters
from core.api.common import paginate
from core.api.letters import (SORTABLE, KindConfigSchema, LetterBatchSchema, LetterListArgs, SignFormSchema,
                              WithdrawSchema, commit_or_drop_scan, kinds)
from core.authz import require_county_wide
from core.bounds import parse_int
from core.errors import PinganError
from core.i18n import pick
from core.idempotency import HIDDEN_FORM_FIELDS
from core.letters import MANAGE, PLACEHOLDERS, READ, STATUS, Letter
from core.models import OrgLevel
from core.request import current, requires
from core.runtime import pingan
from core.web.registers import _errors, _units, filter_args

bp = Blueprint("web_letters", __name__, url_prefix="/letters")
PAGE = 20


def _years() -> list[int]:
    this = dt.datetime.now(letters.SHANGHAI).year
    return [this + 1, this, this - 1, this - 2]


def _form(schema) -> dict:
    raw = {k: v for k, v in request.form.items() if k not in HIDDEN_FORM_FIELDS and v.strip() != ""}
    data = schema().load(raw)
    bounds.check(data, location="form")
    return data


def _page(values: dict | None = None, errors: dict | None = None, status: int = 200, row_errors=None,
          done: str | None = None):
    ctx = current()
    s = ctx.session
    available = kinds()
    raw = {k: v for k, v in request.args.items() if v.strip() != ""}
    args, filter_errors = filter_args(LetterListArgs, raw)
    args["limit"] = PAGE
    try:
        found = paginate(s, letters.query(s, ctx.grants, available, args), args, Letter.id, SORTABLE, "-id")
    except PinganError as exc:
        filter_errors.update(_errors((exc.errors or {}).get("query")) or {"_form": exc.message})
        found = {"items": [], "next_cursor": None}
    from core.documents import cn_date
    rows = [{**r, "signed_on_cn": cn_date(r["signed_on"])} for r in letters.present(s, available, found["items"])]
    may_manage = ctx.grants.has(MANAGE)
    levels = s.execute(select(OrgLevel.key, OrgLevel.name, OrgLevel.name_en).where(OrgLevel.rank > 0)
                       .order_by(OrgLevel.rank)).all()
    errors = errors or {}
    return render_template(
        "letters/page.html", rows=rows, next_cursor=found["next_cursor"], args=raw,
        query=[(k, v) for k, v in raw.items() if k != "cursor"], filter_errors=filter_errors,
        kinds=[(k.key, pick(k.title, k.title_en)) for k in available.values()],
        kind_titles={k.key: pick(k.title, k.title_en) for k in available.values()},
        statuses={k: pick(*v) for k, v in STATUS.items()}, years=_years(),
        levels=[(key, pick(name, name_en)) for key, name, name_en in levels],
        read_units=_units(s, ctx.grants, READ), manage_units=_units(s, ctx.grants, MANAGE) if may_manage else [],
        may_manage=may_manage, values=values or {}, errors=errors, row_errors=row_errors or {},
        today=dt.datetime.now(letters.SHANGHAI).date().isoformat(),
        field_labels={"kind": pick("责任书种类", "Kind"), "year": pick("年度", "Year"),
                      "under_unit_id": pick("在该单位之下", "Under"), "level": pick("为哪一层级", "Level"),
                      "counterparty": pick("对方签字人", "Counter-party")},
        done=done or request.args.get("done")), status


@bp.route("/", methods=["GET"])
@requires(READ)
def index():
    return _page()


@bp.route("/batch", methods=["POST"])
@requires(MANAGE)
def batch():
    ctx = current()
    try:
        result = letters.create_batch(ctx, kinds(), _form(LetterBatchSchema))
        ctx.session.commit()
    except ValidationError as exc:
        return _page(request.form.to_dict(), _errors(exc.messages), 422)
    except PinganError as exc:
        ctx.session.rollback()
        return _page(request.form.to_dict(), {"_form": exc.message, **_errors(exc.errors)}, exc.status)
    return redirect(url_for(".index", done=f"batch-{result['created']}-{result['skipped']}"))


def _row_act(letter_id: str, act):
    """Run a letter's act from its form; a refusal shows at that letter's form, input kept."""
    ctx = current()
    rid = parse_int(letter_id, lo=1) or 0
    try:
        act(ctx, rid)
    except ValidationError as exc:
        ctx.session.rollback()
        return _page(row_errors={rid: {"values": request.form.to_dict(), "errors": _errors(exc.messages)}},
                     status=422)
    except PinganError as exc:
        ctx.session.rollback()
        return _page(row_errors={rid: {"values": request.form.to_dict(),
                                       "errors": {"_form": exc.message, **_errors(exc.errors)}}}, status=exc.status)
    return None


@bp.route("/<letter_id>/sign", methods=["POST"])
@requires(MANAGE)
def sign(letter_id):
    def act(ctx, rid):
        data = _form(SignFormSchema)
        upload = request.files.get("file")
        scan = (upload.stream, upload.filename) if upload is not None and upload.filename else None
        row = letters.sign(ctx, kinds(), rid, data["signed_on"], scan, pingan().config)
        commit_or_drop_scan(row)
    return _row_act(letter_id, act) or redirect(url_for(".index", done="signed"))


@bp.route("/<letter_id>/withdraw", methods=["POST"])
@requires(MANAGE)
def withdraw(letter_id):
    def act(ctx, rid):
        letters.withdraw(ctx, kinds(), rid, _form(WithdrawSchema)["reason"])
        ctx.session.commit()
    return _row_act(letter_id, act) or redirect(url_for(".index", done="withdrawn"))


# --- the county's text of a kind --------------------------------------------------------------

def _kind_page(key: str, values: dict | None = None, errors: dict | None = None, status: int = 200):
    from core.api.letters import kind_view
    ctx = current()
    kind = letters.kind_or_404(kinds(), key, "key", "path")
    view = kind_view(ctx.session, kind)
    if values is None:
        values = {"paragraphs": "\n".join(view["paragraphs"]),
                  "remind_month": view["remind_month"] or "", "remind_day": view["remind_day"] or "",
                  "remind_every_days": view["remind_every_days"]}
    return render_template(
        "letters/kind.html", kind=kind, title=pick(kind.title, kind.title_en), view=view, values=values,
        errors=errors or {}, placeholders=[(f"{{{n}}}", pick(*label)) for n, label in PLACEHOLDERS.items()],
        field_labels={"paragraphs": pick("正文", "Text"), "remind_month": pick("提醒起始月", "From month"),
                      "remind_day": pick("提醒起始日", "From day"), "remind_every_days": pick("提醒间隔（天）", "Every (days)")},
        done=request.args.get("done")), status


@bp.route("/kinds/<key>", methods=["GET"])
@requires(MANAGE)
def kind_settings(key):
    ctx = current()
    require_county_wide(ctx.session, ctx.grants, MANAGE, "只有全县范围的责任书管理员可以设置责任书文本")
    return _kind_page(key)


@bp.route("/kinds/<key>", methods=["POST"])
@requires(MANAGE)
def kind_save(key):
    ctx = current()
    require_county_wide(ctx.session, ctx.grants, MANAGE, "只有全县范围的责任书管理员可以设置责任书文本")
    kind = letters.kind_or_404(kinds(), key, "key", "path")
    raw = {k: v for k, v in request.form.items() if k not in HIDDEN_FORM_FIELDS and v.strip() != ""}
    raw["paragraphs"] = letters.split_paragraphs(request.form.get("paragraphs", ""))
    try:
        letters.configure(ctx.session, kind, KindConfigSchema().load(raw))
        ctx.session.commit()
    except ValidationError as exc:
        return _kind_page(key, request.form.to_dict(), _errors(exc.messages), 422)
    except PinganError as exc:
        ctx.session.rollback()
        return _kind_page(key, request.form.to_dict(), {"_form": exc.message, **_errors(exc.errors)}, exc.status)
    return redirect(url_for(".kind_settings", key=key, done="saved"))
