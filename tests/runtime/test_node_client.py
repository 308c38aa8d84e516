"""The official ``@microsoft/signalr`` client (Node.js) against the runtime through the emulator.

The full conformance list (hub-protocol §5) over WebSockets/JSON; one representative scenario for
every transport × protocol the client allows (MessagePack never uses SSE), in both execution models.
"""

from __future__ import annotations

import pytest

from tests.fixtures.node_client import NodeClientError

pytestmark = pytest.mark.timeout(90)


def test_conformance_list_over_websockets_json(patched_app, node_client):
    app = patched_app
    client = node_client(app.hub_url)
    client.on("ReceiveMessage")
    client.on("GetValue", result=10)
    connection_id = client.start()
    assert connection_id

    assert client.invoke("Echo", "hi") == "hi"  # C06
    assert client.invoke("Void") is None  # C07
    assert client.invoke("echo", "x") == "x"  # C08
    with pytest.raises(NodeClientError) as unknown:  # C09
        client.invoke("Nope")
    assert unknown.value.message == (
        "Failed to invoke 'Nope' due to an error on the server. HubException: Method does not exist."
    )
    with pytest.raises(NodeClientError) as count:  # C10
        client.invoke("Add", 1)
    assert count.value.message == "Failed to invoke 'Add' due to an error on the server."
    with pytest.raises(NodeClientError) as generic:  # C11
        client.invoke("Fail")
    assert generic.value.message == "An unexpected error occurred invoking 'Fail' on the server."
    with pytest.raises(NodeClientError) as hub_error:
        client.invoke("FailHub")
    assert (
        hub_error.value.message
        == "An unexpected error occurred invoking 'FailHub' on the server. HubException: boom"
    )
    client.send("Fail")  # C12
    assert client.invoke("Echo", 1) == 1
    assert client.stream("Counter", 3) == [0, 1, 2]  # C13
    with pytest.raises(NodeClientError) as streaming:  # C14
        client.invoke("Counter", 3)
    assert streaming.value.message == (
        "The client attempted to invoke the streaming 'Counter' method with a non-streaming invocation."
    )
    with pytest.raises(NodeClientError) as non_streaming:
        client.stream("Echo", 1)
    assert non_streaming.value.message == (
        "The client attempted to invoke the non-streaming 'Echo' method with a streaming invocation."
    )
    assert client.stream("Endless", take=2) == [0, 1]  # C15
    app.wait_for_event(lambda e: e[0] == "endless-stopped" and e[1] == connection_id)
    assert client.invoke("Echo", "usable") == "usable"
    assert client.upload("Sum", [1, 2, 3]) == 6  # C16
    client.invoke("Notify", "hello")  # C17 (handler registered as ReceiveMessage, server sends ReceiveMessage)
    assert client.wait_for_message("receivemessage") == [["hello"]]
    assert client.invoke("AskClient") == 10  # C18
    assert client.wait_for_message("GetValue") == [[5]]
    context = client.invoke("GetContext")
    assert context["connectionId"] == connection_id
    client.stop()  # C32
    assert client.wait_closed() is None
    app.wait_for_event(lambda e: e == ["disconnected", connection_id, None])


def test_client_result_without_handler(patched_app, node_client):
    client = node_client(patched_app.hub_url)
    client.start()
    with pytest.raises(NodeClientError) as missing:  # C19
        client.invoke("AskClient")
    assert missing.value.message == (
        "An unexpected error occurred invoking 'AskClient' on the server. HubException: Client didn't provide a result."
    )


def test_abort_does_not_reconnect(patched_app, node_client):
    client = node_client(patched_app.hub_url, automatic_reconnect=True)  # C28
    client.start()
    client.send("Abort")
    assert client.wait_closed() is None
    assert not [e for e in client.events() if e["event"] == "reconnecting"]


def test_connect_hook_failure(patched_app, node_client):
    client = node_client(patched_app.hub_url + "?failconnect=1", automatic_reconnect=True)  # C29
    expected = "Server returned an error on close: Connection closed with an error. HubException: not welcome"
    try:
        client.start()
    except NodeClientError as error:
        assert error.message == expected
    else:
        assert client.wait_closed() == expected
    assert not [e for e in client.events() if e["event"] == "reconnecting"]


def test_groups_are_case_sensitive(patched_app, node_client):
    first, second = node_client(patched_app.hub_url), node_client(patched_app.hub_url)  # C39
    for client in (first, second):
        client.on("ReceiveMessage")
        client.start()
        client.invoke("JoinGroup", "g")
    first.invoke("SendGroup", "G", "upper")
    first.invoke("SendGroup", "g", "lower")
    assert first.wait_for_message("ReceiveMessage") == [["lower"]]
    assert second.wait_for_message("ReceiveMessage") == [["lower"]]
    second.invoke("LeaveGroup", "g")
    first.invoke("SendGroup", "g", "after")
    assert first.wait_for_message("ReceiveMessage", 2) == [["lower"], ["after"]]
    assert second.invoke("Echo", "sync") == "sync"
    assert second.messages("ReceiveMessage") == [["lower"]]


@pytest.mark.parametrize(
    ("transport", "protocol"),
    [
        ("webSockets", "messagepack"),
        ("serverSentEvents", "json"),
        ("longPolling", "json"),
        ("longPolling", "messagepack"),
        ("webSockets", "json"),
    ],
)
def test_each_transport_and_protocol(app, node_client, transport, protocol):
    client = node_client(app.hub_url, transport=transport, protocol=protocol)
    client.on("ReceiveMessage")
    client.on("GetValue", result="answer")
    connection_id = client.start()
    assert client.invoke("Echo", "hi") == "hi"
    if protocol == "messagepack":
        assert client.invoke("Echo", b"\x01\x02") == b"\x01\x02"
    assert client.stream("Counter", 2) == [0, 1]
    assert client.upload("Sum", [4, 5]) == 9
    client.invoke("Notify", "n")
    assert client.wait_for_message("ReceiveMessage") == [["n"]]
    assert client.invoke("AskClient") == "answer"
    with pytest.raises(NodeClientError) as error:
        client.invoke("FailHub")
    assert error.value.message.endswith("HubException: boom")
    client.stop()
    assert client.wait_closed() is None
    app.wait_for_event(lambda e: e[:2] == ["disconnected", connection_id])


def test_reconnect_after_the_service_restarts(emulator, app_server, node_client):
    app = app_server(emulator.connection_string)
    client = node_client(app.hub_url, automatic_reconnect=[0, 1000, 1000, 1000, 2000, 2000, 2000, 2000, 2000])
    first_id = client.start()
    assert client.invoke("Echo", 1) == 1
    emulator.restart()
    client.wait_reconnecting()
    second_id = client.wait_reconnected(timeout=40)
    assert second_id != first_id
    assert client.invoke("Echo", 2) == 2
    app.wait_for_event(lambda e: e[:2] == ["disconnected", first_id])
