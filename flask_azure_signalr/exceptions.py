"""The exceptions of flask-azure-signalr, drawn once here.

::

    SignalRError
    ├── ProtocolError                 bad bytes on a wire; only these leave a decoder
    │   ├── ServiceProtocolError      Azure service protocol (app server <-> service)
    │   ├── HubProtocolError          ASP.NET Core hub protocols and handshake (JSON, MessagePack)
    │   └── ClassicProtocolError      classic ASP.NET SignalR 2.x messages
    ├── ConfigurationError            an option or connection string is invalid (raised at init_app)
    │   └── ConnectionStringError
    ├── AccessTokenError              a token could not be built (e.g. over the 4 KB limit)
    ├── HubException                  raised by hub code; its message reaches the client
    ├── WebSocketHandshakeError       a WebSocket upgrade was answered with a status other than 101
    ├── NegotiateError                a negotiate request was refused (the test client)
    └── ServiceConnectionError        no usable server connection, acks failed or timed out
        ├── AckTimeoutError
        └── InvocationError           a client result failed (error, timeout, disconnect)

Secrets (access keys, tokens) are never part of a message.
"""

from __future__ import annotations

__all__ = [
    "SignalRError",
    "ProtocolError",
    "ServiceProtocolError",
    "HubProtocolError",
    "ClassicProtocolError",
    "ConfigurationError",
    "ConnectionStringError",
    "AccessTokenError",
    "HubException",
    "WebSocketHandshakeError",
    "NegotiateError",
    "ServiceConnectionError",
    "AckTimeoutError",
    "InvocationError",
]


class SignalRError(Exception):
    """Base class of every error this package raises on purpose."""


class ProtocolError(SignalRError):
    """Malformed or unsupported bytes. Decoders raise nothing else on bad input."""


class ServiceProtocolError(ProtocolError):
    """The Azure SignalR service protocol (MessagePack frames between app server and service)."""


class HubProtocolError(ProtocolError):
    """The ASP.NET Core SignalR hub protocols (JSON, MessagePack) and their handshake."""


class ClassicProtocolError(ProtocolError):
    """The classic ASP.NET SignalR 2.x JSON messages."""


class ConfigurationError(SignalRError, ValueError):
    """An option has an invalid value; the message names the option and what is allowed."""


class ConnectionStringError(ConfigurationError):
    """A connection string does not follow the grammar; messages match the C# SDK's."""


class AccessTokenError(SignalRError):
    """An access token could not be issued."""


class HubException(SignalRError):
    """Raise from a hub method to send the message to the caller, as in ASP.NET Core."""


class WebSocketHandshakeError(SignalRError, ConnectionError):
    """A server answered a WebSocket upgrade with another status than 101 (e.g. 401 with a reason).

    ``status_code``, ``headers`` (``(lower-case name, value)`` strings) and ``body`` (bytes, at most 64 KiB) are kept
    so that callers can report or act on the service's answer; it is a ``ConnectionError`` so that retry
    loops catching ``OSError`` see it too.
    """

    def __init__(self, status_code: int, body: bytes = b"", headers: list[tuple[str, str]] | None = None) -> None:
        self.status_code = status_code
        self.body = body
        self.headers = headers or []
        text = body.decode("utf-8", "replace").strip()
        super().__init__(f"WebSocket upgrade rejected with HTTP {status_code}" + (f": {text[:200]}" if text else ""))


class NegotiateError(SignalRError, ConnectionError):
    """The app's or the service's negotiate answered with an error; ``status_code`` and ``body`` say why."""

    def __init__(self, status_code: int, body: str = "") -> None:
        self.status_code = status_code
        self.body = body
        super().__init__(f"negotiate failed with HTTP {status_code}" + (f": {body[:200]}" if body else ""))


class ServiceConnectionError(SignalRError):
    """A message could not be handed to the service."""


class AckTimeoutError(ServiceConnectionError, TimeoutError):
    """The service did not acknowledge a group or connection operation in time."""


class InvocationError(ServiceConnectionError):
    """A client result could not be obtained."""
