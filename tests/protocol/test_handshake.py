"""Hub handshake (hub-protocol §2.2, §5 C20-C23, C41-C43): bytes, chunking, and the .NET error texts."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flask_azure_signalr.exceptions import HubProtocolError
from flask_azure_signalr.protocol.handshake import (
    HANDSHAKE_CANCELED,
    HANDSHAKE_FAILED,
    HandshakeRequest,
    HandshakeResponse,
    answer_handshake,
    encode_handshake_request,
    encode_handshake_response,
    handshake_error_text,
    parse_handshake_request,
    parse_handshake_response,
    select_protocol,
)
from flask_azure_signalr.protocol.hub import BINARY, JSON, MESSAGEPACK, PROTOCOLS, TEXT, get_protocol
from flask_azure_signalr.protocol.hub_messages import PING, InvocationMessage

JS_JSON_REQUEST = bytes.fromhex(
    "7B 22 70 72 6F 74 6F 63 6F 6C 22 3A 22 6A 73 6F 6E 22 2C 22 76 65 72 73 69 6F 6E 22 3A 31 7D 1E"
)


def test_js_request_bytes() -> None:
    assert JS_JSON_REQUEST == b'{"protocol":"json","version":1}\x1e'
    assert encode_handshake_request(HandshakeRequest("json", 1)) == JS_JSON_REQUEST
    assert parse_handshake_request(JS_JSON_REQUEST) == (HandshakeRequest("json", 1), b"")


def test_success_response_bytes() -> None:
    assert encode_handshake_response() == bytes.fromhex("7B 7D 1E")
    assert encode_handshake_response(HandshakeResponse(error="")) == b"{}\x1e"


@pytest.mark.parametrize(
    "data, request_",
    [
        (b'{"protocol": "json", "version": 1}\x1e', HandshakeRequest("json", 1)),  # pysignalr spacing
        (b'{"protocol": "json", "version": 0}\x1e', HandshakeRequest("json", 0)),  # signalrcore
        (b'{"protocol":"messagepack","version":1}\x1e', HandshakeRequest("messagepack", 1)),
        (b'{"version":2,"extra":{"a":[1]},"protocol":"json"}\x1e', HandshakeRequest("json", 2)),
    ],
)
def test_client_variants_are_accepted(data: bytes, request_: HandshakeRequest) -> None:
    outcome = answer_handshake(data)
    assert outcome is not None and outcome.ok
    assert outcome.request == request_
    assert outcome.response_bytes == b"{}\x1e"
    assert outcome.protocol is PROTOCOLS[request_.protocol]


def test_protocol_names_match_case_insensitively() -> None:
    assert answer_handshake(b'{"protocol":"JSON","version":1}\x1e').protocol is JSON
    assert answer_handshake(b'{"protocol":"MessagePack","version":1}\x1e').protocol is MESSAGEPACK
    assert get_protocol("Json") is JSON
    with pytest.raises(HubProtocolError, match="^The protocol 'foo' is not supported.$"):
        get_protocol("foo")


@pytest.mark.parametrize(
    "data, transfer_formats, response",
    [
        (b'{"protocol":"foo","version":1}\x1e', None, b'{"error":"The protocol \'foo\' is not supported."}\x1e'),
        (
            b'{"protocol":"json","version":3}\x1e',
            None,
            b'{"error":"The server does not support version 3 of the \'json\' protocol."}\x1e',
        ),
        (
            b'{"protocol":"MessagePack","version":3}\x1e',
            None,
            b'{"error":"The server does not support version 3 of the \'MessagePack\' protocol."}\x1e',
        ),
        (
            b'{"protocol":"messagepack","version":1}\x1e',
            {TEXT},
            b'{"error":"Cannot use the \'messagepack\' protocol on the current transport. '
            b"The transport does not support 'Binary' transfer format.\"}\x1e",
        ),
        (b"[1]\x1e", None, b'{"error":"An unexpected error occurred during connection handshake."}\x1e'),
        (b"not json\x1e", None, b'{"error":"An unexpected error occurred during connection handshake."}\x1e'),
    ],
)
def test_server_error_responses(data: bytes, transfer_formats: set[str] | None, response: bytes) -> None:
    outcome = answer_handshake(data, transfer_formats=transfer_formats)
    assert outcome is not None and not outcome.ok
    assert outcome.protocol is None
    assert outcome.response_bytes == response


def test_transfer_format_check_passes_when_the_transport_can_carry_it() -> None:
    assert answer_handshake(JS_JSON_REQUEST, transfer_formats={TEXT}).ok
    assert answer_handshake(b'{"protocol":"messagepack","version":1}\x1e', transfer_formats={TEXT, BINARY}).ok


def test_only_allowed_protocols_are_selected() -> None:
    protocol, response = select_protocol(HandshakeRequest("messagepack", 1), {"json": JSON})
    assert protocol is None
    assert response.error == "The protocol 'messagepack' is not supported."


@pytest.mark.parametrize(
    "data, detail",
    [
        (b'{"version":1}', "Missing required property 'protocol'. Message content: {\"version\":1}"),
        (b'{"protocol":"json"}', 'Missing required property \'version\'. Message content: {"protocol":"json"}'),
        (b'{"protocol":"json","version":null}', "Missing required property 'version'."),
        (b'{"protocol":1,"version":1}', "Expected 'protocol' to be of type String."),
        (b'{"protocol":null,"version":1}', "Expected 'protocol' to be of type String."),
        (b'{"protocol":"json","version":"1"}', "Expected 'version' to be of type Number."),
        (b'{"protocol":"json","version":1.5}', "Expected 'version' to be of type Number."),
        (b'{"protocol":"json","version":4294967296}', "Expected 'version' to be of type Number."),
        (b'"json"', "Unexpected JSON Token Type 'String'. Expected a JSON Object."),
        (b"\xff", "Error reading JSON."),
    ],
)
def test_malformed_requests(data: bytes, detail: str) -> None:
    with pytest.raises(HubProtocolError) as info:
        parse_handshake_request(data + b"\x1e")
    assert str(info.value).startswith(detail)
    outcome = answer_handshake(data + b"\x1e", detailed_errors=True)
    assert outcome is not None
    assert outcome.response.error == f"{HANDSHAKE_FAILED} InvalidDataException: {info.value}"
    assert handshake_error_text(info.value) == HANDSHAKE_FAILED


def test_incomplete_request_waits() -> None:
    assert parse_handshake_request(b'{"protocol":"json"') == (None, b'{"protocol":"json"')
    assert answer_handshake(b'{"protocol":"json"') is None
    assert answer_handshake(b"") is None


def test_chunked_request_like_dotnet_test() -> None:
    """SendingHandshakeRequestInChunksWorks: three reads, then the response."""
    buffer = b""
    outcomes = []
    for part in (b'{"protocol": "json"', b',"version": 1}', b"\x1e"):
        buffer += part
        outcomes.append(answer_handshake(buffer))
    assert outcomes[:2] == [None, None]
    assert outcomes[2] is not None and outcomes[2].ok and outcomes[2].rest == b""


def test_request_and_first_invocation_in_one_payload() -> None:
    """C22 / SendingHandshakeRequestAndInvocationInSamePayloadParsesHandshakeAndInvocation."""
    payload = JS_JSON_REQUEST + b'{"type":6}\x1e{"target":"Echo","arguments":["x"],"invocationId":"0","type":1}\x1e'
    outcome = answer_handshake(payload.decode())  # text frame
    assert outcome is not None and outcome.ok
    assert outcome.protocol.decode(outcome.rest) == [
        PING,
        InvocationMessage(target="Echo", arguments=["x"], invocation_id="0"),
    ]


def test_messagepack_handshake_followed_by_binary_messages() -> None:
    """C23: the JS client sends the JSON request, then MessagePack frames."""
    outcome = answer_handshake(b'{"protocol":"messagepack","version":1}\x1e\x02\x91\x06')
    assert outcome is not None and outcome.protocol is MESSAGEPACK
    assert MESSAGEPACK.decode(outcome.rest) == [PING]


def test_oversized_request_is_canceled() -> None:
    assert answer_handshake(b'{"protocol":"json","version":1', max_size=10).response.error == HANDSHAKE_CANCELED
    assert answer_handshake(b'{"protocol":"json"', max_size=1000) is None
    late = b'{"protocol":"json","version":1,"pad":"' + b"x" * 50 + b'"}\x1e'
    assert answer_handshake(late, max_size=40).response.error == HANDSHAKE_CANCELED
    assert answer_handshake(JS_JSON_REQUEST + b'{"type":6}\x1e', max_size=len(JS_JSON_REQUEST)).ok


def test_client_side_response_parsing() -> None:
    assert parse_handshake_response(b"{}\x1e") == (HandshakeResponse(), b"")
    assert parse_handshake_response(b'{}\x1e{"type":6}\x1e') == (HandshakeResponse(), b'{"type":6}\x1e')
    assert parse_handshake_response(b'{"minorVersion":1}\x1e')[0] == HandshakeResponse()
    response, _ = parse_handshake_response(b'{"error":"The protocol \'foo\' is not supported."}\x1e')
    assert response == HandshakeResponse("The protocol 'foo' is not supported.") and not response.ok
    assert parse_handshake_response(b"{") == (None, b"{")
    with pytest.raises(HubProtocolError, match="^Expected a handshake response from the server.$"):
        parse_handshake_response(b'{"type":6}\x1e')


def test_error_text_with_quotes_and_non_ascii_is_valid_json() -> None:
    response = encode_handshake_response(HandshakeResponse('The protocol "ü\x1e" is not supported.'))
    assert response.count(b"\x1e") == 1
    assert parse_handshake_response(response)[0].error == 'The protocol "ü\x1e" is not supported.'


@given(st.binary(max_size=80), st.integers(min_value=1, max_value=100) | st.none())
def test_arbitrary_bytes_never_escape_answer_handshake(data: bytes, max_size: int | None) -> None:
    outcome = answer_handshake(data, max_size=max_size)
    if outcome is not None:
        assert outcome.response_bytes.endswith(b"\x1e")
        assert outcome.ok == (outcome.protocol is not None)


@given(st.text(max_size=20), st.integers(min_value=-(2**31), max_value=2**31 - 1))
def test_request_round_trip(protocol: str, version: int) -> None:
    request = HandshakeRequest(protocol, version)
    assert parse_handshake_request(encode_handshake_request(request) + b"rest") == (request, b"rest")
