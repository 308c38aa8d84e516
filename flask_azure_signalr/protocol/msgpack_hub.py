"""The MessagePack hub protocol (hub-protocol §2.1, §2.5): varint length prefix + one array.

Layouts are those of §2.5; the writer produces the .NET server's exact shapes (6-element
Invocation, 3-element Close), the reader accepts the shorter JS forms and ignores extra trailing
elements. Values: ``bin`` <-> ``bytes``, timestamp extension -1 <-> UTC-aware ``datetime``
(naive datetimes are written as UTC, as .NET treats them), other extension types stay
``msgpack.ExtType``.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Sequence
from typing import Any

import msgpack

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
from .hub_protocol import BINARY, HubMessageParser, HubProtocol, message_too_large
from .varint import FrameBuffer, VarintError, encode_length

__all__ = ["MessagePackHubProtocol", "MessagePackHubMessageParser"]

_RESULT_ERROR = 1
_RESULT_VOID = 2
_RESULT_VALUE = 3
_INT64 = range(-(2**63), 2**63)
_EMPTY_MAP: dict[str, str] = {}


def _msgpack_default(value: Any) -> Any:
    if isinstance(value, _dt.datetime):
        return msgpack.Timestamp.from_datetime(value.replace(tzinfo=_dt.timezone.utc))
    raise TypeError(f"Object of type {type(value).__name__} is not MessagePack serializable")


# A Packer is three times faster than packb() but not safe to share while packing; a pool keeps
# one per concurrent caller (list pop/append are atomic), and a failed packer is dropped.
_PACKERS: list[msgpack.Packer] = []


def _pack(obj: Any) -> bytes:
    try:
        packer = _PACKERS.pop()
    except IndexError:
        packer = msgpack.Packer(default=_msgpack_default, use_bin_type=True, datetime=True)
    try:
        body = packer.pack(obj)
    except (TypeError, ValueError, OverflowError, RecursionError) as exc:
        raise HubProtocolError(f"Cannot write MessagePack hub message: {exc}") from exc
    _PACKERS.append(packer)
    return encode_length(len(body)) + body


def _headers_out(headers: Any) -> Any:
    if not headers:
        return _EMPTY_MAP
    return headers if type(headers) is dict else dict(headers)


def _write_invocation(message: InvocationMessage | StreamInvocationMessage) -> list[Any]:
    return [
        message.TYPE,
        _headers_out(message.headers),
        message.invocation_id or None,
        message.target,
        message.arguments,
        list(message.stream_ids),
    ]


def _write_stream_item(message: StreamItemMessage) -> list[Any]:
    return [2, _headers_out(message.headers), message.invocation_id, message.item]


def _write_completion(message: CompletionMessage) -> list[Any]:
    head = [3, _headers_out(message.headers), message.invocation_id]
    if message.error is not None:
        return [*head, _RESULT_ERROR, message.error]
    if message.has_result:
        return [*head, _RESULT_VALUE, message.result]
    return [*head, _RESULT_VOID]


def _write_cancel(message: CancelInvocationMessage) -> list[Any]:
    return [5, _headers_out(message.headers), message.invocation_id]


def _write_close(message: CloseMessage) -> list[Any]:
    return [7, message.error or None, message.allow_reconnect]


def _write_sequence_id(message: AckMessage | SequenceMessage) -> list[Any]:
    return [message.TYPE, message.sequence_id]


_WRITERS: dict[type, Callable[[Any], list[Any]]] = {
    InvocationMessage: _write_invocation,
    StreamInvocationMessage: _write_invocation,
    StreamItemMessage: _write_stream_item,
    CompletionMessage: _write_completion,
    CancelInvocationMessage: _write_cancel,
    CloseMessage: _write_close,
    AckMessage: _write_sequence_id,
    SequenceMessage: _write_sequence_id,
}

_PING_BYTES = b"\x02\x91\x06"

# Reading ---------------------------------------------------------------------------------------


def _require(message: list[Any], count: int, name: str) -> None:
    if len(message) < count:
        raise HubProtocolError(f"{name} message has {len(message)} elements, expected at least {count}.")


def _read_headers(value: Any, name: str) -> dict[str, str] | None:
    if type(value) is not dict:
        raise HubProtocolError(f"Reading map length for 'headers' of {name} message failed.")
    for key, header in value.items():
        if type(key) is not str or type(header) is not str:
            raise HubProtocolError(f"Reading 'headers' of {name} message as strings failed.")
    return value or None


def _read_id(value: Any, name: str) -> str:
    if type(value) is not str or not value:
        raise HubProtocolError(f"Null or empty invocation ID for {name} message.")
    return value


def _read_call(message: list[Any], name: str) -> tuple[str, list[Any], Sequence[str]]:
    target = message[3]
    if type(target) is not str or not target:
        raise HubProtocolError(f"Null or empty target for {name} message.")
    arguments = message[4]
    if type(arguments) is not list:
        raise HubProtocolError(f"Reading array length for 'arguments' of {name} message failed.")
    if len(message) < 6:
        return target, arguments, ()
    stream_ids = message[5]
    if type(stream_ids) is not list or any(type(item) is not str for item in stream_ids):
        raise HubProtocolError(f"Reading 'streamIds' of {name} message as strings failed.")
    return target, arguments, tuple(stream_ids)


def _read_invocation(message: list[Any]) -> InvocationMessage:
    _require(message, 5, "Invocation")
    invocation_id = message[2]
    if invocation_id is not None and type(invocation_id) is not str:
        raise HubProtocolError("Reading 'invocationId' of Invocation message as String failed.")
    target, arguments, stream_ids = _read_call(message, "Invocation")
    return InvocationMessage(
        target=target,
        arguments=arguments,
        invocation_id=invocation_id or None,
        stream_ids=stream_ids,
        headers=_read_headers(message[1], "Invocation"),
    )


def _read_stream_invocation(message: list[Any]) -> StreamInvocationMessage:
    _require(message, 5, "StreamInvocation")
    invocation_id = _read_id(message[2], "StreamInvocation")
    target, arguments, stream_ids = _read_call(message, "StreamInvocation")
    return StreamInvocationMessage(
        invocation_id=invocation_id,
        target=target,
        arguments=arguments,
        stream_ids=stream_ids,
        headers=_read_headers(message[1], "StreamInvocation"),
    )


def _read_stream_item(message: list[Any]) -> StreamItemMessage:
    _require(message, 4, "StreamItem")
    return StreamItemMessage(
        invocation_id=_read_id(message[2], "StreamItem"),
        item=message[3],
        headers=_read_headers(message[1], "StreamItem"),
    )


def _read_completion(message: list[Any]) -> CompletionMessage:
    _require(message, 4, "Completion")
    invocation_id = _read_id(message[2], "Completion")
    headers = _read_headers(message[1], "Completion")
    kind = message[3]
    if type(kind) is not int:
        raise HubProtocolError("Reading 'resultKind' of Completion message as Int32 failed.")
    if kind == _RESULT_VOID:
        return CompletionMessage(invocation_id=invocation_id, headers=headers)
    if kind == _RESULT_VALUE:
        _require(message, 5, "Completion with a result")
        return CompletionMessage(invocation_id=invocation_id, result=message[4], has_result=True, headers=headers)
    if kind == _RESULT_ERROR:
        _require(message, 5, "Completion with an error")
        error = message[4]
        if type(error) is not str:
            raise HubProtocolError("Reading 'error' of Completion message as String failed.")
        return CompletionMessage(invocation_id=invocation_id, error=error, headers=headers)
    raise HubProtocolError("Invalid invocation result kind.")


def _read_cancel(message: list[Any]) -> CancelInvocationMessage:
    _require(message, 3, "CancelInvocation")
    return CancelInvocationMessage(
        invocation_id=_read_id(message[2], "CancelInvocation"),
        headers=_read_headers(message[1], "CancelInvocation"),
    )


def _read_ping(message: list[Any]) -> PingMessage:
    return PING


def _read_close(message: list[Any]) -> CloseMessage:
    _require(message, 2, "Close")
    error = message[1]
    if error is not None and type(error) is not str:
        raise HubProtocolError("Reading 'error' of Close message as String failed.")
    allow_reconnect = message[2] if len(message) > 2 else False
    if type(allow_reconnect) is not bool:
        raise HubProtocolError("Reading 'allowReconnect' of Close message as Boolean failed.")
    return CloseMessage(error=error, allow_reconnect=allow_reconnect)


def _read_sequence_id(message: list[Any], name: str) -> int:
    _require(message, 2, name)
    sequence_id = message[1]
    if type(sequence_id) is not int or sequence_id not in _INT64:
        raise HubProtocolError(f"Reading 'sequenceId' of {name} message as Int64 failed.")
    return sequence_id


def _read_ack(message: list[Any]) -> AckMessage:
    return AckMessage(sequence_id=_read_sequence_id(message, "Ack"))


def _read_sequence(message: list[Any]) -> SequenceMessage:
    return SequenceMessage(sequence_id=_read_sequence_id(message, "Sequence"))


_READERS: dict[int, Callable[[list[Any]], HubMessage]] = {
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


def parse_msgpack_message(body: bytes) -> HubMessage | None:
    """One message from a frame body (prefix already removed); None for unknown types."""
    try:
        message = msgpack.unpackb(body, raw=False, strict_map_key=False, timestamp=3)
    except Exception as exc:  # msgpack raises many unrelated types on bad bytes; all mean "malformed"
        raise HubProtocolError(f"Error reading MessagePack. {type(exc).__name__}: {exc}") from exc
    if type(message) is not list:
        raise HubProtocolError("Reading array length for the message failed: not an array.")
    if not message:
        raise HubProtocolError("MessagePack array header must have at least one element.")
    kind = message[0]
    if type(kind) is not int:
        raise HubProtocolError("Reading 'messageType' as Int32 failed.")
    reader = _READERS.get(kind)
    return reader(message) if reader is not None else None


class MessagePackHubMessageParser(HubMessageParser):
    """Cuts the stream at varint length prefixes, then reads each body."""

    __slots__ = ("_frames", "_limit")

    def __init__(self, max_message_size: int | None = None) -> None:
        self._frames = FrameBuffer()
        self._limit = max_message_size

    def feed(self, data: bytes | bytearray | memoryview | str) -> list[HubMessage]:
        if isinstance(data, str):
            # Only a confused client sends binary data as text; read the bytes it meant.
            try:
                data = data.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise HubProtocolError(f"Error reading MessagePack. {exc}") from exc
        try:
            bodies = self._frames.feed(data)
        except VarintError as exc:
            raise HubProtocolError(f"Error reading MessagePack frame: {exc}") from exc
        limit = self._limit
        if limit is not None and self._frames.pending >= limit:
            raise message_too_large(limit)
        messages = []
        for body in bodies:
            # The limit covers the prefix too, as in .NET (1 prefix byte per 7 bits of length).
            if limit is not None and len(body) + max(1, (len(body).bit_length() + 6) // 7) > limit:
                raise message_too_large(limit)
            message = parse_msgpack_message(body)
            if message is not None:
                messages.append(message)
        return messages

    @property
    def pending(self) -> int:
        return self._frames.pending


class MessagePackHubProtocol(HubProtocol):
    """``messagepack``: binary, varint-framed arrays.

    Version 2 is the current .NET version (adds Ack/Sequence); handshakes asking for 0, 1 or 2
    are accepted.
    """

    __slots__ = ()

    name = "messagepack"
    version = 2
    transfer_format = BINARY

    def encode(self, message: HubMessage) -> bytes:
        if type(message) is PingMessage:
            return _PING_BYTES
        try:
            writer = _WRITERS[type(message)]
        except KeyError:
            raise HubProtocolError(f"Not a hub message: {type(message).__name__}") from None
        return _pack(writer(message))

    def encode_invocation(self, target: str, arguments: Sequence[Any]) -> bytes:
        return _pack([1, _EMPTY_MAP, None, target, arguments, []])

    def parser(self, max_message_size: int | None = None) -> MessagePackHubMessageParser:
        return MessagePackHubMessageParser(max_message_size)
