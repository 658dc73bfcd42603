"""The case type ``petition.case`` (信访事项): from registration to 复核.

The statutory flow and time limits of the 《信访工作条例》 (中共中央、国务院, 2022; article
numbers checked against its text) are declared as statutory rules, which a county may only
tighten; the local limits of PET-1 are declared switched off, for a county to switch on
with its own amounts (``[cases."petition.case".deadlines]`` in tenant.toml). Days are
counted by the core (Civil Code Art. 201, 203, the county's working days).
"""
from __future__ import annotations

import datetime as dt

from marshmallow import Schema, fields, validate
from sqlalchemy import or_, select

from core.sdk import (Case, CaseDeadline, CaseEvent, CasePerson, CaseType, Conflict, DeadlineRule, Forbidden, Invalid, LedgerColumn,
                      NotFound, OrgUnit, Person, State, Transition, add_case_flag, case_or_404, county_calendar,
                      deadline, fresh_case_rows, limit_end, notify, record, request_work, users_of_unit, utcnow)

from . import status
from .models import LeaderOwnership, PetitionCase
from .permissions import HANDLE, OVERRIDE_FINAL, PII, READ, REGISTER, REVIEW

KEY = "petition.case"
LAW = "《信访工作条例》"
LOCAL = "本县规定"  # a county names its own document per rule (``source`` in its deadline settings)

# How a petition came in; ``channel`` is the core's coarser channel of the same.
FORMS = {"letter": ("来信", "letter"), "joint_letter": ("联名信", "letter"), "visit": ("个人来访", "visit"),
         "collective_visit": ("集体访", "visit"), "call": ("来电", "call"), "online": ("网上信访", "online"),
         "hotline": ("热线转办", "hotline"), "grid": ("网格上报", "grid"), "higher": ("上级交办", "higher")}
# Decided on acceptance: which local closing limit applies (PET-1) or the simplified procedure.
PROCEDURES = {"normal": "一般程序", "clear": "事实清楚", "complex": "情况复杂", "simplified": "简易办理"}
REQUEST_WINDOW_DAYS = 30  # 复查 / 复核 may be requested within 30 days of the written answer (Art. 35, 36)
OBJECTION_WORKING_DAYS = 5  # a unit may object within 5 working days that a matter is not its own (Art. 23)
OBJECTION = "objection"     # that window: a limit on every diverted task (``task_limits`` below)


class Details(Schema):
    form = fields.String(required=True, validate=validate.OneOf(list(FORMS), labels=[v[0] for v in FORMS.values()]),
                         metadata={"title": "信访形式", "description": "letter 来信 | joint_letter 联名信 | visit 个人来访 | collective_visit "
                                                  "集体访 | call 来电 | online 网上 | hotline 热线转办 | grid 网格上报 | "
                                                  "higher 上级交办"})
    category = fields.String(required=True, validate=validate.Length(min=1, max=32),
                             metadata={"title": "信访分类",
                                       "description": "the county's category key (module settings)",
                                       "choices_from": lambda w: category_choices(w)})
    demands = fields.String(load_default="", validate=validate.Length(max=5000), metadata={"title": "诉求"})
    visitors = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100000),
                              metadata={"title": "来访人数", "description": "people who came (a visit)"})
    first_inquiry = fields.String(load_default="", validate=validate.Length(max=100),
                                  metadata={"title": "首问责任人", "description": "INT-2: who was asked first (name / post)"})
    override_reason = fields.String(validate=validate.Length(min=2, max=500),
                                    metadata={"title": "复核终结后再次受理的理由", "description": "to accept again the same matter after 复核 "
                                                             f"(needs {OVERRIDE_FINAL})"})


class AcceptInput(Schema):
    procedure = fields.String(load_default="normal",
                              validate=validate.OneOf(list(PROCEDURES), labels=list(PROCEDURES.values())),
                              metadata={"title": "办理程序（决定适用的本县办结时限）"})
    accepted_on = fields.Date(metadata={"title": "受理决定日期（不填为今天；办理期限自该日起算）"})
    backdate_reason = fields.String(validate=validate.Length(min=1, max=500),
                                    metadata={"title": "补录理由（受理决定日期早于今天时必填）"})
    note = fields.String(validate=validate.Length(max=1000), metadata={"title": "说明"})


class AnswerInput(Schema):
    outcome = fields.String(required=True, validate=validate.Length(min=1, max=5000),
                            metadata={"title": "意见（书面答复内容）"})


class ReasonInput(Schema):
    note = fields.String(required=True, validate=validate.Length(min=1, max=1000), metadata={"title": "理由"})


class NoteInput(Schema):
    note = fields.String(validate=validate.Length(max=1000), metadata={"title": "说明"})


# --- registration: repeats (PET-6), collective visits (PET-8), no second round after 复核 ----

def petition_of(session, case: Case) -> PetitionCase:
    return session.scalar(select(PetitionCase).where(PetitionCase.case_id == case.id))


def category_choices(w) -> list[tuple[str, str]]:
    """The county's petition categories (module settings) as (key, title): the form's select."""
    return [(c["key"], c.get("title") or c["key"]) for c in (w.enabled.get("petition") or {}).get("categories") or []]


def on_register(session, case: Case, details: dict) -> None:
    w = request_work()
    settings = w.enabled.get("petition") or {}
    categories = {c["key"] for c in settings.get("categories") or []}
    if details["category"] not in categories:
        raise Invalid("details.category", "unknown_category", "请从列表中选择信访分类")
    case.channel = FORMS[details["form"]][1]
    row = PetitionCase(case_id=case.id, form=details["form"], category=details["category"],
                       demands=details["demands"], visitors=details["visitors"],
                       first_inquiry=details["first_inquiry"], repeat_count=0, outcome="")
    status.assign_code(row)
    session.add(row)
    earlier = earlier_petitions(session, case, details["category"])
    final = [c for c in earlier if c.state == "rechecked"]
    if final:
        reason = details.get("override_reason")
        if not reason:  # the earlier number only if the registrant may read that petition
            shown = final[0].number if may_read(final[0]) else "不在您的查看范围内"
            raise Conflict("final_after_recheck",
                           f"同一信访人就同一事项已经复核（{shown}），依据{LAW}第三十六条不再受理；"
                           "确需受理的，须由有权限的人员说明理由")
        if not w.grants.has(OVERRIDE_FINAL):
            raise Forbidden("forbidden", f"复核终结后再次受理需要权限：{OVERRIDE_FINAL}")
        row.override_reason = reason
        record(session, "petition.final_override", "case", case.id,
               {"after": final[0].number, "reason": reason})
        add_case_flag(session, case, "after_recheck")
    window_start = (case.created_at or utcnow()) - dt.timedelta(days=int(settings.get("repeat_window_days", 365)))
    recent = [c for c in earlier if c.created_at >= window_start]
    if recent:
        row.repeat_of_id, row.repeat_count = recent[0].id, len(recent)
        add_case_flag(session, case, "repeat")
        unseen = [c for c in recent if not may_read(c)]
        if unseen:
            tell_unit_above(session, case, unseen)
    if details["form"] == "collective_visit" or details["visitors"] >= int(settings.get("collective_threshold", 5)):
        add_case_flag(session, case, "collective")


def may_read(case: Case) -> bool:
    """Whether the user of the current request may read ``case`` (outside a request: yes).
    Answered once per case and request (registration and its answer both ask); a reader of
    petitions county-wide reads every one of the county's without a query."""
    if not _in_request():
        return True
    from flask import g
    known = g.setdefault("petition_may_read", {})
    if case.id not in known:
        if request_work().grants.county_wide(READ) and case.case_type == KEY:
            known[case.id] = True
        else:
            try:
                case_or_404(str(case.id), case_type=KEY)
                known[case.id] = True
            except (NotFound, Forbidden):
                known[case.id] = False
    return known[case.id]


REPEAT_NOTE = "可能为重复信访，已提示上级"


def tell_unit_above(session, case: Case, unseen: list[Case]) -> None:
    """PET-6 across units: a repeat whose earlier petitions the registrant may not read is put
    on the to-do list of the lowest unit above both (which sees both), never shown to the
    registrant (they learn only ``REPEAT_NOTE``)."""
    paths = dict(session.execute(select(OrgUnit.id, OrgUnit.path).where(
        OrgUnit.id.in_({case.org_unit_id, *(c.org_unit_id for c in unseen)}))).all())
    common = paths[case.org_unit_id].strip("/").split("/")
    for c in unseen:
        other = paths[c.org_unit_id].strip("/").split("/")
        n = 0
        while n < min(len(common), len(other)) and common[n] == other[n]:
            n += 1
        common = common[:n]
    if not common:
        return
    unit = int(common[-1])
    numbers = "、".join(c.number for c in unseen)
    notify(session, users_of_unit(session, unit), f"petition.repeat:{case.id}",
           f"可能为重复信访：{case.number}", f"信访人此前同类信访：{numbers}（登记人无权查看），请核实并统筹办理",
           kind="todo", case_id=case.id)


def repeat_for_reader(session, case: Case, row: PetitionCase) -> dict:
    """The repeat facts the reader may see: the earlier petitions they can read (the latest
    of them and how many), and ``repeat_note`` when there are others they cannot."""
    if not row.repeat_count or not _in_request():
        number = session.scalar(select(Case.number).where(Case.id == row.repeat_of_id)) if row.repeat_of_id else None
        return {"repeat_of_id": row.repeat_of_id, "repeat_of_number": number, "repeat_count": row.repeat_count,
                "repeat_note": None}
    earlier = [c for c in earlier_petitions(session, case, row.category)
               if (c.created_at, c.id) < (case.created_at, case.id)][:row.repeat_count]
    seen = [c for c in earlier if may_read(c)]
    return {"repeat_of_id": seen[0].id if seen else None, "repeat_of_number": seen[0].number if seen else None,
            "repeat_count": len(seen), "repeat_note": REPEAT_NOTE if len(seen) < row.repeat_count else None}


def earlier_petitions(session, case: Case, category: str) -> list[Case]:
    """Earlier petitions in ``category`` by any of this case's petitioners, newest first.

    A petitioner matches by the same person record, the same ID number, or the same name
    and phone (blind indexes: the numbers themselves stay encrypted). In a request the answer
    is kept for the request: registration asks it, and so does the answer showing the case.
    """
    if _in_request():
        from flask import g
        memo = g.setdefault("petition_earlier", {})
        key = (case.id, category)
        if key not in memo:
            memo[key] = _earlier_petitions(session, case, category)
        return list(memo[key])
    return _earlier_petitions(session, case, category)


def _earlier_petitions(session, case: Case, category: str) -> list[Case]:
    attached, kept = fresh_case_rows(session, case, CasePerson), fresh_case_rows(session, case, Person)
    if attached is not None and kept is not None and {a.person_id for a in attached} <= {p.id for p in kept}:
        # a case registered in this transaction: its people are loaded, and the query below needs
        # none of its rows — they are not flushed for it (the petition row then goes in once,
        # with its repeat fields, instead of being inserted and updated)
        ids = {a.person_id for a in attached}
        people = [p for p in kept if p.id in ids]
        with session.no_autoflush:
            return _earlier_of(session, case, category, people)
    session.flush()
    mine = select(CasePerson.person_id).where(CasePerson.case_id == case.id)
    people = list(session.execute(select(Person.id, Person.name, Person.id_number_bidx, Person.phone_bidx)
                                  .where(Person.id.in_(mine))))
    return _earlier_of(session, case, category, people)


def _earlier_of(session, case: Case, category: str, people: list) -> list[Case]:
    if not people:
        return []
    same = [Person.id.in_([p.id for p in people])]
    same += [Person.id_number_bidx == p.id_number_bidx for p in people if p.id_number_bidx]
    same += [(Person.name == p.name) & (Person.phone_bidx == p.phone_bidx) for p in people if p.phone_bidx]
    matching = select(Person.id).where(or_(*same))
    earlier = (select(Case)
               .join(PetitionCase, PetitionCase.case_id == Case.id)
               .where(Case.case_type == KEY, Case.id != case.id, PetitionCase.category == category,
                      Case.id.in_(select(CasePerson.case_id).where(CasePerson.person_id.in_(matching))))
               .order_by(Case.created_at.desc(), Case.id.desc()))
    return list(session.scalars(earlier))


# --- acts ------------------------------------------------------------------------------------

def before_accept(session, case: Case, data: dict) -> None:
    petition_of(session, case).procedure = data["procedure"]


def after_reply(session, case: Case, data: dict) -> None:
    row = petition_of(session, case)
    row.replied_at, row.outcome = utcnow(), data["outcome"]


def after_review(session, case: Case, data: dict) -> None:
    row = petition_of(session, case)
    row.reviewed_at, row.outcome = utcnow(), data["outcome"]


def after_recheck(session, case: Case, data: dict) -> None:
    petition_of(session, case).outcome = data["outcome"]


def _within_window(session, since: dt.datetime | None, what: str) -> None:
    """复查 / 复核 may be requested within 30 days of the written answer (Art. 35, 36)."""
    if since is None:
        return
    due = deadline(since, REQUEST_WINDOW_DAYS, "calendar_days", county_calendar(session)).due_at
    if utcnow() > due:
        raise Conflict("request_too_late", f"已超过请求{what}的期限（收到书面答复之日起{REQUEST_WINDOW_DAYS}日内，"
                                           f"{LAW}第三十五、三十六条），期限已于 {limit_end(due)} 届满")


def before_review_request(session, case: Case, data: dict) -> None:
    _within_window(session, petition_of(session, case).replied_at, "复查")


def before_recheck_request(session, case: Case, data: dict) -> None:
    _within_window(session, petition_of(session, case).reviewed_at, "复核")


# --- ledger -------------------------------------------------------------------------------------

def _column(attr: str, names: dict | None = None):
    def value(session, cases) -> dict:
        rows = session.execute(select(PetitionCase.case_id, getattr(PetitionCase, attr))
                               .where(PetitionCase.case_id.in_([c.id for c in cases])))
        return {cid: (names.get(v, v) if names else v) for cid, v in rows}
    return value


def details(session, case: Case) -> dict:
    """The petition's own fields, for the case view and for its documents' templates."""
    note_kinds = ("extension_requested", "not_accept")
    mine = fresh_case_rows(session, case, PetitionCase)
    if mine is not None:  # registered in this transaction (its answer): what was written is known
        row = mine[0] if mine else None
        leader = next((x for x in fresh_case_rows(session, case, LeaderOwnership) if x.dissolved_at is None), None)
        events = sorted((e for e in fresh_case_rows(session, case, CaseEvent) if e.kind in note_kinds),
                        key=lambda e: (e.at, e.id or 0), reverse=True)
        noted = [(e.kind, e.note) for e in events]
    else:  # the petition row with its leader (one read), the last notes of two kinds (one read)
        found = session.execute(select(PetitionCase, LeaderOwnership).outerjoin(
            LeaderOwnership, (LeaderOwnership.tenant_id == PetitionCase.tenant_id)
            & (LeaderOwnership.case_id == PetitionCase.case_id) & LeaderOwnership.dissolved_at.is_(None))
            .where(PetitionCase.case_id == case.id).limit(1)).first()
        row, leader = found if found is not None else (None, None)
        noted = session.execute(select(CaseEvent.kind, CaseEvent.note).where(
            CaseEvent.case_id == case.id, CaseEvent.kind.in_(note_kinds))
            .order_by(CaseEvent.at.desc(), CaseEvent.id.desc())).all() if row is not None else []
    if row is None:
        return {}
    settings = (request_work().enabled.get("petition") or {}) if _in_request() else {}
    titles = {c["key"]: c["title"] for c in settings.get("categories") or []}
    notes: dict[str, str] = {}
    for kind, note in noted:
        notes.setdefault(kind, note or "")

    def last_note(kind: str) -> str:
        return notes.get(kind, "")
    return {"form": row.form, "form_title": FORMS[row.form][0], "category": row.category,
            "category_title": titles.get(row.category, row.category), "demands": row.demands,
            "visitors": row.visitors, "procedure": row.procedure,
            "procedure_title": PROCEDURES.get(row.procedure or "", ""), "first_inquiry": row.first_inquiry,
            **repeat_for_reader(session, case, row),
            "override_reason": row.override_reason, "replied_at": row.replied_at, "reviewed_at": row.reviewed_at,
            "outcome": row.outcome, "rating": row.rating,  # never the query code: see documents.receipt_context
            "rating_title": status.RATINGS.get(row.rating or ""), "risk_grade": row.risk_grade,
            "extension_reason": last_note("extension_requested"), "not_accept_reason": last_note("not_accept"),
            "leader": {"name": leader.leader_name, "post": leader.leader_post, "team": leader.team,
                       "investigate": leader.investigate, "handle": leader.handle, "stabilise": leader.stabilise}
            if leader else None}


def _in_request() -> bool:
    from flask import has_request_context
    return has_request_context()


# --- timeline: Art. 23 objections, overdue petitions (PET-2) -----------------------------------

def on_case_event(session, case: Case, event) -> None:
    """A unit returning a diverted petition as not its own must do so within 5 working days of
    receiving it (Art. 23): the task's objection window, the limit shown on the task, says
    until when; an overdue petition puts a situation report on the handling unit's to-do list
    (PET-2)."""
    if case.case_type != KEY:
        return
    if event.kind == "task_returned":
        due = session.scalar(select(CaseDeadline.due_at).where(
            CaseDeadline.case_id == case.id, CaseDeadline.task_id == (event.data or {}).get("task_id"),
            CaseDeadline.rule == OBJECTION))
        if due is None:  # a task diverted before its window was recorded: counted from the diversion
            received = session.scalar(select(CaseEvent.at).where(CaseEvent.case_id == case.id,
                                                                 CaseEvent.kind == "diverted", CaseEvent.id != event.id)
                                      .order_by(CaseEvent.at.desc(), CaseEvent.id.desc()).limit(1))
            if received is None:
                return
            due = deadline(received, OBJECTION_WORKING_DAYS, "working_days", county_calendar(session)).due_at
        if event.at > due:
            raise Conflict("objection_too_late",
                           f"收到交办事项之日起{OBJECTION_WORKING_DAYS}个工作日内方可提出异议（{LAW}第二十三条），"
                           f"期限已于 {limit_end(due)} 届满，请依法办理")
    elif event.kind == "overdue":
        unit = case.handling_unit_id or case.org_unit_id
        notify(session, users_of_unit(session, unit), f"petition.situation:{case.id}:{event.id}",
               f"信访事项逾期未办结：{case.number}",
               "请向综治中心提交情况报告，并告知信访人", kind="todo", case_id=case.id)


def _form_is(*forms: str):
    def applies(session, case: Case) -> bool:
        row = petition_of(session, case)
        return row is not None and row.form in forms
    return applies


def _procedure_is(procedure: str):
    def applies(session, case: Case) -> bool:
        row = petition_of(session, case)
        return row is not None and row.procedure == procedure
    return applies


def _panel(w, case, errors, values):
    from .web import panel  # the web layer imports this module: import it when the page is drawn
    return panel(w, case, errors, values)


STOP_FORWARD = ("diverted", "accept", "not_accept")

PETITION = CaseType(
    key=KEY, title="信访事项", title_en="Petition",
    number_format="信〔{year}〕{seq:05d}",
    states=(State("registered", "已登记", "Registered"),
            State("accepted", "办理中", "In hand"),
            State("not_accepted", "不予受理", "Not accepted", closed=True),
            State("replied", "已答复", "Answered", closed=True),
            State("review", "复查中", "Under review"),
            State("reviewed", "已复查", "Reviewed", closed=True),
            State("recheck", "复核中", "Under re-examination"),
            State("hearing", "听证中", "Hearing"),
            State("rechecked", "已复核（终结）", "Re-examined (final)", closed=True)),
    initial="registered",
    transitions=(
        Transition("accept", "受理", ("registered",), "accepted", HANDLE, "Accept", input=AcceptInput,
                   before=before_accept, dated="accepted_on"),
        Transition("not_accept", "不予受理", ("registered",), "not_accepted", HANDLE, "Do not accept",
                   input=ReasonInput),
        Transition("reply", "出具处理意见", ("accepted",), "replied", HANDLE, "Answer in writing", input=AnswerInput,
                   after=after_reply),
        Transition("request_review", "请求复查", ("replied",), "review", REGISTER, "Review requested",
                   input=NoteInput, before=before_review_request),
        Transition("decide_review", "出具复查意见", ("review",), "reviewed", REVIEW, "Review opinion",
                   input=AnswerInput, after=after_review),
        Transition("request_recheck", "请求复核", ("reviewed",), "recheck", REGISTER, "Re-examination requested",
                   input=NoteInput, before=before_recheck_request),
        Transition("start_hearing", "举行听证", ("recheck",), "hearing", REVIEW, "Hold a hearing", input=NoteInput),
        Transition("end_hearing", "听证结束", ("hearing",), "recheck", REVIEW, "Hearing over", input=NoteInput),
        Transition("decide_recheck", "出具复核意见", ("recheck",), "rechecked", REVIEW, "Re-examination opinion",
                   input=AnswerInput, after=after_recheck),
    ),
    deadlines=(
        DeadlineRule("forward", "登记转送、交办", 15, "calendar_days", start="registered", stop=STOP_FORWARD,
                     source=f"{LAW}第二十二条", statutory=True),
        DeadlineRule("notify", "书面告知接收情况", 15, "calendar_days", start="diverted",
                     stop=("accept", "not_accept", "handed_back"), source=f"{LAW}第二十三条", statutory=True),
        DeadlineRule("handle", "办理期限", 60, "calendar_days", start="accept", stop=("reply",),
                     source=f"{LAW}第三十四条", statutory=True, max_extensions=1, max_extension=30),
        DeadlineRule("review", "复查期限", 30, "calendar_days", start="request_review", stop=("decide_review",),
                     source=f"{LAW}第三十五条", statutory=True),
        DeadlineRule("recheck", "复核期限", 30, "calendar_days", start="request_recheck", stop=("decide_recheck",),
                     source=f"{LAW}第三十六条（听证时间不计入）", statutory=True, pause_states=("hearing",)),
        # PET-1, off until a county sets its own amounts; never looser than the statutory rule
        DeadlineRule("forward_letter", "来信转办、交办（本县）", 15, "calendar_days", start="registered",
                     stop=STOP_FORWARD, source=LOCAL, tightens="forward", enabled=False,
                     applies=_form_is("letter")),
        DeadlineRule("forward_visit", "联名信、来访转办、交办（本县）", 15, "calendar_days", start="registered",
                     stop=STOP_FORWARD, source=LOCAL, tightens="forward", enabled=False,
                     applies=_form_is("joint_letter", "visit", "collective_visit")),
        DeadlineRule("close_clear", "事实清楚的办结期限（本县）", 60, "calendar_days", start="accept", stop=("reply",),
                     source=LOCAL, tightens="handle", enabled=False, applies=_procedure_is("clear")),
        DeadlineRule("close_complex", "情况复杂的办结期限（本县）", 60, "calendar_days", start="accept",
                     stop=("reply",), source=LOCAL, tightens="handle", enabled=False,
                     applies=_procedure_is("complex")),
        DeadlineRule("close_simplified", "简易办理期限（本县）", 60, "calendar_days", start="accept", stop=("reply",),
                     source=LOCAL, tightens="handle", enabled=False, applies=_procedure_is("simplified")),
    ),
    # Art. 23: within 5 working days of receiving a diverted petition its unit may object that it
    # is not its own (a task sent back later answers 409 objection_too_late). A window, not a
    # limit on the handling: shown on the task, never makes the petition overdue; it ends when
    # the unit accepts the petition, reports or returns the task, or when it runs out.
    task_limits=(
        DeadlineRule(OBJECTION, "异议期限（认为不属于本单位职责的，可提出异议）", OBJECTION_WORKING_DAYS, "working_days",
                     start="diverted", stop=("accept", "not_accept"), source=f"{LAW}第二十三条", statutory=True,
                     title_en="Objection window (a unit that finds the matter is not its own may object)",
                     window=True),
    ),
    read_permission=READ, create_permission=REGISTER, pii_permission=PII,
    details_schema=Details, on_register=on_register, details=details,
    web_panel=lambda w, case, errors, values: _panel(w, case, errors, values),
    person_roles={"petitioner": "信访人"},
    event_titles={"petition.leader": ("领导包案", "Leader assigned"), "petition.leader_end": ("撤销包案", "Leader ended"),
                  "petition.risk": ("风险评估", "Risk assessed"), "petition.situation": ("情况报告", "Situation report"),
                  "petition.notice": ("告知信访人", "Petitioner told"), "petition.joint": ("联席会议决定", "Joint decision"),
                  "petition.receipt_printed": ("打印登记回执（含查询码）", "Receipt printed with its query code"),
                  "petition.rated": ("信访人评价", "Petitioner's rating")},
    flag_titles={"repeat": ("重复信访", "Repeat petition"), "collective": ("集体访", "Collective petition"),
                 "rating_internal": ("评价来自县内网络（待核实）", "Rated from inside the county network (to check)"),
                 "after_recheck": ("复核终结后再次受理", "Accepted again after the final review")},
    ledger_columns=(LedgerColumn("form", "信访形式", _column("form", {k: v[0] for k, v in FORMS.items()}), "Form"),
                    LedgerColumn("category", "分类", _column("category"), "Category"),
                    LedgerColumn("repeat_count", "重复次数", _column("repeat_count"), "Repeats")),
)
