"""Tables of the key-persons module.

The person is the core's ``person`` row (ID number, phone and address encrypted, ID number and
phone with blind indexes); a record links that person to a category — which is itself
encrypted, with a blind index to filter on — and carries the category's typed fields
(encrypted JSON), the responsible unit, the risk level and the visit clock.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.sdk import AwareDateTime, Encrypted, TenantModel, tenant_fk, utcnow

SECRET = {"secret": True}  # the audit shows ***: a link or hash that would say more than the fact


class EncryptedText(Encrypted):
    """An encrypted column for longer text (a category's fields as JSON, a visit's notes)."""
    impl = Text
    cache_ok = True


class KeyPerson(TenantModel):
    __tablename__ = "keypersons_record"
    __table_args__ = (tenant_fk("org_unit_id", "org_unit"), tenant_fk("person_id", "person"),
                      Index("ix_keypersons_record_unit", "tenant_id", "org_unit_id", "category_bidx"),
                      Index("ix_keypersons_record_due", "tenant_id", "next_visit_due"),
                      Index("ix_keypersons_record_person", "tenant_id", "person_id"))  # a new case's parties
    person_id: Mapped[int | None] = mapped_column(BigInteger, info=SECRET)   # None once anonymised
    org_unit_id: Mapped[int] = mapped_column(BigInteger)                     # the responsible unit
    category: Mapped[str] = mapped_column(Encrypted)
    category_bidx: Mapped[str] = mapped_column(String(32), info=SECRET)
    risk_level: Mapped[str] = mapped_column(String(8))
    details: Mapped[str | None] = mapped_column(EncryptedText)              # the category's fields, JSON
    helpers: Mapped[str | None] = mapped_column(Encrypted)                  # 帮教小组
    next_visit_due: Mapped[date | None] = mapped_column(Date)
    last_visit_on: Mapped[date | None] = mapped_column(Date)
    overdue_since: Mapped[date | None] = mapped_column(Date)
    ended_on: Mapped[date | None] = mapped_column(Date)                     # 撤销列管: supervision ended
    anonymised_at: Mapped[datetime | None] = mapped_column(AwareDateTime)
    created_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)
    # 跨县移交: what other counties kept before the person came here (JSON list, one item a county)
    transferred_history: Mapped[str | None] = mapped_column(EncryptedText)


class Visit(TenantModel):
    __tablename__ = "keypersons_visit"
    __table_args__ = (tenant_fk("record_id", "keypersons_record", ondelete="CASCADE"),
                      tenant_fk("org_unit_id", "org_unit"),
                      Index("ix_keypersons_visit_record", "tenant_id", "record_id", "visited_on"))
    record_id: Mapped[int] = mapped_column(BigInteger)
    org_unit_id: Mapped[int] = mapped_column(BigInteger)
    visited_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date | None] = mapped_column(Date)       # when it was due: on time if visited by then
    way: Mapped[str] = mapped_column(String(16))
    visitor: Mapped[str | None] = mapped_column(Encrypted)  # who went (names)
    content: Mapped[str | None] = mapped_column(EncryptedText)
    result: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)


class Handover(TenantModel):
    """A record moved to another responsible unit (移交: the person moved to another village or
    township of the county). The record keeps its history: its visits stay with the units that
    made them, and each hand-over is a row."""
    __tablename__ = "keypersons_handover"
    __table_args__ = (tenant_fk("record_id", "keypersons_record", ondelete="CASCADE"),
                      tenant_fk("from_unit_id", "org_unit"), tenant_fk("to_unit_id", "org_unit"),
                      Index("ix_keypersons_handover_record", "tenant_id", "record_id", "handed_over_on"))
    record_id: Mapped[int] = mapped_column(BigInteger)
    from_unit_id: Mapped[int] = mapped_column(BigInteger)
    to_unit_id: Mapped[int] = mapped_column(BigInteger)
    handed_over_on: Mapped[date] = mapped_column(Date)
    reason: Mapped[str | None] = mapped_column(EncryptedText)   # may say where the person went: encrypted
    created_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)


class RentalHouse(TenantModel):
    """出租房屋: a house let out in a unit, its landlord (a person of the core's register), the
    cards issued for it (the county's "三卡") and whether it is still let. Its address is
    encrypted like a person's."""
    __tablename__ = "keypersons_rental_house"
    __table_args__ = (tenant_fk("org_unit_id", "org_unit"), tenant_fk("owner_person_id", "person"),
                      Index("ix_keypersons_rental_house_unit", "tenant_id", "org_unit_id"),
                      Index("ix_keypersons_rental_house_owner", "tenant_id", "owner_person_id"))
    org_unit_id: Mapped[int] = mapped_column(BigInteger)        # the village or community where it lies
    owner_person_id: Mapped[int] = mapped_column(BigInteger)    # 房主
    address: Mapped[str] = mapped_column(Encrypted)
    rooms: Mapped[int | None] = mapped_column(BigInteger)      # rooms let
    note: Mapped[str | None] = mapped_column(EncryptedText)
    cards: Mapped[str] = mapped_column(String(500), default="[]")   # keys of the county's cards issued, JSON
    ended_on: Mapped[date | None] = mapped_column(Date)         # no longer let (停止出租)
    created_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)


class RentalTenant(TenantModel):
    """A tenant (承租人) of a house from the day they moved in to the day they moved out."""
    __tablename__ = "keypersons_rental_tenant"
    __table_args__ = (tenant_fk("house_id", "keypersons_rental_house", ondelete="CASCADE"),
                      tenant_fk("person_id", "person"),
                      Index("ix_keypersons_rental_tenant_house", "tenant_id", "house_id", "moved_in"))
    house_id: Mapped[int] = mapped_column(BigInteger)
    person_id: Mapped[int] = mapped_column(BigInteger)
    moved_in: Mapped[date] = mapped_column(Date)
    moved_out: Mapped[date | None] = mapped_column(Date)
    created_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)


class RentalRating(TenantModel):
    """A year's star rating of a house's landlord (星级评定): the county's stars awarded."""
    __tablename__ = "keypersons_rental_rating"
    __table_args__ = (tenant_fk("house_id", "keypersons_rental_house", ondelete="CASCADE"),
                      UniqueConstraint("tenant_id", "house_id", "year"))
    house_id: Mapped[int] = mapped_column(BigInteger)
    year: Mapped[int] = mapped_column(BigInteger)
    stars: Mapped[str] = mapped_column(String(500))             # keys of the county's stars awarded, JSON
    rated_on: Mapped[date] = mapped_column(Date)
    created_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)
