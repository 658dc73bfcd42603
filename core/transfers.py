"""Transfers between counties (跨县移交): a request one county makes to another, never a copy.

A module declares what it transfers as a :class:`TransferKind` (``pingan_transfer_kinds`` or
``Manifest(transfers=…)``): key people moving to another county (issue 20), and whatever
module comes next. The sending county *offers* one subject (a record of the module) to another
county of the platform; the receiving county sees the offer in its inbox with only what the
kind lets it say before acceptance (:attr:`TransferKind.describe`: "刑满释放人员，风险等级中" —
never a name or number) and the sender's note; it *accepts* (choosing the unit that takes the
subject) or *declines* with a reason; the sender may *withdraw* while nobody answered.

Each county keeps its own side — :class:`TransferOut` in the sender, :class:`TransferIn` in the
receiver, both tenant tables joined by a random ``token`` — so a county reads only its own
rows (RLS, Citus co-location by tenant). Nothing crosses between the two in a request: each
act writes its own county's row and an outbox job (``core.outbox``) runs :func:`relay` after
commit. The relay moves the transfer on in short transactions of one county each, never two
at once (SQLite takes the write lock at BEGIN; two counties' transactions are never atomic
anyway), and every step is idempotent, so a relay run twice, or again after a crash between
two steps, ends in the same state:

1. the offer reaches the receiver (its row is made, its holders are told) — or, if that
   county cannot take it (the module is off there, :attr:`TransferKind.refusal`), the
   sender's row is declined with that reason;
2. a withdrawal is decided on the receiver's side (only an offer nobody answered);
3. a refusal is copied back to the sender;
4. on acceptance the payload is read in the sender's transaction (:attr:`TransferKind.export`)
   and written in the receiver's (:attr:`TransferKind.receive`): it exists only in the relay's
   memory in between, never in a job's arguments, a log line or a third table; then the
   sender's subject is closed (:attr:`TransferKind.handed_off`) and the sender told.

The receiver is the one place a decision is taken (accept, decline, a withdrawal that came
first), so the two sides cannot disagree. ``docs/transfers.md`` describes it for plugin authors.
"""
from __future__ import annotations

import datetime as dt
import json
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import BigInteger, Boolean, Index, String, Text, UniqueConstraint, false, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from core import audit, outbox
from core.authz import Grants
from core.crypto import Encrypted, blind_index
from core.db import AwareDateTime, TenantModel, current_tenant_id, insert_ignore, tenant_fk, utcnow
from core.errors import Conflict, Forbidden, Invalid, NotFound, PinganError
from core.models import OrgUnit, RoleAssignment, RolePermission, Tenant, TenantPlugin, User
from core.notifications import close_todos, notify
from core.timefmt import period_day

RELAY = "core.transfers.relay"
STATES: dict[str, tuple[str, str]] = {
    "offered": ("待对方县接收", "Awaiting the other county"),
    "withdrawing": ("撤回中", "Being withdrawn"),
    "accepted": ("已接收，正在转入", "Accepted, being delivered"),
    "delivered": ("已移交", "Delivered"),
    "declined": ("对方县已拒收", "Declined"),
    "withdrawn": ("已撤回", "Withdrawn"),
}
OPEN_OUT = ("offered", "withdrawing")   # the sender's subject is still its own, but promised
MAX_NOTE = 500


class EncryptedText(Encrypted):
    """An encrypted column for a note or a kind's JSON (it may say where a person went)."""
    impl = Text
    cache_ok = True


@dataclass(frozen=True)
class TransferFacts:
    """What the relay tells a kind's callables about one transfer."""

    token: str
    from_county: str            # the sending county's name
    to_county: str              # the receiving county's name
    on: dt.date                 # the day of the act (Beijing): acceptance for ``receive``, delivery after
    org_unit_id: int | None = None   # the receiving unit (receiver's side only)
    accepted_by: int | None = None   # the receiving user (receiver's side only)
    note: str = ""


@dataclass(frozen=True)
class TransferKind:
    """A kind of subject a module transfers to another county.

    - ``key``: ``<plugin>.<name>``; ``title`` / ``title_en``: what is transferred (重点人员).
    - ``permission``: a permission of the module held to offer (on the subject's unit), to see
      and answer offers (county-wide: receiving is the county's act) and to be the unit that
      takes the subject.
    - ``audience(meta) -> str``: optional, a further permission of the module a user must hold
      (with ``permission``, where that is held) to see an offer at all — for a key person the
      category's read permission, so the category is never shown to whoever may not read it.
    - ``describe(session, meta) -> str``: the line an offer shows before acceptance, from the
      ``meta`` the sender's module gave (plain keys, no personal data); called in either county.
    - ``refusal(session, meta) -> str | None``: in the receiving county, why it cannot take such
      a subject (a category it has not enabled), or None.
    - ``check_receive(session, grants, meta, unit_id)``: when a user accepts, may this unit take
      it? Raise ``Invalid``/``NotFound`` naming ``org_unit_id``.
    - ``export(session, subject_id) -> dict``: in the sending county, the payload (JSON values).
    - ``receive(session, payload, facts) -> int``: in the receiving county, make the subject at
      ``facts.org_unit_id``; returns its id. Raise a ``PinganError`` (``Conflict``) when it cannot
      be taken any more (the category switched off, the unit retired since the acceptance): the
      transfer is then declined with that message on both sides, and the sender's subject freed.
    - ``handed_off(session, subject_id, facts)``: in the sending county, after delivery: close it.
    - ``page(subject_id) -> str``: the URL of a subject's page (called in a request), for links; optional.
    """

    key: str
    title: str
    permission: str
    describe: Callable[[Session, Mapping], str]
    refusal: Callable[[Session, Mapping], str | None]
    check_receive: Callable[[Session, Grants, Mapping, int], None]
    export: Callable[[Session, int], dict]
    receive: Callable[[Session, dict, TransferFacts], int]
    handed_off: Callable[[Session, int, TransferFacts], None]
    title_en: str = ""
    audience: Callable[[Mapping], str] | None = None
    page: Callable[[int], str] | None = None
    plugin: str = field(default="", compare=False)

    def check(self, plugin: str, permissions) -> None:
        """Refuse a declaration the core could not serve (start-up stops with the message)."""
        if not re.fullmatch(rf"{re.escape(plugin)}\.[a-z][a-z0-9_]{{0,47}}", self.key):
            raise ValueError(f"plugin {plugin!r}: transfer kind {self.key!r} must be '{plugin}.<name>'")
        if not self.title:
            raise ValueError(f"transfer kind {self.key!r}: a title is needed")
        if self.permission not in permissions or permissions.owner(self.permission) != plugin:
            raise ValueError(f"transfer kind {self.key!r}: permission {self.permission!r} is not one the plugin declares")

    def audience_of(self, meta: Mapping) -> str | None:
        return self.audience(meta) if self.audience is not None else None


# --- the tables ------------------------------------------------------------------------------

class TransferOut(TenantModel):
    """The sending county's side: what it offered, to whom, and what became of it."""

    __tablename__ = "transfer_out"
    __table_args__ = (tenant_fk("org_unit_id", "org_unit"), tenant_fk("created_by", "app_user"),
                      UniqueConstraint("tenant_id", "token"),
                      Index("ix_transfer_out_subject", "tenant_id", "kind", "subject_id"),
                      Index("ix_transfer_out_unit", "tenant_id", "org_unit_id", "state"),
                      # one open offer per subject, whatever two requests at once try
                      Index("uq_transfer_out_open", "tenant_id", "kind", "subject_id", unique=True,
                            postgresql_where=text("state IN ('offered', 'withdrawing')"),
                            sqlite_where=text("state IN ('offered', 'withdrawing')")))
    token: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(64))
    subject_id: Mapped[int] = mapped_column(BigInteger, info={"secret": True})
    org_unit_id: Mapped[int] = mapped_column(BigInteger)        # the subject's unit when offered: who sees it
    to_tenant_id: Mapped[int] = mapped_column(BigInteger)
    meta: Mapped[str] = mapped_column(EncryptedText)            # the kind's JSON, e.g. the category
    audience_bidx: Mapped[str | None] = mapped_column(String(32), info={"secret": True})  # blind index of audience()
    note: Mapped[str | None] = mapped_column(EncryptedText)
    state: Mapped[str] = mapped_column(String(16), default="offered")
    answer: Mapped[str | None] = mapped_column(EncryptedText)   # the receiver's reason for a refusal
    created_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime, default=utcnow)
    withdraw_by: Mapped[int | None] = mapped_column(BigInteger)
    answered_at: Mapped[dt.datetime | None] = mapped_column(AwareDateTime)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(AwareDateTime)


class TransferIn(TenantModel):
    """The receiving county's side: the offer, its decision, and the subject it became. A row
    not ``shown`` stands for an offer that never reached the county's users (withdrawn before it
    arrived, or refused by the county's settings): it is what makes the receiving side the one
    place each transfer's end is decided."""

    __tablename__ = "transfer_in"
    __table_args__ = (tenant_fk("org_unit_id", "org_unit"), tenant_fk("decided_by", "app_user"),
                      UniqueConstraint("tenant_id", "token"),
                      Index("ix_transfer_in_state", "tenant_id", "state", "id"))
    token: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(64))
    from_tenant_id: Mapped[int] = mapped_column(BigInteger)
    meta: Mapped[str] = mapped_column(EncryptedText)
    audience_bidx: Mapped[str | None] = mapped_column(String(32), info={"secret": True})
    note: Mapped[str | None] = mapped_column(EncryptedText)
    offered_at: Mapped[dt.datetime] = mapped_column(AwareDateTime)  # when the sender offered it
    shown: Mapped[bool] = mapped_column(Boolean, default=True)
    state: Mapped[str] = mapped_column(String(16), default="offered")
    org_unit_id: Mapped[int | None] = mapped_column(BigInteger)     # the unit that takes it (on acceptance)
    decided_by: Mapped[int | None] = mapped_column(BigInteger)
    decided_at: Mapped[dt.datetime | None] = mapped_column(AwareDateTime)
    answer: Mapped[str | None] = mapped_column(EncryptedText)       # the reason of a refusal
    subject_id: Mapped[int | None] = mapped_column(BigInteger, info={"secret": True})  # made on delivery
    received_at: Mapped[dt.datetime] = mapped_column(AwareDateTime, default=utcnow)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(AwareDateTime)


# --- the kinds a county has --------------------------------------------------------------------

def kinds_for(host, enabled) -> dict[str, TransferKind]:
    """The transfer kinds of the plugins ``enabled`` (a county's), by key."""
    return {k: v for k, v in sorted(host.transfer_kinds.items()) if v.plugin in enabled}


def counties(session: Session) -> list[Tenant]:
    """The other active counties of the platform: where an offer may go (``tenant`` is the
    platform's own table; nothing of those counties but their names is read)."""
    me = current_tenant_id()
    return list(session.scalars(select(Tenant).where(Tenant.status == "active", Tenant.id != me)
                                .order_by(Tenant.name, Tenant.id)))


def meta_of(row: TransferOut | TransferIn) -> dict:
    return json.loads(row.meta or "{}")


# --- the sender's acts ------------------------------------------------------------------------

def open_for(session: Session, kind: str, subject_id: int) -> TransferOut | None:
    """The subject's transfer still waiting for the other county (the module keeps the subject
    as it is meanwhile: no hand-over, no end)."""
    return session.scalar(select(TransferOut).where(TransferOut.kind == kind, TransferOut.subject_id == subject_id,
                                                    TransferOut.state.in_(OPEN_OUT)))


def of_subject(session: Session, kind: str, subject_id: int) -> list[TransferOut]:
    """Every transfer of a subject, newest first (its page shows them)."""
    return list(session.scalars(select(TransferOut).where(TransferOut.kind == kind, TransferOut.subject_id == subject_id)
                                .order_by(TransferOut.id.desc())))


def offer(session: Session, kind: TransferKind, subject_id: int, org_unit_id: int, to_tenant_id: int,
          meta: Mapping[str, Any], note: str | None, user_id: int | None) -> TransferOut:
    """Offer a subject to another county; the module checked the user may (its own permission
    on the subject and ``kind.permission``). One open offer per subject (409 ``transfer_open``)."""
    if to_tenant_id == current_tenant_id() or session.scalar(
            select(Tenant.id).where(Tenant.id == to_tenant_id, Tenant.status == "active")) is None:
        raise Invalid("to_tenant_id", "county_not_found", "请选择平台上的另一个县（市、区）")
    if note and len(note) > MAX_NOTE:
        raise Invalid("note", "too_long", f"说明最多 {MAX_NOTE} 字")
    if open_for(session, kind.key, subject_id) is not None:
        raise Conflict("transfer_open", "已有一份待对方县接收的移交，请等待对方答复或先撤回")
    audience = kind.audience_of(meta)
    row = TransferOut(token=secrets.token_hex(16), kind=kind.key, subject_id=subject_id, org_unit_id=org_unit_id,
                      to_tenant_id=to_tenant_id, meta=json.dumps(dict(meta), ensure_ascii=False),
                      audience_bidx=blind_index(audience) if audience else None,
                      note=(note or "").strip() or None, state="offered", created_by=user_id)
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:   # another request offered it a moment ago (uq_transfer_out_open)
        raise Conflict("transfer_open", "已有一份待对方县接收的移交，请等待对方答复或先撤回") from None
    audit.record(session, "core.transfer.offer", "transfer_out", row.id, {"kind": kind.title, "to_tenant_id": to_tenant_id})
    _relay_after_commit(session, row.token, current_tenant_id(), to_tenant_id, "offer")
    return row


def withdraw(session: Session, row: TransferOut, user_id: int | None) -> TransferOut:
    """Ask to withdraw an offer nobody answered; the receiving county's side decides (an
    acceptance that came first stands)."""
    done = session.execute(update(TransferOut).where(TransferOut.id == row.id, TransferOut.state == "offered")
                           .values(state="withdrawing", withdraw_by=user_id)
                           .execution_options(synchronize_session=False)).rowcount
    if not done:
        raise Conflict("not_open", "只能撤回对方县尚未答复的移交")
    session.refresh(row)
    audit.record(session, "core.transfer.withdraw", "transfer_out", row.id, {"kind": _title(row.kind)})
    _relay_after_commit(session, row.token, current_tenant_id(), row.to_tenant_id, "withdraw")
    return row


def offer_as(ctx, key: str, subject_id: int, org_unit_id: int, to_tenant_id: int, meta: Mapping[str, Any],
             note: str | None) -> TransferOut:
    """:func:`offer` from a module's endpoint (``sdk.offer_transfer``): the kind must be one of
    the county's modules on, and the user hold its permission on the subject's unit (403 else);
    the module checked its own permission on the subject before."""
    from core.authz import may
    from core.runtime import running
    kind = kinds_for(running().plugins, ctx.plugins).get(key)
    if kind is None:
        raise NotFound()
    if not may(ctx.session, ctx.grants, kind.permission, org_unit_id):
        raise Forbidden("forbidden", "缺少跨县移交的权限")
    return offer(ctx.session, kind, subject_id, org_unit_id, to_tenant_id, meta, note, ctx.user.id if ctx.user else None)


def subject_transfers(session: Session, key: str, subject_id: int) -> list[dict]:
    """A subject's transfers, newest first, as its page shows them (``sdk.subject_transfers``):
    the county, the state, the dates, a refusal's reason."""
    from core.runtime import running
    kinds = {key: running().plugins.transfer_kinds[key]}
    return present_out(session, kinds, of_subject(session, key, subject_id))

# --- the receiver's acts ------------------------------------------------------------------------

def accept(session: Session, kind: TransferKind, row: TransferIn, grants: Grants, unit_id: int,
           user_id: int | None) -> TransferIn:
    """Accept an offer: ``unit_id`` takes the subject (the user holds ``kind.permission`` there
    and the kind's own check passes). The relay then brings the payload."""
    if row.state != "offered":
        raise Conflict("not_open", "该移交已答复或已撤回")
    unit = session.scalar(select(OrgUnit).where(OrgUnit.id == unit_id))
    if unit is None or unit.status != "active" or not grants.covers(kind.permission, unit.path):
        message = "单位不存在或不在您的管辖范围内"
        raise NotFound("unit_not_found", message, {"json": {"org_unit_id": [message]}})
    kind.check_receive(session, grants, meta_of(row), unit.id)
    _decide(session, row, "accepted", user_id, org_unit_id=unit.id)
    audit.record(session, "core.transfer.accept", "transfer_in", row.id, {"kind": kind.title, "org_unit_id": unit.id})
    _relay_after_commit(session, row.token, row.from_tenant_id, current_tenant_id(), "answer")
    return row


def decline(session: Session, row: TransferIn, reason: str, user_id: int | None) -> TransferIn:
    """Decline an offer with a reason the sending county reads."""
    reason = (reason or "").strip()
    if not reason or len(reason) > MAX_NOTE:
        raise Invalid("reason", "reason_required", f"请填写拒收原因（{MAX_NOTE} 字以内）")
    if row.state != "offered":
        raise Conflict("not_open", "该移交已答复或已撤回")
    _decide(session, row, "declined", user_id, answer=reason)
    audit.record(session, "core.transfer.decline", "transfer_in", row.id, {"kind": _title(row.kind)})
    _relay_after_commit(session, row.token, row.from_tenant_id, current_tenant_id(), "answer")
    return row


def _decide(session: Session, row: TransferIn, state: str, user_id: int | None, **values) -> None:
    """offered → ``state`` by a conditional update: of two answers at once (or an answer and a
    withdrawal), the first wins and the second is a 409."""
    done = session.execute(update(TransferIn).where(TransferIn.id == row.id, TransferIn.state == "offered")
                           .values(state=state, decided_by=user_id, decided_at=utcnow(), **values)
                           .execution_options(synchronize_session=False)).rowcount
    if not done:
        raise Conflict("not_open", "该移交已答复或已撤回")
    session.refresh(row)
    close_todos(session, key=f"transfer:{row.token}:offer")   # answered: nobody is asked any more


def _relay_after_commit(session: Session, token: str, from_tenant_id: int, to_tenant_id: int, step: str) -> None:
    outbox.add(session, RELAY, f"transfer:{token}:{step}", token=token, from_tenant_id=from_tenant_id,
               to_tenant_id=to_tenant_id)


# --- the relay ------------------------------------------------------------------------------------

def relay(token: str, from_tenant_id: int, to_tenant_id: int) -> None:
    """Move one transfer on as far as it goes now (module docstring). An outbox job run outside
    a transaction (``outbox_standalone``): it opens its own, one county at a time."""
    from core.runtime import running
    state = running()
    db = state.db
    with db.transaction(from_tenant_id) as s:
        out = s.scalar(select(TransferOut).where(TransferOut.token == token))
        if out is None or out.to_tenant_id != to_tenant_id:
            return   # the offer never committed, or a forged pair of counties
        names = dict(s.execute(select(Tenant.id, Tenant.name).where(Tenant.id.in_([from_tenant_id, to_tenant_id]))).all())
    kind = state.plugins.transfer_kinds.get(out.kind)
    if kind is None:
        raise RuntimeError(f"transfer kind {out.kind!r} is not installed")
    facts = dict(token=token, from_county=names.get(from_tenant_id, ""), to_county=names.get(to_tenant_id, ""))

    # 1. the receiver's side: the offer arrives — or a row not shown stands for the sender's
    #    withdrawal, or for the county's refusal. Inserted once (the token is unique there), so a
    #    relay that read the sender's side before a withdrawal cannot bring the offer in after it.
    with db.transaction(to_tenant_id) as s:
        inc = _incoming(s, token)
        if inc is None and out.state == "withdrawing":
            _insert_in(s, out, from_tenant_id, "withdrawn", shown=False)
        elif inc is None and out.state == "offered":
            reason = _refusal(s, kind, out)
            if reason is not None:
                _insert_in(s, out, from_tenant_id, "declined", shown=False, answer=reason)
            elif _insert_in(s, out, from_tenant_id, "offered"):
                _offer_arrived(s, kind, out, facts)
        inc = _incoming(s, token)
    if inc is None:
        return   # the sender's side ended before this relay read it: nothing to do
    # 2. a withdrawal: decided on the receiver's side (an answer that came first stands)
    if out.state == "withdrawing" and inc.state == "offered":
        with db.transaction(to_tenant_id) as s:
            done = s.execute(update(TransferIn).where(TransferIn.token == token, TransferIn.state == "offered")
                             .values(state="withdrawn", decided_at=utcnow())
                             .execution_options(synchronize_session=False)).rowcount
            inc = _incoming(s, token)
            if done:
                audit.record(s, "core.transfer.withdrawn", "transfer_in", inc.id, {"kind": kind.title})
                close_todos(s, key=f"transfer:{token}:offer")
    # 3. accepted: the payload crosses
    if inc.state == "accepted":
        inc = _deliver(db, kind, inc, facts, from_tenant_id, to_tenant_id)
    # 4. the receiver's end, copied back (the sender's subject closed on delivery)
    if inc.state in ("withdrawn", "declined", "delivered"):
        with db.transaction(from_tenant_id) as s:
            row = s.scalar(select(TransferOut).where(TransferOut.token == token).with_for_update())
            if row.state in OPEN_OUT:
                if inc.state == "delivered":
                    kind.handed_off(s, row.subject_id, TransferFacts(**facts, on=period_day(inc.delivered_at)))
                _close_out(s, kind, row, inc.state, inc.answer)


relay.outbox_standalone = True   # type: ignore[attr-defined]


def _incoming(session: Session, token: str) -> TransferIn | None:
    return session.scalar(select(TransferIn).where(TransferIn.token == token))


def _insert_in(session: Session, out: TransferOut, from_tenant_id: int, state: str, shown: bool = True,
               answer: str | None = None) -> bool:
    """The receiver's row of ``out`` in ``state``, unless one exists; True if this made it."""
    return insert_ignore(session, TransferIn, {
        "token": out.token, "kind": out.kind, "from_tenant_id": from_tenant_id, "meta": out.meta,
        "audience_bidx": out.audience_bidx, "note": out.note if shown else None, "offered_at": out.created_at,
        "shown": shown, "state": state, "answer": answer, "received_at": utcnow(),
        "decided_at": None if state == "offered" else utcnow()}, ["token"])


def _deliver(db, kind: TransferKind, inc: TransferIn, facts: dict, from_tenant_id: int, to_tenant_id: int) -> TransferIn:
    """Read the payload in the sender's transaction, write it in the receiver's: it exists only
    here in between. A kind that cannot take it any more declines it with its reason."""
    token = inc.token
    with db.transaction(from_tenant_id) as s:
        row = s.scalar(select(TransferOut).where(TransferOut.token == token).with_for_update())
        payload = kind.export(s, row.subject_id) if row.state in OPEN_OUT else None
    if payload is None:   # another relay delivered (or declined) it and copied the end back meanwhile
        with db.transaction(to_tenant_id) as s:
            inc = _incoming(s, token)
        if inc.state == "accepted":   # the sender only ever copies the receiver's end: cannot happen
            raise RuntimeError(f"transfer {token[:6]}…: accepted in one county, {row.state} in the other")
        return inc
    try:
        with db.transaction(to_tenant_id) as s:
            inc = s.scalar(select(TransferIn).where(TransferIn.token == token).with_for_update())
            if inc.state == "accepted":
                new_id = kind.receive(s, payload, TransferFacts(**facts, on=period_day(utcnow()), org_unit_id=inc.org_unit_id,
                                                                accepted_by=inc.decided_by, note=inc.note or ""))
                inc.state, inc.subject_id, inc.delivered_at = "delivered", new_id, utcnow()
                audit.record(s, "core.transfer.delivered", "transfer_in", inc.id, {"kind": kind.title})
                if inc.decided_by:
                    notify(s, [inc.decided_by], f"transfer:{token}:in", f"{kind.title}跨县移交已转入",
                           f"{facts['from_county']}移交的{kind.title}已转入本县，请在“跨县移交”中查看。")
            return inc
    except PinganError as exc:   # e.g. the category switched off or the unit retired since the acceptance
        if exc.status >= 500 or exc.status == 429:
            raise      # an outage (storage, a limit): tried again, never a refusal
        with db.transaction(to_tenant_id) as s:
            done = s.execute(update(TransferIn).where(TransferIn.token == token, TransferIn.state == "accepted")
                             .values(state="declined", answer=f"接收后无法转入：{exc.message}")
                             .execution_options(synchronize_session=False)).rowcount
            inc = _incoming(s, token)
            if done:
                audit.record(s, "core.transfer.undeliverable", "transfer_in", inc.id, {"kind": kind.title})
            if done and inc.decided_by:
                notify(s, [inc.decided_by], f"transfer:{token}:undeliverable", f"{kind.title}跨县移交未能转入",
                       f"{facts['from_county']}移交的{kind.title}未能转入本县：{exc.message}。已通知移交方。")
            return inc
    finally:
        del payload


def _refusal(session: Session, kind: TransferKind, out: TransferOut) -> str | None:
    """Why the receiving county (bound) cannot take the offer, or None."""
    on = session.scalar(select(TenantPlugin.enabled).where(TenantPlugin.plugin == kind.plugin))
    if not on:
        return f"对方县未启用“{kind.title}”模块，无法接收"
    return kind.refusal(session, meta_of(out))


def _offer_arrived(session: Session, kind: TransferKind, out: TransferOut, facts: dict) -> None:
    row = _incoming(session, out.token)
    audit.record(session, "core.transfer.received", "transfer_in", row.id, {"kind": kind.title})
    users = county_holders(session, kind.permission)
    audience = kind.audience_of(meta_of(out))
    if audience:
        users = sorted(set(users) & set(county_holders(session, audience)))
    notify(session, users, f"transfer:{out.token}:offer", f"{kind.title}跨县移交待接收",
           f"{facts['from_county']}向本县移交一项{kind.title}，请在“跨县移交”中接收或拒收。", kind="todo")


def _close_out(session: Session, kind: TransferKind, row: TransferOut, state: str, answer: str | None = None) -> None:
    """The sender's row reaches the receiver's end (once); its maker is told."""
    row.state, row.answered_at = state, utcnow()
    if answer:
        row.answer = answer
    if state == "delivered":
        row.delivered_at = utcnow()
    audit.record(session, f"core.transfer.{state}", "transfer_out", row.id, {"kind": kind.title})
    county = session.scalar(select(Tenant.name).where(Tenant.id == row.to_tenant_id)) or ""
    words = {"delivered": "已接收并转入", "declined": "未被接收", "withdrawn": "已撤回"}[state]
    users = [u for u in (row.created_by, row.withdraw_by) if u]
    if users:
        notify(session, sorted(set(users)), f"transfer:{row.token}:{state}", f"跨县移交{words}",
               f"您向{county}发起的跨县移交{words}，请在“跨县移交”中查看。")


def _title(key: str) -> str:
    """The kind's title for an audit entry (the audit shows words, never keys)."""
    from core.runtime import running
    state = running(optional=True)
    kind = state.plugins.transfer_kinds.get(key) if state is not None else None
    return kind.title if kind is not None else key


def county_holders(session: Session, perm: str) -> list[int]:
    """Active users holding ``perm`` on the county's root unit: whom an offer is told to."""
    root = select(OrgUnit.id).where(OrgUnit.parent_id.is_(None)).scalar_subquery()
    return list(session.scalars(
        select(User.id).distinct()
        .join(RoleAssignment, (RoleAssignment.user_id == User.id) & (RoleAssignment.tenant_id == User.tenant_id))
        .join(RolePermission, (RolePermission.role_id == RoleAssignment.role_id)
              & (RolePermission.tenant_id == RoleAssignment.tenant_id))
        .where(RolePermission.permission == perm, RoleAssignment.org_unit_id == root, User.status == "active")))



# --- what a user sees ---------------------------------------------------------------------------

def receivable_kinds(grants: Grants, kinds: Mapping[str, TransferKind]) -> list[str]:
    """The kinds whose offers the user sees and answers: ``kind.permission`` held county-wide."""
    return [k for k, kind in kinds.items() if grants.county_wide(kind.permission)]


def _audience(grants: Grants, kind: TransferKind, column, where) -> Any:
    """SQL predicate: the row's further permission (``audience_bidx``) is none, or one of the
    kind's module the user holds ``where`` (county-wide, or on the row's unit)."""
    prefix = kind.plugin + "."
    held = [p for p in grants.by_perm if p.startswith(prefix)]
    return or_(column.is_(None), *(where(p) & (column == blind_index(p)) for p in held))


def incoming_query(grants: Grants, kinds: Mapping[str, TransferKind], state: str | None = None):
    """The county's offers the user may see (shown ones; the kind's permission and its audience
    held county-wide), newest first (filter: a state)."""
    from sqlalchemy import true
    preds = [(TransferIn.kind == k) & _audience(grants, kinds[k], TransferIn.audience_bidx,
                                                 lambda p: true() if grants.county_wide(p) else false())
             for k in receivable_kinds(grants, kinds)]
    stmt = select(TransferIn).where(TransferIn.shown.is_(True), or_(*preds) if preds else false())
    return stmt.where(TransferIn.state == state) if state else stmt


def outgoing_query(grants: Grants, kinds: Mapping[str, TransferKind], state: str | None = None):
    """The county's own offers the user may see: of a kind whose permission (and audience) the
    user holds on the subject's unit (as it was when offered)."""
    from core.authz import unit_scope
    preds = [(TransferOut.kind == k) & unit_scope(grants, kind.permission)
             & _audience(grants, kind, TransferOut.audience_bidx, lambda p: unit_scope(grants, p))
             for k, kind in kinds.items() if grants.has(kind.permission)]
    stmt = (select(TransferOut).join(OrgUnit, OrgUnit.id == TransferOut.org_unit_id)
            .where(or_(*preds) if preds else false()))
    return stmt.where(TransferOut.state == state) if state else stmt


def incoming_or_404(session: Session, grants: Grants, kinds: Mapping[str, TransferKind], row_id: int) -> TransferIn:
    row = session.scalar(incoming_query(grants, kinds).where(TransferIn.id == row_id))
    if row is None:
        raise NotFound()
    return row


def outgoing_or_404(session: Session, grants: Grants, kinds: Mapping[str, TransferKind], row_id: int) -> TransferOut:
    row = session.scalar(outgoing_query(grants, kinds).where(TransferOut.id == row_id))
    if row is None:
        raise NotFound()
    return row


def _names(session: Session, model, ids) -> dict[int, str]:
    ids = {i for i in ids if i}
    return dict(session.execute(select(model.id, model.name).where(model.id.in_(ids))).all()) if ids else {}


def present_in(session: Session, kinds: Mapping[str, TransferKind], rows: list[TransferIn]) -> list[dict]:
    """Rows of the inbox: what the offer may say before acceptance, and its answer."""
    counties = _names(session, Tenant, (r.from_tenant_id for r in rows))
    units = _names(session, OrgUnit, (r.org_unit_id for r in rows))
    out = []
    for r in rows:
        kind = kinds.get(r.kind)
        out.append({"id": r.id, "kind": r.kind, "kind_title": kind.title if kind else r.kind,
                    "from_county": counties.get(r.from_tenant_id, ""),
                    "summary": kind.describe(session, meta_of(r)) if kind else "", "note": r.note or "",
                    "offered_at": r.offered_at, "received_at": r.received_at, "state": r.state,
                    "state_title": STATES[r.state][0], "org_unit_id": r.org_unit_id,
                    "org_unit_name": units.get(r.org_unit_id, ""), "decided_at": r.decided_at,
                    "answer": r.answer or "", "delivered_at": r.delivered_at, "subject_id": r.subject_id})
    return out


def present_out(session: Session, kinds: Mapping[str, TransferKind], rows: list[TransferOut]) -> list[dict]:
    """Rows of the county's own offers."""
    counties = _names(session, Tenant, (r.to_tenant_id for r in rows))
    units = _names(session, OrgUnit, (r.org_unit_id for r in rows))
    out = []
    for r in rows:
        kind = kinds.get(r.kind)
        out.append({"id": r.id, "kind": r.kind, "kind_title": kind.title if kind else r.kind,
                    "to_county": counties.get(r.to_tenant_id, ""), "to_tenant_id": r.to_tenant_id,
                    "summary": kind.describe(session, meta_of(r)) if kind else "", "note": r.note or "",
                    "org_unit_id": r.org_unit_id, "org_unit_name": units.get(r.org_unit_id, ""),
                    "state": r.state, "state_title": STATES[r.state][0], "created_at": r.created_at,
                    "answered_at": r.answered_at, "delivered_at": r.delivered_at, "answer": r.answer or "",
                    "subject_id": r.subject_id})
    return out
