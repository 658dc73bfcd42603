"""Test clients of one county: signed in through the log-in form (cookie + CSRF header) or by
a personal access token."""
from __future__ import annotations

import re

from core.testing.counties import DEMO_PASSWORD, TenantInfo


class Client:
    """A test client bound to one county's host name, signed in by cookie or by token."""

    def __init__(self, app, host: str, headers: dict | None = None) -> None:
        self.app, self.host = app, host
        self.http = app.test_client()
        self.headers = dict(headers or {})

    def request(self, method: str, path: str, **kw):
        headers = {**self.headers, **kw.pop("headers", {})}
        return self.http.open(path, method=method, base_url=f"http://{self.host}", headers=headers, **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def patch(self, path, **kw):
        return self.request("PATCH", path, **kw)

    def put(self, path, **kw):
        return self.request("PUT", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def all_items(self, path: str) -> list[dict]:
        """Follow next_cursor through every page."""
        out, cursor = [], None
        while True:
            sep = "&" if "?" in path else "?"
            url = f"{path}{sep}limit=200" + (f"&cursor={cursor}" if cursor else "")
            r = self.get(url)
            assert r.status_code == 200, r.get_json()
            body = r.get_json()
            out.extend(body["items"])
            cursor = body["next_cursor"]
            if not cursor:
                return out


def web_login(app, tenant: TenantInfo | str, username: str, password: str = DEMO_PASSWORD,
              ip: str = "10.0.0.1") -> tuple[Client, object]:
    """Post the log-in form; the client and the form's answer (302 when it worked)."""
    host = tenant if isinstance(tenant, str) else tenant.host
    c = Client(app, host)
    page = c.get("/login", environ_base={"REMOTE_ADDR": ip})
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    r = c.post("/login", data={"csrf_token": token, "username": username, "password": password},
               environ_base={"REMOTE_ADDR": ip})
    return c, r


def signed_in(app, tenant: TenantInfo, username: str, password: str = DEMO_PASSWORD) -> Client:
    """A client signed in by cookie, its CSRF header set (what the ``login`` fixture gives)."""
    c, r = web_login(app, tenant, username, password)
    assert r.status_code == 302, r.get_data(as_text=True)
    c.headers["X-CSRF-Token"] = c.get("/api/me").get_json()["csrf_token"]
    return c


def make_token(app, tenant: TenantInfo, username: str, scope: str = "") -> str:
    """A new personal access token of ``username`` (``scope``: space-separated permissions, or all)."""
    from sqlalchemy import select

    from core import auth
    from core.app import pingan
    from core.context import Actor, acting_as
    from core.models import User
    state = pingan(app)
    with acting_as(Actor(None, "test")), state.db.transaction(tenant.id) as s:
        user = s.scalar(select(User).where(User.username == username))
        assert user is not None, f"no user {username!r} in county {tenant.slug}"
        _, token = auth.create_access_token(s, user, "test", scope)
    return token


def bearer_client(app, tenant: TenantInfo, username: str, scope: str = "") -> Client:
    """A client using a new personal access token of ``username``."""
    return Client(app, tenant.host, {"Authorization": f"Bearer {make_token(app, tenant, username, scope)}"})
