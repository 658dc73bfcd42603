"""/api/ledgers — ledgers (台账, RPT-3): export any case list to .xlsx, import a ledger from .xlsx.

Both answer 202 with the background job (``/api/jobs/<id>`` shows its progress, its row
errors and, for an export, the file). See docs/ledgers.md.
"""
from __future__ import annotations

from urllib.parse import quote

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint
from flask_smorest.fields import Upload
from marshmallow import Schema, fields, validate

from core import ledgers
from core.api.cases import CaseListArgs
from core.api.common import case_type_field
from core.api.jobs import JobSchema, present
from core.authz import require
from core.cases.timeline import request_work
from core.errors import Invalid, NotFound
from core.request import requires

blp = Blueprint("core_ledgers", __name__, url_prefix="/api/ledgers", description="台账导出与导入 / Ledgers")
EXPORT, IMPORT = "core.case.export", "core.case.import"
BINARY = {"type": "string", "format": "binary"}


class LedgerExportSchema(CaseListArgs):
    """The filters of the case list (GET /api/cases), as a JSON body; paging does not apply."""

    class Meta:
        exclude = ("limit", "cursor", "sort")

    year = fields.Integer(validate=validate.Range(min=2000, max=2100),
                          metadata={"description": "只导出该年度编号的事项（按年度归档的台账）"})


class LedgerImportArgs(Schema):
    case_type = case_type_field(required=True, metadata={"description": "导入的事项类型"})


class LedgerFileSchema(Schema):
    file = Upload(required=True, metadata={"description": ".xlsx 文件（列见导入模板），不超过 10 MB、5000 行"})


def attachment(name: str, ascii_name: str) -> str:
    """``Content-Disposition`` with the Chinese name per RFC 5987/6266 and an ASCII fallback."""
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


@blp.route("/exports")
class Exports(MethodView):
    @requires(EXPORT)
    @blp.arguments(LedgerExportSchema)
    @blp.response(202, JobSchema)
    def post(self, data):
        """Export the cases of the list with these filters to .xlsx, in the background."""
        w = request_work()
        year = data.pop("year", None)
        job = ledgers.start_export(w, data, year)
        w.session.commit()
        return present(job)


@blp.route("/imports")
class Imports(MethodView):
    @requires(IMPORT)
    @blp.arguments(LedgerImportArgs, location="query")
    @blp.arguments(LedgerFileSchema, location="files")
    @blp.doc(requestBody={"content": {"multipart/form-data": {"encoding": {"file": {"contentType": ledgers.XLSX}}}}})
    @blp.response(202, JobSchema)
    def post(self, args, files):
        """Import a ledger of one case type from .xlsx: every row is checked first; one bad row
        and nothing is registered (the job lists each error with its row and column). A file of
        more data rows than the bound (``PINGAN_IMPORT_MAX_ROWS``, 200,000 by default)
        fails with the bound named and the error code ``too_many_rows``."""
        w = request_work()
        ctype = w.types.get(args["case_type"])
        if ctype is None:
            raise Invalid("case_type", "unknown_case_type", "没有该事项类型，或该模块未启用", location="query")
        require(w.grants, ctype.create_permission)
        ledgers.import_columns(ctype)  # a type whose details cannot be filled in a sheet: 422 now
        upload = files["file"]
        job = ledgers.start_import(w, ctype, upload.stream, upload.filename or "")
        w.session.commit()
        return present(job)


@blp.route("/templates/<case_type>")
class Template(MethodView):
    @requires(IMPORT)
    @blp.response(200, BINARY, content_type=ledgers.XLSX, description="导入模板（空表，含列名、下拉选项和填写说明）")
    def get(self, case_type):
        """The empty import file of a case type: its headers, pick lists and notes."""
        w = request_work()
        ctype = w.types.get(case_type)
        if ctype is None:
            raise NotFound()
        body = ledgers.template(ctype)
        return Response(body, mimetype=ledgers.XLSX, headers={
            "Content-Disposition": attachment(f"台账导入模板-{ctype.title}.xlsx", "ledger-template.xlsx")})
