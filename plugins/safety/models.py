"""Tables of the safety module. A hazard is a core case (``safety.hazard``: number, state, time
limits, supervision, timeline); these tables keep places, checklists, inspections, what is
special to a hazard and its rectification, and incident reports.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, Boolean, Date, Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.sdk import AwareDateTime, TenantModel, tenant_fk, utcnow


class Place(TenantModel):
    """A place to inspect (SAF-1), registered on the unit it belongs to. ``extra`` holds the
    fields its type declares (settings ``place_fields``), validated against them on every write."""

    __tablename__ = "safety_place"
    __table_args__ = (tenant_fk("org_unit_id", "org_unit"),
                      Index("ix_safety_place_unit", "tenant_id", "org_unit_id", "id"))
    org_unit_id: Mapped[int] = mapped_column(BigInteger)
    place_type: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(100))
    address: Mapped[str] = mapped_column(String(200), default="")
    responsible_person: Mapped[str] = mapped_column(String(50))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    extra: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(BigInteger)


class Checklist(TenantModel):
    """A checklist template for one place type (county-wide)."""

    __tablename__ = "safety_checklist"
    __table_args__ = (Index("ix_safety_checklist_type", "tenant_id", "place_type"),)
    place_type: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)


class ChecklistItem(TenantModel):
    """A question of a checklist: the expected answer, its weight in the score, and whether an
    answer other than the expected one is a hazard, of which grade."""

    __tablename__ = "safety_checklist_item"
    __table_args__ = (tenant_fk("checklist_id", "safety_checklist", ondelete="CASCADE"),
                      Index("ix_safety_checklist_item_list", "tenant_id", "checklist_id", "position"))
    checklist_id: Mapped[int] = mapped_column(BigInteger)
    position: Mapped[int] = mapped_column(Integer)
    section: Mapped[str] = mapped_column(String(50), default="")
    question: Mapped[str] = mapped_column(String(300))
    expected: Mapped[bool] = mapped_column(Boolean, default=True)   # the answer that passes: 是 / 否
    weight: Mapped[int] = mapped_column(Integer, default=1)
    hazard: Mapped[bool] = mapped_column(Boolean, default=False)     # a failed answer raises a hazard
    grade: Mapped[str | None] = mapped_column(String(32))            # of this grade (settings)


class Inspection(TenantModel):
    """One inspection of a place against a checklist, with its score (percent of the weights met)."""

    __tablename__ = "safety_inspection"
    __table_args__ = (tenant_fk("place_id", "safety_place"), tenant_fk("org_unit_id", "org_unit"),
                      tenant_fk("checklist_id", "safety_checklist"),
                      Index("ix_safety_inspection_unit", "tenant_id", "org_unit_id", "id"))
    place_id: Mapped[int] = mapped_column(BigInteger)
    org_unit_id: Mapped[int] = mapped_column(BigInteger)     # the place's unit: who may see it
    checklist_id: Mapped[int] = mapped_column(BigInteger)
    inspector_id: Mapped[int | None] = mapped_column(BigInteger)
    inspected_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)
    score: Mapped[float] = mapped_column(Float)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    hazards: Mapped[int] = mapped_column(Integer, default=0)
    note: Mapped[str] = mapped_column(Text, default="")
    latitude: Mapped[float | None] = mapped_column(Float)      # where it was recorded (optional)
    longitude: Mapped[float | None] = mapped_column(Float)


class Answer(TenantModel):
    __tablename__ = "safety_answer"
    __table_args__ = (tenant_fk("inspection_id", "safety_inspection", ondelete="CASCADE"),
                      UniqueConstraint("tenant_id", "inspection_id", "item_id"))
    inspection_id: Mapped[int] = mapped_column(BigInteger)
    item_id: Mapped[int] = mapped_column(BigInteger)
    answer: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str] = mapped_column(String(500), default="")
    hazard_case_id: Mapped[int | None] = mapped_column(BigInteger)
    # the photo of what the item found (sdk.keep_file)
    photo_key: Mapped[str | None] = mapped_column(String(100))
    photo_filename: Mapped[str | None] = mapped_column(String(200))
    photo_content_type: Mapped[str | None] = mapped_column(String(100))
    photo_size: Mapped[int | None] = mapped_column(BigInteger)
    photo_sha256: Mapped[str | None] = mapped_column(String(64))


class Hazard(TenantModel):
    """A hazard's own fields, one row per ``safety.hazard`` case, with its rectification notice
    (SAF-2: 措施, 资金, 时限, 责任人, 预案) once issued, and who reported it rectified."""

    __tablename__ = "safety_hazard"
    __table_args__ = (tenant_fk("case_id", "case_record", ondelete="CASCADE"),
                      UniqueConstraint("tenant_id", "case_id"),
                      Index("ix_safety_hazard_grade", "tenant_id", "grade", "case_id"))
    case_id: Mapped[int] = mapped_column(BigInteger)
    grade: Mapped[str] = mapped_column(String(32))
    major: Mapped[bool] = mapped_column(Boolean, default=False)
    place_id: Mapped[int | None] = mapped_column(BigInteger)
    inspection_id: Mapped[int | None] = mapped_column(BigInteger)
    item_id: Mapped[int | None] = mapped_column(BigInteger)
    responsible_unit_id: Mapped[int | None] = mapped_column(BigInteger)
    responsible_person: Mapped[str] = mapped_column(String(50), default="")
    measures: Mapped[str] = mapped_column(Text, default="")
    funds: Mapped[str] = mapped_column(String(200), default="")
    deadline: Mapped[date | None] = mapped_column(Date)
    plan: Mapped[str] = mapped_column(Text, default="")
    notice_unit_id: Mapped[int | None] = mapped_column(BigInteger)
    rectified_by_id: Mapped[int | None] = mapped_column(BigInteger)
    reinspections: Mapped[int] = mapped_column(Integer, default=0)
    overdue_supervised: Mapped[int] = mapped_column(Integer, default=0)


class Incident(TenantModel):
    """A major criminal, public-order or safety incident reported upward (SAF-4), flagged late
    when reported after the county's limit (seed 004 §7: 4 hours)."""

    __tablename__ = "safety_incident"
    __table_args__ = (tenant_fk("org_unit_id", "org_unit"),
                      Index("ix_safety_incident_unit", "tenant_id", "org_unit_id", "id"))
    org_unit_id: Mapped[int] = mapped_column(BigInteger)
    title: Mapped[str] = mapped_column(String(100))
    occurred_at: Mapped[datetime] = mapped_column(AwareDateTime)
    reported_at: Mapped[datetime] = mapped_column(AwareDateTime)
    location: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    deaths: Mapped[int] = mapped_column(Integer, default=0)
    injuries: Mapped[int] = mapped_column(Integer, default=0)
    losses: Mapped[str] = mapped_column(String(200), default="")
    measures: Mapped[str] = mapped_column(Text, default="")
    limit_hours: Mapped[int] = mapped_column(Integer)
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    reported_by_id: Mapped[int | None] = mapped_column(BigInteger)
