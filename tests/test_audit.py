"""The audit log: every write and every sensitive read, hash-chained (issue 2)."""
from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, event, func, select, text

from core import audit
from core.audit import AuditEntry
from core.cli import main as cli
from core.context import Actor, acting_as
from core.db import bind_tenant
from core.models import OrgUnit
from tests.conftest import PG_URL


def entries(db, tenant, **where):
    with db.transaction(tenant.id) as s:
        q = select(AuditEntry).order_by(AuditEntry.id)
        for k, v in where.items():
            q = q.where(getattr(AuditEntry, k) == v)
        return s.scalars(q).all()


def test_every_write_through_the_api_is_audited(fresh_tenant, login, db):
    t = fresh_tenant
    c = login(t, "county.admin")
    before = len(entries(db, t))
    unit = c.post("/api/org-units", json={"parent_id": t.unit("T01D1V1"), "name": "第五村民小组", "level": "group"}).get_json()
    assert c.patch(f"/api/org-units/{unit['id']}", json={"name": "第五组"}).status_code == 200
    person = c.post("/api/persons", json={"name": "测试人", "org_unit_id": unit["id"], "phone": "13900001111"}).get_json()
    assert c.delete(f"/api/persons/{person['id']}").status_code == 204
    role = c.post("/api/roles", json={"key": "helper_role", "name": "协理员", "permissions": ["core.org_unit.read"]}).get_json()
    user = c.post("/api/users", json={"username": "aud.user", "display_name": "审计测试", "org_unit_id": unit["id"]}).get_json()
    ra = c.post("/api/role-assignments", json={"user_id": user["id"], "role_id": role["id"], "org_unit_id": unit["id"]}).get_json()
    assert c.delete(f"/api/role-assignments/{ra['id']}").status_code == 204

    created = entries(db, t, object_type="org_unit", object_id=str(unit["id"]))
    assert [e.action for e in created] == ["create", "update"]
    assert created[1].changes == {"name": ["第五村民小组", "第五组"]}
    assert created[0].actor.startswith("user:county.admin") and created[0].request_id
    p = entries(db, t, object_type="person", object_id=str(person["id"]))
    assert [e.action for e in p] == ["create", "delete"]
    assert p[0].changes["phone"] == [None, "***"]            # sensitive values never in the log
    assert "13900001111" not in str([e.changes for e in p])
    assert [e.action for e in entries(db, t, object_type="role_assignment", object_id=str(ra["id"]))] == ["create", "delete"]
    created_user = entries(db, t, object_type="app_user", object_id=str(user["id"]))[0]
    assert created_user.changes["password_hash"] == [None, "***"]  # not even the hash enters the log
    assert len(entries(db, t)) > before + 8


def test_reading_sensitive_data_is_audited_and_needs_permission(fresh_tenant, login, db):
    t = fresh_tenant
    admin = login(t, "county.admin")            # holds core.person.pii.read via pii_officer
    cadre = login(t, "village.cadre")           # does not
    pid = cadre.all_items("/api/persons")[0]["id"]
    masked = cadre.get(f"/api/persons/{pid}").get_json()
    assert "*" in masked["id_number"] and masked["revealed"] is False
    r = cadre.get(f"/api/persons/{pid}?reveal=true")
    assert r.status_code == 403 and r.get_json()["code"] == "pii_forbidden"
    assert entries(db, t, action="read_sensitive") == []
    full = admin.get(f"/api/persons/{pid}?reveal=true").get_json()
    assert "*" not in full["id_number"] and len(full["id_number"]) == 18
    reads = entries(db, t, action="read_sensitive")
    assert len(reads) == 1 and reads[0].object_id == str(pid)
    assert reads[0].changes == {"fields": ["address", "id_number", "phone"]}
    assert full["id_number"] not in str(reads[0].changes)


def test_login_and_logout_are_audited(fresh_tenant, login, db):
    c = login(fresh_tenant, "county.viewer")
    c.post("/logout", data={"csrf_token": c.headers["X-CSRF-Token"]})
    actions = [e.action for e in entries(db, fresh_tenant, object_type="app_user")]
    assert "login" in actions and "logout" in actions


def test_audit_log_api_is_filtered_and_needs_permission(fresh_tenant, login):
    admin = login(fresh_tenant, "county.admin")
    for i in range(6):
        r = admin.post("/api/org-units", json={"parent_id": fresh_tenant.unit("T01D1V1"), "name": f"第{i}网格", "level": "grid"})
        assert r.status_code == 201, r.get_json()
    items = admin.get("/api/audit?action=create&object_type=org_unit&limit=5").get_json()["items"]
    assert len(items) == 5 and all(i["action"] == "create" and i["object_type"] == "org_unit" for i in items)
    assert items[0]["id"] > items[-1]["id"]  # newest first
    assert login(fresh_tenant, "village.cadre").get("/api/audit").status_code == 403
    # a township admin holds core.audit.read on the township only: the county's log is not theirs
    r = login(fresh_tenant, "donghu.admin").get("/api/audit")
    assert r.status_code == 403 and r.get_json()["code"] == "county_wide_only"


def test_changing_a_roles_permissions_audits_each_removed_and_added_one(fresh_tenant, login, db):
    c = login(fresh_tenant, "county.admin")
    role = c.post("/api/roles", json={"key": "aud_role", "name": "审计角色",
                                      "permissions": ["core.org_unit.read", "core.person.read"]}).get_json()
    r = c.patch(f"/api/roles/{role['id']}", json={"permissions": ["core.org_unit.read", "core.user.read"]})
    assert r.status_code == 200 and r.get_json()["permissions"] == ["core.org_unit.read", "core.user.read"]
    listed = {x["key"]: x["permissions"] for x in c.all_items("/api/roles")}
    assert listed["aud_role"] == ["core.org_unit.read", "core.user.read"]
    assert "core.person.pii.read" in listed["pii_officer"]
    rows = [e for e in entries(db, fresh_tenant, object_type="role_permission")
            if (e.changes.get("role_id") or [None, None])[0 if e.action == "delete" else 1] == role["id"]]
    removed = [e.changes["permission"][0] for e in rows if e.action == "delete"]
    added = [e.changes["permission"][1] for e in rows if e.action == "create"]
    assert removed == ["core.person.read"]
    assert sorted(added) == ["core.org_unit.read", "core.person.read", "core.user.read"]


def _head(db, tenant) -> tuple[int, str]:
    with db.transaction(tenant.id) as s:
        return tuple(s.execute(select(audit.AuditHead.seq, audit.AuditHead.hash)).one())


def _rename(s, unit_id: int, name: str) -> None:
    s.scalar(select(OrgUnit).where(OrgUnit.id == unit_id)).name = name
    s.flush()


def test_entries_are_written_once_when_the_transaction_commits(fresh_tenant, db):
    """Three flushes, one audit write at commit: the chain follows on, and nothing of the
    audit is sent before the commit."""
    t = fresh_tenant
    seq, _ = _head(db, t)
    sent: list[str] = []
    note = lambda conn, cursor, statement, *a: sent.append(statement)  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", note)
    try:
        with acting_as(Actor(None, "test:audit")), db.transaction(t.id) as s:
            for i, code in enumerate(("T01D1V1", "T01D1V2", "T01D1V1")):
                _rename(s, t.unit(code), f"改名{i}")
            assert not any("audit_" in x for x in sent), sent  # flushed, not yet audited
            assert s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.id > seq)) == 0
            sent.clear()
    finally:
        event.remove(db.engine, "before_cursor_execute", note)
    assert sum("INSERT INTO audit_entry" in x for x in sent) == 1, sent
    new = entries(db, t)[seq:]
    assert [(e.id, e.object_id, e.changes["name"][1]) for e in new] == [
        (seq + 1, str(t.unit("T01D1V1")), "改名0"), (seq + 2, str(t.unit("T01D1V2")), "改名1"),
        (seq + 3, str(t.unit("T01D1V1")), "改名2")]
    assert all(e.actor == "test:audit" for e in new)
    assert _head(db, t)[0] == seq + 3 and _verify(db, t).ok


def test_rolled_back_work_leaves_no_entry(fresh_tenant, db):
    """A rolled-back transaction leaves neither entries nor a moved head; a rolled-back
    savepoint drops its own entries and keeps the ones before it."""
    t = fresh_tenant
    head = _head(db, t)
    with acting_as(Actor(None, "test:audit")), db.Session() as s, bind_tenant(t.id):
        _rename(s, t.unit("T01D1V1"), "不会保存")
        audit.record(s, "export", "org_unit", t.unit("T01D1V1"))
        s.rollback()
    assert _head(db, t) == head
    with acting_as(Actor(None, "test:audit")), db.transaction(t.id) as s:
        _rename(s, t.unit("T01D1V1"), "保存的名字")
        sp = s.begin_nested()
        _rename(s, t.unit("T01D1V2"), "撤回的名字")
        audit.record(s, "export", "org_unit", t.unit("T01D1V2"))
        sp.rollback()
        with s.begin_nested():
            _rename(s, t.unit("T01D1V3"), "保留的名字")
    new = entries(db, t)[head[0]:]
    assert [(e.object_id, e.changes["name"][1]) for e in new] == [
        (str(t.unit("T01D1V1")), "保存的名字"), (str(t.unit("T01D1V3")), "保留的名字")]
    assert _verify(db, t).ok


def _owner_engine(db):
    """The schema owner's connection (tampering needs it: the app role may not UPDATE or DELETE)."""
    return create_engine(PG_URL) if PG_URL else db.engine


def _some_entries(db, tenant, n: int = 10) -> None:
    """``n`` entries in the county's chain (loading a county records itself as one)."""
    with acting_as(Actor(None, "test")), db.transaction(tenant.id) as s:
        for i in range(n):
            audit.record(s, "export", "org_unit", tenant.unit("T01D1V1"), {"rows": i})


def _verify(db, tenant):
    with db.transaction(tenant.id) as s:
        return audit.verify(s, tenant.id)


def test_verify_detects_an_altered_entry(fresh_tenant, db):
    _some_entries(db, fresh_tenant)
    assert _verify(db, fresh_tenant).ok
    engine = _owner_engine(db)
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_entry SET actor = 'user:someone-else' WHERE tenant_id = :t AND id = 5"),
                     {"t": fresh_tenant.id})
    result = _verify(db, fresh_tenant)
    assert not result.ok and result.problem == "entry 5 was altered" and result.entries == 4


def test_verify_detects_a_removed_entry(fresh_tenant, db):
    _some_entries(db, fresh_tenant)
    engine = _owner_engine(db)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_entry WHERE tenant_id = :t AND id = 7"), {"t": fresh_tenant.id})
    result = _verify(db, fresh_tenant)
    assert not result.ok and result.problem == "entry 7 is missing"


def test_verify_detects_a_truncated_tail(fresh_tenant, db):
    engine = _owner_engine(db)
    with engine.begin() as conn:
        last = conn.execute(text("SELECT max(id) FROM audit_entry WHERE tenant_id = :t"), {"t": fresh_tenant.id}).scalar()
        conn.execute(text("DELETE FROM audit_entry WHERE tenant_id = :t AND id = :i"), {"t": fresh_tenant.id, "i": last})
    result = _verify(db, fresh_tenant)
    assert not result.ok and "removed" in result.problem


def test_cli_audit_verify(app, fresh_tenant, db, monkeypatch, config):
    monkeypatch.setenv("PINGAN_DATABASE_URL", config.database_url)
    monkeypatch.setenv("PINGAN_INSTANCE_DIR", str(config.instance_dir))
    _some_entries(db, fresh_tenant)
    ok = CliRunner().invoke(cli, ["audit", "verify", "--tenant", fresh_tenant.slug])
    assert ok.exit_code == 0, ok.output
    with _owner_engine(db).begin() as conn:
        conn.execute(text("UPDATE audit_entry SET changes = '{}' WHERE tenant_id = :t AND id = 3"), {"t": fresh_tenant.id})
    bad = CliRunner().invoke(cli, ["audit", "verify", "--tenant", fresh_tenant.slug])
    assert bad.exit_code == 1 and "entry 3 was altered" in bad.output


@pytest.mark.skipif(not PG_URL, reason="SQLite serializes transactions (each begins IMMEDIATE): the race is "
                                        "PostgreSQL's READ COMMITTED one")
def test_verify_of_a_live_chain_ignores_what_commits_while_it_reads(fresh_tenant, db):
    """A county keeps working during ``pingan audit verify``: an entry committed after the head
    was read (between verify's reads) is the next verification's, not a removed one (the fault
    suite saw "the chain ends at entry 6816 but its head says 6815" on a healthy chain)."""
    t = fresh_tenant
    # a reading session, as `pingan audit verify`'s: each statement sees what committed before it
    with db.Session() as s, bind_tenant(t.id):
        real_execute, calls = s.execute, []

        def execute(*args, **kw):
            result = real_execute(*args, **kw)
            calls.append(1)
            if len(calls) == 1:  # the head is read: another request commits its write now
                with acting_as(Actor(None, "test:audit")), db.transaction(t.id) as other:
                    _rename(other, t.unit("T01D1V1"), "核查期间的改名")
            return result

        s.execute = execute
        result = audit.verify(s, t.id)
    assert result.ok, result.problem
    assert _verify(db, t).ok and _verify(db, t).entries == result.entries + 1
