"""The WebSocket layer: RFC 6455 over gevent sockets, with wsproto (sans-IO) for the rare paths.

Everything else in the package (emulator, server connections, tests) uses only this module's API, so
what is underneath can change without touching them. No extra greenlet or queue per connection: the
greenlet calling :meth:`WebSocket.receive` reads and parses; senders write under a per-socket lock.

How the work is split: this module finds frame boundaries and itself decodes and encodes whole
(unfragmented) text and binary frames -- nearly every frame SignalR sends. Control frames (ping, pong,
close), fragmented messages and every protocol error go through a wsproto ``Connection``, which is
only ever fed whole frames; the client handshake uses h11. Feeding every frame to wsproto made 64 B
echoes 0.7x as fast as gevent-websocket; the split is what turned that around.

Measured with ``python -m bench.websocket_libs``: echo round trips per second through the same gevent
``pywsgi`` server, 8 connections driven by one client process, median of 5 runs of 2 s, on 2 cores
shared with other jobs (absolute numbers moved 2-3x between runs; the ratios held in every run)::

    payload   this module   gevent-websocket   simple-websocket
    64 B         12 534          7 583              5 490
    64 KiB        1 644             82              1 644

gevent-websocket (unmaintained) unmasks byte by byte; simple-websocket (wsproto for every frame, plus a
thread and an event per connection) ties only where both spend the time in the same unmasking code.

Server side, inside a gevent ``pywsgi`` app served with :class:`WebSocketHandler`::

    server = WSGIServer(("127.0.0.1", 0), app, handler_class=WebSocketHandler)

    def app(environ, start_response):
        if is_websocket_request(environ):
            ws = accept(environ)  # writes the 101 and takes the socket
            while (message := ws.receive()) is not None:
                ws.send(message)
            return []  # whatever is returned after accept() is discarded (Flask: any response)
        ...

The handler's greenlet keeps the TCP connection until the WebSocket is closed, so the app may also
return right after :func:`accept` and hand the WebSocket to another greenlet -- which must then read it
(``receive()`` until ``None``) or :meth:`~WebSocket.close` it. If the app raises after :func:`accept`, or
the server is stopped, the WebSocket is aborted.

Slow peers: :meth:`WebSocket.send` blocks the calling greenlet while the kernel's send buffer is full.
A frame not written within ``send_timeout`` seconds aborts the connection (``close_code`` 1006, the
reader gets ``None``, the frame and later sends are dropped), so no sender waits longer than that.
"""

from __future__ import annotations

import base64
import logging
import os
import ssl
import struct
from collections import deque
from collections.abc import Mapping
from time import monotonic
from typing import Any
from urllib.parse import urlsplit

import h11
from gevent import Timeout
from gevent import socket as gsocket
from gevent import ssl as gssl
from gevent.event import Event
from gevent.lock import Semaphore
from gevent.pywsgi import WSGIHandler
from wsproto.connection import Connection, ConnectionState, ConnectionType
from wsproto.events import CloseConnection, Message, Ping
from wsproto.frame_protocol import XorMaskerSimple
from wsproto.utilities import LocalProtocolError, generate_accept_token

from .exceptions import WebSocketHandshakeError

__all__ = [
    "DEFAULT_CLOSE_TIMEOUT",
    "DEFAULT_MAX_MESSAGE_SIZE",
    "DEFAULT_SEND_TIMEOUT",
    "WebSocket",
    "WebSocketHandler",
    "WebSocketHandshakeError",
    "accept",
    "connect",
    "is_websocket_request",
]

logger = logging.getLogger("flask_azure_signalr.websocket")

#: Largest message :meth:`WebSocket.receive` assembles, in bytes; a larger one closes with 1009.
DEFAULT_MAX_MESSAGE_SIZE = 16 * 1024 * 1024
#: Seconds one frame may take to be written before the connection is aborted (a peer not reading).
DEFAULT_SEND_TIMEOUT = 15.0
#: Seconds :meth:`WebSocket.close` waits for the peer's Close frame.
DEFAULT_CLOSE_TIMEOUT = 5.0

Data = bytes | str

_RECV_SIZE = 65536
_MAX_REJECT_BODY = 64 * 1024
_HANDLER_KEY = "flask_azure_signalr.websocket.handler"
_SWITCHING = "101 Switching Protocols"
_TEXT = 0x81  # first header byte of a whole text frame: FIN, no RSV bits, opcode 1 (RFC 6455 §5.2)
_BINARY = 0x82  # FIN, opcode 2


def _mask(data: bytes, key: bytes) -> bytes:
    """XOR ``data`` with the repeated 4-byte ``key`` (RFC 6455 §5.3).

    Short payloads as one big-integer operation; from 1 KiB on wsproto's table lookups win (3x at 64 KiB).
    """
    size = len(data)
    if size >= 1024:
        return bytes(XorMaskerSimple(key).process(bytearray(data)))
    if not size:
        return data
    stream = (key * (size // 4 + 1))[:size]
    return (int.from_bytes(data, "little") ^ int.from_bytes(stream, "little")).to_bytes(size, "little")


def _frame(data: bytes | str, masked: bool) -> bytes:
    """One whole text or binary frame; clients mask theirs with a fresh random key (§5.3)."""
    if isinstance(data, str):
        payload = data.encode("utf-8")
        first = _TEXT
    elif isinstance(data, (bytes, bytearray, memoryview)):
        payload = bytes(data)
        first = _BINARY
    else:
        raise TypeError(f"WebSocket data must be bytes or str, not {type(data).__name__}")
    size = len(payload)
    mask_bit = 0x80 if masked else 0
    if size < 126:
        header = bytes((first, mask_bit | size))
    elif size < 65536:
        header = struct.pack("!BBH", first, mask_bit | 126, size)
    else:
        header = struct.pack("!BBQ", first, mask_bit | 127, size)
    if not masked:
        return header + payload
    key = os.urandom(4)
    return header + key + _mask(payload, key)


def _valid_close_code(code: int) -> bool:
    # RFC 6455 §7.4: codes an endpoint may send (1004-1006 and 1015 are reserved for local use).
    return code in (1000, 1001, 1002, 1003) or 1007 <= code <= 1014 or 3000 <= code <= 4999


_ALL_SENT = memoryview(b"")

class WebSocket:
    """One open WebSocket, client or server side. Get one from :func:`connect` or :func:`accept`.

    Any number of greenlets may :meth:`send`; one greenlet at a time may :meth:`receive` (it also answers
    pings and the peer's Close). Errors from a vanished peer never propagate: ``receive()`` returns
    ``None`` and ``send()`` drops the data once the connection is closed.
    """

    close_code: int | None
    close_reason: str | None

    def __init__(
        self,
        sock: gsocket.socket,
        connection: Connection,
        *,
        received: bytes = b"",
        max_message_size: int | None = DEFAULT_MAX_MESSAGE_SIZE,
        send_timeout: float | None = DEFAULT_SEND_TIMEOUT,
        close_timeout: float = DEFAULT_CLOSE_TIMEOUT,
    ) -> None:
        self._sock = sock
        self._conn = connection
        self._client = connection.client
        self._max_message_size = max_message_size
        self._close_timeout = close_timeout
        self._send_lock = Semaphore()
        self._send_timeout = send_timeout
        self._send_timer = None if send_timeout is None else Timeout(send_timeout)
        self._done = Event()
        self._reading = False
        self._buffer = bytearray()
        self._fragmented = False
        self._inbox: deque[Data] = deque()
        self._parts: list[Data] = []
        self._parts_size = 0
        self.close_code = None
        self.close_reason = None
        if received:
            self._feed(received)

    @property
    def closed(self) -> bool:
        """True once no more data can be sent: a Close was sent or received, or the socket failed."""
        return self._done.is_set() or self._conn.state is not ConnectionState.OPEN

    @property
    def is_client(self) -> bool:
        return self._client

    def send(self, data: bytes | str) -> None:
        """Send one message: ``bytes`` as binary, ``str`` as text. Dropped if the connection is closed."""
        frame = _frame(data, self._client)
        with self._send_lock:
            if not self.closed:
                self._write(frame)

    @staticmethod
    def prepare(data: bytes | str) -> bytes:
        """Encode a message once as a server frame, for :meth:`send_prepared` to many sockets."""
        return _frame(data, masked=False)

    def send_prepared(self, frame: bytes) -> None:
        """Write a frame from :meth:`prepare` (server side only: clients must mask every frame)."""
        if self._client:
            raise ValueError("prepared frames are unmasked server frames; a client must use send()")
        with self._send_lock:
            if not self.closed:
                self._write(frame)

    def try_send_prepared(self, frame: bytes) -> memoryview | None:
        """Write what the socket takes of a :meth:`prepare` frame at once, without blocking.

        Fan-out writes from the greenlet that routed a message; most of the time the kernel takes
        the frame whole, so no writer greenlet is needed. Returns ``None`` when another greenlet
        is sending (nothing written), an empty view when the frame went out whole (or was dropped
        because the connection is closed or just failed), else the unsent rest -- with the send
        lock still held, so that no Pong or Close splits the frame: pass it to
        :meth:`finish_send`.
        """
        if self._client:
            raise ValueError("prepared frames are unmasked server frames; a client must use send()")
        if self.closed:
            return _ALL_SENT
        lock = self._send_lock
        if not lock.acquire(blocking=False):
            return None
        try:
            sent = self._sock.send(frame, 0, 0.0)
        except BlockingIOError:
            sent = 0
        except OSError:
            lock.release()
            self._abort()
            return _ALL_SENT
        if sent == len(frame):
            lock.release()
            return _ALL_SENT
        return memoryview(frame)[sent:]

    def finish_send(self, rest: memoryview) -> None:
        """Write the rest :meth:`try_send_prepared` left (may block up to ``send_timeout``)."""
        try:
            self._write(rest)
        finally:
            self._send_lock.release()

    def receive(self, timeout: float | None = None) -> bytes | str | None:
        """Return the next whole message; ``None`` once closed -- or when ``timeout`` expired (``closed`` False)."""
        if self._inbox:
            return self._inbox.popleft()
        deadline = None if timeout is None else monotonic() + timeout
        self._reading = True
        try:
            while not self._inbox and not self._done.is_set():
                if not self._read(None if deadline is None else max(deadline - monotonic(), 0.0)):
                    break
        finally:
            self._reading = False
        return self._inbox.popleft() if self._inbox else None

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Start the close handshake and wait (``close_timeout``) for the peer's Close, then drop the socket."""
        if not _valid_close_code(code):
            raise ValueError(f"{code} is not a close code an endpoint may send (RFC 6455 §7.4)")
        if self._done.is_set():
            return
        with self._send_lock:
            if self._conn.state is ConnectionState.OPEN:
                self._write(self._conn.send(CloseConnection(code=code, reason=reason)))
        if self._reading:
            self._done.wait(self._close_timeout)
        else:
            deadline = monotonic() + self._close_timeout
            self._reading = True
            try:
                while not self._done.is_set() and self._read(max(deadline - monotonic(), 0.0)):
                    pass
            finally:
                self._reading = False
        self._abort()

    def wait_closed(self, timeout: float | None = None) -> bool:
        """Block until the connection is closed (by whoever reads it); True if it is."""
        return self._done.wait(timeout)

    def _abort(self, reason: str = "") -> None:
        """Drop the TCP connection without a close handshake (RFC 6455 §7.1.5: code 1006)."""
        self._finish(1006, reason)

    def _read(self, timeout: float | None) -> bool:
        """Read and process what arrives; False when ``timeout`` expired. EOF or a socket error aborts."""
        timer = None if timeout is None else Timeout.start_new(timeout)
        try:
            data = self._sock.recv(_RECV_SIZE)
        except Timeout as exc:
            if exc is not timer:
                raise
            return False
        except (OSError, ValueError):
            data = b""
        finally:
            if timer is not None:
                timer.close()
        if data:
            self._feed(data)
        else:
            self._abort()
        return True

    def _feed(self, data: bytes) -> None:
        """Split the received bytes into frames (§5.2): decode whole data frames, hand the rest to wsproto."""
        buffer = self._buffer
        buffer += data
        size = len(buffer)
        expect_mask = 0 if self._client else 0x80  # §5.1: clients mask, servers do not
        limit = self._max_message_size
        position = 0
        while size - position >= 2 and not self._done.is_set():
            first = buffer[position]
            second = buffer[position + 1]
            length = second & 0x7F
            start = position + 2
            if length == 126:
                if size - start < 2:
                    break
                length = int.from_bytes(buffer[start : start + 2], "big")
                start += 2
            elif length == 127:
                if size - start < 8:
                    break
                length = int.from_bytes(buffer[start : start + 8], "big")
                start += 8
            if second & 0x80:
                start += 4
            if first & 0x08 and length > 125:
                self._fail(1002, "control frame too long")
                return
            if limit is not None and not first & 0x08 and self._parts_size + length > limit:
                self._fail(1009, "message too big")
                return
            end = start + length
            if end > size:
                break
            if (first == _TEXT or first == _BINARY) and second & 0x80 == expect_mask and not self._fragmented:
                payload = bytes(buffer[start:end])
                if expect_mask:
                    payload = _mask(payload, bytes(buffer[start - 4 : start]))
                if first == _TEXT:
                    try:
                        message: Data = payload.decode("utf-8")
                    except UnicodeDecodeError:
                        self._fail(1007, "invalid UTF-8 in text message")
                        return
                else:
                    message = payload
                if self._conn.state is ConnectionState.OPEN:
                    self._inbox.append(message)
            else:
                if not first & 0x08:
                    self._fragmented = not first & 0x80
                self._to_wsproto(bytes(buffer[position:end]))
            position = end
        del buffer[:position]

    def _to_wsproto(self, frame: bytes) -> None:
        conn = self._conn
        try:
            conn.receive_data(frame)
        except LocalProtocolError:
            return
        for event in conn.events():
            if isinstance(event, Message):
                if conn.state is ConnectionState.OPEN and not self._collect(event):
                    return
            elif isinstance(event, Ping):
                if conn.state is ConnectionState.OPEN:
                    with self._send_lock:
                        self._write(conn.send(event.response()))
            elif isinstance(event, CloseConnection):
                self._on_close(event)
                return

    def _collect(self, event: Message[Any]) -> bool:
        """Add a piece of a fragmented message; False if it got too big and the connection was failed."""
        data = event.data
        self._parts.append(data)
        self._parts_size += len(data)
        limit = self._max_message_size
        if limit is not None and self._parts_size > limit:
            self._fail(1009, "message too big")
            return False
        if event.message_finished:
            self._inbox.append(("" if isinstance(data, str) else b"").join(self._parts))  # type: ignore[arg-type]
            self._parts = []
            self._parts_size = 0
        return True

    def _on_close(self, event: CloseConnection) -> None:
        state = self._conn.state
        if state is ConnectionState.REMOTE_CLOSING:
            with self._send_lock:
                self._write(self._conn.send(event.response()))
            self._finish(event.code, event.reason or "")
        elif state is ConnectionState.CLOSED:
            self._finish(event.code, event.reason or "")
        else:
            # wsproto reports a peer's protocol violation as a CloseConnection while still OPEN.
            self._fail(event.code, event.reason or "")

    def _fail(self, code: int, reason: str) -> None:
        logger.debug("failing WebSocket with %d: %s", code, reason)
        with self._send_lock:
            if self._conn.state is ConnectionState.OPEN:
                self._write(self._conn.send(CloseConnection(code=code, reason=reason)))
        self._finish(code, reason)

    def _write(self, frame: bytes | bytearray) -> None:
        """Write one frame; the caller holds the send lock. A failed or too slow write aborts."""
        if self._done.is_set():
            return
        timer = self._send_timer
        if timer is not None:
            timer.start()
        try:
            self._sock.sendall(frame)
        except Timeout as exc:
            if exc is not timer:
                raise
            logger.debug("WebSocket peer did not read for %s s; aborting", self._send_timeout)
            self._abort("send timed out")
        except (OSError, ValueError):
            self._abort()
        finally:
            if timer is not None:
                timer.cancel()

    def _finish(self, code: int, reason: str) -> None:
        if self._done.is_set():
            return
        self.close_code = int(code)
        self.close_reason = reason
        try:
            self._sock.close()
        except OSError:
            pass
        self._done.set()

    def __repr__(self) -> str:
        side = "client" if self._client else "server"
        return f"<WebSocket {side} closed={self.closed} close_code={self.close_code}>"


def is_websocket_request(environ: Mapping[str, Any]) -> bool:
    """True for a valid RFC 6455 §4.2.1 upgrade request (GET, Upgrade, Connection, version 13, key)."""
    connection_tokens = {t.strip().lower() for t in str(environ.get("HTTP_CONNECTION", "")).split(",")}
    return (
        environ.get("REQUEST_METHOD") == "GET"
        and str(environ.get("HTTP_UPGRADE", "")).strip().lower() == "websocket"
        and "upgrade" in connection_tokens
        and str(environ.get("HTTP_SEC_WEBSOCKET_VERSION", "")).strip() == "13"
        and bool(environ.get("HTTP_SEC_WEBSOCKET_KEY"))
    )


class WebSocketHandler(WSGIHandler):
    """A ``gevent.pywsgi`` handler that lets :func:`accept` take the socket after the 101.

    Pass it as ``WSGIServer(..., handler_class=WebSocketHandler)``; plain HTTP requests are served as by
    the default handler. After an upgrade the handler writes nothing more (whatever the app returns is
    discarded), never reuses the connection for another request, and keeps it open until the WebSocket
    is closed.
    """

    _upgraded = False
    _websocket: WebSocket | None = None

    def get_environ(self) -> dict[str, Any]:
        environ = super().get_environ()
        environ[_HANDLER_KEY] = self
        return environ

    def _take_socket(self, response: bytes) -> tuple[gsocket.socket, bytes]:
        """Write ``response`` (the 101) and hand over the socket plus any bytes already buffered after it."""
        if self._upgraded:
            raise RuntimeError("this request has already been upgraded")
        self._upgraded = True
        self.close_connection = True
        self.status = _SWITCHING.encode("latin-1")
        self._orig_status = _SWITCHING
        self.code = 101
        self.headers_sent = True
        sock = self.socket
        sock.sendall(response)
        # The request was read through a buffered file; frames a client sent early may sit there.
        sock.settimeout(0.0)
        try:
            leftover = self.rfile.read1(_RECV_SIZE) or b""
        except (OSError, ValueError):
            leftover = b""
        finally:
            sock.settimeout(None)
        return sock, leftover

    def _adopt(self, websocket: WebSocket) -> None:
        self._websocket = websocket

    def start_response(self, status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        if self._upgraded:
            return _discard
        return super().start_response(status, headers, exc_info)

    def write(self, data: bytes) -> None:
        if not self._upgraded:
            super().write(data)

    def run_application(self) -> None:
        try:
            super().run_application()
        except BaseException:
            if self._websocket is not None:
                self._websocket._abort()
            raise

    def handle_one_request(self) -> Any:
        result = super().handle_one_request()
        if not self._upgraded:
            return result
        websocket = self._websocket
        if websocket is not None:
            try:
                websocket.wait_closed()
            finally:
                websocket._abort()
        return None


def _discard(data: bytes) -> None:
    """The WSGI ``write`` callable handed out after an upgrade."""


def accept(
    environ: Mapping[str, Any],
    *,
    max_message_size: int | None = DEFAULT_MAX_MESSAGE_SIZE,
    send_timeout: float | None = DEFAULT_SEND_TIMEOUT,
    close_timeout: float = DEFAULT_CLOSE_TIMEOUT,
) -> WebSocket:
    """Complete the upgrade of the current ``pywsgi`` request (101) and return its WebSocket.

    Needs ``handler_class=WebSocketHandler``; raises ``ValueError`` unless ``is_websocket_request(environ)``.
    If the peer is already gone the WebSocket comes back closed.
    """
    handler: WebSocketHandler | None = environ.get(_HANDLER_KEY)
    if handler is None:
        raise RuntimeError("accept() needs gevent.pywsgi.WSGIServer(..., handler_class=WebSocketHandler)")
    if not is_websocket_request(environ):
        raise ValueError("not a WebSocket upgrade request (RFC 6455 §4.2.1)")
    token = generate_accept_token(str(environ["HTTP_SEC_WEBSOCKET_KEY"]).strip().encode("latin-1"))
    response = (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: " + token + b"\r\n\r\n"
    )
    try:
        sock, received = handler._take_socket(response)
        failed = False
    except OSError:
        sock, received, failed = handler.socket, b"", True
    websocket = WebSocket(
        sock,
        Connection(ConnectionType.SERVER),
        received=received,
        max_message_size=max_message_size,
        send_timeout=send_timeout,
        close_timeout=close_timeout,
    )
    if failed:
        websocket._abort()
    handler._adopt(websocket)
    return websocket


def connect(
    url: str,
    headers: Mapping[str, str] | None = None,
    timeout: float = 15,
    *,
    max_message_size: int | None = DEFAULT_MAX_MESSAGE_SIZE,
    send_timeout: float | None = DEFAULT_SEND_TIMEOUT,
    close_timeout: float = DEFAULT_CLOSE_TIMEOUT,
    ssl_context: gssl.SSLContext | None = None,
) -> WebSocket:
    """Open a client WebSocket to a ``ws://`` or ``wss://`` URL; ``timeout`` bounds connect plus handshake.

    Raises :class:`WebSocketHandshakeError` when the server answers with a status other than 101,
    ``TimeoutError`` when it does not answer in time, ``OSError`` when it cannot be reached.
    ``ssl_context`` must be a ``gevent.ssl.SSLContext`` (a standard-library one would block the hub);
    the default one verifies certificates and host names against the system's CAs.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise ValueError(f"not a ws:// or wss:// URL: {parts.scheme}://{parts.netloc}{parts.path}")
    if ssl_context is not None and not isinstance(ssl_context, gssl.SSLContext):
        raise TypeError("ssl_context must be a gevent.ssl.SSLContext")
    secure = parts.scheme == "wss"
    port = parts.port or (443 if secure else 80)
    peer = f"{parts.hostname}:{port}"
    key = base64.b64encode(os.urandom(16)).decode("ascii")
    request = h11.Request(
        method="GET",
        target=(parts.path or "/") + (f"?{parts.query}" if parts.query else ""),
        headers=[
            ("Host", parts.netloc.rpartition("@")[2]),
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", key),
            ("Sec-WebSocket-Version", "13"),
            *(headers or {}).items(),
        ],
    )
    deadline = monotonic() + timeout
    sock = gsocket.create_connection((parts.hostname, port), timeout=timeout)
    try:
        if secure:
            context = ssl_context or _default_ssl_context()
            sock = context.wrap_socket(sock, server_hostname=parts.hostname)
        http = h11.Connection(h11.CLIENT)
        sock.sendall(http.send(request) + (http.send(h11.EndOfMessage()) or b""))
        received = _client_handshake(sock, http, generate_accept_token(key.encode("ascii")), deadline, peer)
        sock.settimeout(None)
    except BaseException:
        sock.close()
        raise
    return WebSocket(
        sock,
        Connection(ConnectionType.CLIENT),
        received=received,
        max_message_size=max_message_size,
        send_timeout=send_timeout,
        close_timeout=close_timeout,
    )


def _default_ssl_context() -> gssl.SSLContext:
    # gevent.ssl.create_default_context() returns a standard-library context, whose sockets block.
    context = gssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_default_certs()
    return context


def _client_handshake(sock: gsocket.socket, http: h11.Connection, token: bytes, deadline: float, peer: str) -> bytes:
    """Read the upgrade response (§4.1); the bytes already received after the 101, or an exception."""
    status: int | None = None
    reject_headers: list[tuple[str, str]] = []
    body = bytearray()
    while True:
        remaining = deadline - monotonic()
        if remaining <= 0:
            raise TimeoutError(f"WebSocket handshake with {peer} timed out")
        sock.settimeout(remaining)
        try:
            data = sock.recv(_RECV_SIZE)
        except TimeoutError:
            raise TimeoutError(f"WebSocket handshake with {peer} timed out") from None
        http.receive_data(data)
        while True:
            try:
                event = http.next_event()
            except h11.RemoteProtocolError as exc:
                if status is not None:
                    raise WebSocketHandshakeError(status, bytes(body), reject_headers) from None
                raise ConnectionError(f"invalid WebSocket handshake response from {peer}: {exc}") from None
            if event is h11.NEED_DATA:
                break
            if isinstance(event, h11.InformationalResponse) and event.status_code == 101:
                response = {name.lower(): value for name, value in event.headers}
                connection_tokens = {t.strip().lower() for t in response.get(b"connection", b"").split(b",")}
                if (
                    response.get(b"upgrade", b"").lower() != b"websocket"
                    or b"upgrade" not in connection_tokens
                    or response.get(b"sec-websocket-accept") != token
                ):
                    raise ConnectionError(f"invalid WebSocket handshake response from {peer}: bad upgrade headers")
                return http.trailing_data[0]
            if isinstance(event, h11.Response):
                status = event.status_code
                reject_headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in event.headers]
            elif isinstance(event, h11.Data):
                body += event.data[: _MAX_REJECT_BODY - len(body)]
                if len(body) >= _MAX_REJECT_BODY:
                    raise WebSocketHandshakeError(status or 0, bytes(body), reject_headers)
            elif isinstance(event, (h11.EndOfMessage, h11.ConnectionClosed)) and status is not None:
                raise WebSocketHandshakeError(status, bytes(body), reject_headers)
        if not data:
            raise ConnectionError(f"{peer} closed the connection during the WebSocket handshake")
