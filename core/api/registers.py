"""The API of a declared register (``core.registers.Register``): ``/api/<plugin>/<name>``.

Built by :func:`blueprint` from the declaration, documented in the OpenAPI document like any
other blueprint: list (scoped, paginated, filtered), create, show, close and the .xlsx export.
One schema per action, generated from the declaration; unknown fields are refused (422).
"""
from __future__ import annotations

import copy

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields as mfields, missing, validate

from core import registers
from core.authz import get_or_404
from core.api.common import IdField, ListArgs, download, id_path, page_of, paginate, sort_field
from core.crypto import unrecorded_columns
from core.registers import STATUS, Register
from core.request import current, requires


def schema_prefix(plugin: str, reg: Register) -> str:
    """``hello`` + ``greetings`` → ``HelloGreetings``: the names of its schemas in the OpenAPI document."""
    return "".join(part.capitalize() for part in f"{plugin}_{reg.name}".split("_"))


def create_schema(prefix: str, reg: Register) -> type[Schema]:
    """What the create act takes: the unit and the declared fields."""
    attrs = {"org_unit_id": IdField(required=True, metadata={
        "title": "所属单位", "description": "记录所在单位（须在您的管理范围内）"})}
    attrs.update({k: copy.deepcopy(f) for k, f in reg.fields.items()})
    return Schema.from_dict(attrs, name=f"{prefix}Create")


def close_schema(prefix: str, reg: Register) -> type[Schema]:
    """What the close act takes: the declared close fields (an empty body for a bare close)."""
    return Schema.from_dict({k: copy.deepcopy(f) for k, f in reg.close_fields.items()}, name=f"{prefix}Close")


def record_schema(prefix: str, reg: Register) -> type[Schema]:
    """One record as the API answers it: every column but encrypted ones, the unit's name, the status."""
    from sqlalchemy import Boolean, Date, DateTime, Float, Integer, Numeric
    secret = unrecorded_columns(reg.model)
    attrs: dict[str, mfields.Field] = {}
    for col in reg.model.__table__.c:
        if col.key == "tenant_id" or col.key in secret:
            continue
        t = getattr(col.type, "impl", col.type)
        cls = (mfields.Boolean if isinstance(t, Boolean) else mfields.Integer if isinstance(t, Integer)
               else mfields.Float if isinstance(t, (Float, Numeric)) else mfields.DateTime if isinstance(t, DateTime)
               else mfields.Date if isinstance(t, Date) else mfields.String)
        attrs[col.key] = cls(allow_none=col.nullable, metadata={"description": reg.column_title(col.key)})
    attrs["org_unit_name"] = mfields.String(metadata={"description": "所属单位名称"})
    attrs["status"] = mfields.String(validate=validate.OneOf(list(STATUS)),
                                     metadata={"description": "open 在办 | closed 已办结"})
    return Schema.from_dict(attrs, name=f"{prefix}Record")


def list_args(prefix: str, reg: Register) -> type[Schema]:
    """The list's arguments: paging, sort, the unit subtree, status, dates and the declared filters."""
    attrs: dict[str, mfields.Field] = {
        "sort": sort_field({"id": None, "created_at": None}),
        "under": IdField(metadata={"description": "只列出该单位及其全部下级的记录"}),
        "status": mfields.String(validate=validate.OneOf(list(STATUS), labels=[v[0] for v in STATUS.values()]),
                                 metadata={"description": "open 在办 | closed 已办结"}),
        "created_from": mfields.Date(metadata={"description": "登记日期起（北京时间，含当日）"}),
        "created_to": mfields.Date(metadata={"description": "登记日期止（北京时间，含当日）"}),
    }
    for key in reg.filters:
        f = copy.deepcopy(reg.fields[key])
        f.required, f.load_default = False, missing
        attrs[key] = f
    return type(f"{prefix}ListArgs", (ListArgs,), attrs)


def blueprint(plugin: str, reg: Register) -> Blueprint:
    """The register's API blueprint, ``<plugin>_<name>_api`` under ``/api/<plugin>/<name>``."""
    prefix = schema_prefix(plugin, reg)
    Create, Close, Record, Args = (create_schema(prefix, reg), close_schema(prefix, reg),
                                   record_schema(prefix, reg), list_args(prefix, reg))
    title = registers.label_text(reg.title)
    model = reg.model
    sortable = {"id": model.id, "created_at": model.created_at}
    blp = Blueprint(f"{plugin}_{reg.name}_api", __name__, url_prefix=f"/api/{plugin}/{reg.name}",
                    description=f"{title}（登记簿）")

    @blp.route("")
    class Records(MethodView):
        @requires(reg.read)
        @blp.arguments(Args, location="query")
        @blp.response(200, page_of(Record))
        @blp.doc(summary=f"{title}：您管辖范围内的记录（新的在前）")
        def get(self, args):
            ctx = current()
            page = paginate(ctx.session, registers.query(ctx.session, ctx.grants, reg, args), args, model.id,
                            sortable, "-id")
            return {**page, "items": registers.present(ctx.session, page["items"])}

        @requires(reg.write)
        @blp.arguments(Create)
        @blp.response(201, Record)
        @blp.doc(summary=f"{title}：登记一条（单位须在您的管理范围内）")
        def post(self, data):
            ctx = current()
            row = registers.create(ctx, reg, data)
            ctx.session.commit()
            return registers.present(ctx.session, [row])[0]

    @blp.route("/export")
    class Export(MethodView):
        @requires(reg.read)
        @blp.arguments(Args, location="query")
        @blp.doc(summary=f"{title}：导出 Excel（与列表相同的筛选）",
                 responses={"200": {"description": "the filtered records as .xlsx"}})
        def get(self, args):
            ctx = current()
            return download(registers.export(ctx.session, ctx.grants, reg, args), registers.export_name(reg))

    @blp.route("/<record_id>")
    class Item(MethodView):
        @requires(reg.read)
        @blp.response(200, Record)
        @blp.doc(summary=f"{title}：一条记录")
        def get(self, record_id):
            ctx = current()
            row = get_or_404(ctx.session, ctx.grants, model, id_path(record_id), reg.read)
            return registers.present(ctx.session, [row])[0]

    @blp.route("/<record_id>/close")
    class CloseRecord(MethodView):
        @requires(reg.write)
        @blp.arguments(Close)
        @blp.response(200, Record)
        @blp.doc(summary=f"{title}：{registers.label_text(reg.close_title)}（已办结的再办结为 409）")
        def post(self, data, record_id):
            ctx = current()
            row = registers.close(ctx, reg, id_path(record_id), data)
            ctx.session.commit()
            return registers.present(ctx.session, [row])[0]

    blp.pingan_table = model.__tablename__  # the table of its ids (the testing kit's isolation matrix)
    return blp
