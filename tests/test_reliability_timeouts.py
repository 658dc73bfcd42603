"""Issue 25 items 1 and 6: database timeouts per role, a whole-request deadline, and 503 (not
500) with ``Retry-After`` when the database, the file store or Redis fails — nothing saved.

Each test that needs other timeouts builds an app of its own on the session's database
(``other_app``); the session app keeps the defaults."""
from __future__ import annotations

import dataclasses
import errno
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, select, text

from core import jobs
from core.app import create_app, pingan, unavailable
from core.cases.models import Attachment, Case, CaseEvent
from core.config import DbTimeouts
from core.request import tenantless
from tests.casework import register
from tests.conftest import PG_URL, Client, make_token
from tests.test_attachments import PNG, upload

TIMEOUT_BODY_KEYS = {"status", "code", "message", "request_id"}


@pytest.fixture
def other_app(app, config):
    """``other_app(**config_overrides)`` → a second app on the same database (disposed after)."""
    made = []

    def _make(**overrides):
        application = create_app(dataclasses.replace(config, **overrides))
        application.testing = True
        made.append(application)
        return application
    yield _make
    for application in made:
        pingan(application).db.dispose()


def _setting(conn, name: str) -> int:
    """A PostgreSQL timeout in ms, or SQLite's busy timeout in ms (``name`` ignored there)."""
    if conn.dialect.name == "postgresql":
        return int(conn.execute(text("SELECT setting FROM pg_settings WHERE name = :n"), {"n": name}).scalar())
    return int(conn.exec_driver_sql("PRAGMA busy_timeout").scalar())


def _expected(conn, timeouts: DbTimeouts) -> dict:
    if conn.dialect.name == "postgresql":
        return {"statement_timeout": timeouts.statement * 1000, "lock_timeout": timeouts.lock * 1000,
                "idle_in_transaction_session_timeout": timeouts.idle_in_transaction * 1000}
    return {"busy_timeout": timeouts.lock * 1000 if timeouts.lock else 2 ** 31 - 1}


def _settings(conn, names) -> dict:
    return {n: _setting(conn, n) for n in names}


def _case_state(db, tenant, case_id: int) -> tuple[str, list[str]]:
    with db.transaction(tenant.id) as s:
        state = s.scalar(select(Case.state).where(Case.id == case_id))
        kinds = list(s.scalars(select(CaseEvent.kind).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)))
    return state, kinds


def _assert_503(r, code: str) -> dict:
    assert r.status_code == 503, (r.status_code, r.get_data(as_text=True)[:500])
    assert int(r.headers["Retry-After"]) > 0
    body = r.get_json()
    assert TIMEOUT_BODY_KEYS <= set(body) and body["status"] == 503 and body["code"] == code, body
    assert body["request_id"] and body["request_id"] == r.headers["X-Request-ID"]
    assert "请稍后" in body["message"]
    return body


class _WriteLock:
    """Another connection holding what a write to ``case_id`` needs: the case row's lock
    (``SELECT … FOR UPDATE``, PostgreSQL) or the database's write lock (SQLite)."""

    def __init__(self, config, tenant, case_id: int) -> None:
        self.config, self.tenant, self.case_id = config, tenant, case_id

    def __enter__(self):
        if PG_URL:
            self.engine = create_engine(PG_URL)
            self.conn = self.engine.connect()
            self.tx = self.conn.begin()
            self.conn.execute(text("SELECT 1 FROM case_record WHERE tenant_id = :t AND id = :c FOR UPDATE"),
                              {"t": self.tenant.id, "c": self.case_id})
        else:
            path = self.config.database_url.removeprefix("sqlite:///")
            self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self.conn.execute("BEGIN IMMEDIATE")
        return self

    def release(self) -> None:
        if getattr(self, "conn", None) is None:
            return
        if PG_URL:
            self.tx.rollback()
            self.conn.close()
            self.engine.dispose()
        else:
            self.conn.execute("ROLLBACK")
            self.conn.close()
        self.conn = None

    def __exit__(self, *exc) -> None:
        self.release()


# --- item 1: the timeouts of each role are in effect ----------------------------------------

def test_each_role_connects_with_its_own_timeouts(app, config, other_app, monkeypatch):
    """Web requests, jobs/CLI (``_state``) and migrations: each role's connections carry its
    timeouts (today all three were 0 on PostgreSQL, and 30 s of SQLite busy wait everywhere)."""
    from core import migrate
    from core.cli import _state
    names = ("statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout") if PG_URL \
        else ("busy_timeout",)
    web = pingan(app).db
    with web.engine.connect() as conn:
        assert _settings(conn, names) == _expected(conn, config.web_timeouts)
        assert _expected(conn, config.web_timeouts) == _expected(conn, DbTimeouts(15, 5, 60))  # the defaults
    assert web.engine.pool.timeout() == config.web_timeouts.lock  # no 30 s wait for a pooled connection

    custom = other_app(web_timeouts=DbTimeouts(7, 0.5, 9))
    with pingan(custom).db.engine.connect() as conn:
        assert _settings(conn, names) == _expected(conn, DbTimeouts(7, 0.5, 9))

    worker = _state(config)
    try:
        with worker.db.engine.connect() as conn:
            assert _settings(conn, names) == _expected(conn, config.job_timeouts)
            assert _expected(conn, config.job_timeouts) == _expected(conn, DbTimeouts(600, 30, 600))
    finally:
        worker.db.dispose()

    seen = {}
    real = migrate.secure_schema

    def spy(conn, role):  # the real secure_schema, on the migration's own connection
        seen.update(_settings(conn, names))
        seen["dialect"] = conn.dialect.name
        return real(conn, role)
    monkeypatch.setattr(migrate, "secure_schema", spy)
    migrate.upgrade(config, pingan(app).plugins)
    dialect = seen.pop("dialect")
    if dialect == "postgresql":
        assert seen == {"statement_timeout": 0, "lock_timeout": 10_000, "idle_in_transaction_session_timeout": 600_000}
    else:
        assert seen == {"busy_timeout": 10_000}


def test_timeouts_are_settings(monkeypatch):
    from core.config import Config, ConfigError
    monkeypatch.setenv("PINGAN_WEB_LOCK_TIMEOUT_SECONDS", "0.25")
    monkeypatch.setenv("PINGAN_JOB_STATEMENT_TIMEOUT_SECONDS", "0")
    monkeypatch.setenv("PINGAN_WEB_REQUEST_TIMEOUT_SECONDS", "12")
    cfg = Config.from_env(env="test")
    assert cfg.web_timeouts == DbTimeouts(15, 0.25, 60) and cfg.job_timeouts == DbTimeouts(0, 30, 600)
    assert cfg.migration_timeouts == DbTimeouts(0, 10, 600) and cfg.request_timeout_seconds == 12
    for bad in ("-1", "soon", "nan", "inf"):
        monkeypatch.setenv("PINGAN_MIGRATION_LOCK_TIMEOUT_SECONDS", bad)
        with pytest.raises(ConfigError, match="PINGAN_MIGRATION_LOCK_TIMEOUT_SECONDS"):
            Config.from_env(env="test")


# --- item 1: a write held up by a lock gives up, answers 503 and saves nothing --------------

def test_a_write_behind_a_held_lock_answers_503_within_the_lock_timeout_and_saves_nothing(
        app, config, county, other_app, db):
    fast = other_app(web_timeouts=DbTimeouts(15, 1, 60))
    token = make_token(app, county, "donghu.admin")
    town = Client(app, county.host, {"Authorization": f"Bearer {token}"})
    case = register(town, county.unit("T01D1V1"))
    client = Client(fast, county.host, {"Authorization": f"Bearer {token}"})
    with _WriteLock(config, county, case["id"]):
        started = time.monotonic()
        r = client.post(f"/api/cases/{case['id']}/transitions/accept", json={})
        waited = time.monotonic() - started
        _assert_503(r, "timeout")
        assert 0.9 <= waited < 5, waited           # about the lock timeout: not the 30 s of old, not forever
        assert "未保存" in r.get_json()["message"]
        assert client.get("/healthz").status_code == 200
    assert _case_state(db, county, case["id"]) == ("registered", ["registered"])  # nothing of it committed
    r = client.post(f"/api/cases/{case['id']}/transitions/accept", json={})  # the retry, lock gone
    assert r.status_code == 200, r.get_json()
    assert _case_state(db, county, case["id"])[1] == ["registered", "accept"]


def test_a_browser_gets_a_chinese_503_page(app, config, county, other_app):
    fast = other_app(web_timeouts=DbTimeouts(15, 1, 60))
    token = make_token(app, county, "donghu.admin")
    case = register(Client(app, county.host, {"Authorization": f"Bearer {token}"}), county.unit("T01D1V1"))
    client = Client(fast, county.host, {"Authorization": f"Bearer {token}", "Accept": "text/html"})
    with _WriteLock(config, county, case["id"]):
        r = client.post(f"/cases/{case['id']}/act/accept", data={})
    assert r.status_code == 503 and r.headers["Retry-After"]
    assert r.mimetype == "text/html"
    page = r.get_data(as_text=True)
    assert "服务暂时不可用" in page and "服务繁忙" in page and r.headers["X-Request-ID"] in page


def test_healthz_stays_fast_while_writers_queue_behind_a_lock(app, config, county, other_app):
    """The fault run: all web threads blocked behind one lock, /healthz took 88 s. Served by a
    real waitress with 2 threads and 4 writers behind the lock, /healthz answers in seconds."""
    from waitress.server import create_server
    fast = other_app(web_timeouts=DbTimeouts(15, 1, 60))
    token = make_token(app, county, "donghu.admin")
    case = register(Client(app, county.host, {"Authorization": f"Bearer {token}"}), county.unit("T01D1V1"))
    server = create_server(fast, host="127.0.0.1", port=0, threads=2)
    base = f"http://127.0.0.1:{server.effective_port}"
    serving = threading.Thread(target=server.run, daemon=True)
    serving.start()
    statuses: list[int] = []

    def write():
        try:
            statuses.append(requests.post(f"{base}/api/cases/{case['id']}/transitions/accept", json={}, timeout=30,
                                          headers={"Host": county.host, "Authorization": f"Bearer {token}"}
                                          ).status_code)
        except requests.RequestException:
            statuses.append(-1)
    try:
        with _WriteLock(config, county, case["id"]) as lock:
            writers = [threading.Thread(target=write) for _ in range(4)]
            for w in writers:
                w.start()
            time.sleep(0.3)  # the writers hold both threads
            started = time.monotonic()
            try:
                health = requests.get(f"{base}/healthz", timeout=8)
            finally:
                took = time.monotonic() - started
                lock.release()
            for w in writers:
                w.join(30)
        assert health.status_code == 200 and took < 5, took
        # those served while the lock was held gave up (503); one still queued when it went may succeed
        assert len(statuses) == 4 and statuses.count(503) >= 2 and set(statuses) <= {200, 409, 503}, statuses
    finally:
        server.close()


def test_no_free_pooled_connection_in_time_is_503_timeout(app, county, other_app):
    fast = other_app(web_timeouts=DbTimeouts(15, 0.5, 60))
    engine = pingan(fast).db.engine
    held = [engine.connect() for _ in range(engine.pool.size() + engine.pool._max_overflow)]
    try:
        r = Client(fast, county.host).get("/api/me")
        _assert_503(r, "timeout")
    finally:
        for conn in held:
            conn.close()


# --- item 1: the whole-request deadline -------------------------------------------------------

def test_a_request_past_its_deadline_rolls_back_instead_of_committing(app, county, other_app, db):
    token = make_token(app, county, "donghu.admin")
    case = register(Client(app, county.host, {"Authorization": f"Bearer {token}"}), county.unit("T01D1V1"))
    late = other_app(request_timeout_seconds=0.000001)  # every request is "late" by its commit
    client = Client(late, county.host, {"Authorization": f"Bearer {token}"})
    assert client.get(f"/api/cases/{case['id']}").status_code == 200  # a read commits nothing: served
    r = client.post(f"/api/cases/{case['id']}/transitions/accept", json={})
    _assert_503(r, "timeout")
    assert _case_state(db, county, case["id"]) == ("registered", ["registered"])
    r = client.post("/api/cases", json={"case_type": "visits.visit", "title": "迟到的登记", "org_unit_id":
                                        county.unit("T01D1V1"), "content": "x", "channel": "visit",
                                        "details": {"visit_kind": "home"}})
    _assert_503(r, "timeout")
    with db.transaction(county.id) as s:
        assert s.scalar(select(Case.id).where(Case.title == "迟到的登记")) is None
    # a web form re-shows its page with the message (the typed text kept), still 503 + Retry-After
    page = client.post(f"/cases/{case['id']}/act/accept", data={}, headers={"Accept": "text/html"})
    assert page.status_code == 503 and int(page.headers["Retry-After"]) > 0
    assert "服务繁忙" in page.get_data(as_text=True)
    assert _case_state(db, county, case["id"]) == ("registered", ["registered"])


# --- item 6: infrastructure failures are 503 with a cause class, bugs stay 500 ----------------

@pytest.mark.parametrize("url", ["postgresql+psycopg://pingan@127.0.0.1:9/none",
                                 "sqlite:////nonexistent-pingan-dir/none.sqlite3"])
def test_an_unreachable_database_answers_503_database_unavailable(app, county, other_app, caplog, url):
    down = other_app(database_url=url)
    started = time.monotonic()
    with caplog.at_level("WARNING", logger="pingan.web"):
        r = Client(down, county.host).get("/api/me")
    body = _assert_503(r, "database_unavailable")
    assert "服务暂时不可用" in body["message"]
    assert time.monotonic() - started < 10
    logged = [rec for rec in caplog.records if "503 database_unavailable" in rec.getMessage()]
    assert logged and "OperationalError" in logged[0].getMessage()


def test_a_connection_killed_under_a_request_answers_503(app, county, other_app):
    """PostgreSQL ends the session of the request's pooled connection (a restart, a failover):
    503 database_unavailable, not 500; the next request gets a new connection."""
    if not PG_URL:
        pytest.skip("terminating a backend needs PostgreSQL")
    victim = other_app()
    token = make_token(app, county, "donghu.admin")
    client = Client(victim, county.host, {"Authorization": f"Bearer {token}"})
    engine = pingan(victim).db.engine
    with engine.connect() as conn:  # the pool's one connection: the next request takes it again
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
    assert engine.pool.checkedin() == 1
    admin = create_engine(PG_URL)
    with admin.connect() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(CAST(:p AS integer))"), {"p": pid}).scalar()
    admin.dispose()
    _assert_503(client.get("/api/me"), "database_unavailable")
    assert client.get("/api/me").status_code == 200


def _upload_case(app, county):
    token = make_token(app, county, "village.cadre")
    town = Client(app, county.host, {"Authorization": f"Bearer {make_token(app, county, 'donghu.admin')}"})
    return register(town, county.unit("T01D1V1")), Client(app, county.host, {"Authorization": f"Bearer {token}"})


def _no_attachment(db, county, case_id: int) -> bool:
    with db.transaction(county.id) as s:
        return s.scalar(select(Attachment.id).where(Attachment.case_id == case_id)) is None


@pytest.mark.parametrize("failure", ["full", "read-only"])
def test_a_full_or_read_only_store_answers_503_storage_unavailable(app, county, db, monkeypatch, failure, caplog):
    """ENOSPC is the kernel's own (the file goes to /dev/full); EROFS is raised where opening
    the file for writing would raise it on a read-only mount."""
    import builtins
    import core.storage as storage_module
    case, cadre = _upload_case(app, county)

    def failing_open(path, mode="r", *args, **kw):
        if "w" not in mode:
            return builtins.open(path, mode, *args, **kw)
        if failure == "full":
            return builtins.open("/dev/full", mode, *args, **kw)
        raise OSError(errno.EROFS, "Read-only file system", str(path))
    monkeypatch.setattr(storage_module, "open", failing_open, raising=False)
    with caplog.at_level("WARNING", logger="pingan.web"):
        r = upload(cadre, case["id"], PNG, "现场照片.png")
    body = _assert_503(r, "storage_unavailable")
    assert "文件存储" in body["message"]
    assert _no_attachment(db, county, case["id"])
    cause = "ENOSPC" if failure == "full" else "EROFS"
    assert any(cause in rec.getMessage() for rec in caplog.records), [rec.getMessage() for rec in caplog.records]


@pytest.fixture
def tmpfs(tmp_path):
    """A real tmpfs of 64 KiB (``mount`` needs root with CAP_SYS_ADMIN; else the test skips)."""
    mounted = []

    def _mount(name: str, *options: str) -> Path:
        where = tmp_path / name
        where.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", ",".join(("size=64k", *options)), "tmpfs", str(where)],
                              capture_output=True)
        if done.returncode:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
        mounted.append(where)
        return where
    yield _mount
    for where in mounted:
        subprocess.run(["umount", str(where)], check=False)


def test_a_real_read_only_and_a_real_full_store_answer_503(app, config, county, db, monkeypatch, tmpfs):
    case, cadre = _upload_case(app, county)
    read_only = tmpfs("ro", "ro")
    monkeypatch.setattr(config, "storage_dir", read_only)
    _assert_503(upload(cadre, case["id"], PNG, "现场照片.png"), "storage_unavailable")
    full = tmpfs("full")
    (full / "filler").write_bytes(b"\0" * 60 * 1024)
    monkeypatch.setattr(config, "storage_dir", full)
    _assert_503(upload(cadre, case["id"], PNG + b"\0" * 16 * 1024, "现场照片.png"), "storage_unavailable")
    assert _no_attachment(db, county, case["id"])
    assert sorted(p.name for p in full.rglob("*") if p.is_file()) == ["filler"]  # no partial file left


def test_redis_down_where_a_request_needs_it_answers_503_and_a_bug_still_500(app, county, other_app):
    """A view that needs Redis (here: a ping through the app's queue, pointed at a closed port)
    answers 503 queue_unavailable; a plain bug in a view stays 500 internal_error."""
    down = other_app(redis_url="redis://127.0.0.1:9/0")

    @down.route("/api/_test/needs-redis")
    @tenantless
    def needs_redis():
        jobs.queue(pingan().config).redis.ping()
        return {"ok": True}

    @down.route("/api/_test/bug")
    @tenantless
    def bug():
        raise RuntimeError("a bug")

    client = Client(down, county.host)
    body = _assert_503(client.get("/api/_test/needs-redis"), "queue_unavailable")
    assert "后台任务" in body["message"]
    r = client.get("/api/_test/bug")
    assert r.status_code == 500 and r.get_json()["code"] == "internal_error"
    assert "Retry-After" not in r.headers


def test_the_classifier_names_each_cause():
    """The one classification (``core.app.unavailable``): driver errors by SQLSTATE and kind."""
    import psycopg
    from redis.exceptions import TimeoutError as RedisTimeout
    from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

    def pg(sqlstate: str, kind=psycopg.errors.OperationalError):
        err = psycopg.errors.lookup(sqlstate)("x") if sqlstate else kind("connection failed")
        return OperationalError("SELECT 1", {}, err)

    def code(exc):
        found = unavailable(exc)
        return found.code if found else None
    assert code(pg("57014")) == code(pg("55P03")) == "timeout"
    assert code(OperationalError("x", {}, psycopg.errors.lookup("25P03")("x"))) == "timeout"
    assert code(pg("57P01")) == code(pg("08006")) == code(pg("53300")) == code(pg("")) == "database_unavailable"
    assert code(OperationalError("x", {}, sqlite3.OperationalError("database is locked"))) == "timeout"
    assert code(OperationalError("x", {}, sqlite3.OperationalError("no such table: x"))) is None  # a bug
    assert code(ProgrammingError("x", {}, psycopg.errors.lookup("42P01")("x"))) is None
    assert code(IntegrityError("x", {}, psycopg.errors.lookup("23505")("x"))) is None
    assert code(OSError(errno.ENOSPC, "No space left on device")) == "storage_unavailable"
    assert code(OSError(errno.ENOENT, "No such file")) is None
    assert code(RedisTimeout("timed out")) == "queue_unavailable"
    assert code(RuntimeError("a bug")) is None
    try:
        try:
            raise pg("55P03")
        except OperationalError as exc:
            raise ValueError("wrapped") from exc
    except ValueError as wrapped:
        assert code(wrapped) == "timeout"


def test_a_rollback_after_the_connection_was_cut_does_not_raise():
    """bench/faults.py: a PostgreSQL restart cut a request's connection mid-transaction; the
    rollback then raised from core.db's rollback listener (it read the dead connection's info),
    and the request answered 500 instead of 503 — once after its write had committed."""
    from sqlalchemy import create_engine as plain_engine, text as sql
    from sqlalchemy.orm import Session as PlainSession
    import core.db  # noqa: F401  (its Engine-wide listeners)
    engine = plain_engine("sqlite://")
    with PlainSession(engine) as s:
        s.execute(sql("SELECT 1"))
        s.connection().invalidate()
        s.rollback()
    engine.dispose()
