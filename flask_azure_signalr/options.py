"""The extension's options, each declared once (gevent style) with its default, validation and help
(auth-negotiate-options §4.1, §4.2).

An option ``foo_bar`` is the keyword argument ``foo_bar=`` of ``FlaskAzureSignalR``/``init_app``, the
config key and environment variable ``AZURE_SIGNALR_FOO_BAR``. Values may be native Python values or
strings (from the environment); a bad value raises :class:`ConfigurationError` naming the config key
and what is allowed. Secrets are never repeated in messages.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any, Generic, TypeVar, overload

from .endpoints import EndpointRouter, ServiceEndpoint
from .exceptions import ConfigurationError

__all__ = [
    "Option",
    "ServiceOptions",
    "ServerStickyMode",
    "GracefulShutdownMode",
    "CONFIG_PREFIX",
]

CONFIG_PREFIX = "AZURE_SIGNALR_"

T = TypeVar("T")


class ServerStickyMode(enum.Enum):
    """Whether the service must route a client back to the server that negotiated it."""

    DISABLED = "Disabled"
    PREFERRED = "Preferred"
    REQUIRED = "Required"


class GracefulShutdownMode(enum.Enum):
    """What the runtime does with its clients when the process stops (service-protocol §7.8)."""

    OFF = "Off"
    WAIT_FOR_CLIENTS_CLOSE = "WaitForClientsClose"
    MIGRATE_CLIENTS = "MigrateClients"


class Option(Generic[T]):
    """One setting of :class:`ServiceOptions`; read on an instance it is the validated value."""

    def __init__(
        self,
        default: Any,
        validate: Callable[[Any], T],
        *,
        allowed: str,
        help: str,
        from_env: bool = True,
        secret: bool = False,
    ) -> None:
        self.default = default
        self.validate = validate
        self.allowed = allowed
        self.help = help
        self.from_env = from_env
        self.secret = secret
        self.name = ""
        self.config_key = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        self.config_key = CONFIG_PREFIX + name.upper()

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> Option[T]: ...

    @overload
    def __get__(self, instance: ServiceOptions, owner: type | None = None) -> T: ...

    def __get__(self, instance: ServiceOptions | None, owner: type | None = None) -> Any:
        if instance is None:
            return self
        return instance._values[self.name]

    def __set__(self, instance: ServiceOptions, value: Any) -> None:
        raise AttributeError("ServiceOptions are read-only; use replace()")

    def convert(self, value: Any) -> T:
        """The validated value, or :class:`ConfigurationError` naming :attr:`config_key`."""
        try:
            return self.validate(value)
        except ConfigurationError as exc:
            raise type(exc)(f"{self.config_key}: {exc}") from None
        except (TypeError, ValueError):
            shown = "(hidden)" if self.secret else _shorten(repr(value))
            raise ConfigurationError(
                f"Invalid value for {self.config_key}: {shown}. Allowed: {self.allowed}."
            ) from None

    def __repr__(self) -> str:
        return f"<Option {self.config_key} default={self.default!r}>"


def _shorten(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


# -- validators: accept the native type or its text form, raise TypeError/ValueError otherwise ----


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _optional_text(value: Any) -> str | None:
    if _blank(value):
        return None
    if not isinstance(value, str):
        raise TypeError
    return value


def _integer(value: Any) -> int:
    if isinstance(value, bool):
        raise TypeError
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?[0-9]+\s*", value):
        return int(value)
    raise TypeError


def _non_negative_integer(value: Any) -> int:
    number = _integer(value)
    if number < 0:
        raise ValueError
    return number


def _optional_non_negative_integer(value: Any) -> int | None:
    return None if _blank(value) else _non_negative_integer(value)


def _integer_range(low: int, high: int) -> Callable[[Any], int]:
    def validate(value: Any) -> int:
        number = _integer(value)
        if not low <= number <= high:
            raise ValueError
        return number

    return validate


def _optional(validate: Callable[[Any], T]) -> Callable[[Any], T | None]:
    return lambda value: None if _blank(value) else validate(value)


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("", "0", "false", "no", "off"):
            return False
    raise ValueError


def _positive_duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        duration = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        duration = timedelta(seconds=value)
    elif isinstance(value, str):
        duration = timedelta(seconds=float(value))
    else:
        raise TypeError
    if duration <= timedelta(0):
        raise ValueError
    return duration


def _choice(enum_type: type[enum.Enum]) -> Callable[[Any], Any]:
    def validate(value: Any) -> Any:
        if isinstance(value, enum_type):
            return value
        if isinstance(value, str):
            for member in enum_type:
                if value.strip().lower() in (member.value.lower(), member.name.lower()):
                    return member
        raise ValueError

    return validate


def _algorithm(value: Any) -> str:
    if isinstance(value, str) and value.strip().upper() in ("HS256", "HS512"):
        return value.strip().upper()
    raise ValueError


_APPLICATION_NAME = re.compile(r"[a-zA-Z][a-zA-Z0-9_]*")
# Classic apps pass a type's full name (``MapAzureSignalR(GetType().FullName)``); the classic SDK
# only requires it non-empty, the service takes its hub-name characters (auth-negotiate-options §5).
_CLASSIC_APPLICATION_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_`,.\[\]]{0,127}")


def _application_name(value: Any) -> str | None:
    name = _optional_text(value)
    if name is not None and not _CLASSIC_APPLICATION_NAME.fullmatch(name):
        raise ValueError
    return name


def _optional_callable(value: Any) -> Callable[..., Any] | None:
    if value is None:
        return None
    if not callable(value):
        raise TypeError
    return value


def _endpoints(value: Any) -> list[ServiceEndpoint]:
    if value is None:
        return []
    if isinstance(value, (str, ServiceEndpoint)) or not isinstance(value, Iterable):
        raise TypeError
    result = []
    for item in value:
        if isinstance(item, ServiceEndpoint):
            result.append(item)
        elif isinstance(item, str):
            result.append(ServiceEndpoint(item))
        elif isinstance(item, tuple) and 1 <= len(item) <= 3:
            result.append(ServiceEndpoint(*item))
        else:
            raise TypeError
    return result


def _url_path(value: Any) -> str:
    if not isinstance(value, str) or not value.startswith("/") or not value.strip("/"):
        raise ValueError
    return value.rstrip("/")


def _cors_origins(value: Any) -> tuple[str, ...] | None:
    if _blank(value) or value is False:
        return None
    if isinstance(value, str):
        origins = tuple(o.strip() for o in value.split(",") if o.strip())
    elif isinstance(value, Iterable):
        origins = tuple(value)
        if not all(isinstance(o, str) for o in origins):
            raise TypeError
    else:
        raise TypeError
    return origins


def _router(value: Any) -> EndpointRouter:
    if value is None:
        return EndpointRouter()
    if not callable(getattr(value, "get_negotiate_endpoint", None)):
        raise TypeError
    return value


class ServiceOptions:
    """Validated options of one app. Attributes are read-only; :meth:`replace` makes a copy."""

    connection_string = Option(
        None,
        _optional_text,
        allowed="an Azure SignalR connection string (Endpoint=...;AccessKey=...;Version=1.0;)",
        help="Default service endpoint. Also read from the environment (and .env) as "
        "AZURE_SIGNALR_CONNECTION_STRING or Azure__SignalR__ConnectionString.",
        secret=True,
    )
    endpoints = Option(
        None,
        _endpoints,
        allowed="a list of ServiceEndpoint, connection strings or (connection_string, name, type)",
        help="Further endpoints (multiple instances). The environment form "
        "Azure__SignalR__ConnectionString__<name>[__<type>] adds to them.",
        from_env=False,
    )
    initial_hub_server_connection_count = Option(
        5,
        _non_negative_integer,
        allowed="an integer >= 0",
        help="Server connections opened per hub and endpoint at start.",
    )
    max_hub_server_connection_count = Option(
        None,
        _optional_non_negative_integer,
        allowed="None or an integer >= AZURE_SIGNALR_INITIAL_HUB_SERVER_CONNECTION_COUNT",
        help="Upper bound of fixed plus on-demand server connections per hub and endpoint.",
    )
    application_name = Option(
        None,
        _application_name,
        allowed="None or a letter followed by letters, digits or underscores",
        help="Prefix of every hub on the service ({app}_{hub}); lets several apps share one "
        "service. Required for classic clients.",
    )
    claims_provider = Option(
        None,
        _optional_callable,
        allowed="None or a callable(request) returning claims",
        help="Replaces the user's claims in client tokens.",
        from_env=False,
    )
    diagnostic_client_filter = Option(
        None,
        _optional_callable,
        allowed="None or a callable(request) returning bool",
        help="True marks the client as diagnostic (asrs.s.dc).",
        from_env=False,
    )
    transport_type_detector = Option(
        None,
        _optional_callable,
        allowed="None or a callable(request) returning a transport bitmask (WebSockets 1, "
        "ServerSentEvents 2, LongPolling 4)",
        help="Restricts the transports an ASP.NET Core client may use (asrs.s.htt).",
        from_env=False,
    )
    access_token_lifetime = Option(
        timedelta(hours=1),
        _positive_duration,
        allowed="a positive timedelta or number of seconds",
        help="Lifetime of client and server-connection tokens.",
    )
    access_token_algorithm = Option(
        "HS256",
        _algorithm,
        allowed="HS256 or HS512",
        help="Signature algorithm of client and server-connection tokens (REST tokens: HS256).",
    )
    server_sticky_mode = Option(
        ServerStickyMode.DISABLED,
        _choice(ServerStickyMode),
        allowed="Disabled, Preferred or Required",
        help="Whether the service routes a client back to the server that negotiated it.",
    )
    max_poll_interval_in_seconds = Option(
        5,
        _optional(_integer_range(1, 300)),
        allowed="None or an integer from 1 to 300",
        help="Long-polling idle timeout at the service (asrs.s.ttl); None leaves the service "
        "default (5).",
    )
    enable_detailed_errors = Option(
        False,
        _boolean,
        allowed="a boolean",
        help="Send exception details to clients (asrs.s.derror).",
    )
    handshake_timeout = Option(
        15,
        _integer_range(1, 30),
        allowed="an integer number of seconds from 1 to 30",
        help="How long the service waits for an ASP.NET Core client's handshake (asrs.s.cht).",
    )
    graceful_shutdown_mode = Option(
        GracefulShutdownMode.OFF,
        _choice(GracefulShutdownMode),
        allowed="Off, WaitForClientsClose or MigrateClients",
        help="What the runtime does with connected clients when the server stops.",
    )
    graceful_shutdown_timeout = Option(
        timedelta(seconds=30),
        _positive_duration,
        allowed="a positive timedelta or number of seconds",
        help="Upper bound of the whole graceful shutdown.",
    )
    endpoint_router = Option(
        None,
        _router,
        allowed="None or an EndpointRouter",
        help="Chooses the endpoint of a negotiate request and the endpoints of each message.",
        from_env=False,
    )
    emulator = Option(
        False,
        _boolean,
        allowed="a boolean",
        help="Without a connection string, start the local emulator instead of failing.",
    )
    auto_start = Option(
        True,
        _boolean,
        allowed="a boolean",
        help="Open the server connections on the app's first request (so only in the process that "
        "serves it); with False, call FlaskAzureSignalR.start(app) yourself.",
    )
    classic = Option(
        False,
        _boolean,
        allowed="a boolean",
        help="Also serve classic ASP.NET SignalR (jQuery) clients under classic_path.",
    )
    classic_path = Option(
        "/signalr",
        _url_path,
        allowed="a URL path starting with '/'",
        help="Mount point of the classic endpoints (negotiate, hubs, js).",
    )
    cors_origins = Option(
        None,
        _cors_origins,
        allowed="None, '*', or a list (or comma-separated string) of origins",
        help="Origins allowed to call negotiate cross-origin; CORS is off when None.",
    )

    def __init__(self, **values: Any) -> None:
        unknown = sorted(set(values) - {option.name for option in self.table()})
        if unknown:
            raise TypeError(f"unknown option(s): {', '.join(unknown)}")
        self._values: dict[str, Any] = {}
        for option in self.table():
            self._values[option.name] = option.convert(values.get(option.name, option.default))
        self._check_combinations()

    @classmethod
    def table(cls) -> tuple[Option[Any], ...]:
        """Every option in declaration order."""
        return tuple(v for v in vars(cls).values() if isinstance(v, Option))

    def replace(self, **changes: Any) -> ServiceOptions:
        return type(self)(**{**self._values, **changes})

    def service_hub_name(self, hub: str) -> str:
        """The hub as the service knows it: lower-cased, ``{app}_{hub}`` with an application name."""
        if self.application_name:
            return f"{self.application_name.lower()}_{hub.lower()}"
        return hub.lower()

    def _check_combinations(self) -> None:
        maximum = self.max_hub_server_connection_count
        initial = self.initial_hub_server_connection_count
        if maximum is not None and maximum < initial:
            option = type(self).max_hub_server_connection_count
            raise ConfigurationError(
                f"Invalid value for {option.config_key}: {maximum}. Allowed: {option.allowed} "
                f"({initial})."
            )
        if self.classic and not self.application_name:
            raise ConfigurationError(
                f"{type(self).application_name.config_key} is required when "
                f"{type(self).classic.config_key} is on: classic clients use {{app}}_{{hub}} names."
            )
        if not self.classic and self.application_name and not _APPLICATION_NAME.fullmatch(self.application_name):
            key = type(self).application_name.config_key
            raise ConfigurationError(
                f"Invalid value for {key}: {self.application_name!r}. Allowed: a letter followed by "
                f"letters, digits or underscores (also . , ` [ ] when {type(self).classic.config_key} is on)."
            )

    def __repr__(self) -> str:
        shown = {
            option.name: "(hidden)"
            if option.secret and self._values[option.name]
            else self._values[option.name]
            for option in self.table()
        }
        return f"ServiceOptions({', '.join(f'{k}={v!r}' for k, v in shown.items())})"
