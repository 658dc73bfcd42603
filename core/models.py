"""The core's tables: tenants, the org tree, people, users, roles and sessions.

Names follow ../shared/GLOSSARY.md. Relationships are loaded with explicit queries (not ORM
relationship attributes) so every load passes through the tenant guard and stays visible in
the code.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (JSON, BigInteger, Boolean, Date, ForeignKey, Index, Integer, String, Text,
                        UniqueConstraint, text)
from sqlalchemy.orm import Mapped, mapped_column

from core.crypto import SECRET, Encrypted
from core.db import AwareDateTime, GlobalModel, TenantModel, tenant_fk, utcnow


# --- platform (global) --------------------------------------------------------------------

class Tenant(GlobalModel):
    """One county-level government."""

    __tablename__ = "tenant"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | suspended
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)


class TenantDomain(GlobalModel):
    """A host name that serves one tenant (the primary way a request finds its tenant)."""

    __tablename__ = "tenant_domain"
    host: Mapped[str] = mapped_column(String(253), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"), index=True)


# --- the org tree (ORG-1 … ORG-4) ---------------------------------------------------------

class OrgLevel(TenantModel):
    """A level of the county's tree, with its local name (ORG-1): 镇, 管区, 村, 组 …"""

    __tablename__ = "org_level"
    __table_args__ = (UniqueConstraint("tenant_id", "key"),)
    key: Mapped[str] = mapped_column(String(32))
    rank: Mapped[int] = mapped_column(Integer)  # 0 = the county itself
    name: Mapped[str] = mapped_column(String(32))
    name_en: Mapped[str | None] = mapped_column(String(32))


class OrgUnit(TenantModel):
    """A node of the org tree, located by a materialized path ``/<id>/<id>/…/``.

    Subtree = a byte-wise range on ``path`` (``orgtree.within``) served by the unique
    ``(tenant_id, path)`` index; ancestors = the ids in the path. ``COLLATE "C"`` on
    PostgreSQL keeps comparisons byte-wise in any database locale. See docs/architecture.md.
    """

    __tablename__ = "org_unit"
    __table_args__ = (
        tenant_fk("parent_id", "org_unit"),
        UniqueConstraint("tenant_id", "path"),
        Index("ix_org_unit_parent", "tenant_id", "parent_id"),
    )
    parent_id: Mapped[int | None] = mapped_column(BigInteger)
    path: Mapped[str] = mapped_column(String(1024).with_variant(String(1024, collation="C"), "postgresql"))
    depth: Mapped[int] = mapped_column(Integer)
    level: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(100))
    code: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | retired
    retired_at: Mapped[datetime | None] = mapped_column(AwareDateTime)
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)


class MemberUnit(TenantModel):
    """A department seated in a centre without leaving its own line (ORG-3): 司法所, 派出所 …"""

    __tablename__ = "member_unit"
    __table_args__ = (tenant_fk("org_unit_id", "org_unit"),
                      UniqueConstraint("tenant_id", "org_unit_id", "name"))
    org_unit_id: Mapped[int] = mapped_column(BigInteger)  # the unit whose centre it staffs
    name: Mapped[str] = mapped_column(String(100))
    category: Mapped[str] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)


class NetworkRole(TenantModel):
    """A person's role in the governance network at a unit (ORG-4): area leader, mediator …"""

    __tablename__ = "network_role"
    __table_args__ = (tenant_fk("org_unit_id", "org_unit"), tenant_fk("user_id", "app_user"),
                      Index("ix_network_role_unit", "tenant_id", "org_unit_id", "kind"))
    org_unit_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[int | None] = mapped_column(BigInteger)
    person_name: Mapped[str] = mapped_column(String(50))
    phone: Mapped[str | None] = mapped_column(Encrypted)
    started_on: Mapped[date | None] = mapped_column(Date)
    ended_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)


class Person(TenantModel):
    """A resident known to the centre (petitioner, party to a dispute …). PII encrypted."""

    __tablename__ = "person"
    __table_args__ = (tenant_fk("org_unit_id", "org_unit"),
                      Index("ix_person_id_number", "tenant_id", "id_number_bidx"),
                      Index("ix_person_phone", "tenant_id", "phone_bidx"),
                      Index("ix_person_unit", "tenant_id", "org_unit_id"),
                      Index("ix_person_name", "tenant_id", "name"))  # the case list's person=<name>
    name: Mapped[str] = mapped_column(String(50))
    id_number: Mapped[str | None] = mapped_column(Encrypted)
    id_number_bidx: Mapped[str | None] = mapped_column(String(32))
    phone: Mapped[str | None] = mapped_column(Encrypted)
    phone_bidx: Mapped[str | None] = mapped_column(String(32))
    address: Mapped[str | None] = mapped_column(Encrypted)
    org_unit_id: Mapped[int] = mapped_column(BigInteger)
    created_by: Mapped[int | None] = mapped_column(BigInteger)  # the user who registered (typed) them
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow, onupdate=utcnow)


# --- users, roles, permissions ------------------------------------------------------------

class User(TenantModel):
    __tablename__ = "app_user"
    __table_args__ = (UniqueConstraint("tenant_id", "username"),
                      tenant_fk("member_unit_id", "member_unit"),
                      tenant_fk("org_unit_id", "org_unit"),
                      Index("ix_app_user_unit", "tenant_id", "org_unit_id"))
    username: Mapped[str] = mapped_column(String(64))
    org_unit_id: Mapped[int] = mapped_column(BigInteger)  # the unit the user works in
    display_name: Mapped[str] = mapped_column(String(50))
    password_hash: Mapped[str | None] = mapped_column(String(200), info=SECRET)
    phone: Mapped[str | None] = mapped_column(Encrypted)
    email: Mapped[str | None] = mapped_column(String(254))  # for e-mail notifications, when configured
    member_unit_id: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | disabled
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(AwareDateTime)
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=True)
    # when the password was last set: a one-time one expires ``one_time_password_hours`` later
    password_set_at: Mapped[datetime | None] = mapped_column(AwareDateTime, default=utcnow)
    locale: Mapped[str] = mapped_column(String(8), default="zh_CN")
    last_login_at: Mapped[datetime | None] = mapped_column(AwareDateTime)
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)


class Role(TenantModel):
    """A named bundle of permission strings."""

    __tablename__ = "role"
    __table_args__ = (UniqueConstraint("tenant_id", "key"),)
    key: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(50))
    name_en: Mapped[str | None] = mapped_column(String(50))
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)


class RolePermission(TenantModel):
    __tablename__ = "role_permission"
    __table_args__ = (tenant_fk("role_id", "role", ondelete="CASCADE"),
                      UniqueConstraint("tenant_id", "role_id", "permission"))
    role_id: Mapped[int] = mapped_column(BigInteger)
    permission: Mapped[str] = mapped_column(String(100))


class RoleAssignment(TenantModel):
    """Grants ``role``'s permissions to ``user`` on the whole subtree of ``org_unit``."""

    __tablename__ = "role_assignment"
    __table_args__ = (tenant_fk("user_id", "app_user", ondelete="CASCADE"),
                      tenant_fk("role_id", "role", ondelete="CASCADE"),
                      tenant_fk("org_unit_id", "org_unit"),
                      UniqueConstraint("tenant_id", "user_id", "role_id", "org_unit_id"))
    user_id: Mapped[int] = mapped_column(BigInteger)
    role_id: Mapped[int] = mapped_column(BigInteger)
    org_unit_id: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)


# --- plugins per tenant -------------------------------------------------------------------

class TenantPlugin(TenantModel):
    """A plugin switched on (or off) for a tenant, with its validated settings."""

    __tablename__ = "tenant_plugin"
    __table_args__ = (UniqueConstraint("tenant_id", "plugin"),)
    plugin: Mapped[str] = mapped_column(String(64))
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    settings: Mapped[dict] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow, onupdate=utcnow)


# --- authentication state -----------------------------------------------------------------

class WebSession(TenantModel):
    """A server-side browser session; the cookie carries a random token, we keep its hash.

    Not row-audited (every request touches ``last_seen_at``); log-in and log-out are audited
    as events instead.
    """

    __audit__ = False
    __tablename__ = "web_session"
    __table_args__ = (UniqueConstraint("tenant_id", "token_hash"),
                      tenant_fk("user_id", "app_user", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), info=SECRET)
    user_id: Mapped[int] = mapped_column(BigInteger)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(AwareDateTime)
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(200))


class LoginAttempt(TenantModel):
    """Every log-in attempt; the table itself is the record (events are audited separately)."""

    __audit__ = False
    __tablename__ = "login_attempt"
    __table_args__ = (Index("ix_login_attempt_ip", "tenant_id", "ip", "at"),)
    username: Mapped[str] = mapped_column(String(64))
    ip: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)
    success: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str | None] = mapped_column(String(32))


class AccessToken(TenantModel):
    """A personal access token for scripts: ``pat_<tenant>_<secret>``; we keep the hash."""

    __tablename__ = "access_token"
    __table_args__ = (UniqueConstraint("tenant_id", "token_hash"),
                      tenant_fk("user_id", "app_user", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), info=SECRET)
    scope: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(AwareDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(AwareDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(AwareDateTime)


# --- background work and messages ---------------------------------------------------------

class OutboxEntry(TenantModel):
    """A job that runs once the transaction that wrote this row commits (``core.outbox``).

    ``key`` is the job's idempotency key: the unique constraint keeps a cause from
    scheduling the same job twice, and the job marks its row done in the transaction of its
    own work, so a job delivered twice (rq delivers at least once) runs once.
    """

    __audit__ = False
    __tablename__ = "outbox"
    __table_args__ = (UniqueConstraint("tenant_id", "key"),
                      Index("ix_outbox_pending", "tenant_id", "enqueued_at",
                            postgresql_where=text("state = 'pending'"),
                            sqlite_where=text("state = 'pending'")))
    key: Mapped[str] = mapped_column(String(200))
    job: Mapped[str] = mapped_column(String(200))
    kwargs: Mapped[dict] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(12), default="pending")  # pending | done | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)
    enqueued_at: Mapped[datetime | None] = mapped_column(AwareDateTime)
    done_at: Mapped[datetime | None] = mapped_column(AwareDateTime)


class Notification(TenantModel):
    """An inbox entry for one user: a to-do (待办) or a message; ``key`` makes it happen once."""

    __tablename__ = "notification"
    __table_args__ = (UniqueConstraint("tenant_id", "key"),
                      tenant_fk("user_id", "app_user", ondelete="CASCADE"),
                      Index("ix_notification_user", "tenant_id", "user_id", "created_at"))
    user_id: Mapped[int] = mapped_column(BigInteger)
    key: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(8))  # todo | message
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    case_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(AwareDateTime)


class NotificationDelivery(TenantModel):
    """A notification sent out through a channel (email, or a plugin's, e.g. SMS)."""

    __audit__ = False
    __tablename__ = "notification_delivery"
    __table_args__ = (tenant_fk("notification_id", "notification", ondelete="CASCADE"),
                      UniqueConstraint("tenant_id", "notification_id", "channel"))
    notification_id: Mapped[int] = mapped_column(BigInteger)
    channel: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(12), default="pending")  # pending | sent | failed | skipped
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(300))
    sent_at: Mapped[datetime | None] = mapped_column(AwareDateTime)


class JobRun(TenantModel):
    """A long job a user started (export, import, report): its progress and its result."""

    __audit__ = False  # progress ticks are not writes of county data; start and end are audited
    __tablename__ = "job_run"
    __table_args__ = (tenant_fk("user_id", "app_user", ondelete="CASCADE"),
                      Index("ix_job_run_user", "tenant_id", "user_id", "created_at"),
                      Index("ix_job_run_open", "tenant_id", "lease_until",
                            postgresql_where=text("state IN ('queued', 'running')"),
                            sqlite_where=text("state IN ('queued', 'running')")))
    user_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(200))
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(12), default="queued")  # queued | running | done | failed
    total: Mapped[int] = mapped_column(Integer, default=0)
    done: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str | None] = mapped_column(Text)
    result_key: Mapped[str | None] = mapped_column(String(100))   # storage key of the result file
    result_name: Mapped[str | None] = mapped_column(String(200))
    errors: Mapped[list] = mapped_column(JSON, default=list)       # per-row errors of an import
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(AwareDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(AwareDateTime)
    # the database owns a running job (core.ledgers): the worker renews its lease while it runs;
    # the sweep takes back a run whose lease is over. ``attempts`` (claims so far) fences writes:
    # only the current attempt may report progress or finish the run.
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    requeues: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))  # by the sweep
    heartbeat_at: Mapped[datetime | None] = mapped_column(AwareDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(AwareDateTime)
