"""The Long Polling client transport (hub-protocol §1.7); client data comes by POST (§1.8).

- The first poll is answered at once with 200 and no body; it starts the connection.
- Later polls are held until data is queued, then answered with everything queued (several hub
  messages possibly); after ``poll_timeout`` with nothing, 200 with no body.
- 204 means "finished": the connection ended, a DELETE arrived, or a newer poll displaced this one.
- Between polls the client must come back within the max poll interval (claim ``asrs.s.ttl``,
  else ``max_poll_interval``), or the connection is dropped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import gevent

from ..protocol.hub_protocol import BINARY, TEXT
from .client_connections import ClientConnection, ClientTransport

if TYPE_CHECKING:
    from .context import EmulatorContext
    from .http import Request

__all__ = ["POLL_HEADERS", "LongPollingClient"]

#: Added to every poll response, as the .NET server does (§1.7).
POLL_HEADERS = [
    ("Cache-Control", "no-cache, no-store"),
    ("Pragma", "no-cache"),
    ("Expires", "Thu, 01 Jan 1970 00:00:00 GMT"),
]


class LongPollingClient(ClientTransport):
    KIND: ClassVar[str] = "LongPolling"
    FORMATS: ClassVar[frozenset[str]] = frozenset({TEXT, BINARY})

    def __init__(self, connection: ClientConnection, context: EmulatorContext, request: Request) -> None:
        super().__init__(connection, context, request)
        self._polls = 0
        self._polling = False
        self._interval = connection.max_poll_interval or context.options.max_poll_interval

    def _encode(self, data: bytes) -> bytes:
        return data

    def poll(self) -> tuple[int, bytes]:
        """Answer one poll: ``(status, body)``."""
        self._polls += 1
        number = self._polls
        if number == 1:
            self._expect_poll(number)
            return 200, b""
        if self._polling:
            self._wakeup.set()
            gevent.sleep(0)
        self._polling = True
        try:
            if self.finished:
                return 204, b""
            self.wait(self.context.options.poll_timeout)
            if number != self._polls:
                return 204, b""
            frames = self.take()
            if frames:
                return 200, b"".join(frames)
            if self.drained:
                self.end()
                return 204, b""
            return 200, b""
        finally:
            if number == self._polls:
                self._polling = False
                self._expect_poll(number)

    def delete(self) -> None:
        """DELETE: the client is done (§1.7); a held poll completes with 204."""
        self.end()

    def _expect_poll(self, number: int) -> None:
        self.context.spawn_later(self._interval, self._check_poll, number)

    def _check_poll(self, number: int) -> Any:
        if number == self._polls and not self._polling and not self.finished:
            self.end()
