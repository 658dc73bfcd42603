"""Database engine, sessions and the tenant guard.

Every table is one of three classes, declared by the base its model derives from (the one
place tables are classified; ``tests/test_schema.py`` fails on any other table):

- ``TenantModel`` — a county's data. ``tenant_id`` leads the primary key, every unique key
  and every foreign key (Citus-ready: ``tenant_id`` is the distribution column). The ORM
  guard adds ``tenant_id = <bound tenant>`` to every query and refuses one with no tenant
  bound; on PostgreSQL, row-level security is the second line of defence.
- ``ReferenceModel`` — shared read-mostly data, the same for every tenant (Citus reference
  tables).
- ``GlobalModel`` — platform data that is not a county's: tenants, their host names.

The bound tenant lives in a context variable set by :func:`bind_tenant`; web requests, jobs
and CLI commands bind it before they touch tenant data.
"""
from __future__ import annotations

import contextlib
import contextvars
import math
import re
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone

from sqlalchemy import (BigInteger, DateTime, ForeignKey, ForeignKeyConstraint, MetaData, Table, create_engine,
                        event, inspect, text)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.pool import Pool
from sqlalchemy.sql import visitors
from sqlalchemy.types import TypeDecorator
from sqlalchemy.orm import (DeclarativeBase, Mapped, Session, mapped_column, scoped_session,
                            sessionmaker, with_loader_criteria)

from core.config import DbTimeouts

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

TENANT, REFERENCE, GLOBAL = "tenant", "reference", "global"
ID_SEQUENCE = "pingan_id_seq"


class TenantNotBound(RuntimeError):
    """A query of tenant-owned data ran with no tenant bound."""


class TenantMismatch(RuntimeError):
    """An object of one tenant was written while another tenant is bound."""


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class AwareDateTime(TypeDecorator):
    """Timezone-aware datetimes on SQLite and PostgreSQL alike, stored as UTC."""
    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime written to the database; use core.db.utcnow()")
        return value.astimezone(timezone.utc) if value is not None else None

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    __pingan_class__: str | None = None


ID_BLOCK, ID_BLOCK_MAX = 16, 1024
_ID_POOL = "pingan_id_pool"  # Connection.info: [ids left (last first), block size] of the open transaction
# Session.info: this commit records an answer, it saves no new effect (set by core.idempotency;
# the web app's request deadline, core.app._check_deadline, lets such a commit through)
NO_DEADLINE = "pingan_no_deadline"


def _reserve_on(conn, n: int) -> list[int]:
    """``n`` ids from the platform sequence in one round trip, on a Core connection."""
    if conn.dialect.name == "postgresql":
        return list(conn.execute(text(f"SELECT nextval('{ID_SEQUENCE}') FROM generate_series(1, :n)"), {"n": n})
                    .scalars())
    last = conn.execute(text(f"UPDATE {ID_SEQUENCE} SET value = value + :n RETURNING value"), {"n": n}).scalar_one()
    return list(range(last - n + 1, last + 1))


def _next_id(context) -> int:
    """Column default of every tenant table's ``id``: from the transaction's block of ids.

    The first row a transaction inserts takes a block of ``ID_BLOCK`` ids from the sequence in
    one round trip, and each time the block runs out the next one is twice as large (up to
    ``ID_BLOCK_MAX``): registering a case with its person, petition, event and limits took a
    ``nextval`` round trip per row (issue 24). What is left of a block is dropped when the
    transaction ends (the sequence has gaps anyway) and when a savepoint is rolled back: on
    SQLite the one-row sequence table rolls back with it, and an id must never be handed out
    twice. Ids stay ascending within a transaction, in the order its rows are inserted.
    """
    conn = context.connection
    pool = conn.info.get(_ID_POOL)
    if pool is None or not pool[0]:
        size = ID_BLOCK if pool is None else min(pool[1] * 2, ID_BLOCK_MAX)
        pool = conn.info[_ID_POOL] = [_reserve_on(conn, size)[::-1], size]
    return pool[0].pop()


class TenantModel(Base):
    """Base of every tenant-owned table. Subclasses get ``tenant_id`` and ``id`` as the key."""

    __abstract__ = True
    __pingan_class__ = TENANT
    tenant_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("tenant.id"), primary_key=True, sort_order=-20)
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, default=_next_id, sort_order=-10)


class ReferenceModel(Base):
    __abstract__ = True
    __pingan_class__ = REFERENCE


class GlobalModel(Base):
    __abstract__ = True
    __pingan_class__ = GLOBAL


def tenant_fk(columns: str | list[str], target: str, ondelete: str | None = None) -> ForeignKeyConstraint:
    """A foreign key that includes ``tenant_id``: ``tenant_fk("parent_id", "org_unit")``.

    ``target`` is a tenant table whose key is ``(tenant_id, id)``; a list of columns names the
    local columns matching the target's key after ``tenant_id``.
    """
    cols = [columns] if isinstance(columns, str) else list(columns)
    remote = ["id"] if len(cols) == 1 else cols
    return ForeignKeyConstraint(["tenant_id", *cols], [f"{target}.tenant_id", *(f"{target}.{c}" for c in remote)],
                                ondelete=ondelete)


def table_class(table: Table) -> str | None:
    """``tenant``, ``reference``, ``global`` — or None for a table no model classifies."""
    return table.info.get("pingan_class")


@event.listens_for(Base, "instrument_class", propagate=True)
def _classify(mapper, cls) -> None:
    table = getattr(cls, "__table__", None)
    if table is not None and cls.__pingan_class__:
        table.info["pingan_class"] = cls.__pingan_class__


def tenant_tables() -> list[Table]:
    return [t for t in Base.metadata.sorted_tables if table_class(t) == TENANT]


# --- the bound tenant ---------------------------------------------------------------------

_tenant: contextvars.ContextVar[int | None] = contextvars.ContextVar("pingan_tenant", default=None)
_guard_on: contextvars.ContextVar[bool] = contextvars.ContextVar("pingan_guard_on", default=True)


@contextlib.contextmanager
def bind_tenant(tenant_id: int | None) -> Iterator[None]:
    token = _tenant.set(tenant_id)
    try:
        yield
    finally:
        _tenant.reset(token)


def set_tenant(tenant_id: int | None) -> contextvars.Token:
    """Bind for the rest of the current context (a web request); undo with ``reset_tenant``."""
    return _tenant.set(tenant_id)


def reset_tenant(token: contextvars.Token) -> None:
    _tenant.reset(token)


def current_tenant_id() -> int:
    tid = _tenant.get()
    if tid is None:
        raise TenantNotBound("no tenant is bound: wrap the work in core.db.bind_tenant(tenant_id)")
    return tid


def bound_tenant_id() -> int | None:
    return _tenant.get()


def on_citus(session: Session) -> bool:
    """Is the session's database a Citus coordinator? (Seen when each connection is made.)"""
    return bool(session.connection().connection.info.get("pingan_citus"))


@contextlib.contextmanager
def orm_guard_disabled_unsafe() -> Iterator[None]:
    """Switch the ORM guard off. Only for tests proving RLS alone holds; never in product code."""
    token = _guard_on.set(False)
    try:
        yield
    finally:
        _guard_on.reset(token)


def _touches_tenant_data(state) -> bool:
    """Does the statement read or write a tenant table anywhere (FROM, joins, subqueries)?

    ``all_mappers`` alone misses ``select(func.count()).select_from(Model)``, whose only
    entity sits in the FROM clause, so the whole statement is walked.
    """
    if any(issubclass(m.class_, TenantModel) for m in state.all_mappers):
        return True
    return any(isinstance(el, Table) and el.info.get("pingan_class") == TENANT
               for el in visitors.iterate(state.statement))


@event.listens_for(Session, "do_orm_execute")
def _guard_queries(state) -> None:
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if not _guard_on.get():
        return
    if not _touches_tenant_data(state):
        return
    tid = _tenant.get()
    if tid is None:
        raise TenantNotBound("query of tenant-owned data with no tenant bound")
    _sync_transaction_tenant(state.session, tid)
    state.statement = state.statement.options(
        with_loader_criteria(TenantModel, lambda cls: cls.tenant_id == tid, include_aliases=True))


def _sync_transaction_tenant(session: Session, tid: int) -> None:
    """The transaction's tenant (what RLS sees) must be the bound one.

    A transaction that began with no tenant bound (it read only global tables) takes the
    tenant now; one that began under another tenant is refused.
    """
    if "pingan_tx_tenant" not in session.info:
        return  # no transaction yet: the statement begins one, and after_begin binds ``tid``
    begun = session.info["pingan_tx_tenant"]
    if begun == tid:
        return
    if begun is not None:
        raise TenantMismatch("the bound tenant changed inside a transaction")
    adopt_tenant(session, tid)


@event.listens_for(Session, "before_flush")
def _guard_writes(session: Session, flush_context, instances) -> None:
    tid = _tenant.get()
    new = session.new  # a set built on every access: once here, not once per object (a bulk flush)
    if tid is not None and any(isinstance(o, TenantModel) for o in (*new, *session.dirty, *session.deleted)):
        _sync_transaction_tenant(session, tid)
    for obj in list(new) + list(session.dirty) + list(session.deleted):
        if not isinstance(obj, TenantModel):
            continue
        if tid is None:
            raise TenantNotBound(f"writing {type(obj).__name__} with no tenant bound")
        if obj.tenant_id is None and obj in new:
            obj.tenant_id = tid
        elif obj.tenant_id != tid:
            raise TenantMismatch(f"{type(obj).__name__} of tenant {obj.tenant_id} written under tenant {tid}")
        if obj not in new and inspect(obj).attrs.tenant_id.history.has_changes():
            raise TenantMismatch("tenant_id of a stored row cannot change")


_GUC_SET = "pingan_guc_tenant"  # Connection.info: the tenant the engine's BEGIN set (see make_engine)
_NOT_SET = object()


@event.listens_for(Session, "after_begin")
def _set_rls_tenant(session: Session, transaction, connection) -> None:
    tid = _tenant.get()
    session.info["pingan_tx_tenant"] = tid
    if connection.dialect.name == "postgresql":
        value = "" if tid is None else str(tid)
        # On our engines the transaction's BEGIN already carried the SET LOCAL (one round
        # trip, ``_begin_with_tenant``); anything else (a connection begun elsewhere, a tenant
        # bound in between) sets it here, before the session's first statement.
        if connection.info.pop(_GUC_SET, _NOT_SET) != value:
            local_sets = connection.connection.info.get(_LOCAL_SETS, "")
            connection.exec_driver_sql(bind_tenant_sql(tid) + local_sets, execution_options={"no_parameters": True})


@event.listens_for(Session, "after_transaction_end")
def _clear_tx_tenant(session: Session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop("pingan_tx_tenant", None)


# --- engine and sessions ------------------------------------------------------------------

class Database:
    """The engine and the session factory of one running Pingan (web, worker or CLI)."""

    def __init__(self, url: str, app_role: str | None = None, timeouts: DbTimeouts | None = None,
                 **engine_kw) -> None:
        self.url = url
        self.timeouts = timeouts
        self.engine = make_engine(url, app_role=app_role, timeouts=timeouts, **engine_kw)
        self.Session = sessionmaker(self.engine, expire_on_commit=False)
        self.session = scoped_session(self.Session)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextlib.contextmanager
    def transaction(self, tenant_id: int | None = None) -> Iterator[Session]:
        """A fresh session in one transaction, bound to ``tenant_id`` (jobs and CLI use this)."""
        with bind_tenant(tenant_id if tenant_id is not None else _tenant.get()):
            with self.Session() as s, s.begin():
                yield s

    def dispose(self) -> None:
        self.session.remove()
        self.engine.dispose()


def make_engine(url: str, app_role: str | None = None, timeouts: DbTimeouts | None = None, **kw) -> Engine:
    """The engine of one role (web, jobs): ``timeouts`` apply to each of its connections
    (:func:`timeout_connect_args`); without them, no limit on PostgreSQL and 30 s on SQLite."""
    if timeouts is not None and timeouts.lock > 0:
        kw.setdefault("pool_timeout", max(timeouts.lock, 1.0))  # waiting for a pooled connection too
    # a database error's message never carries the statement's values (a name, a note): it may
    # reach a log line or an outbox job's last error
    kw.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        kw.setdefault("connect_args", {"check_same_thread": False, **timeout_connect_args(url, timeouts)})
        busy_ms = _sqlite_busy_ms(timeouts)
        engine = create_engine(url, **kw)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, record):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA busy_timeout={busy_ms}")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):
            # pysqlite's own transaction handling is off (below). Take the write lock up front:
            # a deferred BEGIN that later writes can fail with SQLITE_BUSY when another thread
            # (the in-process worker) wrote meanwhile; IMMEDIATE waits on busy_timeout instead.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        @event.listens_for(engine, "connect")
        def _sqlite_autocommit(dbapi_conn, record):
            dbapi_conn.isolation_level = None
        return engine

    # No pool_pre_ping (a "SELECT 1" round trip on every checkout, ~10 % of a short request's
    # round trips): a connection idle in the pool for more than PING_IDLE_SECONDS is pinged on
    # checkout (``_ping_if_idle``: a dead one is replaced before use, as pre-ping does), one
    # in steady use is not; pool_recycle replaces connections before a server or firewall
    # idle timeout. A connection that dies while in use fails that request and is discarded
    # (SQLAlchemy invalidates the pool on a disconnect error): the optimistic half of
    # SQLAlchemy's "dealing with disconnects".
    kw.setdefault("pool_recycle", POOL_RECYCLE_SECONDS)
    psycopg3 = "+psycopg" in url and "+psycopg2" not in url
    if psycopg3:
        # psycopg prepares a statement on the server after 5 runs, and PostgreSQL may then
        # plan it once for any parameters: for a subtree list (ids of one township's units)
        # that generic plan took 2 s where a plan for the actual ids takes 2 ms
        # (bench/results/cases.md). Plan every statement for its parameters.
        kw.setdefault("connect_args", {}).setdefault("prepare_threshold", None)
    for key, value in timeout_connect_args(url, timeouts).items():
        kw.setdefault("connect_args", {}).setdefault(key, value)
    engine = create_engine(url, **kw)

    @event.listens_for(engine, "connect")
    def _no_jit(dbapi_conn, record):
        # JIT compiles a plan's expressions once its estimated cost is high. For our short
        # statements (the sweep's scan of one big table's partial index, a dashboard count)
        # the compiling took longer than the query: 9.7 ms at 1M cases, 353 ms at 10M,
        # almost all of it JIT (bench/results/cases.md). Nothing here is analytics-sized.
        cur = dbapi_conn.cursor()
        cur.execute("SET jit = off")
        cur.close()
        dbapi_conn.commit()

    @event.listens_for(engine, "connect")
    def _citus_session(dbapi_conn, record):
        # On a Citus coordinator the transaction's tenant (``SET LOCAL pingan.tenant_id``) must
        # reach the workers' shards, where row-level security reads it (docs/citus.md).
        cur = dbapi_conn.cursor()
        cur.execute("SELECT 1 FROM pg_extension WHERE extname = 'citus'")
        if cur.fetchone():
            cur.execute("SET citus.propagate_set_commands = 'local'")
            record.info["pingan_citus"] = True
            if timeouts is not None and timeouts.lock > 0:
                # the role's lock timeout is a connection option here, which Citus does not pass
                # on to its connections to the workers, where the county's rows are locked: each
                # transaction sets it again with SET LOCAL (propagated like the tenant)
                record.info[_LOCAL_SETS] = f"; SET LOCAL lock_timeout = {int(round(timeouts.lock * 1000))}"
        cur.close()
        dbapi_conn.commit()

    if app_role:
        @event.listens_for(engine, "connect")
        def _set_role(dbapi_conn, record):
            cur = dbapi_conn.cursor()
            cur.execute(f'SET ROLE "{app_role}"')
            cur.close()
            dbapi_conn.commit()

    if not kw.get("pool_pre_ping"):
        event.listen(engine.pool, "checkin", _note_checkin)
        event.listen(engine.pool, "checkout", _ping_if_idle)
    if psycopg3:
        event.listen(engine, "connect", _driver_autocommit)
        event.listen(engine, "begin", _begin_with_tenant)
        event.listen(engine, "before_cursor_execute", _binary_arrays)
    return engine


BINARY_ARRAYS = "pingan_binary_arrays"  # execution option: send the statement's list parameters in binary


def _binary_arrays(conn, cursor, statement, parameters, context, executemany) -> None:
    """A statement run with the :data:`BINARY_ARRAYS` option sends its lists (``unnest`` arrays of
    a bulk insert) in PostgreSQL's binary array format: psycopg dumps them in C, where the text
    format quotes each element in Python — 16× slower (a 100,000-row import's app CPU 26 → 23 s,
    bench/results/imports_quiet.md). Only on that statement's cursor: every other one keeps the
    defaults."""
    if context is not None and context.execution_options.get(BINARY_ARRAYS):
        from psycopg.types.array import ListBinaryDumper
        cursor.adapters.register_dumper(list, ListBinaryDumper)


POOL_RECYCLE_SECONDS = 1800
PING_IDLE_SECONDS = 10.0
SQLITE_DEFAULT_BUSY_SECONDS = 30
CONNECT_TIMEOUT_SECONDS = (2, 10)  # libpq's connect_timeout: the role's lock timeout, within these


def timeout_connect_args(url: str, timeouts: DbTimeouts | None) -> dict:
    """Driver arguments that put a role's timeouts on every connection, with no extra round trip.

    PostgreSQL: the startup packet's ``options`` (``-c statement_timeout=… -c lock_timeout=… -c
    idle_in_transaction_session_timeout=…``, in ms; a value set at connection start outranks the
    role's and the database's defaults and survives ``SET ROLE``) and libpq's
    ``connect_timeout``, so an unreachable server fails fast. SQLite has no statement timeout;
    its busy timeout — the wait for the write lock — is the role's lock timeout.
    """
    if timeouts is None:
        return {"timeout": SQLITE_DEFAULT_BUSY_SECONDS} if url.startswith("sqlite") else {}
    if url.startswith("sqlite"):
        return {"timeout": _sqlite_busy_ms(timeouts) / 1000}
    options = " ".join(f"-c {name}={int(round(seconds * 1000))}" for name, seconds in (
        ("statement_timeout", timeouts.statement), ("lock_timeout", timeouts.lock),
        ("idle_in_transaction_session_timeout", timeouts.idle_in_transaction)))
    from sqlalchemy.engine import make_url
    own = make_url(url).query.get("options")  # the URL's own options (``?options=-c …``) are kept
    if own:
        options = f"{own if isinstance(own, str) else ' '.join(own)} {options}"
    low, high = CONNECT_TIMEOUT_SECONDS
    connect = min(high, max(low, math.ceil(timeouts.lock))) if timeouts.lock > 0 else high
    return {"options": options, "connect_timeout": connect}


def _sqlite_busy_ms(timeouts: DbTimeouts | None) -> int:
    if timeouts is None:
        return SQLITE_DEFAULT_BUSY_SECONDS * 1000
    return int(timeouts.lock * 1000) if timeouts.lock > 0 else 2 ** 31 - 1  # 0: wait as long as it takes
_CHECKED_IN = "pingan_checked_in"


def _note_checkin(dbapi_conn, record) -> None:
    record.info[_CHECKED_IN] = time.monotonic()


def _ping_if_idle(dbapi_conn, record, proxy) -> None:
    """Ping a connection that sat in the pool for a while; a dead one is replaced.

    Raising ``DisconnectionError`` from a checkout listener makes the pool discard the
    connection and retry with a new one (SQLAlchemy's pessimistic disconnect handling). A
    brand-new connection (never checked in) needs no ping.
    """
    since = record.info.get(_CHECKED_IN)
    if since is None or time.monotonic() - since < PING_IDLE_SECONDS:
        return
    try:
        cur = dbapi_conn.cursor()
        try:
            cur.execute("SELECT 1")
        finally:
            cur.close()
    except Exception as exc:  # noqa: BLE001 — any failure: the connection is not usable
        raise DisconnectionError(f"connection idle {time.monotonic() - since:.0f} s failed its ping") from exc


def _driver_autocommit(dbapi_conn, record) -> None:
    """psycopg would send BEGIN in a round trip of its own before a transaction's first
    statement; with the driver in autocommit mode ``_begin_with_tenant`` sends it instead,
    together with the tenant of row-level security. COMMIT and ROLLBACK are unchanged
    (psycopg sends them whenever a transaction is open, autocommit or not)."""
    dbapi_conn.autocommit = True


_LOCAL_SETS = "pingan_local_sets"  # a Citus connection's SET LOCALs sent with every BEGIN


def _begin_with_tenant(conn) -> None:
    """Every transaction starts with ``BEGIN; SET LOCAL pingan.tenant_id = '…'`` in one round
    trip (simple query protocol: no parameters; the value is an integer or empty). The
    session's ``after_begin`` sees the mark and does not set it again."""
    driver = conn.connection.driver_connection
    if not driver.autocommit:  # someone switched it off (an isolation level option): restore
        if driver.info.transaction_status != 0:  # not idle: psycopg began already; set it in after_begin
            conn.info.pop(_GUC_SET, None)
            return
        driver.autocommit = True
    tid = _tenant.get()
    # through SQLAlchemy, so that a dead connection found here invalidates the pool as any
    # other disconnect error does
    local_sets = conn.connection.info.get(_LOCAL_SETS, "")
    conn.exec_driver_sql(f"BEGIN; {bind_tenant_sql(tid)}{local_sets}", execution_options={"no_parameters": True}).close()
    conn.info[_GUC_SET] = "" if tid is None else str(int(tid))


def bind_tenant_sql(tid: int | None) -> str:
    """The statement that binds the transaction's tenant for row-level security.

    ``SET LOCAL`` rather than ``set_config(…, true)``: the same effect on one server, and on a
    Citus coordinator (``citus.propagate_set_commands = 'local'``, set on connect by
    :func:`_citus_session`) it is sent on to every worker the transaction touches, so the
    policy on each shard sees the tenant too. The value is an integer or empty: no quoting
    is needed and the simple query protocol carries it in the BEGIN's round trip."""
    return f"SET LOCAL pingan.tenant_id = '{'' if tid is None else int(tid)}'"


# --- platform data that rarely changes: a change stamp for in-process caches --------------

# The web process caches a county's ``tenant`` row and its enabled plugins (core/app.py,
# core/plugins.py) and the host-name map (core/auth.py). Any write to those tables through
# SQLAlchemy in this process — ORM flush, bulk UPDATE, Core, text() — bumps the generation
# when it commits, which drops every cached entry: a change takes effect on this process's
# next request. Other processes notice within CACHE_SECONDS, when their entry expires.
CACHE_SECONDS = 5.0
CACHED_TABLES = ("tenant", "tenant_domain", "tenant_plugin", "national_calendar_year", "national_calendar_day",
                 "case_type_setting")
_WRITE_TO_CACHED = re.compile(r'^\s*(?:UPDATE|INSERT\s+INTO|DELETE\s+FROM)\s+"?(?:%s)"?(?:\s|\(|$)'
                              % "|".join(CACHED_TABLES), re.IGNORECASE)
_DIRTY, _BUMP_AT_CHECKIN = "pingan_cached_tables_written", "pingan_cached_tables_committed"
_generation = [0]
_generation_lock = threading.Lock()


def config_generation() -> int:
    return _generation[0]


def bump_config_generation() -> None:
    with _generation_lock:
        _generation[0] += 1


@event.listens_for(Engine, "before_cursor_execute")
def _note_cached_write(conn, cursor, statement, parameters, context, executemany) -> None:
    if _WRITE_TO_CACHED.match(statement):
        conn.info[_DIRTY] = True


@event.listens_for(Engine, "commit")
def _bump_on_commit(conn) -> None:
    # the event comes just before the COMMIT reaches the server: bump now (this thread's next
    # request must not use an older entry) and again when the connection is returned, after
    # the commit, so that an entry another thread loaded in between is dropped too
    if conn.info.pop(_DIRTY, False):
        bump_config_generation()
        conn.info[_BUMP_AT_CHECKIN] = True


@event.listens_for(Engine, "rollback")
def _forget_on_rollback(conn) -> None:
    if conn.invalidated:
        return  # cut mid-transaction (a database restart): the DBAPI connection and its info are gone
    conn.info.pop(_DIRTY, None)


@event.listens_for(Engine, "commit")
@event.listens_for(Engine, "rollback")
def _drop_id_pool(conn) -> None:
    """The transaction's unused ids (``_next_id``) are not carried into the next one."""
    if not conn.invalidated:
        conn.info.pop(_ID_POOL, None)


@event.listens_for(Engine, "rollback_savepoint")
def _drop_id_pool_at_savepoint(conn, name, context) -> None:
    conn.info.pop(_ID_POOL, None)  # on SQLite the sequence table went back: so must the block


@event.listens_for(Pool, "checkin")
def _drop_id_pool_at_checkin(dbapi_conn, record) -> None:
    record.info.pop(_ID_POOL, None)


@event.listens_for(Pool, "checkin")
def _bump_after_commit(dbapi_conn, record) -> None:
    if record.info.pop(_BUMP_AT_CHECKIN, False):
        bump_config_generation()


class ProcessCache:
    """key → value for at most ``ttl`` seconds, and only while the generation is unchanged.

    Read the generation *before* loading what you put, and pass it: a change committed while
    loading then leaves an entry that is already stale.
    """

    def __init__(self, ttl: float = CACHE_SECONDS) -> None:
        self.ttl = ttl
        self._data: dict = {}

    def get(self, key):
        hit = self._data.get(key)
        if hit is None or hit[0] != _generation[0] or hit[1] <= time.monotonic():
            return None
        return hit[2]

    def put(self, key, value, generation: int) -> None:
        self._data[key] = (generation, time.monotonic() + self.ttl, value)

    def clear(self) -> None:
        self._data.clear()


# --- PostgreSQL security: app role, grants, row-level security --------------------------

def _cluster_wide(conn, sql: str) -> None:
    """A role statement another process may run at the same moment — roles are the cluster's,
    shared by every database on it (two test workers, two app processes upgrading): losing the
    race to the same statement (unique_violation, duplicate_object) is success. In a savepoint
    of the caller's transaction: on a connection of its own it would wait for the locks this
    very transaction holds on the role (its migrations' grants), a lock timeout on Citus."""
    try:
        with conn.begin_nested():
            conn.execute(text(sql))
    except DBAPIError as exc:
        code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)  # psycopg 3 / 2
        if code not in ("23505", "42710"):
            raise


def secure_schema(conn, app_role: str) -> None:
    """Create the app role and apply grants and RLS to every table (idempotent).

    Run by ``pingan db upgrade`` after migrations, as the owner of the schema. The app role
    owns nothing and has no BYPASSRLS (an existing one that is a superuser or bypasses RLS is
    refused); in production it is the app's login role (created by the operator with LOGIN
    and a password, docs/configuration.md), so the app's connection has no owner to ``RESET
    ROLE`` back to; on tenant tables RLS is enabled and forced and the
    policy reads the tenant the session bound with ``SET LOCAL``.
    The audit tables take INSERT and SELECT only.
    """
    if conn.dialect.name != "postgresql" or not app_role:
        return
    found = conn.execute(text("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = :r"), {"r": app_role}).first()
    if found is None:
        _cluster_wide(conn, f'CREATE ROLE "{app_role}" NOLOGIN NOBYPASSRLS')
    elif found.rolsuper or found.rolbypassrls:
        raise RuntimeError(f"the app role {app_role!r} must not be a superuser nor bypass row-level security")
    if conn.execute(text("SELECT session_user = :r"), {"r": app_role}).scalar():
        raise RuntimeError(f"migrations must run as the schema owner, not as the app role {app_role!r} "
                           "(PINGAN_MIGRATION_DATABASE_URL)")
    if not conn.execute(text("SELECT pg_has_role(CURRENT_USER, :r, 'MEMBER')"), {"r": app_role}).scalar():
        _cluster_wide(conn, f'GRANT "{app_role}" TO CURRENT_USER')  # a member already (or a superuser): no lock taken
    conn.execute(text(f'GRANT USAGE ON SCHEMA public TO "{app_role}"'))
    conn.execute(text(f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO "{app_role}"'))
    present = set(inspect(conn).get_table_names())
    for table in Base.metadata.sorted_tables:
        if table.name not in present:
            continue
        name = table.name
        conn.execute(text(f'REVOKE ALL ON "{name}" FROM "{app_role}"'))
        if table.info.get("append_only"):
            conn.execute(text(f'GRANT SELECT, INSERT ON "{name}" TO "{app_role}"'))
        else:
            conn.execute(text(f'GRANT SELECT, INSERT, UPDATE, DELETE ON "{name}" TO "{app_role}"'))
        if table_class(table) == TENANT:
            conn.execute(text(f'ALTER TABLE "{name}" ENABLE ROW LEVEL SECURITY'))
            conn.execute(text(f'ALTER TABLE "{name}" FORCE ROW LEVEL SECURITY'))
            conn.execute(text(f'DROP POLICY IF EXISTS tenant_isolation ON "{name}"'))
            conn.execute(text(
                f'CREATE POLICY tenant_isolation ON "{name}" '
                f"USING (tenant_id = NULLIF(current_setting('pingan.tenant_id', true), '')::bigint) "
                f"WITH CHECK (tenant_id = NULLIF(current_setting('pingan.tenant_id', true), '')::bigint)"))
    conn.execute(text("GRANT SELECT ON alembic_version TO \"%s\"" % app_role))


@contextlib.contextmanager
def rls_unforced(conn, table: str) -> Iterator[None]:
    """For a migration's data step on every tenant's rows: the schema owner runs migrations
    with no tenant bound, and a forced policy would show it no row (an UPDATE would silently
    change nothing). Inside the migration's transaction, so the table is never left unforced."""
    forced = conn.dialect.name == "postgresql" and bool(conn.execute(text(
        "SELECT relforcerowsecurity FROM pg_class WHERE oid = CAST(:t AS regclass)"), {"t": table}).scalar())
    if forced:
        conn.execute(text(f'ALTER TABLE "{table}" NO FORCE ROW LEVEL SECURITY'))
    yield
    if forced:
        conn.execute(text(f'ALTER TABLE "{table}" FORCE ROW LEVEL SECURITY'))


def next_id(session: Session) -> int:
    """An id now, when a row needs its id before flush (a unit's path holds it): from the
    transaction's block of ids (:func:`take_ids`), so a county's 200 units are not 200 round trips."""
    return take_ids(session, 1)[0]


def adopt_tenant(session: Session, tenant_id: int) -> None:
    """Point the open transaction at ``tenant_id`` (the bound tenant must already be it).

    Only for the transaction that creates a tenant: it began with no tenant bound, and its
    remaining writes belong to the new tenant.
    """
    if _tenant.get() != tenant_id:
        raise TenantMismatch("bind the tenant first (core.db.bind_tenant)")
    session.info["pingan_tx_tenant"] = tenant_id
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(bind_tenant_sql(tenant_id), execution_options={"no_parameters": True})


# --- inserts that race safely ---------------------------------------------------------------

def _dialect_insert(session: Session, model):
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(model)


def insert_ignore(session: Session, model, values: dict, conflict: list[str]) -> bool:
    """``INSERT … ON CONFLICT (tenant_id, *conflict) DO NOTHING`` for the bound tenant.

    The primitive of idempotent side effects: two workers (or a retried job) inserting the
    same key leave one row. Returns True when this call inserted it.
    """
    return bool(insert_ignore_many(session, model, [values], conflict, model.id))


def insert_ignore_many(session: Session, model, rows: list[dict], conflict: list[str], returning) -> list:
    """:func:`insert_ignore` of many rows at once; returns ``returning`` (a column) of the rows
    this call inserted (a row whose key existed is skipped).

    One row: one statement, its id from ``nextval`` inside it on PostgreSQL. More: their ids
    in one round trip, then one executemany that SQLAlchemy sends as multi-row INSERTs of up
    to 1,000 rows (``insertmanyvalues``), compiled once and cached.
    """
    if not rows:
        return []
    tid = current_tenant_id()
    postgres = session.get_bind().dialect.name == "postgresql"
    stmt = _dialect_insert(session, model.__table__).on_conflict_do_nothing(
        index_elements=["tenant_id", *conflict]).returning(returning)
    if len(rows) == 1 and postgres:
        return list(session.scalars(stmt.values(tenant_id=tid, id=text(f"nextval('{ID_SEQUENCE}')"), **rows[0])))
    ids = take_ids(session, len(rows))
    return list(session.scalars(stmt, [{"tenant_id": tid, "id": i, **values} for i, values in zip(ids, rows)]))


def take_ids(session: Session, n: int) -> list[int]:
    """``n`` ids for rows about to be inserted: from the transaction's block (``_next_id``) when
    ``n`` is small — no round trip once the block is there — else :func:`reserve_ids`."""
    if n > ID_BLOCK:
        return reserve_ids(session, n)
    conn = session.connection()
    pool = conn.info.get(_ID_POOL)
    if pool is None or len(pool[0]) < n:  # what is left of a short block is dropped: the sequence has gaps
        size = ID_BLOCK if pool is None else min(pool[1] * 2, ID_BLOCK_MAX)
        pool = conn.info[_ID_POOL] = [_reserve_on(conn, size)[::-1], size]
    return [pool[0].pop() for _ in range(n)]


def reserve_ids(session: Session, n: int) -> list[int]:
    """``n`` ids from the platform sequence in one round trip."""
    if session.get_bind().dialect.name == "postgresql":
        return list(session.scalars(text(f"SELECT nextval('{ID_SEQUENCE}') FROM generate_series(1, :n)"), {"n": n}))
    last = session.execute(text(f"UPDATE {ID_SEQUENCE} SET value = value + :n RETURNING value"), {"n": n}).scalar_one()
    return list(range(last - n + 1, last + 1))


def add_to_counter(session: Session, model, keys: dict, column: str, delta: int) -> None:
    """``INSERT … ON CONFLICT DO UPDATE SET column = column + delta``: a counter row per key."""
    stmt = _dialect_insert(session, model).values(tenant_id=current_tenant_id(), **keys, **{column: delta})
    stmt = stmt.on_conflict_do_update(index_elements=["tenant_id", *keys],
                                      set_={column: getattr(model, column) + delta})
    session.execute(stmt)
