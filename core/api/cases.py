"""/api/cases — the case engine over HTTP: list, register, view, and every act on a case.

Only the acts the user may take in the case's current state succeed: an act the workflow
does not allow now answers 409 with a machine code (``invalid_transition``,
``tasks_open`` …), a permission held nowhere 403, a case outside the user's units (or of a
disabled module, or of another county) 404.
"""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import select
from sqlalchemy.orm import scoped_session

from core.api.common import IdField, ListArgs, case_type_field, id_path, page_of, paginate, sort_field
from core.cases import backdating, batch, dispatch, engine, fresh, people, supervision
from core.cases.access import request_case
from core.cases.models import Case, CaseDeadline, CaseEvent, CaseExtension, CaseFlag, CasePerson, CaseTask, Supervision
from core.cases.queries import URGENCY, filtered, urgency_page
from core.cases.timeline import request_work
from core.db import utcnow
from core.errors import Invalid, NotFound
from core.models import Person
from core.privacy import party_fields
from core.request import requires
from core.workdays import UNITS

blp = Blueprint("core_cases", __name__, url_prefix="/api/cases", description="事项 / Cases")
READ, REGISTER, DIVERT, HANDLE = "core.case.read", "core.case.register", "core.case.divert", "core.case.handle"
SUPERVISE, APPROVE = "core.case.supervise", "core.case.extension.approve"
FLAG = validate.Regexp(r"^[a-z][a-z0-9_]{0,31}$", error="标记只能包含小写字母、数字和 _")
TEXT = validate.Length(min=1, max=5000)


# --- schemas --------------------------------------------------------------------------------

class CaseSchema(Schema):
    id = fields.Integer()
    number = fields.String()
    case_type = fields.String()
    title = fields.String()
    state = fields.String()
    channel = fields.String(allow_none=True)
    org_unit_id = fields.Integer()
    handling_unit_id = fields.Integer(allow_none=True)
    handler_id = fields.Integer(allow_none=True)
    due_at = fields.DateTime(allow_none=True)
    due_provisional = fields.Boolean(metadata={"description": "the earliest limit counts over a year whose holidays "
                                                              "are not published yet (recomputed when they are)"})
    overdue = fields.Boolean()
    received_at = fields.DateTime(metadata={"description": "when the matter was received (the start of the limits "
                                                           "that start at registration); created_at is when it was typed in"})
    created_at = fields.DateTime()
    closed_at = fields.DateTime(allow_none=True)


class DeadlineSchema(Schema):
    id = fields.Integer()
    task_id = fields.Integer(allow_none=True)
    rule = fields.String()
    title = fields.String()
    amount = fields.Integer()
    unit = fields.String()
    started_at = fields.DateTime()
    due_at = fields.DateTime()
    basis = fields.String(metadata={"description": "how the due time was computed"})
    source = fields.String(metadata={"description": "legal or policy source"})
    state = fields.String(metadata={"description": "running | paused | window (a period within which someone may "
                                                   "act, e.g. an objection window: never due or overdue) | stopped"})
    met = fields.Boolean(allow_none=True, metadata={"description": "stopped in time; empty while open and for a "
                                                                   "window (nothing to meet)"})
    stopped_at = fields.DateTime(allow_none=True, metadata={"description": "when it stopped (a window that ran "
                                                                           "out: its end)"})
    extensions = fields.Integer()
    provisional = fields.Boolean(metadata={"description": "counted over a year whose holidays are not published "
                                                          "yet (weekends assumed); recomputed when they are"})


class TaskSchema(Schema):
    id = fields.Integer()
    case_id = fields.Integer()
    org_unit_id = fields.Integer()
    member_unit_id = fields.Integer(allow_none=True)
    role = fields.String()
    state = fields.String()
    instruction = fields.String(allow_none=True)
    due_at = fields.DateTime(allow_none=True)
    assigned_at = fields.DateTime()
    done_at = fields.DateTime(allow_none=True)
    result = fields.String(allow_none=True, metadata={"description": "the answer (办结) or the reason of a return (回退)"})
    assigned_by = fields.Integer(allow_none=True, metadata={"description": "the dispatcher"})
    acknowledged_at = fields.DateTime(allow_none=True, metadata={"description": "签收: when the receiving unit acknowledged it"})
    acknowledged_by = fields.Integer(allow_none=True)
    acknowledge_due_at = fields.DateTime(allow_none=True, metadata={
        "description": "the end of the county's acknowledgement limit (settings: acknowledge_limit)"})
    acknowledge_overdue = fields.Boolean(metadata={
        "description": "open, not acknowledged, and its acknowledgement limit has run out (flagged)"})
    limits = fields.List(fields.Nested(DeadlineSchema), metadata={
        "description": "the task's own time limits: its handling limit and the type's task limits, such as an "
                       "objection window (state `window` while open: shown, never due or overdue)"})


class SupervisionSchema(Schema):
    id = fields.Integer()
    kind = fields.String()
    level = fields.String()
    issuer_id = fields.Integer(allow_none=True)
    issuer_unit_id = fields.Integer()
    target_unit_id = fields.Integer()
    instruction = fields.String()
    response_required = fields.Boolean()
    due_at = fields.DateTime(allow_none=True)
    state = fields.String()
    escalation_level = fields.Integer()
    escalated_to_unit_id = fields.Integer(allow_none=True)
    response = fields.String(allow_none=True)
    responded_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


class ExtensionSchema(Schema):
    id = fields.Integer()
    deadline_id = fields.Integer()
    amount = fields.Integer()
    reason = fields.String()
    state = fields.String()
    requested_by = fields.Integer(allow_none=True)
    requested_at = fields.DateTime()
    decided_by = fields.Integer(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)
    decision_note = fields.String(allow_none=True)


class ActionSchema(Schema):
    name = fields.String()
    title = fields.String()
    title_en = fields.String()
    to = fields.String()
    needs_input = fields.Boolean()


class CasePersonSchema(Schema):
    person_id = fields.Integer()
    name = fields.String()
    role = fields.String()


class FollowUpSchema(Schema):
    id = fields.Integer()
    task_id = fields.Integer(allow_none=True)
    satisfaction = fields.String(metadata={"description": "satisfied 满意 | basically_satisfied 基本满意 | dissatisfied 不满意"})
    note = fields.String()
    called_by = fields.Integer(allow_none=True)
    called_at = fields.DateTime()


class CaseDetailSchema(CaseSchema):
    content = fields.String()
    intake_id = fields.Integer(allow_none=True)
    state_title = fields.String()
    flags = fields.List(fields.String())
    persons = fields.List(fields.Nested(CasePersonSchema))
    details = fields.Dict(metadata={"description": "the module's own fields of this case"})
    tasks = fields.List(fields.Nested(TaskSchema))
    deadlines = fields.List(fields.Nested(DeadlineSchema))
    supervisions = fields.List(fields.Nested(SupervisionSchema))
    extensions = fields.List(fields.Nested(ExtensionSchema))
    follow_ups = fields.List(fields.Nested(FollowUpSchema), metadata={"description": "回访: the dispatcher's calls"})
    actions = fields.List(fields.Nested(ActionSchema), metadata={"description": "transitions you may take now"})


class EventSchema(Schema):
    id = fields.Integer()
    kind = fields.String()
    at = fields.DateTime()
    actor_id = fields.Integer(allow_none=True)
    actor_label = fields.String()
    from_state = fields.String(allow_none=True)
    to_state = fields.String(allow_none=True)
    org_unit_id = fields.Integer(allow_none=True)
    note = fields.String(allow_none=True)
    data = fields.Dict()


SORTABLE = {"id": Case.id, "created_at": Case.created_at, "number": Case.number, "due_at": Case.due_at}


def _case_sort_field() -> fields.String:
    """``sort_field(SORTABLE)`` plus ``urgency``: the overdue first, then the open cases due
    soonest, then the rest newest first (``core.cases.queries.urgency_page``; no ``-urgency``)."""
    field = sort_field(SORTABLE)
    keys = sorted(SORTABLE)
    return fields.String(load_default=None, validate=validate.OneOf(keys + [f"-{k}" for k in keys] + [URGENCY]),
                         metadata={"description": field.metadata["description"] + "；urgency：按紧急程度（超期在前，"
                                   "再按期限由近到远，其余按登记时间新→旧）"})


class CaseListArgs(ListArgs):
    sort = _case_sort_field()
    case_type = case_type_field()
    state = fields.List(fields.String(validate=validate.Length(min=1, max=32)), metadata={"description": "状态，可多选"})
    status = fields.String(validate=validate.OneOf(["open", "closed"]))
    org_unit_id = IdField(metadata={"description": "事项发生地在该单位子树内"})
    handling_unit_id = IdField(metadata={"description": "牵头承办单位在该单位子树内"})
    created_from = fields.DateTime(metadata={"description": "登记时间不早于（含）"})
    created_to = fields.DateTime(metadata={"description": "登记时间早于（不含）"})
    due_before = fields.DateTime(metadata={"description": "最早时限早于"})
    due_after = fields.DateTime(metadata={"description": "最早时限不早于（含）：与 due_before 合用即“临期”"})
    overdue = fields.Boolean()
    flag = fields.String(validate=FLAG)
    number = fields.String(validate=validate.Length(min=1, max=40), metadata={"description": "编号前缀"})
    person_id = IdField()
    person = fields.String(validate=validate.Length(min=1, max=50),
                           metadata={"description": "当事人：姓名（精确）、身份证号或电话（经盲索引精确匹配）"})
    q = fields.String(validate=validate.Length(min=1, max=50), metadata={"description": "中文关键词（标题、内容、编号）"})


class PersonRefSchema(Schema):
    person_id = IdField(required=True)
    role = fields.String(load_default="party", validate=validate.Length(min=1, max=32))


class CaseCreateSchema(Schema):
    case_type = case_type_field(required=True)
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    content = fields.String(load_default="", validate=validate.Length(max=20000))
    org_unit_id = IdField(required=True, metadata={"description": "事项发生地（所属单位）"})
    channel = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(engine.CHANNELS))
    persons = fields.List(fields.Nested(PersonRefSchema), load_default=list, validate=validate.Length(max=200))
    flags = fields.List(fields.String(validate=FLAG), load_default=list, validate=validate.Length(max=20))
    details = fields.Dict(load_default=dict, metadata={"description": "the module's own fields (its details schema)"})
    received_at = fields.DateTime(metadata={"description": backdating.RECEIVED_HELP})
    backdate_reason = fields.String(validate=validate.Length(min=1, max=500),
                                    metadata={"description": backdating.REASON_HELP})


class LimitSchema(Schema):
    amount = fields.Integer(required=True, validate=validate.Range(min=1, max=3650))
    unit = fields.String(required=True, validate=validate.OneOf(UNITS))


class TaskSpecSchema(Schema):
    org_unit_id = IdField(load_default=None, allow_none=True, metadata={
        "description": "承办单位（组织单位）；交办成员单位时可不填（即其所在单位）"})
    member_unit_id = IdField(load_default=None, allow_none=True, metadata={
        "description": "成员单位（司法所、派出所 …）：由其工作人员签收、办结"})
    role = fields.String(load_default="co", validate=validate.OneOf(["lead", "co"]))
    instruction = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))
    limit = fields.Nested(LimitSchema, metadata={"description": "该任务的办理时限"})


class DivertSchema(Schema):
    mode = fields.String(required=True, validate=validate.OneOf(["single", "joint", "add"]),
                         metadata={"description": "single 分（交办一个单位） | joint 合（主办 + 协办） | "
                                                  "add 追加协办（其他任务照常办理）"})
    tasks = fields.List(fields.Nested(TaskSpecSchema), required=True, validate=validate.Length(min=1, max=20))
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))


class TaskActSchema(Schema):
    action = fields.String(required=True, validate=validate.OneOf(["acknowledge", "done", "return", "cancel"]),
                           metadata={"description": "acknowledge 签收 | done 办结（答复） | return 回退（须填理由） | "
                                                    "cancel 撤回协办任务"})
    text = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=5000), metadata={
        "description": "the answer (done), the reason (return, cancel: required), a note (acknowledge)"})


class FollowUpCreateSchema(Schema):
    satisfaction = fields.String(required=True, validate=validate.OneOf(["satisfied", "basically_satisfied",
                                                                         "dissatisfied"]),
                                 metadata={"description": "satisfied 满意 | basically_satisfied 基本满意 | dissatisfied 不满意"})
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))
    task_id = IdField(load_default=None, allow_none=True, metadata={"description": "the answered task (default: the latest)"})


class AssignSchema(Schema):
    handler_id = IdField(required=True)
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))


class CommentSchema(Schema):
    text = fields.String(required=True, validate=TEXT)


class ExtensionRequestSchema(Schema):
    deadline_id = IdField(required=True)
    amount = fields.Integer(required=True, validate=validate.Range(min=1, max=3650))
    reason = fields.String(required=True, validate=TEXT)


class ExtensionDecisionSchema(Schema):
    approve = fields.Boolean(required=True)
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))


class SupervisionCreateSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(supervision.KINDS),
                         metadata={"description": "supervise 督办 | urge 催办"})
    level = fields.String(load_default="normal", validate=validate.OneOf(supervision.LEVELS),
                          metadata={"description": "normal 一般 | listed 挂牌督办"})
    target_unit_id = IdField(load_default=None, allow_none=True)
    instruction = fields.String(required=True, validate=TEXT)
    response_required = fields.Boolean(load_default=True)
    due_at = fields.DateTime(load_default=None, allow_none=True)
    limit = fields.Nested(LimitSchema, metadata={"description": "答复时限（不填用本县默认）"})


class ReplySchema(Schema):
    response = fields.String(required=True, validate=TEXT)


# --- presenting -------------------------------------------------------------------------------

def present(case: Case) -> dict:
    out = {k: getattr(case, k) for k in ("id", "number", "case_type", "title", "state", "channel", "org_unit_id",
                                         "handling_unit_id", "handler_id", "due_at", "due_provisional", "received_at",
                                         "created_at", "closed_at")}
    out["overdue"] = case.closed_at is None and case.due_at is not None and case.due_at < utcnow()
    return out


def detail(w, case: Case, ctype) -> dict:
    """The case as the API shows it. A case registered in this transaction is read from what the
    session wrote (``core.cases.fresh``: its flags, people, limits, no tasks …), not asked again."""
    s = w.session

    def rows(model, query):
        known = fresh.rows(s, case, model)
        return known if known is not None else s.scalars(query.order_by(model.id)).all()

    out = present(case)
    out.update(content=case.content, intake_id=case.intake_id, state_title=ctype.state(case.state).title,
               received_at=engine.received_at(s, case))
    flags = fresh.rows(s, case, CaseFlag)
    out["flags"] = sorted(f.flag for f in flags) if flags is not None else \
        sorted(s.scalars(select(CaseFlag.flag).where(CaseFlag.case_id == case.id)))
    attached = fresh.rows(s, case, CasePerson)
    kept = [fresh.kept(s, case, Person, cp.person_id) for cp in attached] if attached is not None else [None]
    if all(kept):
        out["persons"] = [{"person_id": cp.person_id, "name": p.name, "role": cp.role} for cp, p in zip(attached, kept)]
    else:
        out["persons"] = [{"person_id": pid, "name": name, "role": role} for pid, name, role in s.execute(
            select(CasePerson.person_id, Person.name, CasePerson.role)
            .join(Person, (Person.id == CasePerson.person_id) & (Person.tenant_id == CasePerson.tenant_id))
            .where(CasePerson.case_id == case.id).order_by(CasePerson.id))]
    out["details"] = ctype.details(s, case) if ctype.details else {}
    out["tasks"] = rows(CaseTask, select(CaseTask).where(CaseTask.case_id == case.id))
    out["deadlines"] = rows(CaseDeadline, select(CaseDeadline).where(CaseDeadline.case_id == case.id))
    with_limits(s, out["tasks"], out["deadlines"])
    out["supervisions"] = rows(Supervision, select(Supervision).where(Supervision.case_id == case.id))
    out["extensions"] = rows(CaseExtension, select(CaseExtension).where(CaseExtension.case_id == case.id))
    # a follow-up call is on an answered task: a case never dispatched has none (one read saved)
    out["follow_ups"] = dispatch.follow_ups(s, case) if out["tasks"] else []
    out["actions"] = engine.available(w, case, ctype)
    return out


def with_limits(s, tasks: list[CaseTask], limits: list[CaseDeadline] | None = None) -> list[CaseTask]:
    """Each task with its own limits (``task.limits``, for ``TaskSchema``): read in one query."""
    if limits is None and tasks:
        limits = s.scalars(select(CaseDeadline).where(CaseDeadline.task_id.in_([t.id for t in tasks]))
                           .order_by(CaseDeadline.id)).all()
    for t in tasks:
        t.limits = [d for d in limits or () if d.task_id == t.id]
    dispatch.ack_state(tasks)
    return tasks


_case = request_case


def _done(w, case, ctype) -> dict:
    """Commit the act and answer with the case. The answer is read inside the act's transaction,
    then committed without expiring the session's objects: they are what the commit saved, and
    read again one by one they cost a statement each (issue 24)."""
    s = w.session
    s.flush()  # every row of the act has its id before the answer is read
    out = detail(w, case, ctype)
    real = s() if isinstance(s, scoped_session) else s
    expire, real.expire_on_commit = real.expire_on_commit, False
    try:
        real.commit()
    finally:
        real.expire_on_commit = expire
    return out


def list_page(w, args: dict) -> dict:
    """One page of the case list (the API's and the web list's): keyset by ``args["sort"]``."""
    if args.get("sort") == URGENCY:
        return urgency_page(w, filtered(w, args), args.get("limit", 50), args.get("cursor"))
    return paginate(w.session, filtered(w, args), args, Case.id, SORTABLE, "-created_at",
                    unique=frozenset({"number"}))


# --- endpoints ------------------------------------------------------------------------------

@blp.route("")
class Cases(MethodView):
    @requires(READ)
    @blp.arguments(CaseListArgs, location="query")
    @blp.response(200, page_of(CaseSchema))
    def get(self, args):
        """Cases you may see (where they arose or where they were diverted to), filtered."""
        w = request_work()
        page = list_page(w, args)
        page["items"] = [present(c) for c in page["items"]]
        return page

    @requires(REGISTER)
    @blp.arguments(CaseCreateSchema)
    @blp.response(201, CaseDetailSchema)
    def post(self, data):
        """Register a case directly in a module (the one window is ``/api/intake``)."""
        w = request_work()
        ctype = w.types.get(data["case_type"])
        if ctype is None:
            raise Invalid("case_type", "unknown_case_type", "没有该事项类型，或该模块未启用")
        case = engine.register(w, ctype, data)
        return _done(w, case, ctype)


@blp.route("/<case_id>")
class CaseItem(MethodView):
    @requires(READ)
    @blp.response(200, CaseDetailSchema)
    def get(self, case_id):
        w, case, ctype = _case(case_id)
        return detail(w, case, ctype)


class CasePersonInput(Schema):
    person_id = IdField(metadata={"description": "an existing person in your scope; or the fields of a new one"})
    name = fields.String(validate=validate.Length(min=1, max=50))
    id_number = fields.String(validate=validate.Length(max=18))
    phone = fields.String(validate=validate.Length(max=20))
    address = fields.String(validate=validate.Length(max=200))
    org_unit_id = IdField(metadata={"description": "where a new person lives (default: the case's unit)"})
    role = fields.String(required=True, validate=validate.Length(min=1, max=32),
                         metadata={"description": "requester 反映人 | companion 同行人 | party 当事人, or the case "
                                                  "type's own (petitioner 信访人, applicant 申请人 …)"})


class PersonsArgs(Schema):
    reveal = fields.Boolean(load_default=False, metadata={
        "description": "show ID numbers and phones in full (needs the case type's PII permission; audited)"})


class CasePersonFullSchema(CasePersonSchema):
    org_unit_id = fields.Integer()
    id_number = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    address = fields.String(allow_none=True)
    revealed = fields.Boolean(metadata={"description": "shown in full (false: masked, or not revealable through the case)"})
    attached_by = fields.Integer(allow_none=True, metadata={"description": "who attached the person to the case"})
    attached_at = fields.DateTime(allow_none=True)


@blp.route("/<case_id>/persons")
class CasePersons(MethodView):
    @requires(READ)
    @blp.arguments(PersonsArgs, location="query")
    @blp.response(200, CasePersonFullSchema(many=True))
    def get(self, args, case_id):
        """The case's people: ID number and phone masked, or in full with ``reveal=true`` for holders
        of the case type's PII permission (``pii_permission``) on the case's unit — for the people
        genuinely attached (``core.privacy.party_fields``: registered by, or readable in full by,
        whoever attached them; others only with ``core.person.pii.read`` on their unit). Each
        full read is audited with the case."""
        w, case, ctype = _case(case_id)
        out = _people(w, case, ctype, args["reveal"])
        if any(o["revealed"] for o in out):
            w.session.commit()  # the reveals' audit entries
        return out

    @requires(READ)
    @blp.arguments(CasePersonInput)
    @blp.response(201, CasePersonFullSchema(many=True))
    def post(self, data, case_id):
        """Add a person to the open case (issue 15, item 2): ``person_id`` of someone in your
        scope, or a new person by ``name`` (with ``id_number``, ``phone``, ``address``; living in
        ``org_unit_id``, by default the case's unit), in ``role`` (the window's roles and the case
        type's own). Needs the case type's register permission at the case's unit, or
        ``core.case.handle``; a module keeps its own rows in step (the mediation parties)."""
        w, case, ctype = _case(case_id, lock=True)
        people.add(w, case, ctype, data)
        w.session.commit()
        return _people(w, case, ctype, False)


@blp.route("/<case_id>/persons/<person_id>")
class CasePersonItem(MethodView):
    @requires(READ)
    @blp.response(204)
    def delete(self, case_id, person_id):
        """Take a person off the open case (every role they have on it); a module may refuse (a
        party who signed an agreement stays: 409)."""
        w, case, ctype = _case(case_id, lock=True)
        people.remove(w, case, ctype, id_path(person_id))
        w.session.commit()


def _people(w, case, ctype, reveal: bool) -> list[dict]:
    """The case's people, masked unless revealed (``party_fields``)."""
    rows = w.session.execute(select(Person, CasePerson)
                             .join(CasePerson, (CasePerson.person_id == Person.id)
                                   & (CasePerson.tenant_id == Person.tenant_id))
                             .where(CasePerson.case_id == case.id).order_by(CasePerson.id)).all()
    out = []
    for person, cp in rows:
        shown, revealed = party_fields(w.session, w.grants, person, case, cp.pii_basis, reveal=reveal,
                                       permission=ctype.pii_permission)
        out.append({"person_id": person.id, "name": person.name, "role": cp.role,
                    "org_unit_id": person.org_unit_id, **shown, "revealed": revealed,
                    "attached_by": cp.attached_by, "attached_at": cp.attached_at})
    return out


@blp.route("/<case_id>/events")
class CaseEvents(MethodView):
    @requires(READ)
    @blp.response(200, EventSchema(many=True))
    def get(self, case_id):
        """The timeline, oldest first."""
        w, case, _ = _case(case_id)
        return w.session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id)
                                 .order_by(CaseEvent.at, CaseEvent.id)).all()


@blp.route("/<case_id>/transitions/<name>")
class CaseTransition(MethodView):
    @requires(READ)
    @blp.response(200, CaseDetailSchema)
    def post(self, case_id, name):
        """Take a transition of the case type's workflow; the body is the transition's input."""
        from flask import request
        raw = request.get_json(silent=True) if request.data else None
        if raw is not None and not isinstance(raw, dict):
            raise Invalid("_body", "not_an_object", "请求内容必须是 JSON 对象")
        w, case, ctype = _case(case_id, lock=True)
        engine.transition(w, case, ctype, name, raw)
        return _done(w, case, ctype)


@blp.route("/<case_id>/divert")
class CaseDivert(MethodView):
    @requires(DIVERT)
    @blp.arguments(DivertSchema)
    @blp.response(200, CaseDetailSchema)
    def post(self, data, case_id):
        """分 (single) or 合 (joint, one lead and co-units), each task with its own limit."""
        w, case, ctype = _case(case_id, lock=True)
        engine.divert(w, case, ctype, data["mode"], data["tasks"], data["note"])
        return _done(w, case, ctype)


@blp.route("/<case_id>/tasks/<task_id>")
class CaseTaskAct(MethodView):
    @requires(HANDLE)
    @blp.arguments(TaskActSchema)
    @blp.response(200, CaseDetailSchema)
    def post(self, data, case_id, task_id):
        w, case, ctype = _case(case_id, lock=True)
        task = engine.load_task(w, case, id_path(task_id))
        if data["action"] == "acknowledge":
            dispatch.acknowledge(w, case, ctype, task, data["text"])
        elif data["action"] == "cancel":
            if not (data["text"] or "").strip():
                raise Invalid("text", "reason_required", "请填写撤回理由")
            engine.cancel_task(w, case, ctype, task, data["text"])
        else:
            engine.finish_task(w, case, ctype, task, "done" if data["action"] == "done" else "returned", data["text"] or "")
        return _done(w, case, ctype)


@blp.route("/<case_id>/follow-ups")
class CaseFollowUps(MethodView):
    @requires(DIVERT)
    @blp.arguments(FollowUpCreateSchema)
    @blp.response(201, CaseDetailSchema)
    def post(self, data, case_id):
        """回访: the dispatcher records the petitioner's satisfaction with an answer, and a note."""
        w, case, ctype = _case(case_id, lock=True)
        dispatch.follow_up(w, case, ctype, data["satisfaction"], data["note"], data["task_id"])
        return _done(w, case, ctype)


@blp.route("/<case_id>/assign")
class CaseAssign(MethodView):
    @requires(DIVERT)
    @blp.arguments(AssignSchema)
    @blp.response(200, CaseDetailSchema)
    def post(self, data, case_id):
        w, case, ctype = _case(case_id, lock=True)
        engine.assign(w, case, ctype, data["handler_id"], data["note"])
        return _done(w, case, ctype)


@blp.route("/<case_id>/comments")
class CaseComments(MethodView):
    @requires(HANDLE)
    @blp.arguments(CommentSchema)
    @blp.response(201, CaseDetailSchema)
    def post(self, data, case_id):
        w, case, ctype = _case(case_id)
        engine.comment(w, case, ctype, data["text"])
        return _done(w, case, ctype)


@blp.route("/<case_id>/flags/<flag>")
class CaseFlagItem(MethodView):
    @requires(HANDLE)
    @blp.response(200, CaseDetailSchema)
    def put(self, case_id, flag):
        w, case, ctype = _case(case_id, lock=True)
        engine.set_flag(w, case, ctype, _flag(flag), True)
        return _done(w, case, ctype)

    @requires(HANDLE)
    @blp.response(200, CaseDetailSchema)
    def delete(self, case_id, flag):
        w, case, ctype = _case(case_id, lock=True)
        engine.set_flag(w, case, ctype, _flag(flag), False)
        return _done(w, case, ctype)


def _flag(flag: str) -> str:
    try:
        FLAG(flag)
    except Exception:  # noqa: BLE001 — marshmallow's ValidationError
        raise NotFound() from None
    return flag


@blp.route("/<case_id>/extensions")
class CaseExtensions(MethodView):
    @requires(HANDLE)
    @blp.arguments(ExtensionRequestSchema)
    @blp.response(201, CaseDetailSchema)
    def post(self, data, case_id):
        """Ask to extend a limit (within the rule's maximum); a unit head approves."""
        w, case, ctype = _case(case_id, lock=True)
        engine.request_extension(w, case, ctype, data["deadline_id"], data["amount"], data["reason"])
        return _done(w, case, ctype)


@blp.route("/<case_id>/extensions/<extension_id>/decision")
class CaseExtensionDecision(MethodView):
    @requires(APPROVE)
    @blp.arguments(ExtensionDecisionSchema)
    @blp.response(200, CaseDetailSchema)
    def post(self, data, case_id, extension_id):
        w, case, ctype = _case(case_id, lock=True)
        ext = w.session.scalar(select(CaseExtension).where(CaseExtension.id == id_path(extension_id),
                                                           CaseExtension.case_id == case.id))
        if ext is None:
            raise NotFound()
        engine.decide_extension(w, case, ctype, ext, data["approve"], data["note"])
        return _done(w, case, ctype)


@blp.route("/<case_id>/supervisions")
class CaseSupervisions(MethodView):
    @requires(SUPERVISE)
    @blp.arguments(SupervisionCreateSchema)
    @blp.response(201, CaseDetailSchema)
    def post(self, data, case_id):
        """督办 or 催办 a unit handling the case, with a reply limit."""
        w, case, ctype = _case(case_id, lock=True)
        supervision.issue(w, case, ctype, data)
        return _done(w, case, ctype)


@blp.route("/<case_id>/supervisions/<supervision_id>/reply")
class CaseSupervisionReply(MethodView):
    @requires(HANDLE)
    @blp.arguments(ReplySchema)
    @blp.response(200, CaseDetailSchema)
    def post(self, data, case_id, supervision_id):
        w, case, ctype = _case(case_id, lock=True)
        sup = supervision.load(w, case, id_path(supervision_id))
        supervision.reply(w, case, ctype, sup, data["response"])
        return _done(w, case, ctype)


# --- acts on several cases at once (core.cases.batch) -----------------------------------------

CASE_IDS = fields.List(IdField(), required=True, validate=validate.Length(min=1, max=batch.MAX_BATCH),
                       metadata={"description": f"事项 id（1–{batch.MAX_BATCH} 个）"})


class BatchAssignSchema(Schema):
    case_ids = CASE_IDS
    handler_id = IdField(required=True)
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))


class BatchDocumentSchema(Schema):
    case_ids = CASE_IDS
    key = fields.String(required=True, validate=validate.Length(min=1, max=100), metadata={"description": "文书"})


class BatchCaseSchema(Schema):
    id = fields.Integer()
    number = fields.String()


class BatchRefusedSchema(BatchCaseSchema):
    code = fields.String()
    message = fields.String()


class BatchResultSchema(Schema):
    done = fields.List(fields.Nested(BatchCaseSchema), metadata={"description": "done, by case"})
    refused = fields.List(fields.Nested(BatchRefusedSchema),
                          metadata={"description": "cases you can see the act was refused for, each with why"})
    not_found = fields.List(fields.Integer(), metadata={"description": "ids of cases that do not exist or that "
                                                                       "you may not see (never told apart)"})


@blp.route("/batch/assign")
class BatchAssign(MethodView):
    @requires(DIVERT)
    @blp.arguments(BatchAssignSchema)
    @blp.response(200, BatchResultSchema)
    def post(self, data):
        """Assign one handler to several cases, each as ``POST /api/cases/{id}/assign`` would.
        The others are done when some are refused or not found (listed); 404 when none was
        found; 422 at ``handler_id`` for a handler outside your scope (nothing done)."""
        w = request_work()
        result = batch.assign_many(w, data["case_ids"], data["handler_id"], data["note"])
        w.session.commit()
        return result


@blp.route("/batch/documents")
class BatchDocuments(MethodView):
    @requires(READ)
    @blp.arguments(BatchDocumentSchema)
    @blp.doc(responses={"200": {"description": "one PDF: the document of each case that has it, in id order; "
                                              "the header Pingan-Batch holds the summary (JSON: done, refused, "
                                              "not_found, as the batch assign answers)",
                                "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}}})
    def post(self, data):
        """Print one document (``key``) of several cases as one PDF, each rendering audited as
        ``render_document``. Cases without it (another type, its act not yet done) and ids not
        found are left out and listed in the ``Pingan-Batch`` header; 409 ``nothing_to_print``
        when none has it, 404 when none was found."""
        import json

        from flask import Response

        from core.request import current
        w = request_work()
        parts, summary = batch.printable(w, data["case_ids"], data["key"])
        pdf = batch.render_many(w, parts, current().tenant.name)
        w.session.commit()
        return Response(pdf, mimetype="application/pdf", headers={
            "Content-Disposition": 'attachment; filename="documents.pdf"', "Cache-Control": "private, no-store",
            "Pingan-Batch": json.dumps(summary, ensure_ascii=True)})


# --- the tasks of my units ------------------------------------------------------------------

tasks_blp = Blueprint("core_tasks", __name__, url_prefix="/api/tasks", description="待办任务 / Tasks")


class TaskListArgs(ListArgs):
    sort = sort_field({"id": None})
    # no "cancelled": a withdrawn task grants nothing, its instruction included (issue 14, finding 4);
    # the diverting side sees its cancelled tasks on the case (GET /api/cases/{id})
    state = fields.String(load_default="open", validate=validate.OneOf(["open", "done", "returned"]))


@tasks_blp.route("")
class Tasks(MethodView):
    @requires(HANDLE)
    @tasks_blp.arguments(TaskListArgs, location="query")
    @tasks_blp.response(200, page_of(TaskSchema))
    def get(self, args):
        """Tasks diverted to the units you handle for (your 待办 as a unit); a member unit's staff:
        the tasks dispatched to their member unit."""
        from core.cases.access import units_in_scope
        w = request_work()
        stmt = select(CaseTask).join(Case, (Case.id == CaseTask.case_id) & (Case.tenant_id == CaseTask.tenant_id)) \
            .where(CaseTask.org_unit_id.in_(units_in_scope(w.grants, HANDLE)), CaseTask.state == args["state"],
                   Case.case_type.in_(list(w.types)))
        if w.user is not None and w.user.member_unit_id is not None:
            stmt = stmt.where(CaseTask.member_unit_id == w.user.member_unit_id)
        page = paginate(w.session, stmt, args, CaseTask.id, {"id": CaseTask.id}, "id")
        with_limits(w.session, page["items"])
        return page
