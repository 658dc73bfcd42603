"""A case type's settings other than its time limits, as form controls on the module's page
(issue 15, item 10): the number format as its parts (a prefix, the year or not, a separator,
how many digits), the due-soon reminder in hours, the longest back-dating in days and the
ledger's columns as check boxes. Nothing is typed as a key or a format string; a number
format the parts cannot express (set through the API) is kept as it is and shown.

Posted with the time limits of the same case type (``modules.limits_save``), names prefixed
``opt-``; :func:`read` gives the typed values (kept after a refused save), the settings to
store (only what differs from what is in force) and the errors by field.
"""
from __future__ import annotations

import re

from core.bounds import parse_int
from core.cases import settings as case_settings
from core.cases.types import CaseType, check_number_format
from core.ledgers import BASE_TITLES

# prefix, {year} or not, separator, {seq:0Nd}, suffix — the shape of every format a county uses
FORMAT = re.compile(r"^(?P<prefix>[^{}]*?)(?P<year>\{year\})?(?P<middle>[^{}]*)\{seq(?::0?(?P<digits>\d+)d)?\}(?P<suffix>[^{}]*)$")
DIGITS = range(3, 9)
PREFIX = "opt-"


def number_parts(fmt: str) -> dict | None:
    """The parts of a number format, or None when it is not of the usual shape (the serial
    padded to 3–8 digits)."""
    m = FORMAT.match(fmt)
    if m is None or int(m["digits"] or 1) not in DIGITS:  # e.g. a bare {seq}: kept as it is, not re-padded
        return None
    return {"prefix": m["prefix"], "year": bool(m["year"]), "middle": m["middle"],
            "digits": str(int(m["digits"] or 1)), "suffix": m["suffix"]}


def number_format(parts: dict) -> str:
    digits = int(parts["digits"])
    seq = "{seq:0%dd}" % digits if digits > 1 else "{seq}"
    year = "{year}" if parts["year"] else ""
    return f"{parts['prefix']}{year}{parts['middle']}{seq}{parts['suffix']}"


def sample(fmt: str) -> str:
    """What the first number of 2026 looks like (the preview next to the parts)."""
    try:
        return fmt.format(year=2026, seq=1)
    except (ValueError, KeyError, IndexError):
        return ""


def columns(ctype: CaseType) -> list[tuple[str, str]]:
    """Every column the type's ledger may have, in the default order, by title."""
    return [(k, BASE_TITLES[k]) for k in case_settings.LEDGER_BASE_COLUMNS] + \
        [(c.key, c.title) for c in ctype.ledger_columns]


def form(ctype: CaseType, conf: case_settings.TypeSettings, typed: dict | None) -> dict:
    """The controls' values: what was typed (after a refused save) or what is in force."""
    if typed:
        return typed
    parts = number_parts(conf.number_format)
    return {"number": parts or {}, "number_raw": "" if parts else conf.number_format,
            "sample": sample(conf.number_format), "remind": str(conf.remind_before_hours),
            "backdate": str(conf.max_backdate_days), "columns": list(conf.ledger_columns)}


def read(ctype: CaseType, form_data, raw: dict) -> tuple[dict, dict, dict]:
    """(typed values, settings to store, errors by field) from the posted form; a setting
    equal to what is in force is not stored (its default keeps following the module's)."""
    if f"{PREFIX}remind" not in form_data:  # an older form without these controls
        return {}, {}, {}
    conf = case_settings.effective(ctype, raw)
    errors: dict[str, str] = {}
    values: dict = {}
    number = {"prefix": form_data.get(f"{PREFIX}prefix", ""), "year": form_data.get(f"{PREFIX}year") == "1",
              "middle": form_data.get(f"{PREFIX}middle", ""), "digits": form_data.get(f"{PREFIX}digits", ""),
              "suffix": form_data.get(f"{PREFIX}suffix", "")}
    number_raw = form_data.get(f"{PREFIX}number_raw", "")
    typed = {"number": number, "number_raw": number_raw, "remind": form_data.get(f"{PREFIX}remind", "").strip(),
             "backdate": form_data.get(f"{PREFIX}backdate", "").strip(),
             "columns": [c for c in form_data.getlist(f"{PREFIX}columns") if c]}
    if not number_raw:
        if parse_int(number["digits"], lo=DIGITS.start, hi=DIGITS.stop - 1) is None:
            errors["digits"] = "请选择流水号位数"
        elif any(ch in number[k] for k in ("prefix", "middle", "suffix") for ch in "{}"):
            errors["prefix"] = "编号的文字部分不能含有 { 或 }"
        else:
            fmt = number_format(number)
            try:
                check_number_format(fmt)
            except ValueError as exc:
                errors["prefix"] = str(exc)
            else:
                typed["sample"] = sample(fmt)
                if fmt != conf.number_format:
                    values["number_format"] = fmt
    remind = parse_int(typed["remind"], lo=0, hi=720)
    if remind is None:
        errors["remind"] = "请填写 0 至 720 之间的整数（小时）"
    elif remind != conf.remind_before_hours or "remind_before_hours" in raw:
        values["remind_before_hours"] = remind
    backdate = parse_int(typed["backdate"], lo=0, hi=3650)
    if backdate is None:
        errors["backdate"] = "请填写 0 至 3650 之间的整数（天）"
    elif backdate != conf.max_backdate_days or "max_backdate_days" in raw:
        values["max_backdate_days"] = backdate
    known = [k for k, _ in columns(ctype)]
    chosen = [k for k in known if k in typed["columns"]]  # the default order; unknown keys dropped
    if not chosen:
        errors["columns"] = "台账至少要有一列"
    elif tuple(chosen) != tuple(conf.ledger_columns) or "ledger_columns" in raw:
        values["ledger_columns"] = [] if chosen == known else chosen
    return typed, values, errors
