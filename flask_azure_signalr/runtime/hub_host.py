"""One hub in this process: its server-connection containers (one per endpoint), the clients it
hosts, and the routing of the service's client-level messages to them (service-protocol §7.2, §7.3).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import gevent.pool

from ..clients import HubClients
from ..endpoints import ServiceEndpoint
from ..groups import GroupManager
from ..hub import Hub, method_table
from ..protocol.hub import PROTOCOLS
from ..protocol.service_messages import (
    ClientCompletion,
    ClientInvocation,
    CloseConnection,
    ConnectionData,
    ErrorCompletion,
    OpenConnection,
    ServiceMapping,
    ServiceMessage,
)
from ..registry import HubRegistration
from .client_connection import ClientConnection
from .client_results import ClientResults
from .container import ServerConnectionContainer
from .dispatcher import Dispatcher
from .lifetime import HubLifetimeManager

if TYPE_CHECKING:
    from .hub_server import HubServer
    from .server_connection import ServerConnection

__all__ = ["HubHost"]

logger = logging.getLogger("flask_azure_signalr.runtime.hub_host")

_CLIENT_RESULT_MESSAGES = (ClientInvocation, ClientCompletion, ErrorCompletion, ServiceMapping)


class HubHost:
    """Everything the runtime keeps for one registered hub."""

    def __init__(self, server: HubServer, registration: HubRegistration, endpoints: list[ServiceEndpoint]) -> None:
        self.server = server
        self.registration = registration
        self.name = registration.name
        self.hub_class: type[Hub] = registration.hub_class
        self.options = server.options
        self.loop = server.loop
        self.ack_timeout = server.ack_timeout
        self.service_hub = server.options.service_hub_name(registration.name)
        self.methods = method_table(registration.hub_class)
        self.protocols = list(PROTOCOLS.values())
        self.clients: dict[str, ClientConnection] = {}
        #: ``on_disconnected`` calls in flight; a stopping server waits for them (§7.2: up to 30 s).
        self.hooks = gevent.pool.Group()
        self.dispatcher = Dispatcher(self)
        self.lifetime = HubLifetimeManager(self)
        self.client_results = ClientResults(self, server.server_id)
        self.containers_by_endpoint: dict[ServiceEndpoint, ServerConnectionContainer] = {
            endpoint: ServerConnectionContainer(
                self,
                endpoint,
                options=server.options,
                server_id=server.server_id,
                process_client_count=server.client_count,
            )
            for endpoint in endpoints
        }

    def __repr__(self) -> str:
        return f"<HubHost {self.name!r} clients={len(self.clients)}>"

    @property
    def containers(self) -> list[ServerConnectionContainer]:
        return list(self.containers_by_endpoint.values())

    @property
    def is_connected(self) -> bool:
        return any(container.is_connected for container in self.containers_by_endpoint.values())

    def start(self) -> None:
        for container in self.containers_by_endpoint.values():
            container.start()

    def create_hub(self, client: ClientConnection | None) -> Hub:
        """A fresh hub instance for one call, bound to ``client`` (the caller)."""
        hub = self.hub_class()
        if client is not None:
            hub.context = client.context
        hub.clients = HubClients(self, caller=client)
        hub.groups = GroupManager(self, caller=client)
        return hub

    # -- from the server connections --------------------------------------------------------------

    def handle(self, connection: ServerConnection, message: ServiceMessage) -> None:
        """Client-level messages, in the order the connection received them."""
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
        elif isinstance(message, _CLIENT_RESULT_MESSAGES):
            self.client_results.service_message(message)
        else:
            logger.debug("%r: ignoring %s", self, type(message).__name__)

    def _open(self, connection: ServerConnection, message: OpenConnection) -> None:
        if message.connection_id in self.clients:
            logger.warning("%r: duplicate connection id %s ignored", self, message.connection_id)
            return
        client = ClientConnection(self, connection, message)
        self.clients[client.connection_id] = client
        connection.clients[client.connection_id] = client
        self.server.clients_changed(1)

    def client_gone(self, client: ClientConnection) -> None:
        if self.clients.pop(client.connection_id, None) is not None:
            self.server.clients_changed(-1)
        client.connection.clients.pop(client.connection_id, None)
        self.client_results.connection_gone(client.connection_id)

    def connection_dropped(self, connection: ServerConnection) -> None:
        """Every client of a dropped server connection ends locally (§7.3)."""
        for client in list(connection.clients.values()):
            client.lost(ConnectionError("The connection to Azure SignalR Service was lost."))

    def instance_offline(self, connection: ServerConnection, instance_id: str) -> None:
        """``offline`` ping: this connection's clients on that service instance end locally (§5.3)."""
        for client in list(connection.clients.values()):
            if not instance_id or client.instance_id == instance_id:
                client.lost(ConnectionError(f"Service instance '{instance_id}' went offline."))
        self.client_results.instance_offline(instance_id)

    def status_changed(self) -> None:
        self.server.status_changed()

    def status(self) -> dict[str, Any]:
        return {
            "hub": self.name,
            "service_hub": self.service_hub,
            "connected": self.is_connected,
            "clients": len(self.clients),
            "endpoints": [container.status() for container in self.containers_by_endpoint.values()],
        }
