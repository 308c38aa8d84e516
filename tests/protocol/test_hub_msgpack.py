"""MessagePack hub protocol: every framed example of hub-protocol §2.5, value mapping (§2.6), errors."""

from __future__ import annotations

import datetime as dt

import msgpack
import pytest

from flask_azure_signalr.exceptions import HubProtocolError
from flask_azure_signalr.protocol.hub import MESSAGEPACK
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
from flask_azure_signalr.protocol.varint import frame


def hexbytes(text: str) -> bytes:
    return bytes.fromhex(text)


# Shapes the JS client writes that the .NET writer does not (5-element Invocation, 2-element Close).
READ_ONLY = [
    (
        "0F 95 01 80 A1 30 A4 45 63 68 6F 92 A2 68 69 01",
        InvocationMessage(target="Echo", arguments=["hi", 1], invocation_id="0"),
    ),
    (
        "0F 95 04 80 A1 31 A7 43 6F 75 6E 74 65 72 91 02",
        StreamInvocationMessage(invocation_id="1", target="Counter", arguments=[2]),
    ),
    ("03 92 07 C0", CloseMessage()),
]

# Byte-exact both ways.
BOTH_WAYS = [
    (
        "12 96 01 80 A1 33 A6 55 70 6C 6F 61 64 91 A1 78 91 A1 32",
        InvocationMessage(target="Upload", arguments=["x"], invocation_id="3", stream_ids=("2",)),
    ),
    ("06 94 02 80 A1 32 0A", StreamItemMessage(invocation_id="2", item=10)),
    ("06 94 03 80 A1 32 02", CompletionMessage.empty("2")),
    ("05 93 05 80 A1 34", CancelInvocationMessage(invocation_id="4")),
    ("08 95 03 80 A2 73 31 03 0A", CompletionMessage.with_result("s1", 10)),
    ("02 91 06", PING),
    ("07 95 03 80 A1 30 03 C0", CompletionMessage.with_result("0", None)),
    ("07 95 03 80 A1 30 03 2A", CompletionMessage.with_result("0", 42)),
    ("06 94 03 80 A1 31 02", CompletionMessage.empty("1")),
    ("0B 95 03 80 A1 30 01 A4 62 6F 6F 6D", CompletionMessage.with_error("0", "boom")),
    ("06 94 02 80 A1 31 07", StreamItemMessage(invocation_id="1", item=7)),
    ("0D 96 01 80 C0 A4 72 65 63 76 91 A1 61 90", InvocationMessage(target="recv", arguments=["a"])),
    ("04 93 07 C0 C2", CloseMessage()),
    ("05 93 07 A1 78 C3", CloseMessage(error="x", allow_reconnect=True)),
    ("03 92 08 01", AckMessage(sequence_id=1)),
    ("03 92 09 01", SequenceMessage(sequence_id=1)),
]


@pytest.mark.parametrize("data, expected", READ_ONLY + BOTH_WAYS)
def test_reads_fact_sheet_frames(data: str, expected: object) -> None:
    assert MESSAGEPACK.decode(hexbytes(data)) == [expected]


@pytest.mark.parametrize("expected, message", BOTH_WAYS)
def test_writes_fact_sheet_frames(expected: str, message: object) -> None:
    assert MESSAGEPACK.encode(message) == hexbytes(expected)


def test_dotnet_writes_six_element_invocations_and_three_element_closes() -> None:
    [invocation] = MESSAGEPACK.decode(hexbytes(READ_ONLY[0][0]))
    assert MESSAGEPACK.encode(invocation) == hexbytes("10 96 01 80 A1 30 A4 45 63 68 6F 92 A2 68 69 01 90")
    assert MESSAGEPACK.encode(CloseMessage(error="")) == hexbytes("04 93 07 C0 C2")


def test_encode_invocation_fast_path_matches_encode() -> None:
    assert MESSAGEPACK.encode_invocation("recv", ["a"]) == hexbytes("0D 96 01 80 C0 A4 72 65 63 76 91 A1 61 90")
    assert MESSAGEPACK.encode_invocation("recv", ("a",)) == MESSAGEPACK.encode(
        InvocationMessage(target="recv", arguments=["a"])
    )


def test_headers_and_empty_invocation_id() -> None:
    body = msgpack.packb([1, {"k": "v"}, "", "T", [], []])
    assert MESSAGEPACK.decode(frame(body)) == [InvocationMessage(target="T", arguments=[], headers={"k": "v"})]
    encoded = MESSAGEPACK.encode(CancelInvocationMessage(invocation_id="1", headers={"k": "v"}))
    assert msgpack.unpackb(encoded[1:]) == [5, {"k": "v"}, "1"]


def test_js_date_timestamp_reads_as_utc_datetime_and_writes_back_identically() -> None:
    frame_bytes = frame(hexbytes("94 02 80 A1 31 D7 FF A1 A5 D6 00 65 93 7D 25"))
    [message] = MESSAGEPACK.decode(frame_bytes)
    assert message.item == dt.datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=dt.timezone.utc)
    assert message.item.utcoffset() == dt.timedelta(0)
    assert MESSAGEPACK.encode(message) == frame_bytes


def test_timestamp_forms_and_naive_datetimes() -> None:
    whole = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    data = MESSAGEPACK.encode_invocation("T", [whole, dt.datetime(2024, 1, 2, 3, 4, 5)])
    assert data.count(hexbytes("D6 FF 65 93 7D 25")) == 2  # 32-bit form; naive taken as UTC
    far = dt.datetime(2600, 1, 1, tzinfo=dt.timezone.utc)
    data = MESSAGEPACK.encode_invocation("T", [far])
    assert hexbytes("C7 0C FF") in data or hexbytes("D7 FF") in data
    assert MESSAGEPACK.decode(data)[0].arguments == [far]


def test_bin_reads_as_bytes_and_bytes_write_as_bin() -> None:
    data = MESSAGEPACK.encode(StreamItemMessage(invocation_id="1", item=b"\x00\x01"))
    assert data == hexbytes("09 94 02 80 A1 31 C4 02 00 01")
    assert MESSAGEPACK.decode(data)[0].item == b"\x00\x01"


@pytest.mark.parametrize(
    "body, expected",
    [
        ([6, "extra", 1], PING),
        ([2, {}, "1", 7, "extra"], StreamItemMessage(invocation_id="1", item=7)),
        ([3, {}, "1", 2, "ignored"], CompletionMessage.empty("1")),
        ([7, None, True, "extra"], CloseMessage(allow_reconnect=True)),
        ([1, {}, None, "T", [], ["s"], "extra"], InvocationMessage(target="T", arguments=[], stream_ids=("s",))),
        ([9, 2**63 - 1, None], SequenceMessage(sequence_id=2**63 - 1)),
    ],
)
def test_extra_trailing_elements_are_ignored(body: list, expected: object) -> None:
    assert MESSAGEPACK.decode(frame(msgpack.packb(body))) == [expected]


def test_unknown_message_types_are_skipped() -> None:
    assert MESSAGEPACK.decode(frame(msgpack.packb([42, "x"])) + b"\x02\x91\x06") == [PING]


@pytest.mark.parametrize(
    "body, error",
    [
        ([], "MessagePack array header must have at least one element."),
        ({"type": 1}, "Reading array length for the message failed: not an array."),
        (["1"], "Reading 'messageType' as Int32 failed."),
        ([True], "Reading 'messageType' as Int32 failed."),
        ([1, {}, None, "T"], "Invocation message has 4 elements, expected at least 5."),
        ([1, {}, None, "", []], "Null or empty target for Invocation message."),
        ([1, {}, 5, "T", []], "Reading 'invocationId' of Invocation message as String failed."),
        ([1, {}, None, "T", {}], "Reading array length for 'arguments' of Invocation message failed."),
        ([1, {}, None, "T", [], [1]], "Reading 'streamIds' of Invocation message as strings failed."),
        ([1, None, None, "T", []], "Reading map length for 'headers' of Invocation message failed."),
        ([1, {"k": 1}, None, "T", []], "Reading 'headers' of Invocation message as strings failed."),
        ([4, {}, None, "T", []], "Null or empty invocation ID for StreamInvocation message."),
        ([2, {}, "1"], "StreamItem message has 3 elements, expected at least 4."),
        ([2, {}, "", 1], "Null or empty invocation ID for StreamItem message."),
        ([3, {}, "1", 4], "Invalid invocation result kind."),
        ([3, {}, "1", "2"], "Reading 'resultKind' of Completion message as Int32 failed."),
        ([3, {}, "1", 3], "Completion with a result message has 4 elements, expected at least 5."),
        ([3, {}, "1", 1, None], "Reading 'error' of Completion message as String failed."),
        ([5, {}], "CancelInvocation message has 2 elements, expected at least 3."),
        ([7], "Close message has 1 elements, expected at least 2."),
        ([7, 1], "Reading 'error' of Close message as String failed."),
        ([7, None, None], "Reading 'allowReconnect' of Close message as Boolean failed."),
        ([8, "1"], "Reading 'sequenceId' of Ack message as Int64 failed."),
        ([9, 2**64 - 1], "Reading 'sequenceId' of Sequence message as Int64 failed."),
    ],
)
def test_reader_errors(body: object, error: str) -> None:
    with pytest.raises(HubProtocolError) as info:
        MESSAGEPACK.decode(frame(msgpack.packb(body)))
    assert str(info.value) == error


@pytest.mark.parametrize(
    "data",
    [
        b"\x00",  # empty body
        b"\x01\xc1",  # never-used byte
        b"\x02\x91",  # truncated inside the body
        b"\x03\x91\x06\x06",  # extra data after the array
        b"\x04\x91\xa3\xff\xfe",  # invalid UTF-8 in a str
        b"\xff\xff\xff\xff\x7f",  # prefix over 2 GB
        b"\x80\x80\x80\x80\x80\x01",  # prefix over 5 bytes
        frame(b"\x91" * 5000 + b"\x06"),  # nesting deeper than the unpacker allows
        frame(hexbytes("91 C7 0C FF 00 00 00 00 0F FF FF FF FF FF FF FF")),  # timestamp beyond datetime
        frame(hexbytes("94 02 80 A1 31 81 91 01 01")),  # an array as a map key
    ],
)
def test_malformed_frames_raise_protocol_error(data: bytes) -> None:
    with pytest.raises(HubProtocolError):
        MESSAGEPACK.decode(data)


def test_decode_rejects_a_trailing_partial_frame() -> None:
    with pytest.raises(HubProtocolError, match="Incomplete messagepack message"):
        MESSAGEPACK.decode(b"\x02\x91\x06\x02\x91")


@pytest.mark.parametrize("value", [object(), 2**64, {1, 2}, "\ud800"])
def test_unencodable_values_raise_protocol_error(value: object) -> None:
    with pytest.raises(HubProtocolError, match="^Cannot write MessagePack hub message"):
        MESSAGEPACK.encode(StreamItemMessage(invocation_id="1", item=value))
    # the packer pool still works after a failure
    assert MESSAGEPACK.encode(PING) == b"\x02\x91\x06"
    assert MESSAGEPACK.encode_invocation("a", [1]) == hexbytes("09 96 01 80 C0 A1 61 91 01 90")


def test_circular_values_raise_protocol_error() -> None:
    loop: list = []
    loop.append(loop)
    with pytest.raises(HubProtocolError, match="^Cannot write MessagePack hub message"):
        MESSAGEPACK.encode_invocation("T", [loop])


def test_encoding_a_non_message_raises_protocol_error() -> None:
    with pytest.raises(HubProtocolError, match="Not a hub message"):
        MESSAGEPACK.encode(object())  # type: ignore[arg-type]


def test_frame_prefix_grows_with_the_body() -> None:
    data = MESSAGEPACK.encode(StreamItemMessage(invocation_id="1", item=b"x" * 193))
    assert data[:2] == hexbytes("C8 01")  # 200-byte body
    assert MESSAGEPACK.decode(data)[0].item == b"x" * 193
