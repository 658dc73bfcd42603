"""/api/joint — mechanisms (JNT-1) and joint meetings (JNT-2, INT-4): a meeting's agenda of open
cases, attendance by member unit, minutes, decisions that become tasks through the core's
dispatch, and the attendance figures per member unit. Objects outside the caller's units, or
of another county, answer 404."""
from __future__ import annotations

from flask.views import MethodView
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from core.sdk import (Blueprint, IdField, IdListArgs, OrgUnit, current, id_path, module_settings, page_of, paginate, record,
                      requires, unit_or_404, units_under)

from . import analysis, campaigns, centres, construction, mechanisms, meetings
from .models import Campaign, Meeting
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


class MechanismTask(Schema):
    id = fields.Integer()
    case_id = fields.Integer()
    case_number = fields.String()
    case_title = fields.String()
    role = fields.String(metadata={"description": "sole | lead | co"})
    unit = fields.String()
    due_at = fields.DateTime(allow_none=True)
    overdue = fields.Boolean()


class MechanismTasks(Schema):
    open = fields.Integer()
    overdue = fields.Integer()
    items = fields.List(fields.Nested(MechanismTask), metadata={"description": "the most urgent 50"})


class MechanismMeeting(Schema):
    id = fields.Integer()
    title = fields.String()
    held_on = fields.Date()
    org_unit = fields.String()


class MechanismDetail(MechanismOut):
    cases = fields.List(fields.Nested(LiveCase))
    tasks = fields.Nested(MechanismTasks, metadata={"description": "open tasks of its cases (the core's dispatch)"})
    meetings = fields.List(fields.Nested(MechanismMeeting), metadata={
        "description": "the latest 10 joint meetings that had one of its cases on the agenda or decided on one"})


class MeetingCreate(Schema):
    org_unit_id = IdField(required=True, metadata={"title": "召开单位"})
    kind = fields.String(required=True, validate=validate.Length(min=1, max=32), metadata={"title": "会议"})
    title = fields.String(load_default=None, validate=validate.Length(max=100), metadata={"title": "会议名称"})
    held_on = fields.Date(required=True, metadata={"title": "召开日期"})
    convener = fields.String(required=True, validate=validate.Length(min=1, max=50), metadata={"title": "召集人"})
    minutes = fields.String(load_default="", validate=validate.Length(max=20000), metadata={"title": "会议纪要"})
    case_ids = fields.List(IdField(), load_default=list, validate=validate.Length(max=200),
                           metadata={"title": "议题（待研究的事项）"})
    intake_ids = fields.List(IdField(), load_default=list, validate=validate.Length(max=200), metadata={
        "title": "议题（统一受理待分流事项）", "description": "matters pending at the windows of the unit's subtree"})


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
    kind = fields.String(metadata={"description": "dispatch (交办) | supervise (督办) | new_matter (立为新事项)"})
    kind_title = fields.String()
    case_id = fields.Integer(allow_none=True, metadata={"description": "a new matter's: once the window made it a case"})
    case_number = fields.String()
    case_title = fields.String(metadata={"description": "the case's title, or a new matter's name"})
    text = fields.String()
    deadline = fields.Date(allow_none=True)
    lead_task_id = fields.Integer(allow_none=True)
    supervision_id = fields.Integer(allow_none=True)
    supervised_unit = fields.String(metadata={"description": "a supervision's: the unit supervised"})
    supervision_level = fields.String(allow_none=True, metadata={"description": "normal | listed (挂牌)"})
    intake_id = fields.Integer(allow_none=True)
    state = fields.String(metadata={"description": (
        "dispatch: the lead task's (open | done | returned | cancelled); supervise: the supervision's "
        "(open | answered | closed); new_matter: pending (at the window) | registered (a case, open) | done "
        "(its case closed) | resolved | referred | reported_up (the window's outcome)")})
    state_title = fields.String()
    tasks = fields.List(fields.Nested(TaskOut))


class AgendaOut(Schema):
    case_id = fields.Integer(allow_none=True, metadata={"description": "the case; a window matter's once sorted"})
    number = fields.String()
    title = fields.String()
    state = fields.String(allow_none=True)
    intake_id = fields.Integer(allow_none=True, metadata={"description": "a matter from the window (统一受理)"})
    intake_state = fields.String(allow_none=True, metadata={
        "description": "pending | case | resolved | referred | reported_up (the window's outcome)"})
    intake_state_title = fields.String()


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
    """At least one of the two lists (422 ``required`` at ``case_ids`` otherwise)."""
    case_ids = fields.List(IdField(), load_default=list, validate=validate.Length(max=200),
                           metadata={"title": "议题（待研究的事项）"})
    intake_ids = fields.List(IdField(), load_default=list, validate=validate.Length(max=200),
                             metadata={"title": "议题（统一受理待分流事项）"})


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
    """A unit a case is handed to: an org unit, or a member unit (one of the two: the core's
    dispatch refuses neither, 422 ``required`` at ``tasks.N.org_unit_id``)."""
    org_unit_id = IdField(load_default=None, allow_none=True, metadata={"description": "组织单位"})
    member_unit_id = IdField(load_default=None, allow_none=True, metadata={"description": "成员单位"})


class DecisionInput(Schema):
    kind = fields.String(load_default="dispatch", validate=validate.OneOf(list(meetings.KINDS),
                                                                         labels=list(meetings.KINDS.values())),
                         metadata={"title": "决定类型", "description": (
                             "dispatch: hand the case to a lead and co-units (case_id, deadline, lead, co); "
                             "supervise: the core's 督办 of the case, addressed to its handling unit (case_id, "
                             "deadline for the reply, level); new_matter: register a matter at the convening unit's window (subject)")})
    case_id = IdField(load_default=None, allow_none=True, metadata={"title": "事项"})
    text = fields.String(required=True, validate=validate.Length(min=1, max=2000), metadata={"title": "决定事项"})
    deadline = fields.Date(load_default=None, allow_none=True, metadata={"title": "办结期限"})
    lead = fields.Nested(UnitSpec, load_default=None, allow_none=True, metadata={"title": "牵头单位"})
    co = fields.List(fields.Nested(UnitSpec), load_default=list, validate=validate.Length(max=19),
                     metadata={"title": "协办单位"})
    level = fields.String(load_default="normal", validate=validate.OneOf(["normal", "listed"], labels=["督办", "挂牌督办"]),
                          metadata={"title": "督办级别"})
    subject = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200),
                            metadata={"title": "新事项名称"})


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
        """One mechanism's live work: its open cases (most urgent first, at most 100), the open tasks
        handed out on them, the latest meetings that dealt with them, and its figures."""
        ctx = current()
        m = mechanisms.mechanism(settings(), key)
        return {**m, "figures": mechanisms.figures(ctx, m), "cases": mechanisms.live_cases(ctx, m),
                "tasks": mechanisms.open_tasks(ctx, m), "meetings": mechanisms.recent_meetings(ctx, m)}


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


@blp.route("/meetings/<meeting_id>/minutes.pdf")
class MinutesPdf(MethodView):
    @requires(READ)
    @blp.doc(responses={"200": {"description": "会议纪要 PDF", "content": {
        "application/pdf": {"schema": {"type": "string", "format": "binary"}}}}})
    def get(self, meeting_id):
        """The meeting's 纪要 as a PDF (attendance, agenda, decisions with their units and deadlines,
        minutes), dated the day it was held."""
        from core.sdk import download_response
        ctx = current()
        meeting = _meeting(meeting_id)
        return download_response(meetings.minutes_pdf(ctx, meeting), f"{meeting.title}纪要.pdf", "application/pdf")


@blp.route("/meetings/<meeting_id>/agenda")
class Agenda(MethodView):
    @requires(MANAGE)
    @blp.arguments(AgendaInput)
    @blp.response(200, MeetingOut)
    def post(self, data, meeting_id):
        """Add open cases to the agenda."""
        ctx = current()
        meeting = _meeting(meeting_id, MANAGE)
        meetings.add_agenda(ctx, meeting, data["case_ids"], data["intake_ids"])
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
        """A decision that becomes work: a case handed to a lead (and co-units) with a deadline
        (the core's dispatch creates the tasks), a case supervised (the core's 督办, its reply due on
        the deadline), or a new matter registered at the convening unit's window."""
        ctx = current()
        meeting = _meeting(meeting_id, MANAGE)
        decision = meetings.decide(ctx, meeting, data)
        record(ctx.session, "joint.decision", "joint_decision", decision.id,
               {"meeting_id": meeting.id, "kind": decision.kind, "case_id": decision.case_id,
                "supervision_id": decision.supervision_id, "intake_id": decision.intake_id})
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



# --- hot-spot campaigns (JNT-3) ---------------------------------------------------------------

class CampaignCreate(Schema):
    org_unit_id = IdField(required=True, metadata={"title": "组织单位"})
    title = fields.String(required=True, validate=validate.Length(min=1, max=100), metadata={"title": "专项整治名称"})
    focus = fields.String(load_default="", validate=validate.Length(max=2000),
                          metadata={"title": "重点地区、行业、场所"})
    starts_on = fields.Date(required=True, metadata={"title": "开始日期"})
    ends_on = fields.Date(required=True, metadata={"title": "结束日期"})


class TargetInput(Schema):
    case_id = IdField(required=True, metadata={"title": "整治目标（事项）"})
    deadline = fields.Date(required=True, metadata={"title": "整治期限"})
    instruction = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000),
                                metadata={"title": "整治要求"})
    lead = fields.Nested(UnitSpec, required=True, metadata={"title": "责任单位"})
    co = fields.List(fields.Nested(UnitSpec), load_default=list, validate=validate.Length(max=19),
                     metadata={"title": "配合单位"})


class TargetCloseInput(Schema):
    note = fields.String(required=True, validate=validate.Length(min=1, max=2000), metadata={"title": "整治结果"})


class TargetReportInput(Schema):
    reported_on = fields.Date(load_default=None, allow_none=True, metadata={"title": "报告日期", "description": "default today"})
    text = fields.String(required=True, validate=validate.Length(min=1, max=2000), metadata={"title": "进展情况"})


class TargetReportOut(Schema):
    id = fields.Integer()
    reported_on = fields.Date()
    text = fields.String()


class SummaryInput(Schema):
    summary = fields.String(required=True, validate=validate.Length(max=20000), metadata={"title": "整治总结"})


class TargetOut(Schema):
    id = fields.Integer()
    case_id = fields.Integer()
    case_number = fields.String()
    title = fields.String()
    deadline = fields.Date()
    added_on = fields.Date()
    closed_on = fields.Date(allow_none=True)
    close_note = fields.String(allow_none=True)
    state = fields.String(metadata={"description": "open | overdue | closed"})
    lead_unit = fields.String()
    lead_state = fields.String()
    supervised = fields.Boolean()
    supervision_id = fields.Integer(allow_none=True)
    reports = fields.List(fields.Nested(TargetReportOut), metadata={"description": "progress reports, latest first"})


class CampaignSummary(Schema):
    id = fields.Integer()
    org_unit_id = fields.Integer()
    title = fields.String()
    starts_on = fields.Date()
    ends_on = fields.Date()


class CampaignOut(CampaignSummary):
    org_unit_name = fields.String()
    focus = fields.String()
    summary = fields.String()
    targets = fields.List(fields.Nested(TargetOut))
    figures = fields.Dict(keys=fields.String(), values=fields.Integer())


class CampaignListArgs(IdListArgs):
    org_unit_id = IdField(load_default=None, metadata={"description": "组织单位（含下级）"})


@blp.route("/campaigns")
class Campaigns(MethodView):
    @requires(READ)
    @blp.arguments(CampaignListArgs, location="query")
    @blp.response(200, page_of(CampaignSummary))
    def get(self, args):
        """Campaigns of the unit's subtree (default: yours), newest first."""
        ctx = current()
        unit = unit_or_404(args["org_unit_id"], READ)
        stmt = select(Campaign).where(Campaign.org_unit_id.in_(units_under(unit.path)))
        return paginate(ctx.session, stmt, args, Campaign.id, {"id": Campaign.id}, "-id")

    @requires(MANAGE)
    @blp.arguments(CampaignCreate)
    @blp.response(201, CampaignOut)
    def post(self, data):
        """Start a campaign on key areas, industries or places, in a date window."""
        ctx = current()
        out = campaigns.detail(ctx, campaigns.create(ctx, data))
        ctx.session.commit()
        return out


def _campaign(campaign_id, perm=READ) -> Campaign:
    return campaigns.load(current(), id_path(campaign_id), perm)


@blp.route("/campaigns/<campaign_id>")
class CampaignView(MethodView):
    @requires(READ)
    @blp.response(200, CampaignOut)
    def get(self, campaign_id):
        """A campaign with its targets (open, overdue, closed; supervised) and figures."""
        return campaigns.detail(current(), _campaign(campaign_id))


@blp.route("/campaigns/<campaign_id>/targets")
class Targets(MethodView):
    @requires(MANAGE)
    @blp.arguments(TargetInput)
    @blp.response(201, TargetOut)
    def post(self, data, campaign_id):
        """Add a target while the campaign runs (409 ``campaign_not_running`` outside its window):
        the case is handed to its responsible units with the deadline."""
        ctx = current()
        campaign = _campaign(campaign_id, MANAGE)
        target = campaigns.add_target(ctx, campaign, data)
        out = next(t for t in campaigns.detail(ctx, campaign)["targets"] if t["id"] == target.id)
        ctx.session.commit()
        return out


@blp.route("/campaigns/<campaign_id>/targets/<target_id>/reports")
class TargetReports(MethodView):
    @requires("core.case.read")
    @blp.arguments(TargetReportInput)
    @blp.response(201, TargetReportOut)
    def post(self, data, campaign_id, target_id):
        """A progress report on an open target, by the organiser (``joint.manage``) or by a user of
        the unit responsible for it; also on the case's timeline."""
        ctx = current()
        campaign, target = campaigns.target_for_report(ctx, id_path(campaign_id), id_path(target_id))
        row = campaigns.report(ctx, campaign, target, data)
        out = {"id": row.id, "reported_on": row.reported_on, "text": row.text}
        ctx.session.commit()
        return out


@blp.route("/campaigns/<campaign_id>/targets/<target_id>/close")
class CloseTarget(MethodView):
    @requires(MANAGE)
    @blp.arguments(TargetCloseInput)
    @blp.response(200, TargetOut)
    def post(self, data, campaign_id, target_id):
        """销号: the target treated (409 ``already_closed`` the second time)."""
        ctx = current()
        campaign = _campaign(campaign_id, MANAGE)
        target = campaigns.close_target(ctx, campaign, campaigns.target_of(ctx, campaign, id_path(target_id)),
                                        data["note"])
        out = next(t for t in campaigns.detail(ctx, campaign)["targets"] if t["id"] == target.id)
        ctx.session.commit()
        return out


@blp.route("/campaigns/<campaign_id>/supervise")
class SuperviseOverdue(MethodView):
    @requires(MANAGE)
    @blp.response(200, TargetOut(many=True))
    def post(self, campaign_id):
        """挂牌督办: each open target past its deadline, not yet supervised, gets the core's listed
        supervision addressed to its lead unit (needs ``core.case.supervise``)."""
        ctx = current()
        campaign = _campaign(campaign_id, MANAGE)
        ids = {t.id for t in campaigns.supervise_overdue(ctx, campaign)}
        out = [t for t in campaigns.detail(ctx, campaign)["targets"] if t["id"] in ids]
        ctx.session.commit()
        return out


@blp.route("/campaigns/<campaign_id>/summary")
class CampaignSummaryView(MethodView):
    @requires(MANAGE)
    @blp.arguments(SummaryInput)
    @blp.response(200, CampaignOut)
    def put(self, data, campaign_id):
        """The campaign's summary (总结)."""
        ctx = current()
        campaign = _campaign(campaign_id, MANAGE)
        campaign.summary = data["summary"]
        ctx.session.flush()
        out = campaigns.detail(ctx, campaign)
        ctx.session.commit()
        return out


# --- monthly public-order analysis (RPT-2) ----------------------------------------------------

class AnalysisInput(Schema):
    month = fields.String(required=True, validate=validate.Regexp(r"^[1-9]\d{3}-(0[1-9]|1[0-2])$", error="月份格式：2026-03"),
                          metadata={"title": "月份"})
    level = fields.String(required=True, validate=validate.Length(min=1, max=32), metadata={"title": "预警等级"})
    analysis = fields.String(required=True, validate=validate.Length(min=1, max=20000),
                             metadata={"title": "治安形势分析"})


class AnalysisOut(Schema):
    id = fields.Integer()
    month = fields.String()
    level = fields.String()
    level_title = fields.String()
    analysis = fields.String()
    figures = fields.Dict(metadata={"description": "by_type [{case_type, title, count}], total, previous_month, "
                                                   "year_before: cases registered"})
    created_at = fields.DateTime()


@blp.route("/analyses")
class Analyses(MethodView):
    @requires(READ)
    @blp.response(200, AnalysisOut(many=True))
    def get(self):
        """The county's monthly analyses, newest first (the last 24 months)."""
        return [analysis.out(a) for a in analysis.history(current().session)]

    @requires(MANAGE)
    @blp.arguments(AnalysisInput)
    @blp.response(201, AnalysisOut)
    def post(self, data):
        """Record the month's analysis and warning level (the county's levels; needs ``joint.manage``
        on the county's root unit: 403 ``county_only``; 409 ``already_recorded`` for a month twice)."""
        ctx = current()
        out = analysis.out(analysis.record_analysis(ctx, settings(), data))
        ctx.session.commit()
        return out


# --- centre construction (ORG-5) --------------------------------------------------------------

class PhasePlanInput(Schema):
    org_unit_id = IdField(required=True, metadata={"title": "单位"})
    phase = fields.String(required=True, validate=validate.Length(min=1, max=32), metadata={"title": "建设阶段"})
    target_date = fields.Date(required=True, metadata={"title": "目标日期"})


class PhaseAcceptInput(Schema):
    result = fields.String(required=True, validate=validate.OneOf(list(construction.RESULTS),
                                                                  labels=list(construction.RESULTS.values())),
                           metadata={"title": "验收结果"})
    checked_on = fields.Date(required=True, metadata={"title": "验收日期"})
    evidence = fields.String(load_default="", validate=validate.Length(max=2000), metadata={"title": "验收材料、意见"})


class PhaseOut(Schema):
    id = fields.Integer()
    org_unit_id = fields.Integer()
    org_unit = fields.String()
    phase = fields.String()
    phase_title = fields.String()
    target_date = fields.Date()
    result = fields.String(allow_none=True)
    accepted_on = fields.Date(allow_none=True)
    evidence = fields.String()
    state = fields.String(metadata={"description": "accepted | pending | flagged (past its target date, not accepted)"})


class ProgressOut(Schema):
    org_unit_id = fields.Integer()
    items = fields.List(fields.Nested(PhaseOut))
    figures = fields.Dict(keys=fields.String(), values=fields.Integer())


class ProgressArgs(Schema):
    org_unit_id = IdField(load_default=None, metadata={"description": "单位（含下级）；默认您的最高单位"})


def _phase_out(ctx, row) -> dict:
    unit = ctx.session.get(OrgUnit, (ctx.tenant.id, row.org_unit_id))
    return next(i for i in construction.progress(ctx, settings(), unit)["items"] if i["id"] == row.id)


@blp.route("/construction")
class Construction(MethodView):
    @requires(READ)
    @blp.arguments(ProgressArgs, location="query")
    @blp.response(200, ProgressOut)
    def get(self, args):
        """The plan and its progress in the unit's subtree: each phase with its state and the figures."""
        ctx = current()
        return construction.progress(ctx, settings(), unit_or_404(args["org_unit_id"], READ))

    @requires(MANAGE)
    @blp.arguments(PhasePlanInput)
    @blp.response(201, PhaseOut)
    def post(self, data):
        """Set a unit's phase target date (again: moved)."""
        ctx = current()
        out = _phase_out(ctx, construction.plan(ctx, settings(), data))
        ctx.session.commit()
        return out


@blp.route("/construction/<phase_id>/acceptance")
class Acceptance(MethodView):
    @requires(MANAGE)
    @blp.arguments(PhaseAcceptInput)
    @blp.response(200, PhaseOut)
    def post(self, data, phase_id):
        """Record the check: passed (accepted on the date) or failed (the phase stays open)."""
        ctx = current()
        row = construction.accept(ctx, construction.load(ctx, id_path(phase_id)), data)
        out = _phase_out(ctx, row)
        ctx.session.commit()
        return out


# --- centres (ORG-2, ORG-5) -------------------------------------------------------------------

class Deputy(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=50), metadata={"title": "姓名"})
    post = fields.String(load_default="", validate=validate.Length(max=50), metadata={"title": "职务"})


class CentreInput(Schema):
    name = fields.String(load_default="", validate=validate.Length(max=60), metadata={"title": "中心名称（标识标牌）"})
    director_name = fields.String(load_default="", validate=validate.Length(max=50), metadata={"title": "主任"})
    director_post = fields.String(load_default="", validate=validate.Length(max=50), metadata={"title": "主任职务"})
    deputies = fields.List(fields.Nested(Deputy), load_default=list, validate=validate.Length(max=centres.MAX_DEPUTIES),
                           metadata={"title": "副主任"})
    facilities = fields.List(fields.String(validate=validate.Length(min=1, max=32)), load_default=list,
                             validate=validate.Length(max=40), metadata={
                                 "title": "已具备的功能室和设施", "description": "keys of the county's centre_standard for the unit's level"})
    note = fields.String(load_default="", validate=validate.Length(max=2000), metadata={"title": "备注"})


class FacilityOut(Schema):
    key = fields.String()
    title = fields.String()
    has = fields.Boolean()


class StationedOut(Schema):
    id = fields.Integer()
    name = fields.String()
    category = fields.String()


class CentreOut(Schema):
    org_unit_id = fields.Integer()
    org_unit = fields.String()
    recorded = fields.Boolean(metadata={"description": "false: nothing recorded yet for the unit"})
    name = fields.String()
    director_name = fields.String()
    director_post = fields.String()
    deputies = fields.List(fields.Nested(Deputy))
    facilities = fields.List(fields.Nested(FacilityOut), metadata={"description": "the standard's items for the unit's level"})
    met = fields.Integer()
    required = fields.Integer()
    stationed = fields.List(fields.Nested(StationedOut), metadata={"description": "member units stationed at the unit"})
    note = fields.String()
    updated_at = fields.DateTime(allow_none=True)


class CentreRow(Schema):
    org_unit_id = fields.Integer()
    org_unit = fields.String()
    depth = fields.Integer()
    recorded = fields.Boolean()
    name = fields.String()
    director_name = fields.String()
    director_post = fields.String()
    met = fields.Integer()
    required = fields.Integer()
    missing = fields.List(fields.String())


class CentresOut(Schema):
    org_unit_id = fields.Integer()
    items = fields.List(fields.Nested(CentreRow))
    figures = fields.Dict(keys=fields.String(), values=fields.Integer())


@blp.route("/centres")
class Centres(MethodView):
    @requires(READ)
    @blp.arguments(ProgressArgs, location="query")
    @blp.response(200, CentresOut)
    def get(self, args):
        """The centres of the unit's subtree and how far each meets the county's standard."""
        ctx = current()
        return centres.overview(ctx, settings(), unit_or_404(args["org_unit_id"], READ))


@blp.route("/centres/<unit_id>")
class CentreItem(MethodView):
    @requires(READ)
    @blp.response(200, CentreOut)
    def get(self, unit_id):
        """A unit's centre: sign, director and deputies, stationed member units, the standard's items."""
        ctx = current()
        return centres.view(ctx, settings(), unit_or_404(id_path(unit_id), READ))

    @requires(MANAGE)
    @blp.arguments(CentreInput)
    @blp.response(200, CentreOut)
    def put(self, data, unit_id):
        """Record the unit's centre (every field as sent)."""
        ctx = current()
        unit = unit_or_404(id_path(unit_id), MANAGE)
        conf = settings()
        row = centres.save(ctx, conf, unit, data)
        out = centres.view(ctx, conf, unit, row)
        ctx.session.commit()
        return out
