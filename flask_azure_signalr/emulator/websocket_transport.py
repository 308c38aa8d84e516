"""The WebSockets client transport (hub-protocol §1.5).

The request greenlet reads. Writing needs no greenlet of its own: a frame queued for an idle
client goes to the socket at once, from the greenlet that queued it (the router's fan-out), in a
non-blocking send. Only when the kernel does not take all of it does a writer greenlet start; it
finishes that frame, sends whatever piled up meanwhile (several frames in one write) and ends when
the queue is empty. While it works, the queue keeps its byte limit, so a client that does not read
is still dropped (close 1008) instead of stalling the fan-out. One greenlet per emulator pings
(an empty ping frame) every client that had nothing for ``client_keepalive_interval``.

Frames are text for JSON, binary for MessagePack (§1.5); what the client sends may come in either
frame type and is forwarded as bytes.

Why not one writer greenlet per client, waiting on an event: on a broadcast that greenlet's
wake-up, switch and timer were 37-45% of the emulator's CPU, and its saved stack about 20 KB per
client (``docs/benchmarks.md``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import gevent

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
#: Keep-alive sweeps per interval; a client is pinged after this many sweeps without a frame,
#: so after 1 to 1.5 intervals of silence.
_SWEEPS_PER_INTERVAL = 2


class WebSocketClient(ClientTransport):
    KIND: ClassVar[str] = "WebSockets"
    FORMATS: ClassVar[frozenset[str]] = frozenset({TEXT, BINARY})

    def __init__(self, connection: ClientConnection, context: EmulatorContext, request: Request, ws: WebSocket) -> None:
        super().__init__(connection, context, request)
        self.ws = ws
        self._writer: gevent.Greenlet | None = None
        self._idle_sweeps = 0

    def _encode(self, data: bytes) -> bytes:
        if self.is_text:
            return WebSocket.prepare(data.decode("utf-8", "replace"))
        return WebSocket.prepare(data)

    def run(self) -> None:
        """Read until the client or the service ends the connection."""
        context = self.context
        context.websocket_clients.add(self)
        if context.websocket_keepalive is None:
            context.websocket_keepalive = context.spawn(_keep_alive, context)
        ws = self.ws
        try:
            while not self.finished:
                data = ws.receive()
                if data is None:
                    break
                self.receive(data)
        finally:
            context.websocket_clients.discard(self)
            self.end()
            writer = self._writer
            if not context.stopping:
                if writer is not None:
                    writer.join(context.options.client_keepalive_interval)
                    writer.kill(block=False)
                if not ws.closed:
                    ws.close(1000)

    # --------------------------------------------------------------------------- writing

    def _wake(self) -> None:
        """Send what is queued now if the socket takes it, else leave it to a writer greenlet."""
        if self._writer is not None or self.context.stopping:
            return  # the writer sends the queue before it ends; a stopping emulator sends nothing
        ws = self.ws
        if self._queue and not ws.closed:
            frames = self.take()
            data = frames[0] if len(frames) == 1 else b"".join(frames)
            rest = ws.try_send_prepared(data)
            self._idle_sweeps = 0
            if rest is None:
                self._queue.appendleft(data)
                self._queued += len(data)
                self._start_writer(None)
                return
            if rest:
                self._start_writer(rest)
                return
        if (self.finished or self._closing) and not ws.closed:
            self._start_writer(None)

    def _start_writer(self, rest: memoryview | None) -> None:
        self._writer = self.context.spawn(self._write_loop, rest)

    def _write_loop(self, rest: memoryview | None) -> None:
        """Finish a partly sent frame (its send lock held), send the queue, then close if due."""
        ws = self.ws
        try:
            if rest is not None:
                ws.finish_send(rest)
            while not ws.closed:
                frames = self.take()
                if not frames:
                    break
                ws.send_prepared(frames[0] if len(frames) == 1 else b"".join(frames))
                self._idle_sweeps = 0
            if self.finished:
                if not ws.closed:
                    ws.close(_SLOW_CLIENT if self.dropped else 1000)
            elif self.drained and not ws.closed:
                ws.close(1000)
        finally:
            self._writer = None

    def _ping_if_idle(self) -> None:
        self._idle_sweeps += 1
        if self._idle_sweeps >= _SWEEPS_PER_INTERVAL and not self.finished and not self._closing:
            self._idle_sweeps = 0
            self._enqueue(_PING_FRAME)


def _keep_alive(context: EmulatorContext) -> None:
    """Ping the WebSocket clients that were sent nothing lately (one greenlet per emulator)."""
    period = context.options.client_keepalive_interval / _SWEEPS_PER_INTERVAL
    while True:
        gevent.sleep(period)
        for client in list(context.websocket_clients):
            client._ping_if_idle()
