"""Negotiate for ASP.NET Core clients through Flask's test client (auth-negotiate-options §3.1)."""

from __future__ import annotations

import base64
import json
import time
from typing import Any
from urllib.parse import unquote_plus

import jwt
import pytest
from flask import abort

from flask_azure_signalr.claims import ClaimTypes
from flask_azure_signalr.endpoints import EndpointRouter, ServiceEndpoint

from .conftest import EXAMPLE_CONNECTION_STRING, EXAMPLE_KEY, Status
from .helpers import add_login, header, token_segment, verify

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")

LOCAL_AUDIENCE = "http://localhost/client/?hub=chathub"
NOT_CONNECTED = b"Azure SignalR Service is not connected yet, please try again later."


def test_worked_example_end_to_end(make_app: Any, frozen_time: int) -> None:
    app, signalr = make_app(
        connection_string=EXAMPLE_CONNECTION_STRING,
        application_name="MyApp",
        server_sticky_mode="Preferred",
        max_poll_interval_in_seconds=5,
    )
    add_login(app)

    @signalr.user_claims_loader
    def extra_claims(user: Any) -> list[tuple[str, str]]:
        return [
            (ClaimTypes.NAME, "Alice"),
            (ClaimTypes.ROLE, "admin"),
            (ClaimTypes.ROLE, "editor"),
            ("tenant", "contoso"),
        ]

    state = signalr.get_state(app)
    state.server_id = "WEB01_0f8fad5bd9cb469fa16570867728950e"
    state.request_id_provider = lambda: "ed8NhkhwAAA="
    response = app.test_client().post(
        "/chat/negotiate?negotiateVersion=1",
        base_url="https://app.contoso.com",
        headers={"X-User": "alice"},
    )
    assert response.status_code == 200
    assert response.content_type == "application/json"
    body = response.get_json()
    assert list(body) == ["negotiateVersion", "url", "accessToken", "availableTransports"]
    assert body["negotiateVersion"] == 0 and body["availableTransports"] == []
    assert body["url"] == (
        "https://contoso.service.signalr.net/client/?hub=myapp_chathub&asrs.op=%2Fchat"
        "&negotiateVersion=1&asrs_request_id=ed8NhkhwAAA%3D"
    )
    token = body["accessToken"]
    assert token_segment(token, 1) == (
        b'{"asrs.s.uid":"alice","asrs.s.sn":"WEB01_0f8fad5bd9cb469fa16570867728950e",'
        b'"asrs.s.ssticky":"Preferred","asrs.s.aut":"Cookies","asrs.s.ttl":"5","nameid":"alice",'
        b'"unique_name":"Alice","role":["admin","editor"],"tenant":"contoso","nbf":1700000000,'
        b'"exp":1700003600,"iat":1700000000,'
        b'"aud":"https://contoso.service.signalr.net/client/?hub=myapp_chathub"}'
    )
    endpoint = state.endpoints[0]
    assert list(header(token).items()) == [
        ("alg", "HS256"),
        ("typ", "JWT"),
        ("kid", endpoint.key_id),
    ]
    jwt.decode(
        token,
        EXAMPLE_KEY.encode(),
        algorithms=["HS256"],
        audience="https://contoso.service.signalr.net/client/?hub=myapp_chathub",
        options={"verify_exp": False},
    )


@pytest.mark.parametrize(
    ("path", "request_id", "suffix"),
    [
        ("/user/path/negotiate", "", "&asrs.op=%2Fuser%2Fpath&asrs_request_id="),
        ("/user/path/negotiate/", "a", "&asrs.op=%2Fuser%2Fpath&asrs_request_id=a"),
        (
            "/user/path/negotiate?customKey=customeValue",
            "&",
            "&asrs.op=%2Fuser%2Fpath&customKey=customeValue&asrs_request_id=%26",
        ),
    ],
)
def test_url_vectors(make_app: Any, path: str, request_id: str, suffix: str) -> None:
    app, signalr = make_app(
        hubs={"Chat": "/user/path"},
        connection_string="Endpoint=http://localhost;AccessKey=k;ClientEndpoint=http://redirect",
    )
    signalr.get_state(app).request_id_provider = lambda: request_id
    body = app.test_client().post(path).get_json()
    assert body["url"] == "http://redirect/client/?hub=chat" + suffix
    assert json.loads(token_segment(body["accessToken"], 1))["aud"] == (
        "http://localhost/client/?hub=chat"
    )


def test_url_vector_with_application_name(make_app: Any) -> None:
    app, signalr = make_app(
        hubs={"Chat": "/user/path"},
        connection_string="Endpoint=http://localhost;AccessKey=k;ClientEndpoint=http://localhost3",
        application_name="testprefix",
    )
    signalr.get_state(app).request_id_provider = lambda: "a"
    body = app.test_client().post("/user/path/negotiate/?endpoint=chosen").get_json()
    assert body["url"] == (
        "http://localhost3/client/?hub=testprefix_chat&asrs.op=%2Fuser%2Fpath"
        "&endpoint=chosen&asrs_request_id=a"
    )


def test_get_works_unknown_hub_is_404_and_no_protocol_version(make_app: Any) -> None:
    app, _ = make_app()
    client = app.test_client()
    response = client.get("/chat/negotiate")
    assert response.status_code == 200
    assert b"ProtocolVersion" not in response.data
    assert client.post("/other/negotiate").status_code == 404
    assert client.put("/chat/negotiate").status_code == 405


def test_default_request_id_is_base64_of_eight_bytes(make_app: Any) -> None:
    app, _ = make_app()
    url = app.test_client().post("/chat/negotiate").get_json()["url"]
    request_id = url.rsplit("asrs_request_id=", 1)[1]
    assert request_id.endswith("%3D")
    assert len(base64.b64decode(unquote_plus(request_id), validate=True)) == 8


def test_anonymous_token_has_only_default_claims(make_app: Any) -> None:
    app, _ = make_app()
    before = int(time.time())
    token = app.test_client().post("/chat/negotiate").get_json()["accessToken"]
    claims = verify(token, "secret-key", LOCAL_AUDIENCE)
    issued = claims["iat"]
    assert before <= issued <= time.time()
    assert claims == {
        "asrs.s.ttl": "5",
        "nbf": issued,
        "exp": issued + 3600,
        "iat": issued,
        "aud": LOCAL_AUDIENCE,
    }


def test_every_option_driven_claim(make_app: Any) -> None:
    app, signalr = make_app(
        server_sticky_mode="Required",
        enable_detailed_errors=True,
        diagnostic_client_filter=lambda request: request.args.get("diag") == "1",
        handshake_timeout=2,
        transport_type_detector=lambda request: 1,
        max_poll_interval_in_seconds=None,
        access_token_algorithm="HS512",
        access_token_lifetime=60,
        endpoints=[
            ("Endpoint=http://localhost;AccessKey=secret-key;Port=8080", "main"),
            ("Endpoint=https://backup;AccessKey=other", "backup", "secondary"),
        ],
    )
    add_login(app)
    state = signalr.get_state(app)
    response = app.test_client().post("/chat/negotiate?diag=1", headers={"X-User": "bob"})
    token = response.get_json()["accessToken"]
    assert header(token)["alg"] == "HS512"
    claims = verify(token, "secret-key", LOCAL_AUDIENCE, "HS512")
    assert list(claims) == [
        "asrs.s.uid",
        "asrs.s.sn",
        "asrs.s.ssticky",
        "asrs.s.dc",
        "asrs.s.cht",
        "asrs.s.aut",
        "asrs.s.secn",
        "asrs.s.derror",
        "asrs.s.htt",
        "nameid",
        "nbf",
        "exp",
        "iat",
        "aud",
    ]
    assert claims["asrs.s.uid"] == claims["nameid"] == "bob"
    assert claims["asrs.s.sn"] == state.server_id
    assert claims["asrs.s.ssticky"] == "Required"
    assert claims["asrs.s.dc"] == "true"
    assert claims["asrs.s.cht"] == "2"
    assert claims["asrs.s.aut"] == "Cookies"
    assert claims["asrs.s.secn"] == "2"
    assert claims["asrs.s.derror"] == "True"
    assert claims["asrs.s.htt"] == "1"
    assert claims["exp"] - claims["iat"] == 60


def test_claims_provider_without_flask_login(make_app: Any) -> None:
    app, _ = make_app(
        hubs={"ChatHub": ("/chat", True)},
        claims_provider=lambda request: {
            ClaimTypes.NAME_IDENTIFIER: request.headers.get("X-Id"),
            "aud": "spoofed",
        },
    )
    client = app.test_client()
    assert client.post("/chat/negotiate").status_code == 401
    token = client.post("/chat/negotiate", headers={"X-Id": "carol"}).get_json()["accessToken"]
    claims = verify(token, "secret-key", LOCAL_AUDIENCE)
    assert claims["asrs.s.uid"] == claims["nameid"] == "carol"
    assert claims["asrs.u.aud"] == "spoofed"
    assert "asrs.s.aut" not in claims


def test_claims_provider_replaces_the_flask_login_claims(make_app: Any) -> None:
    app, signalr = make_app(claims_provider=lambda request: [("tenant", "t1")])
    add_login(app)
    signalr.user_claims_loader(lambda user: {"ignored": "yes"})
    token = (
        app.test_client()
        .post("/chat/negotiate", headers={"X-User": "dave"})
        .get_json()["accessToken"]
    )
    claims = verify(token, "secret-key", LOCAL_AUDIENCE)
    assert claims["asrs.s.uid"] == "dave" and claims["tenant"] == "t1"
    assert "nameid" not in claims and "ignored" not in claims


@pytest.mark.parametrize(
    ("authorize", "user", "status", "body"),
    [
        (True, None, 401, b"Unauthorized"),
        (True, "erin", 200, None),
        (lambda: False, "erin", 403, b"Forbidden"),
        (lambda: False, None, 401, b"Unauthorized"),
        (lambda: True, None, 200, None),
        (None, None, 200, None),
    ],
)
def test_authorization(
    make_app: Any, authorize: Any, user: str | None, status: int, body: Any
) -> None:
    app, _ = make_app(hubs={"ChatHub": ("/chat", authorize)})
    add_login(app)
    headers = {"X-User": user} if user else {}
    response = app.test_client().post("/chat/negotiate", headers=headers)
    assert response.status_code == status
    if body is not None:
        assert response.data == body


def test_predicate_sees_the_request_and_user(make_app: Any) -> None:
    from flask import request
    from flask_login import current_user

    app, _ = make_app(
        hubs={"ChatHub": ("/chat", lambda: current_user.id == request.args.get("owner"))}
    )
    add_login(app)
    client = app.test_client()
    assert client.post("/chat/negotiate?owner=f", headers={"X-User": "f"}).status_code == 200
    assert client.post("/chat/negotiate?owner=g", headers={"X-User": "f"}).status_code == 403


def test_not_connected_without_a_status_provider(make_app: Any) -> None:
    app, _ = make_app(connected=False)
    response = app.test_client().post("/chat/negotiate")
    assert response.status_code == 500
    assert response.data == NOT_CONNECTED


def test_not_connected_per_hub(make_app: Any) -> None:
    app, signalr = make_app(hubs={"ChatHub": "/chat", "News": "/news"}, connected=False)
    signalr.set_status_provider(app, Status("News"))
    client = app.test_client()
    assert client.post("/chat/negotiate").status_code == 500
    assert client.post("/news/negotiate").status_code == 200


def test_all_endpoints_offline_is_not_connected(make_app: Any) -> None:
    app, signalr = make_app()
    for endpoint in signalr.get_state(app).endpoints:
        endpoint.online = False
    response = app.test_client().post("/chat/negotiate")
    assert (response.status_code, response.data) == (500, NOT_CONNECTED)


def test_router_returning_none_or_aborting(make_app: Any) -> None:
    class NoEndpoint(EndpointRouter):
        def get_negotiate_endpoint(self, request: Any, endpoints: Any) -> None:
            return None

    class Refuse(EndpointRouter):
        def get_negotiate_endpoint(self, request: Any, endpoints: Any) -> ServiceEndpoint:
            abort(400, "Invalid request")

    app, _ = make_app(endpoint_router=NoEndpoint())
    response = app.test_client().post("/chat/negotiate")
    assert (response.status_code, response.data) == (500, b"Unable to get the negotiate endpoint")
    app, _ = make_app(endpoint_router=Refuse())
    assert app.test_client().post("/chat/negotiate").status_code == 400


def test_custom_router_chooses_the_endpoint_and_its_key_signs(make_app: Any) -> None:
    class ByQuery(EndpointRouter):
        def get_negotiate_endpoint(self, request: Any, endpoints: Any) -> ServiceEndpoint:
            return next(e for e in endpoints if e.name == request.args["endpoint"])

    app, _ = make_app(
        endpoint_router=ByQuery(),
        endpoints=[
            ("Endpoint=https://east;AccessKey=east-key", "east"),
            ("Endpoint=https://west;AccessKey=west-key", "west"),
        ],
    )
    body = app.test_client().post("/chat/negotiate?endpoint=west").get_json()
    assert body["url"].startswith("https://west/client/?hub=chathub&asrs.op=%2Fchat&endpoint=west")
    verify(body["accessToken"], "west-key", "https://west/client/?hub=chathub")


def test_token_too_large_is_413(make_app: Any) -> None:
    app, _ = make_app(claims_provider=lambda request: {"blob": "x" * 4000})
    response = app.test_client().post("/chat/negotiate")
    assert response.status_code == 413
    assert response.data == b"AccessToken must not be longer than 4K."


def test_cors_is_off_by_default(make_app: Any) -> None:
    app, _ = make_app()
    response = app.test_client().post("/chat/negotiate", headers={"Origin": "https://page"})
    assert "Access-Control-Allow-Origin" not in response.headers


def test_cors_for_configured_origins(make_app: Any) -> None:
    app, _ = make_app(cors_origins=["https://page"])
    client = app.test_client()
    response = client.post("/chat/negotiate", headers={"Origin": "https://page"})
    assert response.headers["Access-Control-Allow-Origin"] == "https://page"
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    assert "Origin" in response.headers["Vary"]
    other = client.post("/chat/negotiate", headers={"Origin": "https://evil"})
    assert "Access-Control-Allow-Origin" not in other.headers
    preflight = client.options(
        "/chat/negotiate",
        headers={
            "Origin": "https://page",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, x-requested-with",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Methods"] == "GET, POST, OPTIONS"
    assert preflight.headers["Access-Control-Allow-Headers"] == "authorization, x-requested-with"


def test_cors_wildcard_echoes_the_origin(make_app: Any) -> None:
    app, _ = make_app(cors_origins="*")
    response = app.test_client().post("/chat/negotiate", headers={"Origin": "https://any"})
    assert response.headers["Access-Control-Allow-Origin"] == "https://any"
