"""Classic ASP.NET SignalR clients of the app's hubs: pools, clients, outgoing messages
(aspnet-classic §2, service-protocol §8).

With ``AZURE_SIGNALR_CLASSIC`` on, :class:`~.hub_server.HubServer` also opens the pools the classic
C# SDK opens, on every endpoint, at ``/aspnetserver/``: one per hub, ``{app}_{hub}``, and the
application pool ``{app}_{app}``. The same ``@signalr.hub`` classes serve both client families:

- the service opens classic clients on the application pool (:meth:`ClassicHost.handle`);
- what hubs send reaches classic clients through :class:`~.lifetime.HubLifetimeManager`, which
  calls the ``broadcast``/``send_*``/``change_group`` methods here with the invocation already
  written as a classic envelope and double-framed (:meth:`ClassicHost.frame`);
- routing follows the SDK (§2.2, §2.7): broadcasts and users on the hub's pool; groups
  (``hg-{Hub}.{group}``), acked join/leave and messages to clients hosted elsewhere on the
  application pool; a local client's messages on its own server connection.

Everything here runs on the runtime's hub.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import gevent

from ..endpoints import ServiceEndpoint
from ..exceptions import ClassicProtocolError, ServiceConnectionError
from ..options import GracefulShutdownMode
from ..protocol import service as codec
from ..protocol.classic import ClientInvocation, envelope, hub_group_name, hub_not_found, parse_query, wrap_payload
from ..protocol.service_messages import (
    BroadcastData,
    CloseConnection,
    ConnectionData,
    GroupBroadcastData,
    JoinGroupWithAck,
    LeaveGroupWithAck,
    OpenConnection,
    ServiceMessage,
    UserData,
)
from .classic_client import ClassicClient
from .classic_dispatch import ClassicDispatcher
from .container import ServerConnectionContainer, send_with_ack
from .server_connection import NOT_ACTIVE

if TYPE_CHECKING:
    from .hub_host import HubHost
    from .hub_server import HubServer
    from .server_connection import ServerConnection

__all__ = ["CLASSIC_PAYLOAD_KEY", "ClassicHost", "ClassicPool"]

logger = logging.getLogger("flask_azure_signalr.runtime.classic_host")

#: The only payload key of classic messages (§2.5).
CLASSIC_PAYLOAD_KEY = "json"

MISSING_TOKEN = "Protocol error: Missing connection token."


class ClassicPool:
    """One classic pool (a hub's or the application's): a container per endpoint."""

    def __init__(self, owner: ClassicHost, service_hub: str, endpoints: Sequence[ServiceEndpoint]) -> None:
        self.owner = owner
        self.service_hub = service_hub
        server = owner.server
        self.containers = [
            ServerConnectionContainer(
                self,
                endpoint,
                options=owner.options,
                server_id=server.server_id,
                process_client_count=owner.client_count,
                classic=True,
            )
            for endpoint in endpoints
        ]

    def __repr__(self) -> str:
        return f"<ClassicPool {self.service_hub}>"

    @property
    def is_connected(self) -> bool:
        return any(container.is_connected for container in self.containers)

    # -- PoolOwner: reports of the containers --------------------------------------------------------

    def handle(self, connection: ServerConnection, message: ServiceMessage) -> None:
        self.owner.handle(connection, message)

    def connection_dropped(self, connection: ServerConnection) -> None:
        self.owner.connection_dropped(connection)

    def instance_offline(self, connection: ServerConnection, instance_id: str) -> None:
        self.owner.instance_offline(connection, instance_id)

    def status_changed(self) -> None:
        self.owner.server.status_changed()

    # -- writing ------------------------------------------------------------------------------------

    def send(self, message: ServiceMessage) -> None:
        """Once per endpoint; fails only if no endpoint took it."""
        frame = codec.encode(message)
        failure: ServiceConnectionError | None = None
        delivered = False
        for container in self.containers:
            try:
                container.send(frame)
                delivered = True
            except ServiceConnectionError as error:
                failure = error
        if not delivered:
            raise failure or ServiceConnectionError(NOT_ACTIVE)

    def with_ack(
        self, build: Callable[[int], ServiceMessage], preferred: ServerConnection | None, timeout: float
    ) -> bool:
        """One ack-able copy per endpoint (§7.5): True if any answered Ok; raises if none answered."""
        return send_with_ack(self.containers, build, preferred, timeout)


class ClassicHost:
    """The classic side of one :class:`~.hub_server.HubServer`."""

    def __init__(self, server: HubServer, endpoints: Sequence[ServiceEndpoint]) -> None:
        self.server = server
        # Classic server connections never migrate clients (service-protocol §8).
        self.options = server.options.replace(graceful_shutdown_mode=GracefulShutdownMode.OFF)
        application = self.options.application_name
        assert application, "ServiceOptions requires an application name when classic is on"
        self.application = application
        self.application_pool = ClassicPool(self, self.options.service_hub_name(application), endpoints)
        self.hub_pools = {
            key: ClassicPool(self, self.options.service_hub_name(host.name), endpoints)
            for key, host in server.hosts.items()
        }
        self.clients: dict[str, ClassicClient] = {}
        self.dispatcher = ClassicDispatcher(server.hosts, detailed_errors=self.options.enable_detailed_errors)

    def __repr__(self) -> str:
        return f"<ClassicHost {self.application!r} clients={len(self.clients)}>"

    @property
    def pools(self) -> list[ClassicPool]:
        return [self.application_pool, *self.hub_pools.values()]

    @property
    def containers(self) -> list[ServerConnectionContainer]:
        return [container for pool in self.pools for container in pool.containers]

    def client_count(self) -> int:
        """Classic clients hosted here; kept apart from the ASP.NET Core count, which a graceful
        shutdown waits on (classic connections are not migrated or drained)."""
        return len(self.clients)

    @property
    def is_connected(self) -> bool:
        """Classic clients can be served once the application pool is up (negotiate readiness)."""
        return self.application_pool.is_connected

    def start(self) -> None:
        for container in self.containers:
            container.start()

    def status(self) -> dict[str, Any]:
        return {
            "application": self.application,
            "clients": len(self.clients),
            "pools": [
                {"service_hub": pool.service_hub, "endpoints": [c.status() for c in pool.containers]}
                for pool in self.pools
            ],
        }

    # -- from the service ---------------------------------------------------------------------------

    def handle(self, connection: ServerConnection, message: ServiceMessage) -> None:
        """Client-level messages of any classic pool, in the order a connection received them."""
        if isinstance(message, ConnectionData):
            client = self.clients.get(message.connection_id)
            if client is not None:
                client.receive(message.payload)
        elif isinstance(message, OpenConnection):
            self._open(connection, message)
        elif isinstance(message, CloseConnection):
            client = self.clients.get(message.connection_id)
            if client is not None:
                client.closed_by_service(message)
        else:
            logger.debug("%r: ignoring %s", self, type(message).__name__)

    def _open(self, connection: ServerConnection, message: OpenConnection) -> None:
        """Accept a client listing only registered hubs and carrying a connection token (§2.3)."""
        connection_id = message.connection_id
        if connection_id in self.clients:
            self._refuse(connection, connection_id, f"Duplicate connection ID {connection_id}")
            return
        try:
            query = parse_query(message.query_string or "")
        except ClassicProtocolError as error:
            self._refuse(connection, connection_id, str(error))
            return
        if not query.connection_token:
            self._refuse(connection, connection_id, MISSING_TOKEN)
            return
        hubs = []
        for name in query.hubs:
            host = self.server.hosts.get(name.lower())
            if host is None:
                self._refuse(connection, connection_id, hub_not_found(name))
                return
            hubs.append(host)
        client = ClassicClient(self, connection, message, hubs)
        self.clients[connection_id] = client
        client.start()

    def _refuse(self, connection: ServerConnection, connection_id: str, reason: str) -> None:
        logger.info("classic client %s refused: %s", connection_id, reason)
        try:
            connection.container.send(codec.encode(CloseConnection(connection_id, reason)), connection)
        except ServiceConnectionError:
            logger.debug("could not refuse classic client %s: no server connection", connection_id)

    def connection_dropped(self, connection: ServerConnection) -> None:
        """The clients of a dropped server connection end locally (the service closed them)."""
        for client in [c for c in self.clients.values() if c.connection is connection]:
            client.lost(ConnectionError("The connection to Azure SignalR Service was lost."))

    def instance_offline(self, connection: ServerConnection, instance_id: str) -> None:
        for client in [c for c in self.clients.values() if c.connection is connection]:
            if not instance_id or client.instance_id == instance_id:
                client.lost(ConnectionError(f"Service instance '{instance_id}' went offline."))

    def client_gone(self, client: ClassicClient) -> None:
        self.clients.pop(client.connection_id, None)

    # -- to the service -----------------------------------------------------------------------------

    def hosts_client(self, connection_id: str) -> bool:
        return connection_id in self.clients

    @staticmethod
    def frame(host: HubHost, method: str, arguments: Sequence[Any]) -> bytes:
        """A client-method call as classic clients get it: envelope, double-framed (§2.5, §2.6).

        Raises :class:`~flask_azure_signalr.exceptions.ClassicProtocolError` for arguments that
        are not JSON.
        """
        return wrap_payload(envelope(ClientInvocation(host.name, method, tuple(arguments))))

    def send_text(self, client: ClassicClient, text: str) -> None:
        """Classic JSON to one local client, on its own server connection."""
        self._send_local(client, wrap_payload(text))

    def _send_local(self, client: ClassicClient, frame: bytes) -> None:
        message = codec.encode(ConnectionData(client.connection_id, frame))
        try:
            client.connection.container.send(message, client.connection)
        except ServiceConnectionError:
            logger.debug("%r: its server connection is gone; the client is lost", client)

    def close_client(self, client: ClassicClient, reason: str) -> None:
        message = codec.encode(CloseConnection(client.connection_id, reason))
        try:
            client.connection.container.send(message, client.connection)
        except ServiceConnectionError:
            logger.debug("%r: could not tell the service about the close", client)

    def broadcast(self, host: HubHost, frame: bytes, excluded: Iterable[str]) -> None:
        self.hub_pools[host.registration.key].send(BroadcastData(tuple(excluded), {CLASSIC_PAYLOAD_KEY: frame}))

    def send_connections(self, connection_ids: Iterable[str], frame: bytes) -> None:
        for connection_id in dict.fromkeys(connection_ids):
            client = self.clients.get(connection_id)
            if client is not None:
                self._send_local(client, frame)
            else:
                self.application_pool.send(ConnectionData(connection_id, frame))

    def send_users(self, host: HubHost, user_ids: Iterable[str], frame: bytes) -> None:
        pool = self.hub_pools[host.registration.key]
        for user_id in dict.fromkeys(user_ids):
            pool.send(UserData(user_id, {CLASSIC_PAYLOAD_KEY: frame}))

    def send_groups(self, host: HubHost, groups: Iterable[str], frame: bytes, excluded: Iterable[str]) -> None:
        excluded = tuple(excluded)
        for group in dict.fromkeys(groups):
            self.application_pool.send(
                GroupBroadcastData(hub_group_name(host.name, group), excluded, {CLASSIC_PAYLOAD_KEY: frame})
            )

    def change_group(self, host: HubHost, connection_id: str, group: str, *, join: bool) -> bool:
        """Join or leave ``hg-{Hub}.{group}`` on the application pool and wait for the Ack."""
        build = JoinGroupWithAck if join else LeaveGroupWithAck
        name = hub_group_name(host.name, group)
        client = self.clients.get(connection_id)
        return self.application_pool.with_ack(
            lambda ack_id: build(connection_id, name, ack_id),
            client.connection if client is not None else None,
            self.server.ack_timeout,
        )

    def stop(self) -> None:
        """Close every classic server connection; their clients end locally."""
        stoppers = [gevent.spawn(container.stop) for container in self.containers]
        gevent.joinall(stoppers, timeout=15)
