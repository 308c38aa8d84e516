"""The :class:`Emulator`: one gevent WSGI server with the emulator's app, started and stopped.

Two ways to run, chosen by :meth:`Emulator.start`:

- in a gevent-monkey-patched process (``python -m flask_azure_signalr.emulator``, a gevent app
  server) the server's greenlets run on the current hub, beside the application's;
- in an unpatched process (``flask run`` with threads, a test session) the server runs in a
  dedicated native thread with its own gevent hub, so it serves while the other threads block
  in ordinary ways. Nothing crosses between threads except :meth:`Emulator.stop`'s wake-up.
"""

from __future__ import annotations

import logging
import signal
import socket
import sys
import uuid
from collections.abc import Callable
from typing import Any, NoReturn

import gevent
from gevent import monkey
from gevent.event import Event
from gevent.pywsgi import WSGIServer

from ..websocket import WebSocketHandler
from .app import EmulatorApp
from .client_connections import ConnectionRegistry
from .context import EmulatorContext
from .options import EmulatorOptions
from .router import Router

__all__ = ["DEFAULT_ACCESS_KEY", "DEFAULT_PORT", "Emulator", "connection_string_for", "run_in_foreground"]

log = logging.getLogger("flask_azure_signalr.emulator.server")

#: The key Microsoft's emulator uses too (rest-api-and-emulator §3.1): fine for a local,
#: loopback-only service, and stable across restarts so connection strings can be written down.
DEFAULT_ACCESS_KEY = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH"
DEFAULT_PORT = 8888

_ANY_ADDRESS = {"0.0.0.0", "::", ""}
_NativeThread = monkey.get_original("threading", "Thread")
_NativeEvent = monkey.get_original("threading", "Event")


def connection_string_for(host: str, port: int, access_key: str) -> str:
    """``Endpoint=http://host;Port=port;AccessKey=...;Version=1.0;`` for a server on host:port."""
    return f"Endpoint=http://{_reachable_host(host)};Port={port};AccessKey={access_key};Version=1.0;"


def _reachable_host(host: str) -> str:
    if host in _ANY_ADDRESS:
        return "localhost"
    return f"[{host}]" if ":" in host else host


class _Quiet:
    """pywsgi's error log, as a logger: a client that vanished mid-request is not an error."""

    def write(self, text: str) -> None:
        text = text.rstrip()
        if text:
            log.debug("%s", text)

    def flush(self) -> None:
        pass


class _Handler(WebSocketHandler):
    """Sets ``TCP_NODELAY`` on each accepted socket before serving it.

    pywsgi writes a response's headers and body in two ``send`` calls; with Nagle's algorithm on,
    every request after the first on a keep-alive connection waits for the client's delayed ACK of
    the headers (about 40 ms on Linux, against 1.4 ms with the option: ``docs/benchmarks.md``).
    """

    def handle(self) -> None:
        try:
            self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except (OSError, AttributeError):
            pass  # not TCP (a UNIX socket) or already gone: nothing to tune
        super().handle()


class Emulator:
    """A local Azure SignalR Service (default mode) on ``host:port``.

    ``port=0`` binds a free port; :attr:`port` and :attr:`connection_string` then tell which.
    Without ``access_key`` the emulator uses :data:`DEFAULT_ACCESS_KEY`.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        access_key: str | None = None,
        *,
        options: EmulatorOptions | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.access_key = access_key or DEFAULT_ACCESS_KEY
        self.options = options or EmulatorOptions()
        self.instance_id = f"emulator_{uuid.uuid4().hex}"
        self.context: EmulatorContext | None = None
        self._server: WSGIServer | None = None
        self._thread: Any = None
        self._hub: Any = None
        self._stop_requested: Event | None = None
        self._thread_done: Any = _NativeEvent()

    def __repr__(self) -> str:
        return f"<Emulator {self.endpoint} running={self.running}>"

    @property
    def connection_string(self) -> str:
        return connection_string_for(self.host, self.port, self.access_key)

    @property
    def endpoint(self) -> str:
        return f"http://{_reachable_host(self.host)}:{self.port}"

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def router(self) -> Router:
        """The routing state (read it only from the emulator's own hub)."""
        if self.context is None:
            raise RuntimeError("the emulator is not running")
        return self.context.router

    def ping_servers(self, hub: str, *pairs: str) -> int:
        """Send the Ping ``[3, *pairs]`` to every server connection of ``hub``; how many got it.

        For tests of the app-server side of V→S pings (``target``, ``offline``, ``echo``, ``d-m``,
        service-protocol §5.3). Callable from any thread.
        """
        return self._call(lambda: self.router.ping_servers(hub, *pairs))

    def drop_classic_transports(self) -> int:
        """End every classic client's transport as a network failure would; how many there were.

        The connections stay, so the jQuery clients reconnect (``/reconnect``, or ``T`` for long
        polling) and their app hears ``asrs:reconnect``. For tests; callable from any thread.
        """

        context = self.context
        if context is None:
            raise RuntimeError("the emulator is not running")

        def drop() -> int:
            transports = [c.transport for c in context.classic_connections.all() if c.transport is not None]
            for transport in transports:
                transport.drop()
            return len(transports)

        return self._call(drop)

    def _call(self, function: Callable[[], Any]) -> Any:
        """Run ``function`` on the emulator's hub and return its result."""
        if self._thread is None or self._hub is None:
            return function()
        done = _NativeEvent()
        outcome: list[Any] = []

        def run() -> None:
            try:
                outcome.append(function())
            finally:
                done.set()

        self._hub.loop.run_callback_threadsafe(run)
        if not done.wait(10):
            raise TimeoutError("the emulator did not run the call")
        if not outcome:
            raise RuntimeError("the call failed in the emulator; see the log")
        return outcome[0]

    def start(self) -> None:
        """Bind and listen, then return; the server keeps serving in the background."""
        if self.running:
            raise RuntimeError("the emulator is already running")
        if monkey.is_module_patched("socket"):
            self._listen()
            return
        ready = _NativeEvent()
        self._thread_done = _NativeEvent()
        failure: list[OSError] = []
        self._thread = _NativeThread(
            target=self._run_thread, args=(ready, failure), name=f"signalr-emulator-{self.port}", daemon=True
        )
        self._thread.start()
        ready.wait()
        if not self.running:
            self._thread.join()
            self._thread = None
            if failure:
                raise failure[0]
            raise RuntimeError("the emulator failed to start; see the log")

    def stop(self) -> None:
        """Close every connection and stop listening; safe to call from any thread, and twice."""
        thread = self._thread
        if thread is not None:
            if thread.is_alive() and self._hub is not None and self._stop_requested is not None:
                self._hub.loop.run_callback_threadsafe(self._stop_requested.set)
            thread.join()
            self._thread = None
        else:
            self._shutdown()

    def serve_forever(self) -> None:
        """Start (unless running), then block until :meth:`stop` or KeyboardInterrupt."""
        if not self.running:
            self.start()
        try:
            if self._thread is not None:
                # Not Thread.join(): a KeyboardInterrupt inside join() can leave the thread
                # looking finished while it still runs, and the interpreter then exits under it.
                while not self._thread_done.wait(0.5):
                    pass
            else:
                assert self._stop_requested is not None
                self._stop_requested.wait()
        finally:
            self.stop()

    # ----------------------------------------------------------------------------- internals

    def _listen(self) -> None:
        """Create the server on the current hub and start accepting."""
        context = EmulatorContext(
            access_key=self.access_key,
            host=self.host,
            options=self.options,
            router=Router(instance_id=self.instance_id),
            registry=ConnectionRegistry(),
        )
        server = WSGIServer(
            (self.host, self.port),
            EmulatorApp(context),
            handler_class=_Handler,
            log=None,
            error_log=_Quiet(),
        )
        server.start()
        self.port = server.server_port
        self.context = context
        self._server = server
        self._stop_requested = Event()
        log.info("Azure SignalR emulator listening on %s", self.endpoint)

    def _run_thread(self, ready: Any, failure: list[OSError]) -> None:
        try:
            try:
                self._hub = gevent.get_hub()
                self._listen()
            except OSError as error:  # cannot bind: reported to start()'s caller
                failure.append(error)
                return
            finally:
                ready.set()
            assert self._stop_requested is not None
            self._stop_requested.wait()
            self._shutdown()
        finally:
            self._hub = None
            gevent.get_hub().destroy(destroy_loop=True)
            self._thread_done.set()

    def _shutdown(self) -> None:
        server, context = self._server, self.context
        if server is None or context is None:
            return
        self._server = None
        context.stopping = True
        server.close()
        context.kill_all()
        server.stop(timeout=0)
        if self._stop_requested is not None:
            self._stop_requested.set()
        log.info("Azure SignalR emulator on port %d stopped", self.port)


def run_in_foreground(host: str, port: int, access_key: str | None, *, log_level: str = "INFO") -> None:
    """The command-line emulator: print the connection string first, serve until SIGINT/SIGTERM."""
    logging.basicConfig(
        level=log_level.upper(), stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    emulator = Emulator(host, port, access_key)
    emulator.start()
    try:
        if monkey.is_module_patched("socket"):
            gevent.signal_handler(signal.SIGTERM, emulator.stop)
        else:
            signal.signal(signal.SIGTERM, _interrupt)
        print(emulator.connection_string, flush=True)
        emulator.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()


def _interrupt(signum: int, frame: Any) -> NoReturn:
    raise KeyboardInterrupt
