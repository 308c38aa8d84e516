"""Varint length-prefix framing (service-protocol §1.2, hub-protocol §2.1)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flask_azure_signalr.protocol.varint import (
    MAX_BODY_LENGTH,
    FrameBuffer,
    VarintError,
    encode_length,
    frame,
    read_length,
)

EXAMPLES = [
    (0, "00"),
    (7, "07"),
    (127, "7f"),
    (128, "80 01"),
    (300, "ac 02"),
    (70006, "f6 a2 04"),
    (2**31 - 1, "ff ff ff ff 07"),
]


@pytest.mark.parametrize(("length", "prefix"), EXAMPLES)
def test_examples(length: int, prefix: str) -> None:
    data = bytes.fromhex(prefix)
    assert encode_length(length) == data
    assert read_length(data) == (length, len(data))
    assert read_length(b"junk" + data + b"rest", 4) == (length, len(data))


@given(st.integers(0, MAX_BODY_LENGTH))
def test_round_trip(length: int) -> None:
    data = encode_length(length)
    assert 1 <= len(data) <= 5
    assert read_length(data) == (length, len(data))
    assert read_length(data[:-1]) is None


@pytest.mark.parametrize("length", [-1, MAX_BODY_LENGTH + 1])
def test_out_of_range_lengths_are_refused(length: int) -> None:
    with pytest.raises(VarintError):
        encode_length(length)


@pytest.mark.parametrize("data", ["80 80 80 80 80", "ff ff ff ff ff 01", "ff ff ff ff 08", "80 80 80 80 10"])
def test_bad_prefixes(data: str) -> None:
    with pytest.raises(VarintError):
        read_length(bytes.fromhex(data))


def test_incomplete_prefix_is_none() -> None:
    assert read_length(b"") is None
    assert read_length(b"\x80\x80") is None


def test_frame() -> None:
    assert frame(b"\x91\x03") == b"\x02\x91\x03"
    assert frame(b"") == b"\x00"
    assert frame(b"x" * 128)[:2] == b"\x80\x01"


@given(
    bodies=st.lists(st.binary(max_size=300), max_size=10),
    cuts=st.lists(st.integers(min_value=0), max_size=15),
)
def test_frame_buffer_any_slicing(bodies: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(frame(body) for body in bodies)
    points = sorted({cut % (len(stream) + 1) for cut in cuts}) + [len(stream)]
    buffer = FrameBuffer()
    received: list[bytes] = []
    start = 0
    for point in points:
        received.extend(buffer.feed(stream[start:point]))
        start = point
    assert received == bodies
    assert buffer.pending == 0


def test_frame_buffer_keeps_the_remainder() -> None:
    buffer = FrameBuffer()
    assert buffer.feed(frame(b"one") + frame(b"two")[:2]) == [b"one"]
    assert buffer.pending == 2
    assert buffer.feed(memoryview(frame(b"two")[2:])) == [b"two"]
    assert buffer.pending == 0


def test_frame_buffer_raises_on_a_bad_prefix() -> None:
    with pytest.raises(VarintError):
        FrameBuffer().feed(b"\xff\xff\xff\xff\xff\xff")
