"""Tables of the patrol module (群防群治). Every key leads with ``tenant_id``; teams and points are
registers (``RegisterRecord``: unit, created, closed), the rest hang off them."""
from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import BigInteger, Boolean, Date, Float, Index, Integer, String, Time, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.sdk import AwareDateTime, RegisterRecord, TenantModel, tenant_fk, utcnow


class PatrolTeam(RegisterRecord):
    """A patrol team (巡防队, PAT-1) of an org unit; closed when it is disbanded."""

    __tablename__ = "patrol_team"
    name: Mapped[str] = mapped_column(String(60))
    kind: Mapped[str] = mapped_column(String(32))            # the county's team kinds (settings)
    kind_title: Mapped[str] = mapped_column(String(40))      # its title when the team was made
    equipment: Mapped[str | None] = mapped_column(String(200))


class PatrolPoint(RegisterRecord):
    """A patrol point (治安巡逻执勤点, PAT-2) with its line of defence (PAT-5)."""

    __tablename__ = "patrol_point"
    name: Mapped[str] = mapped_column(String(60))
    line: Mapped[str] = mapped_column(String(32))            # the county's lines of defence (settings)
    line_title: Mapped[str] = mapped_column(String(40))      # its title when the point was made
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)


class PatrolMember(TenantModel):
    """Someone in a team: a person of the core's register or a user, from joining to leaving."""

    __tablename__ = "patrol_member"
    __table_args__ = (tenant_fk("team_id", "patrol_team"), tenant_fk("person_id", "person"),
                      tenant_fk("user_id", "app_user"),
                      Index("ix_patrol_member_team", "tenant_id", "team_id"))
    team_id: Mapped[int] = mapped_column(BigInteger)
    person_id: Mapped[int | None] = mapped_column(BigInteger)
    user_id: Mapped[int | None] = mapped_column(BigInteger)
    role: Mapped[str] = mapped_column(String(16), default="member")   # leader | member
    joined_on: Mapped[date] = mapped_column(Date)
    left_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)


class PatrolRoute(TenantModel):
    """An ordered list of points patrolled in a planned daily window (e.g. 20:00–23:00)."""

    __tablename__ = "patrol_route"
    __table_args__ = (tenant_fk("org_unit_id", "org_unit"), tenant_fk("team_id", "patrol_team"),
                      Index("ix_patrol_route_unit", "tenant_id", "org_unit_id"))
    org_unit_id: Mapped[int] = mapped_column(BigInteger)
    team_id: Mapped[int | None] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(String(60))
    window_start: Mapped[time] = mapped_column(Time)
    window_end: Mapped[time] = mapped_column(Time)            # not after the start: ends the next day
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)
    created_by: Mapped[int | None] = mapped_column(BigInteger)


class PatrolRoutePoint(TenantModel):
    __tablename__ = "patrol_route_point"
    __table_args__ = (tenant_fk("route_id", "patrol_route", ondelete="CASCADE"), tenant_fk("point_id", "patrol_point"),
                      UniqueConstraint("tenant_id", "route_id", "position"),
                      UniqueConstraint("tenant_id", "route_id", "point_id"))
    route_id: Mapped[int] = mapped_column(BigInteger)
    point_id: Mapped[int] = mapped_column(BigInteger)
    position: Mapped[int] = mapped_column(Integer)


class PatrolDuty(TenantModel):
    """A roster entry (排班): a team member on a route for one shift; ``starts_at``/``ends_at`` are
    the shift as moments, so overlaps across midnight are found by one comparison."""

    __tablename__ = "patrol_duty"
    __table_args__ = (tenant_fk("org_unit_id", "org_unit"), tenant_fk("route_id", "patrol_route"),
                      tenant_fk("member_id", "patrol_member"),
                      Index("ix_patrol_duty_person", "tenant_id", "person_id", "starts_at"),
                      Index("ix_patrol_duty_user", "tenant_id", "user_id", "starts_at"),
                      Index("ix_patrol_duty_unit", "tenant_id", "org_unit_id", "duty_date"))
    org_unit_id: Mapped[int] = mapped_column(BigInteger)
    route_id: Mapped[int] = mapped_column(BigInteger)
    member_id: Mapped[int] = mapped_column(BigInteger)
    person_id: Mapped[int | None] = mapped_column(BigInteger)
    user_id: Mapped[int | None] = mapped_column(BigInteger)
    duty_date: Mapped[date] = mapped_column(Date)
    shift_start: Mapped[time] = mapped_column(Time)
    shift_end: Mapped[time] = mapped_column(Time)
    starts_at: Mapped[datetime] = mapped_column(AwareDateTime)
    ends_at: Mapped[datetime] = mapped_column(AwareDateTime)
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)
    created_by: Mapped[int | None] = mapped_column(BigInteger)


class PatrolRound(TenantModel):
    """One patrol of a route (巡逻记录): its check-ins, compliance and results (PAT-2)."""

    __tablename__ = "patrol_round"
    __table_args__ = (tenant_fk("org_unit_id", "org_unit"), tenant_fk("route_id", "patrol_route"),
                      Index("ix_patrol_round_unit", "tenant_id", "org_unit_id", "started_at"))
    org_unit_id: Mapped[int] = mapped_column(BigInteger)
    route_id: Mapped[int] = mapped_column(BigInteger)
    started_by: Mapped[int | None] = mapped_column(BigInteger)
    started_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(AwareDateTime)
    window_start_at: Mapped[datetime] = mapped_column(AwareDateTime)
    window_end_at: Mapped[datetime] = mapped_column(AwareDateTime)
    planned: Mapped[int] = mapped_column(Integer, default=0)
    visited: Mapped[int] = mapped_column(Integer, default=0)
    on_time: Mapped[int] = mapped_column(Integer, default=0)
    late: Mapped[int] = mapped_column(Integer, default=0)
    compliance: Mapped[float | None] = mapped_column(Float)       # visited / planned, in %
    threshold: Mapped[int | None] = mapped_column(Integer)        # the county's, when it ended
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    caught: Mapped[int] = mapped_column(Integer, default=0)       # 抓获
    stopped: Mapped[int] = mapped_column(Integer, default=0)      # 制止
    hazards: Mapped[int] = mapped_column(Integer, default=0)
    disputes: Mapped[int] = mapped_column(Integer, default=0)
    helped: Mapped[int] = mapped_column(Integer, default=0)
    note: Mapped[str | None] = mapped_column(String(500))


class PatrolCheckIn(TenantModel):
    """A check-in (打卡) at a point of the round's route: when, where (optional GPS), a note."""

    __tablename__ = "patrol_check_in"
    __table_args__ = (tenant_fk("round_id", "patrol_round", ondelete="CASCADE"), tenant_fk("point_id", "patrol_point"),
                      UniqueConstraint("tenant_id", "round_id", "point_id"))
    round_id: Mapped[int] = mapped_column(BigInteger)
    point_id: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)
    on_time: Mapped[bool] = mapped_column(Boolean, default=True)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    note: Mapped[str | None] = mapped_column(String(500))
    by: Mapped[int | None] = mapped_column(BigInteger)
    # the photo taken at the point (sdk.keep_file): what was seen there
    photo_key: Mapped[str | None] = mapped_column(String(100))
    photo_filename: Mapped[str | None] = mapped_column(String(200))
    photo_content_type: Mapped[str | None] = mapped_column(String(100))
    photo_size: Mapped[int | None] = mapped_column(BigInteger)
    photo_sha256: Mapped[str | None] = mapped_column(String(64))


class PatrolClue(TenantModel):
    """A clue's own fields (PAT-4), one row per ``patrol.clue`` case. ``reporter_id`` is kept for
    every clue; for an anonymous one only ``patrol.clue.reporter.read`` holders read it (audited)."""

    __tablename__ = "patrol_clue"
    __table_args__ = (tenant_fk("case_id", "case_record", ondelete="CASCADE"), UniqueConstraint("tenant_id", "case_id"))
    case_id: Mapped[int] = mapped_column(BigInteger)
    place: Mapped[str] = mapped_column(String(200))
    occurred_at: Mapped[datetime | None] = mapped_column(AwareDateTime)
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    reporter_id: Mapped[int | None] = mapped_column(BigInteger)
    reject_reason: Mapped[str | None] = mapped_column(String(500))
    outcome: Mapped[str | None] = mapped_column(String(500))
    turned_case_id: Mapped[int | None] = mapped_column(BigInteger)     # the case it became (both ways: see the timeline)
    turned_intake_id: Mapped[int | None] = mapped_column(BigInteger)   # or the matter left at the one window


class PatrolCamera(RegisterRecord):
    """A camera of the county's network (雪亮工程, PAT-6); closed when it is removed."""

    __tablename__ = "patrol_camera"
    code: Mapped[str | None] = mapped_column(String(20))       # GB/T 28181 device id, when known
    place: Mapped[str] = mapped_column(String(100))
    camera_type: Mapped[str | None] = mapped_column(String(30))
    owner: Mapped[str | None] = mapped_column(String(60))      # the unit that owns it (by name)
    installed_on: Mapped[date | None] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(16), default="working")  # working | faulty | offline | removed
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)


class PatrolInspection(TenantModel):
    """An inspection of a camera (label, housing, cables, picture); a fault raises a repair ticket."""

    __tablename__ = "patrol_inspection"
    __table_args__ = (tenant_fk("camera_id", "patrol_camera"), tenant_fk("ticket_case_id", "case_record"),
                      Index("ix_patrol_inspection_camera", "tenant_id", "camera_id", "at"))
    camera_id: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)
    by: Mapped[int | None] = mapped_column(BigInteger)
    label_ok: Mapped[bool] = mapped_column(Boolean, default=True)
    housing_ok: Mapped[bool] = mapped_column(Boolean, default=True)
    cables_ok: Mapped[bool] = mapped_column(Boolean, default=True)
    picture_ok: Mapped[bool] = mapped_column(Boolean, default=True)
    note: Mapped[str | None] = mapped_column(String(500))
    ticket_case_id: Mapped[int | None] = mapped_column(BigInteger)


class PatrolGroup(RegisterRecord):
    """A joint-defence group (十户联防 / 十店联防, PAT-3) of neighbouring households or shops, with
    its leader (a person of the register), who signs the responsibility letter (core letters)."""

    __tablename__ = "patrol_group"
    name: Mapped[str] = mapped_column(String(60))
    kind: Mapped[str] = mapped_column(String(16))              # households | shops
    leader_person_id: Mapped[int] = mapped_column(BigInteger)
    households: Mapped[int] = mapped_column(Integer)
    members: Mapped[str | None] = mapped_column(String(1000))   # the households' or shops' names


class PatrolFinding(TenantModel):
    """What a round found and turned into work in one act (PAT-2: 发现纠纷、隐患…): a dispute for
    the mediation module, a hazard for the safety module, anything else a matter at the one window.
    Linked both ways: the round lists its findings, the case's timeline names the round."""

    __tablename__ = "patrol_finding"
    __table_args__ = (tenant_fk("round_id", "patrol_round", ondelete="CASCADE"),
                      tenant_fk("case_id", "case_record"), tenant_fk("intake_id", "intake"),
                      Index("ix_patrol_finding_round", "tenant_id", "round_id"))
    round_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))                  # dispute | hazard | other
    title: Mapped[str] = mapped_column(String(200))
    case_id: Mapped[int | None] = mapped_column(BigInteger)        # the dispute or hazard it became
    intake_id: Mapped[int | None] = mapped_column(BigInteger)      # or the matter left at the one window
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)
    created_by: Mapped[int | None] = mapped_column(BigInteger)
