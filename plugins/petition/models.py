"""Tables of the petition module: its own fields of each petition (``petition_case``).

The case itself — number, state, units, time limits, timeline, petitioners (``case_person``
→ ``person``, ID number and phone encrypted) — is the core's; this table keeps only what is
special to a petition.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.sdk import AwareDateTime, TenantModel, tenant_fk


class PetitionCase(TenantModel):
    """One petition's own fields, one row per ``petition.case``."""

    __tablename__ = "petition_case"
    __table_args__ = (tenant_fk("case_id", "case_record", ondelete="CASCADE"),
                      tenant_fk("repeat_of_id", "case_record"),
                      UniqueConstraint("tenant_id", "case_id"),
                      Index("ix_petition_case_category", "tenant_id", "category", "case_id"))
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
