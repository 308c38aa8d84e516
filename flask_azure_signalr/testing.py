"""A test client for hubs that goes the whole real way: negotiate, service, server connections.

Like Flask-SocketIO's test client, but nothing is faked: ``signalr.test_client(app, "chat")``
negotiates through Flask's test client (so a login made with it applies), negotiates again with the
service the answer points to (Azure, or the emulator), opens a WebSocket there, does the hub
handshake and then speaks the hub protocol (JSON or MessagePack) with the hub through the app's
server connections::

    def test_echo(app):
        with signalr.test_client(app, "chat") as client:
            assert client.invoke("add", 1, 2) == 3
            client.send("echo", "me", "hi")
            assert client.wait_for("echo") == ["me", "hi"]

Thread model: the WebSocket lives on a :class:`~flask_azure_signalr.runtime.threading_bridge.RuntimeLoop`
(a native thread with its own gevent hub in an ordinary pytest process), where one greenlet reads
and parses; the test's thread sends through that loop and waits on a condition variable. Handlers
given to :meth:`SignalRTestClient.on` run on the reader: keep them short and do not call the client
from them.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Self
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import gevent
from flask import Flask

from .endpoints import NOT_CONNECTED_MESSAGE
from .exceptions import HubException, NegotiateError
from .negotiate import EXTENSION_KEY
from .protocol.handshake import (
    HandshakeRequest,
    encode_handshake_request,
    parse_handshake_response,
)
from .protocol.hub import TEXT, get_protocol
from .protocol.hub_messages import (
    PING,
    CancelInvocationMessage,
    CloseMessage,
    CompletionMessage,
    InvocationMessage,
    PingMessage,
    StreamInvocationMessage,
    StreamItemMessage,
)
from .registry import HubRegistration
from .runtime.threading_bridge import RuntimeLoop
from .websocket import WebSocket, connect

__all__ = ["ServerStream", "SignalRTestClient", "test_client"]

#: Seconds between the client's Pings, as the JS client's ``keepAliveIntervalInMilliseconds``.
KEEP_ALIVE_INTERVAL = 15.0
#: What the JS client answers a client-result invocation it has no handler for (hub-protocol §2.7).
NO_RESULT_ERROR = "Client didn't provide a result."

_NO_HANDLER = object()


def test_client(
    app: Flask,
    hub: str | type,
    *,
    flask_client: Any = None,
    protocol: str = "json",
    timeout: float = 10.0,
) -> SignalRTestClient:
    """Connect to ``hub`` (its name or class) of ``app`` and return the connected client.

    ``flask_client`` is a ``app.test_client()`` whose cookies (e.g. a login) negotiate uses; by
    default a fresh one. ``protocol`` is ``"json"`` or ``"messagepack"``. Waits up to ``timeout``
    seconds for the hub's server connections to come up. Raises
    :class:`~flask_azure_signalr.exceptions.NegotiateError` when negotiate refuses (401, 403, ...).
    """
    client = SignalRTestClient(app, hub, flask_client=flask_client, protocol=protocol, timeout=timeout)
    client.connect()
    return client


test_client.__test__ = False  # type: ignore[attr-defined]  # not a test, whatever pytest imports it


class _Pending:
    """An invocation waiting for its Completion (and, for streams, its items)."""

    __slots__ = ("done", "error", "items", "result")

    def __init__(self) -> None:
        self.items: deque[Any] = deque()
        self.done = False
        self.result: Any = None
        self.error: str | None = None


class ServerStream:
    """The items of a server-to-client stream, in order; iterating waits for each one.

    Raises :class:`HubException` with the server's error if the stream fails, ``TimeoutError`` if
    no item or end arrives within the client's timeout. :meth:`cancel` sends CancelInvocation.
    """

    def __init__(self, client: SignalRTestClient, invocation_id: str) -> None:
        self._client = client
        self.invocation_id = invocation_id

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        return self._client._next_item(self.invocation_id)

    def cancel(self) -> None:
        self._client._cancel(self.invocation_id)


class SignalRTestClient:
    """One hub connection over WebSockets; see the module docstring. Use as a context manager."""

    def __init__(
        self,
        app: Flask,
        hub: str | type,
        *,
        flask_client: Any = None,
        protocol: str = "json",
        timeout: float = 10.0,
    ) -> None:
        self.app = app
        self.registration = _registration(app, hub)
        self.flask_client = flask_client if flask_client is not None else app.test_client()
        self.protocol = get_protocol(protocol)
        self.timeout = timeout
        #: The connection id the service gave this client (from the service's negotiate).
        self.connection_id: str | None = None
        #: The error of the server's Close message, or of a broken connection; None while open.
        self.close_error: str | None = None
        self._loop = RuntimeLoop()
        self._ws: WebSocket | None = None
        self._ids = itertools.count(1)
        self._lock = threading.Condition()
        self._received: dict[str, list[list[Any]]] = {}
        self._taken: dict[str, int] = {}
        self._handlers: dict[str, Any] = {}
        self._pending: dict[str, _Pending] = {}
        self._greenlets: list[gevent.Greenlet] = []
        self._closed = False
        self._connected = False

    # -- connecting ------------------------------------------------------------------------------

    def connect(self) -> None:
        """Negotiate with the app and the service, open the WebSocket and do the hub handshake."""
        if self._connected:
            raise RuntimeError("this client is already connected")
        deadline = time.monotonic() + self.timeout
        url, token = self._negotiate_with_app(deadline)
        service_url, token = self._negotiate_with_service(url, token, deadline)
        self._loop.start()
        try:
            rest = self._loop.call(self._open, service_url, token, max(deadline - time.monotonic(), 0.1))
            self._greenlets = self._loop.call(self._spawn_workers, rest)
            self._connected = True
        except BaseException:
            self._loop.call(self._drop)
            self._loop.stop()
            raise

    def _negotiate_with_app(self, deadline: float) -> tuple[str, str]:
        """Negotiate answers 500 "not connected" until the hub's server connections are up (the
        first request of a process starts them): retry that answer until the deadline."""
        while True:
            response = self.flask_client.post(f"{self.registration.path}/negotiate?negotiateVersion=1")
            body = response.get_data(as_text=True)
            if response.status_code == 200:
                answer = json.loads(body)
                return answer["url"], answer["accessToken"]
            if response.status_code != 500 or NOT_CONNECTED_MESSAGE not in body or time.monotonic() > deadline:
                raise NegotiateError(response.status_code, body)
            time.sleep(0.02)

    def _negotiate_with_service(self, url: str, token: str, deadline: float) -> tuple[str, str]:
        """The service's own negotiate (hub-protocol §1.2), as the JS client does after a redirect."""
        parts = urlsplit(url)
        query = urlencode([*parse_qsl(parts.query, keep_blank_values=True), ("negotiateVersion", "1")])
        negotiate_url = urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/") + "/negotiate", query, ""))
        request = urllib.request.Request(
            negotiate_url, data=b"", method="POST", headers={"Authorization": f"Bearer {token}"}
        )
        try:
            with urllib.request.urlopen(request, timeout=max(deadline - time.monotonic(), 0.1)) as response:
                answer = json.loads(response.read())
        except urllib.error.HTTPError as error:
            raise NegotiateError(error.code, error.read().decode("utf-8", "replace")) from None
        if "error" in answer:
            raise NegotiateError(200, answer["error"])
        self.connection_id = answer["connectionId"]
        if "accessToken" in answer:
            token = answer["accessToken"]
        query = urlencode([*parse_qsl(parts.query, keep_blank_values=True), ("id", answer["connectionToken"])])
        scheme = "wss" if parts.scheme == "https" else "ws"
        return urlunsplit((scheme, parts.netloc, parts.path, query, "")), token

    def _open(self, url: str, token: str, timeout: float) -> bytes:
        """On the loop: WebSocket, handshake; returns the bytes that followed the handshake response."""
        ws = connect(url, {"Authorization": f"Bearer {token}"}, timeout=timeout)
        self._ws = ws
        ws.send(encode_handshake_request(HandshakeRequest(self.protocol.name, 1)).decode("utf-8"))
        buffer = b""
        end = time.monotonic() + timeout
        while True:
            data = ws.receive(timeout=max(end - time.monotonic(), 0.0))
            if data is None:
                reason = "timed out" if not ws.closed else f"closed ({ws.close_code})"
                raise ConnectionError(f"no handshake response from the service: {reason}")
            buffer += data.encode("utf-8") if isinstance(data, str) else data
            response, rest = parse_handshake_response(buffer)
            if response is None:
                continue
            if not response.ok:
                raise ConnectionError(f"the hub handshake failed: {response.error}")
            return rest

    # -- the reader (on the loop) ----------------------------------------------------------------

    def _spawn_workers(self, rest: bytes) -> list[gevent.Greenlet]:
        return [self._loop.spawn(self._read, rest), self._loop.spawn(self._keep_alive)]

    def _read(self, rest: bytes) -> None:
        parser = self.protocol.parser()
        ws = self._ws
        assert ws is not None
        error: str | None = None
        try:
            data: bytes | str | None = rest
            while data is not None:
                if data:
                    for message in parser.feed(data):
                        if isinstance(message, CloseMessage):
                            error = message.error
                            return
                        self._dispatch(message)
                data = ws.receive()
            error = "The connection was closed." if not self._closed else None
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
        finally:
            self._finish(error)
            if not ws.closed:
                ws.close()

    def _dispatch(self, message: Any) -> None:
        if isinstance(message, InvocationMessage):
            self._invoked(message)
            return
        if isinstance(message, PingMessage):
            return
        with self._lock:
            pending = self._pending.get(getattr(message, "invocation_id", None) or "")
            if pending is None:
                return
            if isinstance(message, StreamItemMessage):
                pending.items.append(message.item)
            elif isinstance(message, CompletionMessage):
                pending.done = True
                pending.result = message.result
                pending.error = message.error
            self._lock.notify_all()

    def _invoked(self, message: InvocationMessage) -> None:
        arguments = list(message.arguments)
        with self._lock:
            self._received.setdefault(message.target.lower(), []).append(arguments)
            handler = self._handlers.get(message.target.lower(), _NO_HANDLER)
            self._lock.notify_all()
        result: Any = None
        error: str | None = None
        if callable(handler):
            try:
                result = handler(*arguments)
            except Exception as exc:
                error = str(exc) or type(exc).__name__
        elif handler is _NO_HANDLER:
            error = NO_RESULT_ERROR
        else:
            result = handler
        if message.invocation_id is None:
            return
        if error is not None:
            reply = CompletionMessage.with_error(message.invocation_id, error)
        else:
            reply = CompletionMessage.with_result(message.invocation_id, result)
        self._write(self.protocol.encode(reply))

    def _keep_alive(self) -> None:
        ping = self.protocol.encode(PING)
        while not self._closed:
            gevent.sleep(KEEP_ALIVE_INTERVAL)
            if not self._closed:
                self._write(ping)

    def _write(self, frame: bytes) -> None:
        """On the loop: one encoded hub message in the protocol's frame type."""
        ws = self._ws
        if ws is not None:
            ws.send(frame.decode("utf-8") if self.protocol.transfer_format == TEXT else frame)

    def _finish(self, error: str | None) -> None:
        with self._lock:
            self._closed = True
            if self.close_error is None:
                self.close_error = error
            for pending in self._pending.values():
                if not pending.done:
                    pending.done = True
                    pending.error = error or "The connection was closed."
            self._lock.notify_all()

    def _drop(self) -> None:
        ws = self._ws
        if ws is not None and not ws.closed:
            ws.close()

    # -- calling the hub -------------------------------------------------------------------------

    def _send(self, message: Any) -> None:
        if self._closed or not self._connected:
            raise ConnectionError(f"the connection is closed: {self.close_error or 'not connected'}")
        self._loop.call(self._write, self.protocol.encode(message), timeout=self.timeout)

    def _start(self, message_type: type, method: str, args: Iterable[Any], stream_ids: list[str]) -> str:
        invocation_id = str(next(self._ids))
        with self._lock:
            self._pending[invocation_id] = _Pending()
        self._send(message_type(invocation_id=invocation_id, target=method, arguments=list(args), stream_ids=stream_ids))
        return invocation_id

    def _wait(self, invocation_id: str, timeout: float | None) -> Any:
        limit = self.timeout if timeout is None else timeout
        with self._lock:
            pending = self._pending[invocation_id]
            if not self._lock.wait_for(lambda: pending.done, limit):
                raise TimeoutError(f"no completion for invocation {invocation_id} within {limit} s")
            del self._pending[invocation_id]
        if pending.error is not None:
            raise HubException(pending.error)
        return pending.result

    def invoke(self, method: str, *args: Any, timeout: float | None = None) -> Any:
        """Call ``method`` and return its result; raises HubException with the server's error text."""
        return self._wait(self._start(InvocationMessage, method, args, []), timeout)

    def send(self, method: str, *args: Any) -> None:
        """Call ``method`` without waiting (a non-blocking invocation: no completion comes back)."""
        self._send(InvocationMessage(target=method, arguments=list(args)))

    def stream(self, method: str, *args: Any) -> ServerStream:
        """Start a streaming method; iterate the result for its items."""
        return ServerStream(self, self._start(StreamInvocationMessage, method, args, []))

    def upload(self, method: str, *streams: Iterable[Any], args: Iterable[Any] = (), timeout: float | None = None) -> Any:
        """Call ``method`` with ``args`` and one client-to-server stream per iterable in ``streams``
        (sent item by item, then completed); return the method's result."""
        stream_ids = [str(next(self._ids)) for _ in streams]  # never "s1": the server's ids (§2.7)
        invocation_id = self._start(InvocationMessage, method, args, stream_ids)
        for stream_id, items in zip(stream_ids, streams):
            for item in items:
                self._send(StreamItemMessage(invocation_id=stream_id, item=item))
            self._send(CompletionMessage.empty(stream_id))
        return self._wait(invocation_id, timeout)

    def _next_item(self, invocation_id: str) -> Any:
        with self._lock:
            pending = self._pending.get(invocation_id)
            if pending is None:
                raise StopIteration
            if not self._lock.wait_for(lambda: pending.items or pending.done, self.timeout):
                raise TimeoutError(f"no stream item for invocation {invocation_id} within {self.timeout} s")
            if pending.items:
                return pending.items.popleft()
            del self._pending[invocation_id]
        if pending.error is not None:
            raise HubException(pending.error)
        raise StopIteration

    def _cancel(self, invocation_id: str) -> None:
        with self._lock:
            if self._pending.pop(invocation_id, None) is None:
                return
        self._send(CancelInvocationMessage(invocation_id=invocation_id))

    # -- what the hub sends ----------------------------------------------------------------------

    def on(self, method: str, handler_or_result: Callable[..., Any] | Any) -> None:
        """Handle the client method ``method``: a callable gets its arguments (and its return value
        answers client-result invocations); anything else is the result returned to them."""
        with self._lock:
            self._handlers[method.lower()] = handler_or_result

    def received(self, method: str) -> list[list[Any]]:
        """The arguments of every invocation of ``method`` received so far (names ignore case)."""
        with self._lock:
            return [list(arguments) for arguments in self._received.get(method.lower(), [])]

    def wait_for(self, method: str, timeout: float | None = None) -> list[Any]:
        """The arguments of the next invocation of ``method`` not yet returned by ``wait_for``,
        waiting up to ``timeout`` seconds (default: the client's timeout)."""
        key = method.lower()
        limit = self.timeout if timeout is None else timeout
        with self._lock:
            position = self._taken.get(key, 0)
            if not self._lock.wait_for(lambda: len(self._received.get(key, ())) > position or self._closed, limit):
                raise TimeoutError(f"{method!r} was not received within {limit} s")
            messages = self._received.get(key, [])
            if len(messages) <= position:
                raise ConnectionError(f"the connection closed before {method!r} arrived: {self.close_error}")
            self._taken[key] = position + 1
            return list(messages[position])

    # -- closing ---------------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._connected and not self._closed

    def wait_closed(self, timeout: float | None = None) -> bool:
        """Wait until the connection ends (e.g. the hub aborted it); True if it has."""
        with self._lock:
            return self._lock.wait_for(lambda: self._closed, self.timeout if timeout is None else timeout)

    def close(self) -> None:
        """Close the WebSocket (the hub sees a clean disconnect) and stop the reader thread."""
        if not self._loop.running:
            return
        with self._lock:
            already_closed = self._closed
            self._closed = True
        if not already_closed:
            self._loop.call(self._drop, timeout=self.timeout)
        self._loop.call(self._stop_greenlets, timeout=self.timeout)
        self._loop.stop()

    def _stop_greenlets(self) -> None:
        for greenlet in list(self._greenlets):
            greenlet.kill(block=True, timeout=1)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<SignalRTestClient hub={self.registration.name!r} connection_id={self.connection_id!r}>"


def _registration(app: Flask, hub: str | type) -> HubRegistration:
    extension = app.extensions.get(EXTENSION_KEY)
    if extension is None:
        raise RuntimeError("FlaskAzureSignalR.init_app() has not been called for this app.")
    for registration in extension.hubs.values():
        if registration.hub_class is hub or (isinstance(hub, str) and registration.key == hub.lower()):
            return registration
    raise LookupError(f"no hub {hub!r} is registered with this app's FlaskAzureSignalR")
