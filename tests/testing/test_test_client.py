"""``signalr.test_client``: the whole real path (Flask negotiate, emulator, server connections)."""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from flask_azure_signalr import HubException, testing
from flask_azure_signalr.exceptions import NegotiateError
from sample_app import signalr
from sample_app.hubs import ChatHub

from .conftest import secure_signalr

PROTOCOLS = ["json", "messagepack"]


def _thread_count() -> int:
    return len(os.listdir("/proc/self/task"))


def _wait_thread_count(at_most: int, timeout: float = 5.0) -> int:
    """The process's thread count once it is ``at_most`` or less (an exiting thread takes a moment)."""
    deadline = time.monotonic() + timeout
    while (count := _thread_count()) > at_most and time.monotonic() < deadline:
        time.sleep(0.01)
    return count


def _logged_in(app, name: str):
    flask_client = app.test_client()
    assert flask_client.post("/login", data={"username": name}).status_code == 303
    return flask_client


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_invoke_send_and_received(sample, protocol: str) -> None:
    with signalr.test_client(sample, "chat", protocol=protocol) as client:
        assert client.connection_id
        assert client.invoke("add", 1, 2) == 3
        assert client.invoke("add", 0.5, 0.25) == 0.75
        client.send("echo", "me", "hi")
        assert client.wait_for("echo") == ["me", "hi"]
        client.send("echo", "me", "again")
        assert client.wait_for("ECHO") == ["me", "again"]
        assert client.received("echo") == [["me", "hi"], ["me", "again"]]
        assert client.invoke("whoami") == {"connectionId": client.connection_id, "userId": None}


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_users_through_the_flask_client_cookies(sample, protocol: str) -> None:
    alice_flask = _logged_in(sample, "alice")
    with signalr.test_client(sample, "chat", flask_client=alice_flask, protocol=protocol) as alice, \
            signalr.test_client(sample, "chat", flask_client=alice_flask) as alice_again, \
            signalr.test_client(sample, "chat", protocol=protocol) as anonymous:
        assert alice.invoke("whoami")["userId"] == "alice"
        anonymous.invoke("sendToUser", "alice", "for alice")
        assert alice.wait_for("privateMessage") == [None, "for alice"]
        assert alice_again.wait_for("privateMessage") == [None, "for alice"]
        alice.invoke("sendToUser", "nobody", "lost")
        alice.invoke("broadcastMessage", "alice", "marker")
        anonymous.wait_for("broadcastMessage")
        assert anonymous.received("privateMessage") == []


def test_groups(sample) -> None:
    with signalr.test_client(sample, "chat") as member, signalr.test_client(sample, "chat", protocol="messagepack") as sender:
        member.invoke("joinGroup", "room")
        sender.invoke("sendToGroup", "room", "sender", "one")
        assert member.wait_for("groupMessage") == ["room", "sender", "one"]
        assert sender.received("groupMessage") == []
        member.invoke("leaveGroup", "room")
        sender.invoke("sendToGroup", "room", "sender", "two")
        sender.invoke("broadcastMessage", "sender", "marker")
        assert member.wait_for("broadcastMessage") == ["sender", "marker"]
        assert member.received("groupMessage") == [["room", "sender", "one"]]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_streams_both_ways(sample, protocol: str) -> None:
    with signalr.test_client(sample, "chat", protocol=protocol) as client:
        assert list(client.stream("counter", 5, 0)) == [0, 1, 2, 3, 4]
        assert list(client.stream("counter", 0, 0)) == []
        assert client.upload("sumStream", [1, 2, 3.5]) == 6.5
        assert client.upload("sumStream", iter(())) == 0

        endless = client.stream("counter", 10_000, 10)
        assert [next(endless), next(endless)] == [0, 1]
        endless.cancel()
        assert client.invoke("add", 2, 2) == 4

        with pytest.raises(HubException, match="count must be"):
            list(client.stream("counter", -1, 0))


def test_errors_reach_the_caller(sample) -> None:
    with signalr.test_client(sample, "chat") as client:
        with pytest.raises(HubException, match="HubException: boom$"):
            client.invoke("fail", "boom")
        with pytest.raises(HubException):
            client.invoke("noSuchMethod")
        with pytest.raises(TimeoutError):
            client.wait_for("neverSent", timeout=0.2)
        assert client.invoke("add", 1, 1) == 2  # the connection survives


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_client_results(sample, protocol: str) -> None:
    with signalr.test_client(sample, "chat", protocol=protocol) as client:
        client.on("answer", lambda question: f"answer to {question}")
        assert client.invoke("askCaller", "why?") == "answer to why?"
        client.on("answer", 42)
        assert client.invoke("askCaller", "how much?") == 42
        assert client.received("answer") == [["why?"], ["how much?"]]

    with signalr.test_client(sample, "chat") as silent:
        with pytest.raises(HubException):
            silent.invoke("askCaller", "anyone?")
        assert silent.received("answer") == [["anyone?"]]


def test_negotiate_refusal_and_login(secure) -> None:
    with pytest.raises(NegotiateError) as refused:
        secure_signalr.test_client(secure, "secure")
    assert refused.value.status_code == 401

    flask_client = secure.test_client()
    flask_client.post("/login", data={"username": "bob"})
    with secure_signalr.test_client(secure, "secure", flask_client=flask_client) as bob:
        assert bob.invoke("whoami") == "bob"


def test_the_hub_aborting_the_connection(secure) -> None:
    flask_client = secure.test_client()
    flask_client.post("/login", data={"username": "carol"})
    client = secure_signalr.test_client(secure, "secure", flask_client=flask_client)
    try:
        client.send("kick")
        assert client.wait_closed(5)
        assert not client.connected
        with pytest.raises(ConnectionError):
            client.invoke("whoami")
    finally:
        client.close()


def test_calls_from_several_threads(secure) -> None:
    flask_client = secure.test_client()
    flask_client.post("/login", data={"username": "dave"})
    with secure_signalr.test_client(secure, "secure", flask_client=flask_client) as client, ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda n: client.invoke("slow", n, 0.05), range(12)))
    assert results == list(range(12))


def test_lookup_by_class_and_function_and_cleanup(sample) -> None:
    before = _thread_count()
    client = testing.test_client(sample, ChatHub, protocol="messagepack")
    assert client.registration.name == "chat"
    assert _thread_count() > before  # the client's WebSocket thread
    client.close()
    client.close()
    assert _wait_thread_count(before) <= before
    with pytest.raises(LookupError):
        testing.test_client(sample, "nohub")
