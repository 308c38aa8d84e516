"""The emulator's timings and limits, each declared once with its default and its source."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MAX_HTTP_BODY", "EmulatorOptions"]

#: Client messages over Server-Sent Events and Long Polling are capped at 1 MB
#: (rest-api-and-emulator §4.2).
MAX_HTTP_BODY = 1024 * 1024


@dataclass(frozen=True, slots=True)
class EmulatorOptions:
    """Timings in seconds, sizes in bytes. The defaults are the service's."""

    #: The service pings every server connection this often (service-protocol §5.1: "5 s").
    server_ping_interval: float = 5.0
    #: A server connection that sent nothing for this long is dropped (service-protocol §5.1).
    server_timeout: float = 30.0
    #: A server connection must send its HandshakeRequest within this (service-protocol §4.4).
    server_handshake_timeout: float = 15.0
    #: Transport-level keep-alive to clients: WebSocket ping frames, SSE comment lines
    #: (rest-api-and-emulator §4.5: 15 s).
    client_keepalive_interval: float = 15.0
    #: A client must complete its hub handshake within this; ``asrs.s.cht`` may set 1-30 s
    #: (hub-protocol §2.8).
    client_handshake_timeout: float = 15.0
    #: A negotiated connection no transport picked up is dropped after this (hub-protocol §1.2).
    negotiate_timeout: float = 15.0
    #: A held long poll is answered empty after this (hub-protocol §1.7: 90 s).
    poll_timeout: float = 90.0
    #: Without the ``asrs.s.ttl`` claim a long-polling client must poll again within this
    #: (auth-negotiate-options Appendix B: service default 5 s).
    max_poll_interval: float = 5.0
    #: Bytes queued for one client before it is dropped as too slow.
    client_buffer_limit: int = 16 * 1024 * 1024
    #: Bytes queued for one server connection before it is dropped as too slow.
    server_buffer_limit: int = 64 * 1024 * 1024
    #: Largest SSE/Long Polling POST body (rest-api-and-emulator §4.2).
    max_http_body: int = MAX_HTTP_BODY
    #: Largest WebSocket message accepted from a client or a server (bytes).
    max_websocket_message: int = 16 * 1024 * 1024
    #: Classic clients get ``{}`` this often when idle on WebSockets/SSE; negotiate announces
    #: twice this as ``KeepAliveTimeout`` (aspnet-classic §5.1: 10 s).
    classic_keepalive_interval: float = 10.0
    #: A classic connection whose WebSocket/SSE transport ended waits this long for
    #: ``/reconnect`` before the app hears it closed (``DisconnectTimeout``, §5.1: 30 s).
    classic_disconnect_timeout: float = 30.0
    #: A held classic long poll is completed empty after this (``ConnectionTimeout``, §5.1: 110 s).
    classic_poll_timeout: float = 110.0
