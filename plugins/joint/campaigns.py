"""Hot-spot campaigns (JNT-3, seed 004 §8): targets with their responsible units and deadlines
(handed over through the core's dispatch), added and closed while the campaign runs; a target
past its deadline and not closed is supervised at the listed level (挂牌督办) through the core's
supervision, which the sweep escalates when its reply is late (docs/cases.md)."""
from __future__ import annotations

from sqlalchemy import select

from core.sdk import Case, CaseTask, Conflict, Invalid, NotFound, OrgUnit, add_case_event, get_or_404, may, request_work, \
    supervise_case, task_users

from .handover import hand_over, open_case, today
from .meetings import TASK_STATES, unit_at
from .models import Campaign, CampaignTarget, TargetReport
from .permissions import MANAGE, READ


def create(ctx, data: dict) -> Campaign:
    unit = unit_at(ctx, data["org_unit_id"], MANAGE)
    if data["ends_on"] < data["starts_on"]:
        raise Invalid("ends_on", "ends_before_start", "结束日期不能早于开始日期")
    campaign = Campaign(org_unit_id=unit.id, title=data["title"], focus=data.get("focus") or "",
                        starts_on=data["starts_on"], ends_on=data["ends_on"],
                        created_by_id=ctx.user.id if ctx.user else None)
    ctx.session.add(campaign)
    ctx.session.flush()
    return campaign


def load(ctx, campaign_id: int, perm: str = READ) -> Campaign:
    return get_or_404(ctx.session, ctx.grants, Campaign, campaign_id, perm)


def organiser(ctx, campaign: Campaign) -> OrgUnit:
    return ctx.session.get(OrgUnit, (ctx.tenant.id, campaign.org_unit_id))


def _running(campaign: Campaign) -> None:
    if not campaign.starts_on <= today() <= campaign.ends_on:
        raise Conflict("campaign_not_running", "专项整治不在进行期间，不能增减目标")


def add_target(ctx, campaign: Campaign, data: dict) -> CampaignTarget:
    """Rolling treatment: a target added while the campaign runs, handed to its units."""
    _running(campaign)
    case = open_case(ctx, organiser(ctx, campaign), data["case_id"], "case_id")
    if ctx.session.scalar(select(CampaignTarget.id).where(CampaignTarget.campaign_id == campaign.id,
                                                          CampaignTarget.case_id == case.id)) is not None:
        raise Conflict("already_a_target", "该事项已是本次专项整治的目标")
    text = (data.get("instruction") or "").strip() or f"专项整治：{campaign.title}"
    tasks = hand_over(case, data["lead"], data.get("co") or [], data["deadline"], text, f"列为专项整治目标：{campaign.title}")
    target = CampaignTarget(campaign_id=campaign.id, case_id=case.id, deadline=data["deadline"],
                            lead_task_id=tasks[0].id, added_on=today(), created_by_id=ctx.user.id if ctx.user else None)
    ctx.session.add(target)
    ctx.session.flush()
    return target


def target_of(ctx, campaign: Campaign, target_id: int) -> CampaignTarget:
    from core.sdk import NotFound
    target = ctx.session.scalar(select(CampaignTarget).where(CampaignTarget.id == target_id,
                                                             CampaignTarget.campaign_id == campaign.id))
    if target is None:
        raise NotFound()
    return target


def close_target(ctx, campaign: Campaign, target: CampaignTarget, note: str) -> CampaignTarget:
    """销号: the target treated; its note says how."""
    if target.closed_on is not None:
        raise Conflict("already_closed", "该目标已销号")
    if not note.strip():
        raise Invalid("note", "required", "请填写整治结果")
    target.closed_on, target.close_note = today(), note.strip()
    ctx.session.flush()
    return target


def target_for_report(ctx, campaign_id: int, target_id: int) -> tuple[Campaign, CampaignTarget]:
    """The target a caller may report progress on: as the campaign's organiser (``joint.manage``)
    or as a user of the unit responsible for it (its lead task's); 404 for anyone else."""
    from sqlalchemy import and_
    row = ctx.session.execute(select(Campaign, CampaignTarget).join(CampaignTarget, and_(
        CampaignTarget.tenant_id == Campaign.tenant_id, CampaignTarget.campaign_id == Campaign.id))
        .where(Campaign.id == campaign_id, CampaignTarget.id == target_id)).first()
    if row is None:
        raise NotFound()
    campaign, target = row
    if may(ctx.session, ctx.grants, MANAGE, campaign.org_unit_id):
        return campaign, target
    lead = ctx.session.get(CaseTask, (ctx.tenant.id, target.lead_task_id))
    if ctx.user is None or lead is None or ctx.user.id not in task_users(ctx.session, lead):
        raise NotFound()
    return campaign, target


def report(ctx, campaign: Campaign, target: CampaignTarget, data: dict) -> TargetReport:
    """A progress report (进展情况) on an open target, dated between its listing and today; it is
    written on the case's timeline too, where the units working it read it."""
    if target.closed_on is not None:
        raise Conflict("already_closed", "该目标已销号，不再报告进展")
    text = (data.get("text") or "").strip()
    if not text:
        raise Invalid("text", "required", "请填写进展情况")
    on = data.get("reported_on") or today()
    if on > today():
        raise Invalid("reported_on", "in_future", "报告日期不能晚于今天")
    if on < target.added_on:
        raise Invalid("reported_on", "before_target", "报告日期不能早于列为整治目标的日期")
    row = TargetReport(target_id=target.id, reported_on=on, text=text, reported_by_id=ctx.user.id if ctx.user else None)
    ctx.session.add(row)
    case = ctx.session.get(Case, (ctx.tenant.id, target.case_id))
    if case is not None:
        add_case_event(request_work(), case, "commented", note=f"专项整治“{campaign.title}”进展（{on:%Y-%m-%d}）：{text}")
    ctx.session.flush()
    return row


def overdue(target: CampaignTarget) -> bool:
    return target.closed_on is None and target.deadline < today()


def supervise_overdue(ctx, campaign: Campaign) -> list[CampaignTarget]:
    """Every open target past its deadline and not yet supervised gets the core's listed
    supervision (督办, level ``listed``) addressed to its lead unit."""
    w = request_work()
    done = []
    rows = ctx.session.scalars(select(CampaignTarget).where(CampaignTarget.campaign_id == campaign.id,
                                                            CampaignTarget.closed_on.is_(None),
                                                            CampaignTarget.supervision_id.is_(None),
                                                            CampaignTarget.deadline < today())
                               .order_by(CampaignTarget.id))
    for target in rows:
        case = ctx.session.get(Case, (ctx.tenant.id, target.case_id))
        ctype = w.types.get(case.case_type) if case else None
        if case is None or ctype is None or case.closed_at is not None:
            continue
        lead = ctx.session.get(CaseTask, (ctx.tenant.id, target.lead_task_id))
        sup = supervise_case(w, case, ctype, {
            "kind": "supervise", "level": "listed", "target_unit_id": lead.org_unit_id if lead else None,
            "instruction": f"专项整治“{campaign.title}”目标逾期（期限 {target.deadline:%Y-%m-%d}），挂牌督办"})
        target.supervision_id = sup.id
        done.append(target)
    ctx.session.flush()
    return done


def detail(ctx, campaign: Campaign) -> dict:
    s = ctx.session
    targets = list(s.scalars(select(CampaignTarget).where(CampaignTarget.campaign_id == campaign.id)
                             .order_by(CampaignTarget.id)))
    cases = {c.id: c for c in s.scalars(select(Case).where(Case.id.in_({t.case_id for t in targets})))}
    tasks = {t.id: t for t in s.scalars(select(CaseTask).where(CaseTask.id.in_({t.lead_task_id for t in targets})))}
    units = dict(s.execute(select(OrgUnit.id, OrgUnit.name).where(
        OrgUnit.id.in_({t.org_unit_id for t in tasks.values()} | {campaign.org_unit_id}))).all())
    reports: dict[int, list[dict]] = {}
    for r in s.scalars(select(TargetReport).where(TargetReport.target_id.in_([t.id for t in targets]))
                       .order_by(TargetReport.reported_on.desc(), TargetReport.id.desc())):
        reports.setdefault(r.target_id, []).append({"id": r.id, "reported_on": r.reported_on, "text": r.text})
    rows = []
    for t in targets:
        case, lead = cases.get(t.case_id), tasks.get(t.lead_task_id)
        state = "closed" if t.closed_on else ("overdue" if overdue(t) else "open")
        rows.append({"id": t.id, "case_id": t.case_id, "case_number": case.number if case else "",
                     "title": case.title if case else "", "deadline": t.deadline, "added_on": t.added_on,
                     "closed_on": t.closed_on, "close_note": t.close_note, "state": state,
                     "lead_unit": units.get(lead.org_unit_id, "") if lead else "",
                     "lead_state": TASK_STATES.get(lead.state, "") if lead else "",
                     "supervised": t.supervision_id is not None, "supervision_id": t.supervision_id,
                     "reports": reports.get(t.id, [])})
    return {"id": campaign.id, "org_unit_id": campaign.org_unit_id, "org_unit_name": units.get(campaign.org_unit_id, ""),
            "title": campaign.title, "focus": campaign.focus, "starts_on": campaign.starts_on,
            "ends_on": campaign.ends_on, "summary": campaign.summary, "targets": rows,
            "figures": {"targets": len(rows), "closed": sum(r["state"] == "closed" for r in rows),
                        "overdue": sum(r["state"] == "overdue" for r in rows),
                        "supervised": sum(r["supervised"] for r in rows),
                        "reports": sum(len(r["reports"]) for r in rows)}}
