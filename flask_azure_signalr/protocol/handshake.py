"""The hub handshake (hub-protocol §2.2): one JSON object + RS each way, for every hub protocol.

Server side: :func:`answer_handshake` runs the whole .NET decision on a connection's first bytes
(parse, size limit, protocol, version, transfer format) and says what to reply; the runtime and
the emulator both use it. The pieces (:func:`parse_handshake_request`, :func:`select_protocol`,
:func:`encode_handshake_response`) are public for callers that need only one step. Client side:
:func:`encode_handshake_request` and :func:`parse_handshake_response`.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from ..exceptions import HubProtocolError
from .hub import PROTOCOLS, find_protocol
from .hub_protocol import HubProtocol

__all__ = [
    "HANDSHAKE_CANCELED",
    "HANDSHAKE_FAILED",
    "HandshakeRequest",
    "HandshakeResponse",
    "HandshakeOutcome",
    "parse_handshake_request",
    "encode_handshake_request",
    "parse_handshake_response",
    "encode_handshake_response",
    "select_protocol",
    "handshake_error_text",
    "answer_handshake",
]

HANDSHAKE_CANCELED = "Handshake was canceled."
"""Reply when no complete request arrived in time or within the size limit."""
HANDSHAKE_FAILED = "An unexpected error occurred during connection handshake."
"""Reply to a malformed request (detail appended only with detailed errors on)."""

_RS = b"\x1e"
_INT32 = range(-(2**31), 2**31)
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_SUCCESS_BYTES = b"{}" + _RS
_TOKEN_NAMES = {list: "Array", str: "String", bool: "Boolean", type(None): "Null"}


@dataclass(frozen=True, slots=True)
class HandshakeRequest:
    """What the client asks for: a protocol name (as sent, any case) and a version."""

    protocol: str
    version: int


@dataclass(frozen=True, slots=True)
class HandshakeResponse:
    """The server's answer; ``error`` None means success (``{}``)."""

    error: str | None = None

    @property
    def ok(self) -> bool:
        return not self.error


@dataclass(frozen=True, slots=True)
class HandshakeOutcome:
    """Result of :func:`answer_handshake` for a complete request.

    Send :attr:`response_bytes` in the connection's frame type (that of :attr:`protocol` on
    success, text otherwise); on failure close the connection afterwards. :attr:`rest` holds the
    bytes that followed the request (usually the first hub messages).
    """

    request: HandshakeRequest | None
    protocol: HubProtocol | None
    response: HandshakeResponse
    rest: bytes

    @property
    def ok(self) -> bool:
        return self.protocol is not None and self.response.ok

    @property
    def response_bytes(self) -> bytes:
        return encode_handshake_response(self.response)


def _as_bytes(buffer: bytes | bytearray | memoryview | str) -> bytes:
    if isinstance(buffer, str):
        try:
            return buffer.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise HubProtocolError(f"Error reading JSON. {exc}") from exc
    return buffer if type(buffer) is bytes else bytes(buffer)


def _split(buffer: bytes, limit: int | None) -> tuple[dict[str, Any], str, bytes] | None:
    """The JSON object before the first RS, its text, and what follows; None if no RS yet."""
    end = buffer.find(_RS, 0, limit)
    if end < 0:
        return None
    try:
        text = buffer[:end].decode("utf-8")
        obj = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise HubProtocolError(f"Error reading JSON. {exc}") from exc
    if type(obj) is not dict:
        kind = _TOKEN_NAMES.get(type(obj), "Number")
        raise HubProtocolError(f"Unexpected JSON Token Type '{kind}'. Expected a JSON Object.")
    return obj, text, buffer[end + 1 :]


def parse_handshake_request(
    buffer: bytes | bytearray | memoryview | str, *, max_size: int | None = None
) -> tuple[HandshakeRequest | None, bytes]:
    """Read the request at the start of ``buffer``: ``(request, rest)``, or ``(None, buffer)``.

    None means no RS yet (wait for more bytes), or, with ``max_size``, no RS within the first
    ``max_size`` bytes. Unknown fields are skipped; a malformed request raises HubProtocolError
    with the .NET reader's text.
    """
    data = _as_bytes(buffer)
    split = _split(data, max_size)
    if split is None:
        return None, data
    obj, text, rest = split
    protocol = obj.get("protocol")
    if "protocol" in obj and type(protocol) is not str:
        raise HubProtocolError("Expected 'protocol' to be of type String.")
    version = obj.get("version")
    if version is not None and (type(version) is not int or version not in _INT32):
        raise HubProtocolError("Expected 'version' to be of type Number.")
    if protocol is None:
        raise HubProtocolError(f"Missing required property 'protocol'. Message content: {text}")
    if version is None:
        raise HubProtocolError(f"Missing required property 'version'. Message content: {text}")
    return HandshakeRequest(protocol, version), rest


def encode_handshake_request(request: HandshakeRequest) -> bytes:
    """``{"protocol":"json","version":1}`` + RS, as the JS client writes it."""
    text = _ENCODER.encode({"protocol": request.protocol, "version": request.version})
    return text.encode("utf-8") + _RS


def parse_handshake_response(
    buffer: bytes | bytearray | memoryview | str,
) -> tuple[HandshakeResponse | None, bytes]:
    """Client side: the response at the start of ``buffer`` and the bytes after it.

    A first message carrying ``type`` is a hub message, not a response: HubProtocolError
    "Expected a handshake response from the server.", as the clients report it.
    """
    data = _as_bytes(buffer)
    split = _split(data, None)
    if split is None:
        return None, data
    obj, _text, rest = split
    if "type" in obj:
        raise HubProtocolError("Expected a handshake response from the server.")
    error = obj.get("error")
    if error is not None and type(error) is not str:
        raise HubProtocolError("Expected 'error' to be of type String.")
    return HandshakeResponse(error), rest


def encode_handshake_response(response: HandshakeResponse = HandshakeResponse()) -> bytes:
    """``{}`` + RS on success, ``{"error":"..."}`` + RS on failure."""
    if not response.error:
        return _SUCCESS_BYTES
    return _ENCODER.encode({"error": response.error}).encode("utf-8") + _RS


def select_protocol(
    request: HandshakeRequest,
    protocols: Mapping[str, HubProtocol] = PROTOCOLS,
    *,
    transfer_formats: Collection[str] | None = None,
) -> tuple[HubProtocol | None, HandshakeResponse]:
    """The protocol to use and the response to send, with the .NET server's error texts.

    ``protocols`` are the ones this endpoint allows. ``transfer_formats`` are those the transport
    can carry (``TEXT``/``BINARY``); None skips the check, as behind Azure where only the service
    knows the transport (§4.1).
    """
    protocol = find_protocol(request.protocol, protocols)
    if protocol is None:
        return None, HandshakeResponse(f"The protocol '{request.protocol}' is not supported.")
    if not protocol.is_version_supported(request.version):
        return None, HandshakeResponse(
            f"The server does not support version {request.version} of the '{request.protocol}' protocol."
        )
    if transfer_formats is not None and protocol.transfer_format not in transfer_formats:
        return None, HandshakeResponse(
            f"Cannot use the '{protocol.name}' protocol on the current transport. "
            f"The transport does not support '{protocol.transfer_format.capitalize()}' transfer format."
        )
    return protocol, HandshakeResponse()


def handshake_error_text(error: HubProtocolError, *, detailed: bool = False) -> str:
    """The reply to a malformed request; the detail follows .NET's ErrorMessageHelper shape."""
    if not detailed:
        return HANDSHAKE_FAILED
    return f"{HANDSHAKE_FAILED} InvalidDataException: {error}"


def answer_handshake(
    buffer: bytes | bytearray | memoryview | str,
    protocols: Mapping[str, HubProtocol] = PROTOCOLS,
    *,
    transfer_formats: Collection[str] | None = None,
    max_size: int | None = None,
    detailed_errors: bool = False,
) -> HandshakeOutcome | None:
    """Decide the reply to a connection's first bytes; None while the request is incomplete.

    Covers every server-side case of §2.2 except the 15 s timeout, which the caller times and
    answers with ``HandshakeResponse(HANDSHAKE_CANCELED)``. With ``max_size`` (the maximum
    message size), more than that many bytes without a complete request is "Handshake was
    canceled.", as in .NET.
    """
    try:
        data = _as_bytes(buffer)
        request, rest = parse_handshake_request(data, max_size=max_size)
    except HubProtocolError as exc:
        return HandshakeOutcome(None, None, HandshakeResponse(handshake_error_text(exc, detailed=detailed_errors)), b"")
    if request is None:
        if max_size is not None and len(data) > max_size:
            return HandshakeOutcome(None, None, HandshakeResponse(HANDSHAKE_CANCELED), b"")
        return None
    protocol, response = select_protocol(request, protocols, transfer_formats=transfer_formats)
    return HandshakeOutcome(request, protocol, response, rest)
