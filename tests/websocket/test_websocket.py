"""The WebSocket layer over real sockets on 127.0.0.1: our client and server, and third-party peers.

Servers run as greenlets of this process's gevent hub; blocking third-party clients (websocket-client)
run on a gevent thread pool so the hub keeps serving while they wait.
"""

from __future__ import annotations

import datetime
import ipaddress
import re
import socket as stdsocket
import ssl
import struct
from collections.abc import Callable, Iterator
from typing import Any

import gevent
import pytest
import websocket as websocket_client
from gevent import socket as gsocket
from gevent import ssl as gssl
from gevent.pywsgi import WSGIServer
from gevent.server import StreamServer
from gevent.threadpool import ThreadPool
from geventwebsocket.handler import WebSocketHandler as GeventWebSocketHandler
from wsproto.connection import Connection, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Pong, TextMessage
from wsproto.frame_protocol import FrameProtocol
from wsproto.utilities import generate_accept_token

from flask_azure_signalr.exceptions import WebSocketHandshakeError
from flask_azure_signalr.websocket import (
    WebSocket,
    WebSocketHandler,
    accept,
    connect,
    is_websocket_request,
)

App = Callable[[dict[str, Any], Callable[..., Any]], list[bytes]]


def wait_until(condition: Callable[[], Any], timeout: float = 5.0) -> None:
    """Poll ``condition`` while letting the hub run; fail the test if it never holds."""
    with gevent.Timeout(timeout, AssertionError("condition not met in time")):
        while not condition():
            gevent.sleep(0.01)


class Recorder:
    """What the server side saw, for assertions after the client is done."""

    def __init__(self) -> None:
        self.sockets: list[WebSocket] = []
        self.received: list[bytes | str] = []
        self.environs: list[dict[str, Any]] = []
        self.finished: list[WebSocket] = []


@pytest.fixture
def serve() -> Iterator[Callable[..., str]]:
    """Start a pywsgi server with our handler for an app; returns ``host:port``."""
    servers: list[WSGIServer] = []

    def start(app: App, handler_class: type = WebSocketHandler, **kwargs: Any) -> str:
        server = WSGIServer(("127.0.0.1", 0), app, handler_class=handler_class, log=None, error_log=None, **kwargs)
        server.start()
        servers.append(server)
        return f"127.0.0.1:{server.server_port}"

    yield start
    for server in servers:
        server.stop(timeout=0.5)


@pytest.fixture
def raw_server() -> Iterator[Callable[[Callable[[Any, Any], None]], str]]:
    """Start a plain gevent TCP server with a handler function; returns ``host:port``."""
    servers: list[StreamServer] = []

    def start(handle: Callable[[Any, Any], None]) -> str:
        server = StreamServer(("127.0.0.1", 0), handle)
        server.start()
        servers.append(server)
        return f"127.0.0.1:{server.server_port}"

    yield start
    for server in servers:
        server.stop(timeout=0.5)


@pytest.fixture
def in_thread() -> Iterator[Callable[..., Any]]:
    """Run a blocking call on a real thread while the hub keeps serving; returns its result."""
    pool = ThreadPool(2)

    def run(function: Callable[..., Any], *args: Any) -> Any:
        return pool.spawn(function, *args).get(timeout=20)

    yield run
    pool.join()
    pool.kill()


def echo_app(recorder: Recorder, **options: Any) -> App:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        if environ["PATH_INFO"] == "/reject":
            start_response("401 Unauthorized", [("Content-Type", "text/plain")])
            return [b"Invalid token"]
        if not is_websocket_request(environ):
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"plain " + environ["PATH_INFO"].encode()]
        recorder.environs.append(dict(environ))
        ws = accept(environ, **options)
        recorder.sockets.append(ws)
        while (message := ws.receive()) is not None:
            recorder.received.append(message)
            if message == "server-close":
                ws.close(4002, "server bye")
            else:
                ws.send(message)
        recorder.finished.append(ws)
        start_response("200 OK", [])
        return [b"this body must never reach the client"]

    return app


def raw_upgrade(address: str, extra: bytes = b"") -> gsocket.socket:
    """A hand-made client: send the upgrade (plus ``extra`` bytes right behind it) and read the 101."""
    host, port = address.split(":")
    sock = gsocket.create_connection((host, int(port)), timeout=5)
    sock.sendall(
        b"GET /raw HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n" + extra
    )
    response = b""
    while b"\r\n\r\n" not in response:
        response += sock.recv(4096)
    assert response.startswith(b"HTTP/1.1 101 ")
    assert b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in response  # RFC 6455 §1.3 example accept value
    return sock


def client_frame(data: bytes | str) -> bytes:
    return bytes(FrameProtocol(client=True, extensions=[]).send_data(data))


def test_text_binary_and_empty_messages_round_trip(serve: Callable[..., str]) -> None:
    recorder = Recorder()
    address = serve(echo_app(recorder))
    ws = connect(f"ws://{address}/echo")
    messages: list[Any] = ["hello", "snowman ☃ and 😀", "", b"\x00\x01\xff", b"", bytearray(b"ba")]
    for message in messages:
        ws.send(message)
        expected = bytes(message) if isinstance(message, bytearray) else message
        reply = ws.receive(timeout=5)
        assert reply == expected and type(reply) is type(expected)
    ws.close()
    assert ws.closed and ws.close_code == 1000
    wait_until(lambda: recorder.finished)
    assert recorder.finished[0].close_code == 1000


def test_one_mebibyte_messages(serve: Callable[..., str]) -> None:
    address = serve(echo_app(Recorder()))
    ws = connect(f"ws://{address}/echo")
    blob = bytes(range(256)) * 4096
    text = "é☃" * (1 << 18)
    ws.send(blob)
    ws.send(text)
    assert ws.receive(timeout=10) == blob
    assert ws.receive(timeout=10) == text
    ws.close()


def test_headers_query_and_plain_http_on_the_same_server(serve: Callable[..., str]) -> None:
    recorder = Recorder()
    address = serve(echo_app(recorder))
    ws = connect(f"ws://{address}/server/?hub=chat&cid=1", headers={"Authorization": "Bearer abc"})
    ws.send("x")
    assert ws.receive(timeout=5) == "x"
    ws.close()
    environ = recorder.environs[0]
    assert environ["PATH_INFO"] == "/server/"
    assert environ["QUERY_STRING"] == "hub=chat&cid=1"
    assert environ["HTTP_AUTHORIZATION"] == "Bearer abc"
    host, port = address.split(":")
    sock = gsocket.create_connection((host, int(port)), timeout=5)
    sock.sendall(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = b""
    while chunk := sock.recv(4096):
        data += chunk
    sock.close()
    assert data.count(b"HTTP/1.1 200 OK") == 2
    assert b"plain /a" in data and b"plain /b" in data


def test_rejected_upgrade_carries_status_and_body(serve: Callable[..., str]) -> None:
    address = serve(echo_app(Recorder()))
    with pytest.raises(WebSocketHandshakeError) as caught:
        connect(f"ws://{address}/reject")
    assert caught.value.status_code == 401
    assert caught.value.body == b"Invalid token"
    assert ("content-type", "text/plain") in caught.value.headers
    assert "401" in str(caught.value) and "Invalid token" in str(caught.value)
    assert isinstance(caught.value, ConnectionError)


def test_connect_errors_are_clear(raw_server: Callable[..., str]) -> None:
    with pytest.raises(ValueError):
        connect("http://127.0.0.1:1/")
    silent = gsocket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    port = silent.getsockname()[1]
    started = gevent.get_hub().loop.now()
    with pytest.raises(TimeoutError):
        connect(f"ws://127.0.0.1:{port}/", timeout=0.3)
    assert gevent.get_hub().loop.now() - started < 3
    silent.close()
    with pytest.raises(OSError):
        connect(f"ws://127.0.0.1:{port}/", timeout=2)

    def wrong_accept(sock: Any, address: Any) -> None:
        sock.recv(4096)
        sock.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     b"Sec-WebSocket-Accept: bm90IHRoZSByaWdodCBvbmU=\r\n\r\n")

    with pytest.raises(ConnectionError, match="invalid WebSocket handshake"):
        connect(f"ws://{raw_server(wrong_accept)}/")


def test_close_codes_in_both_directions(serve: Callable[..., str]) -> None:
    recorder = Recorder()
    address = serve(echo_app(recorder))
    ws = connect(f"ws://{address}/echo")
    ws.send("ping")
    assert ws.receive(timeout=5) == "ping"
    ws.close(4001, "bye")
    assert (ws.close_code, ws.close_reason) == (4001, "bye")
    wait_until(lambda: recorder.finished)
    assert (recorder.finished[0].close_code, recorder.finished[0].close_reason) == (4001, "bye")
    assert ws.receive(timeout=1) is None
    ws.send("dropped quietly")

    ws = connect(f"ws://{address}/echo")
    ws.send("server-close")
    assert ws.receive(timeout=5) is None
    assert ws.closed and (ws.close_code, ws.close_reason) == (4002, "server bye")
    wait_until(lambda: len(recorder.finished) == 2)
    assert recorder.finished[1].close_code == 4002
    with pytest.raises(ValueError):
        ws.close(1006)


def test_receive_timeout_returns_none_while_open(serve: Callable[..., str]) -> None:
    address = serve(echo_app(Recorder()))
    ws = connect(f"ws://{address}/echo")
    assert ws.receive(timeout=0.05) is None
    assert not ws.closed
    ws.send("still open")
    assert ws.receive(timeout=5) == "still open"
    ws.close()


def test_peer_vanishing_ends_receive_without_exceptions(serve: Callable[..., str],
                                                        raw_server: Callable[..., str]) -> None:
    recorder = Recorder()
    address = serve(echo_app(recorder))
    sock = raw_upgrade(address)
    sock.sendall(client_frame("whole")[:4])  # half a frame, then the TCP connection goes away
    sock.close()
    wait_until(lambda: recorder.finished)
    assert recorder.finished[0].close_code == 1006 and recorder.received == []

    def upgrade_then_drop(conn: Any, _: Any) -> None:
        request = conn.recv(4096)
        key = re.search(rb"Sec-WebSocket-Key: (\S+)", request, re.IGNORECASE).group(1)  # type: ignore[union-attr]
        conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     b"Sec-WebSocket-Accept: " + generate_accept_token(key) + b"\r\n\r\n\x81\x05hel")
        conn.close()

    ws = connect(f"ws://{raw_server(upgrade_then_drop)}/")
    assert ws.receive(timeout=5) is None
    assert ws.closed and ws.close_code == 1006
    ws.send("nobody listens")
    ws.close()


def test_frames_sent_right_behind_the_upgrade_request_are_kept(serve: Callable[..., str]) -> None:
    recorder = Recorder()
    address = serve(echo_app(recorder))
    sock = raw_upgrade(address, extra=client_frame("early") + client_frame(b"bird"))
    wait_until(lambda: len(recorder.received) == 2)
    assert recorder.received == ["early", b"bird"]
    sock.close()


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (b"\x81\x02hi", 1002),  # a client frame without mask (RFC 6455 §5.1)
        (client_frame(b"\xff\xfe").replace(b"\x82", b"\x81", 1), 1007),  # text that is not UTF-8 (§8.1)
        (client_frame("x").replace(b"\x81", b"\xc1", 1), 1002),  # RSV1 set without an extension (§5.2)
        (client_frame("x").replace(b"\x81", b"\x80", 1), 1002),  # continuation without a start
        (b"\x89\xfe\x00\x80" + b"\x00" * 132, 1002),  # ping longer than 125 bytes (§5.5)
    ],
)
def test_protocol_violations_fail_the_connection(serve: Callable[..., str], frame: bytes, code: int) -> None:
    recorder = Recorder()
    address = serve(echo_app(recorder))
    sock = raw_upgrade(address)
    sock.sendall(frame)
    peer = Connection(ConnectionType.CLIENT)
    closing: list[CloseConnection] = []
    while not closing and (data := sock.recv(4096)):
        peer.receive_data(data)
        closing.extend(e for e in peer.events() if isinstance(e, CloseConnection))
    sock.close()
    assert closing and closing[0].code == code
    wait_until(lambda: recorder.finished)
    assert recorder.finished[0].close_code == code and recorder.received == []


def test_fragmented_messages_and_pings_from_a_raw_server(raw_server: Callable[..., str]) -> None:
    seen: list[Any] = []

    def fragmenting_peer(conn: Any, _: Any) -> None:
        request = conn.recv(4096)
        key = re.search(rb"Sec-WebSocket-Key: (\S+)", request, re.IGNORECASE).group(1)  # type: ignore[union-attr]
        conn.sendall(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + generate_accept_token(key) + b"\r\n\r\n"
            b"\x01\x03abc" + b"\x89\x02hi" + b"\x00\x02de" + b"\x80\x01f"  # text in 3 parts, a ping between
            + b"\x02\x02\x00\x01" + b"\x80\x01\x02"  # binary in 2 parts
            + b"\x82\x02ok"
        )
        peer = Connection(ConnectionType.SERVER)
        while len(seen) < 2 and (data := conn.recv(4096)):
            peer.receive_data(data)
            seen.extend(e for e in peer.events() if isinstance(e, (Pong, TextMessage, BytesMessage)))
        conn.close()

    ws = connect(f"ws://{raw_server(fragmenting_peer)}/")
    assert ws.receive(timeout=5) == "abcdef"
    assert ws.receive(timeout=5) == b"\x00\x01\x02"
    assert ws.receive(timeout=5) == b"ok"
    ws.send("done")
    wait_until(lambda: len(seen) == 2)
    assert isinstance(seen[0], Pong) and seen[0].payload == b"hi"
    assert isinstance(seen[1], TextMessage) and seen[1].data == "done"
    ws.close()


def test_message_size_limit_closes_with_1009(serve: Callable[..., str], in_thread: Callable[..., Any]) -> None:
    recorder = Recorder()
    address = serve(echo_app(recorder, max_message_size=1024))
    ws = connect(f"ws://{address}/echo")
    ws.send(b"x" * 1024)
    assert ws.receive(timeout=5) == b"x" * 1024
    ws.send(b"x" * 1025)
    assert ws.receive(timeout=5) is None
    assert ws.close_code == 1009
    wait_until(lambda: recorder.finished)
    assert recorder.finished[0].close_code == 1009

    def fragments_over_the_limit() -> int:
        client = websocket_client.create_connection(f"ws://{address}/echo", timeout=5)
        client.send_frame(websocket_client.ABNF.create_frame("a" * 600, websocket_client.ABNF.OPCODE_TEXT, fin=0))
        client.send_frame(websocket_client.ABNF.create_frame("b" * 600, websocket_client.ABNF.OPCODE_CONT, fin=1))
        opcode, frame = client.recv_data_frame()
        client.shutdown()
        assert opcode == websocket_client.ABNF.OPCODE_CLOSE
        return struct.unpack("!H", frame.data[:2])[0]

    assert in_thread(fragments_over_the_limit) == 1009


def test_websocket_client_library_against_our_server(serve: Callable[..., str],
                                                     in_thread: Callable[..., Any]) -> None:
    recorder = Recorder()
    address = serve(echo_app(recorder))

    def talk() -> list[Any]:
        abnf = websocket_client.ABNF
        client = websocket_client.create_connection(f"ws://{address}/echo", timeout=5)
        results: list[Any] = []
        client.send("text ☃")
        results.append(client.recv())
        client.send_binary(b"\x00bin")
        results.append(client.recv())
        client.send_frame(abnf.create_frame("frag", abnf.OPCODE_TEXT, fin=0))
        client.ping("are you there")
        client.send_frame(abnf.create_frame("mented", abnf.OPCODE_CONT, fin=1))
        pong = client.recv_data_frame(control_frame=True)
        results.append((pong[0], pong[1].data))
        results.append(client.recv())
        client.send_binary(bytes(1 << 20))
        results.append(len(client.recv()))
        client.close(status=4000, reason="done")
        client.shutdown()
        return results

    assert in_thread(talk) == [
        "text ☃", b"\x00bin", (websocket_client.ABNF.OPCODE_PONG, b"are you there"), "fragmented", 1 << 20
    ]
    wait_until(lambda: recorder.finished)
    assert (recorder.finished[0].close_code, recorder.finished[0].close_reason) == (4000, "done")


def test_our_client_against_gevent_websocket_server(serve: Callable[..., str]) -> None:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        peer = environ["wsgi.websocket"]
        while (message := peer.receive()) is not None:
            peer.send(message)
        return []

    address = serve(app, handler_class=GeventWebSocketHandler)
    ws = connect(f"ws://{address}/")
    ws.send("gevent ☃")
    assert ws.receive(timeout=5) == "gevent ☃"
    ws.send(b"\x01\x02")
    assert ws.receive(timeout=5) == b"\x01\x02"
    blob = bytes(range(256)) * 4096
    ws.send(blob)
    assert ws.receive(timeout=20) == blob
    ws.close()
    # gevent-websocket answers with an empty Close frame: "no status code" (1005, RFC 6455 §7.1.5).
    assert ws.closed and ws.close_code == 1005


def test_concurrent_senders_keep_frames_whole(serve: Callable[..., str]) -> None:
    address = serve(echo_app(Recorder()))
    ws = connect(f"ws://{address}/echo")
    senders, per_sender = 8, 12
    received: list[bytes | str] = []

    def reader() -> None:
        while len(received) < senders * per_sender and (message := ws.receive(timeout=10)) is not None:
            received.append(message)

    def sender(index: int) -> None:
        for n in range(per_sender):
            ws.send(f"{index}:{n}:" + chr(65 + index) * (40_000 + 997 * n))

    reading = gevent.spawn(reader)
    gevent.joinall([gevent.spawn(sender, i) for i in range(senders)], raise_error=True)
    reading.join(timeout=20)
    assert len(received) == senders * per_sender
    order: dict[int, list[int]] = {}
    for message in received:
        assert isinstance(message, str)
        index, n, body = message.split(":")
        assert body == chr(65 + int(index)) * (40_000 + 997 * int(n))
        order.setdefault(int(index), []).append(int(n))
    assert all(numbers == list(range(per_sender)) for numbers in order.values())
    ws.close()


def test_prepared_frames_fan_out_and_concurrent_server_senders(serve: Callable[..., str]) -> None:
    members: list[WebSocket] = []

    def send_ten(ws: WebSocket, message: bytes) -> None:
        for _ in range(10):
            ws.send(message)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        ws = accept(environ)
        members.append(ws)
        while (message := ws.receive()) is not None:
            if message == "broadcast":
                frame = WebSocket.prepare("to everyone ☃")
                for member in members:
                    member.send_prepared(frame)
            elif message == "burst":
                gevent.joinall([gevent.spawn(send_ten, ws, bytes([i]) * 50_000) for i in range(4)])
        return []

    address = serve(app)
    clients = [connect(f"ws://{address}/") for _ in range(3)]
    wait_until(lambda: len(members) == 3)
    clients[0].send("broadcast")
    assert [c.receive(timeout=5) for c in clients] == ["to everyone ☃"] * 3
    clients[1].send("burst")
    burst = [clients[1].receive(timeout=10) for _ in range(40)]
    assert sorted(m[0] for m in burst) == sorted(list(range(4)) * 10)  # type: ignore[index]
    assert all(m == m[:1] * 50_000 for m in burst)  # type: ignore[index]
    with pytest.raises(ValueError):
        clients[0].send_prepared(WebSocket.prepare("x"))
    with pytest.raises(TypeError):
        clients[0].send(42)  # type: ignore[arg-type]
    for client in clients:
        client.close()


def test_app_may_hand_the_websocket_to_another_greenlet(serve: Callable[..., str]) -> None:
    workers: list[gevent.Greenlet] = []

    def echo(ws: WebSocket) -> None:
        while (message := ws.receive()) is not None:
            ws.send(message)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        workers.append(gevent.spawn(echo, accept(environ)))
        start_response("204 No Content", [])
        return []

    address = serve(app)
    ws = connect(f"ws://{address}/")
    ws.send("handed off")
    assert ws.receive(timeout=5) == "handed off"
    ws.close()
    assert ws.close_code == 1000
    gevent.joinall(workers, timeout=5)
    assert all(worker.dead for worker in workers)


def test_app_raising_after_accept_aborts_the_websocket(serve: Callable[..., str]) -> None:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        accept(environ)
        raise KeyError("application bug")

    address = serve(app)
    ws = connect(f"ws://{address}/")
    assert ws.receive(timeout=5) is None
    assert ws.close_code == 1006


def test_accept_needs_our_handler_and_an_upgrade_request(serve: Callable[..., str]) -> None:
    errors: list[Exception] = []

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        try:
            accept(environ)
        except (RuntimeError, ValueError) as exc:
            errors.append(exc)
        start_response("400 Bad Request", [])
        return [b"no"]

    plain_address = serve(app)
    host, port = plain_address.split(":")
    sock = gsocket.create_connection((host, int(port)), timeout=5)
    sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    response = b""
    while chunk := sock.recv(4096):
        response += chunk
    sock.close()
    assert response.startswith(b"HTTP/1.1 400 ")
    assert isinstance(errors[0], ValueError)

    default_handler_address = serve(app, handler_class=WSGIServer.handler_class)
    with pytest.raises(WebSocketHandshakeError) as caught:
        connect(f"ws://{default_handler_address}/")
    assert caught.value.status_code == 400
    assert isinstance(errors[1], RuntimeError) and "handler_class=WebSocketHandler" in str(errors[1])


def test_is_websocket_request() -> None:
    valid = {
        "REQUEST_METHOD": "GET",
        "HTTP_UPGRADE": "WebSocket",
        "HTTP_CONNECTION": "keep-alive, Upgrade",
        "HTTP_SEC_WEBSOCKET_VERSION": "13",
        "HTTP_SEC_WEBSOCKET_KEY": "dGhlIHNhbXBsZSBub25jZQ==",
    }
    assert is_websocket_request(valid)
    for key, value in [("REQUEST_METHOD", "POST"), ("HTTP_UPGRADE", "h2c"), ("HTTP_CONNECTION", "close"),
                       ("HTTP_SEC_WEBSOCKET_VERSION", "8"), ("HTTP_SEC_WEBSOCKET_KEY", "")]:
        assert not is_websocket_request({**valid, key: value})


def test_slow_peer_is_dropped_after_send_timeout(serve: Callable[..., str]) -> None:
    outcome: list[tuple[bool, int | None, str | None, float]] = []

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        ws = accept(environ, send_timeout=0.3)
        started = gevent.get_hub().loop.now()
        chunk = b"z" * (256 * 1024)
        for _ in range(400):
            if ws.closed:
                break
            ws.send(chunk)
        outcome.append((ws.closed, ws.close_code, ws.close_reason, gevent.get_hub().loop.now() - started))
        return []

    address = serve(app)
    host, port = address.split(":")
    sock = gsocket.socket()
    sock.setsockopt(stdsocket.SOL_SOCKET, stdsocket.SO_RCVBUF, 4096)
    sock.connect((host, int(port)))
    sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    wait_until(lambda: outcome, timeout=20)
    closed, code, reason, elapsed = outcome[0]
    assert closed and code == 1006 and reason == "send timed out"
    assert elapsed < 10
    sock.close()


@pytest.fixture
def tls_files(tmp_path: Any) -> tuple[str, str]:
    """A throw-away self-signed certificate for 127.0.0.1."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)


def test_wss_with_certificate_verification(serve: Callable[..., str], tls_files: tuple[str, str]) -> None:
    cert, key = tls_files
    server_context = gssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)
    address = serve(echo_app(Recorder()), ssl_context=server_context)
    context = gssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cafile=cert)
    ws = connect(f"wss://{address}/echo", ssl_context=context)
    ws.send("secret ☃")
    assert ws.receive(timeout=5) == "secret ☃"
    ws.send(bytes(300_000))
    assert ws.receive(timeout=10) == bytes(300_000)
    ws.close()
    assert ws.close_code == 1000
    with pytest.raises(ssl.SSLCertVerificationError):
        connect(f"wss://{address}/echo")  # the default context does not trust a self-signed certificate
    with pytest.raises(TypeError):
        connect(f"wss://{address}/echo", ssl_context=ssl.create_default_context(cafile=cert))
