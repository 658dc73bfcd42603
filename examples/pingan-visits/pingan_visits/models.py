"""Tables of the visits plugin: every name starts with ``visits_``, every key with ``tenant_id``.

``sdk.TenantModel`` gives each row ``(tenant_id, id)`` as its primary key and puts it under
the tenant guard (every query filtered to the bound county; PostgreSQL row-level security
behind it). Foreign keys to other tenant tables go through ``sdk.tenant_fk`` so they carry
``tenant_id`` too. The schema itself is created by the Alembic branch in ``migrations/``,
never at import.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.sdk import AwareDateTime, TenantModel, tenant_fk, utcnow


class VisitsGreeting(TenantModel):
    """One greeting, sent to someone in one org unit (the unit decides who may see it)."""

    __tablename__ = "visits_greeting"
    __table_args__ = (
        tenant_fk("org_unit_id", "org_unit"),
        tenant_fk("created_by_id", "app_user"),
        Index("ix_visits_greeting_unit", "tenant_id", "org_unit_id", "created_at"),
    )
    org_unit_id: Mapped[int] = mapped_column(BigInteger)
    recipient: Mapped[str] = mapped_column(String(50))
    message: Mapped[str] = mapped_column(String(200))
    created_by_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)


class VisitsTally(TenantModel):
    """What the scheduled job counted: the county's greetings at one moment."""

    __tablename__ = "visits_tally"
    counted_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)
    greetings: Mapped[int] = mapped_column(Integer)


class VisitsVisit(TenantModel):
    """The plugin's own fields of a visit request (case type ``visits.visit``), one row per case.

    The case itself (number, state, unit, time limits, timeline) is the core's
    ``case_record``; a plugin keeps only what is special about its cases, typed, in its own
    table keyed by the case id.
    """

    __tablename__ = "visits_visit"
    __table_args__ = (tenant_fk("case_id", "case_record", ondelete="CASCADE"),
                      UniqueConstraint("tenant_id", "case_id"))
    case_id: Mapped[int] = mapped_column(BigInteger)
    visit_kind: Mapped[str] = mapped_column(String(16))      # home | phone
    result: Mapped[str | None] = mapped_column(String(500))  # written when the visit is closed
