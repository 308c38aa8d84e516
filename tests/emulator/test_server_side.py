"""The ``/server/`` side over real sockets: auth, handshake, pings, timeouts, errors, every message kind."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest
import websocket

from flask_azure_signalr.emulator.router import SERVER_OFFLINE_ERROR
from flask_azure_signalr.endpoints import ServiceEndpoint
from flask_azure_signalr.protocol import service_messages as sm
from flask_azure_signalr.protocol.hub_messages import (
    CloseMessage,
    CompletionMessage,
    InvocationMessage,
)
from flask_azure_signalr.protocol.service import ServiceProtocolParser, encode
from flask_azure_signalr.tokens import encode_token, generate_server_token

from .hub_client import http
from .service_peer import payloads_of

pytestmark = pytest.mark.timeout(30)


def wait_until(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


def server_url(emulator, hub: str = "chat") -> str:
    return f"{emulator.endpoint}/server/?hub={hub}&cid={uuid.uuid4()}"


def open_raw(emulator, hub: str = "chat", token: str | None = None) -> websocket.WebSocket:
    endpoint = ServiceEndpoint(emulator.connection_string)
    token = token or generate_server_token(endpoint, hub, server_id="raw")
    url = server_url(emulator, hub).replace("http://", "ws://")
    return websocket.create_connection(url, header=[f"Authorization: Bearer {token}"], timeout=5)


def read_messages(ws: websocket.WebSocket, parser: ServiceProtocolParser, count: int = 1) -> list:
    messages: list = []
    while len(messages) < count:
        data = ws.recv()
        if not data:
            break
        messages.extend(parser.feed(data))
    return messages


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("none", "no access token"),
        ("wrong key", "signature is invalid"),
        ("expired", "expired"),
        ("client audience", "audience"),
        ("other hub", "audience"),
        ("no exp", "'exp'"),
    ],
)
def test_bad_server_tokens_get_401_with_a_reason(fast_emulator, case: str, reason: str) -> None:
    endpoint = ServiceEndpoint(fast_emulator.connection_string)
    now = time.time()
    tokens = {
        "none": None,
        "wrong key": encode_token({"exp": now + 60, "aud": endpoint.server_audience("chat")}, "other-key"),
        "expired": generate_server_token(endpoint, "chat", server_id="s", now=now - 7200),
        "client audience": encode_token({"exp": now + 60, "aud": endpoint.client_audience("chat")}, endpoint.access_key),
        "other hub": generate_server_token(endpoint, "other", server_id="s"),
        "no exp": encode_token({"aud": endpoint.server_audience("chat")}, endpoint.access_key),
    }
    status, _, body = http("GET", server_url(fast_emulator), token=tokens[case])
    assert status == 401
    assert reason in body.decode()
    assert fast_emulator.access_key not in body.decode()


def test_a_rejected_upgrade_is_a_401_before_the_websocket(fast_emulator) -> None:
    endpoint = ServiceEndpoint(fast_emulator.connection_string)
    token = generate_server_token(endpoint, "chat", server_id="s", lifetime=timedelta(seconds=1), now=time.time() - 100)
    with pytest.raises(websocket.WebSocketBadStatusException) as error:
        open_raw(fast_emulator, token=token)
    assert error.value.status_code == 401
    assert b"expired" in error.value.resp_body


def test_audience_is_compared_without_the_port_and_accepts_hs512(fast_emulator) -> None:
    endpoint = ServiceEndpoint(fast_emulator.connection_string)
    audience = endpoint.server_audience("chat")
    assert str(fast_emulator.port) not in audience
    token = generate_server_token(endpoint, "chat", server_id="s", algorithm="HS512")
    ws = open_raw(fast_emulator, token=token)
    ws.send_binary(encode(sm.HandshakeRequest()))
    response = read_messages(ws, ServiceProtocolParser())[0]
    assert response.error_message == "" and response.connection_id
    ws.close()


def test_handshake_version_mismatch_gets_the_error_response_then_close(fast_emulator) -> None:
    ws = open_raw(fast_emulator)
    ws.send_binary(encode(sm.HandshakeRequest(version=2)))
    parser = ServiceProtocolParser()
    (response,) = read_messages(ws, parser)
    assert response == sm.HandshakeResponse(error_message="Protocol version not supported: 2. Supported version: 1.")
    assert ws.recv() == ""  # closed


def test_a_first_message_other_than_the_handshake_is_refused(fast_emulator) -> None:
    ws = open_raw(fast_emulator)
    ws.send_binary(encode(sm.Ping()))
    (response,) = read_messages(ws, ServiceProtocolParser())
    assert response.error_message == "Expected a handshake request, got Ping."


def test_the_emulator_pings_and_drops_a_silent_server(fast_emulator, make_peer) -> None:
    peer = make_peer(fast_emulator.connection_string, answer_pings=False)
    started = time.monotonic()
    wait_until(lambda: len(peer.received(sm.Ping)) >= 3, 2)
    assert time.monotonic() - started < 1.5
    assert peer.links[0].closed.wait(3)
    assert time.monotonic() - started >= 1.4


def test_a_server_that_answers_pings_stays(fast_emulator, make_peer, make_client) -> None:
    peer = make_peer(fast_emulator.connection_string)
    client = make_client(fast_emulator)
    wait_until(lambda: len(peer.received(sm.Ping)) >= 12, 5)
    assert not peer.links[0].closed.is_set()
    assert client.invoke("Echo", 1) == 1


def test_malformed_frames_close_only_that_server_connection(fast_emulator, make_peer, make_client) -> None:
    peer = make_peer(fast_emulator.connection_string, connections=2)
    peer.links[0].send_raw(b"\x02\x91\xc1")
    error = peer.wait_for(sm.ServiceError)
    assert "Invalid service protocol data" in error.error_message
    assert peer.links[0].closed.wait(5)
    assert not peer.links[1].closed.is_set()
    client = make_client(fast_emulator)
    assert client.invoke("WhoAmI") == peer.server_id


def test_status_servers_and_fin_pings(fast_emulator, make_peer, make_client) -> None:
    peer = make_peer(fast_emulator.connection_string, connections=2)
    other = make_peer(fast_emulator.connection_string)
    peer.send(sm.Ping.of("status", "1"))
    assert peer.wait_for(sm.Ping, lambda p: p.get("status") is not None).get("status") == "0"
    make_client(fast_emulator)
    peer.history.clear()
    peer.send(sm.Ping.of("status", "1"))
    assert peer.wait_for(sm.Ping, lambda p: p.get("status") is not None).get("status") == "1"
    peer.send(sm.Ping.of("servers", ""))
    servers = peer.wait_for(sm.Ping, lambda p: p.get("servers") is not None).get("servers")
    assert set(servers.partition(":")[2].split(";")) == {peer.server_id, other.server_id}
    peer.send(sm.Ping.of("shutdown", "fin:2"), link=1)
    finack = peer.wait_for(sm.Ping, lambda p: p.get("shutdown") == "finack")
    assert peer.link_of(finack) == 1


def test_every_server_message_kind_with_acks(fast_emulator, make_peer, make_client) -> None:
    peer = make_peer(fast_emulator.connection_string)
    alice = make_client(fast_emulator, claims={"asrs.s.uid": "alice"})
    bob = make_client(fast_emulator, claims={"asrs.s.uid": "bob"}, protocol="messagepack")
    a, b = (m.connection_id for m in peer.received(sm.OpenConnection))

    def ack(build):
        return int(peer.request_ack(build).status)

    assert ack(lambda i: sm.JoinGroupWithAck(connection_id=a, group_name="g", ack_id=i)) == 1
    assert ack(lambda i: sm.JoinGroupWithAck(connection_id="nobody", group_name="g", ack_id=i)) == 2
    assert ack(lambda i: sm.UserJoinGroupWithAck(user_id="bob", group_name="g", ack_id=i, ttl=30)) == 1
    assert ack(lambda i: sm.CheckUserInGroupWithAck(user_id="bob", group_name="g", ack_id=i)) == 1
    assert ack(lambda i: sm.CheckGroupExistenceWithAck(group_name="g", ack_id=i)) == 1
    assert ack(lambda i: sm.CheckConnectionExistenceWithAck(connection_id=b, ack_id=i)) == 1
    assert ack(lambda i: sm.CheckUserExistenceWithAck(user_id="carol", ack_id=i)) == 2

    peer.send(sm.GroupBroadcastData(group_name="g", payloads=payloads_of("Receive", "group")))
    assert alice.received_invocation("Receive").arguments == ["group"]
    assert bob.received_invocation("Receive").arguments == ["group"]
    peer.send(sm.MultiGroupBroadcastData(group_list=("g", "h"), payloads=payloads_of("Receive", "multi-group")))
    assert alice.received_invocation("Receive").arguments == ["multi-group"]
    assert bob.received_invocation("Receive").arguments == ["multi-group"]
    peer.send(sm.UserData(user_id="bob", payloads=payloads_of("Receive", "user")))
    assert bob.received_invocation("Receive").arguments == ["user"]
    peer.send(sm.MultiUserData(user_list=("alice", "bob"), payloads=payloads_of("Receive", "users")))
    assert alice.received_invocation("Receive").arguments == ["users"]
    assert bob.received_invocation("Receive").arguments == ["users"]
    peer.send(sm.MultiConnectionData(connection_list=(b,), payloads=payloads_of("Receive", "conns")))
    assert bob.received_invocation("Receive").arguments == ["conns"]
    peer.send(sm.BroadcastData(excluded_list=(b,), payloads=payloads_of("Receive", "all-but-bob")))
    assert alice.received_invocation("Receive").arguments == ["all-but-bob"]
    peer.send(sm.ConnectionData(connection_id=a, payload=payloads_of("Receive", "direct")["json"]))
    assert alice.received_invocation("Receive").arguments == ["direct"]
    assert [m for m in bob.messages if isinstance(m, InvocationMessage)] == []

    assert ack(lambda i: sm.LeaveGroupWithAck(connection_id=a, group_name="g", ack_id=i)) == 1
    assert ack(lambda i: sm.UserLeaveGroupWithAck(user_id="bob", group_name="g", ack_id=i)) == 1
    assert ack(lambda i: sm.CheckGroupExistenceWithAck(group_name="g", ack_id=i)) == 2
    peer.send(sm.JoinGroup(connection_id=b, group_name="h"))
    peer.send(sm.LeaveGroup(connection_id=b, group_name="h"))
    peer.send(sm.UserJoinGroup(user_id="alice", group_name="k"))
    assert ack(lambda i: sm.CheckUserInGroupWithAck(user_id="alice", group_name="k", ack_id=i)) == 1
    peer.send(sm.UserLeaveGroup(user_id="alice", group_name="k"))
    assert ack(lambda i: sm.CheckUserInGroupWithAck(user_id="alice", group_name="k", ack_id=i)) == 2

    assert ack(lambda i: sm.CloseConnectionWithAck(connection_id=b, reason="kicked", ack_id=i)) == 1
    assert bob.wait_for(lambda m: isinstance(m, CloseMessage)) == CloseMessage(error="kicked", allow_reconnect=True)
    assert bob.closed.wait(5)
    assert peer.wait_for(sm.CloseConnection, lambda m: m.connection_id == b).error_message == "kicked"
    assert ack(lambda i: sm.CloseConnectionsWithAck(reason=None, ack_id=i, excluded_list=())) == 1
    assert alice.closed.wait(5)


def test_closing_with_acks_by_user_and_group(fast_emulator, make_peer, make_client) -> None:
    peer = make_peer(fast_emulator.connection_string)
    first = make_client(fast_emulator, claims={"asrs.s.uid": "u"})
    second = make_client(fast_emulator, claims={"asrs.s.uid": "v"})
    second.invoke("Join", "g")
    assert int(peer.request_ack(lambda i: sm.CloseUserConnectionsWithAck(
        user_id="u", reason=None, ack_id=i, excluded_list=())).status) == 1
    assert first.closed.wait(5) and not second.closed.is_set()
    assert int(peer.request_ack(lambda i: sm.CloseGroupConnectionsWithAck(
        group_name="g", reason="bye", ack_id=i, excluded_list=())).status) == 1
    assert second.closed.wait(5)


def test_server_connection_drop_closes_its_clients_with_reconnect(fast_emulator, make_peer, make_client) -> None:
    first = make_peer(fast_emulator.connection_string)
    second = make_peer(fast_emulator.connection_string)
    clients = [make_client(fast_emulator) for _ in range(4)]
    owners = {client: client.invoke("WhoAmI") for client in clients}
    assert set(owners.values()) == {first.server_id, second.server_id}
    first.drop()
    for client, owner in owners.items():
        if owner == first.server_id:
            close = client.wait_for(lambda m: isinstance(m, CloseMessage))
            assert close == CloseMessage(error=SERVER_OFFLINE_ERROR, allow_reconnect=True)
            assert client.closed.wait(5)
        else:
            assert client.invoke("Echo", "still here") == "still here"


def test_client_invocation_routed_between_servers(fast_emulator, make_peer, make_client) -> None:
    first = make_peer(fast_emulator.connection_string)
    second = make_peer(fast_emulator.connection_string)
    clients = [make_client(fast_emulator) for _ in range(2)]
    owners = [client.invoke("WhoAmI") for client in clients]
    assert set(owners) == {first.server_id, second.server_id}
    asker, answerer = clients
    answerer_id = next(
        m.connection_id for peer in (first, second) for m in peer.received(sm.OpenConnection)
        if peer.server_id == owners[1]
    )
    caller = first if owners[0] == first.server_id else second
    invocation_id = "ask-1"
    asker.send(InvocationMessage(target="Ask", arguments=[answerer_id], invocation_id=invocation_id))
    request = answerer.received_invocation("GetValue")
    answerer.send(CompletionMessage.with_result(request.invocation_id, 42))
    result = asker.wait_for(lambda m: isinstance(m, CompletionMessage) and m.invocation_id == invocation_id)
    assert result.result == 42
    assert caller.wait_for(sm.ServiceMapping).connection_id == answerer_id


def test_pings_from_the_service_to_servers(fast_emulator, make_peer) -> None:
    peer = make_peer(fast_emulator.connection_string, connections=2)
    assert fast_emulator.ping_servers("chat", "target", "instance-2") == 2
    targets = peer.wait_for(sm.Ping, lambda p: p.get("target") == "instance-2")
    assert targets.messages == ("target", "instance-2")
    assert fast_emulator.ping_servers("CHAT", "echo", "123") == 2
    assert fast_emulator.ping_servers("nohub", "echo", "1") == 0
