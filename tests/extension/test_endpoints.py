"""Endpoint URLs and audiences, the name:type key form, merging and the default router
(auth-negotiate-options §1.5, §1.6, §3.3; service-protocol §4.1)."""

from __future__ import annotations

import logging
from collections import Counter

import pytest

from flask_azure_signalr.endpoints import (
    EndpointRouter,
    EndpointType,
    ServiceEndpoint,
    dotnet_url_encode,
    endpoints_from_environ,
    merge_endpoints,
    parse_endpoint_key,
)
from flask_azure_signalr.exceptions import ConfigurationError, ServiceConnectionError

P, S = EndpointType.PRIMARY, EndpointType.SECONDARY


@pytest.mark.parametrize(
    ("connection_string", "client", "server", "audience"),
    [
        (
            "Endpoint=https://a.service.signalr.net",
            "https://a.service.signalr.net/client/?hub=chat",
            "wss://a.service.signalr.net/server/?hub=chat&cid=c1",
            "https://a.service.signalr.net/client/?hub=chat",
        ),
        (
            "Endpoint=http://localhost;Port=8888",
            "http://localhost:8888/client/?hub=chat",
            "ws://localhost:8888/server/?hub=chat&cid=c1",
            "http://localhost/client/?hub=chat",
        ),
        (
            "Endpoint=https://a:500;Port=443",
            "https://a/client/?hub=chat",
            "wss://a/server/?hub=chat&cid=c1",
            "https://a/client/?hub=chat",
        ),
        (
            "Endpoint=https://A.service.signalr.net/",
            "https://a.service.signalr.net/client/?hub=chat",
            "wss://a.service.signalr.net/server/?hub=chat&cid=c1",
            "https://a.service.signalr.net/client/?hub=chat",
        ),
        (
            "Endpoint=https://a.service.signalr.net;ClientEndpoint=https://gw.contoso.com",
            "https://gw.contoso.com/client/?hub=chat",
            "wss://a.service.signalr.net/server/?hub=chat&cid=c1",
            "https://a.service.signalr.net/client/?hub=chat",
        ),
        (
            "Endpoint=https://a.service.signalr.net;ServerEndpoint=http://ccc:500",
            "https://a.service.signalr.net/client/?hub=chat",
            "ws://ccc:500/server/?hub=chat&cid=c1",
            "https://a.service.signalr.net/client/?hub=chat",
        ),
        (
            "Endpoint=https://a;ClientEndpoint=https://gw/signalr/",
            "https://gw/signalr/client/?hub=chat",
            "wss://a/server/?hub=chat&cid=c1",
            "https://a/client/?hub=chat",
        ),
    ],
)
def test_core_urls_and_audiences(
    connection_string: str, client: str, server: str, audience: str
) -> None:
    endpoint = ServiceEndpoint(f"{connection_string};AccessKey=k")
    assert endpoint.client_url("chat") == client
    assert endpoint.server_url("chat", "c1") == server
    assert endpoint.client_audience("chat") == audience
    assert endpoint.server_audience("chat") == audience.replace("/client/", "/server/")


def test_classic_vectors() -> None:
    endpoint = ServiceEndpoint("Endpoint=http://localhost;AccessKey=k;Port=8080")
    assert endpoint.client_url(classic=True) == "http://localhost:8080/aspnetclient"
    assert endpoint.client_audience(classic=True) == "http://localhost/aspnetclient"
    assert endpoint.server_url("hub1", "c", classic=True) == (
        "ws://localhost:8080/aspnetserver/?hub=hub1&cid=c"
    )
    assert (
        endpoint.server_audience("hub1", classic=True) == "http://localhost/aspnetserver/?hub=hub1"
    )


def test_server_url_target_is_url_encoded_with_plus_for_space() -> None:
    endpoint = ServiceEndpoint("Endpoint=https://a;AccessKey=k")
    assert endpoint.server_url("h", "c", target="inst 1/x~") == (
        "wss://a/server/?hub=h&cid=c&target=inst+1%2Fx%7E"
    )


def test_dotnet_url_encode_keeps_only_the_dotnet_unreserved_set() -> None:
    assert dotnet_url_encode("/user/path") == "%2Fuser%2Fpath"
    assert dotnet_url_encode("a-_.!*()~ +=&?") == "a-_.!*()%7E+%2B%3D%26%3F"


def test_path_in_endpoint_is_glued_like_the_sdk_and_dropped_from_audiences() -> None:
    endpoint = ServiceEndpoint("Endpoint=https://a/path;AccessKey=k")
    assert endpoint.client_url("x") == "https://a/pathclient/?hub=x"
    assert endpoint.client_audience("x") == "https://a/client/?hub=x"


def test_properties() -> None:
    endpoint = ServiceEndpoint(
        "Endpoint=http://Local:9000;AccessKey=key==;Version=1.0;Port=8080", "east", "SECONDARY"
    )
    assert endpoint.endpoint == "http://local:8080"
    assert endpoint.access_key == "key=="
    assert endpoint.port == 8080
    assert endpoint.version == "1.0"
    assert endpoint.client_endpoint == endpoint.server_endpoint == "http://local:8080/"
    assert endpoint.audience_base == "http://local/"
    assert (endpoint.name, endpoint.type, endpoint.online) == ("east", S, True)
    assert "key==" not in repr(endpoint)
    assert endpoint.key_id == ServiceEndpoint("Endpoint=https://other;AccessKey=key==").key_id
    assert endpoint.key_id.lstrip("-").isdigit()


def test_default_port_is_omitted_from_the_identity() -> None:
    assert ServiceEndpoint("Endpoint=https://a:443;AccessKey=k").endpoint == "https://a"
    assert ServiceEndpoint("Endpoint=http://a:80;AccessKey=k").endpoint == "http://a"


def test_invalid_endpoint_type() -> None:
    with pytest.raises(ConfigurationError, match="primary, secondary"):
        ServiceEndpoint("Endpoint=https://a;AccessKey=k", "n", "tertiary")


def test_rest_audience_uses_host_without_port() -> None:
    endpoint = ServiceEndpoint("Endpoint=http://localhost;AccessKey=k;Port=8080")
    url = "http://localhost:8080/api/hubs/chat/:send?api-version=2022-06-01"
    assert endpoint.rest_audience(url) == (
        "http://localhost/api/hubs/chat/:send?api-version=2022-06-01"
    )


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("", ("", P)),
        ("foo", ("foo", P)),
        ("foo:primary", ("foo", P)),
        ("foo:SECONDARY", ("foo", S)),
        ("foo:bar", ("foo:bar", P)),
        (":", (":", P)),
        (":bar", (":bar", P)),
        (":secondary", ("", S)),
        ("secondary", ("secondary", P)),
        ("foo:1", ("foo", S)),
        ("foo:secondary:extra", ("foo", S)),
    ],
)
def test_parse_endpoint_key(key: str, expected: tuple[str, EndpointType]) -> None:
    assert parse_endpoint_key(key) == expected


def test_endpoints_from_environ_reads_colon_and_double_underscore_forms() -> None:
    environ = {
        "Azure__SignalR__ConnectionString": "Endpoint=https://main;AccessKey=k",
        "Azure__SignalR__ConnectionString__backup__secondary": "Endpoint=https://b;AccessKey=k",
        "azure:signalr:connectionstring:east-region-a": "Endpoint=https://e;AccessKey=k",
        "Azure:SignalR:ConnectionString:empty": " ",
        "ConnectionStrings__Azure__SignalR__ConnectionString__ignored": "Endpoint=https://i;AccessKey=k",
        "OTHER": "x",
    }
    default, endpoints = endpoints_from_environ(environ)
    assert default == "Endpoint=https://main;AccessKey=k"
    assert endpoints == [
        ("Endpoint=https://b;AccessKey=k", "backup", S),
        ("Endpoint=https://e;AccessKey=k", "east-region-a", P),
    ]


def test_endpoints_from_environ_fallback_keys() -> None:
    environ = {
        "ConnectionStrings:Azure:SignalR:ConnectionString": "Endpoint=https://f;AccessKey=k",
        "ConnectionStrings:Azure:SignalR:ConnectionString:1:secondary": "Endpoint=https://g;AccessKey=k",
    }
    default, endpoints = endpoints_from_environ(environ)
    assert default == "Endpoint=https://f;AccessKey=k"
    assert endpoints == [("Endpoint=https://g;AccessKey=k", "1", S)]
    assert endpoints_from_environ({}) == (None, [])


def test_merge_puts_the_connection_string_first_and_drops_duplicates() -> None:
    a = ServiceEndpoint("Endpoint=https://a;AccessKey=k", "a")
    b = ServiceEndpoint("Endpoint=https://b;AccessKey=k", "b", S)
    merged = merge_endpoints("Endpoint=https://c;AccessKey=k", [a, b, a])
    assert [e.endpoint for e in merged] == ["https://c", "https://a", "https://b"]
    assert merged[0].name == "" and merged[0].type is P


def test_merge_keeps_one_endpoint_per_service_preferring_primary(
    caplog: pytest.LogCaptureFixture,
) -> None:
    secondary = ServiceEndpoint("Endpoint=https://a;AccessKey=k1", "s", S)
    primary = ServiceEndpoint("Endpoint=https://a:443;AccessKey=k2", "p")
    with caplog.at_level(logging.WARNING, logger="flask_azure_signalr.endpoints"):
        merged = merge_endpoints(None, [secondary, primary])
    assert merged == [primary]
    assert "2 endpoint configurations to 'https://a' found, use 'p'." in caplog.text
    assert "k1" not in caplog.text and "k2" not in caplog.text


def test_merge_errors() -> None:
    with pytest.raises(ConfigurationError, match="^No connection string was specified.$"):
        merge_endpoints(None, [])
    with pytest.raises(ConfigurationError, match="^No primary endpoint defined.$"):
        merge_endpoints(None, [ServiceEndpoint("Endpoint=https://a;AccessKey=k", "s", S)])


def _endpoints() -> list[ServiceEndpoint]:
    return [
        ServiceEndpoint("Endpoint=https://p1;AccessKey=k"),
        ServiceEndpoint("Endpoint=https://p2;AccessKey=k"),
        ServiceEndpoint("Endpoint=https://s1;AccessKey=k", "s", S),
    ]


def test_router_picks_online_primaries_at_random() -> None:
    endpoints = _endpoints()
    chosen = Counter(
        EndpointRouter().get_negotiate_endpoint(None, endpoints).endpoint for _ in range(200)
    )
    assert set(chosen) == {"https://p1", "https://p2"}


def test_router_falls_back_to_secondary_then_fails() -> None:
    endpoints = _endpoints()
    endpoints[0].online = endpoints[1].online = False
    router = EndpointRouter()
    assert router.get_negotiate_endpoint(None, endpoints) is endpoints[2]
    assert router.get_endpoints_for_broadcast(endpoints) == [endpoints[2]]
    assert router.get_endpoints_for_group("g", endpoints) == [endpoints[2]]
    assert router.get_endpoints_for_user("u", endpoints) == [endpoints[2]]
    assert router.get_endpoints_for_connection("c", endpoints) == [endpoints[2]]
    endpoints[2].online = False
    with pytest.raises(ServiceConnectionError) as raised:
        router.get_negotiate_endpoint(None, endpoints)
    assert (
        str(raised.value) == "Azure SignalR Service is not connected yet, please try again later."
    )
