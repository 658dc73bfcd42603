"""The village affairs pages (Chinese, server-rendered, no script needed): projects and their
deliberation, the village's public page (no sign-in), the two-ballot evaluations. Every form
posts to the same code the API runs; a refused form comes back with the message at its field
and everything typed kept."""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from marshmallow import ValidationError, fields, validate
from sqlalchemy import select

from core.sdk import (HIDDEN_FORM_FIELDS, Invalid, OrgUnit, PinganError, current, may, public,
                      request_work, requires, scoped)

from . import evaluations, projects, publicity
from .api import (CompletionInput, DiscussionInput, EvaluationInput, ProgressInput, ProjectInput, PublishInput,
                  VoteInput, evaluation_view, project_or_404, public_village)
from .models import Evaluation, Project, Publication
from .permissions import DELIBERATE, EVALUATE, PUBLISH, READ

bp = Blueprint("village_web", __name__, url_prefix="/village", template_folder="templates")
ACTS = {"discussion": (DiscussionInput, projects.discuss, DELIBERATE),
        "vote": (VoteInput, projects.vote, DELIBERATE),
        "progress": (ProgressInput, projects.progress, DELIBERATE),
        "completion": (CompletionInput, projects.complete, DELIBERATE)}


def controls(schema, skip: tuple = ()) -> list[dict]:
    """The form controls of an API input schema: label, kind and choices, in declaration order."""
    out = []
    for name, f in schema().fields.items():
        if name in skip:
            continue
        one_of = next((v for v in f.validators if isinstance(v, validate.OneOf)), None)
        kind = ("select" if one_of else "date" if isinstance(f, fields.Date) else
                "checkbox" if isinstance(f, fields.Boolean) else
                "number" if isinstance(f, (fields.Integer, fields.Decimal)) else
                "textarea" if any(isinstance(v, validate.Length) and (v.max or 0) > 200 for v in f.validators)
                else "text")
        out.append({"name": name, "label": f.metadata.get("title", name), "kind": kind, "required": f.required,
                    "choices": list(zip(one_of.choices, one_of.labels)) if one_of else [],
                    "step": "0.01" if isinstance(f, fields.Decimal) else "1"})
    return out


def load(schema, form) -> dict:
    """A posted form through the API's schema; every field at fault named (``FormErrors``)."""
    raw = {k: v for k, v in form.items() if k not in HIDDEN_FORM_FIELDS and v.strip() != ""}
    names = schema().fields
    for name, f in names.items():  # an unticked box is "no"
        if isinstance(f, fields.Boolean) and name not in raw and f.required:
            raw[name] = "false"
    raw = {k: v for k, v in raw.items() if k in names}
    try:
        return schema().load(raw)
    except ValidationError as exc:
        errors = {}
        for k, msgs in exc.messages.items():
            label = names[k].metadata.get("title", k) if k in names else k
            text = "；".join(m for m in msgs) if isinstance(msgs, list) else str(msgs)
            errors[k] = f"{label}：{'必填' if 'required' in text.lower() or 'Missing' in text else text}"
        raise FormErrors(errors) from None


class FormErrors(Exception):
    def __init__(self, errors: dict):
        super().__init__("invalid form")
        self.errors = errors


def _villages(perm: str) -> list[OrgUnit]:
    ctx = current()
    rows = ctx.session.scalars(select(OrgUnit).where(OrgUnit.level.in_(projects.VILLAGE_LEVELS),
                                                     OrgUnit.status == "active").order_by(OrgUnit.path).limit(1000))
    return [u for u in rows if ctx.grants.covers(perm, u.path)]


def _fail(exc) -> tuple[dict, int]:
    """A refusal as the page shows it: at its field (or the form's), and its status."""
    if isinstance(exc, FormErrors):
        return exc.errors, 422
    field = (getattr(exc, "field", "") or "").split(".")[0]
    if not field and exc.errors:  # a 404 naming the field (a unit outside the user's scope)
        field = next(iter(next(iter(exc.errors.values()), {})), "")
    return {field or "_form": exc.message}, exc.status


def _create(schema, perm: str, do) -> tuple:
    """A posted create form of a village's record (``do(work, village, data)``): committed →
    ``(row, {}, values, 200)``; refused → ``(None, errors, values, status)`` with nothing saved."""
    if request.method != "POST":
        return None, {}, {}, 200
    s, values = current().session, request.form.to_dict()
    try:
        data = load(schema, request.form)
        w = request_work()
        row = do(w, projects.village(w, data["org_unit_id"], perm), data)
        s.commit()
        return row, {}, values, 200
    except (PinganError, FormErrors) as exc:
        s.rollback()
        errors, status = _fail(exc)
        return None, errors, values, status


# --- projects (VIL-3) -----------------------------------------------------------------------------

@bp.route("/projects", methods=["GET", "POST"])
@requires(READ)
def projects_page():
    ctx = current()
    s = ctx.session
    done, errors, values, status = _create(ProjectInput, DELIBERATE, projects.propose)
    if done is not None:
        return redirect(url_for("village_web.project_page", project_id=done.id))
    state = request.args.get("state", "")
    q = scoped(select(Project), ctx.grants, READ, Project.org_unit_id)
    if state in projects.STATES:
        q = q.where(Project.state == state)
    rows = s.scalars(q.order_by(Project.id.desc()).limit(200)).all()
    names = dict(s.execute(select(OrgUnit.id, OrgUnit.name).where(OrgUnit.id.in_({p.org_unit_id for p in rows}))).all())
    return render_template("village/projects.html", rows=rows, names=names, states=projects.STATES, state=state,
                           villages=_villages(DELIBERATE), form=controls(ProjectInput, ("org_unit_id",)),
                           errors=errors, values=values, public_villages=_villages(READ)), status


@bp.route("/projects/<project_id>", methods=["GET", "POST"])
@requires(READ)
def project_page(project_id):
    ctx = current()
    s = ctx.session
    p = project_or_404(project_id, READ)
    errors, values, status, open_form = {}, {}, 200, ""
    if request.method == "POST":
        act = request.form.get("act", "")
        values, open_form = request.form.to_dict(), act
        try:
            w = request_work()
            if act == "publish":
                p = project_or_404(project_id, PUBLISH)
                publicity.publish(w, p, load(PublishInput, request.form)["stage"])
            elif act == "minutes_photo":
                p = project_or_404(project_id, DELIBERATE)
                projects.attach_minutes_photo(w, p, request.files.get("file"))
            elif act in ACTS:
                schema, do, perm = ACTS[act]
                p = project_or_404(project_id, perm)
                do(w, p, load(schema, request.form))
            else:
                raise Invalid("act", "unknown_act", "请从页面上的表单提交")
            s.commit()
            return redirect(url_for("village_web.project_page", project_id=p.id, done=act))
        except (PinganError, FormErrors) as exc:
            s.rollback()
            errors, status = _fail(exc)
            p = project_or_404(project_id, READ)
    pubs = s.scalars(select(Publication).where(Publication.project_id == p.id)
                     .order_by(Publication.published_at, Publication.id)).all()
    may_deliberate = may(s, ctx.grants, DELIBERATE, p.org_unit_id)
    may_publish = may(s, ctx.grants, PUBLISH, p.org_unit_id)
    return render_template(
        "village/project.html", p=p, view=projects.project_out(p, s.scalar(select(OrgUnit.name).where(
            OrgUnit.id == p.org_unit_id))), pubs=pubs, stages=publicity.STAGES,
        forms={k: controls(v[0]) for k, v in ACTS.items()}, publish_form=controls(PublishInput),
        may_deliberate=may_deliberate, may_publish=may_publish, errors=errors, values=values, open_form=open_form,
        done=request.args.get("done", "")), status


# --- the public page (VIL-4) --------------------------------------------------------------------------

@bp.route("/public/<unit_id>")
@public
def public_page(unit_id):
    unit = public_village(unit_id)
    return render_template("village/public.html", village=unit.name,
                           projects=publicity.public_view(current().session, unit))


# --- two-ballot evaluation (VIL-5) --------------------------------------------------------------------

@bp.route("/evaluations", methods=["GET", "POST"])
@requires(READ)
def evaluations_page():
    ctx = current()
    s = ctx.session
    done, errors, values, status = _create(EvaluationInput, EVALUATE, evaluations.evaluate)
    if done is not None:
        return redirect(url_for("village_web.evaluations_page", done="1"))
    rows = s.scalars(scoped(select(Evaluation), ctx.grants, READ, Evaluation.org_unit_id)
                     .order_by(Evaluation.year.desc(), Evaluation.id.desc()).limit(200)).all()
    return render_template("village/evaluations.html", rows=[evaluation_view(s, e) for e in rows],
                           villages=_villages(EVALUATE), form=controls(EvaluationInput, ("org_unit_id",)),
                           errors=errors, values=values, done=request.args.get("done"),
                           ballots=evaluations.BALLOTS, options=evaluations.OPTIONS), status


# --- cadres ask (VIL-1): figures per cadre --------------------------------------------------------------

@bp.route("/contact-figures")
@requires(READ)
def figures_page():
    import datetime as dt

    from core.sdk import parse_int, unit_or_404

    from .registers import figures
    from .settings import CONTACT_KINDS
    ctx = current()
    unit = unit_or_404(parse_int(request.args.get("org_unit_id", ""), lo=0), READ)
    error, day = None, projects.today()
    try:
        if request.args.get("day"):
            asked = dt.date.fromisoformat(request.args["day"])
            if not 1900 <= asked.year <= 2998:  # the API's bounds: a period of year 9999 ends in 10000
                raise ValueError(asked)
            day = asked
    except ValueError:
        error = "请选择一个日期"
    units = [u for u in ctx.session.scalars(select(OrgUnit).where(OrgUnit.status == "active").where(
        OrgUnit.level.in_(("county", "township", "district", *projects.VILLAGE_LEVELS))).order_by(OrgUnit.path)
        .limit(1000)) if ctx.grants.covers(READ, u.path)]
    return render_template("village/figures.html", unit=unit, units=units, day=day, error=error,
                           report=figures(ctx.session, unit, day), kinds=CONTACT_KINDS), 422 if error else 200
