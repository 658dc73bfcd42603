"""Tables of the village affairs module ("五事", seed 001 doc 5).

A project (集中议事) carries its proposal, the council's (两委) discussion, the vote of the
villagers' meeting or representatives' meeting and its progress; each publication (公开办事) is
a row of its own holding what was shown, so the public page shows exactly what was published
and when. An evaluation (两票评事) holds the counts of both ballots; below the county's threshold
it names the rectification case it started. No table here holds a villager's personal data.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Boolean, Date, Index, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.sdk import AwareDateTime, TenantModel, tenant_fk, utcnow


class Project(TenantModel):
    """A village project through proposal → 两委 discussion → vote → implementation (VIL-3)."""

    __tablename__ = "village_project"
    __table_args__ = (tenant_fk("org_unit_id", "org_unit"),
                      Index("ix_village_project_unit", "tenant_id", "org_unit_id", "id"))
    org_unit_id: Mapped[int] = mapped_column(BigInteger)          # the village
    title: Mapped[str] = mapped_column(String(100))
    summary: Mapped[str] = mapped_column(Text, default="")
    budget: Mapped[Decimal] = mapped_column(Numeric(14, 2))         # 元
    state: Mapped[str] = mapped_column(String(16), default="proposed")  # see projects.STATES
    proposed_on: Mapped[date] = mapped_column(Date)
    created_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)
    # the council's (两委) discussion
    discussed_on: Mapped[date | None] = mapped_column(Date)
    council_opinion: Mapped[str] = mapped_column(Text, default="")
    # the vote (村民会议 / 户代表会议 / 村民代表会议)
    body: Mapped[str | None] = mapped_column(String(16))             # settings.BODIES
    voted_on: Mapped[date | None] = mapped_column(Date)
    members: Mapped[int | None] = mapped_column(Integer)
    present: Mapped[int | None] = mapped_column(Integer)
    votes_for: Mapped[int | None] = mapped_column(Integer)
    votes_against: Mapped[int | None] = mapped_column(Integer)
    votes_abstain: Mapped[int | None] = mapped_column(Integer)
    quorum_rule: Mapped[str | None] = mapped_column(String(16))      # the quorum in force at the vote
    approval_pct: Mapped[int | None] = mapped_column(Integer)        # the threshold in force at the vote
    minutes: Mapped[str] = mapped_column(Text, default="")          # the minutes' summary (not published)
    # the photo (or scan) of the minutes as signed at the meeting (sdk.keep_file; never published)
    minutes_photo_key: Mapped[str | None] = mapped_column(String(100))
    minutes_photo_filename: Mapped[str | None] = mapped_column(String(200))
    minutes_photo_content_type: Mapped[str | None] = mapped_column(String(100))
    minutes_photo_size: Mapped[int | None] = mapped_column(BigInteger)
    minutes_photo_sha256: Mapped[str | None] = mapped_column(String(64))
    minutes_photo_at: Mapped[datetime | None] = mapped_column(AwareDateTime)
    minutes_photo_by: Mapped[int | None] = mapped_column(BigInteger)
    # implementation
    progress_pct: Mapped[int] = mapped_column(Integer, default=0)
    progress_note: Mapped[str] = mapped_column(Text, default="")
    progress_on: Mapped[date | None] = mapped_column(Date)
    completed_on: Mapped[date | None] = mapped_column(Date)
    completion_note: Mapped[str] = mapped_column(Text, default="")


class Publication(TenantModel):
    """One stage of a project made public (VIL-4): what was shown, when, and on time or not."""

    __tablename__ = "village_publication"
    __table_args__ = (tenant_fk("project_id", "village_project", ondelete="CASCADE"),
                      tenant_fk("org_unit_id", "org_unit"),
                      Index("ix_village_publication_unit", "tenant_id", "org_unit_id", "published_at"))
    project_id: Mapped[int] = mapped_column(BigInteger)
    org_unit_id: Mapped[int] = mapped_column(BigInteger)           # the project's village
    stage: Mapped[str] = mapped_column(String(16))                  # decision | progress | completion
    content: Mapped[str] = mapped_column(Text)                      # the text shown on the public page
    act_on: Mapped[date] = mapped_column(Date)                      # the date of what is published
    published_on: Mapped[date] = mapped_column(Date)
    published_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)
    published_by: Mapped[int | None] = mapped_column(BigInteger)
    on_time: Mapped[bool | None] = mapped_column(Boolean)          # None: the county sets no time limit


class Evaluation(TenantModel):
    """A yearly two-ballot evaluation of a village (VIL-5): counts per option of each ballot."""

    __tablename__ = "village_evaluation"
    __table_args__ = (tenant_fk("org_unit_id", "org_unit"), tenant_fk("case_id", "case_record"),
                      UniqueConstraint("tenant_id", "org_unit_id", "year", "subject"))
    org_unit_id: Mapped[int] = mapped_column(BigInteger)
    year: Mapped[int] = mapped_column(Integer)
    subject: Mapped[str] = mapped_column(String(100))               # 村两委班子 / a project …
    held_on: Mapped[date] = mapped_column(Date)
    villager_issued: Mapped[int] = mapped_column(Integer)
    villager_satisfied: Mapped[int] = mapped_column(Integer)
    villager_basic: Mapped[int] = mapped_column(Integer)
    villager_unsatisfied: Mapped[int] = mapped_column(Integer)
    party_issued: Mapped[int] = mapped_column(Integer)
    party_satisfied: Mapped[int] = mapped_column(Integer)
    party_basic: Mapped[int] = mapped_column(Integer)
    party_unsatisfied: Mapped[int] = mapped_column(Integer)
    villager_pct: Mapped[Decimal] = mapped_column(Numeric(5, 1))
    party_pct: Mapped[Decimal] = mapped_column(Numeric(5, 1))
    threshold_pct: Mapped[int] = mapped_column(Integer)             # the county's threshold at the time
    passed: Mapped[bool] = mapped_column(Boolean)
    case_id: Mapped[int | None] = mapped_column(BigInteger)         # the rectification (village.rectification)
    created_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)
