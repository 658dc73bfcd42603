"""/api/case-types and /api/calendar — what each enabled module's cases look like, the
county's settings per case type, and the county's working-day calendar overrides.

Changing settings or the calendar is county-wide (``core.case.configure`` on the root
unit); it takes effect for the next act without a restart, and every change is audited
with its before and after values.
"""
from __future__ import annotations

import datetime as dt

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate
from sqlalchemy import select

from core import calendar_overrides, ledgers
from core.authz import require_county_wide
from core.cases import settings as case_settings
from core.cases.deadlines import utc
from core.cases.models import CaseTypeSetting
from core.cases.timeline import request_work
from core.errors import NotFound, Unprocessable
from core.request import requires
from core.workdays import SHANGHAI, UNITS, deadline

blp = Blueprint("core_case_config", __name__, url_prefix="/api", description="事项类型与工作日历 / Case types and calendar")
READ, CONFIGURE = "core.case.read", "core.case.configure"
COUNTY_WIDE = calendar_overrides.COUNTY_WIDE


class StateSchema(Schema):
    key = fields.String()
    title = fields.String()
    title_en = fields.String()
    closed = fields.Boolean()


class TransitionSchema(Schema):
    name = fields.String()
    title = fields.String()
    title_en = fields.String()
    from_states = fields.List(fields.String())
    to = fields.String()
    permission = fields.String()


class RuleSchema(Schema):
    key = fields.String()
    title = fields.String()
    amount = fields.Integer()
    unit = fields.String()
    start = fields.String()
    stop = fields.List(fields.String())
    source = fields.String()
    statutory = fields.Boolean()
    tightens = fields.String(metadata={"description": "a local rule: the statutory rule it may not be looser than"})
    enabled = fields.Boolean(metadata={"description": "in force for this county"})
    pause_states = fields.List(fields.String())
    max_extensions = fields.Integer()
    max_extension = fields.Integer()


class CaseTypeSchema(Schema):
    key = fields.String()
    title = fields.String()
    title_en = fields.String()
    plugin = fields.String()
    number_format = fields.String(metadata={"description": "in force for this county"})
    initial = fields.String()
    states = fields.List(fields.Nested(StateSchema))
    transitions = fields.List(fields.Nested(TransitionSchema))
    deadlines = fields.List(fields.Nested(RuleSchema), metadata={"description": "with this county's overrides"})
    ledger_columns = fields.List(fields.String())


class SettingsSchema(Schema):
    settings = fields.Dict(required=True, metadata={"description": "see docs/cases.md, 'County settings'"})


class CalendarDaySchema(Schema):
    day = fields.Date()
    is_workday = fields.Boolean()
    note = fields.String()


class CalendarDayPutSchema(Schema):
    is_workday = fields.Boolean(required=True)
    note = fields.String(load_default="", validate=validate.Length(max=100))


class CalendarArgs(Schema):
    year = fields.Integer(validate=validate.Range(min=2000, max=2100))


def _calendar_range(value) -> None:
    if not 2000 <= value.year <= 2099:
        raise ValidationError("起算时间应在 2000 年至 2099 年之间")


class DeadlineArgs(Schema):
    start = fields.DateTime(required=True, validate=_calendar_range,
                            metadata={"description": "起算时间（2000–2099 年）；不带时区时按北京时间"})
    amount = fields.Integer(required=True, validate=validate.Range(min=1, max=366))
    unit = fields.String(required=True, validate=validate.OneOf(UNITS))


class DeadlinePreviewSchema(Schema):
    due_at = fields.DateTime()
    basis = fields.String()
    provisional = fields.Boolean(metadata={"description": "计入了节假日安排尚未发布的年份（暂按周末计算，发布后重算）"})


def _type(w, key: str):
    ctype = w.types.get(key)
    if ctype is None:
        raise NotFound()
    return ctype


def present(w, ctype) -> dict:
    conf = case_settings.for_type(w.session, ctype)
    return {"key": ctype.key, "title": ctype.title, "title_en": ctype.title_en, "plugin": ctype.plugin,
            "number_format": conf.number_format, "initial": ctype.initial, "states": ctype.states,
            "transitions": ctype.transitions, "deadlines": case_settings.rule_listing(ctype, conf), "ledger_columns": list(conf.ledger_columns)}


@blp.route("/case-types")
class CaseTypes(MethodView):
    @requires(READ)
    @blp.response(200, CaseTypeSchema(many=True))
    def get(self):
        """The case types of the modules this county has enabled, as configured here."""
        w = request_work()
        return [present(w, t) for _, t in sorted(w.types.items())]


@blp.route("/case-types/<key>/settings")
class CaseTypeSettings(MethodView):
    @requires(READ)
    @blp.response(200, SettingsSchema)
    def get(self, key):
        w = request_work()
        ctype = _type(w, key)
        raw = w.session.scalar(select(CaseTypeSetting.settings).where(CaseTypeSetting.case_type == ctype.key))
        return {"settings": raw or {}}

    @requires(CONFIGURE)
    @blp.arguments(SettingsSchema)
    @blp.response(200, SettingsSchema)
    def put(self, data, key):
        """Replace the county's settings of one case type; invalid → 422 naming the field, nothing saved."""
        w = request_work()
        require_county_wide(w.session, w.grants, CONFIGURE, COUNTY_WIDE)
        ctype = _type(w, key)
        try:
            case_settings.save(w.session, ctype, data["settings"])
        except ValidationError as exc:
            raise Unprocessable("invalid_settings", "设置有误，未保存", {"json": {"settings": exc.messages}}) from None
        w.session.commit()
        return {"settings": data["settings"]}


@blp.route("/calendar")
class Calendar(MethodView):
    @requires(READ)
    @blp.arguments(CalendarArgs, location="query")
    @blp.response(200, CalendarDaySchema(many=True))
    def get(self, args):
        """The county's own working-day overrides (on top of the national calendar)."""
        return calendar_overrides.days(request_work().session, args.get("year"))


def _day(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise NotFound() from None


@blp.route("/calendar/<day>")
class CalendarDayItem(MethodView):
    @requires(CONFIGURE)
    @blp.arguments(CalendarDayPutSchema)
    @blp.response(200, CalendarDaySchema)
    def put(self, data, day):
        """Make one day a working day or a rest day for this county (e.g. a local holiday)."""
        w = request_work()
        row = calendar_overrides.set_day(w.session, w.grants, _day(day), data["is_workday"], data["note"])
        w.session.commit()
        return row

    @requires(CONFIGURE)
    @blp.response(204)
    def delete(self, day):
        w = request_work()
        calendar_overrides.remove_day(w.session, w.grants, _day(day))
        w.session.commit()


class CalendarYearSchema(Schema):
    year = fields.Integer()
    source = fields.String()
    recompute_job_id = fields.Integer(metadata={"description": "declaring a year recomputes the county's provisional "
                                                                "limits in this job (GET /api/jobs/<id>)"})


class CalendarYearPutSchema(Schema):
    source = fields.String(required=True, validate=validate.Length(min=1, max=200),
                           metadata={"description": "安排的出处，如国务院办公厅关于该年部分节假日安排的通知"})


@blp.route("/calendar/years")
class CalendarYears(MethodView):
    @requires(READ)
    @blp.response(200, CalendarYearSchema(many=True))
    def get(self):
        """Years this county entered itself (the calendar package does not cover them yet)."""
        return calendar_overrides.years(request_work().session)


@blp.route("/calendar/years/<int:year>")
class CalendarYearItem(MethodView):
    @requires(CONFIGURE)
    @blp.arguments(CalendarYearPutSchema)
    @blp.response(200, CalendarYearSchema)
    def put(self, data, year):
        """Declare that this county's overrides hold the whole year's holidays and adjusted
        working days; its other days then follow the week (Monday to Friday work)."""
        w = request_work()
        row = calendar_overrides.declare_year(w.session, w.grants, year, data["source"])
        job = ledgers.start_job(w, "calendar_recompute", f"按本县录入的 {year} 年日历重算暂定期限", {"year": year})
        w.session.commit()
        return {"year": row.year, "source": row.source, "recompute_job_id": job.id}

    @requires(CONFIGURE)
    @blp.response(204)
    def delete(self, year):
        w = request_work()
        calendar_overrides.undeclare_year(w.session, w.grants, year)
        w.session.commit()


@blp.route("/calendar/deadline")
class CalendarDeadline(MethodView):
    @requires(READ)
    @blp.arguments(DeadlineArgs, location="query")
    @blp.response(200, DeadlinePreviewSchema)
    def get(self, args):
        """When a limit started at ``start`` runs out on this county's calendar (a preview)."""
        w = request_work()
        start = args["start"] if args["start"].tzinfo else args["start"].replace(tzinfo=SHANGHAI)
        d = deadline(start, args["amount"], args["unit"], case_settings.calendar(w.session))
        return {"due_at": utc(d.due_at), "basis": d.rule, "provisional": d.provisional}
