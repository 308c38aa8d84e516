"""The Node.js driver of the official JavaScript client: starts, parses commands, reports failures.

Its happy paths run in the end-to-end suites against the emulator and the app server; here it meets
only situations that need no SignalR server.
"""

from __future__ import annotations

import socket
from collections.abc import Callable

import pytest

from tests.fixtures.node_client import NodeClient, NodeClientError


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.timeout(60)
def test_negotiate_to_a_closed_port_is_an_error_event(node_client: Callable[..., NodeClient]) -> None:
    client = node_client(f"http://127.0.0.1:{closed_port()}/chat", protocol="messagepack")
    with pytest.raises(NodeClientError) as caught:
        client.start(timeout=30)
    assert str(caught.value).startswith("Failed to complete negotiation with the server")
    assert client.connection_id is None


@pytest.mark.timeout(60)
def test_bad_commands_are_reported_not_fatal(node_client: Callable[..., NodeClient]) -> None:
    client = node_client(f"http://127.0.0.1:{closed_port()}/chat", transport="carrierPigeon")
    with pytest.raises(NodeClientError, match="^no connection: send a connect command first$"):
        client.invoke("Echo", "x")
    with pytest.raises(NodeClientError, match="^unknown transport carrierPigeon$"):
        client.start()
    client.on("receive", result={"bytes": b"\x00\xff"})
    assert client.messages("receive") == []
    with pytest.raises(NodeClientError, match="^no connection"):
        client.stream("Counter", 3)
    assert any(event["event"] == "ready" for event in client.events())


@pytest.mark.timeout(60)
def test_close_ends_the_node_process(node_client: Callable[..., NodeClient]) -> None:
    client = node_client(f"http://127.0.0.1:{closed_port()}/chat")
    client.close()
    assert client._process.poll() == 0
    with pytest.raises(RuntimeError, match="driver"):
        client.invoke("Echo")
