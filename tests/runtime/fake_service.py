"""A scripted stand-in for the service's ``/server/`` endpoint, for wire-level runtime tests.

It runs on the test thread's gevent hub and records each upgrade request (path, query, headers)
and every frame it receives, raw and decoded; the test answers by sending service messages. The
HubServer under test runs on its own runtime thread, so the test's gevent waits keep this side
responsive. It stands in for the network peer only; nothing of the runtime is replaced.
"""

from __future__ import annotations

from collections.abc import Iterator
from time import monotonic
from typing import Any, Callable
from urllib.parse import parse_qs

import gevent
import gevent.event
import gevent.queue
from gevent.pywsgi import WSGIServer

from flask_azure_signalr.protocol import service as codec
from flask_azure_signalr.protocol.service_messages import (
    HandshakeResponse,
    ServiceMessage,
)
from flask_azure_signalr.websocket import (
    WebSocket,
    WebSocketHandler,
    accept,
    is_websocket_request,
)

__all__ = ["FakeService", "FakeConnection", "wait_until"]

ACCESS_KEY = "fake-service-access-key-0123456789abcdef"


def wait_until(condition: Callable[[], bool], timeout: float = 5) -> None:
    """Poll ``condition`` while letting this thread's gevent hub run."""
    deadline = monotonic() + timeout
    while not condition():
        if monotonic() > deadline:
            raise AssertionError("condition not met in time")
        gevent.sleep(0.01)


class FakeConnection:
    """One server connection as the service sees it."""

    def __init__(self, environ: dict[str, Any], ws: WebSocket) -> None:
        self.path: str = environ["PATH_INFO"]
        self.query_string: str = environ.get("QUERY_STRING", "")
        self.query = {k: v[0] for k, v in parse_qs(self.query_string, keep_blank_values=True).items()}
        self.headers = {k[5:].replace("_", "-").title(): v for k, v in environ.items() if k.startswith("HTTP_")}
        self.accepted_at = monotonic()
        self.ws = ws
        self.frames: list[bytes] = []
        self.received: gevent.queue.Queue[ServiceMessage] = gevent.queue.Queue()
        self.closed = gevent.event.Event()
        self.close_code: int | None = None
        self._parser = codec.ServiceProtocolParser()

    def read(self) -> None:
        while True:
            data = self.ws.receive()
            if data is None:
                break
            data = data if isinstance(data, bytes) else data.encode()
            self.frames.append(data)
            for message in self._parser.feed(data):
                self.received.put(message)
        self.close_code = self.ws.close_code
        self.closed.set()

    def send(self, message: ServiceMessage) -> None:
        self.ws.send(codec.encode(message))

    def accept_handshake(self) -> None:
        self.next()
        self.send(HandshakeResponse())

    def next(self, kind: type | tuple[type, ...] = object, timeout: float = 5) -> Any:
        """The next received message of ``kind``, skipping others (keep-alive pings, ...)."""
        deadline = monotonic() + timeout
        while True:
            message = self.received.get(timeout=max(deadline - monotonic(), 0))
            if isinstance(message, kind):
                return message

    def messages(self, timeout: float = 0.3) -> Iterator[ServiceMessage]:
        """Everything that arrives within ``timeout`` seconds of quiet."""
        while True:
            try:
                yield self.received.get(timeout=timeout)
            except gevent.queue.Empty:
                return

    def close(self) -> None:
        self.ws.close(1000)


class FakeService:
    """The WSGI server; ``next_connection()`` yields upgrades in arrival order."""

    def __init__(self, *, refuse_status: int | None = None) -> None:
        self.refuse_status = refuse_status
        self.refused: list[float] = []
        self.connections: gevent.queue.Queue[FakeConnection] = gevent.queue.Queue()
        self.all: list[FakeConnection] = []
        self.server = WSGIServer(("127.0.0.1", 0), self._app, handler_class=WebSocketHandler, log=None)

    def start(self) -> FakeService:
        self.server.start()
        return self

    def stop(self) -> None:
        for connection in self.all:
            if not connection.closed.is_set():
                connection.ws.close(1000)
        self.server.stop(timeout=1)

    @property
    def port(self) -> int:
        return self.server.server_port

    @property
    def connection_string(self) -> str:
        return f"Endpoint=http://127.0.0.1;Port={self.port};AccessKey={ACCESS_KEY};Version=1.0;"

    def next_connection(self, timeout: float = 5) -> FakeConnection:
        return self.connections.get(timeout=timeout)

    def _app(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        if not is_websocket_request(environ):
            start_response("404 Not Found", [("Content-Length", "0")])
            return []
        if self.refuse_status is not None:
            self.refused.append(monotonic())
            start_response(f"{self.refuse_status} Refused", [("Content-Length", "0")])
            return []
        connection = FakeConnection(environ, accept(environ))
        self.all.append(connection)
        self.connections.put(connection)
        connection.read()
        return []
