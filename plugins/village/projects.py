"""Collective deliberation (集中议事, VIL-3): a village project is proposed, discussed by the
council (村两委), put to the villagers' meeting or the representatives' meeting, and carried
out only if it passed.

The vote: the meeting is valid only with its quorum (the law's, or the county's stricter one:
settings.py), every figure reconciles (votes cast ≤ present ≤ members), and the project passes
only when the votes for reach the county's share of those present (80 % in seed 001) and more
than half of them (the law's majority). A project that failed is never carried out: a new
proposal starts again (seed 001: "必须重新调研、论证、沟通").
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select

from core.sdk import (SCAN_KINDS, Conflict, Invalid, NotFound, OrgUnit, keep_file, may, module_settings, record,
                      utcnow)

from .models import Project
from .settings import BODIES, quorum

SHANGHAI = ZoneInfo("Asia/Shanghai")
VILLAGE_LEVELS = ("village", "community")
STATES = {"proposed": "已提议", "discussed": "两委已讨论，待表决", "withdrawn": "两委未同意提交",
          "passed": "表决通过", "failed": "表决未通过（不得实施）", "in_progress": "实施中", "completed": "已完工"}
VOTED = ("passed", "failed", "in_progress", "completed")


def today() -> dt.date:
    return dt.datetime.now(SHANGHAI).date()


def village(w, unit_id: int | None, perm: str, field: str = "org_unit_id") -> OrgUnit:
    """An active village (or community) in the user's ``perm`` scope, else 404 at the field."""
    unit = w.session.scalar(select(OrgUnit).where(OrgUnit.id == (unit_id or 0), OrgUnit.status == "active"))
    if unit is None or not may(w.session, w.grants, perm, unit.id):
        raise NotFound("unit_not_found", "单位不存在或不在您的管辖范围内",
                       errors={"json": {field: ["单位不存在或不在您的管辖范围内"]}})
    if unit.level not in VILLAGE_LEVELS:
        raise Invalid(field, "not_a_village", "请选择一个村（社区）")
    return unit


def not_future(field: str, day: dt.date) -> None:
    if day > today():
        raise Invalid(field, "future_date", "日期不能晚于今天")


def propose(w, unit: OrgUnit, data: dict) -> Project:
    not_future("proposed_on", data["proposed_on"])
    p = Project(org_unit_id=unit.id, title=data["title"], summary=data.get("summary") or "",
                budget=Decimal(data["budget"]), proposed_on=data["proposed_on"], created_by=w.user_id)
    w.session.add(p)
    w.session.flush()
    return p


def discuss(w, p: Project, data: dict) -> Project:
    """The council's discussion: put to the vote, or not (the project then ends here)."""
    if p.state != "proposed":
        raise Conflict("already_discussed", "该项目已经两委讨论")
    not_future("discussed_on", data["discussed_on"])
    if data["discussed_on"] < p.proposed_on:
        raise Invalid("discussed_on", "before_proposal", "讨论日期不能早于提议日期")
    p.discussed_on, p.council_opinion = data["discussed_on"], data["opinion"]
    p.state = "discussed" if data["submit"] else "withdrawn"
    return p


def vote(w, p: Project, data: dict) -> Project:
    """Record the meeting's vote; refused (nothing saved) when the figures do not reconcile or
    the meeting lacked its quorum."""
    if p.state in VOTED:
        raise Conflict("already_voted", "该项目已经表决；未通过的项目须重新提议")
    if p.state != "discussed":
        raise Conflict("not_discussed", "项目须先经村两委讨论同意提交表决")
    settings = module_settings(w.session, "village")
    members, present = data["members"], data["present"]
    cast = data["votes_for"] + data["votes_against"] + data["votes_abstain"]
    not_future("voted_on", data["voted_on"])
    if data["voted_on"] < p.discussed_on:
        raise Invalid("voted_on", "before_discussion", "表决日期不能早于两委讨论日期")
    if present > members:
        raise Invalid("present", "present_exceeds_members", f"到会人数（{present}）不能多于应到人数（{members}）")
    if cast > present:
        raise Invalid("votes_for", "votes_exceed_present",
                      f"赞成、反对、弃权合计 {cast} 票，多于到会人数（{present}）")
    rule = quorum(settings, data["body"])
    title, _, _, source = BODIES[data["body"]]
    if not rule.met(present, members):
        raise Invalid("present", "below_quorum",
                      f"到会 {present} 人，不足{title}法定人数：应有{rule.title}（{members} 人中至少 {rule.needed(members)} 人）"
                      f"到会，会议无效（{source}）")
    pct = int(settings["approval_pct"])
    passed = data["votes_for"] * 100 >= pct * present and data["votes_for"] * 2 > present
    p.body, p.voted_on, p.members, p.present = data["body"], data["voted_on"], members, present
    p.votes_for, p.votes_against, p.votes_abstain = data["votes_for"], data["votes_against"], data["votes_abstain"]
    p.quorum_rule, p.approval_pct, p.minutes = settings.get(f"{data['body']}_quorum"), pct, data.get("minutes") or ""
    p.state = "passed" if passed else "failed"
    record(w.session, "village.project_voted", "village_project", p.id,
           {"body": p.body, "members": members, "present": present, "for": p.votes_for, "against": p.votes_against,
            "abstain": p.votes_abstain, "approval_pct": pct, "passed": passed})
    return p


def approval_of(p: Project) -> Decimal | None:
    """The share of those present who voted for, in per cent (one decimal)."""
    if not p.present:
        return None
    return (Decimal(p.votes_for * 100) / p.present).quantize(Decimal("0.1"))


def _carried_out(p: Project) -> None:
    if p.state == "failed":
        raise Conflict("project_failed", "该项目表决未通过，不得实施")
    if p.state not in ("passed", "in_progress"):
        raise Conflict("not_passed", "项目须经表决通过后方可实施")


def progress(w, p: Project, data: dict) -> Project:
    _carried_out(p)
    not_future("progress_on", data["progress_on"])
    if data["progress_on"] < p.voted_on:
        raise Invalid("progress_on", "before_vote", "进度日期不能早于表决日期")
    p.progress_pct, p.progress_note, p.progress_on = data["progress_pct"], data["note"], data["progress_on"]
    p.state = "in_progress"
    return p


def complete(w, p: Project, data: dict) -> Project:
    _carried_out(p)
    not_future("completed_on", data["completed_on"])
    if data["completed_on"] < p.voted_on:
        raise Invalid("completed_on", "before_vote", "完工日期不能早于表决日期")
    p.completed_on, p.completion_note, p.progress_pct, p.state = data["completed_on"], data["note"], 100, "completed"
    return p


def attach_minutes_photo(w, p: Project, upload) -> Project:
    """The photo (or scan) of the minutes as signed at the meeting (VIL-3), after the vote; a new
    one replaces the old (deleted once this commits). Kept with the project, never published."""
    if p.voted_on is None:
        raise Conflict("not_voted", "项目尚未表决，表决后再上传签字的表决记录")
    stored = keep_file(w.session, p, "minutes_photo", upload, SCAN_KINDS,
                       "签字的表决记录只能是照片（JPEG/PNG/GIF/WebP）或 PDF，按文件内容判断")
    p.minutes_photo_at, p.minutes_photo_by = utcnow(), w.user_id
    record(w.session, "village.minutes_photo", "village_project", p.id, {"filename": stored.filename})
    return p


def project_out(p: Project, unit_name: str = "") -> dict:
    return {"id": p.id, "org_unit_id": p.org_unit_id, "org_unit_name": unit_name, "title": p.title,
            "summary": p.summary, "budget": str(p.budget), "state": p.state, "state_title": STATES[p.state],
            "proposed_on": p.proposed_on, "discussed_on": p.discussed_on, "council_opinion": p.council_opinion,
            "body": p.body, "body_title": BODIES[p.body][0] if p.body else None, "voted_on": p.voted_on,
            "members": p.members, "present": p.present, "votes_for": p.votes_for, "votes_against": p.votes_against,
            "votes_abstain": p.votes_abstain, "approval": str(approval_of(p)) if p.present else None,
            "approval_pct": p.approval_pct, "minutes": p.minutes, "progress_pct": p.progress_pct,
            "progress_note": p.progress_note, "progress_on": p.progress_on, "completed_on": p.completed_on,
            "completion_note": p.completion_note, "has_minutes_photo": p.minutes_photo_key is not None,
            "minutes_photo_filename": p.minutes_photo_filename, "minutes_photo_at": p.minutes_photo_at}
