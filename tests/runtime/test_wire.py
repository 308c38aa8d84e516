"""What the runtime puts on the wire, checked byte for byte against service-protocol §4–7.

A scripted service (``fake_service.py``) on the test thread's gevent hub; the HubServer under test
on its own runtime thread (the ``flask run`` model).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import gevent
import jwt
import pytest

from flask_azure_signalr.exceptions import (
    AckTimeoutError,
    InvocationError,
    ServiceConnectionError,
)
from flask_azure_signalr.hub import Hub
from flask_azure_signalr.options import ServiceOptions
from flask_azure_signalr.protocol.hub import JSON, MESSAGEPACK
from flask_azure_signalr.protocol.hub_messages import (
    CompletionMessage,
    InvocationMessage,
)
from flask_azure_signalr.protocol.service_messages import (
    Ack,
    BroadcastData,
    ClientCompletion,
    ClientInvocation,
    CloseConnection,
    ConnectionData,
    ErrorCompletion,
    HandshakeResponse,
    JoinGroupWithAck,
    LeaveGroupWithAck,
    MultiConnectionData,
    OpenConnection,
    Ping,
    ServiceError,
    ServiceMapping,
)
from flask_azure_signalr.registry import HubRegistration
from flask_azure_signalr.runtime import HubServer, server_connection

from .fake_service import ACCESS_KEY, FakeConnection, FakeService, wait_until

pytestmark = pytest.mark.timeout(60)

SERVER_ID = "testhost_0123456789abcdef0123456789abcdef"
EVENTS: list[tuple[str, Any]] = []


class Wire(Hub):
    def on_connected(self) -> None:
        EVENTS.append(("connected", self.context.connection_id))

    def on_disconnected(self, error: BaseException | None) -> None:
        EVENTS.append(("disconnected", self.context.connection_id))

    def echo(self, value: Any) -> Any:
        return value

    def whoami(self) -> list[Any]:
        return [self.context.user_identifier, self.context.claims, self.context.query.get("a")]

    def join(self, group: str) -> str:
        self.groups.add_to_group(self.context.connection_id, group)
        return "joined"

    def direct(self, message: str) -> None:
        self.clients.caller.send("Direct", message)

    def everyone(self, message: str) -> None:
        self.clients.all.send("All", message)

    def abort(self) -> None:
        self.context.abort()


@pytest.fixture
def service() -> Iterator[FakeService]:
    fake = FakeService().start()
    EVENTS.clear()
    try:
        yield fake
    finally:
        fake.stop()


def _stop(server: HubServer, graceful: bool = False) -> None:
    """Stop from a native thread while this hub keeps serving the fake service."""
    gevent.get_hub().threadpool.spawn(server.stop, graceful).get(timeout=40)


@pytest.fixture
def start_server(service: FakeService) -> Iterator[Callable[..., HubServer]]:
    servers: list[HubServer] = []

    def start(count: int = 1, timing: dict[str, Any] | None = None, **options: Any) -> HubServer:
        server = HubServer(
            ServiceOptions(
                connection_string=service.connection_string, initial_hub_server_connection_count=count, **options
            ),
            {"wire": HubRegistration("Wire", Wire, "/wire")},
            server_id=SERVER_ID,
            dedicated_thread=True,
            **(timing or {}),
        )
        server.start()
        servers.append(server)
        return server

    try:
        yield start
    finally:
        for server in servers:
            _stop(server)


def _in_thread(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """A call from a foreign native thread (like a Flask view under ``flask run``)."""
    return gevent.get_hub().threadpool.spawn(function, *args, **kwargs)


def open_client(
    connection: FakeConnection, connection_id: str = "c1", protocol: str = "json", **fields: Any
) -> None:
    connection.send(OpenConnection(connection_id, **fields))
    connection.send(ConnectionData(connection_id, b'{"protocol":"%s","version":1}\x1e' % protocol.encode()))
    reply = connection.next(ConnectionData)
    assert reply == ConnectionData(connection_id, b"{}\x1e")
    wait_until(lambda: ("connected", connection_id) in EVENTS)


def test_upgrade_url_headers_token_and_handshake(service, start_server):
    server = start_server(application_name="App")
    connection = service.next_connection()
    assert connection.path == "/server/"
    assert list(connection.query) == ["hub", "cid"]
    assert connection.query["hub"] == "app_wire"
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", connection.query["cid"])
    headers = connection.headers
    assert headers["X-Requested-With"] == "XMLHttpRequest"
    assert headers["X-Asrs-Server-Id"] == SERVER_ID
    assert headers["Asrs-User-Agent"].startswith("flask-azure-signalr/")
    scheme, token = headers["Authorization"].split(" ")
    assert scheme == "Bearer"
    header = jwt.get_unverified_header(token)
    assert list(header)[:2] == ["alg", "typ"] and header["alg"] == "HS256" and header["typ"] == "JWT"
    claims = jwt.decode(token, ACCESS_KEY, algorithms=["HS256"], audience="http://127.0.0.1/server/?hub=app_wire")
    assert list(claims) == ["nameid", "nbf", "exp", "iat", "aud"]
    assert claims["nameid"] == SERVER_ID
    assert claims["exp"] - claims["iat"] == 3600 and claims["nbf"] == claims["iat"]
    wait_until(lambda: bool(connection.frames))
    assert connection.frames[0] == bytes.fromhex("07 96 01 01 00 a0 00 80")
    assert not server.is_connected("wire")
    connection.accept_handshake()
    wait_until(lambda: server.is_connected("Wire"))
    connection.send(Ping())
    assert connection.next(Ping) == Ping.of("#clientInHub", "0", "#client", "0")
    connection.send(Ping.of("echo", "1234"))
    assert connection.next(Ping) == Ping.of("echo", "1234")
    status = server.status()
    assert status["hubs"][0]["service_hub"] == "app_wire" and status["hubs"][0]["connected"]


def test_migration_level_follows_graceful_shutdown_mode(service, start_server):
    start_server(graceful_shutdown_mode="MigrateClients")
    connection = service.next_connection()
    wait_until(lambda: bool(connection.frames))
    assert connection.frames[0] == bytes.fromhex("07 96 01 01 00 a0 01 80")


def test_on_demand_connection_on_target_ping(service, start_server):
    server = start_server(max_hub_server_connection_count=2)
    fixed = service.next_connection()
    fixed.accept_handshake()
    fixed.send(Ping.of("target", "instance 1"))
    extra = service.next_connection()
    assert extra.query["target"] == "instance 1"
    assert "target=instance+1" in extra.query_string
    wait_until(lambda: bool(extra.frames))
    assert extra.frames[0] == bytes.fromhex("07 96 01 01 01 a0 00 80")
    extra.accept_handshake()
    wait_until(
        lambda: (
            len(
                [
                    c
                    for c in server.status()["hubs"][0]["endpoints"][0]["connections"]
                    if c["status"] == "connected"
                ]
            )
            == 2
        )
    )
    fixed.send(Ping.of("target", "instance 2"))
    extra.close()
    with pytest.raises(gevent.queue.Empty):
        service.next_connection(timeout=1.5)


def test_back_off_after_refused_handshakes_and_immediate_reconnect_after_drop(service, start_server):
    start_server()
    attempts = []
    for _ in range(2):
        connection = service.next_connection(timeout=10)
        attempts.append(connection)
        connection.next()
        connection.send(HandshakeResponse(error_message="refused for the test"))
    good = service.next_connection(timeout=10)
    attempts.append(good)
    assert len({c.query["cid"] for c in attempts}) == 3
    first_gap = attempts[1].accepted_at - attempts[0].accepted_at
    second_gap = attempts[2].accepted_at - attempts[1].accepted_at
    assert 1.0 <= first_gap < 2.5
    assert 2.0 <= second_gap < 3.5
    good.accept_handshake()
    wait_until(lambda: bool(good.frames))
    closed_at = time.monotonic()
    good.close()
    again = service.next_connection(timeout=3)
    assert again.accepted_at - closed_at < 0.9
    assert again.query["cid"] != good.query["cid"]


def test_client_lifecycle_and_routing_on_the_wire(service, start_server):
    server = start_server(count=2)
    first, second = service.next_connection(), service.next_connection()
    first.accept_handshake()
    second.accept_handshake()
    wait_until(lambda: server.is_connected("wire"))
    open_client(
        first,
        claims=(("asrs.s.uid", "u1"), ("role", "admin"), ("aud", "x"), ("asrs.u.exp", "later")),
        headers={"X-Test": ("1",)},
        query_string="?a=1",
    )
    first.send(ConnectionData("c1", b'{"type":1,"invocationId":"1","target":"WHOAMI","arguments":[]}\x1e'))
    assert first.next(ConnectionData).payload == (
        b'{"type":3,"invocationId":"1","result":["u1",[["role","admin"],["exp","later"]],"1"]}\x1e'
    )
    first.send(ConnectionData("c1", b'{"type":1,"invocationId":"2","target":"direct","arguments":["hi"]}\x1e'))
    direct = first.next(MultiConnectionData)
    assert direct.connection_list == ("c1",)
    assert dict(direct.payloads) == {"json": JSON.encode_invocation("Direct", ["hi"])}
    assert first.next(ConnectionData).payload == b'{"type":3,"invocationId":"2","result":null}\x1e'
    first.send(ConnectionData("c1", b'{"type":1,"invocationId":"3","target":"everyone","arguments":["all"]}\x1e'))
    broadcast = first.next(BroadcastData)
    assert broadcast.excluded_list == ()
    assert dict(broadcast.payloads) == {
        "json": JSON.encode_invocation("All", ["all"]),
        "messagepack": MESSAGEPACK.encode_invocation("All", ["all"]),
    }
    first.send(ConnectionData("c1", b'{"type":1,"invocationId":"4","target":"join","arguments":["g"]}\x1e'))
    join = first.next(JoinGroupWithAck)
    assert (join.connection_id, join.group_name) == ("c1", "g")
    first.send(Ack(join.ack_id, 1, None))
    assert first.next(ConnectionData).payload == b'{"type":3,"invocationId":"4","result":"joined"}\x1e'
    first.send(CloseConnection("c1"))
    wait_until(lambda: ("disconnected", "c1") in EVENTS)
    assert not [m for m in first.messages() if isinstance(m, CloseConnection)]
    open_client(second, "c2")
    second.send(ConnectionData("c2", b'{"type":1,"target":"abort","arguments":[]}\x1e'))
    assert second.next(ConnectionData).payload == b'{"type":7}\x1e'
    assert second.next(CloseConnection) == CloseConnection("c2", "")
    wait_until(lambda: ("disconnected", "c2") in EVENTS)


def test_app_side_handshake_timeout_and_hub_pings(service, start_server):
    start_server(timing={"handshake_timeout": 1.0, "keep_alive_interval": 1.0})
    connection = service.next_connection()
    connection.accept_handshake()
    connection.send(OpenConnection("silent"))
    assert connection.next(ConnectionData, timeout=4).payload == b'{"error":"Handshake was canceled."}\x1e'
    assert connection.next(CloseConnection) == CloseConnection("silent", "Handshake was canceled.")
    open_client(connection, "idle", protocol="messagepack")
    assert connection.next(ConnectionData, timeout=4) == ConnectionData("idle", bytes.fromhex("02 91 06"))


def test_group_ack_timeout_and_service_error(service, start_server):
    server = start_server(timing={"ack_timeout": 1.0})
    connection = service.next_connection()
    connection.accept_handshake()
    wait_until(lambda: server.is_connected("wire"))
    groups = server.hub_context("wire").groups
    with pytest.raises(AckTimeoutError):
        _in_thread(groups.add_to_group, "c9", "g").get(timeout=10)
    assert connection.next(JoinGroupWithAck).ack_id == 1
    adding = _in_thread(groups.add_to_group, "c9", "g")
    join = connection.next(JoinGroupWithAck)
    connection.send(Ack(join.ack_id, 2, "no such connection"))
    assert adding.get(timeout=5) is None
    failing = _in_thread(groups.remove_from_group, "c9", "g")
    leave = connection.next(LeaveGroupWithAck)
    connection.send(Ack(leave.ack_id, 4, "internal"))
    with pytest.raises(AckTimeoutError):
        failing.get(timeout=5)
    connection.send(ServiceError("Maximum message count limit reached: 100000"))
    clients = server.hub_context("wire").clients
    deadline = time.monotonic() + 5
    with pytest.raises(ServiceConnectionError, match="not active"):
        while time.monotonic() < deadline:
            _in_thread(clients.all.send, "x").get(timeout=5)
            gevent.sleep(0.05)


def test_client_results_as_caller_and_as_router(service, start_server):
    server = start_server()
    connection = service.next_connection()
    connection.accept_handshake()
    wait_until(lambda: server.is_connected("wire"))
    clients = server.hub_context("wire").clients
    remote = _in_thread(clients.client("far").invoke, "GetValue", 1, timeout=5)
    invocation = connection.next(ClientInvocation)
    assert re.fullmatch(r"far-[0-9a-f]{32}-1", invocation.invocation_id)
    assert (invocation.connection_id, invocation.caller_server_id) == ("far", SERVER_ID)
    assert dict(invocation.payloads) == {
        "json": JSON.encode(
            InvocationMessage(invocation_id=invocation.invocation_id, target="GetValue", arguments=[1])
        ),
        "messagepack": MESSAGEPACK.encode(
            InvocationMessage(invocation_id=invocation.invocation_id, target="GetValue", arguments=[1])
        ),
    }
    connection.send(ServiceMapping(invocation.invocation_id, "far", "instance-a"))
    connection.send(
        ClientCompletion(
            invocation.invocation_id,
            "far",
            SERVER_ID,
            "json",
            JSON.encode(CompletionMessage.with_result(invocation.invocation_id, 42)),
        )
    )
    assert remote.get(timeout=5) == 42
    failing = _in_thread(clients.client("far").invoke, "GetValue", timeout=5)
    invocation = connection.next(ClientInvocation)
    connection.send(ErrorCompletion(invocation.invocation_id, "far", SERVER_ID, "Connection 'far' disconnected."))
    with pytest.raises(InvocationError, match="Connection 'far' disconnected."):
        failing.get(timeout=5)

    open_client(connection, "near")
    connection.send(ClientInvocation("inv-from-b", "near", "server-b", {"json": b""}))
    connection.send(ConnectionData("near", b'{"type":3,"invocationId":"inv-from-b","result":10}\x1e'))
    forwarded = connection.next(ClientCompletion)
    assert (forwarded.invocation_id, forwarded.connection_id, forwarded.caller_server_id, forwarded.protocol) == (
        "inv-from-b",
        "near",
        "server-b",
        "json",
    )
    assert JSON.decode(forwarded.payload) == [CompletionMessage.with_result("inv-from-b", 10)]

    local = _in_thread(clients.client("near").invoke, "GetValue", timeout=5)
    invocation = connection.next(ClientInvocation)
    connection.send(
        ConnectionData(
            "near", b'{"type":3,"invocationId":"%s","result":"mine"}\x1e' % invocation.invocation_id.encode()
        )
    )
    assert local.get(timeout=5) == "mine"
    cleanup = connection.next(ClientCompletion)
    assert (cleanup.invocation_id, cleanup.caller_server_id, cleanup.payload) == (
        invocation.invocation_id,
        SERVER_ID,
        b"",
    )

    pending = _in_thread(clients.client("near").invoke, "GetValue", timeout=5)
    connection.next(ClientInvocation)
    connection.send(CloseConnection("near"))
    with pytest.raises(InvocationError, match="Connection 'near' disconnected."):
        pending.get(timeout=5)


def test_offline_ping_ends_clients_of_that_instance(service, start_server):
    server = start_server()
    connection = service.next_connection()
    connection.accept_handshake()
    open_client(connection, "a1", headers={"Asrs-Instance-Id": ("inst-a",)})
    open_client(connection, "b1", headers={"Asrs-Instance-Id": ("inst-b",)})
    connection.send(Ping.of("offline", "inst-a"))
    wait_until(lambda: ("disconnected", "a1") in EVENTS)
    assert ("disconnected", "b1") not in EVENTS
    assert not [m for m in connection.messages() if isinstance(m, CloseConnection)]
    assert server.status()["clients"] == 1


def test_graceful_shutdown_fin_sequence(service, start_server):
    server = start_server(count=2, graceful_shutdown_mode="WaitForClientsClose", graceful_shutdown_timeout=10)
    connections = [service.next_connection(), service.next_connection()]
    for connection in connections:
        connection.accept_handshake()
    wait_until(lambda: server.is_connected("wire"))
    open_client(connections[0], "stay")
    server.on_shutdown("wire", lambda context: EVENTS.append(("shutdown hook", context.name)))
    stopping = _in_thread(server.stop, True)
    for connection in connections:
        assert connection.next(Ping) == Ping.of("shutdown", "fin:2")
        connection.send(Ping.of("shutdown", "finack"))
    wait_until(lambda: ("shutdown hook", "Wire") in EVENTS)
    gevent.sleep(0.3)
    assert not stopping.ready()
    assert not any(c.closed.is_set() for c in connections)
    connections[0].send(CloseConnection("stay"))
    stopping.get(timeout=10)
    for connection in connections:
        assert connection.closed.wait(5)
        assert connection.close_code == 1000
    assert ("disconnected", "stay") in EVENTS
    assert not server.is_connected("wire")


def test_silent_service_is_dropped_and_replaced(service, start_server, monkeypatch):
    """Nothing from the service for the service timeout (30 s, shortened here): reconnect (§5.1)."""
    monkeypatch.setattr(server_connection, "SERVICE_TIMEOUT", 1.0)
    monkeypatch.setattr(server_connection, "_READ_SLICE", 0.1)
    start_server()
    silent = service.next_connection()
    silent.accept_handshake()
    assert silent.closed.wait(5)
    replacement = service.next_connection(timeout=5)
    assert replacement.query["cid"] != silent.query["cid"]


def test_rejected_upgrade_is_retried_with_back_off():
    refusing = FakeService(refuse_status=401).start()
    server = HubServer(
        ServiceOptions(connection_string=refusing.connection_string, initial_hub_server_connection_count=1),
        {"wire": HubRegistration("Wire", Wire, "/wire")},
        dedicated_thread=True,
    )
    try:
        server.start()
        wait_until(lambda: len(refusing.refused) >= 2, timeout=5)
        assert 1.0 <= refusing.refused[1] - refusing.refused[0] < 2.5
        assert not server.is_connected("wire")
        assert server.status()["hubs"][0]["endpoints"][0]["connected"] is False
    finally:
        _stop(server)
        refusing.stop()
