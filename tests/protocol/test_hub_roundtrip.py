"""Both hub protocols: round trips of every message type, and arbitrary splitting and batching."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flask_azure_signalr.exceptions import HubProtocolError
from flask_azure_signalr.protocol.handshake import HandshakeRequest, answer_handshake, encode_handshake_request
from flask_azure_signalr.protocol.hub import JSON, MESSAGEPACK
from flask_azure_signalr.protocol.hub_messages import (
    PING,
    AckMessage,
    CancelInvocationMessage,
    CloseMessage,
    CompletionMessage,
    InvocationMessage,
    SequenceMessage,
    StreamInvocationMessage,
    StreamItemMessage,
)

from .hub_strategies import JSON_MESSAGES, MSGPACK_MESSAGES, cut

EVERY_TYPE = [
    InvocationMessage(target="Send", arguments=["a", 1, None], invocation_id="9", stream_ids=("1",)),
    StreamItemMessage(invocation_id="1", item={"k": [1, 2]}),
    CompletionMessage.with_result("1", None),
    CompletionMessage.with_error("1", "boom"),
    CompletionMessage.empty("1"),
    StreamInvocationMessage(invocation_id="2", target="Counter", arguments=[3], headers={"h": "v"}),
    CancelInvocationMessage(invocation_id="2"),
    PING,
    CloseMessage(error="bye", allow_reconnect=True),
    AckMessage(sequence_id=5),
    SequenceMessage(sequence_id=6),
]


@pytest.mark.parametrize("protocol", [JSON, MESSAGEPACK], ids=lambda p: p.name)
@pytest.mark.parametrize("message", EVERY_TYPE, ids=lambda m: type(m).__name__)
def test_every_type_round_trips(protocol, message) -> None:
    assert protocol.decode(protocol.encode(message)) == [message]


@given(JSON_MESSAGES)
def test_json_round_trip(message) -> None:
    assert JSON.decode(JSON.encode(message)) == [message]


@given(MSGPACK_MESSAGES)
def test_msgpack_round_trip(message) -> None:
    assert MESSAGEPACK.decode(MESSAGEPACK.encode(message)) == [message]


@settings(max_examples=60)
@given(st.lists(JSON_MESSAGES, max_size=6), st.lists(st.integers(min_value=0, max_value=4000), max_size=8))
def test_json_stream_split_anywhere(messages, points) -> None:
    data = b"".join(JSON.encode(m) for m in messages)
    parser = JSON.parser()
    received = []
    for piece in cut(data, points):
        received += parser.feed(piece)
    assert received == messages
    assert parser.pending == 0


@settings(max_examples=60)
@given(st.lists(JSON_MESSAGES, max_size=6), st.lists(st.integers(min_value=0, max_value=4000), max_size=8))
def test_json_text_frames_split_anywhere(messages, points) -> None:
    text = b"".join(JSON.encode(m) for m in messages).decode("utf-8")
    parser = JSON.parser()
    received = []
    for index, piece in enumerate(cut(text, points)):
        # alternate str and bytes feeds, as a connection mixing text and binary frames would
        received += parser.feed(piece if index % 2 == 0 else piece.encode("utf-8"))
    assert received == messages
    assert parser.pending == 0


@settings(max_examples=60)
@given(st.lists(MSGPACK_MESSAGES, max_size=6), st.lists(st.integers(min_value=0, max_value=4000), max_size=8))
def test_msgpack_stream_split_anywhere(messages, points) -> None:
    data = b"".join(MESSAGEPACK.encode(m) for m in messages)
    parser = MESSAGEPACK.parser()
    received = []
    for piece in cut(data, points):
        received += parser.feed(memoryview(piece))
    assert received == messages
    assert parser.pending == 0


@settings(max_examples=60)
@given(
    st.sampled_from([JSON, MESSAGEPACK]),
    st.data(),
    st.lists(st.integers(min_value=0, max_value=2000), max_size=6),
)
def test_handshake_then_messages_split_anywhere(protocol, data, points) -> None:
    """A server loop: buffer until the handshake is answered, then feed the rest to the parser."""
    messages = data.draw(st.lists(JSON_MESSAGES if protocol is JSON else MSGPACK_MESSAGES, max_size=4))
    stream = encode_handshake_request(HandshakeRequest(protocol.name, 1))
    stream += b"".join(protocol.encode(m) for m in messages)
    buffer = b""
    parser = None
    received = []
    for piece in cut(stream, points):
        if parser is None:
            buffer += piece
            outcome = answer_handshake(buffer)
            if outcome is None:
                continue
            assert outcome.ok and outcome.protocol is protocol
            parser = protocol.parser()
            piece = outcome.rest
        received += parser.feed(piece)
    assert parser is not None
    assert received == messages


def test_batched_frame_holds_many_messages() -> None:
    for protocol in (JSON, MESSAGEPACK):
        batch = b"".join(protocol.encode(m) for m in EVERY_TYPE)
        assert protocol.parser().feed(batch) == EVERY_TYPE


SIZE_LIMIT_ERROR = "The maximum message size of {}B was exceeded. The message size can be configured in AddHubOptions."


@pytest.mark.parametrize("protocol", [JSON, MESSAGEPACK], ids=lambda p: p.name)
def test_message_size_limit_counts_the_framing(protocol) -> None:
    message = InvocationMessage(target="Echo", arguments=["héllo"], invocation_id="1")
    data = protocol.encode(message)
    assert protocol.parser(max_message_size=len(data)).feed(data + data) == [message, message]
    with pytest.raises(HubProtocolError) as info:
        protocol.parser(max_message_size=len(data) - 1).feed(data)
    assert str(info.value) == SIZE_LIMIT_ERROR.format(len(data) - 1)


@pytest.mark.parametrize("protocol", [JSON, MESSAGEPACK], ids=lambda p: p.name)
def test_unfinished_message_over_the_limit_fails_early(protocol) -> None:
    """ChunkedHubMessageOverTheMaxMessageSizeThrows: no need to wait for the end of the message."""
    data = protocol.encode(InvocationMessage(target="Echo", arguments=["hello"], invocation_id="1"))
    parser = protocol.parser(max_message_size=len(data) - 1)
    assert parser.feed(data[:10]) == []
    with pytest.raises(HubProtocolError, match="maximum message size"):
        parser.feed(data[10:-1])


def test_text_frames_are_measured_in_utf8_bytes() -> None:
    message = StreamItemMessage(invocation_id="1", item="ü" * 20)
    text = JSON.encode(message).decode("utf-8")
    assert JSON.parser(max_message_size=len(text.encode())).feed(text) == [message]
    with pytest.raises(HubProtocolError, match="maximum message size"):
        JSON.parser(max_message_size=len(text)).feed(text)
