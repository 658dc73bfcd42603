"""Fixtures: a real app on SQLite (default) or PostgreSQL + Redis (when their URLs are set).

- ``PINGAN_TEST_DATABASE_URL`` — e.g. ``postgresql+psycopg://postgres@127.0.0.1:5432/test``;
  the public schema of that database is dropped and rebuilt by ``pingan db upgrade``.
- ``PINGAN_TEST_REDIS_URL`` — e.g. ``redis://127.0.0.1:6379/15``.

Tenants come from the real ``tenants/demo`` folder, loaded under several slugs: ``demo``
and ``other`` are shared and must not be changed by tests; ``fresh_tenant`` gives a test
its own county to change.
"""
from __future__ import annotations

import itertools
import os
import uuid
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, select, text

from argon2 import PasswordHasher

from core import auth, citus
from core.app import create_app, pingan
from core.config import Config
from core.context import Actor, acting_as
from core.models import OrgUnit, User
from tests import pii_at_rest

# Passwords: the suite hashes with argon2id at its cheapest parameters (Django's test-settings
# practice). Each county the suite loads has six accounts, and argon2-cffi's defaults (what
# production uses; tests/test_auth.py checks a hash made by core.auth with them) take 0.1–0.3 s
# each on this 2-core machine: 70 % of ``fresh_tenant``. The hashes stay argon2id, verified by
# the same code (argon2 reads the parameters from the hash).
# (``auth.password_hasher()`` makes production's.)
auth._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)

ROOT = Path(__file__).resolve().parent.parent
DEMO_FOLDER = ROOT / "tenants" / "demo"
DEMO_PASSWORD = "pingan-demo-2026"
# Under pytest-xdist (``scripts/test.sh`` runs ``-n auto``) every worker has a database and a
# Redis database of its own, derived from the two URLs: ``test`` → ``test_gw0``, ``test_gw1`` …
# (made on first use, on every node of a Citus cluster too) and Redis db 15 → 15, 14 …. The
# environment is rewritten too, so subprocesses and helpers a test starts see the worker's own.
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
    """The URL the run was given (kept aside once: this module may be imported twice, as
    ``conftest`` and as ``tests.conftest``, and the environment is rewritten below)."""
    if WORKER and name in os.environ:
        os.environ.setdefault(f"{name}_GIVEN", os.environ[name])
    return os.environ.get(f"{name}_GIVEN") if WORKER else os.environ.get(name)


GIVEN_PG_URL = _given("PINGAN_TEST_DATABASE_URL")
PG_URL, REDIS_URL = worker_urls(GIVEN_PG_URL, _given("PINGAN_TEST_REDIS_URL"), WORKER)
for _name, _value in (("PINGAN_TEST_DATABASE_URL", PG_URL), ("PINGAN_TEST_REDIS_URL", REDIS_URL)):
    if _value:
        os.environ[_name] = _value
_slugs = itertools.count(1)


def ensure_database(url: str, template_url: str) -> None:
    """Create ``url``'s database if missing, beside ``template_url``'s (the one the run was given).
    On a Citus coordinator the database is made on every node, with the extension, and the new
    database's coordinator knows the same workers (what ``../shared/citus/setup.sh`` does for
    ``test``)."""
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
    engine = create_engine(url)
    with engine.begin() as conn:
        if citus.installed(conn):
            # the extension has objects in the schema public: drop ours, not the schema
            citus.drop_own_objects(conn)
        else:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def on_citus(url: str) -> bool:
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
    conn.execute(text("SELECT pg_stat_clear_snapshot()"))  # activity is snapshotted per transaction
    activity = "citus_stat_activity" if citus.installed(conn) else "pg_stat_activity"
    return conn.execute(text(
        f"SELECT count(*) FROM {activity} WHERE datname = current_database() AND wait_event_type = 'Lock' "
        "AND query ILIKE :q AND pid <> pg_backend_pid()"), {"q": f"%{table}%"}).scalar()


def distribute_for_tests(config: Config, state) -> None:
    """The suite on a Citus coordinator (.ci/run's third run): the schema distributed as
    ``pingan db distribute`` does it, and the app role allowed to log in — Citus opens the
    connections to the workers as the current role (docs/citus.md)."""
    from core.migrate import distribute
    # 4 shards, not Citus's 32: the suite's counties are tiny, and every shard of every table is
    # created, reset and planned over (``pingan db distribute --shard-count``, docs/citus.md)
    distribute(config, state.plugins, shard_count=4)
    engine = create_engine(config.migration_url)
    with engine.begin() as conn:
        conn.execute(text(f'ALTER ROLE "{config.db_app_role}" LOGIN'))
    engine.dispose()
    state.db.engine.dispose()  # connections opened before: their catalogue knew no shards


def session_clock():
    """``PINGAN_TEST_CLOCK``: run the whole session at another date (``.ci/run`` uses it).

    ``last-dec-15`` — 15 December of the last year ``chinese-calendar`` covers (limits reach
    into a year it does not); ``next-mar-1`` — 1 March of the year after it (a whole quarter
    of an uncovered year); or an ISO 8601 time with its offset. The clock ticks from there.
    """
    import datetime as dt
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
        raise pytest.UsageError("PINGAN_TEST_CLOCK needs an offset, e.g. 2027-03-01T10:00+08:00")
    return when


_CLOCK = []


def pytest_configure(config):
    if WORKER and PG_URL:  # before collection: some test modules ask the database what it is
        ensure_database(PG_URL, GIVEN_PG_URL)
    when = session_clock()
    if when is not None:
        import time_machine
        traveller = time_machine.travel(when, tick=True)
        traveller.start()
        _CLOCK.append(traveller)


# Test files that take a minute or more, started first: under xdist (scripts/test.sh:
# ``--dist loadfile --no-loadscope-reorder``) files are handed out in collection order, and one of
# these started last would leave the other cores idle at the end (longest first). Measured on the
# PostgreSQL + Redis pass (pytest --durations).
LONG_FILES = ("test_faults.py", "test_schemathesis.py", "test_crypto.py", "test_job_reliability.py",
              "test_isolation_matrix.py", "test_write_scope.py", "test_graceful_restart.py")


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(LONG_FILES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(LONG_FILES)))  # stable: the rest keep their order


def pytest_unconfigure(config):
    while _CLOCK:
        _CLOCK.pop().stop()


def pytest_report_header(config):
    when = session_clock()
    return f"pingan: clock set to {when.isoformat()} (PINGAN_TEST_CLOCK)" if when else None


@pytest.fixture(scope="session")
def instance_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("instance")


@pytest.fixture(scope="session")
def config(instance_dir) -> Config:
    url = PG_URL or f"sqlite:///{instance_dir / 'test.sqlite3'}"
    return Config.from_env(env="test", database_url=url, redis_url=REDIS_URL, instance_dir=instance_dir,
                           login_ip_limit=1000)


LOG_FILE_NAME = "pingan-test.log"


@pytest.fixture(scope="session")
def app(config):
    import logging
    from core.logs import JsonFormatter
    from core.migrate import upgrade
    handler = logging.FileHandler(config.instance_dir / LOG_FILE_NAME, encoding="utf-8")
    handler.setFormatter(JsonFormatter())
    logging.getLogger("pingan").addHandler(handler)  # every log line of the session, for the PII scan
    if PG_URL:
        reset_postgres(PG_URL)
    if REDIS_URL:  # log-in brakes of an earlier run (counted per address and per county id + name)
        import redis
        conn = redis.Redis.from_url(REDIS_URL)
        for pattern in ("pingan:recent:*", "pingan:backoff:*"):
            for key in conn.scan_iter(pattern):
                conn.delete(key)
    application = create_app(config)
    application.testing = True
    upgrade(config, pingan(application).plugins)
    if PG_URL and on_citus(PG_URL):
        distribute_for_tests(config, pingan(application))
    yield application
    # after the session's last test: nothing it wrote holds a plain personal number (PIPL art. 51)
    state = pingan(application)
    owner = create_engine(PG_URL) if PG_URL else state.db.engine
    try:
        problems = pii_at_rest.check(state.db, owner, (config.instance_dir / LOG_FILE_NAME).read_text(encoding="utf-8"))
    finally:
        if PG_URL:
            owner.dispose()
        state.db.dispose()
    assert not problems, f"personal data at rest after the session: {problems}"


@dataclass
class TenantInfo:
    id: int
    slug: str
    host: str
    units: dict[str, int]  # code → id

    def unit(self, code: str) -> int:
        return self.units[code]


def load_tenant(app, slug: str | None = None, folder: Path = DEMO_FOLDER, demo: bool = True) -> TenantInfo:
    from core.tenant_config import apply, validate_folder
    state = pingan(app)
    spec, issues = validate_folder(folder, state.plugins)
    assert not issues, issues
    # unique even if this module is imported twice (as ``conftest`` and as ``tests.conftest``)
    slug = slug or f"t{next(_slugs)}x{os.getpid()}{uuid.uuid4().hex[:8]}"
    host = f"{slug}.localhost"
    spec.data = {**spec.data, "slug": slug, "domains": [host]}
    with acting_as(Actor(None, "test:load")), state.db.Session() as s, s.begin():
        report = apply(s, spec, state.plugins, demo=demo)
    with state.db.transaction(report.tenant_id) as s:
        units = dict(s.execute(select(OrgUnit.code, OrgUnit.id)).all())
    state.resolver.forget()
    return TenantInfo(report.tenant_id, slug, host, units)


@pytest.fixture(scope="session")
def demo(app) -> TenantInfo:
    return load_tenant(app, "demo")


@pytest.fixture(scope="session")
def other(app) -> TenantInfo:
    return load_tenant(app, "other")


@pytest.fixture
def fresh_tenant(app) -> TenantInfo:
    return load_tenant(app)


class Client:
    """A test client bound to one tenant's host name, signed in by cookie or by token."""

    def __init__(self, app, host: str, headers: dict | None = None) -> None:
        self.app, self.host = app, host
        self.http = app.test_client()
        self.headers = dict(headers or {})

    def request(self, method: str, path: str, **kw):
        headers = {**self.headers, **kw.pop("headers", {})}
        return self.http.open(path, method=method, base_url=f"http://{self.host}", headers=headers, **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def patch(self, path, **kw):
        return self.request("PATCH", path, **kw)

    def put(self, path, **kw):
        return self.request("PUT", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def all_items(self, path: str) -> list[dict]:
        """Follow next_cursor through every page."""
        out, cursor = [], None
        while True:
            sep = "&" if "?" in path else "?"
            url = f"{path}{sep}limit=200" + (f"&cursor={cursor}" if cursor else "")
            r = self.get(url)
            assert r.status_code == 200, r.get_json()
            body = r.get_json()
            out.extend(body["items"])
            cursor = body["next_cursor"]
            if not cursor:
                return out


def web_login(app, tenant: TenantInfo | str, username: str, password: str = DEMO_PASSWORD,
              ip: str = "10.0.0.1") -> tuple[Client, object]:
    host = tenant if isinstance(tenant, str) else tenant.host
    c = Client(app, host)
    page = c.get("/login", environ_base={"REMOTE_ADDR": ip})
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    r = c.post("/login", data={"csrf_token": token, "username": username, "password": password},
               environ_base={"REMOTE_ADDR": ip})
    return c, r


@pytest.fixture
def login(app):
    """``login(tenant, username)`` → a Client signed in by cookie, CSRF header set."""
    def _login(tenant: TenantInfo, username: str, password: str = DEMO_PASSWORD) -> Client:
        c, r = web_login(app, tenant, username, password)
        assert r.status_code == 302, r.get_data(as_text=True)
        me = c.get("/api/me").get_json()
        c.headers["X-CSRF-Token"] = me["csrf_token"]
        return c
    return _login


def make_token(app, tenant: TenantInfo, username: str, scope: str = "") -> str:
    from core import auth
    state = pingan(app)
    with acting_as(Actor(None, "test")), state.db.transaction(tenant.id) as s:
        user = s.scalar(select(User).where(User.username == username))
        _, token = auth.create_access_token(s, user, "test", scope)
    return token


@pytest.fixture
def token_client(app):
    """``token_client(tenant, username)`` → a Client using a personal access token."""
    def _client(tenant: TenantInfo, username: str, scope: str = "") -> Client:
        return Client(app, tenant.host, {"Authorization": f"Bearer {make_token(app, tenant, username, scope)}"})
    return _client


@pytest.fixture
def county(app, fresh_tenant, login) -> TenantInfo:
    """A county of its own with the example plugin on (its case type ``visits.visit``)."""
    r = login(fresh_tenant, "county.admin").put("/api/modules/visits", json={"enabled": True})
    assert r.status_code == 200, r.get_json()
    return fresh_tenant


@pytest.fixture
def db(app):
    return pingan(app).db
