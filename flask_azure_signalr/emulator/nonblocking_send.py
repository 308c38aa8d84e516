"""Writing a prepared WebSocket frame without blocking the greenlet that produced it.

The emulator fans messages out from the greenlet that read them. Handing every frame to a writer
greenlet per connection costs a wake-up, a switch and a timer per message (37-45% of the
emulator's CPU on a broadcast, ``docs/benchmarks.md``); most of the time the kernel takes the frame
at once, so :func:`send_now` tries that first, and only what it leaves needs a greenlet that may
block (:func:`send_rest`).

:class:`~flask_azure_signalr.websocket.WebSocket` has no non-blocking send, so this uses two of its
internals: the socket, and the send lock that keeps a frame whole against the reader's Pong and
Close frames. The lock stays held from a partial :func:`send_now` until :func:`send_rest`.
"""

from __future__ import annotations

from ..websocket import WebSocket

__all__ = ["send_now", "send_rest"]

_ALL_SENT = memoryview(b"")


def send_now(ws: WebSocket, frame: bytes) -> memoryview | None:
    """Write what the socket takes of ``frame`` at once.

    Returns ``None`` when another greenlet holds the send lock (nothing was sent), an empty view
    when the frame went out whole (or was dropped: the connection is closed or failed and was
    aborted, as :meth:`WebSocket.send` drops it), else the unsent rest, with the send lock still
    held for :func:`send_rest`.
    """
    if ws.closed:
        return _ALL_SENT
    lock = ws._send_lock
    if not lock.acquire(blocking=False):
        return None
    try:
        sent = ws._sock.send(frame, 0, 0.0)
    except BlockingIOError:
        sent = 0
    except OSError:
        lock.release()
        ws._abort()
        return _ALL_SENT
    if sent == len(frame):
        lock.release()
        return _ALL_SENT
    return memoryview(frame)[sent:]


def send_rest(ws: WebSocket, rest: memoryview) -> None:
    """Finish a frame :func:`send_now` left partly sent (may block, up to the send timeout)."""
    try:
        ws._write(rest)
    finally:
        ws._send_lock.release()
