"""Pingan's testing kit: a pytest plugin with a real app, test counties, signed-in clients and
the isolation and fuzzing checks, for the platform's own tests and for a plugin's.

Installed with Pingan and loaded in every pytest run of the environment through the
``pytest11`` entry point ``pingan.testing``; ``pytest -p no:pingan.testing`` leaves it out.
docs/plugin_testing.md documents every fixture and helper.
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from core.testing.clients import Client, bearer_client, make_token, signed_in, web_login
from core.testing.counties import (BUILTIN_COUNTY, COUNTY_ADMIN, DEMO_PASSWORD, TenantInfo, load_tenant,
                                   make_county_folder)
from core.testing.environment import (GIVEN_PG_URL, PG_URL, REDIS_URL, WORKER, ClockError, distribute_for_tests,
                                      ensure_app_role, ensure_database, lock_waiters, on_citus, reset_postgres, session_clock,
                                      worker_urls)
from core.testing.isolation import assert_plugin_isolation



def assert_migrations_match(plugin: str) -> None:
    """The plugin's models and its migrations describe the same tables (``pingan db check``):
    on a throw-away SQLite database upgraded to every head, so no server is needed."""
    from core.migrate import plugin_drift
    differences = plugin_drift(plugin)
    assert not differences, (f"{plugin}: the models and the migrations differ "
                             f"(`pingan db revision --plugin {plugin} -m … --autogenerate`):\n" + "\n".join(differences))

__all__ = ["BUILTIN_COUNTY", "COUNTY_ADMIN", "DEMO_PASSWORD", "GIVEN_PG_URL", "LOG_FILE_NAME", "PG_URL", "REDIS_URL",
           "WORKER", "Client", "TenantInfo", "assert_migrations_match", "assert_plugin_isolation", "bearer_client", "distribute_for_tests",
           "ensure_database", "load_tenant", "lock_waiters", "make_county_folder", "make_token", "on_citus",
           "reset_postgres", "run_plugin_schemathesis", "session_clock", "signed_in", "web_login", "worker_urls"]

LOG_FILE_NAME = "pingan-test.log"
"""Every log line of the session, as JSON, in the instance folder (``config.instance_dir``)."""


def run_plugin_schemathesis(app, plugin: str, county: TenantInfo, **kw):
    """Schemathesis over the plugin's own operations: see :func:`core.testing.fuzz.run_plugin_schemathesis`
    (imported on call: schemathesis is a test extra)."""
    from core.testing.fuzz import run_plugin_schemathesis as run
    return run(app, plugin, county, **kw)


# --- the pytest plugin: hooks ---------------------------------------------------------------

_CLOCK: list = []
_HASHER: list = []


def pytest_addhooks(pluginmanager) -> None:
    from core.testing import hooks
    pluginmanager.add_hookspecs(hooks)


def pytest_configure(config) -> None:
    from argon2 import PasswordHasher

    from core import auth
    if PG_URL:  # before collection: some test modules ask the database what it is
        from sqlalchemy import make_url
        maintenance = make_url(GIVEN_PG_URL).set(database="postgres").render_as_string(hide_password=False)
        ensure_database(GIVEN_PG_URL, maintenance)  # the database the run was given, made when missing
        if WORKER:
            ensure_database(PG_URL, GIVEN_PG_URL)
    # Passwords: argon2id at its cheapest parameters (Django's test-settings practice). Each
    # test county has a handful of accounts, and argon2-cffi's defaults (what production uses,
    # ``auth.password_hasher()``) take 0.1–0.3 s each: most of the time of loading a county.
    # The hashes stay argon2id, verified by the same code (argon2 reads the parameters from the hash).
    _HASHER.append(auth._hasher)
    auth._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    try:
        when = session_clock()
    except ClockError as exc:
        raise pytest.UsageError(str(exc)) from None
    if when is not None:
        import time_machine
        traveller = time_machine.travel(when, tick=True)
        traveller.start()
        _CLOCK.append(traveller)


def pytest_unconfigure(config) -> None:
    while _CLOCK:
        _CLOCK.pop().stop()
    if _HASHER:
        from core import auth
        auth._hasher = _HASHER.pop()


def pytest_report_header(config) -> str | None:
    when = session_clock()
    return f"pingan: clock set to {when.isoformat()} (PINGAN_TEST_CLOCK)" if when else None


# --- fixtures: the app and its database -------------------------------------------------------

@pytest.fixture(scope="session")
def instance_dir(tmp_path_factory) -> Path:
    """The app's instance folder (uploads, keys, the SQLite database, the session's log)."""
    return tmp_path_factory.mktemp("instance")


@pytest.fixture(scope="session")
def config(instance_dir):
    """The app's configuration: SQLite in ``instance_dir``, or ``PINGAN_TEST_DATABASE_URL`` /
    ``PINGAN_TEST_REDIS_URL`` (each xdist worker its own)."""
    from core.config import Config
    url = PG_URL or f"sqlite:///{instance_dir / 'test.sqlite3'}"
    return Config.from_env(env="test", database_url=url, redis_url=REDIS_URL, instance_dir=instance_dir,
                           login_ip_limit=1000)


@pytest.fixture(scope="session")
def app(config, request):
    """The real app with every installed plugin, its database migrated from empty (on Citus:
    distributed), for the whole session."""
    import logging

    from core.app import create_app, pingan
    from core.logs import JsonFormatter
    from core.migrate import upgrade
    handler = logging.FileHandler(config.instance_dir / LOG_FILE_NAME, encoding="utf-8")
    handler.setFormatter(JsonFormatter())
    logging.getLogger("pingan").addHandler(handler)
    if PG_URL:
        reset_postgres(PG_URL)
        if config.db_app_role:
            ensure_app_role(PG_URL, config.db_app_role)
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
    try:
        request.config.hook.pytest_pingan_session_end(app=application)
    finally:
        logging.getLogger("pingan").removeHandler(handler)
        handler.close()
        pingan(application).db.dispose()


@pytest.fixture
def db(app):
    """The app's database (``core.db``): ``db.transaction(county.id)`` is a session bound to a county."""
    from core.app import pingan
    return pingan(app).db


# --- fixtures: counties ---------------------------------------------------------------------

@pytest.fixture(scope="session")
def pingan_county_folder() -> Path:
    """The folder test counties are loaded from (tenant.toml + CSVs, docs/tenants.md). Override
    it (at session scope) to test with your own; default: the kit's own small county."""
    return BUILTIN_COUNTY


@pytest.fixture
def pingan_plugins() -> list[str] | dict[str, dict | None]:
    """The plugins ``county`` switches on: names, or name → settings. Override it; default none."""
    return []


@pytest.fixture(scope="session")
def demo(app, pingan_county_folder) -> TenantInfo:
    """A county shared by the session (slug ``demo``): tests must not change it."""
    return load_tenant(app, "demo", pingan_county_folder)


@pytest.fixture(scope="session")
def other(app, pingan_county_folder) -> TenantInfo:
    """A second shared county (slug ``other``), for what must not cross from one to the other."""
    return load_tenant(app, "other", pingan_county_folder)


@pytest.fixture
def fresh_tenant(app, pingan_county_folder) -> TenantInfo:
    """A county of the test's own, from ``pingan_county_folder``, no plugin on."""
    return load_tenant(app, folder=pingan_county_folder)


@pytest.fixture
def county(app, fresh_tenant, pingan_plugins, enable_plugin) -> TenantInfo:
    """A county of the test's own (``fresh_tenant``) with ``pingan_plugins`` switched on."""
    plugins = pingan_plugins if isinstance(pingan_plugins, dict) else dict.fromkeys(pingan_plugins)
    for name, settings in plugins.items():
        enable_plugin(name, settings, county=fresh_tenant)
    return fresh_tenant


# --- fixtures: clients ----------------------------------------------------------------------

@pytest.fixture
def login(app) -> Callable[..., Client]:
    """``login(county, username, password=DEMO_PASSWORD)`` → a Client signed in by cookie, CSRF header set."""
    def _login(tenant: TenantInfo, username: str, password: str = DEMO_PASSWORD) -> Client:
        return signed_in(app, tenant, username, password)
    return _login


@pytest.fixture
def token_client(app) -> Callable[..., Client]:
    """``token_client(county, username, scope="")`` → a Client using a personal access token."""
    def _client(tenant: TenantInfo, username: str, scope: str = "") -> Client:
        return bearer_client(app, tenant, username, scope)
    return _client


@pytest.fixture
def client_as(app, request) -> Callable[..., Client]:
    """``client_as("village.cadre")`` → a Client of that user on ``county``, signed in by cookie
    with the CSRF header set; ``county=`` another county; ``token=True`` by personal access token."""
    def _client_as(username: str, county: TenantInfo | None = None, token: bool = False,
                   password: str = DEMO_PASSWORD) -> Client:
        tenant = county or request.getfixturevalue("county")
        return bearer_client(app, tenant, username) if token else signed_in(app, tenant, username, password)
    return _client_as


@pytest.fixture
def county_session(app, request) -> Callable[..., contextlib.AbstractContextManager]:
    """``with county_session() as s:`` an SQLAlchemy session bound to ``county`` (or
    ``county_session(other_county)``), in one transaction committed at the end, acting as "test"."""
    from core.app import pingan
    from core.context import Actor, acting_as

    @contextlib.contextmanager
    def _session(county: TenantInfo | None = None) -> Iterator:
        tenant = county or request.getfixturevalue("county")
        with acting_as(Actor(None, "test")), pingan(app).db.transaction(tenant.id) as s:
            yield s
    return _session


def _switch(app, request, name: str, body: dict, county: TenantInfo | None) -> dict:
    tenant = county or request.getfixturevalue("county")
    r = bearer_client(app, tenant, COUNTY_ADMIN).put(f"/api/modules/{name}", json=body)
    assert r.status_code == 200, f"PUT /api/modules/{name} {body}: {r.status_code} {r.get_json()}"
    return r.get_json()


@pytest.fixture
def enable_plugin(app, request) -> Callable[..., dict]:
    """``enable_plugin(name, settings=None, county=None)``: the county admin switches the plugin
    on (with those settings) through ``PUT /api/modules/<name>``; asserts it worked."""
    def _enable(name: str, settings: dict | None = None, county: TenantInfo | None = None) -> dict:
        body = {"enabled": True} if settings is None else {"enabled": True, "settings": settings}
        return _switch(app, request, name, body, county)
    return _enable


@pytest.fixture
def disable_plugin(app, request) -> Callable[..., dict]:
    """``disable_plugin(name, county=None)``: the county admin switches the plugin off (data and
    settings are kept) through ``PUT /api/modules/<name>``; asserts it worked."""
    def _disable(name: str, county: TenantInfo | None = None) -> dict:
        return _switch(app, request, name, {"enabled": False}, county)
    return _disable
