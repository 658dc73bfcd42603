"""/api/case-stats — counts, the dashboard summary, on-time rates and year-on-year change
of cases (issue 3, RPT-1), limited to the cases the user may read.

Figures count cases by the unit where they arose, within ``org_unit_id`` (default: the
units of the user's own grants); see ``core.cases.statistics``. Periods are local dates
(Asia/Shanghai), ``from`` and ``to`` both included; a ``from`` after ``to`` is an empty period.
Overdue lists are the case list: ``GET /api/cases?overdue=true&sort=due_at``.
"""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from core.api.common import IdField, case_type_field
from core.cases import statistics
from core.cases.timeline import request_work
from core.request import requires

blp = Blueprint("core_case_stats", __name__, url_prefix="/api/case-stats", description="事项统计 / Case statistics")
READ = statistics.READ

UNIT_HELP = "统计该单位子树内发生的事项（默认：您被授权的单位）"


# --- arguments ----------------------------------------------------------------------------------

class StatsUnitArgs(Schema):
    org_unit_id = IdField(metadata={"description": UNIT_HELP})


class StatsFilterArgs(StatsUnitArgs):
    case_type = case_type_field(metadata={"description": "只统计该事项类型"})


class StatsPeriodArgs(StatsFilterArgs):
    date_from = fields.Date(data_key="from", metadata={"description": "起始日期（含，北京时间）"})
    date_to = fields.Date(data_key="to", metadata={"description": "截止日期（含，北京时间）"})


class CaseCountsArgs(StatsPeriodArgs):
    group_by = fields.String(load_default="case_type", validate=validate.OneOf(statistics.COUNT_GROUPS),
                             metadata={"description": "case_type 类型 | state 状态 | unit 下级单位（各含其子树） | "
                                                      "month 登记月份"})


class OnTimeArgs(StatsPeriodArgs):
    group_by = fields.String(load_default="case_type", validate=validate.OneOf(statistics.RATE_GROUPS),
                             metadata={"description": "case_type 类型 | unit 下级单位（各含其子树）"})


class YoyArgs(StatsFilterArgs):
    year = fields.Integer(validate=validate.Range(min=2000, max=2100),
                          metadata={"description": "年份（默认今年）；今年按 1 月 1 日至今日与去年同期比较"})
    group_by = fields.String(load_default="case_type", validate=validate.OneOf(statistics.RATE_GROUPS),
                             metadata={"description": "case_type 类型 | unit 下级单位（各含其子树）"})


# --- answers ------------------------------------------------------------------------------------

KEY_HELP = "case_type: 类型键 | state: 状态键 | unit: 下级单位 id（作为 org_unit_id 可下钻） | month: YYYY-MM"


class CaseCountRowSchema(Schema):
    key = fields.String(required=True, metadata={"description": KEY_HELP})
    label = fields.String(required=True)
    count = fields.Integer(required=True)


class CaseCountsSchema(Schema):
    group_by = fields.String(required=True)
    org_unit_id = fields.Integer(allow_none=True, metadata={"description": "按单位分组时的上级单位"})
    date_from = fields.Date(data_key="from", allow_none=True)
    date_to = fields.Date(data_key="to", allow_none=True)
    total = fields.Integer(required=True)
    items = fields.List(fields.Nested(CaseCountRowSchema), required=True)


class CaseSummaryRowSchema(Schema):
    case_type = fields.String(required=True)
    title = fields.String(required=True)
    open = fields.Integer(required=True, metadata={"description": "在办"})
    due_soon = fields.Integer(required=True, metadata={"description": "临期（提醒时限内到期）"})
    overdue = fields.Integer(required=True, metadata={"description": "超期"})
    closed_this_month = fields.Integer(required=True, metadata={"description": "本月办结"})
    remind_before_hours = fields.Integer(required=True)


class CaseSummaryTotalSchema(Schema):
    open = fields.Integer(required=True)
    due_soon = fields.Integer(required=True)
    overdue = fields.Integer(required=True)
    closed_this_month = fields.Integer(required=True)


class CaseSummarySchema(Schema):
    org_unit_id = fields.Integer(allow_none=True)
    as_of = fields.DateTime(required=True)
    month_from = fields.DateTime(required=True, metadata={"description": "本月起点（北京时间 1 日 0 时）"})
    items = fields.List(fields.Nested(CaseSummaryRowSchema), required=True)
    total = fields.Nested(CaseSummaryTotalSchema, required=True)


class OnTimeRowSchema(Schema):
    key = fields.String(required=True, metadata={"description": KEY_HELP})
    label = fields.String(required=True)
    stopped = fields.Integer(required=True, metadata={"description": "期间内结束的时限"})
    met = fields.Integer(required=True, metadata={"description": "按时"})
    missed = fields.Integer(required=True, metadata={"description": "超时"})
    on_time_percent = fields.Float(required=True, allow_none=True, metadata={"description": "按时率（%）"})


class OnTimeSchema(Schema):
    group_by = fields.String(required=True)
    org_unit_id = fields.Integer(allow_none=True)
    date_from = fields.Date(data_key="from", allow_none=True)
    date_to = fields.Date(data_key="to", allow_none=True)
    items = fields.List(fields.Nested(OnTimeRowSchema), required=True)
    total = fields.Nested(OnTimeRowSchema, required=True)


class YoyRowSchema(Schema):
    key = fields.String(required=True, metadata={"description": KEY_HELP})
    label = fields.String(required=True)
    count = fields.Integer(required=True, metadata={"description": "本期"})
    last_year = fields.Integer(required=True, metadata={"description": "去年同期"})
    change_percent = fields.Float(required=True, allow_none=True,
                                  metadata={"description": "同比（%），去年同期为 0 时为空"})


class YoySchema(Schema):
    year = fields.Integer(required=True)
    group_by = fields.String(required=True)
    org_unit_id = fields.Integer(allow_none=True)
    period_from = fields.Date(required=True)
    period_to = fields.Date(required=True)
    last_from = fields.Date(required=True)
    last_to = fields.Date(required=True)
    items = fields.List(fields.Nested(YoyRowSchema), required=True)
    total = fields.Nested(YoyRowSchema, required=True)


# --- endpoints ----------------------------------------------------------------------------------

@blp.route("/counts")
class Counts(MethodView):
    @requires(READ)
    @blp.arguments(CaseCountsArgs, location="query")
    @blp.response(200, CaseCountsSchema)
    def get(self, args):
        """Cases registered in the period, by type, state, child unit (drill-down) or month."""
        return statistics.counts(request_work(), args["group_by"], args.get("org_unit_id"), args.get("case_type"),
                                 args.get("date_from"), args.get("date_to"))


@blp.route("/summary")
class Summary(MethodView):
    @requires(READ)
    @blp.arguments(StatsUnitArgs, location="query")
    @blp.response(200, CaseSummarySchema)
    def get(self, args):
        """Per case type: open, due soon, overdue and closed this month (the dashboard)."""
        return statistics.summary(request_work(), args.get("org_unit_id"))


@blp.route("/on-time")
class OnTime(MethodView):
    @requires(READ)
    @blp.arguments(OnTimeArgs, location="query")
    @blp.response(200, OnTimeSchema)
    def get(self, args):
        """Time limits that ended in the period and the share met, per type or child unit."""
        return statistics.on_time(request_work(), args["group_by"], args.get("org_unit_id"), args.get("case_type"),
                                  args.get("date_from"), args.get("date_to"))


@blp.route("/yoy")
class YearOnYear(MethodView):
    @requires(READ)
    @blp.arguments(YoyArgs, location="query")
    @blp.response(200, YoySchema)
    def get(self, args):
        """Cases registered this year to date against the same period last year (RPT-1)."""
        return statistics.yoy(request_work(), args.get("year"), args["group_by"], args.get("org_unit_id"),
                              args.get("case_type"))
