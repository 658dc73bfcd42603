"""/api/intake — the one window (统一受理, INT-1 … INT-5).

Register any matter once, with its channel, persons and content, and the first-inquiry
outcome (INT-2); hand it to a module's case type at once, or leave it pending for the
centre's sorting meeting (INT-4), which sorts it later (``/sort``) or closes it as
resolved, referred or reported upward (INT-5, ``/close``).
"""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import or_, select

from core.api.common import PHONE, IdField, ListArgs, case_type_field, id_path, page_of, paginate, sort_field
from core.cases import backdating, intake
from core.cases.access import units_in_scope
from core.cases.engine import CHANNELS
from core.cases.models import Intake, IntakePerson
from core.cases.timeline import request_work
from core.request import requires

blp = Blueprint("core_intake", __name__, url_prefix="/api/intake", description="统一受理 / Intake")
REGISTER = "core.case.register"
DIVERT = "core.case.divert"
OUTCOMES = ("pending", "resolved", "referred", "case", "reported_up")


class IntakeSchema(Schema):
    id = fields.Integer()
    channel = fields.String()
    org_unit_id = fields.Integer(metadata={"description": "受理窗口所在单位"})
    arose_unit_id = fields.Integer(allow_none=True, metadata={"description": "事项发生地"})
    subject = fields.String()
    content = fields.String()
    received_by = fields.Integer(allow_none=True, metadata={"description": "首问责任人"})
    received_at = fields.DateTime(metadata={"description": "收到时间（该事项转为案件后，时限自此起算）"})
    outcome = fields.String(metadata={"description": "pending 待分类 | resolved 当场解决 | referred 引导移交 | "
                                                     "case 已转事项 | reported_up 已上报"})
    outcome_note = fields.String(allow_none=True)
    referred_to = fields.String(allow_none=True)
    case_id = fields.Integer(allow_none=True)
    person_ids = fields.List(fields.Integer())


class IntakePersonSchema(Schema):
    person_id = IdField(metadata={"description": "已登记人员；不填则按下列信息新登记"})
    name = fields.String(validate=validate.Length(min=1, max=50))
    id_number = fields.String(validate=validate.Length(max=32))
    phone = fields.String(validate=PHONE)
    address = fields.String(validate=validate.Length(max=200))
    org_unit_id = IdField(metadata={"description": "新登记人员的户籍或居住单位"})
    role = fields.String(load_default="requester",
                         validate=validate.OneOf(list(intake.PERSON_ROLES), labels=list(intake.PERSON_ROLES.values())),
                         metadata={"description": "requester 反映人（成为事项类型的第一种身份，如信访人） | "
                                                  "companion 同行人 | party 当事人"})


class FirstInquirySchema(Schema):
    outcome = fields.String(load_default="pending", validate=validate.OneOf(intake.FIRST_OUTCOMES),
                            metadata={"description": "pending 留待分类 | resolved 当场解决 | referred 解释并引导"})
    note = fields.String(validate=validate.Length(max=2000))
    referred_to = fields.String(validate=validate.Length(min=1, max=200))


class IntakeCreateSchema(Schema):
    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS),
                            metadata={"description": "letter 来信 | visit 来访 | call 来电 | online 网上 | "
                                                     "hotline 热线转办 | grid 网格上报 | higher 上级交办 | other"})
    org_unit_id = IdField(required=True, metadata={"description": "受理窗口所在单位"})
    arose_unit_id = IdField(metadata={"description": "事项发生地（默认同受理单位）"})
    subject = fields.String(required=True, validate=validate.Length(min=1, max=200))
    content = fields.String(required=True, validate=validate.Length(min=1, max=20000))
    received_at = fields.DateTime(metadata={"description": backdating.RECEIVED_HELP})
    backdate_reason = fields.String(validate=validate.Length(min=1, max=500),
                                    metadata={"description": backdating.REASON_HELP})
    persons = fields.List(fields.Nested(IntakePersonSchema), load_default=list, validate=validate.Length(max=200))
    first_inquiry = fields.Nested(FirstInquirySchema)
    case_type = case_type_field(metadata={"description": "直接转为该类事项；不填则留待分类会议"})
    title = fields.String(validate=validate.Length(min=1, max=200))
    details = fields.Dict(metadata={"description": "该类事项的详情字段"})


class SortSchema(Schema):
    case_type = case_type_field(required=True)
    title = fields.String(validate=validate.Length(min=1, max=200))
    details = fields.Dict()


class CloseSchema(Schema):
    outcome = fields.String(required=True, validate=validate.OneOf(["resolved", "referred", "reported_up"]))
    note = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    to = fields.String(validate=validate.Length(min=1, max=200), metadata={"description": "移交或上报的单位"})


class IntakeListArgs(ListArgs):
    sort = sort_field({"id": None})
    outcome = fields.String(validate=validate.OneOf(OUTCOMES))
    channel = fields.String(validate=validate.OneOf(CHANNELS))


def present(w, row: Intake) -> dict:
    out = {k: getattr(row, k) for k in IntakeSchema().fields if k != "person_ids"}
    out["person_ids"] = list(w.session.scalars(select(IntakePerson.person_id)
                                               .where(IntakePerson.intake_id == row.id).order_by(IntakePerson.id)))
    return out


@blp.route("")
class Intakes(MethodView):
    @requires(REGISTER)
    @blp.arguments(IntakeListArgs, location="query")
    @blp.response(200, page_of(IntakeSchema))
    def get(self, args):
        """Matters registered at the windows in your scope (``outcome=pending``: the sorting list)."""
        w = request_work()
        units = units_in_scope(w.grants, REGISTER)
        stmt = select(Intake).where(or_(Intake.org_unit_id.in_(units), Intake.arose_unit_id.in_(units)))
        if "outcome" in args:
            stmt = stmt.where(Intake.outcome == args["outcome"])
        if "channel" in args:
            stmt = stmt.where(Intake.channel == args["channel"])
        args["sort"] = args.get("sort") or "-id"
        page = paginate(w.session, stmt, args, Intake.id, {"id": Intake.id}, "-id")
        page["items"] = [present(w, i) for i in page["items"]]
        return page

    @requires(REGISTER)
    @blp.arguments(IntakeCreateSchema)
    @blp.response(201, IntakeSchema)
    def post(self, data):
        """Register a matter at the window; with ``case_type`` it becomes a case at once."""
        w = request_work()
        row = intake.register(w, data)
        w.session.commit()
        return present(w, row)


@blp.route("/<intake_id>")
class IntakeItem(MethodView):
    @requires(REGISTER)
    @blp.response(200, IntakeSchema)
    def get(self, intake_id):
        w = request_work()
        return present(w, intake.load(w, id_path(intake_id)))


@blp.route("/<intake_id>/sort")
class IntakeSort(MethodView):
    @requires(DIVERT)
    @blp.arguments(SortSchema)
    @blp.response(200, IntakeSchema)
    def post(self, data, intake_id):
        """The sorting meeting hands a pending matter to a module's case type (INT-4)."""
        w = request_work()
        row = intake.load(w, id_path(intake_id), DIVERT)
        intake.sort(w, row, data["case_type"], data.get("details"), data.get("title"))
        w.session.commit()
        return present(w, row)


@blp.route("/<intake_id>/close")
class IntakeClose(MethodView):
    @requires(DIVERT)
    @blp.arguments(CloseSchema)
    @blp.response(200, IntakeSchema)
    def post(self, data, intake_id):
        """Resolved, referred elsewhere, or reported upward with a record (INT-5)."""
        w = request_work()
        row = intake.load(w, id_path(intake_id), DIVERT)
        intake.close(w, row, data["outcome"], data["note"], data.get("to"))
        w.session.commit()
        return present(w, row)
