"""/api/joint — mechanisms (JNT-1) and joint meetings (JNT-2, INT-4): a meeting's agenda of open
cases, attendance by member unit, minutes, decisions that become tasks through the core's
dispatch, and the attendance figures per member unit. Objects outside the caller's units, or
of another county, answer 404."""
from __future__ import annotations

from flask.views import MethodView
from marshmallow import Schema, fields, validate, validates_schema, ValidationError
from sqlalchemy import select

from core.sdk import (Blueprint, IdField, IdListArgs, current, id_path, module_settings, page_of, paginate, record,
                      requires, unit_or_404, units_under)

from . import mechanisms, meetings
from .models import Meeting
from .permissions import MANAGE, READ

blp = Blueprint("joint", __name__, url_prefix="/api/joint", description="联动机制 / Joint mechanisms")


def settings() -> dict:
    return module_settings(current().session, "joint")


# --- schemas ----------------------------------------------------------------------------------

class MechanismOut(Schema):
    key = fields.String()
    title = fields.String()
    lead = fields.String(allow_none=True)
    members = fields.List(fields.String())
    case_types = fields.List(fields.String())
    figures = fields.Dict(keys=fields.String(), values=fields.Integer())


class LiveCase(Schema):
    id = fields.Integer()
    number = fields.String()
    title = fields.String()
    case_type = fields.String()
    state = fields.String()
    due_at = fields.DateTime(allow_none=True)


class MechanismDetail(MechanismOut):
    cases = fields.List(fields.Nested(LiveCase))


class MeetingCreate(Schema):
    org_unit_id = IdField(required=True, metadata={"title": "召开单位"})
    kind = fields.String(required=True, validate=validate.Length(min=1, max=32), metadata={"title": "会议"})
    title = fields.String(load_default=None, validate=validate.Length(max=100), metadata={"title": "会议名称"})
    held_on = fields.Date(required=True, metadata={"title": "召开日期"})
    convener = fields.String(required=True, validate=validate.Length(min=1, max=50), metadata={"title": "召集人"})
    minutes = fields.String(load_default="", validate=validate.Length(max=20000), metadata={"title": "会议纪要"})
    case_ids = fields.List(IdField(), load_default=list, validate=validate.Length(max=200),
                           metadata={"title": "议题（待研究的事项）"})


class MeetingSummary(Schema):
    id = fields.Integer()
    org_unit_id = fields.Integer()
    kind = fields.String()
    title = fields.String()
    held_on = fields.Date()
    convener = fields.String()


class TaskOut(Schema):
    id = fields.Integer()
    role = fields.String()
    state = fields.String()
    unit = fields.String()
    due_at = fields.DateTime(allow_none=True)


class DecisionOut(Schema):
    id = fields.Integer()
    meeting_id = fields.Integer()
    case_id = fields.Integer()
    case_number = fields.String()
    case_title = fields.String()
    text = fields.String()
    deadline = fields.Date()
    lead_task_id = fields.Integer()
    state = fields.String(metadata={"description": "the lead task's: open | done | returned | cancelled"})
    state_title = fields.String()
    tasks = fields.List(fields.Nested(TaskOut))


class AgendaOut(Schema):
    case_id = fields.Integer()
    number = fields.String()
    title = fields.String()
    state = fields.String()


class AttendanceOut(Schema):
    member_unit_id = fields.Integer()
    member_unit = fields.String()
    status = fields.String()
    status_title = fields.String()
    reason = fields.String(allow_none=True)
    substitute = fields.String(allow_none=True)


class MeetingOut(MeetingSummary):
    org_unit_name = fields.String()
    minutes = fields.String()
    carried = fields.List(fields.Nested(DecisionOut), metadata={
        "description": "earlier meetings' unfinished decisions of the same unit: the head of the agenda"})
    agenda = fields.List(fields.Nested(AgendaOut))
    attendance = fields.List(fields.Nested(AttendanceOut))
    decisions = fields.List(fields.Nested(DecisionOut))


class MeetingListArgs(IdListArgs):
    org_unit_id = IdField(load_default=None, metadata={"description": "召开单位（含下级）"})


class AgendaInput(Schema):
    case_ids = fields.List(IdField(), required=True, validate=validate.Length(min=1, max=200),
                           metadata={"title": "议题（待研究的事项）"})


class MinutesInput(Schema):
    minutes = fields.String(required=True, validate=validate.Length(max=20000), metadata={"title": "会议纪要"})


class AttendanceInput(Schema):
    member_unit_id = IdField(required=True, metadata={"title": "成员单位"})
    status = fields.String(required=True, validate=validate.OneOf(list(meetings.STATUSES),
                                                                  labels=list(meetings.STATUSES.values())),
                           metadata={"title": "出席情况"})
    reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200),
                           metadata={"title": "缺席原因"})
    substitute = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=50),
                               metadata={"title": "代为参会人员"})


class UnitSpec(Schema):
    org_unit_id = IdField(load_default=None, allow_none=True, metadata={"description": "组织单位"})
    member_unit_id = IdField(load_default=None, allow_none=True, metadata={"description": "成员单位"})

    @validates_schema
    def _one(self, data, **kw):
        if not data.get("org_unit_id") and not data.get("member_unit_id"):
            raise ValidationError("请选择单位", "member_unit_id")


class DecisionInput(Schema):
    case_id = IdField(required=True, metadata={"title": "事项"})
    text = fields.String(required=True, validate=validate.Length(min=1, max=2000), metadata={"title": "决定事项"})
    deadline = fields.Date(required=True, metadata={"title": "办结期限"})
    lead = fields.Nested(UnitSpec, required=True, metadata={"title": "牵头单位"})
    co = fields.List(fields.Nested(UnitSpec), load_default=list, validate=validate.Length(max=19),
                     metadata={"title": "协办单位"})


class AttendanceArgs(Schema):
    org_unit_id = IdField(load_default=None, metadata={"description": "单位（含下级）的成员单位；默认您的最高单位"})
    start = fields.Date(load_default=None, metadata={"description": "会议日期自（含）"})
    end = fields.Date(load_default=None, metadata={"description": "会议日期至（含）"})


class AttendanceRow(Schema):
    member_unit_id = fields.Integer()
    member_unit = fields.String()
    centre = fields.String()
    meetings = fields.Integer()
    present = fields.Integer()
    substitute = fields.Integer()
    absent = fields.Integer()
    rate = fields.Float(allow_none=True, metadata={"description": "(present + substitute) / meetings"})


# --- mechanisms -------------------------------------------------------------------------------

@blp.route("/mechanisms")
class Mechanisms(MethodView):
    @requires(READ)
    @blp.response(200, MechanismOut(many=True))
    def get(self):
        """The county's mechanisms with their figures (cases in your scope)."""
        ctx = current()
        return [{**m, "figures": mechanisms.figures(ctx, m)} for m in settings()["mechanisms"]]


@blp.route("/mechanisms/<key>")
class MechanismView(MethodView):
    @requires(READ)
    @blp.response(200, MechanismDetail)
    def get(self, key):
        """One mechanism: its live cases (open, most urgent first, at most 100) and figures."""
        ctx = current()
        m = mechanisms.mechanism(settings(), key)
        return {**m, "figures": mechanisms.figures(ctx, m), "cases": mechanisms.live_cases(ctx, m)}


# --- meetings ---------------------------------------------------------------------------------

@blp.route("/meetings")
class Meetings(MethodView):
    @requires(READ)
    @blp.arguments(MeetingListArgs, location="query")
    @blp.response(200, page_of(MeetingSummary))
    def get(self, args):
        """Meetings of the unit's subtree (default: yours), newest first."""
        ctx = current()
        unit = unit_or_404(args["org_unit_id"], READ)
        stmt = select(Meeting).where(Meeting.org_unit_id.in_(units_under(unit.path)))
        return paginate(ctx.session, stmt, args, Meeting.id, {"id": Meeting.id}, "-id")

    @requires(MANAGE)
    @blp.arguments(MeetingCreate)
    @blp.response(201, MeetingOut)
    def post(self, data):
        """Record a meeting with its agenda picked from open cases of the convening unit's subtree."""
        ctx = current()
        meeting = meetings.create(ctx, settings(), data)
        out = meetings.detail(ctx, meeting)
        ctx.session.commit()
        return out


def _meeting(meeting_id, perm=READ) -> Meeting:
    return meetings.load(current(), id_path(meeting_id), perm)


@blp.route("/meetings/<meeting_id>")
class MeetingView(MethodView):
    @requires(READ)
    @blp.response(200, MeetingOut)
    def get(self, meeting_id):
        """A meeting: the previous meetings' unfinished decisions first, its agenda, attendance,
        decisions with their live state, minutes."""
        ctx = current()
        return meetings.detail(ctx, _meeting(meeting_id))


@blp.route("/meetings/<meeting_id>/agenda")
class Agenda(MethodView):
    @requires(MANAGE)
    @blp.arguments(AgendaInput)
    @blp.response(200, MeetingOut)
    def post(self, data, meeting_id):
        """Add open cases to the agenda."""
        ctx = current()
        meeting = _meeting(meeting_id, MANAGE)
        meetings.add_agenda(ctx, meeting, data["case_ids"])
        out = meetings.detail(ctx, meeting)
        ctx.session.commit()
        return out


@blp.route("/meetings/<meeting_id>/minutes")
class Minutes(MethodView):
    @requires(MANAGE)
    @blp.arguments(MinutesInput)
    @blp.response(200, MeetingOut)
    def put(self, data, meeting_id):
        """Record the minutes."""
        ctx = current()
        meeting = _meeting(meeting_id, MANAGE)
        meetings.set_minutes(ctx, meeting, data["minutes"])
        out = meetings.detail(ctx, meeting)
        ctx.session.commit()
        return out


@blp.route("/meetings/<meeting_id>/attendance")
class AttendanceView(MethodView):
    @requires(MANAGE)
    @blp.arguments(AttendanceInput)
    @blp.response(200, AttendanceOut)
    def post(self, data, meeting_id):
        """A member unit present, absent (a reason required: 422 ``reason_required``) or by a substitute."""
        ctx = current()
        row = meetings.attend(ctx, _meeting(meeting_id, MANAGE), data)
        out = next(a for a in meetings.detail(ctx, _meeting(meeting_id))["attendance"]
                   if a["member_unit_id"] == row.member_unit_id)
        ctx.session.commit()
        return out


@blp.route("/meetings/<meeting_id>/decisions")
class Decisions(MethodView):
    @requires(MANAGE)
    @blp.arguments(DecisionInput)
    @blp.response(201, DecisionOut)
    def post(self, data, meeting_id):
        """Hand a case to a lead (and co-units) with a deadline: the core's dispatch creates the tasks."""
        ctx = current()
        meeting = _meeting(meeting_id, MANAGE)
        decision = meetings.decide(ctx, meeting, data)
        record(ctx.session, "joint.decision", "joint_decision", decision.id, {"meeting_id": meeting.id, "case_id": decision.case_id})
        out = meetings.decisions_view(ctx, [decision])[0]
        ctx.session.commit()
        return out


@blp.route("/attendance")
class AttendanceFigures(MethodView):
    @requires(READ)
    @blp.arguments(AttendanceArgs, location="query")
    @blp.response(200, AttendanceRow(many=True))
    def get(self, args):
        """Attendance per member unit seated in the unit's subtree, over meetings in the dates."""
        ctx = current()
        unit = unit_or_404(args["org_unit_id"], READ)
        return meetings.attendance_figures(ctx, unit, args.get("start"), args.get("end"))

