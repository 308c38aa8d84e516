"""One client as the app server sees it behind the service: a virtual connection (hub-protocol §4.1).

Its bytes arrive in ConnectionData on the server connection that carried its OpenConnection, and
everything it is sent directly goes back the same way (service-protocol §7.1, §7.2). This object
answers the hub handshake, parses the client's hub protocol, keeps the .NET lifecycle order
(§3.1: handshake reply, ``on_connected``, then dispatch; ``on_disconnected`` once at the end) and
ends the connection with the Close rules of §3.6. It has no greenlet of its own: the server
connection's reader feeds it, and the hub server's heartbeat drives its timers.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from time import monotonic
from typing import TYPE_CHECKING, Any, Callable

import gevent

from ..exceptions import HubException, HubProtocolError, ServiceConnectionError
from ..hub import HubCallerContext
from ..protocol import service as codec
from ..protocol.handshake import (
    HANDSHAKE_CANCELED,
    HandshakeResponse,
    answer_handshake,
    encode_handshake_response,
)
from ..protocol.hub import PROTOCOLS
from ..protocol.hub_messages import (
    PING,
    CancelInvocationMessage,
    CloseMessage,
    CompletionMessage,
    HubMessage,
    InvocationMessage,
    PingMessage,
    StreamInvocationMessage,
    StreamItemMessage,
)
from ..protocol.hub_protocol import HubProtocol
from ..protocol.service_messages import CloseConnection, ConnectionData, OpenConnection
from .dispatcher import UploadStream, error_text

if TYPE_CHECKING:
    from .dispatcher import StreamRun
    from .hub_host import HubHost
    from .server_connection import ServerConnection

__all__ = ["ClientConnection", "ClientState", "ClientTimers", "caller_context", "user_claims"]

logger = logging.getLogger("flask_azure_signalr.runtime.client_connection")

CLOSED_WITH_ERROR = "Connection closed with an error."

MIGRATE_FROM = "Asrs-Migrate-From"
MIGRATE_TO = "Asrs-Migrate-To"
INSTANCE_ID = "Asrs-Instance-Id"

_SYSTEM_CLAIMS = frozenset({"aud", "exp", "iat", "nbf", "iss", "actort", "acr", "azp", "c_hash", "jti", "nonce"})


def user_claims(claims: Any) -> tuple[str | None, list[tuple[str, str]]]:
    """The user id (``asrs.s.uid``) and the user's own claims (service-protocol §2.2)."""
    user_id = None
    kept: list[tuple[str, str]] = []
    for claim_type, value in claims:
        if claim_type == "asrs.s.uid":
            user_id = value
        elif claim_type.startswith("asrs.s.") or claim_type in _SYSTEM_CLAIMS:
            continue
        elif claim_type.startswith("asrs.u."):
            kept.append((claim_type[len("asrs.u.") :], value))
        else:
            kept.append((claim_type, value))
    return user_id, kept


def caller_context(message: OpenConnection, abort: Callable[[], None]) -> HubCallerContext:
    """The hub's view of a client the service opened: id, user, claims, query and headers."""
    user_id, claims = user_claims(message.claims)
    return HubCallerContext(
        message.connection_id,
        user_identifier=user_id,
        claims=claims,
        query_string=message.query_string or "",
        headers=message.headers,
        abort=abort,
    )


@dataclass(frozen=True, slots=True)
class ClientTimers:
    """HubOptions timers in seconds (hub-protocol §2.8); the client timeout starts with its first Ping."""

    keep_alive_interval: float = 15.0
    client_timeout: float = 30.0
    handshake_timeout: float = 15.0


class ClientState(enum.IntEnum):
    HANDSHAKE = 0
    CONNECTING = 1
    CONNECTED = 2
    CLOSED = 3


class ClientConnection:
    """A client connected through the service, hosted by this process."""

    __slots__ = (
        "host",
        "connection",
        "connection_id",
        "context",
        "protocol",
        "state",
        "opened_at",
        "last_write",
        "last_received",
        "pinged",
        "streams",
        "instance_id",
        "_parser",
        "_buffer",
        "_backlog",
        "_uploads",
        "_skip_handshake_response",
        "_forwarding",
    )

    def __init__(self, host: HubHost, connection: ServerConnection, message: OpenConnection) -> None:
        self.host = host
        self.connection = connection
        self.connection_id = message.connection_id
        self.context = caller_context(message, self.abort_threadsafe)
        self.protocol: HubProtocol | None = None
        self.state = ClientState.HANDSHAKE
        now = monotonic()
        self.opened_at = now
        self.last_write = now
        self.last_received = now
        self.pinged = False
        self.streams: dict[str, StreamRun] = {}
        self.instance_id = message.header(INSTANCE_ID)
        self._parser: Any = None
        self._buffer = b""
        self._backlog: list[HubMessage] | None = None
        self._uploads: dict[str, UploadStream] | None = None
        self._skip_handshake_response = message.header(MIGRATE_FROM) is not None
        self._forwarding = True

    def __repr__(self) -> str:
        return f"<ClientConnection {self.connection_id} {self.state.name.lower()}>"

    @property
    def user_id(self) -> str | None:
        return self.context.user_identifier

    # -- incoming -----------------------------------------------------------------------------------

    def receive(self, payload: bytes) -> None:
        """Bytes the client sent, in order (ConnectionData V→S)."""
        if self.state is ClientState.CLOSED:
            return
        self.last_received = monotonic()
        if self.state is ClientState.HANDSHAKE:
            self._handshake(payload)
            return
        try:
            messages = self._parser.feed(payload)
        except HubProtocolError as error:
            logger.debug("%r: unreadable hub message: %s", self, error)
            self._end_with_error(error, allow_reconnect=True)
            return
        if self._backlog is not None:
            self._backlog.extend(messages)
            return
        for message in messages:
            self._handle(message)
            if self.state is ClientState.CLOSED:
                return

    def _handshake(self, payload: bytes) -> None:
        self._buffer += payload
        outcome = answer_handshake(
            self._buffer, PROTOCOLS, detailed_errors=self.host.options.enable_detailed_errors
        )
        if outcome is None:
            return
        self._buffer = b""
        protocol = outcome.protocol
        if protocol is None or not outcome.ok:
            self._write(outcome.response_bytes)
            self._finish(None, notify=outcome.response.error or "", run_hook=False)
            return
        self.protocol = protocol
        self._parser = protocol.parser()
        if self._skip_handshake_response:
            self._skip_handshake_response = False
        else:
            self._write(outcome.response_bytes)
        self.state = ClientState.CONNECTING
        self._backlog = []
        if outcome.rest:
            self.receive(outcome.rest)
        gevent.spawn(self._connect)

    def _connect(self) -> None:
        """``on_connected`` first; messages that arrived meanwhile wait in the backlog (§3.1)."""
        hub = self.host.create_hub(self)
        try:
            hub.on_connected()
        except Exception as error:
            logger.error("on_connected of %s failed", self.host.name, exc_info=error)
            text = error_text(CLOSED_WITH_ERROR, error, self.host.options.enable_detailed_errors)
            self.send_message(CloseMessage(error=text, allow_reconnect=False))
            self._finish(error, notify=text, run_hook=False)
            return
        if self.state is not ClientState.CONNECTING:
            return
        self.state = ClientState.CONNECTED
        backlog, self._backlog = self._backlog or [], None
        for message in backlog:
            self._handle(message)
            if self.state is ClientState.CLOSED:
                return

    def _handle(self, message: HubMessage) -> None:
        if isinstance(message, (InvocationMessage, StreamInvocationMessage)):
            self.host.dispatcher.invoke(self, message)
        elif isinstance(message, StreamItemMessage):
            upload = self._uploads.get(message.invocation_id) if self._uploads else None
            if upload is not None:
                upload.put(message.item)
        elif isinstance(message, CompletionMessage):
            upload = self._uploads.pop(message.invocation_id, None) if self._uploads else None
            if upload is not None:
                upload.end(message.error)
            else:
                self.host.client_results.client_completed(self, message)
        elif isinstance(message, CancelInvocationMessage):
            run = self.streams.get(message.invocation_id)
            if run is not None:
                run.cancel()
        elif isinstance(message, PingMessage):
            self.pinged = True
        elif isinstance(message, CloseMessage):
            error = HubException(message.error) if message.error else None
            self._finish(error, notify="")

    def open_upload(self, stream_id: str) -> UploadStream:
        if self._uploads is None:
            self._uploads = {}
        upload = self._uploads[stream_id] = UploadStream()
        return upload

    def close_uploads(self, stream_ids: Any) -> None:
        """The hub method ended: its upload streams are closed (§3.4)."""
        if self._uploads:
            for stream_id in stream_ids:
                upload = self._uploads.pop(stream_id, None)
                if upload is not None:
                    upload.end()

    # -- outgoing -----------------------------------------------------------------------------------

    def send_message(self, message: HubMessage) -> None:
        """Encode in the client's protocol and write; a no-op once the connection is closed."""
        if self.state is ClientState.CLOSED or self.protocol is None:
            return
        self._write(self.protocol.encode(message))

    def _write(self, data: bytes) -> None:
        if not self._forwarding:
            return
        self.last_write = monotonic()
        try:
            self.connection.send(codec.encode(ConnectionData(self.connection_id, data)))
        except ServiceConnectionError:
            logger.debug("%r: its server connection is gone; the client is lost", self)

    # -- timers (driven by the hub server's heartbeat, once a second) -------------------------------

    def heartbeat(self, now: float, timers: ClientTimers) -> None:
        state = self.state
        if state is ClientState.HANDSHAKE:
            if now - self.opened_at >= timers.handshake_timeout:
                self._write(encode_handshake_response(HandshakeResponse(HANDSHAKE_CANCELED)))
                self._finish(None, notify=HANDSHAKE_CANCELED, run_hook=False)
            return
        if state is ClientState.CLOSED:
            return
        if self.pinged and now - self.last_received >= timers.client_timeout:
            self._end_with_error(TimeoutError("Client timeout elapsed."), allow_reconnect=True)
            return
        if now - self.last_write >= timers.keep_alive_interval:
            self.send_message(PING)

    # -- ending -------------------------------------------------------------------------------------

    def abort_threadsafe(self) -> None:
        """``Context.abort()`` from any thread."""
        self.host.loop.call(self.abort)

    def abort(self) -> None:
        """The app ends the connection: Close without error, no reconnect (§3.6)."""
        if self.state is ClientState.CLOSED:
            return
        self.send_message(CloseMessage())
        self._finish(None, notify="")

    def _end_with_error(self, error: BaseException, *, allow_reconnect: bool) -> None:
        text = error_text(CLOSED_WITH_ERROR, error, self.host.options.enable_detailed_errors)
        self.send_message(CloseMessage(error=text, allow_reconnect=allow_reconnect))
        self._finish(error, notify=text)

    def closed_by_service(self, message: CloseConnection) -> None:
        """V→S CloseConnection: the client left (or migrates away); nothing is sent back (§7.2)."""
        if message.header(MIGRATE_TO) is not None:
            self._forwarding = False
        error = ConnectionError(message.error_message) if message.error_message else None
        self._finish(error, notify=None)

    def lost(self, error: BaseException | None) -> None:
        """The server connection dropped or the service instance went away (§7.3): end locally."""
        self._forwarding = False
        self._finish(error, notify=None)

    def _finish(self, error: BaseException | None, *, notify: str | None, run_hook: bool = True) -> None:
        """End once: tell the service (unless it told us), stop streams, then ``on_disconnected``."""
        previous = self.state
        if previous is ClientState.CLOSED:
            return
        self.state = ClientState.CLOSED
        if notify is not None and self._forwarding:
            try:
                self.connection.send(codec.encode(CloseConnection(self.connection_id, notify)))
            except ServiceConnectionError:
                logger.debug("%r: could not tell the service about the close", self)
        self._forwarding = False
        for run in list(self.streams.values()):
            run.cancel()
        if self._uploads:
            for upload in self._uploads.values():
                upload.end()
            self._uploads = None
        self.host.client_gone(self)
        if run_hook and previous is not ClientState.HANDSHAKE:
            self.host.hooks.spawn(self._disconnected, error)

    def _disconnected(self, error: BaseException | None) -> None:
        hub = self.host.create_hub(self)
        try:
            hub.on_disconnected(error)
        except Exception as failure:
            logger.error("on_disconnected of %s failed", self.host.name, exc_info=failure)
