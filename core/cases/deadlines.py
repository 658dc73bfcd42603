"""Time limits on cases: started and stopped by timeline events, paused by states, extended
by approval; every due time stored with the rule and the source that produced it.

``Case.due_at`` always holds the earliest running limit (``refresh``), so lists and the
sweep read one indexed column. A *window* (``DeadlineRule.window``: a period within which
someone may act, such as an objection window) is stored in state ``window``: shown like any
limit and stopped like one, but never in ``Case.due_at``, never swept, never missed.
Computation is ``core.workdays`` (Civil Code Art. 201, 203, the county's calendar).
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.cases import fresh, tally
from core.cases.models import Case, CaseDeadline
from core.cases.settings import TypeSettings, calendar
from core.cases.types import DeadlineRule
from core.timefmt import limit_last_day
from core.workdays import SHANGHAI, WorkCalendar, deadline, end_of


def running(session: Session, case: Case) -> list[CaseDeadline]:
    known = fresh.rows(session, case, CaseDeadline)
    if known is not None:  # registered in this transaction: its limits are the ones started here
        return [d for d in known if d.state != "stopped"]
    return list(session.scalars(select(CaseDeadline).where(CaseDeadline.case_id == case.id,
                                                           CaseDeadline.state != "stopped")
                                .order_by(CaseDeadline.id)))


def start_rule(session: Session, case: Case, rule: DeadlineRule, at: dt.datetime,
               cal: WorkCalendar | None = None, task_id: int | None = None) -> CaseDeadline:
    row = rule_row(case, rule, at, deadline(at, rule.amount, rule.unit, cal or calendar(session)), task_id)
    session.add(row)
    return row


def rule_row(case: Case, rule: DeadlineRule, at: dt.datetime, d, task_id: int | None = None) -> CaseDeadline:
    """The limit's row for a due time ``d`` already computed (``core.workdays.deadline``): a bulk
    registration (``core.cases.bulk``) computes it once for every case started at the same time."""
    return CaseDeadline(case_id=case.id, task_id=task_id, rule=rule.key, title=rule.title, amount=rule.amount,
                        unit=rule.unit, started_at=at, due_at=utc(d.due_at), basis=d.rule[:300],
                        source=rule.source or "", state="window" if rule.window else "running",
                        provisional=d.provisional,
                        count_from=d.count_from, working_days=d.working_days)


def start_task_limit(session: Session, case: Case, task_id: int, title: str, amount: int, unit: str,
                     at: dt.datetime, source: str = "", key: str = "task") -> CaseDeadline:
    """A limit on one task (a diverted task's handling, an objection window …)."""
    rule = DeadlineRule(key, title, amount, unit, start="diverted", stop=(), source=source)
    return start_rule(session, case, rule, at, task_id=task_id)


def stop_task_rules(session: Session, case: Case, rules, kind: str, at: dt.datetime) -> None:
    """Stop the open task limits of the declared ``rules`` (``CaseType.task_limits``) that stop at ``kind``."""
    keys = {r.key for r in rules if kind in r.stop}
    if not keys:
        return
    stopped = [d for d in running(session, case) if d.task_id is not None and d.rule in keys]
    for d in stopped:
        _stop(d, at)
    _count(session, case, stopped)
    if stopped:
        session.flush()
        refresh(session, case)


def on_event(session: Session, case: Case, settings: TypeSettings, kind: str, at: dt.datetime) -> list[CaseDeadline]:
    """Start the rules that start at ``kind``; stop the running ones that stop at it."""
    changed: list[CaseDeadline] = []
    current = running(session, case)
    active_rules = {d.rule for d in current if d.task_id is None}
    cal = None
    for rule in settings.rules:
        if kind in rule.stop:
            for d in current:
                if d.rule == rule.key and d.task_id is None:
                    _stop(d, at)
                    changed.append(d)
        if rule.start == kind and rule.key not in active_rules and (rule.applies is None
                                                                   or rule.applies(session, case)):
            cal = cal or calendar(session)
            changed.append(start_rule(session, case, rule, at, cal))
    _count(session, case, [d for d in changed if d.state == "stopped"])
    if changed:
        session.flush()
        refresh(session, case)
    return changed


def stop_task(session: Session, case: Case, task_id: int, at: dt.datetime) -> None:
    """The task was reported or returned: its limits stop, met or missed (counted)."""
    stopped = [d for d in running(session, case) if d.task_id == task_id]
    for d in stopped:
        _stop(d, at)
    _count(session, case, stopped)
    session.flush()
    refresh(session, case)


def withdraw_task(session: Session, case: Case, task_id: int, at: dt.datetime) -> None:
    """The task was withdrawn (cancelled): its limits stop and, like those of it that stopped
    earlier, are not counted in on-time rates (``statistics.on_time``, ``core.cases.tally``)."""
    earlier = session.scalars(select(CaseDeadline).where(CaseDeadline.case_id == case.id,
                                                         CaseDeadline.task_id == task_id,
                                                         CaseDeadline.state == "stopped",
                                                         CaseDeadline.met.is_not(None))).all()
    tally.count(session, case, limits=[(d, -1) for d in earlier])
    for d in running(session, case):
        if d.task_id == task_id:
            _stop(d, at)
    session.flush()
    refresh(session, case)


def stop_all(session: Session, case: Case, at: dt.datetime) -> None:
    """A closed case has no running limits."""
    stopped = running(session, case)
    for d in stopped:
        _stop(d, at)
    _count(session, case, stopped)
    session.flush()
    refresh(session, case)


def _count(session: Session, case: Case, stopped: list[CaseDeadline]) -> None:
    """Stopped limits enter the on-time tally (windows are skipped there: nothing met)."""
    if stopped:
        tally.count(session, case, limits=[(d, 1) for d in stopped])


def _stop(d: CaseDeadline, at: dt.datetime) -> None:
    if d.state == "window":  # nothing to meet or miss: it ended, at the latest when it ran out
        d.state, d.stopped_at, d.met = "stopped", min(at, d.due_at), None
        return
    if d.state == "paused" and d.paused_at is not None:
        at_effective = d.paused_at  # the clock stood still since the pause
    else:
        at_effective = at
    d.state, d.stopped_at, d.met = "stopped", at, at_effective <= d.due_at


def on_state(session: Session, case: Case, settings: TypeSettings, old: str, new: str, at: dt.datetime) -> None:
    """Pause the limits whose rule pauses in ``new``; resume those paused in ``old``."""
    pausing = {r.key for r in settings.rules if new in r.pause_states}
    was_paused = {r.key for r in settings.rules if old in r.pause_states}
    cal = None
    for d in running(session, case):
        if d.task_id is not None:
            continue
        if d.state == "running" and d.rule in pausing:
            d.state, d.paused_at = "paused", at
        elif d.state == "paused" and d.rule in was_paused and d.rule not in pausing:
            cal = cal or calendar(session)
            due, note = resume_due(d, at, cal)
            d.due_at = utc(due)
            d.basis = (d.basis + "；" + note)[:300]
            d.state, d.paused_at = "running", None
    session.flush()
    refresh(session, case)


def resume_due(d: CaseDeadline, at: dt.datetime, cal: WorkCalendar) -> tuple[dt.datetime, str]:
    """The due time after a pause from ``d.paused_at`` to ``at`` (the pause is not counted).

    Hour and minute limits move by the paused time. Day limits move by the days paused:
    calendar days, or the working days among them for a working-day limit; a calendar-day
    limit that then ends on a rest day moves on to the next working day (Art. 203).
    """
    paused = d.paused_at
    assert paused is not None
    if d.unit in ("hours", "minutes"):
        p_local, r_local = paused.astimezone(SHANGHAI), at.astimezone(SHANGHAI)  # words in Beijing time
        return utc(d.due_at + (at - paused)), f"暂停 {p_local:%Y-%m-%d %H:%M} 至 {r_local:%Y-%m-%d %H:%M} 不计入"
    p_day, r_day = paused.astimezone(SHANGHAI).date(), at.astimezone(SHANGHAI).date()
    last = limit_last_day(d.due_at)
    if d.unit == "working_days":
        n = sum(1 for i in range(1, (r_day - p_day).days + 1) if cal.is_workday(p_day + dt.timedelta(days=i)))
        if d.count_from is not None:
            d.working_days += n
        new_last = cal.add_working_days(last, n) if n else last
    else:
        n = (r_day - p_day).days
        if n:
            d.count_from, d.working_days = last + dt.timedelta(days=n), 0
        new_last = cal.next_workday(last + dt.timedelta(days=n)) if n else last
    _mark_provisional(d, new_last, cal)
    return utc(end_of(new_last)), f"暂停 {p_day:%Y-%m-%d} 至 {r_day:%Y-%m-%d}（{n} 日）不计入"


def extend_due(d: CaseDeadline, amount: int, cal: WorkCalendar) -> tuple[dt.datetime, str]:
    """The due time after an approved extension of ``amount`` of the limit's own unit."""
    if d.unit in ("hours", "minutes"):
        delta = dt.timedelta(hours=amount) if d.unit == "hours" else dt.timedelta(minutes=amount)
        return utc(d.due_at + delta), f"延期 {amount} {'小时' if d.unit == 'hours' else '分钟'}"
    last_moment = d.due_at.astimezone(SHANGHAI) - dt.timedelta(seconds=1)  # 23:59:59 of the last day
    extended = deadline(last_moment, amount, d.unit, cal)
    if d.unit == "working_days" and d.count_from is not None:
        d.working_days += amount  # the same day as counting ``amount`` more from the last one
    else:
        d.count_from, d.working_days = extended.count_from, extended.working_days
    _mark_provisional(d, (extended.due_at - dt.timedelta(days=1)).date(), cal)
    return utc(extended.due_at), f"延期：{extended.rule}"


def _mark_provisional(d: CaseDeadline, last: dt.date, cal: WorkCalendar) -> None:
    first = d.count_from or d.started_at.astimezone(SHANGHAI).date()
    d.provisional = d.provisional or bool(cal.uncovered(min(first, last), last))


def set_due(session: Session, case: Case, rule_key: str, due_at: dt.datetime, basis: str) -> CaseDeadline | None:
    """Give the running limit ``rule_key`` of a case a due time an act decided (a rectification
    notice's 整改期限) instead of its rule's amount; the reminders, overdue sweep, supervision and
    on-time figures then work on it as on any limit. None when no such limit runs."""
    row = next((d for d in running(session, case) if d.rule == rule_key and d.task_id is None), None)
    if row is None:
        return None
    row.due_at, row.basis, row.provisional, row.reminded = utc(due_at), basis[:300], False, 0
    session.flush()
    refresh(session, case)
    return row


def utc(moment: dt.datetime) -> dt.datetime:
    """Stored and answered in UTC, like every time in the API (shown in Asia/Shanghai by the UI)."""
    return moment.astimezone(dt.timezone.utc)


def refresh(session: Session, case: Case) -> None:
    """``case.due_at`` = the earliest running limit (None when nothing runs; windows never count)."""
    dues = [(d.due_at, d.provisional) for d in running(session, case) if d.state == "running"]
    case.due_at, case.due_provisional = min(dues) if dues else (None, False)
