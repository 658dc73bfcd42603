"""The mediation module's web pages: its part of the shared case page (tier, back-trace,
sessions, escalation, agreement follow-up, court confirmation), screening reports, the
statistics and tier reports, the weekly report and the three ledgers. Server-rendered, no
script needed; every form posts to the same code the API runs."""
from __future__ import annotations

from zoneinfo import ZoneInfo

import datetime as dt

from flask import Blueprint, redirect, render_template, request, url_for
from sqlalchemy import select

from core.sdk import (Case, Invalid, NotFound, OrgUnit, PinganError, case_form_response, current, load_form, may, module_settings,
                      parse_int, request_work, requires, unit_or_404, units_under, utcnow)

from . import acts, registers, reports, screening, tiers
from .api import (AgreementFollowUpInput, ConfirmationResult, DraftInput, EscalateInput, RegisterInput, ResolveInput,
                  SessionInput, _range, agreement_of, parties)
from .cases import DOCUMENTS, KEY, REFERRAL_OUTCOMES, details
from .models import Dispute, FollowUp, MediationSession, Referral
from .permissions import ESCALATE, MEDIATE, READ, REGISTER, REGISTER_MANAGE

SHANGHAI = ZoneInfo("Asia/Shanghai")
bp = Blueprint("mediation_web", __name__, url_prefix="/mediation", template_folder="templates")


# --- the module's part of the shared case page (CaseType.web_panel) ------------------------------

def panel(w, case, errors: dict, values: dict) -> str:
    s = w.session
    units = {case.handling_unit_id, case.org_unit_id} - {None}

    def allowed(perm: str) -> bool:
        return any(may(s, w.grants, perm, u) for u in units)

    settings = module_settings(s, "mediation")
    trace = tiers.back_trace(s, case, settings)
    return render_template(
        "mediation/panel.html", case=case, d=details(s, case), parties=parties(s, case), trace=trace,
        stalled=tiers.stalled_tier(trace), agreement=agreement_of(s, case), draft=acts.draft_of(s, case),
        sessions=s.scalars(select(MediationSession).where(MediationSession.case_id == case.id)
                           .order_by(MediationSession.held_at)).all(),
        followups=s.scalars(select(FollowUp).where(FollowUp.case_id == case.id).order_by(FollowUp.at)).all(),
        referrals=s.scalars(select(Referral).where(Referral.case_id == case.id).order_by(Referral.referred_at)).all(),
        documents=DOCUMENTS, outcomes=REFERRAL_OUTCOMES, errors=errors, values=values,
        may={"mediate": allowed(MEDIATE), "escalate": allowed(ESCALATE)},
        now=utcnow().astimezone(SHANGHAI))


def _form(case_id, form, schema, perm, do):
    return case_form_response(case_id, form, schema, perm, do, case_type=KEY)


@bp.route("/cases/<case_id>/escalate", methods=["POST"])
@requires(ESCALATE)
def escalate(case_id):
    return _form(case_id, "mediation-escalate", EscalateInput, ESCALATE,
                 lambda w, case, d: tiers.escalate(w, case, module_settings(w.session, "mediation"), d["reason"]))


@bp.route("/cases/<case_id>/sessions", methods=["POST"])
@requires(MEDIATE)
def add_session(case_id):
    return _form(case_id, "mediation-session", SessionInput, MEDIATE, acts.record_session)


@bp.route("/cases/<case_id>/draft", methods=["POST"])
@requires(MEDIATE)
def save_draft(case_id):
    return _form(case_id, "mediation-draft", DraftInput, MEDIATE, acts.save_draft)


@bp.route("/cases/<case_id>/followups", methods=["POST"])
@requires(MEDIATE)
def add_followup(case_id):
    return _form(case_id, "mediation-followup", AgreementFollowUpInput, MEDIATE, acts.record_followup)


@bp.route("/cases/<case_id>/confirmation", methods=["POST"])
@requires(MEDIATE)
def confirmation(case_id):
    return _form(case_id, "mediation-confirmation", ConfirmationResult, MEDIATE, acts.record_confirmation)


# --- screening (MED-1) --------------------------------------------------------------------------

@bp.route("/screening", methods=["GET", "POST"])
@requires(READ)
def screening_page():
    ctx = current()
    s = ctx.session
    settings = module_settings(s, "mediation")
    cadences = settings.get("screening") or []
    levels = [c["level"] for c in cadences]
    level = request.args.get("level") or (levels[0] if levels else "")
    error, errors, values, status_code = None, {}, {}, 200
    if request.method == "POST" and ctx.grants.has(REGISTER):
        values = request.form.to_dict()
        try:  # ticked in the list of the units' disputes (never typed)
            ids = [int(x) for x in request.form.getlist("dispute_ids") if x.strip()]
        except ValueError:
            ids = None
        try:
            if ids is None:
                raise Invalid("dispute_ids", "invalid_input", "请在列表中勾选排查发现的纠纷")
            unit_id = request.form.get("org_unit_id", "")
            w = request_work()
            screening.file_report(w, parse_int(unit_id, lo=0) or 0, request.form.get("period", "").strip(),
                                  request.form.get("nil") == "1", request.form.get("note", "")[:2000], ids)
            s.commit()
            return redirect(url_for("mediation_web.screening_page", level=level, period=request.form.get("period")))
        except PinganError as exc:
            s.rollback()
            error, status_code = exc.message, exc.status
            errors[(getattr(exc, "field", "") or "_").split(".")[0]] = exc.message  # dispute_ids.<i> at the list
    board = None
    if level:
        try:
            key = request.args.get("period") or screening.period_on(
                screening.cadence_of(settings, level) or "monthly", utcnow().astimezone(SHANGHAI).date(), settings).key
            board = screening.status(s, ctx.grants, level, key)
        except PinganError as exc:
            error = error or exc.message
    mine = [u for u in s.scalars(select(OrgUnit).where(OrgUnit.level.in_(levels), OrgUnit.status == "active")
                                 .order_by(OrgUnit.path).limit(500)) if ctx.grants.covers(REGISTER, u.path)]
    found = _screening_candidates(s, mine) if mine and ctx.grants.has(REGISTER) else []
    return render_template("mediation/screening.html", board=board, level=level, levels=levels, error=error,
                           errors=errors, values=values, units=mine, may_file=ctx.grants.has(REGISTER),
                           candidates=found, ticked=set(request.form.getlist("dispute_ids"))), status_code


def _screening_candidates(s, units: list) -> list[dict]:
    """The disputes a report may list: registered in one of ``units``' subtrees and not yet in a
    report, newest first (MED-1; the report then checks each is the reporting unit's own)."""
    from sqlalchemy import or_
    paths = or_(*(OrgUnit.path.startswith(u.path) for u in units))
    rows = s.execute(select(Case.id, Case.number, Case.title, OrgUnit.name)
                     .join(Dispute, (Dispute.case_id == Case.id) & (Dispute.tenant_id == Case.tenant_id))
                     .join(OrgUnit, (OrgUnit.id == Case.org_unit_id) & (OrgUnit.tenant_id == Case.tenant_id))
                     .where(Case.case_type == KEY, Dispute.screening_id.is_(None), paths)
                     .order_by(Case.id.desc()).limit(200)).all()
    return [{"id": cid, "label": f"{number} {title}（{unit}）"} for cid, number, title, unit in rows]


# --- reports (MED-3, MED-4, MED-6, INT-4) ------------------------------------------------------------

@bp.route("/reports")
@requires(READ)
def report_page():
    ctx = current()
    today = utcnow().astimezone(SHANGHAI).date()
    raw_unit = request.args.get("org_unit_id", "")
    error, stats, tier, refs = None, None, None, None
    start = request.args.get("start") or f"{today:%Y}-01-01"
    end = request.args.get("end") or f"{today:%Y-%m-%d}"
    try:
        unit = unit_or_404(parse_int(raw_unit, lo=0), READ)
        from .api import RangeArgs
        args = load_form(RangeArgs, {"start": start, "end": end, "org_unit_id": unit.id})
        bounds = _range(args)
        stats = reports.statistics(ctx.session, unit, *bounds)
        tier = reports.tier_report(ctx.session, unit, *bounds)
        refs = reports.referral_report(ctx.session, unit, *bounds)
    except PinganError as exc:
        if exc.status == 404:
            raise
        unit, error = unit_or_404(None, READ), exc.message
    return render_template("mediation/reports.html", unit=unit, start=start, end=end, stats=stats, tier=tier,
                           refs=refs, error=error, figures=reports.FIGURES), 422 if error else 200


@bp.route("/weekly")
@requires(READ)
def weekly_page():
    """The weekly report of closed disputes for the week (Monday to Sunday) holding ``day``, a
    date picked on the page (``week=2026-W48``, the ISO week, is also understood)."""
    import re
    ctx = current()
    today = utcnow().astimezone(SHANGHAI).date()
    unit = unit_or_404(parse_int(request.args.get("org_unit_id", ""), lo=0), READ)
    raw_day, raw_week = request.args.get("day", ""), request.args.get("week", "")
    monday = None
    try:
        if raw_day:
            picked = dt.date.fromisoformat(raw_day)
            monday = picked - dt.timedelta(days=picked.weekday())
        elif raw_week:
            m = re.fullmatch(r"(\d{4})-W(\d{2})", raw_week)
            monday = dt.date.fromisocalendar(int(m[1]), int(m[2]), 1) if m else None
        else:
            monday = today - dt.timedelta(days=today.weekday())
    except ValueError:
        monday = None
    if monday is None or not 1 <= monday.year <= 9998:
        return render_template("mediation/weekly.html", unit=unit, day=raw_day, week_title="", report=None,
                               error="请选择一个日期：显示该日所在一周（周一至周日）的结案情况"), 422
    year, week, _ = monday.isocalendar()
    report = reports.weekly_closed(ctx.session, unit, monday)
    return render_template("mediation/weekly.html", unit=unit, day=raw_day or monday.isoformat(),
                           week_title=f"{year}年第{week}周", report=report, error=None)


# --- the three ledgers (MED-6) -------------------------------------------------------------------

@bp.route("/registers/<kind>", methods=["GET", "POST"])
@requires(READ)
def register_page(kind):
    if kind not in registers.KINDS:
        raise NotFound()
    ctx = current()
    s = ctx.session
    raw_unit = request.args.get("org_unit_id", "")
    unit = unit_or_404(parse_int(raw_unit, lo=0), READ)
    error, values, status_code = None, {}, 200
    if request.method == "POST":
        values = request.form.to_dict()
        try:
            if request.form.get("resolve"):
                _resolve(kind, request.form)
            else:
                _add(kind, request.form)
            s.commit()
            return redirect(url_for("mediation_web.register_page", kind=kind, org_unit_id=unit.id))
        except PinganError as exc:
            s.rollback()
            error, status_code = exc.message, exc.status
    manage_units = [u for u in s.scalars(select(OrgUnit).where(OrgUnit.id.in_(units_under(unit.path)),
                                                               OrgUnit.status == "active")
                                         .order_by(OrgUnit.path).limit(500))
                    if ctx.grants.covers(REGISTER_MANAGE, u.path)]
    return render_template("mediation/register.html", kind=kind, kinds=registers.KINDS, unit=unit,
                           rows=registers.entries(s, kind, unit), error=error, values=values, units=manage_units,
                           today=utcnow().astimezone(SHANGHAI).date()), status_code


def _add(kind: str, form) -> None:
    raw = {k: v for k, v in form.items() if k in RegisterInput().fields and v.strip() != ""}
    registers.add(current(), kind, load_form(RegisterInput, raw))


def _resolve(kind: str, form) -> None:
    ctx = current()
    raw = form.get("resolve", "")
    raw = raw if parse_int(raw, lo=0) is not None else "0"  # ASCII digits only (issue 14, finding 11)
    data = load_form(ResolveInput, {k: v for k, v in form.items() if k in ("resolved_on", "measures") and v.strip()})
    registers.resolve_entry(ctx, kind, raw, data)


@bp.route("/registers")
@requires(READ)
def register_index():
    return redirect(url_for("mediation_web.register_page", kind="unstable"))
