"""Classic ASP.NET SignalR 2.x JSON messages, sans-IO (aspnet-classic §1.8, §2.5, §2.6).

Text or bytes in, frozen message objects out, and back. Used by the hub runtime (it parses what
jQuery clients send and writes results and client-method calls), by the emulator (it unwraps the
app's double-framed payloads and writes init, keep-alive and error messages to classic
transports) and by Python test clients. Decoders raise only :class:`ClassicProtocolError`, whose
message names the offending field.

Two directions, two vocabularies:

* client -> server: :class:`HubInvocation` ``{"H","M","A","I","S"}``, see :func:`parse_invocation`;
* server -> client: :class:`KeepAlive` ``{}``, :class:`ServerError` ``{"E"}``, a bare
  :class:`HubResponse` / :class:`HubProgress`, or a :class:`PersistentResponse` envelope
  ``{"C","S","T","G","L","M"}`` whose ``M`` holds :class:`ClientInvocation`, :class:`HubResponse`
  and :class:`HubProgress` items; see :func:`parse_server_message` and :func:`encode`.

What travels between app and service is wrapped once more (§2.5, service-protocol §8):
:func:`wrap_payload` / :func:`unwrap_payload`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence, Union
from urllib.parse import parse_qsl

from ..exceptions import ClassicProtocolError, ServiceProtocolError
from .service import ConnectionData, decode_body
from .service import encode as encode_service_message
from .varint import FrameBuffer, VarintError

__all__ = [
    "RECONNECT_PAYLOAD",
    "STATE_MAX_LENGTH",
    "SSE_INITIALIZED",
    "HubInvocation",
    "ClientInvocation",
    "HubResponse",
    "HubProgress",
    "PersistentResponse",
    "KeepAlive",
    "ServerError",
    "ServerMessage",
    "EnvelopeItem",
    "ClassicQuery",
    "parse_invocation",
    "salvage_invocation_id",
    "parse_server_message",
    "encode",
    "init_message",
    "envelope",
    "wrap_payload",
    "unwrap_payload",
    "is_reconnect",
    "hub_group_name",
    "group_of",
    "parse_query",
    "parse_connection_data",
    "encode_connection_data",
    "parse_send_body",
    "make_connection_token",
    "read_connection_token",
    "hub_method_error",
    "hub_not_found",
    "method_not_found",
]

#: ``ConnectionData`` payload the service sends when a classic client reconnected (§2.4).
RECONNECT_PAYLOAD = b"asrs:reconnect"

#: Classic rejects caller state whose JSON is longer than this (§2.6).
STATE_MAX_LENGTH = 4096

#: First SSE event of a classic server; the jQuery client ignores exactly this text (§1.5).
SSE_INITIALIZED = "initialized"

_STATE_TOO_LONG = f"State has exceeded the maximum length of {STATE_MAX_LENGTH} bytes."
_PROGRESS_PREFIX = "P|"


# -- messages -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HubInvocation:
    """Client -> server: call ``method`` on ``hub`` (§2.6).

    ``hub`` is as the client sent it (lowercase from jQuery proxies); look hubs up by
    :attr:`hub_key`. ``invocation_id`` is always a string (clients send a number), None if the
    client sent none; ``state`` is the caller state ``S``.
    """

    hub: str
    method: str
    arguments: tuple[Any, ...] = ()
    invocation_id: str | None = None
    state: Mapping[str, Any] | None = None

    @property
    def hub_key(self) -> str:
        """Hub names are case-insensitive for classic clients."""
        return self.hub.lower()

    @property
    def method_key(self) -> str:
        """Method names are case-insensitive for classic clients."""
        return self.method.lower()


@dataclass(frozen=True, slots=True)
class ClientInvocation:
    """Server -> client: run client handler ``method`` of ``hub``; travels inside an envelope.

    ``state`` carries caller-state changes for the proxy (``S``), omitted when None.
    """

    hub: str
    method: str
    arguments: tuple[Any, ...] = ()
    state: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class HubResponse:
    """Server -> client: the outcome of a :class:`HubInvocation` (classic ``HubResponse``).

    None members are omitted on the wire. ``error`` set means failure; ``hub_exception`` marks a
    ``HubException`` (client error source ``HubException``) and ``error_data`` is its data.
    ``stack_trace`` exists for completeness; the Azure SDK never sends one.
    """

    invocation_id: str
    result: Any = None
    error: str | None = None
    hub_exception: bool = False
    error_data: Any = None
    state: Mapping[str, Any] | None = None
    stack_trace: str | None = None


@dataclass(frozen=True, slots=True)
class HubProgress:
    """Server -> client: a progress report for invocation ``invocation_id``.

    On the wire ``I`` is ``P|<id>`` so clients without progress support drop it (§2.6).
    """

    invocation_id: str
    data: Any = None


#: What may stand in a persistent response's ``M`` array.
EnvelopeItem = Union[ClientInvocation, HubResponse, HubProgress]


@dataclass(frozen=True, slots=True)
class PersistentResponse:
    """Server -> client envelope ``{"C","S","T","G","L","M"}`` (§1.8, §2.5).

    ``message_id`` is the cursor ``C`` (long polling needs it non-empty; None omits it),
    ``initialized`` writes ``"S":1`` (the init message), ``reconnect`` writes ``"T":1`` (server
    asks a long-polling client to reconnect), ``groups_token`` is ``G``, ``long_poll_delay``
    is ``L`` in milliseconds.
    """

    message_id: str | None = None
    messages: tuple[EnvelopeItem, ...] = ()
    initialized: bool = False
    reconnect: bool = False
    groups_token: str | None = None
    long_poll_delay: int | None = None


@dataclass(frozen=True, slots=True)
class KeepAlive:
    """Server -> client ``{}``: only refreshes the client's keep-alive timer."""


@dataclass(frozen=True, slots=True)
class ServerError:
    """Server -> client ``{"E": text}``: fatal, the client stops without reconnecting (§1.8)."""

    error: str


ServerMessage = Union[KeepAlive, ServerError, HubResponse, HubProgress, PersistentResponse]


# -- JSON helpers ---------------------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _loads(data: bytes | bytearray | memoryview | str, what: str) -> Any:
    """Strict JSON: UTF-8, no NaN/Infinity, no nesting deep enough to exhaust the stack."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ClassicProtocolError(f"{what} is not valid UTF-8") from exc
    elif isinstance(data, str):
        text = data
    else:
        raise ClassicProtocolError(f"{what} must be bytes or str, not {type(data).__name__}")
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise ClassicProtocolError(f"{what} is not valid JSON") from exc


def _dumps(value: Any, what: str) -> str:
    """Compact JSON as Json.NET writes it; falls back to \\u escapes for unpaired surrogates."""
    try:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise ClassicProtocolError(f"{what} cannot be written as JSON: {exc}") from exc
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value, separators=(",", ":"), allow_nan=False)
    return text


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ClassicProtocolError(f"{what} must be a JSON object")
    return value


def _name(obj: Mapping[str, Any], key: str, what: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise ClassicProtocolError(f"field {key} ({what}) must be a non-empty string")
    return value


def _arguments(obj: Mapping[str, Any], key: str = "A") -> tuple[Any, ...]:
    value = obj.get(key)
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ClassicProtocolError(f"field {key} (arguments) must be an array")
    return tuple(value)


def _id(value: Any, key: str) -> str:
    """Classic ids are strings on the wire from the server, numbers from the jQuery client."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise ClassicProtocolError(f"field {key} (invocation id) must be a string or an integer")


def _state(obj: Mapping[str, Any], key: str = "S") -> dict[str, Any] | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ClassicProtocolError(f"field {key} (state) must be a JSON object")
    return value


def _optional_str(obj: Mapping[str, Any], key: str, what: str) -> str | None:
    value = obj.get(key)
    if value is None or isinstance(value, str):
        return value
    raise ClassicProtocolError(f"field {key} ({what}) must be a string")


# -- client -> server -----------------------------------------------------------------------------


def parse_invocation(data: bytes | bytearray | memoryview | str) -> HubInvocation:
    """Parse one hub invocation as a client sends it (a WebSocket frame or a ``/send`` ``data``).

    ``A`` missing or null means no arguments; ``I`` may be a number or a string; state longer
    than :data:`STATE_MAX_LENGTH` characters of compact JSON is refused with classic's message.
    """
    obj = _object(_loads(data, "hub invocation"), "hub invocation")
    hub = _name(obj, "H", "hub name")
    method = _name(obj, "M", "method name")
    arguments = _arguments(obj)
    raw_id = obj.get("I")
    invocation_id = None if raw_id is None else _id(raw_id, "I")
    state = _state(obj)
    if state is not None and len(_dumps(state, "field S (state)")) > STATE_MAX_LENGTH:
        raise ClassicProtocolError(f"field S (state): {_STATE_TOO_LONG}")
    return HubInvocation(hub, method, arguments, invocation_id, state)


def salvage_invocation_id(data: bytes | bytearray | memoryview | str) -> str | None:
    """The ``I`` of a message :func:`parse_invocation` refused, if one can be read; never raises.

    Lets the hub runtime answer a malformed invocation with an error result instead of the C#
    SDK's silence (§2.8).
    """
    try:
        obj = _loads(data, "hub invocation")
        return _id(obj["I"], "I") if isinstance(obj, dict) and obj.get("I") is not None else None
    except ClassicProtocolError:
        return None


def _invocation_obj(message: HubInvocation) -> dict[str, Any]:
    obj: dict[str, Any] = {"H": message.hub, "M": message.method, "A": list(message.arguments)}
    if message.invocation_id is not None:
        obj["I"] = message.invocation_id
    if message.state:
        obj["S"] = dict(message.state)
    return obj


# -- server -> client: encoding -------------------------------------------------------------------


def _client_invocation_obj(message: ClientInvocation) -> dict[str, Any]:
    obj: dict[str, Any] = {"H": message.hub, "M": message.method, "A": list(message.arguments)}
    if message.state:
        obj["S"] = dict(message.state)
    return obj


def _response_obj(message: HubResponse) -> dict[str, Any]:
    # Json.NET's member order for HubResponse is S, R, I, P, H, E, T, D (§2.6).
    obj: dict[str, Any] = {}
    if message.state:
        obj["S"] = dict(message.state)
    if message.result is not None:
        obj["R"] = message.result
    obj["I"] = message.invocation_id
    if message.hub_exception:
        obj["H"] = True
    if message.error is not None:
        obj["E"] = message.error
    if message.stack_trace is not None:
        obj["T"] = message.stack_trace
    if message.error_data is not None:
        obj["D"] = message.error_data
    return obj


def _progress_obj(message: HubProgress) -> dict[str, Any]:
    return {
        "I": _PROGRESS_PREFIX + message.invocation_id,
        "P": {"I": message.invocation_id, "D": message.data},
    }


def _envelope_obj(message: PersistentResponse) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    if message.message_id is not None:
        obj["C"] = message.message_id
    if message.initialized:
        obj["S"] = 1
    if message.reconnect:
        obj["T"] = 1
    if message.groups_token is not None:
        obj["G"] = message.groups_token
    if message.long_poll_delay is not None:
        obj["L"] = message.long_poll_delay
    obj["M"] = [_to_obj(item) for item in message.messages]
    return obj


def _to_obj(message: Any) -> dict[str, Any]:
    if isinstance(message, HubResponse):
        return _response_obj(message)
    if isinstance(message, ClientInvocation):
        return _client_invocation_obj(message)
    if isinstance(message, HubProgress):
        return _progress_obj(message)
    if isinstance(message, PersistentResponse):
        return _envelope_obj(message)
    if isinstance(message, HubInvocation):
        return _invocation_obj(message)
    if isinstance(message, KeepAlive):
        return {}
    if isinstance(message, ServerError):
        return {"E": message.error}
    raise TypeError(f"not a classic message: {type(message).__name__}")


def encode(message: ServerMessage | ClientInvocation | HubInvocation) -> str:
    """The JSON text of any classic message, compact, members in classic's order.

    Raises :class:`ClassicProtocolError` when a value (a hub result, an argument) is not
    JSON-serializable, and TypeError for an object that is not a classic message.
    """
    return _dumps(_to_obj(message), type(message).__name__)


def init_message(message_id: str = "0") -> str:
    """The init message a transport must deliver first: ``{"C":…,"S":1,"M":[]}`` (§1.5)."""
    return encode(PersistentResponse(message_id=message_id, initialized=True))


def envelope(*items: EnvelopeItem) -> str:
    """The envelope the app wraps around client-method calls: cursor ``"0"``, no flags (§2.5)."""
    return encode(PersistentResponse(message_id="0", messages=items))


# -- server -> client: decoding -------------------------------------------------------------------


def _parse_response(obj: Mapping[str, Any], invocation_id: str) -> HubResponse:
    error = _optional_str(obj, "E", "error")
    return HubResponse(
        invocation_id=invocation_id,
        result=obj.get("R"),
        error=error,
        hub_exception=bool(obj.get("H")),
        error_data=obj.get("D"),
        state=_state(obj),
        stack_trace=_optional_str(obj, "T", "stack trace"),
    )


def _parse_progress(obj: Mapping[str, Any]) -> HubProgress:
    progress = _object(obj["P"], "field P (progress)")
    if progress.get("I") is None:
        raise ClassicProtocolError("field P.I (progress invocation id) is missing")
    return HubProgress(_id(progress["I"], "P.I"), progress.get("D"))


def _parse_item(value: Any) -> EnvelopeItem:
    # The jQuery client's order: progress first, then results, then client-method calls (§1.8).
    obj = _object(value, "envelope item")
    if obj.get("P") is not None:
        return _parse_progress(obj)
    if obj.get("I") is not None:
        return _parse_response(obj, _id(obj["I"], "I"))
    hub = _name(obj, "H", "hub name")
    method = _name(obj, "M", "method name")
    return ClientInvocation(hub, method, _arguments(obj), _state(obj))


def _parse_envelope(obj: Mapping[str, Any]) -> PersistentResponse:
    items = obj.get("M")
    if not isinstance(items, list):
        raise ClassicProtocolError("field M (messages) must be an array")
    delay = obj.get("L")
    if delay is not None and (
        isinstance(delay, bool)
        or not isinstance(delay, (int, float))
        or not math.isfinite(delay)
        or delay < 0
    ):
        raise ClassicProtocolError("field L (long poll delay) must be a non-negative number")
    return PersistentResponse(
        message_id=_optional_str(obj, "C", "message id"),
        messages=tuple(_parse_item(item) for item in items),
        initialized="S" in obj,
        reconnect="T" in obj,
        groups_token=_optional_str(obj, "G", "groups token"),
        long_poll_delay=None if delay is None else int(delay),
    )


def parse_server_message(data: bytes | bytearray | memoryview | str) -> ServerMessage:
    """Parse one message as a classic client receives it (frame, SSE event or poll body).

    Dispatch follows the jQuery client: ``{}`` keep-alive; ``P`` progress; ``I`` hub result;
    ``E`` alone fatal error; otherwise a persistent response that must carry ``M``. Leading
    whitespace (long-poll keep-alive padding) is tolerated as JSON allows.
    """
    obj = _object(_loads(data, "server message"), "server message")
    if not obj:
        return KeepAlive()
    if obj.get("P") is not None:
        return _parse_progress(obj)
    if obj.get("I") is not None:
        return _parse_response(obj, _id(obj["I"], "I"))
    if "M" not in obj and obj.get("E") is not None:
        return ServerError(_name(obj, "E", "error"))
    return _parse_envelope(obj)


# -- double framing between app and service (§2.5, service-protocol §8) ---------------------------


def wrap_payload(text: str | bytes) -> bytes:
    """Frame classic JSON as the app must hand it to the service.

    The result is a complete, length-prefixed service-protocol ``ConnectionData`` frame with an
    empty connection id carrying the UTF-8 JSON; it goes into an outer ``ConnectionData.payload``
    or a ``payloads["json"]`` entry.
    """
    payload = text.encode("utf-8") if isinstance(text, str) else bytes(text)
    return encode_service_message(ConnectionData(connection_id="", payload=payload))


def unwrap_payload(data: bytes | bytearray | memoryview) -> list[bytes]:
    """The JSON payloads inside app -> service payload bytes: one per frame, back to back.

    Raises :class:`ClassicProtocolError` for truncated data, a frame that is not
    ``ConnectionData`` with an empty connection id, or an empty input.
    """
    frames = FrameBuffer()
    try:
        bodies = frames.feed(data)
    except VarintError as exc:
        raise ClassicProtocolError(f"classic payload frame has a bad length prefix: {exc}") from exc
    if frames.pending:
        raise ClassicProtocolError("classic payload ends inside a frame")
    if not bodies:
        raise ClassicProtocolError("classic payload holds no frame")
    payloads: list[bytes] = []
    for body in bodies:
        try:
            message = decode_body(body)
        except ServiceProtocolError as exc:
            raise ClassicProtocolError(f"classic payload frame is invalid: {exc}") from exc
        if not isinstance(message, ConnectionData) or message.connection_id:
            raise ClassicProtocolError(
                "classic payload frame must be a ConnectionData with an empty connection id"
            )
        payloads.append(bytes(message.payload))
    return payloads


def is_reconnect(payload: bytes | bytearray | memoryview) -> bool:
    """True for the service's "client reconnected" ``ConnectionData`` payload (§2.4)."""
    return bytes(payload) == RECONNECT_PAYLOAD


# -- groups (§2.7) --------------------------------------------------------------------------------


def hub_group_name(hub: str, group: str) -> str:
    """The group name the service sees: ``hg-{Hub}.{group}``, case kept (it is case-sensitive)."""
    return f"hg-{hub}.{group}"


def group_of(name: str, hub: str) -> str | None:
    """The user's group inside ``name`` if it is a group of ``hub`` (as written), else None.

    Needs the hub because hub names may contain dots.
    """
    prefix = f"hg-{hub}."
    return name[len(prefix) :] if name.startswith(prefix) else None


# -- query strings and form bodies (§1.2, §1.7, §2.3) ---------------------------------------------


@dataclass(frozen=True, slots=True)
class ClassicQuery:
    """The classic parameters of a client request's query string.

    ``hubs`` are the names listed in ``connectionData`` as sent (jQuery lowercases them);
    ``params`` keeps every parameter's first value, including user ones.
    """

    transport: str | None = None
    client_protocol: str | None = None
    connection_token: str | None = None
    hubs: tuple[str, ...] = ()
    message_id: str | None = None
    groups_token: str | None = None
    params: Mapping[str, str] = field(default_factory=dict)


def parse_connection_data(text: str) -> tuple[str, ...]:
    """Hub names from ``connectionData``: a JSON array of ``{"name": hub}`` (``Name`` accepted).

    Duplicate names (case-insensitive) are refused as classic refuses them.
    """
    value = _loads(text, "connectionData")
    if not isinstance(value, list):
        raise ClassicProtocolError("connectionData must be a JSON array")
    hubs: list[str] = []
    seen: set[str] = set()
    for entry in value:
        if not isinstance(entry, dict):
            raise ClassicProtocolError("connectionData entries must be JSON objects")
        name = next((entry[key] for key in entry if key.lower() == "name"), None)
        if not isinstance(name, str) or not name:
            raise ClassicProtocolError("connectionData entry name must be a non-empty string")
        if name.lower() in seen:
            raise ClassicProtocolError(f"connectionData names hub {name!r} twice")
        seen.add(name.lower())
        hubs.append(name)
    return tuple(hubs)


def encode_connection_data(hubs: Sequence[str]) -> str:
    """``connectionData`` as the jQuery client writes it: ``[{"name":"chathub"}]``."""
    return _dumps([{"name": hub.lower()} for hub in hubs], "connectionData")


def parse_query(query: str) -> ClassicQuery:
    """Parse a classic request query (``OpenConnection`` query, negotiate, connect, poll…).

    A leading ``?``, empty segments (``&&``), repeated ``_`` and unknown parameters are
    tolerated (§1.2); for repeated names the first value wins. Only ``connectionData`` can make
    this raise.
    """
    params: dict[str, str] = {}
    for key, value in parse_qsl(query.removeprefix("?"), keep_blank_values=True):
        params.setdefault(key, value)
    connection_data = params.get("connectionData")
    return ClassicQuery(
        transport=params.get("transport"),
        client_protocol=params.get("clientProtocol"),
        connection_token=params.get("connectionToken") or None,
        hubs=parse_connection_data(connection_data) if connection_data else (),
        message_id=params.get("messageId"),
        groups_token=params.get("groupsToken"),
        params=params,
    )


def parse_send_body(body: bytes | str) -> str:
    """The invocation JSON from a ``/send`` form body ``data=<url-encoded JSON>`` (§1.7)."""
    if isinstance(body, bytes):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ClassicProtocolError("send body is not valid UTF-8") from exc
    for key, value in parse_qsl(body, keep_blank_values=True):
        if key == "data":
            return value
    raise ClassicProtocolError("send body has no data field")


# -- connection tokens (§1.4) ---------------------------------------------------------------------


_TOKEN_MAC_SIZE = 16


def make_connection_token(connection_id: str, user: str, key: bytes) -> str:
    """An opaque ``ConnectionToken`` binding ``connection_id`` to ``user`` (may be empty).

    Classic protects ``"{id}:{user}"``; here it is signed with HMAC-SHA256 under ``key`` (a
    secret of whoever issues it) and base64-encoded, so it may contain ``/ + =`` as the real
    tokens do. Not encrypted: the id and user are not secret.
    """
    if ":" in connection_id:
        raise ValueError("a connection id must not contain ':'")
    body = f"{connection_id}:{user}".encode("utf-8")
    mac = hmac.new(key, body, hashlib.sha256).digest()[:_TOKEN_MAC_SIZE]
    return base64.b64encode(mac + body).decode("ascii")


def read_connection_token(token: str, key: bytes) -> tuple[str, str]:
    """``(connection_id, user)`` from a token made by :func:`make_connection_token`.

    Raises :class:`ClassicProtocolError` (which never quotes the token) when it is malformed or
    was not signed with ``key``.
    """
    try:
        raw = base64.b64decode(token.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise ClassicProtocolError("connectionToken is malformed") from exc
    mac, body = raw[:_TOKEN_MAC_SIZE], raw[_TOKEN_MAC_SIZE:]
    expected = hmac.new(key, body, hashlib.sha256).digest()[:_TOKEN_MAC_SIZE]
    if len(mac) != _TOKEN_MAC_SIZE or not hmac.compare_digest(mac, expected):
        raise ClassicProtocolError("connectionToken is not valid")
    try:
        connection_id, separator, user = body.decode("utf-8").partition(":")
    except UnicodeDecodeError as exc:
        raise ClassicProtocolError("connectionToken is malformed") from exc
    if not separator or not connection_id:
        raise ClassicProtocolError("connectionToken is malformed")
    return connection_id, user


# -- error texts classic clients see (§2.8) -------------------------------------------------------


def hub_method_error(hub: str, method: str) -> str:
    """The generic ``E`` when detailed errors are off; ``hub``/``method`` as the client sent them."""
    return f"There was an error invoking Hub method '{hub}.{method}'."


def hub_not_found(hub: str) -> str:
    """Classic's text for an unknown hub name."""
    return f"'{hub}' Hub could not be resolved."


def method_not_found(method: str) -> str:
    """Classic's text for a method name no hub method has."""
    return f"'{method}' method could not be resolved. No method found with that name."
