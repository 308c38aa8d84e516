"""Fuzzing the hub parsers: random and mutated input yields messages or HubProtocolError, nothing else."""

from __future__ import annotations

import json

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flask_azure_signalr.exceptions import HubProtocolError
from flask_azure_signalr.protocol.hub import JSON, MESSAGEPACK
from flask_azure_signalr.protocol.hub_messages import (
    AckMessage,
    CancelInvocationMessage,
    CloseMessage,
    CompletionMessage,
    InvocationMessage,
    PingMessage,
    SequenceMessage,
    StreamInvocationMessage,
    StreamItemMessage,
)
from flask_azure_signalr.protocol.varint import frame

from .hub_strategies import JSON_MESSAGES, MSGPACK_MESSAGES

MESSAGE_CLASSES = (
    InvocationMessage,
    StreamItemMessage,
    CompletionMessage,
    StreamInvocationMessage,
    CancelInvocationMessage,
    PingMessage,
    CloseMessage,
    AckMessage,
    SequenceMessage,
)

INT64S = st.integers(min_value=-(2**63), max_value=2**63 - 1)

PROTOCOLS = {"json": (JSON, JSON_MESSAGES), "messagepack": (MESSAGEPACK, MSGPACK_MESSAGES)}


def feed_checked(protocol, chunks) -> None:
    parser = protocol.parser()
    for chunk in chunks:
        try:
            messages = parser.feed(chunk)
        except HubProtocolError:
            return
        assert all(isinstance(message, MESSAGE_CLASSES) for message in messages)
        for message in messages:
            # whatever was accepted must be writable again
            assert isinstance(protocol.encode(message), bytes)


@st.composite
def mutated(draw):
    """Valid encoded messages of either protocol with a few bytes flipped, inserted or deleted."""
    protocol, messages = PROTOCOLS[draw(st.sampled_from(sorted(PROTOCOLS)))]
    values = draw(st.lists(messages, min_size=1, max_size=3))
    data = bytearray(b"".join(protocol.encode(m) for m in values))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        position = draw(st.integers(min_value=0, max_value=len(data)))
        action = draw(st.sampled_from(["flip", "insert", "delete"]))
        if action == "insert" or position == len(data):
            data[position:position] = draw(st.binary(min_size=1, max_size=3))
        elif action == "flip":
            data[position] ^= draw(st.integers(min_value=1, max_value=255))
        else:
            del data[position]
    return protocol, bytes(data)


@pytest.mark.parametrize("name", sorted(PROTOCOLS))
@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(chunks=st.lists(st.binary(max_size=64), max_size=4))
def test_random_bytes(name, chunks) -> None:
    protocol, _ = PROTOCOLS[name]
    feed_checked(protocol, chunks)


@settings(max_examples=200)
@given(st.lists(st.text(max_size=40), max_size=4))
def test_random_text_frames(chunks) -> None:
    for protocol in (JSON, MESSAGEPACK):
        feed_checked(protocol, chunks)


@settings(max_examples=250, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_frames(case) -> None:
    protocol, data = case
    feed_checked(protocol, [data])


@settings(max_examples=200)
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "type",
                "target",
                "arguments",
                "invocationId",
                "streamIds",
                "headers",
                "item",
                "result",
                "error",
                "allowReconnect",
                "sequenceId",
            ]
        ),
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(min_value=-(2**70), max_value=2**70),
            st.floats(allow_nan=False),
            st.text(max_size=5),
            st.lists(st.one_of(st.none(), st.text(max_size=3), INT64S), max_size=3),
            st.dictionaries(st.text(max_size=3), st.one_of(st.text(max_size=3), INT64S), max_size=2),
        ),
    )
)
def test_json_objects_with_wrong_field_types(obj) -> None:
    feed_checked(JSON, [json.dumps(obj).encode() + b"\x1e"])


@settings(max_examples=200)
@given(
    st.lists(
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(min_value=-(2**63), max_value=2**64 - 1),
            st.text(max_size=4),
            st.binary(max_size=3),
            st.lists(st.one_of(st.text(max_size=2), INT64S), max_size=2),
            st.dictionaries(st.text(max_size=2), st.one_of(st.text(max_size=2), INT64S), max_size=2),
        ),
        min_size=1,
        max_size=7,
    ),
    st.integers(min_value=1, max_value=9),
)
def test_msgpack_arrays_with_wrong_element_types(items, kind) -> None:
    items[0] = kind
    feed_checked(MESSAGEPACK, [frame(msgpack.packb(items, use_bin_type=True))])
