"""Classic hub invocations → the same hub methods ASP.NET Core clients call (aspnet-classic §2.6, §2.8).

A jQuery client sends ``{"H","M","A","I","S"}``; the hub (``H``) and method (``M``) are looked up
case-insensitively among the app's registered hubs, the method runs in its own greenlet like a
Core invocation, and the caller gets a bare ``HubResponse`` ``{"I","R"}`` or ``{"I","E"[,"H"]}``.

Errors follow classic ASP.NET SignalR: a :class:`~flask_azure_signalr.exceptions.HubException`
reaches the client as is (``H: true``); any other failure reads "There was an error invoking Hub
method 'hub.Method'." unless detailed errors are on. Where the C# SDK stays silent (unknown hub,
malformed invocation) the client gets an error result too, so its promise does not hang.
Classic clients cannot stream: streaming methods are refused with an error result.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

import gevent

from ..exceptions import ClassicProtocolError, HubException
from ..hub import HubMethod
from ..protocol.classic import (
    HubInvocation,
    HubResponse,
    hub_method_error,
    hub_not_found,
    method_not_found,
    parse_invocation,
    salvage_invocation_id,
)

if TYPE_CHECKING:
    from .classic_client import ClassicClient
    from .hub_host import HubHost

__all__ = ["ClassicDispatcher"]

logger = logging.getLogger("flask_azure_signalr.runtime.classic_dispatch")


class ClassicDispatcher:
    """Runs hub methods for classic clients; ``hosts`` maps lower-cased hub names to hubs."""

    def __init__(self, hosts: Mapping[str, HubHost], *, detailed_errors: bool) -> None:
        self.hosts = hosts
        self.detailed = detailed_errors

    def invoke(self, client: ClassicClient, payload: bytes) -> None:
        """Check one invocation in arrival order, then run it in a greenlet of its own."""
        try:
            call = parse_invocation(payload)
        except ClassicProtocolError as error:
            invocation_id = salvage_invocation_id(payload)
            logger.debug("%r sent an invalid hub invocation: %s", client, error)
            if invocation_id is not None:
                client.reply(HubResponse(invocation_id, error=f"Invalid hub invocation: {error}"))
            return
        host = self.hosts.get(call.hub_key)
        if host is None:
            self._reject(client, call, hub_not_found(call.hub))
            return
        method = host.methods.get(call.method_key)
        if method is None:
            self._reject(client, call, self._text(call, method_not_found(call.method)))
            return
        if method.is_streaming or method.stream_count:
            self._reject(
                client, call, f"'{method.name}' streams; classic ASP.NET SignalR clients cannot call streaming methods."
            )
            return
        if not method.accepts(len(call.arguments)):
            detail = (
                f"'{call.method}' method could not be resolved. Potential candidates are: \n"
                f"{method.name}({method.parameter_count} parameter(s))"
            )
            self._reject(client, call, self._text(call, detail))
            return
        gevent.spawn(self._call, client, host, method, call)

    def _text(self, call: HubInvocation, detail: str) -> str:
        return detail if self.detailed else hub_method_error(call.hub, call.method)

    @staticmethod
    def _reject(client: ClassicClient, call: HubInvocation, error: str) -> None:
        if call.invocation_id is not None:
            client.reply(HubResponse(call.invocation_id, error=error))

    def _call(self, client: ClassicClient, host: HubHost, method: HubMethod, call: HubInvocation) -> None:
        hub = host.create_hub(client)
        try:
            result = method.function(hub, *call.arguments)
        except HubException as error:
            logger.debug("hub method %s.%s raised HubException: %s", host.name, method.name, error)
            response = HubResponse(call.invocation_id or "", error=str(error), hub_exception=True)
        except Exception as error:
            logger.error("hub method %s.%s failed", host.name, method.name, exc_info=error)
            response = HubResponse(call.invocation_id or "", error=self._text(call, str(error)))
        else:
            response = HubResponse(call.invocation_id or "", result=result)
        if call.invocation_id is None:
            return
        try:
            client.reply(response)
        except ClassicProtocolError as error:
            logger.error("the result of %s.%s is not JSON", host.name, method.name, exc_info=error)
            client.reply(HubResponse(call.invocation_id, error=self._text(call, str(error))))
