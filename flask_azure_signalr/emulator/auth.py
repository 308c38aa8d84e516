"""Access-token checks of the emulator, as the service makes them.

A token is signed with the UTF-8 bytes of the access key (HS256 or HS512); the service requires
``aud`` and ``exp`` and ignores ``kid``, ``nbf``, ``iat`` and ``iss`` (auth-negotiate-options §2.1).
The audience is ``{scheme}://{host}/{server|client}/?hub={hub}`` built from the connection string's
endpoint, without the port (§2.3, service-protocol §4.3): the emulator compares the path, the hub
and the host (against the request's Host, its own host and, when it listens on loopback, the
loopback names), and accepts it with or without a port.

Failures raise :class:`TokenError`, whose text becomes the 401 body; it never contains the token
or the key.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
from jwt.algorithms import HMACAlgorithm

__all__ = ["LEEWAY_SECONDS", "TokenError", "VerifiedToken", "bearer_token", "claim_pairs", "verify_token"]

#: Clock skew tolerated on ``exp``.
LEEWAY_SECONDS = 30

_LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "[::1]", "0.0.0.0"})


class _ServiceHMAC(HMACAlgorithm):
    """HMAC without PyJWT's key-length warning: Azure access keys (44 characters) are shorter than
    RFC 7518 recommends for HS512, yet the service accepts them, so the emulator does too."""

    def check_key_length(self, key: Any) -> None:
        return None


_ALGORITHMS = {"HS256": HMACAlgorithm.SHA256, "HS512": HMACAlgorithm.SHA512}


def _service_jws() -> jwt.PyJWS:
    jws = jwt.PyJWS(algorithms=[])
    for name, digest in _ALGORITHMS.items():
        jws.register_algorithm(name, _ServiceHMAC(digest))
    return jws


_JWS = _service_jws()


class TokenError(Exception):
    """A request's access token is missing or not acceptable; the text says why (401 body)."""


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    """A token that passed every check: its payload, in the order the issuer wrote it."""

    payload: Mapping[str, object]

    def get(self, name: str) -> str | None:
        """A claim as text (the first value of a list), or None when absent."""
        value = self.payload.get(name)
        if isinstance(value, list):
            value = value[0] if value else None
        return None if value is None else _claim_text(value)


def bearer_token(headers: Mapping[str, str], query: Mapping[str, list[str]]) -> str | None:
    """The token of a request: ``Authorization: Bearer`` first, else the last ``access_token``.

    Browsers cannot set headers on WebSocket and EventSource requests, so they use the query
    (hub-protocol §1.3).
    """
    authorization = headers.get("authorization", "")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    values = query.get("access_token")
    if values and values[-1]:
        return values[-1]
    return None


def verify_token(
    token: str | None,
    access_key: str,
    *,
    kind: str,
    hub: str | None,
    hosts: Iterable[str],
) -> VerifiedToken:
    """Check signature, expiry and audience of a ``kind`` ("server" or "client") token for ``hub``.

    ``hosts`` are the host names an audience may carry (lower case, without port). ``hub`` None
    means an audience without a hub, as classic clients' ``{host}/aspnetclient`` (aspnet-classic §1.4).
    """
    if not token:
        raise TokenError("Unauthorized: no access token was provided.")
    try:
        payload = json.loads(_JWS.decode(token, access_key.encode("utf-8"), algorithms=list(_ALGORITHMS)))
    except jwt.InvalidSignatureError:
        raise TokenError("Unauthorized: the access token signature is invalid.") from None
    except jwt.InvalidAlgorithmError:
        raise TokenError("Unauthorized: the access token must be signed with HS256 or HS512.") from None
    except (jwt.PyJWTError, ValueError):
        raise TokenError("Unauthorized: the access token is malformed.") from None
    if not isinstance(payload, dict):
        raise TokenError("Unauthorized: the access token is malformed.")
    for claim in ("exp", "aud"):
        if claim not in payload:
            raise TokenError(f"Unauthorized: the access token has no '{claim}' claim.")
    expires = payload["exp"]
    if not isinstance(expires, (int, float)) or isinstance(expires, bool):
        raise TokenError("Unauthorized: the access token 'exp' claim is not a number.")
    if expires + LEEWAY_SECONDS <= time.time():
        raise TokenError("Unauthorized: the access token has expired.")
    _check_audience(payload["aud"], kind=kind, hub=hub, hosts=hosts)
    return VerifiedToken(payload)


def _check_audience(audience: object, *, kind: str, hub: str | None, hosts: Iterable[str]) -> None:
    candidates = audience if isinstance(audience, list) else [audience]
    allowed = {host.lower() for host in hosts}
    if allowed & _LOOPBACK_NAMES:
        allowed |= _LOOPBACK_NAMES
    for candidate in candidates:
        if isinstance(candidate, str) and _audience_matches(candidate, kind, hub, allowed):
            return
    expected = f"{kind}" if hub is None else f"{kind}/?hub={hub.lower()}"
    raise TokenError(
        f"Unauthorized: the access token audience does not match '{{scheme}}://{{host}}/{expected}'."
    )


def _audience_matches(audience: str, kind: str, hub: str | None, hosts: set[str]) -> bool:
    try:
        parts = urlsplit(audience)
        hostname = parts.hostname
    except ValueError:
        return False
    if parts.scheme.lower() not in ("http", "https") or hostname is None:
        return False
    if hostname.lower() not in hosts:
        return False
    if parts.path.rstrip("/") != f"/{kind}":
        return False
    hubs = parse_qs(parts.query).get("hub", [])
    if hub is None:
        return not hubs
    return len(hubs) == 1 and hubs[0].lower() == hub.lower()


def claim_pairs(token: VerifiedToken) -> list[tuple[str, str]]:
    """The token's claims as OpenConnection carries them: one (type, text) pair per value.

    A JSON array claim (several ``role`` claims) becomes one pair per element, in order
    (service-protocol §2.2).
    """
    pairs: list[tuple[str, str]] = []
    for name, value in token.payload.items():
        values = value if isinstance(value, list) else [value]
        pairs.extend((name, _claim_text(item)) for item in values)
    return pairs


def _claim_text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
