"""The emulator's routing core for classic ASP.NET SignalR apps (aspnet-classic §2, service-protocol §8).

No sockets and no greenlets, like :mod:`.router`, whose :class:`~.router.ServerLink` interface the
``/aspnetserver/`` connections share. Classic apps differ from ASP.NET Core ones in what a pool is:

- the app opens one pool per hub, ``{app}_{hub}``, and one application pool, ``{app}_{app}``
  (§2.1); a pool here is just the lower-cased ``hub`` query of its connections, so the router
  never has to split a pool name into app and hub (both may contain ``_``);
- a client belongs to its application (claim ``asrs.s.apn``) and is bound to one connection of the
  application pool for its whole life (§2.2); it *listens* to the hub pools of the hubs named in
  its ``connectionData``;
- ``BroadcastData``/``UserData`` arrive on a hub pool and reach the clients listening to it;
  groups (already hub-qualified, ``hg-{Hub}.{group}``) and ``*WithAck`` membership arrive on the
  application pool and are scoped to it; ``ConnectionData`` names its client directly;
- every app → client payload is double-framed (§2.5): the router unwraps it once per fan-out and
  hands clients the JSON texts, one per classic message.

The router answers through :class:`ClassicSink` (deliver JSON texts, close with an error text) and
``ServerLink.send``; both must return at once.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..exceptions import ClassicProtocolError
from ..protocol import service_messages as sp
from ..protocol.classic import RECONNECT_PAYLOAD, unwrap_payload
from ..protocol.service_messages import AckStatus
from .router import NoServerAvailable, ServerLink

__all__ = [
    "CLASSIC_PAYLOAD_KEY",
    "SERVER_OFFLINE",
    "ClassicClientRecord",
    "ClassicRouter",
    "ClassicSink",
    "application_pool",
    "hub_pool",
]

log = logging.getLogger("flask_azure_signalr.emulator.classic_router")

#: The only payload key classic apps write (§2.5).
CLASSIC_PAYLOAD_KEY = "json"

#: What a classic client is told when its app server's connection ends (§1.10).
SERVER_OFFLINE = "Server offline"


def application_pool(application: str) -> str:
    """The application pool of ``application``: ``{app}_{app}``, lower-cased (§2.1)."""
    app = application.lower()
    return f"{app}_{app}"


def hub_pool(application: str, hub: str) -> str:
    """The pool of ``hub`` in ``application``: ``{app}_{hub}``, lower-cased (§2.1)."""
    return f"{application.lower()}_{hub.lower()}"


class ClassicSink(Protocol):
    """One classic client connection as the router sees it."""

    connection_id: str

    def deliver(self, messages: Sequence[bytes]) -> None:
        """Queue classic JSON messages (one text each) for the client; never blocks."""

    def close(self, error: str) -> None:
        """The service ends the client: send what is queued, then ``{"E": error}``, then close."""


@dataclass(eq=False)
class ClassicClientRecord:
    """A classic client bound to a connection of its application pool."""

    sink: ClassicSink
    connection_id: str
    application_pool: str
    hub_pools: frozenset[str]
    user_id: str | None
    server: ServerLink
    groups: set[str] = field(default_factory=set)


@dataclass(eq=False)
class _Link:
    link: ServerLink
    pool: str
    clients: set[ClassicClientRecord] = field(default_factory=set)


class ClassicRouter:
    """Routing state of every classic app on the emulator. Pool names are stored lower-case."""

    def __init__(self, *, rng: random.Random | None = None) -> None:
        self._rng = rng or random.Random()
        self._pools: dict[str, list[_Link]] = {}
        self._links: dict[ServerLink, _Link] = {}
        self._clients: dict[str, ClassicClientRecord] = {}
        # (application pool, hub-qualified group) -> members
        self._groups: dict[tuple[str, str], set[ClassicClientRecord]] = {}
        self._handlers = {
            sp.ConnectionData: self._on_connection_data,
            sp.MultiConnectionData: self._on_multi_connection_data,
            sp.CloseConnection: self._on_close_connection,
            sp.BroadcastData: self._on_broadcast,
            sp.UserData: self._on_user_data,
            sp.MultiUserData: self._on_multi_user_data,
            sp.GroupBroadcastData: self._on_group_broadcast,
            sp.MultiGroupBroadcastData: self._on_multi_group_broadcast,
            sp.JoinGroup: self._on_join_group,
            sp.LeaveGroup: self._on_leave_group,
            sp.JoinGroupWithAck: self._on_join_group_with_ack,
            sp.LeaveGroupWithAck: self._on_leave_group_with_ack,
            sp.Ping: self._on_ping,
        }

    # ----------------------------------------------------------------------------- server side

    def add_server(self, pool: str, link: ServerLink) -> None:
        """A ``/aspnetserver/`` connection of ``pool`` finished its handshake."""
        state = _Link(link, pool.lower())
        self._links[link] = state
        self._pools.setdefault(state.pool, []).append(state)

    def remove_server(self, link: ServerLink) -> None:
        """A server connection ended: its clients are closed with "Server offline" (§1.10)."""
        state = self._links.pop(link, None)
        if state is None:
            return
        links = self._pools[state.pool]
        links.remove(state)
        if not links:
            del self._pools[state.pool]
        for client in list(state.clients):
            if self._forget(client):
                client.sink.close(SERVER_OFFLINE)

    def handle(self, link: ServerLink, message: Any) -> None:
        """Act on one message from a server connection (after its handshake)."""
        state = self._links.get(link)
        if state is None:
            return
        handler = self._handlers.get(type(message))
        if handler is not None:
            handler(state, message)
        else:
            log.debug("classic pool %s: ignoring %s", state.pool, type(message).__name__)

    def has_servers(self, application: str) -> bool:
        """Whether a client of ``application`` could be bound now."""
        return self._pick(application_pool(application), None) is not None

    # ----------------------------------------------------------------------------- client side

    def connect(
        self,
        sink: ClassicSink,
        *,
        application: str,
        hubs: Sequence[str],
        user_id: str | None,
        claims: Sequence[tuple[str, str]],
        headers: Mapping[str, Sequence[str]],
        query_string: str,
        sticky_server: str | None = None,
        sticky_required: bool = False,
    ) -> ClassicClientRecord:
        """Bind a client to its application pool and send OpenConnection (§2.3).

        Raises :class:`~.router.NoServerAvailable` when the pool has no usable connection.
        """
        pool = application_pool(application)
        target = self._pick(pool, sticky_server) if sticky_server else None
        if target is None and not (sticky_server and sticky_required):
            target = self._pick(pool, None)
        if target is None:
            raise NoServerAvailable(pool)
        client = ClassicClientRecord(
            sink=sink,
            connection_id=sink.connection_id,
            application_pool=pool,
            hub_pools=frozenset(hub_pool(application, hub) for hub in hubs),
            user_id=user_id or None,
            server=target.link,
        )
        self._clients[client.connection_id] = client
        target.clients.add(client)
        target.link.send(
            sp.OpenConnection(
                connection_id=client.connection_id,
                claims=tuple(claims),
                headers={name: tuple(values) for name, values in headers.items()},
                query_string=query_string,
            )
        )
        return client

    def client_data(self, client: ClassicClientRecord, data: bytes) -> None:
        """Forward what the client sent, unchanged and unframed, to its server connection (§2.5)."""
        client.server.send(sp.ConnectionData(connection_id=client.connection_id, payload=data))

    def reconnected(self, client: ClassicClientRecord) -> None:
        """The client came back on ``/reconnect``: ``ConnectionData("asrs:reconnect")`` (§2.4)."""
        self.client_data(client, RECONNECT_PAYLOAD)

    def disconnect(self, client: ClassicClientRecord, error: str = "") -> None:
        """The client left (abort, disconnect timeout, missed poll): CloseConnection to its server."""
        if self._forget(client):
            client.server.send(sp.CloseConnection(connection_id=client.connection_id, error_message=error))

    # ----------------------------------------------------------------------------- helpers

    def _pick(self, pool: str, only_server: str | None) -> _Link | None:
        """The least-loaded usable connection of ``pool`` (of ``only_server`` if given)."""
        candidates = [
            s
            for s in self._pools.get(pool, ())
            if s.link.connection_type != sp.ServiceConnectionType.WEAK
            and (only_server is None or s.link.server_id == only_server)
        ]
        if not candidates:
            return None
        self._rng.shuffle(candidates)
        return min(candidates, key=lambda s: len(s.clients))

    def _forget(self, client: ClassicClientRecord) -> bool:
        if self._clients.get(client.connection_id) is not client:
            return False
        del self._clients[client.connection_id]
        link_state = self._links.get(client.server)
        if link_state is not None:
            link_state.clients.discard(client)
        for group in client.groups:
            key = (client.application_pool, group)
            members = self._groups.get(key)
            if members is not None:
                members.discard(client)
                if not members:
                    del self._groups[key]
        client.groups.clear()
        return True

    def _client_of(self, state: _Link, connection_id: str) -> ClassicClientRecord | None:
        """The client ``connection_id`` if ``state``'s pool belongs to the client's app."""
        client = self._clients.get(connection_id)
        if client is None or (state.pool != client.application_pool and state.pool not in client.hub_pools):
            return None
        return client

    def _unwrap(self, state: _Link, payload: bytes) -> list[bytes] | None:
        try:
            return unwrap_payload(payload)
        except ClassicProtocolError as error:
            log.warning("classic pool %s sent a payload that is not double-framed: %s", state.pool, error)
            return None

    def _fan_out(self, state: _Link, clients: Iterable[ClassicClientRecord], payloads: Mapping[str, bytes]) -> None:
        data = next((value for key, value in payloads.items() if key.lower() == CLASSIC_PAYLOAD_KEY), None)
        targets = list(clients)
        if data is None or not targets:
            return
        messages = self._unwrap(state, data)
        if messages is None:
            return
        for client in targets:
            client.sink.deliver(messages)

    def _listeners(self, state: _Link, excluded: Iterable[str] = ()) -> list[ClassicClientRecord]:
        skip = set(excluded)
        return [c for c in self._clients.values() if state.pool in c.hub_pools and c.connection_id not in skip]

    def _users(self, state: _Link, users: Iterable[str]) -> list[ClassicClientRecord]:
        wanted = set(users)
        return [c for c in self._listeners(state) if c.user_id is not None and c.user_id in wanted]

    def _members(self, state: _Link, groups: Iterable[str], excluded: Iterable[str]) -> list[ClassicClientRecord]:
        skip = set(excluded)
        found: dict[ClassicClientRecord, None] = {}
        for group in groups:
            for client in self._groups.get((state.pool, group), ()):
                if client.connection_id not in skip:
                    found[client] = None
        return list(found)

    def _join(self, client: ClassicClientRecord, group: str) -> None:
        self._groups.setdefault((client.application_pool, group), set()).add(client)
        client.groups.add(group)

    def _leave(self, client: ClassicClientRecord, group: str) -> None:
        key = (client.application_pool, group)
        members = self._groups.get(key)
        if members is not None:
            members.discard(client)
            if not members:
                del self._groups[key]
        client.groups.discard(group)

    # ----------------------------------------------------------------------------- message handlers

    def _on_connection_data(self, state: _Link, message: Any) -> None:
        client = self._client_of(state, message.connection_id)
        if client is None:
            return
        messages = self._unwrap(state, bytes(message.payload))
        if messages is not None:
            client.sink.deliver(messages)

    def _on_multi_connection_data(self, state: _Link, message: Any) -> None:
        clients = [self._client_of(state, c) for c in dict.fromkeys(message.connection_list)]
        self._fan_out(state, [c for c in clients if c is not None], message.payloads)

    def _on_close_connection(self, state: _Link, message: Any) -> None:
        """The app refused or ended the client (§2.3): it gets ``{"E": reason}`` and is closed."""
        client = self._client_of(state, message.connection_id)
        if client is not None and self._forget(client):
            client.sink.close(message.error_message or "The connection was closed by the server.")

    def _on_broadcast(self, state: _Link, message: Any) -> None:
        self._fan_out(state, self._listeners(state, message.excluded_list or ()), message.payloads)

    def _on_user_data(self, state: _Link, message: Any) -> None:
        self._fan_out(state, self._users(state, [message.user_id]), message.payloads)

    def _on_multi_user_data(self, state: _Link, message: Any) -> None:
        self._fan_out(state, self._users(state, message.user_list), message.payloads)

    def _on_group_broadcast(self, state: _Link, message: Any) -> None:
        members = self._members(state, [message.group_name], message.excluded_list or ())
        self._fan_out(state, members, message.payloads)

    def _on_multi_group_broadcast(self, state: _Link, message: Any) -> None:
        self._fan_out(state, self._members(state, message.group_list, ()), message.payloads)

    def _membership(self, state: _Link, message: Any) -> ClassicClientRecord | None:
        client = self._clients.get(message.connection_id)
        if client is None or client.application_pool != state.pool or not message.group_name:
            return None
        return client

    def _on_join_group(self, state: _Link, message: Any) -> None:
        client = self._membership(state, message)
        if client is not None:
            self._join(client, message.group_name)

    def _on_leave_group(self, state: _Link, message: Any) -> None:
        client = self._membership(state, message)
        if client is not None:
            self._leave(client, message.group_name)

    def _on_join_group_with_ack(self, state: _Link, message: Any) -> None:
        client = self._membership(state, message)
        if client is not None:
            self._join(client, message.group_name)
        self._ack(state, message, client is not None)

    def _on_leave_group_with_ack(self, state: _Link, message: Any) -> None:
        client = self._membership(state, message)
        if client is not None:
            self._leave(client, message.group_name)
        self._ack(state, message, client is not None)

    def _ack(self, state: _Link, message: Any, found: bool) -> None:
        text = None if found else f"Connection '{message.connection_id}' does not exist."
        status = AckStatus.OK if found else AckStatus.NOT_FOUND
        state.link.send(sp.Ack(ack_id=message.ack_id, status=status, message=text))

    def _on_ping(self, state: _Link, message: Any) -> None:
        if message.get("status") is not None:
            busy = bool(state.clients) or bool(self._listeners(state))
            state.link.send(sp.Ping.of("status", "1" if busy else "0"))
