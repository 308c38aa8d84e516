"""The hub protocols this package speaks, by handshake name (hub-protocol §2.1).

``PROTOCOLS`` maps each lower-case name to its shared, stateless protocol object;
:func:`get_protocol` looks a client-supplied name up the way .NET does (ignoring case).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from ..exceptions import HubProtocolError
from .hub_protocol import BINARY, TEXT, HubMessageParser, HubProtocol
from .json_hub import JsonHubProtocol
from .msgpack_hub import MessagePackHubProtocol

__all__ = [
    "BINARY",
    "TEXT",
    "HubMessageParser",
    "HubProtocol",
    "JsonHubProtocol",
    "MessagePackHubProtocol",
    "JSON",
    "MESSAGEPACK",
    "PROTOCOLS",
    "get_protocol",
    "find_protocol",
]

JSON = JsonHubProtocol()
MESSAGEPACK = MessagePackHubProtocol()

PROTOCOLS: Mapping[str, HubProtocol] = MappingProxyType({JSON.name: JSON, MESSAGEPACK.name: MESSAGEPACK})


def find_protocol(name: str, protocols: Mapping[str, HubProtocol] = PROTOCOLS) -> HubProtocol | None:
    """The protocol called ``name`` (any case) among ``protocols``, or None."""
    protocol = protocols.get(name) or protocols.get(name.lower())
    if protocol is not None:
        return protocol
    folded = name.lower()
    for key, candidate in protocols.items():
        if key.lower() == folded:
            return candidate
    return None


def get_protocol(name: str) -> HubProtocol:
    """The built-in protocol called ``name`` (any case); unknown names raise HubProtocolError."""
    protocol = find_protocol(name)
    if protocol is None:
        raise HubProtocolError(f"The protocol '{name}' is not supported.")
    return protocol
