"""Service endpoints: one Azure SignalR instance each, the URLs and audiences derived from it, and the
router that picks one for a negotiate request (auth-negotiate-options §1.5, §1.6, §3.3;
service-protocol §4.1).

URLs are built by string concatenation on the "absolute form" of a base URI, as the C# SDK does, so
every derived URL matches the SDK's byte for byte. Audiences always use ``{scheme}://{host}/`` of the
main ``Endpoint``: never a port, never the ``ClientEndpoint``/``ServerEndpoint`` override.
"""

from __future__ import annotations

import enum
import hashlib
import logging
import random
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import quote_plus, urlsplit

from .connection_string import DEFAULT_PORTS, ConnectionString, parse_connection_string
from .exceptions import ConfigurationError, ConnectionStringError, ServiceConnectionError

__all__ = [
    "EndpointType",
    "ServiceEndpoint",
    "EndpointRouter",
    "parse_endpoint_key",
    "endpoints_from_environ",
    "merge_endpoints",
    "dotnet_url_encode",
    "CONNECTION_STRING_KEY",
    "NOT_CONNECTED_MESSAGE",
]

log = logging.getLogger("flask_azure_signalr.endpoints")

#: The C# SDK's configuration key; children ``:<name>[:<type>]`` declare further endpoints (§1.6).
CONNECTION_STRING_KEY = "Azure:SignalR:ConnectionString"
_FALLBACK_CONNECTION_STRING_KEY = "ConnectionStrings:Azure:SignalR:ConnectionString"

#: Body of the 500 answer when no endpoint of a hub is online (§3.1, §3.3).
NOT_CONNECTED_MESSAGE = "Azure SignalR Service is not connected yet, please try again later."


class EndpointType(enum.Enum):
    """Primary endpoints take negotiate traffic; secondary ones only when no primary is online."""

    PRIMARY = "primary"
    SECONDARY = "secondary"

    @classmethod
    def parse(cls, text: str) -> EndpointType | None:
        """Case-insensitive name, or the .NET numeric value (0, 1); None if neither."""
        text = text.strip()
        for member, number in ((cls.PRIMARY, "0"), (cls.SECONDARY, "1")):
            if text.lower() == member.value or text == number:
                return member
        return None


def dotnet_url_encode(text: str) -> str:
    """.NET ``WebUtility.UrlEncode``: keeps letters, digits and ``-_.!*()``, space becomes ``+``."""
    return quote_plus(text, safe="!*()").replace("~", "%7E")


class ServiceEndpoint:
    """One Azure SignalR Service instance, from its connection string.

    ``online`` is maintained by the runtime (False once every server connection of the endpoint is
    down) and read by :class:`EndpointRouter`.
    """

    __slots__ = ("connection_string", "name", "type", "online", "_parsed")

    def __init__(
        self,
        connection_string: str,
        name: str = "",
        type: EndpointType | str = EndpointType.PRIMARY,
    ) -> None:
        if not isinstance(connection_string, str) or not connection_string.strip():
            raise ConnectionStringError("'connectionString' cannot be null or whitespace.")
        parsed = parse_connection_string(connection_string)
        if parsed.uses_entra_id:
            raise ConfigurationError(
                f"Connection string AuthType={parsed.auth_type} selects Microsoft Entra ID, which "
                "flask-azure-signalr does not support yet; use a connection string with AccessKey."
            )
        endpoint_type = EndpointType.parse(type) if isinstance(type, str) else type
        if not isinstance(endpoint_type, EndpointType):
            raise ConfigurationError(
                f"Invalid endpoint type {type!r}; allowed values: primary, secondary."
            )
        self.connection_string = connection_string
        self.name = name
        self.type = endpoint_type
        self.online = True
        self._parsed: ConnectionString = parsed

    def __repr__(self) -> str:
        return f"ServiceEndpoint(endpoint={self.endpoint!r}, name={self.name!r}, type={self.type.name})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ServiceEndpoint):
            return NotImplemented
        return self._identity() == other._identity()

    def __hash__(self) -> int:
        return hash(self._identity())

    def _identity(self) -> tuple[str, str, EndpointType]:
        return (self.connection_string, self.name, self.type)

    # -- values from the connection string -----------------------------------------------------

    @property
    def endpoint(self) -> str:
        """``scheme://host[:port]`` (default port omitted, no trailing ``/``): the endpoint's identity."""
        return _origin(self._parsed.scheme, self._parsed.host, self._parsed.port)

    @property
    def access_key(self) -> str:
        """The HMAC key, used as the UTF-8 bytes of this string (never base64-decoded)."""
        return self._parsed.access_key or ""

    @property
    def port(self) -> int:
        return self._parsed.port

    @property
    def version(self) -> str | None:
        return self._parsed.version

    @property
    def key_id(self) -> str:
        """A stable ``kid`` for tokens signed with the access key; the service does not rely on it
        (§2.1), so a 32-bit digest in the SDK's decimal form is enough and reveals nothing useful."""
        digest = hashlib.sha256(self.access_key.encode("utf-8")).digest()
        return str(int.from_bytes(digest[:4], "little", signed=True))

    @property
    def audience_base(self) -> str:
        """``{scheme}://{host}/``: the prefix of every token audience (§1.5)."""
        return f"{self._parsed.scheme}://{_bracketed(self._parsed.host)}/"

    @property
    def client_endpoint(self) -> str:
        """Base URL handed to clients: ``ClientEndpoint`` if given, else the service URL."""
        if self._parsed.client_endpoint is not None:
            return _absolute_form(self._parsed.client_endpoint)
        return self._service_base()

    @property
    def server_endpoint(self) -> str:
        """Base URL for the app server's own connections: ``ServerEndpoint`` if given."""
        if self._parsed.server_endpoint is not None:
            return _absolute_form(self._parsed.server_endpoint)
        return self._service_base()

    def _service_base(self) -> str:
        return self.endpoint + (self._parsed.path or "/")

    # -- URLs and audiences ----------------------------------------------------------------------

    def client_url(self, hub: str | None = None, *, classic: bool = False) -> str:
        """Where negotiate sends clients, before query parameters: ``client/?hub={hub}`` (Core,
        ``hub`` already prefixed and lower-cased) or ``aspnetclient`` (classic, no hub)."""
        return self.client_endpoint + _client_path(hub, classic)

    def client_audience(self, hub: str | None = None, *, classic: bool = False) -> str:
        return self.audience_base + _client_path(hub, classic)

    def server_url(
        self, hub: str, connection_id: str, *, classic: bool = False, target: str | None = None
    ) -> str:
        """The WebSocket URL of one server connection (service-protocol §4.1)."""
        base = self.server_endpoint
        url = f"ws{base[4:]}{_server_path(hub, classic)}&cid={connection_id}"
        if target is not None:
            url += f"&target={dotnet_url_encode(target)}"
        return url

    def server_audience(self, hub: str, *, classic: bool = False) -> str:
        return self.audience_base + _server_path(hub, classic)

    def rest_audience(self, url: str) -> str:
        """A REST request URL with its origin replaced by the audience base (§2.2)."""
        parts = urlsplit(url)
        audience = self.audience_base + parts.path.lstrip("/")
        return f"{audience}?{parts.query}" if parts.query else audience


def _client_path(hub: str | None, classic: bool) -> str:
    if classic:
        return "aspnetclient"
    if not hub:
        raise ValueError("an ASP.NET Core client URL needs a hub name")
    return f"client/?hub={hub}"


def _server_path(hub: str, classic: bool) -> str:
    return f"{'aspnetserver' if classic else 'server'}/?hub={hub}"


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _origin(scheme: str, host: str, port: int) -> str:
    if port == DEFAULT_PORTS[scheme]:
        return f"{scheme}://{_bracketed(host)}"
    return f"{scheme}://{_bracketed(host)}:{port}"


def _absolute_form(uri: str) -> str:
    """System.Uri.AbsoluteUri of an already validated http(s) URI: lower-case scheme and host,
    default port dropped, ``/`` as the path of a host-only URI."""
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    base = _origin(scheme, parts.hostname or "", parts.port or DEFAULT_PORTS[scheme])
    return base + (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def parse_endpoint_key(key: str) -> tuple[str, EndpointType]:
    """Split a ``name[:type]`` configuration key suffix (§1.6 and its test vectors)."""
    parts = key.split(":")
    if len(parts) >= 2:
        endpoint_type = EndpointType.parse(parts[1])
        if endpoint_type is not None:
            return parts[0], endpoint_type
    return key, EndpointType.PRIMARY


def endpoints_from_environ(
    environ: Mapping[str, str],
) -> tuple[str | None, list[tuple[str, str, EndpointType]]]:
    """The C# configuration form: ``Azure:SignalR:ConnectionString`` and its ``:<name>[:<type>]``
    children, with ``__`` accepted for ``:`` as in .NET environment variables; keys are
    case-insensitive. Returns the default connection string (or None) and the further endpoints as
    ``(connection_string, name, type)``, left unparsed so the caller reports errors in context."""
    normalized = {key.replace("__", ":").lower(): (key, value) for key, value in environ.items()}
    default = None
    for main_key in (CONNECTION_STRING_KEY, _FALLBACK_CONNECTION_STRING_KEY):
        entry = normalized.get(main_key.lower())
        if entry is not None and entry[1].strip():
            default = entry[1]
            break
    for main_key in (CONNECTION_STRING_KEY, _FALLBACK_CONNECTION_STRING_KEY):
        prefix = main_key.lower() + ":"
        children = sorted(
            (original.replace("__", ":")[len(prefix) :], value)
            for lowered, (original, value) in normalized.items()
            if lowered.startswith(prefix) and value.strip()
        )
        if children:
            return default, [(value, *parse_endpoint_key(suffix)) for suffix, value in children]
    return default, []


def merge_endpoints(
    connection_string: str | None, endpoints: Iterable[ServiceEndpoint]
) -> list[ServiceEndpoint]:
    """The effective endpoint list (§1.6): the default connection string as an unnamed primary, then
    ``endpoints``; exact duplicates dropped; one entry per service (the first primary, else the
    first entry)."""
    candidates: list[ServiceEndpoint] = []
    if connection_string:
        candidates.append(ServiceEndpoint(connection_string))
    for endpoint in endpoints:
        if endpoint not in candidates:
            candidates.append(endpoint)
    if not candidates:
        raise ConfigurationError("No connection string was specified.")
    groups: dict[str, list[ServiceEndpoint]] = {}
    for endpoint in candidates:
        groups.setdefault(endpoint.endpoint, []).append(endpoint)
    merged = []
    for identity, group in groups.items():
        chosen = next((e for e in group if e.type is EndpointType.PRIMARY), group[0])
        if len(group) > 1:
            log.warning(
                "%d endpoint configurations to '%s' found, use '%s'.",
                len(group),
                identity,
                chosen.name,
            )
        merged.append(chosen)
    if not any(e.type is EndpointType.PRIMARY for e in merged):
        raise ConfigurationError("No primary endpoint defined.")
    return merged


class EndpointRouter:
    """Chooses endpoints; subclass and override a method to change one decision (§3.3).

    The default sends a negotiating client to a random online primary endpoint, else a random online
    secondary one, and sends every message to every online endpoint. A router may raise a
    ``werkzeug`` HTTP exception (``flask.abort(400)``) from :meth:`get_negotiate_endpoint` to answer
    the negotiate request itself; returning None answers 500.
    """

    def get_negotiate_endpoint(
        self, request: Any, endpoints: Sequence[ServiceEndpoint]
    ) -> ServiceEndpoint | None:
        for endpoint_type in (EndpointType.PRIMARY, EndpointType.SECONDARY):
            candidates = [e for e in endpoints if e.online and e.type is endpoint_type]
            if candidates:
                return random.choice(candidates)
        raise ServiceConnectionError(NOT_CONNECTED_MESSAGE)

    def get_endpoints_for_broadcast(
        self, endpoints: Sequence[ServiceEndpoint]
    ) -> list[ServiceEndpoint]:
        return [e for e in endpoints if e.online]

    def get_endpoints_for_user(
        self, user_id: str, endpoints: Sequence[ServiceEndpoint]
    ) -> list[ServiceEndpoint]:
        return self.get_endpoints_for_broadcast(endpoints)

    def get_endpoints_for_group(
        self, group: str, endpoints: Sequence[ServiceEndpoint]
    ) -> list[ServiceEndpoint]:
        return self.get_endpoints_for_broadcast(endpoints)

    def get_endpoints_for_connection(
        self, connection_id: str, endpoints: Sequence[ServiceEndpoint]
    ) -> list[ServiceEndpoint]:
        return self.get_endpoints_for_broadcast(endpoints)
