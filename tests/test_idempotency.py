"""Issue 25, item 2: safe retries. A write sent again with the same ``Idempotency-Key`` (or a
form's one-time ``form_token``) gets the first answer and writes nothing again — per user and
county, kept ``PINGAN_IDEMPOTENCY_HOURS`` — also when the retry arrives while the first
attempt still waits on a lock (its client gave up)."""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import sqlite3
import threading
import time
import uuid

import pytest
import requests
import time_machine
from sqlalchemy import create_engine, func, select, text

from core import idempotency, jobs
from core.app import pingan
from core.cases.models import Case, Intake
from core.idempotency import IdempotencyKey
from tests.casework import VISIT
from tests.conftest import PG_URL, Client, lock_waiters, load_tenant, make_token

KEY = "Idempotency-Key"


def _case(county, title: str) -> dict:
    return {"case_type": VISIT, "title": title, "org_unit_id": county.unit("T01D1V1"), "content": "王大爷独居，请求村里上门看看",
            "channel": "visit", "details": {"visit_kind": "home"}}


def _title() -> str:
    return f"请求上门走访 {uuid.uuid4().hex[:8]}"


def _cases(db, tenant, title: str) -> int:
    with db.transaction(tenant.id) as s:
        return s.scalar(select(func.count()).select_from(Case).where(Case.title == title))


def _keys(db, tenant) -> int:
    with db.transaction(tenant.id) as s:
        return s.scalar(select(func.count()).select_from(IdempotencyKey))


def test_the_same_key_twice_registers_once_and_replays_the_first_answer(county, token_client, db):
    town = token_client(county, "donghu.admin")
    title, key = _title(), str(uuid.uuid4())
    first = town.post("/api/cases", json=_case(county, title), headers={KEY: key})
    assert first.status_code == 201, first.get_json()
    assert "Idempotent-Replayed" not in first.headers
    again = town.post("/api/cases", json=_case(county, title), headers={KEY: key})
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_data() == first.get_data() and again.content_type == first.content_type
    assert _cases(db, county, title) == 1
    # without a key, as before: every request is its own write
    assert town.post("/api/cases", json=_case(county, title)).status_code == 201
    assert _cases(db, county, title) == 2


def test_the_stored_answer_is_encrypted_at_rest(county, token_client, db):
    town = token_client(county, "donghu.admin")
    title = _title()
    assert town.post("/api/cases", json=_case(county, title), headers={KEY: "enc-" + uuid.uuid4().hex}).status_code == 201
    with db.transaction(county.id) as s:  # the column as stored, past the ORM type
        stored = s.execute(text("SELECT answer FROM idempotency_key WHERE tenant_id = :t"), {"t": county.id}).scalars().all()
    assert stored and all(v and re.match(r"^[^$]+\$[A-Za-z0-9+/=]+$", v) for v in stored)
    assert not any(title in v or "王大爷" in v for v in stored)


def test_a_key_reused_for_another_request_is_422_and_bad_keys_are_refused(county, token_client, db):
    town = token_client(county, "donghu.admin")
    title, key = _title(), str(uuid.uuid4())
    assert town.post("/api/cases", json=_case(county, title), headers={KEY: key}).status_code == 201
    r = town.post("/api/cases", json=_case(county, title + "（另一件）"), headers={KEY: key})
    assert r.status_code == 422 and r.get_json()["code"] == "idempotency_key_reused"
    assert KEY in r.get_json()["errors"]["headers"]
    assert _cases(db, county, title + "（另一件）") == 0
    for bad in ("x" * 256, "钥匙", "tab\there"):
        r = town.post("/api/cases", json=_case(county, title), headers={KEY: bad})
        assert r.status_code == 422 and r.get_json()["code"] == "invalid_idempotency_key", bad
        assert KEY in r.get_json()["errors"]["headers"]
    assert _cases(db, county, title) == 1
    assert town.post("/api/cases", json=_case(county, title), headers={KEY: "k" * 255}).status_code == 201


def test_keys_belong_to_one_user_in_one_county(app, county, token_client, db):
    """User B's key never replays user A's answer; another county's users are strangers too."""
    title, key = _title(), str(uuid.uuid4())
    a = token_client(county, "donghu.admin").post("/api/cases", json=_case(county, title), headers={KEY: key})
    b = token_client(county, "county.admin").post("/api/cases", json=_case(county, title), headers={KEY: key})
    assert a.status_code == b.status_code == 201 and "Idempotent-Replayed" not in b.headers
    assert a.get_json()["id"] != b.get_json()["id"] and _cases(db, county, title) == 2
    again = token_client(county, "donghu.admin").post("/api/cases", json=_case(county, title), headers={KEY: key})
    assert again.headers["Idempotent-Replayed"] == "true" and again.get_json()["id"] == a.get_json()["id"]
    second = load_tenant(app)
    admin = token_client(second, "county.admin")
    assert admin.put("/api/modules/visits", json={"enabled": True}).status_code == 200
    c = token_client(second, "donghu.admin").post("/api/cases", json=_case(second, title), headers={KEY: key})
    assert c.status_code == 201 and "Idempotent-Replayed" not in c.headers
    again = token_client(second, "donghu.admin").post("/api/cases", json=_case(second, title), headers={KEY: key})
    assert again.headers["Idempotent-Replayed"] == "true" and again.get_json()["id"] == c.get_json()["id"]
    assert _cases(db, second, title) == 1 and _cases(db, county, title) == 2
    # county A's token on county B's host name: refused before any key is looked at
    token = make_token(app, county, "donghu.admin")
    r = Client(app, second.host, {"Authorization": f"Bearer {token}"}).post(
        "/api/cases", json=_case(county, title), headers={KEY: key})
    assert r.status_code == 401 and "Idempotent-Replayed" not in r.headers


def test_a_refused_first_attempt_leaves_no_key_and_the_corrected_retry_saves_once(county, token_client, db):
    town = token_client(county, "donghu.admin")
    key, subject = str(uuid.uuid4()), f"邻里纠纷 {uuid.uuid4().hex[:8]}"
    matter = {"channel": "visit", "org_unit_id": county.unit("T01"), "arose_unit_id": county.unit("T01D1V1"),
              "subject": subject, "content": "两户因宅基地边界发生争执，请求调解"}
    bad = town.post("/api/intake", json={**matter, "first_inquiry": {"outcome": "referred"}}, headers={KEY: key})
    assert bad.status_code == 422 and bad.get_json()["code"] == "referred_to_required"
    fixed = {**matter, "first_inquiry": {"outcome": "referred", "referred_to": "县司法局"}}
    first = town.post("/api/intake", json=fixed, headers={KEY: key})
    assert first.status_code == 201, first.get_json()
    again = town.post("/api/intake", json=fixed, headers={KEY: key})
    assert again.headers["Idempotent-Replayed"] == "true" and again.get_data() == first.get_data()
    with db.transaction(county.id) as s:
        assert s.scalar(select(func.count()).select_from(Intake).where(Intake.subject == subject)) == 1


def _intake_form(county, title: str) -> dict:
    return {"channel": "visit", "org_unit_id": str(county.unit("T01")), "arose_unit_id": str(county.unit("T01D1V1")),
            "subject": title, "content": "村民反映独居老人无人照看", "person_name": "王五",
            "outcome": "pending", "case_type": "visits.visit", "details.visits.visit.visit_kind": "home"}


def _hidden(page: str, name: str) -> str:
    return re.search(rf'name="{name}" value="([^"]+)"', page).group(1)


def test_a_web_form_submitted_twice_saves_once(county, login, db):
    """The one-window form: a double click (or a resubmission) carries the same one-time token."""
    town = login(county, "donghu.admin")
    page = town.get("/intake/new").get_data(as_text=True)
    token = _hidden(page, "form_token")
    assert token != _hidden(town.get("/intake/new").get_data(as_text=True), "form_token")  # fresh per rendering
    assert len(re.findall(r'name="form_token"', page)) == len(re.findall(r"<form ", page))  # every form
    title = _title()
    form = {**_intake_form(county, title), "csrf_token": _hidden(page, "csrf_token"), "form_token": token}
    first = town.post("/intake/new", data=form)
    assert first.status_code == 201, first.get_data(as_text=True)[:2000]
    again = town.post("/intake/new", data=form)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_data() == first.get_data()
    assert _cases(db, county, title) == 1


def test_a_form_shown_again_with_errors_saves_once_when_corrected(county, login, db):
    town = login(county, "donghu.admin")
    page = town.get("/intake/new").get_data(as_text=True)
    title = _title()
    form = {**_intake_form(county, title), "csrf_token": _hidden(page, "csrf_token"), "form_token": _hidden(page, "form_token")}
    r = town.post("/intake/new", data={**form, "subject": ""})
    assert r.status_code == 422
    shown = r.get_data(as_text=True)
    assert _hidden(shown, "form_token")  # the form comes back with a token of its own
    first = town.post("/intake/new", data=form)  # the first token again: nothing was saved under it
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    again = town.post("/intake/new", data=form)
    assert again.headers["Idempotent-Replayed"] == "true" and again.get_data() == first.get_data()
    assert _cases(db, county, title) == 1


def test_a_key_on_a_signed_out_request_is_not_used(county, app, db):
    """The log-in form carries a token too; signed out, keys are ignored (a log-in is never replayed)."""
    c = Client(app, county.host)
    page = c.get("/login").get_data(as_text=True)
    form = {"csrf_token": _hidden(page, "csrf_token"), "form_token": _hidden(page, "form_token"),
            "username": "donghu.admin", "password": "pingan-demo-2026"}
    before = _keys(db, county)
    first = c.post("/login", data=form)
    assert first.status_code == 302
    c.post("/logout", data={"csrf_token": c.get("/api/me").get_json()["csrf_token"]})
    fresh = c.get("/login").get_data(as_text=True)  # (the pre-session CSRF cookie is used up by a log-in)
    again = c.post("/login", data={**form, "csrf_token": _hidden(fresh, "csrf_token")})  # same form_token: not a replay
    assert again.status_code == 302 and "Idempotent-Replayed" not in again.headers
    assert again.headers["Set-Cookie"] != first.headers["Set-Cookie"]
    assert _keys(db, county) == before


def test_keys_are_forgotten_after_the_configured_hours(app, county, token_client, db, monkeypatch):
    town = token_client(county, "donghu.admin")
    monkeypatch.setattr(pingan(app).config, "idempotency_hours", 2)
    title, kept, purged, stale = _title(), str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    for key in (kept, purged, stale):
        assert town.post("/api/cases", json=_case(county, title), headers={KEY: key}).status_code == 201
    assert _cases(db, county, title) == 3
    start = dt.datetime.now(dt.timezone.utc)
    with time_machine.travel(start + dt.timedelta(hours=1), tick=True):
        assert town.post("/api/cases", json=_case(county, title), headers={KEY: kept}).headers["Idempotent-Replayed"] == "true"
    with time_machine.travel(start + dt.timedelta(hours=3), tick=True):
        # past its time and not purged yet: a retry is a new request
        r = town.post("/api/cases", json=_case(county, title), headers={KEY: stale})
        assert r.status_code == 201 and "Idempotent-Replayed" not in r.headers
        jobs.bind_state(pingan(app))
        jobs.run_scheduled("core", "idempotency_purge", county.id)  # the periodic core job
        with db.transaction(county.id) as s:
            left = set(s.scalars(select(IdempotencyKey.key)))
        assert purged not in left and kept not in left and stale in left  # the new one under ``stale`` stays
        r = town.post("/api/cases", json=_case(county, title), headers={KEY: purged})
        assert r.status_code == 201 and "Idempotent-Replayed" not in r.headers
    assert _cases(db, county, title) == 5


def test_an_answer_not_stored_yet_is_409_in_progress_then_lost(app, county, token_client, db, monkeypatch):
    """The first attempt committed but its answer is not on the row (the moment before the
    UPDATE, or a process killed there): the retry waits, then 409 — it never writes again."""
    monkeypatch.setattr(idempotency, "WAIT_SECONDS", 0.3)
    town = token_client(county, "donghu.admin")
    title, key = _title(), str(uuid.uuid4())
    assert town.post("/api/cases", json=_case(county, title), headers={KEY: key}).status_code == 201
    with db.transaction(county.id) as s:
        row = s.scalar(select(IdempotencyKey).where(IdempotencyKey.key == key))
        row.status, row.answer = None, None
    r = town.post("/api/cases", json=_case(county, title), headers={KEY: key})
    assert r.status_code == 409 and r.get_json()["code"] == "request_in_progress" and r.headers["Retry-After"]
    with db.transaction(county.id) as s:
        row = s.scalar(select(IdempotencyKey).where(IdempotencyKey.key == key))
        row.created_at -= dt.timedelta(minutes=5)
    r = town.post("/api/cases", json=_case(county, title), headers={KEY: key})
    assert r.status_code == 409 and r.get_json()["code"] == "idempotency_result_lost"
    assert _cases(db, county, title) == 1


def test_an_answer_too_large_to_keep_is_not_replayed_nor_written_again(county, token_client, db, monkeypatch):
    monkeypatch.setattr(idempotency, "MAX_STORED_BODY", 16)
    town = token_client(county, "donghu.admin")
    title, key = _title(), str(uuid.uuid4())
    assert town.post("/api/cases", json=_case(county, title), headers={KEY: key}).status_code == 201
    r = town.post("/api/cases", json=_case(county, title), headers={KEY: key})
    assert r.status_code == 409 and r.get_json()["code"] == "idempotency_result_too_large"
    assert _cases(db, county, title) == 1


def test_an_answer_that_shows_a_one_time_password_is_never_kept(county, token_client, db):
    """A one-time password (or a new token) is shown once: its answer is not stored, not even
    encrypted, so a retry cannot show it again — it hears that the request was done."""
    admin = token_client(county, "county.admin")
    key, name = str(uuid.uuid4()), "otp" + uuid.uuid4().hex[:8]
    body = {"username": name, "display_name": name, "org_unit_id": county.unit("T01")}
    first = admin.post("/api/users", json=body, headers={KEY: key})
    assert first.status_code == 201 and first.get_json()["initial_password"]
    again = admin.post("/api/users", json=body, headers={KEY: key})
    assert again.status_code == 409 and again.get_json()["code"] == "idempotency_result_withheld"
    assert first.get_json()["initial_password"] not in again.get_data(as_text=True)
    with db.transaction(county.id) as s:
        row = s.scalar(select(IdempotencyKey).where(IdempotencyKey.key == key))
    assert json.loads(row.answer) == {"withheld": True, "location": None}
    uid = first.get_json()["id"]
    key = str(uuid.uuid4())
    reset = admin.post(f"/api/users/{uid}/reset-password", headers={KEY: key})
    assert reset.status_code == 200 and reset.get_json()["initial_password"]
    again = admin.post(f"/api/users/{uid}/reset-password", headers={KEY: key})
    assert again.status_code == 409 and again.get_json()["code"] == "idempotency_result_withheld"


def test_two_attempts_at_once_write_once(app, county, db):
    """A double submission: both attempts in flight together, one effect, the same answer."""
    token = make_token(app, county, "donghu.admin")
    title, key = _title(), str(uuid.uuid4())
    answers: list = []

    def attempt():
        c = Client(app, county.host, {"Authorization": f"Bearer {token}"})
        answers.append(c.post("/api/cases", json=_case(county, title), headers={KEY: key}))

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(r.status_code for r in answers) == [201, 201]
    assert answers[0].get_data() == answers[1].get_data()
    assert [r.headers.get("Idempotent-Replayed") for r in answers].count("true") == 1
    assert _cases(db, county, title) == 1


# --- a client that times out and retries while the first attempt waits on a lock ---------------

@contextlib.contextmanager
def _lock_held(db, county):
    """Hold what a registration's commit needs: the county's audit-chain head (PostgreSQL), the
    database's write lock (SQLite). Released when the block ends."""
    if PG_URL:
        owner = create_engine(PG_URL)
        blocker = owner.connect()
        tx = blocker.begin()
        blocker.execute(text("SELECT 1 FROM audit_head WHERE tenant_id = :t FOR UPDATE"), {"t": county.id})
        try:
            yield blocker
        finally:
            tx.rollback()
            blocker.close()
            owner.dispose()
    else:
        conn = sqlite3.connect(db.engine.url.database, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield None
        finally:
            conn.execute("ROLLBACK")
            conn.close()





def _until(check, what: str, seconds: float = 10) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(what)


@pytest.fixture
def server(app):
    from werkzeug.serving import make_server
    srv = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv.server_port
    srv.shutdown()
    thread.join(timeout=10)


def test_a_client_that_times_out_and_retries_while_the_first_attempt_waits_writes_once(app, county, db, server):
    token = make_token(app, county, "donghu.admin")
    title, key = _title(), str(uuid.uuid4())
    url = f"http://127.0.0.1:{server}/api/cases"
    headers = {"Host": county.host, "Authorization": f"Bearer {token}", KEY: key, "Content-Type": "application/json"}
    body = json.dumps(_case(county, title))
    answers: dict = {}
    with _lock_held(db, county) as blocker:
        with pytest.raises(requests.exceptions.ReadTimeout):  # the phone gives up; the server keeps going
            requests.post(url, data=body, headers=headers, timeout=1)
        if blocker is not None:
            assert lock_waiters(blocker, "audit_head") == 1  # the first attempt waits to commit its case
        retry = threading.Thread(target=lambda: answers.update(
            retry=requests.post(url, data=body, headers=headers, timeout=60)))
        retry.start()
        if blocker is not None:  # the retry waits on the first attempt's uncommitted key
            _until(lambda: lock_waiters(blocker, "idempotency_key") == 1, "the retry never waited on the first attempt")
        else:
            time.sleep(1)
        assert "retry" not in answers
        if blocker is not None:  # (on SQLite even a read would wait for the lock)
            assert _cases(db, county, title) == 0
    retry.join(timeout=60)
    r = answers["retry"]
    if r.status_code == 409:  # the first attempt's answer was not on its row yet: asked again later
        assert r.json()["code"] == "request_in_progress"
        time.sleep(float(r.headers["Retry-After"]))
        r = requests.post(url, data=body, headers=headers, timeout=60)
    assert r.status_code == 201, r.text
    _until(lambda: _cases(db, county, title) == 1, "the first attempt never committed")
    with db.transaction(county.id) as s:
        case_id = s.scalar(select(Case.id).where(Case.title == title))
    assert r.json()["id"] == case_id
    third = requests.post(url, data=body, headers=headers, timeout=60)
    assert third.status_code == 201 and third.headers["Idempotent-Replayed"] == "true" and third.content == r.content
    time.sleep(0.5)
    assert _cases(db, county, title) == 1
