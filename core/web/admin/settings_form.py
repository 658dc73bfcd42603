"""Form controls for a module's settings, generated from its marshmallow schema (issue 15,
item 10): no setting is typed as JSON.

Each setting becomes one control, chosen by its field:

- ``integer`` / ``text`` / ``date`` / ``select`` / ``boolean`` — one input (a ``OneOf`` with
  ``labels`` is a select of those labels);
- ``rows`` — a list of records (``List(Nested(S))``): a table with one row per record, one
  cell per field of ``S`` (``metadata["title"]`` heads the column), an "add row" and a
  "remove" button per row;
- ``strings`` — a list of free strings: one input per entry, add and remove;
- ``multi`` — a list of strings from a fixed or the county's own set: check boxes;
- ``table`` — a map (``Dict``) whose keys are chosen (e.g. org levels) and whose values are a
  record or a map from a ``OneOf`` to integers: one row per key, a column per value;
- ``json`` — anything else (a third-party schema deeper than these): JSON text, as before.

Where choices come from: a ``OneOf`` validator's choices with its ``labels``, or the field's
``metadata["choices_from"]``: a callable ``(work) → [(value, label), …]`` (``core.web.intake``'s
convention) or the name of a county list, ``"org_levels"`` (the county's levels) or
``"network_roles"`` (network role kinds, ORG-4). Keys are never shown: a value without a label is
marked ``typed`` (a code the county itself chose).

The buttons work without JavaScript (they post the form, which comes back with a row more or
less and nothing saved); ``static/settings-form.js`` does the same in the page. Names posted:
``<field>-<i>-<column>`` for a row's cell (``<field>-<i>-_row`` marks each row, ``_key`` is a
table row's key), ``<field>-<i>`` for a list entry, ``<field>`` (repeated) for check boxes.
Blank rows and entries are left out; the schema validates the rest and its messages come back
in Chinese at the cell (``<field>-<i>-<column>``) and the field.
"""
from __future__ import annotations

import json
import re
import secrets

from marshmallow import fields as mfields
from marshmallow import validate as mvalidate
from sqlalchemy import select

from core.bounds import parse_int
from core.validation_messages import validation_zh

# ORG-4: the network role kinds of the glossary (a county's other kinds show their code, marked typed)
NETWORK_ROLE_TITLES = {"area_leader": "包片领导", "stationed_cadre": "驻村干部", "mediator": "调解员",
                       "information_officer": "信息员", "grid_worker": "网格员", "household_head": "治安中心户长"}
SIMPLE = ("integer", "text", "date", "select", "boolean")
ROW_MARK, KEY_CELL = "_row", "_key"
MAX_ROWS = 500


# --- what the controls are ---------------------------------------------------------------------

def _range(field):
    rng = next((v for v in field.validators if isinstance(v, mvalidate.Range)), None)
    return (rng.min, rng.max) if rng else (None, None)


def _choices(field, sources: dict) -> list[tuple[str, str]] | None:
    one_of = next((v for v in field.validators if isinstance(v, mvalidate.OneOf)), None)
    if one_of is not None:
        labels = list(one_of.labels) if one_of.labels else [None] * len(list(one_of.choices))
        return [(str(c), str(label) if label else "") for c, label in zip(one_of.choices, labels)]
    source = field.metadata.get("choices_from")
    if isinstance(source, str) and source in sources:
        return list(sources[source])
    if callable(source) and sources.get("_work") is not None:
        return [(str(v), str(label)) for v, label in source(sources["_work"])]
    return None


def _simple_kind(field, choices) -> str | None:
    if isinstance(field, mfields.Boolean):
        return "boolean"
    if choices is not None:
        return "select"
    if isinstance(field, mfields.Integer):
        return "integer"
    if isinstance(field, (mfields.Date, mfields.DateTime)):
        return "date"
    if isinstance(field, (mfields.String, mfields.Number)):
        return "integer" if isinstance(field, mfields.Number) else "text"
    return None


def _cell(name: str, field, sources: dict) -> dict | None:
    """One column of a row: a simple input, or check boxes / a list for a list of strings."""
    base = {"name": name, "title": field.metadata.get("title") or DEFAULT_TITLES.get(name, ""),
            "required": field.required, "help": field.metadata.get("description") or ""}
    if isinstance(field, mfields.List):
        inner = field.inner
        choices = _choices(inner, sources) or _choices(field, sources)
        if isinstance(inner, mfields.String):
            return {**base, "kind": "multi" if choices is not None else "words", "choices": choices}
        return None
    choices = _choices(field, sources)
    kind = _simple_kind(field, choices)
    if kind is None:
        return None
    lo, hi = _range(field)
    return {**base, "kind": kind, "choices": choices, "min": lo, "max": hi}


def _generated_key(columns: list[dict]) -> None:
    """A record's code (a ``key`` text column beside a ``title``: a county's own taxonomy) is
    never typed: the admin names the entry, the form keeps its code out of sight and a new
    entry gets one when saved (:func:`new_key`). Codes already stored never change, so cases
    filed under an entry keep it when the entry is renamed."""
    names = {c["name"]: c for c in columns}
    key, title = names.get("key"), names.get("title")
    if key is not None and title is not None and key["kind"] == "text" and title["kind"] == "text":
        key["generated"] = True


def new_key(taken: set[str]) -> str:
    """A fresh code for a new entry: ``k`` and six hexadecimal digits (matches every module's
    code pattern, ``^[a-z][a-z0-9_]*$``), unique in its list."""
    while True:
        key = f"k{secrets.token_hex(3)}"
        if key not in taken:
            return key


# Column titles when a nested schema gives none (the common shapes of our taxonomies)
DEFAULT_TITLES = {"key": "代码", "title": "名称", "level": "组织层级", "value": "数值"}


def control(name: str, field, sources: dict) -> dict:
    """The control of one top-level setting (see the module's docstring)."""
    out = {"name": name, "title": field.metadata.get("title") or name, "required": field.required,
           "help": field.metadata.get("description") or "", "choices": None, "min": None, "max": None,
           "columns": [], "input_type": "text"}
    if isinstance(field, mfields.List):
        inner = field.inner
        if isinstance(inner, mfields.Nested) and not inner.many:
            columns = [_cell(n, f, sources) for n, f in inner.schema.fields.items()]
            if columns and all(columns):
                _generated_key(columns)
                return {**out, "kind": "rows", "columns": columns}
        elif isinstance(inner, mfields.String):
            choices = _choices(inner, sources) or _choices(field, sources)
            return {**out, "kind": "multi" if choices is not None else "strings", "choices": choices}
    elif isinstance(field, mfields.Dict) and field.key_field is not None:
        key = _cell(KEY_CELL, field.key_field, sources)
        if key is not None and key["kind"] in ("text", "select"):
            key["title"] = field.metadata.get("key_title") or DEFAULT_TITLES["level" if key["choices"] else "key"]
            key["required"] = True
            value = field.value_field
            if isinstance(value, mfields.Dict) and value.key_field is not None:
                keys = _choices(value.key_field, sources)
                cell = _cell("value", value.value_field, sources) if value.value_field is not None else None
                if keys and cell and cell["kind"] in SIMPLE:
                    columns = [{**cell, "name": k, "title": label or k, "required": False} for k, label in keys]
                    return {**out, "kind": "table", "key": key, "columns": columns, "value_kind": "map"}
            elif isinstance(value, mfields.Nested) and not value.many:
                columns = [_cell(n, f, sources) for n, f in value.schema.fields.items()]
                if columns and all(columns):
                    return {**out, "kind": "table", "key": key, "columns": columns, "value_kind": "record"}
            elif value is not None:
                cell = _cell("value", value, sources)
                if cell and cell["kind"] in SIMPLE:
                    return {**out, "kind": "table", "key": key, "columns": [cell], "value_kind": "value"}
    else:
        choices = _choices(field, sources)
        kind = _simple_kind(field, choices)
        if kind is not None:
            lo, hi = _range(field)
            input_type = ("datetime-local" if isinstance(field, mfields.DateTime)
                          else "date" if isinstance(field, mfields.Date) else "text")
            return {**out, "kind": kind, "choices": choices, "min": lo, "max": hi, "input_type": input_type,
                    "integer": kind == "integer"}
    return {**out, "kind": "json"}


def sources_for(session, work=None) -> dict:
    """The county's lists that settings choose from: its org levels and network role kinds."""
    from core.models import NetworkRole, OrgLevel
    levels = [(lv.key, lv.name) for lv in session.scalars(select(OrgLevel).order_by(OrgLevel.rank))]
    kinds = dict(NETWORK_ROLE_TITLES)
    for kind in session.scalars(select(NetworkRole.kind).distinct().limit(100)):
        kinds.setdefault(kind, "")
    return {"org_levels": levels, "network_roles": list(kinds.items()), "_work": work}


def controls(schema_cls, sources: dict) -> list[dict]:
    if schema_cls is None:
        return []
    return [control(name, field, sources) for name, field in schema_cls().fields.items()]


def with_saved_choices(fields_: list[dict], settings: dict) -> None:
    """A saved value outside a select's choices (a level since renamed …) stays choosable, so a
    save does not silently drop it."""
    def add(cell, value):
        known = {c for c, _ in cell.get("choices") or []}
        if cell.get("choices") is not None and value not in (None, "") and str(value) not in known:
            cell["choices"] = [*cell["choices"], (str(value), "")]
    for f in fields_:
        value = settings.get(f["name"])
        if f["kind"] in ("select", "multi"):
            for v in (value if isinstance(value, list) else [value]):
                add(f, v)
        elif f["kind"] == "rows" and isinstance(value, list):
            for row in value:
                for c in f["columns"]:
                    for v in (row.get(c["name"]) if isinstance(row.get(c["name"]), list) else [row.get(c["name"])]):
                        add(c, v)
        elif f["kind"] == "table" and isinstance(value, dict):
            for k in value:
                add(f["key"], k)


# --- values as the form shows them ---------------------------------------------------------------

def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else ""
    return str(value)


def _cell_value(cell: dict, value):
    if cell["kind"] in ("multi",):
        return [str(v) for v in value] if isinstance(value, list) else []
    if cell["kind"] == "words":
        return "、".join(str(v) for v in value) if isinstance(value, list) else _text(value)
    if cell["kind"] == "boolean":
        return bool(value)
    return _text(value)


def shown(fields_: list[dict], settings: dict) -> dict:
    """The saved settings as the form's values (strings, lists of rows)."""
    out = {}
    for f in fields_:
        value = settings.get(f["name"])
        kind = f["kind"]
        if kind == "json":
            out[f["name"]] = json.dumps(value, ensure_ascii=False, indent=2)
        elif kind == "boolean":
            out[f["name"]] = bool(value)
        elif kind == "rows":
            out[f["name"]] = [{"i": i, "cells": {c["name"]: _cell_value(c, (row or {}).get(c["name"]))
                                                 for c in f["columns"]}}
                              for i, row in enumerate(value if isinstance(value, list) else [])]
        elif kind == "table":
            rows = []
            for i, (k, v) in enumerate((value or {}).items() if isinstance(value, dict) else []):
                if f["value_kind"] == "value":
                    v = {"value": v}
                cells = {c["name"]: _cell_value(c, (v or {}).get(c["name"])) for c in f["columns"]}
                rows.append({"i": i, "cells": {KEY_CELL: _text(k), **cells}})
            out[f["name"]] = rows
        elif kind == "strings":
            entries = value if isinstance(value, list) else []
            out[f["name"]] = [{"i": i, "value": _text(v)} for i, v in enumerate(entries)]
        elif kind == "multi":
            out[f["name"]] = [str(v) for v in value] if isinstance(value, list) else []
        else:
            out[f["name"]] = _text(value)
    return out


# --- reading the posted form -------------------------------------------------------------------

def _indices(form, name: str, mark: str | None) -> list[int]:
    pattern = re.compile(rf"^{re.escape(name)}-(\d{{1,4}})" + (rf"-{re.escape(mark)}$" if mark else "$"))
    found = {int(m.group(1)) for k in form.keys() if (m := pattern.match(k))}
    return sorted(found)[:MAX_ROWS]


def _typed_cell(cell: dict, form, key: str):
    if cell["kind"] == "multi":
        return [v for v in form.getlist(key) if v]
    if cell["kind"] == "boolean":
        return form.get(key) in ("1", "on", "true")
    return form.get(key, "")


def typed_values(fields_: list[dict], form) -> dict:
    """What was typed, as the form shows it again (after a refused save, an added or removed row)."""
    out = {}
    for f in fields_:
        name, kind = f["name"], f["kind"]
        if kind == "boolean":
            out[name] = form.get(name) in ("1", "on", "true")
        elif kind in ("rows", "table"):
            cells = ([f["key"]] if kind == "table" else []) + f["columns"]
            out[name] = [{"i": i, "cells": {c["name"]: _typed_cell(c, form, f"{name}-{i}-{c['name']}") for c in cells}}
                         for i in _indices(form, name, ROW_MARK)]
        elif kind == "strings":
            out[name] = [{"i": i, "value": form.get(f"{name}-{i}", "")} for i in _indices(form, name, None)]
        elif kind == "multi":
            out[name] = [v for v in form.getlist(name) if v]
        else:
            out[name] = form.get(name, "")
    return out


def _blank(cells: dict, columns: list[dict]) -> bool:
    for c in columns:
        v = cells.get(c["name"])
        if c["kind"] == "boolean":
            continue
        if (v if isinstance(v, list) else str(v or "").strip()):
            return False
    return True


def _load_cell(cell: dict, raw):
    """A typed cell as the schema's input, or ``None`` to leave the key out (blank)."""
    kind = cell["kind"]
    if kind == "boolean":
        return bool(raw)
    if kind == "multi":
        return list(raw)
    text = str(raw or "").strip()
    if kind == "words":
        return [w for w in re.split(r"[、，,；;\s]+", text) if w] if text else None
    return text or None


def read(fields_: list[dict], typed: dict) -> tuple[dict, dict, dict]:
    """(settings to validate, errors found before the schema, positions): ``positions`` maps a
    list's position (or a table's key) back to the row it came from, for the schema's messages."""
    data, errors, positions = {}, {}, {}
    for f in fields_:
        name, kind, raw = f["name"], f["kind"], typed.get(f["name"])
        if kind == "boolean":
            data[name] = bool(raw)
        elif kind == "json":
            try:
                data[name] = json.loads(raw) if str(raw or "").strip() else None
            except ValueError as exc:
                errors[name] = f"格式不正确（第 {exc.lineno} 行第 {exc.colno} 列）"
        elif kind == "integer":
            data[name] = str(raw or "").strip() or None
        elif kind == "rows":
            rows, where = [], []
            generated = [c["name"] for c in f["columns"] if c.get("generated")]
            taken = {str(row["cells"].get(g) or "") for row in raw or [] for g in generated}
            for row in raw or []:
                # a new row left empty is left out; an entry with a stored code whose name was
                # cleared is kept, so the schema says the name is required (not silently dropped)
                if _blank(row["cells"], [c for c in f["columns"] if not c.get("generated")]) and \
                        not any(str(row["cells"].get(g) or "").strip() for g in generated):
                    continue
                for g in generated:
                    if not str(row["cells"].get(g) or "").strip():
                        row["cells"][g] = new_key(taken)
                        taken.add(row["cells"][g])
                item = {}
                for c in f["columns"]:
                    v = _load_cell(c, row["cells"].get(c["name"]))
                    if v is not None and v != []:
                        item[c["name"]] = v
                    elif c["kind"] == "multi" and c.get("required"):
                        item[c["name"]] = []
                rows.append(item)
                where.append(row["i"])
            data[name], positions[name] = rows, where
        elif kind == "table":
            table, where = {}, {}
            for row in raw or []:
                cells = row["cells"]
                if _blank(cells, [f["key"], *f["columns"]]):
                    continue
                key = str(cells.get(KEY_CELL) or "").strip()
                if not key:
                    errors[f"{name}-{row['i']}-{KEY_CELL}"] = "必填"
                    continue
                if key in table:
                    errors[f"{name}-{row['i']}-{KEY_CELL}"] = "与上面的行重复"
                    continue
                value = {}
                for c in f["columns"]:
                    v = _load_cell(c, cells.get(c["name"]))
                    if v is not None:
                        value[c["name"]] = v
                table[key] = value.get("value") if f["value_kind"] == "value" else value
                where[key] = row["i"]
            data[name], positions[name] = table, where
        elif kind == "strings":
            items = [(e["i"], str(e["value"]).strip()) for e in raw or []]
            items = [(i, v) for i, v in items if v]
            data[name], positions[name] = [v for _, v in items], [i for i, _ in items]
        elif kind == "multi":
            data[name] = list(raw or [])
        else:
            data[name] = raw if raw is not None else ""
    return data, errors, positions


def change_rows(fields_: list[dict], typed: dict, action: str) -> bool:
    """Apply an "add row" (``add:<field>``) or "remove" (``remove:<field>:<i>``) button posted
    without JavaScript to the typed values; False when the action names nothing."""
    verb, _, rest = action.partition(":")
    name, _, index = rest.partition(":")
    f = next((f for f in fields_ if f["name"] == name and f["kind"] in ("rows", "table", "strings")), None)
    if f is None or verb not in ("add", "remove"):
        return False
    rows = typed[name]
    if verb == "add":
        if len(rows) >= MAX_ROWS:
            return True
        i = max((r["i"] for r in rows), default=-1) + 1
        if f["kind"] == "strings":
            rows.append({"i": i, "value": ""})
        else:
            cells = ([f["key"]] if f["kind"] == "table" else []) + f["columns"]
            empty = {"multi": [], "boolean": False}
            rows.append({"i": i, "cells": {c["name"]: empty.get(c["kind"], "") for c in cells}})
        return True
    i = parse_int(index, lo=0)
    typed[name] = [r for r in rows if r["i"] != i]
    return True


# --- the schema's messages at their rows ------------------------------------------------------

def _flatten(messages, path=()):
    if isinstance(messages, dict):
        for k, v in messages.items():
            yield from _flatten(v, (*path, k))
    elif isinstance(messages, (list, tuple)):
        for m in messages:
            yield from _flatten(m, path)
    else:
        yield path, str(messages)


def _range_text(text: str, cell: dict) -> str:
    if text == "超出范围" and (cell.get("min") is not None or cell.get("max") is not None):
        lo = "" if cell.get("min") is None else cell["min"]
        hi = "" if cell.get("max") is None else cell["max"]
        return f"超出范围（允许 {lo}–{hi}）"
    return text


def errors_at(fields_: list[dict], messages, positions: dict) -> dict:
    """The schema's messages as ``{field: line, "<field>-<i>-<column>": line, "_form": line}``:
    a message inside a row goes to its cell, and the field says which rows to correct."""
    by_name = {f["name"]: f for f in fields_}
    out: dict[str, list[str]] = {}
    rows_wrong: dict[str, set[int]] = {}
    for path, message in _flatten(messages):
        text = validation_zh(message)
        top = str(path[0]) if path else "_schema"
        f = by_name.get(top)
        if f is None:
            out.setdefault("_form", []).append(text)
            continue
        rest = [p for p in path[1:] if p != "_schema"]
        kind = f["kind"]
        if not rest or kind not in ("rows", "strings", "table"):  # about the whole field
            out.setdefault(top, []).append(_range_text(text, f) if kind in SIMPLE else text)
            continue
        if kind in ("rows", "strings"):
            pos = rest[0] if isinstance(rest[0], int) else parse_int(str(rest[0]), lo=0)
            where = positions.get(top) or []
            if pos is None or pos >= len(where):
                out.setdefault(top, []).append(text)
                continue
            i = where[pos]
            rows_wrong.setdefault(top, set()).add(i)
            if kind == "strings":
                out.setdefault(f"{top}-{i}", []).append(text)
                continue
            column = next((c for c in f["columns"] if len(rest) > 1 and c["name"] == str(rest[1])), None)
            if column is None:  # a message about the whole row (a record-level check): its first cell
                column = f["columns"][0]
            out.setdefault(f"{top}-{i}-{column['name']}", []).append(_range_text(text, column))
        elif kind == "table":
            key = str(rest[0])
            i = (positions.get(top) or {}).get(key)
            if i is None:
                out.setdefault(top, []).append(text)
                continue
            rows_wrong.setdefault(top, set()).add(i)
            # marshmallow's Dict: {key: {"key": […]} | {"value": …}}; a nested value names its column
            part = rest[1] if len(rest) > 1 else "value"
            if part == "key":
                column_name = KEY_CELL
            else:
                inner = [str(p) for p in rest[2:]]
                column_name = next((c["name"] for c in f["columns"] if inner and c["name"] == inner[0]),
                                   f["columns"][0]["name"] if f["value_kind"] == "value" else None)
                if column_name is None:  # a map value's unknown key: the key itself is at fault
                    column_name = KEY_CELL
            cell = next((c for c in [f["key"], *f["columns"]] if c["name"] == column_name), f["key"])
            out.setdefault(f"{top}-{i}-{column_name}", []).append(_range_text(text, cell))
    for top, rows in rows_wrong.items():
        f = by_name[top]
        if f["kind"] == "strings":
            out.setdefault(top, []).insert(0, f"有 {len(rows)} 项需要更正（已在该项旁标出）")
        else:
            out.setdefault(top, []).insert(0, f"有 {len(rows)} 行需要更正（已在该行标出）")
    return {k: "；".join(dict.fromkeys(v)) for k, v in out.items()}


def mark_fields(errors: dict, fields_: list[dict]) -> dict:
    """Errors found while reading (a table's empty or repeated key) also named at their field."""
    out = dict(errors)
    for f in fields_:
        if f["kind"] in ("rows", "table", "strings") and f["name"] not in out:
            rows = {k for k in errors if k.startswith(f["name"] + "-")}
            if rows:
                out[f["name"]] = f"有 {len(rows)} {'项' if f['kind'] == 'strings' else '行'}需要更正（已在该处标出）"
    return out


# --- a saved value as people read it (the change history) ---------------------------------------

def _label(cell: dict | None, value) -> str:
    if value is None or value == "" or value == []:
        return "（空）"
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, list):
        return "、".join(_label(cell, v) for v in value)
    if cell and cell.get("choices"):
        label = dict(cell["choices"]).get(str(value))
        if label:
            return label
    return str(value)


def readable(f: dict | None, value) -> str:
    """A setting's value in words: a row by its name (or its chosen labels), a table's rows as
    "key：column value"; codes only where nothing names them."""
    if f is None or f["kind"] == "json":
        return json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
    if value is None:
        return "（默认）"
    kind = f["kind"]
    if kind == "rows" and isinstance(value, list):
        names = {c["name"] for c in f["columns"]}
        parts = []
        for row in value:
            if not isinstance(row, dict):
                continue
            if "title" in names and row.get("title"):
                parts.append(str(row["title"]))
                continue
            parts.append("·".join(_label(c, row.get(c["name"])) for c in f["columns"]
                                  if row.get(c["name"]) not in (None, "", [])))
        return "；".join(parts) or "（空）"
    if kind == "table" and isinstance(value, dict):
        parts = []
        for k, v in value.items():
            if f["value_kind"] == "value":
                inner = _label(f["columns"][0], v)
            else:
                inner = "、".join(f"{c['title']} {_label(c, (v or {}).get(c['name']))}" for c in f["columns"]
                                 if (v or {}).get(c["name"]) not in (None, "", []))
            parts.append(f"{_label(f['key'], k)}：{inner or '（空）'}")
        return "；".join(parts) or "（空）"
    if kind in ("strings", "multi") and isinstance(value, list):
        return "、".join(_label(f, v) for v in value) or "（空）"
    return _label(f, value)
