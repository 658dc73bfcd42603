"""Tables of the case engine. ``tenant_id`` leads every key, as everywhere (docs/architecture.md).

``Case.due_at`` is the earliest running time limit of the case, kept up to date by
``deadlines``; lists, counts and the sweep read it (and ``CaseDeadline.due_at``) through
partial indexes on open cases only, so they grow with the open work, not the archive.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (JSON, BigInteger, Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint,
                        text)
from sqlalchemy.orm import Mapped, mapped_column

from core.db import AwareDateTime, ReferenceModel, TenantModel, tenant_fk, utcnow

OPEN = text("closed_at IS NULL")


def _partial(name: str, *cols: str, where: str) -> Index:
    """An index over the rows matching ``where`` (PostgreSQL and SQLite both support these)."""
    return Index(name, *cols, postgresql_where=text(where), sqlite_where=text(where))


class Case(TenantModel):
    """One matter being handled: its number, where it arose, its state and who handles it."""

    __tablename__ = "case_record"
    __table_args__ = (
        UniqueConstraint("tenant_id", "number"),
        tenant_fk("org_unit_id", "org_unit"),
        tenant_fk("handling_unit_id", "org_unit"),
        tenant_fk("handler_id", "app_user"),
        tenant_fk("created_by", "app_user"),
        Index("ix_case_record_unit", "tenant_id", "org_unit_id", "created_at"),
        Index("ix_case_record_created", "tenant_id", "created_at"),
        Index("ix_case_record_type", "tenant_id", "case_type", "created_at"),
        Index("ix_case_record_handling", "tenant_id", "handling_unit_id"),
        # covering on PostgreSQL: the dashboard's overdue / due-soon counts read the index only
        Index("ix_case_record_open_due", "tenant_id", "due_at", postgresql_include=["case_type", "org_unit_id"],
              postgresql_where=OPEN, sqlite_where=OPEN),
        # the open cases of a subtree, counted per unit index-only (a joint mechanism's figures)
        Index("ix_case_record_open_unit", "tenant_id", "org_unit_id", postgresql_include=["case_type", "due_at"],
              postgresql_where=OPEN, sqlite_where=OPEN),
        _partial("ix_case_record_closed", "tenant_id", "closed_at", where="closed_at IS NOT NULL"),
    )
    case_type: Mapped[str] = mapped_column(String(64))
    number: Mapped[str] = mapped_column(String(40))
    year: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    content: Mapped[str] = mapped_column(Text, default="")
    channel: Mapped[str | None] = mapped_column(String(16))
    org_unit_id: Mapped[int] = mapped_column(BigInteger)          # where the matter arose
    state: Mapped[str] = mapped_column(String(32))
    handling_unit_id: Mapped[int | None] = mapped_column(BigInteger)  # the lead handling unit
    handler_id: Mapped[int | None] = mapped_column(BigInteger)        # the person handling it
    intake_id: Mapped[int | None] = mapped_column(BigInteger)
    due_at: Mapped[datetime | None] = mapped_column(AwareDateTime)    # earliest running limit
    # when the matter was received (a letter's arrival, a visit): its limits count from then
    received_at: Mapped[datetime | None] = mapped_column(AwareDateTime)
    # that limit counts over a year whose holidays are not published yet (see CaseDeadline)
    due_provisional: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    search_grams: Mapped[str] = mapped_column(Text, default="")       # see core.cases.search
    created_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow, onupdate=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(AwareDateTime)


class CaseFlag(TenantModel):
    """A short code set on a case (``collective``, ``repeat``, ``watch`` …), filterable."""

    __tablename__ = "case_flag"
    __table_args__ = (tenant_fk("case_id", "case_record", ondelete="CASCADE"),
                      UniqueConstraint("tenant_id", "case_id", "flag"),
                      Index("ix_case_flag_flag", "tenant_id", "flag"))
    case_id: Mapped[int] = mapped_column(BigInteger)
    flag: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)


class CasePerson(TenantModel):
    """A person involved in a case, in a role (``petitioner``, ``party`` …)."""

    __tablename__ = "case_person"
    __table_args__ = (tenant_fk("case_id", "case_record", ondelete="CASCADE"),
                      tenant_fk("person_id", "person"),
                      UniqueConstraint("tenant_id", "case_id", "person_id", "role"),
                      Index("ix_case_person_person", "tenant_id", "person_id"))
    case_id: Mapped[int] = mapped_column(BigInteger)
    person_id: Mapped[int] = mapped_column(BigInteger)
    role: Mapped[str] = mapped_column(String(32))
    attached_by: Mapped[int | None] = mapped_column(BigInteger)
    attached_at: Mapped[datetime | None] = mapped_column(AwareDateTime)
    # why the case type's PII permission may reveal this person (core.privacy.attach_basis):
    # entered | pii | system; NULL — attached by someone who could not read them: it may not
    pii_basis: Mapped[str | None] = mapped_column(String(16))


class CaseEvent(TenantModel):
    """One entry of a case's timeline: who did what, when, with what note."""

    __tablename__ = "case_event"
    __table_args__ = (tenant_fk("case_id", "case_record", ondelete="CASCADE"),
                      Index("ix_case_event_case", "tenant_id", "case_id", "at"))
    case_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(BigInteger)
    actor_label: Mapped[str] = mapped_column(String(100))
    from_state: Mapped[str | None] = mapped_column(String(32))
    to_state: Mapped[str | None] = mapped_column(String(32))
    org_unit_id: Mapped[int | None] = mapped_column(BigInteger)  # the unit acted for or upon
    note: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict] = mapped_column(JSON, default=dict)  # the event's own details (ids, amounts)


class CaseTask(TenantModel):
    """A handling unit's share of a case after diversion: 分 → one ``sole`` task;
    合 → one ``lead`` and one or more ``co`` tasks, each with its own instruction and due time."""

    __tablename__ = "case_task"
    __table_args__ = (tenant_fk("case_id", "case_record", ondelete="CASCADE"),
                      tenant_fk("org_unit_id", "org_unit"),
                      tenant_fk("member_unit_id", "member_unit"),
                      Index("ix_case_task_case", "tenant_id", "case_id"),
                      Index("ix_case_task_unit", "tenant_id", "org_unit_id", "state"),
                      # open tasks not acknowledged and not yet flagged: what the sweep reads
                      _partial("ix_case_task_ack", "tenant_id", "acknowledge_due_at",
                               where="state = 'open' AND acknowledged_at IS NULL AND ack_flagged_at IS NULL"))
    case_id: Mapped[int] = mapped_column(BigInteger)
    org_unit_id: Mapped[int] = mapped_column(BigInteger)
    member_unit_id: Mapped[int | None] = mapped_column(BigInteger)
    role: Mapped[str] = mapped_column(String(8))           # sole | lead | co
    state: Mapped[str] = mapped_column(String(12), default="open")  # open | done | returned | cancelled
    instruction: Mapped[str | None] = mapped_column(Text)
    due_at: Mapped[datetime | None] = mapped_column(AwareDateTime)
    assigned_by: Mapped[int | None] = mapped_column(BigInteger)
    assigned_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(AwareDateTime)
    result: Mapped[str | None] = mapped_column(Text)
    # 签收 (core.cases.dispatch): by when the receiving unit must acknowledge the task (the
    # county's ``acknowledge_limit``), when it did and who; when the sweep flagged it as late
    acknowledge_due_at: Mapped[datetime | None] = mapped_column(AwareDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(AwareDateTime)
    acknowledged_by: Mapped[int | None] = mapped_column(BigInteger)
    ack_flagged_at: Mapped[datetime | None] = mapped_column(AwareDateTime)


class CaseFollowUp(TenantModel):
    """回访: the dispatcher calls the petitioner back after a unit's answer and records their
    satisfaction (``satisfied`` 满意 | ``basically_satisfied`` 基本满意 | ``dissatisfied`` 不满意)."""

    __tablename__ = "case_follow_up"
    __table_args__ = (tenant_fk("case_id", "case_record", ondelete="CASCADE"),
                      tenant_fk("task_id", "case_task", ondelete="CASCADE"),
                      Index("ix_case_follow_up_case", "tenant_id", "case_id"))
    case_id: Mapped[int] = mapped_column(BigInteger)
    task_id: Mapped[int | None] = mapped_column(BigInteger)   # the answer followed up
    satisfaction: Mapped[str] = mapped_column(String(24))
    note: Mapped[str] = mapped_column(Text, default="")
    called_by: Mapped[int | None] = mapped_column(BigInteger)
    called_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)


class CaseDeadline(TenantModel):
    """A time limit running (or run) on a case or one of its tasks, with how it was computed."""

    __tablename__ = "case_deadline"
    __table_args__ = (tenant_fk("case_id", "case_record", ondelete="CASCADE"),
                      tenant_fk("task_id", "case_task", ondelete="CASCADE"),
                      Index("ix_case_deadline_case", "tenant_id", "case_id"),
                      # running limits not yet reminded of being overdue: what the sweep reads
                      _partial("ix_case_deadline_sweep", "tenant_id", "due_at",
                               where="state = 'running' AND reminded < 2"),
                      _partial("ix_case_deadline_stopped", "tenant_id", "stopped_at", where="state = 'stopped'"),
                      # open limits counted over an unpublished year: what a recompute reads
                      _partial("ix_case_deadline_provisional", "tenant_id", "id",
                               where="provisional AND state <> 'stopped'"))
    case_id: Mapped[int] = mapped_column(BigInteger)
    task_id: Mapped[int | None] = mapped_column(BigInteger)
    rule: Mapped[str] = mapped_column(String(64))      # the rule's key, or "task" / "manual"
    title: Mapped[str] = mapped_column(String(100))
    amount: Mapped[int] = mapped_column(Integer)
    unit: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(AwareDateTime)
    due_at: Mapped[datetime] = mapped_column(AwareDateTime)
    basis: Mapped[str] = mapped_column(String(300))    # how the due time was computed
    source: Mapped[str] = mapped_column(String(200), default="")  # legal or policy source
    state: Mapped[str] = mapped_column(String(12), default="running")  # running | paused | stopped
    paused_at: Mapped[datetime | None] = mapped_column(AwareDateTime)
    stopped_at: Mapped[datetime | None] = mapped_column(AwareDateTime)
    met: Mapped[bool | None] = mapped_column(Boolean)   # stopped in time?
    extensions: Mapped[int] = mapped_column(Integer, default=0)
    reminded: Mapped[int] = mapped_column(Integer, default=0)  # 0 none, 1 due soon, 2 overdue
    # Counted over a year whose holidays are not published yet (weekends assumed); recomputed
    # when the year arrives (core.cases.recompute). ``count_from``/``working_days`` count the
    # last day again on another calendar (core.workdays.WorkCalendar.last_day).
    provisional: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    count_from: Mapped[date | None] = mapped_column(Date)
    working_days: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))


class CaseExtension(TenantModel):
    """A request to extend a time limit, and its approval or rejection."""

    __tablename__ = "case_extension"
    __table_args__ = (tenant_fk("case_id", "case_record", ondelete="CASCADE"),
                      tenant_fk("deadline_id", "case_deadline", ondelete="CASCADE"),
                      Index("ix_case_extension_case", "tenant_id", "case_id"))
    case_id: Mapped[int] = mapped_column(BigInteger)
    deadline_id: Mapped[int] = mapped_column(BigInteger)
    amount: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(12), default="pending")  # pending | approved | rejected
    requested_by: Mapped[int | None] = mapped_column(BigInteger)
    requested_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)
    decided_by: Mapped[int | None] = mapped_column(BigInteger)
    decided_at: Mapped[datetime | None] = mapped_column(AwareDateTime)
    decision_note: Mapped[str | None] = mapped_column(Text)


class Supervision(TenantModel):
    """督办 (``supervise``, level ``normal`` or ``listed`` 挂牌) or 催办 (``urge``) of a case."""

    __tablename__ = "case_supervision"
    __table_args__ = (tenant_fk("case_id", "case_record", ondelete="CASCADE"),
                      tenant_fk("issuer_unit_id", "org_unit"),
                      tenant_fk("target_unit_id", "org_unit"),
                      Index("ix_case_supervision_case", "tenant_id", "case_id"),
                      _partial("ix_case_supervision_open_due", "tenant_id", "due_at", where="state = 'open'"))
    case_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(12))               # supervise | urge
    level: Mapped[str] = mapped_column(String(12), default="normal")  # normal | listed
    issuer_id: Mapped[int | None] = mapped_column(BigInteger)
    issuer_unit_id: Mapped[int] = mapped_column(BigInteger)
    target_unit_id: Mapped[int] = mapped_column(BigInteger)
    instruction: Mapped[str] = mapped_column(Text)
    response_required: Mapped[bool] = mapped_column(Boolean, default=True)
    due_at: Mapped[datetime | None] = mapped_column(AwareDateTime)  # when the response is due
    state: Mapped[str] = mapped_column(String(12), default="open")  # open | answered | closed
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    escalated_to_unit_id: Mapped[int | None] = mapped_column(BigInteger)
    response: Mapped[str | None] = mapped_column(Text)
    responded_by: Mapped[int | None] = mapped_column(BigInteger)
    responded_at: Mapped[datetime | None] = mapped_column(AwareDateTime)
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)


class Intake(TenantModel):
    """A matter registered at the one window (INT-1), with first-inquiry responsibility (INT-2)."""

    __tablename__ = "intake"
    __table_args__ = (tenant_fk("org_unit_id", "org_unit"),
                      tenant_fk("received_by", "app_user"),
                      tenant_fk("case_id", "case_record"),
                      Index("ix_intake_unit", "tenant_id", "org_unit_id", "received_at"),
                      Index("ix_intake_outcome", "tenant_id", "outcome", "received_at"))
    channel: Mapped[str] = mapped_column(String(16))
    org_unit_id: Mapped[int] = mapped_column(BigInteger)   # the centre that received it
    arose_unit_id: Mapped[int | None] = mapped_column(BigInteger)  # where the matter arose
    subject: Mapped[str] = mapped_column(String(200))
    content: Mapped[str] = mapped_column(Text)
    received_by: Mapped[int | None] = mapped_column(BigInteger)  # first-inquiry person
    received_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)
    # pending (awaits the sorting meeting) | resolved (on the spot) | referred | case | reported_up
    outcome: Mapped[str] = mapped_column(String(16), default="pending")
    outcome_note: Mapped[str | None] = mapped_column(Text)
    referred_to: Mapped[str | None] = mapped_column(String(200))
    case_id: Mapped[int | None] = mapped_column(BigInteger)
    decided_by: Mapped[int | None] = mapped_column(BigInteger)
    decided_at: Mapped[datetime | None] = mapped_column(AwareDateTime)


class IntakePerson(TenantModel):
    __tablename__ = "intake_person"
    __table_args__ = (tenant_fk("intake_id", "intake", ondelete="CASCADE"),
                      tenant_fk("person_id", "person"),
                      UniqueConstraint("tenant_id", "intake_id", "person_id"))
    intake_id: Mapped[int] = mapped_column(BigInteger)
    person_id: Mapped[int] = mapped_column(BigInteger)
    role: Mapped[str] = mapped_column(String(32), default="requester")


class CaseReminder(TenantModel):
    """One reminder or escalation the sweep decided on; ``key`` makes it happen once.

    ``key`` is ``due_soon:<deadline>``, ``overdue:<deadline>`` or ``escalate:<supervision>:<level>``;
    the unique constraint means two sweeps (or a retried job) cannot create it twice, and a
    row still ``pending`` after a Redis flush is simply enqueued again by the next sweep.
    """

    __audit__ = False  # system bookkeeping; what it causes (events, messages) is audited
    __tablename__ = "case_reminder"
    __table_args__ = (UniqueConstraint("tenant_id", "key"),
                      tenant_fk("case_id", "case_record", ondelete="CASCADE"),
                      _partial("ix_case_reminder_pending", "tenant_id", "enqueued_at", where="state = 'pending'"))
    case_id: Mapped[int] = mapped_column(BigInteger)
    key: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(16))   # due_soon | overdue | escalate
    state: Mapped[str] = mapped_column(String(12), default="pending")  # pending | done
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)
    enqueued_at: Mapped[datetime | None] = mapped_column(AwareDateTime)
    done_at: Mapped[datetime | None] = mapped_column(AwareDateTime)


class CaseCounter(TenantModel):
    """The last sequence number given per case type and year (row-locked while numbering)."""

    __audit__ = False
    __tablename__ = "case_counter"
    __table_args__ = (UniqueConstraint("tenant_id", "case_type", "year"),)
    case_type: Mapped[str] = mapped_column(String(64))
    year: Mapped[int] = mapped_column(Integer)
    value: Mapped[int] = mapped_column(Integer, default=0)


class CaseTally(TenantModel):
    """Cases per (unit where they arose, type, state): dashboard counts without counting rows."""

    __audit__ = False
    __tablename__ = "case_tally"
    __table_args__ = (UniqueConstraint("tenant_id", "org_unit_id", "case_type", "state"),)
    org_unit_id: Mapped[int] = mapped_column(BigInteger)
    case_type: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(32))
    n: Mapped[int] = mapped_column(BigInteger, default=0)


class CaseMonthTally(TenantModel):
    """Cases per (unit where they arose, type, local month of registration, state): counts and
    year-on-year over a period without reading case rows (``core.cases.tally``, issue 24)."""

    __audit__ = False
    __tablename__ = "case_month_tally"
    __table_args__ = (UniqueConstraint("tenant_id", "org_unit_id", "case_type", "month", "state"),
                      Index("ix_case_month_tally_month", "tenant_id", "month"))
    org_unit_id: Mapped[int] = mapped_column(BigInteger)
    case_type: Mapped[str] = mapped_column(String(64))
    month: Mapped[str] = mapped_column(String(7))      # 'YYYY-MM' in Asia/Shanghai (statistics.month_key)
    state: Mapped[str] = mapped_column(String(32))
    n: Mapped[int] = mapped_column(BigInteger, default=0)


class CaseLimitTally(TenantModel):
    """Stopped time limits per (unit where the case arose, type, local month of the stop, met):
    on-time rates without reading limits. Windows (``met`` empty) and the limits of withdrawn
    tasks are not counted, as in ``statistics.on_time`` (``core.cases.tally``, issue 24)."""

    __audit__ = False
    __tablename__ = "case_limit_tally"
    __table_args__ = (UniqueConstraint("tenant_id", "org_unit_id", "case_type", "month", "met"),
                      Index("ix_case_limit_tally_month", "tenant_id", "month"))
    org_unit_id: Mapped[int] = mapped_column(BigInteger)
    case_type: Mapped[str] = mapped_column(String(64))
    month: Mapped[str] = mapped_column(String(7))      # month of ``stopped_at``, Asia/Shanghai
    met: Mapped[bool] = mapped_column(Boolean)
    n: Mapped[int] = mapped_column(BigInteger, default=0)


class CaseTopTally(TenantModel):
    """``CaseMonthTally`` rolled up to the county's top units: cases per (top unit, type, local
    month of registration, state). The top unit of a case is the child of the county's root its
    unit lies under (the root itself for a case registered at the root), so the county's figures
    and a top unit's (a township's) read a few thousand rows instead of a hundred thousand
    per-unit rows (``core.cases.tally``, issue 24). ``top_id`` is the top unit's id. Moving a unit
    to another top unit moves its subtree's counts (``tally.move_subtree``)."""

    __audit__ = False
    __tablename__ = "case_top_tally"
    __table_args__ = (UniqueConstraint("tenant_id", "top_id", "case_type", "month", "state"),)
    top_id: Mapped[int] = mapped_column(BigInteger)
    case_type: Mapped[str] = mapped_column(String(64))
    month: Mapped[str] = mapped_column(String(7))
    state: Mapped[str] = mapped_column(String(32))
    n: Mapped[int] = mapped_column(BigInteger, default=0)


class CaseTopLimitTally(TenantModel):
    """``CaseLimitTally`` rolled up to the county's top units, as :class:`CaseTopTally`."""

    __audit__ = False
    __tablename__ = "case_top_limit_tally"
    __table_args__ = (UniqueConstraint("tenant_id", "top_id", "case_type", "month", "met"),)
    top_id: Mapped[int] = mapped_column(BigInteger)
    case_type: Mapped[str] = mapped_column(String(64))
    month: Mapped[str] = mapped_column(String(7))
    met: Mapped[bool] = mapped_column(Boolean)
    n: Mapped[int] = mapped_column(BigInteger, default=0)


class CaseTypeSetting(TenantModel):
    """A county's settings for one case type (validated by ``core.cases.settings``)."""

    __tablename__ = "case_type_setting"
    __table_args__ = (UniqueConstraint("tenant_id", "case_type"),)
    case_type: Mapped[str] = mapped_column(String(64))
    settings: Mapped[dict] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow, onupdate=utcnow)


class CalendarDay(TenantModel):
    """A county's override of one day: a working day or a rest day, with why."""

    __tablename__ = "calendar_day"
    __table_args__ = (UniqueConstraint("tenant_id", "day"),)
    day: Mapped[date] = mapped_column(Date)
    is_workday: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str] = mapped_column(String(100), default="")


class CalendarYear(TenantModel):
    """A year the county has entered itself (holidays and adjusted working days as
    ``CalendarDay`` rows), for a year the calendar package does not cover yet."""

    __tablename__ = "calendar_year"
    __table_args__ = (UniqueConstraint("tenant_id", "year"),)
    year: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(200))  # the notice the days were taken from


class NationalCalendarYear(ReferenceModel):
    """A year of the national holiday schedule the platform operator loaded, with the State
    Council notice it comes from (the same for every county: a Citus reference table)."""

    __tablename__ = "national_calendar_year"
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    notice: Mapped[str] = mapped_column(String(200))         # 国务院办公厅关于2027年部分节假日安排的通知
    notice_number: Mapped[str] = mapped_column(String(60))   # 国办发明电〔2026〕…号
    published_on: Mapped[date] = mapped_column(Date)
    loaded_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)
    loaded_by: Mapped[str] = mapped_column(String(100), default="")


class NationalCalendarDay(ReferenceModel):
    """One day of a loaded year that differs from the plain week: a holiday, or an adjusted
    working day (调休上班). The year's other days follow the week."""

    __tablename__ = "national_calendar_day"
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    year: Mapped[int] = mapped_column(Integer, ForeignKey("national_calendar_year.year", ondelete="CASCADE"),
                                      index=True)
    is_workday: Mapped[bool] = mapped_column(Boolean)
    name: Mapped[str] = mapped_column(String(50), default="")  # 春节, 国庆节 …


class Attachment(TenantModel):
    """A file attached to a case. Stored under a random key; the name is for display only."""

    __tablename__ = "attachment"
    __table_args__ = (tenant_fk("case_id", "case_record", ondelete="CASCADE"),
                      UniqueConstraint("tenant_id", "storage_key"),
                      Index("ix_attachment_case", "tenant_id", "case_id"))
    case_id: Mapped[int] = mapped_column(BigInteger)
    storage_key: Mapped[str] = mapped_column(String(100))
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by: Mapped[int | None] = mapped_column(BigInteger)
    uploaded_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(AwareDateTime)
    deleted_by: Mapped[int | None] = mapped_column(BigInteger)
