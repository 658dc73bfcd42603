"""/api/safety — places, checklist templates, inspections and incident reports. Hazards are
cases (``/api/cases`` with ``case_type: safety.hazard``; their acts are the case's transitions:
notice, progress, complete, reinspect_pass, reinspect_fail; the notice PDF is the case document
``safety.rectification_notice``). Objects outside the user's units, or of another county, answer 404.
"""
from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import request
from flask.views import MethodView
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from core.sdk import (Blueprint, Forbidden, IdField, ListArgs, OrgUnit, current, get_or_404, id_path, may,
                      page_of, paginate, scoped, sort_field, units_under, unit_or_404, requires, kept_file_response)

from . import incidents, inspections, places
from .models import Checklist, Incident, Inspection, Place
from .permissions import INCIDENT, INSPECT, MANAGE, READ

blp = Blueprint("safety", __name__, url_prefix="/api/safety", description="安全隐患排查治理 / Safety screening")
SHANGHAI = ZoneInfo("Asia/Shanghai")
NAME = validate.Length(min=1, max=100)
TEXT = validate.Length(min=1, max=3000)
KEY = validate.Regexp(r"^[a-z][a-z0-9_]{0,31}$", error="请从列表中选择")  # a county's code (settings)


# --- places -------------------------------------------------------------------------------------

class PlaceInput(Schema):
    org_unit_id = IdField(required=True, metadata={"title": "所属单位"})
    place_type = fields.String(required=True, validate=validate.Length(min=1, max=32), metadata={"title": "场所类型"})
    name = fields.String(required=True, validate=NAME, metadata={"title": "场所名称"})
    address = fields.String(load_default="", validate=validate.Length(max=200), metadata={"title": "地址"})
    responsible_person = fields.String(required=True, validate=validate.Length(min=1, max=50),
                                       metadata={"title": "责任人"})
    latitude = fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=-90, max=90),
                            metadata={"title": "纬度"})
    longitude = fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=-180, max=180),
                             metadata={"title": "经度"})
    extra = fields.Dict(keys=fields.String(validate=validate.Length(max=32)), load_default=dict,
                        metadata={"title": "该类场所的登记项目", "description": "键为本县设置的登记项目代码"})


class PlaceOut(Schema):
    id = fields.Integer()
    org_unit_id = fields.Integer()
    place_type = fields.String()
    name = fields.String()
    address = fields.String()
    responsible_person = fields.String()
    latitude = fields.Float(allow_none=True)
    longitude = fields.Float(allow_none=True)
    extra = fields.Dict()
    created_at = fields.DateTime()


PLACE_SORT = {"id": Place.id, "name": Place.name}


class PlaceListArgs(ListArgs):
    sort = sort_field(PLACE_SORT)
    under = IdField(load_default=None, metadata={"description": "单位（含下级）"})
    place_type = fields.String(load_default=None, validate=KEY)


def _under(stmt, column, unit_id, perm):
    if unit_id is not None:
        unit = unit_or_404(unit_id, perm)
        stmt = stmt.where(column.in_(units_under(unit.path)))
    return stmt


@blp.route("/places")
class Places(MethodView):
    @requires(READ)
    @blp.arguments(PlaceListArgs, location="query")
    @blp.response(200, page_of(PlaceOut))
    def get(self, args):
        """The places in the caller's units (SAF-1)."""
        ctx = current()
        stmt = _under(scoped(select(Place), ctx.grants, READ, Place.org_unit_id), Place.org_unit_id, args["under"], READ)
        if args["place_type"]:
            stmt = stmt.where(Place.place_type == args["place_type"])
        return paginate(ctx.session, stmt, args, Place.id, PLACE_SORT, "-id")

    @requires(MANAGE)
    @blp.arguments(PlaceInput)
    @blp.response(201, PlaceOut)
    def post(self, data):
        """Register a place; its type's extra fields are validated (422 at ``extra.<field>``)."""
        ctx = current()
        place = places.create(ctx, data)
        ctx.session.commit()
        return place


@blp.route("/places/<place_id>")
class PlaceOne(MethodView):
    @requires(READ)
    @blp.response(200, PlaceOut)
    def get(self, place_id):
        ctx = current()
        return get_or_404(ctx.session, ctx.grants, Place, id_path(place_id), READ)


# --- checklists ---------------------------------------------------------------------------------

class ItemInput(Schema):
    section = fields.String(load_default="", validate=validate.Length(max=50), metadata={"title": "分项"})
    question = fields.String(required=True, validate=validate.Length(min=1, max=300), metadata={"title": "检查内容"})
    expected = fields.Boolean(load_default=True, metadata={"title": "合格的回答为“是”"})
    weight = fields.Integer(load_default=1, validate=validate.Range(min=0, max=100), metadata={"title": "分值"})
    hazard = fields.Boolean(load_default=False, metadata={"title": "不合格即为隐患"})
    grade = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=32),
                          metadata={"title": "隐患等级"})


class ChecklistInput(Schema):
    place_type = fields.String(required=True, validate=validate.Length(min=1, max=32), metadata={"title": "场所类型"})
    title = fields.String(required=True, validate=NAME, metadata={"title": "检查表名称"})
    items = fields.List(fields.Nested(ItemInput), required=True, validate=validate.Length(min=1, max=200),
                        metadata={"title": "检查项目"})


class ItemOut(Schema):
    id = fields.Integer()
    position = fields.Integer()
    section = fields.String()
    question = fields.String()
    expected = fields.Boolean()
    weight = fields.Integer()
    hazard = fields.Boolean()
    grade = fields.String(allow_none=True)


class ChecklistOut(Schema):
    id = fields.Integer()
    place_type = fields.String()
    title = fields.String()
    active = fields.Boolean()
    created_at = fields.DateTime()


class ChecklistDetail(ChecklistOut):
    items = fields.List(fields.Nested(ItemOut))


CHECKLIST_SORT = {"id": Checklist.id}


class ChecklistListArgs(ListArgs):
    sort = sort_field(CHECKLIST_SORT)
    place_type = fields.String(load_default=None, validate=KEY)


def root_unit_id(session) -> int | None:
    return session.scalar(select(OrgUnit.id).where(OrgUnit.parent_id.is_(None)).limit(1))


def require_county_manage(ctx) -> None:
    """Checklist templates are the county's: made by whoever manages the module county-wide."""
    root = root_unit_id(ctx.session)
    if root is None or not may(ctx.session, ctx.grants, MANAGE, root):
        raise Forbidden("county_wide_only", "检查表由县级统一制定")


@blp.route("/checklists")
class Checklists(MethodView):
    @requires(READ)
    @blp.arguments(ChecklistListArgs, location="query")
    @blp.response(200, page_of(ChecklistOut))
    def get(self, args):
        """The county's checklist templates (the same for every unit)."""
        ctx = current()
        stmt = select(Checklist)
        if args["place_type"]:
            stmt = stmt.where(Checklist.place_type == args["place_type"])
        return paginate(ctx.session, stmt, args, Checklist.id, CHECKLIST_SORT, "-id")

    @requires(MANAGE)
    @blp.arguments(ChecklistInput)
    @blp.response(201, ChecklistDetail)
    def post(self, data):
        """A checklist template for a place type (county-wide ``safety.manage``)."""
        ctx = current()
        require_county_manage(ctx)
        checklist = inspections.create_checklist(ctx, data)
        ctx.session.commit()
        return _checklist(ctx.session, checklist)


def _checklist(session, checklist: Checklist) -> dict:
    return {**{k: getattr(checklist, k) for k in ("id", "place_type", "title", "active", "created_at")},
            "items": inspections.items_of(session, checklist.id)}


@blp.route("/checklists/<checklist_id>")
class ChecklistOne(MethodView):
    @requires(READ)
    @blp.response(200, ChecklistDetail)
    def get(self, checklist_id):
        ctx = current()
        found = ctx.session.scalar(select(Checklist).where(Checklist.id == id_path(checklist_id)))
        if found is None:
            from core.sdk import NotFound
            raise NotFound()
        return _checklist(ctx.session, found)


# --- inspections --------------------------------------------------------------------------------

class AnswerInput(Schema):
    item_id = IdField(required=True)
    answer = fields.Boolean(required=True, metadata={"title": "回答（是/否）"})
    note = fields.String(load_default="", validate=validate.Length(max=500), metadata={"title": "说明"})


class InspectionInput(Schema):
    place_id = IdField(required=True, metadata={"title": "检查场所"})
    checklist_id = IdField(load_default=None, metadata={"title": "检查表（不填用该类场所最新的）"})
    answers = fields.List(fields.Nested(AnswerInput), required=True, validate=validate.Length(min=1, max=300))
    note = fields.String(load_default="", validate=validate.Length(max=3000), metadata={"title": "检查说明"})
    latitude = fields.Float(load_default=None, validate=validate.Range(min=-90, max=90), metadata={"title": "纬度"})
    longitude = fields.Float(load_default=None, validate=validate.Range(min=-180, max=180), metadata={"title": "经度"})


class LocationInput(Schema):
    """Where the inspection was recorded (the form's optional fields)."""
    latitude = fields.Float(load_default=None, validate=validate.Range(min=-90, max=90), metadata={"title": "纬度"})
    longitude = fields.Float(load_default=None, validate=validate.Range(min=-180, max=180), metadata={"title": "经度"})


class AnswerOut(Schema):
    item_id = fields.Integer()
    section = fields.String()
    question = fields.String()
    answer = fields.Boolean()
    passed = fields.Boolean()
    note = fields.String()
    hazard_case_id = fields.Integer(allow_none=True)
    has_photo = fields.Boolean(metadata={"description": "有照片（GET …/answers/<item_id>/photo）"})


class InspectionOut(Schema):
    id = fields.Integer()
    place_id = fields.Integer()
    org_unit_id = fields.Integer()
    checklist_id = fields.Integer()
    inspector_id = fields.Integer(allow_none=True)
    inspected_at = fields.DateTime()
    score = fields.Float()
    failed = fields.Integer()
    hazards = fields.Integer()
    note = fields.String()
    latitude = fields.Float(allow_none=True)
    longitude = fields.Float(allow_none=True)


class InspectionDetail(InspectionOut):
    answers = fields.List(fields.Nested(AnswerOut))


INSPECTION_SORT = {"id": Inspection.id}


class InspectionListArgs(ListArgs):
    sort = sort_field(INSPECTION_SORT)
    under = IdField(load_default=None)
    place_id = IdField(load_default=None)


def inspection_detail(session, inspection: Inspection) -> dict:
    return {**{c: getattr(inspection, c) for c in InspectionOut._declared_fields},
            "answers": inspections.answers_of(session, inspection)}


@blp.route("/inspections")
class Inspections(MethodView):
    @requires(READ)
    @blp.arguments(InspectionListArgs, location="query")
    @blp.response(200, page_of(InspectionOut))
    def get(self, args):
        ctx = current()
        stmt = _under(scoped(select(Inspection), ctx.grants, READ, Inspection.org_unit_id), Inspection.org_unit_id,
                      args["under"], READ)
        if args["place_id"]:
            stmt = stmt.where(Inspection.place_id == args["place_id"])
        return paginate(ctx.session, stmt, args, Inspection.id, INSPECTION_SORT, "-id")

    @requires(INSPECT)
    @blp.arguments(InspectionInput)
    @blp.response(201, InspectionDetail)
    def post(self, data):
        """Submit an inspection: every item answered; a failed hazard item raises a
        ``safety.hazard`` case of the item's grade (listed under each answer)."""
        ctx = current()
        inspection = inspections.submit(ctx, data)
        ctx.session.commit()
        return inspection_detail(ctx.session, inspection)


@blp.route("/inspections/<inspection_id>")
class InspectionOne(MethodView):
    @requires(READ)
    @blp.response(200, InspectionDetail)
    def get(self, inspection_id):
        ctx = current()
        found = get_or_404(ctx.session, ctx.grants, Inspection, id_path(inspection_id), READ)
        return inspection_detail(ctx.session, found)


class PhotoIn(Schema):
    photo = fields.Raw(load_default=None, metadata={
        "type": "string", "format": "binary", "description": "该项检查的照片（JPEG/PNG/GIF/WebP，按文件内容判断）"})


@blp.route("/inspections/<inspection_id>/answers/<item_id>/photo")
class AnswerPhoto(MethodView):
    @requires(READ)
    @blp.doc(responses={"200": {"description": "the photo, as an attachment", "content": {
        ct: {"schema": {"type": "string", "format": "binary"}} for ct in ("image/jpeg", "image/png", "image/gif", "image/webp")}}})
    def get(self, inspection_id, item_id):
        """Download the photo of an item of an inspection (404 ``no_file`` without one)."""
        ctx = current()
        found = get_or_404(ctx.session, ctx.grants, Inspection, id_path(inspection_id), READ)
        a = inspections.answer_or_404(ctx.session, found, id_path(item_id))
        return kept_file_response(a, "photo", "检查照片")

    @requires(INSPECT)
    @blp.arguments(PhotoIn, location="files")
    @blp.response(200, InspectionDetail)
    @blp.alt_response(415, description="unsupported_type: not an image")
    def post(self, files, inspection_id, item_id):
        """Add the photo of what an item found (multipart ``photo``); a new one replaces the old."""
        ctx = current()
        found = get_or_404(ctx.session, ctx.grants, Inspection, id_path(inspection_id), INSPECT)
        inspections.attach_photo(ctx, found, id_path(item_id), request.files.get("photo"))
        ctx.session.commit()
        return inspection_detail(ctx.session, found)


# --- incidents ----------------------------------------------------------------------------------

class IncidentInput(Schema):
    org_unit_id = IdField(required=True, metadata={"title": "报告单位"})
    title = fields.String(required=True, validate=NAME, metadata={"title": "事件名称"})
    occurred_at = fields.AwareDateTime(required=True, default_timezone=SHANGHAI, metadata={"title": "发生时间"})
    location = fields.String(required=True, validate=validate.Length(min=1, max=200), metadata={"title": "发生地点"})
    description = fields.String(required=True, validate=TEXT, metadata={"title": "事件经过"})
    deaths = fields.Integer(load_default=0, validate=validate.Range(min=0, max=100000), metadata={"title": "死亡人数"})
    injuries = fields.Integer(load_default=0, validate=validate.Range(min=0, max=100000),
                              metadata={"title": "受伤人数"})
    losses = fields.String(load_default="", validate=validate.Length(max=200), metadata={"title": "财产损失"})
    measures = fields.String(load_default="", validate=validate.Length(max=3000), metadata={"title": "已采取的措施"})


class IncidentOut(Schema):
    id = fields.Integer()
    org_unit_id = fields.Integer()
    title = fields.String()
    occurred_at = fields.DateTime()
    reported_at = fields.DateTime()
    location = fields.String()
    description = fields.String()
    deaths = fields.Integer()
    injuries = fields.Integer()
    losses = fields.String()
    measures = fields.String()
    limit_hours = fields.Integer()
    late = fields.Boolean()


INCIDENT_SORT = {"id": Incident.id}


class IncidentListArgs(ListArgs):
    sort = sort_field(INCIDENT_SORT)
    under = IdField(load_default=None)
    late = fields.Boolean(load_default=None)


@blp.route("/incidents")
class Incidents(MethodView):
    @requires(READ)
    @blp.arguments(IncidentListArgs, location="query")
    @blp.response(200, page_of(IncidentOut))
    def get(self, args):
        ctx = current()
        stmt = _under(scoped(select(Incident), ctx.grants, READ, Incident.org_unit_id), Incident.org_unit_id,
                      args["under"], READ)
        if args["late"] is not None:
            stmt = stmt.where(Incident.late.is_(args["late"]))
        return paginate(ctx.session, stmt, args, Incident.id, INCIDENT_SORT, "-id")

    @requires(INCIDENT)
    @blp.arguments(IncidentInput)
    @blp.response(201, IncidentOut)
    def post(self, data):
        """Report an incident now; ``late`` when later than the county's limit after it occurred (SAF-4)."""
        ctx = current()
        incident = incidents.report(ctx, data)
        ctx.session.commit()
        return incident


@blp.route("/incidents/<incident_id>")
class IncidentOne(MethodView):
    @requires(READ)
    @blp.response(200, IncidentOut)
    def get(self, incident_id):
        ctx = current()
        return get_or_404(ctx.session, ctx.grants, Incident, id_path(incident_id), READ)
