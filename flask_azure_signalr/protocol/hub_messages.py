"""The hub messages of ASP.NET Core SignalR (hub-protocol §2.3), independent of their encoding.

One immutable class per message type; the JSON and MessagePack codecs turn them into bytes and
back. Values inside ``arguments``, ``item`` and ``result`` are kept as the wire gave them
(JSON values, or MessagePack values with ``bytes`` and UTC ``datetime``): binding them to a hub
method's parameters is the dispatcher's job.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

__all__ = [
    "InvocationMessage",
    "StreamItemMessage",
    "CompletionMessage",
    "StreamInvocationMessage",
    "CancelInvocationMessage",
    "PingMessage",
    "CloseMessage",
    "AckMessage",
    "SequenceMessage",
    "HubMessage",
    "PING",
    "TRACKABLE_TYPES",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class InvocationMessage:
    """Type 1: call ``target``. Without ``invocation_id`` it is non-blocking and gets no reply.

    ``stream_ids`` names the upload streams the caller will send StreamItems on (§3.4).
    """

    TYPE: ClassVar[int] = 1
    target: str
    arguments: Sequence[Any]
    invocation_id: str | None = None
    stream_ids: Sequence[str] = ()
    headers: Mapping[str, str] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamItemMessage:
    """Type 2: one item of a server stream, or of an upload stream (then the id is the stream id)."""

    TYPE: ClassVar[int] = 2
    invocation_id: str
    item: Any
    headers: Mapping[str, str] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CompletionMessage:
    """Type 3: the end of an invocation or a stream.

    Three shapes, as on the wire: ``error`` set (failure), ``has_result`` true (a value, which may
    be None: .NET completes void methods this way), or neither (end of a stream, "void" in
    MessagePack's ResultKind 2). Use the class methods to build them.
    """

    TYPE: ClassVar[int] = 3
    invocation_id: str
    error: str | None = None
    result: Any = None
    has_result: bool = False
    headers: Mapping[str, str] | None = None

    @classmethod
    def with_result(cls, invocation_id: str, result: Any) -> CompletionMessage:
        """A successful completion carrying ``result`` (None included)."""
        return cls(invocation_id=invocation_id, result=result, has_result=True)

    @classmethod
    def with_error(cls, invocation_id: str, error: str) -> CompletionMessage:
        """A failed completion; the client sees ``error`` verbatim."""
        return cls(invocation_id=invocation_id, error=error)

    @classmethod
    def empty(cls, invocation_id: str) -> CompletionMessage:
        """A completion with neither result nor error (stream end, upload end)."""
        return cls(invocation_id=invocation_id)


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamInvocationMessage:
    """Type 4: call a streaming method; the reply is StreamItems then one Completion."""

    TYPE: ClassVar[int] = 4
    invocation_id: str
    target: str
    arguments: Sequence[Any]
    stream_ids: Sequence[str] = ()
    headers: Mapping[str, str] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelInvocationMessage:
    """Type 5: stop the stream (or call) with this id."""

    TYPE: ClassVar[int] = 5
    invocation_id: str
    headers: Mapping[str, str] | None = None


@dataclass(frozen=True, slots=True)
class PingMessage:
    """Type 6: keep-alive; carries nothing."""

    TYPE: ClassVar[int] = 6


@dataclass(frozen=True, slots=True, kw_only=True)
class CloseMessage:
    """Type 7: the sender is ending the connection; ``allow_reconnect`` invites the client back (§3.6)."""

    TYPE: ClassVar[int] = 7
    error: str | None = None
    allow_reconnect: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class AckMessage:
    """Type 8 (stateful reconnect): trackable messages up to ``sequence_id`` were processed."""

    TYPE: ClassVar[int] = 8
    sequence_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class SequenceMessage:
    """Type 9 (stateful reconnect): the next trackable message sent will have ``sequence_id``."""

    TYPE: ClassVar[int] = 9
    sequence_id: int


HubMessage = (
    InvocationMessage
    | StreamItemMessage
    | CompletionMessage
    | StreamInvocationMessage
    | CancelInvocationMessage
    | PingMessage
    | CloseMessage
    | AckMessage
    | SequenceMessage
)

PING = PingMessage()
"""The one Ping; every Ping is equal, so there is no reason to build more."""

TRACKABLE_TYPES: frozenset[type] = frozenset(
    {
        InvocationMessage,
        StreamItemMessage,
        CompletionMessage,
        StreamInvocationMessage,
        CancelInvocationMessage,
    }
)
"""Message classes that stateful reconnect numbers and replays (hub-protocol §2.9)."""
