"""An indicator's period bounds read in Beijing time, by the SDK's one rule (docs/plugin_hooks.md)."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from core.sdk import period_day, period_moment

UTC, SHANGHAI = dt.timezone.utc, ZoneInfo("Asia/Shanghai")


def test_a_date_is_its_midnight_in_beijing_and_a_moment_stays_that_moment():
    assert period_moment(dt.date(2026, 12, 1)) == dt.datetime(2026, 11, 30, 16, tzinfo=UTC)
    utc = dt.datetime(2026, 11, 30, 17, 30, tzinfo=UTC)
    assert period_moment(utc) == utc
    assert period_moment(dt.datetime(2026, 12, 1, 8)) == dt.datetime(2026, 12, 1, tzinfo=UTC)  # naive: Beijing


def test_a_moment_late_in_the_utc_evening_is_the_next_day_in_beijing():
    assert period_day(dt.datetime(2026, 11, 30, 17, 30, tzinfo=UTC)) == dt.date(2026, 12, 1)
    assert period_day(dt.datetime(2026, 11, 30, 15, 59, tzinfo=UTC)) == dt.date(2026, 11, 30)
    assert period_day(dt.date(2026, 12, 1)) == dt.date(2026, 12, 1)
