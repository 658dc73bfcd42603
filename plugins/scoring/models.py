"""Tables of the scoring module: rubric versions, periods, assessors' entries, the frozen
results of a published period and appeals. Every key leads with ``tenant_id``."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, Boolean, Date, Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.sdk import AwareDateTime, TenantModel, tenant_fk, utcnow


class Rubric(TenantModel):
    """One version of a county's rubric for a level assessed and a year; a save makes a new version."""

    __tablename__ = "scoring_rubric"
    __table_args__ = (UniqueConstraint("tenant_id", "level", "year", "version"),)
    level: Mapped[str] = mapped_column(String(32))          # the org level assessed (township, village …)
    year: Mapped[int] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(100))
    items: Mapped[list] = mapped_column(JSON, default=list)  # see rubric.ItemSchema
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)
    created_by: Mapped[int | None] = mapped_column(BigInteger)


class Period(TenantModel):
    """A competition or assessment period of one level: open → published → appeal → final."""

    __tablename__ = "scoring_period"
    __table_args__ = (UniqueConstraint("tenant_id", "level", "kind", "year", "number"),
                      tenant_fk("rubric_id", "scoring_rubric"))
    level: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))            # quarter | half | year
    year: Mapped[int] = mapped_column(Integer)
    number: Mapped[int] = mapped_column(Integer)             # 1–4, 1–2, 1
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)              # exclusive
    state: Mapped[str] = mapped_column(String(16), default="open")
    rubric_id: Mapped[int | None] = mapped_column(BigInteger)  # frozen when published
    published_at: Mapped[datetime | None] = mapped_column(AwareDateTime)
    published_by: Mapped[int | None] = mapped_column(BigInteger)         # who published it …
    published_unit_id: Mapped[int | None] = mapped_column(BigInteger)    # … for which unit (the notice's issuer)
    appeal_until: Mapped[date | None] = mapped_column(Date)  # last day appeals are taken
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)


class Entry(TenantModel):
    """An assessor's entry for a manual item (points) or a check item (yes/no), with evidence."""

    __tablename__ = "scoring_entry"
    __table_args__ = (tenant_fk("period_id", "scoring_period", ondelete="CASCADE"), tenant_fk("org_unit_id", "org_unit"),
                      UniqueConstraint("tenant_id", "period_id", "org_unit_id", "item_key"))
    period_id: Mapped[int] = mapped_column(BigInteger)
    org_unit_id: Mapped[int] = mapped_column(BigInteger)
    item_key: Mapped[str] = mapped_column(String(16))
    points: Mapped[float | None] = mapped_column(Float)
    passed: Mapped[bool | None] = mapped_column(Boolean)
    note: Mapped[str] = mapped_column(Text, default="")
    entered_by: Mapped[int | None] = mapped_column(BigInteger)
    entered_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)


class Result(TenantModel):
    """A unit's frozen score in a published period: total, rank, veto and every item explained."""

    __tablename__ = "scoring_result"
    __table_args__ = (tenant_fk("period_id", "scoring_period", ondelete="CASCADE"), tenant_fk("org_unit_id", "org_unit"),
                      UniqueConstraint("tenant_id", "period_id", "org_unit_id"),
                      Index("ix_scoring_result_rank", "tenant_id", "period_id", "rank"))
    period_id: Mapped[int] = mapped_column(BigInteger)
    org_unit_id: Mapped[int] = mapped_column(BigInteger)
    total: Mapped[float] = mapped_column(Float)
    rank: Mapped[int] = mapped_column(Integer)
    vetoed: Mapped[bool] = mapped_column(Boolean, default=False)
    veto_cause: Mapped[str] = mapped_column(Text, default="")
    honoured: Mapped[bool] = mapped_column(Boolean, default=False)
    reward: Mapped[int | None] = mapped_column(Integer)        # yuan, by the county's rewards per rank when published
    items: Mapped[list] = mapped_column(JSON, default=list)   # each item's figure, rule, points, records


class Appeal(TenantModel):
    """A unit's appeal against one item of a published period, and the county's decision."""

    __tablename__ = "scoring_appeal"
    __table_args__ = (tenant_fk("period_id", "scoring_period", ondelete="CASCADE"), tenant_fk("org_unit_id", "org_unit"),
                      Index("ix_scoring_appeal_period", "tenant_id", "period_id", "state"))
    period_id: Mapped[int] = mapped_column(BigInteger)
    org_unit_id: Mapped[int] = mapped_column(BigInteger)
    item_key: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default="pending")   # pending | upheld | rejected
    decision: Mapped[str] = mapped_column(Text, default="")
    points_before: Mapped[float | None] = mapped_column(Float)
    points_after: Mapped[float | None] = mapped_column(Float)
    total_before: Mapped[float | None] = mapped_column(Float)
    total_after: Mapped[float | None] = mapped_column(Float)
    filed_by: Mapped[int | None] = mapped_column(BigInteger)
    filed_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)
    decided_by: Mapped[int | None] = mapped_column(BigInteger)
    decided_at: Mapped[datetime | None] = mapped_column(AwareDateTime)
