"""``POST /client/negotiate?hub=``: create a client connection (hub-protocol §1.2).

Versions 0 and 1 (auth-negotiate-options §3.1); the token comes from the Authorization header or
``access_token`` and must be a client token for this hub. Errors about the version are answered
with 200 and ``{"error": ...}``, as the .NET server does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .client_connections import TRANSPORT_BITS, ClientConnection

if TYPE_CHECKING:
    from .auth import VerifiedToken
    from .context import EmulatorContext

__all__ = ["negotiate", "negotiate_version"]

_FORMATS = {
    "WebSockets": ["Text", "Binary"],
    "ServerSentEvents": ["Text"],
    "LongPolling": ["Text", "Binary"],
}
_MAX_VERSION = 1


def negotiate_version(value: str | None) -> int | str:
    """The version to answer with, or the error text (§1.2 table)."""
    if value is None:
        return 0
    try:
        version = int(value)
    except ValueError:
        return "The client requested a non-integer protocol version."
    if version < 0:
        return f"The client requested version '{version}', but the server does not support this version."
    return min(version, _MAX_VERSION)


def negotiate(context: EmulatorContext, hub: str, token: VerifiedToken, requested: str | None) -> dict[str, Any]:
    """The negotiate response body; registers the new connection."""
    version = negotiate_version(requested)
    if isinstance(version, str):
        return {"error": version}
    connection = ClientConnection(hub, token, version)
    context.registry.add(connection)
    context.spawn_later(context.options.negotiate_timeout, context.registry.reap_if_unused, connection)
    body: dict[str, Any] = {"connectionId": connection.connection_id}
    if version >= 1:
        body["connectionToken"] = connection.key
    body["negotiateVersion"] = version
    body["availableTransports"] = [
        {"transport": name, "transferFormats": formats}
        for name, formats in _FORMATS.items()
        if connection.transport_mask & TRANSPORT_BITS[name]
    ]
    return body
