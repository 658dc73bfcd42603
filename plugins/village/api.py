"""/api/village — the module's acts (docs/village.md):

- projects: propose, the council's discussion, the meeting's vote, progress, completion (VIL-3);
- publications of a project's decision, progress and completion (VIL-4), and the public,
  sign-in-free list of a village's published projects (``/api/village/public``);
- the yearly two-ballot evaluation (VIL-5): its rectification is a case (``/api/cases``).

Objects outside the user's units, or of another county, answer 404.
"""
from __future__ import annotations

from flask import request
from flask.views import MethodView
from marshmallow import Schema, ValidationError, fields, validate
from sqlalchemy import select

from core.sdk import (Blueprint, Case, IdField, IdListArgs, NotFound, OrgUnit, current, get_or_404, id_path,
                      page_of, paginate, public, rate_limit, request_work, requires, scoped, unit_or_404,
                      units_under)

from . import evaluations, projects, publicity
from .models import Evaluation, Project, Publication
from .permissions import DELIBERATE, EVALUATE, PUBLISH, READ
from .settings import BODIES

blp = Blueprint("village", __name__, url_prefix="/api/village", description="村务五事 / Village affairs")
public_blp = Blueprint("village_public", __name__, url_prefix="/api/village/public",
                       description="村务公开（无需登录）/ Public village affairs")
TEXT = validate.Length(min=1, max=2000)
COUNT = validate.Range(min=0, max=1_000_000)


# --- projects (VIL-3) -----------------------------------------------------------------------------

def _budget_in_range(value) -> None:
    if not 0 <= value <= 999_999_999_999:
        raise ValidationError("预算须在 0 至 999999999999 元之间")


class ProjectInput(Schema):
    org_unit_id = IdField(required=True, metadata={"title": "村（社区）"})
    title = fields.String(required=True, validate=validate.Length(min=2, max=100), metadata={"title": "项目名称"})
    summary = fields.String(load_default="", validate=validate.Length(max=2000), metadata={"title": "项目内容"})
    # the bounds in metadata as numbers: a Range on a Decimal of fixed places reaches OpenAPI as strings
    budget = fields.Decimal(required=True, places=2, as_string=True, validate=_budget_in_range,
                            metadata={"title": "预算（元）", "minimum": 0, "maximum": 999_999_999_999})
    proposed_on = fields.Date(required=True, metadata={"title": "提议日期"})


class DiscussionInput(Schema):
    discussed_on = fields.Date(required=True, metadata={"title": "两委讨论日期"})
    opinion = fields.String(required=True, validate=TEXT, metadata={"title": "两委意见"})
    submit = fields.Boolean(required=True, metadata={"title": "同意提交村民会议或村民代表会议表决"})


class VoteInput(Schema):
    body = fields.String(required=True, validate=validate.OneOf(list(BODIES), labels=[b[0] for b in BODIES.values()]),
                         metadata={"title": "表决会议"})
    voted_on = fields.Date(required=True, metadata={"title": "表决日期"})
    members = fields.Integer(required=True, validate=validate.Range(min=1, max=1_000_000),
                             metadata={"title": "应到人数（户数）"})
    present = fields.Integer(required=True, validate=COUNT, metadata={"title": "实到人数（户数）"})
    votes_for = fields.Integer(required=True, validate=COUNT, metadata={"title": "赞成票"})
    votes_against = fields.Integer(required=True, validate=COUNT, metadata={"title": "反对票"})
    votes_abstain = fields.Integer(load_default=0, validate=COUNT, metadata={"title": "弃权票"})
    minutes = fields.String(load_default="", validate=validate.Length(max=5000), metadata={"title": "会议记录摘要"})


class ProgressInput(Schema):
    progress_on = fields.Date(required=True, metadata={"title": "进度日期"})
    progress_pct = fields.Integer(required=True, validate=validate.Range(min=0, max=99),
                                  metadata={"title": "完成比例（%）"})
    note = fields.String(required=True, validate=TEXT, metadata={"title": "进展情况"})


class CompletionInput(Schema):
    completed_on = fields.Date(required=True, metadata={"title": "完工日期"})
    note = fields.String(required=True, validate=TEXT, metadata={"title": "完工情况"})


class PublishInput(Schema):
    stage = fields.String(required=True, validate=validate.OneOf(list(publicity.STAGES),
                                                                  labels=list(publicity.STAGES.values())),
                          metadata={"title": "公开内容"})


class ProjectOut(Schema):
    id = fields.Integer()
    org_unit_id = fields.Integer()
    org_unit_name = fields.String()
    title = fields.String()
    summary = fields.String()
    budget = fields.String()
    state = fields.String()
    state_title = fields.String()
    proposed_on = fields.Date()
    discussed_on = fields.Date(allow_none=True)
    council_opinion = fields.String()
    body = fields.String(allow_none=True)
    body_title = fields.String(allow_none=True)
    voted_on = fields.Date(allow_none=True)
    members = fields.Integer(allow_none=True)
    present = fields.Integer(allow_none=True)
    votes_for = fields.Integer(allow_none=True)
    votes_against = fields.Integer(allow_none=True)
    votes_abstain = fields.Integer(allow_none=True)
    approval = fields.String(allow_none=True, metadata={"description": "赞成票占到会人员的百分比"})
    approval_pct = fields.Integer(allow_none=True, metadata={"description": "表决时本县的通过比例"})
    minutes = fields.String()
    progress_pct = fields.Integer()
    progress_note = fields.String()
    progress_on = fields.Date(allow_none=True)
    completed_on = fields.Date(allow_none=True)
    completion_note = fields.String()
    has_minutes_photo = fields.Boolean(metadata={"description": "已上传签字的表决记录照片（GET …/minutes-photo 下载）"})
    minutes_photo_filename = fields.String(allow_none=True)
    minutes_photo_at = fields.DateTime(allow_none=True, metadata={"description": "上传时间"})


class ProjectArgs(IdListArgs):
    org_unit_id = IdField(load_default=None, metadata={"description": "该单位及其下级"})
    state = fields.String(validate=validate.OneOf(list(projects.STATES)))


def _unit_name(session, unit_id: int) -> str:
    return session.scalar(select(OrgUnit.name).where(OrgUnit.id == unit_id)) or ""


def project_or_404(raw_id, perm: str) -> Project:
    ctx = current()
    return get_or_404(ctx.session, ctx.grants, Project, id_path(raw_id), perm)


def _out(p: Project) -> dict:
    return projects.project_out(p, _unit_name(current().session, p.org_unit_id))


@blp.route("/projects")
class Projects(MethodView):
    @requires(READ)
    @blp.arguments(ProjectArgs, location="query")
    @blp.response(200, page_of(ProjectOut))
    def get(self, args):
        """Village projects in your units (or under ``org_unit_id``), newest first."""
        ctx = current()
        q = scoped(select(Project), ctx.grants, READ, Project.org_unit_id)
        if args.get("org_unit_id") is not None:
            q = q.where(Project.org_unit_id.in_(units_under(unit_or_404(args["org_unit_id"], READ).path)))
        if args.get("state"):
            q = q.where(Project.state == args["state"])
        page = paginate(ctx.session, q, args, Project.id, {"id": Project.id}, "-id")
        return {"items": [_out(p) for p in page["items"]], "next_cursor": page["next_cursor"]}

    @requires(DELIBERATE)
    @blp.arguments(ProjectInput)
    @blp.response(201, ProjectOut)
    def post(self, data):
        """Propose a project in a village (集中议事 begins)."""
        w = request_work()
        p = projects.propose(w, projects.village(w, data["org_unit_id"], DELIBERATE), data)
        w.session.commit()
        return _out(p)


@blp.route("/projects/<project_id>")
class ProjectView(MethodView):
    @requires(READ)
    @blp.response(200, ProjectOut)
    def get(self, project_id):
        return _out(project_or_404(project_id, READ))


def _act(project_id, perm: str, act, data) -> dict:
    p = project_or_404(project_id, perm)
    w = request_work()
    act(w, p, data)
    w.session.commit()
    return _out(p)


@blp.route("/projects/<project_id>/discussion")
class Discussion(MethodView):
    @requires(DELIBERATE)
    @blp.arguments(DiscussionInput)
    @blp.response(200, ProjectOut)
    def post(self, data, project_id):
        """The council's (村两委) discussion: put the project to the vote, or not."""
        return _act(project_id, DELIBERATE, projects.discuss, data)


@blp.route("/projects/<project_id>/vote")
class Vote(MethodView):
    @requires(DELIBERATE)
    @blp.arguments(VoteInput)
    @blp.response(200, ProjectOut)
    def post(self, data, project_id):
        """The vote of the villagers' meeting or the representatives' meeting. Refused (422 at the
        field) below the quorum or when the figures do not reconcile; passed only at the county's
        approval share of those present (and more than half of them)."""
        return _act(project_id, DELIBERATE, projects.vote, data)


@blp.route("/projects/<project_id>/progress")
class Progress(MethodView):
    @requires(DELIBERATE)
    @blp.arguments(ProgressInput)
    @blp.response(200, ProjectOut)
    def post(self, data, project_id):
        """Progress of a project that passed (409 ``project_failed`` for one that did not)."""
        return _act(project_id, DELIBERATE, projects.progress, data)


@blp.route("/projects/<project_id>/completion")
class Completion(MethodView):
    @requires(DELIBERATE)
    @blp.arguments(CompletionInput)
    @blp.response(200, ProjectOut)
    def post(self, data, project_id):
        return _act(project_id, DELIBERATE, projects.complete, data)


# --- publications (VIL-4) ---------------------------------------------------------------------------

class PublicationOut(Schema):
    id = fields.Integer()
    project_id = fields.Integer()
    stage = fields.String()
    stage_title = fields.String()
    content = fields.String()
    act_on = fields.Date()
    published_on = fields.Date()
    on_time = fields.Boolean(allow_none=True, metadata={"description": "按时公开；本县未设时限时为空"})


def _pub_out(r: Publication) -> dict:
    return {"id": r.id, "project_id": r.project_id, "stage": r.stage, "stage_title": publicity.STAGES[r.stage],
            "content": r.content, "act_on": r.act_on, "published_on": r.published_on, "on_time": r.on_time}


@blp.route("/projects/<project_id>/publications")
class Publications(MethodView):
    @requires(READ)
    @blp.response(200, PublicationOut(many=True))
    def get(self, project_id):
        """What of the project was published, and when."""
        p = project_or_404(project_id, READ)
        rows = current().session.scalars(select(Publication).where(Publication.project_id == p.id)
                                         .order_by(Publication.published_at, Publication.id))
        return [_pub_out(r) for r in rows]

    @requires(PUBLISH)
    @blp.arguments(PublishInput)
    @blp.response(201, PublicationOut)
    def post(self, data, project_id):
        """Publish the decision, the progress or the completion on the village's public page."""
        p = project_or_404(project_id, PUBLISH)
        w = request_work()
        row = publicity.publish(w, p, data["stage"])
        w.session.commit()
        return _pub_out(row)


class PublicStageOut(Schema):
    stage = fields.String()
    stage_title = fields.String()
    content = fields.String()
    published_on = fields.Date()


class PublicProjectOut(Schema):
    id = fields.Integer()
    title = fields.String()
    stages = fields.List(fields.Nested(PublicStageOut))


class PublicVillageOut(Schema):
    village = fields.String()
    projects = fields.List(fields.Nested(PublicProjectOut))


def public_village(raw_id) -> OrgUnit:
    """A village of the county, for the public page; 404 for anything else. Rate-limited per
    address like every public endpoint."""
    from flask import request
    ctx = current()
    if ctx.plugins.get("village") is None:
        raise NotFound()
    rate_limit(f"village.public:{ctx.tenant.id}:{request.remote_addr}", 120)
    unit = ctx.session.scalar(select(OrgUnit).where(OrgUnit.id == id_path(raw_id), OrgUnit.status == "active",
                                                    OrgUnit.level.in_(projects.VILLAGE_LEVELS)))
    if unit is None:
        raise NotFound()
    return unit


@public_blp.route("/villages/<unit_id>")
class PublicVillage(MethodView):
    @public
    @public_blp.response(200, PublicVillageOut)
    def get(self, unit_id):
        """A village's published projects (no sign-in): only what was published, with its date;
        no names, no minutes, nothing of a person."""
        unit = public_village(unit_id)
        return {"village": unit.name, "projects": publicity.public_view(current().session, unit)}


# --- two-ballot evaluation (VIL-5) ------------------------------------------------------------------

class EvaluationInput(Schema):
    org_unit_id = IdField(required=True, metadata={"title": "村（社区）"})
    year = fields.Integer(required=True, validate=validate.Range(min=2000, max=2100), metadata={"title": "评议年度"})
    subject = fields.String(load_default="村两委班子和村干部", validate=validate.Length(min=2, max=100),
                            metadata={"title": "评议对象"})
    held_on = fields.Date(required=True, metadata={"title": "评议日期"})
    villager_issued = fields.Integer(required=True, validate=COUNT, metadata={"title": "村民票发出"})
    villager_satisfied = fields.Integer(required=True, validate=COUNT, metadata={"title": "村民票满意"})
    villager_basic = fields.Integer(required=True, validate=COUNT, metadata={"title": "村民票基本满意"})
    villager_unsatisfied = fields.Integer(required=True, validate=COUNT, metadata={"title": "村民票不满意"})
    party_issued = fields.Integer(required=True, validate=COUNT, metadata={"title": "党员票发出"})
    party_satisfied = fields.Integer(required=True, validate=COUNT, metadata={"title": "党员票满意"})
    party_basic = fields.Integer(required=True, validate=COUNT, metadata={"title": "党员票基本满意"})
    party_unsatisfied = fields.Integer(required=True, validate=COUNT, metadata={"title": "党员票不满意"})


class EvaluationOut(EvaluationInput):
    id = fields.Integer()
    org_unit_name = fields.String()
    villager_pct = fields.String()
    party_pct = fields.String()
    threshold_pct = fields.Integer()
    passed = fields.Boolean()
    case_id = fields.Integer(allow_none=True, metadata={"description": "整改事项（village.rectification）"})
    case_number = fields.String(allow_none=True)
    case_state = fields.String(allow_none=True)
    case_due_at = fields.DateTime(allow_none=True)
    case_closed = fields.Boolean(allow_none=True)


class EvaluationArgs(IdListArgs):
    org_unit_id = IdField(load_default=None)
    year = fields.Integer(validate=validate.Range(min=2000, max=2100))


def evaluation_view(session, e: Evaluation) -> dict:
    case = session.scalar(select(Case).where(Case.id == e.case_id)) if e.case_id else None
    return evaluations.evaluation_out(e, _unit_name(session, e.org_unit_id), case)


@blp.route("/evaluations")
class Evaluations(MethodView):
    @requires(READ)
    @blp.arguments(EvaluationArgs, location="query")
    @blp.response(200, page_of(EvaluationOut))
    def get(self, args):
        """The two-ballot evaluations of your units, newest first."""
        ctx = current()
        q = scoped(select(Evaluation), ctx.grants, READ, Evaluation.org_unit_id)
        if args.get("org_unit_id") is not None:
            q = q.where(Evaluation.org_unit_id.in_(units_under(unit_or_404(args["org_unit_id"], READ).path)))
        if args.get("year"):
            q = q.where(Evaluation.year == args["year"])
        page = paginate(ctx.session, q, args, Evaluation.id, {"id": Evaluation.id}, "-id")
        return {"items": [evaluation_view(ctx.session, e) for e in page["items"]], "next_cursor": page["next_cursor"]}

    @requires(EVALUATE)
    @blp.arguments(EvaluationInput)
    @blp.response(201, EvaluationOut)
    def post(self, data):
        """Enter a village's yearly two ballots; under the county's satisfaction threshold the
        rectification is registered with its time limit (``case_id``)."""
        w = request_work()
        e = evaluations.evaluate(w, projects.village(w, data["org_unit_id"], EVALUATE), data)
        w.session.commit()
        return evaluation_view(w.session, e)


@blp.route("/evaluations/<evaluation_id>")
class EvaluationView(MethodView):
    @requires(READ)
    @blp.response(200, EvaluationOut)
    def get(self, evaluation_id):
        ctx = current()
        return evaluation_view(ctx.session, get_or_404(ctx.session, ctx.grants, Evaluation, id_path(evaluation_id),
                                                       READ))


# --- cadres ask (VIL-1): each cadre's contacts against the quota --------------------------------------

class FiguresArgs(Schema):
    org_unit_id = IdField(load_default=None, metadata={"description": "该单位及其下级（默认：您的最高单位）"})
    day = fields.Date(load_default=None, metadata={"description": "考核周期内的任一天（默认今天）"})


class CadreFiguresOut(Schema):
    user_id = fields.Integer()
    name = fields.String()
    counts = fields.Dict(keys=fields.String(), values=fields.Integer())
    met = fields.Boolean()


class FiguresOut(Schema):
    first = fields.Date()
    last = fields.Date()
    quota = fields.Dict(keys=fields.String(), values=fields.Integer())
    cadres = fields.List(fields.Nested(CadreFiguresOut))


@blp.route("/contact-figures")
class ContactFigures(MethodView):
    @requires(READ)
    @blp.arguments(FiguresArgs, location="query")
    @blp.response(200, FiguresOut)
    def get(self, args):
        """Each cadre's contacts ("四个一") in the county's period holding ``day``, per kind of
        person contacted, and whether the quota is met."""
        from .registers import figures
        unit = unit_or_404(args["org_unit_id"], READ)
        return figures(current().session, unit, args["day"] or projects.today())


# --- printable minutes of the vote (VIL-3) ------------------------------------------------------------


class PhotoFile(Schema):
    file = fields.Raw(load_default=None, metadata={
        "type": "string", "format": "binary",
        "description": "签字后的表决记录：照片（JPEG/PNG/GIF/WebP）或 PDF，按文件内容判断"})


@blp.route("/projects/<project_id>/minutes-photo")
class MinutesPhoto(MethodView):
    @requires(READ)
    @blp.doc(responses={"200": {"description": "the photo, as an attachment", "content": {
        ct: {"schema": {"type": "string", "format": "binary"}}
        for ct in ("application/pdf", "image/jpeg", "image/png", "image/gif", "image/webp")}}})
    def get(self, project_id):
        """Download the photo of the minutes as signed (404 ``no_file`` before one is uploaded)."""
        from core.sdk import kept_file_response
        return kept_file_response(project_or_404(project_id, READ), "minutes_photo", "表决记录")

    @requires(DELIBERATE)
    @blp.arguments(PhotoFile, location="files")
    @blp.response(200, ProjectOut)
    @blp.alt_response(409, description="not_voted: upload it after the vote")
    @blp.alt_response(415, description="unsupported_type: not a photo or a PDF")
    def post(self, files, project_id):
        """Upload the photo (or scan) of the minutes as signed at the meeting (multipart ``file``),
        after the vote; a new one replaces the old. Kept with the project, never published."""
        p = project_or_404(project_id, DELIBERATE)
        w = request_work()
        projects.attach_minutes_photo(w, p, request.files.get("file"))
        w.session.commit()
        return _out(p)


@blp.route("/projects/<project_id>/minutes")
class Minutes(MethodView):
    @requires(READ)
    @blp.doc(responses={"200": {"description": "表决记录 PDF", "content": {
        "application/pdf": {"schema": {"type": "string", "format": "binary"}}}}})
    def get(self, project_id):
        """The minutes of the vote as a PDF to print, sign and keep (409 before the vote)."""
        from pathlib import Path

        from core.sdk import Conflict, DocumentTemplate, download_response, render_pdf

        from .settings import quorum
        p = project_or_404(project_id, READ)
        if p.voted_on is None:
            raise Conflict("not_voted", "项目尚未表决")
        view = _out(p)
        rule = quorum({f"{p.body}_quorum": p.quorum_rule}, p.body)
        template = DocumentTemplate("village.minutes", "村级项目议事表决记录", "minutes.html",
                                    str(Path(__file__).parent / "templates" / "documents"))
        today = projects.today()
        pdf = render_pdf(template, {"p": view, "quorum": rule.title, "source": BODIES[p.body][3],
                                    "county": current().tenant.name,
                                    "today": f"{today.year}年{today.month}月{today.day}日"})
        return download_response(pdf, f"{p.title}表决记录.pdf", "application/pdf")
