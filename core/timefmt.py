"""One way to show times (issue 13, part 8).

- **The API** answers every time as ISO 8601 with its offset, in UTC (``2026-09-24T02:00:00+00:00``),
  a date as ``2026-09-24``: marshmallow's ``DateTime`` fields do so, and so does the app's JSON
  provider (``JSONProvider``) for any time a view puts into its answer some other way (a module's
  ``details``, a report's figures) — Flask's default would write the HTTP-date form
  ("Thu, 24 Sep 2026 02:00:00 GMT"), which no endpoint may answer. A naive time is the
  database's, so UTC.
- **Pages and user text** show Beijing time (Asia/Shanghai): ``local``.
- **A limit's end.** A limit counted in days ends at 24:00 of its last day, stored as 00:00 of
  the next one; users read it as that last day at 24:00 — "2026-10-09 24:00", never
  "2026-10-10 00:00". ``limit_end`` is the one way to write it, for the pages (the Jinja filter
  ``|limit_end``), the errors that name it ("期限已于 2026-10-09 24:00 届满"), timeline notes and
  notifications alike, so what a 409 says is what the page shows. A limit counted in hours
  ends at its minute ("2026-10-09 17:30").
"""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from flask import Flask
from flask.json.provider import DefaultJSONProvider

SHANGHAI = ZoneInfo("Asia/Shanghai")
UTC = dt.timezone.utc


def iso(value: dt.datetime | dt.date) -> str:
    """The API's form of a time: ISO 8601 in UTC with its offset (a naive time is read as UTC, as
    the database stores it); a date as YYYY-MM-DD."""
    if isinstance(value, dt.datetime):
        aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return aware.isoformat()
    return value.isoformat()


def local(value: dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A time as Beijing time for people ("" for none); a naive time is read as UTC."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(SHANGHAI).strftime(fmt)


def period_moment(bound: dt.datetime | dt.date) -> dt.datetime:
    """A period bound (of an indicator, a report) as an aware datetime, to compare with a
    stored time: a date is that day's 00:00 in Beijing; a naive datetime is Beijing time."""
    if not isinstance(bound, dt.datetime):
        return dt.datetime.combine(bound, dt.time(), tzinfo=SHANGHAI)
    return bound if bound.tzinfo else bound.replace(tzinfo=SHANGHAI)


def period_day(bound: dt.datetime | dt.date) -> dt.date:
    """A period bound as a Beijing date, to compare with a ``Date`` column: an aware datetime
    is read in Beijing (a UTC moment late in the evening is the next day there)."""
    if not isinstance(bound, dt.datetime):
        return bound
    return period_moment(bound).astimezone(SHANGHAI).date()


def limit_last_day(value: dt.datetime | None) -> dt.date | None:
    """The day a limit ends on, in Beijing: one that ends at 00:00 ends at 24:00 of the day before."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    at = value.astimezone(SHANGHAI)
    day = at.date()
    return day - dt.timedelta(days=1) if at.time() == dt.time(0) else day


def limit_end(value: dt.datetime | None, day_format: str = "%Y-%m-%d") -> str:
    """A limit's end as users read it: "2026-10-09 24:00" for one that ends with its last day
    (stored as 2026-10-10 00:00), "2026-10-09 17:30" for one that ends within a day; "" for none.
    The same words on every page, in every error and in every note."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    at = value.astimezone(SHANGHAI)
    if at.time() == dt.time(0):
        return f"{limit_last_day(at):{day_format}} 24:00"
    return f"{at:{day_format}} {at:%H:%M}"


class JSONProvider(DefaultJSONProvider):
    """Flask's JSON provider, with times as ISO 8601 with their offset (``iso``) instead of the
    HTTP-date form."""

    @staticmethod
    def default(o):
        if isinstance(o, (dt.datetime, dt.date)):
            return iso(o)
        return DefaultJSONProvider.default(o)


def install(app: Flask) -> None:
    """The app's JSON provider and the templates' filters ``|limit_end`` and ``|local_time``."""
    ensure_ascii = app.json.ensure_ascii
    app.json = JSONProvider(app)
    app.json.ensure_ascii = ensure_ascii
    app.jinja_env.filters.update(limit_end=limit_end, local_time=local)


LIGHTS = {"red": ("已超期", "overdue"), "yellow": ("即将到期", "due soon"), "green": ("正常", "on time")}


def light(due_at: dt.datetime | None, now: dt.datetime, soon: dt.timedelta) -> str | None:
    """The traffic light of a running limit (issue 15, items 5 and 14): ``red`` once it has
    run out, ``yellow`` when it runs out within ``soon`` (the case type's due-soon reminder,
    ``remind_before_hours``), else ``green``; None without a limit. Pages show the words of
    :data:`LIGHTS` with the colour, never the colour alone."""
    if due_at is None:
        return None
    if due_at.tzinfo is None:
        due_at = due_at.replace(tzinfo=UTC)
    if due_at <= now:
        return "red"
    return "yellow" if due_at - now <= soon else "green"
