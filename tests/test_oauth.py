"""OAuth 2 authorization server: PKCE, client credentials, rotation, revocation (issue 2 security bar).

There are no rule ids for OAuth; every security test here cites "issue 2 security bar".
The end-to-end tests drive the app over a real loopback HTTP server with Authlib's own client;
the others use the Flask test client on the tenant's host name.
"""
from __future__ import annotations

import base64
import hashlib
import logging
import re
import secrets
import threading
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from sqlalchemy import select, update

from core.audit import AuditEntry
from core.db import utcnow
from core.models import User
from core.oauth import OAuthClient, OAuthClientSecret, OAuthCode, OAuthToken
from tests.conftest import DEMO_PASSWORD, Client

REDIRECT = "https://app.example.cn/callback"
READ_UNITS, READ_PERSONS = "core.org_unit.read", "core.person.read"


@pytest.fixture(autouse=True)
def _plain_http(monkeypatch):
    # The tests speak plain HTTP to *.localhost; production runs behind TLS (Authlib refuses
    # http:// there). Only this switch is relaxed, nothing else.
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")


@pytest.fixture(scope="module")
def live(app):
    """The app on a real loopback HTTP server (requests name the tenant in the Host header)."""
    from werkzeug.serving import make_server
    srv = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_port}"
    srv.shutdown()
    thread.join(5)


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def basic(client_id: str, secret: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def query_of(location: str) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


class OAuth:
    """One county, its admin, and helpers to walk the flows with the Flask test client."""

    def __init__(self, app, tenant, login) -> None:
        self.app, self.t, self._login = app, tenant, login
        self.admin = login(tenant, "county.admin")
        self.anon = Client(app, tenant.host)
        self.users: dict[str, Client] = {}

    def user(self, username: str) -> Client:
        if username not in self.users:
            self.users[username] = self._login(self.t, username)
        return self.users[username]

    def register(self, **kw) -> dict:
        body = {"name": "县网格化移动端", "confidential": False, "redirect_uris": [REDIRECT],
                "scopes": [READ_UNITS, READ_PERSONS], "grant_types": ["authorization_code", "refresh_token"], **kw}
        r = self.admin.post("/api/oauth-clients", json=body)
        assert r.status_code == 201, r.get_json()
        return r.get_json()

    def authorize(self, info: dict, username: str = "county.admin", scope: str | None = READ_UNITS,
                  challenge: str | None = "", method: str | None = "S256", redirect_uri: str = REDIRECT,
                  decision: str = "approve", state: str = "st-123"):
        """GET the consent page, then POST the decision; returns the last response."""
        params = {"response_type": "code", "client_id": info["client_id"], "redirect_uri": redirect_uri,
                  "state": state, "scope": scope, "code_challenge": challenge, "code_challenge_method": method}
        query = urlencode({k: v for k, v in params.items() if v is not None})
        browser = self.user(username)
        page = browser.get(f"/oauth/authorize?{query}")
        if page.status_code != 200:
            return page
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
        return browser.post(f"/oauth/authorize?{query}", data={"csrf_token": csrf, "decision": decision})

    def code(self, info: dict, **kw) -> tuple[str, str]:
        verifier, challenge = pkce()
        r = self.authorize(info, challenge=challenge, **kw)
        assert r.status_code == 302, r.get_data(as_text=True)
        q = query_of(r.headers["Location"])
        assert q.get("state") == kw.get("state", "st-123") and "code" in q, q
        return q["code"], verifier

    def exchange(self, info: dict, code: str, verifier: str | None, redirect_uri: str = REDIRECT,
                 secret: str | None = None):
        data = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        if verifier is not None:
            data["code_verifier"] = verifier
        return self.token_post(info, data, secret)

    def token_post(self, info: dict, data: dict, secret: str | None = None, path: str = "/oauth/token"):
        headers = basic(info["client_id"], secret) if secret else {}
        if not secret:
            data = {**data, "client_id": info["client_id"]}
        return self.anon.post(path, data=data, headers=headers)

    def tokens(self, info: dict, secret: str | None = None, **kw) -> dict:
        code, verifier = self.code(info, **kw)
        r = self.exchange(info, code, verifier, secret=secret)
        assert r.status_code == 200, r.get_json()
        return {**r.get_json(), "_code": code}

    def refresh(self, info: dict, refresh_token: str, secret: str | None = None):
        return self.token_post(info, {"grant_type": "refresh_token", "refresh_token": refresh_token}, secret)

    def api(self, token: str, path: str = "/api/me", host: str | None = None):
        return Client(self.app, host or self.t.host, {"Authorization": f"Bearer {token}"}).get(path)


@pytest.fixture
def oauth(app, fresh_tenant, login) -> OAuth:
    return OAuth(app, fresh_tenant, login)


# --- end to end with Authlib's own client over real HTTP ----------------------------------------

def browser_login(live: str, host: str, username: str) -> requests.Session:
    b = requests.Session()
    b.headers["Host"] = host
    page = b.get(f"{live}/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    r = b.post(f"{live}/login", data={"csrf_token": csrf, "username": username, "password": DEMO_PASSWORD},
               allow_redirects=False)
    assert r.status_code == 302, r.text
    return b


def test_pkce_flow_end_to_end_with_authlib_client(oauth, live):
    # issue 2 security bar: authorization code + PKCE S256, scopes = permissions, rotation, revocation
    info = oauth.register()
    client = OAuth2Session(info["client_id"], scope=f"{READ_UNITS} {READ_PERSONS}", redirect_uri=REDIRECT,
                           code_challenge_method="S256", token_endpoint_auth_method="none",
                           revocation_endpoint_auth_method="none")
    client.headers["Host"] = oauth.t.host
    verifier = secrets.token_urlsafe(48)
    url, state = client.create_authorization_url(f"{live}/oauth/authorize", code_verifier=verifier)
    assert "code_challenge_method=S256" in url

    browser = browser_login(live, oauth.t.host, "donghu.admin")
    page = browser.get(url, allow_redirects=False)
    assert page.status_code == 200
    assert "授权确认" in page.text and "县网格化移动端" in page.text and "查看组织架构" in page.text
    assert "https://app.example.cn" in page.headers["Content-Security-Policy"]
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    approved = browser.post(url, data={"csrf_token": csrf, "decision": "approve"}, allow_redirects=False)
    assert approved.status_code == 302
    location = approved.headers["Location"]
    assert location.startswith(REDIRECT + "?") and query_of(location)["state"] == state

    token = client.fetch_token(f"{live}/oauth/token", authorization_response=location, code_verifier=verifier)
    assert token["access_token"].startswith(f"oat_{oauth.t.id}_")
    assert token["refresh_token"].startswith(f"ort_{oauth.t.id}_")
    assert token["token_type"] == "Bearer" and token["expires_in"] == 3600
    assert set(token["scope"].split()) == {READ_UNITS, READ_PERSONS}

    me = client.get(f"{live}/api/me").json()
    assert me["username"] == "donghu.admin"
    assert set(me["permissions"]) == {READ_UNITS, READ_PERSONS}  # the user's grants cut to the scopes
    units = client.get(f"{live}/api/org-units?limit=200").json()["items"]
    assert oauth.t.unit("T01") in {u["id"] for u in units}
    assert oauth.t.unit("T02") not in {u["id"] for u in units}  # still only the user's own subtree
    assert client.get(f"{live}/api/users").status_code == 403   # donghu.admin may, the token may not

    old = dict(token)
    new = client.refresh_token(f"{live}/oauth/token")
    assert new["refresh_token"] != old["refresh_token"] and new["access_token"] != old["access_token"]
    assert client.get(f"{live}/api/me").status_code == 200

    client.revoke_token(f"{live}/oauth/revoke", token=new["refresh_token"], token_type_hint="refresh_token")
    assert client.get(f"{live}/api/me").status_code == 401  # the family is gone
    assert oauth.api(old["access_token"]).status_code == 401


def test_client_credentials_acts_as_the_service_user_within_scope(oauth, live):
    # issue 2 security bar: client credentials bounded by the service user's role assignments
    with_user = oauth.admin.get("/api/users?q=village.cadre").get_json()["items"]
    cadre = next(u for u in with_user if u["username"] == "village.cadre")
    info = oauth.register(confidential=True, redirect_uris=[], scopes=[READ_UNITS],
                          grant_types=["client_credentials"], service_user_id=cadre["id"])
    assert info["client_secret"]
    client = OAuth2Session(info["client_id"], info["client_secret"], scope=READ_UNITS)
    client.headers["Host"] = oauth.t.host
    token = client.fetch_token(f"{live}/oauth/token", grant_type="client_credentials")
    assert token["access_token"].startswith(f"oat_{oauth.t.id}_") and "refresh_token" not in token

    ids = {u["id"] for u in client.get(f"{live}/api/org-units?limit=200").json()["items"]}
    assert oauth.t.unit("T01D1V1") in ids and oauth.t.unit("T01D1V2") not in ids  # the cadre's village only
    assert client.get(f"{live}/api/persons").status_code == 403  # the cadre may read persons; the scope may not

    wrong = OAuth2Session(info["client_id"], "not-the-secret", scope=READ_UNITS)
    wrong.headers["Host"] = oauth.t.host
    r = wrong.post(f"{live}/oauth/token", data={"grant_type": "client_credentials"},
                   auth=(info["client_id"], "not-the-secret"))
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    # a client may only use the grant types it was registered for
    r = oauth.token_post(info, {"grant_type": "refresh_token", "refresh_token": "ort_1_x"}, info["client_secret"])
    assert r.status_code == 400 and r.get_json()["error"] == "unauthorized_client"


# --- the security bar, one requirement per test ---------------------------------------------------

def test_code_replay_is_invalid_grant_and_revokes_every_token_from_it(oauth, db):
    # issue 2 security bar: a replayed authorization code → invalid_grant + its tokens revoked
    info = oauth.register()
    code, verifier = oauth.code(info)
    first = oauth.exchange(info, code, verifier)
    assert first.status_code == 200
    tokens = first.get_json()
    refreshed = oauth.refresh(info, tokens["refresh_token"]).get_json()  # a descendant of the code
    assert oauth.api(tokens["access_token"]).status_code == 200
    assert oauth.api(refreshed["access_token"]).status_code == 200

    replay = oauth.exchange(info, code, verifier)
    assert replay.status_code == 400 and replay.get_json()["error"] == "invalid_grant"
    assert oauth.api(tokens["access_token"]).status_code == 401
    assert oauth.api(refreshed["access_token"]).status_code == 401
    assert oauth.refresh(info, refreshed["refresh_token"]).get_json()["error"] == "invalid_grant"
    with db.transaction(oauth.t.id) as s:
        events = s.scalars(select(AuditEntry).where(AuditEntry.action == "oauth_token_revoke")).all()
    assert [e.changes["reason"] for e in events] == ["code_replay"]
    assert len(events[0].changes["token_ids"]) == 2


def test_redirect_uri_must_match_exactly(oauth):
    # issue 2 security bar: exact redirect URI match, no prefix, no wildcard
    info = oauth.register()
    for uri in (REDIRECT + "/evil", REDIRECT + "?next=https://evil.cn", REDIRECT[:-1], REDIRECT + "/",
                "https://APP.example.cn/callback", "https://app.example.cn.evil.cn/callback",
                "https://app.example.cn/callback/../callback", "http://app.example.cn/callback"):
        r = oauth.authorize(info, challenge=pkce()[1], redirect_uri=uri)
        assert r.status_code == 400, uri
        assert "Location" not in r.headers  # never redirected to an unregistered address
        assert "回调地址" in r.get_data(as_text=True)
    # the token request must repeat the very same URI
    code, verifier = oauth.code(info)
    r = oauth.exchange(info, code, verifier, redirect_uri=REDIRECT + "/evil")
    assert r.status_code == 400 and r.get_json()["error"] == "invalid_grant"
    # and a client cannot even register a pattern
    for bad in ("https://app.example.cn/*", "https://*.example.cn/cb", "http://app.example.cn/cb",
                "https://app.example.cn/cb#frag", "javascript:alert(1)", "/relative"):
        r = oauth.admin.post("/api/oauth-clients", json={"name": "x", "confidential": False, "redirect_uris": [bad],
                                                         "scopes": [READ_UNITS], "grant_types": ["authorization_code"]})
        assert r.status_code == 422, bad


def test_refresh_tokens_rotate_and_a_replayed_one_revokes_the_family(oauth):
    # issue 2 security bar: refresh rotation; replaying a rotated refresh token revokes the family
    info = oauth.register()
    t1 = oauth.tokens(info)
    r = oauth.refresh(info, t1["refresh_token"])
    assert r.status_code == 200
    t2 = r.get_json()
    assert t2["refresh_token"] != t1["refresh_token"] and t2["access_token"] != t1["access_token"]
    assert t2["scope"] == t1["scope"]
    assert oauth.api(t2["access_token"]).status_code == 200

    replay = oauth.refresh(info, t1["refresh_token"])  # the old, rotated refresh token
    assert replay.status_code == 400 and replay.get_json()["error"] == "invalid_grant"
    assert oauth.api(t2["access_token"]).status_code == 401
    assert oauth.api(t1["access_token"]).status_code == 401
    assert oauth.refresh(info, t2["refresh_token"]).get_json()["error"] == "invalid_grant"
    # another family of the same user and client is untouched
    t3 = oauth.tokens(info)
    assert oauth.api(t3["access_token"]).status_code == 200


def test_pkce_is_required_for_every_client_and_only_s256(oauth):
    # issue 2 security bar: CodeChallenge(required=True), S256 only
    public = oauth.register()
    confidential = oauth.register(confidential=True)
    verifier, challenge = pkce()
    for info in (public, confidential):
        for kw in ({"challenge": verifier, "method": "plain"},   # plain refused
                   {"challenge": challenge, "method": None},     # no method means plain: refused
                   {"challenge": None, "method": None},          # no PKCE at all
                   {"challenge": None, "method": "S256"}):
            r = oauth.authorize(info, **kw)
            assert r.status_code == 302, kw
            q = query_of(r.headers["Location"])
            assert q["error"] == "invalid_request" and "code" not in q, (info["confidential"], kw)
    # at the token endpoint the verifier must be present and right, for the confidential client too
    secret = confidential["client_secret"]
    code, verifier = oauth.code(confidential)
    r = oauth.exchange(confidential, code, None, secret=secret)
    assert r.status_code == 400 and r.get_json()["error"] == "invalid_request"
    code, verifier = oauth.code(confidential)
    r = oauth.exchange(confidential, code, pkce()[0], secret=secret)
    assert r.status_code == 400 and r.get_json()["error"] == "invalid_grant"
    code, verifier = oauth.code(confidential)
    assert oauth.exchange(confidential, code, verifier, secret=secret).status_code == 200
    # and a confidential client must authenticate: client_id alone is not enough
    code, verifier = oauth.code(confidential)
    r = oauth.exchange(confidential, code, verifier)
    assert r.status_code == 401 and r.get_json()["error"] == "invalid_client"


def test_revoked_or_expired_access_token_is_401(oauth, db):
    # issue 2 security bar: revoked or expired access token → 401
    info = oauth.register()
    t1, t2 = oauth.tokens(info), oauth.tokens(info)
    assert oauth.api(t1["access_token"]).status_code == 200
    r = oauth.token_post(info, {"token": t1["access_token"], "token_type_hint": "access_token"},
                         path="/oauth/revoke")
    assert r.status_code == 200
    r = oauth.api(t1["access_token"])
    assert r.status_code == 401 and r.get_json()["code"] == "invalid_token"
    assert oauth.api(t2["access_token"]).status_code == 200  # another issuance is untouched
    with db.transaction(oauth.t.id) as s:
        s.execute(update(OAuthToken).where(OAuthToken.access_token_hash == hashlib.sha256(
            t2["access_token"].encode()).hexdigest()).values(access_expires_at=utcnow()))
    assert oauth.api(t2["access_token"]).status_code == 401
    # a refresh token is not an access token
    assert oauth.api(t2["refresh_token"]).status_code == 401


def test_a_token_of_one_county_is_refused_on_another_countys_host(oauth, other):
    # issue 2 security bar: tenant A's token on tenant B's host → 401; look-ups are tenant-guarded
    info = oauth.register()
    tokens = oauth.tokens(info)
    r = oauth.api(tokens["access_token"], host=other.host)
    assert r.status_code == 401 and r.get_json()["code"] == "token_tenant_mismatch"
    # rewriting the tenant in the prefix does not help: B's tables do not hold A's token
    forged = f"oat_{other.id}_" + tokens["access_token"].split("_", 2)[2]
    r = oauth.api(forged, host=other.host)
    assert r.status_code == 401 and r.get_json()["code"] == "invalid_token"
    # A's client and refresh token mean nothing at B's token endpoint
    b = Client(oauth.app, other.host)
    r = b.post("/oauth/token", data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"],
                                     "client_id": info["client_id"]})
    assert r.status_code in (400, 401) and r.get_json()["error"] == "invalid_client"
    assert oauth.api(tokens["access_token"]).status_code == 200  # and at home it still works


def test_a_token_limited_to_org_unit_read_cannot_read_persons(oauth):
    # issue 2 security bar: the request's grants are the user's grants restricted to the scopes
    info = oauth.register()  # the client may ask for persons too; this token does not
    tokens = oauth.tokens(info, username="county.admin", scope=READ_UNITS)
    assert tokens["scope"] == READ_UNITS
    assert oauth.api(tokens["access_token"], "/api/org-units").status_code == 200
    r = oauth.api(tokens["access_token"], "/api/persons")
    assert r.status_code == 403 and r.get_json()["code"] == "forbidden"
    assert oauth.api(tokens["access_token"]).get_json()["permissions"] == [READ_UNITS]
    # a scope that is not a permission, or not allowed to the client, is refused
    for scope in ("core.nothing.here", "core.user.manage"):
        r = oauth.authorize(info, challenge=pkce()[1], scope=scope)
        assert query_of(r.headers["Location"])["error"] == "invalid_scope", scope
    # narrowing the client's scopes later narrows the tokens already issued
    wide = oauth.tokens(info, scope=f"{READ_UNITS} {READ_PERSONS}")
    assert oauth.api(wide["access_token"], "/api/persons").status_code == 200
    assert oauth.admin.patch(f"/api/oauth-clients/{info['id']}", json={"scopes": [READ_UNITS]}).status_code == 200
    assert oauth.api(wide["access_token"], "/api/persons").status_code == 403


def test_introspection_answers_only_the_owning_confidential_client(oauth):
    # issue 2 security bar: introspection (RFC 7662) without leaking other clients' tokens
    conf = oauth.register(confidential=True)
    other_conf = oauth.register(confidential=True)
    public = oauth.register()
    tokens = oauth.tokens(conf, secret=conf["client_secret"])

    def introspect(info, token, secret=None):
        return oauth.token_post(info, {"token": token}, secret, path="/oauth/introspect")

    body = introspect(conf, tokens["access_token"], conf["client_secret"]).get_json()
    assert body["active"] is True and body["client_id"] == conf["client_id"]
    assert body["username"] == "county.admin" and body["scope"] == READ_UNITS and body["token_type"] == "Bearer"
    assert body["exp"] - body["iat"] == 3600
    body = introspect(conf, tokens["refresh_token"], conf["client_secret"]).get_json()
    assert body["active"] is True and body["token_type"] == "refresh_token"
    assert introspect(other_conf, tokens["access_token"], other_conf["client_secret"]).get_json() == {"active": False}
    assert introspect(conf, "oat_1_unknown", conf["client_secret"]).get_json() == {"active": False}
    r = introspect(public, tokens["access_token"])
    assert r.status_code in (400, 401) and r.get_json()["error"] == "invalid_client"

    r = oauth.token_post(conf, {"token": tokens["refresh_token"]}, conf["client_secret"], path="/oauth/revoke")
    assert r.status_code == 200
    assert introspect(conf, tokens["access_token"], conf["client_secret"]).get_json() == {"active": False}
    assert introspect(conf, tokens["refresh_token"], conf["client_secret"]).get_json() == {"active": False}


def test_revocation_by_another_client_has_no_effect(oauth):
    # issue 2 security bar: a client may revoke only its own tokens
    mine, theirs = oauth.register(), oauth.register()
    tokens = oauth.tokens(mine)
    r = oauth.token_post(theirs, {"token": tokens["access_token"]}, path="/oauth/revoke")
    assert r.status_code == 400 and r.get_json()["error"] == "invalid_grant"
    assert oauth.api(tokens["access_token"]).status_code == 200
    # an unknown token is simply acknowledged (RFC 7009 §2.2)
    assert oauth.token_post(mine, {"token": "oat_1_nothing"}, path="/oauth/revoke").status_code == 200


def test_tokens_codes_and_secrets_are_never_stored_or_audited_in_plain_text(oauth, db):
    # issue 2 security bar: tokens and codes never stored in plain text
    conf = oauth.register(confidential=True)
    code, verifier = oauth.code(conf)
    tokens = oauth.exchange(conf, code, verifier, secret=conf["client_secret"]).get_json()
    rotated = oauth.refresh(conf, tokens["refresh_token"], conf["client_secret"]).get_json()
    secrets_seen = [code, conf["client_secret"], tokens["access_token"], tokens["refresh_token"],
                    rotated["access_token"], rotated["refresh_token"]]
    with db.transaction(oauth.t.id) as s:
        rows = [*s.scalars(select(OAuthClient)), *s.scalars(select(OAuthClientSecret)),
                *s.scalars(select(OAuthCode)), *s.scalars(select(OAuthToken)), *s.scalars(select(AuditEntry))]
        audit_dump = repr([e.changes for e in s.scalars(select(AuditEntry))])
        secret_hash = s.scalar(select(OAuthClientSecret.secret_hash))
        dump = repr([{c.key: getattr(r, c.key) for c in r.__table__.columns} for r in rows])
        stored = s.scalar(select(OAuthToken.access_token_hash).where(
            OAuthToken.access_token_hash == hashlib.sha256(tokens["access_token"].encode()).hexdigest()))
        secret_events = s.scalars(select(AuditEntry).where(AuditEntry.action == "oauth_client_secret_set")).all()
    assert stored  # found by its hash
    for value in secrets_seen:
        assert value not in dump
        secret_part = value.split("_", 2)[-1]
        assert secret_part not in dump
    # not even the hashes enter the append-only audit chain; events name ids only
    assert secret_hash == hashlib.sha256(conf["client_secret"].encode()).hexdigest()
    assert secret_hash not in audit_dump
    for value in secrets_seen:
        assert hashlib.sha256(value.encode()).hexdigest() not in audit_dump
    assert len(secret_events) == 1


def test_no_token_reaches_the_log(oauth):
    # issue 2 security bar: never log a token (Authlib itself logs issued tokens at DEBUG)
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record)

    root = logging.getLogger()
    handler, level = Keep(level=logging.DEBUG), root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        info = oauth.register()
        code, verifier = oauth.code(info)
        tokens = oauth.exchange(info, code, verifier).get_json()
        oauth.refresh(info, tokens["refresh_token"])
        oauth.refresh(info, tokens["refresh_token"])  # the replay warning is logged
        oauth.exchange(info, code, verifier)          # and so is the code replay
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    text = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in records)
    assert "replayed" in text  # the log did capture the flow
    for value in (code, tokens["access_token"], tokens["refresh_token"]):
        assert value not in text


# --- the consent page -------------------------------------------------------------------------

def test_consent_page_needs_a_signed_in_user_and_the_session_csrf_token(oauth):
    info = oauth.register(name="<script>alert(1)</script>")
    verifier, challenge = pkce()
    query = urlencode({"response_type": "code", "client_id": info["client_id"], "redirect_uri": REDIRECT,
                       "scope": READ_UNITS, "state": "s", "code_challenge": challenge, "code_challenge_method": "S256"})
    r = oauth.anon.get(f"/oauth/authorize?{query}")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login?next=/oauth/authorize")
    r = oauth.anon.post(f"/oauth/authorize?{query}", data={"decision": "approve"})
    assert r.status_code == 302 and r.headers["Location"].startswith("/login?next=/oauth/authorize")
    # a personal access token cannot approve on the user's behalf
    pat = oauth.admin.post("/api/tokens", json={"name": "脚本"}).get_json()["token"]
    r = Client(oauth.app, oauth.t.host, {"Authorization": f"Bearer {pat}"}).post(
        f"/oauth/authorize?{query}", data={"decision": "approve"})
    assert r.status_code == 302 and r.headers["Location"].startswith("/login?next=/oauth/authorize")

    user = oauth.user("county.admin")
    page = user.get(f"/oauth/authorize?{query}")
    assert page.status_code == 200 and "同意授权" in page.get_data(as_text=True)
    assert "<script>alert" not in page.get_data(as_text=True)  # the client's name is escaped
    assert "&lt;script&gt;alert(1)" in page.get_data(as_text=True)
    no_csrf = Client(oauth.app, oauth.t.host)
    no_csrf.http = user.http  # same cookies, no CSRF header, no form token
    r = no_csrf.post(f"/oauth/authorize?{query}", data={"decision": "approve"})
    assert r.status_code == 403 and "Location" not in r.headers

    r = oauth.authorize(info, challenge=challenge, decision="deny")
    q = query_of(r.headers["Location"])
    assert r.status_code == 302 and q["error"] == "access_denied" and "code" not in q


def test_unknown_client_shows_an_error_page_and_redirects_nowhere(oauth):
    r = oauth.user("county.admin").get("/oauth/authorize?" + urlencode(
        {"response_type": "code", "client_id": "nope", "redirect_uri": REDIRECT, "code_challenge": pkce()[1],
         "code_challenge_method": "S256"}))
    assert r.status_code == 400 and "Location" not in r.headers
    assert "未找到该接入应用" in r.get_data(as_text=True)


# --- /api/oauth-clients -------------------------------------------------------------------------

def test_client_registration_api(oauth, db, login, other):
    info = oauth.register(confidential=True, name="县视频平台")
    secret = info["client_secret"]
    assert len(secret) >= 40 and info["client_id"]
    r = oauth.admin.get(f"/api/oauth-clients/{info['id']}")
    assert r.status_code == 200 and "client_secret" not in r.get_json()  # shown once only
    assert info["id"] in {c["id"] for c in oauth.admin.all_items("/api/oauth-clients")}
    r = oauth.admin.patch(f"/api/oauth-clients/{info['id']}", json={"name": "县视频平台（新）"})
    assert r.status_code == 200 and r.get_json()["name"] == "县视频平台（新）"

    bad_bodies = [
        {"scopes": ["core.no.such"]},
        {"scopes": []},
        {"grant_types": ["password"]},
        {"grant_types": ["client_credentials"], "confidential": False},
        {"grant_types": ["client_credentials"], "confidential": True},           # no service user
        {"grant_types": ["refresh_token"]},                                       # refresh without code
        {"redirect_uris": []},                                                   # code flow, no redirect
        {"service_user_id": 1},                                                  # service user without client credentials
        {"unknown_field": 1},
        {"name": ""},
    ]
    base = {"name": "x", "confidential": False, "redirect_uris": [REDIRECT], "scopes": [READ_UNITS],
            "grant_types": ["authorization_code"]}
    for change in bad_bodies:
        r = oauth.admin.post("/api/oauth-clients", json={**base, **change})
        assert r.status_code == 422, (change, r.get_json())
    r = oauth.admin.post("/api/oauth-clients", json={**base, "confidential": True, "grant_types": ["client_credentials"],
                                                     "redirect_uris": [], "service_user_id": 999999999})
    assert r.status_code == 422 and r.get_json()["code"] == "unknown_user"
    assert oauth.admin.patch("/api/oauth-clients/abc", json={"name": "x"}).status_code == 404
    assert oauth.admin.patch(f"/api/oauth-clients/{info['id']}", json={"grant_types": ["refresh_token"]}).status_code == 422

    # another county's admin gets the same 404 as for an id that exists nowhere (issue 2 security bar)
    stranger = login(other, "county.admin")
    for method, path, body in (("GET", "", None), ("PATCH", "", {"name": "越权改名"}), ("DELETE", "", None),
                               ("POST", "/secret", None)):
        mine = stranger.request(method, f"/api/oauth-clients/{info['id']}{path}", json=body)
        missing = stranger.request(method, f"/api/oauth-clients/8999999999999{path}", json=body)
        assert mine.status_code == 404 and mine.get_json() == missing.get_json(), (method, path)
    assert info["id"] not in {c["id"] for c in stranger.all_items("/api/oauth-clients")}

    # permission: core.oauth_client.manage
    cadre = login(oauth.t, "village.cadre")
    assert cadre.get("/api/oauth-clients").status_code == 403
    assert cadre.post("/api/oauth-clients", json=base).status_code == 403

    # a new secret replaces the old one
    tokens = oauth.tokens(info, secret=secret)
    r = oauth.admin.post(f"/api/oauth-clients/{info['id']}/secret")
    assert r.status_code == 200
    new_secret = r.get_json()["client_secret"]
    assert oauth.refresh(info, tokens["refresh_token"], secret).status_code == 401
    assert oauth.refresh(info, tokens["refresh_token"], new_secret).status_code == 200
    public = oauth.register()
    assert oauth.admin.post(f"/api/oauth-clients/{public['id']}/secret").status_code == 409

    # disabling revokes everything the client holds
    live_tokens = oauth.tokens(public)
    assert oauth.admin.delete(f"/api/oauth-clients/{public['id']}").status_code == 204
    assert oauth.api(live_tokens["access_token"]).status_code == 401
    assert oauth.admin.get(f"/api/oauth-clients/{public['id']}").status_code == 404
    r = oauth.refresh(public, live_tokens["refresh_token"])
    assert r.status_code in (400, 401) and r.get_json()["error"] == "invalid_client"
    with db.transaction(oauth.t.id) as s:
        actions = set(s.scalars(select(AuditEntry.action).where(AuditEntry.object_type == "oauth_client")))
    assert {"create", "update", "oauth_authorize", "oauth_token_revoke"} <= actions


def test_service_user_must_be_within_the_admins_reach(oauth, login):
    # issue 2 security bar: an admin cannot bind an integration to an account it could not manage
    users = {u["username"]: u["id"] for u in oauth.admin.all_items("/api/users")}
    role = oauth.admin.post("/api/roles", json={"key": "oauth_admin", "name": "接入应用管理员",
                                               "permissions": ["core.oauth_client.manage"]}).get_json()
    r = oauth.admin.post("/api/role-assignments", json={"user_id": users["donghu.admin"], "role_id": role["id"],
                                                       "org_unit_id": oauth.t.unit("T01")})
    assert r.status_code == 201, r.get_json()
    township = login(oauth.t, "donghu.admin")  # manages users in 东湖镇 only
    body = {"name": "x", "confidential": True, "redirect_uris": [], "scopes": [READ_UNITS],
            "grant_types": ["client_credentials"]}
    r = township.post("/api/oauth-clients", json={**body, "service_user_id": users["county.admin"]})
    assert r.status_code == 422 and r.get_json()["code"] == "unknown_user"
    r = township.post("/api/oauth-clients", json={**body, "service_user_id": users["village.cadre"]})
    assert r.status_code == 201


def test_disabled_service_user_gets_no_token(oauth, db):
    cadre = next(u for u in oauth.admin.get("/api/users?q=village.cadre2").get_json()["items"]
                 if u["username"] == "village.cadre2")
    info = oauth.register(confidential=True, redirect_uris=[], scopes=[READ_UNITS],
                          grant_types=["client_credentials"], service_user_id=cadre["id"])
    data = {"grant_type": "client_credentials"}
    r = oauth.token_post(info, data, info["client_secret"])
    assert r.status_code == 200
    token = r.get_json()["access_token"]
    with db.transaction(oauth.t.id) as s:
        s.execute(update(User).where(User.id == cadre["id"]).values(status="disabled"))
    assert oauth.api(token).status_code == 401
    r = oauth.token_post(info, data, info["client_secret"])
    assert r.status_code == 400 and r.get_json()["error"] == "unauthorized_client"


# --- bad input is 4xx, never 500 ------------------------------------------------------------------

def test_bad_input_to_the_oauth_endpoints_is_never_a_500(oauth):
    info = oauth.register()
    c = oauth.anon
    long = "x" * 20000
    cases = [
        ("POST", "/oauth/token", {}, {}),
        ("POST", "/oauth/token", {"grant_type": "password", "username": "a", "password": "b"}, {}),
        ("POST", "/oauth/token", {"grant_type": "authorization_code"}, {}),
        ("POST", "/oauth/token", {"grant_type": "authorization_code", "client_id": info["client_id"]}, {}),
        ("POST", "/oauth/token", {"grant_type": "authorization_code", "client_id": info["client_id"],
                                  "code": long, "code_verifier": long, "redirect_uri": long}, {}),
        ("POST", "/oauth/token", {"grant_type": "refresh_token", "client_id": info["client_id"],
                                  "refresh_token": "ort_abc"}, {}),
        ("POST", "/oauth/token", {"grant_type": "refresh_token", "client_id": info["client_id"],
                                  "refresh_token": "ort_1_" + long, "scope": long}, {}),
        ("POST", "/oauth/token", {"grant_type": "client_credentials"}, {"Authorization": "Basic !!!"}),
        ("POST", "/oauth/token", {"grant_type": "client_credentials"}, {"Authorization": "Basic " + base64.b64encode(b"nocolon").decode()}),
        ("POST", "/oauth/token", {"grant_type": "client_credentials"}, {"Authorization": "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode()}),
        ("POST", "/oauth/token", {"grant_type": "client_credentials", "client_id": long, "client_secret": long}, {}),
        ("POST", "/oauth/revoke", {}, {}),
        ("POST", "/oauth/revoke", {"token": "x", "client_id": info["client_id"], "token_type_hint": "bogus"}, {}),
        ("POST", "/oauth/introspect", {"token": "x"}, {}),
        ("GET", "/oauth/token", {}, {}),
        ("GET", "/oauth/authorize", {}, {}),
        ("GET", "/oauth/authorize?response_type=token&client_id=" + info["client_id"], {}, {}),
        ("GET", "/oauth/authorize?response_type=code&client_id=" + info["client_id"], {}, {}),
        ("GET", "/oauth/authorize?response_type=code&client_id=a&client_id=b", {}, {}),
        ("GET", f"/oauth/authorize?response_type=code&client_id={info['client_id']}&redirect_uri={REDIRECT}"
                f"&code_challenge=short&code_challenge_method=S256", {}, {}),
        ("GET", f"/oauth/authorize?response_type=code&client_id={info['client_id']}&redirect_uri={REDIRECT}"
                f"&scope=%00%ff&code_challenge={pkce()[1]}&code_challenge_method=S256", {}, {}),
    ]
    user = oauth.user("county.admin")
    for method, path, data, headers in cases:
        for client in (c, user):
            r = client.request(method, path, data=data or None, headers=headers)
            assert r.status_code < 500, (method, path, data, r.status_code, r.get_data(as_text=True)[:300])
            if path.startswith(("/oauth/token", "/oauth/revoke", "/oauth/introspect")) and method == "POST" \
                    and client is c:
                assert "error" in r.get_json(), (path, data)
