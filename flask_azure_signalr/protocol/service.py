"""Codec of the Azure SignalR service protocol: app server <-> service (sans-IO).

A frame is a varint length prefix and one MessagePack array ``[type, ...]`` (service-protocol §1.2).
:func:`encode` / :func:`encode_body` write the exact bytes of the C# SDK writer (§1.3, §10);
:func:`decode_body` reads like the C# reader (§1.4): older, shorter layouts parse with defaults,
trailing elements and bytes are ignored, unknown types give ``None``. Where the C# reader throws
(nil where an array or map belongs, a wrong kind, too few elements) this raises
:class:`~flask_azure_signalr.exceptions.ServiceProtocolError` naming the message and field, and no other
exception escapes on any input. Unlike the C# reader, unknown extension keys are skipped (§1.4).

:class:`ServiceProtocolParser` cuts messages out of a byte stream fed in arbitrary slices.

The frequent messages (connection data, multicasts, group broadcast, open/close, ping) have
hand-written coders; the rest share one table-driven coder, :class:`_Layout`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple, TypeVar

import msgpack

from ..exceptions import ServiceProtocolError
from .service_messages import (
    MESSAGE_TYPES,
    AccessKeyRequest,
    AccessKeyResponse,
    Ack,
    AckStatus,
    BroadcastData,
    CheckConnectionExistenceWithAck,
    CheckGroupExistenceWithAck,
    CheckUserExistenceWithAck,
    CheckUserInGroupWithAck,
    ClientCompletion,
    ClientInvocation,
    CloseConnection,
    CloseConnectionsWithAck,
    CloseConnectionWithAck,
    CloseGroupConnectionsWithAck,
    CloseUserConnectionsWithAck,
    ConnectionData,
    ConnectionReconnect,
    DataMessageType,
    ErrorCompletion,
    GroupBroadcastData,
    HandshakeRequest,
    HandshakeResponse,
    JoinGroup,
    JoinGroupWithAck,
    LeaveGroup,
    LeaveGroupWithAck,
    MigrationLevel,
    MultiConnectionData,
    MultiGroupBroadcastData,
    MultiUserData,
    OpenConnection,
    Ping,
    ServiceConnectionType,
    ServiceError,
    ServiceEvent,
    ServiceEventKind,
    ServiceEventObjectType,
    ServiceMapping,
    ServiceMessage,
    UserData,
    UserJoinGroup,
    UserJoinGroupWithAck,
    UserLeaveGroup,
    UserLeaveGroupWithAck,
)
from .varint import FrameBuffer, VarintError, frame

__all__ = [
    "MESSAGE_TYPES",
    "AccessKeyRequest",
    "AccessKeyResponse",
    "Ack",
    "AckStatus",
    "BroadcastData",
    "CheckConnectionExistenceWithAck",
    "CheckGroupExistenceWithAck",
    "CheckUserExistenceWithAck",
    "CheckUserInGroupWithAck",
    "ClientCompletion",
    "ClientInvocation",
    "CloseConnection",
    "CloseConnectionWithAck",
    "CloseConnectionsWithAck",
    "CloseGroupConnectionsWithAck",
    "CloseUserConnectionsWithAck",
    "ConnectionData",
    "ConnectionReconnect",
    "DataMessageType",
    "ErrorCompletion",
    "GroupBroadcastData",
    "HandshakeRequest",
    "HandshakeResponse",
    "JoinGroup",
    "JoinGroupWithAck",
    "LeaveGroup",
    "LeaveGroupWithAck",
    "MigrationLevel",
    "MultiConnectionData",
    "MultiGroupBroadcastData",
    "MultiUserData",
    "OpenConnection",
    "Ping",
    "ServiceConnectionType",
    "ServiceError",
    "ServiceEvent",
    "ServiceEventKind",
    "ServiceEventObjectType",
    "ServiceMapping",
    "ServiceMessage",
    "ServiceProtocolParser",
    "UserData",
    "UserJoinGroup",
    "UserJoinGroupWithAck",
    "UserLeaveGroup",
    "UserLeaveGroupWithAck",
    "decode_body",
    "encode",
    "encode_body",
]

_INT32_MIN = -(2**31)
_INT32_MAX = 2**31 - 1
_UINT64_MAX = 2**64 - 1

#: Field name used in errors about the extension map.
_EXT = "extensions"

# --------------------------------------------------------------------------------------------------
# Packing. One shared Packer: ``Packer.pack`` is several times faster than ``packb`` (which builds a
# Packer, with a 256 KiB buffer, per call). Sharing it is safe (with the GIL) because it runs entirely
# in C, without calling Python code, for the builtin containers the encoders hand it. The Packer keeps its buffer at
# the size of the largest message it packed, so after a large one it is replaced.

_PACKER_BUFFER_LIMIT = 256 * 1024
_packer = msgpack.Packer(use_bin_type=True)


def _pack(value: Any) -> bytes:
    global _packer
    data: bytes = _packer.pack(value)
    if len(data) > _PACKER_BUFFER_LIMIT:
        _packer = msgpack.Packer(use_bin_type=True)
    return data


#: Written wherever nothing is set (§2.1); shared and never mutated.
_EMPTY: dict[Any, Any] = {}


def _strings(value: Iterable[str] | None) -> Iterable[str]:
    if type(value) is tuple or type(value) is list:
        return value
    if value is None:
        return ()
    if isinstance(value, str):
        raise TypeError("expected a sequence of strings, got a single str")
    return list(value)


def _payload_map(value: Mapping[str, bytes] | None) -> Mapping[str, bytes]:
    if type(value) is dict:
        return value
    return _EMPTY if value is None else dict(value)


def _header_map(headers: Mapping[str, Any] | None) -> Mapping[str, Any]:
    if not headers:
        return _EMPTY
    return {name: (values,) if isinstance(values, str) else tuple(values) for name, values in headers.items()}


def _text(value: str | None) -> str:
    return "" if value is None else value


def _ext_tracing(tracing_id: int | None) -> dict[int, Any]:
    return _EMPTY if tracing_id is None else {1: tracing_id}


def _ext_tracing_filter(tracing_id: int | None, filter_: str | None) -> dict[int, Any]:
    if filter_ is None:
        return _EMPTY if tracing_id is None else {1: tracing_id}
    return {4: filter_} if tracing_id is None else {1: tracing_id, 4: filter_}


# --------------------------------------------------------------------------------------------------
# Unpacking and field readers. Each reader takes (value, message name, field name), returns the field
# value or raises ServiceProtocolError. Hot paths test the common case inline and call a reader only
# for the rest.


class _Pairs(list):  # type: ignore[type-arg]
    """A MessagePack map kept as its (key, value) pairs, for claims whose types repeat (§2.2)."""

    __slots__ = ()


_KIND_NAMES = {
    type(None): "nil",
    bool: "bool",
    int: "int",
    float: "float",
    str: "str",
    bytes: "bin",
    tuple: "array",
    dict: "map",
    _Pairs: "map",
}


def _kind(value: Any) -> str:
    return _KIND_NAMES.get(type(value), "ext")


def _wrong(name: str, field: str, expected: str, value: Any) -> ServiceProtocolError:
    got = f"{value} (out of range)" if type(value) is int and "int" in expected else _kind(value)
    return ServiceProtocolError(f"{name}: field '{field}' must be {expected}, got {got}")


#: What msgpack raises on malformed input (ExtraData, FormatError, StackError, unhashable keys...).
_MSGPACK_ERRORS = (msgpack.UnpackException, ValueError, TypeError, OverflowError, RecursionError)


def _malformed(exc: Exception) -> ServiceProtocolError:
    return ServiceProtocolError(f"malformed MessagePack body: {exc}")


def _unpack_pairs(body: bytes | bytearray | memoryview) -> Any:
    """Unpack again with maps as :class:`_Pairs` (OpenConnection's claims)."""
    try:
        return msgpack.unpackb(
            body,
            raw=False,
            strict_map_key=False,
            use_list=False,
            unicode_errors="replace",
            object_pairs_hook=_Pairs,
        )
    except msgpack.ExtraData as extra:
        return extra.unpacked
    except _MSGPACK_ERRORS as exc:
        raise _malformed(exc) from None


def _read_str(value: Any, name: str, field: str) -> str | None:
    if value is None or type(value) is str:
        return value
    raise _wrong(name, field, "a string", value)


def _read_text(value: Any, name: str, field: str) -> str:
    """A string where the C# constructor turns null into ``""``."""
    if type(value) is str:
        return value
    if value is None:
        return ""
    raise _wrong(name, field, "a string", value)


def _read_bytes(value: Any, name: str, field: str) -> bytes:
    if type(value) is bytes:
        return value
    if value is None:
        return b""
    if type(value) is str:  # old-spec raw bytes (§1.3)
        return value.encode("utf-8")
    raise _wrong(name, field, "bytes", value)


def _read_int32(value: Any, name: str, field: str) -> int:
    if type(value) is int and _INT32_MIN <= value <= _INT32_MAX:
        return value
    raise _wrong(name, field, "an int32", value)


def _read_bool(value: Any, name: str, field: str) -> bool:
    if type(value) is bool:
        return value
    raise _wrong(name, field, "a bool", value)


def _read_tracing_id(value: Any, name: str, field: str) -> int | None:
    if type(value) is int and 0 <= value <= _UINT64_MAX:
        return value
    if type(value) is str:  # SDK 1.5.0 wrote it as a string (§2.1); a non-numeric one is dropped
        if 0 < len(value) <= 20 and value.isascii() and value.isdigit():
            number = int(value)
            return number if number <= _UINT64_MAX else None
        return None
    raise _wrong(name, field, "a uint64", value)


def _read_strings(value: Any, name: str, field: str) -> tuple[str, ...]:
    """An array of strings; a nil item stays None, as the C# reader yields null."""
    if type(value) is not tuple:
        raise _wrong(name, field, "an array", value)
    for item in value:
        if item is not None and type(item) is not str:
            raise _wrong(name, f"{field}[]", "a string", item)
    return value


def _read_payloads(value: Any, name: str, field: str) -> dict[str, bytes]:
    if type(value) is not dict:
        raise _wrong(name, field, "a map", value)
    converted = None
    for key, payload in value.items():
        if type(key) is str and type(payload) is bytes:
            continue
        if type(key) is not str:
            raise _wrong(name, f"{field} key", "a string", key)
        if converted is None:
            converted = dict(value)
        converted[key] = _read_bytes(payload, name, f"{field}[{key!r}]")
    return value if converted is None else converted


def _read_claims(value: Any, name: str, field: str) -> tuple[tuple[str, str], ...]:
    if type(value) is not _Pairs:
        raise _wrong(name, field, "a map", value)
    for claim_type, claim_value in value:
        if type(claim_type) is not str:
            raise _wrong(name, f"{field} type", "a string", claim_type)
        if type(claim_value) is not str:
            raise _wrong(name, f"{field} value", "a string", claim_value)
    return tuple(value)


def _read_headers(value: Any, name: str, field: str) -> dict[str, tuple[str, ...]]:
    if type(value) is dict:
        pairs: Iterable[tuple[Any, Any]] = value.items()
    elif type(value) is _Pairs:
        pairs = value
    else:
        raise _wrong(name, field, "a map", value)
    headers = {}
    for key, values in pairs:
        if type(key) is not str:
            raise _wrong(name, f"{field} name", "a string", key)
        headers[key] = _read_strings(values, name, f"{field}[{key!r}]")
    return headers


def _enum_reader(enum: Any) -> Callable[[Any, str, str], int]:
    members: dict[int, int] = {member.value: member for member in enum}

    def read(value: Any, name: str, field: str) -> int:
        number = _read_int32(value, name, field)
        return members.get(number, number)

    return read


# Extension map members (§2.1): key -> (field, reader, "is set" test used by the writer).
_EXTENSION_MEMBERS: dict[int, tuple[str, Callable[[Any, str, str], Any], Callable[[Any], bool]]] = {
    1: ("tracing_id", _read_tracing_id, lambda v: v is not None),
    2: ("ttl", _read_int32, lambda v: v is not None),
    3: ("protocol", _read_str, lambda v: v is not None),
    4: ("filter", _read_str, lambda v: v is not None),
    5: ("data_message_type", _enum_reader(DataMessageType), bool),
    6: ("is_partial", _read_bool, bool),
}


def _read_extensions(ext: Mapping[Any, Any], name: str, keys: frozenset[int]) -> dict[str, Any]:
    """Values of the members this type carries; other keys are skipped, unlike the C# reader (§1.4)."""
    found = {}
    for key, value in ext.items():
        if type(key) is int and key in keys:
            field, read, _ = _EXTENSION_MEMBERS[key]
            found[field] = read(value, name, field)
    return found


def _extensions_of(ext: Any, name: str, field: str = _EXT) -> Mapping[Any, Any]:
    """The extension map; read as pairs (OpenConnection) only its int keys matter."""
    if type(ext) is dict:
        return ext
    if type(ext) is _Pairs:
        return {key: value for key, value in ext if type(key) is int}
    raise _wrong(name, field, "a map", ext)


# --------------------------------------------------------------------------------------------------
# Hand-written coders of the frequent messages.


_M = TypeVar("_M", bound=ServiceMessage)


def _positional_builder(cls: type[_M]) -> Callable[..., _M]:
    """A constructor of ``cls`` (4 or 5 fields) taking every field positionally, for the hot decoders.

    A frozen dataclass's ``__init__`` sets each field through ``object.__setattr__``, which costs
    about as much as the whole unpack of a data message. The decoder has checked every value, so it
    writes the slots through their descriptors instead: half the cost.
    """
    field_names: tuple[str, ...] = cls.__slots__  # a slotted dataclass's fields, in order
    setters = [getattr(cls, name).__set__ for name in field_names]
    new = object.__new__
    if len(setters) == 4:
        set0, set1, set2, set3 = setters

        def build4(v0: Any, v1: Any, v2: Any, v3: Any) -> _M:
            obj = new(cls)
            set0(obj, v0)
            set1(obj, v1)
            set2(obj, v2)
            set3(obj, v3)
            return obj

        return build4
    set0, set1, set2, set3, set4 = setters

    def build5(v0: Any, v1: Any, v2: Any, v3: Any, v4: Any) -> _M:
        obj = new(cls)
        set0(obj, v0)
        set1(obj, v1)
        set2(obj, v2)
        set3(obj, v3)
        set4(obj, v4)
        return obj

    return build5


def _encode_open_connection(m: OpenConnection) -> bytes:
    # A list, so no Python code runs inside the shared Packer.
    claims = list(m.claims.items() if isinstance(m.claims, Mapping) else m.claims)
    ext: dict[int, Any] = {}
    if m.tracing_id is not None:
        ext[1] = m.tracing_id
    if m.protocol is not None:
        ext[3] = m.protocol
    # The claims map may repeat a key, so it is packed from its pairs.
    return b"".join(
        (
            b"\x96\x04",
            _pack(m.connection_id),
            _packer.pack_map_pairs(claims),
            _pack(_header_map(m.headers)),
            _pack(m.query_string),
            _pack(ext),
        )
    )


_OPEN_CONNECTION_KEYS = frozenset((1, 3))


def _decode_open_connection(a: tuple[Any, ...], n: int) -> OpenConnection:
    name = "OpenConnection"
    connection_id = a[1]
    if type(connection_id) is not str:
        connection_id = _read_str(connection_id, name, "connection_id")
    claims = _read_claims(a[2], name, "claims")
    if n < 5:
        return OpenConnection(connection_id, claims, {}, "", None, None)
    headers = _read_headers(a[3], name, "headers")
    query_string = _read_str(a[4], name, "query_string")
    if n >= 6:
        ext = _extensions_of(a[5], name)
        if ext:
            found = _read_extensions(ext, name, _OPEN_CONNECTION_KEYS)
            return OpenConnection(
                connection_id,
                claims,
                headers,
                query_string,
                found.get("tracing_id"),
                found.get("protocol"),
            )
    return OpenConnection(connection_id, claims, headers, query_string, None, None)


def _encode_close_connection(m: CloseConnection) -> bytes:
    return _pack(
        [
            5,
            m.connection_id,
            _text(m.error_message),
            _header_map(m.headers),
            _ext_tracing(m.tracing_id),
        ]
    )


_TRACING_KEYS = frozenset((1,))
_new_close_connection = _positional_builder(CloseConnection)


def _decode_close_connection(a: tuple[Any, ...], n: int) -> CloseConnection:
    name = "CloseConnection"
    connection_id = a[1]
    if type(connection_id) is not str:
        connection_id = _read_str(connection_id, name, "connection_id")
    error_message = a[2]
    if type(error_message) is not str:
        error_message = _read_text(error_message, name, "error_message")
    if n < 4:
        return _new_close_connection(connection_id, error_message, {}, None)
    headers = _read_headers(a[3], name, "headers")
    tracing_id = None
    if n >= 5:
        ext = _extensions_of(a[4], name)
        if ext:
            tracing_id = _read_extensions(ext, name, _TRACING_KEYS).get("tracing_id")
    return _new_close_connection(connection_id, error_message, headers, tracing_id)


def _encode_connection_data(m: ConnectionData) -> bytes:
    tracing_id = m.tracing_id
    if tracing_id is None and not m.data_message_type and not m.is_partial:
        return _pack([6, m.connection_id, m.payload, _EMPTY])
    ext: dict[int, Any] = {}
    if tracing_id is not None:
        ext[1] = tracing_id
    if m.data_message_type:
        ext[5] = m.data_message_type
    if m.is_partial:
        ext[6] = True
    return _pack([6, m.connection_id, m.payload, ext])


_CONNECTION_DATA_KEYS = frozenset((1, 5, 6))
_new_connection_data = _positional_builder(ConnectionData)


def _decode_connection_data(a: tuple[Any, ...], n: int) -> ConnectionData:
    name = "ConnectionData"
    connection_id = a[1]
    if type(connection_id) is not str:
        connection_id = _read_str(connection_id, name, "connection_id")
    payload = a[2]
    if type(payload) is not bytes:
        payload = _read_bytes(payload, name, "payload")
    if n >= 4:
        ext = a[3]
        if type(ext) is not dict:
            raise _wrong(name, _EXT, "a map", ext)
        if ext:
            found = _read_extensions(ext, name, _CONNECTION_DATA_KEYS)
            return _new_connection_data(
                connection_id,
                payload,
                found.get("tracing_id"),
                found.get("data_message_type", DataMessageType.UNKNOWN),
                found.get("is_partial", False),
            )
    return _new_connection_data(connection_id, payload, None, DataMessageType.UNKNOWN, False)


_MULTICAST_KEYS = frozenset((1, 4))


class _Multicast:
    """Types 7, 8, 9, 10, 14: ``[type, target, payloads, ext{1, 4}]``; the target is a list or a user id."""

    __slots__ = ("build", "cls", "is_list", "target")

    def __init__(self, cls: type[Any], target: str, is_list: bool):
        self.cls = cls
        self.target = target
        self.is_list = is_list
        self.build = _positional_builder(cls)

    def encode(self, m: Any) -> bytes:
        target = getattr(m, self.target)
        if self.is_list and type(target) is not tuple and type(target) is not list:
            target = _strings(target)
        payloads = m.payloads
        if type(payloads) is not dict:
            payloads = _payload_map(payloads)
        tracing_id = m.tracing_id
        filter_ = m.filter
        if tracing_id is None and filter_ is None:
            return _pack([self.cls.TYPE, target, payloads, _EMPTY])
        return _pack([self.cls.TYPE, target, payloads, _ext_tracing_filter(tracing_id, filter_)])

    def decode(self, a: tuple[Any, ...], n: int) -> Any:
        name = self.cls.__name__
        target = a[1]
        if self.is_list:
            if target != ():  # an empty list (a broadcast excluding no one) needs no check
                target = _read_strings(target, name, self.target)
        elif type(target) is not str:
            target = _read_str(target, name, self.target)
        payloads = _read_payloads(a[2], name, "payloads")
        if n >= 4:
            ext = a[3]
            if type(ext) is not dict:
                raise _wrong(name, _EXT, "a map", ext)
            if ext:
                found = _read_extensions(ext, name, _MULTICAST_KEYS)
                return self.build(target, payloads, found.get("tracing_id"), found.get("filter"))
        return self.build(target, payloads, None, None)


def _encode_group_broadcast(m: GroupBroadcastData) -> bytes:
    return _pack(
        [
            13,
            m.group_name,
            _strings(m.excluded_list),
            _payload_map(m.payloads),
            _ext_tracing_filter(m.tracing_id, m.filter),
            _strings(m.excluded_user_list),
            m.caller_user_id,
        ]
    )


def _decode_group_broadcast(a: tuple[Any, ...], n: int) -> GroupBroadcastData:
    name = "GroupBroadcastData"
    group_name = a[1]
    if type(group_name) is not str:
        group_name = _read_str(group_name, name, "group_name")
    excluded = _read_strings(a[2], name, "excluded_list")
    payloads = _read_payloads(a[3], name, "payloads")
    tracing_id = filter_ = None
    if n >= 5:
        ext = a[4]
        if type(ext) is not dict:
            raise _wrong(name, _EXT, "a map", ext)
        if ext:
            found = _read_extensions(ext, name, _MULTICAST_KEYS)
            tracing_id = found.get("tracing_id")
            filter_ = found.get("filter")
        if n >= 7:
            return GroupBroadcastData(
                group_name,
                excluded,
                payloads,
                tracing_id,
                filter_,
                _read_strings(a[5], name, "excluded_user_list"),
                _read_str(a[6], name, "caller_user_id"),
            )
    return GroupBroadcastData(group_name, excluded, payloads, tracing_id, filter_, (), None)


def _encode_ping(m: Ping) -> bytes:
    return _pack((3, *m.messages))


def _decode_ping(a: tuple[Any, ...], n: int) -> Ping:
    messages = a[1:]
    for index, message in enumerate(messages):
        if message is not None and type(message) is not str:
            raise _wrong("Ping", f"messages[{index}]", "a string", message)
    return Ping(messages)


def _encode_handshake_request(m: HandshakeRequest) -> bytes:
    connection_type = m.connection_type
    # The target slot is "" for default connections (§3.2 #1).
    target = "" if connection_type == ServiceConnectionType.DEFAULT else _text(m.target)
    return _pack([1, m.version, connection_type, target, m.migration_level, _EMPTY])


# --------------------------------------------------------------------------------------------------
# Table-driven coder for everything else.


class _Kind(NamedTuple):
    read: Callable[[Any, str, str], Any]
    write: Callable[[Any], Any] | None = None


_STR = _Kind(_read_str)
_TEXT = _Kind(_read_text, _text)
_BYTES = _Kind(_read_bytes)
_INT32 = _Kind(_read_int32)
_STRINGS = _Kind(_read_strings, _strings)
_PAYLOADS = _Kind(_read_payloads, _payload_map)
#: The extension map's slot in a layout.
_EXTENSIONS = _Kind(_extensions_of)


class _Layout:
    """One message type as (field, kind, array length from which the C# reader reads it) slots.

    Slots are in wire order from index 1; the ``_EXTENSIONS`` slot stands for the extension map and
    ``ext_keys`` are the members this type carries (§2.1, §3.2).
    """

    __slots__ = ("cls", "ext_keys", "ext_writes", "slots")

    def __init__(
        self,
        cls: type[Any],
        slots: tuple[tuple[str, _Kind, int], ...],
        ext_keys: tuple[int, ...] = (),
    ):
        self.cls = cls
        self.slots = slots
        self.ext_keys = frozenset(ext_keys)
        self.ext_writes = tuple(
            (key, _EXTENSION_MEMBERS[key][0], _EXTENSION_MEMBERS[key][2]) for key in sorted(ext_keys)
        )

    def encode(self, m: Any) -> bytes:
        array: list[Any] = [self.cls.TYPE]
        for field, kind, _ in self.slots:
            if kind is _EXTENSIONS:
                ext = {}
                for key, member, is_set in self.ext_writes:
                    value = getattr(m, member)
                    if is_set(value):
                        ext[key] = value
                array.append(ext)
            else:
                value = getattr(m, field)
                array.append(value if kind.write is None else kind.write(value))
        return _pack(array)

    def decode(self, a: tuple[Any, ...], n: int) -> Any:
        cls = self.cls
        name = cls.__name__
        values: dict[str, Any] = {}
        for index, (field, kind, needed) in enumerate(self.slots, 1):
            if n < needed:
                break
            if kind is _EXTENSIONS:
                ext = _extensions_of(a[index], name, field)
                if ext:
                    values.update(_read_extensions(ext, name, self.ext_keys))
            else:
                values[field] = kind.read(a[index], name, field)
        return cls(**values)


def _ack_slots(*fields: str, ext_at: int) -> tuple[tuple[str, _Kind, int], ...]:
    """Strings, then ``ack_id``, then the extension map; all read from ``ext_at - 1`` elements on."""
    slots = [(field, _STR, ext_at - 1) for field in fields]
    slots.append(("ack_id", _INT32, ext_at - 1))
    slots.append((_EXT, _EXTENSIONS, ext_at))
    return tuple(slots)


_CONNECTION_TYPE = _Kind(_enum_reader(ServiceConnectionType))
_MIGRATION_LEVEL = _Kind(_enum_reader(MigrationLevel))

_LAYOUTS = (
    _Layout(
        HandshakeRequest,
        (
            ("version", _INT32, 2),
            ("connection_type", _CONNECTION_TYPE, 4),
            ("target", _STR, 4),
            ("migration_level", _MIGRATION_LEVEL, 5),
            (_EXT, _EXTENSIONS, 6),
        ),
    ),
    _Layout(
        HandshakeResponse,
        (("error_message", _STR, 2), (_EXT, _EXTENSIONS, 3), ("connection_id", _STR, 4)),
    ),
    _Layout(JoinGroup, (("connection_id", _STR, 3), ("group_name", _STR, 3), (_EXT, _EXTENSIONS, 4)), (1,)),
    _Layout(LeaveGroup, (("connection_id", _STR, 3), ("group_name", _STR, 3), (_EXT, _EXTENSIONS, 4)), (1,)),
    _Layout(ServiceError, (("error_message", _TEXT, 2),)),
    _Layout(UserJoinGroup, (("user_id", _STR, 3), ("group_name", _STR, 3), (_EXT, _EXTENSIONS, 4)), (1, 2)),
    _Layout(UserLeaveGroup, (("user_id", _STR, 3), ("group_name", _STR, 3), (_EXT, _EXTENSIONS, 4)), (1,)),
    _Layout(JoinGroupWithAck, _ack_slots("connection_id", "group_name", ext_at=5), (1,)),
    _Layout(LeaveGroupWithAck, _ack_slots("connection_id", "group_name", ext_at=5), (1,)),
    _Layout(
        Ack,
        (
            ("ack_id", _INT32, 4),
            ("status", _Kind(_enum_reader(AckStatus)), 4),
            ("message", _STR, 4),
            (_EXT, _EXTENSIONS, 5),
        ),
    ),
    _Layout(CheckUserInGroupWithAck, _ack_slots("user_id", "group_name", ext_at=5), (1,)),
    _Layout(
        ServiceEvent,
        (
            ("type", _Kind(_enum_reader(ServiceEventObjectType)), 6),
            ("id", _STR, 6),
            ("kind", _Kind(_enum_reader(ServiceEventKind)), 6),
            ("message", _TEXT, 6),
            (_EXT, _EXTENSIONS, 6),
        ),
    ),
    _Layout(CheckGroupExistenceWithAck, _ack_slots("group_name", ext_at=4), (1,)),
    _Layout(CheckConnectionExistenceWithAck, _ack_slots("connection_id", ext_at=4), (1,)),
    _Layout(CheckUserExistenceWithAck, _ack_slots("user_id", ext_at=4), (1,)),
    _Layout(UserJoinGroupWithAck, _ack_slots("user_id", "group_name", ext_at=5), (1, 2)),
    _Layout(UserLeaveGroupWithAck, _ack_slots("user_id", "group_name", ext_at=5), (1,)),
    _Layout(AccessKeyRequest, (("token", _STR, 4), ("kid", _STR, 4), (_EXT, _EXTENSIONS, 4))),
    _Layout(
        AccessKeyResponse,
        (
            ("kid", _STR, 6),
            ("access_key", _STR, 6),
            ("error_type", _STR, 6),
            ("error_message", _STR, 6),
            (_EXT, _EXTENSIONS, 6),
        ),
    ),
    _Layout(CloseConnectionWithAck, _ack_slots("connection_id", "reason", ext_at=5), (1,)),
    _Layout(
        CloseConnectionsWithAck,
        (("reason", _STR, 4), ("ack_id", _INT32, 4), ("excluded_list", _STRINGS, 4), (_EXT, _EXTENSIONS, 5)),
        (1,),
    ),
    _Layout(
        CloseUserConnectionsWithAck,
        (
            ("user_id", _STR, 5),
            ("reason", _STR, 5),
            ("ack_id", _INT32, 5),
            ("excluded_list", _STRINGS, 5),
            (_EXT, _EXTENSIONS, 6),
        ),
        (1,),
    ),
    _Layout(
        CloseGroupConnectionsWithAck,
        (
            ("group_name", _STR, 5),
            ("reason", _STR, 5),
            ("ack_id", _INT32, 5),
            ("excluded_list", _STRINGS, 5),
            (_EXT, _EXTENSIONS, 6),
        ),
        (1,),
    ),
    _Layout(
        ClientInvocation,
        (
            ("invocation_id", _STR, 6),
            ("connection_id", _STR, 6),
            ("caller_server_id", _STR, 6),
            ("payloads", _PAYLOADS, 6),
            (_EXT, _EXTENSIONS, 6),
        ),
        (1,),
    ),
    _Layout(
        ClientCompletion,
        (
            ("invocation_id", _STR, 7),
            ("connection_id", _STR, 7),
            ("caller_server_id", _STR, 7),
            ("protocol", _STR, 7),
            ("payload", _BYTES, 7),
            # The protocol is written here too; on read, key 3 overrides element 5 (§3.2 #35).
            (_EXT, _EXTENSIONS, 7),
        ),
        (1, 3),
    ),
    _Layout(
        ErrorCompletion,
        (
            ("invocation_id", _STR, 6),
            ("connection_id", _STR, 6),
            ("caller_server_id", _STR, 6),
            ("error", _STR, 6),
            (_EXT, _EXTENSIONS, 6),
        ),
        (1,),
    ),
    _Layout(
        ServiceMapping,
        (
            ("invocation_id", _STR, 5),
            ("connection_id", _STR, 5),
            ("instance_id", _STR, 5),
            (_EXT, _EXTENSIONS, 5),
        ),
    ),
    _Layout(ConnectionReconnect, (("connection_id", _STR, 3), (_EXT, _EXTENSIONS, 3))),
)

_MULTICASTS = (
    _Multicast(MultiConnectionData, "connection_list", is_list=True),
    _Multicast(UserData, "user_id", is_list=False),
    _Multicast(MultiUserData, "user_list", is_list=True),
    _Multicast(BroadcastData, "excluded_list", is_list=True),
    _Multicast(MultiGroupBroadcastData, "group_list", is_list=True),
)

_Decoder = Callable[[tuple[Any, ...], int], ServiceMessage]

#: Shortest array the C# reader accepts, per type (§3.1 "min len").
_MIN_LENGTH = {
    1: 2, 2: 2, 3: 1, 4: 3, 5: 3, 6: 3, 7: 3, 8: 3, 9: 3, 10: 3, 11: 3, 12: 3, 13: 4, 14: 3, 15: 2,
    16: 3, 17: 3, 18: 4, 19: 4, 20: 4, 21: 4, 22: 6, 23: 4, 24: 4, 25: 4, 26: 5, 27: 5, 28: 4, 29: 6,
    30: 4, 31: 4, 32: 5, 33: 5, 34: 6, 35: 7, 36: 6, 37: 5, 38: 3,
}  # fmt: skip

_ENCODERS: dict[type[Any], Callable[[Any], bytes]] = {
    HandshakeRequest: _encode_handshake_request,
    Ping: _encode_ping,
    OpenConnection: _encode_open_connection,
    CloseConnection: _encode_close_connection,
    ConnectionData: _encode_connection_data,
    GroupBroadcastData: _encode_group_broadcast,
}
_DECODERS: dict[int, tuple[int, _Decoder]] = {}


def _register_decoder(cls: type[ServiceMessage], decode: _Decoder) -> None:
    _DECODERS[cls.TYPE] = (_MIN_LENGTH[cls.TYPE], decode)


for _layout in _LAYOUTS:
    # HandshakeRequest keeps its hand-written encoder (the target rule); its layout only decodes.
    _ENCODERS.setdefault(_layout.cls, _layout.encode)
    _register_decoder(_layout.cls, _layout.decode)
for _multicast in _MULTICASTS:
    _ENCODERS[_multicast.cls] = _multicast.encode
    _register_decoder(_multicast.cls, _multicast.decode)
_register_decoder(Ping, _decode_ping)
_register_decoder(OpenConnection, _decode_open_connection)
_register_decoder(CloseConnection, _decode_close_connection)
_register_decoder(ConnectionData, _decode_connection_data)
_register_decoder(GroupBroadcastData, _decode_group_broadcast)
del _layout, _multicast

# --------------------------------------------------------------------------------------------------
# Public entry points.


def encode_body(message: ServiceMessage) -> bytes:
    """The MessagePack array of ``message``, without the length prefix (as in the C# test vectors)."""
    try:
        encoder = _ENCODERS[type(message)]
    except KeyError:
        raise TypeError(f"not a service message: {type(message).__name__}") from None
    return encoder(message)


def encode(message: ServiceMessage) -> bytes:
    """One complete frame: varint length prefix + body (§1.2)."""
    return frame(encode_body(message))


def decode_body(body: bytes | bytearray | memoryview) -> ServiceMessage | None:
    """Decode one frame body; ``None`` for a message type this codec does not know (§1.4)."""
    try:
        array = msgpack.unpackb(
            body, raw=False, strict_map_key=False, use_list=False, unicode_errors="replace"
        )
    except msgpack.ExtraData as extra:  # bytes after the array are never read (§1.4)
        array = extra.unpacked
    except _MSGPACK_ERRORS as exc:
        raise _malformed(exc) from None
    if type(array) is not tuple or not array:
        raise ServiceProtocolError(
            f"a service message must be a non-empty MessagePack array, got {_kind(array)}"
        )
    message_type = array[0]
    if type(message_type) is not int:
        raise ServiceProtocolError(f"the message type must be an int, got {_kind(message_type)}")
    entry = _DECODERS.get(message_type)
    if entry is None:
        return None
    min_length, decode = entry
    length = len(array)
    if length < min_length:
        raise ServiceProtocolError(
            f"{MESSAGE_TYPES[message_type].__name__}: array has {length} elements,"
            f" at least {min_length} expected"
        )
    if message_type == 4:  # claim types may repeat: read the maps as pairs (§2.2)
        array = _unpack_pairs(body)
    return decode(array, length)


class ServiceProtocolParser:
    """Sans-IO reader of one server connection's byte stream.

    Feed it whatever arrives, in any slices; get back the complete messages in order, unknown types
    skipped. A bad frame body raises :class:`ServiceProtocolError` at its place in the stream: messages
    before it are returned first and the error comes from the next :meth:`feed`; later frames stay
    buffered. A bad length prefix cannot be resynchronised: every later call raises again.
    """

    __slots__ = ("_bodies", "_broken", "_deferred", "_frames")

    def __init__(self) -> None:
        self._frames = FrameBuffer()
        self._bodies: deque[bytes] = deque()
        self._deferred: ServiceProtocolError | None = None
        self._broken: str | None = None

    def feed(self, data: bytes | bytearray | memoryview) -> list[ServiceMessage]:
        """Add received bytes; return every message now complete (possibly none)."""
        if self._broken is not None:
            raise ServiceProtocolError(self._broken)
        try:
            self._bodies.extend(self._frames.feed(data))
        except VarintError as exc:
            self._broken = f"bad length prefix: {exc}"
            raise ServiceProtocolError(self._broken) from None
        if self._deferred is not None:
            error, self._deferred = self._deferred, None
            raise error
        messages: list[ServiceMessage] = []
        bodies = self._bodies
        while bodies:
            try:
                message = decode_body(bodies.popleft())
            except ServiceProtocolError as exc:
                if not messages:
                    raise
                self._deferred = exc
                break
            if message is not None:
                messages.append(message)
        return messages

    @property
    def pending(self) -> int:
        """Bytes held back: an incomplete frame, plus bodies waiting behind a deferred error."""
        return self._frames.pending + sum(map(len, self._bodies))
