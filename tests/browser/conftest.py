"""Real-browser tests: the real app served on a free port, driven by Playwright in Debian's Chromium.

- The browser is ``/usr/bin/chromium`` (or ``PINGAN_CHROMIUM``), never one Playwright downloads.
  Without it (or without the ``playwright`` package) these tests skip and say why; with
  ``PINGAN_REQUIRE_BROWSER=1`` (set by ``.ci/run``) they fail instead.
- The server is the suite's ``app`` (SQLite, or PostgreSQL + Redis when their URLs are set),
  served by werkzeug in a thread. A county is reached by its own host name,
  ``<slug>.localhost:<port>``: Chromium resolves every ``*.localhost`` to 127.0.0.1, and the
  app picks the tenant from the host (``tenant_domain``), as in production.
- Screenshots go to ``test-artifacts/screenshots/`` (git-ignored), or ``PINGAN_SCREENSHOT_DIR``.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest

from tests.browser.browsing import (CHROMIUM, CHROMIUM_ARGS, DESKTOP, REQUIRE_BROWSER, TIMEOUT_MS, LiveServer,
                                    county_with, missing, sign_in)
from tests.conftest import DEMO_PASSWORD, TenantInfo


@pytest.fixture(scope="session")
def browser():
    reason = missing()
    if reason:
        if REQUIRE_BROWSER:
            pytest.fail(f"PINGAN_REQUIRE_BROWSER=1 but {reason}", pytrace=False)
        pytest.skip(reason)
    from playwright.sync_api import expect, sync_playwright
    expect.set_options(timeout=TIMEOUT_MS)  # assertions wait as long as actions (a loaded CI machine)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def live_server(app) -> Iterator[LiveServer]:
    """The suite's app on 127.0.0.1 and a free port, one thread per request."""
    from werkzeug.serving import make_server
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="pingan-live-server", daemon=True)
    thread.start()
    yield LiveServer(server.server_port)
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def web_county(app) -> TenantInfo:
    """The browser tests' county: the example module (case type ``visits.visit``), petitions and mediation on."""
    return county_with(app, "visits", "petition", "mediation")


@pytest.fixture
def open_page(browser, live_server) -> Iterator[Callable]:
    """``open_page(tenant, username=None, viewport=DESKTOP)`` → a page in a fresh browser
    context (its own cookies), signed in through the log-in form when ``username`` is given."""
    contexts = []

    def _open(tenant: TenantInfo, username: str | None = None, viewport: dict = DESKTOP,
              password: str = DEMO_PASSWORD):
        context = browser.new_context(base_url=live_server.url(tenant, ""), viewport=viewport, locale="zh-CN",
                                      accept_downloads=True)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        if username:
            sign_in(page, username, password)
        return page

    yield _open
    for c in contexts:
        c.close()
