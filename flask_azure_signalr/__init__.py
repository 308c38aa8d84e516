"""flask-azure-signalr: SignalR hub servers in Flask, on Azure SignalR Service or a local emulator.

The public names are loaded on first use (PEP 562), so ``python -m flask_azure_signalr.emulator``
can monkey-patch with gevent before Flask, ssl or PyJWT are imported.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .exceptions import (
    AccessTokenError,
    AckTimeoutError,
    ConfigurationError,
    ConnectionStringError,
    HubException,
    InvocationError,
    NegotiateError,
    ProtocolError,
    ServiceConnectionError,
    SignalRError,
)

__version__ = "0.1.0"

_LAZY = {
    "FlaskAzureSignalR": "extension",
    "Hub": "hub",
    "HubCallerContext": "hub",
    "hub_method": "hub",
    "HubContext": "hub_context",
    "HubClients": "clients",
    "GroupManager": "groups",
    "ServiceOptions": "options",
    "ServerStickyMode": "options",
    "GracefulShutdownMode": "options",
    "ServiceEndpoint": "endpoints",
    "EndpointType": "endpoints",
    "EndpointRouter": "endpoints",
    "SignalRTestClient": "testing",
}

__all__ = [
    "AccessTokenError",
    "AckTimeoutError",
    "ConfigurationError",
    "ConnectionStringError",
    "EndpointRouter",
    "EndpointType",
    "FlaskAzureSignalR",
    "GracefulShutdownMode",
    "GroupManager",
    "Hub",
    "HubCallerContext",
    "HubClients",
    "HubContext",
    "HubException",
    "InvocationError",
    "NegotiateError",
    "ProtocolError",
    "ServerStickyMode",
    "ServiceConnectionError",
    "ServiceEndpoint",
    "ServiceOptions",
    "SignalRError",
    "SignalRTestClient",
    "hub_method",
    "__version__",
]

if TYPE_CHECKING:
    from .clients import HubClients
    from .endpoints import EndpointRouter, EndpointType, ServiceEndpoint
    from .extension import FlaskAzureSignalR
    from .groups import GroupManager
    from .hub import Hub, HubCallerContext, hub_method
    from .hub_context import HubContext
    from .options import GracefulShutdownMode, ServerStickyMode, ServiceOptions
    from .testing import SignalRTestClient


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
