"""Varint length-prefix framing.

Shared by the Azure service protocol (service-protocol §1.2) and the MessagePack hub protocol
(hub-protocol §2.1): unsigned LEB128, at most 5 bytes, body at most 2**31 - 1 bytes.
"""

from __future__ import annotations

MAX_BODY_LENGTH = 2**31 - 1
_MAX_PREFIX_BYTES = 5


class VarintError(ValueError):
    """The prefix is longer than 5 bytes or announces more than 2 GB.

    Callers turn it into their own ProtocolError subclass, naming their protocol.
    """


def encode_length(length: int) -> bytes:
    """The varint prefix for a body of ``length`` bytes."""
    if length < 0 or length > MAX_BODY_LENGTH:
        raise VarintError(f"message length {length} is out of range (0..{MAX_BODY_LENGTH})")
    if length < 0x80:
        return bytes((length,))
    out = bytearray()
    while True:
        byte = length & 0x7F
        length >>= 7
        if length:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def frame(body: bytes) -> bytes:
    """Prefix ``body`` with its varint length."""
    return encode_length(len(body)) + body


def read_length(buffer: bytes | bytearray | memoryview, offset: int = 0) -> tuple[int, int] | None:
    """Read a prefix at ``offset``: ``(body_length, prefix_size)``, or None if incomplete.

    Raises VarintError when the prefix is over 5 bytes or the 5th byte is greater than 7.
    """
    length = 0
    shift = 0
    end = len(buffer)
    for index in range(_MAX_PREFIX_BYTES):
        position = offset + index
        if position >= end:
            return None
        byte = buffer[position]
        if index == _MAX_PREFIX_BYTES - 1 and byte > 7:
            raise VarintError("message length prefix is over 2GB")
        length |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return length, index + 1
        shift += 7
    raise VarintError("message length prefix is longer than 5 bytes")


class FrameBuffer:
    """Incremental splitter: feed any slices of a byte stream, get whole bodies out.

    Several frames in one feed and one frame across many feeds both work; the remainder is kept.
    """

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes | bytearray | memoryview) -> list[bytes]:
        """Append ``data`` and return every complete body now available, in order."""
        buffer = self._buffer
        buffer += data
        bodies: list[bytes] = []
        offset = 0
        size = len(buffer)
        while offset < size:
            header = read_length(buffer, offset)
            if header is None:
                break
            length, prefix = header
            start = offset + prefix
            stop = start + length
            if stop > size:
                break
            bodies.append(bytes(buffer[start:stop]))
            offset = stop
        if offset:
            del buffer[:offset]
        return bodies

    @property
    def pending(self) -> int:
        """Bytes held back, waiting for the rest of a frame."""
        return len(self._buffer)
