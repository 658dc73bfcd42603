"""/api/petition — the module's own acts and views beyond the case engine's
(``/api/cases`` registers, diverts and moves petitions through their flow):

- a case's leader and team (PET-3), risk assessment (PET-5), situation report on an overdue
  petition (PET-2), joint-meeting decision on a repeat (PET-6);
- the watch list and its follow-ups (PET-5);
- quotas, level-skipping and abnormal petitions, accountability (PET-4);
- the monthly report, as JSON and .xlsx;
- ``/api/petition/public/status`` (no sign-in): the petitioner's own query with the receipt's code (PET-7).

Objects outside the user's units, or of another county, answer 404.
"""
from __future__ import annotations

from flask import request
from flask.views import MethodView
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from core.sdk import (Blueprint, IdField, download_response, unit_or_404, Invalid, NotFound, OrgUnit, Person, case_or_404,
                      current, get_or_404, parse_int, public, rate_limit, record, request_work, requires, scoped,
                      units_under, users_of_unit, utcnow)

from . import oversight, quotas, reports, status
from .cases import KEY
from .models import Accountability, Escalation, FollowUp, Quota, WatchEntry
from .permissions import HANDLE, LEADER, QUOTA, READ, WATCH

blp = Blueprint("petition", __name__, url_prefix="/api/petition", description="信访 / Petitions")
public_blp = Blueprint("petition_public", __name__, url_prefix="/api/petition/public/status",
                       description="信访人查询（免登录） / Petitioner's status query (public)")
NAME = validate.Length(min=1, max=50)
TEXT = validate.Length(min=1, max=5000)


def _settings() -> dict:
    return current().plugins.get("petition") or {}


def _petition(case_id, perm: str, lock: bool = True):
    """A petition the user may read, and ``perm`` on its handling (or arising) unit; else 404/403."""
    w, case, _ = case_or_404(case_id, lock=lock, case_type=KEY, perm=perm)
    return w, case


def _unit(unit_id: int | None, perm: str = READ) -> OrgUnit:
    """The unit asked about (default: the highest the user holds ``perm`` on); 404 outside scope."""
    return unit_or_404(unit_id, perm)


# --- PET-3: leader ownership ---------------------------------------------------------------------

class Member(Schema):
    name = fields.String(required=True, validate=NAME)
    post = fields.String(load_default="", validate=validate.Length(max=100))


class LeaderInput(Schema):
    leader_name = fields.String(required=True, validate=NAME, metadata={"description": "包案领导"})
    leader_post = fields.String(load_default="", validate=validate.Length(max=100))
    team = fields.List(fields.Nested(Member), required=True, validate=validate.Length(min=1, max=30),
                       metadata={"description": "工作班子"})
    investigate = fields.String(required=True, validate=TEXT, metadata={"description": "包调查：谁、做什么"})
    handle = fields.String(required=True, validate=TEXT, metadata={"description": "包处理"})
    stabilise = fields.String(required=True, validate=TEXT, metadata={"description": "包稳定"})


class LeaderOut(Schema):
    id = fields.Integer()
    case_id = fields.Integer()
    leader_name = fields.String()
    leader_post = fields.String()
    leader_user_id = fields.Integer(allow_none=True)
    team = fields.List(fields.Dict())
    investigate = fields.String()
    handle = fields.String()
    stabilise = fields.String()
    assigned_at = fields.DateTime()
    dissolved_at = fields.DateTime(allow_none=True)


class ReasonInput(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


@blp.route("/cases/<case_id>/leader")
class CaseLeader(MethodView):
    @requires(LEADER)
    @blp.arguments(LeaderInput)
    @blp.response(200, LeaderOut)
    def put(self, data, case_id):
        """Put the petition under a leader and a team (一个问题、一名领导、一套班子)."""
        w, case = _petition(case_id, LEADER)
        row = oversight.assign_leader(w, case, data)
        w.session.commit()
        return row


@blp.route("/cases/<case_id>/leader/end")
class CaseLeaderEnd(MethodView):
    @requires(LEADER)
    @blp.arguments(ReasonInput)
    @blp.response(200, LeaderOut)
    def post(self, data, case_id):
        """End the leader's ownership — only once the petition is closed (409 ``case_open`` before)."""
        w, case = _petition(case_id, LEADER)
        row = oversight.dissolve_leader(w, case, data["reason"])
        w.session.commit()
        return row


# --- PET-5: risk assessment ----------------------------------------------------------------------

class RiskInput(Schema):
    level = fields.String(required=True, validate=validate.OneOf(list(oversight.LEVELS)),
                          metadata={"description": "handler 经办人 | head 部门负责人 | chief 主要负责人"})
    grade = fields.String(required=True, validate=validate.OneOf(list(oversight.GRADES)),
                          metadata={"description": "low 低 | medium 中 | high 高"})
    opinion = fields.String(load_default="", validate=validate.Length(max=2000))


class RiskOut(Schema):
    id = fields.Integer()
    level = fields.String()
    grade = fields.String()
    opinion = fields.String()
    assessed_by = fields.Integer(allow_none=True)
    assessed_at = fields.DateTime()


@blp.route("/cases/<case_id>/risk")
class CaseRisk(MethodView):
    @requires(READ)
    @blp.response(200, RiskOut(many=True))
    def get(self, case_id):
        """The three-level risk assessment so far (handler → department head → chief)."""
        w, case = _petition(case_id, READ, lock=False)
        return oversight.assessments(w.session, case.id)

    @requires(READ)  # each level checks its own permission (handle / review / risk.approve)
    @blp.arguments(RiskInput)
    @blp.response(201, RiskOut)
    def post(self, data, case_id):
        """Assess one level; each level needs the one before (409 ``assessment_order``)."""
        w, case = _petition(case_id, READ)
        row = oversight.assess(w, case, data["level"], data["grade"], data["opinion"])
        w.session.commit()
        return row


# --- PET-2 and PET-6: situation report, joint-meeting decision -----------------------------------

class SituationInput(Schema):
    report = fields.String(required=True, validate=TEXT, metadata={"description": "情况报告（未能按期办结的原因、进展）"})
    notice_method = fields.String(required=True, validate=validate.OneOf(list(oversight.NOTICE_METHODS)),
                                  metadata={"description": "告知信访人的方式：written 书面 | phone 电话 | in_person 当面 | sms 短信"})
    noticed_on = fields.Date(required=True)


@blp.route("/cases/<case_id>/situation-report")
class SituationReport(MethodView):
    @requires(HANDLE)
    @blp.arguments(SituationInput)
    @blp.response(201, Schema)
    def post(self, data, case_id):
        """PET-2: the handling unit's situation report on a petition it cannot close in time, and the
        notice to the petitioner; both go on the timeline."""
        w, case = _petition(case_id, HANDLE)
        oversight.situation_report(w, case, data)
        w.session.commit()
        return {}


class JointInput(Schema):
    met_on = fields.Date(required=True)
    units = fields.List(fields.String(validate=validate.Length(min=1, max=100)), required=True,
                        validate=validate.Length(min=2, max=30), metadata={"description": "参会单位"})
    decision = fields.String(required=True, validate=TEXT, metadata={"description": "一事一议的决定"})
    measures = fields.String(required=True, validate=TEXT, metadata={"description": "一人一策的措施"})


@blp.route("/cases/<case_id>/joint-decision")
class JointDecision(MethodView):
    @requires(HANDLE)
    @blp.arguments(JointInput)
    @blp.response(201, Schema)
    def post(self, data, case_id):
        """PET-6: the joint meeting's decision on a repeated multi-unit petition."""
        w, case = _petition(case_id, HANDLE)
        oversight.joint_decision(w, case, data)
        w.session.commit()
        return {}


# --- PET-5: watch list ---------------------------------------------------------------------------

class WatchInput(Schema):
    person_id = IdField(required=True)
    grade = fields.String(required=True, validate=validate.OneOf(list(oversight.GRADES)))
    signs = fields.String(required=True, validate=TEXT, metadata={"description": "苗头（如扬言进京、赴省）"})


class FollowUpOut(Schema):
    id = fields.Integer()
    task = fields.String()
    due_on = fields.Date()
    assignee_id = fields.Integer(allow_none=True)
    done_at = fields.DateTime(allow_none=True)
    result = fields.String(allow_none=True)


class WatchOut(Schema):
    id = fields.Integer()
    person_id = fields.Integer()
    person_name = fields.String()
    org_unit_id = fields.Integer()
    grade = fields.String()
    signs = fields.String()
    added_at = fields.DateTime()
    ended_at = fields.DateTime(allow_none=True)
    end_reason = fields.String(allow_none=True)
    followups = fields.List(fields.Nested(FollowUpOut))


class WatchArgs(Schema):
    active = fields.Boolean(load_default=True)


def _watch_out(session, rows: list[WatchEntry]) -> list[dict]:
    names = dict(session.execute(select(Person.id, Person.name).where(Person.id.in_([r.person_id for r in rows]))).all())
    items = session.scalars(select(FollowUp).where(FollowUp.watch_id.in_([r.id for r in rows]))
                            .order_by(FollowUp.due_on, FollowUp.id)).all()
    out = []
    for r in rows:
        d = {c: getattr(r, c) for c in ("id", "person_id", "org_unit_id", "grade", "signs", "added_at", "ended_at",
                                          "end_reason")}
        out.append({**d, "person_name": names.get(r.person_id, ""), "followups": [f for f in items if f.watch_id == r.id]})
    return out


@blp.route("/watch")
class Watch(MethodView):
    @requires(READ)
    @blp.arguments(WatchArgs, location="query")
    @blp.response(200, WatchOut(many=True))
    def get(self, args):
        """Petitioners on the watch list in your units (current ones; ``active=false`` for past ones)."""
        ctx = current()
        stmt = scoped(select(WatchEntry), ctx.grants, READ, WatchEntry.org_unit_id)
        stmt = stmt.where(WatchEntry.ended_at.is_(None) if args["active"] else WatchEntry.ended_at.is_not(None))
        rows = ctx.session.scalars(stmt.order_by(WatchEntry.added_at.desc(), WatchEntry.id.desc()).limit(500)).all()
        return _watch_out(ctx.session, rows)

    @requires(WATCH)
    @blp.arguments(WatchInput)
    @blp.response(201, WatchOut)
    def post(self, data):
        """Put a petitioner on the watch list (of the person's own unit)."""
        ctx = current()
        person = get_or_404(ctx.session, ctx.grants, Person, data["person_id"], WATCH)
        row = oversight.watch(ctx.session, ctx.user.id, person, data["grade"], data["signs"])
        ctx.session.commit()
        return _watch_out(ctx.session, [row])[0]


@blp.route("/watch/<watch_id>/end")
class WatchEnd(MethodView):
    @requires(WATCH)
    @blp.arguments(ReasonInput)
    @blp.response(200, WatchOut)
    def post(self, data, watch_id):
        """Take a petitioner off the watch list, with the reason (息诉罢访 …)."""
        ctx = current()
        row = get_or_404(ctx.session, ctx.grants, WatchEntry, watch_id, WATCH)
        oversight.unwatch(ctx.session, row, data["reason"])
        ctx.session.commit()
        return _watch_out(ctx.session, [row])[0]


class FollowUpInput(Schema):
    task = fields.String(required=True, validate=validate.Length(min=1, max=500))
    due_on = fields.Date(required=True)
    assignee_id = IdField(load_default=None, allow_none=True)


@blp.route("/watch/<watch_id>/followups")
class WatchFollowUps(MethodView):
    @requires(WATCH)
    @blp.arguments(FollowUpInput)
    @blp.response(201, FollowUpOut)
    def post(self, data, watch_id):
        """A stability-control follow-up task (稳控) on a watched petitioner; the assignee gets a to-do."""
        ctx = current()
        row = get_or_404(ctx.session, ctx.grants, WatchEntry, watch_id, WATCH)
        if data["assignee_id"]:
            unit = ctx.session.scalar(select(OrgUnit).where(OrgUnit.id == row.org_unit_id))
            chain = [int(p) for p in unit.path.strip("/").split("/")]
            if not any(data["assignee_id"] in users_of_unit(ctx.session, u, member_staff=True) for u in chain):
                raise Invalid("assignee_id", "unknown_user", "责任人须为该村或其上级单位的在岗用户")
        item = oversight.add_followup(ctx.session, ctx.user.id, row, data["task"], data["due_on"], data["assignee_id"])
        ctx.session.commit()
        return item


class FollowUpDone(Schema):
    result = fields.String(required=True, validate=TEXT)


@blp.route("/followups/<followup_id>/done")
class FollowUpFinish(MethodView):
    @requires(WATCH)
    @blp.arguments(FollowUpDone)
    @blp.response(200, FollowUpOut)
    def post(self, data, followup_id):
        """Report a follow-up done, with its result."""
        ctx = current()
        fid = parse_int(str(followup_id), lo=0)  # ASCII digits within a bigint only (issue 14, finding 11)
        item = ctx.session.scalar(select(FollowUp).where(FollowUp.id == fid)) if fid is not None else None
        if item is None:
            raise NotFound()
        get_or_404(ctx.session, ctx.grants, WatchEntry, item.watch_id, WATCH)
        oversight.finish_followup(ctx.session, item, data["result"])
        ctx.session.commit()
        return item


# --- PET-4: quotas, level-skipping records, accountability ---------------------------------------

PERIOD = validate.Regexp(r"^(19|20)\d{2}(-Q[1-4]|-(0[1-9]|1[0-2]))?$", error="期间格式应为 2026、2026-Q1 或 2026-03")


class PeriodArgs(Schema):
    period = fields.String(load_default=None, validate=PERIOD,
                           metadata={"description": "2026 | 2026-Q1 | 2026-03 (the county's quota period); default now"})
    org_unit_id = IdField(load_default=None, metadata={"description": "the unit and its children (default: your unit)"})


class UsageOut(Schema):
    org_unit_id = fields.Integer()
    unit_name = fields.String()
    period = fields.String()
    kind = fields.String()
    kind_title = fields.String()
    quota = fields.Integer(allow_none=True)
    used = fields.Integer()
    breached = fields.Boolean()


class QuotaRow(Schema):
    org_unit_id = IdField(required=True)
    period = fields.String(required=True, validate=PERIOD,
                           metadata={"description": "in the county's quota period: 2026 (year), 2026-Q1, 2026-03"})
    kind = fields.String(required=True, validate=validate.OneOf(list(quotas.KINDS)))
    quota = fields.Integer(required=True, allow_none=True, validate=validate.Range(min=0, max=100000),
                           metadata={"description": "null removes the unit's own quota (its level's default applies)"})


class QuotaInput(Schema):
    quotas = fields.List(fields.Nested(QuotaRow), required=True, validate=validate.Length(min=1, max=2000))


def _period(value: str | None, strict: bool = False) -> str:
    """The period asked for (default: the current one); ``strict`` (a write): it must be of the
    county's quota period (a year, a quarter or a month), 422 ``invalid_period`` otherwise."""
    if value is None:
        return quotas.period_of(utcnow().astimezone(quotas.SHANGHAI).date(), _settings().get("quota_period", "year"))
    quotas.period_range(value)
    if not strict:
        return value
    expected = quotas.period_of(quotas.period_range(value)[0], _settings().get("quota_period", "year"))
    if expected != value:
        raise Invalid("period", "invalid_period", f"本县上访指标按{quotas.PERIODS[_settings().get('quota_period', 'year')]}"
                                                   f"设定，期间应写作 {expected}")
    return value


@blp.route("/quotas")
class Quotas(MethodView):
    @requires(READ)
    @blp.arguments(PeriodArgs, location="query")
    @blp.response(200, UsageOut(many=True))
    def get(self, args):
        """Quota and use per kind for the unit and each unit under it (its subtree counted)."""
        ctx = current()
        unit = _unit(args["org_unit_id"])
        kids = ctx.session.scalars(select(OrgUnit).where(OrgUnit.parent_id == unit.id).order_by(OrgUnit.id)).all()
        return quotas.usage(ctx.session, [unit, *kids], _period(args["period"]), _settings())

    @requires(QUOTA)
    @blp.arguments(QuotaInput)
    @blp.response(200, UsageOut(many=True))
    def put(self, data):
        """Set units' own quotas for a period (``quota: null`` removes one). Audited."""
        ctx = current()
        s = ctx.session
        changed = []
        for i, q in enumerate(data["quotas"]):
            unit = get_or_404(s, ctx.grants, OrgUnit, q["org_unit_id"], QUOTA)
            try:
                period = _period(q["period"], strict=True)
            except Invalid as exc:
                raise Invalid(f"quotas.{i}.period", exc.code, exc.message) from None
            row = s.scalar(select(Quota).where(Quota.org_unit_id == unit.id, Quota.period == period,
                                               Quota.kind == q["kind"]))
            if q["quota"] is None:
                if row is not None:
                    s.delete(row)
            elif row is None:
                s.add(Quota(org_unit_id=unit.id, period=period, kind=q["kind"], quota=q["quota"]))
            else:
                row.quota = q["quota"]
            changed.append(unit)
            record(s, "petition.quota_set", "org_unit", unit.id, {"period": period, "kind": q["kind"], "quota": q["quota"]})
        s.flush()
        out = quotas.usage(s, list({u.id: u for u in changed}.values()), _period(data["quotas"][0]["period"], True),
                           _settings())
        s.commit()
        return out


class EscalationInput(Schema):
    org_unit_id = IdField(required=True, metadata={"description": "信访人所在村（社区）"})
    person_id = IdField(load_default=None, allow_none=True)
    petitioner = fields.String(required=True, validate=validate.Length(min=1, max=100))
    level = fields.String(required=True, validate=validate.OneOf(list(quotas.LEVELS)),
                          metadata={"description": "county 到县 | city 赴市 | province 赴省 | beijing 进京"})
    abnormal = fields.Boolean(load_default=False, metadata={"description": "非正常访"})
    occurred_on = fields.Date(required=True)
    people = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100000))
    reported_by = fields.String(load_default="", validate=validate.Length(max=100),
                                metadata={"description": "通报来源，如“市信访局通报”"})
    case_id = IdField(load_default=None, allow_none=True)
    note = fields.String(load_default="", validate=validate.Length(max=5000))


class AccountabilityOut(Schema):
    id = fields.Integer()
    escalation_id = fields.Integer()
    org_unit_id = fields.Integer()
    period = fields.String()
    kind = fields.String()
    used = fields.Integer()
    quota = fields.Integer()
    persons = fields.List(fields.Dict())
    state = fields.String()
    outcome = fields.String()
    created_at = fields.DateTime()
    closed_at = fields.DateTime(allow_none=True)


class EscalationOut(Schema):
    id = fields.Integer()
    org_unit_id = fields.Integer()
    person_id = fields.Integer(allow_none=True)
    petitioner = fields.String()
    level = fields.String()
    abnormal = fields.Boolean()
    occurred_on = fields.Date()
    period = fields.String()
    people = fields.Integer()
    reported_by = fields.String()
    case_id = fields.Integer(allow_none=True)
    note = fields.String()
    accountability = fields.List(fields.Nested(AccountabilityOut))


def _escalation_out(session, rows) -> list[dict]:
    accs = session.scalars(select(Accountability).where(Accountability.escalation_id.in_([r.id for r in rows]))
                           .order_by(Accountability.id)).all()
    cols = [c for c in EscalationOut().fields if c != "accountability"]
    return [{**{c: getattr(r, c) for c in cols}, "accountability": [a for a in accs if a.escalation_id == r.id]}
            for r in rows]


@blp.route("/escalations")
class Escalations(MethodView):
    @requires(READ)
    @blp.arguments(PeriodArgs, location="query")
    @blp.response(200, EscalationOut(many=True))
    def get(self, args):
        """Level-skipping and abnormal petitions of the period attributed to the unit's subtree."""
        ctx = current()
        unit = _unit(args["org_unit_id"])
        rows = ctx.session.scalars(select(Escalation).where(
            Escalation.period == _period(args["period"]), Escalation.org_unit_id.in_(units_under(unit.path)))
            .order_by(Escalation.occurred_on.desc(), Escalation.id.desc()).limit(1000)).all()
        return _escalation_out(ctx.session, rows)

    @requires(QUOTA)
    @blp.arguments(EscalationInput)
    @blp.response(201, EscalationOut)
    def post(self, data):
        """Record a level-skipping or abnormal petition (often reported back by a higher level). A
        breached quota raises an accountability record naming the unit's area leader and stationed
        cadre, who and the unit's users are told."""
        ctx = current()
        s = ctx.session
        get_or_404(s, ctx.grants, OrgUnit, data["org_unit_id"], QUOTA)
        if data["person_id"] is not None:
            get_or_404(s, ctx.grants, Person, data["person_id"], READ)
        if data["case_id"] is not None:
            w, case, _ = case_or_404(str(data["case_id"]))
            if case.case_type != KEY:
                raise Invalid("case_id", "not_a_petition", "关联的事项不是信访事项")
        esc, _ = quotas.record_escalation(s, _settings(), data, ctx.user.id)
        s.commit()
        return _escalation_out(s, [esc])[0]


class AccountabilityArgs(PeriodArgs):
    state = fields.String(load_default=None, validate=validate.OneOf(["open", "closed"]))


@blp.route("/accountability")
class AccountabilityList(MethodView):
    @requires(READ)
    @blp.arguments(AccountabilityArgs, location="query")
    @blp.response(200, AccountabilityOut(many=True))
    def get(self, args):
        """Accountability records of the period for the unit's subtree."""
        ctx = current()
        unit = _unit(args["org_unit_id"])
        stmt = select(Accountability).where(Accountability.period == _period(args["period"]),
                                            Accountability.org_unit_id.in_(units_under(unit.path)))
        if args["state"]:
            stmt = stmt.where(Accountability.state == args["state"])
        return ctx.session.scalars(stmt.order_by(Accountability.id.desc()).limit(1000)).all()


class CloseInput(Schema):
    outcome = fields.String(required=True, validate=TEXT, metadata={"description": "采取的组织措施或处理结果"})


@blp.route("/accountability/<acc_id>/close")
class AccountabilityClose(MethodView):
    @requires(QUOTA)
    @blp.arguments(CloseInput)
    @blp.response(200, AccountabilityOut)
    def post(self, data, acc_id):
        """Close an accountability record with the measure taken. Audited."""
        ctx = current()
        acc = get_or_404(ctx.session, ctx.grants, Accountability, acc_id, QUOTA)
        quotas.close_accountability(ctx.session, acc.id, data["outcome"], ctx.user.id)
        ctx.session.commit()
        return acc


# --- reports -------------------------------------------------------------------------------------

class ReportArgs(Schema):
    month = fields.String(required=True, validate=validate.Regexp(r"^(19|20)\d{2}-(0[1-9]|1[0-2])$",
                                                                  error="月份格式应为 2026-11"))
    org_unit_id = IdField(load_default=None)


@blp.route("/reports/monthly")
class MonthlyReport(MethodView):
    @requires(READ)
    @blp.arguments(ReportArgs, location="query")
    @blp.response(200)
    def get(self, args):
        """The month's statistics for the unit's subtree (see ``reports`` for the definitions)."""
        ctx = current()
        return reports.monthly(ctx.session, _unit(args["org_unit_id"]), args["month"], _settings())


@blp.route("/reports/monthly.xlsx")
class MonthlyReportXlsx(MethodView):
    @requires(READ)
    @blp.arguments(ReportArgs, location="query")
    @blp.doc(responses={"200": {"description": "the report as .xlsx"}})
    def get(self, args):
        """The month's statistics as an Excel workbook (one sheet per grouping and the quotas)."""
        ctx = current()
        report = reports.monthly(ctx.session, _unit(args["org_unit_id"]), args["month"], _settings())
        return download_response(reports.workbook(report, ctx.tenant.name, reports.columns(_settings())),
                                 f"信访工作月报-{report['unit_name']}-{args['month']}.xlsx")


# --- PET-7: the petitioner's status query (public) -----------------------------------------------

class CodeInput(Schema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=40),
                         metadata={"description": "回执上的查询码，如 ABCD-EFGH-JKLM"})


class RatingInput(CodeInput):
    rating = fields.String(required=True, validate=validate.OneOf(list(status.RATINGS)),
                           metadata={"description": "satisfied 满意 | basically_satisfied 基本满意 | dissatisfied 不满意"})


class StepOut(Schema):
    step = fields.String()
    at = fields.DateTime()


class StatusOut(Schema):
    number = fields.String()
    category = fields.String()
    state = fields.String()
    state_title = fields.String()
    handling_unit = fields.String(allow_none=True)
    registered_at = fields.DateTime()
    due_at = fields.DateTime(allow_none=True)
    steps = fields.List(fields.Nested(StepOut))
    can_rate = fields.Boolean()
    rating = fields.String(allow_none=True)
    rating_title = fields.String(allow_none=True)


def _status(code: str) -> tuple:
    ctx = current()
    settings = ctx.plugins.get("petition")
    if settings is None:
        raise NotFound()
    rate_limit(f"petition.status:{ctx.tenant.id}:{request.remote_addr}", int(settings.get("status_rate_limit", 20)))
    case, row = status.find(ctx.session, code)
    return ctx, settings, case, row


def _view(ctx, settings, case, row) -> dict:
    ctype = request_work().types[KEY]
    return status.public_view(ctx.session, ctype, case, row, {c["key"]: c["title"] for c in settings["categories"]})


@public_blp.route("")
class PetitionStatus(MethodView):
    @public
    @public_blp.arguments(CodeInput)
    @public_blp.response(200, StatusOut)
    def post(self, data):
        """The petition's progress for the code on its receipt; no personal data. Rate-limited per
        address (429); a wrong code answers 404 ``unknown_code``."""
        ctx, settings, case, row = _status(data["code"])
        return _view(ctx, settings, case, row)


@public_blp.route("/rating")
class PetitionRating(MethodView):
    @public
    @public_blp.arguments(RatingInput)
    @public_blp.response(200, StatusOut)
    def post(self, data):
        """Rate the answer once it is given (满意 / 基本满意 / 不满意); once only."""
        ctx, settings, case, row = _status(data["code"])
        channel = status.rating_channel(ctx, settings, request.remote_addr)
        status.rate(request_work(), case, row, data["rating"], channel)
        ctx.session.commit()
        return _view(ctx, settings, case, row)

