"""Three client families on the sample's ``ChatHub`` at once: the jQuery page in Chromium, the Node.js
classic client ``node-signalr`` and the official ASP.NET Core client ``@microsoft/signalr``.

One hub definition serves them all: a broadcast from any of them reaches the two others.
``node-signalr`` does not follow the negotiate redirect, so the test negotiates with the app and
hands the client the service URL, the access token and the redirect query.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.sample_app.conftest import SampleServer
from tests.sample_app.test_browser import CHROMIUM, CHROMIUM_ARGS

from .conftest import CLASSIC_NEGOTIATE

JS_DIR = Path(__file__).resolve().parents[1] / "js"
TIMEOUT_MS = 15_000


class ClassicNodeClient:
    """``tests/js/classic_driver.mjs`` in a subprocess: events as JSON lines, calls over stdin."""

    def __init__(self, server: SampleServer, hub: str, *methods: str) -> None:
        node = shutil.which("node")
        assert node is not None, "the mixed-client test needs Node.js"
        status, body = server.session().request("GET", CLASSIC_NEGOTIATE)
        assert status == 200, body
        answer = json.loads(body)
        service, _, redirect_query = answer["RedirectUrl"].partition("?")
        self.events: list[dict[str, Any]] = []
        self._changed = threading.Condition()
        self._ids = 0
        self._process = subprocess.Popen(
            [node, str(JS_DIR / "classic_driver.mjs"), service, answer["AccessToken"], hub, redirect_query, *methods],
            cwd=JS_DIR, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, start_new_session=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            with self._changed:
                self.events.append(json.loads(line))
                self._changed.notify_all()

    def wait(self, predicate: Any, timeout: float = 15) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for event in self.events:
                    if predicate(event):
                        return event
                remaining = deadline - time.monotonic()
                assert remaining > 0, f"no matching event; got {self.events[-5:]}"
                assert self._reader.is_alive(), f"the node-signalr driver exited; got {self.events[-5:]}"
                self._changed.wait(min(remaining, 0.2))

    def call(self, method: str, *args: Any) -> Any:
        self._ids += 1
        command_id = self._ids
        assert self._process.stdin is not None
        self._process.stdin.write(json.dumps({"id": command_id, "call": method, "args": list(args)}) + "\n")
        self._process.stdin.flush()
        event = self.wait(lambda e: e.get("id") == command_id and e["event"] in ("result", "error"))
        assert event["event"] == "result", event
        return event["value"]

    def messages(self, method: str) -> list[list[Any]]:
        with self._changed:
            return [e["args"] for e in self.events if e["event"] == "message" and e["method"] == method]

    def close(self) -> None:
        if self._process.poll() is None:
            assert self._process.stdin is not None
            self._process.stdin.close()
            try:
                self._process.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait(5)
        self._reader.join(5)


@pytest.fixture
def node_classic(classic_server: SampleServer) -> Iterator[ClassicNodeClient]:
    client = ClassicNodeClient(classic_server, "ChatHub", "broadcastMessage", "echo")
    try:
        yield client
    finally:
        client.close()


@pytest.mark.timeout(60)
def test_jquery_node_classic_and_core_clients_share_chathub(
    classic_server: SampleServer, node_classic: ClassicNodeClient, node_client: Any
) -> None:
    connected = node_classic.wait(lambda e: e["event"] in ("connected", "error"))
    assert connected["event"] == "connected", connected
    core = node_client(f"{classic_server.url}/chathub")
    core.on("broadcastMessage")
    core.start()

    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_context().new_page()
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(f"{classic_server.url}/classic")
            expect(page.locator("#status")).to_have_text("connected")
            page.fill("#name", "jquery")
            page.fill("#message", "from the page")
            page.click("#broadcast")
            node_classic.wait(lambda e: e["event"] == "message" and e["args"] == ["jquery", "from the page"])
            assert core.wait_for_message("broadcastMessage") == [["jquery", "from the page"]]

            assert node_classic.call("BroadcastMessage", "node-signalr", "from node") is None
            expect(page.locator("#messages li.broadcast").last).to_have_text("node-signalr: from node")
            assert core.wait_for_message("broadcastMessage", 2)[1] == ["node-signalr", "from node"]

            core.invoke("BroadcastMessage", "dotnet", "from core")
            expect(page.locator("#messages li.broadcast").last).to_have_text("dotnet: from core")
            node_classic.wait(lambda e: e["event"] == "message" and e["args"] == ["dotnet", "from core"])

            assert node_classic.call("Echo", "only node") is None
            node_classic.wait(lambda e: e["event"] == "message" and e["method"] == "echo")
            assert node_classic.messages("echo") == [["only node"]]
            expect(page.locator("#messages li.echo")).to_have_count(0)
        finally:
            browser.close()
