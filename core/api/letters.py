"""/api/letters — responsibility letters (责任书), the core's capability shared by every module.

List (the caller's subtree, filtered, paginated), create one, create a batch (a letter for every
unit of a level under a unit), show, sign (multipart: the date and optionally the scan),
withdraw, the PDF and the scan; the kinds the county has, and their text and reminder day set
by its admin. The domain part is ``core.letters``; ``docs/letters.md`` describes it.
"""
from __future__ import annotations

from flask import Response, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from werkzeug.datastructures import FileStorage
from werkzeug.wsgi import wrap_file

from core import letters
from core.uploads import content_disposition
from core.api.common import ErrorSchema, IdField, ListArgs, id_path, page_of, paginate, sort_field
from core.cases.attachments import KINDS, clean_filename
from core.errors import Invalid, NotFound
from core.letters import MANAGE, PARTY_KINDS, READ, STATUS, Letter
from core.request import current, requires
from core.runtime import pingan
from core.storage import storage

blp = Blueprint("core_letters", __name__, url_prefix="/api/letters", description="责任书 / Responsibility letters")
YEAR = validate.Range(min=2000, max=2100, error="年度须在 2000 到 2100 之间")
SORTABLE = {"id": Letter.id, "year": Letter.year}


def kinds() -> dict[str, letters.LetterKind]:
    """The letter kinds of the modules the caller's county has on."""
    ctx = current()
    return letters.kinds_for(pingan().plugins, ctx.plugins)


class LetterSchema(Schema):
    id = fields.Integer()
    kind = fields.String(metadata={"description": "责任书种类的键（见 GET /api/letters/kinds）"})
    kind_title = fields.String(metadata={"description": "责任书种类的名称"})
    year = fields.Integer(metadata={"description": "年度"})
    org_unit_id = fields.Integer(metadata={"description": "签订方所在单位（决定谁能看到）"})
    unit_name = fields.String()
    issuing_unit_id = fields.Integer(metadata={"description": "发文单位（甲方）"})
    issuing_unit_name = fields.String()
    party_kind = fields.String(validate=validate.OneOf(list(PARTY_KINDS)),
                               metadata={"description": "unit 组织单位 | member_unit 成员单位 | person 个人"})
    party_id = fields.Integer()
    party_unit_id = fields.Integer(allow_none=True)
    party_member_unit_id = fields.Integer(allow_none=True)
    party_person_id = fields.Integer(allow_none=True)
    party_name = fields.String(metadata={"description": "签订方（乙方）名称"})
    counterparty = fields.String(allow_none=True, metadata={"description": "对方签字人或职务，如社区民警"})
    status = fields.String(validate=validate.OneOf(list(STATUS)),
                           metadata={"description": "unsigned 未签订 | signed 已签订 | withdrawn 已撤销"})
    status_title = fields.String()
    created_at = fields.DateTime()
    created_by_id = fields.Integer(allow_none=True)
    signed_on = fields.Date(allow_none=True, metadata={"description": "签订日期"})
    signed_by_id = fields.Integer(allow_none=True, metadata={"description": "登记签订的用户"})
    has_scan = fields.Boolean(metadata={"description": "有扫描件（GET …/scan 下载）"})
    scan_filename = fields.String(allow_none=True)
    scan_content_type = fields.String(allow_none=True)
    scan_size = fields.Integer(allow_none=True)
    scan_sha256 = fields.String(allow_none=True)
    withdrawn_at = fields.DateTime(allow_none=True)
    withdrawn_by_id = fields.Integer(allow_none=True)
    withdraw_reason = fields.String(allow_none=True)
    reminded_at = fields.DateTime(allow_none=True, metadata={"description": "最近一次提醒发文单位的时间"})


class LetterListArgs(ListArgs):
    sort = sort_field(SORTABLE)
    kind = fields.String(validate=validate.Length(max=64), metadata={"description": "责任书种类"})
    year = fields.Integer(validate=YEAR, metadata={"description": "年度"})
    status = fields.String(validate=validate.OneOf(list(STATUS), labels=[v[0] for v in STATUS.values()]),
                           metadata={"description": "unsigned 未签订 | signed 已签订 | withdrawn 已撤销"})
    under = IdField(metadata={"description": "只列出签订方在该单位及其下级的责任书"})
    issuing_unit_id = IdField(metadata={"description": "发文单位"})


COUNTERPARTY = fields.String(load_default=None, validate=validate.Length(max=100),
                             metadata={"description": "对方签字人或职务，如社区民警（可空）"})


class LetterCreateSchema(Schema):
    kind = fields.String(required=True, validate=validate.Length(min=1, max=64), metadata={"description": "责任书种类"})
    year = fields.Integer(required=True, validate=YEAR, metadata={"description": "年度"})
    issuing_unit_id = IdField(required=True, metadata={"description": "发文单位（须在您的管理范围内）"})
    party_kind = fields.String(required=True, validate=validate.OneOf(list(PARTY_KINDS)),
                               metadata={"description": "签订方类别：unit 组织单位 | member_unit 成员单位 | person 个人"})
    party_id = IdField(required=True, metadata={"description": "签订方的编号（单位、成员单位或人员，须在您的管理范围内）"})
    counterparty = COUNTERPARTY


class LetterBatchSchema(Schema):
    kind = fields.String(required=True, validate=validate.Length(min=1, max=64), metadata={"description": "责任书种类"})
    year = fields.Integer(required=True, validate=YEAR, metadata={"description": "年度"})
    under_unit_id = IdField(required=True, metadata={"description": "在该单位之下生成（如某镇）"})
    level = fields.String(required=True, validate=validate.Length(min=1, max=32),
                          metadata={"description": "为哪一层级的每个单位生成（如 village 村）"})
    issuing_unit_id = IdField(load_default=None, metadata={"description": "发文单位（空：under_unit_id 本身）"})
    counterparty = COUNTERPARTY


class LetterBatchResultSchema(Schema):
    created = fields.Integer(metadata={"description": "新生成的份数"})
    skipped = fields.Integer(metadata={"description": "已有而跳过的份数"})
    ids = fields.List(fields.Integer(), metadata={"description": "新生成的责任书编号"})


class SignFormSchema(Schema):
    # required, but checked after the letter is found: a letter out of scope answers 404 first
    signed_on = fields.Date(load_default=None, metadata={"description": "签订日期（北京时间，不晚于今天；必填）"})


class ScanFileSchema(Schema):
    file = fields.Raw(load_default=None, metadata={
        "type": "string", "format": "binary", "description": "签订后的扫描件（可空）：PDF 或图片，按内容判断"})


class WithdrawSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500),
                           metadata={"description": "撤销原因"})


class KindSchema(Schema):
    key = fields.String()
    title = fields.String()
    title_en = fields.String()
    plugin = fields.String(metadata={"description": "声明它的模块"})
    parties = fields.List(fields.String(), metadata={"description": "可签订的一方：unit | member_unit | person"})
    default_paragraphs = fields.List(fields.String(), metadata={"description": "模块提供的默认正文"})
    paragraphs = fields.List(fields.String(), metadata={"description": "本县使用的正文（未设置时即默认正文）"})
    customised = fields.Boolean(metadata={"description": "本县设置了自己的正文"})
    remind_month = fields.Integer(allow_none=True)
    remind_day = fields.Integer(allow_none=True)
    remind_every_days = fields.Integer()


class KindConfigSchema(Schema):
    paragraphs = fields.List(fields.String(validate=validate.Length(max=letters.MAX_PARAGRAPH)),
                             load_default=list, validate=validate.Length(max=letters.MAX_PARAGRAPHS),
                             metadata={"description": "本县的正文，一段一项；空列表恢复模块的默认正文。"
                                                      "占位符：{年度} {发文单位} {责任方} {对方} {签订日期}"})
    remind_month = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1, max=12),
                                  metadata={"description": "每年从几月起提醒（与 remind_day 同时给出；空：不提醒）"})
    remind_day = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1, max=31),
                                metadata={"description": "每年从几日起提醒"})
    remind_every_days = fields.Integer(load_default=7, validate=validate.Range(min=1, max=366),
                                       metadata={"description": "同一份责任书至多每几天提醒一次"})


def kind_view(session, kind: letters.LetterKind) -> dict:
    cfg = letters.config_of(session, kind.key)
    return {"key": kind.key, "title": kind.title, "title_en": kind.title_en, "plugin": kind.plugin,
            "parties": list(kind.parties), "default_paragraphs": list(kind.paragraphs),
            "paragraphs": letters.paragraphs_of(session, kind), "customised": bool(cfg and cfg.paragraphs),
            "remind_month": cfg.remind_month if cfg else None, "remind_day": cfg.remind_day if cfg else None,
            "remind_every_days": cfg.remind_every_days if cfg else 7}


def _one(row) -> dict:
    return letters.present(current().session, kinds(), [row])[0]


@blp.route("")
class Letters(MethodView):
    @requires(READ)
    @blp.arguments(LetterListArgs, location="query")
    @blp.response(200, page_of(LetterSchema))
    def get(self, args):
        """Letters whose signing party is in your subtrees, newest first; filters kind, year, status, unit."""
        ctx = current()
        page = paginate(ctx.session, letters.query(ctx.session, ctx.grants, kinds(), args), args, Letter.id, SORTABLE, "-id")
        return {**page, "items": letters.present(ctx.session, kinds(), page["items"])}

    @requires(MANAGE)
    @blp.arguments(LetterCreateSchema)
    @blp.response(201, LetterSchema)
    @blp.alt_response(409, schema=ErrorSchema, description="duplicate_letter: the party has this kind for the year")
    def post(self, data):
        """Create one letter (issuing unit and party in your scope, 404 at the field otherwise)."""
        ctx = current()
        row = letters.create(ctx, kinds(), data)
        ctx.session.commit()
        return _one(row)


@blp.route("/batch")
class LetterBatch(MethodView):
    @requires(MANAGE)
    @blp.arguments(LetterBatchSchema)
    @blp.response(201, LetterBatchResultSchema)
    def post(self, data):
        """One letter for every unit of ``level`` under ``under_unit_id`` (e.g. every village of a
        township): those that have one for the kind and year are skipped and counted."""
        ctx = current()
        result = letters.create_batch(ctx, kinds(), data)
        ctx.session.commit()
        return result


@blp.route("/kinds")
class LetterKinds(MethodView):
    @requires(READ)
    @blp.response(200, KindSchema(many=True))
    def get(self):
        """The kinds of letter of the modules your county has on, with the county's text."""
        ctx = current()
        return [kind_view(ctx.session, k) for k in kinds().values()]


@blp.route("/kinds/<key>")
class LetterKindItem(MethodView):
    @requires(MANAGE)
    @blp.arguments(KindConfigSchema)
    @blp.response(200, KindSchema)
    def put(self, data, key):
        """Set the county's text of the kind and the day of the year reminders start (county-wide
        ``core.letter.manage``; without a day nobody is reminded)."""
        from core.authz import require_county_wide
        ctx = current()
        require_county_wide(ctx.session, ctx.grants, MANAGE, "只有全县范围的责任书管理员可以设置责任书文本")
        kind = letters.kind_or_404(kinds(), key, "key", "path")
        letters.configure(ctx.session, kind, data)
        ctx.session.commit()
        return kind_view(ctx.session, kind)


@blp.route("/<letter_id>")
class LetterItem(MethodView):
    @requires(READ)
    @blp.response(200, LetterSchema)
    def get(self, letter_id):
        """One letter."""
        ctx = current()
        return _one(letters.letter_or_404(ctx, kinds(), id_path(letter_id), READ))


@blp.route("/<letter_id>/sign")
class LetterSign(MethodView):
    @requires(MANAGE)
    @blp.arguments(SignFormSchema, location="form")
    @blp.arguments(ScanFileSchema, location="files")
    @blp.response(200, LetterSchema)
    @blp.alt_response(409, schema=ErrorSchema, description="letter_signed / letter_withdrawn")
    @blp.alt_response(415, schema=ErrorSchema, description="unsupported_type: the scan is not a PDF or an image")
    def post(self, form, files, letter_id):
        """Record the signing (multipart: ``signed_on`` and optionally ``file``, the scan)."""
        ctx = current()
        upload = files.get("file")
        if upload is not None and not isinstance(upload, FileStorage):
            raise Invalid("file", "not_a_file", "请选择要上传的文件", location="files")
        scan = (upload.stream, upload.filename) if upload is not None and upload.filename else None
        row = letters.sign(ctx, kinds(), id_path(letter_id), form["signed_on"], scan, pingan().config)
        commit_or_drop_scan(row)
        return _one(row)


def commit_or_drop_scan(row) -> None:
    """Commit; a failed commit deletes the scan just stored (nothing refers to it)."""
    try:
        current().session.commit()
    except BaseException:
        if row.scan_key:
            storage(pingan().config).delete(row.scan_key)
        raise


@blp.route("/<letter_id>/withdraw")
class LetterWithdraw(MethodView):
    @requires(MANAGE)
    @blp.arguments(WithdrawSchema)
    @blp.response(200, LetterSchema)
    def post(self, data, letter_id):
        """Withdraw the letter with the reason (409 ``letter_withdrawn`` the second time)."""
        ctx = current()
        row = letters.withdraw(ctx, kinds(), id_path(letter_id), data["reason"])
        ctx.session.commit()
        return _one(row)


PDF_DOC = {"responses": {"200": {"description": "the letter as PDF",
                                 "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}}}}


def pdf_response(letter_id) -> Response:
    """The letter's PDF (audited as ``render_document``); its kind's module must be on (404)."""
    from core import audit
    ctx = current()
    available = kinds()
    row = letters.letter_or_404(ctx, available, letter_id, READ)
    kind = available[row.kind]
    pdf = letters.render(ctx.session, kind, row, ctx.tenant.name)
    audit.record(ctx.session, "render_document", "letter", row.id, {"template": "core.letter"})
    ctx.session.commit()
    name = clean_filename(f"{row.year}年度{kind.title}-{row.party_name}.pdf", KINDS["pdf"])
    return Response(pdf, mimetype="application/pdf", headers={
        "Content-Disposition": content_disposition(name), "Cache-Control": "private, no-store"})


@blp.route("/<letter_id>/pdf")
class LetterPdf(MethodView):
    @requires(READ)
    @blp.doc(**PDF_DOC)
    def get(self, letter_id):
        """The letter as PDF: kind, year, both parties, the issuing unit, the signing date or blank lines."""
        return pdf_response(id_path(letter_id))


def scan_response(letter_id) -> Response:
    ctx = current()
    row = letters.letter_or_404(ctx, kinds(), letter_id, READ)
    if row.scan_key is None:
        raise NotFound("no_scan", "该责任书没有扫描件")
    try:
        f = storage().open(row.scan_key)
    except FileNotFoundError:
        raise NotFound("file_missing", "扫描件文件已丢失，请联系系统管理员") from None
    resp = Response(wrap_file(request.environ, f), direct_passthrough=True)
    resp.headers["Content-Type"] = row.scan_content_type
    resp.headers["Content-Length"] = str(row.scan_size)
    resp.headers["Content-Disposition"] = content_disposition(row.scan_filename or "扫描件.pdf")
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Content-Security-Policy"] = "sandbox"
    resp.headers["Cache-Control"] = "private, no-store"
    return resp


@blp.route("/<letter_id>/scan")
class LetterScan(MethodView):
    @requires(READ)
    @blp.doc(responses={"200": {"description": "the scan, as an attachment", "content": {
        ct: {"schema": {"type": "string", "format": "binary"}}
        for ct in ("application/pdf", "image/jpeg", "image/png", "image/gif", "image/webp")}}})
    def get(self, letter_id):
        """Download the signed letter's scan (never rendered in the page's origin)."""
        return scan_response(id_path(letter_id))

