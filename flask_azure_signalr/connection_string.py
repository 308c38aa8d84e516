"""The Azure SignalR connection-string grammar (auth-negotiate-options §1.1-§1.4).

Parsing is kept apart from :mod:`.endpoints` so the grammar and its exact error messages can be
read and tested on their own. Messages are the C# SDK's text (``ConnectionStringParser.cs``)
without .NET's `` (Parameter '...')`` suffix; none of them contains the access key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import SplitResult, urlsplit

from .exceptions import ConnectionStringError

__all__ = ["ConnectionString", "parse_connection_string", "ENTRA_AUTH_TYPES", "DEFAULT_PORTS"]

#: ``AuthType`` values (lower-cased) that select Microsoft Entra ID instead of the access key (§1.3).
ENTRA_AUTH_TYPES = frozenset({"aad", "azure", "azure.msi", "azure.app"})

DEFAULT_PORTS = {"http": 80, "https": 443}

# §1.2: ``1.`` then digits, optionally followed by word characters, ``-`` or ``.``.
_VERSION = re.compile(r"1\.\d+(?:[\w\-.]+)?")
# .NET ``int.TryParse``: optional sign and decimal digits; Python's ``int()`` would also take ``1_0``.
_INTEGER = re.compile(r"[+-]?[0-9]+")
# A registered name or an IP literal: what System.Uri accepts as a host in practice.
_HOST = re.compile(r"[A-Za-z0-9\-._~%!$&'()*+,=]+|[0-9A-Fa-f:.]+")

_MISSING_ENDPOINT = "Connection string missing required properties endpoint."
_MISSING_PROPERTY = "Connection string missing required properties {}."


@dataclass(frozen=True, slots=True)
class ConnectionString:
    """A validated connection string. ``port`` is the effective port (``Port=`` wins over the one in
    ``Endpoint``, else the scheme's default); ``path`` is whatever path ``Endpoint`` carried."""

    scheme: str
    host: str
    port: int
    path: str
    access_key: str | None = field(default=None, repr=False)
    version: str | None = None
    client_endpoint: str | None = None
    server_endpoint: str | None = None
    auth_type: str | None = None
    client_id: str | None = None
    tenant_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    client_cert: str | None = None

    @property
    def uses_entra_id(self) -> bool:
        """True when ``AuthType`` selects Microsoft Entra ID; the access key is then ignored."""
        return self.auth_type in ENTRA_AUTH_TYPES


def parse_connection_string(text: str) -> ConnectionString:
    """Parse ``key=value;...`` as the C# SDK does, raising :class:`ConnectionStringError`.

    Validation order (§1.4): Endpoint, Version, Port, ClientEndpoint, ServerEndpoint, credentials.
    """
    properties = _tokenize(text)
    endpoint = properties.get("endpoint")
    if endpoint is None:
        raise ConnectionStringError(_MISSING_ENDPOINT)
    endpoint_parts = parse_http_uri(endpoint.rstrip("/"))
    if endpoint_parts is None:
        raise ConnectionStringError("Invalid value for endpoint property, it must be a valid URI.")

    version = properties.get("version")
    if version is not None and not _VERSION.fullmatch(version):
        raise ConnectionStringError(f"Version {version} is not supported.")

    scheme = endpoint_parts.scheme.lower()
    port = endpoint_parts.port or DEFAULT_PORTS[scheme]
    port_text = properties.get("port")
    if port_text is not None:
        if not _INTEGER.fullmatch(port_text) or not 0 < int(port_text) <= 65535:
            raise ConnectionStringError(
                "Invalid value for port property, it must be an positive integer between (0, 65536)"
            )
        port = int(port_text)

    client_endpoint = properties.get("clientendpoint")
    if client_endpoint is not None and parse_http_uri(client_endpoint) is None:
        raise ConnectionStringError(
            "Invalid value for clientEndpoint property, it must be a valid URI."
        )
    server_endpoint = properties.get("serverendpoint")
    if server_endpoint is not None and parse_http_uri(server_endpoint) is None:
        raise ConnectionStringError(
            f"ServerEndpoint property in connection string is not a valid URI: {server_endpoint}."
        )

    auth_type = properties.get("authtype")
    auth_type = auth_type.lower() if auth_type is not None else None
    client_id = properties.get("clientid")
    tenant_id = properties.get("tenantid")
    client_secret = properties.get("clientsecret")
    # The Learn page spells it ClientCertPath, the SDK reads clientCert: accept both (§1.2).
    client_cert = properties.get("clientcert", properties.get("clientcertpath"))
    access_key = properties.get("accesskey")
    _check_credentials(auth_type, access_key, client_id, tenant_id, client_secret, client_cert)

    return ConnectionString(
        scheme=scheme,
        host=(endpoint_parts.hostname or "").lower(),
        port=port,
        path=endpoint_parts.path,
        access_key=access_key,
        version=version,
        client_endpoint=client_endpoint,
        server_endpoint=server_endpoint,
        auth_type=auth_type,
        client_id=client_id,
        tenant_id=tenant_id,
        client_secret=client_secret,
        client_cert=client_cert,
    )


def parse_http_uri(text: str) -> SplitResult | None:
    """An absolute ``http``/``https`` URI with a host and a valid port, else None."""
    try:
        parts = urlsplit(text)
        _ = parts.port  # raises ValueError on a malformed port
    except ValueError:
        return None
    if parts.scheme.lower() not in DEFAULT_PORTS or not parts.hostname:
        return None
    if not _HOST.fullmatch(parts.hostname) or any(c.isspace() for c in text):
        return None
    return parts


def _tokenize(text: str) -> dict[str, str]:
    """§1.1: split on ``;``, drop empty segments, split each at its first ``=``, trim both sides."""
    segments = [segment for segment in text.split(";") if segment]
    if len(segments) < 2:
        raise ConnectionStringError(_MISSING_ENDPOINT)
    properties: dict[str, str] = {}
    for segment in segments:
        key, sep, value = segment.partition("=")
        if not sep:
            continue
        key = key.strip()
        if key.lower() in properties:
            raise ConnectionStringError(f"Duplicate properties found in connection string: {key}.")
        properties[key.lower()] = value.strip()
    return properties


def _check_credentials(
    auth_type: str | None,
    access_key: str | None,
    client_id: str | None,
    tenant_id: str | None,
    client_secret: str | None,
    client_cert: str | None,
) -> None:
    """§1.3: which keys each ``AuthType`` needs."""
    if auth_type not in ENTRA_AUTH_TYPES:
        if access_key is None:
            raise ConnectionStringError("accesskey is required.")
        return
    if auth_type == "azure.app":
        if client_id is None:
            raise ConnectionStringError(_MISSING_PROPERTY.format("clientId"))
        if tenant_id is None:
            raise ConnectionStringError(_MISSING_PROPERTY.format("tenantId"))
    needs_secret = auth_type == "azure.app" or (
        auth_type == "aad" and client_id is not None and tenant_id is not None
    )
    if needs_secret and client_secret is None and client_cert is None:
        raise ConnectionStringError(_MISSING_PROPERTY.format("clientSecret or clientCert"))
