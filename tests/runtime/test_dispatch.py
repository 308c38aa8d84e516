"""Hub dispatch end to end: raw client → emulator → app server (both execution models) and back.

Exact texts from hub-protocol §3.3; lifecycle order §3.1; streaming §3.4; close rules §3.6.
"""

from __future__ import annotations

import time

import pytest

from flask_azure_signalr.protocol.hub_messages import (
    CancelInvocationMessage,
    CloseMessage,
    CompletionMessage,
    InvocationMessage,
    StreamInvocationMessage,
    StreamItemMessage,
)

pytestmark = pytest.mark.timeout(60)


def test_results_void_and_case_insensitive_names(app, connect):
    client = connect(app)
    assert client.handshake_response.ok
    assert client.invoke("Echo", "hi") == "hi"
    assert client.invoke("echo", "x") == "x"
    assert client.invoke("ADD", 2, 3) == 5
    completion = client.completion(client.start_invocation("Void"))
    assert completion.has_result and completion.result is None and completion.error is None


def test_exact_error_texts(app, connect):
    client = connect(app)
    with pytest.raises(RuntimeError) as unknown:
        client.invoke("Nope")
    assert (
        str(unknown.value)
        == "Failed to invoke 'Nope' due to an error on the server. HubException: Method does not exist."
    )
    with pytest.raises(RuntimeError) as count:
        client.invoke("Add", 1)
    assert str(count.value) == "Failed to invoke 'Add' due to an error on the server."
    with pytest.raises(RuntimeError) as generic:
        client.invoke("Fail")
    assert str(generic.value) == "An unexpected error occurred invoking 'Fail' on the server."
    with pytest.raises(RuntimeError) as hub_error:
        client.invoke("FailHub")
    assert (
        str(hub_error.value) == "An unexpected error occurred invoking 'FailHub' on the server. HubException: boom"
    )
    with pytest.raises(RuntimeError) as streaming:
        client.invoke("Counter", 3)
    assert str(streaming.value) == (
        "The client attempted to invoke the streaming 'Counter' method with a non-streaming invocation."
    )
    echo_stream = client.stream("Echo", 1)
    assert client.completion(echo_stream).error == (
        "The client attempted to invoke the non-streaming 'Echo' method with a streaming invocation."
    )
    assert client.invoke("Echo", "still open") == "still open"


def test_detailed_errors_option(emulator, app_server, connect):
    detailed = app_server(emulator.connection_string, options={"enable_detailed_errors": True})
    client = connect(detailed)
    with pytest.raises(RuntimeError) as generic:
        client.invoke("Fail")
    assert (
        str(generic.value)
        == "An unexpected error occurred invoking 'Fail' on the server. ValueError: secret detail"
    )
    with pytest.raises(RuntimeError) as count:
        client.invoke("Add", 1)
    assert str(count.value) == (
        "Failed to invoke 'Add' due to an error on the server. "
        "InvalidDataException: Invocation provides 1 argument(s) but target expects 2."
    )


def test_non_blocking_invocations_get_no_reply(app, connect):
    client = connect(app)
    client.fire("Fail")
    client.fire("Nope")
    client.fire("Echo", 1)
    assert client.invoke("Echo", 2) == 2
    completions = [m for m in client.messages if isinstance(m, CompletionMessage)]
    assert len(completions) == 1


def test_server_stream_and_errors(app, connect):
    client = connect(app)
    counter = client.stream("Counter", 3)
    end = client.completion(counter)
    assert end.error is None and not end.has_result
    assert client.stream_items(counter) == [0, 1, 2]
    failing = client.stream("FailStream")
    assert client.completion(failing).error == "An error occurred on the server while streaming results."
    assert client.stream_items(failing) == [1]


def test_cancel_stops_the_producer(app, connect):
    client = connect(app)
    endless = client.stream("Endless")
    client.wait_for(lambda m: isinstance(m, StreamItemMessage) and m.invocation_id == endless and m.item == 2)
    client.send(CancelInvocationMessage(invocation_id=endless))
    end = client.completion(endless)
    assert end.error is None and not end.has_result
    app.wait_for_event(lambda e: e[0] == "endless-stopped" and e[1] == client.connection_id)
    assert client.invoke("Echo", 1) == 1  # ordered after anything the stream could still have sent
    after_end = client.messages[client.messages.index(end) :]
    assert not [m for m in after_end if isinstance(m, StreamItemMessage)]


def test_upload_stream(app, connect):
    client = connect(app)
    invocation = client.start_invocation("Sum", stream_ids=("s1",))
    for value in (1, 2, 3):
        client.send(StreamItemMessage(invocation_id="s1", item=value))
    client.send(CompletionMessage.empty("s1"))
    assert client.completion(invocation).result == 6
    mismatch = client.start_invocation("Sum")
    assert client.completion(mismatch).error == (
        "An unexpected error occurred invoking 'Sum' on the server. HubException: Client sent 0 stream(s), "
        "Hub method expects 1."
    )
    failed = client.start_invocation("Sum", stream_ids=("s2",))
    client.send(StreamItemMessage(invocation_id="s2", item=1))
    client.send(CompletionMessage.with_error("s2", "client broke"))
    assert client.completion(failed).error == (
        "An unexpected error occurred invoking 'Sum' on the server. HubException: client broke"
    )


def test_duplicate_stream_invocation_id(app, connect):
    client = connect(app)
    client.send(StreamInvocationMessage(invocation_id="dup", target="Endless", arguments=[]))
    client.wait_for(lambda m: isinstance(m, StreamItemMessage) and m.invocation_id == "dup")
    client.send(StreamInvocationMessage(invocation_id="dup", target="Counter", arguments=[1]))
    assert (
        client.wait_for(lambda m: isinstance(m, CompletionMessage) and m.invocation_id == "dup" and m.error).error
        == "Invocation ID 'dup' is already in use."
    )
    client.send(CancelInvocationMessage(invocation_id="dup"))


def test_lifecycle_order_and_context(app, connect):
    client = connect(app, query="greet=hello&tag=t1", headers={"X-Test-Header": "h1"})
    assert client.wait_received("Greeting") == [["hello"]]
    assert isinstance(client.messages[0], InvocationMessage)
    context = client.invoke("GetContext")
    assert context["connectionId"] == client.connection_id
    assert context["query"] == "t1"
    assert context["header"] == "h1"
    assert client.invoke("GetContext")["calls"] == 2
    client.close()
    app.wait_for_event(lambda e: e == ["disconnected", client.connection_id, None])
    events = [e for e in app.events() if e[1] == client.connection_id]
    assert [e[0] for e in events] == ["connected", "disconnected"]


def test_connect_hook_failure_closes_without_reconnect(app, connect):
    client = connect(app, query="failconnect=1")
    close = client.close_message()
    assert close == CloseMessage(
        error="Connection closed with an error. HubException: not welcome", allow_reconnect=False
    )
    assert client.closed.wait(10)
    time.sleep(0.2)  # a negative check: give a wrongly spawned hook the time to show up
    assert not any(e[0] == "disconnected" and e[1] == client.connection_id for e in app.events())


def test_abort(app, connect):
    client = connect(app)
    client.fire("Abort")
    assert client.close_message() == CloseMessage()
    assert client.closed.wait(10)
    app.wait_for_event(lambda e: e == ["disconnected", client.connection_id, None])


def test_protocol_error_closes_with_allow_reconnect(app, connect):
    client = connect(app)
    client.send_raw(b'{"type":1,"target":\x1e', text=True)
    assert client.close_message() == CloseMessage(error="Connection closed with an error.", allow_reconnect=True)
    assert client.closed.wait(10)


def test_client_close_message_runs_disconnect_once(app, connect):
    client = connect(app)
    client.send(CloseMessage())
    app.wait_for_event(lambda e: e == ["disconnected", client.connection_id, None])
    time.sleep(0.2)  # a negative check: give a second call the time to show up
    assert sum(e[0] == "disconnected" and e[1] == client.connection_id for e in app.events()) == 1


def test_handshake_errors(app, connect):
    bad = connect(app, handshake=False)
    bad.send_raw(b'{"protocol":"foo","version":1}\x1e', text=True)
    assert bad.read_handshake().error == "The protocol 'foo' is not supported."
    version = connect(app, handshake=False)
    version.send_raw(b'{"protocol":"json","version":3}\x1e', text=True)
    assert version.read_handshake().error == "The server does not support version 3 of the 'json' protocol."


def test_handshake_and_invocation_in_one_frame(app, connect):
    client = connect(app, handshake=False)
    client.send_raw(
        b'{"protocol":"json","version":1}\x1e{"type":1,"invocationId":"7","target":"Echo","arguments":[5]}\x1e',
        text=True,
    )
    assert client.read_handshake().ok
    client.start_reading()
    assert client.completion("7").result == 5


def test_messagepack(app, connect):
    client = connect(app, protocol="messagepack")
    assert client.invoke("Echo", b"\x00\x01") == b"\x00\x01"
    counter = client.stream("Counter", 2)
    client.completion(counter)
    assert client.stream_items(counter) == [0, 1]
    client.invoke("Notify", "m")
    assert client.wait_received("ReceiveMessage") == [["m"]]


def test_keep_alive_and_client_timeout(emulator, app_server, connect):
    timed = app_server(emulator.connection_string, timing={"keep_alive_interval": 1.0, "client_timeout": 2.0})
    quiet = connect(timed)
    started = time.monotonic()
    quiet.wait_for(lambda m: m.__class__.__name__ == "PingMessage", timeout=5)
    assert 0.8 <= time.monotonic() - started < 3
    pinging = connect(timed)
    pinging.send_raw(b'{"type":6}\x1e')
    assert pinging.close_message(timeout=6) == CloseMessage(
        error="Connection closed with an error.", allow_reconnect=True
    )
