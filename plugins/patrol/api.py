"""/api/patrol — team members, routes, the duty roster and rounds (PAT-1, PAT-2, PAT-5).

Teams and points are registers (``/api/patrol/teams``, ``/api/patrol/points``: the core's
register API). Everything here is scoped like them: an object outside the caller's units, or
of another county, answers 404.
"""
from __future__ import annotations

from flask import request
from flask.views import MethodView
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from core.sdk import (Blueprint, IdField, IdListArgs, ListArgs, case_or_404, current, id_path, page_of, paginate, requires, scoped,
                      sort_field, kept_file_response)

from . import cameras, clues, findings, rounds, routes, teams
from .models import PatrolDuty, PatrolInspection, PatrolMember, PatrolRound, PatrolRoute
from .permissions import CAMERA_INSPECT, CLUE_READ, CLUE_REPORT, MANAGE, PATROL, READ

blp = Blueprint("patrol", __name__, url_prefix="/api/patrol", description="群防群治 / Patrol")
NOTE = validate.Length(max=500)
# a time of day as HH:MM (the pattern tells OpenAPI clients what a valid one looks like)
HHMM = {"pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9]$"}
COUNT = validate.Range(min=0, max=10000)


class MemberIn(Schema):
    person_id = IdField(load_default=None, metadata={"title": "人员"})
    user_id = IdField(load_default=None, metadata={"title": "系统用户"})
    role = fields.String(load_default="member", validate=validate.OneOf(list(teams.ROLES), labels=list(teams.ROLES.values())),
                         metadata={"title": "职务"})
    joined_on = fields.Date(required=True, metadata={"title": "入队日期"})


class MemberOut(Schema):
    id = fields.Integer()
    team_id = fields.Integer()
    person_id = fields.Integer(allow_none=True)
    user_id = fields.Integer(allow_none=True)
    name = fields.String()
    role = fields.String()
    joined_on = fields.Date()
    left_on = fields.Date(allow_none=True)


class LeaveIn(Schema):
    left_on = fields.Date(required=True, metadata={"title": "离队日期"})


class RouteIn(Schema):
    org_unit_id = IdField(required=True, metadata={"title": "所属单位"})
    team_id = IdField(load_default=None, metadata={"title": "巡逻队伍"})
    name = fields.String(required=True, validate=validate.Length(min=1, max=60), metadata={"title": "路线名称"})
    window_start = fields.Time(required=True, metadata={"title": "计划开始时间", **HHMM})
    window_end = fields.Time(required=True, metadata={"title": "计划结束时间", **HHMM})
    point_ids = fields.List(IdField(), required=True, validate=validate.Length(min=1, max=200),
                            metadata={"title": "巡逻点（按顺序）"})


class RouteOut(Schema):
    id = fields.Integer()
    org_unit_id = fields.Integer()
    team_id = fields.Integer(allow_none=True)
    name = fields.String()
    window_start = fields.Time()
    window_end = fields.Time()
    point_ids = fields.List(fields.Integer())


class DutyIn(Schema):
    route_id = IdField(required=True, metadata={"title": "巡逻路线"})
    member_id = IdField(required=True, metadata={"title": "值班队员"})
    duty_date = fields.Date(required=True, metadata={"title": "值班日期"})
    shift_start = fields.Time(required=True, metadata={"title": "班次开始", **HHMM})
    shift_end = fields.Time(required=True, metadata={"title": "班次结束", **HHMM})


class DutyOut(Schema):
    id = fields.Integer()
    org_unit_id = fields.Integer()
    route_id = fields.Integer()
    member_id = fields.Integer()
    duty_date = fields.Date()
    shift_start = fields.Time()
    shift_end = fields.Time()
    starts_at = fields.DateTime()
    ends_at = fields.DateTime()


class DutyArgs(IdListArgs):
    route_id = IdField(load_default=None)
    duty_date = fields.Date(load_default=None)


class StartIn(Schema):
    route_id = IdField(required=True, metadata={"title": "巡逻路线"})


class CheckInIn(Schema):
    point_id = IdField(required=True, metadata={"title": "巡逻点"})
    latitude = fields.Float(load_default=None, validate=validate.Range(min=-90, max=90), metadata={"title": "纬度"})
    longitude = fields.Float(load_default=None, validate=validate.Range(min=-180, max=180), metadata={"title": "经度"})
    note = fields.String(load_default=None, validate=NOTE, metadata={"title": "情况说明"})


class CheckInOut(Schema):
    id = fields.Integer()
    point_id = fields.Integer()
    at = fields.DateTime()
    on_time = fields.Boolean()
    latitude = fields.Float(allow_none=True)
    longitude = fields.Float(allow_none=True)
    note = fields.String(allow_none=True)
    has_photo = fields.Function(lambda c: getattr(c, "photo_key", None) is not None, metadata={
        "type": "boolean", "description": "有打卡照片（GET /api/patrol/check-ins/<id>/photo）"})


class PhotoIn(Schema):
    photo = fields.Raw(load_default=None, metadata={
        "type": "string", "format": "binary", "description": "在巡逻点拍的照片（JPEG/PNG/GIF/WebP，按文件内容判断）"})


class EndIn(Schema):
    caught = fields.Integer(load_default=0, validate=COUNT, metadata={"title": "抓获嫌疑人（人）"})
    stopped = fields.Integer(load_default=0, validate=COUNT, metadata={"title": "制止违法犯罪（起）"})
    hazards = fields.Integer(load_default=0, validate=COUNT, metadata={"title": "发现隐患（处）"})
    disputes = fields.Integer(load_default=0, validate=COUNT, metadata={"title": "发现纠纷（起）"})
    helped = fields.Integer(load_default=0, validate=COUNT, metadata={"title": "帮助群众（人次）"})
    note = fields.String(load_default=None, validate=NOTE, metadata={"title": "巡逻情况"})


class RoundOut(Schema):
    id = fields.Integer()
    org_unit_id = fields.Integer()
    route_id = fields.Integer()
    started_by = fields.Integer(allow_none=True)
    started_at = fields.DateTime()
    ended_at = fields.DateTime(allow_none=True)
    window_start_at = fields.DateTime()
    window_end_at = fields.DateTime()
    planned = fields.Integer()
    visited = fields.Integer()
    on_time = fields.Integer()
    late = fields.Integer()
    compliance = fields.Float(allow_none=True)
    threshold = fields.Integer(allow_none=True)
    flagged = fields.Boolean()
    caught = fields.Integer()
    stopped = fields.Integer()
    hazards = fields.Integer()
    disputes = fields.Integer()
    helped = fields.Integer()
    note = fields.String(allow_none=True)
    check_ins = fields.List(fields.Nested(CheckInOut))
    findings = fields.List(fields.Nested(lambda: FindingOut()), metadata={"description": "转为事项的发现情况"})


class FindingOut(Schema):
    id = fields.Integer()
    kind = fields.String(metadata={"description": "dispute 矛盾纠纷 | hazard 安全隐患 | other 其他情况"})
    kind_title = fields.String()
    title = fields.String()
    case_id = fields.Integer(allow_none=True, metadata={"description": "转成的纠纷或隐患"})
    case_number = fields.String(allow_none=True)
    intake_id = fields.Integer(allow_none=True, metadata={"description": "或转至统一受理的事项"})
    created_at = fields.DateTime()


class RoundArgs(ListArgs):
    sort = sort_field({"id": None, "started_at": None})
    route_id = IdField(load_default=None)
    flagged = fields.Boolean(load_default=None)


def _member_out(session, members) -> list[dict]:
    named = teams.names(session, members)
    return [{**{k: getattr(m, k) for k in ("id", "team_id", "person_id", "user_id", "role", "joined_on", "left_on")},
             "name": named[m.id]} for m in members]


def _route_out(session, route: PatrolRoute) -> dict:
    return {**{k: getattr(route, k) for k in ("id", "org_unit_id", "team_id", "name", "window_start", "window_end")},
            "point_ids": [p.id for p in routes.route_points(session, route.id)]}


def _round_out(session, rnd: PatrolRound) -> dict:
    d = {c.key: getattr(rnd, c.key) for c in rnd.__table__.c if c.key != "tenant_id"}
    d["check_ins"] = rounds.check_ins(session, rnd)
    d["findings"] = findings.of_round(session, rnd)
    return d


@blp.route("/teams/<team_id>/members")
class Members(MethodView):
    @requires(READ)
    @blp.response(200, MemberOut(many=True))
    def get(self, team_id):
        """The team's members, those who left included (with ``left_on``)."""
        ctx = current()
        team = teams.team_or_404(ctx, id_path(team_id))
        rows = ctx.session.scalars(select(PatrolMember).where(PatrolMember.team_id == team.id)
                                   .order_by(PatrolMember.id)).all()
        return _member_out(ctx.session, rows)

    @requires(MANAGE)
    @blp.arguments(MemberIn)
    @blp.response(201, MemberOut)
    def post(self, data, team_id):
        """Add a person of the register (``person_id``) or a user (``user_id``) — one of them."""
        ctx = current()
        m = teams.add(ctx, teams.team_or_404(ctx, id_path(team_id), MANAGE), data)
        out = _member_out(ctx.session, [m])[0]
        ctx.session.commit()
        return out


@blp.route("/members/<member_id>/leave")
class Leave(MethodView):
    @requires(MANAGE)
    @blp.arguments(LeaveIn)
    @blp.response(200, MemberOut)
    def post(self, data, member_id):
        """Record the member's leaving date (409 ``already_left`` the second time)."""
        ctx = current()
        m = teams.leave(ctx, teams.member_or_404(ctx, id_path(member_id), MANAGE), data["left_on"])
        out = _member_out(ctx.session, [m])[0]
        ctx.session.commit()
        return out


@blp.route("/routes")
class Routes(MethodView):
    @requires(READ)
    @blp.arguments(IdListArgs, location="query")
    @blp.response(200, page_of(RouteOut))
    def get(self, args):
        """The routes of the caller's units."""
        ctx = current()
        page = paginate(ctx.session, scoped(select(PatrolRoute), ctx.grants, READ, PatrolRoute.org_unit_id), args,
                        PatrolRoute.id, {"id": PatrolRoute.id}, "id")
        page["items"] = [_route_out(ctx.session, r) for r in page["items"]]
        return page

    @requires(MANAGE)
    @blp.arguments(RouteIn)
    @blp.response(201, RouteOut)
    def post(self, data):
        """A route: its unit, team, planned daily window and its points in order."""
        ctx = current()
        route = routes.create_route(ctx, data)
        out = _route_out(ctx.session, route)
        ctx.session.commit()
        return out


@blp.route("/routes/<route_id>")
class RouteOne(MethodView):
    @requires(READ)
    @blp.response(200, RouteOut)
    def get(self, route_id):
        ctx = current()
        return _route_out(ctx.session, routes.route_or_404(ctx, id_path(route_id)))


@blp.route("/duties")
class Duties(MethodView):
    @requires(READ)
    @blp.arguments(DutyArgs, location="query")
    @blp.response(200, page_of(DutyOut))
    def get(self, args):
        """The roster of the caller's units, filtered by route and date."""
        ctx = current()
        stmt = scoped(select(PatrolDuty), ctx.grants, READ, PatrolDuty.org_unit_id)
        if args.get("route_id"):
            stmt = stmt.where(PatrolDuty.route_id == args["route_id"])
        if args.get("duty_date"):
            stmt = stmt.where(PatrolDuty.duty_date == args["duty_date"])
        return paginate(ctx.session, stmt, args, PatrolDuty.id, {"id": PatrolDuty.id}, "id")

    @requires(MANAGE)
    @blp.arguments(DutyIn)
    @blp.response(201, DutyOut)
    def post(self, data):
        """Put a member on a route for a shift; 409 ``duty_overlap`` naming the person and the other
        shift when the same person is already on one that overlaps."""
        ctx = current()
        duty = routes.add_duty(ctx, data)
        ctx.session.commit()
        return duty


@blp.route("/rounds")
class Rounds(MethodView):
    @requires(READ)
    @blp.arguments(RoundArgs, location="query")
    @blp.response(200, page_of(RoundOut))
    def get(self, args):
        """Rounds of the caller's units, newest first; ``flagged=true`` for those under the threshold."""
        ctx = current()
        stmt = scoped(select(PatrolRound), ctx.grants, READ, PatrolRound.org_unit_id)
        if args.get("route_id"):
            stmt = stmt.where(PatrolRound.route_id == args["route_id"])
        if args.get("flagged") is not None:
            stmt = stmt.where(PatrolRound.flagged.is_(args["flagged"]))
        page = paginate(ctx.session, stmt, args, PatrolRound.id,
                        {"id": PatrolRound.id, "started_at": PatrolRound.started_at}, "-id")
        page["items"] = [_round_out(ctx.session, r) for r in page["items"]]
        return page

    @requires(PATROL)
    @blp.arguments(StartIn)
    @blp.response(201, RoundOut)
    def post(self, data):
        """Start a round of a route."""
        ctx = current()
        rnd = rounds.start(ctx, data["route_id"])
        out = _round_out(ctx.session, rnd)
        ctx.session.commit()
        return out


@blp.route("/rounds/<round_id>")
class RoundOne(MethodView):
    @requires(READ)
    @blp.response(200, RoundOut)
    def get(self, round_id):
        ctx = current()
        return _round_out(ctx.session, rounds.round_or_404(ctx, id_path(round_id)))


@blp.route("/rounds/<round_id>/check-ins")
class CheckIns(MethodView):
    @requires(PATROL)
    @blp.arguments(CheckInIn)
    @blp.response(201, CheckInOut)
    def post(self, data, round_id):
        """Check in at a point of the route, now (on time inside the planned window, else late)."""
        ctx = current()
        c = rounds.check_in(ctx, rounds.round_or_404(ctx, id_path(round_id), PATROL), data)
        ctx.session.commit()
        return c


@blp.route("/check-ins/<check_in_id>/photo")
class CheckInPhoto(MethodView):
    @requires(READ)
    @blp.doc(responses={"200": {"description": "the photo, as an attachment", "content": {
        ct: {"schema": {"type": "string", "format": "binary"}} for ct in ("image/jpeg", "image/png", "image/gif", "image/webp")}}})
    def get(self, check_in_id):
        """Download a check-in's photo (404 ``no_file`` without one)."""
        ctx = current()
        c = rounds.check_in_or_404(ctx, id_path(check_in_id))
        return kept_file_response(c, "photo", "打卡照片")

    @requires(PATROL)
    @blp.arguments(PhotoIn, location="files")
    @blp.response(200, CheckInOut)
    @blp.alt_response(415, description="unsupported_type: not an image")
    def post(self, files, check_in_id):
        """Add the photo taken at the point to a check-in of a round you patrol (multipart
        ``photo``); a new one replaces the old."""
        ctx = current()
        c = rounds.attach_photo(ctx, rounds.check_in_or_404(ctx, id_path(check_in_id), PATROL), request.files.get("photo"))
        ctx.session.commit()
        return c


@blp.route("/rounds/<round_id>/end")
class End(MethodView):
    @requires(PATROL)
    @blp.arguments(EndIn)
    @blp.response(200, RoundOut)
    def post(self, data, round_id):
        """End the round with its results; it is flagged under the county's compliance threshold."""
        ctx = current()
        rnd = rounds.end(ctx, rounds.round_or_404(ctx, id_path(round_id), PATROL), data)
        out = _round_out(ctx.session, rnd)
        ctx.session.commit()
        return out


@blp.route("/rounds/<round_id>/findings")
class Findings(MethodView):
    @requires(PATROL)
    @blp.arguments(findings.FindingIn)
    @blp.response(201, FindingOut)
    def post(self, data, round_id):
        """Turn what the round found into work in one act: a dispute (mediation on), a hazard
        (safety on) or a matter at the one window; the round lists it, the case names the round."""
        ctx = current()
        rnd = rounds.round_or_404(ctx, id_path(round_id), PATROL)
        row = findings.turn(ctx, rnd, data)
        out = next(f for f in findings.of_round(ctx.session, rnd) if f["id"] == row.id)
        ctx.session.commit()
        return out


class ClueIn(Schema):
    org_unit_id = IdField(required=True, metadata={"title": "所在单位"})
    title = fields.String(required=True, validate=validate.Length(min=1, max=100), metadata={"title": "什么情况"})
    place = fields.String(required=True, validate=validate.Length(min=1, max=200), metadata={"title": "地点"})
    occurred_at = fields.AwareDateTime(load_default=None, metadata={"title": "发生时间"})
    content = fields.String(required=True, validate=validate.Length(min=1, max=5000), metadata={"title": "详细情况"})
    anonymous = fields.Boolean(load_default=False, metadata={"title": "匿名报送"})


class ClueOut(Schema):
    id = fields.Integer()
    number = fields.String()
    state = fields.String()


class ReporterOut(Schema):
    anonymous = fields.Boolean()
    reporter = fields.String(allow_none=True)


@blp.route("/clues")
class Clues(MethodView):
    @requires(CLUE_REPORT)
    @blp.arguments(ClueIn)
    @blp.response(201, ClueOut)
    def post(self, data):
        """Report a clue (a ``patrol.clue`` case, worked at ``/api/cases/<id>``); ``anonymous``: the case
        and its timeline name nobody, and handlers never see the reporter."""
        ctx = current()
        case = clues.report(ctx, data)
        out = {"id": case.id, "number": case.number, "state": case.state}
        ctx.session.commit()
        return out


@blp.route("/clues/<case_id>/reporter")
class Reporter(MethodView):
    @requires(CLUE_READ)
    @blp.response(200, ReporterOut)
    def get(self, case_id):
        """Who reported the clue: an anonymous clue's reporter only for ``patrol.clue.reporter.read``
        holders (audited as ``read_sensitive``), ``null`` for everyone else."""
        w, case, _ = case_or_404(case_id, case_type=clues.KEY)
        out = clues.reporter(current(), case)
        w.session.commit()
        return out


class InspectionIn(Schema):
    label_ok = fields.Boolean(required=True, metadata={"title": "标识完好"})
    housing_ok = fields.Boolean(required=True, metadata={"title": "外壳完好"})
    cables_ok = fields.Boolean(required=True, metadata={"title": "线缆完好"})
    picture_ok = fields.Boolean(required=True, metadata={"title": "画面正常"})
    note = fields.String(load_default=None, validate=NOTE, metadata={"title": "说明"})


class InspectionOut(Schema):
    id = fields.Integer()
    camera_id = fields.Integer()
    at = fields.DateTime()
    label_ok = fields.Boolean()
    housing_ok = fields.Boolean()
    cables_ok = fields.Boolean()
    picture_ok = fields.Boolean()
    note = fields.String(allow_none=True)
    ticket_case_id = fields.Integer(allow_none=True)


@blp.route("/cameras/<camera_id>/inspections")
class Inspections(MethodView):
    @requires(READ)
    @blp.response(200, InspectionOut(many=True))
    def get(self, camera_id):
        """The camera's inspections, newest first."""
        ctx = current()
        camera = cameras.camera_or_404(ctx, id_path(camera_id))
        return ctx.session.scalars(select(PatrolInspection).where(PatrolInspection.camera_id == camera.id)
                                   .order_by(PatrolInspection.id.desc()).limit(200)).all()

    @requires(CAMERA_INSPECT)
    @blp.arguments(InspectionIn)
    @blp.response(201, InspectionOut)
    def post(self, data, camera_id):
        """Record an inspection; a fault marks the camera faulty and raises a repair ticket
        (``patrol.repair``, with the county's limit), one open ticket per camera."""
        ctx = current()
        row = cameras.inspect(ctx, cameras.camera_or_404(ctx, id_path(camera_id), CAMERA_INSPECT), data)
        ctx.session.commit()
        return row
