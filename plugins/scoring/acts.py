"""The module's acts, shared by the API and the pages: save a rubric version, open and move a
period, enter an assessor's item, file and decide an appeal, the ranking workbook."""
from __future__ import annotations

import datetime as dt
import io

from sqlalchemy import select

from core.sdk import (Conflict, Forbidden, Invalid, NotFound, OrgLevel, county_indicators, id_path, paginate,
                      period_day, record, unit_or_404, utcnow, xlsx_append)

from . import scores
from .models import Appeal, Entry, Period, Result, Rubric
from .permissions import ASSESS, MANAGE, READ
from .rubric import KINDS, check, fmt, normalise
from .scores import STATES, period_bounds, period_title

KIND_NUMBERS = {"quarter": 4, "half": 2, "year": 1}


def _keys_as_text(errors):
    return {str(k): _keys_as_text(v) for k, v in errors.items()} if isinstance(errors, dict) else errors


def county_only(ctx) -> None:
    """Rubrics, periods and appeal decisions are the county's (MANAGE on its root unit)."""
    if not ctx.grants.county_wide(MANAGE):
        raise Forbidden()


def level_names(session) -> dict[str, str]:
    return {lv.key: lv.name for lv in session.scalars(select(OrgLevel).order_by(OrgLevel.rank))}


# --- rubrics ---------------------------------------------------------------------------------------

def rubric_errors(session, data: dict, settings: dict) -> dict:
    errors = check(data, county_indicators(session), settings)
    if data["level"] not in level_names(session):
        errors["level"] = ["本县没有这个组织层级"]
    return errors


def save_rubric(ctx, data: dict, settings: dict) -> Rubric:
    """The next version of the level's rubric for the year; 422 naming every field at fault."""
    county_only(ctx)
    s = ctx.session
    errors = rubric_errors(s, data, settings)
    if errors:
        exc = Invalid(next(iter(errors)), "invalid_rubric", "考核细则有误，请按提示更正")
        exc.errors = {"json": _keys_as_text(errors)}
        raise exc
    data = normalise(data)
    rubric = Rubric(level=data["level"], year=data["year"], title=data["title"], items=data["items"],
                    version=scores.next_version(s, data["level"], data["year"]), created_by=ctx.user.id if ctx.user else None)
    s.add(rubric)
    s.flush()
    return rubric


def rubric_or_404(session, rubric_id) -> Rubric:
    r = session.scalar(select(Rubric).where(Rubric.id == id_path(rubric_id)))
    if r is None:
        raise NotFound()
    return r


# --- periods -------------------------------------------------------------------------------------

def period_or_404(session, period_id, lock: bool = False) -> Period:
    q = select(Period).where(Period.id == id_path(period_id))
    p = session.scalar(q.with_for_update() if lock else q)
    if p is None:
        raise NotFound()
    return p


def period_view(p: Period) -> dict:
    return {"id": p.id, "level": p.level, "kind": p.kind, "year": p.year, "number": p.number,
            "title": period_title(p), "state": p.state, "state_title": STATES[p.state], "starts_on": p.starts_on,
            "ends_on": p.ends_on, "rubric_id": p.rubric_id, "published_at": p.published_at,
            "appeal_until": p.appeal_until}


def open_period(ctx, data: dict) -> Period:
    county_only(ctx)
    s = ctx.session
    if data["level"] not in level_names(s):
        raise Invalid("level", "unknown_level", "本县没有这个组织层级")
    number = data["number"] if data["kind"] != "year" else 1
    if number > KIND_NUMBERS[data["kind"]]:
        raise Invalid("number", "bad_number", f"{KINDS[data['kind']]}考核的期次为1至{KIND_NUMBERS[data['kind']]}")
    if s.scalar(select(Period.id).where(Period.level == data["level"], Period.kind == data["kind"],
                                        Period.year == data["year"], Period.number == number)):
        raise Conflict("period_exists", "该考核期已存在")
    start, end = period_bounds(data["kind"], data["year"], number)
    p = Period(level=data["level"], kind=data["kind"], year=data["year"], number=number, starts_on=start, ends_on=end)
    s.add(p)
    s.flush()
    return p


def move(ctx, p: Period, action: str, settings: dict) -> None:
    """publish → freeze; open_appeals → the window runs the county's days from today; finalize."""
    county_only(ctx)
    if action == "publish":
        n = scores.publish(ctx.session, p, settings)
        p.published_by, p.published_unit_id = ctx.user.id, ctx.user.org_unit_id
        record(ctx.session, "scoring.publish", "scoring_period", p.id, {"units": n, "rubric_id": p.rubric_id})
    elif action == "open_appeals":
        if p.state != "published":
            raise Conflict("not_published", "只有已公布的考核期可以开放申诉")
        p.state = "appeal"
        p.appeal_until = period_day(utcnow()) + dt.timedelta(days=settings["appeal_days"] - 1)
    else:
        if p.state not in ("published", "appeal"):
            raise Conflict("not_published", "只有已公布的考核期可以终结")
        if ctx.session.scalar(select(Appeal.id).where(Appeal.period_id == p.id, Appeal.state == "pending")):
            raise Conflict("appeals_pending", "还有未处理的申诉")
        p.state = "final"


def visible(ctx, rows: list[dict]) -> list[dict]:
    """The rows of the units the user may read (the ranks stay those of the whole county)."""
    if ctx.grants.county_wide(READ):
        return rows
    from core.sdk import OrgUnit
    paths = dict(ctx.session.execute(select(OrgUnit.id, OrgUnit.path)
                                     .where(OrgUnit.id.in_([r["org_unit_id"] for r in rows]))).all())
    return [r for r in rows if ctx.grants.covers(READ, paths.get(r["org_unit_id"], ""))]


def card(ctx, period_id, unit_id: int, settings: dict) -> dict:
    p = period_or_404(ctx.session, period_id)
    if unit_id is None:
        raise Invalid("org_unit_id", "required", "请选择单位", location="query")
    unit = unit_or_404(unit_id, READ)
    out = scores.card(ctx.session, p, unit, settings)
    if out is None:
        raise NotFound()
    return out


def _item(ctx, p: Period, key: str) -> dict:
    rubric = (ctx.session.scalar(select(Rubric).where(Rubric.id == p.rubric_id)) if p.rubric_id
              else scores.rubric_in_force(ctx.session, p.level, p.year))
    item = next((i for i in (rubric.items if rubric else []) if i["key"] == key), None)
    if item is None:
        raise Invalid("item_key", "unknown_item", "考核细则中没有这个考核项目")
    return item


def enter(ctx, p: Period, data: dict) -> Entry:
    """A manual item's points or a check item's answer, with the evidence note."""
    unit = unit_or_404(data["org_unit_id"], ASSESS)
    if p.state != "open":
        raise Conflict("not_open", "考核期已公布，评分不能再修改；如有异议请申诉")
    if unit.level != p.level:
        raise Invalid("org_unit_id", "wrong_level", "该单位不属于本考核期的考核对象")
    item = _item(ctx, p, data["item_key"])
    if item["source"] == "indicator":
        raise Invalid("item_key", "computed_item", "该项目由指标自动计分，不能人工录入")
    if item["source"] == "manual":
        if data.get("points") is None:
            raise Invalid("points", "required", "请填写得分")
        if data["points"] > item["points"]:
            raise Invalid("points", "over_max", f"得分不能超过该项分值{fmt(item['points'])}分")
    elif data.get("passed") is None:
        raise Invalid("passed", "required", "请选择检查结果（是/否）")
    s = ctx.session
    e = s.scalar(select(Entry).where(Entry.period_id == p.id, Entry.org_unit_id == unit.id,
                                     Entry.item_key == item["key"]))
    if e is None:
        e = Entry(period_id=p.id, org_unit_id=unit.id, item_key=item["key"])
        s.add(e)
    e.points = data.get("points") if item["source"] == "manual" else None
    e.passed = data.get("passed") if item["source"] == "check" else None
    e.note, e.entered_by, e.entered_at = data["note"], ctx.user.id if ctx.user else None, utcnow()
    s.flush()
    return e


# --- appeals -------------------------------------------------------------------------------------

def file_appeal(ctx, data: dict) -> Appeal:
    unit = unit_or_404(data["org_unit_id"], READ)
    s = ctx.session
    p = period_or_404(s, data["period_id"])
    today = period_day(utcnow())
    if p.state != "appeal" or p.appeal_until is None or today > p.appeal_until:
        raise Conflict("no_appeal_window", "不在申诉期内")
    res = s.scalar(select(Result).where(Result.period_id == p.id, Result.org_unit_id == unit.id))
    if res is None:
        raise NotFound()
    item = next((i for i in res.items if i["key"] == data["item_key"]), None)
    if item is None:
        raise Invalid("item_key", "unknown_item", "考核细则中没有这个考核项目")
    a = Appeal(period_id=p.id, org_unit_id=unit.id, item_key=item["key"], reason=data["reason"],
               points_before=item["points"], total_before=res.total, filed_by=ctx.user.id if ctx.user else None)
    s.add(a)
    s.flush()
    return a


def appeal_or_404(ctx, appeal_id, lock: bool = False) -> Appeal:
    q = select(Appeal).where(Appeal.id == id_path(appeal_id))
    a = ctx.session.scalar(q.with_for_update() if lock else q)
    if a is None:
        raise NotFound()
    unit_or_404(a.org_unit_id, READ)
    return a


def decide_appeal(ctx, appeal_id, data: dict, settings: dict) -> Appeal:
    """Upheld: the item takes the corrected points, the unit's total and the period's ranks are
    recomputed and both totals recorded; rejected: the reason is recorded."""
    county_only(ctx)
    a = appeal_or_404(ctx, appeal_id, lock=True)
    if a.state != "pending":
        raise Conflict("decided", "该申诉已处理")
    s = ctx.session
    p = period_or_404(s, a.period_id, lock=True)
    if data["decision"] == "upheld":
        if data.get("points") is None:
            raise Invalid("points", "required", "支持申诉须填写该项更正后的得分")
        res = s.scalar(select(Result).where(Result.period_id == p.id, Result.org_unit_id == a.org_unit_id))
        items = [dict(i) for i in res.items]
        item = next(i for i in items if i["key"] == a.item_key)
        if data["points"] > item["max_points"]:
            raise Invalid("points", "over_max", f"得分不能超过该项分值{fmt(item['max_points'])}分")
        item.update(points=data["points"], corrected=True,
                    rule_text=f"{item['rule_text']}；经申诉更正为{fmt(data['points'])}分（{data['reason']}）")
        if item.get("vetoed"):
            item["vetoed"] = False
        res.items = items
        res.total = round(sum(i["points"] for i in items), 2)
        causes = [i["title"] for i in items if i.get("vetoed")]
        res.vetoed, res.veto_cause = bool(causes), "、".join(causes)
        s.flush()
        scores.rerank(s, p, settings)
        a.points_after, a.total_after = data["points"], res.total
    a.state, a.decision, a.decided_by, a.decided_at = data["decision"], data["reason"], \
        ctx.user.id if ctx.user else None, utcnow()
    record(s, f"scoring.appeal_{data['decision']}", "scoring_appeal", a.id,
           {"total_before": a.total_before, "total_after": a.total_after})
    s.flush()
    return a


def appeals_page(ctx, args: dict) -> dict:
    from core.sdk import scoped
    q = scoped(select(Appeal), ctx.grants, READ, Appeal.org_unit_id)
    if args.get("period_id"):
        q = q.where(Appeal.period_id == args["period_id"])
    return paginate(ctx.session, q, args, Appeal.id, {"id": Appeal.id}, "-id")


# --- outputs -------------------------------------------------------------------------------------

def ranking_xlsx(p: Period, rows: list[dict]) -> bytes:
    from openpyxl import Workbook
    wb = Workbook()
    ws = wb.active
    ws.title = "排名"
    xlsx_append(ws, [f"{period_title(p)}考核排名（{STATES[p.state]}）"])
    xlsx_append(ws, ["名次", "单位", "得分", "一票否决", "否决原因", "表彰", "奖励（元）"])
    for r in rows:
        xlsx_append(ws, [r["rank"], r["unit_name"], r["total"], "是" if r["vetoed"] else "否", r["veto_cause"],
                         "是" if r["honoured"] else "", r.get("reward")])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def titles(ctx, level: str, year: int, settings: dict) -> list[dict]:
    """The units (in the user's scope) that earned a title of the county's ladders in ``year``."""
    from core.sdk import OrgUnit
    from .titles import titles_of_year
    won = titles_of_year(ctx.session, settings["ladders"], level, year)
    units = ctx.session.execute(select(OrgUnit.id, OrgUnit.name, OrgUnit.path).where(OrgUnit.id.in_(list(won)))
                                .order_by(OrgUnit.path)).all()
    return [{"org_unit_id": u.id, "unit_name": u.name, "titles": won[u.id]} for u in units
            if ctx.grants.covers(READ, u.path)]


def targets(ctx, year: int, settings: dict) -> list[dict]:
    """The county's creation targets of ``year`` (SCO-6); the units short, those in the user's scope."""
    from .titles import creation_progress
    names = level_names(ctx.session)
    rows = creation_progress(ctx.session, settings["creation_targets"], year,
                             lambda level: scores.units_assessed(ctx.session, level))
    for r in rows:
        r["level_name"] = names.get(r["level"], r["level"])
        r["short"] = [{"org_unit_id": u.id, "unit_name": u.name} for u in r["short"] if ctx.grants.covers(READ, u.path)]
    return rows


# --- the notice of results (通报) ---------------------------------------------------------------

def notice_pdf(ctx, p: Period, settings: dict) -> bytes:
    """The 通报 of a published period as a PDF: the frozen ranking, the honoured with their rewards,
    the vetoed with the cause, the appeal deadline; issued by the unit whoever published it acted
    for then (kept on the period), on the day it was published (Beijing), naming them — the facts
    of the act it records. Only for a
    county-wide reader (it names every unit); 409 ``not_published`` while the period is open."""
    from pathlib import Path

    from core.sdk import DocumentTemplate, OrgUnit, local_time, render_pdf, user_cards
    if not ctx.grants.county_wide(READ):
        raise NotFound()
    if p.state == "open" or p.published_at is None:
        raise Conflict("not_published", "考核期公布后才能打印通报")
    s = ctx.session
    rows = scores.results(s, p, settings)
    for r in rows:
        r["total_text"], r["reward_text"] = fmt(r["total"]), f"{r['reward']:,}" if r.get("reward") else ""
    card = user_cards(s, [p.published_by]).get(p.published_by) if p.published_by else None
    unit = s.scalar(select(OrgUnit.name).where(OrgUnit.id == p.published_unit_id)) if p.published_unit_id else None
    root = s.scalar(select(OrgUnit.name).where(OrgUnit.parent_id.is_(None)).limit(1))
    rubric = s.get(Rubric, (p.tenant_id, p.rubric_id)) if p.rubric_id else None
    day = dt.date.fromisoformat(local_time(p.published_at, "%Y-%m-%d"))
    rewards = [r["reward"] for r in rows if r.get("reward")]
    template = DocumentTemplate("scoring.notice", "考核结果通报", "notice.html",
                                str(Path(__file__).parent / "templates" / "documents"), title_en="Notice of results")
    return render_pdf(template, {
        "county": ctx.tenant.name, "period_title": period_title(p), "kind_word": "考核",
        "level_name": level_names(s).get(p.level, p.level), "rubric_title": rubric.title if rubric else "",
        "rows": rows, "honoured": [r["unit_name"] for r in rows if r["honoured"]],
        "reward_total": f"{sum(rewards):,}" if rewards else "", "vetoed": [r for r in rows if r["vetoed"]],
        "appeal_until": f"{p.appeal_until.year}年{p.appeal_until.month}月{p.appeal_until.day}日" if p.appeal_until else "",
        "issuing_unit": unit or root or ctx.tenant.name, "publisher": card.display_name if card else "",
        "published_on": f"{day.year}年{day.month}月{day.day}日"})
