"""Tables of the mediation module. The case itself — number, state, units, time limits,
timeline, parties (``case_person`` → ``person``, ID number and phone encrypted) — is the
core's; these tables keep what is special to a dispute and its mediation.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.sdk import AwareDateTime, TenantModel, tenant_fk, utcnow


class Dispute(TenantModel):
    """One dispute's own fields, one row per ``mediation.dispute`` case."""

    __tablename__ = "mediation_dispute"
    __table_args__ = (tenant_fk("case_id", "case_record", ondelete="CASCADE"),
                      UniqueConstraint("tenant_id", "case_id"),
                      Index("ix_mediation_dispute_type", "tenant_id", "dispute_type", "case_id"))
    case_id: Mapped[int] = mapped_column(BigInteger)
    dispute_type: Mapped[str] = mapped_column(String(32))      # the county's taxonomy (settings)
    people_involved: Mapped[int] = mapped_column(Integer, default=2)
    risk_grade: Mapped[str] = mapped_column(String(8), default="low")  # see cases.RISK_GRADES
    may_turn_criminal: Mapped[bool] = mapped_column(Boolean, default=False)  # 可能民转刑
    may_become_mass: Mapped[bool] = mapped_column(Boolean, default=False)    # 可能引发群体性事件
    emergency: Mapped[bool] = mapped_column(Boolean, default=False)          # 突发事件 (MED-2)
    occurred_at: Mapped[datetime | None] = mapped_column(AwareDateTime)       # when it happened
    reported_late: Mapped[bool] = mapped_column(Boolean, default=False)       # past the county's minutes
    kind: Mapped[str] = mapped_column(String(16), default="people")   # people | administrative | judicial (MED-4)
    method: Mapped[str | None] = mapped_column(String(16))            # graded | directed | leader | joint (MED-5)
    tier: Mapped[str] = mapped_column(String(32))                     # the MED-3 tier handling it now
    outcome: Mapped[str | None] = mapped_column(String(16))           # see cases.OUTCOMES
    outcome_note: Mapped[str] = mapped_column(Text, default="")
    screening_id: Mapped[int | None] = mapped_column(BigInteger)       # the screening report it was found in


class Party(TenantModel):
    """A party to a dispute: a person or an organisation (a core ``person`` row either way, so
    ID numbers and phones stay encrypted and masked), its side and its consent (Art. 17)."""

    __tablename__ = "mediation_party"
    __table_args__ = (tenant_fk("case_id", "case_record", ondelete="CASCADE"), tenant_fk("person_id", "person"),
                      UniqueConstraint("tenant_id", "case_id", "person_id"))
    case_id: Mapped[int] = mapped_column(BigInteger)
    person_id: Mapped[int] = mapped_column(BigInteger)
    side: Mapped[str] = mapped_column(String(16), default="applicant")   # applicant | respondent | third
    organisation: Mapped[bool] = mapped_column(Boolean, default=False)
    consent: Mapped[str] = mapped_column(String(16), default="pending")  # pending | agreed | refused
    consent_at: Mapped[datetime | None] = mapped_column(AwareDateTime)


class TierStep(TenantModel):
    """A stay of a dispute at one MED-3 tier: who held it, from when to when, and how it left
    (escalated with a reason, or resolved). The back-trace (责任倒查) reads these."""

    __tablename__ = "mediation_tier_step"
    __table_args__ = (tenant_fk("case_id", "case_record", ondelete="CASCADE"), tenant_fk("org_unit_id", "org_unit"),
                      Index("ix_mediation_tier_step_case", "tenant_id", "case_id"))
    case_id: Mapped[int] = mapped_column(BigInteger)
    tier: Mapped[str] = mapped_column(String(32))
    org_unit_id: Mapped[int] = mapped_column(BigInteger)
    holders: Mapped[str] = mapped_column(String(300), default="")   # names of the network-role holders
    entered_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)
    left_at: Mapped[datetime | None] = mapped_column(AwareDateTime)
    result: Mapped[str | None] = mapped_column(String(16))  # escalated | taken_over | resolved | ended | referred
    reason: Mapped[str] = mapped_column(Text, default="")          # why it was escalated
    escalated_by: Mapped[int | None] = mapped_column(BigInteger)


class MediationSession(TenantModel):
    """A mediation session: when, where, who took part, and its record (调解笔录)."""

    __tablename__ = "mediation_session"
    __table_args__ = (tenant_fk("case_id", "case_record", ondelete="CASCADE"),
                      Index("ix_mediation_session_case", "tenant_id", "case_id"))
    case_id: Mapped[int] = mapped_column(BigInteger)
    held_at: Mapped[datetime] = mapped_column(AwareDateTime)
    place: Mapped[str] = mapped_column(String(100), default="")
    mediators: Mapped[str] = mapped_column(String(200))
    participants: Mapped[str] = mapped_column(String(500), default="")
    record: Mapped[str] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(BigInteger)


class Agreement(TenantModel):
    """The mediation agreement (人民调解法 Art. 28–29): written, or oral with its content
    recorded; performance and judicial confirmation (Art. 31, 33) are tracked on it."""

    __tablename__ = "mediation_agreement"
    __table_args__ = (tenant_fk("case_id", "case_record", ondelete="CASCADE"), UniqueConstraint("tenant_id", "case_id"))
    case_id: Mapped[int] = mapped_column(BigInteger)
    form: Mapped[str] = mapped_column(String(8))                   # written | oral
    facts: Mapped[str] = mapped_column(Text)                       # 纠纷的主要事实
    issues: Mapped[str] = mapped_column(Text)                      # 争议事项
    responsibility: Mapped[str] = mapped_column(Text)              # 各方当事人的责任
    terms: Mapped[str] = mapped_column(Text)                       # 达成调解协议的内容
    performance: Mapped[str] = mapped_column(Text)                 # 履行的方式
    performance_due: Mapped[date | None] = mapped_column(Date)     # 履行的期限
    mediator: Mapped[str] = mapped_column(String(50))
    committee: Mapped[str] = mapped_column(String(100))            # the 人民调解委员会 that stamps it
    effective_on: Mapped[date] = mapped_column(Date)               # signed and stamped (written) / reached (oral)
    copies: Mapped[int] = mapped_column(Integer, default=3)        # one per party and one kept
    performed: Mapped[str] = mapped_column(String(16), default="pending")  # pending | partly | performed | refused
    confirmation: Mapped[str] = mapped_column(String(16), default="none")  # none | applied | confirmed | invalid
    confirmation_court: Mapped[str] = mapped_column(String(100), default="")
    confirmation_applied_on: Mapped[date | None] = mapped_column(Date)
    confirmation_decided_on: Mapped[date | None] = mapped_column(Date)


class FollowUp(TenantModel):
    """A performance check or return visit (回访) after the agreement."""

    __tablename__ = "mediation_followup"
    __table_args__ = (tenant_fk("case_id", "case_record", ondelete="CASCADE"),
                      Index("ix_mediation_followup_case", "tenant_id", "case_id"))
    case_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))           # performance | return_visit
    at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)
    performed: Mapped[str] = mapped_column(String(16))      # partly | performed | refused (as seen on the visit)
    note: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[int | None] = mapped_column(BigInteger)


class Referral(TenantModel):
    """A referral between people's, administrative and judicial mediation (三调联动, MED-4):
    out of this county's centre (with a 移送函 or a 建议立案书) or into it (a court or a
    department handing a dispute to people's mediation), followed to its outcome."""

    __tablename__ = "mediation_referral"
    __table_args__ = (tenant_fk("case_id", "case_record", ondelete="CASCADE"),
                      Index("ix_mediation_referral_case", "tenant_id", "case_id"),
                      Index("ix_mediation_referral_at", "tenant_id", "referred_at"))
    case_id: Mapped[int] = mapped_column(BigInteger)
    direction: Mapped[str] = mapped_column(String(4))       # in | out
    from_kind: Mapped[str] = mapped_column(String(16))      # people | administrative | judicial
    to_kind: Mapped[str] = mapped_column(String(16))
    from_body: Mapped[str] = mapped_column(String(100), default="")   # 某法庭, 某派出所 …
    to_body: Mapped[str] = mapped_column(String(100), default="")
    document: Mapped[str] = mapped_column(String(8))        # letter 移送函 | suit 建议立案书
    reason: Mapped[str] = mapped_column(Text, default="")
    referred_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)
    outcome: Mapped[str] = mapped_column(String(16), default="pending")  # pending | mediated | judged | withdrawn
    outcome_at: Mapped[datetime | None] = mapped_column(AwareDateTime)
    outcome_note: Mapped[str] = mapped_column(Text, default="")


class ScreeningReport(TenantModel):
    """A unit's screening report for one period (MED-1): the disputes found, or nil."""

    __tablename__ = "mediation_screening"
    __table_args__ = (tenant_fk("org_unit_id", "org_unit"), tenant_fk("filed_by", "app_user"),
                      UniqueConstraint("tenant_id", "org_unit_id", "period"),
                      Index("ix_mediation_screening_period", "tenant_id", "period"))
    org_unit_id: Mapped[int] = mapped_column(BigInteger)
    period: Mapped[str] = mapped_column(String(12))          # 2026-W48 | 2026-11-1 / 2026-11-2 | 2026-11
    cadence: Mapped[str] = mapped_column(String(16))
    nil: Mapped[bool] = mapped_column(Boolean, default=False)
    found: Mapped[int] = mapped_column(Integer, default=0)
    note: Mapped[str] = mapped_column(Text, default="")
    filed_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)
    filed_by: Mapped[int | None] = mapped_column(BigInteger)
    late: Mapped[bool] = mapped_column(Boolean, default=False)


class RegisterEntry(TenantModel):
    """An entry of one of the three ledgers (三本台账, MED-6): unstable factors, production
    safety hazards, public-order problems."""

    __tablename__ = "mediation_register"
    __table_args__ = (tenant_fk("org_unit_id", "org_unit"), tenant_fk("case_id", "case_record"),
                      Index("ix_mediation_register_kind", "tenant_id", "kind", "found_on"))
    kind: Mapped[str] = mapped_column(String(16))            # unstable | safety | public_order
    org_unit_id: Mapped[int] = mapped_column(BigInteger)
    found_on: Mapped[date] = mapped_column(Date)
    description: Mapped[str] = mapped_column(Text)
    measures: Mapped[str] = mapped_column(Text, default="")
    responsible: Mapped[str] = mapped_column(String(100), default="")
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | resolved
    resolved_on: Mapped[date | None] = mapped_column(Date)
    case_id: Mapped[int | None] = mapped_column(BigInteger)
    created_by: Mapped[int | None] = mapped_column(BigInteger)
