"""The official ``@microsoft/signalr`` client (Node.js) through the emulator, every transport and protocol."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from flask_azure_signalr.emulator.client_connections import NO_SERVER_ERROR
from flask_azure_signalr.emulator.router import SERVER_OFFLINE_ERROR
from flask_azure_signalr.protocol import service_messages as sm

from .hub_client import client_token

pytestmark = pytest.mark.timeout(60)

COMBINATIONS = [
    ("webSockets", "json"),
    ("serverSentEvents", "json"),
    ("longPolling", "json"),
    ("webSockets", "messagepack"),
    ("longPolling", "messagepack"),
]


def hub_url(emulator, hub: str = "chat") -> str:
    return f"{emulator.endpoint}/client/?hub={hub}"


@pytest.mark.parametrize(("transport", "protocol"), COMBINATIONS)
def test_node_client_round_trip(fast_emulator, make_peer, node_client, transport: str, protocol: str) -> None:
    peer = make_peer(fast_emulator.connection_string)
    token = client_token(fast_emulator.connection_string, "chat", {"asrs.s.uid": "ada"})
    client = node_client(hub_url(fast_emulator), transport=transport, protocol=protocol, access_token=token)
    client.on("Receive")
    connection_id = client.start()
    opened = peer.wait_for(sm.OpenConnection)
    assert opened.connection_id == connection_id
    assert opened.protocol == protocol
    assert client.invoke("Echo", "hi") == "hi"
    assert client.invoke("echo", [1, {"a": 2}]) == [1, {"a": 2}]
    assert client.invoke("Join", "g") == 1
    client.invoke("SendGroup", "g", "to the group")
    client.invoke("SendUser", "ada", "to the user")
    assert client.wait_for_message("Receive", 2) == [["to the group"], ["to the user"]]
    client.stop()
    assert client.wait_closed() is None
    assert peer.wait_for(sm.CloseConnection, lambda m: m.connection_id == connection_id)


def test_node_messagepack_binary_values(fast_emulator, make_peer, node_client) -> None:
    make_peer(fast_emulator.connection_string)
    token = client_token(fast_emulator.connection_string, "chat")
    client = node_client(hub_url(fast_emulator), protocol="messagepack", access_token=token)
    client.start()
    assert client.invoke("Echo", b"\x00\xff") == b"\x00\xff"


def test_node_clients_share_groups_across_transports(fast_emulator, make_peer, node_client) -> None:
    make_peer(fast_emulator.connection_string)
    make_peer(fast_emulator.connection_string)
    clients = []
    for transport, protocol in COMBINATIONS:
        token = client_token(fast_emulator.connection_string, "chat")
        client = node_client(hub_url(fast_emulator), transport=transport, protocol=protocol, access_token=token)
        client.on("Receive")
        client.start()
        assert client.invoke("Join", "room") == 1
        clients.append(client)
    servers = {client.invoke("WhoAmI") for client in clients}
    assert len(servers) == 2
    clients[0].invoke("SendGroup", "room", "hello")
    for client in clients:
        assert client.wait_for_message("Receive") == [["hello"]]


def test_node_client_result(fast_emulator, make_peer, node_client) -> None:
    make_peer(fast_emulator.connection_string)
    make_peer(fast_emulator.connection_string)
    token = client_token(fast_emulator.connection_string, "chat")
    answerer = node_client(hub_url(fast_emulator), transport="longPolling", access_token=token)
    answerer.on("GetValue", result=10)
    answerer_id = answerer.start()
    for _ in range(3):
        asker = node_client(hub_url(fast_emulator), access_token=token)
        asker.start()
        assert asker.invoke("Ask", answerer_id) == 10


def test_node_client_without_app_server(fast_emulator, node_client) -> None:
    from tests.fixtures.node_client import NodeClientError

    token = client_token(fast_emulator.connection_string, "chat")
    client = node_client(hub_url(fast_emulator), access_token=token)
    with pytest.raises(NodeClientError) as error:
        client.start()
    assert error.value.message == f"Server returned handshake error: {NO_SERVER_ERROR}"


def test_node_client_reconnects_when_its_server_goes(fast_emulator, make_peer, node_client) -> None:
    first = make_peer(fast_emulator.connection_string)
    token = client_token(fast_emulator.connection_string, "chat")
    client = node_client(hub_url(fast_emulator), access_token=token, automatic_reconnect=[0, 100, 100])
    client.start()
    assert client.invoke("WhoAmI") == first.server_id
    second = make_peer(fast_emulator.connection_string)
    first.drop()
    assert client.wait_reconnecting() == f"Server returned an error on close: {SERVER_OFFLINE_ERROR}"
    assert client.wait_reconnected()
    assert client.invoke("WhoAmI") == second.server_id


@pytest.fixture
def redirecting_negotiate(fast_emulator) -> Iterator[str]:
    """An app-server negotiate endpoint answering with the redirect form (hub-protocol §1.2)."""
    token = client_token(fast_emulator.connection_string, "chat")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.dumps({
                "url": f"{fast_emulator.endpoint}/client/?hub=chat&asrs.op=%2Fchat&negotiateVersion=1",
                "accessToken": token,
                "availableTransports": [],
            }).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/chat"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.mark.parametrize("transport", ["webSockets", "serverSentEvents", "longPolling"])
def test_node_client_through_a_negotiate_redirect(fast_emulator, make_peer, node_client, redirecting_negotiate,
                                                  transport: str) -> None:
    peer = make_peer(fast_emulator.connection_string)
    client = node_client(redirecting_negotiate, transport=transport)
    client.start()
    assert client.invoke("Echo", "redirected") == "redirected"
    assert peer.wait_for(sm.OpenConnection).query_string.startswith("?hub=chat&asrs.op=%2Fchat&negotiateVersion=1")
