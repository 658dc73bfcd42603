"""Tables of the joint-mechanisms module. Cases, their tasks and time limits are the core's; a
meeting's decisions point at the tasks the core's dispatch created for them."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.sdk import AwareDateTime, TenantModel, tenant_fk, utcnow


class Meeting(TenantModel):
    """A joint meeting (联席会议, 分流会) held by a unit's centre (JNT-2, INT-4)."""

    __tablename__ = "joint_meeting"
    __table_args__ = (tenant_fk("org_unit_id", "org_unit"),
                      Index("ix_joint_meeting_unit", "tenant_id", "org_unit_id", "held_on"))
    org_unit_id: Mapped[int] = mapped_column(BigInteger)        # the convening unit
    kind: Mapped[str] = mapped_column(String(32))                # a key of the settings' meetings
    title: Mapped[str] = mapped_column(String(100))
    held_on: Mapped[date] = mapped_column(Date)
    convener: Mapped[str] = mapped_column(String(50))            # who chaired it (召集人)
    minutes: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)


class AgendaItem(TenantModel):
    """An open case put on a meeting's agenda."""

    __tablename__ = "joint_agenda_item"
    __table_args__ = (tenant_fk("meeting_id", "joint_meeting", ondelete="CASCADE"),
                      tenant_fk("case_id", "case_record", ondelete="CASCADE"),
                      UniqueConstraint("tenant_id", "meeting_id", "case_id"))
    meeting_id: Mapped[int] = mapped_column(BigInteger)
    case_id: Mapped[int] = mapped_column(BigInteger)


class Attendance(TenantModel):
    """A member unit at a meeting: present, absent (with its reason) or represented by a substitute."""

    __tablename__ = "joint_attendance"
    __table_args__ = (tenant_fk("meeting_id", "joint_meeting", ondelete="CASCADE"),
                      tenant_fk("member_unit_id", "member_unit"),
                      UniqueConstraint("tenant_id", "meeting_id", "member_unit_id"),
                      Index("ix_joint_attendance_member", "tenant_id", "member_unit_id"))
    meeting_id: Mapped[int] = mapped_column(BigInteger)
    member_unit_id: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(12))              # present | absent | substitute
    reason: Mapped[str | None] = mapped_column(String(200))      # why absent
    substitute: Mapped[str | None] = mapped_column(String(50))   # who came instead


class Decision(TenantModel):
    """A meeting's decision on a case: the case handed to a lead and co-units with a deadline
    through the core's dispatch; done when the lead's task is done."""

    __tablename__ = "joint_decision"
    __table_args__ = (tenant_fk("meeting_id", "joint_meeting", ondelete="CASCADE"),
                      tenant_fk("case_id", "case_record", ondelete="CASCADE"),
                      tenant_fk("lead_task_id", "case_task"),
                      Index("ix_joint_decision_meeting", "tenant_id", "meeting_id"))
    meeting_id: Mapped[int] = mapped_column(BigInteger)
    case_id: Mapped[int] = mapped_column(BigInteger)
    text: Mapped[str] = mapped_column(Text)
    deadline: Mapped[date] = mapped_column(Date)
    lead_task_id: Mapped[int] = mapped_column(BigInteger)
    created_by_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)
