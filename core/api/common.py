"""API conventions shared by every list endpoint of the core and the plugins.

- Lists take ``limit`` (1–200, default 50), an opaque ``cursor`` from the previous page and
  ``sort`` (a field name, ``-`` in front for descending) and answer
  ``{"items": [...], "next_cursor": "…" | null}``. Pagination is keyset (the cursor holds
  the last row's sort value and id), so page 500 costs what page 1 costs.
- Filters are plain query parameters documented per endpoint.
- Request bodies reject unknown fields; each action has its own schema.
"""
from __future__ import annotations

import base64
import json
from datetime import datetime
from collections.abc import Iterable

import flask_smorest
from marshmallow import Schema, fields, validate
from sqlalchemy import Select, literal, tuple_
from webargs.flaskparser import FlaskParser

from core import bounds
from core.bounds import id_path  # noqa: F401  (re-exported: the API's and plugins' name for it)
from core.errors import Invalid


PHONE = validate.Regexp(r"^[0-9+\- ]{5,20}$", error="电话号码格式不正确")


class ErrorSchema(Schema):
    """The one error body of every 4xx (and the rare 5xx) answer."""

    status = fields.Integer(required=True, metadata={"description": "HTTP status"})
    code = fields.String(required=True, metadata={"description": "stable machine-readable code"})
    message = fields.String(required=True, metadata={"description": "for people, Chinese first"})
    errors = fields.Dict(metadata={"description": "fields at fault, by location: {json: {name: [...]}}"})
    request_id = fields.String(metadata={"description": "only on 5xx: quote it to the operator"})


class ListArgs(Schema):
    """Paging of every list; subclasses add ``sort = sort_field(SORTABLE)`` and filters."""

    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200),
                           metadata={"description": "每页条数 (1–200)"})
    cursor = fields.String(load_default=None, validate=validate.Length(max=500),
                           metadata={"description": "上一页返回的 next_cursor（不透明）"})


def sort_field(sortable: dict) -> fields.String:
    """The ``sort`` argument: one of the endpoint's sort keys, ``-`` in front for descending."""
    keys = sorted(sortable)
    return fields.String(load_default=None, validate=validate.OneOf(keys + [f"-{k}" for k in keys]),
                         metadata={"description": "排序字段，前加 - 为倒序"})


class IdListArgs(ListArgs):
    """Paging of a list that sorts by id only."""

    sort = sort_field({"id": None})


# Permission codes declared by the core and the installed plugins, filled by create_app()
# before any blueprint is registered, so the OpenAPI document lists them as an enum.
PERMISSION_CODES: list[str] = []


def permission_code(**kw) -> fields.String:
    return fields.String(validate=validate.OneOf(PERMISSION_CODES), **kw)


# Case types declared by the installed plugins, filled by create_app() like PERMISSION_CODES.
CASE_TYPE_KEYS: list[str] = []


def case_type_field(**kw) -> fields.String:
    """A case type key: one the installed modules declare (a county must also have it on)."""
    return fields.String(validate=validate.OneOf(CASE_TYPE_KEYS), **kw)


# Role template keys of the core and the installed plugins, filled by create_app() like PERMISSION_CODES.
ROLE_TEMPLATE_KEYS: list[str] = []


def role_template_field(**kw) -> fields.String:
    """A role template key: one the core or an installed module offers (a county must have the module on)."""
    return fields.String(validate=validate.OneOf(ROLE_TEMPLATE_KEYS), **kw)


_page_schemas: dict[str, type[Schema]] = {}


def page_of(item_schema: type[Schema]) -> type[Schema]:
    """The ``{items, next_cursor}`` schema for one item schema (one class per item type)."""
    name = item_schema.__name__.removesuffix("Schema") + "Page"
    if name not in _page_schemas:
        _page_schemas[name] = type(name, (Schema,), {
            "items": fields.List(fields.Nested(item_schema), required=True),
            "next_cursor": fields.String(allow_none=True),
        })
    return _page_schemas[name]


def _encode(value, ident) -> str:
    if isinstance(value, datetime):
        value = value.isoformat()
    raw = json.dumps([value, ident], ensure_ascii=False, default=str)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(cursor: str):
    try:
        pad = "=" * (-len(cursor) % 4)
        value, ident = json.loads(base64.urlsafe_b64decode(cursor + pad).decode())
        if not isinstance(ident, int) or not 0 < ident < 2**63 or "\x00" in str(value):
            raise ValueError
        return value, ident
    except (ValueError, TypeError, UnicodeDecodeError, json.JSONDecodeError):
        raise Invalid("cursor", "invalid_cursor", "分页游标无效", location="query") from None


def _cursor_type(column) -> type:
    sql_type = getattr(column.type, "impl", column.type)  # a TypeDecorator (AwareDateTime): its impl's type
    try:
        return sql_type.python_type
    except NotImplementedError:
        return str


def _cursor_value(value, expected: type):
    """The sort value of a cursor, as the column's Python type; a forged cursor never reaches SQL."""
    if expected is datetime and isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            value = None
        if value is not None and value.tzinfo is None:
            value = None
    if not isinstance(value, expected) or bounds.problem(value):
        raise Invalid("cursor", "invalid_cursor", "分页游标无效", location="query")
    return value


def paginate(session, stmt: Select, args: dict, id_column, sortable: dict, default_sort: str,
             unique: frozenset[str] = frozenset()) -> dict:
    """Run ``stmt`` one keyset page at a time; ``sortable`` maps sort names to non-null columns.

    Keys in ``unique`` (unique per tenant, like ``path``) order by that column alone, so the
    database can walk an index and stop after ``limit`` rows instead of sorting the set.
    """
    sort = args.get("sort") or default_sort
    desc = sort.startswith("-")
    key = sort.lstrip("-")
    if key not in sortable:  # the schema's sort_field lists the same keys; this guards mismatches
        raise Invalid("sort", "invalid_sort", f"不能按“{key}”排序，可选：{', '.join(sorted(sortable))}",
                      location="query")
    column = sortable[key]
    alone = column is id_column or key in unique
    if args.get("cursor"):
        value, ident = _decode(args["cursor"])
        if column is id_column:
            value = ident
        else:
            value = _cursor_value(value, _cursor_type(column))
        if alone:
            stmt = stmt.where(column < value if desc else column > value)
        else:
            value = literal(value, column.type)  # typed, so PostgreSQL compares timestamptz with timestamptz
            row = tuple_(column, id_column)
            stmt = stmt.where(row < tuple_(value, ident) if desc else row > tuple_(value, ident))
    order = (column.desc(), id_column.desc()) if desc else (column.asc(), id_column.asc())
    if alone:
        order = order[:1]
    limit = args.get("limit", 50)
    rows = session.scalars(stmt.order_by(*order).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if more and rows:
        last = rows[-1]
        next_cursor = _encode(getattr(last, column.key), last.id)
    return {"items": rows, "next_cursor": next_cursor}


class PinganParser(FlaskParser):
    """The arguments parser of every API blueprint (core's and plugins', set on
    ``flask_smorest.Blueprint`` below): webargs' own, then the one range rule of ``core.bounds``
    — an id past 63 bits or a time in year 1 or 9999 is 422 ``out_of_range`` at its field."""

    def parse(self, argmap, req=None, *, location=None, **kwargs):
        data = super().parse(argmap, req, location=location, **kwargs)
        bounds.check(data, location=location or self.location)
        return data


# Set here, where every API module (and core.sdk) imports from before it declares a route:
# ``Blueprint.arguments`` binds the parser when a view is decorated.
flask_smorest.Blueprint.ARGUMENTS_PARSER = PinganParser()


class IdField(fields.Integer):
    """An id in a request body: a positive 63-bit integer."""

    def __init__(self, **kw):
        kw.setdefault("validate", validate.Range(min=1, max=2**63 - 1))
        super().__init__(**kw)


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def download(data: bytes | Iterable[bytes], filename: str, mimetype: str = XLSX):
    """A file to save (a report, a register): the Chinese name kept per RFC 5987, never cached.
    ``data`` is the file, or its chunks to stream (a large export)."""
    from flask import Response

    from core.uploads import content_disposition
    return Response(data, mimetype=mimetype, headers={"Content-Disposition": content_disposition(filename),
                                                      "Cache-Control": "private, no-store"})


def unit_or_404(unit_id: int | None, perm: str):
    """The org unit a report or list asks about, which the user must hold ``perm`` on (404
    otherwise, as for any out-of-scope object); without an id, the highest unit the user
    holds ``perm`` on."""
    from sqlalchemy import select

    from core.errors import NotFound
    from core.models import OrgUnit
    from core.request import current
    ctx = current()
    if unit_id is None:
        paths = sorted(ctx.grants.paths(perm), key=len)
        unit = ctx.session.scalar(select(OrgUnit).where(OrgUnit.path == paths[0])) if paths else None
    else:
        unit = ctx.session.scalar(select(OrgUnit).where(OrgUnit.id == unit_id))
        if unit is not None and not ctx.grants.covers(perm, unit.path):
            unit = None
    if unit is None:
        raise NotFound()
    return unit
