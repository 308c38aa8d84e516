"""The JSON hub protocol (hub-protocol §2.1, §2.4): one JSON object per message, each ending in RS.

Writer: key order, compact separators and the optional-field rules of the .NET server, so the
bytes match what ASP.NET Core sends. Non-ASCII text is written as UTF-8, not ``\\u`` escapes,
because .NET's SignalR writer uses the relaxed encoder. Reader: key order is free (the JS client
puts ``type`` last), unknown keys are ignored, and the error texts are those of the .NET reader.
"""

from __future__ import annotations

import base64
import datetime as _dt
import json
from collections.abc import Callable, Sequence
from typing import Any

from ..exceptions import HubProtocolError
from .hub_messages import (
    PING,
    AckMessage,
    CancelInvocationMessage,
    CloseMessage,
    CompletionMessage,
    HubMessage,
    InvocationMessage,
    PingMessage,
    SequenceMessage,
    StreamInvocationMessage,
    StreamItemMessage,
)
from .hub_protocol import TEXT, HubMessageParser, HubProtocol, message_too_large

__all__ = ["JsonHubProtocol", "JsonHubMessageParser", "RECORD_SEPARATOR"]

RECORD_SEPARATOR = b"\x1e"
_RS_TEXT = "\x1e"
_INT32 = range(-(2**31), 2**31)
_INT64 = range(-(2**63), 2**63)
_MISSING: Any = object()


def _iso8601(value: _dt.datetime) -> str:
    """The round-trip form System.Text.Json writes: fraction trimmed, UTC as ``Z``."""
    text = value.replace(tzinfo=None).isoformat(timespec="microseconds" if value.microsecond else "seconds")
    if value.microsecond:
        text = text.rstrip("0")
    offset = value.utcoffset()
    if offset is None:
        return text
    seconds = int(offset.total_seconds())
    if not seconds:
        return text + "Z"
    sign = "-" if seconds < 0 else "+"
    hours, minutes = divmod(abs(seconds) // 60, 60)
    return f"{text}{sign}{hours:02d}:{minutes:02d}"


def _json_default(value: Any) -> Any:
    """Values JSON lacks, written the way the .NET server writes them (§2.6)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, _dt.datetime):
        return _iso8601(value)
    if isinstance(value, _dt.date):
        return value.isoformat()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"'{name}' is not valid JSON")


def _make_text_encoder() -> Callable[[Any], str]:
    """Compact, UTF-8-friendly, NaN-rejecting JSON writer, built once.

    JSONEncoder.encode() builds a new C encoder on every call; on CPython we keep one instead
    (no circular-reference markers, so a cycle ends in RecursionError, which is reported).
    """
    c_make_encoder = getattr(json.encoder, "c_make_encoder", None)
    if c_make_encoder is None:
        encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_json_default)
        return encoder.encode
    chunks = c_make_encoder(None, _json_default, json.encoder.encode_basestring, None, ":", ",", False, False, False)
    join = "".join
    return lambda value: join(chunks(value, 0))


_encode_text = _make_text_encoder()
_decode_text = json.JSONDecoder(parse_constant=_reject_constant).decode


def _dump(payload: dict[str, Any]) -> bytes:
    try:
        return (_encode_text(payload) + _RS_TEXT).encode("utf-8")
    except (TypeError, ValueError, RecursionError) as exc:
        raise HubProtocolError(f"Cannot write JSON hub message: {exc}") from exc


def _headers_out(payload: dict[str, Any], headers: Any) -> None:
    if headers:
        payload["headers"] = headers if type(headers) is dict else dict(headers)


def _write_invocation(message: InvocationMessage | StreamInvocationMessage) -> dict[str, Any]:
    payload: dict[str, Any] = {"type": message.TYPE}
    _headers_out(payload, message.headers)
    if message.invocation_id:
        payload["invocationId"] = message.invocation_id
    payload["target"] = message.target
    payload["arguments"] = message.arguments
    if message.stream_ids:
        payload["streamIds"] = list(message.stream_ids)
    return payload


def _write_stream_item(message: StreamItemMessage) -> dict[str, Any]:
    payload: dict[str, Any] = {"type": 2}
    _headers_out(payload, message.headers)
    payload["invocationId"] = message.invocation_id
    payload["item"] = message.item
    return payload


def _write_completion(message: CompletionMessage) -> dict[str, Any]:
    payload: dict[str, Any] = {"type": 3}
    _headers_out(payload, message.headers)
    payload["invocationId"] = message.invocation_id
    # .NET: an empty error counts as none; a result (even null) is written only when flagged.
    if message.error:
        payload["error"] = message.error
    elif message.has_result:
        payload["result"] = message.result
    return payload


def _write_cancel(message: CancelInvocationMessage) -> dict[str, Any]:
    payload: dict[str, Any] = {"type": 5}
    _headers_out(payload, message.headers)
    payload["invocationId"] = message.invocation_id
    return payload


def _write_close(message: CloseMessage) -> dict[str, Any]:
    payload: dict[str, Any] = {"type": 7}
    if message.error is not None:
        payload["error"] = message.error
    if message.allow_reconnect:
        payload["allowReconnect"] = True
    return payload


def _write_sequence_id(message: AckMessage | SequenceMessage) -> dict[str, Any]:
    return {"type": message.TYPE, "sequenceId": message.sequence_id}


_WRITERS: dict[type, Callable[[Any], dict[str, Any]]] = {
    InvocationMessage: _write_invocation,
    StreamInvocationMessage: _write_invocation,
    StreamItemMessage: _write_stream_item,
    CompletionMessage: _write_completion,
    CancelInvocationMessage: _write_cancel,
    CloseMessage: _write_close,
    AckMessage: _write_sequence_id,
    SequenceMessage: _write_sequence_id,
}

_PING_BYTES = b'{"type":6}' + RECORD_SEPARATOR

# Reading ---------------------------------------------------------------------------------------

_TOKEN_NAMES = {list: "Array", str: "String", int: "Number", float: "Number", bool: "Boolean"}


def _token_name(value: Any) -> str:
    if value is None:
        return "Null"
    if value is True:
        return "True"
    if value is False:
        return "False"
    return _TOKEN_NAMES.get(type(value), "Object")


def _missing(name: str) -> HubProtocolError:
    return HubProtocolError(f"Missing required property '{name}'.")


def _optional_string(payload: dict[str, Any], name: str) -> str | None:
    # null is read as absent: lenient clients write "error": null and the like.
    value = payload.get(name)
    if value is not None and type(value) is not str:
        raise HubProtocolError(f"Expected '{name}' to be of type String.")
    return value


def _required_id(payload: dict[str, Any]) -> str:
    invocation_id = _optional_string(payload, "invocationId")
    if not invocation_id:
        raise _missing("invocationId")
    return invocation_id


def _read_headers(payload: dict[str, Any]) -> dict[str, str] | None:
    headers = payload.get("headers", _MISSING)
    if headers is _MISSING:
        return None
    if type(headers) is not dict:
        raise HubProtocolError("Expected 'headers' to be of type StartObject.")
    for key, value in headers.items():
        if type(value) is not str:
            raise HubProtocolError(f"Expected header '{key}' to be of type String.")
    return headers or None


def _read_stream_ids(payload: dict[str, Any]) -> Sequence[str]:
    stream_ids = payload.get("streamIds", _MISSING)
    if stream_ids is _MISSING:
        return ()
    if type(stream_ids) is not list:
        raise HubProtocolError("Expected 'streamIds' to be of type Array.")
    for stream_id in stream_ids:
        if type(stream_id) is not str:
            if stream_id is None:
                raise HubProtocolError("Null value for 'streamIds' is not valid.")
            raise HubProtocolError(f"Expected 'streamIds' items to be of type String, got {_token_name(stream_id)}.")
    return tuple(stream_ids)


def _read_call(payload: dict[str, Any]) -> tuple[str, list[Any]]:
    target = _optional_string(payload, "target")
    arguments = payload.get("arguments", _MISSING)
    if arguments is not _MISSING and type(arguments) is not list:
        raise HubProtocolError("Expected 'arguments' to be of type Array.")
    if not target:
        raise _missing("target")
    if arguments is _MISSING:
        raise _missing("arguments")
    return target, arguments


def _read_invocation(payload: dict[str, Any]) -> InvocationMessage:
    invocation_id = _optional_string(payload, "invocationId")
    target, arguments = _read_call(payload)
    return InvocationMessage(
        target=target,
        arguments=arguments,
        invocation_id=invocation_id or None,
        stream_ids=_read_stream_ids(payload),
        headers=_read_headers(payload),
    )


def _read_stream_invocation(payload: dict[str, Any]) -> StreamInvocationMessage:
    invocation_id = _required_id(payload)
    target, arguments = _read_call(payload)
    return StreamInvocationMessage(
        invocation_id=invocation_id,
        target=target,
        arguments=arguments,
        stream_ids=_read_stream_ids(payload),
        headers=_read_headers(payload),
    )


def _read_stream_item(payload: dict[str, Any]) -> StreamItemMessage:
    invocation_id = _required_id(payload)
    item = payload.get("item", _MISSING)
    if item is _MISSING:
        raise _missing("item")
    return StreamItemMessage(invocation_id=invocation_id, item=item, headers=_read_headers(payload))


def _read_completion(payload: dict[str, Any]) -> CompletionMessage:
    invocation_id = _required_id(payload)
    error = _optional_string(payload, "error")
    result = payload.get("result", _MISSING)
    has_result = result is not _MISSING
    if has_result and error is not None:
        raise HubProtocolError("The 'error' and 'result' properties are mutually exclusive.")
    return CompletionMessage(
        invocation_id=invocation_id,
        error=error,
        result=result if has_result else None,
        has_result=has_result,
        headers=_read_headers(payload),
    )


def _read_cancel(payload: dict[str, Any]) -> CancelInvocationMessage:
    return CancelInvocationMessage(invocation_id=_required_id(payload), headers=_read_headers(payload))


def _read_ping(payload: dict[str, Any]) -> PingMessage:
    return PING


def _read_close(payload: dict[str, Any]) -> CloseMessage:
    error = _optional_string(payload, "error")
    allow_reconnect = payload.get("allowReconnect", False)
    if type(allow_reconnect) is not bool:
        raise HubProtocolError("Expected 'allowReconnect' to be true or false.")
    return CloseMessage(error=error, allow_reconnect=allow_reconnect)


def _read_sequence_id(payload: dict[str, Any]) -> int:
    sequence_id = payload.get("sequenceId")
    if sequence_id is None and "sequenceId" not in payload:
        raise _missing("sequenceId")
    if type(sequence_id) is not int or sequence_id not in _INT64:
        raise HubProtocolError("Expected 'sequenceId' to be of type Number.")
    return sequence_id


def _read_ack(payload: dict[str, Any]) -> AckMessage:
    return AckMessage(sequence_id=_read_sequence_id(payload))


def _read_sequence(payload: dict[str, Any]) -> SequenceMessage:
    return SequenceMessage(sequence_id=_read_sequence_id(payload))


_READERS: dict[int, Callable[[dict[str, Any]], HubMessage]] = {
    1: _read_invocation,
    2: _read_stream_item,
    3: _read_completion,
    4: _read_stream_invocation,
    5: _read_cancel,
    6: _read_ping,
    7: _read_close,
    8: _read_ack,
    9: _read_sequence,
}


def parse_json_message(payload: bytes | str) -> HubMessage | None:
    """One message from the text between two record separators; None for unknown types."""
    try:
        text = payload.decode("utf-8") if type(payload) is bytes else payload
        obj = _decode_text(text)
    except (ValueError, RecursionError) as exc:
        raise HubProtocolError(f"Error reading JSON. {exc}") from exc
    if type(obj) is not dict:
        raise HubProtocolError(f"Unexpected JSON Token Type '{_token_name(obj)}'. Expected a JSON Object.")
    kind = obj.get("type", _MISSING)
    reader = _READERS.get(kind) if type(kind) is int else None
    if reader is not None:
        return reader(obj)
    if kind is _MISSING:
        raise _missing("type")
    if type(kind) is not int or kind not in _INT32:
        raise HubProtocolError("Expected 'type' to be of type Number.")
    return None


def _utf8(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise HubProtocolError(f"Error reading JSON. {exc}") from exc


class JsonHubMessageParser(HubMessageParser):
    """Splits at RS; a trailing piece without RS waits for the next feed."""

    __slots__ = ("_tail", "_limit")

    def __init__(self, max_message_size: int | None = None) -> None:
        self._tail = b""
        self._limit = max_message_size

    def feed(self, data: bytes | bytearray | memoryview | str) -> list[HubMessage]:
        if isinstance(data, str):
            if not self._tail:
                # Text frame with nothing pending: split the str directly, no UTF-8 round trip.
                pieces: list[Any] = data.split(_RS_TEXT)
                self._tail = _utf8(pieces.pop())
                return self._parse(pieces, text=True)
            data = _utf8(data)
        elif type(data) is not bytes:
            data = bytes(data)
        if self._tail:
            data = self._tail + data
        pieces = data.split(RECORD_SEPARATOR)
        self._tail = pieces.pop()
        return self._parse(pieces, text=False)

    def _parse(self, pieces: list[Any], *, text: bool) -> list[HubMessage]:
        limit = self._limit
        if limit is not None and len(self._tail) >= limit:
            raise message_too_large(limit)
        messages = []
        for piece in pieces:
            if limit is not None:
                # A message fits when it and its RS do; a str counts in UTF-8 bytes (<= 4 per char).
                size = len(piece)
                if text and size * 4 >= limit:
                    size = len(_utf8(piece))
                if size >= limit:
                    raise message_too_large(limit)
            message = parse_json_message(piece)
            if message is not None:
                messages.append(message)
        return messages

    @property
    def pending(self) -> int:
        return len(self._tail)


class JsonHubProtocol(HubProtocol):
    """``json``: UTF-8 text, each message followed by RS (0x1E).

    Version 2 is the current .NET version (adds Ack/Sequence for stateful reconnect); handshakes
    asking for 0, 1 or 2 are accepted.
    """

    __slots__ = ()

    name = "json"
    version = 2
    transfer_format = TEXT

    def encode(self, message: HubMessage) -> bytes:
        if type(message) is PingMessage:
            return _PING_BYTES
        try:
            writer = _WRITERS[type(message)]
        except KeyError:
            raise HubProtocolError(f"Not a hub message: {type(message).__name__}") from None
        return _dump(writer(message))

    def encode_invocation(self, target: str, arguments: Sequence[Any]) -> bytes:
        return _dump({"type": 1, "target": target, "arguments": arguments})

    def parser(self, max_message_size: int | None = None) -> JsonHubMessageParser:
        return JsonHubMessageParser(max_message_size)
