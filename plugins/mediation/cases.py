"""The case type ``mediation.dispute`` (矛盾纠纷): registration, mediation by the People's
Mediation Law (人民调解法, 2010), agreement, judicial confirmation, referral and conclusion.

Law followed (article numbers checked against the 2010 text):
- Art. 4: mediation is free — there is no fee field anywhere.
- Art. 17: a party that clearly refuses mediation ends it (``refuse``).
- Art. 28–30: a written agreement (its items below) takes effect when the parties have signed,
  the mediator has signed and the committee has stamped it; an oral one takes effect when
  reached, its content recorded.
- Art. 31: the committee supervises performance (follow-ups and return visits).
- Art. 33: the parties may jointly apply for judicial confirmation within 30 days of the
  agreement taking effect (a statutory limit, counted by the core: Civil Code Art. 201, 203).
The handling limit (one month by default) is the county's own setting.
"""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import select

from core.sdk import (Case, CaseDeadline, CasePerson, CaseType, Conflict, DeadlineRule, Invalid, LedgerColumn,
                      OrgUnit, Person, State, Transition, add_case_flag, county_calendar, deadline, limit_end,
                      module_settings, notify, scoped, utcnow)

from . import tiers
from .models import Agreement, Dispute, Party, Referral, ScreeningReport
from .permissions import MEDIATE, PII, READ, REFER, REGISTER

KEY = "mediation.dispute"
LAW = "《中华人民共和国人民调解法》"
LOCAL = "本县规定"
SHANGHAI = ZoneInfo("Asia/Shanghai")

RISK_GRADES = {"low": "一般", "medium": "较大", "high": "重大"}
KINDS = {"people": "人民调解", "administrative": "行政调解", "judicial": "司法调解"}
METHODS = {"graded": "分级调处", "directed": "指令调处", "leader": "包案调处", "joint": "联合调处"}
OUTCOMES = {"agreed": "调解成功", "refused": "当事人拒绝调解", "no_agreement": "调解不成", "litigation": "引导诉讼",
            "withdrawn": "当事人撤回", "referred": "已移送"}
SIDES = {"applicant": "申请人", "respondent": "被申请人", "third": "第三人"}
# a person registered as a party without a side (the intake's 当事人, the core's default role)
# stays a party of no stated side; a companion (同行人) came along and is no party
PARTY_SIDES = {**SIDES, "party": "当事人"}
NOT_PARTIES = ("companion",)
DOCUMENTS = {"letter": "矛盾纠纷调解移送函", "suit": "矛盾纠纷建议立案书"}
REFERRAL_OUTCOMES = {"mediated": "调解成功", "judged": "判决", "withdrawn": "撤回"}
CONFIRMATION_DAYS = 30  # Art. 33


def _choice(options: dict, title: str, **kw):
    return fields.String(validate=validate.OneOf(list(options), labels=list(options.values())),
                         metadata={"title": title, "description": " | ".join(f"{k} {v}" for k, v in options.items())},
                         **kw)


class ReferredFrom(Schema):
    kind = _choice(KINDS, "移送方调解类型", required=True)
    body = fields.String(required=True, validate=validate.Length(min=1, max=100), metadata={"title": "移送单位"})
    document = _choice(DOCUMENTS, "移送文书", load_default="letter")


class Details(Schema):
    dispute_type = fields.String(required=True, validate=validate.Length(min=1, max=32),
                                 metadata={"title": "纠纷类型", "description": "the county's dispute type key (module settings)",
                                           "choices_from": lambda w: dispute_type_choices(w)})
    people_involved = fields.Integer(load_default=2, validate=validate.Range(min=1, max=100000),
                                     metadata={"title": "涉及人数"})
    risk_grade = _choice(RISK_GRADES, "风险等级", load_default="low")
    may_turn_criminal = fields.Boolean(load_default=False, metadata={"title": "可能民转刑"})
    may_become_mass = fields.Boolean(load_default=False, metadata={"title": "可能引发群体性事件"})
    emergency = fields.Boolean(load_default=False, metadata={"title": "突发事件"})
    occurred_at = fields.AwareDateTime(default_timezone=SHANGHAI, metadata={"title": "事发时间"})
    kind = _choice(KINDS, "调解类型", load_default="people")
    organisations = fields.List(fields.Integer(), load_default=list,
                                metadata={"title": "为单位（组织）的当事人", "description": "person ids that are organisations"})
    referred_from = fields.Nested(ReferredFrom, metadata={"title": "移送来源（法庭、派出所等移送人民调解的）"})
    screening_id = fields.Integer(metadata={"title": "所属排查报告（排查中发现的）",
                                            "choices_from": lambda w: screening_choices(w)})

    @validates_schema
    def _emergency_time(self, data, **kw):
        if data.get("emergency") and not data.get("occurred_at"):
            raise ValidationError("突发事件须填写事发时间", "occurred_at")


def dispute_type_choices(w) -> list[tuple[str, str]]:
    """The county's dispute types (module settings) as (key, title): the form's select."""
    return [(t["key"], t.get("title") or t["key"]) for t in (w.enabled.get("mediation") or {}).get("dispute_types") or []]


def screening_choices(w) -> list[tuple[int, str]]:
    """The screening reports with disputes found, of the user's units, newest first: a dispute
    found in one is registered against it (MED-1) — picked by unit and period, never typed."""
    stmt = (select(ScreeningReport.id, OrgUnit.name, ScreeningReport.period)
            .join(OrgUnit, (OrgUnit.id == ScreeningReport.org_unit_id) & (OrgUnit.tenant_id == ScreeningReport.tenant_id))
            .where(ScreeningReport.nil.is_(False)))
    rows = w.session.execute(scoped(stmt, w.grants, REGISTER, ScreeningReport.org_unit_id)
                             .order_by(ScreeningReport.id.desc()).limit(100)).all()
    return [(i, f"{unit} {period}") for i, unit, period in rows]


def dispute_of(session, case: Case) -> Dispute:
    return session.scalar(select(Dispute).where(Dispute.case_id == case.id))


def on_register(session, case: Case, details: dict) -> None:
    settings = module_settings(session, "mediation")
    if details["dispute_type"] not in {t["key"] for t in settings.get("dispute_types") or []}:
        raise Invalid("details.dispute_type", "unknown_dispute_type", "请从列表中选择纠纷类型")
    now = case.created_at or utcnow()
    occurred = details.get("occurred_at")
    if occurred is not None and occurred > now + dt.timedelta(minutes=1):
        raise Invalid("details.occurred_at", "in_future", "事发时间不能晚于登记时间")
    unit = session.scalar(select(OrgUnit).where(OrgUnit.id == case.org_unit_id))
    first = tiers.first_tier(session, settings, unit)
    row = Dispute(case_id=case.id, dispute_type=details["dispute_type"], people_involved=details["people_involved"],
                  risk_grade=details["risk_grade"], may_turn_criminal=details["may_turn_criminal"],
                  may_become_mass=details["may_become_mass"], emergency=details["emergency"], occurred_at=occurred,
                  kind=details["kind"], tier=first.key, outcome_note="", screening_id=details.get("screening_id"))
    session.add(row)
    session.flush()
    if row.screening_id is not None:
        from .screening import link_dispute
        link_dispute(session, row, case)
    organisations, seen = set(details["organisations"]), set()
    for cp in session.scalars(select(CasePerson).where(CasePerson.case_id == case.id).order_by(CasePerson.id)):
        if cp.person_id in seen or cp.role in NOT_PARTIES:  # one party per person (the first role given)
            continue
        seen.add(cp.person_id)
        session.add(Party(case_id=case.id, person_id=cp.person_id, organisation=cp.person_id in organisations,
                          side=cp.role if cp.role in PARTY_SIDES else "party"))
    held = tiers.holder(session, first, unit)
    tiers.enter(session, case, first, held[0] if held else unit, at=now, people=held[1] if held else None)
    ref = details.get("referred_from")
    if ref:
        session.add(Referral(case_id=case.id, direction="in", from_kind=ref["kind"], to_kind=row.kind,
                             from_body=ref["body"], to_body="", document=ref["document"], referred_at=now))
    if row.may_turn_criminal:
        add_case_flag(session, case, "may_turn_criminal")
    if row.may_become_mass or row.people_involved >= int(settings.get("mass_threshold", 5)):
        row.may_become_mass = True
        add_case_flag(session, case, "may_become_mass")
    if row.emergency:
        limit = int(settings.get("emergency_minutes", 20))
        if now - occurred > dt.timedelta(minutes=limit):  # MED-2: reported later than the county's limit
            row.reported_late = True
            add_case_flag(session, case, "emergency_late")
            from .screening import users_above
            minutes = int((now - occurred).total_seconds() // 60)
            notify(session, users_above(session, unit), f"mediation.emergency_late:{case.id}",
                   f"突发事件迟报：{case.number}",
                   f"{unit.name}于事发 {minutes} 分钟后报告，超过本县 {limit} 分钟时限", kind="todo",
                   case_id=case.id)


# --- acts ------------------------------------------------------------------------------------

class AcceptInput(Schema):
    consent = fields.Boolean(required=True, validate=validate.Equal(True, error="须经双方当事人同意方可调解"),
                             metadata={"title": "当事人均同意调解（人民调解法第十七条）"})
    method = _choice(METHODS, "调处方式", load_default="graded")
    kind = _choice(KINDS, "调解类型")
    accepted_on = fields.Date(metadata={"title": "受理日期（不填为今天；调解期限自该日起算）"})
    backdate_reason = fields.String(validate=validate.Length(min=1, max=500),
                                    metadata={"title": "补录理由（受理日期早于今天时必填）"})
    note = fields.String(validate=validate.Length(max=1000), metadata={"title": "说明"})


def party_choices(work, case: Case) -> list[tuple]:
    """The dispute's parties by name and side, for the refusal's picker: who refused is chosen,
    never typed as a number (issue 15, item 1)."""
    rows = work.session.execute(
        select(Party.person_id, Person.name, Party.side)
        .join(Person, (Person.id == Party.person_id) & (Person.tenant_id == Party.tenant_id))
        .where(Party.case_id == case.id).order_by(Party.id)).all()
    return [("", "（不指明）")] + [(pid, f"{name}（{PARTY_SIDES.get(side, side)}）") for pid, name, side in rows]


class RefuseInput(Schema):
    party_id = fields.Integer(metadata={"title": "拒绝调解的当事人", "case_choices": party_choices})
    note = fields.String(required=True, validate=validate.Length(min=1, max=1000), metadata={"title": "拒绝的情况"})


class EndInput(Schema):
    outcome = fields.String(required=True, validate=validate.OneOf(
        ["no_agreement", "litigation", "withdrawn"], labels=["调解不成", "引导诉讼", "当事人撤回"]),
        metadata={"title": "终止原因"})
    note = fields.String(required=True, validate=validate.Length(min=1, max=1000), metadata={"title": "说明"})


class AgreementInput(Schema):
    form = fields.String(required=True, validate=validate.OneOf(["written", "oral"], labels=["书面协议", "口头协议"]),
                         metadata={"title": "协议形式（人民调解法第二十八条）"})
    facts = fields.String(required=True, validate=validate.Length(min=1, max=5000), metadata={"title": "纠纷的主要事实"})
    issues = fields.String(required=True, validate=validate.Length(min=1, max=5000), metadata={"title": "争议事项"})
    responsibility = fields.String(required=True, validate=validate.Length(min=1, max=5000),
                                   metadata={"title": "各方当事人的责任"})
    terms = fields.String(required=True, validate=validate.Length(min=1, max=5000), metadata={"title": "协议内容"})
    performance = fields.String(required=True, validate=validate.Length(min=1, max=1000),
                                metadata={"title": "履行方式"})
    performance_due = fields.Date(metadata={"title": "履行期限"})
    mediator = fields.String(required=True, validate=validate.Length(min=1, max=50), metadata={"title": "人民调解员"})
    committee = fields.String(required=True, validate=validate.Length(min=1, max=100),
                              metadata={"title": "人民调解委员会"})
    effective_on = fields.Date(metadata={"title": "生效日期（签名盖章之日，口头协议为达成之日）"})
    parties_signed = fields.Boolean(load_default=False, metadata={"title": "各方当事人已签名、盖章或按指印"})
    mediator_signed = fields.Boolean(load_default=False, metadata={"title": "人民调解员已签名"})
    committee_stamped = fields.Boolean(load_default=False, metadata={"title": "已加盖人民调解委员会印章"})
    note = fields.String(validate=validate.Length(max=1000), metadata={"title": "说明"})

    @validates_schema
    def _effective(self, data, **kw):
        if data.get("form") == "written":
            missing = [t for k, t in (("parties_signed", "当事人签名"), ("mediator_signed", "调解员签名"),
                                      ("committee_stamped", "调解委员会盖章")) if not data.get(k)]
            if missing:
                raise ValidationError(f"书面调解协议须经{'、'.join(missing)}后生效（人民调解法第二十九条）",
                                      "parties_signed")
        due, on = data.get("performance_due"), data.get("effective_on")
        if due and on and due < on:
            raise ValidationError("履行期限不能早于协议生效日期", "performance_due")


class ConfirmationInput(Schema):
    court = fields.String(required=True, validate=validate.Length(min=1, max=100), metadata={"title": "申请确认的人民法院"})
    applied_on = fields.Date(metadata={"title": "申请日期"})
    note = fields.String(validate=validate.Length(max=1000), metadata={"title": "说明"})


class ConcludeInput(Schema):
    performed = fields.String(required=True, validate=validate.OneOf(
        ["performed", "partly", "refused"], labels=["履行完毕", "部分履行", "拒不履行"]), metadata={"title": "履行情况"})
    note = fields.String(validate=validate.Length(max=1000), metadata={"title": "说明"})


class ReferInput(Schema):
    to_kind = _choice(KINDS, "移送至", required=True)
    to_body = fields.String(required=True, validate=validate.Length(min=1, max=100), metadata={"title": "接收单位"})
    document = _choice(DOCUMENTS, "移送文书", required=True)
    note = fields.String(required=True, validate=validate.Length(min=1, max=1000), metadata={"title": "移送理由"})


class OutcomeInput(Schema):
    outcome = _choice(REFERRAL_OUTCOMES, "移送结果", required=True)
    note = fields.String(validate=validate.Length(max=1000), metadata={"title": "说明"})


def _today() -> dt.date:
    return utcnow().astimezone(SHANGHAI).date()


def after_accept(session, case: Case, data: dict) -> None:
    tiers.take_over(session, case, module_settings(session, "mediation"), "accept")  # MED-3: who took it up
    row = dispute_of(session, case)
    row.method = data["method"]
    if data.get("kind"):
        row.kind = data["kind"]
    now = utcnow()
    for party in session.scalars(select(Party).where(Party.case_id == case.id)):
        party.consent, party.consent_at = "agreed", now


def before_refuse(session, case: Case, data: dict) -> None:
    pid = data.get("party_id")
    if pid is not None and session.scalar(select(Party.id).where(Party.case_id == case.id,
                                                                Party.person_id == pid)) is None:
        raise Invalid("party_id", "unknown_party", "该人员不是本纠纷的当事人")


def after_refuse(session, case: Case, data: dict) -> None:
    pid = data.get("party_id")
    if pid is not None:
        party = session.scalar(select(Party).where(Party.case_id == case.id, Party.person_id == pid))
        party.consent, party.consent_at = "refused", utcnow()
    _finish(session, case, "refused", "ended", "refuse")


def after_end(session, case: Case, data: dict) -> None:
    _finish(session, case, data["outcome"], "ended", "end")


def before_agree(session, case: Case, data: dict) -> None:
    on = data.get("effective_on") or _today()
    created = case.created_at.astimezone(SHANGHAI).date()
    if on > _today() or on < created:
        raise Invalid("effective_on", "invalid_date", "生效日期须在登记之日和今天之间")
    data["effective_on"] = on


def copies_of(session, case: Case) -> tuple[int, int]:
    """The copies of the written agreement and how many of them the committee keeps: one per
    party (every party, at least two: a dispute has two sides even when one is not on record)
    plus the county's ``agreement_file_copies`` (default one)."""
    n_parties = len(session.scalars(select(Party.id).where(Party.case_id == case.id)).all())
    kept = int(module_settings(session, "mediation").get("agreement_file_copies", 1))
    return max(n_parties, 2) + kept, kept


def after_agree(session, case: Case, data: dict) -> None:
    copies, _ = copies_of(session, case)
    session.add(Agreement(case_id=case.id, form=data["form"], facts=data["facts"], issues=data["issues"],
                          responsibility=data["responsibility"], terms=data["terms"], performance=data["performance"],
                          performance_due=data.get("performance_due"), mediator=data["mediator"],
                          committee=data["committee"], effective_on=data["effective_on"],
                          copies=copies, performed="pending", confirmation="none",
                          confirmation_court=""))
    _finish(session, case, "agreed", "resolved", "agree")
    for ref in session.scalars(select(Referral).where(Referral.case_id == case.id, Referral.direction == "in",
                                                      Referral.outcome == "pending")):
        ref.outcome, ref.outcome_at = "mediated", utcnow()
    _start_confirmation_window(session, case, data["effective_on"])


def _start_confirmation_window(session, case: Case, effective_on: dt.date) -> None:
    """Art. 33 counts from the day the agreement took effect, which may be before the day it
    is entered: the limit the core started at ``agree`` is moved back to that day."""
    d = session.scalar(select(CaseDeadline).where(CaseDeadline.case_id == case.id,
                                                  CaseDeadline.rule == "confirmation",
                                                  CaseDeadline.state == "running"))
    if d is None:
        return
    start = dt.datetime.combine(effective_on, dt.time(12), tzinfo=SHANGHAI)
    due = deadline(start, d.amount, d.unit, county_calendar(session))
    d.started_at, d.due_at = start, due.due_at.astimezone(dt.timezone.utc)
    d.basis = f"自协议生效之日 {effective_on:%Y-%m-%d} 起，{due.rule}"[:300]
    running = session.scalars(select(CaseDeadline.due_at).where(CaseDeadline.case_id == case.id,
                                                                CaseDeadline.state == "running")).all()
    case.due_at = min(running) if running else None


def before_apply_confirmation(session, case: Case, data: dict) -> None:
    agreement = session.scalar(select(Agreement).where(Agreement.case_id == case.id))
    on = data.get("applied_on") or _today()
    if on > _today() or on < agreement.effective_on:
        raise Invalid("applied_on", "invalid_date", "申请日期须在协议生效之日和今天之间")
    # the law's 30 days bound the request, whatever reminder limit the county set
    start = dt.datetime.combine(agreement.effective_on, dt.time(12), tzinfo=SHANGHAI)
    due = deadline(start, CONFIRMATION_DAYS, "calendar_days", county_calendar(session)).due_at
    if dt.datetime.combine(on, dt.time(12), tzinfo=SHANGHAI) > due:
        raise Conflict("confirmation_too_late",
                       f"司法确认须自调解协议生效之日起{CONFIRMATION_DAYS}日内申请（{LAW}第三十三条），"
                       f"期限已于 {limit_end(due)} 届满")
    agreement.confirmation, agreement.confirmation_court = "applied", data["court"]
    agreement.confirmation_applied_on = on


def after_conclude(session, case: Case, data: dict) -> None:
    agreement = session.scalar(select(Agreement).where(Agreement.case_id == case.id))
    if agreement is not None:
        agreement.performed = data["performed"]


def after_refer(session, case: Case, data: dict) -> None:
    row = dispute_of(session, case)
    session.add(Referral(case_id=case.id, direction="out", from_kind=row.kind, to_kind=data["to_kind"],
                         from_body=session.scalar(select(OrgUnit.name).where(
                             OrgUnit.id == (case.handling_unit_id or case.org_unit_id))) or "",
                         to_body=data["to_body"], document=data["document"], reason=data.get("note") or "",
                         referred_at=utcnow()))
    _finish(session, case, "referred", "referred", "refer")
    add_case_flag(session, case, "referred")


def after_record_outcome(session, case: Case, data: dict) -> None:
    ref = session.scalar(select(Referral).where(Referral.case_id == case.id, Referral.direction == "out",
                                                Referral.outcome == "pending")
                         .order_by(Referral.referred_at.desc(), Referral.id.desc()).limit(1))
    if ref is not None:
        ref.outcome, ref.outcome_at, ref.outcome_note = data["outcome"], utcnow(), data.get("note") or ""


def _finish(session, case: Case, outcome: str, step_result: str, act: str) -> None:
    """The mediation's result, credited to the tier of the unit that recorded it (MED-3: the
    unit on the act, which may be above the one holding the dispute)."""
    tiers.take_over(session, case, module_settings(session, "mediation"), act)
    row = dispute_of(session, case)
    row.outcome = outcome
    tiers.leave(session, case, step_result)


# --- timeline: the same-day rule of "四不" (MED-5) -------------------------------------------

def on_case_event(session, case: Case, event) -> None:
    """A dispute whose same-day limit ran out is flagged ``overnight`` (“不过夜”, MED-5); a person
    added to or removed from a dispute becomes or stops being a party (the core's case page)."""
    if case.case_type != KEY:
        return
    if event.kind in ("person_added", "person_removed"):
        _parties_follow(session, case, event)
        return
    if event.kind != "overdue":
        return
    rule = session.scalar(select(CaseDeadline.rule).where(CaseDeadline.id == (event.data or {}).get("deadline_id")))
    if rule == "same_day":
        add_case_flag(session, case, "overnight")


def _parties_follow(session, case: Case, event) -> None:
    """Keep ``mediation_party`` in step with the case's people: a person added in a side (or as
    当事人) becomes a party; a party removed goes — unless they have already consented, refused
    or an agreement was made (Art. 17, 28: what they said stays on record): 409."""
    data = event.data or {}
    pid = data.get("person_id")
    party = session.scalar(select(Party).where(Party.case_id == case.id, Party.person_id == pid))
    if event.kind == "person_added":
        if party is None and data.get("role") not in NOT_PARTIES:
            role = data.get("role")
            session.add(Party(case_id=case.id, person_id=pid, side=role if role in PARTY_SIDES else "party"))
        return
    if party is None:
        return
    if party.consent != "pending" or session.scalar(select(Agreement.id).where(Agreement.case_id == case.id)):
        raise Conflict("party_on_record", "该当事人已表态或已达成调解协议，不能移除")
    session.delete(party)


# --- display and ledger -------------------------------------------------------------------------

def details(session, case: Case) -> dict:
    row = dispute_of(session, case)
    if row is None:
        return {}
    settings = module_settings(session, "mediation")
    types = {t["key"]: t["title"] for t in settings.get("dispute_types") or []}
    tier_titles = {t["key"]: t["title"] for t in settings.get("tiers") or []}
    return {"dispute_type": row.dispute_type, "dispute_type_title": types.get(row.dispute_type, row.dispute_type),
            "people_involved": row.people_involved, "risk_grade": row.risk_grade,
            "risk_grade_title": RISK_GRADES.get(row.risk_grade, row.risk_grade),
            "may_turn_criminal": row.may_turn_criminal, "may_become_mass": row.may_become_mass,
            "emergency": row.emergency, "occurred_at": row.occurred_at, "reported_late": row.reported_late,
            "kind": row.kind, "kind_title": KINDS.get(row.kind, row.kind), "method": row.method,
            "method_title": METHODS.get(row.method or "", ""), "tier": row.tier,
            "tier_title": tier_titles.get(row.tier, row.tier), "outcome": row.outcome,
            "outcome_title": OUTCOMES.get(row.outcome or "", ""), "screening_id": row.screening_id,
            "parties": parties_of(session, case), "agreement": _agreement(session, case),
            "referral": _referral(session, case)}


def _cn_day(day: dt.date | None) -> str:
    return f"{day.year}年{day.month}月{day.day}日" if day else ""


CN_NUMBERS = "零一二三四五六七八九十"


def cn_count(n: int) -> str:
    """A small count as written in a document: 三, 十一, 二十 (digits from 100 on)."""
    if 0 <= n <= 10:
        return CN_NUMBERS[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return f"{CN_NUMBERS[tens] if tens > 1 else ''}十{CN_NUMBERS[ones] if ones else ''}"
    return str(n)


def parties_of(session, case: Case) -> list[dict]:
    """The parties with side and consent — names only (ID numbers and phones stay behind the
    core's masked ``/api/cases/<id>/persons``)."""
    rows = session.execute(select(Party, Person.name).join(Person, Person.id == Party.person_id)
                           .where(Party.case_id == case.id).order_by(Party.id))
    return [{"person_id": p.person_id, "name": name, "side": p.side, "side_title": PARTY_SIDES.get(p.side, p.side),
             "organisation": p.organisation, "consent": p.consent, "consent_at": p.consent_at} for p, name in rows]


def _agreement(session, case: Case) -> dict | None:
    a = session.scalar(select(Agreement).where(Agreement.case_id == case.id))
    if a is None:
        return None
    return {"form": a.form, "facts": a.facts, "issues": a.issues, "responsibility": a.responsibility,
            "terms": a.terms, "performance": a.performance, "performance_due_cn": _cn_day(a.performance_due),
            "mediator": a.mediator, "committee": a.committee, "effective_cn": _cn_day(a.effective_on),
            "copies": a.copies, "copies_cn": cn_count(a.copies),
            "kept_cn": cn_count(max(a.copies - max(len(parties_of(session, case)), 2), 1))}


def _referral(session, case: Case) -> dict | None:
    r = session.scalar(select(Referral).where(Referral.case_id == case.id, Referral.direction == "out")
                       .order_by(Referral.referred_at.desc(), Referral.id.desc()).limit(1))
    if r is None:
        return None
    return {"to_body": r.to_body, "from_body": r.from_body, "to_kind_title": KINDS.get(r.to_kind, ""),
            "document": r.document, "reason": r.reason}


def _column(value_of):
    def value(session, cases) -> dict:
        rows = session.scalars(select(Dispute).where(Dispute.case_id.in_([c.id for c in cases])))
        return {r.case_id: value_of(r) for r in rows}
    return value


def _panel(w, case, errors, values):
    from .web import panel  # the web layer imports this module: import it when the page is drawn
    return panel(w, case, errors, values)


ENDS = ("agree", "refuse", "end", "refer")

DISPUTE = CaseType(
    key=KEY, title="矛盾纠纷", title_en="Dispute",
    number_format="调〔{year}〕{seq:05d}",
    states=(State("registered", "已登记", "Registered"),
            State("mediating", "调解中", "Being mediated"),
            State("agreed", "已达成协议（履行中）", "Agreement reached (being performed)"),
            State("referred", "已移送", "Referred"),
            State("ended", "调解终止", "Mediation ended", closed=True),
            State("concluded", "已结案", "Concluded", closed=True)),
    initial="registered",
    transitions=(
        Transition("accept", "受理调解", ("registered",), "mediating", MEDIATE, "Start mediation",
                   input=AcceptInput, after=after_accept, lead_only=True, dated="accepted_on"),
        Transition("refuse", "当事人拒绝调解", ("registered", "mediating"), "ended", MEDIATE, "A party refuses",
                   input=RefuseInput, before=before_refuse, after=after_refuse, lead_only=True),
        Transition("end", "终止调解", ("mediating",), "ended", MEDIATE, "End mediation", input=EndInput,
                   after=after_end, lead_only=True),
        Transition("agree", "达成调解协议", ("mediating",), "agreed", MEDIATE, "Agreement reached",
                   input=AgreementInput, before=before_agree, after=after_agree, lead_only=True),
        Transition("apply_confirmation", "申请司法确认", ("agreed",), "agreed", MEDIATE,
                   "Judicial confirmation applied for", input=ConfirmationInput, before=before_apply_confirmation,
                   lead_only=True),
        Transition("conclude", "结案", ("agreed",), "concluded", MEDIATE, "Conclude", input=ConcludeInput,
                   after=after_conclude, lead_only=True),
        Transition("refer", "移送", ("registered", "mediating"), "referred", REFER, "Refer", input=ReferInput,
                   after=after_refer, lead_only=True),
        Transition("record_outcome", "登记移送结果", ("referred",), "concluded", REFER, "Referral outcome",
                   input=OutcomeInput, after=after_record_outcome, lead_only=True),
    ),
    deadlines=(
        DeadlineRule("handle", "调解期限", 1, "months", start="accept", stop=ENDS,
                     source=f"{LOCAL}（默认一个月，本县可调整）", max_extensions=1, max_extension=1),
        DeadlineRule("same_day", "当日受理（不过夜）", 0, "calendar_days", start="registered",
                     stop=("accept", "refuse", "refer"), source=LOCAL, enabled=False),
        DeadlineRule("confirmation", "当事人申请司法确认", CONFIRMATION_DAYS, "calendar_days", start="agree",
                     stop=("apply_confirmation", "conclude"), source=f"{LAW}第三十三条", statutory=True),
    ),
    read_permission=READ, create_permission=REGISTER, pii_permission=PII,
    details_schema=Details, on_register=on_register, details=details,
    web_panel=lambda w, case, errors, values: _panel(w, case, errors, values),
    person_roles=SIDES,
    event_titles={"mediation.escalated": ("逐级上报", "Passed up a tier"), "mediation.session": ("调解", "Session"),
                  "mediation.draft": ("草拟调解协议", "Agreement drafted"),
                  "mediation.confirmation": ("司法确认结果", "Court confirmation"),
                  "mediation.return_visit": ("回访", "Return visit"),
                  "mediation.performance": ("履行督促", "Performance check")},
    flag_titles={"emergency_late": ("突发事件迟报", "Emergency reported late"),
                 "may_turn_criminal": ("可能转化为刑事案件", "May turn criminal"),
                 "may_become_mass": ("可能引发群体性事件", "May become a mass incident"),
                 "referred": ("已移送", "Referred"), "overnight": ("当日未处置（过夜）", "Not taken up the same day")},
    ledger_columns=(LedgerColumn("dispute_type", "纠纷类型", _column(lambda r: r.dispute_type), "Type"),
                    LedgerColumn("people_involved", "涉及人数", _column(lambda r: r.people_involved), "People"),
                    LedgerColumn("risk_grade", "风险等级", _column(lambda r: RISK_GRADES.get(r.risk_grade)), "Risk"),
                    LedgerColumn("outcome", "结果", _column(lambda r: OUTCOMES.get(r.outcome or "", "")), "Outcome")),
)
