"""The range of every integer, date and time any request may carry (issue 14, finding 11).

A value parsed fine by marshmallow or ``int()`` can still be unusable: an id past 63 bits
overflows the database's ``bigint`` (SQLite raises OverflowError, PostgreSQL "out of range"),
and ``0001-01-01T00:00:00+14:00`` or ``9999-12-31T23:59:59-14:00`` overflow when turned into
UTC or moved by a time limit. One rule, checked in one function, ``check``:

- integers: within a signed 64-bit ``bigint``;
- dates and times: years ``EARLIEST``–``LATEST`` (1900–2999), and a time with an offset must
  have a UTC equivalent in that range.

Where it is applied: every API request's parsed arguments (``core.api.common.PinganParser``,
the parser of every flask-smorest blueprint, plugins' too), the web form loader
(``core.web.admin.form_with_errors``), a case type's module fields (``details``) at
registration and its transitions' fields, paging cursors; ids in URLs have the ``int`` converter of ``core.app``
(``BoundedInt``). A value out of range is 422 ``out_of_range`` naming the field; the app's
error handler answers any overflow that still slips through (a hand-parsed form value) with
the same 422 rather than a 500.

Integers typed by hand (a bearer token's tenant, a web form's unit, a query's ``?before=``)
go through ``parse_int``: only ASCII digits count. ``str.isdigit()`` is true of "²", "١٢"
and "１２" too, and ``int("²")`` raises ValueError — a 500 (issue 14, finding 11).
"""
from __future__ import annotations

import datetime as dt

INT_MIN, INT_MAX = -(2**63), 2**63 - 1
EARLIEST, LATEST = 1900, 2999
MESSAGE_INT = "数值超出允许范围"
MESSAGE_TIME = f"日期或时间超出允许范围（{EARLIEST}—{LATEST} 年）"


def parse_int(text, lo: int = INT_MIN, hi: int = INT_MAX, signed: bool = False) -> int | None:
    """``text`` as an integer in ``lo``–``hi`` (default: a signed 64-bit ``bigint``), or None.

    Only ASCII digits, with a leading ``-`` or ``+`` when ``signed``; no spaces, no
    underscores, no other scripts' digits. Anything else (or None) is None: the caller
    answers as it does for any non-number (404, 422 or the default).
    """
    if not isinstance(text, str):
        return None
    digits = text[1:] if signed and text[:1] in ("-", "+") else text
    if not (digits and digits.isascii() and digits.isdigit()) or len(digits.lstrip("0")) > 19:
        return None
    value = int(text)
    return value if max(lo, INT_MIN) <= value <= min(hi, INT_MAX) else None



def id_path(value: str) -> int:
    """An id from a URL path (``<case_id>`` …): a path id that is not a positive 63-bit
    integer is simply not found (404). Used by the API, the web pages and the services that
    take an id from the current request (``core.cases.access.request_case``)."""
    from core.errors import NotFound
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise NotFound() from None
    if not 0 < n < 2**63:
        raise NotFound()
    return n

def problem(value) -> str | None:
    """Why ``value`` is out of range, or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return None if INT_MIN <= value <= INT_MAX else MESSAGE_INT
    if isinstance(value, dt.datetime):
        if not EARLIEST <= value.year <= LATEST:
            return MESSAGE_TIME
        if value.tzinfo is not None:
            try:
                utc = value.astimezone(dt.timezone.utc)
            except (OverflowError, ValueError):
                return MESSAGE_TIME
            if not EARLIEST <= utc.year <= LATEST:
                return MESSAGE_TIME
        return None
    if isinstance(value, dt.date):
        return None if EARLIEST <= value.year <= LATEST else MESSAGE_TIME
    return None


def first_problem(value, path: str = "") -> tuple[str, str] | None:
    """(field path, message) of the first out-of-range value inside ``value``, or None."""
    if isinstance(value, dict):
        for k, v in value.items():
            found = first_problem(v, f"{path}.{k}" if path else str(k))
            if found:
                return found
        return None
    if isinstance(value, (list, tuple, set, frozenset)):
        for i, v in enumerate(value):
            found = first_problem(v, f"{path}.{i}" if path else str(i))
            if found:
                return found
        return None
    message = problem(value)
    return (path or "_value", message) if message else None


def check(value, location: str = "json", prefix: str = "") -> None:
    """Raise 422 ``out_of_range`` at the first out-of-range value in ``value``."""
    found = first_problem(value)
    if found:
        from core.errors import Invalid
        raise Invalid(prefix + found[0], "out_of_range", found[1], location=location)
