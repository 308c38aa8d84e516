"""Clients, Groups and client results end to end, from hub methods and from Flask views (HubContext).

Three raw clients: A and C belong to user ``alice``, B to ``bob``. After every send the sender
broadcasts a marker; since one client's traffic keeps its order through its server connection,
everything a client was sent before the marker has arrived once the marker has.
"""

from __future__ import annotations

import itertools
import threading
from typing import Any

import pytest

from flask_azure_signalr.protocol.hub_messages import (
    CompletionMessage,
    InvocationMessage,
)

from .raw_client import RawClient

pytestmark = pytest.mark.timeout(60)


class Room:
    """The three clients and the marker bookkeeping."""

    def __init__(self, a: RawClient, b: RawClient, c: RawClient) -> None:
        self.a, self.b, self.c = a, b, c
        self.everyone = (a, b, c)
        self._seen = {id(client): 0 for client in self.everyone}
        self._markers = itertools.count()

    def delivered(self, sender: RawClient) -> dict[str, list[Any]]:
        """Marker round; what each client received since the previous round (by name a/b/c)."""
        marker = f"mark-{next(self._markers)}"
        sender.invoke("SendAll", marker)
        result = {}
        for name, client in zip("abc", self.everyone, strict=True):
            client.wait_for(lambda m, marker=marker: isinstance(m, InvocationMessage) and m.arguments == [marker])
            messages = [args[0] for args in client.received("ReceiveMessage")]
            index = messages.index(marker)
            result[name] = messages[self._seen[id(client)] : index]
            self._seen[id(client)] = index + 1
        return result

    def send(self, sender: RawClient, method: str, *args: Any) -> dict[str, list[Any]]:
        sender.invoke(method, *args)
        return self.delivered(sender)


@pytest.fixture
def room(app, connect) -> Room:
    return Room(
        connect(app, query="user=alice"),
        connect(app, query="user=bob", protocol="messagepack"),
        connect(app, query="user=alice"),
    )


def test_every_target_from_a_hub_method(room):
    a, b, c = room.a, room.b, room.c
    assert a.invoke("GetContext")["user"] == "alice"
    assert b.invoke("GetContext")["claims"] == [["nameid", "bob"], ["role", "tester"]]
    assert room.send(a, "SendAll", "all") == {"a": ["all"], "b": ["all"], "c": ["all"]}
    assert room.send(a, "SendOthers", "others") == {"a": [], "b": ["others"], "c": ["others"]}
    assert room.send(a, "SendAllExcept", [b.connection_id], "x") == {"a": ["x"], "b": [], "c": ["x"]}
    assert room.send(a, "SendClient", b.connection_id, "one") == {"a": [], "b": ["one"], "c": []}
    assert room.send(a, "SendClients", [a.connection_id, b.connection_id], "two") == {
        "a": ["two"],
        "b": ["two"],
        "c": [],
    }
    assert room.send(b, "SendUser", "alice", "u") == {"a": ["u"], "b": [], "c": ["u"]}
    assert room.send(b, "SendUsers", ["alice", "bob"], "us") == {"a": ["us"], "b": ["us"], "c": ["us"]}
    a.invoke("JoinGroup", "g1")
    b.invoke("JoinGroup", "g1")
    c.invoke("JoinGroup", "g2")
    assert room.send(c, "SendGroup", "g1", "g") == {"a": ["g"], "b": ["g"], "c": []}
    assert room.send(c, "SendGroups", ["g1", "g2"], "gs") == {"a": ["gs"], "b": ["gs"], "c": ["gs"]}
    assert room.send(c, "SendGroupExcept", "g1", [a.connection_id], "ge") == {"a": [], "b": ["ge"], "c": []}
    assert room.send(a, "SendOthersInGroup", "g1", "oig") == {"a": [], "b": ["oig"], "c": []}
    c.invoke("JoinUserGroup", "ug")
    assert room.send(b, "SendGroup", "ug", "user group") == {"a": ["user group"], "b": [], "c": ["user group"]}
    a.invoke("LeaveGroup", "g1")
    assert room.send(c, "SendGroup", "g1", "left") == {"a": [], "b": ["left"], "c": []}
    with pytest.raises(RuntimeError) as empty:  # ValueError("Cannot send to an empty group name.") in the hub
        a.invoke("SendGroups", ["g1", ""], "bad")
    assert str(empty.value) == "An unexpected error occurred invoking 'SendGroups' on the server."


def test_hub_context_from_views(app, room):
    """Sends from views have no caller flow: no order among them (§7.1), so wait for each one."""
    a, b, c = room.a, room.b, room.c
    assert app.post("/send", {"target": "all", "method": "ReceiveMessage", "args": ["view"]}) == {"ok": True}
    app.post("/send", {"target": "user", "value": ["bob"], "method": "ReceiveMessage", "args": ["to bob"]})
    app.post(
        "/send", {"target": "client", "value": [a.connection_id], "method": "ReceiveMessage", "args": ["to a"]}
    )
    assert app.post("/groups", {"action": "add_to_group", "args": [b.connection_id, "view-group"]}) == {"ok": True}
    app.post("/send", {"target": "group", "value": ["view-group"], "method": "ReceiveMessage", "args": ["vg"]})
    app.post(
        "/send", {"target": "all_except", "value": [[a.connection_id]], "method": "ReceiveMessage", "args": ["ae"]}
    )
    expected = {"a": {"view", "to a"}, "b": {"view", "to bob", "vg", "ae"}, "c": {"view", "ae"}}
    for name, client in zip("abc", (a, b, c), strict=True):
        client.wait_received("ReceiveMessage", len(expected[name]))
    delivered = room.delivered(a)
    assert {name: set(messages) for name, messages in delivered.items()} == expected


def test_client_results(app, room):
    a, b = room.a, room.b

    def answer(client: RawClient, value: Any) -> None:
        request = client.wait_for(lambda m: isinstance(m, InvocationMessage) and m.target == "GetValue")
        client.send(CompletionMessage.with_result(request.invocation_id, value))

    responder = threading.Thread(target=answer, args=(b, 21))
    responder.start()
    assert a.invoke("AskOther", b.connection_id) == 21
    responder.join(5)
    request = b.wait_for(lambda m: isinstance(m, InvocationMessage) and m.target == "GetValue")
    assert request.arguments == [7] and request.invocation_id.startswith(b.connection_id + "-")

    from_view: dict[str, Any] = {}
    caller = threading.Thread(
        target=lambda: from_view.update(
            app.post("/invoke", {"connection_id": a.connection_id, "method": "GetValue", "args": [1]})
        )
    )
    caller.start()
    request = a.wait_for(lambda m: isinstance(m, InvocationMessage) and m.target == "GetValue")
    a.send(CompletionMessage.with_error(request.invocation_id, "Client didn't provide a result."))
    caller.join(10)
    assert from_view == {"error": "Client didn't provide a result.", "type": "InvocationError"}
    assert (
        app.post("/invoke", {"connection_id": a.connection_id, "method": "GetValue", "timeout": 0.5})["type"]
        == "InvocationError"
    )


def test_group_membership_of_unknown_connection_is_not_an_error(app):
    assert app.post("/groups", {"action": "add_to_group", "args": ["no-such-connection", "g"]}) == {"ok": True}
    assert app.post("/groups", {"action": "remove_from_group", "args": ["no-such-connection", "g"]}) == {
        "ok": True
    }
