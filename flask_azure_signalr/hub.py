"""Hubs: the class an application subclasses, its caller context, and its method table.

A hub instance lives for one call, as in ASP.NET Core: the runtime creates one per invocation and per
connect/disconnect hook and sets ``context``, ``clients`` and ``groups`` on it first. Keep state that
must outlive a call in ``context.items`` (per connection) or elsewhere in the application.

Hub methods run in their own greenlet. Code that blocks without yielding to gevent (CPU-bound work,
C extensions, an unpatched ``time.sleep`` under ``flask run``) stalls every connection of the process;
hand it to a thread pool, e.g. ``gevent.get_hub().threadpool.apply(func, args)``.
"""

from __future__ import annotations

import collections.abc
import inspect
import typing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence
from urllib.parse import parse_qsl

from werkzeug.datastructures import Headers, MultiDict

from .exceptions import ConfigurationError

if TYPE_CHECKING:
    from .clients import HubClients
    from .groups import GroupManager

__all__ = ["Hub", "HubCallerContext", "HubMethod", "hub_method", "method_table"]

_ALIAS_ATTRIBUTE = "__signalr_name__"


def hub_method(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Expose a method under another name, as ``[HubMethodName]`` does.

    Python method names are snake_case while clients usually call PascalCase names; matching ignores
    case but not underscores, so ``send_message`` needs ``@hub_method("SendMessage")``.
    """
    if not isinstance(name, str) or not name:
        raise ConfigurationError("hub_method() needs a non-empty method name")

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        setattr(func, _ALIAS_ATTRIBUTE, name)
        return func

    return decorate


class HubCallerContext:
    """What a hub knows about the connection it serves (``Context`` in ASP.NET Core).

    ``claims`` are the client's claims as the service forwarded them, system claims removed
    (service-protocol §2.2); ``user_identifier`` is the ``asrs.s.uid`` claim set at negotiate time.
    ``query`` and ``headers`` are those of the client's request to the service (the negotiate query
    travels in the redirect URL, so it is visible here too).
    """

    __slots__ = (
        "connection_id",
        "user_identifier",
        "claims",
        "_query_string",
        "_raw_headers",
        "_query",
        "_headers",
        "_items",
        "_abort",
    )

    def __init__(
        self,
        connection_id: str,
        *,
        user_identifier: str | None = None,
        claims: Sequence[tuple[str, str]] = (),
        query_string: str = "",
        headers: Mapping[str, Sequence[str]] | None = None,
        abort: Callable[[], None] | None = None,
    ) -> None:
        self.connection_id = connection_id
        self.user_identifier = user_identifier
        self.claims: list[tuple[str, str]] = list(claims)
        self._query_string = query_string
        self._raw_headers = headers
        self._query: MultiDict[str, str] | None = None
        self._headers: Headers | None = None
        self._items: dict[Any, Any] | None = None
        self._abort = abort

    @property
    def query(self) -> MultiDict[str, str]:
        """The client's query parameters (the service sends the string with a leading ``?``)."""
        if self._query is None:
            text = self._query_string[1:] if self._query_string.startswith("?") else self._query_string
            self._query = MultiDict(parse_qsl(text, keep_blank_values=True))
        return self._query

    @property
    def headers(self) -> Headers:
        """The client's request headers, case-insensitive."""
        if self._headers is None:
            headers = Headers()
            for name, values in (self._raw_headers or {}).items():
                for value in values:
                    headers.add(name, value)
            self._headers = headers
        return self._headers

    @property
    def items(self) -> dict[Any, Any]:
        """Per-connection storage shared by every call on this connection."""
        if self._items is None:
            self._items = {}
        return self._items

    def claim(self, claim_type: str) -> str | None:
        """The first value of a claim type, or None."""
        for name, value in self.claims:
            if name == claim_type:
                return value
        return None

    def abort(self) -> None:
        """End the connection: the client gets a Close without error and does not reconnect."""
        if self._abort is not None:
            self._abort()


class Hub:
    """Base class of hubs. Public methods are callable by clients; see the module docstring."""

    context: HubCallerContext
    clients: HubClients
    groups: GroupManager

    def on_connected(self) -> None:
        """Runs after the handshake, before the connection's first invocation is dispatched."""

    def on_disconnected(self, error: BaseException | None) -> None:
        """Runs once when the connection ends; ``error`` is None for a clean end."""

    def on_reconnected(self) -> None:
        """Classic ASP.NET SignalR clients only: the client came back on a new transport
        (``OnReconnected``, aspnet-classic §2.4)."""


_NOT_INVOCABLE = frozenset({"context", "clients", "groups"} | {n for n in dir(Hub) if not n.startswith("__")})
_STREAM_TYPES = (collections.abc.Iterator, collections.abc.Iterable, collections.abc.Generator)
_STREAM_TYPE_NAMES = frozenset({"Iterator", "Iterable", "Generator"})


@dataclass(frozen=True, slots=True)
class HubMethod:
    """One invocable method: what binding and dispatch need to know about it."""

    name: str
    function: Callable[..., Any]
    parameter_count: int
    required_count: int
    variadic: bool
    stream_positions: tuple[int, ...]
    is_streaming: bool

    @property
    def stream_count(self) -> int:
        return len(self.stream_positions)

    def accepts(self, argument_count: int) -> bool:
        if argument_count < self.required_count:
            return False
        return self.variadic or argument_count <= self.parameter_count

    def bind(self, arguments: Sequence[Any], streams: Sequence[Iterable[Any]]) -> list[Any]:
        """Positional arguments with the upload streams put where the stream parameters are."""
        if not self.stream_positions:
            return list(arguments)
        bound: list[Any] = []
        values = iter(arguments)
        uploads = iter(streams)
        total = len(arguments) + len(streams)
        for position in range(total):
            bound.append(next(uploads) if position in self.stream_positions else next(values))
        return bound


_tables: dict[type, dict[str, HubMethod]] = {}


def method_table(hub_class: type) -> dict[str, HubMethod]:
    """Lower-cased name -> method, built once per class (hub-protocol §3.2).

    Raises ConfigurationError for two names differing only in case, as ASP.NET Core does at startup.
    """
    table = _tables.get(hub_class)
    if table is None:
        table = _build_table(hub_class)
        _tables[hub_class] = table
    return table


def _build_table(hub_class: type) -> dict[str, HubMethod]:
    if not (isinstance(hub_class, type) and issubclass(hub_class, Hub)):
        raise ConfigurationError(f"{hub_class!r} is not a subclass of flask_azure_signalr.Hub")
    table: dict[str, HubMethod] = {}
    for attribute in dir(hub_class):
        if attribute.startswith("_") or attribute in _NOT_INVOCABLE:
            continue
        static = inspect.getattr_static(hub_class, attribute)
        if isinstance(static, (staticmethod, classmethod)) or not inspect.isfunction(static):
            continue
        name = getattr(static, _ALIAS_ATTRIBUTE, attribute)
        key = name.lower()
        if key in table:
            raise ConfigurationError(f"Duplicate definitions of '{name}'. Overloading is not supported.")
        table[key] = _describe(name, static)
    return table


def _describe(name: str, function: Callable[..., Any]) -> HubMethod:
    signature = inspect.signature(function)
    try:
        hints = typing.get_type_hints(function)
    except Exception:
        hints = {}
    parameters = list(signature.parameters.values())[1:]
    stream_positions: list[int] = []
    count = required = 0
    variadic = False
    position = 0
    for parameter in parameters:
        if parameter.kind is parameter.VAR_POSITIONAL:
            variadic = True
            continue
        if parameter.kind not in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD):
            continue
        annotation = hints.get(parameter.name, parameter.annotation)
        if _is_stream_type(annotation):
            stream_positions.append(position)
        else:
            count += 1
            if parameter.default is parameter.empty:
                required += 1
        position += 1
    returns = hints.get("return", signature.return_annotation)
    streaming = inspect.isgeneratorfunction(function) or _is_stream_type(returns)
    return HubMethod(name, function, count, required, variadic, tuple(stream_positions), streaming)


def _is_stream_type(annotation: Any) -> bool:
    """Iterator/Iterable/Generator annotations mark stream parameters and streaming results."""
    if annotation is inspect.Parameter.empty or annotation is None:
        return False
    if isinstance(annotation, str):
        root = annotation.split("[", 1)[0].rsplit(".", 1)[-1].strip()
        return root in _STREAM_TYPE_NAMES
    origin = typing.get_origin(annotation) or annotation
    return origin in _STREAM_TYPES
