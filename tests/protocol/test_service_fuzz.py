"""Service protocol under hostile input: only ServiceProtocolError (or a message, or None) comes out.

Random bytes, random MessagePack arrays with a known type number and values of every kind in every
slot, and mutated vector frames (bit flips, truncation, insertion), fed to ``decode_body`` and to the
stream parser. A decoded message must always encode again.
"""

from __future__ import annotations

import base64
import random

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flask_azure_signalr.exceptions import ServiceProtocolError
from flask_azure_signalr.protocol.service import (
    ServiceMessage,
    ServiceProtocolParser,
    decode_body,
    encode_body,
)
from flask_azure_signalr.protocol.varint import frame

from .service_strategies import vectors

VECTOR_BODIES = [base64.b64decode(vector["binary_b64"]) for vector in vectors()]


def _decode_or_protocol_error(body: bytes) -> ServiceMessage | None:
    try:
        message = decode_body(body)
    except ServiceProtocolError:
        return None
    if message is not None:
        assert isinstance(message, ServiceMessage)
        assert isinstance(encode_body(message), bytes)
    return message


def _feed_or_protocol_error(stream: bytes, piece: int) -> None:
    parser = ServiceProtocolParser()
    for start in range(0, len(stream), piece):
        try:
            messages = parser.feed(stream[start : start + piece])
        except ServiceProtocolError:
            continue
        assert all(isinstance(message, ServiceMessage) for message in messages)


@pytest.mark.timeout(60)
@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes(body: bytes) -> None:
    _decode_or_protocol_error(body)
    _feed_or_protocol_error(body, 7)


_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=True),
    st.text(max_size=8),
    st.binary(max_size=8),
    st.builds(msgpack.ExtType, st.integers(0, 127), st.binary(max_size=4)),
)
_VALUES = st.recursive(
    _LEAVES,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.one_of(st.integers(-3, 9), st.text(max_size=4), st.none()), children, max_size=4)
    ),
    max_leaves=12,
)


@pytest.mark.timeout(60)
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(message_type=st.integers(0, 40), elements=st.lists(_VALUES, max_size=8))
def test_random_arrays_with_known_types(message_type: int, elements: list[object]) -> None:
    body = msgpack.packb([message_type, *elements], use_bin_type=True)
    _decode_or_protocol_error(body)


VECTOR_ARRAYS = [msgpack.unpackb(body, strict_map_key=False) for body in VECTOR_BODIES]


@pytest.mark.timeout(60)
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(array=st.sampled_from(VECTOR_ARRAYS), slot=st.integers(1, 7), value=_VALUES)
def test_valid_arrays_with_one_slot_replaced(array: list[object], slot: int, value: object) -> None:
    """Every field reader meets every kind of value, also in the extension map."""
    mutant = list(array)
    if slot < len(mutant):
        mutant[slot] = value
    else:
        mutant.append(value)
    _decode_or_protocol_error(msgpack.packb(mutant, use_bin_type=True))
    ext_slot = next((index for index, item in enumerate(array) if isinstance(item, dict) and index), None)
    if ext_slot is not None:
        mutant = list(array)
        mutant[ext_slot] = {slot - 1: value}
        _decode_or_protocol_error(msgpack.packb(mutant, use_bin_type=True))


def _mutations(body: bytes, rng: random.Random) -> list[bytes]:
    flipped = bytearray(body)
    for _ in range(rng.randint(1, 3)):
        index = rng.randrange(len(flipped))
        flipped[index] ^= 1 << rng.randrange(8)
    cut = rng.randrange(len(body))
    insert_at = rng.randrange(len(body) + 1)
    inserted = (
        body[:insert_at] + bytes(rng.randrange(256) for _ in range(rng.randint(1, 4))) + body[insert_at:]
    )
    replaced = bytearray(body)
    replaced[rng.randrange(len(body))] = rng.choice(
        [0xC0, 0xC2, 0xC3, 0x90, 0x80, 0xDC, 0xDE, 0xC4, 0xD9, 0xFF]
    )
    return [bytes(flipped), body[:cut], inserted, bytes(replaced), body + body[:cut]]


@pytest.mark.timeout(60)
def test_mutated_vectors() -> None:
    rng = random.Random(20240322)
    decoded = 0
    for _ in range(12):
        for body in VECTOR_BODIES:
            for mutant in _mutations(body, rng):
                if _decode_or_protocol_error(mutant) is not None:
                    decoded += 1
    assert decoded > 0  # the tolerant reader still reads many of them


@pytest.mark.timeout(60)
def test_mutated_streams_through_the_parser() -> None:
    rng = random.Random(7)
    for _ in range(60):
        frames = [frame(rng.choice(VECTOR_BODIES)) for _ in range(6)]
        stream = bytearray(b"".join(frames))
        for _ in range(rng.randint(1, 4)):
            stream[rng.randrange(len(stream))] ^= 1 << rng.randrange(8)
        _feed_or_protocol_error(bytes(stream), rng.randint(1, 40))
