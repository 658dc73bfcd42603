"""Where the test session's data lives: a database and a Redis database per xdist worker,
PostgreSQL reset between sessions, Citus distribution, and the session clock.

``PINGAN_TEST_DATABASE_URL`` (e.g. ``postgresql+psycopg://postgres@127.0.0.1:5432/test``) and
``PINGAN_TEST_REDIS_URL`` (e.g. ``redis://127.0.0.1:6379/15``) move the session from SQLite and
the in-process queue to PostgreSQL and Redis; the public schema of that database is dropped and
rebuilt by the ``app`` fixture.

Under pytest-xdist every worker has a database and a Redis database of its own, derived from
the two URLs: ``test`` → ``test_gw0``, ``test_gw1`` … (made on first use, on every node of a
Citus cluster too) and Redis db 15 → 15, 14 …. The environment is rewritten too, so
subprocesses and helpers a test starts see the worker's own.
"""
from __future__ import annotations

import datetime as dt
import os

from sqlalchemy import create_engine, make_url, text

WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")


def worker_urls(database_url: str | None, redis_url: str | None, worker: str) -> tuple[str | None, str | None]:
    """The worker's own database and Redis URLs (unchanged outside xdist)."""
    if not worker:
        return database_url, redis_url
    index = int(worker.removeprefix("gw"))
    if database_url:
        url = make_url(database_url)
        database_url = url.set(database=f"{url.database}_{worker}").render_as_string(hide_password=False)
    if redis_url:
        base, _, db = redis_url.rpartition("/")
        redis_url = f"{base}/{(int(db or 0) - index) % 16}"
    return database_url, redis_url


def _given(name: str) -> str | None:
    """The URL the run was given (kept aside once: the environment is rewritten below, and a
    module importing this one again must not derive a worker's URL from a worker's URL)."""
    if WORKER and name in os.environ:
        os.environ.setdefault(f"{name}_GIVEN", os.environ[name])
    return os.environ.get(f"{name}_GIVEN") if WORKER else os.environ.get(name)


GIVEN_PG_URL = _given("PINGAN_TEST_DATABASE_URL")
PG_URL, REDIS_URL = worker_urls(GIVEN_PG_URL, _given("PINGAN_TEST_REDIS_URL"), WORKER)
for _name, _value in (("PINGAN_TEST_DATABASE_URL", PG_URL), ("PINGAN_TEST_REDIS_URL", REDIS_URL)):
    if _value:
        os.environ[_name] = _value


def ensure_app_role(url: str, role: str) -> None:
    """Create the app role (``core.db.secure_schema``'s NOLOGIN role) if missing, before the
    migrations do. Roles belong to the cluster, not to a database: xdist workers migrating their
    own databases on one fresh cluster (a new Citus cluster in CI) would race to create it, and
    the loser's ``CREATE ROLE`` fails on the unique role name. Here the loser just finds it."""
    import time

    from sqlalchemy.exc import DBAPIError
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        for attempt in range(5):
            with engine.connect() as conn:
                if conn.scalar(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}):
                    return
                try:
                    conn.execute(text(f'CREATE ROLE "{role}" NOLOGIN NOBYPASSRLS'))
                    return
                except DBAPIError:  # made meanwhile by another worker: look again
                    time.sleep(0.2 * (attempt + 1))
        raise RuntimeError(f"could not create the app role {role!r}")
    finally:
        engine.dispose()


def ensure_database(url: str, template_url: str) -> None:
    """Create ``url``'s database if missing, beside ``template_url``'s (the one the run was given).
    On a Citus coordinator the database is made on every node, with the extension, and the new
    database's coordinator knows the same workers (what ``../shared/citus/setup.sh`` does for
    ``test``)."""
    from core import citus
    name = make_url(url).database
    base = create_engine(template_url, isolation_level="AUTOCOMMIT")
    try:
        with base.connect() as conn:
            exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
            nodes = conn.execute(text("SELECT nodename, nodeport FROM pg_dist_node WHERE groupid <> 0 "
                                      "ORDER BY nodeid")).all() if citus.installed(conn) else None
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        base.dispose()
    if nodes is None:
        return
    here = make_url(url)
    for host, port in nodes:
        node = create_engine(here.set(host=host, port=port, database=make_url(template_url).database),
                             isolation_level="AUTOCOMMIT")
        try:
            with node.connect() as conn:
                if not conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}):
                    conn.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            node.dispose()
        worker_db = create_engine(here.set(host=host, port=port), isolation_level="AUTOCOMMIT")
        try:
            with worker_db.connect() as conn:
                conn.execute(text("CREATE EXTENSION IF NOT EXISTS citus"))
        finally:
            worker_db.dispose()
    coordinator = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with coordinator.connect() as conn:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS citus"))
            conn.execute(text("SELECT citus_set_coordinator_host(:h, :p)"),
                         {"h": here.host or "127.0.0.1", "p": here.port or 5432})
            for host, port in nodes:
                conn.execute(text("SELECT citus_add_node(:h, :p) WHERE NOT EXISTS "
                                  "(SELECT 1 FROM pg_dist_node WHERE nodename = :h AND nodeport = :p)"),
                             {"h": host, "p": port})
    finally:
        coordinator.dispose()


def reset_postgres(url: str) -> None:
    """Drop everything of an earlier session (on Citus: our objects, not the extension's)."""
    from core import citus
    engine = create_engine(url)
    with engine.begin() as conn:
        if citus.installed(conn):
            citus.drop_own_objects(conn)
        else:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def on_citus(url: str) -> bool:
    from core import citus
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return citus.installed(conn)
    finally:
        engine.dispose()


def lock_waiters(conn, table: str) -> int:
    """How many other sessions wait on a lock in a statement naming ``table``. On a Citus
    coordinator the wait is on the worker holding the shard: ``citus_stat_activity`` shows every
    node's backends (a shard's statement names ``<table>_<shard id>``)."""
    from core import citus
    conn.execute(text("SELECT pg_stat_clear_snapshot()"))  # activity is snapshotted per transaction
    activity = "citus_stat_activity" if citus.installed(conn) else "pg_stat_activity"
    return conn.execute(text(
        f"SELECT count(*) FROM {activity} WHERE datname = current_database() AND wait_event_type = 'Lock' "
        "AND query ILIKE :q AND pid <> pg_backend_pid()"), {"q": f"%{table}%"}).scalar()


def distribute_for_tests(config, state) -> None:
    """The session on a Citus coordinator: the schema distributed as ``pingan db distribute``
    does it, and the app role allowed to log in — Citus opens the connections to the workers
    as the current role (docs/citus.md)."""
    from core.migrate import distribute
    # 4 shards, not Citus's 32: test counties are tiny, and every shard of every table is
    # created, reset and planned over (``pingan db distribute --shard-count``, docs/citus.md)
    distribute(config, state.plugins, shard_count=4)
    engine = create_engine(config.migration_url)
    with engine.begin() as conn:
        conn.execute(text(f'ALTER ROLE "{config.db_app_role}" LOGIN'))
    engine.dispose()
    state.db.engine.dispose()  # connections opened before: their catalogue knew no shards


class ClockError(ValueError):
    """``PINGAN_TEST_CLOCK`` is not a time the session can run at."""


def session_clock() -> dt.datetime | None:
    """``PINGAN_TEST_CLOCK``: run the whole session at another date (``.ci/run`` uses it).

    ``last-dec-15`` — 15 December of the last year ``chinese-calendar`` covers (limits reach
    into a year it does not); ``next-mar-1`` — 1 March of the year after it (a whole quarter
    of an uncovered year); or an ISO 8601 time with its offset. The clock ticks from there.
    """
    raw = os.environ.get("PINGAN_TEST_CLOCK", "")
    if not raw:
        return None
    import chinese_calendar

    from core.workdays import SHANGHAI
    last = max(d.year for d in chinese_calendar.holidays)
    named = {"last-dec-15": dt.datetime(last, 12, 15, 10, 0, tzinfo=SHANGHAI),
             "next-mar-1": dt.datetime(last + 1, 3, 1, 10, 0, tzinfo=SHANGHAI)}
    when = named.get(raw) or dt.datetime.fromisoformat(raw)
    if when.tzinfo is None:
        raise ClockError("PINGAN_TEST_CLOCK needs an offset, e.g. 2027-03-01T10:00+08:00")
    return when
