"""Self-signed access tokens, byte for byte as the C# SDK writes them (auth-negotiate-options §2.1,
§2.2; service-protocol §4.3).

Built here rather than with PyJWT because the SDK's header order (``alg, typ, kid``) and payload
order (service claims, user claims, then ``nbf, exp, iat, aud``) are part of the test vectors; the
HMAC key is the UTF-8 bytes of the AccessKey as written, never base64-decoded.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from .endpoints import ServiceEndpoint
from .exceptions import AccessTokenError

__all__ = [
    "ALGORITHMS",
    "MAX_TOKEN_LENGTH",
    "TOKEN_TOO_LONG_MESSAGE",
    "encode_token",
    "generate_client_token",
    "generate_server_token",
    "generate_rest_token",
]

ALGORITHMS = {"HS256": hashlib.sha256, "HS512": hashlib.sha512}
MAX_TOKEN_LENGTH = 4096
TOKEN_TOO_LONG_MESSAGE = "AccessToken must not be longer than 4K."
DEFAULT_LIFETIME = timedelta(hours=1)

_REGISTERED_CLAIMS = ("nbf", "exp", "iat", "aud")
#: Signed tokens of the current second, by everything that goes into their bytes (see :func:`_sign`).
_recent: dict[tuple[Any, ...], str] = {}
_RECENT_LIMIT = 256


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _now() -> float:
    return time.time()


def encode_token(
    payload: Mapping[str, Any], key: str, *, algorithm: str = "HS256", kid: str | None = None
) -> str:
    """Compact JWS of ``payload`` (keys in the given order), signed with the UTF-8 bytes of ``key``.

    Raises :class:`AccessTokenError` when the token would exceed 4096 characters.
    """
    digest = ALGORITHMS.get(algorithm)
    if digest is None:
        raise ValueError(f"unsupported algorithm {algorithm!r}; allowed: {', '.join(ALGORITHMS)}")
    header: dict[str, str] = {"alg": algorithm, "typ": "JWT"}
    if kid is not None:
        header["kid"] = kid
    signing_input = f"{_b64url(_json(header))}.{_b64url(_json(payload))}"
    signature = hmac.new(key.encode("utf-8"), signing_input.encode("ascii"), digest).digest()
    token = f"{signing_input}.{_b64url(signature)}"
    if len(token) > MAX_TOKEN_LENGTH:
        raise AccessTokenError(TOKEN_TOO_LONG_MESSAGE)
    return token


def _claims_key(claims: Mapping[str, Any]) -> tuple[Any, ...] | None:
    """``claims`` as a hashable key that equals another only if both encode to the same JSON.

    Only strings and lists of strings (repeated claims) qualify: ``1``, ``1.0`` and ``True`` are
    equal in Python but not in JSON, so claims of other types are never looked up.
    """
    items: list[Any] = []
    for name, value in claims.items():
        if type(value) is str:
            items.append((name, value))
        elif type(value) is list and all(type(part) is str for part in value):
            items.append((name, tuple(value)))
        else:
            return None
    return tuple(items)


def _sign(
    endpoint: ServiceEndpoint,
    claims: Mapping[str, Any],
    audience: str,
    *,
    lifetime: timedelta,
    algorithm: str,
    now: float | None,
    kid: str | None,
) -> str:
    if lifetime <= timedelta(0):
        raise ValueError("the access token lifetime must be positive")
    clashes = [name for name in _REGISTERED_CLAIMS if name in claims]
    if clashes:
        raise ValueError(f"claims must not contain the registered claims {clashes}")
    issued = _now() if now is None else now
    not_before = int(issued)
    expires = int(issued + lifetime.total_seconds())
    # The claims have one-second resolution, so every negotiate of one kind within a second signs
    # the same bytes: reuse them. The key holds every input of the token, claim order included.
    claims_key = _claims_key(claims)
    key = None
    if claims_key is not None:
        key = (endpoint.access_key, kid, audience, algorithm, not_before, expires, claims_key)
        token = _recent.get(key)
        if token is not None:
            return token
    payload = dict(claims)
    payload["nbf"] = not_before
    payload["exp"] = expires
    payload["iat"] = not_before
    payload["aud"] = audience
    token = encode_token(
        payload,
        endpoint.access_key,
        algorithm=algorithm,
        kid=endpoint.key_id if kid is None else kid,
    )
    if key is not None:
        if len(_recent) >= _RECENT_LIMIT:
            _recent.clear()
        _recent[key] = token
    return token


def generate_client_token(
    endpoint: ServiceEndpoint,
    hub: str | None,
    claims: Mapping[str, Any],
    *,
    lifetime: timedelta = DEFAULT_LIFETIME,
    algorithm: str = "HS256",
    classic: bool = False,
    now: float | None = None,
    kid: str | None = None,
) -> str:
    """The token negotiate hands to a client. ``hub`` is the prefixed, lower-cased hub (ignored
    for classic clients, whose audience is ``{host}/aspnetclient``); ``claims`` come from
    :func:`flask_azure_signalr.claims.build_client_claims`."""
    audience = endpoint.client_audience(hub, classic=classic)
    return _sign(
        endpoint, claims, audience, lifetime=lifetime, algorithm=algorithm, now=now, kid=kid
    )


def generate_server_token(
    endpoint: ServiceEndpoint,
    hub: str,
    *,
    server_id: str,
    lifetime: timedelta = DEFAULT_LIFETIME,
    algorithm: str = "HS256",
    classic: bool = False,
    now: float | None = None,
    kid: str | None = None,
) -> str:
    """The Bearer token of one server-connection attempt: ``nameid`` = server id (omitted when
    empty), audience ``{host}/server/?hub={hub}`` or ``aspnetserver`` for classic apps."""
    claims = {"nameid": server_id} if server_id else {}
    audience = endpoint.server_audience(hub, classic=classic)
    return _sign(
        endpoint, claims, audience, lifetime=lifetime, algorithm=algorithm, now=now, kid=kid
    )


def generate_rest_token(
    endpoint: ServiceEndpoint,
    url: str,
    *,
    server_id: str,
    lifetime: timedelta = DEFAULT_LIFETIME,
    now: float | None = None,
    kid: str | None = None,
) -> str:
    """A REST API token (always HS256). ``url`` is the request URL without the per-call parameters
    the SDK leaves out of the audience (``excluded``, ``reason``, ``ttl``)."""
    claims = {"nameid": server_id} if server_id else {}
    return _sign(
        endpoint,
        claims,
        endpoint.rest_audience(url),
        lifetime=lifetime,
        algorithm="HS256",
        now=now,
        kid=kid,
    )
