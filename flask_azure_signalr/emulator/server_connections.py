"""The ``/server/`` endpoint: WebSocket connections from app servers (service-protocol §4, §5, §9).

One :class:`ServerConnection` per WebSocket. Its request greenlet reads and parses frames and
hands each message to the router in arrival order (§10). What the router sends goes out at once,
one service message per binary WebSocket message (§1.1), from the router's greenlet while the
socket takes it (:meth:`WebSocket.try_send_prepared`); what it does not take is queued, in order, for a writer
greenlet that lives only until the queue is empty. A pinger greenlet sends a keep-alive Ping every
``server_ping_interval``. A connection that sends nothing for ``server_timeout`` is dropped.
Malformed bytes end only that connection: a ServiceError naming the problem, a log line, close.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import deque
from typing import TYPE_CHECKING, Any

import gevent

from ..exceptions import ServiceProtocolError
from ..protocol.service import ServiceProtocolParser, encode
from ..protocol.service_messages import (
    HandshakeRequest,
    HandshakeResponse,
    Ping,
    ServiceError,
)
from ..websocket import WebSocket

if TYPE_CHECKING:
    from .context import EmulatorContext
    from .http import Request

__all__ = ["SUPPORTED_VERSION", "ServerConnection", "serve_server_connection"]

log = logging.getLogger("flask_azure_signalr.emulator.server_connections")

#: The only service-protocol version (§3.2 #1).
SUPPORTED_VERSION = 1


class ServerConnection:
    """One app-server connection; the router's :class:`~.router.ServerLink`."""

    def __init__(
        self,
        ws: WebSocket,
        context: EmulatorContext,
        *,
        hub: str,
        connection_id: str,
        server_id: str,
        handshake: HandshakeRequest,
        router: Any = None,
    ) -> None:
        self.ws = ws
        self.context = context
        #: The router this connection feeds: the ASP.NET Core one, or the classic one for
        #: ``/aspnetserver/`` (both take ``add_server``/``remove_server``/``handle``).
        self.router = router if router is not None else context.router
        self.hub = hub
        self.connection_id = connection_id
        self.server_id = server_id
        self.connection_type = int(handshake.connection_type)
        self.migration_level = int(handshake.migration_level)
        self._queue: deque[bytes] = deque()
        self._queued = 0
        self._writer: gevent.Greenlet | None = None
        self._done = False

    def send(self, message: Any) -> None:
        """Send now if the socket takes it, else queue for the writer; too much queued drops the connection."""
        if self._done:
            return
        frame = WebSocket.prepare(encode(message))
        if self._writer is None:
            rest = self.ws.try_send_prepared(frame)
            if rest is not None:
                if rest:
                    self._writer = self.context.spawn(self._write_loop, rest)
                return
            self._writer = self.context.spawn(self._write_loop, None)
        self._queue.append(frame)
        self._queued += len(frame)
        if self._queued > self.context.options.server_buffer_limit:
            log.warning("server connection %s dropped: it does not read what the service sends", self.connection_id)
            self._finish()
            self.context.spawn(self.ws.close, 1011, "send buffer full")

    def run(self, parser: ServiceProtocolParser, buffered: list[Any]) -> None:
        """Serve the connection until it ends; its clients are then closed or migrated."""
        router = self.router
        router.add_server(self.hub, self)
        pinger = self.context.spawn(self._ping_loop)
        log.info(
            "server connection %s of server %s joined hub %s (type %d, migration %d)",
            self.connection_id, self.server_id, self.hub, self.connection_type, self.migration_level,
        )
        try:
            for message in buffered:
                router.handle(self, message)
            self._read_loop(parser)
        finally:
            self._finish()
            pinger.kill(block=False)
            router.remove_server(self)
            writer = self._writer
            if not self.context.stopping:
                if writer is not None:
                    writer.join(self.context.options.server_ping_interval)
                    writer.kill(block=False)
                self.ws.close()
            log.info("server connection %s of server %s left hub %s", self.connection_id, self.server_id, self.hub)

    def _read_loop(self, parser: ServiceProtocolParser) -> None:
        router = self.router
        timeout = self.context.options.server_timeout
        while not self._done:
            data = self.ws.receive(timeout)
            if data is None:
                if not self.ws.closed:
                    log.warning("server connection %s sent nothing for %s s; dropping it", self.connection_id, timeout)
                return
            try:
                messages = parser.feed(data.encode("utf-8") if isinstance(data, str) else data)
                for message in messages:
                    router.handle(self, message)
                parser.feed(b"")
            except ServiceProtocolError as error:
                self._protocol_error(error)
                return

    def _protocol_error(self, error: ServiceProtocolError) -> None:
        log.warning("server connection %s sent malformed data, closing it: %s", self.connection_id, error)
        self.send(ServiceError(error_message=f"Invalid service protocol data: {error}"))
        self._finish()

    def _finish(self) -> None:
        self._done = True

    def _write_loop(self, rest: memoryview | None) -> None:
        """Finish a partly sent frame (its send lock held), then send the queue until it is empty."""
        ws = self.ws
        try:
            if rest is not None:
                ws.finish_send(rest)
            while self._queue and not ws.closed:
                frames = list(self._queue)
                self._queue.clear()
                self._queued = 0
                ws.send_prepared(frames[0] if len(frames) == 1 else b"".join(frames))
        finally:
            self._writer = None

    def _ping_loop(self) -> None:
        """A keep-alive Ping every interval (§5.1), whatever else is sent."""
        interval = self.context.options.server_ping_interval
        while not self._done:
            gevent.sleep(interval)
            self.send(Ping())


def serve_server_connection(
    ws: WebSocket, request: Request, context: EmulatorContext, *, hub: str, server_id: str, router: Any = None
) -> None:
    """Run the handshake (§4.4, §9.2) and then the connection, on an accepted WebSocket.

    ``router`` defaults to the context's ASP.NET Core router.
    """
    parser = ServiceProtocolParser()
    deadline = time.monotonic() + context.options.server_handshake_timeout
    messages: list[Any] = []
    try:
        while not messages:
            remaining = deadline - time.monotonic()
            data = ws.receive(max(remaining, 0.0)) if remaining > 0 else None
            if data is None:
                log.info("server connection on hub %s sent no handshake in time", hub)
                ws.close(1000)
                return
            messages = parser.feed(data.encode("utf-8") if isinstance(data, str) else data)
    except ServiceProtocolError as error:
        log.warning("server connection on hub %s sent a malformed handshake: %s", hub, error)
        ws.send(encode(HandshakeResponse(error_message=f"Invalid handshake request: {error}")))
        ws.close(1000)
        return
    handshake, rest = messages[0], messages[1:]
    error = _handshake_error(handshake)
    if error is not None:
        log.warning("server connection on hub %s refused: %s", hub, error)
        ws.send(encode(HandshakeResponse(error_message=error)))
        ws.close(1000)
        return
    assert isinstance(handshake, HandshakeRequest)
    connection_id = request.arg("cid") or str(uuid.uuid4())
    ws.send(encode(HandshakeResponse(error_message="", connection_id=connection_id)))
    ServerConnection(
        ws, context, hub=hub, connection_id=connection_id, server_id=server_id, handshake=handshake, router=router
    ).run(parser, rest)


def _handshake_error(message: Any) -> str | None:
    if not isinstance(message, HandshakeRequest):
        return f"Expected a handshake request, got {type(message).__name__}."
    if message.version != SUPPORTED_VERSION:
        return f"Protocol version not supported: {message.version}. Supported version: {SUPPORTED_VERSION}."
    return None
