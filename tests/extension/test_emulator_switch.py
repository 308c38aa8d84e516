"""The emulator switch of init_app: without a connection string, opting in (or debug/testing mode)
starts the local emulator, and negotiate sends clients to it with tokens it accepts."""

from __future__ import annotations

import json
import logging
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from flask_azure_signalr.emulator import DEFAULT_ACCESS_KEY
from flask_azure_signalr.extension import FlaskAzureSignalR

from .conftest import LOCAL_CONNECTION_STRING, Status

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def started() -> Iterator[list[Any]]:
    """Apps whose embedded emulator must be stopped after the test."""
    states: list[Any] = []
    yield states
    for state in states:
        if state.emulator is not None:
            state.emulator.stop()


def _init(app: Flask, started: list[Any], **options: Any) -> FlaskAzureSignalR:
    signalr = FlaskAzureSignalR()
    signalr.register_hub(type("ChatHub", (), {}), path="/chat")
    signalr.init_app(app, **options)
    started.append(signalr.get_state(app))
    return signalr


def test_opt_in_starts_the_emulator_and_its_tokens_are_accepted(started: list[Any]) -> None:
    app = Flask(__name__)
    signalr = _init(app, started, emulator=True)
    state = signalr.get_state(app)
    emulator = state.emulator
    assert emulator.running
    assert emulator.host == "127.0.0.1" and emulator.port != 0
    assert emulator.access_key != DEFAULT_ACCESS_KEY
    assert [e.endpoint for e in state.endpoints] == [f"http://127.0.0.1:{emulator.port}"]
    assert state.endpoints[0].access_key == emulator.access_key

    signalr.set_status_provider(app, Status("ChatHub"))
    body = app.test_client().post("/chat/negotiate?negotiateVersion=1").get_json()
    assert body["url"].startswith(f"http://127.0.0.1:{emulator.port}/client/?hub=chathub&")
    base, query = body["url"].split("?", 1)
    request = urllib.request.Request(
        f"{base}negotiate?{query}",
        method="POST",
        headers={"Authorization": f"Bearer {body['accessToken']}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        answer = json.loads(response.read())
    assert answer["negotiateVersion"] == 1 and answer["connectionId"]


def test_testing_mode_starts_the_emulator_with_a_warning(
    started: list[Any], caplog: pytest.LogCaptureFixture
) -> None:
    app = Flask(__name__)
    app.testing = True
    with caplog.at_level(logging.WARNING, logger="flask_azure_signalr.extension"):
        signalr = _init(app, started)
    assert signalr.get_state(app).emulator.running
    assert "AZURE_SIGNALR_CONNECTION_STRING is not set" in caplog.text
    assert "emulator" in caplog.text


def test_environment_switch(started: list[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_SIGNALR_EMULATOR", "true")
    app = Flask(__name__)
    assert _init(app, started).get_state(app).emulator.running


def test_a_connection_string_wins_over_the_switch(started: list[Any]) -> None:
    app = Flask(__name__)
    app.debug = True
    signalr = _init(app, started, emulator=True, connection_string=LOCAL_CONNECTION_STRING)
    assert signalr.get_state(app).emulator is None
    assert signalr.get_state(app).endpoints[0].endpoint == "http://localhost:8080"
