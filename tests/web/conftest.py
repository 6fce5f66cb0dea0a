"""The browser for the dashboard's tests: Debian's Chromium, headless, driven by Playwright
(no browser download). Skipped only where no Chromium is installed and not under CI (`make
setup-test` installs it); under CI a missing browser fails.

A module may set ``EXPECTED_CONSOLE`` (a compiled pattern) to the browser's notes it provokes
on purpose (refused API calls); any other console error, script error or Content-Security-
Policy violation fails the test."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.web.support import chromium_path, launch

#: the browser's own report of the 401 the page gets before anyone logged in
EXPECTED_CONSOLE = re.compile(r"status of 401 \(Unauthorized\)")


def _required() -> bool:
    return os.environ.get("CI") == "true" or os.environ.get(
        "CITYHUB_TEST_REQUIRE_SERVICES", ""
    ) not in ("", "0")


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's Chromium (skip without one, except under CI)."""
    found = chromium_path()
    if found is None:
        if _required():
            pytest.fail(
                "the dashboard tests need Chromium: apt-get install chromium (make setup-test)"
            )
        pytest.skip("no Chromium installed (apt-get install chromium)")
    return found


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Any]:
    """One headless Chromium for the module."""
    if _required():
        import playwright.sync_api as sync_api
    else:
        sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = launch(playwright, chromium)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh browser profile and tab (a laptop-sized window); fails the test on a script
    error, a Content-Security-Policy violation or a console error the module does not expect."""
    expected = getattr(request.module, "EXPECTED_CONSOLE", EXPECTED_CONSOLE)
    context = browser.new_context(
        viewport={"width": 1600, "height": 900}, locale="ko-KR", timezone_id="Asia/Seoul"
    )
    context.set_default_timeout(10_000)
    tab = context.new_page()
    problems: list[str] = []
    tab.on("pageerror", lambda err: problems.append(f"page error: {err}"))
    tab.on(
        "console",
        lambda msg: (
            msg.type == "error" and not expected.search(msg.text) and problems.append(msg.text)
        ),
    )
    yield tab
    context.close()
    assert not problems, problems


def expect(locator: Any) -> Any:
    """Playwright's ``expect`` (imported late: Playwright is a test dependency)."""
    from playwright.sync_api import expect as _expect

    return _expect(locator)
