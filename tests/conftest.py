"""The platform's own test setup, on top of the testing kit (core/testing, docs/plugin_testing.md).

The fixtures (``app``, ``config``, ``demo``, ``other``, ``fresh_tenant``, ``county``, ``login``,
``token_client``, ``client_as``, ``db`` …), the database and Redis per xdist worker, the
PostgreSQL reset, Citus and the session clock come from the kit, loaded through its ``pytest11``
entry point (``pingan.testing``) before this file. What is the platform's own stays here:

- test counties are the real ``tenants/demo`` folder (``pingan_county_folder``), and ``county``
  has the reference plugin ``visits`` on (its case type ``visits.visit``; ``pingan_plugins``);
- after the session's last test, nothing it wrote holds a plain personal number (tests/pii_at_rest.py);
- the longest test files are handed out first under xdist.

The kit's names are importable from here as before (``from tests.conftest import Client …``).
"""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine

from core.testing import (DEMO_PASSWORD, GIVEN_PG_URL, LOG_FILE_NAME, PG_URL, REDIS_URL, WORKER,  # noqa: F401
                          Client, TenantInfo, distribute_for_tests, ensure_database, lock_waiters, make_token,
                          on_citus, reset_postgres, session_clock, web_login, worker_urls)
from core.testing import load_tenant as _load_tenant
from tests import pii_at_rest

pytest_plugins = ["pytester"]  # tests/test_testing_kit.py runs the kit from outside

ROOT = Path(__file__).resolve().parent.parent
DEMO_FOLDER = ROOT / "tenants" / "demo"


def load_tenant(app, slug: str | None = None, folder: Path = DEMO_FOLDER, demo: bool = True) -> TenantInfo:
    """The kit's ``load_tenant``, from ``tenants/demo`` unless told otherwise."""
    return _load_tenant(app, slug, folder, demo)


@pytest.fixture(scope="session")
def pingan_county_folder() -> Path:
    return DEMO_FOLDER


@pytest.fixture
def pingan_plugins() -> list[str]:
    return ["visits"]


def pytest_pingan_session_end(app) -> None:
    """After the session's last test: nothing it wrote holds a plain personal number (PIPL art. 51)."""
    from core.app import pingan
    state = pingan(app)
    owner = create_engine(PG_URL) if PG_URL else state.db.engine
    try:
        problems = pii_at_rest.check(state.db, owner,
                                     (state.config.instance_dir / LOG_FILE_NAME).read_text(encoding="utf-8"))
    finally:
        if PG_URL:
            owner.dispose()
    assert not problems, f"personal data at rest after the session: {problems}"


# Test files that take a minute or more, started first: under xdist (scripts/test.sh:
# ``--dist loadfile --no-loadscope-reorder``) files are handed out in collection order, and one of
# these started last would leave the other cores idle at the end (longest first). Measured on the
# PostgreSQL + Redis pass (pytest --durations).
LONG_FILES = ("test_faults.py", "test_schemathesis.py", "test_schemathesis_api_half.py", "test_schemathesis_web.py", "test_crypto.py", "test_job_reliability.py",
              "test_isolation_matrix.py", "test_write_scope.py", "test_graceful_restart.py")


# On a Citus cluster (.ci/run's third pass) the suite proves the schema and every statement on
# the distributed tables; these files test something else, which the SQLite and PostgreSQL passes
# have proved already and the cluster does not change: pages in Chromium (through the same routes
# and statements as the web tests), a server's signals and restarts, the testing kit run from
# outside. Skipping them there keeps CI within its hour (docs/testing.md).
NOT_ON_CITUS = ("tests/browser/", "tests/test_graceful_restart.py", "tests/test_testing_kit.py")


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(LONG_FILES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(LONG_FILES)))  # stable: the rest keep their order
    if PG_URL and on_citus(PG_URL):
        skip = pytest.mark.skip(reason="not a test of the database: run in the SQLite and PostgreSQL passes")
        for item in items:
            if item.path.is_relative_to(ROOT) and item.path.relative_to(ROOT).as_posix().startswith(NOT_ON_CITUS):
                item.add_marker(skip)
