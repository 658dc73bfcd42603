"""/admin/modules — the module catalog in the browser: switch a module on or off for the
county, edit its settings in a form generated from the plugin's settings schema, and read
who changed what (the audit log's before and after, as a diff).

The service is ``core.modules`` (the one ``/api/modules`` calls). The form posts strings: a
number box, a choice, a check box or text per simple field, JSON text for a list or a table
(their structure is the schema's); the schema validates everything and its messages come
back in Chinese next to each field.
"""
from __future__ import annotations

import json

from flask import redirect, render_template, request, url_for
from sqlalchemy import func, select
from marshmallow import fields as mfields
from marshmallow import validate as mvalidate

from core import modules
from core.bounds import parse_int
from core.cases.models import Case
from core.errors import PinganError
from core.request import current, requires
from core.validation_messages import validation_zh
from core.web.admin import bp, section
from core.web.cases import local
from core.web.intake import form_fields

MANAGE = modules.MANAGE
section(50, "web_admin.module_list", MANAGE, "功能模块", "Modules", county_wide=True)


def _host():
    from core.app import pingan
    return pingan().plugins


def settings_fields(schema_cls) -> list[dict]:
    """One input per setting, in the schema's order, each with its kind: ``select``, ``integer``,
    ``boolean``, ``date``, ``text`` (``form_fields``' inputs) or ``json`` for a list, a table or
    a nested record (which ``form_fields`` leaves out; a setting missing from the form would be
    reset to its default on save), and its help text."""
    if schema_cls is None:
        return []
    simple = {f["name"]: f for f in form_fields(schema_cls)}
    out = []
    for name, field in schema_cls().fields.items():
        f = simple.get(name) or {"name": name, "label": field.metadata.get("title", name), "required": field.required,
                                 "choices": None, "integer": False}
        if name not in simple:
            kind = "json"
        elif f.get("boolean") or isinstance(field, mfields.Boolean):
            kind = "boolean"
        elif f["choices"]:
            kind = "select"
        elif f["integer"] or isinstance(field, mfields.Number):
            kind = "integer"
        elif f.get("input_type") in ("date", "datetime-local"):
            kind = "date"
        else:
            kind = "text"
        rng = next((v for v in field.validators if isinstance(v, mvalidate.Range)), None)
        out.append({**f, "kind": kind, "title": field.metadata.get("title", name),
                    "help": field.metadata.get("description") or "", "input_type": f.get("input_type", "text"),
                    "min": rng.min if rng else None, "max": rng.max if rng else None})
    return out


def _shown(kind: str, value) -> str:
    if kind == "json":
        return json.dumps(value, ensure_ascii=False, indent=2)
    return "" if value is None else str(value)


def _read_form(fields_: list[dict], form) -> tuple[dict, dict]:
    """(settings to validate, field → message for text that is not JSON)."""
    data, errors = {}, {}
    for f in fields_:
        name = f["name"]
        if f["kind"] == "boolean":
            data[name] = form.get(name) in ("1", "on", "true")
            continue
        raw = form.get(name, "")
        if f["kind"] == "json":
            try:
                data[name] = json.loads(raw) if raw.strip() else None
            except ValueError as exc:
                errors[name] = f"不是有效的 JSON（第 {exc.lineno} 行第 {exc.colno} 列）"
        elif f["kind"] == "integer":
            data[name] = raw.strip() or None
        else:
            data[name] = raw
    return data, errors


def _messages(messages, prefix: str = ""):
    if isinstance(messages, dict):
        for k, v in messages.items():
            yield from _messages(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(messages, (list, tuple)):
        for m in messages:
            yield from _messages(m, prefix)
    else:
        yield prefix, str(messages)


def field_errors(fields_: list[dict], messages) -> dict:
    """The schema's messages as field → one Chinese line; a message inside a list or table
    names its place (``第 2 项.key``), a range names its bounds; others go under ``_form``."""
    by_name = {f["name"]: f for f in fields_}
    out: dict[str, list[str]] = {}
    for path, message in _messages(messages):
        top, _, rest = path.partition(".")
        text = validation_zh(message)
        f = by_name.get(top)
        if f is None:
            out.setdefault("_form", []).append(f"{top}：{text}" if top and top != "_schema" else text)
            continue
        if not rest and text == "超出范围" and (f["min"] is not None or f["max"] is not None):
            text = f"超出范围（允许 {'' if f['min'] is None else f['min']}–{'' if f['max'] is None else f['max']}）"
        if rest:
            first, _, more = rest.partition(".")
            index = parse_int(first, lo=0)
            where = f"第 {index + 1} 项" if index is not None else first
            text = f"{where}{'.' + more if more else ''}：{text}"
        out.setdefault(top, []).append(text)
    return {k: "；".join(dict.fromkeys(v)) for k, v in out.items()}


def _history(session, row) -> list[dict]:
    out = []
    for e in modules.history(session, row):
        out.append({"at": local(e.at), "actor": e.actor, "action": e.action,
                    "lines": [{"key": d["key"], "before": _shown("json", d["before"]),
                               "after": _shown("json", d["after"])} for d in modules.diff(e.changes or {})]})
    return out


def _page(name: str, values: dict | None = None, errors: dict | None = None, status: int = 200, saved: bool = False):
    ctx = current()
    host = _host()
    info = modules.module(ctx.session, host, name)
    row = modules.row_of(ctx.session, name)
    fields_ = settings_fields(host.plugins[name].settings_schema)
    if values is None:
        try:
            effective = host.validate_settings(name, info["settings"])
        except Exception:  # noqa: BLE001 — saved settings a newer schema refuses: show them as saved
            effective = info["settings"]
        values = {f["name"]: _shown(f["kind"], effective.get(f["name"])) for f in fields_}
        values.update({f["name"]: bool(effective.get(f["name"])) for f in fields_ if f["kind"] == "boolean"})
    return render_template("admin/module.html", module=info, fields=fields_, values=values, errors=errors or {},
                           history=_history(ctx.session, row), saved=saved), status


@bp.route("/modules")
@requires(MANAGE)
def module_list():
    ctx = current()
    modules.require_manager(ctx.session, ctx.grants)
    return render_template("admin/modules.html", modules=modules.catalog(ctx.session, _host()), error=None)


@bp.route("/modules/<name>")
@requires(MANAGE)
def module_page(name: str):
    ctx = current()
    modules.require_manager(ctx.session, ctx.grants)
    return _page(name, saved=request.args.get("saved") == "1")


@bp.route("/modules/<name>", methods=["POST"])
@requires(MANAGE)
def module_save(name: str):
    """Save the settings form: all fields validated by the schema first; on an error nothing
    is saved and the page comes back (422) with the message at each field and the text typed."""
    ctx = current()
    host = _host()
    if name not in host.plugins:
        modules.module(ctx.session, host, name)  # the 404
    fields_ = settings_fields(host.plugins[name].settings_schema)
    data, errors = _read_form(fields_, request.form)
    if not errors:
        try:
            modules.save(ctx.session, ctx.grants, host, name, None, data)
            ctx.session.commit()
            return redirect(url_for("web_admin.module_page", name=name, saved=1))
        except PinganError as exc:
            ctx.session.rollback()
            if exc.status != 422:
                raise
            errors = field_errors(fields_, ((exc.errors or {}).get("json") or {}).get("settings") or {})
            errors.setdefault("_form", exc.message)
    typed = {f["name"]: (request.form.get(f["name"]) in ("1", "on", "true")) if f["kind"] == "boolean"
             else request.form.get(f["name"], "") for f in fields_}
    return _page(name, typed, errors, 422)


@bp.route("/modules/<name>/switch", methods=["POST"])
@requires(MANAGE)
def module_switch(name: str):
    """Switch a module on (``enabled=1``) or off; its saved settings are kept either way."""
    ctx = current()
    host = _host()
    enabled = request.form.get("enabled") == "1"
    back = request.form.get("back")
    if not enabled and request.form.get("confirm") != "1":
        return _confirm_off(name, back)
    try:
        modules.save(ctx.session, ctx.grants, host, name, enabled, None)
        ctx.session.commit()
    except PinganError as exc:
        ctx.session.rollback()
        if exc.status != 422:
            raise
        # saved settings the module's schema now refuses: the admin fixes them on the module's page
        return _page(name, None, {"_form": "该模块已保存的参数不符合要求，请先修改参数再启用"}, 422)
    if back == "module":
        return redirect(url_for("web_admin.module_page", name=name))
    return redirect(url_for("web_admin.module_list") + f"#module-{name}")


def _confirm_off(name: str, back: str | None):
    """Switching a module off hides its cases from every user of the county: say how many are
    still open, and switch only when the admin confirms."""
    ctx = current()
    host = _host()
    modules.require_manager(ctx.session, ctx.grants)
    info = modules.module(ctx.session, host, name)  # the 404 for a module not installed
    types = [key for key, ctype in host.case_types.items() if ctype.plugin == name]
    open_cases = ctx.session.scalar(select(func.count()).select_from(Case).where(
        Case.case_type.in_(types), Case.closed_at.is_(None))) if types else 0
    return render_template("admin/module_off.html", module=info, open_cases=open_cases, back=back)
