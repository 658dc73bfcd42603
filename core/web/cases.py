"""The shared case screens every module uses: the list and a case's page with its actions.

Server-rendered, no script needed. The same services as ``/api/cases`` (``core.cases``):
the list takes the API's filters (``CaseListArgs``), the page shows what the API's detail
shows, and each form calls the engine act the API calls; its error comes back next to the
form, in Chinese, and nothing already saved is lost. A refused act (a 409: too late, already
decided, a stale page) is the same page again, not an error page: the reason at the top, the
form below with what was typed (an act the state no longer offers keeps its form, without a
button). A form is offered only when the user may take the act now (the workflow's
``available``, the user's permissions on the case's units). A case the user may not see is the
404 page. Limits' ends are written by ``core.timefmt.limit_end`` ("2026-10-09 24:00"), the same
words as the errors that name them; flags by their module's titles (``CaseType.flag_titles``).
"""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, redirect, render_template, request, url_for
from markupsafe import Markup
from marshmallow import ValidationError
from sqlalchemy import func, select

from core.api.cases import CaseListArgs, detail, present
from core.authz import get_or_404
from core.bounds import parse_int
from core.cases import attachments, dispatch, engine, intake, supervision, timeline
from core.cases import people as case_people
from core.cases import settings as case_settings
from core.cases.access import covers, request_case, task_units, units_in_scope
from core.cases.engine import CHANNEL_TITLES
from core.cases.models import Case, CaseEvent, CasePerson, Intake
from core.cases.queries import ID_NUMBER_SHAPE, PHONE_SHAPE, filtered
from core.cases.timeline import request_work
from core.db import utcnow
from core.errors import NotFound, PinganError
from core.i18n import pick
from core.idempotency import HIDDEN_FORM_FIELDS
from core.runtime import pingan
from core.validation_messages import validation_zh
from core.models import OrgUnit, Person, User
from core.privacy import mask
from core.request import requires
from core.web.intake import form_fields
from core.timefmt import LIGHTS, light, limit_end, local  # noqa: F401  (local: the admin pages and the dashboard import it from here)

bp = Blueprint("web_cases", __name__)
READ, DIVERT, HANDLE, SUPERVISE = "core.case.read", "core.case.divert", "core.case.handle", "core.case.supervise"
PERSON_READ = "core.person.read"
PAGE = 20
INTAKE_FACTS = ("demands", "visitors", "first_inquiry")  # a module's intake fields shown with the case's facts
MAX_UNITS = 500
EVENT_TITLES = {"registered": ("登记", "Registered"), "diverted": ("分流交办", "Diverted"),
                "assigned": ("指定经办人", "Handler assigned"), "task_done": ("承办单位反馈", "Task reported"),
                "task_returned": ("退回（非本单位事项）", "Task returned (not ours)"),
                "handed_back": ("退回分流单位", "Handed back to the diverting unit"),
                "task_cancelled": ("撤回协办任务", "Task withdrawn"), "urged": ("催办", "Urged"),
                "supervised": ("督办", "Supervised"), "replied": ("答复督办", "Supervision answered"),
                "escalated": ("督办升级", "Supervision escalated"), "extension_requested": ("申请延期", "Extension requested"),
                "extended": ("批准延期", "Extended"), "extension_rejected": ("不予延期", "Extension refused"),
                "commented": ("备注", "Note"), "attached": ("上传附件", "File attached"),
                "attachment_removed": ("删除附件", "File removed"), "reminded": ("到期提醒", "Reminder"),
                "recomputed": ("期限重算", "Limit recomputed"),
                "overdue": ("超期", "Overdue"), "flagged": ("标记", "Flagged"), "unflagged": ("取消标记", "Unflagged"),
                "reported_up": ("上报", "Reported upward"), "person_added": ("添加人员", "Person added"),
                "person_removed": ("移除人员", "Person removed"), **dispatch.EVENT_TITLES}


def _rule_title(ctype, d) -> str:
    """A time limit's title in the page's language (the stored title is the Chinese one)."""
    rule = next((r for r in (*ctype.deadlines, *ctype.task_limits) if r.key == d.rule), None)
    return pick(d.title, rule.title_en if rule else None)


def event_title(ctype, kind: str) -> str:
    """A timeline entry's title in the page's language: the type's act, the core's event, or the
    module's own event (``CaseType.event_titles``); the kind itself when nobody named it."""
    t = ctype.transition(kind) if ctype else None
    if t is not None:
        return pick(t.title, t.title_en)
    zh_en = EVENT_TITLES.get(kind) or (ctype.event_titles.get(kind) if ctype else None)
    if isinstance(zh_en, str):
        return zh_en
    return pick(*zh_en) if zh_en else kind


def flag_title(ctype, flag: str) -> str:
    """A flag in the page's language: the module's title (``CaseType.flag_titles``); the key only
    for a flag nobody named (one set through the API by hand)."""
    zh_en = ctype.flag_titles.get(flag) if ctype else None
    if isinstance(zh_en, str):
        return zh_en
    return pick(*zh_en) if zh_en else flag


TASK_STATES = {"open": ("办理中", "open"), "done": ("已办结", "answered"), "returned": ("已回退", "returned"),
               "cancelled": ("已撤回", "withdrawn")}


# --- the list ---------------------------------------------------------------------------------

def _list_args(person: str | None) -> tuple[dict, dict]:
    raw = {k: v for k, v in request.args.items() if v != "" and k not in ("state", "person")}
    states = [s for s in request.args.getlist("state") if s]
    if states:
        raw["state"] = states
    if person:
        raw["person"] = person
    raw.setdefault("limit", PAGE)
    try:
        return CaseListArgs().load(raw), {}
    except ValidationError as exc:
        return {"limit": PAGE}, {k: "；".join(map(str, v)) if isinstance(v, list) else str(v)
                                 for k, v in exc.messages.items()}


def _person_shaped_like_pii(value: str) -> bool:
    compact = "".join(value.split())
    return bool(ID_NUMBER_SHAPE.match(compact) or PHONE_SHAPE.match(value.strip()))


@bp.route("/cases", methods=["GET", "POST"])
@requires(READ)
def case_list():
    """The case list. Its filters are the address's query (a list can be bookmarked and linked),
    except the person: that comes in the body of a POST (the "按人员查找" form), so an ID number
    or a phone never stands in an address, a browser's history or a proxy's log."""
    w = request_work()
    person = request.form.get("person", "").strip()[:50] if request.method == "POST" else ""
    typed = request.args.get("person", "").strip()
    refused_in_url = {}
    if typed and _person_shaped_like_pii(typed):  # an old link or a hand-made address: not used
        refused_in_url = {"person": "身份证号、电话请在“按人员查找”中输入（不进入网址）"}
    elif typed and request.method == "GET":
        person = typed[:50]  # a name may stay in a link
    args, errors = _list_args(person)
    errors.update(refused_in_url)
    page, error, refused = {"items": [], "next_cursor": None}, None, 422
    try:
        if not errors:  # a filter refused lists nothing (not everything)
            from core.api.cases import list_page
            page = list_page(w, args)  # the API's sorts, urgency included
    except PinganError as exc:
        error, refused = exc.message, exc.status
    units = dict(w.session.execute(select(OrgUnit.id, OrgUnit.name).where(
        OrgUnit.id.in_({c.org_unit_id for c in page["items"]} | {c.handling_unit_id for c in page["items"]}))).all())
    now, soon = utcnow(), _due_soon(w, {c.case_type for c in page["items"]})
    rows = [{**present(c), "type_title": w.types[c.case_type].title,
             "state_title": w.types[c.case_type].state(c.state).title, "unit": units.get(c.org_unit_id, ""),
             "handling_unit": units.get(c.handling_unit_id, ""), "created": local(c.created_at),
             "due": limit_end(c.due_at) if c.closed_at is None else "",
             "light": light(c.due_at, now, soon[c.case_type]) if c.closed_at is None else None}
            for c in page["items"]]
    types = [t for _, t in sorted(w.types.items()) if w.grants.has(t.read_permission)]
    query = {k: v for k, v in request.args.to_dict(flat=True).items() if k != "person"}
    next_args = {**query, "cursor": page["next_cursor"]} if page["next_cursor"] else None
    status = 422 if errors else refused if error else 200
    return render_template("cases/list.html", rows=rows, types=types, values=request.args, errors=errors,
                           error=error, next_args=next_args, query=query, person=person,
                           export_args={**_export_args(), **({"person": person} if person else {})},
                           lights=LIGHTS, batch=_batch_choices(w)), status


def _due_soon(w, case_types) -> dict[str, dt.timedelta]:
    """Each case type's "due soon": its county's due-soon reminder (``remind_before_hours``)."""
    return {k: dt.timedelta(hours=case_settings.for_type(w.session, w.types[k]).remind_before_hours)
            for k in case_types}


def _export_args() -> dict:
    return {k: v for k, v in request.args.items() if v and k not in ("cursor", "limit", "sort", "person")}


# --- acts on several cases of the list (core.cases.batch) ----------------------------------------

def _batch_choices(w) -> dict:
    """What the list's batch bar offers: the handlers one may assign (active users of the units
    one diverts for) and the documents of the county's enabled modules."""
    from core.documents import usable
    handlers = []
    if w.grants.has(DIVERT):
        handlers = w.session.execute(select(User.id, User.display_name, OrgUnit.name)
                                     .join(OrgUnit, OrgUnit.id == User.org_unit_id)
                                     .where(User.status == "active",
                                            User.org_unit_id.in_(units_in_scope(w.grants, DIVERT)))
                                     .order_by(OrgUnit.path, User.display_name).limit(MAX_UNITS)).all()
    groups = []  # the documents by case type: a document is printed for the ticked cases of its type
    for key, ctype in sorted(w.types.items(), key=lambda kv: kv[1].title):
        docs = sorted(usable(w, key).values(), key=lambda tpl: tpl.key)
        if docs:
            groups.append({"title": ctype.title, "title_en": getattr(ctype, "title_en", None) or ctype.title,
                           "key": key, "documents": docs})
    return {"handlers": [{"id": i, "name": f"{name}（{unit}）"} for i, name, unit in handlers],
            "documents": groups}


@bp.route("/cases/batch", methods=["POST"])
@requires(READ)
def case_batch():
    """The list's batch bar: the ticked cases (``case_id``, several) and the act (``act``):
    ``assign`` to ``handler_id``, or ``print`` document ``key`` as one PDF. Each case goes
    through the single act's service; a summary in Chinese names what was not done and why. A
    print with nothing left out is the PDF itself; otherwise the summary, with a button to
    print the rest."""
    from core.cases import batch
    from core.errors import Invalid
    w = request_work()
    ids = [n for n in (parse_int(v, lo=1) for v in request.form.getlist("case_id")) if n is not None and n < 2**63]
    act = request.form.get("act")
    summary, error, status = None, None, 200
    try:
        if act == "assign":
            from core.authz import require
            require(w.grants, DIVERT)
            handler = parse_int(request.form.get("handler_id", ""), lo=1)
            if handler is None or handler >= 2**63:
                raise Invalid("handler_id", "required", "请选择经办人")
            if not ids:
                raise Invalid("case_ids", "required", "请至少选择一件事项")
            note = (request.form.get("note") or "").replace("\x00", "").strip()[:2000] or None
            summary = batch.assign_many(w, ids, handler, note)
            w.session.commit()
        elif act == "print":
            key = (request.form.get("key") or "").strip()[:100]
            if not key:
                raise Invalid("key", "required", "请选择文书")
            if not ids:
                raise Invalid("case_ids", "required", "请至少选择一件事项")
            parts, summary = batch.printable(w, ids, key)
            if parts and not summary["refused"] and not summary["not_found"]:
                from flask import Response
                from core.request import current
                pdf = batch.render_many(w, parts, current().tenant.name)
                w.session.commit()
                return Response(pdf, mimetype="application/pdf", headers={
                    "Content-Disposition": 'attachment; filename="documents.pdf"',
                    "Cache-Control": "private, no-store"})
        else:
            raise Invalid("act", "required", "请选择批量操作")
    except PinganError as exc:
        w.session.rollback()
        error, status = ("所选事项都不存在或您无权查看" if exc.status == 404 else exc.message), exc.status
    return render_template("cases/batch.html", act=act, summary=summary, error=error,
                           key=request.form.get("key", ""), back=_safe_back()), status


def _safe_back() -> str:
    from core.web import _safe_next
    return _safe_next(request.form.get("next")) or url_for("web_cases.case_list")


# --- a case's page ----------------------------------------------------------------------------

def _units(w, perm: str) -> list[OrgUnit]:
    return w.session.scalars(select(OrgUnit).where(OrgUnit.id.in_(units_in_scope(w.grants, perm)),
                                                   OrgUnit.status == "active")
                             .order_by(OrgUnit.path).limit(MAX_UNITS)).all()


def _divert_targets(w) -> list[OrgUnit]:
    """Any active unit of the county: a case may be handed to a unit outside one's own subtree."""
    return w.session.scalars(select(OrgUnit).where(OrgUnit.status == "active")
                             .order_by(OrgUnit.path).limit(MAX_UNITS)).all()


def _member_targets(w) -> list[dict]:
    """The member units one may dispatch to (seated in the centres of one's scope), each named
    with its centre: ``东湖司法所（东湖镇）``."""
    members = dispatch.targets(w.session, w.grants)
    seats = dict(w.session.execute(select(OrgUnit.id, OrgUnit.name).where(
        OrgUnit.id.in_({m.org_unit_id for m in members} or {-1}))).all())
    staffed = set(w.session.scalars(select(User.member_unit_id).where(
        User.member_unit_id.in_([m.id for m in members] or [-1]), User.status == "active")))
    none = pick("（尚无工作人员，不能交办）", " (no staff yet: cannot receive)")
    return [{"id": m.id, "name": f"{m.name}（{seats.get(m.org_unit_id, '')}）" + ("" if m.id in staffed else none),
             "staffed": m.id in staffed} for m in members]


def _target(raw: str, field: str) -> dict:
    """A picked receiving unit: ``u<id>`` an org unit, ``m<id>`` a member unit (a plain id: an
    org unit, as the form sent before member units could be chosen)."""
    from core.errors import Invalid
    raw = raw.strip()
    kind, digits = (raw[0], raw[1:]) if raw[:1] in ("u", "m") else ("u", raw)
    value = parse_int(digits, lo=0)  # ASCII digits only (issue 14, finding 11)
    if value is None:
        raise Invalid(field, "required", "请选择承办单位")
    return {"member_unit_id": value} if kind == "m" else {"org_unit_id": value}


def case_page_response(w, case, ctype, errors: dict | None = None, values: dict | None = None, status: int = 200):
    """The case page, with ``errors`` (form id → message, ``form.field`` → message) shown at the
    top and at the fields and ``values`` (form id → what was typed) put back — for a module's own
    forms on the page (``CaseType.web_panel``) as for the core's."""
    return _page(w, case, ctype, errors, values, status)


def load_form(schema, raw: dict) -> dict:
    """A posted form through the API's schema; a bad field → ``Invalid`` naming it in Chinese."""
    from core.errors import Invalid
    try:
        return schema().load(raw)
    except ValidationError as exc:
        names = schema().fields
        wrong = [names[k].metadata.get("title") or names[k].metadata.get("description") or k if k in names else k
                 for k in exc.messages]
        raise Invalid(next(iter(exc.messages)), "invalid_input", "请检查：" + "、".join(wrong)) from None


def case_form_response(case_id: str, form: str, schema, perm: str, do, case_type: str | None = None):
    """A module's form on the case page (``CaseType.web_panel``): load it with ``schema``, run
    ``do(work, case, data)`` with ``perm`` on the case, commit and go back to the page — or, on
    an error, roll back and show the page again with the message at form ``form`` and what was
    typed kept."""
    w, case, _ = request_case(case_id, lock=True, case_type=case_type, perm=perm)
    raw = {k: v for k, v in request.form.items() if k not in HIDDEN_FORM_FIELDS and v.strip() != ""}
    before = _last_event_id(w, case)
    try:
        do(w, case, load_form(schema, raw))
        done = _last_event_id(w, case)
        w.session.commit()
    except PinganError as exc:
        w.session.rollback()
        w, case, ctype = request_case(case_id)
        return case_page_response(w, case, ctype, errors={form: exc.message}, values={form: request.form.to_dict()},
                                  status=exc.status)
    return _back_to_case(case, done if done != before else None)


def _last_event_id(w, case) -> int | None:
    return w.session.scalar(select(func.max(CaseEvent.id)).where(CaseEvent.case_id == case.id))


def _back_to_case(case, event_id: int | None):
    """After an act: the case page, saying what was done (the act's timeline entry, ``done``),
    at the top where the eye lands (issue 15, item 6: acts ended silently)."""
    return redirect(url_for("web_cases.case_page", case_id=case.id, done=event_id or "saved") + "#act-done")


def _page(w, case, ctype, errors: dict | None = None, values: dict | None = None, status: int = 200,
          printing: bool = False):
    """The case page; ``printing``: the same facts without any form, for paper.

    A work order (issue 15, item 5): the facts, intake's (诉求, 来访人数, 首问责任人) and the people
    first; this step's first two acts (``primary``) as buttons opening their forms, the others
    (``more``) under "更多操作"; a form refused comes back open. Documents are linked once the
    act they record (``DocumentTemplate.acts``) is on the timeline."""
    s = w.session
    d = detail(w, case, ctype)
    d["received"] = local(d["received_at"])  # when the matter was received: its limits count from then
    unit_ids = {case.org_unit_id, case.handling_unit_id} | {t.org_unit_id for t in d["tasks"]}
    names = dict(s.execute(select(OrgUnit.id, OrgUnit.name).where(OrgUnit.id.in_(unit_ids - {None}))).all())
    people = [{"id": p.id, "name": p.name, "role": role, "id_number": mask("id_number", p.id_number),
               "phone": mask("phone", p.phone),
               "linked": covers(s, w.grants, PERSON_READ, p.org_unit_id)} for p, role in s.execute(
        select(Person, CasePerson.role).join(CasePerson, (CasePerson.person_id == Person.id)
                                             & (CasePerson.tenant_id == Person.tenant_id))
        .where(CasePerson.case_id == case.id).order_by(CasePerson.id))]
    events = s.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id)
                       .order_by(CaseEvent.at, CaseEvent.id)).all()
    done = _done(ctype, events, request.args.get("done")) if not printing and not errors else None
    actions = []
    for a in d["actions"]:
        t = ctype.transition(a["name"])
        actions.append({**a, "fields": form_fields(t.input, w, case) if t.input is not None else []})
    offered = {a["name"] for a in actions}
    for key in errors or {}:
        # a refused act the state no longer offers (a stale page, a second decision): its form
        # stays, with what was typed, under the reason — without a button to post it again
        t = ctype.transition(key[4:]) if key.startswith("act-") and "." not in key else None
        if t is not None and t.name not in offered and not printing:
            actions.append({"name": t.name, "title": t.title, "title_en": t.title_en, "refused": True,
                            "fields": form_fields(t.input, w, case) if t.input is not None else []})
    open_case = case.closed_at is None
    now, task_unit = utcnow(), {t.id: t.org_unit_id for t in d["tasks"]}
    soon = _due_soon(w, [case.case_type])[case.case_type]
    target = dispatch.target_names(s, d["tasks"])
    tasks = [{"id": t.id, "unit": target[t.id], "role": t.role,
              "role_title": pick(*dispatch.ROLE_TITLES.get(t.role, (t.role, t.role))), "open": t.state == "open",
              "answered": t.state == "done",
              "acknowledged": local(t.acknowledged_at) if t.acknowledged_at else "",
              "ack_due": limit_end(t.acknowledge_due_at) if t.acknowledge_due_at else "",
              "ack_overdue": t.acknowledge_overdue,
              "state": pick(*TASK_STATES[t.state]) if t.state in TASK_STATES else t.state,
              "instruction": t.instruction or "", "due": limit_end(t.due_at), "result": t.result or "",
              "windows": [{"title": _rule_title(ctype, x), "due": limit_end(x.due_at), "source": x.source,
                           "open": x.state == "window" and x.due_at > now}
                          for x in t.limits if x.state == "window" or (x.state == "stopped" and x.met is None)],
              "may_act": not printing and t.state == "open" and dispatch.may_act(s, w.grants, w.user, t)}
             for t in d["tasks"]]
    answered = [t for t in tasks if t["answered"]]
    may_follow_up = bool(answered) and not printing and any(
        covers(s, w.grants, DIVERT, u) for u in dispatch.dispatch_units(s, case))
    who_called = dict(s.execute(select(User.id, User.display_name).where(
        User.id.in_({f.called_by for f in d["follow_ups"]} - {None}))).all()) if d["follow_ups"] else {}
    follow_ups = [{"at": local(f.called_at), "satisfaction": pick(*dispatch.SATISFACTION.get(f.satisfaction, (f.satisfaction,) * 2)),
                   "note": f.note, "by": who_called.get(f.called_by, ""), "unit": target.get(f.task_id, "")}
                  for f in d["follow_ups"]]
    if printing:
        actions = []  # no forms on paper
    from core.documents import usable
    who = timeline.actor_names(s, events)
    files = attachments.listed(s, case)
    who_uploaded = dict(s.execute(select(User.id, User.display_name).where(
        User.id.in_({a.uploaded_by for a in files} - {None}))).all()) if files else {}
    roles = {**intake.PERSON_ROLES, **ctype.person_roles}
    people = [{**p, "role": roles.get(p["role"], p["role"])} for p in people]
    module_fields = _detail_fields(ctype, w)  # (a field's choices may read the county's settings)
    titles = {f["name"]: f["label"] for f in module_fields}
    # the work order (issue 15, item 5): what was typed at intake, who registered it, the acts
    # of this step as buttons (the first one or two) and the rest under "更多操作"
    intake_facts = [(titles[k], d["details"][k]) for k in INTAKE_FACTS
                    if k in titles and d["details"].get(k) not in (None, "")]
    first_inquiry = s.scalar(select(User.display_name).join(Intake, (Intake.received_by == User.id)
                                                             & (Intake.tenant_id == User.tenant_id))
                             .where(Intake.case_id == case.id).limit(1))
    if first_inquiry and not d["details"].get("first_inquiry"):  # who received it at the one window
        intake_facts.append((pick("首问责任人", "First inquiry"), first_inquiry))
    registered = next((e for e in events if e.kind == "registered"), None)
    done_kinds = {e.kind for e in events}
    # just acknowledged (签收): that task's answer is the next step, its form opened
    just = next((e for e in events if done and str(e.id) == request.args.get("done")), None)
    next_task = (just.data or {}).get("task_id") if just is not None and just.kind == "task_acknowledged" else None
    may_divert = open_case and not printing and any(
        covers(s, w.grants, DIVERT, u) for u in {case.org_unit_id, case.handling_unit_id} - {None})
    # this step's work, first things first: the call-back of an answer; dispatching, while no
    # task is open (the 分流交办 of a newly registered matter); then the workflow's acts
    work = ["follow-up"] if may_follow_up else []
    work += ["divert"] if may_divert and not any(t["open"] for t in tasks) else []
    work += ["act-" + a["name"] for a in actions]
    primary, more = work[:2], work[2:]
    more += ["divert"] if may_divert and "divert" not in work else []
    more += ["supervise"] if open_case and not printing and w.grants.has(SUPERVISE) else []
    return render_template(
        "cases/detail.html", case=d, ctype=ctype, state=ctype.state(case.state),
        # a module's fields by the titles its schemas give them (its details, its acts' inputs); a
        # fixed choice shows its label, never its key; a field no schema titles is not shown
        # under an English key (issue 15, item 9)
        detail_titles={f["name"]: f["label"] for f in module_fields},
        detail_choices={f["name"]: dict(f["choices"]) for f in module_fields if f["choices"]},
        names=names, people=people, tasks=tasks, person_roles=list(case_people.roles(ctype).items()),
        may_edit_people=not printing and case_people.may_edit(w, case, ctype),
        deadlines=[{"title": _rule_title(ctype, x), "due": limit_end(x.due_at), "state": x.state, "met": x.met, "basis": x.basis,
                    "light": light(x.due_at, now, soon) if x.state == "running" else None,
                    "source": x.source, "provisional": x.provisional and x.state != "stopped",
                    "unit": names.get(task_unit.get(x.task_id), ""), "ran_out": x.due_at <= now,
                    "order": x.due_at.isoformat()} for x in d["deadlines"]],
        events=[{"at": local(e.at), "title": event_title(ctype, e.kind),
                 "actor": timeline.actor_title(e, who), "note": _event_note(ctype, e),
                 "unit": names.get(e.org_unit_id, "")}
                for e in events],
        flags=[flag_title(ctype, f) for f in d["flags"]],
        actions=actions, created=local(case.created_at), due=limit_end(case.due_at) if open_case else "",
        light=light(case.due_at, now, soon) if open_case else None, lights=LIGHTS,
        may_divert=may_divert, primary=primary, more=more, intake_facts=intake_facts, next_task=next_task,
        registered_by=timeline.actor_title(registered, who) if registered else "",
        channel=CHANNEL_TITLES.get(case.channel or "", case.channel or ""),
        may_supervise=open_case and not printing and w.grants.has(SUPERVISE), printing=printing,
        attachments=[{"id": a.id, "name": a.filename, "size": a.size, "at": local(a.uploaded_at),
                      "by": who_uploaded.get(a.uploaded_by, "")} for a in files],
        may_attach=not printing and any(covers(s, w.grants, HANDLE, u) for u in [case.org_unit_id, *task_units(s, case)]),
        divert_units=_divert_targets(w) if open_case and w.grants.has(DIVERT) else [],
        divert_members=_member_targets(w) if open_case and w.grants.has(DIVERT) else [],
        may_add_co=open_case and any(t.role in ("sole", "lead") and t.state == "open" for t in d["tasks"]),
        follow_ups=follow_ups, may_follow_up=may_follow_up, answered=answered,
        satisfaction=[(k, pick(*v)) for k, v in dispatch.SATISFACTION.items()],
        # a document records an act (DocumentTemplate.acts): linked once that act has happened
        documents=sorted((t for t in usable(w, case.case_type).values() if not t.acts or set(t.acts) & done_kinds),
                         key=lambda t: t.key),
        supervision_kinds=supervision.KINDS, errors=errors or {}, values=values or {}, done=done,
        # the module's own template rendered it (escaping what it put in): trusted markup here
        panel=Markup(ctype.web_panel(w, case, errors or {}, values or {})) if ctype.web_panel else None), status


def _detail_fields(ctype, w=None) -> list[dict]:
    """The form fields of a case type's details and of its acts' inputs, the details' first."""
    fields_, seen = [], set()
    for schema in (ctype.details_schema, *(t.input for t in ctype.transitions)):
        for f in form_fields(schema, w):
            if f["name"] not in seen and f["label"] != f["name"]:
                seen.add(f["name"])
                fields_.append(f)
    return fields_


def _done(ctype, events, raw: str | None) -> dict | None:
    """The confirmation of the act just done: its timeline entry (``?done=<event id>`` of this
    case), or a plain "saved" for an act that writes none."""
    if not raw:
        return None
    if raw == "saved":
        return {"title": pick("已保存", "Saved"), "note": ""}
    event = next((e for e in events if str(e.id) == raw), None)
    return {"title": event_title(ctype, event.kind), "note": _event_note(ctype, event)} if event else None


def _event_note(ctype, event) -> str:
    """A timeline entry's note, with what its data says in the page's words: the flag set or taken
    off (by its title), the new end of an extended limit (``limit_end``)."""
    data, extra = event.data or {}, ""
    if event.kind in ("flagged", "unflagged") and data.get("flag"):
        extra = flag_title(ctype, data["flag"])
    elif event.kind == "extended" and data.get("new_due"):
        try:
            new_due = dt.datetime.fromisoformat(data["new_due"])
        except (TypeError, ValueError):
            new_due = None
        extra = pick(f"期限延至 {limit_end(new_due)}", f"now due {limit_end(new_due)}") if new_due else ""
    return "；".join(x for x in (event.note or "", extra, *_act_text(ctype, event)) if x)


def _act_text(ctype, event) -> list[str]:
    """What an act's form said, for its timeline entry (issue 15, item 5): its text fields (a
    written answer, a reason) and its choices by their labels, each under its field's title."""
    t = ctype.transition(event.kind) if event.data else None
    if t is None or t.input is None:
        return []
    out = []
    for f in form_fields(t.input):
        value = event.data.get(f["name"])
        if not isinstance(value, str) or not value.strip() or f["label"] == f["name"]:
            continue
        label = f["label"].split("（")[0]
        if f["choices"]:
            value = dict(f["choices"]).get(value)
        elif not f["long"]:
            continue
        if value:
            out.append(f"{label}：{value}")
    return out


@bp.route("/cases/<case_id>")
@requires(READ)
def case_page(case_id):
    w, case, ctype = request_case(case_id)
    return _page(w, case, ctype)


@bp.route("/cases/<case_id>/print")
@requires(READ)
def case_print(case_id):
    """The case for paper: its facts, people (masked), limits, tasks and timeline, no forms."""
    w, case, ctype = request_case(case_id)
    return _page(w, case, ctype, printing=True)


def _act(case_id: str, form: str, do) -> object:
    """Run one act from a form: commit and go back to the page, or show the error at the form."""
    w, case, ctype = request_case(case_id, lock=True)
    before = _last_event_id(w, case)
    try:
        do(w, case, ctype)
        done = _last_event_id(w, case)
        w.session.commit()
    except PinganError as exc:
        w.session.rollback()
        w, case, ctype = request_case(case_id)
        fields_ = {}
        for group in (exc.errors or {}).values():
            if isinstance(group, dict):
                fields_.update({str(k).split(".")[-1]: "；".join(validation_zh(str(m)) for m in v)
                                if isinstance(v, list) else validation_zh(str(v)) for k, v in group.items()})
        return _page(w, case, ctype, errors={form: exc.message, **{f"{form}.{k}": v for k, v in fields_.items()}},
                     values={form: request.form.to_dict()}, status=exc.status)
    return _back_to_case(case, done if done != before else None)


def _input(schema_cls) -> dict:
    """The form's fields for an act's input schema (empty fields left out: the schema's defaults apply)."""
    if schema_cls is None:
        return {}
    names = set(schema_cls().fields)
    return {k: v for k, v in request.form.items() if k in names and v.strip() != ""}


@bp.route("/cases/<case_id>/act/<name>", methods=["POST"])
@requires(READ)
def case_act(case_id, name):
    def do(w, case, ctype):
        t = ctype.transition(name)
        if t is None:
            raise NotFound("unknown_transition", "没有该操作")
        engine.transition(w, case, ctype, name, _input(t.input) or None)
    return _act(case_id, f"act-{name}", do)


@bp.route("/cases/<case_id>/divert", methods=["POST"])
@requires(DIVERT)
def case_divert(case_id):
    """分流交办: to one unit (单独交办), a lead with co-units (主办 + 协办), or co-units added to
    the diversion under way (追加协办); org units and member units alike, picked from lists."""
    def do(w, case, ctype):
        from core.errors import Invalid
        mode = request.form.get("mode", "single")
        if mode not in ("single", "joint", "add"):
            raise Invalid("mode", "invalid_mode", "请选择交办方式")
        instruction = request.form.get("instruction", "").strip() or None
        limit = None
        amount = request.form.get("amount", "").strip()
        if amount:
            days = parse_int(amount, lo=0)
            if days is None:
                raise Invalid("amount", "invalid_amount", "办理时限须为整数")
            limit = {"amount": days, "unit": request.form.get("unit", "working_days")}
        lead = request.form.get("org_unit_id", "") or request.form.get("target", "")
        co = [c for c in request.form.getlist("co") if c.strip()]
        specs = []
        if mode != "add":
            specs.append({**_target(lead, "org_unit_id"), "role": "lead"})
        elif not co:
            raise Invalid("co", "required", "请选择追加的协办单位")
        if mode == "joint" and not co:
            raise Invalid("co", "required", "主办 + 协办：请至少选择一个协办单位")
        if mode != "single":
            specs += [{**_target(c, "co"), "role": "co"} for c in co]
        for spec in specs:
            spec["instruction"] = instruction
            if limit:
                spec["limit"] = limit
        engine.divert(w, case, ctype, mode, specs, request.form.get("note", "").strip() or None)
    return _act(case_id, "divert", do)


@bp.route("/cases/<case_id>/comment", methods=["POST"])
@requires(READ)
def case_comment(case_id):
    def do(w, case, ctype):
        from core.errors import Invalid
        text = request.form.get("text", "").strip()
        if not text or len(text) > 5000:
            raise Invalid("text", "required", "请填写备注（5000 字以内）")
        engine.comment(w, case, ctype, text)
    return _act(case_id, "comment", do)


PERSON_FORM = ("name", "id_number", "phone", "address", "role")


@bp.route("/cases/<case_id>/persons", methods=["POST"])
@requires(READ)
def case_person_add(case_id):
    """Add a person to the case (issue 15, item 2): a new person by name, ID number, phone and
    address, in a role chosen from the list."""
    def do(w, case, ctype):
        case_people.add(w, case, ctype, {k: v.strip() for k, v in request.form.items()
                                         if k in PERSON_FORM and v.strip()})
    return _act(case_id, "people", do)


@bp.route("/cases/<case_id>/persons/<person_id>/remove", methods=["POST"])
@requires(READ)
def case_person_remove(case_id, person_id):
    def do(w, case, ctype):
        case_people.remove(w, case, ctype, parse_int(person_id, lo=1) or 0)
    return _act(case_id, "people", do)


@bp.route("/cases/<case_id>/attachments", methods=["POST"])
@requires(HANDLE)
def case_attach(case_id):
    """Upload a file to the case (the API's checks: size, kind by content, the unit's right)."""
    upload = request.files.get("file")

    def do(w, case, ctype):
        from core.errors import Invalid
        if upload is None or not upload.filename:
            raise Invalid("file", "not_a_file", "请选择要上传的文件")
        attachments.upload_and_commit(w, case, ctype, upload.stream, upload.filename, pingan().config)
    return _act(case_id, "attachments", do)


@bp.route("/cases/<case_id>/attachments/<attachment_id>/remove", methods=["POST"])
@requires(READ)
def case_detach(case_id, attachment_id):
    """Remove an attachment (by its uploader or the diverting unit; the stored file is kept)."""
    from core.api.common import id_path

    def do(w, case, ctype):
        attachments.remove(w, case, ctype, attachments.load(w.session, case, id_path(attachment_id)))
    return _act(case_id, "attachments", do)


@bp.route("/cases/<case_id>/supervise", methods=["POST"])
@requires(SUPERVISE)
def case_supervise(case_id):
    def do(w, case, ctype):
        from core.errors import Invalid
        kind = request.form.get("kind", "")
        text = request.form.get("instruction", "").strip()
        if kind not in supervision.KINDS:
            raise Invalid("kind", "required", "请选择督办或催办")
        if not text:
            raise Invalid("instruction", "required", "请填写督办（催办）要求")
        supervision.issue(w, case, ctype, {"kind": kind, "level": request.form.get("level", "normal"),
                                           "target_unit_id": None, "instruction": text,
                                           "response_required": True, "due_at": None})
    return _act(case_id, "supervise", do)


@bp.route("/cases/<case_id>/tasks/<task_id>", methods=["POST"])
@requires(HANDLE)
def case_task(case_id, task_id):
    """The receiving unit's steps: 签收 (``acknowledge``), 办结 with its answer (``done``), 回退
    with a reason (``return``)."""
    def do(w, case, ctype):
        from core.errors import Invalid
        action, text = request.form.get("action", ""), request.form.get("text", "").strip()
        if action not in ("acknowledge", "done", "return"):
            raise Invalid("action", "required", "请选择签收、办结或回退")
        task = engine.load_task(w, case, parse_int(str(task_id), lo=0) or -1)  # not ASCII digits: no task
        if action == "acknowledge":
            dispatch.acknowledge(w, case, ctype, task, text or None)
            return
        if not text:
            raise Invalid("text", "required", "请填写办结答复" if action == "done" else "请填写回退理由")
        engine.finish_task(w, case, ctype, task, "done" if action == "done" else "returned", text)
    return _act(case_id, f"task-{task_id}", do)


@bp.route("/cases/<case_id>/follow-up", methods=["POST"])
@requires(DIVERT)
def case_follow_up(case_id):
    """回访: the dispatcher records the petitioner's satisfaction with the answer and a note."""
    def do(w, case, ctype):
        from core.errors import Invalid
        satisfaction = request.form.get("satisfaction", "")
        if satisfaction not in dispatch.SATISFACTION:
            raise Invalid("satisfaction", "required", "请选择回访结果：满意、基本满意或不满意")
        note = request.form.get("note", "").strip()
        if len(note) > 2000:
            raise Invalid("note", "too_long", "回访情况请在 2000 字以内")
        task_id = parse_int(request.form.get("task_id", ""), lo=0) if request.form.get("task_id") else None
        dispatch.follow_up(w, case, ctype, satisfaction, note or None, task_id)
    return _act(case_id, "follow-up", do)


# --- export and the progress of long jobs -------------------------------------------------------

@bp.route("/cases/export", methods=["POST"])
@requires("core.case.export")
def case_export():
    """Export the list as filtered to a ledger (.xlsx) in the background; then its progress page."""
    from core import ledgers
    from core.api.ledgers import LedgerExportSchema
    w = request_work()
    raw = {k: v for k, v in request.form.items() if v != "" and k not in (*HIDDEN_FORM_FIELDS, "state")}
    if request.form.getlist("state"):
        raw["state"] = [s for s in request.form.getlist("state") if s]
    try:
        filters = LedgerExportSchema().load(raw)
    except ValidationError:
        filters = {}
    job = ledgers.start_export(w, filters)
    w.session.commit()
    return redirect(url_for("web_cases.job_page", job_id=job.id))


@bp.route("/cases/import", methods=["GET", "POST"])
@requires("core.case.import")
def case_import():
    """Import a ledger (.xlsx) of one case type: the template to fill, the upload, then the job's
    progress page — every row is checked first and one bad row imports nothing (its row and
    column are listed)."""
    from core import ledgers
    w = request_work()
    types = [t for _, t in sorted(w.types.items()) if w.grants.has(t.create_permission)]
    error, status = None, 200
    if request.method == "POST":
        ctype = w.types.get(request.form.get("case_type", ""))
        upload = request.files.get("file")
        try:
            from core.errors import Invalid
            if ctype is None or ctype not in types:
                raise Invalid("case_type", "unknown_case_type", "请选择事项类型")
            if upload is None or not upload.filename:
                raise Invalid("file", "no_file", "请选择要导入的 .xlsx 文件")
            ledgers.import_columns(ctype)
            job = ledgers.start_import(w, ctype, upload.stream, upload.filename)
            w.session.commit()
            return redirect(url_for("web_cases.job_page", job_id=job.id))
        except PinganError as exc:
            w.session.rollback()
            error, status = exc.message, exc.status
    return render_template("cases/import.html", types=types, error=error, chosen=request.form.get("case_type", "")), status


@bp.route("/jobs/<job_id>")
@requires(READ)
def job_page(job_id):
    """A job's progress bar; the page reloads itself every 2 seconds until the job is over."""
    from core.api.jobs import _mine, present as present_job
    job = present_job(_mine(job_id))
    return render_template("cases/job.html", job=job)


# --- a person and their matters (issue 15, item 11) ------------------------------------------

@bp.route("/persons/<person_id>")
@requires(PERSON_READ)
def person_page(person_id):
    """A person of the register with every matter of theirs the user may read, newest first —
    the caller recognised, as in a 12345 system. ID number and phone masked (revealing them is
    the API's ``?reveal=true``, permission-checked and audited); out of scope: 404."""
    w = request_work()
    person = get_or_404(w.session, w.grants, Person, parse_int(person_id, lo=1) or -1, PERSON_READ)
    roles: dict[int, list[str]] = {}
    for case_id, role in w.session.execute(select(CasePerson.case_id, CasePerson.role)
                                           .where(CasePerson.person_id == person.id)):
        roles.setdefault(case_id, []).append(role)
    found = w.session.scalars(filtered(w, {}).where(Case.id.in_(list(roles) or [-1]))
                              .order_by(Case.created_at.desc(), Case.id.desc()).limit(PAGE + 1)).all()
    cases, more = found[:PAGE], len(found) > PAGE
    now = utcnow()
    soon = _due_soon(w, {c.case_type for c in cases})
    unit_names = dict(w.session.execute(select(OrgUnit.id, OrgUnit.name).where(
        OrgUnit.id.in_({c.org_unit_id for c in cases} | {person.org_unit_id}))).all())
    rows = [{"id": c.id, "number": c.number, "title": c.title, "type_title": pick(w.types[c.case_type].title,
                                                                                  w.types[c.case_type].title_en),
             "state_title": w.types[c.case_type].state(c.state).title, "unit": unit_names.get(c.org_unit_id, ""),
             "role": "、".join(({**intake.PERSON_ROLES, **w.types[c.case_type].person_roles}).get(r, "")
                              for r in roles.get(c.id, [])),
             "created": local(c.created_at),
             "light": light(c.due_at, now, soon[c.case_type]) if c.closed_at is None else None}
            for c in cases]
    shown = {"name": person.name, "unit": unit_names.get(person.org_unit_id, ""),
             "id_number": mask("id_number", person.id_number), "phone": mask("phone", person.phone)}
    return render_template("cases/person.html", person=shown, rows=rows, more=more, lights=LIGHTS,
                           open_count=sum(1 for c in cases if c.closed_at is None))
