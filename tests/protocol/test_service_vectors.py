"""Service protocol against the C# test vectors, the fact sheet's reference bytes and its reader rules."""

from __future__ import annotations

import base64
from typing import Any

import msgpack
import pytest

from flask_azure_signalr.exceptions import ServiceProtocolError
from flask_azure_signalr.protocol.service import (
    MESSAGE_TYPES,
    AccessKeyRequest,
    AccessKeyResponse,
    Ack,
    AckStatus,
    BroadcastData,
    ClientCompletion,
    CloseConnection,
    ConnectionData,
    DataMessageType,
    GroupBroadcastData,
    HandshakeRequest,
    HandshakeResponse,
    JoinGroup,
    JoinGroupWithAck,
    MigrationLevel,
    OpenConnection,
    Ping,
    ServiceConnectionType,
    ServiceError,
    ServiceEvent,
    ServiceEventKind,
    ServiceEventObjectType,
    ServiceMessage,
    UserData,
    decode_body,
    encode,
    encode_body,
)

from .service_strategies import message_from_fields, vectors

ALL_VECTORS = vectors()
ROUND_TRIP = [vector for vector in ALL_VECTORS if vector["round_trip"]]


def _id(vector: dict[str, Any]) -> str:
    return f"{vector['set']}/{vector['name']}"


def _body(vector: dict[str, Any]) -> bytes:
    return base64.b64decode(vector["binary_b64"])


def _pack(value: Any) -> bytes:
    return msgpack.packb(value, use_bin_type=True)


def test_vector_file_is_complete() -> None:
    assert len(ALL_VECTORS) == 115
    assert len(ROUND_TRIP) == 76
    assert {vector["type"] for vector in ALL_VECTORS} == set(range(1, 39))


@pytest.mark.parametrize("vector", ALL_VECTORS, ids=_id)
def test_vector_decodes_to_its_fields(vector: dict[str, Any]) -> None:
    expected = message_from_fields(vector["type"], vector["fields"])
    assert decode_body(_body(vector)) == expected


@pytest.mark.parametrize("vector", ROUND_TRIP, ids=_id)
def test_round_trip_vector_encodes_byte_for_byte(vector: dict[str, Any]) -> None:
    message = message_from_fields(vector["type"], vector["fields"])
    assert encode_body(message) == _body(vector)
    assert encode(message) == base64.b64decode(vector["framed_b64"])


@pytest.mark.parametrize("vector", [v for v in ALL_VECTORS if not v["round_trip"]], ids=_id)
def test_compat_vector_differs_from_the_current_writer(vector: dict[str, Any]) -> None:
    message = message_from_fields(vector["type"], vector["fields"])
    assert encode_body(message) != _body(vector)


# service-protocol §13
REFERENCE = [
    pytest.param(HandshakeRequest(target=""), "96 01 01 00 a0 00 80", "07", id="handshake-default"),
    pytest.param(
        HandshakeRequest(1, ServiceConnectionType.ON_DEMAND, "", MigrationLevel.SHUTDOWN_ONLY),
        "96 01 01 01 a0 01 80",
        "07",
        id="handshake-on-demand-migration-1",
    ),
    pytest.param(
        HandshakeRequest(connection_type=ServiceConnectionType.WEAK, target=""),
        "96 01 01 02 a0 00 80",
        "07",
        id="handshake-weak",
    ),
    pytest.param(HandshakeResponse(), "94 02 a0 80 c0", "05", id="handshake-response"),
    pytest.param(Ping(), "91 03", "02", id="keep-alive"),
    pytest.param(Ping.of("status", "1"), "93 03 a6 73 74 61 74 75 73 a1 31", "0b", id="status-request"),
    pytest.param(Ping.of("status", "0"), "93 03 a6 73 74 61 74 75 73 a1 30", "0b", id="status-reply"),
    pytest.param(
        Ping.of("shutdown", "fin:1"), "93 03 a8 73 68 75 74 64 6f 77 6e a5 66 69 6e 3a 31", "11", id="fin"
    ),
    pytest.param(
        Ping.of("shutdown", "finack"),
        "93 03 a8 73 68 75 74 64 6f 77 6e a6 66 69 6e 61 63 6b",
        "12",
        id="finack",
    ),
    pytest.param(Ping.of("servers", ""), "93 03 a7 73 65 72 76 65 72 73 a0", "0b", id="servers-request"),
    pytest.param(
        Ping.of("#clientInHub", "3", "#client", "1"),
        "95 03 ac 23 63 6c 69 65 6e 74 49 6e 48 75 62 a1 33 a7 23 63 6c 69 65 6e 74 a1 31",
        "1b",
        id="core-keep-alive",
    ),
]


@pytest.mark.parametrize(("message", "body", "prefix"), REFERENCE)
def test_reference_bytes(message: ServiceMessage, body: str, prefix: str) -> None:
    assert encode_body(message) == bytes.fromhex(body)
    assert encode(message) == bytes.fromhex(prefix + body)
    assert decode_body(bytes.fromhex(body)) == message


def test_default_connection_target_is_written_empty() -> None:
    assert encode_body(HandshakeRequest()) == bytes.fromhex("96 01 01 00 a0 00 80")
    assert encode_body(HandshakeRequest(target="ignored")) == bytes.fromhex("96 01 01 00 a0 00 80")
    assert encode_body(HandshakeRequest(connection_type=1)) == bytes.fromhex("96 01 01 01 a0 00 80")


def test_old_handshake_response_layout() -> None:
    assert decode_body(bytes.fromhex("92 02 a0")) == HandshakeResponse("", None)


@pytest.mark.parametrize(
    "body",
    ["93 04 a2 69 64 80 a2 65 78", "95 04 a2 69 64 80 80 a4 3f 6b 3d 76 a2 65 78"],
    ids=["legacy", "five-elements"],
)
def test_bytes_after_the_array_are_ignored(body: str) -> None:
    message = decode_body(bytes.fromhex(body))
    assert isinstance(message, OpenConnection)
    assert message.connection_id == "id"


def test_extra_trailing_elements_are_ignored() -> None:
    # Later SDKs: HandshakeRequest with a 7th element, Ack with a payload after the map (§3.2).
    assert decode_body(_pack([1, 1, 0, "", 1, {}, True])) == HandshakeRequest(1, 0, "", 1)
    assert decode_body(_pack([20, 7, 1, "", {}, b"payload"])) == Ack(7, AckStatus.OK, "")


@pytest.mark.parametrize("message_type", [0, 39, 40, 127, -1, 2**40])
def test_unknown_types_decode_to_none(message_type: int) -> None:
    assert decode_body(_pack([message_type, "anything", {1: 2}])) is None


def test_enums_decode_to_members_and_unknown_values_stay_ints() -> None:
    ack = decode_body(_pack([20, 1, 2, None, {}]))
    assert isinstance(ack, Ack)
    assert ack.status is AckStatus.NOT_FOUND
    assert ack.message is None
    assert decode_body(_pack([20, 1, 100, "", {}])) == Ack(1, 100, "")
    event = decode_body(_pack([22, 3, "g", 3, None, {}]))
    assert event == ServiceEvent(ServiceEventObjectType.GROUP, "g", ServiceEventKind.BUFFER_FULL, "")
    assert isinstance(event, ServiceEvent) and event.kind is ServiceEventKind.BUFFER_FULL
    request = decode_body(_pack([1, 1, 2, "", 1, {}]))
    assert isinstance(request, HandshakeRequest)
    assert request.connection_type is ServiceConnectionType.WEAK
    assert request.migration_level is MigrationLevel.SHUTDOWN_ONLY


def test_nil_strings_follow_the_csharp_constructors() -> None:
    assert decode_body(_pack([5, "c", None, {}, {}])) == CloseConnection("c", "")
    assert decode_body(_pack([15, None])) == ServiceError("")
    assert decode_body(_pack([2, None, {}, None])) == HandshakeResponse(None, None)
    assert decode_body(_pack([6, None, b"x", {}])) == ConnectionData(None, b"x")  # type: ignore[arg-type]


def test_nil_and_raw_string_payloads_read_as_bytes() -> None:
    assert decode_body(_pack([6, "c", None, {}])) == ConnectionData("c", b"")
    assert decode_body(_pack([6, "c", "text", {}])) == ConnectionData("c", b"text")
    message = decode_body(_pack([10, [], {"json": None, "messagepack": "raw"}, {}]))
    assert message == BroadcastData((), {"json": b"", "messagepack": b"raw"})


def test_claims_keep_repeated_types_in_order() -> None:
    claims = (("role", "admin"), ("sub", "u1"), ("role", "user"))
    message = OpenConnection("c", claims, {"X-Forwarded-For": ("1.2.3.4", "5.6.7.8")}, "?a=b", 9, "json")
    body = encode_body(message)
    assert body.count(b"\xa4role") == 2
    decoded = decode_body(body)
    assert decoded == message
    assert isinstance(decoded, OpenConnection)
    assert decoded.claims == claims


def test_claims_may_be_given_as_a_mapping() -> None:
    assert decode_body(encode_body(OpenConnection("c", {"sub": "u"}))) == OpenConnection("c", (("sub", "u"),))  # type: ignore[arg-type]


def test_headers_are_looked_up_case_insensitively() -> None:
    message = decode_body(
        _pack([4, "c", {}, {"Asrs-Migrate-From": ["server-1"], "X-Forwarded-For": ["a", "b"]}, "", {}])
    )
    assert isinstance(message, OpenConnection)
    assert message.header("asrs-migrate-from") == "server-1"
    assert message.header("X-FORWARDED-FOR") == "a"
    assert message.header_values("x-forwarded-for") == ("a", "b")
    assert message.header("Asrs-Migrate-To") is None
    assert message.header_values("Asrs-Migrate-To") == ()
    close = CloseConnection("c", headers={"Asrs-Migrate-To": ("s2",)})
    assert close.header("asrs-migrate-to") == "s2"


def test_a_single_string_header_value_is_written_as_an_array() -> None:
    body = encode_body(CloseConnection("c", headers={"Asrs-Migrate-To": "s2"}))  # type: ignore[dict-item]
    assert decode_body(body) == CloseConnection("c", headers={"Asrs-Migrate-To": ("s2",)})


def test_ping_helpers() -> None:
    ping = Ping.of("status", "1", "servers", "", "dangling")
    assert ping.messages == ("status", "1", "servers", "", "dangling")
    assert ping.get("status") == "1"
    assert ping.get("servers") == ""
    assert ping.get("dangling") is None
    assert ping.get("1") is None  # values are not keys
    assert Ping.of("a", "1", "a", "2").get("a") == "1"
    assert Ping.of() == Ping()
    assert decode_body(_pack([3, "echo", None])) == Ping(("echo", None))


def test_extension_map_is_written_in_key_order_and_only_when_set() -> None:
    assert encode_body(ConnectionData("c", b"", 1, DataMessageType.INVOCATION, True)).endswith(
        bytes.fromhex("83 01 01 05 02 06 c3")
    )
    assert encode_body(UserData("u", {}, 5, "f eq 1")).endswith(bytes.fromhex("82 01 05 04 a6") + b"f eq 1")
    assert encode_body(ClientCompletion("i", "c", "s", "json", b"")).endswith(
        bytes.fromhex("81 03 a4") + b"json"
    )


def test_unknown_and_misplaced_extension_keys_are_skipped() -> None:
    ext = {99: [1, {2: 3}], 3: "json", "text-key": None, 1: 42, 2: 5}
    assert decode_body(_pack([6, "c", b"p", ext])) == ConnectionData("c", b"p", 42)
    # A map in the middle (GroupBroadcastData) must not shift the fields after it.
    body = _pack([13, "g", [], {}, {7: "x", 1: 3}, ["u1"], "caller"])
    assert decode_body(body) == GroupBroadcastData("g", (), {}, 3, None, ("u1",), "caller")


def test_client_completion_protocol_from_the_map_wins() -> None:
    body = _pack([35, "i", "c", "s", "json", b"r", {3: "messagepack"}])
    assert decode_body(body) == ClientCompletion("i", "c", "s", "messagepack", b"r")


@pytest.mark.parametrize(
    ("tracing_id", "expected"),
    [("1234", 1234), ("", None), ("abc", None), ("99999999999999999999999", None), (2**64 - 1, 2**64 - 1)],
)
def test_tracing_id_as_string_is_accepted(tracing_id: Any, expected: int | None) -> None:
    assert decode_body(_pack([11, "c", "g", {1: tracing_id}])) == JoinGroup("c", "g", expected)


def test_secrets_stay_out_of_repr() -> None:
    assert "s3cr3t" not in repr(AccessKeyRequest("s3cr3t", "kid"))
    assert "s3cr3t" not in repr(AccessKeyResponse("kid", "s3cr3t"))


def test_message_types_table() -> None:
    assert sorted(MESSAGE_TYPES) == list(range(1, 39))
    for type_id, cls in MESSAGE_TYPES.items():
        assert cls.TYPE == type_id
        assert issubclass(cls, ServiceMessage)


def test_encode_refuses_other_objects() -> None:
    with pytest.raises(TypeError, match="not a service message"):
        encode_body(object())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="single str"):
        encode_body(BroadcastData(excluded_list="conn"))  # type: ignore[arg-type]


def test_none_lists_and_maps_are_written_empty() -> None:
    message = GroupBroadcastData("g", None, None, excluded_user_list=None)  # type: ignore[arg-type]
    assert encode_body(message) == encode_body(GroupBroadcastData("g"))
    assert encode_body(GroupBroadcastData("g")) == bytes.fromhex("97 0d a1 67 90 80 80 90 c0")


def test_large_messages_round_trip_and_later_ones_stay_correct() -> None:
    big = ConnectionData("c", bytes(range(256)) * 4096)
    assert decode_body(encode_body(big)) == big
    small = ConnectionData("c", b"x")
    assert encode_body(small) == bytes.fromhex("94 06 a1 63 c4 01 78 80")


# Strict where the C# reader throws (§1.3, §1.4).
ERRORS = [
    ([4, "c", None, {}, "", {}], "OpenConnection: field 'claims' must be a map, got nil"),
    ([4, "c", {"role": None}], "OpenConnection: field 'claims value' must be a string, got nil"),
    ([4, "c", {}, None, "", {}], "OpenConnection: field 'headers' must be a map, got nil"),
    ([4, "c", {}, {"h": "v"}, "", {}], "OpenConnection: field 'headers['h']' must be an array, got str"),
    ([4, "c", {}, {}, "", None], "OpenConnection: field 'extensions' must be a map, got nil"),
    ([5, "c", "", [], {}], "CloseConnection: field 'headers' must be a map, got array"),
    ([6, "c", b"", None], "ConnectionData: field 'extensions' must be a map, got nil"),
    ([6, 5, b""], "ConnectionData: field 'connection_id' must be a string, got int"),
    ([6, "c", 5], "ConnectionData: field 'payload' must be bytes, got int"),
    ([6, "c", b"", {6: 1}], "ConnectionData: field 'is_partial' must be a bool, got int"),
    (
        [6, "c", b"", {5: 2**31}],
        "ConnectionData: field 'data_message_type' must be an int32, got 2147483648 (out of range)",
    ),
    ([6, "c", b"", {1: -1}], "ConnectionData: field 'tracing_id' must be a uint64, got -1 (out of range)"),
    ([6, "c", b"", {1: 1.5}], "ConnectionData: field 'tracing_id' must be a uint64, got float"),
    ([7, None, {}, {}], "MultiConnectionData: field 'connection_list' must be an array, got nil"),
    ([7, ["a", 1], {}, {}], "MultiConnectionData: field 'connection_list[]' must be a string, got int"),
    ([10, [], None, {}], "BroadcastData: field 'payloads' must be a map, got nil"),
    ([10, [], {"json": 5}, {}], "BroadcastData: field 'payloads['json']' must be bytes, got int"),
    ([10, [], {1: b""}, {}], "BroadcastData: field 'payloads key' must be a string, got int"),
    (
        [13, "g", [], {}, {}, None, None],
        "GroupBroadcastData: field 'excluded_user_list' must be an array, got nil",
    ),
    ([18, "c", "g", True, {}], "JoinGroupWithAck: field 'ack_id' must be an int32, got bool"),
    ([18, "c", "g", None, {}], "JoinGroupWithAck: field 'ack_id' must be an int32, got nil"),
    ([18, "c", "g", 1, None], "JoinGroupWithAck: field 'extensions' must be a map, got nil"),
    ([16, "u", "g", {2: "10"}], "UserJoinGroup: field 'ttl' must be an int32, got str"),
    ([3, "a", 1], "Ping: field 'messages[1]' must be a string, got int"),
    ([22, 1, "c", 2, "m"], "ServiceEvent: array has 5 elements, at least 6 expected"),
    ([18, "c", "g"], "JoinGroupWithAck: array has 3 elements, at least 4 expected"),
    ([35, "i", "c", "s", "json", b""], "ClientCompletion: array has 6 elements, at least 7 expected"),
    ([1], "HandshakeRequest: array has 1 elements, at least 2 expected"),
    ([1, 1.0], "HandshakeRequest: field 'version' must be an int32, got float"),
    ([34, "i", "c", "s", [], {}], "ClientInvocation: field 'payloads' must be a map, got array"),
    ([29, "k", b"key", None, None, {}], "AccessKeyResponse: field 'access_key' must be a string, got bin"),
    ({"type": 1}, "a service message must be a non-empty MessagePack array, got map"),
    ([], "a service message must be a non-empty MessagePack array, got array"),
    (7, "a service message must be a non-empty MessagePack array, got int"),
    (["6", "c", b""], "the message type must be an int, got str"),
    ([True, 1], "the message type must be an int, got bool"),
]


@pytest.mark.parametrize(("value", "error"), ERRORS, ids=[error for _, error in ERRORS])
def test_decode_errors_name_message_and_field(value: Any, error: str) -> None:
    with pytest.raises(ServiceProtocolError) as caught:
        decode_body(_pack(value))
    assert str(caught.value) == error


@pytest.mark.parametrize("body", [b"", b"\x94\x06", b"\xc1", b"\x91" * 5000, b"\x92\x06\xd9"], ids=repr)
def test_malformed_messagepack_is_a_protocol_error(body: bytes) -> None:
    with pytest.raises(ServiceProtocolError, match="malformed MessagePack body"):
        decode_body(body)


def test_unhashable_map_key_is_a_protocol_error() -> None:
    body = bytes.fromhex("94 06 a1 63 c4 00 81 81 01 02 03")  # ext map whose key is a map
    with pytest.raises(ServiceProtocolError, match="malformed MessagePack body"):
        decode_body(body)


def test_join_group_with_ack_shorter_layout() -> None:
    assert decode_body(_pack([18, "c", "g", 5])) == JoinGroupWithAck("c", "g", 5)
