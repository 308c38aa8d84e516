"""Two app servers behind one service: messages for users, groups and everyone reach clients on
either server, and a client result crosses servers (service-protocol §7.1, §7.6)."""

from __future__ import annotations

import pytest

from flask_azure_signalr.protocol.hub_messages import (
    CompletionMessage,
    InvocationMessage,
)

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def pair(emulator, app_server, connect):
    """Two servers and one client on each (the service picks the server; connect until it did)."""
    first = app_server(emulator.connection_string, mode="patched")
    second = app_server(emulator.connection_string, mode="thread")
    pids: dict[int, object] = {}
    for attempt in range(40):
        client = connect(first, query=f"user=user{attempt}")
        pids.setdefault(client.invoke("GetContext")["server"], client)
        if len(pids) == 2:
            break
    assert len(pids) == 2, "the service never spread clients over both servers"
    return first, second, list(pids.values())


def test_routing_across_servers(pair):
    first, second, (x, y) = pair
    x.invoke("SendAll", "everyone")
    for client in (x, y):
        assert client.wait_received("ReceiveMessage") == [["everyone"]]
    y_user = y.invoke("GetContext")["user"]
    x.invoke("SendUser", y_user, "user")
    assert y.wait_received("ReceiveMessage", 2)[-1] == ["user"]
    y.invoke("JoinGroup", "shared")
    x.invoke("JoinGroup", "shared")
    x.invoke("SendOthersInGroup", "shared", "group")
    assert y.wait_received("ReceiveMessage", 3)[-1] == ["group"]
    x.invoke("SendClient", y.connection_id, "direct")
    assert y.wait_received("ReceiveMessage", 4)[-1] == ["direct"]
    first.post(
        "/send", {"target": "group", "value": ["shared"], "method": "ReceiveMessage", "args": ["from view"]}
    )
    assert x.wait_received("ReceiveMessage", 2)[-1] == ["from view"]
    assert y.wait_received("ReceiveMessage", 5)[-1] == ["from view"]
    assert [args[0] for args in x.received("ReceiveMessage")] == ["everyone", "from view"]


def test_client_result_across_servers(pair):
    _first, _second, (x, y) = pair
    invocation = x.start_invocation("AskOther", y.connection_id)
    request = y.wait_for(lambda m: isinstance(m, InvocationMessage) and m.target == "GetValue")
    assert request.arguments == [7]
    y.send(CompletionMessage.with_result(request.invocation_id, "from the other server"))
    assert x.completion(invocation).result == "from the other server"
    failing = x.start_invocation("AskOther", y.connection_id)
    request = y.wait_for(
        lambda m: (
            isinstance(m, InvocationMessage)
            and m.target == "GetValue"
            and m.invocation_id != request.invocation_id
        )
    )
    y.send(CompletionMessage.with_error(request.invocation_id, "Error: nope"))
    assert x.completion(failing).error == (
        "An unexpected error occurred invoking 'AskOther' on the server. HubException: Error: nope"
    )
