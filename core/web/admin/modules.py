"""/admin/modules — the module catalog in the browser: switch a module on or off for the
county, edit its settings in a form generated from the plugin's settings schema, edit the time
limits of its case types, and read who changed what (the audit log's before and after).

The services are ``core.modules`` (the one ``/api/modules`` calls) and ``core.cases.settings``
(``PUT /api/case-types/<key>/settings``). The settings form's controls come from the schema
(``core.web.admin.settings_form``): a table of rows for a list of records, one input per entry
for a list of words, check boxes or a select with Chinese labels for a choice — no JSON to type
(issue 15, item 10). The schema validates everything and its messages come back in Chinese at
the field and the row, with everything typed kept.
"""
from __future__ import annotations

import logging

from flask import redirect, render_template, request, url_for
from marshmallow import ValidationError
from marshmallow import fields as mfields
from sqlalchemy import func, select

from core import calendar_overrides, modules
from core.audit import AuditEntry
from core.authz import require_county_wide
from core.bounds import parse_int
from core.cases import settings as case_settings
from core.cases.models import Case, CaseTypeSetting
from core.errors import NotFound, PinganError
from core.request import current, requires
from core.validation_messages import validation_zh
from core.web.admin import bp, section
from core.web.admin import settings_form as sf
from core.web.admin import type_settings
from core.web.cases import local
from core.workdays import DAY_UNITS, UNITS

MANAGE = modules.MANAGE
log = logging.getLogger("pingan.plugins")
CONFIGURE = "core.case.configure"  # a case type's settings (time limits), as PUT /api/case-types/<key>/settings
section(50, "web_admin.module_list", MANAGE, "功能模块", "Modules", county_wide=True)

UNIT_TITLES = {"calendar_days": "日", "working_days": "个工作日", "months": "个月", "hours": "小时", "minutes": "分钟"}


def _host():
    from core.runtime import pingan
    return pingan().plugins


def _work():
    try:
        from core.cases.timeline import request_work
        return request_work()
    except Exception:  # noqa: BLE001 — no county work (a choice from the county's lists needs none)
        return None


@bp.record_once
def _warn_unsupported_settings(state) -> None:
    """Tell a plugin's author, when the app starts, which settings no form control fits (the
    county admin sees a message in their place and cannot change them in the console)."""
    from core.runtime import pingan
    host = pingan(state.app).plugins
    for name, contrib in host.plugins.items():
        missing = sf.unsupported(contrib.settings_schema) if contrib.settings_schema is not None else []
        if missing:
            log.warning("plugin %s: settings without a form control (see docs/plugin_settings.md): %s",
                        name, ", ".join(missing))


def settings_fields(schema_cls) -> list[dict]:
    """One control per setting, in the schema's order (``settings_form.control``)."""
    if schema_cls is None:
        return []
    return sf.controls(schema_cls, sf.sources_for(current().session, _work()))


def field_errors(fields_: list[dict], messages, positions: dict | None = None) -> dict:
    """The schema's messages at their field, row and cell, in Chinese (``settings_form.errors_at``)."""
    return sf.errors_at(fields_, messages, positions or {})


def _history(session, row, fields_: list[dict]) -> list[dict]:
    by_name = {f["name"]: f for f in fields_}
    out = []
    for e in modules.history(session, row):
        lines = []
        order = {name: k for k, name in enumerate(["enabled", *by_name])}
        for d in sorted(modules.diff(e.changes or {}), key=lambda d: order.get(d["key"], len(order))):
            if d["key"] == "enabled":
                lines.append({"title": "启用状态", "before": "已启用" if d["before"] else "未启用",
                              "after": "已启用" if d["after"] else "未启用"})
                continue
            f = by_name.get(d["key"])
            lines.append({"title": f["title"] if f else d["key"], "before": sf.readable(f, d["before"]),
                          "after": sf.readable(f, d["after"])})
        out.append({"at": local(e.at), "actor": e.actor, "actor_id": e.actor_id, "action": ACTIONS.get(e.action, "变更"),
                    "lines": lines, "sort": e.id})
    return out


def _with_names(entries: list[dict]) -> list[dict]:
    """Who changed it by name (and login, a code of the county's own); newest first."""
    from core.models import User
    ids = {e["actor_id"] for e in entries if e.get("actor_id")}
    users = {u.id: u for u in current().session.scalars(select(User).where(User.id.in_(ids)))} if ids else {}
    for e in entries:
        user = users.get(e.get("actor_id"))
        e["actor_name"] = user.display_name if user else "系统"
        e["actor_login"] = user.username if user else ""
    return sorted(entries, key=lambda e: e["sort"], reverse=True)


ACTIONS = {"create": "新建", "update": "修改", "delete": "删除"}


def _page(name: str, values: dict | None = None, errors: dict | None = None, status: int = 200, saved: bool = False,
          limits_typed: dict | None = None, limit_errors: dict | None = None, limits_saved: str | None = None):
    ctx = current()
    host = _host()
    info = modules.module(ctx.session, host, name)
    row = modules.row_of(ctx.session, name)
    schema_cls = host.plugins[name].settings_schema
    fields_ = settings_fields(schema_cls)
    try:
        effective = sf.form_data(schema_cls, host.validate_settings(name, info["settings"]))
    except Exception:  # noqa: BLE001 — saved settings a newer schema refuses: show them as saved
        effective = info["settings"]
    sf.with_saved_choices(fields_, effective)
    if values is None:
        values = sf.shown(fields_, effective)
    else:
        values = sf.with_unsupported(fields_, values, effective)
    limits = _limit_forms(name, limits_typed or {}, limit_errors or {})
    summary = _summary(fields_, values, errors or {})
    return render_template("admin/module.html", module=info, fields=fields_, values=values, errors=errors or {},
                           summary=summary[0], summary_labels=summary[1], summary_anchors=summary[2],
                           history=_with_names(_history(ctx.session, row, fields_) + _limit_history(limits)),
                           saved=saved, limits=limits, limits_saved=limits_saved,
                           may_configure=_may_configure(), units=UNIT_TITLES), status


def _summary(fields_: list[dict], values: dict, errors: dict) -> tuple[dict, dict, dict]:
    """The refused form's summary (``_forms.error_summary``): each message with the name of its
    field — a cell as "信访分类 第 7 行 分类代码" — and a link to its input; a list's own "有 1 行需要
    更正" is left to its rows' lines."""
    by_name = {f["name"]: f for f in sf.every(fields_)}
    summary, labels, anchors = {}, {}, {}
    with_cells = {k.split("-", 1)[0] for k in errors if "-" in k}
    for key, message in errors.items():
        if key == "_form":
            summary[key] = message
            continue
        name, _, rest = key.partition("-")
        f = by_name.get(name)
        if f is None:
            continue
        if not rest:
            if f["kind"] in ("rows", "table", "strings") and name in with_cells:
                continue
            summary[key], labels[key] = message, f.get("trail") or f["title"]
            anchors[key] = f"setting-{name}" if f["kind"] in sf.SIMPLE else f"field-{name}"
            continue
        index, _, column = rest.partition("-")
        rows = values.get(name) or []
        n = next((k + 1 for k, r in enumerate(rows) if str(r.get("i")) == index), None)
        columns = ([f["key"]] if f["kind"] == "table" else []) + f["columns"]
        title = next((c["title"] for c in columns if c["name"] == column), "")
        where = f" 第 {n} {'项' if f['kind'] == 'strings' else '行'}" if n else ""
        labels[key] = f"{f.get('trail') or f['title']}{where}{' ' + title if title else ''}"
        summary[key], anchors[key] = message, f"setting-{key}"
    return summary, labels, anchors


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
    return _page(name, saved=request.args.get("saved") == "1", limits_saved=request.args.get("limits"))


@bp.route("/modules/<name>", methods=["POST"])
@requires(MANAGE)
def module_save(name: str):
    """Save the settings form: all fields validated by the schema first; on an error nothing
    is saved and the page comes back (422) with the message at each field and row, and the text
    typed. An "add row" or "remove" button posted without JavaScript comes back (200) with the
    row added or removed, nothing saved."""
    ctx = current()
    host = _host()
    if name not in host.plugins:
        modules.module(ctx.session, host, name)  # the 404
    modules.require_manager(ctx.session, ctx.grants)
    fields_ = settings_fields(host.plugins[name].settings_schema)
    typed = sf.typed_values(fields_, request.form)
    action = request.form.get("row_action", "")
    if action and sf.change_rows(fields_, typed, action):
        return _page(name, typed, {}, 200)
    data, errors, positions = sf.read(fields_, typed, modules.row_settings(ctx.session, name))
    if errors:
        errors = sf.mark_fields(errors, fields_)
    else:
        try:
            modules.save(ctx.session, ctx.grants, host, name, None, data)
            ctx.session.commit()
            return redirect(url_for("web_admin.module_page", name=name, saved=1))
        except PinganError as exc:
            ctx.session.rollback()
            if exc.status != 422:
                raise
            errors = field_errors(fields_, ((exc.errors or {}).get("json") or {}).get("settings") or {}, positions)
    errors["_form"] = "；".join(filter(None, ["参数有误，未保存", errors.get("_form")]))
    return _page(name, typed, errors, 422)


# --- time limits of the module's case types -------------------------------------------------------

def _may_configure() -> bool:
    ctx = current()
    try:
        require_county_wide(ctx.session, ctx.grants, CONFIGURE, calendar_overrides.COUNTY_WIDE)
    except PinganError:
        return False
    return True


def _limit_id(ctype_key: str, rule_key: str = "") -> str:
    return "limit-" + ctype_key.replace(".", "-") + (f"-{rule_key}" if rule_key else "")


def _amount_text(amount, unit) -> str:
    return f"{amount} {UNIT_TITLES.get(unit, unit)}" if amount is not None else ""


SETTING_LIMIT_TITLES = {"supervision_reply": "督办、催办的默认答复期限"}  # a limit setting without a title of its own


def _setting_limits() -> list[tuple[str, str, str]]:
    """The case type settings that are a time limit of their own (an amount and a unit, e.g.
    the default reply limit of a 督办), as (name, title, help): edited next to the rules, with no
    statutory bound."""
    out = []
    for fname, field in case_settings.CaseTypeSettingsSchema().fields.items():
        if isinstance(field, mfields.Nested) and field.nested is case_settings.LimitSchema and not field.many:
            out.append((fname, field.metadata.get("title") or SETTING_LIMIT_TITLES.get(fname, "时限"),
                        field.metadata.get("description") or ""))
    return out


def _limit_forms(name: str, typed: dict, errors: dict) -> list[dict]:
    """The module's case types, each with its time limits as the county has them: amount and
    unit (typed, after a refused save), whether a local one is on, its own source, and the
    statutory bound it may not exceed."""
    ctx = current()
    host = _host()
    out = []
    for key, ctype in sorted(host.case_types.items()):
        if ctype.plugin != name:
            continue
        row = ctx.session.scalar(select(CaseTypeSetting).where(CaseTypeSetting.case_type == key))
        raw = (row.settings if row else None) or {}
        try:
            conf = case_settings.effective(ctype, raw)
            listing = {r["key"]: r for r in case_settings.rule_listing(ctype, conf)}
        except ValidationError:
            listing = {}
        overrides = raw.get("deadlines") or {}
        rules = []
        for rule in ctype.deadlines:
            shown = listing.get(rule.key) or {"amount": rule.amount, "unit": rule.unit, "enabled": rule.enabled}
            law = rule if rule.statutory else (ctype.rule(rule.tightens) if rule.tightens else None)
            mine = typed.get(key, {}).get(rule.key)
            values = mine or {"amount": str(shown["amount"]), "unit": shown["unit"], "enabled": bool(shown["enabled"]),
                              "source": (overrides.get(rule.key) or {}).get("source", "")}
            rules.append({"key": rule.key, "title": rule.title, "statutory": rule.statutory,
                          "id": _limit_id(key, rule.key),
                          "declared": _amount_text(rule.amount, rule.unit),
                          "bound": _amount_text(law.amount, law.unit) if law else "",
                          "bound_source": f"即“{law.title}”，{law.source}" if law and law is not rule else "",
                          "source_default": rule.source if rule.statutory else case_settings.local_source(rule.source),
                          "values": values, "error": errors.get(f"{key}:{rule.key}")})
        try:
            loaded = case_settings.CaseTypeSettingsSchema().load(raw)
        except ValidationError:
            loaded = {}
        for fname, title, help_ in _setting_limits():
            current_limit = loaded.get(fname) or raw.get(fname) or {}
            rule_key = f"cfg_{fname}"
            values = typed.get(key, {}).get(rule_key) or {
                "amount": str(current_limit.get("amount", "")), "unit": current_limit.get("unit", ""),
                "enabled": True, "source": ""}
            rules.append({"key": rule_key, "title": title, "statutory": False, "setting": True, "help": help_,
                          "id": _limit_id(key, rule_key), "bound": "", "bound_source": "", "source_default": "",
                          "values": values, "error": errors.get(f"{key}:{rule_key}")})
        try:
            in_force = case_settings.effective(ctype, raw)
        except ValidationError:
            in_force = case_settings.effective(ctype, {})
        out.append({"key": key, "title": ctype.title, "id": _limit_id(key), "rules": rules,
                    "row_id": row.id if row else None, "error": errors.get(f"{key}:_form"),
                    "options": type_settings.form(ctype, in_force, typed.get(key, {}).get("_options")),
                    "columns": type_settings.columns(ctype), "digits": list(type_settings.DIGITS),
                    "option_errors": {f: errors.get(f"{key}:opt:{f}")
                                      for f in ("prefix", "digits", "remind", "backdate", "columns")}})
    return out


def _limit_history(limits: list[dict]) -> list[dict]:
    """The audited changes of these case types' settings, as the module's history shows them."""
    session = current().session
    ids = {str(c["row_id"]): c for c in limits if c["row_id"] is not None}
    if not ids:
        return []
    out = []
    entries = session.scalars(select(AuditEntry).where(AuditEntry.object_type == CaseTypeSetting.__tablename__,
                                                       AuditEntry.object_id.in_(list(ids)))
                              .order_by(AuditEntry.id.desc()).limit(50))
    for e in entries:
        ctype = ids[e.object_id]
        titles = {r["key"]: r["title"] for r in ctype["rules"]}
        before, after = ((e.changes or {}).get("settings") or [None, None])
        before = ((before or {}).get("deadlines") or {}) if isinstance(before, dict) else {}
        after = ((after or {}).get("deadlines") or {}) if isinstance(after, dict) else {}
        lines = [{"title": f"{ctype['title']}：{titles.get(k, '时限')}", "before": _override_text(before.get(k)),
                  "after": _override_text(after.get(k))}
                 for k in [r["key"] for r in ctype["rules"]] if before.get(k) != after.get(k)]
        whole_before, whole_after = ((e.changes or {}).get("settings") or [None, None])
        whole_before = whole_before if isinstance(whole_before, dict) else {}
        whole_after = whole_after if isinstance(whole_after, dict) else {}
        for fname, title, _ in _setting_limits():
            if whole_before.get(fname) != whole_after.get(fname):
                lines.append({"title": f"{ctype['title']}：{title}", "before": _override_text(whole_before.get(fname)),
                              "after": _override_text(whole_after.get(fname))})
        for fname, (title, shown) in OPTION_TITLES.items():
            if whole_before.get(fname) != whole_after.get(fname):
                lines.append({"title": f"{ctype['title']}：{title}", "before": shown(whole_before.get(fname), ctype),
                              "after": shown(whole_after.get(fname), ctype)})
        if lines:
            out.append({"at": local(e.at), "actor": e.actor, "actor_id": e.actor_id,
                        "action": ACTIONS.get(e.action, "变更"), "lines": lines, "sort": e.id})
    return out


def _columns_text(keys, ctype: dict) -> str:
    if not keys:
        return "（默认：全部列）"
    titles = dict(ctype["columns"])
    return "、".join(titles.get(k, "（已停用的列）") for k in keys)


# the other settings of a case type as the history reads them (type_settings)
OPTION_TITLES = {
    "number_format": ("编号格式", lambda v, c: f"如 {type_settings.sample(v)}" if v else "（默认）"),
    "remind_before_hours": ("到期提醒", lambda v, c: f"期满前 {v} 小时" if v is not None else "（默认）"),
    "max_backdate_days": ("最长补录天数", lambda v, c: f"{v} 天" if v is not None else "（默认）"),
    "ledger_columns": ("台账列", _columns_text),
}


def _override_text(override) -> str:
    if not override:
        return "（默认）"
    parts = []
    if override.get("enabled") is False:
        parts.append("不启用")
    if "amount" in override:
        parts.append(_amount_text(override["amount"], override.get("unit")))
    if override.get("source"):
        parts.append(f"依据{override['source']}")
    return "，".join(parts) or "（默认）"


def _read_limits(ctype, form) -> tuple[dict, dict, dict]:
    """(typed values per rule, overrides, errors per rule) from a case type's limits form."""
    typed, overrides, errors = {}, {}, {}
    for rule in ctype.deadlines:
        prefix = f"{rule.key}-"
        amount_raw = form.get(prefix + "amount", "").strip()
        unit = form.get(prefix + "unit", "")
        enabled = True if rule.statutory else form.get(prefix + "enabled") in ("1", "on", "true")
        source = "" if rule.statutory else form.get(prefix + "source", "").strip()
        typed[rule.key] = {"amount": amount_raw, "unit": unit, "enabled": enabled, "source": source}
        amount = parse_int(amount_raw, lo=0, hi=3650)
        if unit not in UNITS:
            errors[rule.key] = "请选择时限单位"
            continue
        if amount is None:
            if not enabled and not amount_raw:
                amount = rule.amount
            else:
                errors[rule.key] = "请填写 0 至 3650 之间的整数" if unit in DAY_UNITS else "请填写 1 至 3650 之间的整数"
                continue
        same = (amount, unit) == (rule.amount, rule.unit)
        if rule.statutory:
            if not same:
                overrides[rule.key] = {"amount": amount, "unit": unit}
            continue
        override: dict = {}
        if enabled != rule.enabled or not same or source:
            override = {"enabled": enabled}
            if enabled or not same:
                override.update(amount=amount, unit=unit)
            if source:
                override["source"] = source
        if override:
            overrides[rule.key] = override
    return typed, overrides, errors


def _read_setting_limits(form, raw: dict) -> tuple[dict, dict, dict]:
    """(typed values, settings to store, errors) of the limits that are settings of their own
    (``_setting_limits``): stored when the county changes them, else left as they are."""
    typed, values, errors = {}, {}, {}
    try:
        loaded = case_settings.CaseTypeSettingsSchema().load(raw)
    except ValidationError:
        loaded = {}
    for fname, _, _ in _setting_limits():
        rule_key = f"cfg_{fname}"
        amount_raw, unit = form.get(f"{rule_key}-amount", "").strip(), form.get(f"{rule_key}-unit", "")
        typed[rule_key] = {"amount": amount_raw, "unit": unit, "enabled": True, "source": ""}
        if f"{rule_key}-amount" not in form:
            continue
        amount = parse_int(amount_raw, lo=1, hi=3650)
        if unit not in UNITS:
            errors[rule_key] = "请选择时限单位"
        elif amount is None:
            errors[rule_key] = "请填写 1 至 3650 之间的整数"
        elif fname in raw or {"amount": amount, "unit": unit} != loaded.get(fname):
            values[fname] = {"amount": amount, "unit": unit}
    return typed, values, errors


def _limit_messages(messages) -> dict:
    """``core.cases.settings``' messages under ``deadlines`` as rule → one Chinese line."""
    out: dict[str, list[str]] = {}
    deadlines = messages.get("deadlines") if isinstance(messages, dict) else None
    if isinstance(deadlines, dict):
        for key, value in deadlines.items():
            for _, text in sf._flatten(value):
                out.setdefault(str(key), []).append(validation_zh(text))
    other = {k: v for k, v in (messages or {}).items() if k != "deadlines"} if isinstance(messages, dict) else {}
    limits = {fname for fname, _, _ in _setting_limits()}
    for path, text in sf._flatten(other):
        where = f"cfg_{path[0]}" if path and path[0] in limits else "_form"
        out.setdefault(where, []).append(validation_zh(text))
    return {k: "；".join(dict.fromkeys(v)) for k, v in out.items()}


@bp.route("/modules/<name>/limits/<key>", methods=["POST"])
@requires(CONFIGURE)
def limits_save(name: str, key: str):
    """Save one case type's time limits (``core.cases.settings.save``, as ``PUT
    /api/case-types/<key>/settings``, its other settings kept): a local limit looser than its
    statutory bound, or a statutory one loosened, is refused (422) with the reason at the rule
    and nothing saved. Audited like every write (the row's before and after)."""
    ctx = current()
    host = _host()
    modules.module(ctx.session, host, name)  # the 404 for a module not installed
    ctype = host.case_types.get(key)
    if ctype is None or ctype.plugin != name:
        raise NotFound()
    require_county_wide(ctx.session, ctx.grants, CONFIGURE, calendar_overrides.COUNTY_WIDE)
    modules.require_manager(ctx.session, ctx.grants)  # the page it is on (and comes back to) is the module's
    typed, overrides, errors = _read_limits(ctype, request.form)
    row = ctx.session.scalar(select(CaseTypeSetting).where(CaseTypeSetting.case_type == key))
    saved = dict((row.settings if row else None) or {})
    more_typed, more, more_errors = _read_setting_limits(request.form, saved)
    opt_typed, options, opt_errors = type_settings.read(ctype, request.form, saved)
    typed, errors = {**typed, **more_typed, "_options": opt_typed}, {**errors, **more_errors,
                                                                      **{f"opt:{k}": v for k, v in opt_errors.items()}}
    raw = {**saved, **more, **options, "deadlines": overrides}
    if not overrides and "deadlines" not in saved:
        del raw["deadlines"]
    if errors:  # the limits that were numbers are checked too: every mistake shown at once
        try:
            case_settings.validate(ctype, raw, case_settings.calendar(ctx.session))
        except ValidationError as exc:
            errors = {**_limit_messages(exc.messages), **errors}
    elif raw == saved:
        return redirect(url_for("web_admin.module_page", name=name, limits=key) + "#" + _limit_id(key))
    else:
        try:
            case_settings.save(ctx.session, ctype, raw)
            ctx.session.commit()
            return redirect(url_for("web_admin.module_page", name=name, limits=key) + "#" + _limit_id(key))
        except ValidationError as exc:
            ctx.session.rollback()
            errors = _limit_messages(exc.messages)
    return _page(name, limits_typed={key: typed},
                 limit_errors={**{f"{key}:{k}": v for k, v in errors.items()},
                               f"{key}:_form": errors.get("_form") or "设置有误，未保存：请按标出的位置更正"},
                 status=422)


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
