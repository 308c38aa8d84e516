"""The connection-string grammar and its exact C# error messages (auth-negotiate-options §1.1-§1.4)."""

from __future__ import annotations

import pytest

from flask_azure_signalr.connection_string import parse_connection_string
from flask_azure_signalr.endpoints import ServiceEndpoint
from flask_azure_signalr.exceptions import ConfigurationError, ConnectionStringError

KEY = "AccessKey=k"


def test_minimal_access_key_connection_string() -> None:
    parsed = parse_connection_string("Endpoint=https://a.service.signalr.net;AccessKey=abc")
    assert (parsed.scheme, parsed.host, parsed.port, parsed.path) == (
        "https",
        "a.service.signalr.net",
        443,
        "",
    )
    assert parsed.access_key == "abc"
    assert parsed.version is None and parsed.auth_type is None


def test_keys_are_case_insensitive_values_trimmed_and_split_at_first_equals() -> None:
    parsed = parse_connection_string(
        " ENDPOINT = https://A.Example.COM/ ;accesskey= ab==c= ;;VERSION=1.0;unknown=x;junk;"
    )
    assert parsed.host == "a.example.com"
    assert parsed.access_key == "ab==c="
    assert parsed.version == "1.0"


def test_access_key_may_be_empty_and_is_kept_verbatim() -> None:
    assert parse_connection_string("Endpoint=http://x;AccessKey=").access_key == ""


def test_port_replaces_the_endpoint_port() -> None:
    assert parse_connection_string("Endpoint=https://a:500;AccessKey=k;Port=443").port == 443
    assert parse_connection_string("Endpoint=http://a:500;AccessKey=k").port == 500
    assert parse_connection_string("Endpoint=http://a;AccessKey=k;Port=+8080").port == 8080


@pytest.mark.parametrize("version", ["1.0", "1.1-preview", "1.0.3", "1.25_x"])
def test_accepted_versions(version: str) -> None:
    assert parse_connection_string(f"Endpoint=http://a;{KEY};Version={version}").version == version


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Connection string missing required properties endpoint."),
        ("Endpoint=https://x", "Connection string missing required properties endpoint."),
        ("Endpoint=https://x;;;", "Connection string missing required properties endpoint."),
        ("AccessKey=k;Version=1.0", "Connection string missing required properties endpoint."),
        (
            "Endpoint=ftp://x;AccessKey=k",
            "Invalid value for endpoint property, it must be a valid URI.",
        ),
        ("Endpoint=x;AccessKey=k", "Invalid value for endpoint property, it must be a valid URI."),
        (
            "Endpoint=https://;AccessKey=k",
            "Invalid value for endpoint property, it must be a valid URI.",
        ),
        (
            "Endpoint=https://a b;AccessKey=k",
            "Invalid value for endpoint property, it must be a valid URI.",
        ),
        ("Endpoint=;AccessKey=k", "Invalid value for endpoint property, it must be a valid URI."),
        ("Endpoint=http://x;AccessKey=k;Version=2.0", "Version 2.0 is not supported."),
        ("Endpoint=http://x;AccessKey=k;Version=abc", "Version abc is not supported."),
        ("Endpoint=http://x;AccessKey=k;Version=1.x", "Version 1.x is not supported."),
        (
            "Endpoint=http://x;AccessKey=k;Port=0",
            "Invalid value for port property, it must be an positive integer between (0, 65536)",
        ),
        (
            "Endpoint=http://x;AccessKey=k;Port=65536",
            "Invalid value for port property, it must be an positive integer between (0, 65536)",
        ),
        (
            "Endpoint=http://x;AccessKey=k;Port=1_0",
            "Invalid value for port property, it must be an positive integer between (0, 65536)",
        ),
        (
            "Endpoint=http://x;AccessKey=k;Port=abc",
            "Invalid value for port property, it must be an positive integer between (0, 65536)",
        ),
        (
            "Endpoint=http://x;AccessKey=k;ClientEndpoint=gw",
            "Invalid value for clientEndpoint property, it must be a valid URI.",
        ),
        (
            "Endpoint=http://x;AccessKey=k;ServerEndpoint=ws://s",
            "ServerEndpoint property in connection string is not a valid URI: ws://s.",
        ),
        (
            "Endpoint=http://x;AccessKey=k;endpoint=http://y",
            "Duplicate properties found in connection string: endpoint.",
        ),
        ("Endpoint=http://x;Version=1.0", "accesskey is required."),
        ("Endpoint=http://x;AuthType=unknown", "accesskey is required."),
        (
            "Endpoint=http://x;AuthType=azure.app",
            "Connection string missing required properties clientId.",
        ),
        (
            "Endpoint=http://x;AuthType=azure.app;ClientId=c",
            "Connection string missing required properties tenantId.",
        ),
        (
            "Endpoint=http://x;AuthType=Azure.App;ClientId=c;TenantId=t",
            "Connection string missing required properties clientSecret or clientCert.",
        ),
        (
            "Endpoint=http://x;AuthType=aad;ClientId=c;TenantId=t",
            "Connection string missing required properties clientSecret or clientCert.",
        ),
    ],
)
def test_error_messages(text: str, message: str) -> None:
    with pytest.raises(ConnectionStringError) as raised:
        parse_connection_string(text)
    assert str(raised.value) == message


def test_validation_order_endpoint_version_port_client_server_credentials() -> None:
    text = "Endpoint=http://x;Version=9;Port=0;ClientEndpoint=a;ServerEndpoint=b"
    with pytest.raises(ConnectionStringError, match="^Version 9 is not supported.$"):
        parse_connection_string(text)
    with pytest.raises(ConnectionStringError, match="port property"):
        parse_connection_string(text.replace("Version=9;", ""))
    with pytest.raises(ConnectionStringError, match="clientEndpoint"):
        parse_connection_string(text.replace("Version=9;Port=0;", ""))
    with pytest.raises(ConnectionStringError, match="ServerEndpoint"):
        parse_connection_string("Endpoint=http://x;ServerEndpoint=b")


def test_a_whitespace_segment_counts_towards_the_minimum() -> None:
    with pytest.raises(ConnectionStringError, match="accesskey is required."):
        parse_connection_string("Endpoint=https://x; ")


@pytest.mark.parametrize(
    "text",
    [
        "Endpoint=https://x;AuthType=azure.msi",
        "Endpoint=https://x;AuthType=azure",
        "Endpoint=https://x;AuthType=aad",
        "Endpoint=https://x;AuthType=aad;ClientId=c",
        "Endpoint=https://x;AuthType=azure.app;ClientId=c;TenantId=t;ClientSecret=s",
        "Endpoint=https://x;AuthType=azure.app;ClientId=c;TenantId=t;ClientCertPath=/p.pem",
    ],
)
def test_entra_modes_parse_without_access_key_but_fail_clearly_as_endpoints(text: str) -> None:
    parsed = parse_connection_string(text)
    assert parsed.uses_entra_id
    with pytest.raises(ConfigurationError, match="Microsoft Entra ID.*AccessKey"):
        ServiceEndpoint(text)


@pytest.mark.parametrize("text", ["", "   "])
def test_blank_connection_string_for_an_endpoint(text: str) -> None:
    with pytest.raises(ConnectionStringError) as raised:
        ServiceEndpoint(text)
    assert str(raised.value) == "'connectionString' cannot be null or whitespace."


def test_errors_never_contain_the_access_key() -> None:
    with pytest.raises(ConnectionStringError) as raised:
        parse_connection_string("Endpoint=http://x;AccessKey=TOPSECRET;Port=0")
    assert "TOPSECRET" not in str(raised.value)
    assert "TOPSECRET" not in repr(parse_connection_string("Endpoint=http://x;AccessKey=TOPSECRET"))
