"""Access tokens byte for byte as the C# SDK signs them (auth-negotiate-options §2.1, §2.2, §2.7)."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import jwt
import pytest

from flask_azure_signalr.endpoints import ServiceEndpoint
from flask_azure_signalr.exceptions import AccessTokenError
from flask_azure_signalr.tokens import (
    MAX_TOKEN_LENGTH,
    encode_token,
    generate_client_token,
    generate_rest_token,
    generate_server_token,
)

from .conftest import EXAMPLE_CONNECTION_STRING, EXAMPLE_KEY

# The SDK signs with whatever key the connection string holds, short ones included.
pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")

NOW = 1700000000
KID = "-1409563437"
SERVER_ID = "WEB01_0f8fad5bd9cb469fa16570867728950e"
EXAMPLE_CLAIMS = {
    "asrs.s.uid": "alice",
    "asrs.s.sn": SERVER_ID,
    "asrs.s.ssticky": "Preferred",
    "asrs.s.aut": "Cookies",
    "asrs.s.ttl": "5",
    "nameid": "alice",
    "unique_name": "Alice",
    "role": ["admin", "editor"],
    "tenant": "contoso",
}
EXAMPLE_TOKEN = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6Ii0xNDA5NTYzNDM3In0.eyJhc3JzLnMudWlkIjoiYWxpY2UiLCJh"
    "c3JzLnMuc24iOiJXRUIwMV8wZjhmYWQ1YmQ5Y2I0NjlmYTE2NTcwODY3NzI4OTUwZSIsImFzcnMucy5zc3RpY2t5IjoiUHJl"
    "ZmVycmVkIiwiYXNycy5zLmF1dCI6IkNvb2tpZXMiLCJhc3JzLnMudHRsIjoiNSIsIm5hbWVpZCI6ImFsaWNlIiwidW5pcXVl"
    "X25hbWUiOiJBbGljZSIsInJvbGUiOlsiYWRtaW4iLCJlZGl0b3IiXSwidGVuYW50IjoiY29udG9zbyIsIm5iZiI6MTcwMDAw"
    "MDAwMCwiZXhwIjoxNzAwMDAzNjAwLCJpYXQiOjE3MDAwMDAwMDAsImF1ZCI6Imh0dHBzOi8vY29udG9zby5zZXJ2aWNlLnNp"
    "Z25hbHIubmV0L2NsaWVudC8_aHViPW15YXBwX2NoYXRodWIifQ.ddGkF0AJaOuhG7SYb7rr3hBZQKWHfnRmPeB6PIOKGPY"
)
EXAMPLE_PAYLOAD = (
    '{"asrs.s.uid":"alice","asrs.s.sn":"WEB01_0f8fad5bd9cb469fa16570867728950e",'
    '"asrs.s.ssticky":"Preferred","asrs.s.aut":"Cookies","asrs.s.ttl":"5","nameid":"alice",'
    '"unique_name":"Alice","role":["admin","editor"],"tenant":"contoso","nbf":1700000000,'
    '"exp":1700003600,"iat":1700000000,'
    '"aud":"https://contoso.service.signalr.net/client/?hub=myapp_chathub"}'
)


def segment(token: str, index: int) -> bytes:
    part = token.split(".")[index]
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


@pytest.fixture
def endpoint() -> ServiceEndpoint:
    return ServiceEndpoint(EXAMPLE_CONNECTION_STRING)


def test_worked_example_client_token(endpoint: ServiceEndpoint) -> None:
    token = generate_client_token(endpoint, "myapp_chathub", EXAMPLE_CLAIMS, now=NOW, kid=KID)
    assert segment(token, 0) == b'{"alg":"HS256","typ":"JWT","kid":"-1409563437"}'
    assert segment(token, 1).decode() == EXAMPLE_PAYLOAD
    assert token == EXAMPLE_TOKEN
    assert len(token) == 574
    decoded = jwt.decode(
        token,
        EXAMPLE_KEY.encode("utf-8"),
        algorithms=["HS256"],
        audience="https://contoso.service.signalr.net/client/?hub=myapp_chathub",
        options={"verify_exp": False},
    )
    assert decoded["role"] == ["admin", "editor"]


def test_worked_example_server_token(endpoint: ServiceEndpoint) -> None:
    token = generate_server_token(endpoint, "myapp_chathub", server_id=SERVER_ID, now=NOW, kid=KID)
    assert segment(token, 1) == (
        b'{"nameid":"WEB01_0f8fad5bd9cb469fa16570867728950e","nbf":1700000000,"exp":1700003600,'
        b'"iat":1700000000,"aud":"https://contoso.service.signalr.net/server/?hub=myapp_chathub"}'
    )
    assert token.rsplit(".", 1)[1] == "IPm4n3yHJNjG1ieXSHlzgPixiCiZ2ty1za3xd8x61zQ"


def test_worked_example_classic_client_token(endpoint: ServiceEndpoint) -> None:
    claims = {
        "asrs.s.apn": "MyApp",
        "asrs.s.vn": "1.25.1.0",
        "asrs.s.uid": "alice",
        "asrs.s.aut": "ApplicationCookie",
        "unique_name": "alice",
    }
    token = generate_client_token(endpoint, None, claims, classic=True, now=NOW, kid=KID)
    assert segment(token, 1) == (
        b'{"asrs.s.apn":"MyApp","asrs.s.vn":"1.25.1.0","asrs.s.uid":"alice",'
        b'"asrs.s.aut":"ApplicationCookie","unique_name":"alice","nbf":1700000000,'
        b'"exp":1700003600,"iat":1700000000,"aud":"https://contoso.service.signalr.net/aspnetclient"}'
    )
    assert token.rsplit(".", 1)[1] == "EBFKRyT1movNjS1M476axMWfP-4EtXU05qYdNWfu8-8"


def test_hs512_lifetime_and_default_kid(endpoint: ServiceEndpoint) -> None:
    token = generate_server_token(
        endpoint,
        "chat",
        server_id="s",
        algorithm="HS512",
        lifetime=timedelta(minutes=5, seconds=0.9),
        now=NOW + 0.7,
    )
    assert json.loads(segment(token, 0)) == {"alg": "HS512", "typ": "JWT", "kid": endpoint.key_id}
    payload = jwt.decode(
        token,
        EXAMPLE_KEY.encode(),
        algorithms=["HS512"],
        audience="https://contoso.service.signalr.net/server/?hub=chat",
        options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
    )
    assert (payload["nbf"], payload["iat"], payload["exp"]) == (NOW, NOW, NOW + 301)
    assert len(token.rsplit(".", 1)[1]) == 86


def test_server_token_without_server_id_has_no_nameid(endpoint: ServiceEndpoint) -> None:
    token = generate_server_token(endpoint, "chat", server_id="", now=NOW, classic=True)
    assert list(json.loads(segment(token, 1))) == ["nbf", "exp", "iat", "aud"]
    assert json.loads(segment(token, 1))["aud"] == (
        "https://contoso.service.signalr.net/aspnetserver/?hub=chat"
    )


def test_rest_token_is_hs256_with_request_url_audience() -> None:
    endpoint = ServiceEndpoint("Endpoint=http://localhost;AccessKey=k;Port=8080")
    token = generate_rest_token(
        endpoint,
        "http://localhost:8080/api/hubs/chat/:send?api-version=2022-06-01",
        server_id="host_1",
        now=NOW,
    )
    payload = json.loads(segment(token, 1))
    assert payload == {
        "nameid": "host_1",
        "nbf": NOW,
        "exp": NOW + 3600,
        "iat": NOW,
        "aud": "http://localhost/api/hubs/chat/:send?api-version=2022-06-01",
    }
    assert json.loads(segment(token, 0))["alg"] == "HS256"


def test_key_is_the_utf8_bytes_of_the_access_key() -> None:
    endpoint = ServiceEndpoint("Endpoint=http://x;AccessKey=clé+/==")
    token = generate_server_token(endpoint, "h", server_id="s", now=NOW)
    jwt.decode(
        token,
        "clé+/==".encode("utf-8"),
        algorithms=["HS256"],
        audience="http://x/server/?hub=h",
        options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
    )


def test_token_length_limit(endpoint: ServiceEndpoint) -> None:
    assert len(encode_token({"a": "x" * 2900}, "k")) <= MAX_TOKEN_LENGTH
    with pytest.raises(AccessTokenError) as raised:
        generate_client_token(endpoint, "h", {"big": "x" * 3100}, now=NOW)
    assert str(raised.value) == "AccessToken must not be longer than 4K."


def test_bad_inputs(endpoint: ServiceEndpoint) -> None:
    with pytest.raises(ValueError, match="lifetime"):
        generate_client_token(endpoint, "h", {}, lifetime=timedelta(0))
    with pytest.raises(ValueError, match="registered claims"):
        generate_client_token(endpoint, "h", {"aud": "x"})
    with pytest.raises(ValueError, match="algorithm"):
        encode_token({}, "k", algorithm="RS256")


def test_non_ascii_claims_are_not_escaped(endpoint: ServiceEndpoint) -> None:
    token = generate_client_token(endpoint, "h", {"name": "Zoë"}, now=NOW)
    assert '"name":"Zoë"'.encode() in segment(token, 1)
