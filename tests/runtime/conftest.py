"""Runtime test fixtures: shared app servers (each with its own emulator) and raw clients."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.fixtures.app_server import AppServerProcess
from tests.fixtures.emulator import EmulatorProcess

from .raw_client import RawClient


def _app_with_own_service(mode: str) -> Iterator[AppServerProcess]:
    # One emulator per app: the service spreads a hub's clients over every server of that hub.
    service = EmulatorProcess().start()
    try:
        process = AppServerProcess(service.connection_string, mode=mode).start()
        try:
            yield process
        finally:
            process.kill()
    finally:
        service.stop()


@pytest.fixture(scope="session")
def patched_app() -> Iterator[AppServerProcess]:
    """The gunicorn-gevent model: monkey-patched, runtime greenlets on the main hub."""
    yield from _app_with_own_service("patched")


@pytest.fixture(scope="session")
def thread_app() -> Iterator[AppServerProcess]:
    """The ``flask run`` model: unpatched Werkzeug threads, runtime on its own thread."""
    yield from _app_with_own_service("thread")


@pytest.fixture(params=["patched", "thread"])
def app(request: pytest.FixtureRequest) -> AppServerProcess:
    """Both execution models."""
    return request.getfixturevalue(f"{request.param}_app")


@pytest.fixture
def connect() -> Iterator[Callable[..., RawClient]]:
    """``connect(app_or_hub_url, protocol=..., query=...)`` → a connected RawClient, closed at teardown."""
    clients: list[RawClient] = []

    def open_client(target: Any, **kwargs: Any) -> RawClient:
        hub_url = target if isinstance(target, str) else target.hub_url
        handshake = kwargs.pop("handshake", True)
        client = RawClient(hub_url, **kwargs)
        clients.append(client)
        return client.connect(handshake=handshake)

    try:
        yield open_client
    finally:
        for client in clients:
            client.close()
