"""The client side over real sockets: negotiate, the three transports, status codes, limits."""

from __future__ import annotations

import http.client as httplib
import json
import socket
import threading
import time
from urllib.parse import urlsplit

import pytest
import websocket

from flask_azure_signalr.emulator.client_connections import NO_SERVER_ERROR
from flask_azure_signalr.protocol import service_messages as sm
from flask_azure_signalr.protocol.handshake import HANDSHAKE_CANCELED
from flask_azure_signalr.protocol.hub import JSON, MESSAGEPACK
from flask_azure_signalr.protocol.hub_messages import (
    CompletionMessage,
    InvocationMessage,
    PingMessage,
)

from .hub_client import HubClient, client_token, http
from .service_peer import payloads_of

pytestmark = pytest.mark.timeout(30)

HANDSHAKE_JSON = b'{"protocol":"json","version":1}\x1e'
HANDSHAKE_MSGPACK = b'{"protocol":"messagepack","version":1}\x1e'


def wait_until(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


def negotiate(emulator, token: str, query: str = "&negotiateVersion=1", hub: str = "chat", method: str = "POST"):
    status, headers, body = http(method, f"{emulator.endpoint}/client/negotiate?hub={hub}{query}", token=token)
    return status, headers, body


class Stream:
    """A streaming GET (Server-Sent Events) read line by line."""

    def __init__(self, url: str, token: str | None = None, accept: str = "text/event-stream") -> None:
        parts = urlsplit(url)
        self.connection = httplib.HTTPConnection(parts.hostname, parts.port, timeout=10)
        headers = {"Accept": accept}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.connection.request("GET", f"{parts.path}?{parts.query}", headers=headers)
        self.sock = self.connection.sock
        self.response = self.connection.getresponse()

    def line(self) -> bytes:
        return self.response.readline()

    def event(self) -> bytes:
        """The data of the next event (comment lines skipped)."""
        data = []
        while True:
            line = self.line()
            assert line, "stream ended"
            if line == b"\r\n":
                if data:
                    return b"\n".join(data)
                continue
            if line.startswith(b":"):
                continue
            assert line.startswith(b"data: ")
            data.append(line[6:-2])

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # the server already ended the stream
        self.response.close()
        self.sock.close()


# ----------------------------------------------------------------------------- negotiate


def test_negotiate_v1(fast_emulator) -> None:
    token = client_token(fast_emulator.connection_string, "chat")
    status, headers, body = negotiate(fast_emulator, token)
    assert status == 200 and headers["Content-Type"] == "application/json"
    response = json.loads(body)
    assert response["negotiateVersion"] == 1
    assert response["connectionToken"] != response["connectionId"]
    assert len(response["connectionId"]) == 22
    assert response["availableTransports"] == [
        {"transport": "WebSockets", "transferFormats": ["Text", "Binary"]},
        {"transport": "ServerSentEvents", "transferFormats": ["Text"]},
        {"transport": "LongPolling", "transferFormats": ["Text", "Binary"]},
    ]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", {"negotiateVersion": 0}),
        ("&negotiateVersion=7", {"negotiateVersion": 1}),
        ("&negotiateVersion=x", {"error": "The client requested a non-integer protocol version."}),
        ("&negotiateVersion=-1", {"error": "The client requested version '-1', but the server does not support this version."}),
    ],
)
def test_negotiate_versions(fast_emulator, query: str, expected: dict) -> None:
    token = client_token(fast_emulator.connection_string, "chat")
    status, _, body = negotiate(fast_emulator, token, query)
    response = json.loads(body)
    assert status == 200
    for key, value in expected.items():
        assert response[key] == value
    if expected.get("negotiateVersion") == 0:
        assert "connectionToken" not in response


def test_negotiate_errors(fast_emulator) -> None:
    token = client_token(fast_emulator.connection_string, "chat")
    assert negotiate(fast_emulator, token, method="GET")[0] == 405
    assert negotiate(fast_emulator, None)[0] == 401
    assert negotiate(fast_emulator, client_token(fast_emulator.connection_string, "other"))[0] == 401
    status, _, body = negotiate(fast_emulator, token, hub="1bad")
    assert status == 400 and b"hub" in body
    status, _, body = http("POST", f"{fast_emulator.endpoint}/client/negotiate?hub=chat&access_token={token}")
    assert status == 200 and json.loads(body)["negotiateVersion"] == 0


def test_negotiate_refuses_an_expired_token(fast_emulator) -> None:
    from flask_azure_signalr.endpoints import ServiceEndpoint
    from flask_azure_signalr.tokens import generate_client_token

    endpoint = ServiceEndpoint(fast_emulator.connection_string)
    token = generate_client_token(endpoint, "chat", {}, now=time.time() - 7200)
    status, _, body = negotiate(fast_emulator, token)
    assert status == 401 and b"expired" in body


def test_transports_limited_by_the_htt_claim(fast_emulator) -> None:
    token = client_token(fast_emulator.connection_string, "chat", {"asrs.s.htt": "4"})
    response = json.loads(negotiate(fast_emulator, token)[2])
    assert [t["transport"] for t in response["availableTransports"]] == ["LongPolling"]
    url = f"{fast_emulator.endpoint}/client/?hub=chat&id={response['connectionToken']}".replace("http", "ws")
    with pytest.raises(websocket.WebSocketBadStatusException) as error:
        websocket.create_connection(url, header=[f"Authorization: Bearer {token}"])
    assert error.value.status_code == 404
    assert error.value.resp_body == b"WebSockets transport not supported by this end point type"


# ----------------------------------------------------------------------------- WebSockets


def test_websocket_json_and_what_the_server_sees(fast_emulator, make_peer) -> None:
    peer = make_peer(fast_emulator.connection_string)
    token = client_token(fast_emulator.connection_string, "chat", {"asrs.s.uid": "alice", "role": ["a", "b"]})
    client = HubClient(fast_emulator.endpoint, "chat", token)
    response = client.negotiate()
    url = (f"{fast_emulator.endpoint}/client/?hub=chat&asrs.op=%2Fchat&asrs_request_id=r1"
           f"&id={response['connectionToken']}").replace("http", "ws")
    ws = websocket.create_connection(url, header=[f"Authorization: Bearer {token}", "User-Agent: test-agent"])
    invocation = JSON.encode(InvocationMessage(target="Echo", arguments=["x"], invocation_id="1"))
    ws.send(HANDSHAKE_JSON.decode() + invocation.decode())
    opcode, data = ws.recv_data()
    assert opcode == websocket.ABNF.OPCODE_TEXT
    assert data.startswith(b"{}\x1e")
    if len(data) == 3:
        opcode, data = ws.recv_data()
    else:
        data = data[3:]
    assert JSON.decode(data) == [CompletionMessage.with_result("1", "x")]
    opened = peer.wait_for(sm.OpenConnection)
    assert opened.connection_id == response["connectionId"]
    assert opened.protocol == "json"
    assert opened.query_string.startswith("?hub=chat&asrs.op=%2Fchat&asrs_request_id=r1")
    assert opened.header("User-Agent") == "test-agent"
    assert opened.header("Authorization") is None
    assert opened.header("X-Forwarded-For") == "127.0.0.1"
    assert ("asrs.s.uid", "alice") in opened.claims
    assert [v for k, v in opened.claims if k == "role"] == ["a", "b"]
    first = peer.wait_for(sm.ConnectionData, lambda m: m.connection_id == opened.connection_id)
    assert first.payload == HANDSHAKE_JSON + invocation
    ws.close()
    assert peer.wait_for(sm.CloseConnection).connection_id == opened.connection_id


def test_messagepack_frames_are_binary_and_a_text_handshake_is_accepted(fast_emulator, make_peer, make_client) -> None:
    make_peer(fast_emulator.connection_string)
    client = make_client(fast_emulator, protocol="messagepack")
    assert client.invoke("Echo", b"\x00\x01") == b"\x00\x01"
    assert all(opcode == websocket.ABNF.OPCODE_BINARY for opcode, _ in client.frames)
    json_client = make_client(fast_emulator)
    json_client.invoke("Broadcast", "hi")
    assert json_client.received_invocation("Receive").arguments == ["hi"]
    assert client.received_invocation("Receive").arguments == ["hi"]
    assert all(opcode == websocket.ABNF.OPCODE_TEXT for opcode, _ in json_client.frames)


def test_id_less_websocket_after_redirect(fast_emulator, make_peer) -> None:
    peer = make_peer(fast_emulator.connection_string)
    token = client_token(fast_emulator.connection_string, "chat")
    url = f"{fast_emulator.endpoint}/client/?hub=chat&asrs.op=%2Fchat".replace("http", "ws")
    ws = websocket.create_connection(url, header=[f"Authorization: Bearer {token}"])
    ws.send_binary(b'{"protocol": "messagepack", "version": 1}\x1e')
    assert ws.recv() == b"{}\x1e"
    assert peer.wait_for(sm.OpenConnection).protocol == "messagepack"
    ws.close()


def test_websocket_status_codes(fast_emulator, make_peer) -> None:
    make_peer(fast_emulator.connection_string)
    token = client_token(fast_emulator.connection_string, "chat")
    base = f"{fast_emulator.endpoint}/client/?hub=chat"
    header = [f"Authorization: Bearer {token}"]
    with pytest.raises(websocket.WebSocketBadStatusException) as error:
        websocket.create_connection(f"{base}&id=unknown".replace("http", "ws"), header=header)
    assert (error.value.status_code, error.value.resp_body) == (404, b"No Connection with that ID")
    with pytest.raises(websocket.WebSocketBadStatusException) as error:
        websocket.create_connection(base.replace("http", "ws"))
    assert error.value.status_code == 401
    key = json.loads(negotiate(fast_emulator, token)[2])["connectionToken"]
    ws = websocket.create_connection(f"{base}&id={key}".replace("http", "ws"), header=header)
    with pytest.raises(websocket.WebSocketBadStatusException) as error:
        websocket.create_connection(f"{base}&id={key}".replace("http", "ws"), header=header)
    assert error.value.status_code == 409
    status, _, body = http("POST", f"{base}&id={key}", token=token, body=b"x")
    assert (status, body) == (405, b"POST requests are not allowed for WebSocket connections.")
    status, _, body = http("DELETE", f"{base}&id={key}", token=token)
    assert (status, body) == (400, b"Cannot terminate this connection using the DELETE endpoint.")
    status, _, body = http("GET", f"{base}&id={key}", token=token)
    assert (status, body) == (400, b"Cannot change transports mid-connection")
    assert http("PUT", f"{base}&id={key}", token=token)[0] == 405
    for method in ("GET", "POST", "DELETE"):
        status, _, body = http(method, base, token=token)
        assert (status, body) == (400, b"Connection ID required")
    ws.close()


def test_no_app_server_gets_the_service_error(fast_emulator, make_client) -> None:
    client = make_client(fast_emulator, connect=False)
    client.connect(handshake=False)
    client.send_raw(HANDSHAKE_JSON)
    assert client.closed.wait(5)
    assert client.frames[0] == (websocket.ABNF.OPCODE_TEXT, json.dumps({"error": NO_SERVER_ERROR}, separators=(",", ":")).encode() + b"\x1e")


def test_handshake_timeout_and_bad_handshakes(fast_emulator, make_peer, make_client) -> None:
    peer = make_peer(fast_emulator.connection_string)
    silent = make_client(fast_emulator, connect=False).connect(handshake=False)
    assert silent.closed.wait(5)
    assert silent.frames[0][1] == b'{"error":"Handshake was canceled."}\x1e'
    assert HANDSHAKE_CANCELED in silent.frames[0][1].decode()
    broken = make_client(fast_emulator, connect=False).connect(handshake=False)
    broken.send_raw(b"not json\x1e")
    assert broken.closed.wait(5)
    assert broken.frames[0][1] == b'{"error":"An unexpected error occurred during connection handshake."}\x1e'
    unknown = make_client(fast_emulator, connect=False).connect(handshake=False)
    unknown.send_raw(b'{"protocol":"foo","version":1}\x1e')
    assert unknown.closed.wait(5)
    assert unknown.frames[0][1] == b'{"error":"The protocol \'foo\' is not supported."}\x1e'
    assert peer.received(sm.OpenConnection) == []


def test_handshake_split_across_frames(fast_emulator, make_peer, make_client) -> None:
    make_peer(fast_emulator.connection_string)
    client = make_client(fast_emulator, connect=False).connect(handshake=False)
    client.send_raw(HANDSHAKE_JSON[:10])
    client.send_raw(HANDSHAKE_JSON[10:])
    client.send_raw(JSON.encode(InvocationMessage(target="Echo", arguments=[5], invocation_id="9")))
    completion = client.wait_for(lambda m: isinstance(m, CompletionMessage))
    assert completion.result == 5
    assert client.frames[0][1].startswith(b"{}\x1e")


def test_websocket_keep_alive_ping_frames(fast_emulator, make_peer) -> None:
    make_peer(fast_emulator.connection_string)
    token = client_token(fast_emulator.connection_string, "chat")
    url = f"{fast_emulator.endpoint}/client/?hub=chat".replace("http", "ws")
    ws = websocket.create_connection(url, header=[f"Authorization: Bearer {token}"], timeout=5)
    ws.send(HANDSHAKE_JSON.decode())
    assert ws.recv() == "{}\x1e"
    opcode, _ = ws.recv_data(control_frame=True)
    assert opcode == websocket.ABNF.OPCODE_PING
    ws.close()


def test_malformed_client_frames_close_only_that_client(fast_emulator, make_peer, make_client) -> None:
    peer = make_peer(fast_emulator.connection_string)
    bad = make_client(fast_emulator)
    good = make_client(fast_emulator)
    bad_id = peer.received(sm.OpenConnection)[0].connection_id
    assert bad.ws is not None
    bad.ws.sock.sendall(b"\x8f\x80\x00\x00\x00\x00")  # reserved opcode 0xF, masked, empty
    assert bad.closed.wait(5)
    assert peer.wait_for(sm.CloseConnection, lambda m: m.connection_id == bad_id)
    assert good.invoke("Echo", "ok") == "ok"


def test_a_slow_client_is_dropped(fast_emulator, make_peer, make_client) -> None:
    peer = make_peer(fast_emulator.connection_string)
    token = client_token(fast_emulator.connection_string, "chat")
    url = f"{fast_emulator.endpoint}/client/?hub=chat".replace("http", "ws")
    slow = websocket.create_connection(url, header=[f"Authorization: Bearer {token}"], timeout=5)
    slow.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.send(HANDSHAKE_JSON.decode())
    assert slow.recv() == "{}\x1e"
    slow_id = peer.wait_for(sm.OpenConnection).connection_id
    fast = make_client(fast_emulator)
    big = payloads_of("Receive", "x" * 65536)
    for _ in range(400):
        peer.send(sm.MultiConnectionData(connection_list=(slow_id,), payloads=big))
        if peer.received(sm.CloseConnection):
            break
    closed = peer.wait_for(sm.CloseConnection, lambda m: m.connection_id == slow_id, timeout=20)
    assert "too slow" in closed.error_message
    assert fast.invoke("Echo", "alive") == "alive"
    slow.sock.close()


# ----------------------------------------------------------------------------- Server-Sent Events


def test_server_sent_events(fast_emulator, make_peer) -> None:
    peer = make_peer(fast_emulator.connection_string)
    token = client_token(fast_emulator.connection_string, "chat")
    key = json.loads(negotiate(fast_emulator, token)[2])["connectionToken"]
    base = f"{fast_emulator.endpoint}/client/?hub=chat&id={key}"
    stream = Stream(f"{base}&access_token={token}")
    assert stream.response.status == 200
    assert stream.response.getheader("Content-Type") == "text/event-stream"
    assert stream.response.getheader("Cache-Control") == "no-cache"
    assert stream.line() == b":\r\n"
    assert http("POST", base, token=token, body=HANDSHAKE_JSON)[0] == 200
    assert stream.event() == b"{}\x1e"
    body = JSON.encode(InvocationMessage(target="Echo", arguments=["line1\nline2"], invocation_id="1"))
    assert http("POST", base, token=token, body=body)[0] == 200
    assert JSON.decode(stream.event()) == [CompletionMessage.with_result("1", "line1\nline2")]
    second = Stream(f"{base}&access_token={token}")
    assert second.response.status == 409
    opened = peer.wait_for(sm.OpenConnection)
    stream.close()
    assert peer.wait_for(sm.CloseConnection, lambda m: m.connection_id == opened.connection_id, timeout=3)


def test_sse_keep_alive_and_messagepack_refused(fast_emulator, make_peer) -> None:
    make_peer(fast_emulator.connection_string)
    token = client_token(fast_emulator.connection_string, "chat")
    key = json.loads(negotiate(fast_emulator, token)[2])["connectionToken"]
    base = f"{fast_emulator.endpoint}/client/?hub=chat&id={key}"
    stream = Stream(base, token=token)
    assert stream.line() == b":\r\n"
    assert stream.line() == b":\r\n"  # keep-alive comment after client_keepalive_interval
    http("POST", base, token=token, body=HANDSHAKE_MSGPACK)
    error = json.loads(stream.event()[:-1])
    assert error == {"error": "Cannot use the 'messagepack' protocol on the current transport. "
                              "The transport does not support 'Binary' transfer format."}
    assert stream.line() == b""  # the stream ended
    stream.close()


def test_sse_with_negotiate_v0_uses_the_connection_id(fast_emulator, make_peer) -> None:
    make_peer(fast_emulator.connection_string)
    token = client_token(fast_emulator.connection_string, "chat")
    response = json.loads(negotiate(fast_emulator, token, query="")[2])
    stream = Stream(f"{fast_emulator.endpoint}/client/?hub=chat&id={response['connectionId']}", token=token)
    assert stream.response.status == 200
    stream.close()


# ----------------------------------------------------------------------------- Long Polling


def test_long_polling(fast_emulator, make_peer) -> None:
    peer = make_peer(fast_emulator.connection_string)
    token = client_token(fast_emulator.connection_string, "chat", {"asrs.s.ttl": "5"})
    key = json.loads(negotiate(fast_emulator, token)[2])["connectionToken"]
    base = f"{fast_emulator.endpoint}/client/?hub=chat&id={key}"
    started = time.monotonic()
    status, headers, body = http("GET", f"{base}&_=1", token=token)
    assert (status, body) == (200, b"") and time.monotonic() - started < 0.4
    assert headers["Cache-Control"] == "no-cache, no-store"
    assert http("POST", base, token=token, body=HANDSHAKE_MSGPACK)[0] == 200
    status, _, body = http("GET", f"{base}&_=2", token=token)
    assert (status, body) == (200, b"{}\x1e")
    started = time.monotonic()
    status, _, body = http("GET", f"{base}&_=3", token=token)
    assert (status, body) == (200, b"") and time.monotonic() - started >= 0.45  # poll timeout
    peer.send(sm.BroadcastData(payloads=payloads_of("Receive", 1)))
    peer.send(sm.BroadcastData(payloads=payloads_of("Receive", 2)))
    received = []
    while len(received) < 2:
        status, headers, body = http("GET", f"{base}&_=4", token=token)
        assert status == 200 and headers["Content-Type"] == "application/octet-stream"
        received += [m.arguments for m in MESSAGEPACK.decode(body)]
    assert received == [[1], [2]]
    assert http("POST", base, token=token, body=b"x" * (1024 * 1024 + 1))[0] == 413
    assert http("GET", f"{fast_emulator.endpoint}/client/?hub=chat&id={key}", token=token,
                headers={"Accept": "text/event-stream"})[0] == 400
    assert http("DELETE", base, token=token)[0] == 202
    assert http("GET", f"{base}&_=5", token=token)[0] == 404
    assert http("POST", base, token=token, body=b"x")[0] == 404
    assert peer.wait_for(sm.CloseConnection)


def test_a_held_poll_ends_with_204_on_delete(fast_emulator, make_peer) -> None:
    make_peer(fast_emulator.connection_string)
    token = client_token(fast_emulator.connection_string, "chat")
    key = json.loads(negotiate(fast_emulator, token)[2])["connectionToken"]
    base = f"{fast_emulator.endpoint}/client/?hub=chat&id={key}"
    http("GET", base, token=token)
    transport = fast_emulator.context.registry.find(key).transport
    result: list = []
    poll = threading.Thread(target=lambda: result.append(http("GET", base, token=token)))
    poll.start()
    wait_until(lambda: transport._polling)
    assert http("DELETE", base, token=token)[0] == 202
    poll.join(5)
    assert result[0][0] == 204


def test_long_polling_ends_when_the_client_stops_polling(fast_emulator, make_peer) -> None:
    peer = make_peer(fast_emulator.connection_string)
    token = client_token(fast_emulator.connection_string, "chat", {"asrs.s.ttl": "1"})
    key = json.loads(negotiate(fast_emulator, token)[2])["connectionToken"]
    base = f"{fast_emulator.endpoint}/client/?hub=chat&id={key}"
    http("GET", base, token=token)
    http("POST", base, token=token, body=HANDSHAKE_JSON)
    assert http("GET", base, token=token)[2] == b"{}\x1e"
    stopped = time.monotonic()
    closed = peer.wait_for(sm.CloseConnection, timeout=5)
    assert 0.9 <= time.monotonic() - stopped < 3
    assert closed.connection_id == peer.received(sm.OpenConnection)[0].connection_id


def test_long_polling_server_close_delivers_then_204(fast_emulator, make_peer) -> None:
    make_peer(fast_emulator.connection_string)
    token = client_token(fast_emulator.connection_string, "chat")
    key = json.loads(negotiate(fast_emulator, token)[2])["connectionToken"]
    base = f"{fast_emulator.endpoint}/client/?hub=chat&id={key}"
    http("GET", base, token=token)
    http("POST", base, token=token, body=HANDSHAKE_JSON + JSON.encode(InvocationMessage(target="Close", arguments=[], invocation_id="1")))
    received = b""
    while b'"type":7' not in received:
        status, _, body = http("GET", base, token=token)
        assert status == 200
        received += body
    assert http("GET", base, token=token)[0] == 204


def test_client_pings_are_forwarded(fast_emulator, make_peer, make_client) -> None:
    peer = make_peer(fast_emulator.connection_string)
    client = make_client(fast_emulator)
    client.send(PingMessage())
    wait_until(lambda: any(isinstance(m, PingMessage) for c in peer.clients.values() for m in c.received))


def test_a_newer_poll_displaces_a_held_one(fast_emulator, make_peer) -> None:
    make_peer(fast_emulator.connection_string)
    token = client_token(fast_emulator.connection_string, "chat")
    key = json.loads(negotiate(fast_emulator, token)[2])["connectionToken"]
    base = f"{fast_emulator.endpoint}/client/?hub=chat&id={key}"
    http("GET", base, token=token)
    transport = fast_emulator.context.registry.find(key).transport
    held: list = []
    poll = threading.Thread(target=lambda: held.append(http("GET", base, token=token)))
    poll.start()
    wait_until(lambda: transport._polling)
    http("POST", base, token=token, body=HANDSHAKE_JSON)
    poll.join(5)
    assert held[0][0] == 200 and held[0][2] == b"{}\x1e"
    poll = threading.Thread(target=lambda: held.append(http("GET", base, token=token)))
    poll.start()
    wait_until(lambda: transport._polling)
    status, _, _ = http("GET", base, token=token, timeout=5)
    poll.join(5)
    assert held[1][0] == 204
    assert status == 200


def test_cross_origin_requests(fast_emulator) -> None:
    origin = "http://app.example"
    status, headers, _ = http("OPTIONS", f"{fast_emulator.endpoint}/client/negotiate?hub=chat",
                              headers={"Origin": origin, "Access-Control-Request-Headers": "authorization,x-requested-with"})
    assert status == 204
    assert headers["Access-Control-Allow-Origin"] == origin
    assert headers["Access-Control-Allow-Credentials"] == "true"
    assert headers["Access-Control-Allow-Headers"] == "authorization,x-requested-with"
    token = client_token(fast_emulator.connection_string, "chat")
    status, headers, _ = http("POST", f"{fast_emulator.endpoint}/client/negotiate?hub=chat", token=token,
                              headers={"Origin": origin})
    assert status == 200 and headers["Access-Control-Allow-Origin"] == origin
