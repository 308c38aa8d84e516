"""flask-azure-signalr: SignalR hub servers in Flask, on Azure SignalR Service or a local emulator."""

from __future__ import annotations

from .exceptions import HubException, ProtocolError, SignalRError

__version__ = "0.1.0"

__all__ = ["HubException", "ProtocolError", "SignalRError", "__version__"]
