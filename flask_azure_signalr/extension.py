"""``FlaskAzureSignalR``: the Flask extension object (the Flask-Login/Flask-SQLAlchemy pattern).

One object may serve several apps: ``init_app`` keeps no ``self.app``; each app's options, endpoints
and runtime hooks live in a :class:`SignalRState` reached through ``app.extensions["azure_signalr"]``.
Options come, strongest first, from keyword arguments, ``app.config``, the environment, a ``.env``
file, and the defaults of :class:`~flask_azure_signalr.options.ServiceOptions`.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import secrets
import socket
import threading
import uuid
from time import monotonic
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from weakref import WeakKeyDictionary

from dotenv import dotenv_values, find_dotenv
from flask import Flask, current_app
from werkzeug.local import LocalProxy

from .claims import ClaimsLike
from .endpoints import EndpointRouter, ServiceEndpoint, endpoints_from_environ, merge_endpoints
from .exceptions import ConfigurationError
from .negotiate import EXTENSION_KEY, create_blueprint, default_request_id
from .options import ServiceOptions
from .registry import Authorize, HubRegistration

__all__ = ["FlaskAzureSignalR", "SignalRState", "StatusProvider", "process_server_id"]

if TYPE_CHECKING:
    from .hub_context import HubContext
    from .runtime import HubServer
    from .testing import SignalRTestClient

log = logging.getLogger("flask_azure_signalr.extension")

H = TypeVar("H", bound=type)

#: How long a negotiate that arrives while the server connections are still opening waits for
#: them before it answers "not connected" (the first request of a process starts them).
STARTUP_WAIT = 10.0

# What the service accepts as a hub name (auth-negotiate-options §5, REST schema).
_HUB_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_`,.\[\]]{0,127}")


class StatusProvider(Protocol):
    """Registered by the hub runtime: whether a hub has a connected server connection."""

    def is_connected(self, hub_name: str) -> bool: ...


@functools.cache
def process_server_id() -> str:
    """``{machine}_{guid}``, fixed for the process: the server token's ``nameid``, the
    ``X-ASRS-Server-Id`` header and ``asrs.s.sn`` must agree (auth-negotiate-options §2.2)."""
    return f"{socket.gethostname()}_{uuid.uuid4().hex}"


class SignalRState:
    """What one app needs at run time. ``endpoints`` is the merged, de-duplicated list."""

    def __init__(self, options: ServiceOptions, endpoints: list[ServiceEndpoint]) -> None:
        self.options = options
        self.endpoints = endpoints
        self.router: EndpointRouter = options.endpoint_router
        self.server_id = process_server_id()
        self.request_id_provider: Callable[[], str] = default_request_id
        self.status_provider: StatusProvider | None = None
        #: The embedded emulator started by ``init_app`` (stop it with ``.stop()``), else None.
        self.emulator: Any = None
        #: The hub runtime once started (:meth:`FlaskAzureSignalR.start`), else None.
        self.hub_server: HubServer | None = None
        self.started_at = 0.0
        self.lock = threading.Lock()


class FlaskAzureSignalR:
    """Runs SignalR hubs of Flask apps on Azure SignalR Service.

    ::

        signalr = FlaskAzureSignalR()

        @signalr.hub(path="/chat")
        class ChatHub: ...

        signalr.init_app(app, application_name="MyApp")
    """

    def __init__(self, app: Flask | None = None, **options: Any) -> None:
        self.hubs: dict[str, HubRegistration] = {}
        self.user_claims_callback: Callable[[Any], ClaimsLike | None] | None = None
        self._options = options
        self._states: WeakKeyDictionary[Flask, SignalRState] = WeakKeyDictionary()
        if app is not None:
            self.init_app(app)

    # -- setup ---------------------------------------------------------------------------------

    def init_app(self, app: Flask, **options: Any) -> None:
        """Validate the options of ``app``, resolve its endpoints and mount negotiate."""
        environ = _environment()
        env_connection_string, env_endpoints = endpoints_from_environ(environ)
        for option in ServiceOptions.table():
            default = option.default
            if option.from_env and option.config_key in environ:
                default = environ[option.config_key]
            app.config.setdefault(option.config_key, default)
        if env_connection_string and not app.config[ServiceOptions.connection_string.config_key]:
            app.config[ServiceOptions.connection_string.config_key] = env_connection_string
        if env_endpoints and not app.config[ServiceOptions.endpoints.config_key]:
            app.config[ServiceOptions.endpoints.config_key] = env_endpoints

        keywords = {**self._options, **options}
        values = {
            option.name: keywords.get(option.name, app.config[option.config_key])
            for option in ServiceOptions.table()
        }
        unknown = sorted(set(keywords) - set(values))
        if unknown:
            raise TypeError(f"unknown option(s): {', '.join(unknown)}")
        service_options = ServiceOptions(**values)
        self._check_application_name(service_options)

        state = SignalRState(service_options, [])
        connection_string = service_options.connection_string
        if not connection_string and not service_options.endpoints:
            connection_string = self._emulator_connection_string(app, state)
        state.endpoints = _merged_endpoints(connection_string, service_options.endpoints)

        self._states[app] = state
        app.extensions[EXTENSION_KEY] = self
        app.register_blueprint(create_blueprint(service_options))
        if service_options.auto_start:
            app.before_request(functools.partial(self._auto_start, app))
            from .runtime.hub_server import exit_on_sigterm, should_connect

            if should_connect():
                # The runtime starts later in a request thread, where no signal handler can be
                # installed; make SIGTERM an exit now so that atexit runs the graceful stop.
                exit_on_sigterm()

    def _auto_start(self, app: Flask) -> None:
        state = self._states[app]
        if state.hub_server is None and state.status_provider is None and self.hubs:
            self.start(app)

    def _check_application_name(self, options: ServiceOptions) -> None:
        # Classic apps share one namespace between the app-level connection and the hubs (§3.2).
        if options.classic and any(r.name == options.application_name for r in self.hubs.values()):
            raise ConfigurationError(
                f"{ServiceOptions.application_name.config_key}: "
                "App name should not be the same as hub name."
            )

    def _emulator_connection_string(self, app: Flask, state: SignalRState) -> str:
        key = ServiceOptions.connection_string.config_key
        if not state.options.emulator and not (app.debug or app.testing):
            raise ConfigurationError(
                f"{key} is not set. Set it (in app.config, the environment or .env) to the "
                f"connection string of your Azure SignalR resource, or set "
                f"{ServiceOptions.emulator.config_key}=true to use the local emulator."
            )
        if not state.options.emulator:
            log.warning(
                "%s is not set and the app is in debug or testing mode: starting the local "
                "Azure SignalR emulator.",
                key,
            )
        state.emulator = self._start_embedded_emulator(app)
        return state.emulator.connection_string

    def _start_embedded_emulator(self, app: Flask) -> Any:
        from .emulator import Emulator

        emulator = Emulator(host="127.0.0.1", port=0, access_key=secrets.token_urlsafe(32))
        emulator.start()
        return emulator

    # -- hubs ----------------------------------------------------------------------------------

    def hub(
        self,
        name: str | type | None = None,
        *,
        path: str | None = None,
        authorize: Authorize = None,
    ) -> Any:
        """Class decorator registering a hub: ``@signalr.hub`` or ``@signalr.hub("chat", path=...)``.

        ``authorize``: None (anyone), True (a signed-in user) or a predicate called during
        negotiate (False refuses: 401 when not signed in, else 403).
        """
        if isinstance(name, type):
            self.register_hub(name)
            return name

        def decorator(hub_class: H) -> H:
            self.register_hub(hub_class, name, path=path, authorize=authorize)
            return hub_class

        return decorator

    def register_hub(
        self,
        hub_class: type,
        name: str | None = None,
        *,
        path: str | None = None,
        authorize: Authorize = None,
    ) -> HubRegistration:
        """Register ``hub_class`` under ``name`` (default: the class name) at ``path``
        (default ``/<name>``); Core clients negotiate at ``{path}/negotiate``."""
        name = name or hub_class.__name__
        if not _HUB_NAME.fullmatch(name):
            raise ConfigurationError(
                f"Invalid hub name {name!r}: a letter, then up to 127 letters, digits or _`,.[] "
                "(the service's rule)."
            )
        path = path if path is not None else f"/{name}"
        if not path.startswith("/") or not path.strip("/"):
            raise ConfigurationError(f"Invalid hub path {path!r}: it must start with '/'.")
        path = path.rstrip("/")
        if not (authorize is None or authorize is True or callable(authorize)):
            raise ConfigurationError("authorize must be None, True or a callable")
        registration = HubRegistration(name, hub_class, path, authorize)
        for existing in self.hubs.values():
            if existing.key == registration.key:
                raise ConfigurationError(f"Hub {name!r} is already registered.")
            if existing.path == path:
                raise ConfigurationError(f"Hub path {path!r} is already used by {existing.name!r}.")
        self.hubs[registration.key] = registration
        return registration

    def user_claims_loader(
        self, callback: Callable[[Any], ClaimsLike | None]
    ) -> Callable[[Any], ClaimsLike | None]:
        """Decorator: ``callback(user)`` returns extra claims for a Flask-Login user's tokens."""
        self.user_claims_callback = callback
        return callback

    # -- per-app state and runtime hooks -------------------------------------------------------

    def get_state(self, app: Flask | None = None) -> SignalRState:
        """The state of ``app`` (default: the current app; a ``current_app`` proxy is fine)."""
        if app is None or isinstance(app, LocalProxy):
            app = current_app._get_current_object()  # type: ignore[attr-defined]
        try:
            return self._states[app]
        except KeyError:
            raise RuntimeError(
                "FlaskAzureSignalR.init_app() has not been called for this app."
            ) from None

    def set_status_provider(self, app: Flask, provider: StatusProvider | None) -> None:
        """Called by the hub runtime so negotiate knows which hubs have a server connection."""
        self.get_state(app).status_provider = provider

    def is_connected(self, hub_name: str | None, app: Flask | None = None) -> bool:
        """Whether ``hub_name`` (the registered name; for classic clients the application name)
        has a connected server connection. False until the runtime registers a status provider.

        Right after :meth:`start` (the first request of a process) this waits up to
        ``STARTUP_WAIT`` seconds for the connections to open, so the first client is not refused.
        """
        state = self.get_state(app)
        provider = state.status_provider
        if provider is None or hub_name is None:
            return False
        deadline = state.started_at + STARTUP_WAIT
        while not provider.is_connected(hub_name):
            if state.hub_server is None or monotonic() >= deadline:
                return False
            _pause(0.02)
        return True

    # -- the hub runtime -----------------------------------------------------------------------

    def start(self, app: Flask | None = None) -> HubServer:
        """Open the server connections of every registered hub (idempotent).

        Called on the first request unless ``AZURE_SIGNALR_AUTO_START`` is False; call it yourself
        in a process that must receive clients before it serves any request.
        """
        state = self.get_state(app)
        with state.lock:
            if state.hub_server is None:
                from .runtime import HubServer

                server = HubServer(
                    state.options, self.hubs, server_id=state.server_id, endpoints=state.endpoints
                )
                server.start()
                state.hub_server = server
                state.started_at = monotonic()
                state.status_provider = server
            return state.hub_server

    def shutdown(self, app: Flask | None = None) -> None:
        """Stop the runtime (graceful-shutdown sequence per the options) and the embedded emulator."""
        state = self.get_state(app)
        with state.lock:
            server, state.hub_server = state.hub_server, None
            if server is not None:
                if state.status_provider is server:
                    state.status_provider = None
                server.stop(graceful=True)
            if state.emulator is not None:
                state.emulator.stop()
                state.emulator = None

    def hub_context(self, hub_name: str, app: Flask | None = None) -> HubContext:
        """``clients`` and ``groups`` of a hub, for views, jobs and CLI commands."""
        return self.start(app).hub_context(hub_name)

    def status(self, app: Flask | None = None) -> dict[str, Any]:
        """A diagnostic snapshot of the server connections and their clients."""
        server = self.get_state(app).hub_server
        return server.status() if server is not None else {"state": "not started", "hubs": []}

    def test_client(self, app: Flask, hub: str, **kwargs: Any) -> SignalRTestClient:
        """A SignalR client of ``hub`` through the real path (negotiate, service, hub protocol)."""
        from .testing import test_client

        self.start(app)
        return test_client(app, hub, **kwargs)


def _pause(seconds: float) -> None:
    """Sleep without blocking other greenlets when the process runs under gevent."""
    from gevent import monkey

    if monkey.is_module_patched("time"):
        import gevent

        gevent.sleep(seconds)
    else:
        import time

        time.sleep(seconds)


def _environment() -> dict[str, str]:
    """``os.environ`` over the values of the nearest ``.env`` (as Flask's CLI finds it)."""
    path = find_dotenv(usecwd=True)
    values = {k: v for k, v in dotenv_values(path).items() if v is not None} if path else {}
    values.update(os.environ)
    return values


def _merged_endpoints(
    connection_string: str | None, endpoints: list[ServiceEndpoint]
) -> list[ServiceEndpoint]:
    try:
        return merge_endpoints(connection_string, endpoints)
    except ConfigurationError as exc:
        key = ServiceOptions.connection_string.config_key
        raise type(exc)(f"{key}: {exc}") from None
