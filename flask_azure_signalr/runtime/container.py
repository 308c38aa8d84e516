"""The server connections of one hub on one endpoint (service-protocol §6).

A container keeps ``initial_hub_server_connection_count`` fixed connections open, replacing any
that ends (first retry at once, then the shared back-off 1, 2, 4 … 60 s plus jitter), opens an
on-demand connection when the service asks with a ``target`` ping, owns the ack ids of its
messages (§7.5), sends the periodic ``status`` ping (§5.2) and picks the connection an outgoing
message travels on (§7.1). Secondary endpoints get a "weak" container: connection type 2, no
clients, no on-demand connections, not taken offline at shutdown.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable
from typing import Any, Callable, Protocol

import gevent
import gevent.event
from gevent.event import AsyncResult

from ..endpoints import EndpointType, ServiceEndpoint
from ..exceptions import AckTimeoutError, ServiceConnectionError
from ..options import GracefulShutdownMode, ServiceOptions
from ..protocol.service import encode
from ..protocol.service_messages import (
    AckStatus,
    MigrationLevel,
    Ping,
    ServiceConnectionType,
    ServiceMessage,
)
from .server_connection import NOT_ACTIVE, ConnectionStatus, ServerConnection

__all__ = ["AckTable", "BackOff", "PoolOwner", "ServerConnectionContainer", "send_with_ack"]

logger = logging.getLogger("flask_azure_signalr.runtime.container")

STATUS_PING_INTERVAL = 10.0
FIN_WAIT = 5.0
FIN_ATTEMPTS = 24
ACK_TIMEOUT = 10.0


class BackOff:
    """Delays after failed attempts: 1, 2, 4, 8, 16, 32, then 60 s, each plus 0–999 ms (§6.3).

    Shared by all fixed connections of a container, so concurrent failures advance one sequence.
    """

    __slots__ = ("_failures",)

    def __init__(self) -> None:
        self._failures = 0

    def reset(self) -> None:
        self._failures = 0

    def next_delay(self) -> float:
        delay = 60.0 if self._failures >= 6 else float(2**self._failures)
        self._failures += 1
        return delay + random.randrange(1000) / 1000


class AckTable:
    """Ack ids of one container: sequential int32 from 1; the Ack may arrive on any connection."""

    __slots__ = ("_last", "_waiting")

    def __init__(self) -> None:
        self._last = 0
        self._waiting: dict[int, AsyncResult] = {}

    def create(self) -> tuple[int, AsyncResult]:
        self._last = self._last + 1 if self._last < 2**31 - 1 else 1
        waiter = AsyncResult()
        self._waiting[self._last] = waiter
        return self._last, waiter

    def resolve(self, ack_id: int, status: int, message: str | None) -> None:
        """Unknown ids are ignored (§7.5)."""
        waiter = self._waiting.pop(ack_id, None)
        if waiter is not None:
            waiter.set((status, message))

    def wait(self, ack_id: int, waiter: AsyncResult, timeout: float) -> bool:
        """True for Ok, False for NotFound; raises on Timeout/InternalServerError/no answer (§7.5)."""
        try:
            status, message = waiter.get(timeout=timeout)
        except gevent.Timeout:
            self._waiting.pop(ack_id, None)
            raise AckTimeoutError(
                f"The service did not acknowledge message {ack_id} within {timeout:g} s."
            ) from None
        if status == AckStatus.OK:
            return True
        if status == AckStatus.NOT_FOUND:
            return False
        if status in (AckStatus.TIMEOUT, AckStatus.INTERNAL_SERVER_ERROR):
            raise AckTimeoutError(message or f"The service timed out on message {ack_id}.")
        raise ServiceConnectionError(message or f"The service answered message {ack_id} with status {status}.")

    def fail_all(self) -> None:
        waiting, self._waiting = self._waiting, {}
        for waiter in waiting.values():
            waiter.set((AckStatus.INTERNAL_SERVER_ERROR, "The server is stopping."))


class PoolOwner(Protocol):
    """What a container reports to: a ``HubHost``, or a classic app's pool (``classic_host``)."""

    service_hub: str

    def handle(self, connection: ServerConnection, message: ServiceMessage) -> None: ...

    def connection_dropped(self, connection: ServerConnection) -> None: ...

    def instance_offline(self, connection: ServerConnection, instance_id: str) -> None: ...

    def status_changed(self) -> None: ...


class ServerConnectionContainer:
    """All server connections of one hub × endpoint."""

    def __init__(
        self,
        host: PoolOwner,
        endpoint: ServiceEndpoint,
        *,
        options: ServiceOptions,
        server_id: str,
        process_client_count: Callable[[], int],
        classic: bool = False,
    ) -> None:
        self.host = host
        #: Connections of a classic app's pool go to ``/aspnetserver/`` (service-protocol §8).
        self.classic = classic
        self.endpoint = endpoint
        self.options = options
        self.server_id = server_id
        self.process_client_count = process_client_count
        self.service_hub = host.service_hub
        self.weak = endpoint.type is EndpointType.SECONDARY
        self.acks = AckTable()
        self.has_clients = False
        self.fixed: list[ServerConnection | None] = [None] * options.initial_hub_server_connection_count
        self.on_demand: list[ServerConnection] = []
        self.ever_connected = False
        self._backoff = BackOff()
        self._greenlets: list[gevent.Greenlet] = []
        self._stopping = False
        self._stopped = gevent.event.Event()
        self._failing = False
        self._migration_level = (
            MigrationLevel.SHUTDOWN_ONLY
            if options.graceful_shutdown_mode is GracefulShutdownMode.MIGRATE_CLIENTS
            else MigrationLevel.OFF
        )

    def __repr__(self) -> str:
        return f"<ServerConnectionContainer {self.service_hub} @ {self.endpoint.endpoint}>"

    # -- starting and keeping connections ---------------------------------------------------------

    def start(self) -> None:
        for index in range(len(self.fixed)):
            self._greenlets.append(gevent.spawn(self._keep_slot, index))
        if self.fixed:
            self._greenlets.append(gevent.spawn(self._status_loop))

    def _keep_slot(self, index: int) -> None:
        """One fixed slot: reconnect forever with the shared back-off (§6.3)."""
        connection_type = ServiceConnectionType.WEAK if self.weak else ServiceConnectionType.DEFAULT
        while not self._stopping:
            started = gevent.get_hub().loop.now()
            connection = ServerConnection(
                self, connection_type=connection_type, migration_level=self._migration_level
            )
            self.fixed[index] = connection
            if connection.run() or self._stopping:
                continue
            delay = self._backoff.next_delay()
            remaining = started + delay - gevent.get_hub().loop.now()
            if remaining > 0:
                self._stopped.wait(remaining)

    def open_on_demand(self, target: str) -> None:
        """The service asked for one more connection to instance ``target`` (§6.2)."""
        if self.weak or self._stopping:
            return
        limit = self.options.max_hub_server_connection_count
        if limit is not None and len(self.connections) >= max(limit, len(self.fixed)):
            return
        connection = ServerConnection(
            self,
            connection_type=ServiceConnectionType.ON_DEMAND,
            migration_level=self._migration_level,
            target=target,
        )
        self.on_demand.append(connection)
        self._greenlets.append(gevent.spawn(self._run_on_demand, connection))

    def _run_on_demand(self, connection: ServerConnection) -> None:
        try:
            connection.run()
        finally:
            if connection in self.on_demand:
                self.on_demand.remove(connection)

    def _status_loop(self) -> None:
        """``[3, "status", "1"]`` on a random connection every 10 s (§5.2)."""
        while not self._stopped.wait(STATUS_PING_INTERVAL):
            usable = [c for c in self.connections if c.usable]
            if usable:
                random.choice(usable).send_ping(Ping.of("status", "1"))

    # -- reports from the connections ---------------------------------------------------------------

    def connection_up(self, connection: ServerConnection) -> None:
        self._backoff.reset()
        self.ever_connected = True
        if self._failing:
            logger.warning("%r: connected again", self)
        else:
            logger.info("%r: connected", self)
        self._failing = False
        self.host.status_changed()

    def connection_down(self, connection: ServerConnection) -> None:
        self.host.connection_dropped(connection)
        self.host.status_changed()

    def report_failure(self, connection: ServerConnection, error: BaseException) -> None:
        """Log once per change from working to failing; repeats go to debug."""
        if self._stopping:
            return
        if not self._failing:
            self._failing = True
            logger.warning("%r: cannot connect to the service: %s", self, error)
        else:
            logger.debug("%r: still cannot connect: %s", self, error)
        self.host.status_changed()

    # -- state --------------------------------------------------------------------------------------

    @property
    def connections(self) -> list[ServerConnection]:
        return [c for c in self.fixed if c is not None] + self.on_demand

    @property
    def failing(self) -> bool:
        """The last attempt failed and no connection has come up since."""
        return self._failing

    @property
    def is_connected(self) -> bool:
        return any(c.status is ConnectionStatus.CONNECTED for c in self.connections)

    def status(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint.endpoint,
            "type": self.endpoint.type.value,
            "connected": self.is_connected,
            "has_clients": self.has_clients,
            "connections": [
                {
                    "cid": c.cid,
                    "status": c.status.value,
                    "kind": ServiceConnectionType(c.connection_type).name.lower(),
                    "clients": len(c.clients),
                }
                for c in self.connections
            ],
        }

    # -- writing ------------------------------------------------------------------------------------

    def select(self, preferred: ServerConnection | None = None) -> ServerConnection:
        """``preferred`` if usable, else a random start and direction over the list (§7.1)."""
        if preferred is not None and preferred.container is self and preferred.usable:
            return preferred
        connections = self.connections
        count = len(connections)
        if count:
            start = random.randrange(count)
            step = random.choice((1, -1))
            for offset in range(count):
                connection = connections[(start + offset * step) % count]
                if connection.usable:
                    return connection
        raise ServiceConnectionError(NOT_ACTIVE)

    def send(self, frame: bytes, preferred: ServerConnection | None = None) -> ServerConnection:
        """Write on the chosen connection, trying others if it fails mid-way; returns the one used."""
        connection = self.select(preferred)
        try:
            connection.send(frame)
        except ServiceConnectionError:
            connection = self.select(None)
            connection.send(frame)
        return connection

    # -- stopping -----------------------------------------------------------------------------------

    def go_offline(self, mode: GracefulShutdownMode, timeout: float) -> None:
        """Graceful shutdown step 1 (§7.8): stop reconnecting, fin every connection, await finacks."""
        self._stopping = True
        if self.weak or mode is GracefulShutdownMode.OFF:
            return
        fin = "fin:1" if mode is GracefulShutdownMode.MIGRATE_CLIENTS else "fin:2"
        deadline = gevent.get_hub().loop.now() + timeout
        jobs = [gevent.spawn(self._fin, c, fin, deadline) for c in self.connections]
        gevent.joinall(jobs, timeout=timeout)
        gevent.killall(jobs, block=False)

    def _fin(self, connection: ServerConnection, fin: str, deadline: float) -> None:
        for _ in range(FIN_ATTEMPTS):
            if connection.status is not ConnectionStatus.CONNECTED:
                return
            connection.send_ping(Ping.of("shutdown", fin))
            wait = min(FIN_WAIT, deadline - gevent.get_hub().loop.now())
            if wait <= 0 or connection.fin_acked.wait(wait):
                return

    def stop(self) -> None:
        """Close every connection (1000) and end the slot greenlets; clients end locally."""
        self._stopping = True
        self._stopped.set()
        closers = [gevent.spawn(c.stop) for c in self.connections]
        gevent.joinall(closers, timeout=6)
        gevent.joinall(self._greenlets, timeout=6)
        gevent.killall(self._greenlets, timeout=1)
        self._greenlets.clear()
        self.acks.fail_all()


def send_with_ack(
    containers: Iterable[ServerConnectionContainer],
    build: Callable[[int], ServiceMessage],
    preferred: ServerConnection | None,
    timeout: float,
) -> bool:
    """One ack-able copy per endpoint, each with that container's ack id (§7.1, §7.5).

    True if any endpoint answered Ok; raises if no endpoint answered (failed or timed out).
    """
    waits = []
    failure: Exception | None = None
    for container in containers:
        ack_id, waiter = container.acks.create()
        try:
            container.send(encode(build(ack_id)), preferred)
        except ServiceConnectionError as error:
            container.acks.resolve(ack_id, 0, None)
            failure = error
            continue
        waits.append((container, ack_id, waiter))
    found = answered = False
    for container, ack_id, waiter in waits:
        try:
            found = container.acks.wait(ack_id, waiter, timeout) or found
            answered = True
        except ServiceConnectionError as error:
            failure = error
    if not answered:
        raise failure or ServiceConnectionError(NOT_ACTIVE)
    return found
