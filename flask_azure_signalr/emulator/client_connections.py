"""Client connections of the service, whatever their transport.

A :class:`ClientConnection` is born at negotiate (or at an id-less WebSocket connect) and carries
what the client's access token says. A transport (WebSockets, Server-Sent Events, Long Polling)
attaches to it as a :class:`ClientTransport`, the part every transport shares:

- inbound, it peeks at the hub handshake to learn the protocol (service-protocol §9.5,
  hub-protocol §4.1), answers the errors only the service can know (transfer format, no app
  server, timeout), binds the client to a server connection and then forwards the client's raw
  bytes, handshake included, in ConnectionData;
- outbound, it is the router's :class:`~.router.ClientSink`: payloads are turned into transport
  frames once per fan-out and queued, up to a byte limit past which the client is dropped as
  too slow.

The transport modules only move bytes between this queue and their sockets: Server-Sent Events
and Long Polling from their request greenlet (:meth:`ClientTransport.wait`), WebSockets right
from the enqueueing greenlet while the socket takes them.
"""

from __future__ import annotations

import base64
import logging
import os
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from gevent.event import Event

from ..protocol.handshake import (
    HANDSHAKE_CANCELED,
    HandshakeResponse,
    answer_handshake,
    encode_handshake_response,
)
from ..protocol.hub_messages import CloseMessage
from ..protocol.hub_protocol import TEXT, HubProtocol
from .auth import VerifiedToken, claim_pairs
from .router import ClientRecord, NoServerAvailable

if TYPE_CHECKING:
    from .context import EmulatorContext
    from .http import Request

__all__ = [
    "NO_SERVER_ERROR",
    "TRANSPORT_BITS",
    "ClientConnection",
    "ClientTransport",
    "ConnectionRegistry",
    "open_connection_headers",
    "open_connection_query",
    "user_id_of",
]

log = logging.getLogger("flask_azure_signalr.emulator.client_connections")

#: What a client sees when its hub has no app server (rest-api-and-emulator §2).
NO_SERVER_ERROR = (
    "SignalR Service is now in 'Default' service mode. Current mode works as a proxy that routes client "
    "traffic to the connected app servers. However app servers are not connected."
)

#: Transport bits of the ``asrs.s.htt`` claim (auth-negotiate-options §2.4).
TRANSPORT_BITS = {"WebSockets": 1, "ServerSentEvents": 2, "LongPolling": 4}

#: Largest hub handshake request the service waits for (the .NET default maximum message size).
MAX_HANDSHAKE_SIZE = 32 * 1024

_NAME_IDENTIFIER = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier"
_HIDDEN_HEADERS = frozenset({"authorization"})


def user_id_of(token: VerifiedToken) -> str | None:
    """``asrs.s.uid`` if present, else the name identifier (auth-negotiate-options §2.6)."""
    for claim in ("asrs.s.uid", "nameid", _NAME_IDENTIFIER, "sub"):
        value = token.get(claim)
        if value:
            return value
    return None


def _new_id() -> str:
    """16 random bytes, Base64Url without padding: URL-safe, as the .NET server's ids."""
    return base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode("ascii")


def _int_claim(token: VerifiedToken, name: str, low: int, high: int) -> int | None:
    value = token.get(name)
    try:
        number = int(value) if value is not None else None
    except ValueError:
        return None
    return number if number is not None and low <= number <= high else None


class ClientConnection:
    """One client connection: its ids, its hub, its token, and the transport once one attached."""

    def __init__(self, hub: str, token: VerifiedToken, negotiate_version: int | None) -> None:
        self.hub = hub
        self.token = token
        self.connection_id = _new_id()
        #: What the client puts in ``?id=``: the connection token with negotiate v1, else the id.
        self.key = _new_id() if negotiate_version else self.connection_id
        self.negotiate_version = negotiate_version
        self.transport: ClientTransport | None = None
        self.user_id = user_id_of(token)
        self.detailed_errors = token.get("asrs.s.derror") == "True"
        self.handshake_timeout = _int_claim(token, "asrs.s.cht", 1, 30)
        self.max_poll_interval = _int_claim(token, "asrs.s.ttl", 1, 300)
        transports = _int_claim(token, "asrs.s.htt", 0, 7)
        self.transport_mask = 7 if transports is None else transports

    def allows(self, transport: str) -> bool:
        return bool(self.transport_mask & TRANSPORT_BITS[transport])

    def __repr__(self) -> str:
        return f"<ClientConnection {self.connection_id} hub={self.hub!r}>"


class ConnectionRegistry:
    """Client connections by the key clients put in ``?id=``."""

    def __init__(self) -> None:
        self._by_key: dict[str, ClientConnection] = {}

    def add(self, connection: ClientConnection) -> None:
        self._by_key[connection.key] = connection

    def find(self, key: str) -> ClientConnection | None:
        return self._by_key.get(key)

    def remove(self, connection: ClientConnection) -> None:
        if self._by_key.get(connection.key) is connection:
            del self._by_key[connection.key]

    def reap_if_unused(self, connection: ClientConnection) -> None:
        """Negotiated but never picked up by a transport: forget it (hub-protocol §1.2)."""
        if connection.transport is None:
            self.remove(connection)


class ClientTransport(ABC):
    """The transport-independent half of a client transport; also the router's ClientSink."""

    #: Transport name as negotiate lists it.
    KIND: ClassVar[str]
    #: Transfer formats the transport carries (``TEXT``/``BINARY``).
    FORMATS: ClassVar[frozenset[str]]

    def __init__(self, connection: ClientConnection, context: EmulatorContext, request: Request) -> None:
        self.connection = connection
        self.connection_id = connection.connection_id
        self.context = context
        self.protocol: HubProtocol | None = None
        self.record: ClientRecord | None = None
        self.finished = False
        #: True when the client was dropped for not reading fast enough.
        self.dropped = False
        self._inbound = bytearray()
        self._queue: deque[bytes] = deque()
        self._queued = 0
        self._closing = False
        self._wakeup = Event()
        self._headers = open_connection_headers(request, context)
        self._query_string = open_connection_query(request)
        connection.transport = self
        timeout = connection.handshake_timeout or context.options.client_handshake_timeout
        self._handshake_timer = context.spawn_later(timeout, self._handshake_expired)

    # --------------------------------------------------------------------------- inbound

    def receive(self, data: bytes | str) -> None:
        """Bytes the client sent: peek at the handshake, then forward to the app server."""
        if self.finished or self._closing:
            return
        chunk = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        if self.record is not None:
            self.context.router.client_data(self.record, chunk)
            return
        self._inbound += chunk
        outcome = answer_handshake(
            self._inbound,
            transfer_formats=self.FORMATS,
            max_size=MAX_HANDSHAKE_SIZE,
            detailed_errors=self.connection.detailed_errors,
        )
        if outcome is None:
            return
        if not outcome.ok:
            self._refuse(outcome.response)
            return
        self.protocol = outcome.protocol
        self._bind(bytes(self._inbound))

    def _bind(self, handshake: bytes) -> None:
        assert self.protocol is not None
        connection = self.connection
        token = connection.token
        try:
            self.record = self.context.router.connect(
                connection.hub,
                self,
                user_id=connection.user_id,
                protocol=self.protocol.name,
                claims=claim_pairs(token),
                headers=self._headers,
                query_string=self._query_string,
                handshake=handshake,
                sticky_server=token.get("asrs.s.sn") if token.get("asrs.s.ssticky") else None,
                sticky_required=token.get("asrs.s.ssticky") == "Required",
            )
        except NoServerAvailable:
            self.protocol = None
            self._refuse(HandshakeResponse(NO_SERVER_ERROR))
            return
        self._inbound.clear()
        self._handshake_timer.cancel()
        log.debug("client %s bound (hub %s, %s, %s)", self.connection_id, connection.hub, self.KIND, self.protocol.name)

    def _refuse(self, response: HandshakeResponse) -> None:
        """The service answers the handshake itself (error only), then closes."""
        self._handshake_timer.cancel()
        self._enqueue(self._encode(encode_handshake_response(response)))
        self._begin_close()
        log.info("client %s refused: %s", self.connection_id, response.error)

    def _handshake_expired(self) -> None:
        if self.record is None and not self.finished and not self._closing:
            self._refuse(HandshakeResponse(HANDSHAKE_CANCELED))

    # --------------------------------------------------------------------------- outbound (ClientSink)

    def deliver(self, data: bytes, cache: dict[Any, Any]) -> None:
        if self.finished or self._closing:
            return
        key = (self.KIND, self.protocol.name if self.protocol else None)
        frame = cache.get(key)
        if frame is None:
            frame = cache[key] = self._encode(data)
        self._enqueue(frame)

    def close(self, message: CloseMessage | None = None) -> None:
        """The service ends this client (the router already forgot it)."""
        self.record = None
        if self.finished or self._closing:
            return
        if message is not None and self.protocol is not None:
            self._enqueue(self._encode(self.protocol.encode(message)))
        self._begin_close()

    def _enqueue(self, frame: bytes) -> None:
        self._queue.append(frame)
        self._queued += len(frame)
        if self._queued > self.context.options.client_buffer_limit:
            log.warning("client %s dropped: more than %d bytes waiting to be sent", self.connection_id, self._queued)
            self.dropped = True
            self.end("The client was too slow to receive messages.")
            return
        self._wake()

    def _begin_close(self) -> None:
        self._closing = True
        self._wake()

    def _wake(self) -> None:
        """Something was queued, or a close is due: tell whoever moves the bytes.

        The default wakes :meth:`wait`; a transport that writes from here instead overrides it
        (it must not block: it runs in the router's and the timers' greenlets).
        """
        self._wakeup.set()

    # --------------------------------------------------------------------------- for transports

    @abstractmethod
    def _encode(self, data: bytes) -> bytes:
        """One payload of whole hub messages as this transport's frame bytes."""

    @property
    def is_text(self) -> bool:
        return self.protocol is None or self.protocol.transfer_format == TEXT

    def wait(self, timeout: float | None) -> None:
        """Block until something is queued, a close was asked for, or ``timeout`` passed."""
        if not self._queue and not self._closing and not self.finished:
            self._wakeup.clear()
            self._wakeup.wait(timeout)

    def take(self) -> list[bytes]:
        """Everything queued so far, in order."""
        frames = list(self._queue)
        self._queue.clear()
        self._queued = 0
        return frames

    @property
    def drained(self) -> bool:
        """The service closed the client and every queued frame was taken."""
        return (self._closing or self.finished) and not self._queue

    def end(self, error: str = "") -> None:
        """The transport is gone (or dropped): tell the app server and forget the client."""
        if self.finished:
            return
        self.finished = True
        self._handshake_timer.cancel()
        self._queue.clear()
        self._queued = 0
        record, self.record = self.record, None
        if record is not None:
            self.context.router.disconnect(record, error)
        self.context.registry.remove(self.connection)
        self._wake()


def open_connection_headers(request: Request, context: EmulatorContext) -> dict[str, Sequence[str]]:
    """The client's request headers as OpenConnection carries them (service-protocol §2.3).

    The token stays out (its claims travel separately); ``X-Forwarded-For`` gets the client's
    address and ``Asrs-Instance-Id`` names this emulator, as the service adds them.
    """
    headers: dict[str, Sequence[str]] = {}
    for name, value in request.headers.items():
        if name not in _HIDDEN_HEADERS:
            headers[_title(name)] = [value]
    forwarded = [*headers.pop("X-Forwarded-For", []), request.remote_addr]
    headers["X-Forwarded-For"] = [", ".join(v for v in forwarded if v)]
    headers["Asrs-Instance-Id"] = [context.router.instance_id]
    return headers


def open_connection_query(request: Request) -> str:
    """The connect request's query with the token removed, with its leading ``?`` (§3.2 #4)."""
    kept = [part for part in request.query_string.split("&") if part and not part.lower().startswith("access_token=")]
    return "?" + "&".join(kept) if kept else ""


def _title(name: str) -> str:
    return "-".join(part.capitalize() for part in name.split("-"))
