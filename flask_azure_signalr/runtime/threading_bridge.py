"""Where the runtime's greenlets live, and how other threads reach them.

Monkey-patched process (``gunicorn -k gevent``, gevent's ``WSGIServer``): the runtime uses the main
thread's gevent hub, next to the request greenlets. Unpatched process (``flask run``, Werkzeug
threads): the runtime gets a native thread with its own gevent hub, so request threads never block
it and it never blocks them.

Runtime state (gevent locks, events, sockets) belongs to that one hub. ``RuntimeLoop.call`` runs a
function there: directly when the caller already is on the runtime's thread, otherwise by a
thread-safe callback into the hub's loop while the caller waits on a native lock.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, TypeVar

import gevent
import gevent.event
from gevent import monkey

logger = logging.getLogger("flask_azure_signalr.runtime")

_T = TypeVar("_T")

_native_get_ident: Callable[[], int] = monkey.get_original("_thread", "get_ident")
_native_allocate_lock: Callable[[], Any] = monkey.get_original("_thread", "allocate_lock")
_native_start_thread: Callable[..., int] = monkey.get_original("_thread", "start_new_thread")


def _nothing() -> None:
    """Callback of the keep-alive watcher."""


def is_monkey_patched() -> bool:
    """True when gevent patched the socket module, i.e. the whole process cooperates."""
    return monkey.is_module_patched("socket")


class RuntimeLoop:
    """One gevent hub that runs the runtime, plus a thread-safe door into it."""

    def __init__(self) -> None:
        self._hub: Any = None
        self._ident: int | None = None
        self._own_thread = False
        self._stopped: gevent.event.Event | None = None
        self._thread_done: Any = None

    @property
    def running(self) -> bool:
        return self._hub is not None

    def start(self, *, dedicated_thread: bool | None = None) -> None:
        """Bind to the current hub (patched process) or start a native thread with its own."""
        if self._hub is not None:
            return
        if dedicated_thread is None:
            dedicated_thread = not is_monkey_patched()
        if not dedicated_thread:
            self._hub = gevent.get_hub()
            self._ident = _native_get_ident()
            return
        ready = _native_allocate_lock()
        ready.acquire()
        done = _native_allocate_lock()
        done.acquire()
        self._thread_done = done
        self._own_thread = True
        _native_start_thread(self._thread_main, (ready, done))
        ready.acquire()

    def _thread_main(self, ready: Any, done: Any) -> None:
        try:
            self._hub = gevent.get_hub()
            self._ident = _native_get_ident()
            self._stopped = gevent.event.Event()
            # A referenced watcher keeps the loop alive while nothing else is scheduled, so that
            # callbacks handed in from other threads always find it running.
            keep_alive = self._hub.loop.async_()
            keep_alive.start(_nothing)
            ready.release()
            self._stopped.wait()
            keep_alive.stop()
            keep_alive.close()
            self._hub.destroy(destroy_loop=True)
        finally:
            done.release()

    def on_loop_thread(self) -> bool:
        return self._ident is not None and _native_get_ident() == self._ident

    def spawn(self, function: Callable[..., Any], *args: Any) -> gevent.Greenlet:
        """Start a greenlet; only from the runtime's thread."""
        return gevent.spawn(function, *args)

    def call(self, function: Callable[..., _T], *args: Any, timeout: float | None = None) -> _T:
        """Run ``function(*args)`` on the runtime and return its result (or raise its exception)."""
        if self._hub is None:
            raise RuntimeError("the SignalR runtime is not running")
        if self.on_loop_thread():
            return function(*args)
        waiter = _native_allocate_lock()
        waiter.acquire()
        outcome: list[Any] = [None, None]

        def run() -> None:
            try:
                outcome[0] = function(*args)
            except BaseException as error:
                outcome[1] = error
            finally:
                waiter.release()

        self._hub.loop.run_callback_threadsafe(gevent.spawn, run)
        if not waiter.acquire(True, -1 if timeout is None else timeout):
            raise TimeoutError("the SignalR runtime did not answer in time")
        if outcome[1] is not None:
            raise outcome[1]
        return outcome[0]

    def stop(self, timeout: float = 10.0) -> None:
        """Let the dedicated thread end (after the caller has stopped everything on it)."""
        if self._hub is None:
            return
        if self._own_thread and self._stopped is not None:
            stopped = self._stopped
            if self.on_loop_thread():
                stopped.set()
            else:
                self._hub.loop.run_callback_threadsafe(stopped.set)
                if not self._thread_done.acquire(True, timeout):
                    logger.warning("the SignalR runtime thread did not stop within %s s", timeout)
        self._hub = None
        self._ident = None
        self._stopped = None
