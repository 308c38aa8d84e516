"""Service protocol: round trips of every message type, and the stream parser under any slicing."""

from __future__ import annotations

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flask_azure_signalr.exceptions import ServiceProtocolError
from flask_azure_signalr.protocol.service import (
    MESSAGE_TYPES,
    ConnectionData,
    Ping,
    ServiceMessage,
    ServiceProtocolParser,
    decode_body,
    encode,
    encode_body,
)
from flask_azure_signalr.protocol.varint import frame

from .service_strategies import any_message, messages_of


@pytest.mark.parametrize("cls", list(MESSAGE_TYPES.values()), ids=lambda cls: cls.__name__)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_every_type_round_trips(cls: type[ServiceMessage], data: st.DataObject) -> None:
    message = data.draw(messages_of(cls))
    body = encode_body(message)
    decoded = decode_body(body)
    assert decoded == message
    assert type(decoded) is cls
    assert encode_body(decoded) == body
    assert encode(message) == frame(body)


def _cut(stream: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({cut % (len(stream) + 1) for cut in cuts})
    pieces = []
    start = 0
    for point in points:
        pieces.append(stream[start:point])
        start = point
    pieces.append(stream[start:])
    return pieces


@settings(max_examples=100, deadline=None)
@given(
    messages=st.lists(any_message(), max_size=12),
    cuts=st.lists(st.integers(min_value=0), max_size=20),
)
def test_parser_accepts_any_split_and_coalescing(messages: list[ServiceMessage], cuts: list[int]) -> None:
    stream = b"".join(encode(message) for message in messages)
    parser = ServiceProtocolParser()
    received: list[ServiceMessage] = []
    for piece in _cut(stream, cuts):
        received.extend(parser.feed(piece))
    assert received == messages
    assert parser.pending == 0


def test_parser_byte_by_byte() -> None:
    messages = [ConnectionData("c", b"x" * 300), Ping.of("status", "1"), ConnectionData("d", b"")]
    parser = ServiceProtocolParser()
    received = []
    for byte in b"".join(map(encode, messages)):
        received.extend(parser.feed(bytes([byte])))
    assert received == messages


def test_incomplete_prefix_and_body_wait() -> None:
    parser = ServiceProtocolParser()
    data = encode(ConnectionData("c", b"x" * 200))  # two-byte prefix
    assert data[0] & 0x80
    assert parser.feed(data[:1]) == []
    assert parser.pending == 1
    assert parser.feed(data[1:-1]) == []
    assert parser.feed(data[-1:]) == [ConnectionData("c", b"x" * 200)]
    assert parser.pending == 0


def test_unknown_types_are_skipped() -> None:
    stream = encode(Ping()) + frame(msgpack.packb([99, "future"])) + encode(Ping.of("a", "b"))
    assert ServiceProtocolParser().feed(stream) == [Ping(), Ping.of("a", "b")]


@pytest.mark.parametrize(
    "prefix",
    [b"\xff\xff\xff\xff\xff\x01", b"\x80\x80\x80\x80\x80", b"\xff\xff\xff\xff\x08", b"\x80\x80\x80\x80\x7f"],
    ids=["six-bytes", "five-continued", "fifth-byte-8", "fifth-byte-127"],
)
def test_bad_prefix_breaks_the_stream(prefix: bytes) -> None:
    parser = ServiceProtocolParser()
    with pytest.raises(ServiceProtocolError, match="bad length prefix"):
        parser.feed(prefix)
    with pytest.raises(ServiceProtocolError, match="bad length prefix"):
        parser.feed(encode(Ping()))


def test_largest_valid_prefix_waits() -> None:
    parser = ServiceProtocolParser()
    assert parser.feed(b"\xff\xff\xff\xff\x07") == []
    assert parser.pending == 5


def test_bad_body_is_reported_at_its_place_in_the_stream() -> None:
    first, last = ConnectionData("a", b"1"), ConnectionData("b", b"2")
    bad = frame(msgpack.packb([6, "c", b"", None], use_bin_type=True))
    parser = ServiceProtocolParser()
    assert parser.feed(encode(first) + bad + encode(last)) == [first]
    with pytest.raises(ServiceProtocolError, match="ConnectionData: field 'extensions'"):
        parser.feed(b"")
    assert parser.feed(b"") == [last]


def test_bad_body_first_raises_at_once() -> None:
    parser = ServiceProtocolParser()
    with pytest.raises(ServiceProtocolError, match="malformed"):
        parser.feed(frame(b"\xc1") + encode(Ping()))
    assert parser.feed(b"") == [Ping()]
