"""One classic (jQuery) client as the app sees it behind the service (aspnet-classic §2.3, §2.4).

It is opened by ``OpenConnection`` on a connection of the application pool and lives on that
server connection. Lifecycle, per hub named in its ``connectionData``: ``on_connected`` first
(invocations that arrive meanwhile wait), ``on_reconnected`` for the ``asrs:reconnect`` payload,
``on_disconnected`` once at the end. Every other payload is one hub invocation, handed to the
:class:`~.classic_dispatch.ClassicDispatcher`. Like the ASP.NET Core client it has no greenlet of
its own; its server connection's reader feeds it.
"""

from __future__ import annotations

import enum
import logging
from typing import TYPE_CHECKING

import gevent

from ..protocol.classic import HubResponse, encode, is_reconnect
from ..protocol.service_messages import CloseConnection, OpenConnection
from .client_connection import INSTANCE_ID, caller_context

if TYPE_CHECKING:
    from .classic_host import ClassicHost
    from .hub_host import HubHost
    from .server_connection import ServerConnection

__all__ = ["ABORTED", "ClassicClient"]

logger = logging.getLogger("flask_azure_signalr.runtime.classic_client")

#: What a classic client sees (``{"E": …}``) when a hub aborts its connection.
ABORTED = "The connection was closed by the server."


class _State(enum.IntEnum):
    CONNECTING = 0
    CONNECTED = 1
    CLOSED = 2


class ClassicClient:
    """A classic client hosted by this process."""

    __slots__ = ("owner", "connection", "connection_id", "context", "hubs", "instance_id", "_state", "_backlog")

    def __init__(
        self, owner: ClassicHost, connection: ServerConnection, message: OpenConnection, hubs: list[HubHost]
    ) -> None:
        self.owner = owner
        self.connection = connection
        self.connection_id = message.connection_id
        self.context = caller_context(message, self.abort_threadsafe)
        self.hubs = hubs
        self.instance_id = message.header(INSTANCE_ID)
        self._state = _State.CONNECTING
        self._backlog: list[bytes] | None = []

    def __repr__(self) -> str:
        return f"<ClassicClient {self.connection_id} {self._state.name.lower()}>"

    def start(self) -> None:
        gevent.spawn(self._connect)

    def _connect(self) -> None:
        """``on_connected`` of every hub; a failure makes the app refuse the client (§2.3)."""
        for host in self.hubs:
            try:
                host.create_hub(self).on_connected()
            except Exception as error:
                logger.error("on_connected of %s failed for a classic client", host.name, exc_info=error)
                self._finish(None, notify=str(error) or type(error).__name__, run_hooks=False)
                return
        if self._state is not _State.CONNECTING:
            return
        self._state = _State.CONNECTED
        backlog, self._backlog = self._backlog or [], None
        for payload in backlog:
            self.receive(payload)

    # -- from the service ---------------------------------------------------------------------------

    def receive(self, payload: bytes) -> None:
        """One ConnectionData payload: ``asrs:reconnect`` or one hub invocation (§2.4)."""
        if self._state is _State.CLOSED:
            return
        if self._backlog is not None:
            self._backlog.append(bytes(payload))
        elif is_reconnect(payload):
            for host in self.hubs:
                host.hooks.spawn(self._hook, host, "on_reconnected")
        else:
            self.owner.dispatcher.invoke(self, bytes(payload))

    def closed_by_service(self, message: CloseConnection) -> None:
        """The client left (``/abort``, missed polls, a reconnect that never came)."""
        self._finish(ConnectionError(message.error_message) if message.error_message else None, notify=None)

    def lost(self, error: BaseException) -> None:
        """Its server connection dropped: the service has closed the client already (§5)."""
        self._finish(error, notify=None)

    # -- to the service -----------------------------------------------------------------------------

    def reply(self, response: HubResponse) -> None:
        """A hub result, bare (not in an envelope), on this client's connection (§2.5)."""
        self.owner.send_text(self, encode(response))

    def abort_threadsafe(self) -> None:
        """``Context.abort()`` from any thread."""
        self.owner.server.loop.call(self.abort)

    def abort(self) -> None:
        """The app ends the client: CloseConnection, which it sees as ``{"E": …}``."""
        self._finish(None, notify=ABORTED)

    def _finish(self, error: BaseException | None, *, notify: str | None, run_hooks: bool = True) -> None:
        if self._state is _State.CLOSED:
            return
        self._state = _State.CLOSED
        self._backlog = None
        if notify is not None:
            self.owner.close_client(self, notify)
        self.owner.client_gone(self)
        if run_hooks:
            for host in self.hubs:
                host.hooks.spawn(self._hook, host, "on_disconnected", error)

    def _hook(self, host: HubHost, name: str, *args: object) -> None:
        try:
            getattr(host.create_hub(self), name)(*args)
        except Exception as error:
            logger.error("%s of %s failed for a classic client", name, host.name, exc_info=error)
