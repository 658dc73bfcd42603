"""The home dashboard of a scope, and the inbox page.

The figures come from ``core.cases.statistics`` — the functions behind ``/api/case-stats``
(summary, counts by month and by child unit) — so the page and the API always agree and
share their indexed fast paths; nothing here counts cases itself. Every figure links to the
case list (``/cases``) with the list's own filters, which select exactly the counted cases:

- a scope is one unit's subtree (``org_unit_id``); a user whose grants sit on several
  units picks one of them (the first by default), so the list's filter can follow;
- open → ``status=open``; overdue → ``overdue=true``; due soon → ``due_after`` = the
  summary's ``as_of`` and ``due_before`` = ``as_of`` + the type's reminder hours;
- a month → ``created_from`` / ``created_to`` (local month, as UTC times);
- a child unit → its ``org_unit_id``. The "（本级）" row (cases registered at the unit
  itself, not below it) has no list filter of its own and is shown without a link;
  "closed this month" has none either (the list filters by registration, not closing).
"""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, redirect, render_template, request, url_for
from sqlalchemy import select, update
from sqlalchemy.orm import aliased

from core.bounds import parse_int
from core.cases import statistics
from core.cases.models import Case, CaseEvent
from core.cases.queries import filtered
from core.cases.timeline import Work, actor_names, actor_title
from core.db import utcnow
from core.errors import NotFound
from core.i18n import pick
from core.models import Notification, OrgUnit
from core.notifications import unread_counts
from core.request import authenticated, current
from core.runtime import pingan
from core.web.charts import Point, bar_chart, line_chart

bp = Blueprint("web_inbox", __name__)
READ = statistics.READ
TREND_MONTHS = 12
RECENT_EVENTS = 10
RECENT_DAYS = 30     # recent activity: events of the last 30 days …
RECENT_WINDOW = 3000  # … among the county's latest 3,000 events (a bounded walk; see recent_activity)
INBOX_PREVIEW = 5
INBOX_PAGE = 30


# --- the dashboard ------------------------------------------------------------------------------

def _month_start(day: dt.date, back: int) -> dt.date:
    y, m = day.year, day.month - back
    while m <= 0:
        y, m = y - 1, m + 12
    return dt.date(y, m, 1)


def _next_month(day: dt.date) -> dt.date:
    return dt.date(day.year + (day.month == 12), day.month % 12 + 1, 1)


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.timezone.utc).isoformat()


def _list_url(**args) -> str:
    return url_for("web_cases.case_list", **{k: v for k, v in args.items() if v is not None})


def pick_scope(w: Work, unit_id: int | None) -> tuple[OrgUnit, list[OrgUnit]]:
    """The unit the dashboard shows (404 outside the user's read scope) and the units offered."""
    roots = statistics.scope(w, None).roots
    unit = statistics.scope(w, unit_id).roots[0] if unit_id is not None else roots[0]
    kids = w.session.scalars(select(OrgUnit).where(OrgUnit.parent_id == unit.id, OrgUnit.status == "active")
                             .order_by(OrgUnit.path).limit(200)).all()
    choices = {u.id: u for u in [*roots, unit, *kids]}
    return unit, sorted(choices.values(), key=lambda u: u.path)


def summary_rows(w: Work, unit: OrgUnit) -> dict:
    """``statistics.summary`` with a list link for every figure."""
    found = statistics.summary(w, unit.id)
    as_of = found["as_of"]
    rows = []
    for item in found["items"]:
        key, hours = item["case_type"], item["remind_before_hours"]
        ctype = w.types[key]
        soon = dict(due_after=_iso(as_of), due_before=_iso(as_of + dt.timedelta(hours=hours))) if hours > 0 else None
        rows.append({**item, "title_en": ctype.title_en, "links": {
            "open": _list_url(case_type=key, status="open", org_unit_id=unit.id),
            "due_soon": _list_url(case_type=key, org_unit_id=unit.id, sort="due_at", **soon) if soon else None,
            "overdue": _list_url(case_type=key, overdue="true", org_unit_id=unit.id, sort="due_at")}})
    hours = {i["remind_before_hours"] for i in found["items"]}
    same = hours.pop() if len(hours) == 1 else 0
    total_links = {
        "open": _list_url(status="open", org_unit_id=unit.id),
        "due_soon": _list_url(org_unit_id=unit.id, sort="due_at", due_after=_iso(as_of),
                              due_before=_iso(as_of + dt.timedelta(hours=same))) if same > 0 else None,
        "overdue": _list_url(overdue="true", org_unit_id=unit.id, sort="due_at")}
    return {"as_of": as_of, "rows": rows, "total": found["total"], "total_links": total_links}


def trend(w: Work, unit: OrgUnit) -> dict:
    """Cases registered per local month over the last twelve months, each month a link
    (``statistics.counts`` by month: the month tally, two statements whatever the scope)."""
    today = statistics.today()
    found = statistics.counts(w, "month", unit.id, None, _month_start(today, TREND_MONTHS - 1), today)
    points = []
    for item in found["items"]:
        first = dt.date(int(item["key"][:4]), int(item["key"][5:]), 1)
        href = _list_url(org_unit_id=unit.id, created_from=_iso(statistics.local_midnight(first)),
                         created_to=_iso(statistics.local_midnight(_next_month(first))))
        label = pick(item["label"], first.strftime("%b %Y"))
        short = pick(f"{first.month}月", first.strftime("%b"))  # the year is in the tooltip and the table
        points.append(Point(label, item["count"], href, short))
    chart = line_chart(points, pick("近12个月登记的事项", "Cases registered in the last 12 months"),
                       pick(f"{unit.name}：每月登记的事项数，共 {found['total']} 件；点击某月查看该月的事项。",
                            f"{unit.name}: cases registered per month, {found['total']} in all; "
                            "click a month to list its cases."),
                       pick("月份", "Month"), pick("事项数", "Cases"), pick("数据表", "Data table"))
    return {"total": found["total"], "chart": chart, "points": points}


def comparison(w: Work, unit: OrgUnit) -> dict:
    """Cases registered in each child unit's subtree (all time, from the tally), each a link."""
    found = statistics.counts(w, "unit", unit.id)
    points = []
    for item in found["items"]:
        own = item["key"] == str(unit.id)
        label = pick(item["label"], item["label"].replace("（本级）", " (own level)"))
        points.append(Point(label, item["count"], None if own else _list_url(org_unit_id=int(item["key"]))))
    chart = bar_chart(points, pick("下级单位对比", "Child units compared"),
                      pick(f"{unit.name} 各下级单位（含其下辖单位）累计登记的事项数，共 {found['total']} 件；"
                           "点击某单位查看其事项。“本级”为直接登记在本单位的事项。",
                           f"Cases registered in each child unit of {unit.name} (with the units below it), "
                           f"{found['total']} in all; click a unit to list its cases. "
                           "\"Own level\" counts cases registered at this unit itself."),
                      pick("单位", "Unit"), pick("事项数", "Cases"), pick("数据表", "Data table"))
    return {"total": found["total"], "chart": chart, "points": points}


def recent_activity(w: Work, unit: OrgUnit) -> list[dict]:
    """The latest timeline events of cases in the scope the user may read (the list's query).

    Only the county's latest ``RECENT_WINDOW`` events are looked at (newest first by id, the
    primary key's order): a bounded walk however large the county and however quiet the unit.
    Joining the whole timeline instead let PostgreSQL read every case of a 1.2M-case county
    (10 s); this reads at most the window and one case row per event.
    """
    from core.web.cases import event_title, local
    since = utcnow() - dt.timedelta(days=RECENT_DAYS)
    latest = select(CaseEvent).order_by(CaseEvent.id.desc()).limit(RECENT_WINDOW).subquery("latest_events")
    event_ = aliased(CaseEvent, latest)
    base = select(event_, Case.number, Case.title, Case.case_type).join(
        Case, (Case.id == event_.case_id) & (Case.tenant_id == event_.tenant_id))
    stmt = filtered(w, {"org_unit_id": unit.id}, base).where(event_.at >= since) \
        .order_by(event_.id.desc()).limit(RECENT_EVENTS)
    out, rows = [], w.session.execute(stmt).all()
    who = actor_names(w.session, [row[0] for row in rows])
    for event, number, title, case_type in rows:
        out.append({"case_id": event.case_id, "number": number, "title": title, "at": local(event.at),
                    "what": event_title(w.types.get(case_type), event.kind),
                    "actor": actor_title(event, who), "note": (event.note or "")[:80]})
    return out


def inbox_preview(ctx) -> dict:
    """Unread counts and the latest to-dos and messages of the signed-in user."""
    s = ctx.session
    latest = {kind: s.scalars(select(Notification).where(Notification.user_id == ctx.user.id,
                                                         Notification.kind == kind)
                              .order_by(Notification.id.desc()).limit(INBOX_PREVIEW)).all()
              for kind in ("todo", "message")}
    return {"unread": unread_counts(s, ctx.user.id), "latest": latest}


def home_page():
    """The signed-in user's home page: their scope's figures, inbox, charts and activity."""
    from core.cases.timeline import request_work
    from core.web import my_assignments
    ctx = current()
    w = request_work()
    data: dict = {"assignments": my_assignments(ctx), "inbox": inbox_preview(ctx),
                  "widgets": pingan().plugins.dashboard(ctx), "cases": None, "calendar_uncovered": None}
    if ctx.grants.has("core.case.configure"):  # the county's admins: next year's holidays not known yet
        from core import national_calendar
        data["calendar_uncovered"] = national_calendar.uncovered_next_year(ctx.session)
    raw = request.args.get("unit", "")
    unit_id = parse_int(raw, lo=0) if raw else None  # ASCII digits only (issue 14, finding 11)
    if raw and unit_id is None:
        raise NotFound()
    if ctx.grants.has(READ) and w.types:
        try:
            unit, choices = pick_scope(w, unit_id)
        except NotFound:
            if raw:
                raise
            unit = None  # read grants on no unit of an enabled type: nothing to count
        if unit is not None:
            data["cases"] = {"unit": unit, "choices": choices, "summary": summary_rows(w, unit),
                             "trend": trend(w, unit), "comparison": comparison(w, unit),
                             "recent": recent_activity(w, unit)}
    return render_template("home.html", **data)


# --- the inbox ----------------------------------------------------------------------------------

@bp.route("/inbox")
@authenticated
def inbox():
    """To-dos and messages, newest first; filter by kind and unread; a page at a time."""
    from core.web.cases import local
    ctx = current()
    kind = request.args.get("kind") if request.args.get("kind") in ("todo", "message") else None
    unread = request.args.get("unread") == "1"
    stmt = select(Notification).where(Notification.user_id == ctx.user.id)
    if kind:
        stmt = stmt.where(Notification.kind == kind)
    if unread:
        stmt = stmt.where(Notification.read_at.is_(None))
    before = request.args.get("before", "")
    before_id = parse_int(before, lo=0)  # anything else (even "²") is ignored: the first page
    if before_id is not None:
        stmt = stmt.where(Notification.id < before_id)
    rows = ctx.session.scalars(stmt.order_by(Notification.id.desc()).limit(INBOX_PAGE + 1)).all()
    more = len(rows) > INBOX_PAGE
    rows = rows[:INBOX_PAGE]
    lights = _todo_lights(rows)
    items = [{"id": n.id, "kind": n.kind, "title": n.title, "body": n.body, "case_id": n.case_id,
              "at": local(n.created_at), "unread": n.read_at is None,
              "light": lights.get(n.case_id) if n.kind == "todo" and n.read_at is None else None} for n in rows]
    next_args = {"kind": kind, "unread": "1" if unread else None, "before": rows[-1].id} if more and rows else None
    from core.timefmt import LIGHTS
    return render_template("inbox.html", items=items, kind=kind, unread=unread, lights=LIGHTS,
                           counts=unread_counts(ctx.session, ctx.user.id),
                           next_args={k: v for k, v in next_args.items() if v is not None} if next_args else None)


def _todo_lights(rows) -> dict[int, str]:
    """The traffic light of the open case each unread to-do is about (issue 15, item 14), for
    the cases the user may still read: case id → ``red`` / ``yellow`` / ``green``."""
    from core.cases.timeline import request_work
    from core.timefmt import light
    from core.web.cases import _due_soon
    ids = {n.case_id for n in rows if n.kind == "todo" and n.read_at is None and n.case_id}
    if not ids:
        return {}
    w = request_work()
    found = w.session.execute(filtered(w, {}, select(Case.id, Case.case_type, Case.due_at))
                              .where(Case.id.in_(ids), Case.closed_at.is_(None), Case.due_at.is_not(None))).all()
    soon, now = _due_soon(w, {t for _, t, _ in found}), utcnow()
    return {i: light(due, now, soon[t]) for i, t, due in found}


def _back() -> str:
    from core.web import _safe_next
    return _safe_next(request.form.get("next")) or url_for("web_inbox.inbox")


@bp.route("/inbox/<int:notification_id>/read", methods=["POST"])
@authenticated
def inbox_read(notification_id: int):
    """Mark one item read (then follow it to its case when asked to)."""
    ctx = current()
    note = ctx.session.scalar(select(Notification).where(Notification.id == notification_id,
                                                         Notification.user_id == ctx.user.id))
    if note is None:
        raise NotFound()
    note.read_at = note.read_at or utcnow()
    case_id = note.case_id
    ctx.session.commit()
    if request.form.get("open") and case_id:
        return redirect(url_for("web_cases.case_page", case_id=case_id))
    return redirect(_back())


@bp.route("/inbox/read-selected", methods=["POST"])
@authenticated
def inbox_read_selected():
    """Mark the ticked items read (``notification_id``, several); another user's id is ignored."""
    from core.notifications import mark_read
    ctx = current()
    ids = [n for n in (parse_int(v, lo=1) for v in request.form.getlist("notification_id")) if n and n < 2**63]
    mark_read(ctx.session, ctx.user.id, ids)
    ctx.session.commit()
    return redirect(_back())


@bp.route("/inbox/read-all", methods=["POST"])
@authenticated
def inbox_read_all():
    ctx = current()
    stmt = update(Notification).where(Notification.user_id == ctx.user.id, Notification.read_at.is_(None))
    kind = request.form.get("kind")
    if kind in ("todo", "message"):
        stmt = stmt.where(Notification.kind == kind)
    else:
        kind = None
    count = ctx.session.execute(stmt.values(read_at=utcnow()).execution_options(synchronize_session=False)).rowcount
    if count:  # one statement for the lot, one entry for the act (which items: the user's unread of that kind)
        from core import audit
        audit.record(ctx.session, "inbox_read_all", "notification", ctx.user.id, {"count": count, "kind": kind})
    ctx.session.commit()
    return redirect(_back())


__all__ = ["bp", "home_page", "inbox_preview", "pick_scope"]
