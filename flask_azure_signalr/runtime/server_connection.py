"""One server connection: a WebSocket from this app server to the service, for one hub and endpoint.

Opening it (service-protocol §4): URL ``/server/?hub=…&cid=<new guid>[&target=…]``, headers
``Authorization``, ``X-Requested-With``, ``Asrs-User-Agent``, ``X-ASRS-Server-Id``, then a
HandshakeRequest and at most 15 s for the HandshakeResponse. Afterwards one greenlet reads
(``run``), answers connection-level pings itself (§5.1, §5.3) and hands everything else to its
container. Writes come from any greenlet of the runtime; the WebSocket serialises them.
"""

from __future__ import annotations

import enum
import logging
import platform
import uuid
from time import monotonic
from typing import TYPE_CHECKING

import gevent
import gevent.event

from .. import __version__, websocket
from ..exceptions import ServiceConnectionError, ServiceProtocolError
from ..protocol import service as codec
from ..protocol.service_messages import (
    Ack,
    HandshakeRequest,
    HandshakeResponse,
    Ping,
    ServiceError,
    ServiceEvent,
    ServiceMessage,
)
from ..tokens import generate_server_token

if TYPE_CHECKING:
    from .client_connection import ClientConnection
    from .container import ServerConnectionContainer

__all__ = ["ConnectionStatus", "ServerConnection", "USER_AGENT"]

logger = logging.getLogger("flask_azure_signalr.runtime.server_connection")

HANDSHAKE_TIMEOUT = 15.0
SERVICE_TIMEOUT = 30.0
KEEP_ALIVE_INTERVAL = 5.0
_READ_SLICE = 5.0

USER_AGENT = (
    f"flask-azure-signalr/{__version__} (Python {platform.python_version()}; "
    f"{platform.system()} {platform.release()}; {platform.machine()})"
)

NOT_ACTIVE = "The connection is not active, data cannot be sent to the service."

#: Greenlets in the middle of a WebSocket write. A stream cancellation never interrupts one of them
#: (a half-written frame would corrupt the connection for every client on it); see dispatcher.
WRITING: set[gevent.Greenlet] = set()


class ConnectionStatus(enum.Enum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"


class ServerConnection:
    """A single WebSocket to the service. ``run()`` blocks for the connection's whole life."""

    def __init__(
        self,
        container: ServerConnectionContainer,
        *,
        connection_type: int,
        migration_level: int = 0,
        target: str | None = None,
    ) -> None:
        self.container = container
        self.connection_type = connection_type
        self.migration_level = migration_level
        self.target = target
        self.cid = str(uuid.uuid4())
        self.status = ConnectionStatus.CONNECTING
        self.service_connection_id: str | None = None
        self.clients: dict[str, ClientConnection] = {}
        self.fin_acked = gevent.event.Event()
        self._ws: websocket.WebSocket | None = None
        self._writable = False
        self._last_keep_alive = 0.0
        self._pending: list[ServiceMessage] = []

    def __repr__(self) -> str:
        return f"<ServerConnection {self.container.service_hub} cid={self.cid} {self.status.value}>"

    @property
    def usable(self) -> bool:
        """Connected and not refused by a ServiceError (§7.4)."""
        return self._writable and self.status is ConnectionStatus.CONNECTED

    # -- lifetime ---------------------------------------------------------------------------------

    def run(self) -> bool:
        """Connect, handshake and read until the connection ends; True if the handshake succeeded."""
        try:
            parser = self._open()
        except Exception as error:
            self.status = ConnectionStatus.DISCONNECTED
            self.container.report_failure(self, error)
            self._abort()
            return False
        self.status = ConnectionStatus.CONNECTED
        self._writable = True
        self.container.connection_up(self)
        try:
            self._read(parser)
        finally:
            self.status = ConnectionStatus.DISCONNECTED
            self._writable = False
            self._abort()
            self.container.connection_down(self)
        return True

    def _open(self) -> codec.ServiceProtocolParser:
        container = self.container
        endpoint = container.endpoint
        options = container.options
        token = generate_server_token(
            endpoint,
            container.service_hub,
            server_id=container.server_id,
            lifetime=options.access_token_lifetime,
            algorithm=options.access_token_algorithm,
            classic=container.classic,
        )
        headers = {
            "Authorization": f"Bearer {token}",
            "X-Requested-With": "XMLHttpRequest",
            "Asrs-User-Agent": USER_AGENT,
        }
        if container.server_id:
            headers["X-ASRS-Server-Id"] = container.server_id
        url = endpoint.server_url(container.service_hub, self.cid, classic=container.classic, target=self.target)
        deadline = monotonic() + HANDSHAKE_TIMEOUT
        self._ws = ws = websocket.connect(url, headers, timeout=HANDSHAKE_TIMEOUT)
        ws.send(
            codec.encode(
                HandshakeRequest(
                    version=1,
                    connection_type=self.connection_type,
                    target="",  # the SDK never fills it: the target travels in the URL (§3.2 #1)
                    migration_level=self.migration_level,
                )
            )
        )
        parser = codec.ServiceProtocolParser()
        while True:
            remaining = deadline - monotonic()
            if remaining <= 0:
                raise TimeoutError("the service did not answer the handshake within 15 s")
            data = ws.receive(timeout=remaining)
            if data is None:
                if ws.closed:
                    raise ConnectionError("the service closed the connection during the handshake")
                continue
            messages = parser.feed(data if isinstance(data, bytes) else data.encode("utf-8"))
            if not messages:
                continue
            first = messages[0]
            if not isinstance(first, HandshakeResponse):
                raise ServiceProtocolError(f"expected a HandshakeResponse, got {type(first).__name__}")
            if first.error_message:
                raise ServiceConnectionError(f"the service refused the connection: {first.error_message}")
            self.service_connection_id = first.connection_id
            self._pending = messages[1:]
            return parser

    def _read(self, parser: codec.ServiceProtocolParser) -> None:
        ws = self._ws
        assert ws is not None
        for message in self._pending:
            self._handle(message)
        self._pending = []
        last_received = monotonic()
        while True:
            data = ws.receive(timeout=_READ_SLICE)
            now = monotonic()
            if data is None:
                if ws.closed:
                    logger.debug("%r closed by the service (%s)", self, ws.close_code)
                    return
                if now - last_received >= SERVICE_TIMEOUT:
                    logger.warning("%r: nothing received from the service for %d s", self, SERVICE_TIMEOUT)
                    return
                continue
            last_received = now
            try:
                messages = parser.feed(data if isinstance(data, bytes) else data.encode("utf-8"))
            except ServiceProtocolError as error:
                logger.warning("%r: unreadable data from the service: %s", self, error)
                return
            for message in messages:
                self._handle(message)
            if now - self._last_keep_alive > KEEP_ALIVE_INTERVAL and self._writable:
                self._last_keep_alive = now
                self._send_keep_alive()

    def _send_keep_alive(self) -> None:
        """``[3, "#clientInHub", N, "#client", M]`` (§5.1): N for the process, M for this connection."""
        ping = Ping.of(
            "#clientInHub", str(self.container.process_client_count()), "#client", str(len(self.clients))
        )
        self._send_quietly(codec.encode(ping))

    def _handle(self, message: ServiceMessage) -> None:
        if isinstance(message, Ping):
            self._handle_ping(message)
        elif isinstance(message, Ack):
            self.container.acks.resolve(message.ack_id, message.status, message.message)
        elif isinstance(message, ServiceError):
            if message.error_message:
                logger.warning("%r: service error: %s", self, message.error_message)
                self._writable = False
        elif isinstance(message, ServiceEvent):
            logger.info(
                "%r: service event kind=%s type=%s id=%s: %s",
                self,
                message.kind,
                message.type,
                message.id,
                message.message,
            )
        elif not isinstance(message, HandshakeResponse):
            self.container.host.handle(self, message)

    def _handle_ping(self, ping: Ping) -> None:
        """Order of inspection as in the SDK (§5.3): echo, offline, finack, status, target."""
        if not ping.messages:
            return
        if ping.get("echo") is not None:
            self._send_quietly(codec.encode(ping))
            return
        instance = ping.get("offline")
        if instance is not None:
            self.container.host.instance_offline(self, instance)
            return
        if ping.get("shutdown") == "finack":
            self.fin_acked.set()
            return
        status = ping.get("status")
        if status is not None:
            self.container.has_clients = status == "1"
        target = ping.get("target")
        if target is not None:
            self.container.open_on_demand(target)

    # -- writing ----------------------------------------------------------------------------------

    def send(self, frame: bytes) -> None:
        """Write one framed service message; raises ServiceConnectionError if this connection cannot."""
        ws = self._ws
        if ws is None or not self.usable:
            raise ServiceConnectionError(NOT_ACTIVE)
        current = gevent.getcurrent()
        WRITING.add(current)
        try:
            ws.send(frame)
        finally:
            WRITING.discard(current)
        if ws.closed:
            self._writable = False
            raise ServiceConnectionError(NOT_ACTIVE)

    def send_ping(self, ping: Ping) -> None:
        """Connection-level pings (fin, status) go out even when data writes are refused."""
        self._send_quietly(codec.encode(ping))

    def _send_quietly(self, frame: bytes) -> None:
        ws = self._ws
        if ws is not None and not ws.closed:
            ws.send(frame)

    def stop(self) -> None:
        """Close with 1000; the reading greenlet then ends ``run()``."""
        self._writable = False
        ws = self._ws
        if ws is not None and not ws.closed:
            ws.close(1000)

    def _abort(self) -> None:
        ws = self._ws
        if ws is not None and not ws.closed:
            gevent.spawn(ws.close, 1000)
