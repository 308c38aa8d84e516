"""The interface every hub protocol codec offers (hub-protocol §2.1).

A protocol object is stateless and shared by all connections; per-connection state (the bytes of
a message that has not fully arrived yet) lives in the parser it hands out.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

from ..exceptions import HubProtocolError
from .hub_messages import HubMessage

__all__ = ["TEXT", "BINARY", "HubProtocol", "HubMessageParser", "message_too_large"]

TEXT = "text"
"""Transfer format of JSON: WebSocket text frames, SSE allowed (§1.4)."""
BINARY = "binary"
"""Transfer format of MessagePack: WebSocket binary frames, never SSE (§1.4)."""


def message_too_large(limit: int) -> HubProtocolError:
    """The .NET error for a message over ``MaximumReceiveMessageSize``."""
    return HubProtocolError(
        f"The maximum message size of {limit}B was exceeded. The message size can be configured in AddHubOptions."
    )


class HubMessageParser(ABC):
    """Turns a byte stream into hub messages, whatever the chunking.

    One parser per connection and direction. A message split across feeds is held back until it
    is complete; several messages in one feed all come out, in order. Unknown message types are
    skipped (forward compatibility, §2.3). Bad input raises :class:`HubProtocolError`, which is
    fatal for the connection (§3.6); valid messages earlier in the same feed are not returned,
    since the connection is closing anyway.
    """

    __slots__ = ()

    @abstractmethod
    def feed(self, data: bytes | bytearray | memoryview | str) -> list[HubMessage]:
        """Add ``data`` and return every message it completes."""

    @property
    @abstractmethod
    def pending(self) -> int:
        """Bytes held back, waiting for the rest of a message (for size limits)."""


class HubProtocol(ABC):
    """A hub protocol: its handshake name, version, transfer format, encoder and parser factory."""

    __slots__ = ()

    name: ClassVar[str]
    """The name a client puts in its handshake request, lower-case."""
    version: ClassVar[int]
    """Highest handshake version understood; every version up to it is accepted (§2.2)."""
    transfer_format: ClassVar[str]
    """:data:`TEXT` or :data:`BINARY`."""

    def is_version_supported(self, version: int) -> bool:
        """Whether a handshake asking for ``version`` is accepted (the .NET rule: not above ours)."""
        return version <= self.version

    @abstractmethod
    def encode(self, message: HubMessage) -> bytes:
        """One complete, framed message. Unencodable values raise :class:`HubProtocolError`."""

    @abstractmethod
    def encode_invocation(self, target: str, arguments: Sequence[Any]) -> bytes:
        """The framed non-blocking Invocation of ``target``, as sent to many clients at once.

        Same bytes as ``encode(InvocationMessage(target=..., arguments=...))``, built without the
        intermediate message object.
        """

    @abstractmethod
    def parser(self, max_message_size: int | None = None) -> HubMessageParser:
        """A fresh parser for one connection's incoming bytes.

        With ``max_message_size`` (the .NET ``MaximumReceiveMessageSize``, framing included), a
        longer message, or an unfinished one already that long, raises HubProtocolError with
        the .NET text (fatal for the connection, §2.8, §3.6).
        """

    def decode(self, data: bytes | bytearray | memoryview | str) -> list[HubMessage]:
        """Parse ``data`` that must hold whole messages only (e.g. one transport frame)."""
        parser = self.parser()
        messages = parser.feed(data)
        if parser.pending:
            raise HubProtocolError(f"Incomplete {self.name} message: {parser.pending} trailing bytes.")
        return messages

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} v{self.version} {self.transfer_format}>"
