"""The emulator's classic service side: ``/aspnetclient`` for jQuery-protocol clients and
``/aspnetserver/`` pools of classic apps (aspnet-classic §1, §2.2-§2.5, §6).

A Python classic client (``classic_client.py``) and a classic test app (``classic_peer.py``) talk
to an in-process emulator with short timers.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from flask_azure_signalr.emulator import Emulator
from flask_azure_signalr.protocol import service_messages as sm
from flask_azure_signalr.protocol.classic import HubResponse, PersistentResponse, ServerError, is_reconnect, parse_query

from .classic_client import ClassicClient, classic_token
from .classic_peer import ClassicPeer, classic_payloads
from .conftest import FAST
from .hub_client import client_token, http

CLASSIC_FAST = dataclasses.replace(
    FAST, classic_keepalive_interval=0.3, classic_disconnect_timeout=1.0, classic_poll_timeout=1.0
)
TRANSPORTS = ["webSockets", "serverSentEvents", "longPolling"]

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def service() -> Iterator[Emulator]:
    emulator = Emulator(port=0, access_key=secrets.token_urlsafe(24), options=CLASSIC_FAST)
    emulator.start()
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture
def app(service: Emulator) -> Iterator[ClassicPeer]:
    with ClassicPeer(service.connection_string, "App", ("Chat",)) as peer:
        yield peer


@pytest.fixture
def make_client(service: Emulator) -> Iterator[Callable[..., ClassicClient]]:
    clients: list[ClassicClient] = []

    def make(transport: str = "webSockets", claims: dict[str, Any] | None = None,
             connect: bool = True) -> ClassicClient:
        client = ClassicClient(service.endpoint, classic_token(service.connection_string, "App", claims),
                               transport=transport)
        clients.append(client)
        return client.connect() if connect else client

    yield make
    for client in clients:
        client.close()


def _opened(app: ClassicPeer, client: ClassicClient) -> sm.OpenConnection:
    return app.wait_for(sm.OpenConnection, lambda m: m.connection_id == client.connection_id)


# -------------------------------------------------------------------------------- negotiate


def test_negotiate_answers_the_classic_shape(service: Emulator, app: ClassicPeer, make_client: Any) -> None:
    client = make_client(connect=False)
    body = client.negotiate()
    assert list(body) == [
        "Url", "ConnectionToken", "ConnectionId", "KeepAliveTimeout", "DisconnectTimeout", "ConnectionTimeout",
        "TryWebSockets", "ProtocolVersion", "TransportConnectTimeout", "LongPollDelay",
    ]
    assert body["Url"] == "/aspnetclient"
    assert body["ProtocolVersion"] == "2.0" and body["TryWebSockets"] is True
    assert body["KeepAliveTimeout"] == 2 * CLASSIC_FAST.classic_keepalive_interval
    assert body["ConnectionTimeout"] == CLASSIC_FAST.classic_poll_timeout
    assert "availableTransports" not in json.dumps(body)


@pytest.mark.parametrize(
    ("token", "status", "text"),
    [
        (lambda cs: classic_token(cs, None), 401, "asrs.s.apn"),
        (lambda cs: classic_token(cs, "App", version=None), 401, "asrs.s.vn"),
        (lambda cs: classic_token(cs, "App", version="1.0.8"), 401, "asrs.s.vn"),
        (lambda cs: client_token(cs, "chat"), 401, "audience"),
        (lambda cs: "", 401, "no access token"),
    ],
)
def test_negotiate_checks_the_client_token(service: Emulator, app: ClassicPeer, token: Any, status: int,
                                           text: str) -> None:
    client = ClassicClient(service.endpoint, token(service.connection_string))
    got, _, body = client.request("GET", "negotiate", "clientProtocol=2.1")
    assert got == status
    assert text in body.decode()


def test_negotiate_without_an_app_server_fails(service: Emulator) -> None:
    client = ClassicClient(service.endpoint, classic_token(service.connection_string, "Nobody"))
    status, _, body = client.request("GET", "negotiate", "clientProtocol=2.1")
    assert status == 500
    assert b"app servers are not connected" in body


def test_cors_preflight_and_answers_name_the_exact_origin(service: Emulator, app: ClassicPeer) -> None:
    origin = "http://page.example:5000"
    status, headers, _ = http("OPTIONS", f"{service.endpoint}/aspnetclient/negotiate?clientProtocol=2.1", headers={
        "Origin": origin, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization",
    })
    assert status == 204
    assert headers["Access-Control-Allow-Origin"] == origin
    assert headers["Access-Control-Allow-Credentials"] == "true"
    assert "authorization" in headers["Access-Control-Allow-Headers"].lower()
    client = ClassicClient(service.endpoint, classic_token(service.connection_string))
    status, headers, _ = client.request("GET", "ping", "_=1", headers={"Origin": origin})
    assert status == 200
    assert (headers["Access-Control-Allow-Origin"], headers["Access-Control-Allow-Credentials"]) == (origin, "true")


# -------------------------------------------------------------------------------- transports


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_each_transport_connects_invokes_and_receives(app: ClassicPeer, make_client: Any, transport: str) -> None:
    client = make_client(transport, claims={"asrs.s.uid": "ada"})
    opened = _opened(app, client)
    assert app.links[app.pool()].ws is not None and app.client_links[client.connection_id].pool == "app_app"
    query = parse_query(opened.query_string or "")
    assert opened.query_string.startswith("?")
    assert query.transport == transport and query.hubs == ("chat",)
    assert query.connection_token == client.connection_token
    assert "access_token" not in query.params
    assert ("asrs.s.apn", "App") in opened.claims and ("asrs.s.uid", "ada") in opened.claims
    init = client.wait_for(lambda m: isinstance(m, PersistentResponse) and m.initialized)
    assert init.message_id

    assert client.invoke("chat", "Echo", {"x": [1, "é"]}) == HubResponse("0", result={"x": [1, "é"]})
    failed = client.invoke("Chat", "Fail")
    assert failed.error == "boom"
    data = app.wait_for(sm.ConnectionData, lambda m: m.connection_id == client.connection_id)
    assert json.loads(bytes(data.payload)) == {"H": "chat", "M": "Echo", "A": [{"x": [1, "é"]}], "I": 0}

    client.invoke("chat", "Broadcast", "to all")
    assert client.wait_call("receive") == ("to all",)
    status, _, body = client.request("GET", "ping", "_=3")
    assert (status, json.loads(body)) == (200, {"Response": "pong"})


def test_broadcasts_reach_every_transport_and_respect_exclusions(app: ClassicPeer, make_client: Any) -> None:
    clients = [make_client(transport) for transport in TRANSPORTS]
    clients[0].invoke("chat", "Broadcast", "hello")
    for client in clients:
        assert client.wait_call("receive") == ("hello",)
    clients[1].invoke("chat", "Others", "not you")
    for client in (clients[0], clients[2]):
        client.wait_for(lambda m: getattr(m, "arguments", None) == ("not you",))
    assert ("not you",) not in clients[1].calls("receive")


def test_broadcast_on_a_hub_pool_reaches_only_clients_of_that_hub(service: Emulator, make_client: Any) -> None:
    with ClassicPeer(service.connection_string, "App", ("Chat", "News")) as peer:
        chat = make_client()
        news = ClassicClient(service.endpoint, classic_token(service.connection_string), ("news",))
        try:
            news.connect()
            peer.links[peer.pool("News")].send(sm.BroadcastData(payloads=classic_payloads("News", "headline", "x")))
            peer.links[peer.pool("Chat")].send(sm.BroadcastData(payloads=classic_payloads("Chat", "receive", "y")))
            assert news.wait_call("headline") == ("x",)
            assert chat.wait_call("receive") == ("y",)
            assert chat.calls("headline") == [] and news.calls("receive") == []
        finally:
            news.close()


def test_groups_and_users(app: ClassicPeer, make_client: Any) -> None:
    ada = make_client("webSockets", claims={"asrs.s.uid": "ada"})
    bob = make_client("longPolling", claims={"asrs.s.uid": "bob"})
    assert ada.invoke("chat", "Join", "room").result == sm.AckStatus.OK
    bob.invoke("chat", "SendGroup", "room", "for the room")
    assert ada.wait_call("receive") == ("for the room",)
    bob.invoke("chat", "SendUser", "bob", "for bob")
    assert bob.wait_call("receive") == ("for bob",)
    assert ada.invoke("chat", "Leave", "room").result == sm.AckStatus.OK
    bob.invoke("chat", "SendGroup", "room", "nobody")
    bob.invoke("chat", "Broadcast", "marker")
    ada.wait_for(lambda m: getattr(m, "arguments", None) == ("marker",))
    assert ("nobody",) not in ada.calls("receive")
    missing = app.request_ack(lambda ack: sm.JoinGroupWithAck("nope", "hg-Chat.room", ack), app.pool())
    assert missing.status == sm.AckStatus.NOT_FOUND


# -------------------------------------------------------------------------------- lifetime


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_app_close_sends_the_reason_as_a_fatal_error(app: ClassicPeer, make_client: Any, transport: str) -> None:
    client = make_client(transport)
    client.send("chat", "Close")
    assert client.wait_for(lambda m: isinstance(m, ServerError)) == ServerError("bye")
    assert client.closed.wait(5)
    status, _, _ = client.request("GET", "start", client._query())
    assert status == 404


def test_abort_closes_the_connection_on_the_app(app: ClassicPeer, make_client: Any) -> None:
    client = make_client("serverSentEvents")
    assert client.abort() == 200
    closed = app.wait_for(sm.CloseConnection, lambda m: m.connection_id == client.connection_id)
    assert closed.error_message == ""


@pytest.mark.parametrize("transport", ["webSockets", "serverSentEvents"])
def test_dropped_transport_reconnects_and_keeps_messages(service: Emulator, app: ClassicPeer, make_client: Any,
                                                         transport: str) -> None:
    client = make_client(transport)
    other = make_client("longPolling")
    assert service.drop_classic_transports() == 2
    assert client.closed.wait(5)
    other.invoke("chat", "Broadcast", "while away")
    client.reconnect()
    assert client.wait_call("receive") == ("while away",)
    assert client.invoke("chat", "Echo", "back").result == "back"
    assert not any(isinstance(m, PersistentResponse) and m.initialized for m in client.messages[1:])
    for connection_id in (client.connection_id, other.connection_id):
        app.wait_for(sm.ConnectionData, lambda m, cid=connection_id: m.connection_id == cid and is_reconnect(m.payload))
        assert app.reconnects(connection_id) == 1


def test_long_polling_drop_asks_the_client_to_reconnect(service: Emulator, app: ClassicPeer, make_client: Any) -> None:
    client = make_client("longPolling")
    service.drop_classic_transports()
    client.wait_for(lambda m: isinstance(m, PersistentResponse) and m.reconnect)
    app.wait_for(sm.ConnectionData, lambda m: m.connection_id == client.connection_id and is_reconnect(m.payload))
    assert client.invoke("chat", "Echo", 7).result == 7


def test_transport_gone_for_longer_than_the_disconnect_timeout_closes(app: ClassicPeer, make_client: Any) -> None:
    client = make_client("webSockets")
    started = time.monotonic()
    client.close()
    app.wait_for(sm.CloseConnection, lambda m: m.connection_id == client.connection_id)
    assert time.monotonic() - started >= CLASSIC_FAST.classic_disconnect_timeout * 0.9
    status, _, _ = client.request("GET", "reconnect", client._query())
    assert status == 404


def test_missed_poll_closes_after_the_max_poll_interval(app: ClassicPeer, make_client: Any) -> None:
    client = make_client("longPolling", claims={"asrs.s.ttl": "1"})
    client.close()
    app.wait_for(sm.CloseConnection, lambda m: m.connection_id == client.connection_id)
    status, _, _ = client.request("POST", "poll", client._query())
    assert status == 404


def test_idle_websocket_gets_keep_alives(app: ClassicPeer, make_client: Any) -> None:
    client = make_client("webSockets")
    deadline = time.monotonic() + 5
    while client.raw.count("{}") < 2:
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_server_connection_loss_stops_its_clients(service: Emulator, make_client: Any) -> None:
    peer = ClassicPeer(service.connection_string, "App", ("Chat",)).start()
    client = make_client("webSockets")
    peer.stop()
    assert client.wait_for(lambda m: isinstance(m, ServerError)) == ServerError("Server offline")


def test_connection_token_is_bound_to_its_user(service: Emulator, app: ClassicPeer, make_client: Any) -> None:
    client = make_client("longPolling", claims={"asrs.s.uid": "ada"})
    intruder = ClassicClient(service.endpoint, classic_token(service.connection_string, "App", {"asrs.s.uid": "eve"}))
    intruder.connection_token = client.connection_token
    status, _, _ = intruder.request("GET", "start", intruder._query())
    assert status == 403
    intruder.connection_token = "bm90IGEgdG9rZW4="
    status, _, _ = intruder.request("GET", "start", intruder._query())
    assert status == 400
    status, _, body = intruder.request("POST", "reconnect", "transport=webSockets")
    assert (status, body) == (400, b"Protocol error: Missing connection token.")
