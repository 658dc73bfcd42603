"""/api/cases/<id>/documents — official documents of a case, rendered to PDF (issue 3).

A document template belongs to a plugin (``pingan_document_templates``); it is offered for
a case only while that plugin is enabled for the county and, when the template names a
case type, only for cases of that type. Anything else — and a case the user may not see —
is 404. Every rendering is audited (``render_document``): a document is printed and handed
out, so who produced which one, when, must be known. The renderer is ``core.documents``.
"""
from __future__ import annotations

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from core import audit, documents
from core.uploads import content_disposition
from core.cases.access import request_case
from core.cases.attachments import KINDS, clean_filename
from core.documents import usable
from core.errors import NotFound
from core.request import current, requires

blp = Blueprint("core_documents", __name__, url_prefix="/api/cases", description="事项文书 / Case documents")
READ = "core.case.read"


class DocumentTemplateSchema(Schema):
    key = fields.String()
    title = fields.String()
    title_en = fields.String()
    case_type = fields.String(allow_none=True)


PDF_DOC = {"responses": {"200": {"description": "the document as PDF",
                                 "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}}}}


_case = request_case


@blp.route("/<case_id>/documents")
class CaseDocuments(MethodView):
    @requires(READ)
    @blp.response(200, DocumentTemplateSchema(many=True))
    def get(self, case_id):
        """The documents that can be produced for this case."""
        w, case, _ = _case(case_id)
        return sorted(usable(w, case.case_type).values(), key=lambda t: t.key)


@blp.route("/<case_id>/documents/<key>")
class CaseDocument(MethodView):
    @requires(READ)
    @blp.doc(**PDF_DOC)
    def get(self, case_id, key):
        """Render one document of the case to PDF (audited as ``render_document``)."""
        return _render(case_id, key)

    @requires(READ)
    @blp.doc(**PDF_DOC)
    def post(self, case_id, key):
        """The same, asked for on purpose: a page's form with the CSRF token (a cookie session's
        POST is CSRF-checked, its GET is not). A document that shows something only to a
        deliberate printing (the petition receipt's query code) shows it on a POST or on any
        request with an access token, never on a cookie GET, which another site can trigger."""
        return _render(case_id, key)


def _render(case_id, key):
    """One rendering: the plugin's context, the PDF, the audit entry."""
    w, case, ctype = _case(case_id)
    tpl = usable(w, case.case_type).get(key)
    if tpl is None:
        raise NotFound("unknown_document", "没有该文书，或其所属模块未启用")
    context = documents.case_context(w.session, case, ctype, current().tenant.name, tpl)
    if tpl.context is not None:
        context.update(tpl.context(w, case))  # the plugin's own fields for this rendering
    pdf = documents.render_pdf(tpl, context)
    audit.record(w.session, "render_document", "case_record", case.id, {"template": key})
    name = clean_filename(f"{tpl.title}-{case.number}".replace("/", "-").replace("\\", "-") + ".pdf",
                          KINDS["pdf"])
    w.session.commit()
    return Response(pdf, mimetype="application/pdf", headers={
        "Content-Disposition": content_disposition(name), "Cache-Control": "private, no-store"})
