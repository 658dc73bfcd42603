"""The 访问令牌 page: a user makes a token limited to some of their own permissions (ticked by
their Chinese names), sees it once, uses it, and revokes it; the same rules as /api/tokens."""
from __future__ import annotations

import re

import time_machine

from core.workdays import SHANGHAI
from tests.conftest import Client

import datetime as dt

NOW = dt.datetime(2026, 3, 2, 10, tzinfo=SHANGHAI)


def test_a_token_made_on_the_page_is_shown_once_works_and_is_revoked(app, county, client_as):
    with time_machine.travel(NOW, tick=False):
        admin = client_as("county.admin")
        page = admin.get("/tokens/").get_data(as_text=True)
        assert "生成新令牌" in page and "查看组织架构" in page and "core.org_unit.read" not in page.split("<fieldset")[0]
        bad = admin.post("/tokens/", data={"name": "", "expires_on": "2026-03-01", "scope": ["core.org_unit.read"]})
        assert bad.status_code == 422
        text = bad.get_data(as_text=True)
        assert 'id="name-error"' in text and "有效期须不早于今天" in text
        assert 'value="core.org_unit.read" checked' in text                  # what was ticked stays ticked
        r = admin.post("/tokens/", data={"name": "报表脚本", "expires_on": "2026-03-31", "scope": ["core.org_unit.read"]})
        assert r.status_code == 200
        token = re.search(r'<code id="new-token">([^<]+)</code>', r.get_data(as_text=True)).group(1)
        listed = admin.get("/tokens/").get_data(as_text=True)
        assert token not in listed and "报表脚本" in listed and "2026-03-31 23:59" in listed   # through the 31st
        script = Client(app, county.host, {"Authorization": f"Bearer {token}"})
        assert script.get("/api/org-units?limit=5").status_code == 200
        assert script.get("/api/cases?limit=5").status_code == 403                # only what was ticked
        row = admin.get("/api/tokens").get_json()["items"][0]
        assert row["name"] == "报表脚本" and row["scope"] == "core.org_unit.read"
        assert admin.post(f"/tokens/{row['id']}/revoke").status_code == 302
        assert script.get("/api/org-units?limit=5").status_code == 401
        assert "已撤销" in admin.get("/tokens/").get_data(as_text=True)
        other = client_as("donghu.admin")                                          # another user's token: not found
        assert other.get("/tokens/").status_code == 200
        assert other.post(f"/tokens/{row['id']}/revoke").status_code == 404
        far = admin.post("/tokens/", data={"name": "远期", "expires_on": "9999-12-31"})
        assert far.status_code == 422 and 'id="expires_on-error"' in far.get_data(as_text=True)
