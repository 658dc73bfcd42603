"""Tables of the joint-mechanisms module. Cases, their tasks and time limits are the core's; a
meeting's decisions point at the tasks the core's dispatch created for them."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, Date, Index, String, Text, UniqueConstraint
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
    """An item of a meeting's agenda: an open case, or a matter pending at the window (统一受理)
    for the meeting to sort (INT-4)."""

    __tablename__ = "joint_agenda_item"
    __table_args__ = (tenant_fk("meeting_id", "joint_meeting", ondelete="CASCADE"),
                      tenant_fk("case_id", "case_record", ondelete="CASCADE"),
                      tenant_fk("intake_id", "intake", ondelete="CASCADE"),
                      UniqueConstraint("tenant_id", "meeting_id", "case_id"),
                      UniqueConstraint("tenant_id", "meeting_id", "intake_id"))
    meeting_id: Mapped[int] = mapped_column(BigInteger)
    case_id: Mapped[int | None] = mapped_column(BigInteger)
    intake_id: Mapped[int | None] = mapped_column(BigInteger)


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
    """A meeting's decision, which becomes work of one of three kinds (``kind``):

    - ``dispatch`` (交办): the case handed to a lead and co-units with a deadline through the
      core's dispatch; done when the lead's task is done;
    - ``supervise`` (督办): the core's supervision of the case, its reply due on the deadline;
      done when the supervised unit has answered;
    - ``new_matter`` (立为新事项): a matter the meeting raised, registered at the convening
      unit's window (统一受理) to be sorted into a case there; done when that case is closed.
    """

    __tablename__ = "joint_decision"
    __table_args__ = (tenant_fk("meeting_id", "joint_meeting", ondelete="CASCADE"),
                      tenant_fk("case_id", "case_record", ondelete="CASCADE"),
                      tenant_fk("lead_task_id", "case_task"),
                      tenant_fk("supervision_id", "case_supervision"),
                      tenant_fk("intake_id", "intake"),
                      Index("ix_joint_decision_meeting", "tenant_id", "meeting_id"))
    meeting_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(12), default="dispatch", server_default="dispatch")
    case_id: Mapped[int | None] = mapped_column(BigInteger)           # none for a new matter
    text: Mapped[str] = mapped_column(Text)
    deadline: Mapped[date | None] = mapped_column(Date)               # none for a new matter
    lead_task_id: Mapped[int | None] = mapped_column(BigInteger)      # dispatch
    supervision_id: Mapped[int | None] = mapped_column(BigInteger)    # supervise
    intake_id: Mapped[int | None] = mapped_column(BigInteger)         # new matter
    created_by_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)


class Campaign(TenantModel):
    """A hot-spot campaign (专项整治, JNT-3, seed 004 §8): key areas, industries or places in a
    date window, its targets treated on a rolling basis."""

    __tablename__ = "joint_campaign"
    __table_args__ = (tenant_fk("org_unit_id", "org_unit"),
                      Index("ix_joint_campaign_unit", "tenant_id", "org_unit_id", "starts_on"))
    org_unit_id: Mapped[int] = mapped_column(BigInteger)        # the organising unit
    title: Mapped[str] = mapped_column(String(100))
    focus: Mapped[str] = mapped_column(Text, default="")         # the key areas, industries, places
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    summary: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)


class CampaignTarget(TenantModel):
    """A campaign's target: a case handed to its responsible units with a deadline; past the
    deadline and not closed it is supervised at the listed level (挂牌督办, the core's)."""

    __tablename__ = "joint_campaign_target"
    __table_args__ = (tenant_fk("campaign_id", "joint_campaign", ondelete="CASCADE"),
                      tenant_fk("case_id", "case_record", ondelete="CASCADE"),
                      tenant_fk("lead_task_id", "case_task"),
                      UniqueConstraint("tenant_id", "campaign_id", "case_id"),
                      Index("ix_joint_campaign_target_open", "tenant_id", "campaign_id", "closed_on"))
    campaign_id: Mapped[int] = mapped_column(BigInteger)
    case_id: Mapped[int] = mapped_column(BigInteger)
    deadline: Mapped[date] = mapped_column(Date)
    lead_task_id: Mapped[int] = mapped_column(BigInteger)
    added_on: Mapped[date] = mapped_column(Date)
    closed_on: Mapped[date | None] = mapped_column(Date)
    close_note: Mapped[str | None] = mapped_column(Text)
    supervision_id: Mapped[int | None] = mapped_column(BigInteger)   # the core's listed supervision
    created_by_id: Mapped[int | None] = mapped_column(BigInteger)


class Analysis(TenantModel):
    """The county's monthly analysis of the public-order situation and its warning level (RPT-2,
    seed 004 §6), with the figures behind it as they stood when it was recorded; one a month,
    the history kept."""

    __tablename__ = "joint_analysis"
    __table_args__ = (UniqueConstraint("tenant_id", "month"),)
    month: Mapped[date] = mapped_column(Date)                  # the month's first day
    level: Mapped[str] = mapped_column(String(32))             # a key of the settings' warning levels
    level_title: Mapped[str] = mapped_column(String(20))       # its name when it was set
    analysis: Mapped[str] = mapped_column(Text)
    figures: Mapped[dict] = mapped_column(JSON, default=dict)  # cases by type, previous month, a year before
    created_by_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)


class ConstructionPhase(TenantModel):
    """One phase of building a unit's centre (ORG-5, seed 002): its target date and acceptance."""

    __tablename__ = "joint_construction_phase"
    __table_args__ = (tenant_fk("org_unit_id", "org_unit"),
                      UniqueConstraint("tenant_id", "org_unit_id", "phase"),
                      Index("ix_joint_construction_due", "tenant_id", "target_date"))
    org_unit_id: Mapped[int] = mapped_column(BigInteger)        # the unit whose centre is built
    phase: Mapped[str] = mapped_column(String(32))               # a key of the settings' phases
    target_date: Mapped[date] = mapped_column(Date)
    result: Mapped[str | None] = mapped_column(String(8))        # passed | failed (the last check)
    accepted_on: Mapped[date | None] = mapped_column(Date)       # when it passed
    evidence: Mapped[str] = mapped_column(Text, default="")


class Centre(TenantModel):
    """A unit's centre (综治中心, 工作站, 联络点; ORG-2): its sign, director and deputies, and
    which rooms and facilities of the county's standard it has (ORG-5, seed 002). The member
    units stationed there are the core's (``MemberUnit`` of the unit)."""

    __tablename__ = "joint_centre"
    __table_args__ = (tenant_fk("org_unit_id", "org_unit"),
                      UniqueConstraint("tenant_id", "org_unit_id"))
    org_unit_id: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(String(60), default="")          # the sign: 义新镇综治中心
    director_name: Mapped[str] = mapped_column(String(50), default="")
    director_post: Mapped[str] = mapped_column(String(50), default="")  # 镇党委书记 (兼任)
    deputies: Mapped[list] = mapped_column(JSON, default=list)          # [{"name", "post"}]
    facilities: Mapped[list] = mapped_column(JSON, default=list)        # the standard's keys it has
    note: Mapped[str] = mapped_column(Text, default="")
    updated_by_id: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)


class TargetReport(TenantModel):
    """A progress report on a campaign target (JNT-3: 进展情况), by the organiser or by the unit
    responsible; it is also on the case's timeline."""

    __tablename__ = "joint_target_report"
    __table_args__ = (tenant_fk("target_id", "joint_campaign_target", ondelete="CASCADE"),
                      Index("ix_joint_target_report_target", "tenant_id", "target_id", "reported_on"))
    target_id: Mapped[int] = mapped_column(BigInteger)
    reported_on: Mapped[date] = mapped_column(Date)
    text: Mapped[str] = mapped_column(Text)
    reported_by_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)
