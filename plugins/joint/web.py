"""The joint-mechanisms module's pages: the mechanisms and their live work, joint meetings (new
meeting with its agenda picked from open cases; attendance, decisions, minutes on the meeting's
page) and the attendance figures. Every form posts to the same code the API runs."""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from sqlalchemy import select

from core.sdk import (HIDDEN_FORM_FIELDS, Invalid, NotFound, OrgUnit, PinganError, current, load_form, may,
                      module_settings, parse_int, request_work, requires, scoped, unit_or_404, units_under)

from . import analysis, campaigns, centres, construction, mechanisms, meetings
from .api import (AnalysisInput, CentreInput, TargetReportInput, PhaseAcceptInput, PhasePlanInput, AttendanceInput, CampaignCreate, DecisionInput, MeetingCreate, MinutesInput,
                  SummaryInput, TargetInput)
from .models import Campaign, Meeting
from .permissions import MANAGE, READ

bp = Blueprint("joint_web", __name__, url_prefix="/joint", template_folder="templates")


def _settings() -> dict:
    return module_settings(current().session, "joint")


def _raw(*lists: str) -> dict:
    """The posted form without the hidden tokens and blanks; ``lists`` are multi-valued fields."""
    raw = {k: v.strip() for k, v in request.form.items()
           if k not in HIDDEN_FORM_FIELDS and k not in lists and v.strip() != ""}
    for name in lists:
        picked = [v for v in request.form.getlist(name) if v.strip()]
        if picked:
            raw[name] = picked
    return raw


def _errors(exc: PinganError, default: str = "_form") -> dict:
    field = getattr(exc, "field", None)
    if not field and exc.errors:
        located = next(iter(exc.errors.values()), {})
        field = next(iter(located), None) if isinstance(located, dict) else None
    return {(field or default).split(".")[0]: exc.message}


def _run(do, again, raw: dict, form: str | None = None):
    """``do()`` and commit: None. On a refusal roll back and return ``again(errors, values, status)``:
    the message at its field (``form.field`` on a page of several forms), what was typed kept."""
    ctx = current()
    try:
        do()
        ctx.session.commit()
        return None
    except PinganError as exc:
        ctx.session.rollback()
        if exc.status == 404 and not exc.errors:
            raise
        errors = {(f"{form}.{k}" if form else k): v for k, v in _errors(exc).items()}
        return again(errors, {form: raw} if form else raw, 422 if exc.status == 404 else exc.status)


def _manage_units(ctx) -> list[OrgUnit]:
    return list(ctx.session.scalars(scoped(select(OrgUnit), ctx.grants, MANAGE, OrgUnit.id)
                                    .where(OrgUnit.status == "active").order_by(OrgUnit.path).limit(500)))


@bp.route("/")
@requires(READ)
def index():
    ctx = current()
    settings = _settings()
    unit = unit_or_404(None, READ)
    rows = list(ctx.session.scalars(select(Meeting).where(Meeting.org_unit_id.in_(units_under(unit.path)))
                                    .order_by(Meeting.held_on.desc(), Meeting.id.desc()).limit(30)))
    names = dict(ctx.session.execute(select(OrgUnit.id, OrgUnit.name)
                                     .where(OrgUnit.id.in_({m.org_unit_id for m in rows}))).all())
    kinds = {k["key"]: k["title"] for k in settings["meetings"]}
    return render_template("joint/index.html", mechanisms=[{**m, "figures": mechanisms.figures(ctx, m)}
                                                           for m in settings["mechanisms"]],
                           meetings=rows, names=names, kinds=kinds, may_manage=ctx.grants.has(MANAGE))


@bp.route("/mechanisms/<key>")
@requires(READ)
def mechanism_page(key):
    ctx = current()
    m = mechanisms.mechanism(_settings(), key)
    titles = {k: v.title for k, v in _types().items()}
    return render_template("joint/mechanism.html", m=m, figures=mechanisms.figures(ctx, m),
                           cases=mechanisms.live_cases(ctx, m), tasks=mechanisms.open_tasks(ctx, m),
                           meetings=mechanisms.recent_meetings(ctx, m), titles=titles)


def _types() -> dict:
    return request_work().types


def _new_page(errors=None, values=None, status=200):
    ctx = current()
    units = _manage_units(ctx)
    values = values or {}
    unit_id = parse_int(values.get("org_unit_id") or request.args.get("org_unit_id") or "")
    unit = next((u for u in units if u.id == unit_id), units[0] if units else None)
    choices = meetings.agenda_choices(ctx, unit) if unit else []
    return render_template("joint/meeting_new.html", units=units, unit=unit, choices=choices,
                           matters=meetings.matter_choices(ctx, unit) if unit else [],
                           kinds=_settings()["meetings"], errors=errors or {}, values=values,
                           picked={str(v) for v in values.get("case_ids", [])},
                           picked_matters={str(v) for v in values.get("intake_ids", [])}), status


@bp.route("/meetings/new")
@requires(MANAGE)
def meeting_new():
    return _new_page()


@bp.route("/meetings/new", methods=["POST"])
@requires(MANAGE)
def meeting_create():
    ctx = current()
    raw = _raw("case_ids", "intake_ids")
    if request.form.get("pick"):     # 选择召开单位后刷新议题
        return _new_page(values=raw)
    made = []
    refused = _run(lambda: made.append(meetings.create(ctx, _settings(), load_form(MeetingCreate, raw))), _new_page, raw)
    return refused or redirect(url_for("joint_web.meeting_page", meeting_id=made[0].id, done="created"))


def _meeting_page(meeting_id: str, errors=None, values=None, status=200):
    ctx = current()
    meeting = meetings.load(ctx, parse_int(meeting_id) or 0)
    view = meetings.detail(ctx, meeting)
    manage = may(ctx.session, ctx.grants, MANAGE, meeting.org_unit_id)
    unit = meetings.convening_unit(ctx, meeting)
    members = meetings.member_units(ctx, unit) if manage else []
    units = list(ctx.session.scalars(select(OrgUnit).where(OrgUnit.id.in_(units_under(unit.path)),
                                                            OrgUnit.status == "active")
                                     .order_by(OrgUnit.path).limit(300))) if manage else []
    choices = meetings.agenda_choices(ctx, unit) if manage else []
    return render_template("joint/meeting.html", m=view, manage=manage, members=members, units=units,
                           choices=choices, matters=meetings.matter_choices(ctx, unit) if manage else [], statuses=meetings.STATUSES, errors=errors or {}, values=values or {},
                           done=request.args.get("done")), status


@bp.route("/meetings/<meeting_id>")
@requires(READ)
def meeting_page(meeting_id):
    return _meeting_page(meeting_id)


def _spec(value: str, field: str) -> dict:
    """A picker's value: ``m<id>`` a member unit, ``u<id>`` an org unit."""
    kind, ident = (value[:1], parse_int(value[1:])) if value else ("", None)
    if ident is None or kind not in ("m", "u"):
        raise Invalid(field, "required", "请选择单位")
    return {"member_unit_id": ident} if kind == "m" else {"org_unit_id": ident}


def _handover_form(raw: dict, text: str) -> dict:
    """A decision's or a target's form as its API body: the pickers' values as unit specs."""
    return ({k: raw[k] for k in ("case_id", text, "deadline") if k in raw}
            | {"lead": _spec(raw.get("lead", ""), "lead"), "co": [_spec(v, "co") for v in raw.get("co", [])]})


@bp.route("/meetings/<meeting_id>/<act>", methods=["POST"])
@requires(MANAGE)
def meeting_act(meeting_id, act):
    ctx = current()
    raw = _raw("case_ids", "intake_ids", "co")
    form = {"attendance": "att", "decisions": "dec", "supervision": "sup", "matter": "mat", "minutes": "min",
            "agenda": "agd"}.get(act)
    if form is None:
        raise NotFound()
    meeting = meetings.load(ctx, parse_int(meeting_id) or 0, MANAGE)

    def do():
        if act == "attendance":
            meetings.attend(ctx, meeting, load_form(AttendanceInput, raw))
        elif act == "minutes":
            meetings.set_minutes(ctx, meeting, load_form(MinutesInput, {"minutes": raw.get("minutes", "")})["minutes"])
        elif act == "agenda":
            meetings.add_agenda(ctx, meeting, [parse_int(v) or 0 for v in raw.get("case_ids", [])],
                                [parse_int(v) or 0 for v in raw.get("intake_ids", [])])
        elif act == "supervision":
            meetings.decide(ctx, meeting, load_form(DecisionInput, {"kind": "supervise", **{
                k: raw[k] for k in ("case_id", "text", "deadline", "level") if k in raw}}))
        elif act == "matter":
            meetings.decide(ctx, meeting, load_form(DecisionInput, {"kind": "new_matter", **{
                k: raw[k] for k in ("subject", "text") if k in raw}}))
        else:
            meetings.decide(ctx, meeting, load_form(DecisionInput, _handover_form(raw, "text")))
    refused = _run(do, lambda e, v, st: _meeting_page(meeting_id, e, v, st), raw, form)
    if refused:
        return refused
    return redirect(url_for("joint_web.meeting_page", meeting_id=meeting.id, done=act) + f"#{form}")


@bp.route("/attendance")
@requires(READ)
def attendance_page():
    ctx = current()
    unit = unit_or_404(parse_int(request.args.get("org_unit_id", "")), READ)
    rows = meetings.attendance_figures(ctx, unit, None, None)
    return render_template("joint/attendance.html", unit=unit, rows=rows)


# --- hot-spot campaigns (JNT-3) ---------------------------------------------------------------

def _campaigns_page(errors=None, values=None, status=200):
    ctx = current()
    unit = unit_or_404(None, READ)
    rows = list(ctx.session.scalars(select(Campaign).where(Campaign.org_unit_id.in_(units_under(unit.path)))
                                    .order_by(Campaign.starts_on.desc(), Campaign.id.desc()).limit(50)))
    return render_template("joint/campaigns.html", rows=rows, units=_manage_units(ctx) if ctx.grants.has(MANAGE) else [],
                           errors=errors or {}, values=values or {}), status


@bp.route("/campaigns/")
@requires(READ)
def campaigns_page():
    return _campaigns_page()


@bp.route("/campaigns/", methods=["POST"])
@requires(MANAGE)
def campaign_create():
    ctx = current()
    raw = _raw()
    made = []
    refused = _run(lambda: made.append(campaigns.create(ctx, load_form(CampaignCreate, raw))), _campaigns_page, raw)
    return refused or redirect(url_for("joint_web.campaign_page", campaign_id=made[0].id, done="created"))


def _campaign_page(campaign_id: str, errors=None, values=None, status=200):
    ctx = current()
    campaign = campaigns.load(ctx, parse_int(campaign_id) or 0)
    manage = may(ctx.session, ctx.grants, MANAGE, campaign.org_unit_id)
    unit = campaigns.organiser(ctx, campaign)
    members = meetings.member_units(ctx, unit) if manage else []
    units = list(ctx.session.scalars(select(OrgUnit).where(OrgUnit.id.in_(units_under(unit.path)),
                                                            OrgUnit.status == "active")
                                     .order_by(OrgUnit.path).limit(300))) if manage else []
    return render_template("joint/campaign.html", c=campaigns.detail(ctx, campaign), manage=manage, members=members,
                           units=units, choices=meetings.agenda_choices(ctx, unit) if manage else [],
                           errors=errors or {}, values=values or {}, done=request.args.get("done")), status


@bp.route("/campaigns/<campaign_id>")
@requires(READ)
def campaign_page(campaign_id):
    return _campaign_page(campaign_id)


@bp.route("/campaigns/<campaign_id>/<act>", methods=["POST"])
@requires(MANAGE)
def campaign_act(campaign_id, act):
    ctx = current()
    raw = _raw("co")
    if act not in ("targets", "close", "report", "supervise", "summary"):
        raise NotFound()
    campaign = campaigns.load(ctx, parse_int(campaign_id) or 0, MANAGE)

    def do():
        if act == "targets":
            campaigns.add_target(ctx, campaign, load_form(TargetInput, _handover_form(raw, "instruction")))
        elif act == "close":
            target = campaigns.target_of(ctx, campaign, parse_int(raw.get("target_id", "")) or 0)
            campaigns.close_target(ctx, campaign, target, raw.get("note", ""))
        elif act == "report":
            target = campaigns.target_of(ctx, campaign, parse_int(raw.get("target_id", "")) or 0)
            campaigns.report(ctx, campaign, target, load_form(TargetReportInput, {
                k: raw[k] for k in ("reported_on", "text") if k in raw}))
        elif act == "supervise":
            campaigns.supervise_overdue(ctx, campaign)
        else:
            campaign.summary = load_form(SummaryInput, {"summary": raw.get("summary", "")})["summary"]
    form = f"{act}-{raw.get('target_id', '')}" if act in ("close", "report") else act
    refused = _run(do, lambda e, v, st: _campaign_page(campaign_id, e, v, st), raw, form)
    if refused:
        return refused
    return redirect(url_for("joint_web.campaign_page", campaign_id=campaign.id, done=act))


# --- monthly public-order analysis (RPT-2) ----------------------------------------------------

def _analyses_page(errors=None, values=None, status=200):
    ctx = current()
    root = analysis.county_root(ctx.session)
    return render_template("joint/analyses.html", rows=[analysis.out(a) for a in analysis.history(ctx.session)],
                           levels=_settings()["warning_levels"],
                           manage=root is not None and may(ctx.session, ctx.grants, MANAGE, root.id),
                           errors=errors or {}, values=values or {}, done=request.args.get("done")), status


@bp.route("/analyses/")
@requires(READ)
def analyses_page():
    return _analyses_page()


@bp.route("/analyses/", methods=["POST"])
@requires(MANAGE)
def analysis_create():
    ctx = current()
    raw = _raw()
    refused = _run(lambda: analysis.record_analysis(ctx, _settings(), load_form(AnalysisInput, raw)),
                   _analyses_page, raw)
    return refused or redirect(url_for("joint_web.analyses_page", done="created"))


# --- centre construction (ORG-5) --------------------------------------------------------------

def _plan_page(errors=None, values=None, status=200):
    ctx = current()
    unit = unit_or_404(parse_int(request.args.get("org_unit_id", "")), READ)
    settings = _settings()
    return render_template("joint/construction.html", unit=unit, p=construction.progress(ctx, settings, unit),
                           phases=settings["construction_phases"], results=construction.RESULTS,
                           units=_manage_units(ctx) if ctx.grants.has(MANAGE) else [],
                           errors=errors or {}, values=values or {}, done=request.args.get("done")), status


@bp.route("/construction/")
@requires(READ)
def construction_page():
    return _plan_page()


@bp.route("/construction/", methods=["POST"])
@requires(MANAGE)
def construction_act():
    ctx = current()
    raw = _raw()
    form = "accept" if raw.get("phase_id") else "plan"

    def do():
        if form == "plan":
            construction.plan(ctx, _settings(), load_form(PhasePlanInput, raw))
        else:
            row = construction.load(ctx, parse_int(raw.get("phase_id", "")) or 0)
            construction.accept(ctx, row, load_form(PhaseAcceptInput, {k: v for k, v in raw.items() if k != "phase_id"}))
    refused = _run(do, _plan_page, raw, form)
    if refused:
        return refused
    return redirect(url_for("joint_web.construction_page", done=form))


# --- centres (ORG-2, ORG-5) -------------------------------------------------------------------

@bp.route("/centres/")
@requires(READ)
def centres_page():
    ctx = current()
    unit = unit_or_404(parse_int(request.args.get("org_unit_id", "")), READ)
    settings = _settings()
    return render_template("joint/centres.html", unit=unit, o=centres.overview(ctx, settings, unit),
                           standard=settings["centre_standard"],
                           units=_manage_units(ctx) if ctx.grants.has(MANAGE) else [])


@bp.route("/centres/go")
@requires(READ)
def centre_go():
    """The overview's unit picker: to that unit's centre page."""
    return redirect(url_for("joint_web.centre_page", unit_id=parse_int(request.args.get("org_unit_id", "")) or 0))


def _centre_page(unit_id: str, errors=None, values=None, status=200):
    ctx = current()
    unit = unit_or_404(parse_int(unit_id) or 0, READ)
    view = centres.view(ctx, _settings(), unit)
    manage = may(ctx.session, ctx.grants, MANAGE, unit.id)
    rows = max(2, len(view["deputies"]) + 1, (parse_int(values.get("deputy_rows", "")) or 0) if values else 0)
    return render_template("joint/centre.html", c=view, unit=unit, manage=manage, errors=errors or {},
                           values=values, deputy_rows=min(rows, centres.MAX_DEPUTIES),
                           done=request.args.get("done")), status


@bp.route("/centres/<unit_id>")
@requires(READ)
def centre_page(unit_id):
    return _centre_page(unit_id)


@bp.route("/centres/<unit_id>", methods=["POST"])
@requires(MANAGE)
def centre_save(unit_id):
    ctx = current()
    unit = unit_or_404(parse_int(unit_id) or 0, MANAGE)
    raw = _raw("facilities")
    rows = min(parse_int(raw.get("deputy_rows", "")) or 2, centres.MAX_DEPUTIES)
    body = {k: raw[k] for k in ("name", "director_name", "director_post", "note") if k in raw}
    body["facilities"] = raw.get("facilities", [])
    body["deputies"] = [{"name": raw[f"deputy-{i}-name"], "post": raw.get(f"deputy-{i}-post", "")}
                        for i in range(rows) if raw.get(f"deputy-{i}-name")]
    refused = _run(lambda: centres.save(ctx, _settings(), unit, load_form(CentreInput, body)),
                   lambda e, v, st: _centre_page(unit_id, e, v, st), raw)
    return refused or redirect(url_for("joint_web.centre_page", unit_id=unit.id, done="saved"))
