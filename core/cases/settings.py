"""A county's settings per case type, and its working-day calendar.

Settings (``case_type_setting.settings``, from ``tenants/<slug>/tenant.toml`` under
``[cases."<type>"]`` or the county admin's form), all optional:

- ``number_format`` — e.g. ``"信〔{year}〕{seq:05d}"``; default: the type's own.
- ``deadlines`` — ``{rule: {"amount": 3, "unit": "working_days"}}`` overrides a rule's limit;
  a *statutory* rule may only be tightened (checked day by day over the calendar years the
  calendar knows), ``{"enabled": false}`` switches off a non-statutory rule.
- ``remind_before_hours`` — due-soon reminder this many hours before a limit runs out
  (default 24; 0 = none).
- ``supervision_reply`` — default reply limit of a 督办/催办 (default 3 working days).
- ``acknowledge_limit`` — how long a receiving unit has to acknowledge (签收) a dispatched
  task before the task is flagged overdue (default 1 working day; ``core.cases.dispatch``).
- ``ledger_columns`` — the columns of the type's ledger, in order (default: all).
- ``max_backdate_days`` — how many days back a received time or an act's date may be given
  (default 30; older only for holders of ``core.case.correct_records``, see
  ``core.cases.backdating``).

A local (non-statutory) rule's override may name the county's own document as its legal
source: ``{"source": "《XX镇信访工作实施办法》第五条"}``; without one it cites ``本县规定``
(``LOCAL_SOURCE``). A statutory rule cites its law and that cannot be changed.
"""
from __future__ import annotations

import copy
import datetime as dt
import re
from dataclasses import dataclass, replace

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates, validates_schema
from sqlalchemy import null, select, union_all
from sqlalchemy.orm import Session

from core.cases.models import CalendarDay, CalendarYear, CaseTypeSetting, NationalCalendarDay, NationalCalendarYear
from core.cases.types import CaseType, DeadlineRule, check_number_format
from core.db import ProcessCache, config_generation
from core.timefmt import limit_end
from core.workdays import DAY_UNITS, SHANGHAI, UNITS, WorkCalendar, deadline

ACKNOWLEDGE_DEFAULT = {"amount": 1, "unit": "working_days"}  # 签收 within one working day
LOCAL_SOURCE = "本县规定"  # a local rule's source when the county names no document of its own
LEDGER_BASE_COLUMNS = ("number", "title", "case_type", "state", "org_unit", "handling_unit", "channel",
                       "created_at", "due_at", "closed_at", "content")


class LimitSchema(Schema):
    class Meta:
        unknown = RAISE
    amount = fields.Integer(required=True, validate=validate.Range(min=1, max=3650))
    unit = fields.String(required=True, validate=validate.OneOf(UNITS))


class DeadlineOverrideSchema(Schema):
    class Meta:
        unknown = RAISE
    enabled = fields.Boolean(load_default=True)
    amount = fields.Integer(validate=validate.Range(min=0, max=3650))
    unit = fields.String(validate=validate.OneOf(UNITS))
    source = fields.String(validate=validate.Length(min=1, max=200),
                           metadata={"title": "依据", "description": "本地时限所依据的本县文件，如《XX镇信访工作实施办法》第五条"})

    @validates_schema
    def _both(self, data, **kw):
        # amount and unit go together; only a local rule's ``source`` may be given alone
        if data.get("enabled", True) and (("amount" in data) != ("unit" in data)
                                          or ("amount" not in data and "source" not in data)):
            raise ValidationError("请同时填写时限数量和单位", "amount")
        if data.get("amount") == 0 and data.get("unit") not in DAY_UNITS:
            raise ValidationError("时限为 0 仅用于按日计算的“当日”时限", "amount")


class CaseTypeSettingsSchema(Schema):
    class Meta:
        unknown = RAISE
    number_format = fields.String(validate=validate.Length(min=1, max=60))
    deadlines = fields.Dict(keys=fields.String(), values=fields.Nested(DeadlineOverrideSchema), load_default=dict)
    remind_before_hours = fields.Integer(load_default=24, validate=validate.Range(min=0, max=720))
    supervision_reply = fields.Nested(LimitSchema, load_default=lambda: {"amount": 3, "unit": "working_days"})
    acknowledge_limit = fields.Nested(
        LimitSchema, load_default=lambda: dict(ACKNOWLEDGE_DEFAULT),
        metadata={"title": "签收时限", "description": "承办单位须在此时限内签收交办任务，逾期未签收的任务标为超期"})
    ledger_columns = fields.List(fields.String(), load_default=list)
    max_backdate_days = fields.Integer(
        load_default=30, validate=validate.Range(min=0, max=3650),
        metadata={"title": "最长补录天数", "description": "收到时间、决定日期最多可早于录入之日多少天；更早的须由有“更正记录”权限的人员补录"})

    @validates("number_format")
    def _format(self, value, **kw):
        try:
            check_number_format(value)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None


@dataclass(frozen=True)
class TypeSettings:
    """Validated settings of one case type for one county, with defaults filled in."""

    number_format: str
    rules: tuple[DeadlineRule, ...]       # the type's rules with the county's overrides applied
    remind_before_hours: int
    supervision_reply: dict
    ledger_columns: tuple[str, ...]
    max_backdate_days: int = 30
    acknowledge_limit: dict | None = None  # {"amount", "unit"}; None: ACKNOWLEDGE_DEFAULT


def validate(ctype: CaseType, raw: dict | None, calendar: WorkCalendar | None = None) -> dict:
    """Validated settings for ``ctype``; raises ``ValidationError`` naming the field at fault."""
    data = CaseTypeSettingsSchema().load(raw or {})
    errors: dict = {}
    for key, override in data["deadlines"].items():
        rule = ctype.rule(key)
        if rule is None:
            errors[key] = [f"该事项类型没有时限规则“{key}”"]
        elif rule.statutory and "source" in override:
            errors[key] = [f"“{rule.title}”是法定时限，依据为{rule.source}，不能更改"]
        elif not override["enabled"]:
            if rule.statutory:
                errors[key] = [f"“{rule.title}”是法定时限（{rule.source}），不能关闭"]
        elif "amount" not in override:
            if not rule.enabled:
                errors[key] = [f"“{rule.title}”默认未启用，启用时须填写本县的时限数量和单位"]
        elif rule.statutory or rule.tightens:
            law = ctype.rule(rule.tightens) if rule.tightens else rule
            problem = loosens(law, override["amount"], override["unit"], calendar or WorkCalendar())
            if problem:
                errors[key] = [problem]
    if errors:
        raise ValidationError({"deadlines": errors})
    extra = {c.key for c in ctype.ledger_columns}
    unknown = [c for c in data["ledger_columns"] if c not in set(LEDGER_BASE_COLUMNS) | extra]
    if unknown:
        raise ValidationError({"ledger_columns": [f"未知的台账列：{', '.join(unknown)}"]})
    return data


def loosens(rule: DeadlineRule, amount: int, unit: str, calendar: WorkCalendar) -> str | None:
    """Why ``amount unit`` would loosen the statutory ``rule``, or None if it never does.

    Compared exactly, not by rule of thumb: for every start day of every year the calendar
    covers, the local limit must not end later than the statutory one.
    """
    day = dt.date(2020, 1, 1)
    while True:
        start = dt.datetime.combine(day, dt.time(9), tzinfo=SHANGHAI)
        local_limit, statutory_limit = deadline(start, amount, unit, calendar), deadline(start, rule.amount, rule.unit, calendar)
        if local_limit.provisional or statutory_limit.provisional:
            return None  # holidays not published yet prove nothing either way
        local, statutory = local_limit.due_at, statutory_limit.due_at
        if local > statutory:
            return (f"本地时限不能宽于法定时限“{rule.title}”（{rule.amount} {_unit_name(rule.unit)}，"
                    f"{rule.source}）：例如 {day:%Y-%m-%d} 起算时，本地时限 {limit_end(local)} "
                    f"晚于法定时限 {limit_end(statutory)}")
        day += dt.timedelta(days=1)


def _unit_name(unit: str) -> str:
    return {"calendar_days": "日", "working_days": "个工作日", "months": "个月", "hours": "小时", "minutes": "分钟"}[unit]


def effective(ctype: CaseType, raw: dict | None) -> TypeSettings:
    """The settings in force (stored settings were validated when saved)."""
    data = CaseTypeSettingsSchema().load(raw or {})
    rules = []
    for rule in ctype.deadlines:
        override = data["deadlines"].get(rule.key)
        if not rule.statutory:
            rule = replace(rule, source=(override or {}).get("source") or local_source(rule.source))
        if override is None:
            if rule.enabled:
                rules.append(rule)
        elif override["enabled"]:
            rules.append(replace(rule, amount=override.get("amount", rule.amount), unit=override.get("unit", rule.unit)))
    columns = tuple(data["ledger_columns"]) or LEDGER_BASE_COLUMNS + tuple(c.key for c in ctype.ledger_columns)
    return TypeSettings(data.get("number_format") or ctype.number_format, tuple(rules),
                        data["remind_before_hours"], data["supervision_reply"], columns, data["max_backdate_days"],
                        data["acknowledge_limit"])


RULE_ID = re.compile(r"[A-Z]{2,5}-\d+")


def local_source(declared: str) -> str:
    """A local rule's source when the county names none: what the module declared, unless it is
    empty or cites a requirement id (``PET-1`` is ours, not the county's), else ``本县规定``."""
    return declared if declared and not RULE_ID.search(declared) else LOCAL_SOURCE


def rule_listing(ctype: CaseType, conf: TypeSettings) -> list[dict]:
    """Every declared rule as in force for the county, the ones switched off included."""
    in_force = {r.key: r for r in conf.rules}
    out = []
    for declared in ctype.deadlines:
        rule = in_force.get(declared.key) or (declared if declared.statutory
                                               else replace(declared, source=local_source(declared.source)))
        out.append({**{f: getattr(rule, f) for f in RULE_FIELDS}, "enabled": declared.key in in_force})
    return out


RULE_FIELDS = ("key", "title", "title_en", "amount", "unit", "start", "stop", "source", "statutory", "tightens",
               "pause_states", "max_extensions", "max_extension")


def for_type(session: Session, ctype: CaseType) -> TypeSettings:
    """The county's settings for ``ctype`` in force. The stored row is kept a few seconds per
    process (``core.db.ProcessCache``, as the modules' settings are): a change saved through
    this process counts at once, one saved by another within ``core.db.CACHE_SECONDS``."""
    from core.db import current_tenant_id
    key = (id(session.get_bind()), current_tenant_id(), ctype.key)
    raw = _SETTINGS.get(key)
    if raw is None:
        generation = config_generation()
        raw = session.scalar(select(CaseTypeSetting.settings).where(CaseTypeSetting.case_type == ctype.key)) or {}
        _SETTINGS.put(key, copy.deepcopy(raw), generation)
    return effective(ctype, copy.deepcopy(raw) or None)


_SETTINGS = ProcessCache()  # (database, county, case type) → its stored settings (``for_type``)


def save(session: Session, ctype: CaseType, raw: dict) -> dict:
    """Validate and store a county's settings for ``ctype`` (audited like every write)."""
    data = validate(ctype, raw, calendar(session))
    row = session.scalar(select(CaseTypeSetting).where(CaseTypeSetting.case_type == ctype.key))
    if row is None:
        row = CaseTypeSetting(case_type=ctype.key)
        session.add(row)
    row.settings = raw
    return data


def calendar(session: Session, cached: bool = True) -> WorkCalendar:
    """The county's calendar: its own overrides over the platform's national calendar (which
    stands over the ``chinese-calendar`` package; see ``core.workdays``).

    The national calendar is the same for every county and changes once a year: it is kept for
    a few seconds per process (``core.db.ProcessCache``). ``cached=False`` reads it afresh —
    what a recompute right after a load needs in another process."""
    # the county's days and the years it declared: one statement (issue 24, registration's cost)
    rows = session.execute(union_all(select(CalendarDay.day, CalendarDay.is_workday, null().label("year")),
                                     select(null(), null(), CalendarYear.year))).all()
    years = frozenset(year for day, _, year in rows if day is None)
    national, national_years = (_NATIONAL.get("national") if cached else None) or _load_national(session)
    return WorkCalendar(overrides={day: workday for day, workday, _ in rows if day is not None}, declared_years=years,
                        national=national, national_years=national_years)


_NATIONAL = ProcessCache()


def _load_national(session: Session) -> tuple[dict[dt.date, bool], frozenset[int]]:
    generation = config_generation()
    value = national_days(session)
    _NATIONAL.put("national", value, generation)
    return value


def national_days(session: Session) -> tuple[dict[dt.date, bool], frozenset[int]]:
    """The platform's national calendar: its days that differ from the week, and its years."""
    rows = session.execute(select(NationalCalendarYear.year, NationalCalendarDay.day, NationalCalendarDay.is_workday)
                           .outerjoin(NationalCalendarDay, NationalCalendarDay.year == NationalCalendarYear.year)).all()
    return ({day: workday for _, day, workday in rows if day is not None}, frozenset(year for year, _, _ in rows))
