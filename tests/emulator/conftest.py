"""Fixtures of the emulator tests: an in-process emulator with short timers, peers and clients.

Everything closes at teardown; the in-process emulator runs in its own thread (the test process
is not monkey-patched), which also covers the embedded, unpatched mode of :class:`Emulator`.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from flask_azure_signalr.emulator import Emulator, EmulatorOptions

from .hub_client import HubClient, client_token
from .service_peer import ServicePeer

FAST = EmulatorOptions(
    server_ping_interval=0.2,
    server_timeout=1.5,
    server_handshake_timeout=1.0,
    client_keepalive_interval=0.3,
    client_handshake_timeout=1.0,
    negotiate_timeout=2.0,
    poll_timeout=0.5,
    max_poll_interval=1.0,
    client_buffer_limit=256 * 1024,
    max_http_body=1024 * 1024,
)


@pytest.fixture
def fast_emulator() -> Iterator[Emulator]:
    """An in-process emulator on a free port with sub-second timers."""
    emulator = Emulator(port=0, access_key=secrets.token_urlsafe(24), options=FAST)
    emulator.start()
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture
def make_peer() -> Iterator[Callable[..., ServicePeer]]:
    """``make_peer(connection_string, hub, **options)``: a started test app server, stopped at teardown."""
    peers: list[ServicePeer] = []

    def make(connection_string: str, hub: str = "chat", **options: Any) -> ServicePeer:
        peer = ServicePeer(connection_string, hub, **options).start()
        peers.append(peer)
        return peer

    yield make
    for peer in peers:
        peer.stop()


@pytest.fixture
def make_client() -> Iterator[Callable[..., HubClient]]:
    """``make_client(emulator, hub, claims=None, protocol="json", connect=True)``: closed at teardown."""
    clients: list[HubClient] = []

    def make(emulator: Any, hub: str = "chat", claims: dict[str, Any] | None = None, *,
             protocol: str = "json", connect: bool = True, **connect_options: Any) -> HubClient:
        client = HubClient(emulator.endpoint, hub, client_token(emulator.connection_string, hub, claims), protocol=protocol)
        clients.append(client)
        return client.connect(**connect_options) if connect else client

    yield make
    for client in clients:
        client.close()
