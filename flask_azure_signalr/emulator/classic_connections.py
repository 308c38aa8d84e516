"""Classic client connections of the service (aspnet-classic §1.4-§1.11).

A :class:`ClassicConnection` is born at ``/aspnetclient/negotiate`` and outlives the transports
that carry it: a WebSocket or event stream that ends leaves it waiting ``DisconnectTimeout`` for
``/reconnect``; long polling carries it from poll to poll. It is the router's
:class:`~.classic_router.ClassicSink`: app messages (classic JSON texts) queue here until the
current transport takes them, so nothing sent while a client reconnects is lost.

Transports (:mod:`.classic_transports`) attach with :meth:`ClassicConnection.attach` and get woken
through :meth:`ClassicTransport.wake`.
"""

from __future__ import annotations

import logging
import os
import re
import uuid
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..protocol.classic import make_connection_token, read_connection_token
from .auth import VerifiedToken, claim_pairs
from .classic_router import ClassicClientRecord
from .client_connections import (
    open_connection_headers,
    open_connection_query,
    user_id_of,
)
from .router import NoServerAvailable

if TYPE_CHECKING:
    from .context import EmulatorContext, Timer
    from .http import Request

__all__ = [
    "MIN_SDK_VERSION",
    "ClassicConnection",
    "ClassicRegistry",
    "ClassicTransport",
    "classic_claims_error",
]

log = logging.getLogger("flask_azure_signalr.emulator.classic_connections")

#: ``asrs.s.vn`` from this version on tells the service the app uses ``{app}_{hub}`` pools
#: (aspnet-classic §4.1, Azure/azure-signalr PR #489).
MIN_SDK_VERSION = (1, 0, 9)

_VERSION = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?(?:\.\d+)?")


def classic_claims_error(token: VerifiedToken) -> str | None:
    """Why a valid classic client token cannot be served, or None (aspnet-classic §4.1).

    The application name routes the client to its app's pool; the SDK version must be one that
    names pools ``{app}_{hub}``, the only naming this emulator implements.
    """
    if not token.get("asrs.s.apn"):
        return "Unauthorized: the access token has no application name (claim 'asrs.s.apn')."
    match = _VERSION.fullmatch(token.get("asrs.s.vn") or "")
    version = tuple(int(part or 0) for part in match.groups()) if match else None
    if version is None or version < MIN_SDK_VERSION:
        return "Unauthorized: the access token needs an SDK version 1.0.9 or later (claim 'asrs.s.vn')."
    return None


class ClassicTransport(ABC):
    """What a connection needs from the transport carrying it."""

    #: Transport name as the jQuery client writes it (``webSockets``…).
    NAME: str = ""

    @abstractmethod
    def wake(self) -> None:
        """Something was queued or the connection is closing: look at the connection again."""

    @abstractmethod
    def detach(self) -> None:
        """Another transport took over, or the connection ended: stop without reconnecting."""

    @abstractmethod
    def drop(self) -> None:
        """End the transport the way a network failure would, so that the client reconnects."""


class ClassicConnection:
    """One classic client connection."""

    def __init__(self, context: EmulatorContext, token: VerifiedToken, hubs: tuple[str, ...], secret: bytes) -> None:
        self.context = context
        self.token = token
        self.application = token.get("asrs.s.apn") or ""
        self.hubs = hubs
        self.user_id = user_id_of(token)
        self.connection_id = str(uuid.uuid4())
        self.connection_token = make_connection_token(self.connection_id, self.user_id or "", secret)
        ttl = token.get("asrs.s.ttl")
        self.max_poll_interval = (
            float(ttl) if ttl and ttl.isdigit() and 1 <= int(ttl) <= 300 else context.options.max_poll_interval
        )
        self.record: ClassicClientRecord | None = None
        self.transport: ClassicTransport | None = None
        self.closed = False
        #: Set when the service ends the connection: the text the client gets as ``{"E": …}``.
        self.error: str | None = None
        self._queue: deque[bytes] = deque()
        self._queued = 0
        self._cursor = 0
        self._disconnect_timer: Timer | None = None

    def __repr__(self) -> str:
        return f"<ClassicConnection {self.connection_id} app={self.application!r} hubs={list(self.hubs)}>"

    # --------------------------------------------------------------------------- transports

    def attach(self, transport: ClassicTransport, request: Request, *, reconnect: bool) -> bool:
        """Make ``transport`` the current one; False when no app server can take the client.

        The first attach binds the client (OpenConnection); a reconnect tells the app
        ``asrs:reconnect`` (§1.10); any earlier transport is detached.
        """
        old, self.transport = self.transport, transport
        if old is not None and old is not transport:
            old.detach()
        self._cancel_disconnect_timer()
        if self.record is None:
            token = self.token
            try:
                self.record = self.context.classic_router.connect(
                    self,
                    application=self.application,
                    hubs=self.hubs,
                    user_id=self.user_id,
                    claims=claim_pairs(token),
                    headers=open_connection_headers(request, self.context),
                    query_string=open_connection_query(request),
                    sticky_server=token.get("asrs.s.sn") if token.get("asrs.s.ssticky") else None,
                    sticky_required=token.get("asrs.s.ssticky") == "Required",
                )
            except NoServerAvailable:
                self.transport = None
                return False
            log.debug("classic client %s bound (%s)", self.connection_id, transport.NAME)
        elif reconnect:
            self.context.classic_router.reconnected(self.record)
        return True

    def transport_ended(self, transport: ClassicTransport) -> None:
        """``transport`` is gone; unless another took over, wait for ``/reconnect`` (§1.10)."""
        if transport is not self.transport:
            return
        self.transport = None
        if self.error is not None:
            self.finish()
        elif not self.closed:
            self._cancel_disconnect_timer()
            self._disconnect_timer = self.context.spawn_later(
                self.context.options.classic_disconnect_timeout, self.end
            )

    def _cancel_disconnect_timer(self) -> None:
        if self._disconnect_timer is not None:
            self._disconnect_timer.cancel()
            self._disconnect_timer = None

    def receive(self, data: bytes) -> None:
        """A hub invocation the client sent, forwarded as is (§1.7)."""
        if self.record is not None and not self.closed:
            self.context.classic_router.client_data(self.record, data)

    def next_cursor(self) -> str:
        """A fresh, non-empty message id ``C`` (long polling needs one, §1.5)."""
        self._cursor += 1
        return str(self._cursor)

    def take(self) -> list[bytes]:
        """Every queued message, in order."""
        messages = list(self._queue)
        self._queue.clear()
        self._queued = 0
        return messages

    @property
    def pending(self) -> bool:
        return bool(self._queue)

    # --------------------------------------------------------------------------- ClassicSink

    def deliver(self, messages: Sequence[bytes]) -> None:
        if self.closed or self.error is not None:
            return
        self._queue.extend(messages)
        self._queued += sum(len(message) for message in messages)
        if self._queued > self.context.options.client_buffer_limit:
            log.warning("classic client %s dropped: more than %d bytes waiting", self.connection_id, self._queued)
            self.end("The client was too slow to receive messages.")
            return
        if self.transport is not None:
            self.transport.wake()

    def close(self, error: str) -> None:
        """The service ends the client (the router already forgot it): ``{"E": error}`` (§6.8)."""
        self.record = None
        if self.closed or self.error is not None:
            return
        self.error = error
        if self.transport is None:
            self.finish()
        else:
            self.transport.wake()

    # --------------------------------------------------------------------------- ending

    def end(self, error: str = "") -> None:
        """The client left (abort, disconnect timeout, missed poll): the app gets CloseConnection."""
        record, self.record = self.record, None
        if record is not None:
            self.context.classic_router.disconnect(record, error)
        self.finish()

    def finish(self) -> None:
        """Forget the connection; a transport still attached stops."""
        if self.closed:
            return
        self.closed = True
        self._cancel_disconnect_timer()
        self._queue.clear()
        self._queued = 0
        self.context.classic_connections.remove(self)
        transport, self.transport = self.transport, None
        if transport is not None:
            transport.detach()


class ClassicRegistry:
    """Classic connections by id, and the secret their connection tokens are signed with."""

    def __init__(self) -> None:
        self._secret = os.urandom(32)
        self._by_id: dict[str, ClassicConnection] = {}

    def create(self, context: EmulatorContext, token: VerifiedToken, hubs: tuple[str, ...]) -> ClassicConnection:
        """A negotiated connection; forgotten if no transport attaches within ``negotiate_timeout``."""
        connection = ClassicConnection(context, token, hubs, self._secret)
        self._by_id[connection.connection_id] = connection
        context.spawn_later(context.options.negotiate_timeout, self._reap_if_unused, connection)
        return connection

    def find(self, connection_token: str) -> ClassicConnection | None:
        """The live connection a ``connectionToken`` names (its user is checked by the caller).

        Raises :class:`ClassicProtocolError` for a token this emulator did not issue (the token
        never appears in the message).
        """
        connection_id, _ = read_connection_token(connection_token, self._secret)
        return self._by_id.get(connection_id)

    def remove(self, connection: ClassicConnection) -> None:
        if self._by_id.get(connection.connection_id) is connection:
            del self._by_id[connection.connection_id]

    def all(self) -> list[ClassicConnection]:
        return list(self._by_id.values())

    def _reap_if_unused(self, connection: ClassicConnection) -> None:
        if connection.record is None and connection.transport is None and not connection.closed:
            connection.finish()
