"""/api/cases/<id>/attachments — files on a case: list, upload, download, remove (issue 3).

Who: reading the case (``core.case.read`` where it arose or on one of its tasks) lists and
downloads; ``core.case.handle`` on one of those units uploads; the uploader or a holder of
``core.case.divert`` on the case's units removes. A case the user may not see is 404.

Downloads are always ``attachment`` with the detected type, ``nosniff`` and a sandboxing
Content-Security-Policy, so no file — whatever it claims to be — runs in the platform's
origin. The service is ``core.cases.attachments``.
"""
from __future__ import annotations

import logging

from flask import Response, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields
from werkzeug.datastructures import FileStorage
from werkzeug.wsgi import wrap_file

from core.api.common import ErrorSchema, id_path
from core.cases import attachments
from core.cases.access import request_case
from core.errors import Invalid, NotFound
from core.request import requires
from core.runtime import pingan
from core.storage import storage
from core.uploads import content_disposition

log = logging.getLogger("pingan.attachments")
blp = Blueprint("core_attachments", __name__, url_prefix="/api/cases", description="事项附件 / Case attachments")
READ, HANDLE = "core.case.read", "core.case.handle"


class AttachmentSchema(Schema):
    id = fields.Integer()
    case_id = fields.Integer()
    filename = fields.String(metadata={"description": "显示用文件名（已清理，扩展名与内容类型一致）"})
    content_type = fields.String(metadata={"description": "按文件内容判断的类型"})
    size = fields.Integer(metadata={"description": "字节数"})
    sha256 = fields.String(metadata={"description": "文件内容的 SHA-256（十六进制）"})
    uploaded_by = fields.Integer(allow_none=True)
    uploaded_at = fields.DateTime()


class AttachmentUploadSchema(Schema):
    file = fields.Raw(required=True, metadata={
        "type": "string", "format": "binary",
        "description": f"文件（类型按内容判断，不看文件名）：{attachments.ACCEPTED}；大小上限见 PINGAN_UPLOAD_MAX_MB"})


DOWNLOAD_DOC = {"responses": {"200": {
    "description": "the file, as an attachment, in the type detected when it was uploaded",
    "content": {ct.split(";")[0]: {"schema": {"type": "string", "format": "binary"}}
                for ct in attachments.CONTENT_TYPES}}}}


_case = request_case


@blp.route("/<case_id>/attachments")
class Attachments(MethodView):
    @requires(READ)
    @blp.response(200, AttachmentSchema(many=True))
    def get(self, case_id):
        """The case's attachments (removed ones are not listed), oldest first."""
        w, case, _ = _case(case_id)
        return attachments.listed(w.session, case)

    @requires(HANDLE)
    @blp.arguments(AttachmentUploadSchema, location="files")
    @blp.response(201, AttachmentSchema)
    @blp.alt_response(413, schema=ErrorSchema, description="too_large: over PINGAN_UPLOAD_MAX_MB")
    @blp.alt_response(415, schema=ErrorSchema, description="unsupported_type: content of a kind not accepted")
    def post(self, files, case_id):
        """Upload one file (multipart field ``file``): 413 ``too_large``, 415 ``unsupported_type``."""
        upload = files["file"]
        if not isinstance(upload, FileStorage):
            raise Invalid("file", "not_a_file", "请选择要上传的文件", location="files")
        w, case, ctype = _case(case_id)
        return attachments.upload_and_commit(w, case, ctype, upload.stream, upload.filename, pingan().config)


@blp.route("/<case_id>/attachments/<attachment_id>")
class AttachmentItem(MethodView):
    @requires(READ)
    @blp.doc(**DOWNLOAD_DOC)
    def get(self, case_id, attachment_id):
        """Download: streamed, ``Content-Disposition: attachment``, never rendered in the page's origin."""
        w, case, _ = _case(case_id)
        att = attachments.load(w.session, case, id_path(attachment_id))
        try:
            f = storage().open(att.storage_key)
        except FileNotFoundError:
            log.error("attachment %s of case %s: stored file %s is missing", att.id, case.id, att.storage_key)
            raise NotFound("file_missing", "附件文件已丢失，请联系系统管理员") from None
        resp = Response(wrap_file(request.environ, f), direct_passthrough=True)
        resp.headers["Content-Type"] = att.content_type
        resp.headers["Content-Length"] = str(att.size)
        resp.headers["Content-Disposition"] = content_disposition(att.filename)
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["Content-Security-Policy"] = "sandbox"
        resp.headers["Cache-Control"] = "private, no-store"
        resp.headers["ETag"] = f'"{att.sha256}"'
        return resp

    @requires(READ)
    @blp.response(204)
    def delete(self, case_id, attachment_id):
        """Remove (soft delete) by the uploader or the case's diverting unit; the stored file
        is kept as evidence and the timeline records ``attachment_removed``."""
        w, case, ctype = _case(case_id)
        att = attachments.load(w.session, case, id_path(attachment_id))
        attachments.remove(w, case, ctype, att)
        w.session.commit()
