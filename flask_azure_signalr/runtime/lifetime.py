"""Outgoing hub traffic: Clients/Groups calls → service messages → endpoint containers (§7.1).

Payload maps are built once per message, one entry per hub protocol, so a broadcast costs one
encoding per protocol however many clients receive it (service-protocol §2.4). Every function here
runs on the runtime's hub; ``clients.py`` and ``groups.py`` hand calls over from other threads.

``preferred`` is the server connection of the client whose message is being handled, so that what
a hub method sends follows that client's own traffic in order.

When the app also serves classic ASP.NET SignalR clients (``HubServer.classic``), every
multicast reaches both client families: the payloads then also carry the classic frame, and
:meth:`HubLifetimeManager._both` hands it to :mod:`.classic_host`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence

from ..endpoints import ServiceEndpoint
from ..exceptions import ServiceConnectionError
from ..protocol import service as codec
from ..protocol.service_messages import (
    BroadcastData,
    GroupBroadcastData,
    JoinGroupWithAck,
    LeaveGroupWithAck,
    MultiConnectionData,
    MultiGroupBroadcastData,
    MultiUserData,
    ServiceMessage,
    UserData,
    UserJoinGroupWithAck,
    UserLeaveGroupWithAck,
)
from .container import ServerConnectionContainer, send_with_ack

if TYPE_CHECKING:
    from .classic_host import ClassicHost
    from .hub_host import HubHost
    from .server_connection import ServerConnection

__all__ = ["HubLifetimeManager", "InvocationPayloads", "Payloads"]

Payloads = Mapping[str, bytes]


class InvocationPayloads(dict[str, bytes]):
    """One invocation framed per hub protocol, plus ``classic``: its double-framed classic
    envelope when the app serves classic clients (aspnet-classic §2.5), else None."""

    def __init__(self, frames: Mapping[str, bytes], classic: bytes | None = None) -> None:
        super().__init__(frames)
        self.classic = classic


NOT_CONNECTED = "No server connection to Azure SignalR Service is available."


class HubLifetimeManager:
    """One hub's sending side."""

    def __init__(self, host: HubHost) -> None:
        self.host = host

    # -- payloads (any thread) ------------------------------------------------------------------

    def payloads(self, method: str, arguments: Sequence[Any]) -> InvocationPayloads:
        """The non-blocking Invocation of ``method`` framed once per protocol (and for classic)."""
        frames = {protocol.name: protocol.encode_invocation(method, arguments) for protocol in self.host.protocols}
        classic = self.host.server.classic
        return InvocationPayloads(frames, classic.frame(self.host, method, arguments) if classic else None)

    def _both(
        self, payloads: Payloads, core: Callable[[], None], classic: Callable[[ClassicHost, bytes], None]
    ) -> None:
        """ASP.NET Core clients, then classic ones if the app has them; fails only if both failed."""
        host = self.host.server.classic
        frame = payloads.classic if isinstance(payloads, InvocationPayloads) else None
        if host is None or frame is None:
            core()
            return
        failure: ServiceConnectionError | None = None
        delivered = False
        for send in (core, lambda: classic(host, frame)):
            try:
                send()
                delivered = True
            except ServiceConnectionError as error:
                failure = error
        if not delivered and failure is not None:
            raise failure

    # -- routing --------------------------------------------------------------------------------

    def _containers(
        self, choose: Callable[[Sequence[ServiceEndpoint]], Sequence[ServiceEndpoint]]
    ) -> list[ServerConnectionContainer]:
        by_endpoint = self.host.containers_by_endpoint
        chosen = [by_endpoint[e] for e in choose(list(by_endpoint)) if e in by_endpoint]
        if not chosen:
            raise ServiceConnectionError(NOT_CONNECTED)
        return chosen

    def _write(
        self,
        containers: Iterable[ServerConnectionContainer],
        message: ServiceMessage,
        preferred: ServerConnection | None,
    ) -> None:
        """Send to every chosen endpoint; fails only if no endpoint took the message."""
        frame = codec.encode(message)
        failure: ServiceConnectionError | None = None
        delivered = False
        for container in containers:
            try:
                container.send(frame, preferred)
                delivered = True
            except ServiceConnectionError as error:
                failure = error
        if not delivered and failure is not None:
            raise failure

    def send_on(self, connection: ServerConnection, message: ServiceMessage) -> None:
        """On a given connection, or another of its container if that one is gone."""
        connection.container.send(codec.encode(message), connection)

    @property
    def _router(self) -> Any:
        return self.host.options.endpoint_router

    # -- multicast --------------------------------------------------------------------------------

    def broadcast(
        self, payloads: Payloads, excluded: Sequence[str] = (), preferred: ServerConnection | None = None
    ) -> None:
        self._both(
            payloads,
            lambda: self._write(
                self._containers(self._router.get_endpoints_for_broadcast),
                BroadcastData(tuple(excluded), payloads),
                preferred,
            ),
            lambda classic, frame: classic.broadcast(self.host, frame, excluded),
        )

    def send_connection(
        self, connection_id: str, payloads: Payloads, preferred: ServerConnection | None = None
    ) -> None:
        """One client: only its protocol's payload, on its own server connection if hosted here."""
        client = self.host.clients.get(connection_id)
        if client is not None and client.protocol is not None:
            single = {client.protocol.name: payloads[client.protocol.name]}
            self.send_on(client.connection, MultiConnectionData((connection_id,), single))
            return
        self.send_connections((connection_id,), payloads, preferred)

    def send_connections(
        self, connection_ids: Sequence[str], payloads: Payloads, preferred: ServerConnection | None = None
    ) -> None:
        if not connection_ids:
            return
        classic = self.host.server.classic
        classic_ids = [c for c in connection_ids if c not in self.host.clients] if classic else []
        core_ids = [c for c in connection_ids if not (classic and classic.hosts_client(c))]

        def core() -> None:
            if not core_ids:
                return
            containers = self._containers(
                lambda endpoints: self._union(self._router.get_endpoints_for_connection(c, endpoints) for c in core_ids)
            )
            self._write(containers, MultiConnectionData(tuple(core_ids), payloads), preferred)

        self._both(payloads, core, lambda host, frame: host.send_connections(classic_ids, frame))

    def send_user(self, user_id: str, payloads: Payloads, preferred: ServerConnection | None = None) -> None:
        self._both(
            payloads,
            lambda: self._write(
                self._containers(lambda endpoints: self._router.get_endpoints_for_user(user_id, endpoints)),
                UserData(user_id, payloads),
                preferred,
            ),
            lambda classic, frame: classic.send_users(self.host, [user_id], frame),
        )

    def send_users(
        self, user_ids: Sequence[str], payloads: Payloads, preferred: ServerConnection | None = None
    ) -> None:
        if not user_ids:
            return
        self._both(
            payloads,
            lambda: self._write(
                self._containers(
                    lambda endpoints: self._union(self._router.get_endpoints_for_user(u, endpoints) for u in user_ids)
                ),
                MultiUserData(tuple(user_ids), payloads),
                preferred,
            ),
            lambda classic, frame: classic.send_users(self.host, user_ids, frame),
        )

    def send_group(
        self,
        group: str,
        payloads: Payloads,
        excluded: Sequence[str] = (),
        preferred: ServerConnection | None = None,
    ) -> None:
        self._both(
            payloads,
            lambda: self._write(
                self._containers(lambda endpoints: self._router.get_endpoints_for_group(group, endpoints)),
                GroupBroadcastData(group, tuple(excluded), payloads),
                preferred,
            ),
            lambda classic, frame: classic.send_groups(self.host, [group], frame, excluded),
        )

    def send_groups(
        self, groups: Sequence[str], payloads: Payloads, preferred: ServerConnection | None = None
    ) -> None:
        if not groups:
            return
        self._both(
            payloads,
            lambda: self._write(
                self._containers(
                    lambda endpoints: self._union(self._router.get_endpoints_for_group(g, endpoints) for g in groups)
                ),
                MultiGroupBroadcastData(tuple(groups), payloads),
                preferred,
            ),
            lambda classic, frame: classic.send_groups(self.host, groups, frame, ()),
        )

    def send_to_connection_endpoints(self, connection_id: str, message: ServiceMessage) -> None:
        """A message about one connection (client invocation), preferring its own server connection."""
        client = self.host.clients.get(connection_id)
        preferred = client.connection if client is not None else None
        containers = self._containers(
            lambda endpoints: self._router.get_endpoints_for_connection(connection_id, endpoints)
        )
        self._write(containers, message, preferred)

    @staticmethod
    def _union(lists: Iterable[Sequence[ServiceEndpoint]]) -> list[ServiceEndpoint]:
        merged: list[ServiceEndpoint] = []
        for endpoints in lists:
            for endpoint in endpoints:
                if endpoint not in merged:
                    merged.append(endpoint)
        return merged

    # -- membership with acks -----------------------------------------------------------------------

    def add_to_group(self, connection_id: str, group: str, preferred: ServerConnection | None = None) -> None:
        self._membership(connection_id, group, preferred, join=True)

    def remove_from_group(self, connection_id: str, group: str, preferred: ServerConnection | None = None) -> None:
        self._membership(connection_id, group, preferred, join=False)

    def _membership(self, connection_id: str, group: str, preferred: ServerConnection | None, *, join: bool) -> None:
        """Core clients change groups through the hub's pool, classic ones through the app pool; a
        connection hosted elsewhere is tried as a Core client, then as a classic one."""
        classic = self.host.server.classic
        if classic is not None and classic.hosts_client(connection_id):
            classic.change_group(self.host, connection_id, group, join=join)
            return
        build = JoinGroupWithAck if join else LeaveGroupWithAck
        found = self._with_ack(
            lambda endpoints: self._router.get_endpoints_for_connection(connection_id, endpoints),
            lambda ack_id: build(connection_id, group, ack_id),
            self._preferred(connection_id, preferred),
        )
        if not found and classic is not None and connection_id not in self.host.clients:
            classic.change_group(self.host, connection_id, group, join=join)

    def add_user_to_group(
        self, user_id: str, group: str, ttl: int | None = None, preferred: ServerConnection | None = None
    ) -> None:
        self._with_ack(
            lambda endpoints: self._router.get_endpoints_for_user(user_id, endpoints),
            lambda ack_id: UserJoinGroupWithAck(user_id, group, ack_id, ttl=ttl),
            preferred,
        )

    def remove_user_from_group(
        self, user_id: str, group: str | None, preferred: ServerConnection | None = None
    ) -> None:
        self._with_ack(
            lambda endpoints: self._router.get_endpoints_for_user(user_id, endpoints),
            lambda ack_id: UserLeaveGroupWithAck(user_id, group, ack_id),
            preferred,
        )

    def _preferred(self, connection_id: str, preferred: ServerConnection | None) -> ServerConnection | None:
        if preferred is not None:
            return preferred
        client = self.host.clients.get(connection_id)
        return client.connection if client is not None else None

    def _with_ack(
        self,
        choose: Callable[[Sequence[ServiceEndpoint]], Sequence[ServiceEndpoint]],
        build: Callable[[int], ServiceMessage],
        preferred: ServerConnection | None,
    ) -> bool:
        """One ack-able copy per chosen endpoint (:func:`~.container.send_with_ack`)."""
        return send_with_ack(self._containers(choose), build, preferred, self.host.ack_timeout)
