"""/api/mediation — the module's own acts and views beyond the case engine's
(``/api/cases`` registers disputes and moves them through their flow: accept, refuse, end,
agree, apply for judicial confirmation, conclude, refer, record a referral's outcome):

- escalation to the next tier and the back-trace (MED-3);
- mediation sessions, the agreement and the court's confirmation, follow-ups (人民调解法);
- referrals between people's, administrative and judicial mediation (MED-4);
- screening reports and who has not filed (MED-1);
- statistics, the tier report, the referral report, the weekly report (MED-3, MED-4, MED-6,
  INT-4) and the three ledgers (MED-6), as JSON and .xlsx.

Objects outside the user's units, or of another county, answer 404.
"""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from flask.views import MethodView
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from core.sdk import (Blueprint, Case, Conflict, IdField, NotFound, case_or_404, current,
                      download_response, id_path, module_settings, record, requires, units_under, unit_or_404,
                      utcnow)

from . import acts, registers, reports, screening, tiers
from .cases import DOCUMENTS, KEY, REFERRAL_OUTCOMES, parties_of
from .models import Agreement, FollowUp, MediationSession, Referral
from .permissions import ESCALATE, MEDIATE, READ, REFER, REGISTER, REGISTER_MANAGE

blp = Blueprint("mediation", __name__, url_prefix="/api/mediation", description="矛盾纠纷调解 / Mediation")
SHANGHAI = ZoneInfo("Asia/Shanghai")
TEXT = validate.Length(min=1, max=5000)
PERIOD = validate.Regexp(r"^\d{4}-(W(0[1-9]|[1-4]\d|5[0-3])|(0[1-9]|1[0-2])(-[12])?)$",
                         error="期间格式：2026-W48（周）、2026-11-1 或 2026-11-2（半月）、2026-11（月）")


def _dispute(case_id, perm: str, lock: bool = True):
    w, case, _ = case_or_404(case_id, lock=lock, case_type=KEY, perm=perm)
    return w, case


def _json(value):
    """A report's dates and times as ISO 8601 (times in UTC, as everywhere in the API)."""
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json(v) for v in value]
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _settings() -> dict:
    return module_settings(current().session, "mediation")


# --- MED-3: tiers -------------------------------------------------------------------------------

class EscalateInput(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=2, max=1000),
                           metadata={"description": "本级未能化解的原因"})


class TierStepOut(Schema):
    tier = fields.String()
    title = fields.String()
    org_unit_id = fields.Integer()
    holders = fields.String()
    entered_at = fields.DateTime()
    left_at = fields.DateTime(allow_none=True)
    days = fields.Float()
    result = fields.String(allow_none=True)
    reason = fields.String()
    over_limit = fields.Boolean()
    stalled = fields.Boolean()


class TraceOut(Schema):
    steps = fields.List(fields.Nested(TierStepOut))
    stalled_tier = fields.String(allow_none=True)
    stalled_title = fields.String(allow_none=True)


def _trace(session, case) -> dict:
    steps = tiers.back_trace(session, case, _settings())
    stalled = tiers.stalled_tier(steps)
    return {"steps": steps, "stalled_tier": stalled["tier"] if stalled else None,
            "stalled_title": stalled["title"] if stalled else None}


@blp.route("/disputes/<case_id>/escalate")
class Escalate(MethodView):
    @requires(ESCALATE)
    @blp.arguments(EscalateInput)
    @blp.response(200, TraceOut)
    def post(self, data, case_id):
        """Pass the dispute up to the next tier that has someone to take it (409 ``top_tier`` at the
        top); the tier above becomes the handling unit, or its network-role holders take it."""
        w, case = _dispute(case_id, ESCALATE)
        tiers.escalate(w, case, _settings(), data["reason"])
        w.session.commit()
        return _trace(w.session, case)


@blp.route("/disputes/<case_id>/trace")
class Trace(MethodView):
    @requires(READ)
    @blp.response(200, TraceOut)
    def get(self, case_id):
        """The tiers the dispute went through and where it stalled (责任倒查)."""
        w, case = _dispute(case_id, READ, lock=False)
        return _trace(w.session, case)


# --- parties, sessions, agreement, follow-ups ---------------------------------------------------

class PartyOut(Schema):
    person_id = fields.Integer()
    name = fields.String()
    side = fields.String()
    side_title = fields.String()
    organisation = fields.Boolean()
    consent = fields.String()
    consent_at = fields.DateTime(allow_none=True)


parties = parties_of


@blp.route("/disputes/<case_id>/parties")
class Parties(MethodView):
    @requires(READ)
    @blp.response(200, PartyOut(many=True))
    def get(self, case_id):
        """The parties with their side and consent (names only; ID numbers and phones through
        ``GET /api/cases/<id>/persons``, masked unless allowed)."""
        w, case = _dispute(case_id, READ, lock=False)
        return parties(w.session, case)


class SessionInput(Schema):
    held_at = fields.AwareDateTime(required=True, default_timezone=SHANGHAI)
    place = fields.String(load_default="", validate=validate.Length(max=100))
    mediators = fields.String(required=True, validate=validate.Length(min=1, max=200))
    participants = fields.String(load_default="", validate=validate.Length(max=500))
    record = fields.String(required=True, validate=TEXT, metadata={"description": "调解笔录"})


class SessionOut(SessionInput):
    id = fields.Integer()
    held_at = fields.DateTime()
    created_by = fields.Integer(allow_none=True)


@blp.route("/disputes/<case_id>/sessions")
class Sessions(MethodView):
    @requires(READ)
    @blp.response(200, SessionOut(many=True))
    def get(self, case_id):
        """The mediation sessions held, oldest first."""
        w, case = _dispute(case_id, READ, lock=False)
        return w.session.scalars(select(MediationSession).where(MediationSession.case_id == case.id)
                                 .order_by(MediationSession.held_at, MediationSession.id)).all()

    @requires(MEDIATE)
    @blp.arguments(SessionInput)
    @blp.response(201, SessionOut)
    def post(self, data, case_id):
        """Record a session (only while the dispute is being mediated: 409 otherwise)."""
        w, case = _dispute(case_id, MEDIATE)
        row = acts.record_session(w, case, data)
        w.session.commit()
        return row


class AgreementOut(Schema):
    form = fields.String()
    facts = fields.String()
    issues = fields.String()
    responsibility = fields.String()
    terms = fields.String()
    performance = fields.String()
    performance_due = fields.Date(allow_none=True)
    mediator = fields.String()
    committee = fields.String()
    effective_on = fields.Date()
    copies = fields.Integer()
    performed = fields.String()
    confirmation = fields.String()
    confirmation_court = fields.String()
    confirmation_applied_on = fields.Date(allow_none=True)
    confirmation_decided_on = fields.Date(allow_none=True)
    confirmation_due_at = fields.DateTime(allow_none=True)


def agreement_of(session, case) -> dict | None:
    from core.sdk import CaseDeadline
    row = session.scalar(select(Agreement).where(Agreement.case_id == case.id))
    if row is None:
        return None
    due = session.scalar(select(CaseDeadline.due_at).where(CaseDeadline.case_id == case.id,
                                                           CaseDeadline.rule == "confirmation")
                         .order_by(CaseDeadline.id.desc()).limit(1))
    out = {c: getattr(row, c) for c in AgreementOut._declared_fields if hasattr(row, c)}
    out["confirmation_due_at"] = due
    return out


@blp.route("/disputes/<case_id>/agreement")
class AgreementView(MethodView):
    @requires(READ)
    @blp.response(200, AgreementOut)
    def get(self, case_id):
        """The agreement (404 before one is reached: ``POST /api/cases/<id>/transitions/agree``)."""
        w, case = _dispute(case_id, READ, lock=False)
        out = agreement_of(w.session, case)
        if out is None:
            raise NotFound("no_agreement", "尚未达成调解协议")
        return out


class DraftInput(Schema):
    """The draft agreement (草拟协议), every item of 人民调解法 Art. 29 the parties sign (the
    parties themselves come from the dispute)."""
    facts = fields.String(load_default="", validate=validate.Length(max=5000),
                          metadata={"title": "纠纷的主要事实", "description": "不填为登记的纠纷内容"})
    issues = fields.String(required=True, validate=TEXT, metadata={"title": "争议事项"})
    responsibility = fields.String(required=True, validate=TEXT, metadata={"title": "各方当事人的责任"})
    terms = fields.String(required=True, validate=TEXT, metadata={"title": "协议内容"})
    performance = fields.String(required=True, validate=validate.Length(min=1, max=1000),
                                metadata={"title": "履行方式"})
    performance_due = fields.Date(allow_none=True, metadata={"title": "履行期限"})
    mediator = fields.String(load_default="", validate=validate.Length(max=50), metadata={"title": "人民调解员"})
    committee = fields.String(load_default="", validate=validate.Length(max=100),
                              metadata={"title": "人民调解委员会"})


class DraftOut(DraftInput):
    saved_at = fields.DateTime()
    saved_by = fields.Integer(allow_none=True)
    document = fields.String(metadata={"description": "the draft as PDF: GET this path"})


def _draft_out(session, case) -> dict:
    out = acts.draft_of(session, case)
    if out is None:
        raise NotFound("no_draft", "尚未草拟调解协议")
    return {**out, "document": f"/api/cases/{case.id}/documents/mediation.agreement_draft"}


@blp.route("/disputes/<case_id>/agreement/draft")
class AgreementDraft(MethodView):
    @requires(READ)
    @blp.response(200, DraftOut)
    def get(self, case_id):
        """The latest draft agreement (404 ``no_draft`` before one); its PDF for the parties to
        sign is the document ``mediation.agreement_draft``."""
        w, case = _dispute(case_id, READ, lock=False)
        return _draft_out(w.session, case)

    @requires(MEDIATE)
    @blp.arguments(DraftInput)
    @blp.response(200, DraftOut)
    def put(self, data, case_id):
        """Save the draft agreement (only while the dispute is being mediated: 409 ``not_mediating``);
        each saving is on the timeline, the latest is the draft."""
        w, case = _dispute(case_id, MEDIATE)
        acts.save_draft(w, case, data)
        w.session.commit()
        return _draft_out(w.session, case)


class ConfirmationResult(Schema):
    result = fields.String(required=True, validate=validate.OneOf(["confirmed", "invalid"]),
                           metadata={"description": "confirmed 确认有效 | invalid 确认无效（人民调解法第三十三条）"})
    decided_on = fields.Date(required=True)


@blp.route("/disputes/<case_id>/agreement/confirmation")
class Confirmation(MethodView):
    @requires(MEDIATE)
    @blp.arguments(ConfirmationResult)
    @blp.response(200, AgreementOut)
    def post(self, data, case_id):
        """The court's decision on the application for judicial confirmation (409 before one was made)."""
        w, case = _dispute(case_id, MEDIATE)
        acts.record_confirmation(w, case, data)
        w.session.commit()
        return agreement_of(w.session, case)


class AgreementFollowUpInput(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(["performance", "return_visit"]),
                         metadata={"description": "performance 履行督促 | return_visit 回访"})
    performed = fields.String(required=True, validate=validate.OneOf(["partly", "performed", "refused"]),
                              metadata={"description": "partly 部分履行 | performed 已履行 | refused 拒不履行"})
    note = fields.String(load_default="", validate=validate.Length(max=2000))


class AgreementFollowUpOut(AgreementFollowUpInput):
    id = fields.Integer()
    at = fields.DateTime()
    created_by = fields.Integer(allow_none=True)


@blp.route("/disputes/<case_id>/followups")
class FollowUps(MethodView):
    @requires(READ)
    @blp.response(200, AgreementFollowUpOut(many=True))
    def get(self, case_id):
        """Performance checks and return visits, oldest first."""
        w, case = _dispute(case_id, READ, lock=False)
        return w.session.scalars(select(FollowUp).where(FollowUp.case_id == case.id)
                                 .order_by(FollowUp.at, FollowUp.id)).all()

    @requires(MEDIATE)
    @blp.arguments(AgreementFollowUpInput)
    @blp.response(201, AgreementFollowUpOut)
    def post(self, data, case_id):
        """Record a follow-up (人民调解法第三十一条: the committee supervises performance); only after
        an agreement (409 ``no_agreement``)."""
        w, case = _dispute(case_id, MEDIATE)
        row = acts.record_followup(w, case, data)
        w.session.commit()
        return row


# --- MED-4: referrals -----------------------------------------------------------------------------

class ReferralOut(Schema):
    id = fields.Integer()
    case_id = fields.Integer()
    number = fields.String()
    direction = fields.String()
    from_kind = fields.String()
    to_kind = fields.String()
    from_body = fields.String()
    to_body = fields.String()
    document = fields.String()
    document_title = fields.String()
    reason = fields.String()
    referred_at = fields.DateTime()
    outcome = fields.String()
    outcome_at = fields.DateTime(allow_none=True)
    outcome_note = fields.String()


class ReferralArgs(Schema):
    org_unit_id = IdField(load_default=None)
    direction = fields.String(validate=validate.OneOf(["in", "out"]))
    outcome = fields.String(validate=validate.OneOf(["pending", *REFERRAL_OUTCOMES]))


def _referral_out(r: Referral, number: str) -> dict:
    return {**{c: getattr(r, c) for c in ("id", "case_id", "direction", "from_kind", "to_kind", "from_body", "to_body",
                                          "document", "reason", "referred_at", "outcome", "outcome_at",
                                          "outcome_note")},
            "number": number, "document_title": DOCUMENTS.get(r.document, r.document)}


@blp.route("/referrals")
class Referrals(MethodView):
    @requires(READ)
    @blp.arguments(ReferralArgs, location="query")
    @blp.response(200, ReferralOut(many=True))
    def get(self, args):
        """Referrals in and out for the unit's subtree (default: yours), newest first (at most 500)."""
        ctx = current()
        unit = unit_or_404(args["org_unit_id"], READ)
        q = (select(Referral, Case.number).join(Case, Case.id == Referral.case_id)
             .where(Case.org_unit_id.in_(units_under(unit.path)))
             .order_by(Referral.referred_at.desc(), Referral.id.desc()).limit(500))
        if args.get("direction"):
            q = q.where(Referral.direction == args["direction"])
        if args.get("outcome"):
            q = q.where(Referral.outcome == args["outcome"])
        return [_referral_out(r, n) for r, n in ctx.session.execute(q)]


class ReferralOutcomeInput(Schema):
    outcome = fields.String(required=True, validate=validate.OneOf(list(REFERRAL_OUTCOMES)),
                            metadata={"description": "mediated 调解成功 | judged 判决 | withdrawn 撤回"})
    note = fields.String(load_default="", validate=validate.Length(max=1000))


@blp.route("/referrals/<referral_id>/outcome")
class ReferralOutcome(MethodView):
    @requires(REFER)
    @blp.arguments(ReferralOutcomeInput)
    @blp.response(200, ReferralOut)
    def post(self, data, referral_id):
        """The outcome of a referral received from a court or department, once the dispute went
        back to it (a referral out is concluded with the dispute's ``record_outcome`` act)."""
        ctx = current()
        ref = ctx.session.scalar(select(Referral).where(Referral.id == id_path(referral_id)))
        if ref is None:
            raise NotFound()
        w, case = _dispute(str(ref.case_id), REFER)  # 404 outside the user's units, as the dispute
        if ref.direction != "in":
            raise Conflict("use_record_outcome", "移送出去的纠纷请在纠纷页面登记移送结果")
        if ref.outcome != "pending":
            raise Conflict("outcome_recorded", "该移送的结果已登记")
        if case.state not in ("ended", "concluded", "referred"):
            raise Conflict("still_mediating", "纠纷仍在调解，调解结束后再登记法院（部门）的处理结果")
        ref.outcome, ref.outcome_at, ref.outcome_note = data["outcome"], utcnow(), data["note"] or "已登记"
        record(w.session, "mediation.referral_outcome", "mediation_referral", ref.id, {"outcome": data["outcome"]})
        w.session.commit()
        return _referral_out(ref, case.number)


# --- MED-1: screening -----------------------------------------------------------------------------

class ScreeningInput(Schema):
    org_unit_id = IdField(required=True)
    period = fields.String(required=True, validate=PERIOD,
                           metadata={"description": "2026-W48（每周）| 2026-11-1、2026-11-2（每半月）| 2026-11（每月）"})
    nil = fields.Boolean(load_default=False, metadata={"description": "零报告：本期未排查出矛盾纠纷"})
    note = fields.String(load_default="", validate=validate.Length(max=2000))
    dispute_ids = fields.List(IdField(), load_default=list, validate=validate.Length(max=500),
                              metadata={"description": "本期排查发现并已登记的矛盾纠纷"})


class ScreeningOut(Schema):
    id = fields.Integer()
    org_unit_id = fields.Integer()
    period = fields.String()
    cadence = fields.String()
    nil = fields.Boolean()
    found = fields.Integer()
    note = fields.String()
    filed_at = fields.DateTime()
    late = fields.Boolean()


class StatusArgs(Schema):
    level = fields.String(required=True, validate=validate.Length(min=1, max=32))
    period = fields.String(validate=PERIOD, metadata={"description": "默认：当前期间"})


@blp.route("/screening")
class Screening(MethodView):
    @requires(REGISTER)
    @blp.arguments(ScreeningInput)
    @blp.response(201, ScreeningOut)
    def post(self, data, **kw):
        """File a unit's screening report for a period: the disputes found, or a nil report (MED-1).
        Filed after its due time it is marked late and the level above is told."""
        from core.sdk import request_work
        w = request_work()
        row = screening.file_report(w, data["org_unit_id"], data["period"], data["nil"], data["note"],
                                    data["dispute_ids"])
        w.session.commit()
        return row


@blp.route("/screening/status")
class ScreeningStatus(MethodView):
    @requires(READ)
    @blp.arguments(StatusArgs, location="query")
    @blp.response(200)
    def get(self, args):
        """Each unit of a level in your scope for a period: ``on_time``, ``late``, ``missing`` (past due,
        flagged to the level above) or ``pending``. A level the county does not ask to report, or a
        period that is not one of its cadence, is 404 ``no_such_board``."""
        ctx = current()
        settings = _settings()
        cadence = screening.cadence_of(settings, args["level"])
        key = args.get("period")
        if cadence is None:
            raise NotFound("no_such_board", "本县未要求该层级单位报送排查情况（见模块设置）")
        if not key:
            key = screening.period_on(cadence, utcnow().astimezone(SHANGHAI).date(), settings).key
        try:
            screening.period(cadence, key, settings)
        except ValueError:
            raise NotFound("no_such_board", "该层级按此周期报送，没有这一期间") from None
        return _json(screening.status(ctx.session, ctx.grants, args["level"], key))


# --- reports --------------------------------------------------------------------------------------

class RangeArgs(Schema):
    org_unit_id = IdField(load_default=None)
    start = fields.Date(required=True)
    end = fields.Date(required=True, metadata={"description": "含当日"})


FIRST_DAY, LAST_DAY = dt.date(1970, 1, 5), dt.date(9998, 12, 25)  # nothing is recorded outside these


def _day(day: dt.date) -> dt.date:
    return min(max(day, FIRST_DAY), LAST_DAY)


def _range(args) -> tuple[dt.datetime, dt.datetime]:
    """The days from ``start`` to ``end`` inclusive (an end before the start: nothing in between)."""
    start = dt.datetime.combine(_day(args["start"]), dt.time(0), tzinfo=SHANGHAI)
    return start, dt.datetime.combine(_day(args["end"]) + dt.timedelta(days=1), dt.time(0), tzinfo=SHANGHAI)


@blp.route("/reports/statistics")
class Statistics(MethodView):
    @requires(READ)
    @blp.arguments(RangeArgs, location="query")
    @blp.response(200)
    def get(self, args):
        """MED-6: received, mediated, agreed, success rate, guided to litigation, 民转刑 prevented —
        in total, by type, by child unit and by month (definitions in ``reports``)."""
        ctx = current()
        return _json(reports.statistics(ctx.session, unit_or_404(args["org_unit_id"], READ), *_range(args)))


@blp.route("/reports/statistics.xlsx")
class StatisticsXlsx(MethodView):
    @requires(READ)
    @blp.arguments(RangeArgs, location="query")
    @blp.doc(responses={"200": {"description": "the statistics as .xlsx"}})
    def get(self, args):
        """The statistics as an Excel workbook (one sheet per grouping)."""
        ctx = current()
        report = reports.statistics(ctx.session, unit_or_404(args["org_unit_id"], READ), *_range(args))
        return download_response(reports.workbook(report, ctx.tenant.name),
                                 f"矛盾纠纷调解统计-{report['unit']['name']}-{args['start']}至{args['end']}.xlsx")


@blp.route("/reports/tiers")
class TierReport(MethodView):
    @requires(READ)
    @blp.arguments(RangeArgs, location="query")
    @blp.response(200)
    def get(self, args):
        """MED-3: per tier, disputes received, resolved, passed up and held past the limit."""
        ctx = current()
        return _json(reports.tier_report(ctx.session, unit_or_404(args["org_unit_id"], READ), *_range(args)))


@blp.route("/reports/referrals")
class ReferralReport(MethodView):
    @requires(READ)
    @blp.arguments(RangeArgs, location="query")
    @blp.response(200)
    def get(self, args):
        """MED-4: referrals by the other side and outcome (e.g. a court referred 32: 29 mediated, 3 judged)."""
        ctx = current()
        return reports.referral_report(ctx.session, unit_or_404(args["org_unit_id"], READ), *_range(args))


class WeekArgs(Schema):
    org_unit_id = IdField(load_default=None)
    day = fields.Date(required=True, metadata={"description": "周内任一天：报表为该日所在的一周（星期一至星期日）"})


def _monday(day: dt.date) -> dt.date:
    day = _day(day)
    return day - dt.timedelta(days=day.weekday())


@blp.route("/reports/weekly")
class WeeklyReport(MethodView):
    @requires(READ)
    @blp.arguments(WeekArgs, location="query")
    @blp.response(200)
    def get(self, args):
        """INT-4: the disputes closed in the week (Monday to Sunday) of ``day`` (周报表)."""
        ctx = current()
        return _json(reports.weekly_closed(ctx.session, unit_or_404(args["org_unit_id"], READ), _monday(args["day"])))


@blp.route("/reports/weekly.xlsx")
class WeeklyReportXlsx(MethodView):
    @requires(READ)
    @blp.arguments(WeekArgs, location="query")
    @blp.doc(responses={"200": {"description": "the weekly report as .xlsx"}})
    def get(self, args):
        """The weekly report of closed disputes as an Excel workbook."""
        ctx = current()
        report = reports.weekly_closed(ctx.session, unit_or_404(args["org_unit_id"], READ), _monday(args["day"]))
        return download_response(reports.weekly_workbook(report, ctx.tenant.name),
                                 f"矛盾纠纷结案周报-{report['unit']['name']}-{report['week_start']:%Y%m%d}.xlsx")


# --- MED-6: the three ledgers ---------------------------------------------------------------------

KIND = validate.OneOf(list(registers.KINDS))


class RegisterArgs(Schema):
    org_unit_id = IdField(load_default=None)
    status = fields.String(validate=validate.OneOf(list(registers.STATUS)))


class RegisterInput(Schema):
    org_unit_id = IdField(required=True)
    found_on = fields.Date(required=True)
    description = fields.String(required=True, validate=TEXT)
    measures = fields.String(load_default="", validate=validate.Length(max=5000))
    responsible = fields.String(load_default="", validate=validate.Length(max=100))
    case_id = IdField(load_default=None, metadata={"description": "相关的矛盾纠纷（可选）"})


class RegisterOut(Schema):
    id = fields.Integer()
    kind = fields.String()
    org_unit_id = fields.Integer()
    unit = fields.String()
    found_on = fields.Date()
    description = fields.String()
    measures = fields.String()
    responsible = fields.String()
    status = fields.String()
    status_title = fields.String()
    resolved_on = fields.Date(allow_none=True)
    case_id = fields.Integer(allow_none=True)


class ResolveInput(Schema):
    resolved_on = fields.Date(required=True)
    measures = fields.String(validate=validate.Length(min=1, max=5000))


def _kind(kind: str) -> str:
    if kind not in registers.KINDS:
        raise NotFound()
    return kind


@blp.route("/registers/<kind>")
class Registers(MethodView):
    @requires(READ)
    @blp.arguments(RegisterArgs, location="query")
    @blp.response(200, RegisterOut(many=True))
    def get(self, args, kind):
        """A ledger's entries for the unit's subtree (default: yours), newest first."""
        ctx = current()
        return registers.entries(ctx.session, _kind(kind), unit_or_404(args["org_unit_id"], READ), args.get("status"))

    @requires(REGISTER_MANAGE)
    @blp.arguments(RegisterInput)
    @blp.response(201, RegisterOut)
    def post(self, data, kind):
        """Add an entry (unstable factor, safety hazard or public-order problem)."""
        ctx = current()
        row = registers.add(ctx, _kind(kind), data)
        ctx.session.commit()
        return registers.entry(ctx.session, row)


@blp.route("/registers/<kind>/<entry_id>/resolve")
class ResolveEntry(MethodView):
    @requires(REGISTER_MANAGE)
    @blp.arguments(ResolveInput)
    @blp.response(200, RegisterOut)
    def post(self, data, kind, entry_id):
        """Mark an entry resolved (化解 / 整改完成) on a day, with the measures taken."""
        ctx = current()
        entry = registers.resolve_entry(ctx, _kind(kind), entry_id, data)
        ctx.session.commit()
        return registers.entry(ctx.session, entry)


@blp.route("/registers/<kind>/export")
class RegisterXlsx(MethodView):
    @requires(READ)
    @blp.arguments(RegisterArgs, location="query")
    @blp.doc(responses={"200": {"description": "the ledger as .xlsx"}})
    def get(self, args, kind):
        """A ledger as an Excel workbook, in the ledger's columns."""
        ctx = current()
        unit = unit_or_404(args["org_unit_id"], READ)
        rows = registers.entries(ctx.session, _kind(kind), unit, args.get("status"))
        return download_response(registers.workbook(kind, rows, ctx.tenant.name, unit.name),
                                 f"{registers.KINDS[kind]}-{unit.name}.xlsx")

