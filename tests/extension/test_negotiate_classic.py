"""Negotiate for classic ASP.NET SignalR (jQuery) clients (auth-negotiate-options §3.2,
aspnet-classic §1.3, §4.1)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest

from .conftest import Status
from .helpers import add_login, token_segment, verify

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")

AUDIENCE = "http://localhost/aspnetclient"
CHAT = quote(json.dumps([{"name": "chathub"}]))


@pytest.fixture
def classic_app(make_app: Any) -> Any:
    def factory(**options: Any) -> Any:
        options.setdefault("application_name", "MyApp")
        options.setdefault("connection_string", "Endpoint=http://localhost;AccessKey=secret-key")
        return make_app(classic=True, **options)

    return factory


@pytest.mark.parametrize(
    ("path", "request_id", "redirect"),
    [
        ("/user/path/negotiate", "x", "http://localhost/aspnetclient"),
        ("/user/path/negotiate?clientProtocol=1.89", "a", "http://localhost/aspnetclient"),
        ("/user/path/negotiate?clientProtocol=abc", "a", "http://localhost/aspnetclient"),
        (
            "/user/path/negotiate?clientProtocol=2.1",
            "a",
            "http://localhost/aspnetclient?asrs_request_id=a&asrs.op=%2Fuser%2Fpath",
        ),
        (
            "/user/negotiate?clientProtocol=2.2&customKey=customeValue",
            "&",
            "http://localhost/aspnetclient?customKey=customeValue&asrs_request_id=%26&asrs.op=%2Fuser",
        ),
        (
            "/user/negotiate?%3DKey=%3Fa%3Dc&clientProtocol=2.1&connectionToken=t&a+b=c%20d",
            "?a=c",
            "http://localhost/aspnetclient?%3DKey=%3Fa%3Dc&a%20b=c%20d&asrs_request_id=%3Fa%3Dc"
            "&asrs.op=%2Fuser",
        ),
    ],
)
def test_redirect_url_vectors(classic_app: Any, path: str, request_id: str, redirect: str) -> None:
    app, signalr = classic_app(classic_path="/user")
    signalr.get_state(app).request_id_provider = lambda: request_id
    response = app.test_client().get(path)
    assert response.status_code == 200
    assert response.get_json()["RedirectUrl"] == redirect


def test_client_endpoint_and_port(classic_app: Any) -> None:
    app, signalr = classic_app(
        connection_string="Endpoint=http://localhost;AccessKey=k;Port=8080;ClientEndpoint=http://redirect"
    )
    signalr.get_state(app).request_id_provider = lambda: "a"
    body = app.test_client().get("/signalr/negotiate?clientProtocol=2.1").get_json()
    assert (
        body["RedirectUrl"] == "http://redirect/aspnetclient?asrs_request_id=a&asrs.op=%2Fsignalr"
    )


def test_typical_browser_request_and_response_shape(classic_app: Any) -> None:
    app, signalr = classic_app()
    add_login(app)
    signalr.get_state(app).request_id_provider = lambda: "AAECAwQFBgc="
    response = app.test_client().get(
        f"/signalr/negotiate?clientProtocol=2.1&connectionData={CHAT}&_=1796313995564",
        headers={"X-User": "alice"},
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json; charset=UTF-8"
    body = json.loads(response.data)
    assert list(body) == ["ProtocolVersion", "RedirectUrl", "AccessToken", "TryWebSockets"]
    assert body["ProtocolVersion"] == "2.0" and body["TryWebSockets"] is True
    assert body["RedirectUrl"] == (
        "http://localhost/aspnetclient?_=1796313995564&asrs_request_id=AAECAwQFBgc%3D&asrs.op=%2Fsignalr"
    )
    claims = verify(body["AccessToken"], "secret-key", AUDIENCE)
    assert list(claims) == [
        "asrs.s.apn",
        "asrs.s.vn",
        "asrs.s.uid",
        "asrs.s.aut",
        "asrs.s.ttl",
        "nameid",
        "nbf",
        "exp",
        "iat",
        "aud",
    ]
    assert claims["asrs.s.apn"] == "MyApp"
    assert claims["asrs.s.vn"] == "1.25.1.0"
    assert claims["asrs.s.uid"] == claims["nameid"] == "alice"
    assert claims["asrs.s.aut"] == "Cookies"


def test_classic_claims_skip_core_only_ones(classic_app: Any) -> None:
    app, signalr = classic_app(
        server_sticky_mode="Preferred",
        handshake_timeout=2,
        transport_type_detector=lambda request: 4,
        enable_detailed_errors=True,
        diagnostic_client_filter=lambda request: True,
        endpoints=[("Endpoint=https://b;AccessKey=x", "b", "secondary")],
    )
    token = app.test_client().get("/signalr/negotiate").get_json()["AccessToken"]
    claims = json.loads(token_segment(token, 1))
    assert list(claims)[:7] == [
        "asrs.s.apn",
        "asrs.s.vn",
        "asrs.s.sn",
        "asrs.s.ssticky",
        "asrs.s.dc",
        "asrs.s.derror",
        "asrs.s.ttl",
    ]
    assert "asrs.s.cht" not in claims and "asrs.s.htt" not in claims
    assert "asrs.s.secn" not in claims  # one entry in the Endpoints option


def test_jsonp_is_refused(classic_app: Any) -> None:
    app, _ = classic_app()
    response = app.test_client().get("/signalr/negotiate?clientProtocol=2.1&callback=jQuery123")
    assert (response.status_code, response.data) == (400, b"JSONP is no longer supported.")


@pytest.mark.parametrize(
    "path", ["/signalr/connect", "/signalr/reconnect", "/signalr/negotiate/", "/signalr/x/start"]
)
def test_other_classic_paths_are_404_not_found(classic_app: Any, path: str) -> None:
    app, _ = classic_app()
    response = app.test_client().get(path)
    assert (response.status_code, response.data) == (404, b"NotFound")


def test_negotiate_suffix_is_case_insensitive_and_may_follow_a_sub_path(classic_app: Any) -> None:
    app, _ = classic_app()
    client = app.test_client()
    assert client.get("/signalr/NEGOTIATE").status_code == 200
    assert client.post("/signalr/deeper/negotiate").status_code == 200


def test_mount_prefix_is_part_of_asrs_op(classic_app: Any) -> None:
    app, signalr = classic_app()
    signalr.get_state(app).request_id_provider = lambda: "a"
    body = (
        app.test_client()
        .get("/signalr/negotiate?clientProtocol=2.1", base_url="http://localhost/vdir/")
        .get_json()
    )
    assert body["RedirectUrl"].endswith("&asrs.op=%2Fvdir%2Fsignalr")


@pytest.mark.parametrize(
    "data",
    [
        json.dumps([{"name": "missing"}]),
        json.dumps([{"name": "chathub"}, {"name": "ChatHub"}]),
        "[{not json",
        json.dumps({"name": "chathub"}),
        json.dumps(["chathub"]),
    ],
)
def test_bad_connection_data_is_500_with_empty_body(classic_app: Any, data: str) -> None:
    app, _ = classic_app()
    response = app.test_client().get(f"/signalr/negotiate?connectionData={quote(data)}")
    assert (response.status_code, response.data) == (500, b"")


def test_authorization_needs_one_admitting_hub(classic_app: Any) -> None:
    app, _ = classic_app(
        hubs={"ChatHub": ("/chat", True), "Admin": ("/admin", lambda: False), "Open": "/open"}
    )
    add_login(app)
    client = app.test_client()

    def status(hubs: list[str], user: str | None = None) -> int:
        data = quote(json.dumps([{"name": h} for h in hubs]))
        headers = {"X-User": user} if user else {}
        return client.get(f"/signalr/negotiate?connectionData={data}", headers=headers).status_code

    assert status(["chathub"]) == 401
    assert status(["chathub"], "u") == 200
    assert status(["admin"], "u") == 403
    assert status(["admin"]) == 401
    assert status(["admin", "open"]) == 200
    assert status([]) == 200
    response = client.get(
        f"/signalr/negotiate?connectionData={quote(json.dumps([{'name': 'admin'}]))}"
    )
    assert response.data == b"Unauthorized"


def test_readiness_uses_the_application_connection(classic_app: Any) -> None:
    app, signalr = classic_app(connected=False)
    client = app.test_client()
    response = client.get("/signalr/negotiate")
    assert response.status_code == 500
    assert response.data == b"Azure SignalR Service is not connected yet, please try again later."
    signalr.set_status_provider(app, Status("ChatHub"))
    assert client.get("/signalr/negotiate").status_code == 500
    signalr.set_status_provider(app, Status("MyApp"))
    assert client.get("/signalr/negotiate").status_code == 200


def test_token_too_large_is_413(classic_app: Any) -> None:
    app, _ = classic_app(claims_provider=lambda request: [("blob", "x" * 4000)])
    response = app.test_client().get("/signalr/negotiate")
    assert (response.status_code, response.data) == (
        413,
        b"AccessToken must not be longer than 4K.",
    )


def test_classic_is_off_by_default(make_app: Any) -> None:
    app, _ = make_app()
    assert app.test_client().get("/signalr/negotiate").status_code == 404


def test_a_more_specific_hubs_route_takes_precedence(classic_app: Any) -> None:
    app, _ = classic_app()
    app.add_url_rule("/signalr/hubs", "hubs_proxy", lambda: "proxy")
    client = app.test_client()
    assert client.get("/signalr/hubs").data == b"proxy"
    assert client.get("/signalr/negotiate").status_code == 200
