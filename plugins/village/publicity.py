"""Open handling (公开办事, VIL-4): a project's decision, progress and completion are published
as they happen; each publication keeps the text shown and its date (on time or not, when the
county sets a time limit). The public page of a village shows published projects only, and
only what was published: no names, no minutes, nothing of a person.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from core.sdk import Conflict, Invalid, OrgUnit, module_settings

from .models import Project, Publication
from .projects import approval_of, today
from .settings import BODIES

STAGES = {"decision": "表决结果", "progress": "实施进度", "completion": "完工情况"}


def _cn(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def content(p: Project, stage: str) -> tuple[str, dt.date]:
    """The text a stage publishes and the date of the act it reports; refused if not yet there."""
    if stage == "decision":
        if p.voted_on is None:
            raise Conflict("not_voted", "项目尚未表决，没有可公开的表决结果")
        verdict = "通过" if p.state != "failed" else "未通过，不予实施"
        return (f"{_cn(p.voted_on)}经{BODIES[p.body][0]}表决：应到 {p.members} 人，实到 {p.present} 人；"
                f"赞成 {p.votes_for} 票，反对 {p.votes_against} 票，弃权 {p.votes_abstain} 票，"
                f"赞成率 {approval_of(p)}%（须达到 {p.approval_pct}%），{verdict}。"
                f"预算 {p.budget} 元。{p.summary}".strip(), p.voted_on)
    if stage == "progress":
        if p.progress_on is None:
            raise Conflict("no_progress", "项目尚无实施进度可公开")
        return f"截至{_cn(p.progress_on)}，完成 {p.progress_pct}%。{p.progress_note}".strip(), p.progress_on
    if p.completed_on is None:
        raise Conflict("not_completed", "项目尚未完工")
    return f"{_cn(p.completed_on)}完工。{p.completion_note}".strip(), p.completed_on


def publish(w, p: Project, stage: str) -> Publication:
    if stage not in STAGES:
        raise Invalid("stage", "unknown_stage", "请选择公开的内容")
    text, act_on = content(p, stage)
    seen = w.session.scalars(select(Publication.content).where(Publication.project_id == p.id,
                                                               Publication.stage == stage)).all()
    if text in seen:
        raise Conflict("already_published", f"该项目的{STAGES[stage]}已经公开")
    days = module_settings(w.session, "village").get("publish_within_days")
    on = today()
    row = Publication(project_id=p.id, org_unit_id=p.org_unit_id, stage=stage, content=text, act_on=act_on,
                      published_on=on, published_by=w.user_id,
                      on_time=None if days is None else on <= act_on + dt.timedelta(days=int(days)))
    w.session.add(row)
    w.session.flush()
    return row


def public_view(session, unit: OrgUnit) -> list[dict]:
    """The village's published projects, newest first, each with the latest publication of
    each stage — what the public page and its API show."""
    rows = session.execute(select(Publication, Project.title).join(
        Project, (Project.id == Publication.project_id) & (Project.tenant_id == Publication.tenant_id))
        .where(Publication.org_unit_id == unit.id).order_by(Publication.published_at, Publication.id)).all()
    projects: dict[int, dict] = {}
    for pub, title in rows:
        entry = projects.setdefault(pub.project_id, {"id": pub.project_id, "title": title, "stages": {}})
        entry["stages"][pub.stage] = {"stage": pub.stage, "stage_title": STAGES[pub.stage], "content": pub.content,
                                      "published_on": pub.published_on}
    out = []
    for entry in sorted(projects.values(), key=lambda e: -e["id"]):
        entry["stages"] = [entry["stages"][s] for s in STAGES if s in entry["stages"]]
        out.append(entry)
    return out
