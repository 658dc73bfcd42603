"""Form controls for a module's settings, generated from its marshmallow schema (issue 15,
item 10; issue 16, item 5): every field is a real control, none is typed as JSON. Which field
gets which control is documented for plugin authors in docs/plugin_settings.md.

Each setting becomes one control (its ``kind``), chosen by its field:

- ``text`` (String, Email, Url, UUID, IP …), ``integer`` (Integer), ``number`` (Float,
  Decimal, Number: min/max from ``validate.Range``), ``date`` (Date, DateTime, Time),
  ``boolean`` (a check box), ``select`` (a ``OneOf`` with ``labels``, an Enum, or
  ``metadata["choices_from"]``) — one input;
- ``rows`` — a list of records (``List(Nested(S))`` or ``Nested(S, many=True)``): a table with
  one row per record, one cell per field of ``S`` (``metadata["title"]`` heads the column), an
  "add row" and a "remove" button per row;
- ``strings`` — a list of scalars (``List(String)``, ``List(Integer)``, ``List(Date)`` …): one
  input per entry, add and remove;
- ``multi`` — a list of values from a fixed or the county's own set: check boxes;
- ``table`` — a map (``Dict``): one row per key (chosen from the key field's ``OneOf`` or
  ``metadata["labels"]``, or typed), a column per value (a scalar, a record or a map from a
  ``OneOf`` to numbers);
- ``group`` — a record (``Nested(S)``): a fieldset holding the controls of ``S``'s fields, by the
  same rules (names posted as ``<field>.<sub>``);
- ``unsupported`` — a field none of these fits (``Raw``, ``Tuple``, a list of lists …): the page
  says in Chinese that it cannot be edited here and keeps the saved value on save; the plugin
  author is warned in the log when the app starts (:func:`unsupported`).

Labels: ``metadata["title"]`` (``title_en`` for English pages), ``metadata["description"]`` (the
help line), a ``OneOf``'s ``labels``, ``metadata["labels"]`` (``{value: label}``: an Enum's
members, a Dict's keys) and ``metadata["key_title"]`` (a Dict's key column). Where choices come
from: a ``OneOf`` validator's choices with its ``labels``, or the field's
``metadata["choices_from"]``: a callable ``(work) → [(value, label), …]`` (``core.web.intake``'s
convention) or the name of a county list, ``"org_levels"`` (the county's levels) or
``"network_roles"`` (network role kinds, ORG-4). Keys are never shown: a value without a label is
marked ``typed`` (a code the county itself chose).

The buttons work without JavaScript (they post the form, which comes back with a row more or
less and nothing saved), and every list shows one blank row to type a new entry into;
``static/settings-form.js`` does the same in the page (and drops the blank rows). Names posted: ``<field>-<i>-<column>``
for a row's cell (``<field>-<i>-_row`` marks each row, ``_key`` is a table row's key),
``<field>-<i>`` for a list entry, ``<field>`` (repeated) for check boxes. Blank rows and entries
are left out, and a blank input is left out (its default applies) unless the field allows
``None``; the schema validates the rest and its messages come back in Chinese at the cell
(``<field>-<i>-<column>``) and the field.
"""
from __future__ import annotations

import re
import secrets

from marshmallow import fields as mfields
from marshmallow import validate as mvalidate
from sqlalchemy import select

from core.bounds import parse_int
from core.modules import as_stored, stored_default
from core.validation_messages import validation_zh

# ORG-4: the network role kinds of the glossary (a county's other kinds show their code, marked typed)
NETWORK_ROLE_TITLES = {"area_leader": "包片领导", "stationed_cadre": "驻村干部", "mediator": "调解员",
                       "information_officer": "信息员", "grid_worker": "网格员", "household_head": "治安中心户长"}
SIMPLE = ("integer", "number", "text", "date", "select", "boolean")
LISTS = ("rows", "table", "strings")
ROW_MARK, KEY_CELL = "_row", "_key"
MAX_ROWS = 500
BLANK_ROWS = 1  # blank rows shown after a list's saved rows, to type a new entry without JavaScript
UNSUPPORTED = "此参数的类型无法在表单中编辑，保存时保留原值；如需修改，请联系该模块的开发者。"
TEXT_FIELDS = (mfields.String, mfields.IP, mfields.IPInterface)


# --- what the controls are ---------------------------------------------------------------------

def _range(field):
    rng = next((v for v in field.validators if isinstance(v, mvalidate.Range)), None)
    return (rng.min, rng.max) if rng else (None, None)


def _choices(field, sources: dict) -> list[tuple[str, str]] | None:
    one_of = next((v for v in field.validators if isinstance(v, mvalidate.OneOf)), None)
    if one_of is not None:
        labels = list(one_of.labels) if one_of.labels else [None] * len(list(one_of.choices))
        return [(str(c), str(label) if label else "") for c, label in zip(one_of.choices, labels)]
    if isinstance(field, mfields.Enum):
        labels = field.metadata.get("labels") or {}
        values = [str(m.value) if field.by_value else m.name for m in field.enum]
        return [(v, str(labels.get(v, ""))) for v in values]
    source = field.metadata.get("choices_from")
    if isinstance(source, str) and source in sources:
        return list(sources[source])
    if callable(source) and sources.get("_work") is not None:
        return [(str(v), str(label)) for v, label in source(sources["_work"])]
    return None


def _either(first, second):
    """The inner field's choices, else the list's (an empty list of choices is still a choice)."""
    return first if first is not None else second


def _scalar(field) -> bool:
    return isinstance(field, (*TEXT_FIELDS, mfields.Number, mfields.Boolean, mfields.Date, mfields.DateTime,
                              mfields.Time, mfields.Enum))


def _simple_kind(field, choices) -> str | None:
    if isinstance(field, mfields.Boolean):
        return "boolean"
    if not _scalar(field):
        return None
    if choices is not None:
        return "select"
    if isinstance(field, mfields.Integer):
        return "integer"
    if isinstance(field, mfields.Number):
        return "number"
    if isinstance(field, (mfields.Date, mfields.DateTime, mfields.Time)):
        return "date"
    return "text"


def _input_type(field) -> str:
    if isinstance(field, mfields.DateTime):
        return "datetime-local"
    if isinstance(field, mfields.Date):
        return "date"
    if isinstance(field, mfields.Time):
        return "time"
    if isinstance(field, mfields.Email):
        return "email"
    if isinstance(field, mfields.Url):
        return "url"
    return "text"


def _title(name: str, field) -> str:
    return field.metadata.get("title") or DEFAULT_TITLES.get(name, "") or name


def _base(name: str, field, title: str) -> dict:
    return {"name": name, "title": title, "title_en": field.metadata.get("title_en") or "",
            "required": field.required, "allow_none": field.allow_none,
            "help": field.metadata.get("description") or "", "choices": None, "min": None, "max": None,
            "input_type": _input_type(field), "columns": []}


def _simple(name: str, field, sources: dict, title: str) -> dict | None:
    choices = _choices(field, sources)
    kind = _simple_kind(field, choices)
    if kind is None:
        return None
    lo, hi = _range(field)
    out = {**_base(name, field, title), "kind": kind, "choices": choices, "min": lo, "max": hi,
           "integer": kind == "integer"}
    default = stored_default(field)
    out["default"] = "" if default in (None, "") or kind == "boolean" else _label(out, default)
    return out


def _cell(name: str, field, sources: dict) -> dict | None:
    """One column of a row: a simple input, or check boxes / a list of words for a list of scalars."""
    title = field.metadata.get("title") or DEFAULT_TITLES.get(name, "")
    if isinstance(field, mfields.List):
        inner = field.inner
        if not _scalar(inner) or isinstance(inner, mfields.Boolean):
            return None
        choices = _either(_choices(inner, sources), _choices(field, sources))
        return {**_base(name, field, title), "kind": "multi" if choices is not None else "words",
                "choices": choices}
    return _simple(name, field, sources, title)


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


def _unsupported(out: dict, field, why: str = "") -> dict:
    return {**out, "kind": "unsupported", "why": why or _type_name(field)}


def _type_name(field) -> str:
    name = type(field).__name__
    if isinstance(field, mfields.List):
        return f"List({_type_name(field.inner)})"
    if isinstance(field, mfields.Mapping):
        k = _type_name(field.key_field) if field.key_field else "any"
        v = _type_name(field.value_field) if field.value_field else "any"
        return f"Dict({k} → {v})"
    if isinstance(field, mfields.Nested) and not isinstance(field, mfields.Pluck):
        return f"Nested({type(field.schema).__name__}{', many' if field.many else ''})"
    return name


def control(name: str, field, sources: dict, path: tuple = ()) -> dict:
    """The control of one setting (see the module's docstring); ``path`` is where its value
    sits in the settings (the field's name, under a group's)."""
    path = (*path, name.rsplit(".", 1)[-1])
    out = {**_base(name, field, _title(path[-1], field)), "path": path}
    if isinstance(field, mfields.Pluck):  # a record's one field, not a record
        return _unsupported(out, field)
    many = isinstance(field, mfields.Nested) and field.many
    if isinstance(field, mfields.List) or many:
        inner = field if many else field.inner
        if isinstance(inner, mfields.Nested) and (many or not inner.many):
            columns = [_cell(n, f, sources) for n, f in inner.schema.fields.items()]
            bad = [f"{n}（{_type_name(f)}）" for (n, f), c in zip(inner.schema.fields.items(), columns) if c is None]
            if columns and not bad:
                _generated_key(columns)
                return {**out, "kind": "rows", "columns": columns}
            return _unsupported(out, field, "、".join(bad))
        if _scalar(inner) and not isinstance(inner, mfields.Boolean):
            choices = _either(_choices(inner, sources), _choices(field, sources))
            if choices is not None:
                return {**out, "kind": "multi", "choices": choices}
            entry = _simple("value", inner, sources, out["title"])
            return {**out, "kind": "strings", "entry": entry, "input_type": entry["input_type"]}
        return _unsupported(out, field)
    if isinstance(field, mfields.Nested):
        children = [control(f"{name}.{n}", f, sources, path) for n, f in field.schema.fields.items()]
        for c in every(children):  # "联系方式 · 值班电话" where a message names the field alone
            c["trail"] = f"{out['title']} · {c.get('trail') or c['title']}"
        return {**out, "kind": "group", "children": children}
    if isinstance(field, mfields.Mapping):
        return _table(out, field, sources)
    simple = _simple(name, field, sources, out["title"])
    if simple is not None:
        return {**simple, "path": path}
    return _unsupported(out, field)


def _table(out: dict, field, sources: dict) -> dict:
    """A map: one row per key, a column per value (a scalar, a record, or a map from a ``OneOf``)."""
    key_field = field.key_field or mfields.String()
    key = _cell(KEY_CELL, key_field, sources)
    labels = field.metadata.get("labels")
    if key is not None and labels and key["choices"] is None:
        key = {**key, "kind": "select", "choices": [(str(k), str(v)) for k, v in labels.items()]}
    if key is None or key["kind"] not in ("text", "select", "integer"):
        return _unsupported(out, field)
    key["title"] = field.metadata.get("key_title") or DEFAULT_TITLES["level" if key["choices"] else "key"]
    key["required"] = True
    value = field.value_field
    if isinstance(value, mfields.Dict) and value.key_field is not None:
        keys = _choices(value.key_field, sources)
        cell = _cell("value", value.value_field, sources) if value.value_field is not None else None
        if keys and cell and cell["kind"] in SIMPLE:
            columns = [{**cell, "name": k, "title": label or k, "required": False} for k, label in keys]
            return {**out, "kind": "table", "key": key, "columns": columns, "value_kind": "map"}
    elif isinstance(value, mfields.Nested) and not value.many and not isinstance(value, mfields.Pluck):
        columns = [_cell(n, f, sources) for n, f in value.schema.fields.items()]
        if columns and all(columns):
            return {**out, "kind": "table", "key": key, "columns": columns, "value_kind": "record"}
    elif value is not None:
        cell = _cell("value", value, sources)
        if cell is not None:
            cell["title"] = field.metadata.get("value_title") or cell["title"] or "数值"
            return {**out, "kind": "table", "key": key, "columns": [cell], "value_kind": "value"}
    return _unsupported(out, field)


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


def leaves(fields_: list[dict]):
    """Every control that holds a value (a group's children in its place)."""
    for f in fields_:
        if f["kind"] == "group":
            yield from leaves(f["children"])
        else:
            yield f


def every(fields_: list[dict]):
    """Every control, groups and their children."""
    for f in fields_:
        yield f
        if f["kind"] == "group":
            yield from every(f["children"])


def unsupported(schema_cls) -> list[str]:
    """The settings of a schema that no form control fits, as ``"name (type)"`` — for the
    start-up warning to the plugin's author."""
    sources = {"org_levels": [], "network_roles": [], "_work": None}
    return [f"{'.'.join(f['path'])} ({f['why']})" for f in leaves(controls(schema_cls, sources))
            if f["kind"] == "unsupported"]


def at(settings, path: tuple):
    """The value at ``path`` in nested settings (None when absent)."""
    value = settings
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _put(data: dict, path: tuple, value) -> None:
    for key in path[:-1]:
        data = data.setdefault(key, {})
    data[path[-1]] = value


def with_saved_choices(fields_: list[dict], settings: dict) -> None:
    """A saved value outside a select's choices (a level since renamed …) stays choosable, so a
    save does not silently drop it."""
    def add(cell, value):
        known = {c for c, _ in cell.get("choices") or []}
        if cell.get("choices") is not None and value not in (None, "") and str(value) not in known:
            cell["choices"] = [*cell["choices"], (str(value), "")]
    for f in leaves(fields_):
        value = at(settings, f["path"])
        if f["kind"] in ("select", "multi"):
            for v in (value if isinstance(value, list) else [value]):
                add(f, v)
        elif f["kind"] == "strings" and isinstance(value, list):
            for v in value:
                add(f["entry"], v)
        elif f["kind"] == "rows" and isinstance(value, list):
            for row in value:
                for c in f["columns"]:
                    cell = row.get(c["name"]) if isinstance(row, dict) else None
                    for v in (cell if isinstance(cell, list) else [cell]):
                        add(c, v)
        elif f["kind"] == "table" and isinstance(value, dict):
            for k in value:
                add(f["key"], k)


def form_data(schema_cls, settings: dict) -> dict:
    """Loaded settings as the form shows them: as stored (``core.modules.as_stored``: dates as
    ISO text …)."""
    return as_stored(schema_cls, settings)


# --- values as the form shows them ---------------------------------------------------------------

def _text(value, input_type: str = "text") -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else ""
    text = str(value)
    if input_type == "datetime-local":  # the input takes "YYYY-MM-DDTHH:MM[:SS]", no offset
        m = re.match(r"^(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d(:\d\d)?)", text)
        return f"{m.group(1)}T{m.group(2)}" if m else text
    return text


def _cell_value(cell: dict, value):
    if cell["kind"] in ("multi",):
        return [str(v) for v in value] if isinstance(value, list) else []
    if cell["kind"] == "words":
        return "、".join(str(v) for v in value) if isinstance(value, list) else _text(value)
    if cell["kind"] == "boolean":
        return bool(value)
    return _text(value, cell.get("input_type", "text"))


def _empty_cells(f: dict) -> dict:
    cells = ([f["key"]] if f["kind"] == "table" else []) + f["columns"]
    empty = {"multi": [], "boolean": False}
    return {c["name"]: empty.get(c["kind"], "") for c in cells}


def _blank_rows(f: dict, rows: list[dict]) -> list[dict]:
    """``BLANK_ROWS`` new rows after the saved ones (a typed form keeps its own rows), marked
    ``blank``: settings-form.js removes them, as its "add" button adds a row in the page."""
    start = max((r["i"] for r in rows), default=-1) + 1
    if f["kind"] == "strings":
        return [*rows, *({"i": start + k, "value": "", "blank": True} for k in range(BLANK_ROWS))]
    return [*rows, *({"i": start + k, "cells": _empty_cells(f), "blank": True} for k in range(BLANK_ROWS))]


def shown(fields_: list[dict], settings: dict) -> dict:
    """The saved settings as the form's values (strings, lists of rows), by control name; every
    list ends with a blank row."""
    out = {}
    for f in leaves(fields_):
        value = at(settings, f["path"])
        kind, name = f["kind"], f["name"]
        if kind == "unsupported":
            out[name] = readable(f, value)
        elif kind == "boolean":
            out[name] = bool(value)
        elif kind == "rows":
            out[name] = _blank_rows(f, [{"i": i, "cells": {c["name"]: _cell_value(c, (row or {}).get(c["name"]))
                                                           for c in f["columns"]}}
                                        for i, row in enumerate(value if isinstance(value, list) else [])])
        elif kind == "table":
            rows = []
            for i, (k, v) in enumerate((value or {}).items() if isinstance(value, dict) else []):
                if f["value_kind"] == "value":
                    v = {"value": v}
                cells = {c["name"]: _cell_value(c, (v or {}).get(c["name"])) for c in f["columns"]}
                rows.append({"i": i, "cells": {KEY_CELL: _text(k), **cells}})
            out[name] = _blank_rows(f, rows)
        elif kind == "strings":
            entries = value if isinstance(value, list) else []
            out[name] = _blank_rows(f, [{"i": i, "value": _text(v, f["input_type"])} for i, v in enumerate(entries)])
        elif kind == "multi":
            out[name] = [str(v) for v in value] if isinstance(value, list) else []
        else:
            out[name] = _text(value, f["input_type"])
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
    for f in leaves(fields_):
        name, kind = f["name"], f["kind"]
        if kind == "unsupported":
            continue
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


def with_unsupported(fields_: list[dict], typed: dict, saved: dict) -> dict:
    """The typed values with the saved value, in words, of each setting the form cannot edit."""
    for f in leaves(fields_):
        if f["kind"] == "unsupported":
            typed[f["name"]] = readable(f, at(saved, f["path"]))
    return typed


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


def read(fields_: list[dict], typed: dict, saved: dict | None = None) -> tuple[dict, dict, dict]:
    """(settings to validate, errors found before the schema, positions): ``positions`` maps a
    list's position (or a table's key) back to the row it came from, for the schema's messages.
    A setting the form cannot edit keeps its ``saved`` value."""
    data, errors, positions = {}, {}, {}
    for f in every(fields_):
        if f["kind"] == "group":
            _put(data, f["path"], {})
    for f in leaves(fields_):
        name, kind, raw, path = f["name"], f["kind"], typed.get(f["name"]), f["path"]
        if kind == "boolean":
            _put(data, path, bool(raw))
        elif kind == "unsupported":
            value = at(saved or {}, path)
            if value is not None:
                _put(data, path, value)
        elif kind in SIMPLE:
            text = str(raw or "").strip()
            if text:
                _put(data, path, text)
            elif f["allow_none"]:
                _put(data, path, None)
            # else left out: the default applies (or the schema says it is required)
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
            _put(data, path, rows)
            positions[name] = where
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
            _put(data, path, table)
            positions[name] = where
        elif kind == "strings":
            items = [(e["i"], str(e["value"]).strip()) for e in raw or []]
            items = [(i, v) for i, v in items if v]
            _put(data, path, [v for _, v in items])
            positions[name] = [i for i, _ in items]
        elif kind == "multi":
            _put(data, path, list(raw or []))
    return data, errors, positions


def change_rows(fields_: list[dict], typed: dict, action: str) -> bool:
    """Apply an "add row" (``add:<field>``) or "remove" (``remove:<field>:<i>``) button posted
    without JavaScript to the typed values; False when the action names nothing."""
    verb, _, rest = action.partition(":")
    name, _, index = rest.partition(":")
    f = next((f for f in leaves(fields_) if f["name"] == name and f["kind"] in LISTS), None)
    if f is None or verb not in ("add", "remove"):
        return False
    rows = typed[name]
    if verb == "add":
        if len(rows) >= MAX_ROWS:
            return True
        i = max((r["i"] for r in rows), default=-1) + 1
        rows.append({"i": i, "value": ""} if f["kind"] == "strings" else {"i": i, "cells": _empty_cells(f)})
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


def _zh(message: str) -> str:
    """A message in Chinese: marshmallow's known ones translated, any other English one (nan or
    infinity refused, a plugin's own English text) as "格式不正确" — no English on the page."""
    text = validation_zh(message)
    return "格式不正确" if text == message and re.match(r"[A-Za-z]", text) else text


def _range_text(text: str, cell: dict) -> str:
    if text == "超出范围" and (cell.get("min") is not None or cell.get("max") is not None):
        lo = "" if cell.get("min") is None else cell["min"]
        hi = "" if cell.get("max") is None else cell["max"]
        return f"超出范围（允许 {lo}–{hi}）"
    return text


def _owner(fields_: list[dict], path: tuple) -> tuple[dict | None, tuple]:
    """The control a message at ``path`` is about (the deepest one), and the rest of the path."""
    by_path = {f["path"]: f for f in every(fields_)}
    for n in range(len(path), 0, -1):
        f = by_path.get(tuple(str(p) for p in path[:n]))
        if f is not None:
            return f, path[n:]
    return None, path


def errors_at(fields_: list[dict], messages, positions: dict) -> dict:
    """The schema's messages as ``{field: line, "<field>-<i>-<column>": line, "_form": line}``:
    a message inside a row goes to its cell, and the field says which rows to correct."""
    out: dict[str, list[str]] = {}
    rows_wrong: dict[str, set[int]] = {}
    for path, message in _flatten(messages):
        text = _zh(message)
        f, rest = _owner(fields_, path)
        if f is None:
            out.setdefault("_form", []).append(text)
            continue
        top = f["name"]
        rest = [p for p in rest if p != "_schema"]
        kind = f["kind"]
        if not rest or kind not in LISTS:  # about the whole field
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
                out.setdefault(f"{top}-{i}", []).append(_range_text(text, f["entry"]))
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
    by_name = {f["name"]: f for f in leaves(fields_)}
    for top, rows in rows_wrong.items():
        if by_name[top]["kind"] == "strings":
            out.setdefault(top, []).insert(0, f"有 {len(rows)} 项需要更正（已在该项旁标出）")
        else:
            out.setdefault(top, []).insert(0, f"有 {len(rows)} 行需要更正（已在该行标出）")
    return {k: "；".join(dict.fromkeys(v)) for k, v in out.items()}


def mark_fields(errors: dict, fields_: list[dict]) -> dict:
    """Errors found while reading (a table's empty or repeated key) also named at their field."""
    out = dict(errors)
    for f in leaves(fields_):
        if f["kind"] in LISTS and f["name"] not in out:
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
    if isinstance(value, dict):
        return "；".join(f"{k}：{_label(None, v)}" for k, v in value.items()) or "（空）"
    if cell and cell.get("choices"):
        label = dict(cell["choices"]).get(str(value))
        if label:
            return label
    return str(value)


def readable(f: dict | None, value) -> str:
    """A setting's value in words: a row by its name (or its chosen labels), a table's rows as
    "key：column value", a group's parts by their titles; codes only where nothing names them."""
    if f is None:  # a setting the schema no longer has
        return _label(None, value)
    if value is None:
        return "（默认）"
    kind = f["kind"]
    if kind == "group" and isinstance(value, dict):
        parts = [f"{c['title']} {readable(c, value.get(c['path'][-1]))}" for c in f["children"]
                 if c["path"][-1] in value]
        return "；".join(parts) or "（空）"
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
    if kind == "strings" and isinstance(value, list):
        return "、".join(_label(f["entry"], v) for v in value) or "（空）"
    if kind == "multi" and isinstance(value, list):
        return "、".join(_label(f, v) for v in value) or "（空）"
    return _label(f, value)
