"""Oversight of difficult petitions: leader ownership (PET-3), the three-level risk assessment
and the watch list with its stability-control follow-ups (PET-5), joint-meeting decisions on
repeated multi-unit petitions (PET-6, 一事一议、一人一策).

Every act here is audited and, where it concerns a case, put on the case's timeline.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from core.sdk import Conflict, Forbidden, Invalid, NotFound, Person, add_case_event, may, notify, record, utcnow

from .models import FollowUp, LeaderOwnership, PetitionCase, RiskAssessment, WatchEntry
from .permissions import HANDLE, REVIEW, RISK_CHIEF

GRADES = {"low": "低风险", "medium": "中风险", "high": "高风险"}
# The three levels in order, each with the permission it needs on the case's unit (PET-5).
LEVELS = {"handler": ("经办人评估", HANDLE), "head": ("部门负责人审核", REVIEW), "chief": ("主要负责人审定", RISK_CHIEF)}


# --- PET-3: one problem, one leader, one team ------------------------------------------------

def current_leader(session, case_id: int) -> LeaderOwnership | None:
    return session.scalar(select(LeaderOwnership).where(LeaderOwnership.case_id == case_id,
                                                        LeaderOwnership.dissolved_at.is_(None)))


def assign_leader(w, case, data: dict) -> LeaderOwnership:
    """Put the case under a leader and a team (replacing the previous ones, which is recorded)."""
    s = w.session
    if case.closed_at is not None:
        raise Conflict("case_closed", "事项已办结，无需包案")
    old = current_leader(s, case.id)
    now = utcnow()
    if old is not None:
        old.dissolved_at = now
    row = LeaderOwnership(case_id=case.id, leader_name=data["leader_name"], leader_post=data["leader_post"],
                          team=data["team"],
                          investigate=data["investigate"], handle=data["handle"], stabilise=data["stabilise"],
                          assigned_by=w.user_id, assigned_at=now)
    s.add(row)
    s.flush()
    record(s, "petition.leader_assigned", "case", case.id, {"leader": row.leader_name, "replaces": old and old.id})
    add_case_event(w, case, "petition.leader", note=f"领导包案：{row.leader_post}{row.leader_name}",
                   data={"leader_id": row.id, "team": [m["name"] for m in row.team]})
    return row


def dissolve_leader(w, case, reason: str) -> LeaderOwnership:
    """A leader's team stays until the case is closed (不解决不脱钩): 409 while it is open."""
    row = current_leader(w.session, case.id)
    if row is None:
        raise NotFound("no_leader", "该事项没有包案领导")
    if case.closed_at is None:
        raise Conflict("case_open", "问题未解决前包案领导和工作班子不能撤销（一个问题、一名领导、一套班子）")
    row.dissolved_at = utcnow()
    record(w.session, "petition.leader_dissolved", "case", case.id, {"leader_id": row.id, "reason": reason})
    add_case_event(w, case, "petition.leader_end", note=reason, data={"leader_id": row.id})
    return row


# --- PET-2: a petition that cannot be closed in time -------------------------------------------

NOTICE_METHODS = {"written": "书面", "phone": "电话", "in_person": "当面", "sms": "短信"}


def situation_report(w, case, data: dict) -> None:
    """The handling unit's situation report and the notice to the petitioner, both on the timeline."""
    if case.closed_at is not None:
        raise Conflict("case_closed", "事项已办结，无需情况报告")
    add_case_event(w, case, "petition.situation", note=data["report"])
    add_case_event(w, case, "petition.notice",
                   note=f"已{NOTICE_METHODS[data['notice_method']]}告知信访人未能按期办结的情况",
                   data={"method": data["notice_method"], "on": data["noticed_on"].isoformat()})
    record(w.session, "petition.situation_report", "case", case.id, {"method": data["notice_method"]})


# --- PET-5: three-level risk assessment ---------------------------------------------------------

def assess(w, case, level: str, grade: str, opinion: str) -> RiskAssessment:
    """One level of the assessment; each level needs the one before it and its own permission."""
    s = w.session
    title, perm = LEVELS[level]
    if not may(s, w.grants, perm, case.handling_unit_id or case.org_unit_id) and \
            not may(s, w.grants, perm, case.org_unit_id):
        raise Forbidden("forbidden", f"“{title}”需要权限：{perm}")
    done = {r.level for r in s.scalars(select(RiskAssessment).where(RiskAssessment.case_id == case.id))}
    order = list(LEVELS)
    before = order[order.index(level) - 1] if level != "handler" else None
    if before and before not in done:
        raise Conflict("assessment_order", f"请先完成“{LEVELS[before][0]}”")
    row = RiskAssessment(case_id=case.id, level=level, grade=grade, opinion=opinion, assessed_by=w.user_id)
    s.add(row)
    s.flush()
    s.scalar(select(PetitionCase).where(PetitionCase.case_id == case.id)).risk_grade = grade
    record(s, "petition.risk_assessed", "case", case.id, {"level": level, "grade": grade})
    add_case_event(w, case, "petition.risk", note=f"{title}：{GRADES[grade]}。{opinion}",
                   data={"level": level, "grade": grade})
    return row


def joint_decision(w, case, data: dict) -> None:
    """PET-6: the joint meeting's decision on a repeated petition (一事一议、一人一策)."""
    row = w.session.scalar(select(PetitionCase).where(PetitionCase.case_id == case.id))
    if not row.repeat_count:
        raise Conflict("not_repeat", "联席会议“一事一议、一人一策”用于重复信访事项；该事项没有识别为重复信访")
    record(w.session, "petition.joint_decision", "case", case.id, {"met_on": data["met_on"].isoformat()})
    add_case_event(w, case, "petition.joint", note=data["decision"],
                   data={"met_on": data["met_on"].isoformat(), "units": data["units"],
                         "measures": data["measures"]})


def assessments(session, case_id: int) -> list[RiskAssessment]:
    return list(session.scalars(select(RiskAssessment).where(RiskAssessment.case_id == case_id)
                                .order_by(RiskAssessment.assessed_at, RiskAssessment.id)))


# --- PET-5: the watch list and stability-control follow-ups -------------------------------------

def watch(session, user_id: int | None, person: Person, grade: str, signs: str) -> WatchEntry:
    if session.scalar(select(WatchEntry.id).where(WatchEntry.person_id == person.id, WatchEntry.ended_at.is_(None))):
        raise Conflict("already_watched", "该信访人已在重点关注名单中")
    row = WatchEntry(person_id=person.id, org_unit_id=person.org_unit_id, grade=grade, signs=signs, added_by=user_id)
    session.add(row)
    session.flush()
    record(session, "petition.watch_added", "petition_watch", row.id, {"person_id": person.id, "grade": grade})
    return row


def unwatch(session, row: WatchEntry, reason: str) -> WatchEntry:
    if row.ended_at is not None:
        raise Conflict("not_watched", "该信访人已移出重点关注名单")
    row.ended_at, row.end_reason = utcnow(), reason
    record(session, "petition.watch_ended", "petition_watch", row.id, {"reason": reason})
    return row


def add_followup(session, user_id: int | None, row: WatchEntry, task: str, due_on: dt.date,
                 assignee_id: int | None) -> FollowUp:
    if row.ended_at is not None:
        raise Conflict("not_watched", "该信访人已移出重点关注名单")
    item = FollowUp(watch_id=row.id, task=task, due_on=due_on, assignee_id=assignee_id, created_by=user_id)
    session.add(item)
    session.flush()
    record(session, "petition.followup_added", "petition_followup", item.id, {"watch_id": row.id})
    if assignee_id:
        notify(session, [assignee_id], f"petition.followup:{item.id}", f"稳控跟进任务（{due_on:%m月%d日}前）", task,
               kind="todo")
    return item


def finish_followup(session, item: FollowUp, result: str) -> FollowUp:
    if item.done_at is not None:
        raise Conflict("followup_done", "该跟进任务已完成")
    if not result.strip():
        raise Invalid("result", "required", "请填写跟进结果")
    item.done_at, item.result = utcnow(), result
    record(session, "petition.followup_done", "petition_followup", item.id, {})
    return item
