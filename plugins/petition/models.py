"""Tables of the petition module: its own fields of each petition (``petition_case``).

The case itself — number, state, units, time limits, timeline, petitioners (``case_person``
→ ``person``, ID number and phone encrypted) — is the core's; this table keeps only what is
special to a petition.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, Boolean, Date, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.sdk import AwareDateTime, Encrypted, TenantModel, tenant_fk, utcnow


class PetitionCase(TenantModel):
    """One petition's own fields, one row per ``petition.case``."""

    __tablename__ = "petition_case"
    __table_args__ = (tenant_fk("case_id", "case_record", ondelete="CASCADE"),
                      tenant_fk("repeat_of_id", "case_record"),
                      UniqueConstraint("tenant_id", "case_id"),
                      Index("ix_petition_case_category", "tenant_id", "category", "case_id"),
                      Index("ix_petition_case_query", "tenant_id", "query_hash"))
    case_id: Mapped[int] = mapped_column(BigInteger)
    form: Mapped[str] = mapped_column(String(20))             # see cases.FORMS
    category: Mapped[str] = mapped_column(String(32))         # the county's taxonomy (settings)
    demands: Mapped[str] = mapped_column(Text, default="")
    visitors: Mapped[int] = mapped_column(Integer, default=1)  # people who came (visits)
    procedure: Mapped[str | None] = mapped_column(String(16))  # set on acceptance: see cases.PROCEDURES
    first_inquiry: Mapped[str] = mapped_column(String(100), default="")  # INT-2: who was asked first
    repeat_of_id: Mapped[int | None] = mapped_column(BigInteger)        # the earlier petition (PET-6)
    repeat_count: Mapped[int] = mapped_column(Integer, default=0)      # earlier petitions on it
    override_reason: Mapped[str | None] = mapped_column(String(500))   # accepted again after 复核
    replied_at: Mapped[datetime | None] = mapped_column(AwareDateTime)  # the written reply (复查 window)
    reviewed_at: Mapped[datetime | None] = mapped_column(AwareDateTime)  # the 复查 opinion (复核 window)
    outcome: Mapped[str] = mapped_column(Text, default="")  # the latest reply / opinion
    # PET-7: the code printed on the receipt (kept encrypted to reprint it; looked up by its hash)
    query_code: Mapped[str | None] = mapped_column(Encrypted)
    query_hash: Mapped[str | None] = mapped_column(String(64))
    rating: Mapped[str | None] = mapped_column(String(24))            # the petitioner's, see status.RATINGS
    rated_at: Mapped[datetime | None] = mapped_column(AwareDateTime)
    risk_grade: Mapped[str | None] = mapped_column(String(8))         # the latest assessment's (PET-5)


class LeaderOwnership(TenantModel):
    """PET-3: one problem, one leader, one team (一个问题、一名领导、一套班子), with the three
    responsibilities 包调查、包处理、包稳定; kept until the case is closed."""

    __tablename__ = "petition_leader"
    __table_args__ = (tenant_fk("case_id", "case_record", ondelete="CASCADE"),
                      tenant_fk("leader_user_id", "app_user"),
                      Index("ix_petition_leader_case", "tenant_id", "case_id"))
    case_id: Mapped[int] = mapped_column(BigInteger)
    leader_name: Mapped[str] = mapped_column(String(50))
    leader_post: Mapped[str] = mapped_column(String(100), default="")
    leader_user_id: Mapped[int | None] = mapped_column(BigInteger)
    team: Mapped[list] = mapped_column(JSON, default=list)      # [{name, post}] — the 班子
    investigate: Mapped[str] = mapped_column(Text, default="")  # 包调查: who, what
    handle: Mapped[str] = mapped_column(Text, default="")       # 包处理
    stabilise: Mapped[str] = mapped_column(Text, default="")    # 包稳定
    assigned_by: Mapped[int | None] = mapped_column(BigInteger)
    assigned_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)
    dissolved_at: Mapped[datetime | None] = mapped_column(AwareDateTime)


class RiskAssessment(TenantModel):
    """PET-5: one step of the three-level risk assessment (handler → department head → chief)."""

    __tablename__ = "petition_risk"
    __table_args__ = (tenant_fk("case_id", "case_record", ondelete="CASCADE"),
                      Index("ix_petition_risk_case", "tenant_id", "case_id"))
    case_id: Mapped[int] = mapped_column(BigInteger)
    level: Mapped[str] = mapped_column(String(16))   # handler | head | chief
    grade: Mapped[str] = mapped_column(String(8))    # low | medium | high
    opinion: Mapped[str] = mapped_column(Text, default="")
    assessed_by: Mapped[int | None] = mapped_column(BigInteger)
    assessed_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)


class WatchEntry(TenantModel):
    """PET-5: a petitioner on the watch list, with the signs of escalation seen."""

    __tablename__ = "petition_watch"
    __table_args__ = (tenant_fk("person_id", "person"), tenant_fk("org_unit_id", "org_unit"),
                      Index("ix_petition_watch_unit", "tenant_id", "org_unit_id", "ended_at"),
                      Index("ix_petition_watch_person", "tenant_id", "person_id"))
    person_id: Mapped[int] = mapped_column(BigInteger)
    org_unit_id: Mapped[int] = mapped_column(BigInteger)   # the unit that watches (the person's village)
    grade: Mapped[str] = mapped_column(String(8))          # low | medium | high
    signs: Mapped[str] = mapped_column(Text)               # what was seen (plans to go to Beijing …)
    added_by: Mapped[int | None] = mapped_column(BigInteger)
    added_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(AwareDateTime)
    end_reason: Mapped[str | None] = mapped_column(String(500))


class FollowUp(TenantModel):
    """PET-5: a stability-control follow-up task on a watched petitioner (稳控), due on a day."""

    __tablename__ = "petition_followup"
    __table_args__ = (tenant_fk("watch_id", "petition_watch", ondelete="CASCADE"),
                      Index("ix_petition_followup_watch", "tenant_id", "watch_id"))
    watch_id: Mapped[int] = mapped_column(BigInteger)
    task: Mapped[str] = mapped_column(String(500))
    due_on: Mapped[date] = mapped_column(Date)
    assignee_id: Mapped[int | None] = mapped_column(BigInteger)
    done_at: Mapped[datetime | None] = mapped_column(AwareDateTime)
    result: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(BigInteger)


class Quota(TenantModel):
    """PET-4: a unit's petition quota (上访指标) of one kind for one period, set by the county.

    Units without a row of their own take the default of their level (module settings)."""

    __tablename__ = "petition_quota"
    __table_args__ = (tenant_fk("org_unit_id", "org_unit"),
                      UniqueConstraint("tenant_id", "org_unit_id", "period", "kind"))
    org_unit_id: Mapped[int] = mapped_column(BigInteger)
    period: Mapped[str] = mapped_column(String(7))   # 2026 | 2026-Q1 | 2026-03 (settings.quota_period)
    kind: Mapped[str] = mapped_column(String(16))    # see quotas.KINDS
    quota: Mapped[int] = mapped_column(Integer)


class Escalation(TenantModel):
    """PET-4: a level-skipping (越级访) or abnormal (非正常访) petition, often reported back by a
    higher level, attributed to the petitioner's village (and so to its township)."""

    __tablename__ = "petition_escalation"
    __table_args__ = (tenant_fk("org_unit_id", "org_unit"), tenant_fk("person_id", "person"),
                      tenant_fk("case_id", "case_record"),
                      Index("ix_petition_escalation_period", "tenant_id", "period", "org_unit_id"))
    org_unit_id: Mapped[int] = mapped_column(BigInteger)   # the petitioner's village
    person_id: Mapped[int | None] = mapped_column(BigInteger)
    petitioner: Mapped[str] = mapped_column(String(100))   # name(s) as reported
    level: Mapped[str] = mapped_column(String(16))         # where they went: county | city | province | beijing
    abnormal: Mapped[bool] = mapped_column(Boolean, default=False)  # 非正常访
    occurred_on: Mapped[date] = mapped_column(Date)
    period: Mapped[str] = mapped_column(String(7))
    people: Mapped[int] = mapped_column(Integer, default=1)
    reported_by: Mapped[str] = mapped_column(String(100), default="")  # 市信访局通报 …
    case_id: Mapped[int | None] = mapped_column(BigInteger)
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_by: Mapped[int | None] = mapped_column(BigInteger)
    recorded_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)


class Accountability(TenantModel):
    """PET-4: the accountability record a quota breach or an abnormal petition raises, naming
    the unit's area leader and stationed cadre as they were on the day."""

    __tablename__ = "petition_accountability"
    __table_args__ = (tenant_fk("org_unit_id", "org_unit"), tenant_fk("escalation_id", "petition_escalation"),
                      UniqueConstraint("tenant_id", "escalation_id", "org_unit_id", "kind"),
                      Index("ix_petition_accountability_unit", "tenant_id", "org_unit_id", "period"))
    escalation_id: Mapped[int] = mapped_column(BigInteger)
    org_unit_id: Mapped[int] = mapped_column(BigInteger)   # the unit whose quota broke
    period: Mapped[str] = mapped_column(String(7))
    kind: Mapped[str] = mapped_column(String(16))          # the quota kind that broke (quotas.KINDS)
    used: Mapped[int] = mapped_column(Integer)
    quota: Mapped[int] = mapped_column(Integer)
    persons: Mapped[list] = mapped_column(JSON, default=list)  # [{kind, kind_title, name, network_role_id, user_id}]
    state: Mapped[str] = mapped_column(String(16), default="open")  # open | closed
    outcome: Mapped[str] = mapped_column(Text, default="")  # the measure taken (组织措施 …)
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(AwareDateTime)
    closed_by: Mapped[int | None] = mapped_column(BigInteger)
