"""Fixtures of the classic end-to-end tests: one emulator in this process (so tests can make it drop
classic transports) and the sample app served by ``flask run`` against it.

Both live for the module; the sample server is started with the emulator's connection string and
is ready once its classic negotiate answers 200 (the application pool is connected).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from flask_azure_signalr.emulator import Emulator
from tests.sample_app.conftest import SampleServer

#: The negotiate query a classic page with the ``ChatHub`` proxy sends (aspnet-classic §1.3).
CLASSIC_NEGOTIATE = "/signalr/negotiate?clientProtocol=2.1&connectionData=%5B%7B%22name%22%3A%22chathub%22%7D%5D&_=1"


def wait_classic_ready(server: SampleServer, timeout: float = 30) -> None:
    session = server.session()
    deadline = time.monotonic() + timeout
    while True:
        status, body = session.request("GET", CLASSIC_NEGOTIATE)
        if status == 200:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"classic negotiate still answers {status} {body!r}")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def classic_service() -> Iterator[Emulator]:
    emulator = Emulator(port=0, access_key=secrets.token_urlsafe(32))
    emulator.start()
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture(scope="module")
def classic_server(classic_service: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SampleServer]:
    log: Path = tmp_path_factory.mktemp("classic_server") / "sample.log"
    server = SampleServer(log, {"AZURE_SIGNALR_CONNECTION_STRING": classic_service.connection_string})
    try:
        server.start()
        wait_classic_ready(server)
        yield server
    finally:
        server.stop()
