"""The emulator's routing core: hubs, server connections, clients, groups and users.

No sockets and no greenlets here. The IO layers hand the router decoded service messages and
client events; the router answers through two small interfaces, :class:`ServerLink` (queue a
service message for an app-server connection) and :class:`ClientSink` (queue bytes for a client,
or close it). Both must return at once: the router runs inside the reader of one server
connection and must never wait on another peer.

Rules, with the fact-sheet sections they come from (service-protocol unless stated):

- a client is bound to one online server connection of its hub (connection type 0 or 1, never 2),
  chosen by least load across servers, then across that server's connections, and stays there
  (§9.4); sticky claims ``asrs.s.sn``/``asrs.s.ssticky`` pick the named server;
- multicast messages deliver the payload for each client's own protocol (§2.4, §9.5); one fan-out
  shares a ``cache`` dict between clients so a transport frame is built once per protocol;
- ack-able messages get an Ack with the same id: 1 Ok / 2 NotFound (§7.5);
- when a server connection ends, its clients get a Close hub message that allows reconnecting,
  or are migrated when the server's migration level allows it (§7.3, §7.8);
- client invocations are routed to the client and their completions back to the caller (§7.6).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..protocol import service_messages as sp
from ..protocol.hub_messages import CloseMessage
from ..protocol.service_messages import AckStatus, ServiceEventKind
from ..protocol.service_messages import ServiceEventObjectType as ServiceEventObject

__all__ = [
    "MAX_GROUP_NAME_LENGTH",
    "MAX_USER_ID_LENGTH",
    "SERVER_OFFLINE_ERROR",
    "ClientRecord",
    "ClientSink",
    "NoServerAvailable",
    "Router",
    "ServerLink",
]

log = logging.getLogger("flask_azure_signalr.emulator.router")

#: Close error a client sees when its app server's connection ends (§7.3).
SERVER_OFFLINE_ERROR = "Application server is offline."

#: Name limits of the service (rest-api-and-emulator §4.3).
MAX_GROUP_NAME_LENGTH = 1024
MAX_USER_ID_LENGTH = 1024

#: A user keeps at most this many groups joined without a TTL; the oldest go first (§4.3).
MAX_USER_GROUPS = 100


_MIGRATE_FROM = "Asrs-Migrate-From"
_MIGRATE_TO = "Asrs-Migrate-To"


class ServerLink(Protocol):
    """One app-server connection as the router sees it."""

    connection_id: str
    server_id: str
    connection_type: int
    migration_level: int

    def send(self, message: Any) -> None:
        """Queue a service message; never blocks."""


class ClientSink(Protocol):
    """One client transport as the router sees it."""

    connection_id: str

    def deliver(self, data: bytes, cache: dict[Any, Any]) -> None:
        """Queue one payload of complete hub messages; never blocks.

        ``cache`` is shared by every client of one fan-out; the payload is the same object for
        every client of the same protocol, so a transport may keep its encoded frame there.
        """

    def close(self, message: CloseMessage | None = None) -> None:
        """Send what is queued, then ``message`` if given (in the client's protocol), then close."""


class NoServerAvailable(Exception):
    """No online server connection may take the client (service-protocol §9.4)."""


@dataclass(eq=False)
class ClientRecord:
    """A client bound to a server connection."""

    sink: ClientSink
    hub: str
    connection_id: str
    user_id: str | None
    protocol: str
    claims: Sequence[tuple[str, str]]
    headers: Mapping[str, Sequence[str]]
    query_string: str
    handshake: bytes
    server: ServerLink
    groups: set[str] = field(default_factory=set)
    skip_handshake_response: bool = False


@dataclass(eq=False)
class _LinkState:
    link: ServerLink
    hub: str
    online: bool = True
    clients: set[ClientRecord] = field(default_factory=set)


@dataclass(eq=False)
class _Invocation:
    caller_server_id: str
    caller: ServerLink
    client: ClientRecord


@dataclass(eq=False)
class _Hub:
    name: str
    links: list[_LinkState] = field(default_factory=list)
    clients: dict[str, ClientRecord] = field(default_factory=dict)
    groups: dict[str, set[ClientRecord]] = field(default_factory=dict)
    users: dict[str, set[ClientRecord]] = field(default_factory=dict)
    # user -> group -> expiry on the router clock (None: no TTL); insertion order = join order
    user_groups: dict[str, dict[str, float | None]] = field(default_factory=dict)
    invocations: dict[str, _Invocation] = field(default_factory=dict)


class Router:
    """Routing state of every hub. Hub names are case-insensitive (stored lower-case)."""

    def __init__(
        self,
        *,
        instance_id: str = "emulator",
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.instance_id = instance_id
        self._clock = clock
        self._rng = rng or random.Random()
        self._hubs: dict[str, _Hub] = {}
        self._links: dict[ServerLink, _LinkState] = {}
        self._handlers: dict[type, Callable[[_LinkState, Any], None]] = {
            sp.ConnectionData: self._on_connection_data,
            sp.CloseConnection: self._on_close_connection,
            sp.MultiConnectionData: self._on_multi_connection_data,
            sp.UserData: self._on_user_data,
            sp.MultiUserData: self._on_multi_user_data,
            sp.BroadcastData: self._on_broadcast,
            sp.GroupBroadcastData: self._on_group_broadcast,
            sp.MultiGroupBroadcastData: self._on_multi_group_broadcast,
            sp.JoinGroup: self._on_join_group,
            sp.LeaveGroup: self._on_leave_group,
            sp.JoinGroupWithAck: self._on_join_group_with_ack,
            sp.LeaveGroupWithAck: self._on_leave_group_with_ack,
            sp.UserJoinGroup: self._on_user_join_group,
            sp.UserLeaveGroup: self._on_user_leave_group,
            sp.UserJoinGroupWithAck: self._on_user_join_group_with_ack,
            sp.UserLeaveGroupWithAck: self._on_user_leave_group_with_ack,
            sp.CheckUserInGroupWithAck: self._on_check_user_in_group,
            sp.CheckGroupExistenceWithAck: self._on_check_group,
            sp.CheckConnectionExistenceWithAck: self._on_check_connection,
            sp.CheckUserExistenceWithAck: self._on_check_user,
            sp.CloseConnectionWithAck: self._on_close_connection_with_ack,
            sp.CloseConnectionsWithAck: self._on_close_connections_with_ack,
            sp.CloseUserConnectionsWithAck: self._on_close_user_connections_with_ack,
            sp.CloseGroupConnectionsWithAck: self._on_close_group_connections_with_ack,
            sp.ClientInvocation: self._on_client_invocation,
            sp.ClientCompletion: self._on_client_completion,
            sp.ErrorCompletion: self._on_error_completion,
            sp.Ping: self._on_ping,
            sp.AccessKeyRequest: self._on_access_key_request,
        }

    # ----------------------------------------------------------------------------- server side

    def add_server(self, hub: str, link: ServerLink) -> None:
        """A server connection finished its handshake."""
        state = _LinkState(link, hub.lower())
        self._links[link] = state
        self._hub(hub).links.append(state)

    def remove_server(self, link: ServerLink) -> None:
        """A server connection ended: migrate its clients if it allowed that, else close them."""
        state = self._links.pop(link, None)
        if state is None:
            return
        hub = self._hubs[state.hub]
        hub.links.remove(state)
        state.online = False
        for client in list(state.clients):
            target = self._pick_link(hub, exclude_server=None) if link.migration_level >= 2 else None
            if target is not None:
                self._migrate(client, target, old_alive=False)
            else:
                self._drop_client(client, CloseMessage(error=SERVER_OFFLINE_ERROR, allow_reconnect=True))
        for invocation_id, invocation in list(hub.invocations.items()):
            if invocation.caller is link:
                del hub.invocations[invocation_id]
        self._forget_hub_if_idle(hub)

    def handle(self, link: ServerLink, message: Any) -> None:
        """Act on one message from a server connection (after its handshake)."""
        state = self._links.get(link)
        if state is None:
            return
        handler = self._handlers.get(type(message))
        if handler is not None:
            handler(state, message)

    def has_servers(self, hub: str) -> bool:
        """Whether a client of ``hub`` could be bound now."""
        state = self._hubs.get(hub.lower())
        return state is not None and self._pick_link(state, exclude_server=None) is not None

    def server_ids(self, hub: str) -> list[str]:
        """Distinct server ids connected for ``hub``, in connection order."""
        state = self._hubs.get(hub.lower())
        if state is None:
            return []
        return list(dict.fromkeys(s.link.server_id for s in state.links))

    def ping_servers(self, hub: str, *pairs: str) -> int:
        """Send ``[3, *pairs]`` to every connection of ``hub`` (e.g. ``"target", id``); returns the count."""
        state = self._hubs.get(hub.lower())
        links = list(state.links) if state else []
        for link_state in links:
            link_state.link.send(sp.Ping(messages=tuple(pairs)))
        return len(links)

    # ----------------------------------------------------------------------------- client side

    def connect(
        self,
        hub: str,
        sink: ClientSink,
        *,
        user_id: str | None,
        protocol: str,
        claims: Sequence[tuple[str, str]],
        headers: Mapping[str, Sequence[str]],
        query_string: str,
        handshake: bytes,
        sticky_server: str | None = None,
        sticky_required: bool = False,
    ) -> ClientRecord:
        """Bind a client whose hub handshake arrived: OpenConnection, then its bytes so far.

        Raises :class:`NoServerAvailable` when no server connection may take it.
        """
        state = self._hub(hub)
        target = None
        if sticky_server:
            target = self._pick_link(state, exclude_server=None, only_server=sticky_server)
        if target is None and not (sticky_server and sticky_required):
            target = self._pick_link(state, exclude_server=None)
        if target is None:
            self._forget_hub_if_idle(state)
            raise NoServerAvailable(hub)
        client = ClientRecord(
            sink=sink,
            hub=state.name,
            connection_id=sink.connection_id,
            user_id=user_id or None,
            protocol=protocol.lower(),
            claims=tuple(claims),
            headers=dict(headers),
            query_string=query_string,
            handshake=handshake,
            server=target.link,
        )
        state.clients[client.connection_id] = client
        target.clients.add(client)
        if client.user_id is not None:
            state.users.setdefault(client.user_id, set()).add(client)
            for group in self._live_user_groups(state, client.user_id):
                self._join(state, client, group)
        self._open(client, target.link, headers)
        return client

    def client_data(self, client: ClientRecord, data: bytes) -> None:
        """Forward bytes the client sent, unchanged, to its server connection."""
        client.server.send(sp.ConnectionData(connection_id=client.connection_id, payload=data))

    def disconnect(self, client: ClientRecord, error: str = "") -> None:
        """The client's transport ended: tell its server and forget the client."""
        if self._forget_client(client):
            client.server.send(sp.CloseConnection(connection_id=client.connection_id, error_message=error))

    # ------------------------------------------------------------------------ selection helpers

    def _hub(self, name: str) -> _Hub:
        key = name.lower()
        hub = self._hubs.get(key)
        if hub is None:
            hub = self._hubs[key] = _Hub(key)
        return hub

    def _forget_hub_if_idle(self, hub: _Hub) -> None:
        if not hub.links and not hub.clients and not hub.user_groups:
            self._hubs.pop(hub.name, None)

    def _pick_link(
        self, hub: _Hub, *, exclude_server: str | None, only_server: str | None = None
    ) -> _LinkState | None:
        """Least-loaded server, then its least-loaded connection; ties broken at random."""
        candidates = [
            s
            for s in hub.links
            if s.online
            and s.link.connection_type != sp.ServiceConnectionType.WEAK
            and s.link.server_id != exclude_server
            and (only_server is None or s.link.server_id == only_server)
        ]
        if not candidates:
            return None
        load: dict[str, int] = {}
        for s in candidates:
            load[s.link.server_id] = load.get(s.link.server_id, 0) + len(s.clients)
        self._rng.shuffle(candidates)
        return min(candidates, key=lambda s: (load[s.link.server_id], len(s.clients)))

    def _open(self, client: ClientRecord, link: ServerLink, headers: Mapping[str, Sequence[str]]) -> None:
        link.send(
            sp.OpenConnection(
                connection_id=client.connection_id,
                claims=tuple(client.claims),
                headers={name: tuple(values) for name, values in headers.items()},
                query_string=client.query_string,
                protocol=client.protocol,
            )
        )
        link.send(sp.ConnectionData(connection_id=client.connection_id, payload=client.handshake))

    def _migrate(self, client: ClientRecord, target: _LinkState, *, old_alive: bool) -> None:
        """Move a client to another server (§7.2 steps 5-6); it keeps its groups."""
        old = client.server
        old_state = self._links.get(old)
        if old_state is not None:
            old_state.clients.discard(client)
        if old_alive:
            old.send(
                sp.CloseConnection(
                    connection_id=client.connection_id,
                    error_message="",
                    headers={_MIGRATE_TO: (target.link.server_id,)},
                )
            )
        client.server = target.link
        client.skip_handshake_response = True
        target.clients.add(client)
        headers = dict(client.headers)
        headers[_MIGRATE_FROM] = (old.server_id,)
        self._open(client, target.link, headers)
        log.info("migrated client %s from %s to %s", client.connection_id, old.server_id, target.link.server_id)

    def _forget_client(self, client: ClientRecord) -> bool:
        hub = self._hubs.get(client.hub)
        if hub is None or hub.clients.get(client.connection_id) is not client:
            return False
        del hub.clients[client.connection_id]
        link_state = self._links.get(client.server)
        if link_state is not None:
            link_state.clients.discard(client)
        for group in client.groups:
            members = hub.groups.get(group)
            if members is not None:
                members.discard(client)
                if not members:
                    del hub.groups[group]
        client.groups.clear()
        if client.user_id is not None:
            connections = hub.users.get(client.user_id)
            if connections is not None:
                connections.discard(client)
                if not connections:
                    del hub.users[client.user_id]
        for invocation_id, invocation in list(hub.invocations.items()):
            if invocation.client is client:
                del hub.invocations[invocation_id]
                if invocation.caller_server_id != client.server.server_id:
                    self._to_caller(hub, invocation, sp.ErrorCompletion(
                        invocation_id=invocation_id,
                        connection_id=client.connection_id,
                        caller_server_id=invocation.caller_server_id,
                        error=f"Connection '{client.connection_id}' disconnected.",
                    ))
        self._forget_hub_if_idle(hub)
        return True

    def _drop_client(self, client: ClientRecord, close: CloseMessage | None) -> None:
        """The service ends a client: close its transport; no CloseConnection (caller decides)."""
        if self._forget_client(client):
            client.sink.close(close)

    def _close_by_service(self, client: ClientRecord, reason: str | None) -> None:
        """Close*WithAck: the client gets a Close, its server a CloseConnection."""
        server = client.server
        if self._forget_client(client):
            client.sink.close(CloseMessage(error=reason or None, allow_reconnect=True))
            server.send(sp.CloseConnection(connection_id=client.connection_id, error_message=reason or ""))

    # ------------------------------------------------------------------------ groups and users

    def _join(self, hub: _Hub, client: ClientRecord, group: str) -> None:
        hub.groups.setdefault(group, set()).add(client)
        client.groups.add(group)

    def _leave(self, hub: _Hub, client: ClientRecord, group: str) -> bool:
        members = hub.groups.get(group)
        if members is None or client not in members:
            return False
        members.discard(client)
        if not members:
            del hub.groups[group]
        client.groups.discard(group)
        return True

    def _live_user_groups(self, hub: _Hub, user: str) -> list[str]:
        groups = hub.user_groups.get(user)
        if not groups:
            return []
        now = self._clock()
        for name, expiry in list(groups.items()):
            if expiry is not None and expiry <= now:
                del groups[name]
        if not groups:
            del hub.user_groups[user]
        return list(groups)

    def _user_join(self, hub: _Hub, user: str, group: str, ttl: int | None) -> None:
        groups = hub.user_groups.setdefault(user, {})
        groups.pop(group, None)
        groups[group] = None if ttl is None else self._clock() + ttl
        without_ttl = [name for name, expiry in groups.items() if expiry is None]
        for name in without_ttl[: max(0, len(without_ttl) - MAX_USER_GROUPS)]:
            del groups[name]
        for client in hub.users.get(user, ()):
            self._join(hub, client, group)

    def _user_leave(self, hub: _Hub, user: str, group: str | None) -> None:
        groups = hub.user_groups.get(user)
        if groups is not None:
            if group is None:
                groups.clear()
            else:
                groups.pop(group, None)
            if not groups:
                del hub.user_groups[user]
        for client in hub.users.get(user, ()):
            for name in [group] if group is not None else list(client.groups):
                self._leave(hub, client, name)
        self._forget_hub_if_idle(hub)

    def _user_in_group(self, hub: _Hub, user: str, group: str) -> bool:
        if group in self._live_user_groups(hub, user):
            return True
        return any(group in client.groups for client in hub.users.get(user, ()))

    # ------------------------------------------------------------------------ fan-out

    def _fan_out(self, clients: Iterable[ClientRecord], payloads: Mapping[str, bytes]) -> None:
        by_protocol = {name.lower(): data for name, data in payloads.items()}
        if not by_protocol:
            return
        cache: dict[Any, Any] = {}
        for client in clients:
            data = by_protocol.get(client.protocol)
            if data is not None:
                client.sink.deliver(data, cache)

    @staticmethod
    def _clients_of(hub: _Hub, ids: Iterable[str]) -> list[ClientRecord]:
        found = []
        for connection_id in dict.fromkeys(ids):
            client = hub.clients.get(connection_id)
            if client is not None:
                found.append(client)
        return found

    @staticmethod
    def _clients_of_users(hub: _Hub, users: Iterable[str]) -> list[ClientRecord]:
        found: dict[ClientRecord, None] = {}
        for user in users:
            for client in hub.users.get(user, ()):
                found[client] = None
        return list(found)

    # ------------------------------------------------------------------------ message handlers

    def _on_connection_data(self, state: _LinkState, message: Any) -> None:
        hub = self._hubs[state.hub]
        client = hub.clients.get(message.connection_id)
        if client is None:
            return
        payload = bytes(message.payload)
        if client.skip_handshake_response:
            client.skip_handshake_response = False
            payload = _strip_handshake_response(payload)
            if not payload:
                return
        client.sink.deliver(payload, {})

    def _on_close_connection(self, state: _LinkState, message: Any) -> None:
        hub = self._hubs[state.hub]
        client = hub.clients.get(message.connection_id)
        if client is not None and client.server is state.link:
            self._drop_client(client, None)

    def _on_multi_connection_data(self, state: _LinkState, message: Any) -> None:
        hub = self._hubs[state.hub]
        self._fan_out(self._clients_of(hub, message.connection_list), message.payloads)

    def _on_user_data(self, state: _LinkState, message: Any) -> None:
        hub = self._hubs[state.hub]
        self._fan_out(list(hub.users.get(message.user_id, ())), message.payloads)

    def _on_multi_user_data(self, state: _LinkState, message: Any) -> None:
        hub = self._hubs[state.hub]
        self._fan_out(self._clients_of_users(hub, message.user_list), message.payloads)

    def _on_broadcast(self, state: _LinkState, message: Any) -> None:
        hub = self._hubs[state.hub]
        excluded = set(message.excluded_list or ())
        clients = hub.clients.values()
        if excluded:
            clients = [c for c in clients if c.connection_id not in excluded]
        self._fan_out(list(clients), message.payloads)

    def _on_group_broadcast(self, state: _LinkState, message: Any) -> None:
        hub = self._hubs[state.hub]
        if not self._valid_group(state, message.group_name):
            return
        members = hub.groups.get(message.group_name)
        if not members:
            return
        excluded = set(message.excluded_list or ())
        excluded_users = set(message.excluded_user_list or ())
        clients = [
            c
            for c in members
            if c.connection_id not in excluded and (c.user_id is None or c.user_id not in excluded_users)
        ]
        self._fan_out(clients, message.payloads)

    def _on_multi_group_broadcast(self, state: _LinkState, message: Any) -> None:
        hub = self._hubs[state.hub]
        clients: dict[ClientRecord, None] = {}
        for group in message.group_list:
            if not self._valid_group(state, group):
                return
            for client in hub.groups.get(group, ()):
                clients[client] = None
        self._fan_out(list(clients), message.payloads)

    def _on_join_group(self, state: _LinkState, message: Any) -> None:
        hub = self._hubs[state.hub]
        if not self._valid_group(state, message.group_name):
            return
        client = hub.clients.get(message.connection_id)
        if client is None:
            self._event(state, ServiceEventObject.CONNECTION, message.connection_id, ServiceEventKind.NOT_EXISTED,
                        f"Connection '{message.connection_id}' does not exist.")
            return
        self._join(hub, client, message.group_name)

    def _on_leave_group(self, state: _LinkState, message: Any) -> None:
        hub = self._hubs[state.hub]
        client = hub.clients.get(message.connection_id)
        if client is not None:
            self._leave(hub, client, message.group_name)

    def _on_join_group_with_ack(self, state: _LinkState, message: Any) -> None:
        hub = self._hubs[state.hub]
        if not self._valid_group(state, message.group_name, ack_id=message.ack_id):
            return
        client = hub.clients.get(message.connection_id)
        if client is None:
            self._ack(state, message.ack_id, AckStatus.NOT_FOUND, f"Connection '{message.connection_id}' does not exist.")
            return
        self._join(hub, client, message.group_name)
        self._ack(state, message.ack_id, AckStatus.OK)

    def _on_leave_group_with_ack(self, state: _LinkState, message: Any) -> None:
        hub = self._hubs[state.hub]
        client = hub.clients.get(message.connection_id)
        if client is None:
            self._ack(state, message.ack_id, AckStatus.NOT_FOUND, f"Connection '{message.connection_id}' does not exist.")
            return
        self._leave(hub, client, message.group_name)
        self._ack(state, message.ack_id, AckStatus.OK)

    def _on_user_join_group(self, state: _LinkState, message: Any) -> None:
        if self._valid_group(state, message.group_name) and self._valid_user(state, message.user_id):
            self._user_join(self._hubs[state.hub], message.user_id, message.group_name, message.ttl)

    def _on_user_leave_group(self, state: _LinkState, message: Any) -> None:
        self._user_leave(self._hubs[state.hub], message.user_id, message.group_name)

    def _on_user_join_group_with_ack(self, state: _LinkState, message: Any) -> None:
        if not (
            self._valid_group(state, message.group_name, ack_id=message.ack_id)
            and self._valid_user(state, message.user_id, ack_id=message.ack_id)
        ):
            return
        self._user_join(self._hubs[state.hub], message.user_id, message.group_name, message.ttl)
        self._ack(state, message.ack_id, AckStatus.OK)

    def _on_user_leave_group_with_ack(self, state: _LinkState, message: Any) -> None:
        self._user_leave(self._hubs[state.hub], message.user_id, message.group_name)
        self._ack(state, message.ack_id, AckStatus.OK)

    def _on_check_user_in_group(self, state: _LinkState, message: Any) -> None:
        found = self._user_in_group(self._hubs[state.hub], message.user_id, message.group_name)
        self._ack(state, message.ack_id, AckStatus.OK if found else AckStatus.NOT_FOUND)

    def _on_check_group(self, state: _LinkState, message: Any) -> None:
        found = bool(self._hubs[state.hub].groups.get(message.group_name))
        self._ack(state, message.ack_id, AckStatus.OK if found else AckStatus.NOT_FOUND)

    def _on_check_connection(self, state: _LinkState, message: Any) -> None:
        found = message.connection_id in self._hubs[state.hub].clients
        self._ack(state, message.ack_id, AckStatus.OK if found else AckStatus.NOT_FOUND)

    def _on_check_user(self, state: _LinkState, message: Any) -> None:
        found = bool(self._hubs[state.hub].users.get(message.user_id))
        self._ack(state, message.ack_id, AckStatus.OK if found else AckStatus.NOT_FOUND)

    def _on_close_connection_with_ack(self, state: _LinkState, message: Any) -> None:
        client = self._hubs[state.hub].clients.get(message.connection_id)
        if client is None:
            self._ack(state, message.ack_id, AckStatus.NOT_FOUND, f"Connection '{message.connection_id}' does not exist.")
            return
        self._close_by_service(client, message.reason)
        self._ack(state, message.ack_id, AckStatus.OK)

    def _close_all(self, state: _LinkState, clients: Iterable[ClientRecord], message: Any) -> None:
        excluded = set(message.excluded_list or ())
        for client in list(clients):
            if client.connection_id not in excluded:
                self._close_by_service(client, message.reason)
        self._ack(state, message.ack_id, AckStatus.OK)

    def _on_close_connections_with_ack(self, state: _LinkState, message: Any) -> None:
        self._close_all(state, self._hubs[state.hub].clients.values(), message)

    def _on_close_user_connections_with_ack(self, state: _LinkState, message: Any) -> None:
        self._close_all(state, self._hubs[state.hub].users.get(message.user_id, ()), message)

    def _on_close_group_connections_with_ack(self, state: _LinkState, message: Any) -> None:
        self._close_all(state, self._hubs[state.hub].groups.get(message.group_name, ()), message)

    def _on_client_invocation(self, state: _LinkState, message: Any) -> None:
        hub = self._hubs[state.hub]
        client = hub.clients.get(message.connection_id)
        if client is None:
            state.link.send(sp.ErrorCompletion(
                invocation_id=message.invocation_id,
                connection_id=message.connection_id,
                caller_server_id=message.caller_server_id,
                error=f"Connection '{message.connection_id}' does not exist.",
            ))
            return
        hub.invocations[message.invocation_id] = _Invocation(message.caller_server_id, state.link, client)
        self._fan_out([client], message.payloads)
        if client.server.server_id != message.caller_server_id:
            client.server.send(message)
            state.link.send(sp.ServiceMapping(
                invocation_id=message.invocation_id,
                connection_id=message.connection_id,
                instance_id=self.instance_id,
            ))

    def _on_client_completion(self, state: _LinkState, message: Any) -> None:
        hub = self._hubs[state.hub]
        invocation = hub.invocations.pop(message.invocation_id, None)
        if invocation is not None and state.link.server_id != invocation.caller_server_id:
            self._to_caller(hub, invocation, message)

    def _on_error_completion(self, state: _LinkState, message: Any) -> None:
        hub = self._hubs[state.hub]
        invocation = hub.invocations.pop(message.invocation_id, None)
        if invocation is not None and state.link.server_id != invocation.caller_server_id:
            self._to_caller(hub, invocation, message)

    def _to_caller(self, hub: _Hub, invocation: _Invocation, message: Any) -> None:
        if invocation.caller in self._links:
            invocation.caller.send(message)
            return
        for link_state in hub.links:
            if link_state.link.server_id == invocation.caller_server_id:
                link_state.link.send(message)
                return

    def _on_access_key_request(self, state: _LinkState, message: Any) -> None:
        state.link.send(sp.AccessKeyResponse(
            kid=None,
            access_key=None,
            error_type="NotSupportedException",
            error_message="The emulator accepts access-key tokens only; Microsoft Entra ID is not supported.",
        ))

    def _on_ping(self, state: _LinkState, message: Any) -> None:
        hub = self._hubs[state.hub]
        if message.get("status") is not None:
            state.link.send(sp.Ping.of("status", "1" if hub.clients else "0"))
        if message.get("servers") is not None:
            ticks = time.time_ns() // 100
            state.link.send(sp.Ping.of("servers", f"{ticks}:" + ";".join(self.server_ids(hub.name))))
        fin = message.get("shutdown")
        if fin is not None and fin.startswith("fin:"):
            self._on_fin(state, fin)

    def _on_fin(self, state: _LinkState, fin: str) -> None:
        """Graceful shutdown (§7.8): acknowledge, take no new clients, then act on the mode."""
        state.online = False
        state.link.send(sp.Ping.of("shutdown", "finack"))
        hub = self._hubs[state.hub]
        if fin == "fin:1":
            for client in list(state.clients):
                target = self._pick_link(hub, exclude_server=state.link.server_id)
                if target is None:
                    break
                self._migrate(client, target, old_alive=True)
        elif fin == "fin:0":
            for client in list(state.clients):
                self._drop_client(client, CloseMessage(error=SERVER_OFFLINE_ERROR, allow_reconnect=True))

    # ------------------------------------------------------------------------ replies

    def _ack(self, state: _LinkState, ack_id: int, status: int, text: str | None = None) -> None:
        state.link.send(sp.Ack(ack_id=ack_id, status=status, message=text))

    def _event(self, state: _LinkState, object_type: int, object_id: str, kind: int, text: str) -> None:
        state.link.send(sp.ServiceEvent(type=object_type, id=object_id, kind=kind, message=text))

    def _valid_group(self, state: _LinkState, group: str | None, *, ack_id: int | None = None) -> bool:
        if group and len(group) <= MAX_GROUP_NAME_LENGTH and not group.isspace():
            return True
        text = f"Invalid group name: it must be 1-{MAX_GROUP_NAME_LENGTH} characters and not only whitespace."
        self._invalid(state, ServiceEventObject.GROUP, group or "", text, ack_id)
        return False

    def _valid_user(self, state: _LinkState, user: str | None, *, ack_id: int | None = None) -> bool:
        if user and len(user) <= MAX_USER_ID_LENGTH:
            return True
        text = f"Invalid user id: it must be 1-{MAX_USER_ID_LENGTH} characters."
        self._invalid(state, ServiceEventObject.USER, user or "", text, ack_id)
        return False

    def _invalid(self, state: _LinkState, object_type: int, object_id: str, text: str, ack_id: int | None) -> None:
        if ack_id is None:
            self._event(state, object_type, object_id[:MAX_GROUP_NAME_LENGTH], ServiceEventKind.INVALID, text)
        else:
            self._ack(state, ack_id, AckStatus.INTERNAL_SERVER_ERROR, text)


def _strip_handshake_response(payload: bytes) -> bytes:
    """Drop a leading hub handshake response (JSON object + 0x1E without ``type``).

    A migrated client already finished its handshake; the new server runs one again and the
    service must not pass that answer on (§7.2 step 5). Hub messages always carry ``type``.
    """
    end = payload.find(b"\x1e")
    if end < 0:
        return payload
    head = payload[:end].strip()
    if head.startswith(b"{") and b'"type"' not in head:
        return payload[end + 1 :]
    return payload
