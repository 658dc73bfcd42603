"""The audit log: an append-only, hash-chained record of every write and every sensitive read.

Every flush of tenant-owned rows notes one entry per created, changed or deleted row with
the changed fields before and after (sensitive fields appear as ``"***"``, never in plain
text — every encrypted column counts as sensitive, and columns marked ``info=SECRET``
(password and token hashes) are masked too). Reads of sensitive personal data are noted by
:func:`record_read`, other events by :func:`record`. Entries of a tenant form one chain:
``hash = sha256(prev_hash + canonical entry)``, and the chain head is kept in ``audit_head``;
``pingan audit verify`` recomputes it and names the first entry that was altered, removed or
inserted. On PostgreSQL the app role may only INSERT and SELECT ``audit_entry`` (see
``core.db.secure_schema``).

Noted entries are written once per transaction, when it commits (``before_commit``): the
chain head is locked and read, the entries go in with one multi-row INSERT and the head is
moved — on PostgreSQL the INSERT and the head update are one statement. So the entries
commit atomically with the data they describe, work that is rolled back (a whole
transaction, or a savepoint) leaves no entry, and the head's row lock is held only for the
moment of the commit instead of from the first flush on.

One exception to "an entry per row": a bulk act inside :func:`summarised` (a ledger import
of up to 200,000 cases, ``core.cases.bulk``) records itself as one entry naming what it wrote
(the number of rows per table, the cases' numbers and ids), so the chain stays whole and
the commit does not hash and insert hundreds of thousands of entries.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal

from sqlalchemy import JSON, BigInteger, Index, Integer, String, event, insert, inspect, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.context import current_actor, current_request_id
from core.crypto import unrecorded_columns
from core.db import AwareDateTime, TenantModel, bind_tenant, utcnow

GENESIS = "0" * 64
MASK = "***"


class AuditEntry(TenantModel):
    """One entry of a tenant's chain; ``id`` is the position in the chain (1, 2, 3 …)."""

    __tablename__ = "audit_entry"
    __table_args__ = (
        Index("ix_audit_entry_object", "tenant_id", "object_type", "object_id"),
        Index("ix_audit_entry_actor", "tenant_id", "actor_id"),
        Index("ix_audit_entry_at", "tenant_id", "at"),
        {"info": {"append_only": True}},
    )
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False, sort_order=-10)
    at: Mapped[datetime] = mapped_column(AwareDateTime)
    actor_id: Mapped[int | None] = mapped_column(BigInteger)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(64))
    object_id: Mapped[str | None] = mapped_column(String(64))
    changes: Mapped[dict] = mapped_column(JSON, default=dict)
    request_id: Mapped[str | None] = mapped_column(String(32))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(TenantModel):
    """The last position and hash of a tenant's chain (``id`` is always 0)."""

    __tablename__ = "audit_head"
    seq: Mapped[int] = mapped_column(Integer, default=0)
    hash: Mapped[str] = mapped_column(String(64), default=GENESIS)


@dataclass
class Entry:
    action: str
    object_type: str
    object_id: str | None
    changes: dict


# --- writing ------------------------------------------------------------------------------

def _jsonable(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return str(value)


def _canonical(row: dict) -> str:
    return json.dumps(row, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def entry_hash(row: dict) -> str:
    fields = {k: row[k] for k in ("tenant_id", "id", "at", "actor_id", "actor", "action",
                                  "object_type", "object_id", "changes", "request_id", "prev_hash")}
    at = fields["at"]
    fields["at"] = at.astimezone(timezone.utc).isoformat() if isinstance(at, datetime) else at
    return hashlib.sha256(_canonical(fields).encode()).hexdigest()


def ensure_head(session: Session, tenant_id: int) -> None:
    """Create the tenant's chain head (called when a tenant is created)."""
    exists = session.execute(select(AuditHead.__table__.c.seq).where(
        AuditHead.__table__.c.tenant_id == tenant_id)).first()
    if not exists:
        session.execute(insert(AuditHead.__table__).values(tenant_id=tenant_id, id=0, seq=0, hash=GENESIS))


@dataclass
class _Noted:
    """An entry waiting for its transaction to commit, with who and which request made it."""
    tenant_id: int
    entry: Entry
    actor_id: int | None
    actor: str
    request_id: str | None


_PENDING = "pingan_audit_pending"      # Session.info: [_Noted] of the open transaction
_SAVEPOINTS = "pingan_audit_savepoints"  # Session.info: {nested transaction: len(pending) at its start}
_WRITTEN = "pingan_audit_written"      # Session.info: the commit wrote the entries already
_ROWS_ONE_TRIP = 20  # more entries than this in one commit: executemany (a long multi-row INSERT compiles slowly)


def note(session: Session, tenant_id: int, entries: list[Entry]) -> None:
    """Add entries to the tenant's chain when the session's transaction commits."""
    if not entries:
        return
    if session.info.get(_WRITTEN):  # a flush after the entries were written (inside the commit)
        _write(session, tenant_id, entries, current_actor(), current_request_id())
        return
    actor, request_id = current_actor(), current_request_id()
    session.info.setdefault(_PENDING, []).extend(
        _Noted(tenant_id, e, actor.user_id, actor.label, request_id) for e in entries)


def append(session: Session, tenant_id: int, entries: list[Entry]) -> None:
    """Append entries to the tenant's chain now, inside the session's transaction.

    Normal code does not call this: the entries of a transaction are written when it commits.
    """
    _write(session, tenant_id, entries, current_actor(), current_request_id())


def _write(session: Session, tenant_id: int, entries: list, actor=None, request_id=None) -> None:
    """Lock the chain head, add ``entries`` (``Entry`` with the given actor, or ``_Noted``) and move the head."""
    if not entries:
        return
    head_t, entry_t = AuditHead.__table__, AuditEntry.__table__
    postgres = session.get_bind().dialect.name == "postgresql"
    q = select(head_t.c.seq, head_t.c.hash).where(head_t.c.tenant_id == tenant_id, head_t.c.id == 0)
    head = session.execute(q.with_for_update() if postgres else q).first()
    if head is None:
        ensure_head(session, tenant_id)
        seq, prev = 0, GENESIS
    else:
        seq, prev = head
    now = utcnow()
    rows = []
    for e in entries:
        if isinstance(e, _Noted):
            e, actor_id, label, rid = e.entry, e.actor_id, e.actor, e.request_id
        else:
            actor_id, label, rid = actor.user_id, actor.label, request_id
        seq += 1
        row = {"tenant_id": tenant_id, "id": seq, "at": now, "actor_id": actor_id,
               "actor": label, "action": e.action, "object_type": e.object_type,
               "object_id": e.object_id, "changes": _jsonable(e.changes),
               "request_id": rid, "prev_hash": prev}
        row["hash"] = prev = entry_hash(row)
        rows.append(row)
    move = update(head_t).where(head_t.c.tenant_id == tenant_id, head_t.c.id == 0).values(seq=seq, hash=prev)
    if postgres and len(rows) <= _ROWS_ONE_TRIP:  # one multi-row INSERT whose CTE moves the head: one round trip
        session.execute(insert(entry_t).values(rows).add_cte(move.cte("moved_head")))
    else:  # many rows (a county loaded, an import): executemany, batched and compiled once by SQLAlchemy
        session.execute(insert(entry_t), rows)
        session.execute(move)


@event.listens_for(Session, "before_commit")
def _write_noted(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a released savepoint's entries belong to the enclosing transaction
    session.flush()  # the commit's own flush comes after this hook: note its entries first
    pending = session.info.pop(_PENDING, None)
    session.info[_WRITTEN] = True
    if not pending:
        return
    by_tenant: dict[int, list[_Noted]] = {}
    for n in pending:
        by_tenant.setdefault(n.tenant_id, []).append(n)
    for tenant_id, entries in by_tenant.items():
        with bind_tenant(tenant_id):
            _write(session, tenant_id, entries)


@event.listens_for(Session, "after_transaction_create")
def _mark_savepoint(session: Session, transaction) -> None:
    if transaction.nested:
        session.info.setdefault(_SAVEPOINTS, {})[transaction] = len(session.info.get(_PENDING, ()))


@event.listens_for(Session, "after_soft_rollback")
def _forget_rolled_back(session: Session, previous_transaction) -> None:
    t = previous_transaction
    while t.parent is not None and not t.nested:
        t = t.parent  # a flush's subtransaction rolls back up to its savepoint or the root
    if t.nested:
        mark = session.info.get(_SAVEPOINTS, {}).get(t)
        if mark is not None and _PENDING in session.info:
            del session.info[_PENDING][mark:]
    else:
        session.info.pop(_PENDING, None)


@event.listens_for(Session, "after_transaction_end")
def _end_of_transaction(session: Session, transaction) -> None:
    if transaction.parent is None:  # committed (written), rolled back or closed: nothing carries over
        for key in (_PENDING, _SAVEPOINTS, _WRITTEN):
            session.info.pop(key, None)


def record(session: Session, action: str, object_type: str, object_id=None, changes: dict | None = None,
           tenant_id: int | None = None) -> None:
    """Note one event that is not a row change (login, logout, export …) for the commit."""
    from core.db import current_tenant_id
    note(session, tenant_id or current_tenant_id(),
           [Entry(action, object_type, None if object_id is None else str(object_id), changes or {})])


def record_read(session: Session, object_type: str, object_id, fields: list[str], purpose: str | None = None) -> None:
    """Log that the current actor saw sensitive fields of an object in plain text (and, for
    purpose-bound data such as key persons, the purpose the reader stated)."""
    changes: dict = {"fields": sorted(fields)}
    if purpose is not None:
        changes["purpose"] = purpose
    record(session, "read_sensitive", object_type, object_id, changes)


# --- automatic entries for every flushed row ----------------------------------------------

def _audited(obj) -> bool:
    return isinstance(obj, TenantModel) and getattr(type(obj), "__audit__", True) \
        and not isinstance(obj, (AuditEntry, AuditHead))


def _row_changes(obj, kind: str) -> dict:
    state = inspect(obj)
    masked = unrecorded_columns(type(obj))

    def value(key: str, v):
        return MASK if key in masked and v is not None else _jsonable(v)

    out: dict = {}
    for attr in state.mapper.column_attrs:
        key = attr.key
        if key == "tenant_id":
            continue
        if kind == "create":  # no history needed: every value set is new
            v = getattr(obj, key)
            if v is not None:
                out[key] = [None, value(key, v)]
            continue
        hist = state.attrs[key].history
        if kind == "delete":
            v = hist.unchanged[0] if hist.unchanged else (hist.deleted[0] if hist.deleted else None)
            if v is not None:
                out[key] = [value(key, v), None]
        elif hist.has_changes():
            before = hist.deleted[0] if hist.deleted else None
            after = hist.added[0] if hist.added else None
            if before != after:
                out[key] = [value(key, before), value(key, after)]
    return out


_SUMMARISED = "pingan_audit_summarised"  # Session.info: rows flushed now are noted by the act itself


@contextlib.contextmanager
def summarised(session: Session) -> Iterator[None]:
    """Rows flushed inside are not noted one entry each: the caller records the whole act as one
    entry (:func:`record`) that names what it wrote. For bulk acts only — a ledger import of
    100,000 cases (``core.cases.bulk``) would otherwise add some 400,000 entries in one commit,
    held in memory until then and hashed one by one."""
    session.info[_SUMMARISED] = True
    try:
        yield
    finally:
        session.info.pop(_SUMMARISED, None)


@event.listens_for(Session, "after_flush")
def _note_flush(session: Session, flush_context) -> None:
    if session.info.get(_SUMMARISED):
        return
    by_tenant: dict[int, list[Entry]] = {}
    for kind, objs in (("create", session.new), ("update", session.dirty), ("delete", session.deleted)):
        for obj in objs:
            if not _audited(obj):
                continue
            changes = _row_changes(obj, kind)
            if kind == "update" and not changes:
                continue
            by_tenant.setdefault(obj.tenant_id, []).append(
                Entry(kind, obj.__tablename__, str(obj.id), changes))
    for tenant_id, entries in by_tenant.items():
        note(session, tenant_id, entries)


# --- verification -------------------------------------------------------------------------

@dataclass
class VerifyResult:
    tenant_id: int
    entries: int
    ok: bool
    problem: str | None = None


def verify(session: Session, tenant_id: int, batch: int = 5000) -> VerifyResult:
    """Recompute the tenant's chain; report the first entry that breaks it.

    The chain is checked up to the head as it was read first: a commit that lands while the
    entries are read (the county keeps working during ``pingan audit verify``) adds entries
    past that head, and they are the next verification's — read without that bound, they made
    a live chain look as if entries had been removed."""
    t = AuditEntry.__table__
    head = session.execute(select(AuditHead.__table__.c.seq, AuditHead.__table__.c.hash).where(
        AuditHead.__table__.c.tenant_id == tenant_id)).first()
    upto = head[0] if head else 0
    prev, expected_seq, count, last = GENESIS, 1, 0, 0
    while True:
        rows = session.execute(select(t).where(t.c.tenant_id == tenant_id, t.c.id > last, t.c.id <= upto)
                               .order_by(t.c.id).limit(batch)).mappings().all()
        if not rows:
            break
        for row in rows:
            row = dict(row)
            if row["id"] != expected_seq:
                return VerifyResult(tenant_id, count, False, f"entry {expected_seq} is missing")
            if row["prev_hash"] != prev:
                return VerifyResult(tenant_id, count, False, f"entry {row['id']} does not follow entry {row['id'] - 1}")
            if entry_hash(row) != row["hash"]:
                return VerifyResult(tenant_id, count, False, f"entry {row['id']} was altered")
            prev, expected_seq, last, count = row["hash"], expected_seq + 1, row["id"], count + 1
    head_seq, head_hash = head if head else (0, GENESIS)
    if head_seq != count or head_hash != prev:
        return VerifyResult(tenant_id, count, False,
                            f"the chain ends at entry {count} but its head says {head_seq}: entries were removed")
    return VerifyResult(tenant_id, count, True)
