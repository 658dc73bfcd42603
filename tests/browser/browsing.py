"""Helpers for the browser tests (fixtures are in this folder's conftest.py)."""
from __future__ import annotations

import datetime as dt
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import DEMO_PASSWORD, ROOT, Client, TenantInfo, load_tenant, make_token

CHROMIUM = os.environ.get("PINGAN_CHROMIUM", "/usr/bin/chromium")
REQUIRE_BROWSER = os.environ.get("PINGAN_REQUIRE_BROWSER") == "1"
# What works in a sandbox with no network: no GPU, no sandbox (root), no calls home.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]
SCREENSHOT_DIR = Path(os.environ.get("PINGAN_SCREENSHOT_DIR", ROOT / "test-artifacts" / "screenshots"))
DESKTOP = {"width": 1366, "height": 768}
PHONE = {"width": 360, "height": 740}
TIMEOUT_MS = 15_000
BLOCKING = ("serious", "critical")  # axe-core impacts that fail a page


def missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[test]')"
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)) and not shutil.which(CHROMIUM):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium fonts-noto-cjk)"
    return None


@dataclass
class LiveServer:
    port: int

    def url(self, tenant: TenantInfo | str, path: str = "/") -> str:
        host = tenant if isinstance(tenant, str) else tenant.host
        return f"http://{host}:{self.port}{path}"


def api(app, tenant: TenantInfo, username: str) -> Client:
    """An API client for setting up what a test is not about (a token, no browser)."""
    return Client(app, tenant.host, {"Authorization": f"Bearer {make_token(app, tenant, username)}"})


def register_dispute(admin: Client, county: TenantInfo) -> int:
    """A boundary dispute in 罗塘村 between two new people (申请人 王大山, 被申请人 李小河); its id."""
    people = [admin.post("/api/persons", json={"name": name, "org_unit_id": county.unit("T01D1V1")}).get_json()["id"]
              for name in ("王大山", "李小河")]
    r = admin.post("/api/cases", json={"case_type": "mediation.dispute", "title": "宅基地边界纠纷",
                                       "org_unit_id": county.unit("T01D1V1"), "content": "两户因界桩缺失发生争执",
                                       "persons": [{"person_id": people[0], "role": "applicant"},
                                                   {"person_id": people[1], "role": "respondent"}],
                                       "details": {"dispute_type": "boundary"}})
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def county_with(app, *modules: str) -> TenantInfo:
    """A county of its own (the demo folder under a new slug) with ``modules`` switched on."""
    tenant = load_tenant(app)
    admin = api(app, tenant, "county.admin")
    for name in modules:
        r = admin.put(f"/api/modules/{name}", json={"enabled": True})
        assert r.status_code == 200, r.get_json()
    return tenant


def sign_in(page, username: str, password: str = DEMO_PASSWORD, home: str = "/") -> None:
    """Through the log-in form, as a person would; ends on ``home``."""
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", password)
    with page.expect_navigation():
        page.click("main button[type=submit]")
    path = re.sub(r"^https?://[^/]+", "", page.url)
    assert path == home, f"log-in as {username} ended on {page.url}: {page.inner_text('main')}"


def screenshot(page, name: str) -> Path:
    """A full-page PNG under SCREENSHOT_DIR (git-ignored), for reviewers to look at."""
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOT_DIR / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def path_of(page) -> str:
    return re.sub(r"^https?://[^/]+", "", page.url)


def blocking_violations(page) -> list[dict]:
    """axe-core's serious and critical findings on the page as it is now."""
    from axe_playwright_python.sync_playwright import Axe
    return [v for v in Axe().run(page).response["violations"] if v.get("impact") in BLOCKING]


def sideways_overflow(page) -> dict:
    """How wide the page is against the window, and the first elements that stick out."""
    return page.evaluate("""() => {
        const width = document.documentElement.clientWidth;
        const wide = [];
        for (const el of document.querySelectorAll('body *')) {
            const r = el.getBoundingClientRect();
            if (r.width && r.right > width + 1 && getComputedStyle(el).position !== 'absolute'
                && !el.closest('.scroll')) wide.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
                                                   + (el.className && typeof el.className === 'string' ? '.' + el.className.split(' ').join('.') : ''));
        }
        return {scroll: document.documentElement.scrollWidth, width, wide: wide.slice(0, 8)};
    }""")


def beijing_today() -> dt.date:
    """The server's today: its dates are Beijing's, whatever the machine's time zone."""
    return dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()
