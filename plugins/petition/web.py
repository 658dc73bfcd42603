"""The petitioner's status page (PET-7): ``/petition/status``, no sign-in, no script needed.

The same service as ``POST /api/petition/public/status``: a code from the receipt in, the
petition's stage and steps out, and the rating once an answer is given. Errors (wrong code,
too many tries) are shown on the page in Chinese.
"""
from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import Blueprint, render_template, request
from marshmallow import fields

from sqlalchemy import select

from core.sdk import (CasePerson, Forbidden, Invalid, OrgUnit, Person, PinganError, get_or_404, limit_end, load_form,
                      parse_int, public, record, request_work, requires, scoped, units_under, within)

from . import oversight, quotas, reports, status
from .api import (EscalationInput, FollowUpInput, JointInput, LeaderInput, QuotaRow, ReasonInput, RiskInput,
                  SituationInput, WatchInput, _period, _status, _unit, _view, _watch_out)
from .models import Accountability, Escalation, Quota, WatchEntry
from .permissions import HANDLE, LEADER as LEADER_PERM, QUOTA, READ, WATCH

SHANGHAI = ZoneInfo("Asia/Shanghai")
bp = Blueprint("petition_web", __name__, url_prefix="/petition", template_folder="templates")


def _local(view: dict) -> dict:
    """Dates as the petitioner reads them (Asia/Shanghai)."""
    def day(v):
        return f"{v.astimezone(SHANGHAI):%Y年%m月%d日}" if v else ""
    return {**view, "registered_at": day(view["registered_at"]),
            # a limit ends at 24:00 of its last day (stored as the next day's 00:00): the words of every page
            "due_at": limit_end(view["due_at"], "%Y年%m月%d日"),
            "steps": [{"step": s["step"], "at": day(s["at"])} for s in view["steps"]]}


def _page(view: dict | None = None, code: str = "", error: str | None = None, done: str | None = None,
          http: int = 200):
    return render_template("petition/status.html", view=_local(view) if view else None, code=code, error=error, done=done,
                           ratings=status.RATINGS), http


@bp.route("/status", methods=["GET", "POST"])
@public
def status_page():
    if request.method == "GET":
        return _page()
    code = request.form.get("code", "").strip()[:40]
    if not code:
        return _page(error="请输入回执上的查询码", http=422)
    try:
        ctx, settings, case, row = _status(code)
        rating = request.form.get("rating")
        done = None
        if rating:
            status.rate(request_work(), case, row, rating, status.rating_channel(ctx, settings, request.remote_addr))
            ctx.session.commit()
            done = "感谢您的评价"
        return _page(_view(ctx, settings, case, row), code, done=done)
    except PinganError as exc:
        return _page(code=code, error=exc.message, http=exc.status)


# --- the module's part of the shared case page (CaseType.web_panel) ------------------------------

def panel(w, case, errors: dict, values: dict) -> str:
    """Leader ownership, the risk assessment and the situation report, as forms on the case page."""
    from core.sdk import may

    from .cases import details
    from .permissions import LEADER
    s = w.session
    done = [r.level for r in oversight.assessments(s, case.id)]
    next_level = next((lvl for lvl in oversight.LEVELS if lvl not in done), None)
    units = {case.handling_unit_id, case.org_unit_id} - {None}

    def allowed(perm: str) -> bool:
        return any(may(s, w.grants, perm, u) for u in units)

    return render_template(
        "petition/panel.html", case=case, d=details(s, case), risks=oversight.assessments(s, case.id),
        next_level=next_level, levels=oversight.LEVELS, grades=oversight.GRADES, methods=oversight.NOTICE_METHODS,
        open=case.closed_at is None, errors=errors, values=values,
        people=s.execute(select(Person.id, Person.name).join(CasePerson, CasePerson.person_id == Person.id)
                         .where(CasePerson.case_id == case.id).order_by(CasePerson.id)).all(),
        may={"leader": allowed(LEADER), "handle": allowed(HANDLE), "watch": allowed(WATCH),
             "risk": bool(next_level) and allowed(oversight.LEVELS[next_level][1])})


def _case_form(case_id: str, form: str, schema, perm: str, do):
    from core.sdk import case_form_response
    from .cases import KEY
    return case_form_response(case_id, form, schema, perm, do, case_type=KEY)


def _team(text: str) -> list[dict]:
    out = []
    for line in text.splitlines():
        parts = line.strip().split(None, 1)
        if parts:
            out.append({"name": parts[0][:50], "post": parts[1][:100] if len(parts) > 1 else ""})
    return out


@bp.route("/cases/<case_id>/leader", methods=["POST"])
@requires(LEADER_PERM)
def leader(case_id):
    class Form(LeaderInput):
        team = fields.String(required=True)

    def do(w, case, data):
        data["team"] = _team(data["team"])
        if not data["team"]:
            raise Invalid("team", "required", "请填写工作班子")
        oversight.assign_leader(w, case, data)
    return _case_form(case_id, "petition-leader", Form, LEADER_PERM, do)


@bp.route("/cases/<case_id>/leader/end", methods=["POST"])
@requires(LEADER_PERM)
def leader_end(case_id):
    return _case_form(case_id, "petition-leader-end", ReasonInput, LEADER_PERM,
                      lambda w, case, d: oversight.dissolve_leader(w, case, d["reason"]))


@bp.route("/cases/<case_id>/joint-decision", methods=["POST"])
@requires(HANDLE)
def joint(case_id):
    class Form(JointInput):
        units = fields.String(required=True)

    def do(w, case, data):
        data["units"] = [u.strip()[:100] for u in data["units"].splitlines() if u.strip()]
        if len(data["units"]) < 2:
            raise Invalid("units", "too_few_units", "联席会议至少要有两个参会单位")
        oversight.joint_decision(w, case, data)
    return _case_form(case_id, "petition-joint", Form, HANDLE, do)


@bp.route("/cases/<case_id>/risk", methods=["POST"])
@requires(READ)  # each level checks its own permission (oversight.assess)
def risk(case_id):
    return _case_form(case_id, "petition-risk", RiskInput, READ,
                      lambda w, case, d: oversight.assess(w, case, d["level"], d["grade"], d["opinion"]))


@bp.route("/cases/<case_id>/watch", methods=["POST"])
@requires(WATCH)
def watch_add(case_id):
    def do(w, case, data):
        person = get_or_404(w.session, w.grants, Person, data["person_id"], WATCH)
        if w.session.scalar(select(CasePerson.id).where(CasePerson.case_id == case.id,
                                                        CasePerson.person_id == person.id)) is None:
            raise Invalid("person_id", "not_a_petitioner", "该人员不是本事项的信访人")
        oversight.watch(w.session, w.user_id, person, data["grade"], data["signs"])
    return _case_form(case_id, "petition-watch", WatchInput, WATCH, do)


@bp.route("/cases/<case_id>/situation-report", methods=["POST"])
@requires(HANDLE)
def situation(case_id):
    return _case_form(case_id, "petition-situation", SituationInput, HANDLE,
                      lambda w, case, d: oversight.situation_report(w, case, d))


# --- module pages: quotas and accountability, the watch list, the monthly report -----------------

def _unit_arg():
    raw = request.args.get("org_unit_id", "")  # the page's unit (a form's org_unit_id is the form's own)
    return _unit(parse_int(raw, lo=0))  # ASCII digits only: "²" is the default unit (issue 14, finding 11)


@bp.route("/quotas", methods=["GET", "POST"])
@requires(READ)
def quotas_page():
    """Quota and use for a unit and its children; set quotas, record a level-skipping petition,
    close an accountability record — each form calls the same service as the API."""
    from core.sdk import current
    ctx = current()
    s = ctx.session
    settings = ctx.plugins.get("petition") or {}
    unit = _unit_arg()
    error, done, http, values = None, None, 200, {}
    if request.method == "POST":
        try:
            done = _quota_form(ctx, settings)
            s.commit()
        except PinganError as exc:  # the page again: the reason at the top, the form as typed
            s.rollback()
            error, http, values = exc.message, exc.status, {request.form.get("form", ""): request.form.to_dict()}
    period = request.values.get("period") or _period(None)
    try:
        period = _period(period)
    except PinganError as exc:
        error, http, period = exc.message, exc.status, _period(None)
    kids = s.scalars(select(OrgUnit).where(OrgUnit.parent_id == unit.id).order_by(OrgUnit.id)).all()
    escalations = s.scalars(select(Escalation).where(Escalation.period == period,
                                                     Escalation.org_unit_id.in_(units_under(unit.path)))
                            .order_by(Escalation.occurred_on.desc()).limit(200)).all()
    accs = s.scalars(select(Accountability).where(Accountability.period == period,
                                                  Accountability.org_unit_id.in_(units_under(unit.path)))
                     .order_by(Accountability.id.desc()).limit(200)).all()
    names = dict(s.execute(select(OrgUnit.id, OrgUnit.name).where(
        OrgUnit.id.in_({e.org_unit_id for e in escalations} | {a.org_unit_id for a in accs}))).all())
    villages = s.scalars(select(OrgUnit).where(within(unit.path), OrgUnit.status == "active")
                         .order_by(OrgUnit.path).limit(500)).all()
    return render_template("petition/quotas.html", unit=unit, children=kids, period=period,
                           usage=quotas.usage(s, [unit, *kids], period, settings), escalations=escalations,
                           accountability=accs, names=names, villages=villages, kinds=quotas.KINDS,
                           levels=quotas.LEVELS, error=error, done=done, values=values,
                           may_manage=ctx.grants.covers(QUOTA, unit.path)), http


def _quota_form(ctx, settings: dict) -> str:
    """One POST of the quotas page: ``form`` says which."""
    s = ctx.session
    form = request.form.get("form")
    if not ctx.grants.has(QUOTA):
        raise Forbidden("forbidden", f"需要权限：{QUOTA}")
    if form == "quota":
        raw = {"org_unit_id": request.form.get("org_unit_id"), "period": request.form.get("period"),
               "kind": request.form.get("kind"), "quota": request.form.get("quota") or None}
        row = _load(QuotaRow, raw)
        unit = s.scalar(select(OrgUnit).where(OrgUnit.id == row["org_unit_id"]))
        if unit is None or not ctx.grants.covers(QUOTA, unit.path):
            raise Invalid("org_unit_id", "unknown_unit", "单位不存在或不在您的管辖范围内")
        period = _period(row["period"], strict=True)
        existing = s.scalar(select(Quota).where(Quota.org_unit_id == unit.id, Quota.period == period,
                                                Quota.kind == row["kind"]))
        if row["quota"] is None:
            if existing is not None:
                s.delete(existing)
        elif existing is None:
            s.add(Quota(org_unit_id=unit.id, period=period, kind=row["kind"], quota=row["quota"]))
        else:
            existing.quota = row["quota"]
        record(s, "petition.quota_set", "org_unit", unit.id, {"period": period, "kind": row["kind"], "quota": row["quota"]})
        return "指标已保存"
    if form == "escalation":
        raw = {k: v for k, v in request.form.items() if k in EscalationInput().fields and v.strip() != ""}
        raw["abnormal"] = "abnormal" in request.form
        data = _load(EscalationInput, raw)
        unit = s.scalar(select(OrgUnit).where(OrgUnit.id == data["org_unit_id"]))
        if unit is None or not ctx.grants.covers(QUOTA, unit.path):
            raise Invalid("org_unit_id", "unknown_unit", "单位不存在或不在您的管辖范围内")
        _, raised = quotas.record_escalation(s, settings, data, ctx.user.id)
        return "已登记" + (f"；突破指标，已生成问责记录 {len(raised)} 条" if raised else "")
    if form == "close":
        acc = get_or_404(s, ctx.grants, Accountability, request.form.get("accountability_id", ""), QUOTA)
        outcome = request.form.get("outcome", "").strip()
        if not outcome:
            raise Invalid("outcome", "required", "请填写采取的组织措施或处理结果")
        quotas.close_accountability(s, acc.id, outcome, ctx.user.id)
        return "问责记录已办结"
    raise Invalid("form", "unknown_form", "无法识别的表单")


_load = load_form


@bp.route("/watch", methods=["GET", "POST"])
@requires(READ)
def watch_page():
    """The watch list of your units; add a follow-up, report one done, take someone off."""
    from core.sdk import current
    ctx = current()
    s = ctx.session
    error, done, http, values = None, None, 200, {}
    if request.method == "POST":
        try:
            watch_id = request.form.get("watch_id", "")
            row = get_or_404(s, ctx.grants, WatchEntry, watch_id, WATCH)
            if request.form.get("form") == "followup":
                data = _load(FollowUpInput, {k: v for k, v in request.form.items()
                                             if k in ("task", "due_on") and v.strip()})
                oversight.add_followup(s, ctx.user.id, row, data["task"], data["due_on"], None)
                done = "已布置稳控任务"
            elif request.form.get("form") == "end":
                reason = request.form.get("reason", "").strip()
                if not reason:
                    raise Invalid("reason", "required", "请填写移出理由")
                oversight.unwatch(s, row, reason)
                done = "已移出重点关注名单"
            s.commit()
        except PinganError as exc:  # the page again: the reason at the top, the form as typed
            s.rollback()
            error, http = exc.message, exc.status
            values = {f"{request.form.get('form', '')}-{request.form.get('watch_id', '')}": request.form.to_dict()}
    rows = s.scalars(scoped(select(WatchEntry), ctx.grants, READ, WatchEntry.org_unit_id)
                     .where(WatchEntry.ended_at.is_(None)).order_by(WatchEntry.added_at.desc()).limit(500)).all()
    return render_template("petition/watch.html", rows=_watch_out(s, rows), grades=oversight.GRADES, error=error,
                           done=done, values=values, may_manage=ctx.grants.has(WATCH)), http


@bp.route("/reports")
@requires(READ)
def report_page():
    """The monthly report for a unit (default: yours) and month (default: this one), with the .xlsx link."""
    from core.sdk import current, utcnow
    ctx = current()
    unit = _unit_arg()
    month = request.args.get("month") or f"{utcnow().astimezone(SHANGHAI):%Y-%m}"
    error, report, http = None, None, 200
    try:
        report = reports.monthly(ctx.session, unit, month, ctx.plugins.get("petition") or {})
    except PinganError as exc:
        error, http = exc.message, exc.status
    return render_template("petition/report.html", unit=unit, month=month, report=report, error=error,
                           columns=reports.columns(ctx.plugins.get("petition") or {})), http
