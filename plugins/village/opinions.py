"""People speak (群众说事, VIL-2): opinion collection points (社情民意采集点) and their collectors,
one-time codes handed out there, opinions received from the public page with a code or recorded
by the collector, and their triage — to the one window (a matter for the sorting meeting, which
makes it a case), answered on the spot, or set aside with a reason.

The public page needs no account: a villager types the code from the slip and what they want to
say; the code is spent (one opinion each), expires after the county's days, and is stored only
as its SHA-256 — the printed slips are the only place the codes exist. Lookups are rate-limited
per address. No name is asked: what was said is the matter, not the person.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from marshmallow import Schema, fields, validate
from sqlalchemy import BigInteger, Date, Index, String, Text, UniqueConstraint, select, update
from sqlalchemy.orm import Mapped, mapped_column

from core.sdk import (AwareDateTime, Conflict, Invalid, NotFound, OrgUnit, Person, Register, RegisterRecord,
                      TenantModel, get_or_404, local_time, module_settings, register_intake, request_work,
                      shows_secret_once, tenant_fk, utcnow)

from .permissions import OPINION, READ
from .projects import VILLAGE_LEVELS, today

ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read from a paper slip
VIA = {"public": "群众网上提交", "collector": "采集员登记"}
STATES = {"new": "待分办", "intake": "已转统一受理", "answered": "已答复", "dismissed": "不予处理"}
ACTIONS = {"intake": "转统一受理（分流办理）", "answered": "已当场答复", "dismissed": "不予处理"}


class OpinionPoint(RegisterRecord):
    """A collection point (社情民意采集点) of a village and its collector (a person of the register)."""

    __tablename__ = "village_opinion_point"
    name: Mapped[str] = mapped_column(String(60))
    place: Mapped[str] = mapped_column(String(200), default="")
    collector_person_id: Mapped[int | None] = mapped_column(BigInteger)
    collector: Mapped[str] = mapped_column(String(50), default="")      # the collector's name when appointed


class OpinionCode(TenantModel):
    """A one-time code handed out at a point: its hash only, its expiry, when it was spent."""

    __tablename__ = "village_opinion_code"
    __table_args__ = (tenant_fk("point_id", "village_opinion_point", ondelete="CASCADE"),
                      UniqueConstraint("tenant_id", "code_hash"))
    point_id: Mapped[int] = mapped_column(BigInteger)
    code_hash: Mapped[str] = mapped_column(String(64), info={"secret": True})   # the audit shows ***
    expires_on: Mapped[dt.date] = mapped_column(Date)
    used_at: Mapped[dt.datetime | None] = mapped_column(AwareDateTime)
    issued_by: Mapped[int | None] = mapped_column(BigInteger)
    issued_at: Mapped[dt.datetime] = mapped_column(AwareDateTime, default=utcnow)


class Opinion(TenantModel):
    """An opinion received at a point, and what became of it."""

    __tablename__ = "village_opinion"
    __table_args__ = (tenant_fk("point_id", "village_opinion_point"), tenant_fk("org_unit_id", "org_unit"),
                      tenant_fk("intake_id", "intake"),
                      Index("ix_village_opinion_unit", "tenant_id", "org_unit_id", "received_at"))
    point_id: Mapped[int] = mapped_column(BigInteger)
    org_unit_id: Mapped[int] = mapped_column(BigInteger)       # the point's village
    content: Mapped[str] = mapped_column(Text)
    via: Mapped[str] = mapped_column(String(16))                # public | collector
    received_at: Mapped[dt.datetime] = mapped_column(AwareDateTime, default=utcnow)
    received_by: Mapped[int | None] = mapped_column(BigInteger)  # the collector's account; none from the public page
    state: Mapped[str] = mapped_column(String(16), default="new")
    note: Mapped[str] = mapped_column(Text, default="")
    intake_id: Mapped[int | None] = mapped_column(BigInteger)
    handled_by: Mapped[int | None] = mapped_column(BigInteger)
    handled_at: Mapped[dt.datetime | None] = mapped_column(AwareDateTime)


# --- the points (a register) ----------------------------------------------------------------------

def _check_point(ctx, row: OpinionPoint, data: dict) -> None:
    unit = ctx.session.scalar(select(OrgUnit).where(OrgUnit.id == row.org_unit_id))
    if unit.level not in VILLAGE_LEVELS:
        raise Invalid("org_unit_id", "not_a_village", "请选择一个村（社区）")
    if row.collector_person_id:
        row.collector = ctx.session.scalar(select(Person.name).where(Person.id == row.collector_person_id)) or ""


POINTS = Register(
    name="opinion-points", title=("社情民意采集点", "Opinion collection points"), model=OpinionPoint,
    read=READ, write=OPINION,
    fields={"name": fields.String(required=True, validate=validate.Length(min=1, max=60),
                                  metadata={"title": "采集点名称"}),
            "place": fields.String(load_default="", validate=validate.Length(max=200), metadata={"title": "地点"}),
            "collector_person_id": fields.Integer(load_default=None, validate=validate.Range(min=1, max=2**63 - 1),
                                                  metadata={"title": "采集员"})},
    columns=(("org_unit", ("所属村（社区）", "Village")), ("name", ("采集点名称", "Name")), ("place", ("地点", "Place")),
             ("collector", ("采集员", "Collector")), ("status", ("状态", "Status"))),
    close_title=("撤销", "Retire"), on_create=_check_point, menu_order=74)


# --- codes ------------------------------------------------------------------------------------------

def new_code() -> str:
    """``ABCD-EFGH``: 8 random characters of a 32-letter alphabet (40 bits; lookups rate-limited)."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(8))
    return f"{raw[:4]}-{raw[4:]}"


def code_hash(code: str) -> str:
    clean = "".join(ch for ch in (code or "").upper() if ch.isalnum())
    return hashlib.sha256(f"village.opinion:{clean}".encode()).hexdigest()


def point_or_404(ctx, point_id: int, perm: str = OPINION) -> OpinionPoint:
    """An open point in the user's ``perm`` scope; 404 at ``point_id`` otherwise."""
    try:
        point = get_or_404(ctx.session, ctx.grants, OpinionPoint, point_id, perm)
    except NotFound:
        raise NotFound("point_not_found", "采集点不存在或不在您的管辖范围内",
                       {"json": {"point_id": ["采集点不存在或不在您的管辖范围内"]}}) from None
    if point.closed_at is not None:
        raise Conflict("point_closed", "该采集点已撤销")
    return point


def issue_codes(ctx, point: OpinionPoint, count: int) -> tuple[list[str], dt.date]:
    """``count`` new codes for the point, valid for the county's days: shown once, kept as hashes."""
    shows_secret_once()   # the codes are on this answer only: a retried request never gets it replayed
    days = int((module_settings(ctx.session, "village") or {}).get("opinion_code_days") or 30)
    expires = today() + dt.timedelta(days=days - 1)
    codes = []
    while len(codes) < count:
        code = new_code()
        if code not in codes:
            codes.append(code)
    ctx.session.add_all(OpinionCode(point_id=point.id, code_hash=code_hash(c), expires_on=expires,
                                    issued_by=ctx.user.id) for c in codes)
    ctx.session.flush()
    return codes, expires


# --- receiving -----------------------------------------------------------------------------------------

def submit_public(session, code: str, content: str) -> Opinion:
    """An opinion from the public page: the code must be one not spent and not expired (422 at
    ``code`` otherwise, the same words whatever is wrong with it)."""
    clean = "".join(ch for ch in (code or "").upper() if ch.isalnum())
    row = None
    if len(clean) == 8 and set(clean) <= set(ALPHABET):
        row = session.scalar(select(OpinionCode).where(OpinionCode.code_hash == code_hash(clean)).with_for_update())
    if row is None or row.used_at is not None or row.expires_on < today():
        raise Invalid("code", "invalid_code", "验证码无效、已使用或已过期，请向采集员索取新的验证码")
    point = session.scalar(select(OpinionPoint).where(OpinionPoint.id == row.point_id))
    if point is None or point.closed_at is not None:
        raise Invalid("code", "invalid_code", "验证码无效、已使用或已过期，请向采集员索取新的验证码")
    spent = session.execute(update(OpinionCode).where(OpinionCode.id == row.id, OpinionCode.used_at.is_(None))
                            .values(used_at=utcnow()).execution_options(synchronize_session=False))
    if spent.rowcount != 1:   # spent by a concurrent request between the read and now (SQLite takes no row lock)
        raise Invalid("code", "invalid_code", "验证码无效、已使用或已过期，请向采集员索取新的验证码")
    opinion = Opinion(point_id=point.id, org_unit_id=point.org_unit_id, content=content, via="public")
    session.add(opinion)
    session.flush()
    return opinion


def record(ctx, data: dict) -> Opinion:
    """An opinion the collector received in person."""
    point = point_or_404(ctx, data["point_id"])
    if data["received_on"] > today():
        raise Invalid("received_on", "in_future", "收到日期不能晚于今天")
    at = dt.datetime.combine(data["received_on"], dt.time(12), dt.timezone(dt.timedelta(hours=8)))
    opinion = Opinion(point_id=point.id, org_unit_id=point.org_unit_id, content=data["content"], via="collector",
                      received_at=min(at, utcnow()), received_by=ctx.user.id)
    ctx.session.add(opinion)
    ctx.session.flush()
    return opinion


def triage(ctx, opinion_id: int, data: dict) -> Opinion:
    """分办: to the one window (a matter for the sorting meeting), answered, or set aside with a reason."""
    get_or_404(ctx.session, ctx.grants, Opinion, opinion_id, OPINION)
    opinion = ctx.session.scalar(select(Opinion).where(Opinion.id == opinion_id).with_for_update())
    if opinion.state != "new":
        raise Conflict("already_triaged", "该意见已分办")
    note = (data.get("note") or "").strip()
    if data["action"] in ("answered", "dismissed") and not note:
        raise Invalid("note", "note_required", "答复或不予处理时请填写答复内容或理由")
    if data["action"] == "intake":
        point = ctx.session.scalar(select(OpinionPoint).where(OpinionPoint.id == opinion.point_id))
        intake = register_intake(request_work(), {
            "channel": "other", "org_unit_id": opinion.org_unit_id,
            "subject": f"社情民意：{opinion.content[:40]}", "content": f"{opinion.content}\n（{point.name}，{VIA[opinion.via]}）"})
        opinion.intake_id = intake.id
    opinion.state, opinion.note, opinion.handled_by, opinion.handled_at = data["action"], note, ctx.user.id, utcnow()
    return opinion


def view(session, rows: list[Opinion]) -> list[dict]:
    points = dict(session.execute(select(OpinionPoint.id, OpinionPoint.name).where(
        OpinionPoint.id.in_({r.point_id for r in rows}))).all()) if rows else {}
    units = dict(session.execute(select(OrgUnit.id, OrgUnit.name).where(
        OrgUnit.id.in_({r.org_unit_id for r in rows}))).all()) if rows else {}
    return [{"id": r.id, "point_id": r.point_id, "point": points.get(r.point_id, ""), "org_unit_id": r.org_unit_id,
             "org_unit_name": units.get(r.org_unit_id, ""), "content": r.content, "via": r.via, "via_title": VIA[r.via],
             "received_at": r.received_at, "received_text": local_time(r.received_at, "%Y-%m-%d %H:%M"), "state": r.state, "state_title": STATES[r.state], "note": r.note,
             "intake_id": r.intake_id} for r in rows]


class CodesIn(Schema):
    count = fields.Integer(required=True, validate=validate.Range(min=1, max=200), metadata={"title": "张数"})


class OpinionIn(Schema):
    point_id = fields.Integer(required=True, validate=validate.Range(min=1, max=2**63 - 1), metadata={"title": "采集点"})
    content = fields.String(required=True, validate=validate.Length(min=1, max=2000), metadata={"title": "群众意见"})
    received_on = fields.Date(required=True, metadata={"title": "收到日期"})


class PublicOpinionIn(Schema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=20), metadata={"title": "验证码"})
    content = fields.String(required=True, validate=validate.Length(min=1, max=2000), metadata={"title": "您的意见"})


class TriageIn(Schema):
    action = fields.String(required=True, validate=validate.OneOf(list(ACTIONS), labels=list(ACTIONS.values())),
                           metadata={"title": "分办"})
    note = fields.String(load_default="", validate=validate.Length(max=1000), metadata={"title": "答复内容或理由"})
