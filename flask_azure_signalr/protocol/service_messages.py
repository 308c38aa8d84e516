"""The 38 messages of the Azure SignalR service protocol, as frozen dataclasses.

One class per C# message class (name without "Message"); ``TYPE`` is the number on the wire and the
fields follow the wire order (service-protocol §3.2), then the extension-map members (§2.1).
The codec lives in :mod:`flask_azure_signalr.protocol.service`.

Value conventions, shared by the decoder and the encoder:

- A nil string on the wire decodes to ``None`` (the C# reader yields null), except where the C#
  constructor normalises it to ``""``: ``CloseConnection.error_message``, ``ServiceError.error_message``
  and ``ServiceEvent.message``. Annotations show what a writer normally puts there.
- String lists are tuples; an empty or absent list is ``()`` (§2.5).
- ``claims`` is a tuple of ``(type, value)`` pairs: claim types may repeat (§2.2).
- ``headers`` maps a name to a tuple of values; names are case-insensitive on the wire (§2.3), so
  look them up with :meth:`OpenConnection.header` / ``header_values``, not with ``[]``.
- ``payloads`` maps a hub protocol name to one framed hub message (§2.4); insertion order is wire order.
- Enumerated fields decode to the IntEnum member when the value is known, else to the plain int.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import ClassVar

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
    "UserData",
    "UserJoinGroup",
    "UserJoinGroupWithAck",
    "UserLeaveGroup",
    "UserLeaveGroupWithAck",
]


class ServiceConnectionType(IntEnum):
    """HandshakeRequest ``connection_type`` (§3.2 #1)."""

    DEFAULT = 0
    ON_DEMAND = 1
    WEAK = 2


class MigrationLevel(IntEnum):
    """HandshakeRequest ``migration_level`` (§3.2 #1)."""

    OFF = 0
    SHUTDOWN_ONLY = 1
    ANY = 2


class DataMessageType(IntEnum):
    """ConnectionData extension key 5 (§2.1); 0 is never written."""

    UNKNOWN = 0
    HANDSHAKE = 1
    INVOCATION = 2
    OTHER = 3


class AckStatus(IntEnum):
    """Ack ``status`` (§3.1)."""

    OK = 1
    NOT_FOUND = 2
    TIMEOUT = 3
    INTERNAL_SERVER_ERROR = 4


class ServiceEventObjectType(IntEnum):
    """ServiceEvent ``type`` (§3.2 #22)."""

    SERVICE_INSTANCE = 0
    CONNECTION = 1
    USER = 2
    GROUP = 3
    SERVER_CONNECTION = 4


class ServiceEventKind(IntEnum):
    """ServiceEvent ``kind`` (§3.2 #22)."""

    RELOADING = 0
    INVALID = 1
    NOT_EXISTED = 2
    BUFFER_FULL = 3


class ServiceMessage:
    """Base of every service message; ``TYPE`` is its number on the wire."""

    __slots__ = ()
    TYPE: ClassVar[int]


def _header_values(headers: Mapping[str, tuple[str, ...]], name: str) -> tuple[str, ...]:
    values = headers.get(name)
    if values is not None:
        return tuple(values)
    folded = name.casefold()
    for key, values in headers.items():
        if key.casefold() == folded:
            return tuple(values)
    return ()


class _HasHeaders:
    """Case-insensitive header lookup, as the C# reader's dictionary does (§2.3)."""

    __slots__ = ()
    headers: Mapping[str, tuple[str, ...]]

    def header_values(self, name: str) -> tuple[str, ...]:
        """All values of header ``name`` (any case), or ``()``."""
        return _header_values(self.headers, name)

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (any case), or None."""
        values = _header_values(self.headers, name)
        return values[0] if values else None


@dataclass(frozen=True, slots=True)
class HandshakeRequest(ServiceMessage):
    """S→V, the first message on a server connection. ``target`` is written as ``""`` for type 0."""

    TYPE: ClassVar[int] = 1
    version: int = 1
    connection_type: int = ServiceConnectionType.DEFAULT
    target: str | None = None
    migration_level: int = MigrationLevel.OFF


@dataclass(frozen=True, slots=True)
class HandshakeResponse(ServiceMessage):
    """V→S; an empty or nil ``error_message`` means success."""

    TYPE: ClassVar[int] = 2
    error_message: str | None = ""
    connection_id: str | None = None


@dataclass(frozen=True, slots=True)
class Ping(ServiceMessage):
    """Both ways. ``messages`` holds flattened key/value strings (§3.2 #3, §5.3); ``()`` is a keep-alive."""

    TYPE: ClassVar[int] = 3
    messages: tuple[str | None, ...] = ()

    @classmethod
    def of(cls, *key_values: str) -> Ping:
        """``Ping.of("status", "1")`` → ``[3, "status", "1"]``; ``Ping.of()`` is the keep-alive."""
        return cls(tuple(key_values))

    def get(self, key: str) -> str | None:
        """The value after the first ``key`` at an even position; a dangling key has no value."""
        messages = self.messages
        for index in range(0, len(messages) - 1, 2):
            if messages[index] == key:
                return messages[index + 1]
        return None


@dataclass(frozen=True, slots=True)
class OpenConnection(_HasHeaders, ServiceMessage):
    """V→S: a client connected (or migrated in: header ``Asrs-Migrate-From``)."""

    TYPE: ClassVar[int] = 4
    connection_id: str
    claims: tuple[tuple[str, str], ...] = ()
    headers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    query_string: str | None = ""
    tracing_id: int | None = None
    protocol: str | None = None


@dataclass(frozen=True, slots=True)
class CloseConnection(_HasHeaders, ServiceMessage):
    """Both ways: the client is gone (V→S, maybe migrating: ``Asrs-Migrate-To``) or must go (S→V)."""

    TYPE: ClassVar[int] = 5
    connection_id: str
    error_message: str = ""
    headers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    tracing_id: int | None = None


@dataclass(frozen=True, slots=True)
class ConnectionData(ServiceMessage):
    """Both ways: raw SignalR bytes of one client connection."""

    TYPE: ClassVar[int] = 6
    connection_id: str
    payload: bytes = b""
    tracing_id: int | None = None
    data_message_type: int = DataMessageType.UNKNOWN
    is_partial: bool = False


@dataclass(frozen=True, slots=True)
class MultiConnectionData(ServiceMessage):
    """S→V: send to the listed connections."""

    TYPE: ClassVar[int] = 7
    connection_list: tuple[str, ...] = ()
    payloads: Mapping[str, bytes] = field(default_factory=dict)
    tracing_id: int | None = None
    filter: str | None = None


@dataclass(frozen=True, slots=True)
class UserData(ServiceMessage):
    """S→V: send to every connection of a user."""

    TYPE: ClassVar[int] = 8
    user_id: str
    payloads: Mapping[str, bytes] = field(default_factory=dict)
    tracing_id: int | None = None
    filter: str | None = None


@dataclass(frozen=True, slots=True)
class MultiUserData(ServiceMessage):
    """S→V: send to every connection of the listed users."""

    TYPE: ClassVar[int] = 9
    user_list: tuple[str, ...] = ()
    payloads: Mapping[str, bytes] = field(default_factory=dict)
    tracing_id: int | None = None
    filter: str | None = None


@dataclass(frozen=True, slots=True)
class BroadcastData(ServiceMessage):
    """S→V: send to every client of the hub except the excluded connection ids."""

    TYPE: ClassVar[int] = 10
    excluded_list: tuple[str, ...] = ()
    payloads: Mapping[str, bytes] = field(default_factory=dict)
    tracing_id: int | None = None
    filter: str | None = None


@dataclass(frozen=True, slots=True)
class JoinGroup(ServiceMessage):
    """S→V, fire and forget (the SDK uses JoinGroupWithAck)."""

    TYPE: ClassVar[int] = 11
    connection_id: str
    group_name: str
    tracing_id: int | None = None


@dataclass(frozen=True, slots=True)
class LeaveGroup(ServiceMessage):
    """S→V, fire and forget (the SDK uses LeaveGroupWithAck)."""

    TYPE: ClassVar[int] = 12
    connection_id: str
    group_name: str
    tracing_id: int | None = None


@dataclass(frozen=True, slots=True)
class GroupBroadcastData(ServiceMessage):
    """S→V: send to a group. On the wire the extension map sits before the last two fields."""

    TYPE: ClassVar[int] = 13
    group_name: str
    excluded_list: tuple[str, ...] = ()
    payloads: Mapping[str, bytes] = field(default_factory=dict)
    tracing_id: int | None = None
    filter: str | None = None
    excluded_user_list: tuple[str, ...] = ()
    caller_user_id: str | None = None


@dataclass(frozen=True, slots=True)
class MultiGroupBroadcastData(ServiceMessage):
    """S→V: send to several groups."""

    TYPE: ClassVar[int] = 14
    group_list: tuple[str, ...] = ()
    payloads: Mapping[str, bytes] = field(default_factory=dict)
    tracing_id: int | None = None
    filter: str | None = None


@dataclass(frozen=True, slots=True)
class ServiceError(ServiceMessage):
    """V→S: a non-empty text makes the connection unusable for writing (§7.4)."""

    TYPE: ClassVar[int] = 15
    error_message: str = ""


@dataclass(frozen=True, slots=True)
class UserJoinGroup(ServiceMessage):
    """S→V (Management SDK); ``ttl`` in seconds."""

    TYPE: ClassVar[int] = 16
    user_id: str
    group_name: str
    tracing_id: int | None = None
    ttl: int | None = None


@dataclass(frozen=True, slots=True)
class UserLeaveGroup(ServiceMessage):
    """S→V (Management SDK)."""

    TYPE: ClassVar[int] = 17
    user_id: str
    group_name: str
    tracing_id: int | None = None


@dataclass(frozen=True, slots=True)
class JoinGroupWithAck(ServiceMessage):
    """S→V; V answers with an Ack carrying ``ack_id``."""

    TYPE: ClassVar[int] = 18
    connection_id: str
    group_name: str
    ack_id: int
    tracing_id: int | None = None


@dataclass(frozen=True, slots=True)
class LeaveGroupWithAck(ServiceMessage):
    """S→V; V answers with an Ack carrying ``ack_id``."""

    TYPE: ClassVar[int] = 19
    connection_id: str
    group_name: str
    ack_id: int
    tracing_id: int | None = None


@dataclass(frozen=True, slots=True)
class Ack(ServiceMessage):
    """V→S: the answer to an ack-able message; ``status`` is an :class:`AckStatus` when known."""

    TYPE: ClassVar[int] = 20
    ack_id: int
    status: int
    message: str | None = ""


@dataclass(frozen=True, slots=True)
class CheckUserInGroupWithAck(ServiceMessage):
    """S→V; Ack status 1 = yes, 2 = no."""

    TYPE: ClassVar[int] = 21
    user_id: str
    group_name: str
    ack_id: int
    tracing_id: int | None = None


@dataclass(frozen=True, slots=True)
class ServiceEvent(ServiceMessage):
    """V→S, informational. ``type`` is the object type (C# ``Type``), ``id`` names the object."""

    TYPE: ClassVar[int] = 22
    type: int
    id: str | None
    kind: int
    message: str = ""


@dataclass(frozen=True, slots=True)
class CheckGroupExistenceWithAck(ServiceMessage):
    """S→V; Ack status 1 = exists, 2 = not found."""

    TYPE: ClassVar[int] = 23
    group_name: str
    ack_id: int
    tracing_id: int | None = None


@dataclass(frozen=True, slots=True)
class CheckConnectionExistenceWithAck(ServiceMessage):
    """S→V; Ack status 1 = exists, 2 = not found."""

    TYPE: ClassVar[int] = 24
    connection_id: str
    ack_id: int
    tracing_id: int | None = None


@dataclass(frozen=True, slots=True)
class CheckUserExistenceWithAck(ServiceMessage):
    """S→V; Ack status 1 = exists, 2 = not found."""

    TYPE: ClassVar[int] = 25
    user_id: str
    ack_id: int
    tracing_id: int | None = None


@dataclass(frozen=True, slots=True)
class UserJoinGroupWithAck(ServiceMessage):
    """S→V (Management SDK); ``ttl`` in seconds."""

    TYPE: ClassVar[int] = 26
    user_id: str
    group_name: str
    ack_id: int
    tracing_id: int | None = None
    ttl: int | None = None


@dataclass(frozen=True, slots=True)
class UserLeaveGroupWithAck(ServiceMessage):
    """S→V (Management SDK); ``group_name=None`` leaves every group."""

    TYPE: ClassVar[int] = 27
    user_id: str
    group_name: str | None
    ack_id: int
    tracing_id: int | None = None


@dataclass(frozen=True, slots=True)
class AccessKeyRequest(ServiceMessage):
    """S→V, Azure AD only. The token is kept out of ``repr``."""

    TYPE: ClassVar[int] = 28
    token: str = field(repr=False)
    kid: str | None = None


@dataclass(frozen=True, slots=True)
class AccessKeyResponse(ServiceMessage):
    """V→S, Azure AD only. The key is kept out of ``repr``."""

    TYPE: ClassVar[int] = 29
    kid: str | None = None
    access_key: str | None = field(default=None, repr=False)
    error_type: str | None = None
    error_message: str | None = None


@dataclass(frozen=True, slots=True)
class CloseConnectionWithAck(ServiceMessage):
    """S→V, obsolete."""

    TYPE: ClassVar[int] = 30
    connection_id: str
    reason: str | None
    ack_id: int
    tracing_id: int | None = None


@dataclass(frozen=True, slots=True)
class CloseConnectionsWithAck(ServiceMessage):
    """S→V, obsolete: close every connection of the hub except the excluded ones."""

    TYPE: ClassVar[int] = 31
    reason: str | None
    ack_id: int
    excluded_list: tuple[str, ...] = ()
    tracing_id: int | None = None


@dataclass(frozen=True, slots=True)
class CloseUserConnectionsWithAck(ServiceMessage):
    """S→V: close every connection of a user except the excluded ones."""

    TYPE: ClassVar[int] = 32
    user_id: str
    reason: str | None
    ack_id: int
    excluded_list: tuple[str, ...] = ()
    tracing_id: int | None = None


@dataclass(frozen=True, slots=True)
class CloseGroupConnectionsWithAck(ServiceMessage):
    """S→V: close every connection in a group except the excluded ones."""

    TYPE: ClassVar[int] = 33
    group_name: str
    reason: str | None
    ack_id: int
    excluded_list: tuple[str, ...] = ()
    tracing_id: int | None = None


@dataclass(frozen=True, slots=True)
class ClientInvocation(ServiceMessage):
    """Both ways: a server invokes a client and awaits its result (§7.6)."""

    TYPE: ClassVar[int] = 34
    invocation_id: str
    connection_id: str
    caller_server_id: str
    payloads: Mapping[str, bytes] = field(default_factory=dict)
    tracing_id: int | None = None


@dataclass(frozen=True, slots=True)
class ClientCompletion(ServiceMessage):
    """Both ways: a client's result, serialized in ``protocol`` (an empty payload only cleans up)."""

    TYPE: ClassVar[int] = 35
    invocation_id: str
    connection_id: str
    caller_server_id: str
    protocol: str | None
    payload: bytes = b""
    tracing_id: int | None = None


@dataclass(frozen=True, slots=True)
class ErrorCompletion(ServiceMessage):
    """V→S: a client invocation failed."""

    TYPE: ClassVar[int] = 36
    invocation_id: str
    connection_id: str
    caller_server_id: str
    error: str | None
    tracing_id: int | None = None


@dataclass(frozen=True, slots=True)
class ServiceMapping(ServiceMessage):
    """V→S: which service instance routes the client of an invocation."""

    TYPE: ClassVar[int] = 37
    invocation_id: str
    connection_id: str
    instance_id: str


@dataclass(frozen=True, slots=True)
class ConnectionReconnect(ServiceMessage):
    """V→S (stateful reconnect, unused by the SDK so far)."""

    TYPE: ClassVar[int] = 38
    connection_id: str


#: Every message class by its wire number.
MESSAGE_TYPES: Mapping[int, type[ServiceMessage]] = {
    cls.TYPE: cls
    for cls in (
        HandshakeRequest,
        HandshakeResponse,
        Ping,
        OpenConnection,
        CloseConnection,
        ConnectionData,
        MultiConnectionData,
        UserData,
        MultiUserData,
        BroadcastData,
        JoinGroup,
        LeaveGroup,
        GroupBroadcastData,
        MultiGroupBroadcastData,
        ServiceError,
        UserJoinGroup,
        UserLeaveGroup,
        JoinGroupWithAck,
        LeaveGroupWithAck,
        Ack,
        CheckUserInGroupWithAck,
        ServiceEvent,
        CheckGroupExistenceWithAck,
        CheckConnectionExistenceWithAck,
        CheckUserExistenceWithAck,
        UserJoinGroupWithAck,
        UserLeaveGroupWithAck,
        AccessKeyRequest,
        AccessKeyResponse,
        CloseConnectionWithAck,
        CloseConnectionsWithAck,
        CloseUserConnectionsWithAck,
        CloseGroupConnectionsWithAck,
        ClientInvocation,
        ClientCompletion,
        ErrorCompletion,
        ServiceMapping,
        ConnectionReconnect,
    )
}
