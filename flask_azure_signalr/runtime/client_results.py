"""Client results: a hub asks one client for a value and waits (service-protocol §7.6).

As caller, this server sends ClientInvocation with the hub Invocation in every protocol; the answer
comes back as the client's own Completion (client hosted here) or as ClientCompletion /
ErrorCompletion from the service (client hosted elsewhere). As router, it recognises completions
of invocations another server made (the service told it with a ClientInvocation) and forwards them.
"""

from __future__ import annotations

import itertools
import uuid
from typing import TYPE_CHECKING, Any, Sequence

import gevent
from gevent.event import AsyncResult

from ..exceptions import HubProtocolError, InvocationError
from ..protocol.hub import find_protocol
from ..protocol.hub_messages import CompletionMessage, InvocationMessage
from ..protocol.service_messages import (
    ClientCompletion,
    ClientInvocation,
    ErrorCompletion,
    ServiceMapping,
)

if TYPE_CHECKING:
    from .client_connection import ClientConnection
    from .hub_host import HubHost
    from .server_connection import ServerConnection

__all__ = ["ClientResults"]


class _Pending:
    __slots__ = ("connection_id", "result", "instance_id")

    def __init__(self, connection_id: str) -> None:
        self.connection_id = connection_id
        self.result = AsyncResult()
        self.instance_id: str | None = None


class ClientResults:
    """Pending client invocations of one hub."""

    def __init__(self, host: HubHost, server_id: str) -> None:
        self.host = host
        self.server_id = server_id
        self._manager_id = uuid.uuid4().hex
        self._counter = itertools.count(1)
        self._pending: dict[str, _Pending] = {}
        self._routed: dict[str, tuple[str, str]] = {}

    def invoke(self, connection_id: str, method: str, arguments: Sequence[Any], timeout: float | None) -> Any:
        """Send the invocation and wait for the client's answer (runtime thread)."""
        invocation_id = f"{connection_id}-{self._manager_id}-{next(self._counter)}"
        invocation = InvocationMessage(invocation_id=invocation_id, target=method, arguments=list(arguments))
        payloads = {protocol.name: protocol.encode(invocation) for protocol in self.host.protocols}
        pending = _Pending(connection_id)
        self._pending[invocation_id] = pending
        try:
            self.host.lifetime.send_to_connection_endpoints(
                connection_id, ClientInvocation(invocation_id, connection_id, self.server_id, payloads)
            )
            try:
                completion: CompletionMessage = pending.result.get(timeout=timeout)
            except gevent.Timeout:
                raise InvocationError(
                    f"Client '{connection_id}' did not answer the invocation of '{method}' within {timeout:g} s."
                ) from None
        finally:
            self._pending.pop(invocation_id, None)
        if completion.error is not None:
            raise InvocationError(completion.error)
        return completion.result

    # -- answers ----------------------------------------------------------------------------------

    def client_completed(self, client: ClientConnection, completion: CompletionMessage) -> None:
        """A Completion from a client hosted here; not an upload stream end."""
        invocation_id = completion.invocation_id
        pending = self._pending.get(invocation_id)
        protocol = client.protocol
        assert protocol is not None
        if pending is not None:
            pending.result.set(completion)
            self._send(
                client.connection,
                ClientCompletion(invocation_id, client.connection_id, self.server_id, protocol.name, b""),
            )
            return
        routed = self._routed.pop(invocation_id, None)
        if routed is not None:
            self._send(
                client.connection,
                ClientCompletion(
                    invocation_id, client.connection_id, routed[0], protocol.name, protocol.encode(completion)
                ),
            )

    def service_message(self, message: Any) -> None:
        """ClientInvocation (we route), ClientCompletion / ErrorCompletion / ServiceMapping (we called)."""
        if isinstance(message, ClientInvocation):
            if message.caller_server_id != self.server_id:
                self._routed[message.invocation_id] = (message.caller_server_id, message.connection_id)
            return
        pending = self._pending.get(message.invocation_id)
        if pending is None:
            return
        if isinstance(message, ServiceMapping):
            pending.instance_id = message.instance_id
        elif isinstance(message, ErrorCompletion):
            pending.result.set(
                CompletionMessage.with_error(message.invocation_id, message.error or "Unknown error.")
            )
        elif isinstance(message, ClientCompletion) and message.payload:
            pending.result.set(self._decode(message))

    @staticmethod
    def _decode(message: ClientCompletion) -> CompletionMessage:
        protocol = find_protocol(message.protocol or "")
        try:
            decoded = protocol.decode(message.payload) if protocol is not None else []
        except HubProtocolError:
            decoded = []
        completion = next((m for m in decoded if isinstance(m, CompletionMessage)), None)
        if completion is None:
            return CompletionMessage.with_error(
                message.invocation_id, "The client's completion could not be read."
            )
        return completion

    def _send(self, connection: ServerConnection, message: ClientCompletion) -> None:
        self.host.lifetime.send_on(connection, message)

    # -- failures ---------------------------------------------------------------------------------

    def connection_gone(self, connection_id: str) -> None:
        """A hosted client disconnected: its pending invocations fail (DefaultHubLifetimeManager text)."""
        for invocation_id, (_caller, routed_to) in list(self._routed.items()):
            if routed_to == connection_id:
                del self._routed[invocation_id]
        for invocation_id, pending in list(self._pending.items()):
            if pending.connection_id == connection_id:
                pending.result.set(
                    CompletionMessage.with_error(invocation_id, f"Connection '{connection_id}' disconnected.")
                )

    def instance_offline(self, instance_id: str) -> None:
        """``offline`` ping: invocations routed through that service instance fail (§5.3)."""
        for invocation_id, pending in list(self._pending.items()):
            if pending.instance_id == instance_id:
                pending.result.set(
                    CompletionMessage.with_error(invocation_id, f"Service instance '{instance_id}' went offline.")
                )
