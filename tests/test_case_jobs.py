"""Issue 3 (Jobs): the deadline sweep, the transactional outbox, reminders exactly once,
escalation of ignored supervision, and recovery after a Redis flush or a killed worker."""
from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import create_engine, func, select, text

from core import jobs, outbox
from core.app import pingan
from core.cases import sweep
from core.cases.models import CaseEvent, CaseReminder, Supervision
from core.db import utcnow
from core.models import Notification, OutboxEntry
from tests import casework
from tests.casework import act, register, run_jobs
from tests.conftest import PG_URL, REDIS_URL, ROOT, lock_waiters

LATER = dt.timedelta(days=60)  # far past every limit of a new case


@pytest.fixture
def county(app, county):
    jobs.bind_state(pingan(app))
    run_jobs(app)  # nothing of earlier tests left in the queue
    return county


def _sweep(app, tenant, now, stale=outbox.STALE) -> dict:
    state = pingan(app)
    with state.db.transaction(tenant.id) as s:
        return sweep.run(s, state.plugins, now=now, stale=stale)


def _count(db, tenant, model, *where) -> int:
    with db.transaction(tenant.id) as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def _overdue_effects(db, tenant, case_id) -> tuple[int, int]:
    events = _count(db, tenant, CaseEvent, CaseEvent.case_id == case_id, CaseEvent.kind == "overdue")
    notes = _count(db, tenant, Notification, Notification.case_id == case_id, Notification.key.like("reminder:overdue:%"))
    return events, notes


def test_sweep_run_twice_reminds_once(app, county, login, db):
    """issue 3: the sweep run twice → one reminder per case and threshold; its job acts once."""
    town = login(county, "donghu.admin")
    case = register(town, county.unit("T01D1V1"))
    now = utcnow() + LATER
    first, second = _sweep(app, county, now), _sweep(app, county, now)
    assert first["overdue"] == 1 and second["overdue"] == 0
    run_jobs(app)
    run_jobs(app)
    assert _overdue_effects(db, county, case["id"]) == (1, 1)  # one event; one to-do for the township's one user
    # a second delivery of the same job (rq delivers at least once) changes nothing
    key = sweep.batch_key([f"overdue:{case['deadlines'][0]['id']}"])  # its chunk's job (issue 24)
    assert _count(db, county, OutboxEntry, OutboxEntry.key == key, OutboxEntry.state == "done") == 1
    outbox.run(county.id, key)
    assert _overdue_effects(db, county, case["id"]) == (1, 1)
    timeline = [e["kind"] for e in town.get(f"/api/cases/{case['id']}/events").get_json()]
    assert timeline == ["registered", "overdue"]


def test_the_sweep_writes_its_reminders_and_jobs_in_bulk(app, county, login, db):
    """The sweep's writes do not grow with the due rows: one multi-row INSERT … ON CONFLICT
    DO NOTHING for the reminders and one for their outbox jobs, whatever their number; a
    second pass inserts nothing, and each reminder still acts once."""
    from sqlalchemy import event
    town = login(county, "donghu.admin")
    cases = [register(town, county.unit(code)) for code in ("T01D1V1", "T01D1V1", "T01D1V2", "T01D1V3")]
    now = utcnow() + LATER
    sent: list[str] = []
    note = lambda conn, cursor, statement, *a: sent.append(statement)  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", note)
    try:
        first = _sweep(app, county, now)
        first_sent, sent[:] = list(sent), []
        second = _sweep(app, county, now)
    finally:
        event.remove(db.engine, "before_cursor_execute", note)
    assert first["overdue"] == 4 and second["overdue"] == 0
    for statements in (first_sent, sent):
        assert sum(x.lstrip().startswith("INSERT INTO case_reminder") for x in statements) <= 1, statements
        assert sum(x.lstrip().startswith("INSERT INTO outbox") for x in statements) <= 1, statements
    assert len([x for x in first_sent if not x.lstrip().upper().startswith("BEGIN")]) <= 12, first_sent
    run_jobs(app)
    run_jobs(app)
    assert [_overdue_effects(db, county, c["id"])[0] for c in cases] == [1, 1, 1, 1]
    assert _count(db, county, CaseReminder, CaseReminder.state == "pending") == 0


def test_a_limit_stopped_after_the_sweep_saw_it_is_not_reminded(app, county, login, db):
    """issue 3: the sweep queued an overdue reminder, then the case moved on before the job
    ran → no overdue event and no to-do for a limit that no longer runs."""
    town = login(county, "donghu.admin")
    case = register(town, county.unit("T01D1V1"))
    assert _sweep(app, county, utcnow() + LATER)["overdue"] == 1
    act(town, case["id"], "accept")  # stops the limit the reminder was for
    run_jobs(app)
    assert _overdue_effects(db, county, case["id"]) == (0, 0)


def test_due_soon_then_overdue_are_two_thresholds(app, county, login, db):
    """issue 3: 'due soon' (the county's remind_before_hours) and 'overdue' each remind once."""
    town = login(county, "donghu.admin")
    case = register(town, county.unit("T01D1V1"))
    due = dt.datetime.fromisoformat(case["due_at"])
    assert _sweep(app, county, due - dt.timedelta(hours=2))["due_soon"] == 1
    assert _sweep(app, county, due - dt.timedelta(hours=1))["due_soon"] == 0
    assert _sweep(app, county, due + dt.timedelta(minutes=1))["overdue"] == 1
    run_jobs(app)
    kinds = [e["kind"] for e in town.get(f"/api/cases/{case['id']}/events").get_json()]
    assert kinds == ["registered", "reminded", "overdue"]


def test_a_job_enqueued_in_a_transaction_that_rolls_back_never_runs(app, county, db):
    """issue 3: the outbox hands a job to the queue only after its transaction commits."""
    casework.RAN.clear()
    with pytest.raises(RuntimeError):
        with db.transaction(county.id) as s:
            outbox.add(s, "tests.casework.record_ran", key="rolled-back", marker="no")
            raise RuntimeError("the act failed")
    with db.transaction(county.id) as s:
        outbox.add(s, "tests.casework.record_ran", key="committed", marker="yes")
    run_jobs(app)
    assert casework.RAN == [{"marker": "yes"}]
    assert _count(db, county, OutboxEntry, OutboxEntry.key == "rolled-back") == 0
    # and the next sweep finds nothing left to dispatch: the committed job is done
    assert _sweep(app, county, utcnow(), stale=dt.timedelta(0))["redispatched"] == 0


def test_lost_queue_is_restored_by_the_next_sweep(app, county, login, db):
    """issue 3: FLUSHALL on Redis (or a lost in-process queue) → the next sweep re-enqueues
    what is still pending, and the scheduler claims its slots again."""
    town = login(county, "donghu.admin")
    case = register(town, county.unit("T01D1V1"))
    now = utcnow() + LATER
    assert _sweep(app, county, now)["overdue"] == 1
    state = pingan(app)
    q = jobs.queue(state.config)
    slot_now = time.time() + 10**7
    assert jobs.tick(state, slot_now) >= 1
    if isinstance(q, jobs.InProcessQueue):
        q._q.queue.clear()          # the process died with its queue
        q._claimed.clear()
    else:
        q.redis.flushall()
    assert _overdue_effects(db, county, case["id"]) == (0, 0)
    assert jobs.tick(state, slot_now) >= 1   # slots are claimed anew: scheduled work comes back
    assert _sweep(app, county, now, stale=dt.timedelta(0))["redispatched"] >= 1
    run_jobs(app)
    assert _overdue_effects(db, county, case["id"]) == (1, 1)


def test_ignored_supervision_escalates_one_level_at_a_time(app, county, login, db):
    """issue 3 (Supervision): 督办 unanswered past its limit → the next level up, on the timeline."""
    admin = login(county, "county.admin")
    case = register(admin, county.unit("T01D1V1"))
    town = login(county, "donghu.admin")  # works in 东湖镇 (T01): issues from there
    r = town.post(f"/api/cases/{case['id']}/supervisions", json={
        "kind": "supervise", "level": "listed", "instruction": "请三日内答复办理进展",
        "target_unit_id": county.unit("T01D1V1")})
    assert r.status_code == 201, r.get_json()
    sup = r.get_json()["supervisions"][0]
    assert sup["issuer_unit_id"] == county.unit("T01") and sup["due_at"]
    with db.transaction(county.id) as s:   # the reply limit passes unanswered
        s.get(Supervision, (county.id, sup["id"])).due_at = utcnow() - dt.timedelta(minutes=1)
    assert _sweep(app, county, utcnow())["escalate"] == 1
    assert _sweep(app, county, utcnow())["escalate"] == 0
    run_jobs(app)
    body = admin.get(f"/api/cases/{case['id']}").get_json()
    escalated = body["supervisions"][0]
    assert escalated["escalation_level"] == 1 and escalated["escalated_to_unit_id"] == county.unit("C")
    assert dt.datetime.fromisoformat(escalated["due_at"]) > utcnow()
    kinds = [e["kind"] for e in admin.get(f"/api/cases/{case['id']}/events").get_json()]
    assert kinds == ["registered", "supervised", "escalated"]
    assert any("已升级" in n["title"] for n in admin.get("/api/inbox").get_json()["items"])
    # the village answers: no more escalation
    cadre = login(county, "village.cadre")
    assert cadre.get("/api/inbox/counts").get_json()["todo"] >= 1
    r = cadre.post(f"/api/cases/{case['id']}/supervisions/{sup['id']}/reply", json={"response": "已入户走访"})
    assert r.status_code == 200 and r.get_json()["supervisions"][0]["state"] == "answered"


def test_extension_needs_approval_and_respects_the_maximum(app, county, login, db):
    """issue 3 (Deadlines): extensions with approval and a maximum; the due time moves."""
    admin, town = login(county, "county.admin"), login(county, "donghu.admin")
    case = register(town, county.unit("T01D1V1"))
    body = act(town, case["id"], "accept").get_json()
    handle = next(d for d in body["deadlines"] if d["rule"] == "handle")
    r = town.post(f"/api/cases/{case['id']}/extensions", json={"deadline_id": handle["id"], "amount": 11, "reason": "需补充调查"})
    assert r.status_code == 422 and r.get_json()["code"] == "extension_too_long"
    r = town.post(f"/api/cases/{case['id']}/extensions", json={"deadline_id": handle["id"], "amount": 10, "reason": "需补充调查"})
    assert r.status_code == 201
    ext = r.get_json()["extensions"][0]
    r = town.post(f"/api/cases/{case['id']}/extensions/{ext['id']}/decision", json={"approve": True})
    assert r.status_code == 403 and r.get_json()["code"] == "self_approval"
    r = admin.post(f"/api/cases/{case['id']}/extensions/{ext['id']}/decision", json={"approve": True, "note": "同意"})
    assert r.status_code == 200, r.get_json()
    extended = next(d for d in r.get_json()["deadlines"] if d["id"] == handle["id"])
    assert dt.datetime.fromisoformat(extended["due_at"]) >= dt.datetime.fromisoformat(handle["due_at"]) + dt.timedelta(days=10)
    assert extended["extensions"] == 1 and "延期" in extended["basis"]
    r = town.post(f"/api/cases/{case['id']}/extensions", json={"deadline_id": handle["id"], "amount": 1, "reason": "再延"})
    assert r.status_code == 409 and r.get_json()["code"] == "extensions_exhausted"
    assert "extended" in [e["kind"] for e in town.get(f"/api/cases/{case['id']}/events").get_json()]


def test_a_pause_state_stops_the_clock(app, county, login, db):
    """issue 3 (Deadlines): while the case is in a pause state its limit does not run."""
    town = login(county, "donghu.admin")
    case = register(town, county.unit("T01D1V1"))
    act(town, case["id"], "accept")
    paused = act(town, case["id"], "suspend", {"note": "等待鉴定结论"}).get_json()
    handle = next(d for d in paused["deadlines"] if d["rule"] == "handle")
    assert handle["state"] == "paused" and paused["due_at"] is None
    assert _sweep(app, county, utcnow() + LATER)["overdue"] == 0  # a paused limit is never overdue
    resumed = act(town, case["id"], "resume").get_json()
    again = next(d for d in resumed["deadlines"] if d["rule"] == "handle")
    assert again["state"] == "running" and again["due_at"] >= handle["due_at"]


def test_county_settings_may_tighten_but_not_loosen_a_statutory_limit(app, county, login):
    """issue 3 (Deadlines, PET-1 pattern): tenant overrides; a statutory limit only tightens."""
    admin = login(county, "county.admin")
    url = "/api/case-types/visits.visit/settings"
    r = admin.put(url, json={"settings": {"deadlines": {"handle": {"amount": 20, "unit": "calendar_days"}}}})
    assert r.status_code == 422 and "不能宽于法定时限" in str(r.get_json()["errors"])
    r = admin.put(url, json={"settings": {"deadlines": {"handle": {"amount": 5, "unit": "working_days"}},
                                          "number_format": "走访〔{year}〕{seq:04d}号"}})
    assert r.status_code == 200, r.get_json()
    assert admin.put(url, json={"settings": {"number_format": "{year}"}}).status_code == 422
    assert admin.get(url).get_json()["settings"]["number_format"] == "走访〔{year}〕{seq:04d}号"
    town = login(county, "donghu.admin")
    case = register(town, county.unit("T01D1V1"))
    assert case["number"].startswith("走访〔") and case["number"].endswith("0001号")
    body = act(town, case["id"], "accept").get_json()
    handle = next(d for d in body["deadlines"] if d["rule"] == "handle")
    assert (handle["amount"], handle["unit"]) == (5, "working_days")
    assert login(county, "donghu.admin").put(url, json={"settings": {}}).status_code == 403


def _kill_with_horse(worker: subprocess.Popen) -> None:
    """SIGKILL an rq worker and the work horse it forked (rq puts the horse in its own session)."""
    horses = subprocess.run(["pgrep", "-P", str(worker.pid)], capture_output=True, text=True).stdout.split()
    for pid in [*horses, str(worker.pid)]:
        try:
            os.kill(int(pid), signal.SIGKILL)
        except ProcessLookupError:
            pass
    worker.wait(timeout=30)


@pytest.mark.skipif(not (PG_URL and REDIS_URL), reason="a real rq worker needs PostgreSQL and Redis")
def test_a_worker_killed_mid_job_still_reminds_exactly_once(app, county, login, db, config):
    """issue 3: kill a real rq worker in the middle of the reminder job → it goes out once."""
    town = login(county, "donghu.admin")
    case = register(town, county.unit("T01D1V1"))
    q = jobs.queue(pingan(app).config)
    q.redis.flushdb()  # this test's own Redis database: no job of an earlier run ahead of ours
    assert _sweep(app, county, utcnow() + LATER)["overdue"] == 1
    # Hold the county's audit-chain head: the job blocks when its commit writes the audit, after
    # it has claimed the reminder and done its work, before the commit goes through.
    owner = create_engine(PG_URL)
    blocker = owner.connect()
    tx = blocker.begin()
    blocker.execute(text("SELECT 1 FROM audit_head WHERE tenant_id = :t FOR UPDATE"), {"t": county.id})
    env = {**os.environ, "PINGAN_ENV": "test", "PINGAN_DATABASE_URL": PG_URL, "PINGAN_REDIS_URL": REDIS_URL,
           "PINGAN_INSTANCE_DIR": str(config.instance_dir)}
    log = open(config.instance_dir / "killed-worker.log", "wb")
    worker = subprocess.Popen([sys.executable, "-m", "core.cli", "worker", "--burst"], cwd=ROOT, env=env,
                              stdout=log, stderr=log, start_new_session=True)
    try:
        waiting = 0
        for _ in range(300):   # until the worker's transaction waits on our lock
            waiting = lock_waiters(blocker, "audit_head")
            if waiting:
                break
            time.sleep(0.1)
        assert waiting, "the worker never reached the reminder job"
        _kill_with_horse(worker)
    finally:
        if worker.poll() is None:
            _kill_with_horse(worker)
        log.close()
        tx.rollback()
        blocker.close()
        owner.dispose()
    assert _overdue_effects(db, county, case["id"]) == (0, 0)  # nothing of the killed job committed
    # the killed worker's database session ends when its server notices the client gone: until then
    # it holds the outbox row, which the sweep skips (SKIP LOCKED) — on a Citus worker a moment longer
    redispatched = 0
    for _ in range(100):
        redispatched = _sweep(app, county, utcnow() + LATER, stale=dt.timedelta(0))["redispatched"]
        if redispatched:
            break
        time.sleep(0.1)
    assert redispatched >= 1
    run_jobs(app)
    run_jobs(app)
    assert _overdue_effects(db, county, case["id"]) == (1, 1)
    assert _count(db, county, CaseReminder, CaseReminder.state == "done") == 1


def test_todos_go_to_the_unit_holding_the_limit_and_close_when_the_work_is_done(app, county, login, db):
    """Issue 15, item 8: reminders of the township's own registrations went to the village where
    the matter arose; a village's 新交办事项 stayed unread after the case was answered. Now a
    reminder goes to the unit that holds the limit (the registering township until the case is
    handed on), and a to-do closes when its task is answered or its case closed."""
    town, cadre = login(county, "donghu.admin"), login(county, "village.cadre")
    case = register(town, county.unit("T01D1V1"))   # 东湖镇 registers a matter of 罗塘村

    def unread_todos(client) -> list[str]:
        return [n["title"] for n in client.get("/api/inbox?kind=todo&unread=true&limit=100").get_json()["items"]
                if n["case_id"] == case["id"]]

    _sweep(app, county, utcnow() + LATER)
    run_jobs(app)
    assert any(t.startswith("已超期") for t in unread_todos(town)), unread_todos(town)
    assert unread_todos(cadre) == []                 # not the village's: it holds no limit yet
    divert = town.post(f"/api/cases/{case['id']}/divert", json={"mode": "single", "tasks": [
        {"org_unit_id": county.unit("T01D1V1"), "instruction": "请核实"}]})
    assert divert.status_code == 200, divert.get_json()
    assert any(t.startswith("新交办事项") for t in unread_todos(cadre))
    task = divert.get_json()["tasks"][0] if "tasks" in divert.get_json() else None
    task_id = task["id"] if task else town.get(f"/api/cases/{case['id']}").get_json()["tasks"][0]["id"]
    done = cadre.post(f"/api/cases/{case['id']}/tasks/{task_id}", json={"action": "done", "text": "已核实，情况属实"})
    assert done.status_code == 200, done.get_json()
    assert not any(t.startswith("新交办事项") for t in unread_todos(cadre))  # answered: no longer asked for
    told = [n["title"] for n in town.get("/api/inbox?kind=message&limit=100").get_json()["items"]
            if n["case_id"] == case["id"]]
    assert any(t.startswith("任务已反馈") for t in told), told  # the dispatcher hears of the answer
    # the case closed: none of its to-dos is left open for anyone
    for name in ("accept", "close"):
        body = {"result": "已上门走访"} if name == "close" else {}
        r = act(town, case["id"], name, body)
        assert r.status_code == 200, (name, r.get_json())
    assert unread_todos(town) == [] and unread_todos(cadre) == []


def test_a_window_outside_the_matters_place_does_not_get_its_reminders(app, county, login, db):
    """Review of issue 15, item 8: a county user registering at 东湖镇's window a matter of another
    township's village: 东湖镇 cannot read that case, so its reminders are not 东湖镇's."""
    admin = login(county, "county.admin")
    village = next(code for code in county.units if code.startswith("T02") and "V" in code and "G" not in code
                   and "W" not in code)
    body = {"channel": "visit", "org_unit_id": county.unit("T01"), "arose_unit_id": county.unit(village),
            "subject": "别乡的事", "content": "外乡群众来东湖镇窗口反映本村的事", "case_type": "visits.visit",
            "details": {"visit_kind": "home"}}
    r = admin.post("/api/intake", json=body)
    assert r.status_code == 201 and r.get_json()["case_id"], r.get_json()
    _sweep(app, county, utcnow() + LATER)
    run_jobs(app)
    town = login(county, "donghu.admin")
    assert not [n for n in town.get("/api/inbox?kind=todo&limit=100").get_json()["items"]
                if n["case_id"] == r.get_json()["case_id"]]
