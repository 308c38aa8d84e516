"""What one running emulator shares between its endpoints: options, key, router, connections, greenlets."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gevent import Greenlet
from gevent.pool import Group

from .classic_connections import ClassicRegistry
from .classic_router import ClassicRouter
from .options import EmulatorOptions
from .router import Router

if TYPE_CHECKING:
    from .client_connections import ConnectionRegistry

__all__ = ["EmulatorContext"]

log = logging.getLogger("flask_azure_signalr.emulator.context")


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

    def spawn(self, function: Callable[..., Any], *args: Any) -> Greenlet:
        """Run ``function`` in a greenlet that :meth:`kill_all` ends when the emulator stops."""
        return self.greenlets.spawn(function, *args)

    def spawn_later(self, seconds: float, function: Callable[..., Any], *args: Any) -> Greenlet:
        """Run ``function`` after ``seconds`` (a timer the emulator's stop cancels)."""
        greenlet = Greenlet(function, *args)
        self.greenlets.add(greenlet)
        greenlet.start_later(seconds)
        return greenlet

    def kill_all(self) -> None:
        self.greenlets.kill(block=False)
