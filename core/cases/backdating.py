"""When a matter was received and when an act was decided — not when it was typed in.

A letter received on Tuesday and registered on Thursday: the statutory 15 days run from
Tuesday (《信访工作条例》第二十二条 counts from receipt). So registration takes the time the
matter was **received** (``received_at``, at the window or on a direct registration), and an
act that records a decision may take the **day it was decided** (a transition's ``dated``
field, e.g. the petition's ``accepted_on``); the limits that start (and stop) at that event
run from that time instead of the moment of typing.

Bounds, each refused with 422, a machine code and the field at fault:

- not in the future (``date_in_future``; a received time up to 5 minutes ahead of the
  server's clock is taken as now);
- an act's date not before the matter was received (``date_before_received``);
- not older than the county's ``max_backdate_days`` for the case type (default 30; an
  intake not yet given a type: 30) — unless the user holds ``core.case.correct_records``
  on the unit (``backdate_too_old``);
- never before 2000 or after 2100 (``date_out_of_range``);
- a time on an **earlier day** than today (Beijing time) is *back-dating*: it needs a reason
  (``backdate_reason``; ``backdate_reason_required``) and is audited (``case.backdated`` or
  ``intake.backdated``: who, when it was typed in, the time given and why). An earlier time of
  the same day needs no reason (a letter opened at nine and typed in at eleven) and is kept on
  the timeline all the same.

A time without a zone (``2026-03-03T10:00:00``) is read as Beijing time (Asia/Shanghai), the
time every page shows.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from core.db import utcnow
from core.errors import Invalid
from core.workdays import SHANGHAI

CORRECT = "core.case.correct_records"
DEFAULT_MAX_DAYS = 30
REASON = "backdate_reason"
FUTURE_SLACK = dt.timedelta(minutes=5)  # a client's clock a little ahead of ours is not "the future"
EARLIEST_YEAR, LATEST_YEAR = 2000, 2100
RECEIVED_HELP = ("收到时间：来信、来访等实际收到的时间，登记时起算的时限自此起算（默认现在）。不带时区的时间按北京时间"
                 "（Asia/Shanghai）理解。不得晚于现在；不得早于本县最长补录天数（max_backdate_days，默认 30 天），"
                 "更早的须有 core.case.correct_records 权限。早于今天的须填写 backdate_reason")
REASON_HELP = "补录理由：收到时间或决定日期早于今天时必填，记入办理过程和审计日志"


@dataclass(frozen=True)
class Dated:
    """A checked time: ``at`` (UTC) is when the limits run from; ``backdated`` when it lies on an
    earlier day than the day it was recorded; ``beyond_limit`` when it is older than the
    county's maximum and the user's permission to correct records allowed it."""

    field: str
    at: dt.datetime
    recorded_at: dt.datetime
    backdated: bool
    beyond_limit: bool
    reason: str | None
    max_days: int
    day_only: bool = False  # a date was given (an act's day), not a time

    def event_data(self) -> dict:
        """What the timeline event keeps of it."""
        out = {self.field: self.at.isoformat()}
        if self.backdated:
            out.update(backdated=True, backdate_reason=self.reason)
        if self.beyond_limit:
            out["beyond_limit"] = True
        return out

    def note(self, what: str) -> str:
        """A line for the timeline: "收到时间 2026-03-03 10:00（补录，理由：……）"."""
        text = f"{what} {self.at.astimezone(SHANGHAI):{'%Y-%m-%d' if self.day_only else '%Y-%m-%d %H:%M'}}"
        if self.backdated:
            text += f"（补录，理由：{self.reason}）"
        return text


def aware(value: dt.datetime) -> dt.datetime:
    """A time without a zone is Beijing time (Asia/Shanghai)."""
    return value.replace(tzinfo=SHANGHAI) if value.tzinfo is None else value


def today(now: dt.datetime | None = None) -> dt.date:
    return (now or utcnow()).astimezone(SHANGHAI).date()


def _in_range(field: str, value: dt.datetime | dt.date, what: str) -> None:
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise Invalid(field, "date_out_of_range", f"{what}不在有效范围内（{EARLIEST_YEAR}—{LATEST_YEAR} 年）")


def _may_correct(session: Session, grants, units) -> bool:
    from core.cases.access import covers
    return any(covers(session, grants, CORRECT, u) for u in units if u is not None)


def _check_age(w, field: str, day: dt.date, now: dt.datetime, max_days: int, units, what: str) -> bool:
    """Older than ``max_days`` → refused, unless the user may correct records (then True)."""
    if (today(now) - day).days <= max_days:
        return False
    if w.user is None or _may_correct(w.session, w.grants, units):
        return True
    raise Invalid(field, "backdate_too_old",
                  f"{what}早于 {max_days} 天前，超过本县允许补录的期限；更早的记录须由有“更正记录”权限的人员补录")


def _reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if not text:
        raise Invalid(REASON, "backdate_reason_required", "补录以前日期的记录须填写补录理由")
    return text[:500]


def received(w, field: str, value: dt.datetime, reason: str | None, max_days: int, units,
             what: str = "收到时间") -> Dated:
    """Check the time a matter was received (``received_at``) given at registration."""
    _in_range(field, value, what)
    value = aware(value)
    now = utcnow()
    if value > now + FUTURE_SLACK:
        raise Invalid(field, "date_in_future",
                      f"{what}不能晚于现在（{now.astimezone(SHANGHAI):%Y-%m-%d %H:%M}）")
    at = min(value, now).astimezone(dt.timezone.utc)
    day = at.astimezone(SHANGHAI).date()
    beyond = _check_age(w, field, day, now, max_days, units, what)
    backdated = day < today(now)
    return Dated(field, at, now, backdated, beyond, _reason(reason) if backdated else ((reason or "").strip() or None),
                 max_days)


def decided(w, field: str, day: dt.date, reason: str | None, max_days: int, units, since: dt.datetime,
            what: str = "决定日期") -> Dated:
    """Check the day an act was decided (a transition's ``dated`` field, e.g. ``accepted_on``).

    ``since``: when the matter was received; the day may not be earlier. Today means now; an
    earlier day means 12:00 of that day (or the received time, if later that day) — for limits
    counted in days only the day matters (the first day is not counted, Civil Code Art. 201).
    """
    _in_range(field, day, what)
    now = utcnow()
    if day > today(now):
        raise Invalid(field, "date_in_future", f"{what}不能晚于今天（{today(now):%Y-%m-%d}）")
    since_local = since.astimezone(SHANGHAI)
    if day < since_local.date():
        raise Invalid(field, "date_before_received", f"{what}不能早于收到时间（{since_local:%Y-%m-%d %H:%M}）")
    beyond = _check_age(w, field, day, now, max_days, units, what)
    backdated = day < today(now)
    at = now if not backdated else max(dt.datetime.combine(day, dt.time(12), tzinfo=SHANGHAI), since_local)
    return Dated(field, at.astimezone(dt.timezone.utc), now, backdated, beyond,
                 _reason(reason) if backdated else ((reason or "").strip() or None), max_days, day_only=True)


def audit(session: Session, object_type: str, object_id, dated: Dated, **extra) -> None:
    """One audit entry for a back-dated act: the actor is the entry's own (who); ``reason`` (why)."""
    if not dated.backdated:
        return
    from core.audit import record
    record(session, f"{object_type}.backdated", object_type, object_id,
           {"field": dated.field, "value": dated.at.isoformat(), "recorded_at": dated.recorded_at.isoformat(),
            "reason": dated.reason, "beyond_limit": dated.beyond_limit, "max_backdate_days": dated.max_days,
            **extra})


def received_at(session: Session, case) -> dt.datetime:
    """When ``case``'s matter was received (``case_record.received_at``; a case stored without
    one: its registration time, from which its limits ran)."""
    return case.received_at or case.created_at
