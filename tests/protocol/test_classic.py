"""Classic ASP.NET SignalR 2.x JSON messages (aspnet-classic §1, §2; service-protocol §8)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flask_azure_signalr.exceptions import ClassicProtocolError
from flask_azure_signalr.protocol import classic
from flask_azure_signalr.protocol.classic import (
    ClientInvocation,
    HubInvocation,
    HubProgress,
    HubResponse,
    KeepAlive,
    PersistentResponse,
    ServerError,
)
from flask_azure_signalr.protocol.service import ConnectionData
from flask_azure_signalr.protocol.service import encode as encode_service_message

# -- the sheet's examples -------------------------------------------------------------------------


def test_invocation_example_with_state() -> None:
    message = classic.parse_invocation(
        '{"H":"chathub","M":"Send","A":["alice","hi"],"I":3,"S":{"room":"lobby"}}'
    )
    assert message == HubInvocation("chathub", "Send", ("alice", "hi"), "3", {"room": "lobby"})
    assert message.hub_key == "chathub"
    assert message.method_key == "send"


def test_invocation_example_websocket_frame_bytes() -> None:
    message = classic.parse_invocation(b'{"H":"chathub","M":"Send","A":["x","y"],"I":0}')
    assert message == HubInvocation("chathub", "Send", ("x", "y"), "0", None)


def test_invocation_example_from_sdk_test() -> None:
    message = classic.parse_invocation('{"H":"chat","M":"JoinGroup","A":["user1","group1"],"I":1}')
    assert (message.hub, message.method, message.arguments) == ("chat", "JoinGroup", ("user1", "group1"))
    assert message.invocation_id == "1"


def test_hub_names_are_case_insensitive() -> None:
    upper = classic.parse_invocation('{"H":"ChatHub","M":"SEND","A":[],"I":"7"}')
    lower = classic.parse_invocation('{"H":"chathub","M":"send","A":[],"I":"7"}')
    assert upper.hub_key == lower.hub_key == "chathub"
    assert upper.method_key == lower.method_key == "send"


@pytest.mark.parametrize(
    ("response", "text"),
    [
        (
            HubResponse("3", result={"ok": True}, state={"room": "lobby2"}),
            '{"S":{"room":"lobby2"},"R":{"ok":true},"I":"3"}',
        ),
        (HubResponse("3"), '{"I":"3"}'),
        (
            HubResponse("3", error=classic.hub_method_error("chathub", "Send")),
            '{"I":"3","E":"There was an error invoking Hub method \'chathub.Send\'."}',
        ),
        (
            HubResponse("3", error="boom", hub_exception=True, error_data={"code": 42}),
            '{"I":"3","H":true,"E":"boom","D":{"code":42}}',
        ),
        (HubProgress("3", 50), '{"I":"P|3","P":{"I":"3","D":50}}'),
        (HubResponse("0", result=42), '{"R":42,"I":"0"}'),
    ],
)
def test_hub_result_examples(response: HubResponse | HubProgress, text: str) -> None:
    assert classic.encode(response) == text
    assert classic.parse_server_message(text) == response


def test_client_method_call_example() -> None:
    call = ClientInvocation("ChatHub", "broadcastMessage", ("alice", "hi"), {"x": 1})
    text = '{"H":"ChatHub","M":"broadcastMessage","A":["alice","hi"],"S":{"x":1}}'
    assert classic.encode(call) == text
    assert classic.parse_server_message('{"C":"0","M":[' + text + "]}") == PersistentResponse(
        "0", (call,)
    )


def test_sdk_envelope_example() -> None:
    call = ClientInvocation("ChatHub", "broadcastMessage", ("a", "b"))
    assert (
        classic.envelope(call)
        == '{"C":"0","M":[{"H":"ChatHub","M":"broadcastMessage","A":["a","b"]}]}'
    )


def test_init_message_examples() -> None:
    assert classic.init_message("1") == '{"C":"1","S":1,"M":[]}'
    assert classic.encode(PersistentResponse(initialized=True)) == '{"S":1,"M":[]}'
    parsed = classic.parse_server_message('{"C":"1","S":1,"M":[]}')
    assert parsed == PersistentResponse(message_id="1", initialized=True)


def test_result_inside_an_envelope_example() -> None:
    parsed = classic.parse_server_message('{"C":"5","M":[{"I":"0","R":42}]}')
    assert parsed == PersistentResponse("5", (HubResponse("0", result=42),))
    assert json.loads(classic.encode(parsed)) == {"C": "5", "M": [{"I": "0", "R": 42}]}


def test_keep_alive_and_server_error() -> None:
    assert classic.encode(KeepAlive()) == "{}"
    assert classic.parse_server_message("{}") == KeepAlive()
    assert classic.parse_server_message("   {}") == KeepAlive()
    assert classic.encode(ServerError("Server offline")) == '{"E":"Server offline"}'
    assert classic.parse_server_message('{"E":"Server offline"}') == ServerError("Server offline")


def test_envelope_flags() -> None:
    message = PersistentResponse(
        message_id="12",
        messages=(ClientInvocation("h", "m"),),
        initialized=True,
        reconnect=True,
        groups_token="tok",
        long_poll_delay=250,
    )
    text = classic.encode(message)
    assert text == '{"C":"12","S":1,"T":1,"G":"tok","L":250,"M":[{"H":"h","M":"m","A":[]}]}'
    assert classic.parse_server_message(text) == message


def test_payload_framing_worked_example() -> None:
    framed = classic.wrap_payload('{"R":42,"I":"0"}')
    assert framed.hex(" ") == (
        "16 94 06 a0 c4 10 7b 22 52 22 3a 34 32 2c 22 49 22 3a 22 30 22 7d 80"
    )
    assert classic.unwrap_payload(framed) == [b'{"R":42,"I":"0"}']


@pytest.mark.parametrize(
    ("size", "head"),
    [(121, "7f 94 06 a0 c4 79"), (122, "80 01 94 06 a0 c4 7a"), (200, "ce 01 94 06 a0 c4 c8")],
)
def test_payload_framing_length_boundaries(size: int, head: str) -> None:
    text = '"' + "x" * (size - 2) + '"'
    framed = classic.wrap_payload(text)
    assert framed.hex(" ").startswith(head)
    assert framed.endswith(text.encode() + b"\x80")
    assert classic.unwrap_payload(framed) == [text.encode()]


def test_payload_framing_bin16_and_several_frames() -> None:
    big = '"' + "y" * 300 + '"'
    framed = classic.wrap_payload(big)
    assert bytes.fromhex("94 06 a0 c5 01 2e") in framed[:8]
    both = framed + classic.wrap_payload(b"{}")
    assert classic.unwrap_payload(both) == [big.encode(), b"{}"]


def test_unwrap_refuses_other_frames() -> None:
    with pytest.raises(ClassicProtocolError, match="empty connection id"):
        classic.unwrap_payload(encode_service_message(ConnectionData(connection_id="c1", payload=b"{}")))
    with pytest.raises(ClassicProtocolError, match="empty connection id"):
        classic.unwrap_payload(b"\x02\x91\x63")  # a frame of unknown type 99
    with pytest.raises(ClassicProtocolError, match="invalid"):
        classic.unwrap_payload(b"\x02\x92\x06")  # ConnectionData cut short
    with pytest.raises(ClassicProtocolError, match="length prefix"):
        classic.unwrap_payload(b"\xff\xff\xff\xff\xff\x01")
    with pytest.raises(ClassicProtocolError, match="inside a frame"):
        classic.unwrap_payload(classic.wrap_payload("{}")[:-1])
    with pytest.raises(ClassicProtocolError, match="no frame"):
        classic.unwrap_payload(b"")


def test_reconnect_payload() -> None:
    assert classic.RECONNECT_PAYLOAD == b"asrs:reconnect"
    assert len(classic.RECONNECT_PAYLOAD) == 14
    assert classic.is_reconnect(bytearray(b"asrs:reconnect"))
    assert not classic.is_reconnect(b"asrs:reconnect ")
    assert not classic.is_reconnect(b'{"H":"a","M":"b"}')


def test_group_names() -> None:
    assert classic.hub_group_name("ChatHub", "room1") == "hg-ChatHub.room1"
    assert classic.hub_group_name("chat", "room1") == "hg-chat.room1"
    assert classic.group_of("hg-ChatHub.room1", "ChatHub") == "room1"
    assert classic.group_of("hg-My.Hub.a.b", "My.Hub") == "a.b"
    assert classic.group_of("hg-chathub.room1", "ChatHub") is None
    assert classic.group_of("hg-Other.room1", "ChatHub") is None


def test_open_connection_query_from_sdk_tests() -> None:
    query = classic.parse_query(
        "?transport=webSockets&connectionToken=conn1&connectionData=%5B%7B%22name%22%3A%22chat%22%7D%5D"
    )
    assert query.transport == "webSockets"
    assert query.connection_token == "conn1"
    assert query.hubs == ("chat",)


def test_app_negotiate_query() -> None:
    query = classic.parse_query(
        "clientProtocol=2.1&connectionData=%5B%7B%22name%22%3A%22chathub%22%7D%5D&_=1796313995564"
    )
    assert query.client_protocol == "2.1"
    assert query.hubs == ("chathub",)
    assert query.connection_token is None
    assert query.params["_"] == "1796313995564"


def test_service_query_with_empty_segments_and_extra_parameters() -> None:
    token = "a/b+c=="
    query = classic.parse_query(
        "transport=longPolling&messageId=d-1&groupsToken=g&clientProtocol=2.1&&asrs_request_id="
        "AAECAwQFBgc%3D&asrs.op=%2Fsignalr&connectionToken="
        + quote(token, safe="")
        + "&connectionData=%5B%7B%22name%22%3A%22chathub%22%7D%2C%7B%22Name%22%3A%22other%22%7D%5D"
        + "&_=1&_=2&tid=7&custom=x"
    )
    assert query.transport == "longPolling"
    assert query.connection_token == token
    assert query.hubs == ("chathub", "other")
    assert query.message_id == "d-1"
    assert query.groups_token == "g"
    assert query.params["asrs_request_id"] == "AAECAwQFBgc="
    assert query.params["asrs.op"] == "/signalr"
    assert query.params["_"] == "1"
    assert query.params["custom"] == "x"


def test_connection_data() -> None:
    assert classic.encode_connection_data(["ChatHub", "Other"]) == (
        '[{"name":"chathub"},{"name":"other"}]'
    )
    assert classic.parse_connection_data('[{"name":"chathub"},{"name":"other"}]') == (
        "chathub",
        "other",
    )
    assert classic.parse_connection_data("[]") == ()
    with pytest.raises(ClassicProtocolError, match="twice"):
        classic.parse_connection_data('[{"name":"ChatHub"},{"name":"chathub"}]')
    with pytest.raises(ClassicProtocolError, match="connectionData"):
        classic.parse_connection_data("{not json")
    with pytest.raises(ClassicProtocolError, match="connectionData"):
        classic.parse_query("connectionData=%5B1%5D")


def test_send_body() -> None:
    text = '{"H":"chathub","M":"Send","A":["a & b","x=y"],"I":0}'
    body = ("data=" + quote(text, safe="")).encode()
    assert classic.parse_send_body(body) == text
    assert classic.parse_invocation(classic.parse_send_body(body)).arguments == ("a & b", "x=y")
    with pytest.raises(ClassicProtocolError, match="no data"):
        classic.parse_send_body(b"messageId=1")


def test_connection_token_round_trip() -> None:
    key = b"secret-key"
    token = classic.make_connection_token("0a1b-guid", "alice:admin ü", key)
    assert classic.read_connection_token(token, key) == ("0a1b-guid", "alice:admin ü")
    assert classic.read_connection_token(classic.make_connection_token("c", "", key), key) == ("c", "")
    with pytest.raises(ClassicProtocolError, match="not valid") as raised:
        classic.read_connection_token(token, b"other-key")
    assert token not in str(raised.value)
    with pytest.raises(ClassicProtocolError, match="malformed"):
        classic.read_connection_token("not base64!", key)
    with pytest.raises(ValueError):
        classic.make_connection_token("a:b", "u", key)


def test_error_texts() -> None:
    assert classic.hub_method_error("chathub", "Send") == (
        "There was an error invoking Hub method 'chathub.Send'."
    )
    assert classic.hub_not_found("x") == "'x' Hub could not be resolved."
    assert classic.method_not_found("x") == (
        "'x' method could not be resolved. No method found with that name."
    )


# -- malformed input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('{"M":"Send","A":[],"I":0}', "field H"),
        ('{"H":"","M":"Send","A":[],"I":0}', "field H"),
        ('{"H":"chat","A":[],"I":0}', "field M"),
        ('{"H":"chat","M":5,"A":[],"I":0}', "field M"),
        ('{"H":"chat","M":"Send","A":{},"I":0}', "field A"),
        ('{"H":"chat","M":"Send","A":[],"I":1.5}', "field I"),
        ('{"H":"chat","M":"Send","A":[],"I":true}', "field I"),
        ('{"H":"chat","M":"Send","A":[],"I":0,"S":[1]}', "field S"),
        ("[1,2]", "JSON object"),
        ("{", "not valid JSON"),
        ('{"H":NaN}', "not valid JSON"),
        (b'{"H":"\xff"}', "UTF-8"),
    ],
)
def test_malformed_invocations_name_the_field(text: str | bytes, field: str) -> None:
    with pytest.raises(ClassicProtocolError, match=field):
        classic.parse_invocation(text)


def test_optional_invocation_members() -> None:
    message = classic.parse_invocation('{"H":"chat","M":"Ping"}')
    assert message == HubInvocation("chat", "Ping", (), None, None)
    assert classic.parse_invocation('{"H":"chat","M":"Ping","A":null,"S":null}').arguments == ()


def test_state_limit() -> None:
    fits = {"k": "v" * (classic.STATE_MAX_LENGTH - 8)}
    assert len(json.dumps(fits, separators=(",", ":"))) == classic.STATE_MAX_LENGTH
    ok = json.dumps({"H": "h", "M": "m", "A": [], "I": 1, "S": fits})
    assert classic.parse_invocation(ok).state == fits
    too_big = json.dumps({"H": "h", "M": "m", "A": [], "I": 1, "S": {"k": "v" * classic.STATE_MAX_LENGTH}})
    with pytest.raises(ClassicProtocolError, match="State has exceeded the maximum length of 4096 bytes"):
        classic.parse_invocation(too_big)


def test_salvage_invocation_id() -> None:
    assert classic.salvage_invocation_id('{"H":"nope","M":5,"I":4}') == "4"
    assert classic.salvage_invocation_id('{"M":"x","I":"abc"}') == "abc"
    assert classic.salvage_invocation_id('{"M":"x"}') is None
    assert classic.salvage_invocation_id("{") is None
    assert classic.salvage_invocation_id('{"I":[1]}') is None


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('{"C":"1"}', "field M"),
        ('{"C":1,"M":[]}', "field C"),
        ('{"C":"1","M":[{"H":"h"}]}', "field M"),
        ('{"C":"1","M":[5]}', "envelope item"),
        ('{"C":"1","M":[],"L":-1}', "field L"),
        ('{"C":"1","M":[],"G":5}', "field G"),
        ('{"I":"1","E":5}', "field E"),
        ('{"I":"P|1","P":{"D":1}}', "field P.I"),
        ('{"I":"P|1","P":3}', "field P"),
        ('{"E":""}', "field E"),
        ("[]", "JSON object"),
    ],
)
def test_malformed_server_messages_name_the_field(text: str, field: str) -> None:
    with pytest.raises(ClassicProtocolError, match=field):
        classic.parse_server_message(text)


def test_unserializable_values_raise_classic_error() -> None:
    with pytest.raises(ClassicProtocolError, match="HubResponse"):
        classic.encode(HubResponse("1", result=object()))
    with pytest.raises(ClassicProtocolError):
        classic.encode(ClientInvocation("h", "m", (float("nan"),)))
    with pytest.raises(TypeError):
        classic.encode("not a message")  # type: ignore[arg-type]


def test_unpaired_surrogates_still_give_utf8_text() -> None:
    text = classic.encode(ClientInvocation("h", "m", ("\ud800",)))
    assert classic.wrap_payload(text)
    assert classic.parse_server_message('{"C":"0","M":[' + text + "]}").messages[0].arguments == (
        "\ud800",
    )


def test_non_ascii_is_written_as_utf8() -> None:
    text = classic.encode(ClientInvocation("h", "m", ("héllo ✓",)))
    assert "héllo ✓" in text
    assert classic.unwrap_payload(classic.wrap_payload(text)) == [text.encode("utf-8")]


# -- round trips and fuzz -------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
names = st.text(min_size=1, max_size=12)
states = st.none() | st.dictionaries(st.text(max_size=8), json_values, min_size=1, max_size=3)
ids = st.integers(min_value=0, max_value=10**6).map(str) | st.text(max_size=6)


@given(names, names, st.lists(json_values, max_size=5).map(tuple), st.none() | ids, states)
def test_invocation_round_trip(hub: str, method: str, args: tuple, inv_id: str | None, state: Any) -> None:
    message = HubInvocation(hub, method, args, inv_id, state)
    assert classic.parse_invocation(classic.encode(message)) == message
    assert classic.parse_invocation(classic.encode(message).encode("utf-8")) == message


envelope_items = st.one_of(
    st.builds(ClientInvocation, names, names, st.lists(json_values, max_size=3).map(tuple), states),
    st.builds(
        HubResponse,
        ids,
        result=json_values,
        error=st.none() | st.text(max_size=10),
        hub_exception=st.booleans(),
        error_data=json_values,
        state=states,
        stack_trace=st.none() | st.text(max_size=10),
    ),
    st.builds(HubProgress, ids, json_values),
)
server_messages = st.one_of(
    st.just(KeepAlive()),
    st.builds(ServerError, st.text(min_size=1, max_size=10)),
    envelope_items.filter(lambda item: not isinstance(item, ClientInvocation)),
    st.builds(
        PersistentResponse,
        st.none() | st.text(max_size=6),
        st.lists(envelope_items, max_size=3).map(tuple),
        st.booleans(),
        st.booleans(),
        st.none() | st.text(max_size=6),
        st.none() | st.integers(min_value=0, max_value=10**6),
    ),
)


@given(server_messages)
def test_server_message_round_trip(message: Any) -> None:
    text = classic.encode(message)
    assert classic.parse_server_message(text) == message
    assert classic.unwrap_payload(classic.wrap_payload(text)) == [text.encode("utf-8")]


@given(st.lists(st.text(max_size=40), min_size=1, max_size=4))
def test_several_wrapped_payloads_round_trip(texts: list[str]) -> None:
    data = b"".join(classic.wrap_payload(text) for text in texts)
    assert classic.unwrap_payload(data) == [text.encode("utf-8") for text in texts]


@given(st.text(min_size=1, max_size=16).filter(lambda s: ":" not in s), st.text(max_size=16))
def test_connection_token_round_trip_fuzz(connection_id: str, user: str) -> None:
    token = classic.make_connection_token(connection_id, user, b"k")
    assert classic.read_connection_token(token, b"k") == (connection_id, user)


def _only_classic_errors(function: Any, value: Any) -> None:
    try:
        function(value)
    except ClassicProtocolError:
        pass


fuzz_inputs = st.binary(max_size=200) | st.text(max_size=200) | json_values.map(json.dumps)


@settings(max_examples=300)
@given(fuzz_inputs)
def test_fuzz_parsers_raise_only_classic_errors(data: bytes | str) -> None:
    _only_classic_errors(classic.parse_invocation, data)
    _only_classic_errors(classic.parse_server_message, data)
    _only_classic_errors(classic.salvage_invocation_id, data)
    _only_classic_errors(classic.parse_send_body, data)
    if isinstance(data, str):
        _only_classic_errors(classic.parse_connection_data, data)
        _only_classic_errors(classic.parse_query, data)
        _only_classic_errors(lambda token: classic.read_connection_token(token, b"k"), data)
    else:
        _only_classic_errors(classic.unwrap_payload, data)


@settings(max_examples=200)
@given(st.binary(max_size=60))
def test_fuzz_unwrap_of_mutated_frames(noise: bytes) -> None:
    framed = bytearray(classic.wrap_payload('{"C":"0","M":[]}'))
    for index, byte in enumerate(noise[: len(framed)]):
        framed[index] ^= byte
    _only_classic_errors(classic.unwrap_payload, bytes(framed) + noise[len(framed) :])


def test_deep_nesting_is_a_classic_error() -> None:
    deep = '{"H":"h","M":"m","A":' + "[" * 100_000 + "]" * 100_000 + "}"
    with pytest.raises(ClassicProtocolError):
        classic.parse_invocation(deep)
