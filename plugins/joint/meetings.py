"""Joint meetings (JNT-2, INT-4): a unit's meeting, its agenda of open cases, attendance by
member unit, minutes, and decisions that become tasks through the core's dispatch."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import and_, func, or_, select

from core.sdk import Case, CaseTask, Conflict, Intake, Invalid, MemberUnit, NotFound, OrgUnit, Supervision, get_or_404, \
    register_intake, request_work, scoped, supervise_case, units_under

from .handover import end_of, hand_over, open_case, open_cases, today
from .models import AgendaItem, Attendance, Decision, Meeting
from .permissions import MANAGE, READ

STATUSES = {"present": "出席", "absent": "缺席", "substitute": "委托他人参会"}
TASK_STATES = {"open": "在办", "done": "已办结", "returned": "已退回", "cancelled": "已撤回"}
AGENDA_LIMIT = 200
INTAKE_READ = "core.case.register"   # who may read the matters at a window (the core's sorting list)
INTAKE_STATES = {"pending": "待分流", "resolved": "当场解决", "referred": "已引导移交", "case": "已立案",
                 "reported_up": "已上报"}


def unit_at(ctx, unit_id: int, perm: str, field: str = "org_unit_id") -> OrgUnit:
    """An org unit in the caller's scope for ``perm``: 404 naming the field otherwise."""
    try:
        return get_or_404(ctx.session, ctx.grants, OrgUnit, unit_id, perm, unit_attr="id")
    except NotFound:
        raise NotFound("unit_not_found", "单位不存在或不在您的管辖范围内",
                       {"json": {field: ["单位不存在或不在您的管辖范围内"]}}) from None


def meeting_kind(settings: dict, key: str) -> dict:
    kind = next((m for m in settings["meetings"] if m["key"] == key), None)
    if kind is None:
        raise Invalid("kind", "unknown_kind", "不是本县设定的会议")
    return kind


def agenda_choices(ctx, unit: OrgUnit) -> list[Case]:
    return list(ctx.session.scalars(open_cases(ctx, unit).order_by(Case.created_at.desc()).limit(AGENDA_LIMIT)))


def pending_matters(ctx, unit: OrgUnit):
    """The matters pending at the windows of the unit's subtree (统一受理, not yet sorted), as the
    caller may read them (``core.case.register`` on the window)."""
    below = units_under(unit.path)
    stmt = select(Intake).where(Intake.outcome == "pending", Intake.case_id.is_(None),
                                or_(Intake.org_unit_id.in_(below), Intake.arose_unit_id.in_(below)))
    return scoped(stmt, ctx.grants, INTAKE_READ, Intake.org_unit_id)


def matter_choices(ctx, unit: OrgUnit) -> list[Intake]:
    if not ctx.grants.has(INTAKE_READ):
        return []
    return list(ctx.session.scalars(pending_matters(ctx, unit).order_by(Intake.received_at, Intake.id).limit(AGENDA_LIMIT)))


def pending_matter(ctx, unit: OrgUnit, intake_id: int) -> Intake:
    row = ctx.session.scalar(pending_matters(ctx, unit).where(Intake.id == intake_id)) \
        if ctx.grants.has(INTAKE_READ) else None
    if row is None:
        raise NotFound("intake_not_found", "该受理事项不存在、已分流或不在本单位范围内",
                       {"json": {"intake_ids": ["该受理事项不存在、已分流或不在本单位范围内"]}})
    return row


def create(ctx, settings: dict, data: dict) -> Meeting:
    unit = unit_at(ctx, data["org_unit_id"], MANAGE)
    kind = meeting_kind(settings, data["kind"])
    cases = [open_case(ctx, unit, cid, "case_ids") for cid in dict.fromkeys(data.get("case_ids") or [])]
    matters = [pending_matter(ctx, unit, iid) for iid in dict.fromkeys(data.get("intake_ids") or [])]
    meeting = Meeting(org_unit_id=unit.id, kind=kind["key"], title=data.get("title") or kind["title"],
                      held_on=data["held_on"], convener=data["convener"], minutes=data.get("minutes") or "",
                      created_by_id=ctx.user.id if ctx.user else None)
    ctx.session.add(meeting)
    ctx.session.flush()
    for case in cases:
        ctx.session.add(AgendaItem(meeting_id=meeting.id, case_id=case.id))
    for matter in matters:
        ctx.session.add(AgendaItem(meeting_id=meeting.id, intake_id=matter.id))
    ctx.session.flush()
    return meeting


def load(ctx, meeting_id: int, perm: str = READ) -> Meeting:
    return get_or_404(ctx.session, ctx.grants, Meeting, meeting_id, perm)


def convening_unit(ctx, meeting: Meeting) -> OrgUnit:
    return ctx.session.get(OrgUnit, (ctx.tenant.id, meeting.org_unit_id))


def add_agenda(ctx, meeting: Meeting, case_ids: list[int], intake_ids: list[int] = ()) -> None:
    """Open cases and pending window matters onto the agenda (each once)."""
    if not case_ids and not intake_ids:
        raise Invalid("case_ids", "required", "请勾选要列入议题的事项")
    unit = convening_unit(ctx, meeting)
    cases = _agenda_cases(ctx, meeting)
    matters = set(ctx.session.scalars(select(AgendaItem.intake_id).where(AgendaItem.meeting_id == meeting.id)))
    for cid in dict.fromkeys(case_ids):
        case = open_case(ctx, unit, cid, "case_ids")
        if case.id not in cases:
            ctx.session.add(AgendaItem(meeting_id=meeting.id, case_id=case.id))
    for iid in dict.fromkeys(intake_ids):
        matter = pending_matter(ctx, unit, iid)
        if matter.id not in matters:
            ctx.session.add(AgendaItem(meeting_id=meeting.id, intake_id=matter.id))
    ctx.session.flush()


def _agenda_cases(ctx, meeting: Meeting) -> set[int]:
    """The cases on the meeting's agenda: put there, or a window matter on it sorted into one."""
    cases = set(ctx.session.scalars(select(AgendaItem.case_id).where(AgendaItem.meeting_id == meeting.id,
                                                                     AgendaItem.case_id.is_not(None))))
    cases |= set(ctx.session.scalars(select(Intake.case_id).join(AgendaItem, and_(
        AgendaItem.tenant_id == Intake.tenant_id, AgendaItem.intake_id == Intake.id))
        .where(AgendaItem.meeting_id == meeting.id, Intake.case_id.is_not(None))))
    return cases


def set_minutes(ctx, meeting: Meeting, minutes: str) -> None:
    meeting.minutes = minutes
    ctx.session.flush()


# --- attendance -------------------------------------------------------------------------------

def member_units(ctx, unit: OrgUnit) -> list[MemberUnit]:
    """The active member units seated in the unit's centre and below it."""
    return list(ctx.session.scalars(select(MemberUnit).where(
        MemberUnit.active.is_(True), MemberUnit.org_unit_id.in_(units_under(unit.path)))
        .order_by(MemberUnit.org_unit_id, MemberUnit.name)))


def attend(ctx, meeting: Meeting, data: dict) -> Attendance:
    """Record one member unit's attendance; absence needs its reason, a substitute a name."""
    status = data["status"]
    reason = (data.get("reason") or "").strip() or None
    substitute = (data.get("substitute") or "").strip() or None
    if status == "absent" and not reason:
        raise Invalid("reason", "reason_required", "缺席须填写原因")
    if status == "substitute" and not substitute:
        raise Invalid("substitute", "substitute_required", "请填写代为参会的人员")
    unit = convening_unit(ctx, meeting)
    member = ctx.session.scalar(select(MemberUnit).where(
        MemberUnit.id == data["member_unit_id"], MemberUnit.active.is_(True),
        MemberUnit.org_unit_id.in_(units_under(unit.path))))
    if member is None:
        raise NotFound("member_unit_not_found", "成员单位不存在或不属于本中心",
                       {"json": {"member_unit_id": ["成员单位不存在或不属于本中心"]}})
    row = ctx.session.scalar(select(Attendance).where(Attendance.meeting_id == meeting.id,
                                                      Attendance.member_unit_id == member.id))
    if row is None:
        row = Attendance(meeting_id=meeting.id, member_unit_id=member.id)
        ctx.session.add(row)
    row.status = status
    row.reason = reason if status == "absent" else None
    row.substitute = substitute if status == "substitute" else None
    ctx.session.flush()
    return row


def attendance_figures(ctx, unit: OrgUnit, start: dt.date | None, end: dt.date | None) -> list[dict]:
    """Per member unit seated in the unit's subtree: meetings recorded, present, by substitute,
    absent, and the attendance rate ((present + substitute) / recorded) over meetings held in
    [start, end]."""
    members = member_units(ctx, unit)
    stmt = (select(Attendance.member_unit_id, Attendance.status, func.count(Attendance.id))
            .join(Meeting, and_(Meeting.tenant_id == Attendance.tenant_id, Meeting.id == Attendance.meeting_id))
            .where(Attendance.member_unit_id.in_([m.id for m in members]))
            .group_by(Attendance.member_unit_id, Attendance.status))
    if start:
        stmt = stmt.where(Meeting.held_on >= start)
    if end:
        stmt = stmt.where(Meeting.held_on <= end)
    counts: dict[int, dict[str, int]] = {}
    for member_id, status, n in ctx.session.execute(stmt):
        counts.setdefault(member_id, {})[status] = n
    names = dict(ctx.session.execute(select(OrgUnit.id, OrgUnit.name).where(
        OrgUnit.id.in_({m.org_unit_id for m in members}))).all())
    rows = []
    for m in members:
        c = counts.get(m.id, {})
        total = sum(c.values())
        came = c.get("present", 0) + c.get("substitute", 0)
        rows.append({"member_unit_id": m.id, "member_unit": m.name, "centre": names.get(m.org_unit_id, ""),
                     "meetings": total, "present": c.get("present", 0), "substitute": c.get("substitute", 0),
                     "absent": c.get("absent", 0), "rate": round(came / total, 4) if total else None})
    return rows


# --- decisions --------------------------------------------------------------------------------

KINDS = {"dispatch": "交办", "supervise": "督办", "new_matter": "立为新事项"}
SUPERVISION_STATES = {"open": "督办中", "answered": "已答复", "closed": "已结束"}
MATTER_STATES = {"pending": "待分流", "registered": "已立案", "done": "已办结", "resolved": "窗口已解决",
                 "referred": "已引导移交", "reported_up": "已上报"}
UNFINISHED = {"dispatch": ("open", "returned"), "supervise": ("open",), "new_matter": ("pending", "registered")}


def _decision_text(data: dict) -> str:
    text = (data.get("text") or "").strip()
    if not text:
        raise Invalid("text", "required", "请填写决定事项")
    return text


def _deadline(data: dict) -> dt.date:
    if data.get("deadline") is None:
        raise Invalid("deadline", "required", "请填写办结期限")
    return data["deadline"]


def decide(ctx, meeting: Meeting, data: dict) -> Decision:
    """A decision of the meeting, which becomes work (``Decision``'s kinds): a hand-over of a case
    through the core's dispatch, a supervision of a case through the core's supervision, or a
    new matter registered at the convening unit's window."""
    kind = data.get("kind") or "dispatch"
    unit = convening_unit(ctx, meeting)
    text = _decision_text(data)
    said = f"{meeting.title}（{meeting.held_on:%Y年%m月%d日}）决定：{text}"
    decision = Decision(meeting_id=meeting.id, kind=kind, text=text, created_by_id=ctx.user.id if ctx.user else None)
    if kind == "new_matter":
        subject = (data.get("subject") or "").strip()
        if not subject:
            raise Invalid("subject", "required", "请填写新事项的名称")
        intake = register_intake(request_work(), {"channel": "other", "org_unit_id": unit.id, "subject": subject,
                                                  "content": said})
        decision.intake_id = intake.id
    else:
        if data.get("case_id") is None:
            raise Invalid("case_id", "required", "请选择事项")
        case = open_case(ctx, unit, data["case_id"], "case_id")
        decision.case_id, decision.deadline = case.id, _deadline(data)
        if kind == "supervise":
            decision.supervision_id = supervise(case, data, decision.deadline, said).id
        else:
            if not data.get("lead"):
                raise Invalid("lead", "required", "请选择牵头单位")
            created = hand_over(case, data["lead"], data.get("co") or [], decision.deadline, text, said)
            decision.lead_task_id = created[0].id
        if case.id not in _agenda_cases(ctx, meeting):
            ctx.session.add(AgendaItem(meeting_id=meeting.id, case_id=case.id))
    ctx.session.add(decision)
    ctx.session.flush()
    return decision


def unfinished(decision_rows) -> list:
    """Decisions not yet done (a hand-over open or sent back, a supervision unanswered, a new
    matter unsorted or its case open) that no later decision on the same case replaced."""
    return [d for d in decision_rows if d["state"] in UNFINISHED[d["kind"]] and not d["superseded"]]


def _matter_state(intake: Intake | None, case: Case | None) -> str:
    if intake is None:
        return "pending"
    if intake.case_id is not None:
        return "done" if case is not None and case.closed_at is not None else "registered"
    return intake.outcome if intake.outcome in MATTER_STATES else "pending"


def decisions_view(ctx, decisions: list[Decision]) -> list[dict]:
    """Each decision with its live state — its lead task's, its supervision's, or its matter's —
    and its tasks."""
    if not decisions:
        return []
    s = ctx.session
    intakes = {i.id: i for i in s.scalars(select(Intake).where(Intake.id.in_({d.intake_id for d in decisions} - {None})))}
    case_ids = {d.case_id for d in decisions} | {i.case_id for i in intakes.values()}
    case_ids.discard(None)
    cases = {c.id: c for c in s.scalars(select(Case).where(Case.id.in_(case_ids)))}
    sups = {x.id: x for x in s.scalars(select(Supervision).where(
        Supervision.id.in_({d.supervision_id for d in decisions} - {None})))}
    tasks = list(s.scalars(select(CaseTask).where(CaseTask.case_id.in_(case_ids)).order_by(CaseTask.id)))
    by_id = {t.id: t for t in tasks}
    members = {m.id: m.name for m in s.scalars(select(MemberUnit).where(
        MemberUnit.id.in_({t.member_unit_id for t in tasks} - {None})))}
    units = dict(s.execute(select(OrgUnit.id, OrgUnit.name).where(OrgUnit.id.in_(
        {t.org_unit_id for t in tasks} | {x.target_unit_id for x in sups.values()}))).all())
    # a later hand-over of the same case replaces an earlier one (and a new matter once its case is
    # handed over); a later supervision replaces an earlier supervision
    latest = {(c, k): i for c, k, i in s.execute(
        select(Decision.case_id, Decision.kind, func.max(Decision.id)).where(Decision.case_id.in_(case_ids))
        .group_by(Decision.case_id, Decision.kind))}
    out = []
    for d in decisions:
        lead = by_id.get(d.lead_task_id) if d.lead_task_id else None
        sup = sups.get(d.supervision_id) if d.supervision_id else None
        intake = intakes.get(d.intake_id) if d.intake_id else None
        case_id = d.case_id if d.case_id is not None else (intake.case_id if intake else None)
        case = cases.get(case_id) if case_id else None
        mine = [t for t in tasks if t.assigned_at == lead.assigned_at and t.case_id == d.case_id] if lead else []
        if d.kind == "supervise":
            # the case closed: the supervision is over, answered or not
            state = "closed" if sup is None or (sup.state == "open" and case is not None and case.closed_at) \
                else sup.state
            title = SUPERVISION_STATES.get(state, "")
        elif d.kind == "new_matter":
            state = _matter_state(intake, case)
            title = MATTER_STATES[state]
        else:
            state = lead.state if lead else "cancelled"
            title = TASK_STATES.get(state, "")
        out.append({"id": d.id, "meeting_id": d.meeting_id, "kind": d.kind, "kind_title": KINDS.get(d.kind, ""),
                    "case_id": case_id, "case_number": case.number if case else "",
                    "case_title": case.title if case else (intake.subject if intake else ""),
                    "intake_id": d.intake_id, "supervision_id": d.supervision_id,
                    "supervised_unit": units.get(sup.target_unit_id, "") if sup else "",
                    "supervision_level": sup.level if sup else None,
                    "text": d.text, "deadline": d.deadline, "lead_task_id": d.lead_task_id,
                    "state": state, "state_title": title,
                    "superseded": case_id is not None and latest.get(
                        (case_id, "supervise" if d.kind == "supervise" else "dispatch"), d.id) > d.id,
                    "tasks": [{"id": t.id, "role": t.role, "state": t.state, "due_at": t.due_at,
                               "unit": members.get(t.member_unit_id) or units.get(t.org_unit_id, "")} for t in mine]})
    return out


def supervise(case: Case, data: dict, deadline: dt.date, note: str):
    """The core's supervision of ``case`` (督办, ``level`` normal or listed 挂牌), addressed to the
    unit handling it, its reply due on ``deadline`` at 24:00."""
    if (deadline - today()).days < 1:
        raise Invalid("deadline", "deadline_not_future", "答复期限须晚于今天")
    w = request_work()
    ctype = w.types.get(case.case_type)
    if ctype is None:
        raise Conflict("case_type_disabled", "该事项所属模块未启用，不能督办")
    due = end_of(deadline)
    return supervise_case(w, case, ctype, {"kind": "supervise", "level": data.get("level") or "normal",
                                           "instruction": note,
                                           "due_at": due.astimezone(dt.timezone.utc)})


def carried(ctx, meeting: Meeting) -> list[dict]:
    """Earlier meetings' unfinished decisions of the same unit: the head of this meeting's agenda."""
    earlier = select(Meeting.id).where(Meeting.org_unit_id == meeting.org_unit_id,
                                       or_(Meeting.held_on < meeting.held_on,
                                           and_(Meeting.held_on == meeting.held_on, Meeting.id < meeting.id)))
    rows = list(ctx.session.scalars(select(Decision).where(Decision.meeting_id.in_(earlier)).order_by(Decision.id)))
    return unfinished(decisions_view(ctx, rows))


def detail(ctx, meeting: Meeting) -> dict:
    """A meeting as the API and the page show it."""
    s = ctx.session
    items = list(s.scalars(select(AgendaItem).where(AgendaItem.meeting_id == meeting.id).order_by(AgendaItem.id)))
    matters = {i.id: i for i in s.scalars(select(Intake).where(Intake.id.in_({a.intake_id for a in items} - {None})))}
    case_ids = {a.case_id for a in items} | {m.case_id for m in matters.values()}
    cases = {c.id: c for c in s.scalars(select(Case).where(Case.id.in_(case_ids - {None})))}
    rows = list(s.execute(select(Attendance, MemberUnit.name).join(
        MemberUnit, and_(MemberUnit.tenant_id == Attendance.tenant_id, MemberUnit.id == Attendance.member_unit_id))
        .where(Attendance.meeting_id == meeting.id).order_by(MemberUnit.name)))
    decisions = list(s.scalars(select(Decision).where(Decision.meeting_id == meeting.id).order_by(Decision.id)))
    unit = convening_unit(ctx, meeting)
    return {"id": meeting.id, "org_unit_id": meeting.org_unit_id, "org_unit_name": unit.name if unit else "",
            "kind": meeting.kind, "title": meeting.title, "held_on": meeting.held_on, "convener": meeting.convener,
            "minutes": meeting.minutes,
            "carried": carried(ctx, meeting),
            "agenda": [_agenda_entry(a, cases, matters) for a in items],
            "attendance": [{"member_unit_id": a.member_unit_id, "member_unit": name, "status": a.status,
                            "status_title": STATUSES[a.status], "reason": a.reason, "substitute": a.substitute}
                           for a, name in rows],
            "decisions": decisions_view(ctx, decisions)}


def _agenda_entry(item: AgendaItem, cases: dict, matters: dict) -> dict:
    """An agenda item as shown: a case, or a window matter with what became of it (its case once
    sorted)."""
    matter = matters.get(item.intake_id) if item.intake_id else None
    case = cases.get(item.case_id if item.case_id else (matter.case_id if matter else None))
    return {"case_id": case.id if case else None, "number": case.number if case else "",
            "title": case.title if case else (matter.subject if matter else ""), "state": case.state if case else None,
            "intake_id": item.intake_id, "intake_state": matter.outcome if matter else None,
            "intake_state_title": INTAKE_STATES.get(matter.outcome, "") if matter else ""}


def minutes_pdf(ctx, meeting: Meeting) -> bytes:
    """The meeting's 纪要 as a PDF: the convening unit, the day it was held and the convener, who
    attended (substitutes and absences with their reasons), the agenda, each decision with its lead
    and co-units and deadline, and the minutes — dated the day of the meeting, not of the printing."""
    from pathlib import Path

    from core.sdk import DocumentTemplate, render_pdf
    m = detail(ctx, meeting)
    for d in m["decisions"]:
        d["lead"] = next((t["unit"] for t in d["tasks"] if t["role"] in ("lead", "sole")), "")
        d["co"] = [t["unit"] for t in d["tasks"] if t["role"] not in ("lead", "sole")]
        d["deadline_text"] = f"{d['deadline'].year}年{d['deadline'].month}月{d['deadline'].day}日" if d["deadline"] else ""
    att = m["attendance"]
    day = meeting.held_on
    template = DocumentTemplate("joint.minutes", "会议纪要", "minutes.html",
                                str(Path(__file__).parent / "templates" / "documents"), title_en="Minutes")
    return render_pdf(template, {
        "county": ctx.tenant.name, "m": m, "held_on": f"{day.year}年{day.month}月{day.day}日",
        "present": [a["member_unit"] for a in att if a["status"] == "present"],
        "substitutes": [f"{a['member_unit']}（{a['substitute'] or '委托他人'}）" for a in att if a["status"] == "substitute"],
        "absent": [f"{a['member_unit']}（{a['reason']}）" if a["reason"] else a["member_unit"]
                   for a in att if a["status"] == "absent"],
        "minutes_lines": [line.strip() for line in (meeting.minutes or "").splitlines() if line.strip()]})
