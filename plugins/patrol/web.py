"""The module's pages: rounds and the phone check-in page, routes, the roster and team members.
Server-rendered; every form posts to the same services the API runs, and a refused form comes
back with the message at its field and everything typed kept."""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, redirect, render_template, request, url_for
from sqlalchemy import select

from core.sdk import (HIDDEN_FORM_FIELDS, case_or_404, OrgUnit, Person, PinganError, current, load_form, may, parse_int,
                      request_work, requires,
                      scoped, users_of_unit, user_cards, utcnow, units_under)

from . import cameras, clues, findings, rounds, routes, teams
from .api import CheckInIn, ClueIn, InspectionIn, DutyIn, EndIn, LeaveIn, MemberIn, RouteIn, StartIn
from .models import PatrolCamera, PatrolDuty, PatrolMember, PatrolPoint, PatrolRound, PatrolRoute, PatrolTeam
from .permissions import CAMERA_INSPECT, CLUE_REPORT, CLUE_REPORTER, MANAGE, PATROL, READ
from .routes import SHANGHAI

bp = Blueprint("patrol_web", __name__, url_prefix="/patrol", template_folder="templates")


def _form() -> dict:
    """The posted fields, blanks left out (a blank optional field is not given)."""
    return {k: v.strip() for k, v in request.form.items() if k not in HIDDEN_FORM_FIELDS and v.strip() != ""}


def _refused(exc: PinganError, errors: dict) -> int:
    current().session.rollback()
    errors[(getattr(exc, "field", None) or _field_of(exc) or "_form").split(".")[0]] = exc.message
    return exc.status


def _field_of(exc: PinganError) -> str | None:
    located = next(iter((exc.errors or {}).values()), {}) if exc.errors else {}
    return next(iter(located), None) if isinstance(located, dict) else None


def _units(perm: str) -> list[OrgUnit]:
    ctx = current()
    rows = ctx.session.scalars(select(OrgUnit).where(OrgUnit.status == "active").order_by(OrgUnit.path).limit(2000))
    return [u for u in rows if ctx.grants.covers(perm, u.path)][:500]


def _routes(perm: str) -> list[PatrolRoute]:
    ctx = current()
    return list(ctx.session.scalars(scoped(select(PatrolRoute), ctx.grants, perm, PatrolRoute.org_unit_id)
                                    .order_by(PatrolRoute.name).limit(500)))


def _unit_names(ids) -> dict[int, str]:
    ids = set(ids)
    if not ids:
        return {}
    return dict(current().session.execute(select(OrgUnit.id, OrgUnit.name).where(OrgUnit.id.in_(ids))).all())


# --- rounds -------------------------------------------------------------------------------------

@bp.route("/", methods=["GET", "POST"])
@requires(READ)
def index():
    """Start a round; the latest rounds of the caller's units (flagged ones marked)."""
    ctx = current()
    s = ctx.session
    errors, values, status = {}, {}, 200
    if request.method == "POST":
        values = _form()
        try:
            rnd = rounds.start(ctx, load_form(StartIn, values)["route_id"])
            s.commit()
            return redirect(url_for("patrol_web.round_page", round_id=rnd.id))
        except PinganError as exc:
            status = _refused(exc, errors)
    recent = list(s.scalars(scoped(select(PatrolRound), ctx.grants, READ, PatrolRound.org_unit_id)
                            .order_by(PatrolRound.id.desc()).limit(30)))
    route_names = dict(s.execute(select(PatrolRoute.id, PatrolRoute.name)
                                 .where(PatrolRoute.id.in_({r.route_id for r in recent}))).all()) if recent else {}
    team_rows = list(s.scalars(scoped(select(PatrolTeam), ctx.grants, READ, PatrolTeam.org_unit_id)
                               .where(PatrolTeam.closed_at.is_(None)).order_by(PatrolTeam.name).limit(200)))
    return render_template("patrol/index.html", routes=_routes(PATROL) if ctx.grants.has(PATROL) else [],
                           recent=recent, route_names=route_names, units=_unit_names(r.org_unit_id for r in recent),
                           teams=team_rows, may_manage=ctx.grants.has(MANAGE), errors=errors, values=values,
                           local=lambda t: t.astimezone(SHANGHAI) if t else None), status


@bp.route("/rounds/<round_id>", methods=["GET"])
@requires(READ)
def round_page(round_id):
    return _round(round_id, {}, {}, 200)


def _round(round_id, errors: dict, values: dict, status: int, form: str = ""):
    ctx = current()
    s = ctx.session
    rnd = rounds.round_or_404(ctx, parse_int(round_id, lo=1) or 0)
    route = s.scalar(select(PatrolRoute).where(PatrolRoute.id == rnd.route_id))
    done = {c.point_id: c for c in rounds.check_ins(s, rnd)}
    w = request_work()
    return render_template("patrol/round.html", rnd=rnd, route=route, points=routes.route_points(s, rnd.route_id),
                           done=done, may_patrol=rnd.ended_at is None and may(s, ctx.grants, PATROL, rnd.org_unit_id),
                           may_find=may(s, ctx.grants, PATROL, rnd.org_unit_id), found=findings.of_round(s, rnd),
                           kinds=findings.kind_choices(w), dispute_types=findings.dispute_type_choices(w),
                           grades=findings.grade_choices(w),
                           results=rounds.RESULTS, errors=errors, values=values, form=form,
                           local=lambda t: t.astimezone(SHANGHAI) if t else None), status


@bp.route("/rounds/<round_id>/check-in", methods=["POST"])
@requires(PATROL)
def check_in(round_id):
    ctx = current()
    values, errors = _form(), {}
    try:
        rnd = rounds.round_or_404(ctx, parse_int(round_id, lo=1) or 0, PATROL)
        c = rounds.check_in(ctx, rnd, load_form(CheckInIn, values))
        photo = request.files.get("photo")
        if photo is not None and photo.filename:   # the photo taken there, in the same act
            rounds.attach_photo(ctx, c, photo)
        ctx.session.commit()
        return redirect(url_for("patrol_web.round_page", round_id=rnd.id) + "#points")
    except PinganError as exc:
        if exc.status == 404 and not getattr(exc, "field", None) and not exc.errors:
            raise
        status = _refused(exc, errors)
    return _round(round_id, errors, values, status, form=f"point-{values.get('point_id', '')}")


@bp.route("/rounds/<round_id>/end", methods=["POST"])
@requires(PATROL)
def end(round_id):
    ctx = current()
    values, errors = _form(), {}
    try:
        rnd = rounds.round_or_404(ctx, parse_int(round_id, lo=1) or 0, PATROL)
        rounds.end(ctx, rnd, load_form(EndIn, values))
        ctx.session.commit()
        return redirect(url_for("patrol_web.round_page", round_id=rnd.id))
    except PinganError as exc:
        if exc.status == 404 and not getattr(exc, "field", None) and not exc.errors:
            raise
        status = _refused(exc, errors)
    return _round(round_id, errors, values, status, form="end")


@bp.route("/rounds/<round_id>/findings", methods=["POST"])
@requires(PATROL)
def finding(round_id):
    """What the round found, turned into a dispute, a hazard or a matter at the window."""
    ctx = current()
    values, errors = _form(), {}
    try:
        rnd = rounds.round_or_404(ctx, parse_int(round_id, lo=1) or 0, PATROL)
        findings.turn(ctx, rnd, load_form(findings.FindingIn, values))
        ctx.session.commit()
        return redirect(url_for("patrol_web.round_page", round_id=rnd.id) + "#findings")
    except PinganError as exc:
        if exc.status == 404 and not getattr(exc, "field", None) and not exc.errors:
            raise
        status = _refused(exc, errors)
        for key in [k for k in errors if k != "_form" and k not in findings.FindingIn().fields]:
            errors["_form"] = errors.pop(key)   # e.g. no registration permission on the round's unit
    return _round(round_id, errors, values, status, form="finding")


# --- routes -------------------------------------------------------------------------------------

@bp.route("/routes", methods=["GET", "POST"])
@requires(READ)
def routes_page():
    ctx = current()
    s = ctx.session
    errors, values, status = {}, {}, 200
    points = list(s.scalars(scoped(select(PatrolPoint), ctx.grants, MANAGE, PatrolPoint.org_unit_id)
                            .where(PatrolPoint.closed_at.is_(None)).order_by(PatrolPoint.org_unit_id, PatrolPoint.name)
                            .limit(500))) if ctx.grants.has(MANAGE) else []
    if request.method == "POST" and ctx.grants.has(MANAGE):
        values = _form()
        # the order is typed as a number beside each point (1, 2, 3 …); a point left blank is not on the route
        order = sorted((parse_int(v, lo=1) or 10**6, int(k[6:])) for k, v in values.items()
                       if k.startswith("order_") and k[6:].isdigit())
        raw = {k: v for k, v in values.items() if not k.startswith("order_")}
        raw["point_ids"] = [pid for _, pid in order]
        try:
            routes.create_route(ctx, load_form(RouteIn, raw))
            s.commit()
            return redirect(url_for("patrol_web.routes_page", done=1))
        except PinganError as exc:
            status = _refused(exc, errors)
    rows = _routes(READ)
    teams_of = dict(s.execute(select(PatrolTeam.id, PatrolTeam.name)
                              .where(PatrolTeam.id.in_({r.team_id for r in rows if r.team_id}))).all())
    team_choices = list(s.scalars(scoped(select(PatrolTeam), ctx.grants, MANAGE, PatrolTeam.org_unit_id)
                                  .where(PatrolTeam.closed_at.is_(None)).order_by(PatrolTeam.name).limit(300)))
    return render_template("patrol/routes.html", rows=rows, teams_of=teams_of, units=_unit_names(
        [r.org_unit_id for r in rows] + [p.org_unit_id for p in points]), points=points,
        manage_units=_units(MANAGE) if ctx.grants.has(MANAGE) else [], team_choices=team_choices,
        stops={r.id: [p.name for p in routes.route_points(s, r.id)] for r in rows},
        errors=errors, values=values, done=request.args.get("done")), status


# --- roster -------------------------------------------------------------------------------------

@bp.route("/duties", methods=["GET", "POST"])
@requires(READ)
def duties_page():
    ctx = current()
    s = ctx.session
    errors, values, status = {}, {}, 200
    if request.method == "POST" and ctx.grants.has(MANAGE):
        values = _form()
        try:
            routes.add_duty(ctx, load_form(DutyIn, values))
            s.commit()
            return redirect(url_for("patrol_web.duties_page", done=1))
        except PinganError as exc:
            status = _refused(exc, errors)
    today = utcnow().astimezone(SHANGHAI).date()
    rows = list(s.scalars(scoped(select(PatrolDuty), ctx.grants, READ, PatrolDuty.org_unit_id)
                          .where(PatrolDuty.duty_date >= today - dt.timedelta(days=1))
                          .order_by(PatrolDuty.starts_at).limit(200)))
    manageable = _routes(MANAGE) if ctx.grants.has(MANAGE) else []
    members = routes.members_of_routes(s, manageable)
    shown = list(s.scalars(select(PatrolMember).where(PatrolMember.id.in_({d.member_id for d in rows})))) if rows else []
    named = teams.names(s, members + shown)
    route_names = dict(s.execute(select(PatrolRoute.id, PatrolRoute.name)
                                 .where(PatrolRoute.id.in_({d.route_id for d in rows}))).all()) if rows else {}
    team_names = dict(s.execute(select(PatrolTeam.id, PatrolTeam.name)
                                .where(PatrolTeam.id.in_({m.team_id for m in members}))).all()) if members else {}
    return render_template("patrol/duties.html", rows=rows, route_names=route_names, named=named,
                           routes=manageable, members=members, team_names=team_names, errors=errors, values=values,
                           done=request.args.get("done"), today=today), status


# --- team members -------------------------------------------------------------------------------

@bp.route("/teams/<team_id>/members", methods=["GET", "POST"])
@requires(READ)
def members_page(team_id):
    ctx = current()
    s = ctx.session
    team = teams.team_or_404(ctx, parse_int(team_id, lo=1) or 0)
    manage = may(s, ctx.grants, MANAGE, team.org_unit_id)
    errors, values, status = {}, {}, 200
    if request.method == "POST" and manage:
        values = _form()
        try:
            if values.get("leave_member_id"):
                m = teams.member_or_404(ctx, parse_int(values["leave_member_id"], lo=1) or 0, MANAGE)
                teams.leave(ctx, m, load_form(LeaveIn, {"left_on": values.get("left_on", "")})["left_on"])
            else:
                who = values.pop("who", "")
                kind, _, raw_id = who.partition("-")
                data = {k: v for k, v in values.items() if k in ("role", "joined_on")}
                if kind in ("person", "user"):
                    data[f"{kind}_id"] = raw_id
                teams.add(ctx, team, load_form(MemberIn, data))
            s.commit()
            return redirect(url_for("patrol_web.members_page", team_id=team.id, done=1))
        except PinganError as exc:
            status = _refused(exc, errors)
            if "person_id" in errors or "user_id" in errors:
                errors["who"] = errors.pop("person_id", None) or errors.pop("user_id")
    rows = list(s.scalars(select(PatrolMember).where(PatrolMember.team_id == team.id).order_by(PatrolMember.id)))
    people, accounts = [], []
    if manage:
        people = list(s.execute(select(Person.id, Person.name).where(Person.org_unit_id.in_(units_under(
            s.scalar(select(OrgUnit.path).where(OrgUnit.id == team.org_unit_id))))).order_by(Person.name).limit(300)))
        cards = user_cards(s, users_of_unit(s, team.org_unit_id))
        accounts = sorted(((c.id, c.display_name) for c in cards.values()), key=lambda c: c[1])
    return render_template("patrol/members.html", team=team, rows=rows, named=teams.names(s, rows),
                           roles=teams.ROLES, manage=manage, people=people, accounts=accounts, errors=errors,
                           values=values, done=request.args.get("done"),
                           today=utcnow().astimezone(SHANGHAI).date()), status


# --- clues (PAT-4) ------------------------------------------------------------------------------

@bp.route("/clues/new", methods=["GET", "POST"])
@requires(CLUE_REPORT)
def clue_page():
    """The phone page an information officer reports a clue from."""
    ctx = current()
    errors, values, status = {}, {}, 200
    if request.method == "POST":
        values = _form()
        raw = dict(values)
        if raw.get("occurred_at") and len(raw["occurred_at"]) <= 16:  # a datetime-local is Beijing time
            raw["occurred_at"] += ":00+08:00"
        try:
            case = clues.report(ctx, load_form(ClueIn, raw))
            ctx.session.commit()
            return redirect(url_for("patrol_web.clue_page", done=case.number))
        except PinganError as exc:
            status = _refused(exc, errors)
    return render_template("patrol/clue_new.html", units=_units(CLUE_REPORT), errors=errors, values=values,
                           done=request.args.get("done")), status


@bp.route("/clues/<case_id>/reporter")
@requires(CLUE_REPORTER)
def reporter_page(case_id):
    """An anonymous clue's reporter for an auditor; the read is audited."""
    w, case, _ = case_or_404(case_id, case_type=clues.KEY)
    who = clues.reporter(current(), case)
    w.session.commit()
    return render_template("patrol/reporter.html", case=case, who=who)


# --- camera inspections (PAT-6) -------------------------------------------------------------------

@bp.route("/inspections", methods=["GET", "POST"])
@requires(CAMERA_INSPECT)
def inspection_page():
    """The phone page of a camera inspection: the camera, four checks, a note."""
    ctx = current()
    s = ctx.session
    errors, values, status = {}, {}, 200
    if request.method == "POST":
        values = _form()
        raw = {k: values.get(k) == "true" for k in cameras.CHECKS}
        if values.get("note"):
            raw["note"] = values["note"]
        try:
            cam = cameras.camera_or_404(ctx, parse_int(values.get("camera_id", ""), lo=1) or 0, CAMERA_INSPECT)
            row = cameras.inspect(ctx, cam, load_form(InspectionIn, raw))
            s.commit()
            return redirect(url_for("patrol_web.inspection_page", done=1, ticket=row.ticket_case_id or ""))
        except PinganError as exc:
            status = _refused(exc, errors)
            if "_form" in errors and exc.status == 404:
                errors["camera_id"] = errors.pop("_form")
    rows = list(s.scalars(scoped(select(PatrolCamera), ctx.grants, CAMERA_INSPECT, PatrolCamera.org_unit_id)
                          .where(PatrolCamera.closed_at.is_(None)).order_by(PatrolCamera.place).limit(500)))
    return render_template("patrol/inspect.html", cameras=rows, checks=cameras.CHECKS, states=cameras.STATES,
                           errors=errors, values=values, done=request.args.get("done"),
                           ticket=parse_int(request.args.get("ticket", ""), lo=1)), status
