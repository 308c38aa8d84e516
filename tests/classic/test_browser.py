"""The real jQuery ``signalr`` 2.4.3 client in headless Chromium, on the sample's ``/classic`` page.

Each transport in turn: two users on the page broadcast, echo, use a group, get a hub error, and
reconnect after the emulator drops their transports. Debian's Chromium drives the pages through
Playwright (no browser download), as in tests/sample_app/test_browser.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from flask_azure_signalr.emulator import Emulator
from tests.sample_app.conftest import SampleServer
from tests.sample_app.test_browser import CHROMIUM, CHROMIUM_ARGS

TIMEOUT_MS = 15_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


def _open(browser: Browser, url: str, name: str) -> Page:
    page = browser.new_context().new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(url)
    expect(page.locator("#status")).to_have_text("connected")
    page.fill("#name", name)
    return page


def _say(page: Page, button: str, message: str) -> None:
    page.fill("#message", message)
    page.click(button)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("transport", ["webSockets", "serverSentEvents", "longPolling"])
def test_classic_page_over_each_transport(
    browser: Browser, classic_server: SampleServer, classic_service: Emulator, transport: str
) -> None:
    expect.set_options(timeout=TIMEOUT_MS)
    url = f"{classic_server.url}/classic?transport={transport}"
    alice, bob = _open(browser, url, "alice"), _open(browser, url, "bob")
    try:
        for page in (alice, bob):
            expect(page.locator("#transport")).to_have_text(transport)

        _say(alice, "#broadcast", f"hello over {transport}")
        for page in (alice, bob):
            expect(page.locator("#messages li.broadcast")).to_have_text([f"alice: hello over {transport}"])

        _say(bob, "#echo", "only for bob")
        expect(bob.locator("#messages li.echo")).to_have_text(["echo: only for bob"])

        alice.fill("#group", "devs")
        alice.click("#join")
        expect(alice.locator("#joined")).to_have_text("devs")
        bob.fill("#group", "devs")
        _say(bob, "#send-group", "standup")
        expect(alice.locator("#messages li.group")).to_have_text(["[devs] bob: standup"])

        _say(alice, "#fail", "not allowed")
        expect(alice.locator("#messages li.error")).to_have_text(["not allowed"])

        assert classic_service.drop_classic_transports() >= 2
        for page in (alice, bob):
            expect(page.locator("#reconnects")).to_have_text("1")
            expect(page.locator("#status")).to_have_text("connected")
        _say(bob, "#broadcast", "after the drop")
        for page in (alice, bob):
            expect(page.locator("#messages li.broadcast").last).to_have_text("bob: after the drop")

        expect(bob.locator("#messages li.echo")).to_have_count(1)
        expect(alice.locator("#messages li.echo")).to_have_count(0)
        expect(bob.locator("#messages li.group")).to_have_count(0)
        expect(bob.locator("#messages li.error")).to_have_count(0)
    finally:
        alice.context.close()
        bob.context.close()
