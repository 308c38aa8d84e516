"""The Server-Sent Events client transport (hub-protocol §1.6); client data comes by POST (§1.8).

The response is a stream: the comment line ``:`` first (so EventSource fires ``open``), then one
``data:`` event per queued payload, and a comment line as keep-alive when idle. Text only.
The client ends SSE by closing the request; a watcher reading the request socket notices that at
once instead of at the next write.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, ClassVar

from ..protocol.hub_protocol import TEXT
from .client_connections import ClientTransport
from .http import watch_disconnect

if TYPE_CHECKING:
    from .context import EmulatorContext
    from .http import Request

__all__ = ["SSE_HEADERS", "ServerSentEventsClient", "format_event"]

SSE_HEADERS = [
    ("Content-Type", "text/event-stream"),
    ("Cache-Control", "no-cache"),
    ("Content-Encoding", "identity"),
    ("X-Accel-Buffering", "no"),
    ("Connection", "close"),
]

_COMMENT = b":\r\n"


def format_event(data: bytes) -> bytes:
    """One event: each payload line as ``data: <line>`` CRLF (a CR before an LF dropped), then CRLF."""
    lines = data.split(b"\n")
    for index in range(len(lines) - 1):
        if lines[index].endswith(b"\r"):
            lines[index] = lines[index][:-1]
    return b"".join(b"data: " + line + b"\r\n" for line in lines) + b"\r\n"


class ServerSentEventsClient(ClientTransport):
    KIND: ClassVar[str] = "ServerSentEvents"
    FORMATS: ClassVar[frozenset[str]] = frozenset({TEXT})

    def __init__(self, connection: Any, context: EmulatorContext, request: Request) -> None:
        super().__init__(connection, context, request)
        self._environ = request.environ

    def _encode(self, data: bytes) -> bytes:
        return format_event(data)

    def stream(self) -> Iterator[bytes]:
        """The response body; ends when either side closes."""
        watcher = watch_disconnect(self._environ, self.context.spawn, self.end)
        interval = self.context.options.client_keepalive_interval
        try:
            yield _COMMENT
            while not self.finished:
                self.wait(interval)
                frames = self.take()
                if frames:
                    yield b"".join(frames)
                if self.drained:
                    return
                if not frames and not self.finished:
                    yield _COMMENT
        finally:
            if watcher is not None:
                watcher.kill(block=False)
            self.end()
