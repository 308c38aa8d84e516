"""Apps for the test-client tests: the sample app, and a small app with a login-only hub.

Each app runs in this process against its embedded emulator; teardown stops its SignalR runtime and
the emulator.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gevent
import pytest
from flask import Flask, request
from flask_login import LoginManager, UserMixin, login_user

from flask_azure_signalr.extension import FlaskAzureSignalR
from flask_azure_signalr.hub import Hub
from sample_app import create_app
from sample_app import signalr as sample_signalr

secure_signalr = FlaskAzureSignalR()


@secure_signalr.hub("secure", authorize=True)
class SecureHub(Hub):
    """Only signed-in users may connect."""

    def whoami(self) -> str | None:
        return self.context.user_identifier

    def kick(self) -> None:
        self.context.abort()

    def slow(self, value: Any, seconds: float) -> Any:
        gevent.sleep(seconds)
        return value


class _User(UserMixin):
    def __init__(self, name: str) -> None:
        self.id = name


def _secure_app() -> Flask:
    app = Flask(__name__)
    app.config.update(SECRET_KEY="test", TESTING=True, AZURE_SIGNALR_EMULATOR=True)
    login_manager = LoginManager(app)
    login_manager.user_loader(_User)

    @app.post("/login")
    def login() -> str:
        login_user(_User(request.form["username"]))
        return "ok"

    secure_signalr.init_app(app)
    return app


def _shutdown(extension: FlaskAzureSignalR, app: Flask) -> None:
    extension.shutdown(app)


@pytest.fixture(scope="module")
def sample() -> Iterator[Flask]:
    """The sample app, with its embedded emulator (shared by a module's tests)."""
    app = create_app({"TESTING": True, "AZURE_SIGNALR_EMULATOR": True})
    try:
        yield app
    finally:
        _shutdown(sample_signalr, app)


@pytest.fixture(scope="module")
def secure() -> Iterator[Flask]:
    app = _secure_app()
    try:
        yield app
    finally:
        _shutdown(secure_signalr, app)
