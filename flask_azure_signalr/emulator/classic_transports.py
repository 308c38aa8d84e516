"""The three classic transports between the emulator and a jQuery client (aspnet-classic §1.5-§1.10).

Each moves the queued JSON texts of a :class:`~.classic_connections.ClassicConnection` to the
client in its own framing:

- WebSockets: one text frame per message; ``{}`` when idle for the keep-alive interval;
- Server-Sent Events: ``data: initialized`` first, then one ``data: <json>`` event per message,
  ``data: {}`` as keep-alive;
- long polling: one JSON document per poll — queued messages merged into one envelope with a
  fresh cursor ``C``; an idle poll completes with an empty envelope after ``ConnectionTimeout``.

On ``/connect`` the client first gets the init message ``{"C":…,"S":1,"M":[]}``; on
``/reconnect`` it does not. When the service ends the client the transport sends ``{"E": …}`` and
stops, which makes the jQuery client stop without reconnecting.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from gevent.event import Event

from ..exceptions import ClassicProtocolError
from ..protocol.classic import (
    SSE_INITIALIZED,
    HubProgress,
    HubResponse,
    PersistentResponse,
    ServerError,
    encode,
    parse_server_message,
)
from ..websocket import WebSocket
from .classic_connections import ClassicConnection, ClassicTransport
from .http import watch_disconnect

if TYPE_CHECKING:
    from .context import EmulatorContext
    from .http import Request

__all__ = ["ClassicLongPolling", "ClassicServerSentEvents", "ClassicWebSocket", "merge_messages"]

log = logging.getLogger("flask_azure_signalr.emulator.classic_transports")

_KEEP_ALIVE = "{}"
#: Close code when the emulator drops a client on purpose (RFC 6455 §7.4.1: unexpected condition).
_DROPPED = 1011


def merge_messages(cursor: str, messages: list[bytes], *, reconnect: bool = False) -> str:
    """One long-poll body for any number of app messages: a single envelope (§1.8, §1.9).

    Envelope items are concatenated and bare hub results become items (the jQuery client takes
    them there too); keep-alives vanish. A message that does not parse is logged and skipped.
    """
    items: list[Any] = []
    for text in messages:
        try:
            message = parse_server_message(text)
        except ClassicProtocolError as error:
            log.warning("dropping an app message a classic client could not read: %s", error)
            continue
        if isinstance(message, PersistentResponse):
            items.extend(message.messages)
        elif isinstance(message, (HubResponse, HubProgress)):
            items.append(message)
    return encode(PersistentResponse(message_id=cursor, messages=tuple(items), reconnect=reconnect))


def _error_text(connection: ClassicConnection) -> str:
    return encode(ServerError(connection.error or ""))


class ClassicWebSocket(ClassicTransport):
    NAME = "webSockets"

    def __init__(self, connection: ClassicConnection, context: EmulatorContext, ws: WebSocket) -> None:
        self.connection = connection
        self.context = context
        self.ws = ws
        self._wakeup = Event()
        self._detached = False
        self._dropped = False

    def wake(self) -> None:
        self._wakeup.set()

    def detach(self) -> None:
        self._detached = True
        self._wakeup.set()

    def drop(self) -> None:
        self._dropped = True
        self._wakeup.set()

    def run(self, init: str | None) -> None:
        """Read client frames until either side ends the socket; ``init`` goes out first."""
        writer = self.context.spawn(self._write_loop, init)
        ws = self.ws
        try:
            while not self._detached:
                data = ws.receive()
                if data is None:
                    break
                self.connection.receive(data.encode("utf-8") if isinstance(data, str) else data)
        finally:
            self.connection.transport_ended(self)
            self._detached = True
            self._wakeup.set()
            if not self.context.stopping:
                writer.join(self.context.options.classic_keepalive_interval)
                writer.kill(block=False)
                if not ws.closed:
                    ws.close(1000)

    def _write_loop(self, init: str | None) -> None:
        connection, ws = self.connection, self.ws
        interval = self.context.options.classic_keepalive_interval
        if init is not None:
            ws.send(init)
        while not ws.closed:
            self._wakeup.clear()
            if self._dropped:
                ws.close(_DROPPED, "Dropped by the emulator.")
                return
            if self._detached:
                break
            messages = connection.take()
            for message in messages:
                ws.send(message.decode("utf-8", "replace"))
            if connection.error is not None:
                ws.send(_error_text(connection))
                connection.finish()
                break
            if not messages and not self._wakeup.wait(interval):
                ws.send(_KEEP_ALIVE)
        if not ws.closed:
            ws.close(1000)


def _event(text: str) -> bytes:
    return f"data: {text}\n\n".encode("utf-8")


class ClassicServerSentEvents(ClassicTransport):
    NAME = "serverSentEvents"

    def __init__(self, connection: ClassicConnection, context: EmulatorContext, request: Request) -> None:
        self.connection = connection
        self.context = context
        self._environ = request.environ
        self._wakeup = Event()
        self._ended = False

    def wake(self) -> None:
        self._wakeup.set()

    def detach(self) -> None:
        self._ended = True
        self._wakeup.set()

    drop = detach

    def stream(self, init: str | None) -> Iterator[bytes]:
        """The response body; ends when the client leaves, the service closes or drops it."""
        connection = self.connection
        watcher = watch_disconnect(self._environ, self.context.spawn, self.detach)
        interval = self.context.options.classic_keepalive_interval
        try:
            yield _event(SSE_INITIALIZED) + (_event(init) if init is not None else b"")
            while True:
                self._wakeup.clear()
                if self._ended:
                    return
                messages = connection.take()
                if messages:
                    yield b"".join(_event(m.decode("utf-8", "replace")) for m in messages)
                if connection.error is not None:
                    yield _event(_error_text(connection))
                    connection.finish()
                    return
                if not messages and not self._wakeup.wait(interval):
                    yield _event(_KEEP_ALIVE)
        finally:
            if watcher is not None:
                watcher.kill(block=False)
            self.connection.transport_ended(self)


class ClassicLongPolling(ClassicTransport):
    """Long polling: one object per connection, serving its polls one after the other."""

    NAME = "longPolling"

    def __init__(self, connection: ClassicConnection, context: EmulatorContext) -> None:
        self.connection = connection
        self.context = context
        self._wakeup = Event()
        self._polls = 0
        self._holding = False
        self._detached = False
        self._dropped = False

    def wake(self) -> None:
        self._wakeup.set()

    def detach(self) -> None:
        self._detached = True
        self._wakeup.set()

    def drop(self) -> None:
        """The held (or next) poll asks the client to reconnect (``T``, §1.8)."""
        self._dropped = True
        self._wakeup.set()

    def connected(self) -> str:
        """The ``/connect`` body: the init message, with the cursor the next poll must carry."""
        self._expect_poll(self._polls)
        return encode(PersistentResponse(message_id=self.connection.next_cursor(), initialized=True))

    def poll(self) -> str:
        """Hold one ``/poll`` (or ``/reconnect``) until there is something to say (§1.9)."""
        connection = self.connection
        self._polls += 1
        number = self._polls
        if self._holding:
            self._wakeup.set()
        self._holding = True
        deadline = time.monotonic() + self.context.options.classic_poll_timeout
        try:
            while True:
                self._wakeup.clear()
                if number != self._polls or self._detached:
                    return merge_messages(connection.next_cursor(), [])
                messages = connection.take()
                if messages:
                    return merge_messages(connection.next_cursor(), messages)
                if connection.error is not None:
                    text = _error_text(connection)
                    connection.finish()
                    return text
                if self._dropped:
                    self._dropped = False
                    return merge_messages(connection.next_cursor(), [], reconnect=True)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return merge_messages(connection.next_cursor(), [])
                self._wakeup.wait(remaining)
        finally:
            if number == self._polls:
                self._holding = False
                self._expect_poll(number)

    def _expect_poll(self, number: int) -> None:
        """MaxPollInterval (§1.9): without a new poll in time the client is gone."""
        self.context.spawn_later(self.connection.max_poll_interval, self._check_poll, number)

    def _check_poll(self, number: int) -> None:
        connection = self.connection
        if number == self._polls and not self._holding and not connection.closed:
            log.info("classic client %s did not poll again within %g s", connection.connection_id,
                     connection.max_poll_interval)
            connection.end()
