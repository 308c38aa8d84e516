"""What one running emulator shares between its endpoints: options, key, router, connections, greenlets."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gevent import Greenlet, get_hub
from gevent.pool import Group

from .classic_connections import ClassicRegistry
from .classic_router import ClassicRouter
from .options import EmulatorOptions
from .router import Router

if TYPE_CHECKING:
    from .client_connections import ConnectionRegistry

__all__ = ["EmulatorContext", "Timer"]

log = logging.getLogger("flask_azure_signalr.emulator.context")


class Timer:
    """A pending :meth:`EmulatorContext.spawn_later` call.

    Only a loop timer until it fires: an emulator holds one or two per client (negotiate and
    handshake deadlines), and a greenlet each would cost time at every connect and memory while
    they wait.
    """

    __slots__ = ("_watcher",)

    def __init__(self, watcher: Any) -> None:
        self._watcher = watcher

    def cancel(self) -> None:
        """The call will not happen (no effect once it did)."""
        self._watcher.close()


@dataclass(eq=False)
class EmulatorContext:
    """State of one emulator. Lives in the emulator's gevent hub; nothing here is thread-safe."""

    access_key: str = field(repr=False)
    host: str
    options: EmulatorOptions
    router: Router
    registry: ConnectionRegistry
    greenlets: Group = field(default_factory=Group)
    #: Classic ASP.NET SignalR apps and clients (``/aspnetserver/``, ``/aspnetclient``).
    classic_router: ClassicRouter = field(default_factory=ClassicRouter)
    classic_connections: ClassicRegistry = field(default_factory=ClassicRegistry)
    #: Set while the emulator shuts down: connections end at once, without close handshakes.
    stopping: bool = False
    #: Open WebSocket clients and the one greenlet that pings the idle ones
    #: (:mod:`.websocket_transport`).
    websocket_clients: set[Any] = field(default_factory=set)
    websocket_keepalive: Greenlet | None = None

    def spawn(self, function: Callable[..., Any], *args: Any) -> Greenlet:
        """Run ``function`` in a greenlet that :meth:`kill_all` ends when the emulator stops."""
        return self.greenlets.spawn(function, *args)

    def spawn_later(self, seconds: float, function: Callable[..., Any], *args: Any) -> Timer:
        """Run ``function`` in a greenlet after ``seconds``, unless cancelled or the emulator stopped."""
        watcher = get_hub().loop.timer(seconds, ref=False)
        watcher.start(self._fire, watcher, function, args)
        return Timer(watcher)

    def _fire(self, watcher: Any, function: Callable[..., Any], args: tuple[Any, ...]) -> None:
        # Runs in the hub's own greenlet, which must not block: hand over to a new greenlet.
        watcher.close()
        if not self.stopping:
            self.spawn(function, *args)

    def kill_all(self) -> None:
        self.greenlets.kill(block=False)
