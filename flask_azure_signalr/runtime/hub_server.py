"""``HubServer``: every hub of one app, connected to every endpoint, in one process.

Start it in the process that serves requests (not in Werkzeug's reloader parent: see
:func:`should_connect`), after any fork. ``stop()`` runs the graceful-shutdown sequence of
service-protocol §7.8 when the options ask for one; it is also registered with ``atexit``, and
SIGTERM becomes a normal exit when nothing else handles it.
All public methods may be called from any thread.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import socket
import threading
import uuid
from time import monotonic
from typing import Any, Callable, Mapping

import gevent

from ..endpoints import ServiceEndpoint, merge_endpoints
from ..exceptions import ConfigurationError
from ..hub_context import HubContext
from ..options import GracefulShutdownMode, ServiceOptions
from ..registry import HubRegistration
from .classic_host import ClassicHost
from .client_connection import ClientTimers
from .hub_host import HubHost
from .threading_bridge import RuntimeLoop

__all__ = ["HubServer", "exit_on_sigterm", "should_connect"]

logger = logging.getLogger("flask_azure_signalr.runtime.hub_server")

HEARTBEAT_INTERVAL = 1.0
DEFAULT_ACK_TIMEOUT = 10.0
DISCONNECT_HOOK_TIMEOUT = 30.0


def should_connect() -> bool:
    """False in the parent process of ``flask run``'s reloader, which loads the app but never serves.

    The serving child has ``WERKZEUG_RUN_MAIN=true``. ``flask run`` uses the reloader when debug is
    on (``FLASK_DEBUG``, set by ``--debug``) unless ``--no-reload`` was given, which the app cannot
    see: in that single case this says False in the one process that serves, so a caller should
    then start the server lazily (on the first request) instead of never.
    """
    if os.environ.get("FLASK_RUN_FROM_CLI") != "true" or os.environ.get("WERKZEUG_RUN_MAIN") == "true":
        return True
    debug = os.environ.get("FLASK_DEBUG", "")
    return not (debug and debug.lower() not in ("0", "false", "no"))


def exit_on_sigterm() -> None:
    """Make SIGTERM a normal exit, so that ``atexit`` runs the graceful stop.

    Only where nobody handles SIGTERM yet (gunicorn does; ``flask run`` and plain scripts do not)
    and only from the main thread, where signal handlers can be installed.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return
    signal.signal(signal.SIGTERM, _raise_system_exit)


def _raise_system_exit(signum: int, frame: Any) -> None:
    raise SystemExit(0)


class HubServer:
    """Server connections and hub dispatch for a set of hubs.

    ``hubs`` maps names to registrations (``FlaskAzureSignalR.hubs``). ``endpoints`` defaults to the
    options' connection string and endpoints. The timers are ASP.NET Core's HubOptions
    (``KeepAliveInterval``, ``ClientTimeoutInterval``, ``HandshakeTimeout``) and the SDK's ack
    timeout, in seconds. ``dedicated_thread`` None picks the execution model from the process: the
    current gevent hub when monkey-patched, else a native runtime thread.
    """

    def __init__(
        self,
        options: ServiceOptions,
        hubs: Mapping[str, HubRegistration],
        *,
        server_id: str | None = None,
        endpoints: list[ServiceEndpoint] | None = None,
        ack_timeout: float = DEFAULT_ACK_TIMEOUT,
        keep_alive_interval: float = 15.0,
        client_timeout: float = 30.0,
        handshake_timeout: float = 15.0,
        dedicated_thread: bool | None = None,
    ) -> None:
        self.options = options
        self.server_id = server_id or f"{socket.gethostname()}_{uuid.uuid4().hex}"
        self.endpoints = (
            endpoints if endpoints is not None else merge_endpoints(options.connection_string, options.endpoints)
        )
        self.ack_timeout = ack_timeout
        self.timers = ClientTimers(keep_alive_interval, client_timeout, handshake_timeout)
        self.loop = RuntimeLoop()
        self._dedicated_thread = dedicated_thread
        self._client_count = 0
        self._heartbeat: gevent.Greenlet | None = None
        self._state = "new"
        self._shutdown_hooks: list[tuple[str, Callable[[HubContext], Any]]] = []
        #: Keys of the hubs with a server connection up, and the same for the classic application:
        #: kept by :meth:`status_changed` so that every negotiate reads one set, not the containers.
        self._connected_hubs: frozenset[str] = frozenset()
        self._classic_connected = False
        self.hosts: dict[str, HubHost] = {}
        for registration in hubs.values():
            if registration.key in self.hosts:
                raise ConfigurationError(f"Two hubs are named {registration.name!r} (names ignore case).")
            self.hosts[registration.key] = HubHost(self, registration, self.endpoints)
        #: Classic ASP.NET SignalR clients of the same hubs, when ``options.classic`` is on.
        self.classic = ClassicHost(self, self.endpoints) if options.classic else None

    def __repr__(self) -> str:
        return f"<HubServer {self.server_id} hubs={list(self.hosts)} {self._state}>"

    # -- lifecycle ----------------------------------------------------------------------------------

    def start(self) -> None:
        """Open the server connections; returns at once (readiness: :meth:`is_connected`)."""
        if self._state != "new":
            return
        self._state = "running"
        self.loop.start(dedicated_thread=self._dedicated_thread)
        self.loop.call(self._start)
        atexit.register(self._at_exit)
        exit_on_sigterm()

    def _start(self) -> None:
        for host in self.hosts.values():
            host.start()
        if self.classic is not None:
            self.classic.start()
        self._heartbeat = gevent.spawn(self._beat)

    def _beat(self) -> None:
        """Hub-level timers of every client: keep-alive pings, client and handshake timeouts."""
        while True:
            gevent.sleep(HEARTBEAT_INTERVAL)
            now = monotonic()
            timers = self.timers
            for host in list(self.hosts.values()):
                for client in list(host.clients.values()):
                    client.heartbeat(now, timers)

    def stop(self, graceful: bool = True) -> None:
        """Stop; with ``graceful`` and a shutdown mode other than Off, run §7.8 first."""
        if self._state != "running":
            return
        self._state = "stopping"
        atexit.unregister(self._at_exit)
        timeout = self.options.graceful_shutdown_timeout.total_seconds()
        try:
            self.loop.call(self._stop, graceful, timeout=timeout + DISCONNECT_HOOK_TIMEOUT + 30)
        finally:
            self.loop.stop()
            self._state = "stopped"

    def _at_exit(self) -> None:
        self.stop(graceful=True)

    def on_shutdown(self, hub_name: str, callback: Callable[[HubContext], Any]) -> None:
        """Run ``callback(hub_context)`` during a graceful shutdown, after the fins (§7.8 step 2)."""
        self._host(hub_name)
        self._shutdown_hooks.append((hub_name, callback))

    def _stop(self, graceful: bool) -> None:
        mode = self.options.graceful_shutdown_mode
        containers = [c for host in self.hosts.values() for c in host.containers]
        if graceful and mode is not GracefulShutdownMode.OFF:
            timeout = self.options.graceful_shutdown_timeout.total_seconds()
            deadline = monotonic() + timeout
            offline = [gevent.spawn(c.go_offline, mode, timeout) for c in containers]
            gevent.joinall(offline, timeout=timeout)
            for hub_name, callback in self._shutdown_hooks:
                try:
                    callback(self.hub_context(hub_name))
                except Exception:
                    logger.exception("shutdown hook of hub %r failed", hub_name)
            while self._client_count and monotonic() < deadline:
                gevent.sleep(0.1)
        if self._heartbeat is not None:
            self._heartbeat.kill(block=False)
        stoppers = [gevent.spawn(c.stop) for c in containers]
        if self.classic is not None:
            stoppers.append(gevent.spawn(self.classic.stop))
        gevent.joinall(stoppers, timeout=15)
        for host in self.hosts.values():
            host.hooks.join(timeout=DISCONNECT_HOOK_TIMEOUT)

    # -- state --------------------------------------------------------------------------------------

    def client_count(self) -> int:
        """Clients hosted by this process, all hubs (the ``#clientInHub`` ping value)."""
        return self._client_count

    def clients_changed(self, delta: int) -> None:
        self._client_count += delta

    def status_changed(self) -> None:
        """Keep ``ServiceEndpoint.online`` (read by the negotiate router) and the readiness flags
        of :meth:`is_connected` in step (§3.3); the containers call it on every connection change."""
        for endpoint in self.endpoints:
            containers = [h.containers_by_endpoint[endpoint] for h in self.hosts.values()]
            known_down = [not c.is_connected and (c.ever_connected or c.failing) for c in containers]
            endpoint.online = not containers or not all(known_down)
        self._connected_hubs = frozenset(key for key, host in self.hosts.items() if host.is_connected)
        self._classic_connected = self.classic is not None and self.classic.is_connected

    def is_connected(self, hub_name: str) -> bool:
        """True once at least one server connection of that hub is up (negotiate readiness).

        For the application name (classic negotiate) it is the classic application pool.
        """
        if self._state != "running":
            return False
        key = hub_name.lower()
        classic = self.classic
        if classic is not None and key == classic.application.lower():
            return self._classic_connected
        return key in self._connected_hubs

    def status(self) -> dict[str, Any]:
        """A snapshot for diagnostics: hubs, endpoints, connections and their clients."""
        if self._state == "running":
            return self.loop.call(self._status)
        return self._status()

    def _status(self) -> dict[str, Any]:
        return {
            "server_id": self.server_id,
            "state": self._state,
            "clients": self._client_count,
            "hubs": [host.status() for host in self.hosts.values()],
            **({"classic": self.classic.status()} if self.classic is not None else {}),
        }

    def hub_context(self, hub_name: str) -> HubContext:
        """Clients and Groups of a hub for code outside hub methods (views, jobs, CLI commands)."""
        return HubContext(self._host(hub_name))

    def _host(self, hub_name: str) -> HubHost:
        host = self.hosts.get(hub_name.lower())
        if host is None:
            raise KeyError(f"no hub named {hub_name!r} is registered")
        return host
