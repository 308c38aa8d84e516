"""The WebSockets client transport (hub-protocol §1.5).

The request greenlet reads; a writer greenlet sends queued frames (several whole frames in one
socket write when they piled up) and a ping frame when the client has had nothing for
``client_keepalive_interval``. Frames are text for JSON, binary for MessagePack (§1.5); what the
client sends may come in either frame type and is forwarded as bytes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from ..protocol.hub_protocol import BINARY, TEXT
from ..websocket import WebSocket
from .client_connections import ClientConnection, ClientTransport

if TYPE_CHECKING:
    from .context import EmulatorContext
    from .http import Request

__all__ = ["WebSocketClient"]

#: An unmasked server Ping frame with no payload (RFC 6455 §5.5.2): the transport keep-alive.
_PING_FRAME = b"\x89\x00"
#: Close code for a client dropped because it did not read (RFC 6455 §7.4.1: policy violation).
_SLOW_CLIENT = 1008


class WebSocketClient(ClientTransport):
    KIND: ClassVar[str] = "WebSockets"
    FORMATS: ClassVar[frozenset[str]] = frozenset({TEXT, BINARY})

    def __init__(self, connection: ClientConnection, context: EmulatorContext, request: Request, ws: WebSocket) -> None:
        super().__init__(connection, context, request)
        self.ws = ws

    def _encode(self, data: bytes) -> bytes:
        if self.is_text:
            return WebSocket.prepare(data.decode("utf-8", "replace"))
        return WebSocket.prepare(data)

    def run(self) -> None:
        """Read until the client or the service ends the connection."""
        writer = self.context.spawn(self._write_loop)
        ws = self.ws
        try:
            while not self.finished:
                data = ws.receive()
                if data is None:
                    break
                self.receive(data)
        finally:
            self.end()
            if not self.context.stopping:
                writer.join(self.context.options.client_keepalive_interval)
                writer.kill(block=False)
                if not ws.closed:
                    ws.close(1000)

    def _write_loop(self) -> None:
        ws = self.ws
        interval = self.context.options.client_keepalive_interval
        while True:
            self.wait(interval)
            frames = self.take()
            if frames:
                ws.send_prepared(frames[0] if len(frames) == 1 else b"".join(frames))
            if self.finished:
                if not ws.closed:
                    ws.close(_SLOW_CLIENT if self.dropped else 1000)
                return
            if self.drained:
                ws.close(1000)
                return
            if ws.closed:
                return
            if not frames:
                ws.send_prepared(_PING_FRAME)
