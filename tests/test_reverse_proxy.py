"""Behind a real TLS reverse proxy: per-client login limits and OAuth (issue 14, finding 2).

The test starts Debian's nginx on 127.0.0.1 (a free port, a temporary config and a
self-signed certificate, no systemd) in front of the app served by waitress exactly as
``pingan serve`` serves it (``core.cli.web_server``). Clients connect to nginx from their own
loopback addresses (127.0.0.10, 127.0.0.11); nginx connects to the app from 127.0.0.3, the
one address in ``PINGAN_TRUSTED_PROXIES``. A client reaching the app past nginx comes from
127.0.0.1. Without nginx the test is skipped, unless ``PINGAN_REQUIRE_PROXY=1`` (CI).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
import os
import re
import shutil
import socket
import subprocess
import threading
import time

import pytest
import requests
from requests.adapters import HTTPAdapter
from sqlalchemy import select

from core.app import create_app
from core.auth import LoginAttempt
from core.cli import web_server
from core.config import ConfigError, Config, proxy_networks
from tests.conftest import DEMO_PASSWORD

PROXY_ADDR, CLIENT_A, CLIENT_B, DIRECT = "127.0.0.3", "127.0.0.10", "127.0.0.11", "127.0.0.1"
NGINX = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None)
IP_LIMIT = 3


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(port: int, what: str) -> None:
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"{what} did not come up on port {port}")


def _self_signed(folder) -> tuple[str, str]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)


# nginx in the foreground as this user, every file under the test's folder; the http block
# continues in each test's configuration (here and tests/test_graceful_restart.py)
NGINX_HEAD = """
daemon off;
master_process off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 256; }}
http {{
  access_log off;
  client_body_temp_path {tmp}/body;
  proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fastcgi;
  uwsgi_temp_path {tmp}/uwsgi;
  scgi_temp_path {tmp}/scgi;
"""

NGINX_CONF = NGINX_HEAD + """  server {{
    listen 127.0.0.1:{port} ssl;
    ssl_certificate {cert};
    ssl_certificate_key {key};
    location / {{
      proxy_pass http://127.0.0.1:{app_port};
      proxy_bind {proxy_addr};
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
    }}
  }}
}}
"""


@pytest.fixture(scope="module")
def behind_proxy(config, app, tmp_path_factory):
    """(https URL of nginx, http URL of the app itself, CA file, the app behind the proxy)."""
    if NGINX is None:
        if os.environ.get("PINGAN_REQUIRE_PROXY") == "1":
            pytest.fail("nginx is not installed (apt-get install nginx-light) and PINGAN_REQUIRE_PROXY=1")
        pytest.skip("nginx is not installed (apt-get install nginx-light); PINGAN_REQUIRE_PROXY=1 makes this a failure")
    # the session's app (migrations done) and a second one over the same database, configured
    # as production is: the proxy's address trusted, a small per-address login limit
    proxied = create_app(dataclasses.replace(config, trusted_proxies=proxy_networks(PROXY_ADDR),
                                             login_ip_limit=IP_LIMIT))
    server = web_server(proxied, "127.0.0.1", 0, 4)
    app_port = server.effective_port
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    tmp = tmp_path_factory.mktemp("nginx")
    cert, key = _self_signed(tmp)
    port = _free_port()
    conf = tmp / "nginx.conf"
    conf.write_text(NGINX_CONF.format(tmp=tmp, port=port, cert=cert, key=key, app_port=app_port,
                                      proxy_addr=PROXY_ADDR))
    proc = subprocess.Popen([NGINX, "-c", str(conf), "-p", str(tmp)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        _wait_for(port, "nginx")
        _wait_for(app_port, "waitress")
        yield f"https://127.0.0.1:{port}", f"http://127.0.0.1:{app_port}", cert, proxied
    finally:
        proc.terminate()
        proc.wait(10)
        server.close()


class _From(HTTPAdapter):
    """Connect from a given loopback address (each test client is its own machine)."""

    def __init__(self, source: str) -> None:
        self.source = source
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.source, 0)
        super().init_poolmanager(*args, **kwargs)


def client(source: str, host: str, cafile: str) -> requests.Session:
    s = requests.Session()
    s.trust_env = False  # no proxy or CA bundle from the environment: this CA, straight to nginx
    s.mount("https://", _From(source))
    s.mount("http://", _From(source))
    s.headers["Host"] = host
    s.verify = cafile
    return s


def login_form(s: requests.Session, base: str, username: str, password: str, **headers) -> requests.Response:
    page = s.get(f"{base}/login", headers=headers)
    assert page.status_code == 200, page.text[:300]
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    return s.post(f"{base}/login", data={"csrf_token": csrf, "username": username, "password": password},
                  headers=headers, allow_redirects=False)


def test_trusted_proxies_lists_addresses_and_refuses_a_count(monkeypatch):
    # issue 14 finding 2: the old meaning (a count, honoured from anyone) is refused with a hint
    monkeypatch.setenv("PINGAN_TRUSTED_PROXIES", "10.0.0.5, 10.1.0.0/24")
    assert [str(n) for n in Config.from_env(env="test").trusted_proxies] == ["10.0.0.5/32", "10.1.0.0/24"]
    monkeypatch.setenv("PINGAN_TRUSTED_PROXIES", "1")
    with pytest.raises(ConfigError, match="addresses now"):
        Config.from_env(env="test")


def test_login_limits_are_per_client_behind_the_proxy(behind_proxy, fresh_tenant, db):
    # issue 14 finding 2: one client's failed logins lock out that client, not everyone behind the proxy
    proxy, direct, ca, _ = behind_proxy
    a = client(CLIENT_A, fresh_tenant.host, ca)
    for _ in range(IP_LIMIT):
        assert login_form(a, proxy, "nobody.here", "wrong-password-1").status_code == 401
    assert login_form(a, proxy, "nobody.here", "wrong-password-1").status_code == 429
    # a forged X-Forwarded-For does not give client A a fresh address: nginx appends the real one
    assert login_form(a, proxy, "nobody.here", "wrong", **{"X-Forwarded-For": "203.0.113.7"}).status_code == 429

    b = client(CLIENT_B, fresh_tenant.host, ca)
    assert login_form(b, proxy, "nobody.here", "wrong-password-1").status_code == 401
    r = login_form(b, proxy, "county.admin", DEMO_PASSWORD)
    assert r.status_code == 302, r.text[:300]
    assert b.get(f"{proxy}/api/me").json()["username"] == "county.admin"

    # past the proxy, forwarding headers are not believed: the peer itself is the client
    c = client(CLIENT_A, fresh_tenant.host, ca)
    c.mount("http://", _From(DIRECT))
    forged = {"X-Forwarded-For": CLIENT_B, "X-Forwarded-Proto": "https"}
    assert login_form(c, direct, "nobody.direct", "wrong", **forged).status_code == 401
    with db.transaction(fresh_tenant.id) as s:
        seen = {(u, ip) for u, ip in s.execute(select(LoginAttempt.username, LoginAttempt.ip))}
    assert {ip for u, ip in seen if u == "nobody.here"} == {CLIENT_A, CLIENT_B}
    assert ("county.admin", CLIENT_B) in seen
    assert {ip for u, ip in seen if u == "nobody.direct"} == {DIRECT}


def test_oauth_works_behind_the_tls_proxy_and_not_past_it(behind_proxy, fresh_tenant, login):
    # issue 14 finding 2: the proxy announces https (X-Forwarded-Proto); the app must believe it
    # from the proxy only — no insecure_transport through nginx, insecure_transport around it
    proxy, direct, ca, _ = behind_proxy
    admin = login(fresh_tenant, "county.admin")
    users = admin.get("/api/users?q=village.cadre").get_json()["items"]
    cadre = next(u for u in users if u["username"] == "village.cadre")
    r = admin.post("/api/oauth-clients", json={
        "name": "县网格化移动端", "confidential": True, "redirect_uris": [], "scopes": ["core.org_unit.read"],
        "grant_types": ["client_credentials"], "service_user_id": cadre["id"]})
    assert r.status_code == 201, r.get_json()
    info = r.get_json()
    auth = (info["client_id"], info["client_secret"])

    s = client(CLIENT_A, fresh_tenant.host, ca)
    r = s.post(f"{proxy}/oauth/token", data={"grant_type": "client_credentials"}, auth=auth)
    assert r.status_code == 200, r.text
    token = r.json()["access_token"]
    me = s.get(f"{proxy}/api/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["username"] == "village.cadre"

    around = client(DIRECT, fresh_tenant.host, ca)
    r = around.post(f"{direct}/oauth/token", data={"grant_type": "client_credentials"}, auth=auth,
                    headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": CLIENT_A})
    assert r.status_code == 400 and r.json()["error"] == "insecure_transport", r.text


def test_the_public_status_limit_is_per_client_behind_the_proxy(behind_proxy, fresh_tenant, login):
    # issue 14 finding 2: the petition status page's per-address limit was global behind the proxy
    proxy, _, ca, _ = behind_proxy
    r = login(fresh_tenant, "county.admin").put("/api/modules/petition", json={
        "enabled": True, "settings": {"status_rate_limit": 3}})
    assert r.status_code == 200, r.get_json()
    a, b = client(CLIENT_A, fresh_tenant.host, ca), client(CLIENT_B, fresh_tenant.host, ca)
    status = f"{proxy}/api/petition/public/status"
    assert [a.post(status, json={"code": "NOPE-NOPE-NOPE"}).status_code for _ in range(4)] == [404, 404, 404, 429]
    assert b.post(status, json={"code": "NOPE-NOPE-NOPE"}).status_code == 404
