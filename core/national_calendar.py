"""The platform's national holiday calendar: one schedule for every county.

The State Council publishes each year's holidays and adjusted working days (调休) in a notice
(国务院办公厅关于20XX年部分节假日安排的通知), usually in November of the year before. Until
the ``chinese-calendar`` package ships a year, the platform operator loads it from a file
(``pingan calendar import FILE``, or the page in ``/operator``); its days take precedence over
the package's, and each county's own overrides take precedence over both (``core.workdays``).

The file (TOML, UTF-8) names its source and declares every day that differs from the plain
week — the project ships no year's dates; the operator copies them from the notice::

    year = 2027

    [notice]
    title = "国务院办公厅关于2027年部分节假日安排的通知"
    number = "国办发明电〔2026〕X号"
    published_on = 2026-11-XX

    [[holidays]]              # rest days, one entry per festival
    name = "春节"
    from = 2027-02-XX         # inclusive
    to = 2027-02-XX           # or: days = [2027-..., …]

    [[workdays]]              # adjusted working days (调休上班), on a Saturday or Sunday
    name = "春节调休上班"
    days = [2027-02-XX]       # write ``workdays = []`` for a year that has none

A file is refused whole, with every error named (:class:`CalendarFileError`), when it has no
year, no notice title, number or date, no holidays, no ``workdays`` declared, a date outside
the year, a day listed twice, or an adjusted working day that is not a weekend day.
"""
from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass, field

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from core.cases.models import NationalCalendarDay, NationalCalendarYear
from core.db import utcnow
from core.workdays import SHANGHAI, package_covers

NOTICE_FROM = (11, 1)  # from 1 November the next year's schedule is expected: tell operator and admins


class CalendarFileError(ValueError):
    """A calendar file that cannot be loaded; ``errors`` names every problem."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("；".join(errors))
        self.errors = errors


@dataclass
class YearSchedule:
    """A validated year: its source and the days that differ from the plain week."""

    year: int
    notice: str
    notice_number: str
    published_on: dt.date
    days: dict[dt.date, tuple[bool, str]] = field(default_factory=dict)  # day → (is a working day, name)

    @property
    def holidays(self) -> int:
        return sum(1 for workday, _ in self.days.values() if not workday)

    @property
    def workdays(self) -> int:
        return sum(1 for workday, _ in self.days.values() if workday)


def parse(content: bytes | str) -> YearSchedule:
    """Read and check a calendar file; raises :class:`CalendarFileError` with every error."""
    if isinstance(content, bytes):
        try:
            content = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise CalendarFileError(["文件不是 UTF-8 编码的文本"]) from None
    try:
        data = tomllib.loads(content)
    except tomllib.TOMLDecodeError as exc:
        raise CalendarFileError([f"文件格式有误（TOML）：{exc}"]) from None
    errors: list[str] = []
    year = data.get("year")
    if not isinstance(year, int) or isinstance(year, bool) or not 2000 <= year <= 2100:
        errors.append("year：缺少年份，或年份不在 2000–2100 之间")
        year = None
    notice = data.get("notice")
    if not isinstance(notice, dict):
        errors.append("notice：缺少发布依据（通知的标题、文号和发布日期）")
        notice = {}
    title, number, published = notice.get("title"), notice.get("number"), notice.get("published_on")
    if not isinstance(title, str) or not title.strip():
        errors.append("notice.title：缺少通知标题，例如“国务院办公厅关于2027年部分节假日安排的通知”")
    if not isinstance(number, str) or not number.strip():
        errors.append("notice.number：缺少通知文号")
    if not isinstance(published, dt.date) or isinstance(published, dt.datetime):
        errors.append("notice.published_on：缺少通知的发布日期（如 2026-11-12）")
        published = None
    days: dict[dt.date, tuple[bool, str]] = {}
    if not data.get("holidays"):
        errors.append("holidays：没有列出任何节假日")
    if "workdays" not in data:
        errors.append("workdays：没有声明调休上班日（该年没有调休上班日时写 workdays = []）")
    for section, is_workday in (("holidays", False), ("workdays", True)):
        entries = data.get(section) or []
        if not isinstance(entries, list):
            errors.append(f"{section}：应为列表（[[{section}]]）")
            continue
        for i, entry in enumerate(entries, 1):
            where = f"{section} 第 {i} 项"
            if not isinstance(entry, dict):
                errors.append(f"{where}：格式有误")
                continue
            name = entry.get("name")
            if not isinstance(name, str) or not name.strip():
                errors.append(f"{where}：缺少名称（name）")
                name = ""
            where = f"{where}（{name}）" if name else where
            for day in _entry_days(entry, where, errors):
                if year is not None and day.year != year:
                    errors.append(f"{where}：{day:%Y-%m-%d} 不在 {year} 年内")
                elif day in days:
                    errors.append(f"{where}：{day:%Y-%m-%d} 重复列出")
                elif is_workday and day.weekday() < 5:
                    errors.append(f"{where}：{day:%Y-%m-%d} 是工作日，调休上班日应为周六或周日")
                else:
                    days[day] = (is_workday, name.strip()[:50])
    if errors:
        raise CalendarFileError(errors)
    return YearSchedule(year, title.strip()[:200], number.strip()[:60], published, days)


def _entry_days(entry: dict, where: str, errors: list[str]) -> list[dt.date]:
    def is_date(v) -> bool:
        return isinstance(v, dt.date) and not isinstance(v, dt.datetime)
    if "days" in entry:
        listed = entry["days"]
        if not isinstance(listed, list) or not listed or not all(is_date(d) for d in listed):
            errors.append(f"{where}：days 应为日期列表，如 [2027-01-01]")
            return []
        return listed
    start, end = entry.get("from"), entry.get("to")
    if not (is_date(start) and is_date(end)):
        errors.append(f"{where}：请写明 from 和 to 两个日期，或 days 日期列表")
        return []
    if end < start:
        errors.append(f"{where}：结束日期 {end:%Y-%m-%d} 早于开始日期 {start:%Y-%m-%d}")
        return []
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]


def load(session: Session, schedule: YearSchedule, loaded_by: str) -> NationalCalendarYear:
    """Store a year (replacing a year loaded before). The caller recomputes provisional limits
    (``core.cases.recompute``) once this commits."""
    session.execute(delete(NationalCalendarDay).where(NationalCalendarDay.year == schedule.year))
    row = session.get(NationalCalendarYear, schedule.year)
    if row is None:
        row = NationalCalendarYear(year=schedule.year)
        session.add(row)
    row.notice, row.notice_number, row.published_on = schedule.notice, schedule.notice_number, schedule.published_on
    row.loaded_at, row.loaded_by = utcnow(), loaded_by[:100]
    session.flush()
    session.add_all(NationalCalendarDay(day=day, year=schedule.year, is_workday=workday, name=name)
                    for day, (workday, name) in sorted(schedule.days.items()))
    session.flush()
    return row


def import_year(db, config, schedule: YearSchedule, loaded_by: str) -> NationalCalendarYear:
    """Store a year in a transaction of its own and audit it in the platform tenant's chain
    (when there is one: operators live there). Recomputing the counties is the caller's."""
    from core import audit
    from core.db import bind_tenant
    from core.models import Tenant
    with bind_tenant(None), db.transaction() as s:
        row = load(s, schedule, loaded_by)
        platform_id = s.scalar(select(Tenant.id).where(Tenant.slug == config.operator_tenant))
    if platform_id is not None:
        with db.transaction(platform_id) as s:
            audit.record(s, "calendar_import", "national_calendar_year", schedule.year,
                         {"notice": schedule.notice, "notice_number": schedule.notice_number,
                          "published_on": schedule.published_on.isoformat(), "holidays": schedule.holidays,
                          "workdays": schedule.workdays, "loaded_by": loaded_by})
    return row


def years(session: Session) -> list[NationalCalendarYear]:
    return list(session.scalars(select(NationalCalendarYear).order_by(NationalCalendarYear.year)))


def source_of(session: Session, year: int) -> str:
    """Where a year's schedule comes from, in words for the pages."""
    row = session.get(NationalCalendarYear, year)
    if row is not None:
        return f"{row.notice}（{row.notice_number}），平台导入"
    if package_covers(year):
        return "chinese-calendar 软件包（国务院办公厅节假日安排通知）"
    return ""


def covered(session: Session, year: int) -> bool:
    """Does the platform know this year's schedule (loaded, or in the package)?"""
    return package_covers(year) or session.get(NationalCalendarYear, year) is not None


def uncovered_next_year(session: Session, today: dt.date | None = None) -> int | None:
    """From 1 November: next year, when the platform does not know its schedule yet."""
    today = today or utcnow().astimezone(SHANGHAI).date()
    if (today.month, today.day) < NOTICE_FROM:
        return None
    nxt = today.year + 1
    return None if covered(session, nxt) else nxt


def uncovered_years(session: Session, today: dt.date | None = None) -> list[int]:
    """This year (if ever uncovered) and, from 1 November, next year: for health details."""
    today = today or utcnow().astimezone(SHANGHAI).date()
    out = [today.year] if not covered(session, today.year) else []
    nxt = uncovered_next_year(session, today)
    return out + ([nxt] if nxt else [])
