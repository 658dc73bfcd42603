"""``pingan token create/list/revoke`` (issue 16, item 6): a personal access token from the
shell, audited like the API's, its secret printed once on stdout and nowhere else."""
from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from click.testing import CliRunner
from sqlalchemy import select

from core.audit import AuditEntry
from core.cli import main as cli
from core.db import utcnow
from core.models import AccessToken
from tests.conftest import LOG_FILE_NAME, Client


@pytest.fixture
def pingan_cli(config, monkeypatch):
    monkeypatch.setenv("PINGAN_DATABASE_URL", config.database_url)
    monkeypatch.setenv("PINGAN_INSTANCE_DIR", str(config.instance_dir))

    def run(*args: str):
        return CliRunner().invoke(cli, list(args))
    return run


def test_token_create_prints_a_working_token_once_and_audits_it(app, fresh_tenant, db, config, pingan_cli):
    t = fresh_tenant
    r = pingan_cli("token", "create", "--tenant", t.slug, "--user", "county.admin", "--name", "报表脚本",
                   "--scope", "core.case.read core.org_unit.read", "--days", "30")
    assert r.exit_code == 0, r.output
    secret = r.stdout.strip()
    assert secret.startswith("pat_") and "\n" not in secret  # stdout is the token alone: TOKEN=$(pingan token create …)
    assert secret not in r.stderr and "Authorization: Bearer" in r.stderr

    api = Client(app, t.host, {"Authorization": f"Bearer {secret}"})
    me = api.get("/api/me")
    assert me.status_code == 200 and me.get_json()["username"] == "county.admin"
    assert api.get("/api/cases").status_code == 200
    assert api.get("/api/persons").status_code == 403  # core.person.read: held by the user (next test), not in the scope

    with db.transaction(t.id) as s:
        row = s.scalar(select(AccessToken).where(AccessToken.name == "报表脚本"))
        assert row.scope == "core.case.read core.org_unit.read"
        assert 29 * 86400 < (row.expires_at - utcnow()).total_seconds() <= 30 * 86400
        entry = s.scalar(select(AuditEntry).where(AuditEntry.object_type == "access_token",
                                                  AuditEntry.object_id == str(row.id)))
    assert entry.action == "create" and entry.actor == "cli:token-create"
    assert entry.changes["token_hash"] == [None, "***"] and secret not in str(entry.changes)
    assert secret not in (config.instance_dir / LOG_FILE_NAME).read_text(encoding="utf-8")

    listed = pingan_cli("token", "list", "--tenant", t.slug, "--user", "county.admin")
    assert listed.exit_code == 0 and f"{row.id}\tcounty.admin\t报表脚本\tcore.case.read core.org_unit.read" in listed.output
    assert secret not in listed.output and row.token_hash not in listed.output

    revoked = pingan_cli("token", "revoke", "--tenant", t.slug, str(row.id))
    assert revoked.exit_code == 0, revoked.output
    assert api.get("/api/me").status_code == 401
    with db.transaction(t.id) as s:
        actions = s.execute(select(AuditEntry.action, AuditEntry.actor).where(
            AuditEntry.object_type == "access_token", AuditEntry.object_id == str(row.id))
            .order_by(AuditEntry.id)).all()
    assert [tuple(a) for a in actions] == [("create", "cli:token-create"), ("update", "cli:token-revoke")]
    assert "revoked" in pingan_cli("token", "list", "--tenant", t.slug).output


def test_a_token_without_days_does_not_expire_and_holds_the_users_permissions(app, fresh_tenant, pingan_cli):
    r = pingan_cli("token", "create", "--tenant", fresh_tenant.slug, "--user", "county.admin")
    assert r.exit_code == 0, r.output
    api = Client(app, fresh_tenant.host, {"Authorization": f"Bearer {r.stdout.strip()}"})
    with time_machine.travel(utcnow() + timedelta(days=5 * 365), tick=False):
        assert api.get("/api/persons").status_code == 200
    assert "no expiry" in r.stderr


@pytest.mark.parametrize("args, message", [
    (["--user", "nobody"], "no user 'nobody'"),
    (["--user", "village.cadre", "--scope", "core.no.such"], "no permission 'core.no.such'"),
    (["--user", "village.cadre", "--days", "0"], "--days"),
    (["--user", "village.cadre", "--name", ""], "--name must be 1 to 100 characters"),
])
def test_token_create_refuses_bad_input_and_writes_nothing(app, fresh_tenant, db, pingan_cli, args, message):
    r = pingan_cli("token", "create", "--tenant", fresh_tenant.slug, *args)
    assert r.exit_code != 0 and message in r.output and "pat_" not in r.output
    with db.transaction(fresh_tenant.id) as s:
        assert s.scalars(select(AccessToken)).all() == []


def test_token_commands_need_an_existing_tenant(app, pingan_cli):
    r = pingan_cli("token", "create", "--tenant", "nosuchcounty", "--user", "county.admin")
    assert r.exit_code == 1 and "no tenant 'nosuchcounty'" in r.output
    assert pingan_cli("token", "revoke", "--tenant", "nosuchcounty", "1").exit_code == 1


def test_no_token_for_a_disabled_user(app, fresh_tenant, db, pingan_cli):
    from core.context import Actor, acting_as
    from core.models import User
    with acting_as(Actor(None, "test")), db.transaction(fresh_tenant.id) as s:
        s.scalar(select(User).where(User.username == "village.cadre")).status = "disabled"
    r = pingan_cli("token", "create", "--tenant", fresh_tenant.slug, "--user", "village.cadre")
    assert r.exit_code == 1 and "disabled or locked" in r.output and "pat_" not in r.output


def test_a_token_of_a_user_with_a_one_time_password_is_refused_until_it_is_changed(app, fresh_tenant, db, pingan_cli):
    """docs/api_clients.md: every API call of such a user answers 403 password_change_required —
    a token made from the shell is no way round it."""
    from core.context import Actor, acting_as
    from core.models import User
    r = pingan_cli("token", "create", "--tenant", fresh_tenant.slug, "--user", "village.cadre")
    assert r.exit_code == 0, r.output
    api = Client(app, fresh_tenant.host, {"Authorization": f"Bearer {r.stdout.strip()}"})
    assert api.get("/api/persons").status_code == 200
    with acting_as(Actor(None, "test")), db.transaction(fresh_tenant.id) as s:
        s.scalar(select(User).where(User.username == "village.cadre")).must_change_password = True
    refused = api.get("/api/persons")
    assert refused.status_code == 403 and refused.get_json()["code"] == "password_change_required"
    assert api.post("/api/persons", json={"name": "王大爷"}).get_json()["code"] == "password_change_required"
