"""Two people chat in Chromium: broadcast, private and group messages, the MessagePack toggle.

Debian's Chromium (``/usr/bin/chromium``) is driven by Playwright; no browser is downloaded. Each
user has a browser context of their own (their own session cookie). Screenshots of both pages are
written to the test's temporary folder.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 15_000


def _sign_in(page: Page, url: str, name: str) -> None:
    page.goto(url)
    page.fill("#username", name)
    page.click("#login")
    expect(page.locator("#signed-in")).to_have_text(name)
    expect(page.locator("#status")).to_have_text("connected")
    expect(page.locator("#me")).to_contain_text(name)


@pytest.mark.timeout(90)
def test_two_users_chat_in_the_browser(chat_server, tmp_path: Path) -> None:
    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            alice = browser.new_context().new_page()
            bob = browser.new_context().new_page()
            for page in (alice, bob):
                page.set_default_timeout(TIMEOUT_MS)
            _sign_in(alice, chat_server.url, "alice")
            _sign_in(bob, chat_server.url, "bob")
            expect(alice.locator("#protocol")).to_have_text("json")

            alice.fill("#message", "hello everyone")
            alice.click("#broadcast")
            for page in (alice, bob):
                expect(page.locator("#messages li.broadcast")).to_have_text(["alice: hello everyone"])

            bob.fill("#to-user", "alice")
            bob.fill("#message", "just for you")
            bob.click("#send-private")
            expect(alice.locator("#messages li.private")).to_have_text(["bob (private): just for you"])
            expect(bob.locator("#messages li.sent")).to_have_text(["to alice (private): just for you"])
            expect(bob.locator("#messages li.private")).to_have_count(0)

            alice.fill("#group", "devs")
            alice.click("#join")
            expect(alice.locator("#joined")).to_have_text("devs")
            bob.fill("#group", "devs")
            bob.fill("#message", "standup in 5")
            bob.click("#send-group")
            expect(alice.locator("#messages li.group")).to_have_text(["[devs] bob: standup in 5"])
            expect(bob.locator("#messages li.group")).to_have_count(0)

            bob.check("#msgpack")
            expect(bob.locator("#protocol")).to_have_text("messagepack")
            expect(bob.locator("#status")).to_have_text("connected")
            bob.fill("#message", "now in MessagePack")
            bob.click("#broadcast")
            for page in (alice, bob):
                expect(page.locator("#messages li.broadcast").last).to_have_text("bob: now in MessagePack")
            expect(alice.locator("#messages li.error")).to_have_count(0)
            expect(bob.locator("#messages li.error")).to_have_count(0)

            alice.screenshot(path=str(tmp_path / "alice.png"), full_page=True)
            bob.screenshot(path=str(tmp_path / "bob.png"), full_page=True)
        finally:
            browser.close()
    for name in ("alice.png", "bob.png"):
        assert (tmp_path / name).read_bytes().startswith(b"\x89PNG")
