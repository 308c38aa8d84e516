"""Fixtures of the Flask-extension tests: an isolated environment and a one-line app factory."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask

from flask_azure_signalr.extension import FlaskAzureSignalR

#: The connection string of the worked example (auth-negotiate-options §2.7).
EXAMPLE_KEY = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH"
EXAMPLE_CONNECTION_STRING = (
    f"Endpoint=https://contoso.service.signalr.net;AccessKey={EXAMPLE_KEY};Version=1.0;"
)
LOCAL_CONNECTION_STRING = "Endpoint=http://localhost;AccessKey=secret-key;Port=8080;Version=1.0"


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """No AZURE_SIGNALR_* / Azure:SignalR variables and no .env leak in from the machine."""
    for name in list(os.environ):
        lowered = name.lower()
        if lowered.startswith(
            ("azure_signalr_", "azure__signalr", "azure:signalr", "connectionstrings")
        ):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


class Status:
    """A status provider as the runtime registers it: a set of connected hub names."""

    def __init__(self, *connected: str) -> None:
        self.connected = set(connected)

    def is_connected(self, hub_name: str) -> bool:
        return hub_name in self.connected


@pytest.fixture
def make_app() -> Callable[..., tuple[Flask, FlaskAzureSignalR]]:
    """``make_app(hubs={"ChatHub": "/chat"}, connected=True, **options)`` -> (app, extension)."""

    def factory(
        hubs: dict[str, Any] | None = None, connected: bool = True, **options: Any
    ) -> tuple[Flask, FlaskAzureSignalR]:
        app = Flask(__name__)
        signalr = FlaskAzureSignalR()
        for name, spec in (hubs if hubs is not None else {"ChatHub": "/chat"}).items():
            path, authorize = spec if isinstance(spec, tuple) else (spec, None)
            signalr.register_hub(type(name, (), {}), name, path=path, authorize=authorize)
        options.setdefault("connection_string", LOCAL_CONNECTION_STRING)
        options.setdefault("auto_start", False)
        signalr.init_app(app, **options)
        if connected:
            state = signalr.get_state(app)
            names = [r.name for r in signalr.hubs.values()] + [state.options.application_name or ""]
            signalr.set_status_provider(app, Status(*names))
        return app, signalr

    return factory


@pytest.fixture
def frozen_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """Token times fixed at the worked example's 1700000000."""
    monkeypatch.setattr("flask_azure_signalr.tokens._now", lambda: 1700000000.0)
    yield 1700000000
