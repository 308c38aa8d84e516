"""JSON hub protocol: the fact-sheet bytes (hub-protocol §2.4, §3.6), reader rules and errors."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from flask_azure_signalr.exceptions import HubProtocolError
from flask_azure_signalr.protocol import json_hub
from flask_azure_signalr.protocol.hub import JSON
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

RS = b"\x1e"

# Sent by the JS client (Observed in §2.4): key order differs from ours, so these are read-only.
CLIENT_MESSAGES = [
    (
        b'{"target":"Echo","arguments":["hi",1],"invocationId":"0","type":1}',
        InvocationMessage(target="Echo", arguments=["hi", 1], invocation_id="0"),
    ),
    (
        b'{"target":"Fire","arguments":["x"],"type":1}',
        InvocationMessage(target="Fire", arguments=["x"]),
    ),
    (
        b'{"target":"Counter","arguments":[2],"invocationId":"1","type":4}',
        StreamInvocationMessage(invocation_id="1", target="Counter", arguments=[2]),
    ),
    (
        b'{"target":"Upload","arguments":["x"],"invocationId":"3","streamIds":["2"],"type":1}',
        InvocationMessage(target="Upload", arguments=["x"], invocation_id="3", stream_ids=("2",)),
    ),
    (b'{"invocationId":"2","item":10,"type":2}', StreamItemMessage(invocation_id="2", item=10)),
    (b'{"invocationId":"2","item":20,"type":2}', StreamItemMessage(invocation_id="2", item=20)),
    (b'{"invocationId":"2","type":3}', CompletionMessage.empty("2")),
    (b'{"error":"Error: bad","invocationId":"2","type":3}', CompletionMessage.with_error("2", "Error: bad")),
    (b'{"invocationId":"4","type":5}', CancelInvocationMessage(invocation_id="4")),
    (b'{"invocationId":"s1","result":10,"type":3}', CompletionMessage.with_result("s1", 10)),
    (b'{"type":6}', PING),
    (b'{"type":7}', CloseMessage()),
]

# Written by the .NET server (§2.4, §3.6, §5 C27): our writer must produce exactly these bytes.
SERVER_MESSAGES = [
    (b'{"type":3,"invocationId":"0","result":42}', CompletionMessage.with_result("0", 42)),
    (b'{"type":3,"invocationId":"0","result":null}', CompletionMessage.with_result("0", None)),
    (b'{"type":2,"invocationId":"1","item":0}', StreamItemMessage(invocation_id="1", item=0)),
    (b'{"type":3,"invocationId":"1"}', CompletionMessage.empty("1")),
    (b'{"type":3,"invocationId":"0","error":"boom"}', CompletionMessage.with_error("0", "boom")),
    (
        b'{"type":1,"target":"ReceiveMessage","arguments":["a","b"]}',
        InvocationMessage(target="ReceiveMessage", arguments=["a", "b"]),
    ),
    (
        b'{"type":1,"invocationId":"s1","target":"GetValue","arguments":[5]}',
        InvocationMessage(target="GetValue", arguments=[5], invocation_id="s1"),
    ),
    (b'{"type":6}', PING),
    (b'{"type":7}', CloseMessage()),
    (b'{"type":7,"error":"x"}', CloseMessage(error="x")),
    (
        b'{"type":7,"error":"Connection closed with an error.","allowReconnect":true}',
        CloseMessage(error="Connection closed with an error.", allow_reconnect=True),
    ),
    (b'{"type":7,"allowReconnect":true}', CloseMessage(allow_reconnect=True)),
    (b'{"type":8,"sequenceId":1}', AckMessage(sequence_id=1)),
    (b'{"type":9,"sequenceId":1}', SequenceMessage(sequence_id=1)),
    (
        b'{"type":1,"headers":{"a":"b"},"invocationId":"7","target":"T","arguments":[],"streamIds":["1","2"]}',
        InvocationMessage(target="T", arguments=[], invocation_id="7", stream_ids=("1", "2"), headers={"a": "b"}),
    ),
]


@pytest.mark.parametrize("data, expected", CLIENT_MESSAGES)
def test_reads_js_client_messages(data: bytes, expected: object) -> None:
    assert JSON.decode(data + RS) == [expected]


@pytest.mark.parametrize("expected, message", SERVER_MESSAGES)
def test_writes_dotnet_bytes(expected: bytes, message: object) -> None:
    assert JSON.encode(message) == expected + RS


@pytest.mark.parametrize("data, message", SERVER_MESSAGES)
def test_reads_dotnet_bytes(data: bytes, message: object) -> None:
    assert JSON.decode(data + RS) == [message]


def test_js_invocation_is_rewritten_in_dotnet_key_order() -> None:
    [message] = JSON.decode(CLIENT_MESSAGES[0][0] + RS)
    assert JSON.encode(message) == b'{"type":1,"invocationId":"0","target":"Echo","arguments":["hi",1]}' + RS


def test_encode_invocation_fast_path_matches_encode() -> None:
    message = InvocationMessage(target="ReceiveMessage", arguments=["a", "b"])
    assert JSON.encode_invocation("ReceiveMessage", ["a", "b"]) == JSON.encode(message)
    assert JSON.encode_invocation("t", ("tuple", 1)) == b'{"type":1,"target":"t","arguments":["tuple",1]}' + RS


def test_non_ascii_is_written_as_utf8_and_round_trips() -> None:
    message = InvocationMessage(target="Send", arguments=["héllo ✓ 😀", {"ключ": "值"}])
    data = JSON.encode(message)
    assert "héllo ✓ 😀".encode() in data
    assert b"\\u" not in data
    assert JSON.decode(data) == [message]


def test_record_separator_inside_strings_is_escaped() -> None:
    message = StreamItemMessage(invocation_id="1", item="a\x1eb")
    data = JSON.encode(message)
    assert data.count(RS) == 1
    assert JSON.decode(data) == [message]


def test_bytes_and_datetimes_are_written_like_dotnet() -> None:
    when = dt.datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=dt.timezone.utc)
    data = JSON.encode_invocation("T", [b"\x01\x02", when, dt.datetime(2024, 1, 2, 3, 4, 5)])
    assert data == b'{"type":1,"target":"T","arguments":["AQI=","2024-01-02T03:04:05.678Z","2024-01-02T03:04:05"]}' + RS
    offset = dt.timezone(dt.timedelta(hours=-5, minutes=-30))
    data = JSON.encode_invocation("T", [dt.datetime(2024, 1, 2, 3, 4, 5, 120, tzinfo=offset), dt.date(2024, 1, 2)])
    assert data == b'{"type":1,"target":"T","arguments":["2024-01-02T03:04:05.00012-05:30","2024-01-02"]}' + RS


def test_type_last_unknown_keys_and_headers_are_read() -> None:
    data = b'{"x":{"deep":[1,2]},"headers":{"h":"v"},"arguments":[],"target":"T","type":1}' + RS
    assert JSON.decode(data) == [InvocationMessage(target="T", arguments=[], headers={"h": "v"})]


def test_empty_invocation_id_means_non_blocking_and_null_error_means_none() -> None:
    assert JSON.decode(b'{"type":1,"invocationId":"","target":"T","arguments":[]}\x1e') == [
        InvocationMessage(target="T", arguments=[])
    ]
    assert JSON.decode(b'{"type":3,"invocationId":"1","error":null,"result":5}\x1e') == [
        CompletionMessage.with_result("1", 5)
    ]


def test_unknown_message_types_are_skipped() -> None:
    assert JSON.decode(b'{"type":99,"whatever":1}\x1e{"type":6}\x1e') == [PING]


def test_whitespace_around_json_is_accepted() -> None:
    assert JSON.decode(b' { "type" : 6 } \r\n\x1e') == [PING]


@pytest.mark.parametrize(
    "data, error",
    [
        (b'{"arguments":[]}', "Missing required property 'type'."),
        (b'{"type":"1"}', "Expected 'type' to be of type Number."),
        (b'{"type":null}', "Expected 'type' to be of type Number."),
        (b'{"type":1.5}', "Expected 'type' to be of type Number."),
        (b'{"type":true}', "Expected 'type' to be of type Number."),
        (b'{"type":1,"arguments":[]}', "Missing required property 'target'."),
        (b'{"type":1,"target":"","arguments":[]}', "Missing required property 'target'."),
        (b'{"type":1,"target":5,"arguments":[]}', "Expected 'target' to be of type String."),
        (b'{"type":1,"target":"T"}', "Missing required property 'arguments'."),
        (b'{"type":1,"target":"T","arguments":{}}', "Expected 'arguments' to be of type Array."),
        (b'{"type":1,"target":"T","arguments":[],"invocationId":1}', "Expected 'invocationId' to be of type String."),
        (b'{"type":1,"target":"T","arguments":[],"streamIds":"1"}', "Expected 'streamIds' to be of type Array."),
        (b'{"type":1,"target":"T","arguments":[],"streamIds":[null]}', "Null value for 'streamIds' is not valid."),
        (b'{"type":1,"target":"T","arguments":[],"headers":[]}', "Expected 'headers' to be of type StartObject."),
        (b'{"type":1,"target":"T","arguments":[],"headers":{"k":1}}', "Expected header 'k' to be of type String."),
        (b'{"type":4,"target":"T","arguments":[]}', "Missing required property 'invocationId'."),
        (b'{"type":4,"invocationId":"1","arguments":[]}', "Missing required property 'target'."),
        (b'{"type":2,"item":1}', "Missing required property 'invocationId'."),
        (b'{"type":2,"invocationId":"1"}', "Missing required property 'item'."),
        (b'{"type":3}', "Missing required property 'invocationId'."),
        (b'{"type":3,"invocationId":""}', "Missing required property 'invocationId'."),
        (
            b'{"type":3,"invocationId":"1","error":"e","result":1}',
            "The 'error' and 'result' properties are mutually exclusive.",
        ),
        (b'{"type":3,"invocationId":"1","error":1}', "Expected 'error' to be of type String."),
        (b'{"type":5}', "Missing required property 'invocationId'."),
        (b'{"type":7,"allowReconnect":"yes"}', "Expected 'allowReconnect' to be true or false."),
        (b'{"type":8}', "Missing required property 'sequenceId'."),
        (b'{"type":9,"sequenceId":"1"}', "Expected 'sequenceId' to be of type Number."),
        (b'{"type":9,"sequenceId":18446744073709551615}', "Expected 'sequenceId' to be of type Number."),
        (b"[1,2]", "Unexpected JSON Token Type 'Array'. Expected a JSON Object."),
        (b'"text"', "Unexpected JSON Token Type 'String'. Expected a JSON Object."),
    ],
)
def test_reader_errors_use_dotnet_texts(data: bytes, error: str) -> None:
    with pytest.raises(HubProtocolError) as info:
        JSON.decode(data + RS)
    assert str(info.value) == error


@pytest.mark.parametrize(
    "data",
    [b"", b"{", b"{}}", b'{"type":6,}', b"\xff\xfe", b'{"type":NaN}', b'{"type":6,"x":Infinity}', b"[" * 100_000],
)
def test_malformed_json_raises_protocol_error(data: bytes) -> None:
    with pytest.raises(HubProtocolError, match="^Error reading JSON."):
        JSON.decode(data + RS)


def test_decode_rejects_a_trailing_partial_message() -> None:
    with pytest.raises(HubProtocolError, match="Incomplete json message"):
        JSON.decode(b'{"type":6}\x1e{"type":6}')


@pytest.mark.parametrize("value", [float("nan"), object(), {1, 2}, "\ud800"])
def test_unencodable_values_raise_protocol_error(value: object) -> None:
    with pytest.raises(HubProtocolError, match="^Cannot write JSON hub message"):
        JSON.encode(StreamItemMessage(invocation_id="1", item=value))


def test_circular_values_raise_protocol_error_and_the_encoder_keeps_working() -> None:
    loop: list = []
    loop.append(loop)
    with pytest.raises(HubProtocolError, match="^Cannot write JSON hub message"):
        JSON.encode_invocation("T", [loop])
    assert JSON.encode_invocation("T", [[1]]) == b'{"type":1,"target":"T","arguments":[[1]]}' + RS


def test_encoding_a_non_message_raises_protocol_error() -> None:
    with pytest.raises(HubProtocolError, match="Not a hub message"):
        JSON.encode("nope")  # type: ignore[arg-type]


def test_writer_without_the_c_accelerator_writes_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pure-Python fallback (interpreters without json's C encoder) is byte-identical."""
    fast = json_hub._make_text_encoder()
    monkeypatch.setattr(json.encoder, "c_make_encoder", None)
    slow = json_hub._make_text_encoder()
    payload = {"type": 1, "target": "é", "arguments": [1.5, None, True, b"\x01", {"k": "\x1e"}]}
    assert slow(payload) == fast(payload)
    with pytest.raises(ValueError):
        slow({"x": float("inf")})
