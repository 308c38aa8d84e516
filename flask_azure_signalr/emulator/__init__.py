"""A local Azure SignalR Service in default mode: app servers attach, clients connect through it.

Microsoft's emulator serves only serverless mode; this one speaks the server side of the service
protocol, so hubs run against it as they would against Azure. Start it with
``flask signalr emulator`` or ``python -m flask_azure_signalr.emulator``, or in-process::

    emulator = Emulator(port=0)
    emulator.start()
    print(emulator.connection_string)
    ...
    emulator.stop()

Modules, one concern each: :mod:`.router` (routing state, no IO), :mod:`.server_connections`
(``/server/``), :mod:`.client_connections` (what all client transports share), one module per
transport, :mod:`.negotiate`, :mod:`.auth` (tokens), :mod:`.app` (WSGI routing), :mod:`.server`
(lifecycle). Classic ASP.NET SignalR apps and jQuery clients have their own: :mod:`.classic_app`
(``/aspnetserver/``, ``/aspnetclient/*``), :mod:`.classic_router`, :mod:`.classic_connections`,
:mod:`.classic_transports`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .options import EmulatorOptions
    from .server import DEFAULT_ACCESS_KEY, DEFAULT_PORT, Emulator

__all__ = ["DEFAULT_ACCESS_KEY", "DEFAULT_PORT", "Emulator", "EmulatorOptions"]


def __getattr__(name: str) -> Any:
    # Imported on first use so that ``python -m flask_azure_signalr.emulator`` can monkey-patch
    # before gevent, ssl or PyJWT are loaded.
    if name == "EmulatorOptions":
        from .options import EmulatorOptions

        return EmulatorOptions
    if name in ("Emulator", "DEFAULT_ACCESS_KEY", "DEFAULT_PORT"):
        from . import server

        return getattr(server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
