"""The ``chat`` hub's contract, method by method, with the official JavaScript client in Node.js.

Every method runs over WebSockets with JSON and with MessagePack; a representative subset also
runs over Server-Sent Events (JSON only: SSE carries text) and Long Polling. The sample app is a
``flask --app sample_app run`` subprocess with its embedded emulator.
"""

from __future__ import annotations

import uuid

import pytest

from tests.fixtures.node_client import NodeClientError

WEBSOCKETS = [("webSockets", "json"), ("webSockets", "messagepack")]
EVERY_TRANSPORT = [*WEBSOCKETS, ("serverSentEvents", "json"), ("longPolling", "json"), ("longPolling", "messagepack")]


def _ids(combinations: list[tuple[str, str]]) -> list[str]:
    return [f"{transport}-{protocol}" for transport, protocol in combinations]


@pytest.fixture
def connect(node_client, chat_server):
    """``connect(transport, protocol, user=None)``: a started Node client, signed in as ``user``."""

    def start(transport: str, protocol: str, user: str | None = None, handlers: tuple[str, ...] = ()):
        headers = {}
        if user is not None:
            session = chat_server.session()
            session.login(user)
            headers["Cookie"] = session.cookie_header
        client = node_client(chat_server.hub_url, transport=transport, protocol=protocol, headers=headers)
        for method in handlers:
            client.on(method)
        client.start()
        return client

    return start


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.mark.parametrize(("transport", "protocol"), EVERY_TRANSPORT, ids=_ids(EVERY_TRANSPORT))
def test_broadcast_message_reaches_every_client(connect, transport: str, protocol: str) -> None:
    sender = connect(transport, protocol, handlers=("broadcastMessage",))
    other = connect("webSockets", "json", handlers=("broadcastMessage",))
    text = _unique("hello")
    assert sender.invoke("broadcastMessage", "ann", text) is None
    assert ["ann", text] in sender.wait_for_message("broadcastMessage")
    assert ["ann", text] in other.wait_for_message("broadcastMessage")


@pytest.mark.parametrize(("transport", "protocol"), WEBSOCKETS, ids=_ids(WEBSOCKETS))
def test_echo_answers_only_the_caller(connect, transport: str, protocol: str) -> None:
    caller = connect(transport, protocol, handlers=("echo", "broadcastMessage"))
    other = connect(transport, protocol, handlers=("echo", "broadcastMessage"))
    caller.send("echo", "ann", "ping \u00e9\u6f22")
    assert caller.wait_for_message("echo") == [["ann", "ping \u00e9\u6f22"]]
    marker = _unique("marker")
    caller.invoke("broadcastMessage", "ann", marker)
    assert ["ann", marker] in other.wait_for_message("broadcastMessage")
    assert other.messages("echo") == []


@pytest.mark.parametrize(("transport", "protocol"), WEBSOCKETS, ids=_ids(WEBSOCKETS))
def test_groups_join_send_leave(connect, transport: str, protocol: str) -> None:
    group = _unique("room")
    member = connect(transport, protocol, handlers=("groupMessage", "broadcastMessage"))
    outsider = connect(transport, protocol, handlers=("groupMessage", "broadcastMessage"))
    member.invoke("joinGroup", group)
    outsider.invoke("sendToGroup", group, "out", "first")
    assert member.wait_for_message("groupMessage") == [[group, "out", "first"]]

    member.invoke("leaveGroup", group)
    outsider.invoke("sendToGroup", group, "out", "second")
    marker = _unique("marker")
    outsider.invoke("broadcastMessage", "out", marker)
    assert ["out", marker] in member.wait_for_message("broadcastMessage")
    assert member.messages("groupMessage") == [[group, "out", "first"]]
    assert outsider.messages("groupMessage") == []


@pytest.mark.parametrize(("transport", "protocol"), EVERY_TRANSPORT, ids=_ids(EVERY_TRANSPORT))
def test_send_to_user_reaches_every_connection_of_that_user(connect, transport: str, protocol: str) -> None:
    alice, bob = _unique("alice"), _unique("bob")
    alice_one = connect(transport, protocol, user=alice, handlers=("privateMessage",))
    alice_two = connect("webSockets", "json", user=alice, handlers=("privateMessage",))
    sender = connect(transport, protocol, user=bob, handlers=("privateMessage",))
    anonymous = connect(transport, protocol, handlers=("privateMessage",))

    sender.invoke("sendToUser", alice, "psst")
    assert alice_one.wait_for_message("privateMessage") == [[bob, "psst"]]
    assert alice_two.wait_for_message("privateMessage") == [[bob, "psst"]]
    anonymous.invoke("sendToUser", bob, "from nobody")
    assert sender.wait_for_message("privateMessage") == [[None, "from nobody"]]
    assert anonymous.messages("privateMessage") == []


@pytest.mark.parametrize(("transport", "protocol"), EVERY_TRANSPORT, ids=_ids(EVERY_TRANSPORT))
def test_whoami(connect, transport: str, protocol: str) -> None:
    user = _unique("carol")
    signed_in = connect(transport, protocol, user=user)
    anonymous = connect(transport, protocol)
    assert signed_in.invoke("whoami") == {"connectionId": signed_in.connection_id, "userId": user}
    assert anonymous.invoke("whoami") == {"connectionId": anonymous.connection_id, "userId": None}


@pytest.mark.parametrize(("transport", "protocol"), WEBSOCKETS, ids=_ids(WEBSOCKETS))
def test_add(connect, transport: str, protocol: str) -> None:
    client = connect(transport, protocol)
    assert client.invoke("add", 2, 3) == 5
    assert client.invoke("add", -1.5, 0.25) == -1.25


@pytest.mark.parametrize(("transport", "protocol"), EVERY_TRANSPORT, ids=_ids(EVERY_TRANSPORT))
def test_counter_streams(connect, transport: str, protocol: str) -> None:
    client = connect(transport, protocol)
    assert client.stream("counter", 5, 10) == [0, 1, 2, 3, 4]
    assert client.stream("counter", 0, 0) == []
    assert client.stream("counter", 1000, 20, take=3) == [0, 1, 2]
    assert client.invoke("add", 1, 1) == 2


@pytest.mark.parametrize(("transport", "protocol"), EVERY_TRANSPORT, ids=_ids(EVERY_TRANSPORT))
def test_sum_stream_consumes_an_upload(connect, transport: str, protocol: str) -> None:
    client = connect(transport, protocol)
    assert client.upload("sumStream", [1, 2, 3, 4.5]) == 10.5
    assert client.upload("sumStream", []) == 0


@pytest.mark.parametrize(("transport", "protocol"), EVERY_TRANSPORT, ids=_ids(EVERY_TRANSPORT))
def test_fail_shows_the_message(connect, transport: str, protocol: str) -> None:
    client = connect(transport, protocol)
    with pytest.raises(NodeClientError) as failure:
        client.invoke("fail", "it broke")
    assert failure.value.message == "An unexpected error occurred invoking 'fail' on the server. HubException: it broke"
    assert client.invoke("add", 1, 2) == 3


@pytest.mark.parametrize(("transport", "protocol"), EVERY_TRANSPORT, ids=_ids(EVERY_TRANSPORT))
def test_ask_caller_returns_the_client_result(node_client, chat_server, transport: str, protocol: str) -> None:
    client = node_client(chat_server.hub_url, transport=transport, protocol=protocol)
    client.on("answer", result="forty-two")
    client.start()
    assert client.invoke("askCaller", "meaning?") == "forty-two"
    assert client.messages("answer") == [["meaning?"]]
