"""Issue 14, finding 17: production footguns.

- ``pingan tenant load --demo`` (known passwords, no forced change) is refused with
  ``PINGAN_ENV=production``.
- In production the app logs in as the app role itself (``PINGAN_DATABASE_URL``) and only
  ``pingan db upgrade`` uses the schema owner (``PINGAN_MIGRATION_DATABASE_URL``): the config
  refuses anything else, and on PostgreSQL an injected ``RESET ROLE`` (or ``SET ROLE`` to the
  owner, ``row_security = off``, ``ALTER TABLE … DISABLE ROW LEVEL SECURITY``) gains nothing.
"""
from __future__ import annotations

import base64
import os

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from core import crypto
from core.cli import main as cli
from core.config import Config, ConfigError
from core.context import Actor, acting_as
from core.db import Database, secure_schema
from tests.conftest import DEMO_FOLDER, PG_URL

KEY = base64.b64encode(b"k" * 32).decode()
SECRETS = {"PINGAN_SECRET_KEY": "s" * 40, "PINGAN_DATA_KEYS": f"k1:{KEY}", "PINGAN_INDEX_KEY": KEY}
PG_OWNER = "postgresql+psycopg://pingan_owner:pw@db.internal/pingan"
PG_APP = "postgresql+psycopg://pingan_app:pw@db.internal/pingan"


def production(tmp_path, **kw) -> Config:
    cfg = Config(env="production", secret_key=SECRETS["PINGAN_SECRET_KEY"], data_keys=SECRETS["PINGAN_DATA_KEYS"],
                 index_key=KEY, instance_dir=tmp_path, **kw)
    cfg.finish()
    return cfg


def test_demo_load_is_refused_in_production(app, tmp_path, monkeypatch):
    # issue 14 finding 17: --demo creates the folder's known password with no forced change
    for name, value in {**SECRETS, "PINGAN_ENV": "production", "PINGAN_INSTANCE_DIR": str(tmp_path),
                        "PINGAN_DATABASE_URL": f"sqlite:///{tmp_path / 'p.sqlite3'}"}.items():
        monkeypatch.setenv(name, value)
    before = crypto.ring()
    r = CliRunner().invoke(cli, ["tenant", "load", str(DEMO_FOLDER), "--demo"])
    assert r.exit_code != 0 and "--demo is refused with PINGAN_ENV=production" in r.output
    assert crypto.ring() is before  # refused before anything was set up (keys, database)
    assert not (tmp_path / "p.sqlite3").exists()
    r = CliRunner().invoke(cli, ["demo", "--no-serve"])  # the demo command loads with --demo too
    assert r.exit_code != 0 and "--demo is refused with PINGAN_ENV=production" in r.output
    assert crypto.ring() is before and not (tmp_path / "p.sqlite3").exists()


def test_production_on_postgresql_logs_in_as_the_app_role(tmp_path):
    # issue 14 finding 17: one owner URL with SET ROLE is refused in production
    with pytest.raises(ConfigError, match="PINGAN_MIGRATION_DATABASE_URL must be set"):
        production(tmp_path, database_url=PG_OWNER)
    with pytest.raises(ConfigError, match="must log in as the app role 'pingan_app'"):
        production(tmp_path, database_url=PG_OWNER, migration_database_url=PG_OWNER)
    with pytest.raises(ConfigError, match="as the schema owner"):
        production(tmp_path, database_url=PG_APP, migration_database_url=PG_APP)
    cfg = production(tmp_path, database_url=PG_APP, migration_database_url=PG_OWNER)
    assert cfg.set_role is None and cfg.migration_url == PG_OWNER  # no SET ROLE: the login is the app role
    dev = Config(env="development", database_url=PG_OWNER, instance_dir=tmp_path)
    dev.finish()
    assert dev.set_role == "pingan_app" and dev.migration_url == PG_OWNER
    assert production(tmp_path, database_url=f"sqlite:///{tmp_path / 'e.sqlite3'}").set_role is None


PROBE_ROLE = "pingan_rls_probe"  # a login app role of the test cluster (roles are cluster-wide)


def _attempt(db: Database, tenant_id: int, *sql: str):
    """Run ``sql`` in one transaction of the app's connection: the last statement's rows, or the error."""
    try:
        with db.transaction(tenant_id) as s:
            result = None
            for stmt in sql:
                result = s.execute(text(stmt))
            return result.all() if result is not None and result.returns_rows else None
    except Exception as exc:  # noqa: BLE001 — the refusal is what is tested
        return exc


@pytest.mark.skipif(not PG_URL, reason="row-level security is PostgreSQL's")
def test_reset_role_on_the_apps_connection_gains_nothing(app, demo, other, tmp_path):
    # issue 14 finding 17: the app's own login role has no owner behind it
    owner = create_engine(PG_URL)
    with owner.begin() as conn:
        if conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": PROBE_ROLE}).first() is None:
            conn.execute(text(f'CREATE ROLE "{PROBE_ROLE}" LOGIN NOSUPERUSER NOBYPASSRLS NOINHERIT'))
        with acting_as(Actor(None, "test:production")):
            secure_schema(conn, PROBE_ROLE)  # what `pingan db upgrade` does for PINGAN_DB_APP_ROLE
    owner.dispose()
    app_url = make_url(PG_URL).set(username=PROBE_ROLE).render_as_string(hide_password=False)
    cfg = production(tmp_path, database_url=app_url, migration_database_url=PG_URL, db_app_role=PROBE_ROLE)
    db = Database(cfg.database_url, app_role=cfg.set_role)  # exactly as create_app builds it
    try:
        theirs = f"SELECT count(*) FROM person WHERE tenant_id = {other.id}"
        mine = f"SELECT count(*) FROM person WHERE tenant_id = {demo.id}"
        assert _attempt(db, demo.id, mine)[0][0] > 0  # the probe reads real rows of its own county
        assert _attempt(db, demo.id, "RESET ROLE", "SELECT current_user")[0][0] == PROBE_ROLE
        assert _attempt(db, demo.id, "RESET ROLE", theirs)[0][0] == 0
        assert _attempt(db, demo.id, "RESET ROLE", "SELECT count(*) FROM person")[0][0] == \
            _attempt(db, demo.id, mine)[0][0]
        session_owner = make_url(PG_URL).username
        for escape in (f'SET ROLE "{session_owner}"', f'SET SESSION AUTHORIZATION "{session_owner}"',
                       "SET row_security = off", "ALTER TABLE person DISABLE ROW LEVEL SECURITY",
                       "DROP POLICY tenant_isolation ON person"):
            got = _attempt(db, demo.id, "RESET ROLE", escape, theirs)
            assert isinstance(got, Exception) or got[0][0] == 0, escape
        # the probe has teeth: the development set-up (owner login, SET ROLE) is the hole it finds
        dev = Database(PG_URL, app_role="pingan_app")
        try:
            assert _attempt(dev, demo.id, theirs)[0][0] == 0
            assert _attempt(dev, demo.id, "RESET ROLE", theirs)[0][0] > 0
        finally:
            dev.dispose()
    finally:
        db.dispose()


def test_the_suites_own_upgrade_uses_the_migration_url(tmp_path):
    # issue 14 finding 17: `pingan db upgrade` connects with the owner's URL, the app with its own
    cfg = Config(env="test", database_url=f"sqlite:///{tmp_path / 'app.sqlite3'}",
                 migration_database_url=f"sqlite:///{tmp_path / 'owner.sqlite3'}", instance_dir=tmp_path)
    cfg.finish()
    from core.migrate import upgrade
    from core.plugins import PluginHost
    upgrade(cfg, PluginHost())
    assert os.path.exists(tmp_path / "owner.sqlite3") and not os.path.exists(tmp_path / "app.sqlite3")


@pytest.mark.skipif(not PG_URL, reason="roles are PostgreSQL's")
def test_two_upgrades_racing_to_grant_the_app_role_both_succeed():
    # Roles are the cluster's: two processes securing two databases at once (CI's two test workers
    # on a fresh Citus cluster) ran the same GRANT; the loser's unique_violation failed its upgrade.
    import threading
    import uuid

    from core.db import _cluster_wide
    role = f"pingan_race_{uuid.uuid4().hex[:8]}"
    engine = create_engine(PG_URL)
    try:
        with engine.begin() as conn:
            conn.execute(text(f'CREATE ROLE "{role}" NOLOGIN'))
        first = engine.connect()
        first.begin()
        first.execute(text(f'GRANT "{role}" TO CURRENT_USER'))   # not committed yet: the other waits on it
        outcome = []

        def second():
            try:
                with engine.begin() as conn:
                    _cluster_wide(conn, f'GRANT "{role}" TO CURRENT_USER')
                    outcome.append("ok")
            except Exception as exc:  # noqa: BLE001 — the outcome is what is tested
                outcome.append(exc)
        t = threading.Thread(target=second)
        t.start()
        t.join(1.0)
        assert t.is_alive()                 # blocked behind the first grant
        first.commit()
        first.close()
        t.join(10)
        assert outcome == ["ok"]
        with engine.begin() as conn:        # and a plain repeat is a no-op, not an error
            _cluster_wide(conn, f'CREATE ROLE "{role}" NOLOGIN')
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'REVOKE "{role}" FROM CURRENT_USER'))
            conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        engine.dispose()
