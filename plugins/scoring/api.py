"""/api/scoring — rubrics (versioned per level and year), periods and their scores, assessors'
entries, publishing, the ranking (.xlsx), appeals. Units outside the user's scope, and objects
of another county, answer 404."""
from __future__ import annotations

from flask.views import MethodView
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from core.sdk import (Blueprint, IdField, ListArgs, county_indicators, current, download_response, module_settings,
                      page_of, paginate, requires)

from . import acts, scores
from .models import Period, Rubric
from .permissions import ASSESS, MANAGE, READ
from .rubric import KINDS, Item, RubricInput

blp = Blueprint("scoring", __name__, url_prefix="/api/scoring", description="考核评比 / Scoring")


def settings() -> dict:
    return module_settings(current().session, "scoring")


def of_level_year(model, args: dict):
    """Rubrics or periods, narrowed to the level and year asked for."""
    q = select(model)
    if args.get("level"):
        q = q.where(model.level == args["level"])
    if args.get("year"):
        q = q.where(model.year == args["year"])
    return q


class IndicatorOut(Schema):
    key = fields.String()
    title = fields.String()
    unit = fields.String()
    lists_records = fields.Boolean()


class IndicatorList(Schema):
    items = fields.List(fields.Nested(IndicatorOut))


@blp.route("/indicators")
class Indicators(MethodView):
    @requires(READ)
    @blp.response(200, IndicatorList)
    def get(self):
        """The indicators of the county's enabled modules a rubric item may score with."""
        inds = county_indicators(current().session)
        return {"items": [{"key": k, "title": i.title, "unit": i.unit, "lists_records": i.records is not None}
                          for k, i in sorted(inds.items())]}


# --- rubrics --------------------------------------------------------------------------------------

class RubricOut(Schema):
    id = fields.Integer()
    level = fields.String()
    year = fields.Integer()
    version = fields.Integer()
    title = fields.String()
    items = fields.List(fields.Nested(Item))
    created_at = fields.DateTime()


class RubricArgs(ListArgs):
    level = fields.String(validate=validate.Length(min=1, max=32))
    year = fields.Integer(validate=validate.Range(min=2000, max=2100))


@blp.route("/rubrics")
class Rubrics(MethodView):
    @requires(READ)
    @blp.arguments(RubricArgs, location="query")
    @blp.response(200, page_of(RubricOut))
    def get(self, args):
        """Every version of the county's rubrics, newest first."""
        return paginate(current().session, of_level_year(Rubric, args), args, Rubric.id, {"id": Rubric.id}, "-id")

    @requires(MANAGE)
    @blp.arguments(RubricInput)
    @blp.response(201, RubricOut)
    def post(self, data):
        """Save a rubric as the next version for its level and year (422 with the field at fault:
        an unknown indicator, overlapping bands, points not adding up when the county says they must)."""
        rubric = acts.save_rubric(current(), data, settings())
        current().session.commit()
        return rubric


@blp.route("/rubrics/<rubric_id>")
class OneRubric(MethodView):
    @requires(READ)
    @blp.response(200, RubricOut)
    def get(self, rubric_id):
        """One rubric version."""
        return acts.rubric_or_404(current().session, rubric_id)


# --- periods --------------------------------------------------------------------------------------

class PeriodInput(Schema):
    level = fields.String(required=True, validate=validate.Length(min=1, max=32), metadata={"title": "考核对象层级"})
    kind = fields.String(required=True, validate=validate.OneOf(list(KINDS)), metadata={"title": "考核类别"})
    year = fields.Integer(required=True, validate=validate.Range(min=2000, max=2100), metadata={"title": "年度"})
    number = fields.Integer(load_default=1, validate=validate.Range(min=1, max=4), metadata={"title": "期次"})


class PeriodOut(Schema):
    id = fields.Integer()
    level = fields.String()
    kind = fields.String()
    year = fields.Integer()
    number = fields.Integer()
    title = fields.String()
    state = fields.String()
    state_title = fields.String()
    starts_on = fields.Date()
    ends_on = fields.Date(metadata={"description": "不含当日"})
    rubric_id = fields.Integer(allow_none=True)
    published_at = fields.DateTime(allow_none=True)
    appeal_until = fields.Date(allow_none=True)


class ResultOut(Schema):
    org_unit_id = fields.Integer()
    unit_name = fields.String()
    total = fields.Float()
    rank = fields.Integer()
    vetoed = fields.Boolean()
    veto_cause = fields.String()
    honoured = fields.Boolean()
    reward = fields.Integer(allow_none=True, metadata={"description": "按本县按名次奖励的设置，奖励金额（元）；公布时冻结"})
    repeat_veto_advice = fields.String(metadata={"description": "年度考核连续两年被一票否决时县里规定的处理建议"})


class RecordOut(Schema):
    date = fields.String(allow_none=True)
    title = fields.String()
    unit = fields.String()
    url = fields.String()


class ItemScoreOut(Schema):
    key = fields.String()
    category = fields.String()
    title = fields.String()
    source = fields.String()
    max_points = fields.Float()
    figure = fields.Float(allow_none=True)
    figure_unit = fields.String()
    indicator_title = fields.String()
    points = fields.Float()
    rule_text = fields.String()
    note = fields.String()
    veto = fields.Boolean()
    vetoed = fields.Boolean()
    corrected = fields.Boolean()
    records = fields.List(fields.Nested(RecordOut), allow_none=True)


class CardOut(ResultOut):
    items = fields.List(fields.Nested(ItemScoreOut))


class PeriodDetail(PeriodOut):
    results = fields.List(fields.Nested(ResultOut))


class PeriodArgs(ListArgs):
    level = fields.String(validate=validate.Length(min=1, max=32))
    year = fields.Integer(validate=validate.Range(min=2000, max=2100))


@blp.route("/periods")
class Periods(MethodView):
    @requires(READ)
    @blp.arguments(PeriodArgs, location="query")
    @blp.response(200, page_of(PeriodOut))
    def get(self, args):
        """The county's periods, newest first."""
        page = paginate(current().session, of_level_year(Period, args), args, Period.id, {"id": Period.id}, "-id")
        page["items"] = [acts.period_view(p) for p in page["items"]]
        return page

    @requires(MANAGE)
    @blp.arguments(PeriodInput)
    @blp.response(201, PeriodOut)
    def post(self, data):
        """Open a quarter, half-year or year for a level (409 if it exists)."""
        p = acts.open_period(current(), data)
        current().session.commit()
        return acts.period_view(p)


@blp.route("/periods/<period_id>")
class OnePeriod(MethodView):
    @requires(READ)
    @blp.response(200, PeriodDetail)
    def get(self, period_id):
        """The period with its ranking (live while open, frozen once published); only the units
        in the user's scope are listed."""
        ctx = current()
        p = acts.period_or_404(ctx.session, period_id)
        return dict(acts.period_view(p), results=acts.visible(ctx, scores.results(ctx.session, p, settings())))


class CardArgs(Schema):
    org_unit_id = IdField(load_default=None, metadata={"description": "必填：单位"})


@blp.route("/periods/<period_id>/card")
class Card(MethodView):
    @requires(READ)
    @blp.arguments(CardArgs, location="query")
    @blp.response(200, CardOut)
    def get(self, args, period_id):
        """One unit's score opened to its items: each indicator's figure, the rule and the records behind it."""
        return acts.card(current(), period_id, args["org_unit_id"], settings())  # 404 for the period first


class EntryInput(Schema):
    org_unit_id = IdField(required=True)
    item_key = fields.String(required=True, validate=validate.Length(min=1, max=16))
    points = fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=0, max=10000))
    passed = fields.Boolean(load_default=None, allow_none=True)
    note = fields.String(required=True, validate=validate.Length(min=2, max=2000),
                         metadata={"description": "评分依据（明查暗访情况、证据）"})


@blp.route("/periods/<period_id>/entries")
class Entries(MethodView):
    @requires(ASSESS)
    @blp.arguments(EntryInput)
    @blp.response(200, CardOut)
    def post(self, data, period_id):
        """Enter a manual item's points or a check item's answer, with the evidence, while the period is open."""
        ctx = current()
        p = acts.period_or_404(ctx.session, period_id)
        acts.enter(ctx, p, data)
        ctx.session.commit()
        return acts.card(ctx, p.id, data["org_unit_id"], settings())


class ActInput(Schema):
    action = fields.String(required=True, validate=validate.OneOf(["publish", "open_appeals", "finalize"]))


@blp.route("/periods/<period_id>/state")
class State(MethodView):
    @requires(MANAGE)
    @blp.arguments(ActInput)
    @blp.response(200, PeriodOut)
    def post(self, data, period_id):
        """publish (freeze the scores), open_appeals (the county's window starts today), finalize."""
        ctx = current()
        p = acts.period_or_404(ctx.session, period_id, lock=True)
        acts.move(ctx, p, data["action"], settings())
        ctx.session.commit()
        return acts.period_view(p)


@blp.route("/periods/<period_id>/ranking.xlsx")
class RankingXlsx(MethodView):
    @requires(READ)
    @blp.response(200)
    def get(self, period_id):
        """The ranking as a workbook."""
        ctx = current()
        p = acts.period_or_404(ctx.session, period_id)
        rows = acts.visible(ctx, scores.results(ctx.session, p, settings()))
        return download_response(acts.ranking_xlsx(p, rows), f"考核排名-{scores.period_title(p)}.xlsx")


@blp.route("/periods/<period_id>/notice.pdf")
class NoticePdf(MethodView):
    @requires(READ)
    @blp.doc(responses={"200": {"description": "考核结果通报 PDF", "content": {
        "application/pdf": {"schema": {"type": "string", "format": "binary"}}}}})
    def get(self, period_id):
        """The notice of results (通报) of a published period as a PDF: the ranking, the honoured and
        their rewards, the vetoed; issued by the publisher's unit on the day it was published. For
        county-wide readers (it names every unit); 409 ``not_published`` while open."""
        ctx = current()
        p = acts.period_or_404(ctx.session, period_id)
        return download_response(acts.notice_pdf(ctx, p, settings()), f"考核结果通报-{scores.period_title(p)}.pdf",
                                 "application/pdf")


# --- appeals -------------------------------------------------------------------------------------

class AppealInput(Schema):
    period_id = IdField(required=True)
    org_unit_id = IdField(required=True)
    item_key = fields.String(required=True, validate=validate.Length(min=1, max=16))
    reason = fields.String(required=True, validate=validate.Length(min=2, max=2000))


class DecideInput(Schema):
    decision = fields.String(required=True, validate=validate.OneOf(["upheld", "rejected"]))
    reason = fields.String(required=True, validate=validate.Length(min=2, max=2000))
    points = fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=-10000, max=10000),
                          metadata={"description": "支持申诉时该项更正后的得分"})


class AppealOut(Schema):
    id = fields.Integer()
    period_id = fields.Integer()
    org_unit_id = fields.Integer()
    item_key = fields.String()
    reason = fields.String()
    state = fields.String()
    decision = fields.String()
    points_before = fields.Float(allow_none=True)
    points_after = fields.Float(allow_none=True)
    total_before = fields.Float(allow_none=True)
    total_after = fields.Float(allow_none=True)
    filed_at = fields.DateTime()
    decided_at = fields.DateTime(allow_none=True)


class AppealArgs(ListArgs):
    period_id = IdField()


@blp.route("/appeals")
class Appeals(MethodView):
    @requires(READ)
    @blp.arguments(AppealArgs, location="query")
    @blp.response(200, page_of(AppealOut))
    def get(self, args):
        """Appeals of the units in the user's scope."""
        return acts.appeals_page(current(), args)

    @requires(READ)
    @blp.arguments(AppealInput)
    @blp.response(201, AppealOut)
    def post(self, data):
        """A unit appeals one item of a period in its appeal window (409 outside it)."""
        a = acts.file_appeal(current(), data)
        current().session.commit()
        return a


@blp.route("/appeals/<appeal_id>/decision")
class Decide(MethodView):
    @requires(MANAGE)
    @blp.arguments(DecideInput)
    @blp.response(200, AppealOut)
    def post(self, data, appeal_id):
        """The county decides: upheld (the item corrected, totals and ranks recomputed, both totals
        recorded) or rejected with the reason."""
        a = acts.decide_appeal(current(), appeal_id, data, settings())
        current().session.commit()
        return a



# --- titles over years (SCO-3) -----------------------------------------------------------------

class TitlesArgs(Schema):
    level = fields.String(required=True, validate=validate.Length(min=1, max=32))
    year = fields.Integer(required=True, validate=validate.Range(min=2000, max=2100))


class UnitTitlesOut(Schema):
    org_unit_id = fields.Integer()
    unit_name = fields.String()
    titles = fields.List(fields.String())


class TitlesOut(Schema):
    items = fields.List(fields.Nested(UnitTitlesOut))


@blp.route("/titles")
class Titles(MethodView):
    @requires(READ)
    @blp.arguments(TitlesArgs, location="query")
    @blp.response(200, TitlesOut)
    def get(self, args):
        """The titles the units of a level earned in a year by the county's ladders (连续三年合格 → 示范村 …)."""
        return {"items": acts.titles(current(), args["level"], args["year"], settings())}


class TargetsArgs(Schema):
    year = fields.Integer(required=True, validate=validate.Range(min=2000, max=2100))


class ShortOut(Schema):
    org_unit_id = fields.Integer()
    unit_name = fields.String()


class TargetOut(Schema):
    level = fields.String()
    level_name = fields.String()
    year = fields.Integer()
    percent = fields.Float()
    total = fields.Integer()
    reached = fields.Integer()
    share = fields.Float()
    met = fields.Boolean()
    short = fields.List(fields.Nested(ShortOut))


class TargetsOut(Schema):
    items = fields.List(fields.Nested(TargetOut))


@blp.route("/targets")
class Targets(MethodView):
    @requires(READ)
    @blp.arguments(TargetsArgs, location="query")
    @blp.response(200, TargetsOut)
    def get(self, args):
        """Creation targets of a year (SCO-6): the share of each level's units that reached the
        status against the county's target, and the units still short."""
        return {"items": acts.targets(current(), args["year"], settings())}
