"""``Clients``: who a hub message goes to (hub-protocol §3.7), as in ASP.NET Core's IHubCallerClients.

Every target has ``send(method, *args)``; ``client(id)`` also has ``invoke`` (client results).
The message is encoded here, in the calling thread, once per hub protocol; the runtime then maps it
onto one service message (service-protocol §3.2 #7–14) on the right server connection. Sends to
unknown connections, users or groups are no-ops, as in .NET. Safe from any thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

if TYPE_CHECKING:
    from .runtime.client_connection import ClientConnection
    from .runtime.hub_host import HubHost
    from .runtime.lifetime import Payloads
    from .runtime.server_connection import ServerConnection

__all__ = ["ClientProxy", "SingleClientProxy", "HubClients"]

_Deliver = Callable[["Payloads", "ServerConnection | None"], None]

DEFAULT_INVOKE_TIMEOUT = 30.0


def _method_name(method: str) -> str:
    if not isinstance(method, str) or not method:
        raise ValueError("the client method name must be a non-empty string")
    return method


def _group_name(group: str) -> str:
    if not isinstance(group, str):
        raise TypeError("group names are strings")
    if not group:
        raise ValueError("Cannot send to an empty group name.")
    return group


def _ids(values: Iterable[str], what: str) -> list[str]:
    if isinstance(values, str):
        raise TypeError(f"{what} must be a list of strings, not one string")
    result = list(values)
    if not all(isinstance(value, str) for value in result):
        raise TypeError(f"{what} must be strings")
    return result


class ClientProxy:
    """A set of clients; ``send`` invokes ``method`` on each of them without waiting for results."""

    __slots__ = ("_host", "_deliver", "_preferred")

    def __init__(self, host: HubHost, deliver: _Deliver, preferred: ServerConnection | None) -> None:
        self._host = host
        self._deliver = deliver
        self._preferred = preferred

    def send(self, method: str, *args: Any) -> None:
        """Send the invocation; raises ServiceConnectionError if no server connection can carry it."""
        payloads = self._host.lifetime.payloads(_method_name(method), args)
        self._host.loop.call(self._deliver, payloads, self._preferred)


class SingleClientProxy(ClientProxy):
    """One connection: can also ask it for a result."""

    __slots__ = ("_connection_id",)

    def __init__(self, host: HubHost, connection_id: str, preferred: ServerConnection | None) -> None:
        lifetime = host.lifetime
        super().__init__(
            host, lambda payloads, via: lifetime.send_connection(connection_id, payloads, via), preferred
        )
        self._connection_id = connection_id

    def invoke(self, method: str, *args: Any, timeout: float | None = DEFAULT_INVOKE_TIMEOUT) -> Any:
        """Call a client handler and return its result (hub-protocol §2.7).

        Raises InvocationError with the client's error text, on timeout, or when the client
        disconnects first ("Connection '<id>' disconnected.").
        """
        host = self._host
        return host.loop.call(
            host.client_results.invoke, self._connection_id, _method_name(method), list(args), timeout
        )


class HubClients:
    """The targets of one hub; ``caller``, ``others`` and ``others_in_group`` need a caller."""

    __slots__ = ("_host", "_caller")

    def __init__(self, host: HubHost, caller: ClientConnection | None = None) -> None:
        self._host = host
        self._caller = caller

    @property
    def _via(self) -> ServerConnection | None:
        return self._caller.connection if self._caller is not None else None

    def _caller_id(self) -> str:
        if self._caller is None:
            raise RuntimeError("caller, others and others_in_group exist only inside hub methods")
        return self._caller.connection_id

    @property
    def all(self) -> ClientProxy:
        lifetime = self._host.lifetime
        return ClientProxy(self._host, lambda p, via: lifetime.broadcast(p, (), via), self._via)

    def all_except(self, excluded_connection_ids: Iterable[str]) -> ClientProxy:
        excluded = _ids(excluded_connection_ids, "excluded connection ids")
        lifetime = self._host.lifetime
        return ClientProxy(self._host, lambda p, via: lifetime.broadcast(p, excluded, via), self._via)

    @property
    def caller(self) -> SingleClientProxy:
        return self.client(self._caller_id())

    @property
    def others(self) -> ClientProxy:
        return self.all_except([self._caller_id()])

    def client(self, connection_id: str) -> SingleClientProxy:
        if not isinstance(connection_id, str):
            raise TypeError("connection ids are strings")
        return SingleClientProxy(self._host, connection_id, self._via)

    def clients(self, connection_ids: Iterable[str]) -> ClientProxy:
        ids = _ids(connection_ids, "connection ids")
        lifetime = self._host.lifetime
        return ClientProxy(self._host, lambda p, via: lifetime.send_connections(ids, p, via), self._via)

    def user(self, user_id: str) -> ClientProxy:
        if not isinstance(user_id, str):
            raise TypeError("user ids are strings")
        lifetime = self._host.lifetime
        return ClientProxy(self._host, lambda p, via: lifetime.send_user(user_id, p, via), self._via)

    def users(self, user_ids: Iterable[str]) -> ClientProxy:
        ids = _ids(user_ids, "user ids")
        lifetime = self._host.lifetime
        return ClientProxy(self._host, lambda p, via: lifetime.send_users(ids, p, via), self._via)

    def group(self, group_name: str) -> ClientProxy:
        return self.group_except(group_name, ())

    def groups(self, group_names: Iterable[str]) -> ClientProxy:
        names: Sequence[str] = [_group_name(g) for g in _ids(group_names, "group names")]
        lifetime = self._host.lifetime
        return ClientProxy(self._host, lambda p, via: lifetime.send_groups(names, p, via), self._via)

    def group_except(self, group_name: str, excluded_connection_ids: Iterable[str]) -> ClientProxy:
        group = _group_name(group_name)
        excluded = _ids(excluded_connection_ids, "excluded connection ids")
        lifetime = self._host.lifetime
        return ClientProxy(self._host, lambda p, via: lifetime.send_group(group, p, excluded, via), self._via)

    def others_in_group(self, group_name: str) -> ClientProxy:
        return self.group_except(group_name, [self._caller_id()])
