"""Authentication: passwords, lockout, sessions, CSRF, personal access tokens (issue 2 security bar)."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from core import auth
from core.app import pingan
from core.db import utcnow
from core.models import AccessToken, Tenant, User, WebSession
from tests.conftest import DEMO_PASSWORD, Client, make_token, web_login


def test_login_sets_a_new_session_id(app, demo):
    c = Client(app, demo.host)
    c.http.set_cookie("pingan_session", "attacker-chosen", domain=demo.host)
    c2, r = web_login(app, demo, "county.viewer")
    assert r.status_code == 302
    cookie = c2.http.get_cookie("pingan_session", domain=demo.host)
    assert cookie is not None and cookie.value != "attacker-chosen" and len(cookie.value) >= 40
    c3, _ = web_login(app, demo, "county.viewer")
    assert c3.http.get_cookie("pingan_session", domain=demo.host).value != cookie.value


def test_wrong_password_and_unknown_user_get_the_same_answer(app, demo):
    _, r1 = web_login(app, demo, "county.viewer", "wrong-password")
    _, r2 = web_login(app, demo, "nobody.here", "wrong-password")
    assert r1.status_code == r2.status_code == 401
    assert "用户名或密码错误" in r1.get_data(as_text=True) and "用户名或密码错误" in r2.get_data(as_text=True)


def test_lockout_after_repeated_failures_ends_all_sessions(app, fresh_tenant, login):
    cfg = pingan(app).config
    signed_in = login(fresh_tenant, "county.viewer")
    assert signed_in.get("/api/me").status_code == 200
    for _ in range(cfg.login_max_failures):
        _, r = web_login(app, fresh_tenant, "county.viewer", "wrong-password")
        assert r.status_code == 401
    _, r = web_login(app, fresh_tenant, "county.viewer", DEMO_PASSWORD)
    _, unknown = web_login(app, fresh_tenant, "nobody.here", DEMO_PASSWORD)
    # locked: the same answer as for a name that does not exist (issue 14)
    assert r.status_code == unknown.status_code == 401 and "用户名或密码错误" in r.get_data(as_text=True)
    assert signed_in.get("/api/me").status_code == 401  # the live session was ended


def test_lockout_expires(app, fresh_tenant, db):
    cfg = pingan(app).config
    web_login(app, fresh_tenant, "county.viewer")  # a known source: its failures lock (a stranger's only slow down)
    for _ in range(cfg.login_max_failures):
        web_login(app, fresh_tenant, "county.viewer", "wrong-password")
    with db.transaction(fresh_tenant.id) as s:
        s.execute(update(User).where(User.username == "county.viewer")
                  .values(locked_until=utcnow() - timedelta(seconds=1)))
    _, r = web_login(app, fresh_tenant, "county.viewer")
    assert r.status_code == 302


def test_too_many_failures_from_one_address_answer_429(app, fresh_tenant, monkeypatch):
    monkeypatch.setattr(pingan(app).config, "login_ip_limit", 3)
    for i in range(3):
        web_login(app, fresh_tenant, f"ghost{i}", "x", ip="10.9.9.9")
    _, r = web_login(app, fresh_tenant, "county.viewer", DEMO_PASSWORD, ip="10.9.9.9")
    assert r.status_code == 429
    _, r = web_login(app, fresh_tenant, "county.viewer", DEMO_PASSWORD, ip="10.9.9.10")
    assert r.status_code == 302


def _age_session(db, tenant, **delta):
    with db.transaction(tenant.id) as s:
        s.execute(update(WebSession).where(WebSession.ended_at.is_(None))
                  .values({k: utcnow() - v for k, v in delta.items()}))


def test_idle_timeout(app, fresh_tenant, login, db):
    c = login(fresh_tenant, "county.viewer")
    idle = pingan(app).config.session_idle_minutes
    _age_session(db, fresh_tenant, last_seen_at=timedelta(minutes=idle + 1))
    assert c.get("/api/me").status_code == 401


def test_absolute_timeout_even_when_active(app, fresh_tenant, login, db):
    c = login(fresh_tenant, "county.viewer")
    hours = pingan(app).config.session_max_hours
    _age_session(db, fresh_tenant, created_at=timedelta(hours=hours, minutes=1))
    assert c.get("/api/me").status_code == 401


def test_logout_ends_the_session(fresh_tenant, login):
    c = login(fresh_tenant, "county.viewer")
    r = c.post("/logout", data={"csrf_token": c.headers["X-CSRF-Token"]})
    assert r.status_code == 302
    assert c.get("/api/me").status_code == 401


def test_cookie_writes_need_the_csrf_token(fresh_tenant, login):
    c = login(fresh_tenant, "county.admin")
    body = {"org_unit_id": fresh_tenant.unit("T01"), "name": "东湖镇文化站", "category": "culture"}
    token = c.headers.pop("X-CSRF-Token")
    r = c.post("/api/member-units", json=body)
    assert r.status_code == 403 and r.get_json()["code"] == "csrf_failed"
    r = c.post("/api/member-units", json=body, headers={"X-CSRF-Token": "forged"})
    assert r.status_code == 403
    r = c.post("/api/member-units", json=body, headers={"X-CSRF-Token": token})
    assert r.status_code == 201


def test_login_form_needs_its_csrf_token(app, demo):
    c = Client(app, demo.host)
    r = c.post("/login", data={"csrf_token": "x", "username": "county.viewer", "password": DEMO_PASSWORD})
    assert r.status_code == 200 and "页面已过期" in r.get_data(as_text=True)
    assert c.http.get_cookie("pingan_session", domain=demo.host) is None


def test_new_account_must_change_password_first(app, fresh_tenant, login):
    admin = login(fresh_tenant, "county.admin")
    r = admin.post("/api/users", json={"username": "new.cadre", "display_name": "新干部",
                                       "org_unit_id": fresh_tenant.unit("T01D1V1")})
    assert r.status_code == 201
    initial = r.get_json()["initial_password"]
    c, r = web_login(app, fresh_tenant, "new.cadre", initial)
    assert r.status_code == 302 and r.headers["Location"].endswith("/password")
    assert c.get("/api/me").get_json()["must_change_password"] is True  # allowed: the UI needs it
    r = c.get("/api/org-units")
    assert r.status_code == 403 and r.get_json()["code"] == "password_change_required"
    page = c.get("/")
    assert page.status_code == 302 and page.headers["Location"].endswith("/password")
    import re
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/password").get_data(as_text=True)).group(1)
    r = c.post("/password", data={"csrf_token": csrf, "old_password": initial, "new_password": "short",
                                  "new_password2": "short"})
    assert r.status_code == 422 and "至少需要" in r.get_data(as_text=True)
    r = c.post("/password", data={"csrf_token": csrf, "old_password": initial, "new_password": "a-better-passphrase",
                                  "new_password2": "a-better-passphrase"})
    assert r.status_code == 302
    assert c.get("/api/me").get_json()["must_change_password"] is False
    assert c.get("/api/org-units").get_json()["code"] == "forbidden"  # no role yet: an ordinary 403


def test_personal_access_token_revoked_or_expired_is_rejected(app, fresh_tenant, db):
    token = make_token(app, fresh_tenant, "county.admin")
    c = Client(app, fresh_tenant.host, {"Authorization": f"Bearer {token}"})
    assert c.get("/api/me").status_code == 200
    with db.transaction(fresh_tenant.id) as s:
        s.execute(update(AccessToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    r = c.get("/api/me")
    assert r.status_code == 401 and r.get_json()["code"] == "invalid_token"
    assert "invalid_token" in r.headers["WWW-Authenticate"]
    token2 = make_token(app, fresh_tenant, "county.admin")
    c2 = Client(app, fresh_tenant.host, {"Authorization": f"Bearer {token2}"})
    tid = c2.get("/api/tokens").get_json()["items"][0]["id"]
    assert c2.delete(f"/api/tokens/{tid}").status_code == 204
    assert c2.get("/api/me").status_code == 401


def test_token_of_another_tenant_is_rejected(app, demo, other):
    token = make_token(app, other, "county.admin")
    r = Client(app, demo.host, {"Authorization": f"Bearer {token}"}).get("/api/org-units")
    assert r.status_code == 401 and r.get_json()["code"] == "token_tenant_mismatch"
    # a token with a forged tenant prefix finds nothing in that tenant
    forged = f"pat_{demo.id}_{token.split('_', 2)[2]}"
    assert Client(app, demo.host, {"Authorization": f"Bearer {forged}"}).get("/api/me").status_code == 401
    for garbage in ("pat_x_y", "nonsense", "pat_999999_abc"):
        r = Client(app, demo.host, {"Authorization": f"Bearer {garbage}"}).get("/api/me")
        assert r.status_code == 401


def test_token_scope_limits_permissions(app, demo):
    token = make_token(app, demo, "county.admin", scope="core.org_unit.read")
    c = Client(app, demo.host, {"Authorization": f"Bearer {token}"})
    assert c.get("/api/org-units?limit=1").status_code == 200
    assert c.get("/api/persons").status_code == 403


def test_suspended_tenant_is_refused(app, fresh_tenant, db, login):
    c = login(fresh_tenant, "county.viewer")
    with db.Session() as s, s.begin():
        s.execute(update(Tenant).where(Tenant.id == fresh_tenant.id).values(status="suspended"))
    r = c.get("/api/me")
    assert r.status_code == 403 and r.get_json()["code"] == "tenant_suspended"


def test_unknown_host_is_404(app):
    r = Client(app, "nowhere.example").get("/api/me")
    assert r.status_code == 404 and r.get_json()["code"] == "unknown_tenant"


def test_production_refuses_to_start_without_secrets(tmp_path, monkeypatch):
    import pytest
    from core.config import Config, ConfigError
    monkeypatch.setenv("PINGAN_ENV", "production")
    for name in ("PINGAN_SECRET_KEY", "PINGAN_DATA_KEYS", "PINGAN_INDEX_KEY"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError, match="PINGAN_SECRET_KEY"):
        Config.from_env(instance_dir=tmp_path)
    monkeypatch.setenv("PINGAN_SECRET_KEY", "short")
    with pytest.raises(ConfigError):
        Config.from_env(instance_dir=tmp_path)


def test_password_hash_is_argon2(db, demo):
    with db.transaction(demo.id) as s:
        h = s.scalar(select(User.password_hash).where(User.username == "county.admin"))
    assert h.startswith("$argon2id$")


def test_production_hashes_passwords_with_argon2_cffi_defaults(monkeypatch):
    """The suite hashes cheaply (tests/conftest.py); what production runs is argon2-cffi's
    defaults (RFC 9106's second recommended option), made and checked by core.auth."""
    from argon2 import PasswordHasher, extract_parameters
    monkeypatch.setattr(auth, "_hasher", auth.password_hasher())
    stored = auth.hash_password("a long passphrase")
    assert extract_parameters(stored) == extract_parameters(PasswordHasher().hash("x"))
    assert extract_parameters(stored).memory_cost >= 65536
    assert auth.verify_password(stored, "a long passphrase") and not auth.verify_password(stored, "wrong one")


def test_password_change_api(fresh_tenant, login):
    c = login(fresh_tenant, "county.viewer")
    r = c.post("/api/me/password", json={"old_password": "not-my-password", "new_password": "another-passphrase"})
    assert r.status_code == 403 and r.get_json()["code"] == "wrong_password"
    assert "old_password" in r.get_json()["errors"]["json"]
    r = c.post("/api/me/password", json={"old_password": DEMO_PASSWORD, "new_password": "short"})
    assert r.status_code == 422 and "new_password" in r.get_json()["errors"]["json"]
    r = c.post("/api/me/password", json={"old_password": DEMO_PASSWORD, "new_password": "another-passphrase"})
    assert r.status_code == 204
    _, r = web_login(c.app, fresh_tenant, "county.viewer", "another-passphrase")
    assert r.status_code == 302


def test_token_expiring_in_the_past_is_refused(demo, token_client):
    c = token_client(demo, "county.admin")
    r = c.post("/api/tokens", json={"name": "old", "expires_at": "2001-01-01T00:00:00+08:00"})
    assert r.status_code == 422 and r.get_json()["code"] == "in_the_past"
    r = c.post("/api/tokens", json={"name": "ok", "expires_at": "2099-01-01T00:00:00+08:00",
                                    "scope": ["core.org_unit.read"]})
    assert r.status_code == 201 and r.get_json()["token"].startswith(f"pat_{demo.id}_")


def test_login_returns_to_a_same_site_page_only(app, demo):
    import re
    for target, expected in (("/api/docs", "/api/docs"), ("//evil.example/x", "/"), ("https://evil.example", "/"),
                             ("/\\evil.example", "/")):
        c = Client(app, demo.host)
        page = c.get(f"/login?next={target}").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        r = c.post("/login", data={"csrf_token": token, "username": "county.viewer", "password": DEMO_PASSWORD,
                                   "next": target})
        assert r.status_code == 302 and r.headers["Location"] == expected, target


def test_admin_lock_and_unlock(app, fresh_tenant, login, db):
    admin = login(fresh_tenant, "county.admin")
    viewer = login(fresh_tenant, "county.viewer")
    with db.transaction(fresh_tenant.id) as s:
        uid = s.scalar(select(User.id).where(User.username == "county.viewer"))
    r = admin.post(f"/api/users/{uid}/lock")
    assert r.status_code == 200 and r.get_json()["locked"] is True
    assert viewer.get("/api/me").status_code == 401          # sessions ended
    _, r = web_login(app, fresh_tenant, "county.viewer")
    assert r.status_code == 401 and "已被锁定" in r.get_data(as_text=True)
    assert admin.post(f"/api/users/{uid}/unlock").get_json()["locked"] is False
    _, r = web_login(app, fresh_tenant, "county.viewer")
    assert r.status_code == 302


def test_token_use_is_recorded_at_most_hourly(app, fresh_tenant, db):
    token = make_token(app, fresh_tenant, "county.viewer")
    c = Client(app, fresh_tenant.host, {"Authorization": f"Bearer {token}"})
    assert c.get("/api/me").status_code == 200
    with db.transaction(fresh_tenant.id) as s:
        first = s.scalar(select(AccessToken.last_used_at))
    assert first is not None
    c.get("/api/me")
    with db.transaction(fresh_tenant.id) as s:
        assert s.scalar(select(AccessToken.last_used_at)) == first
