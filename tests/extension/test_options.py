"""Every option: default, validation error, and the keyword/config/environment/.env sources
(auth-negotiate-options §4.1, §4.2)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from flask_azure_signalr.endpoints import EndpointRouter, EndpointType, ServiceEndpoint
from flask_azure_signalr.exceptions import ConfigurationError, ConnectionStringError
from flask_azure_signalr.extension import FlaskAzureSignalR
from flask_azure_signalr.options import GracefulShutdownMode, ServerStickyMode, ServiceOptions

from .conftest import LOCAL_CONNECTION_STRING

DEFAULTS: dict[str, Any] = {
    "connection_string": None,
    "endpoints": [],
    "initial_hub_server_connection_count": 5,
    "max_hub_server_connection_count": None,
    "application_name": None,
    "claims_provider": None,
    "diagnostic_client_filter": None,
    "transport_type_detector": None,
    "access_token_lifetime": timedelta(hours=1),
    "access_token_algorithm": "HS256",
    "server_sticky_mode": ServerStickyMode.DISABLED,
    "max_poll_interval_in_seconds": 5,
    "enable_detailed_errors": False,
    "handshake_timeout": 15,
    "graceful_shutdown_mode": GracefulShutdownMode.OFF,
    "graceful_shutdown_timeout": timedelta(seconds=30),
    "emulator": False,
    "auto_start": True,
    "classic": False,
    "classic_path": "/signalr",
    "cors_origins": None,
}


def test_table_lists_every_option_once_with_derived_config_keys() -> None:
    names = [option.name for option in ServiceOptions.table()]
    assert sorted(names) == sorted([*DEFAULTS, "endpoint_router"])
    for option in ServiceOptions.table():
        assert option.config_key == "AZURE_SIGNALR_" + option.name.upper()
        assert option.help and option.allowed


@pytest.mark.parametrize(("name", "default"), DEFAULTS.items())
def test_defaults(name: str, default: Any) -> None:
    assert getattr(ServiceOptions(), name) == default


def test_default_router_is_the_default_endpoint_router() -> None:
    assert type(ServiceOptions().endpoint_router) is EndpointRouter


@pytest.mark.parametrize(
    ("name", "value", "allowed"),
    [
        ("connection_string", 42, "Azure SignalR connection string"),
        ("endpoints", "Endpoint=https://a;AccessKey=k", "a list of ServiceEndpoint"),
        ("endpoints", [42], "a list of ServiceEndpoint"),
        ("initial_hub_server_connection_count", -1, "an integer >= 0"),
        ("initial_hub_server_connection_count", "five", "an integer >= 0"),
        ("initial_hub_server_connection_count", True, "an integer >= 0"),
        ("max_hub_server_connection_count", -2, "None or an integer >="),
        ("application_name", "1app", "a letter followed by letters, digits or underscores"),
        ("application_name", "my-app", "a letter followed by letters, digits or underscores"),
        ("claims_provider", "not callable", "callable(request) returning claims"),
        ("diagnostic_client_filter", 1, "callable(request) returning bool"),
        ("transport_type_detector", 1, "transport bitmask"),
        ("access_token_lifetime", 0, "a positive timedelta or number of seconds"),
        ("access_token_lifetime", timedelta(seconds=-1), "a positive timedelta"),
        ("access_token_lifetime", "soon", "a positive timedelta"),
        ("access_token_algorithm", "RS256", "HS256 or HS512"),
        ("server_sticky_mode", "Sometimes", "Disabled, Preferred or Required"),
        ("max_poll_interval_in_seconds", 0, "None or an integer from 1 to 300"),
        ("max_poll_interval_in_seconds", 301, "None or an integer from 1 to 300"),
        ("enable_detailed_errors", "maybe", "a boolean"),
        ("handshake_timeout", 31, "an integer number of seconds from 1 to 30"),
        ("handshake_timeout", 0, "an integer number of seconds from 1 to 30"),
        ("graceful_shutdown_mode", "Later", "Off, WaitForClientsClose or MigrateClients"),
        ("graceful_shutdown_timeout", -5, "a positive timedelta"),
        ("endpoint_router", object(), "None or an EndpointRouter"),
        ("emulator", "sometimes", "a boolean"),
        ("auto_start", "maybe", "a boolean"),
        ("classic", 2, "a boolean"),
        ("classic_path", "signalr", "a URL path starting with '/'"),
        ("classic_path", "/", "a URL path starting with '/'"),
        ("cors_origins", 5, "None, '*', or a list"),
    ],
)
def test_invalid_values_name_the_config_key_and_allowed_values(
    name: str, value: Any, allowed: str
) -> None:
    with pytest.raises(ConfigurationError) as raised:
        ServiceOptions(**{name: value})
    message = str(raised.value)
    assert f"AZURE_SIGNALR_{name.upper()}" in message
    assert allowed in message


def test_a_bad_connection_string_value_is_not_echoed() -> None:
    with pytest.raises(ConfigurationError) as raised:
        ServiceOptions(connection_string=["Endpoint=https://a;AccessKey=SECRET"])
    assert "SECRET" not in str(raised.value) and "(hidden)" in str(raised.value)
    assert "SECRET" not in repr(ServiceOptions(connection_string="Endpoint=x;AccessKey=SECRET"))


def test_endpoint_errors_keep_the_connection_string_message_and_name_the_key() -> None:
    with pytest.raises(ConnectionStringError) as raised:
        ServiceOptions(endpoints=[("Endpoint=https://a;AccessKey=k;Port=0", "east")])
    assert str(raised.value) == (
        "AZURE_SIGNALR_ENDPOINTS: Invalid value for port property, it must be an positive "
        "integer between (0, 65536)"
    )


def test_max_connection_count_must_not_be_below_initial() -> None:
    with pytest.raises(
        ConfigurationError, match="AZURE_SIGNALR_MAX_HUB_SERVER_CONNECTION_COUNT: 3"
    ):
        ServiceOptions(max_hub_server_connection_count=3)
    options = ServiceOptions(
        initial_hub_server_connection_count=0, max_hub_server_connection_count=0
    )
    assert options.max_hub_server_connection_count == 0


def test_classic_needs_an_application_name() -> None:
    with pytest.raises(ConfigurationError, match="AZURE_SIGNALR_APPLICATION_NAME is required"):
        ServiceOptions(classic=True)


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("initial_hub_server_connection_count", " 0 ", 0),
        ("max_hub_server_connection_count", "12", 12),
        ("max_hub_server_connection_count", "", None),
        ("application_name", "My_App1", "My_App1"),
        ("application_name", "", None),
        ("access_token_lifetime", "90", timedelta(seconds=90)),
        ("access_token_lifetime", "0.5", timedelta(milliseconds=500)),
        ("access_token_algorithm", "hs512", "HS512"),
        ("server_sticky_mode", "preferred", ServerStickyMode.PREFERRED),
        ("server_sticky_mode", "REQUIRED", ServerStickyMode.REQUIRED),
        ("max_poll_interval_in_seconds", "300", 300),
        ("max_poll_interval_in_seconds", "", None),
        ("enable_detailed_errors", "yes", True),
        ("enable_detailed_errors", "0", False),
        ("handshake_timeout", "30", 30),
        ("graceful_shutdown_mode", "migrateclients", GracefulShutdownMode.MIGRATE_CLIENTS),
        (
            "graceful_shutdown_mode",
            "WaitForClientsClose",
            GracefulShutdownMode.WAIT_FOR_CLIENTS_CLOSE,
        ),
        ("graceful_shutdown_timeout", "10", timedelta(seconds=10)),
        ("emulator", "true", True),
        ("classic_path", "/legacy/signalr/", "/legacy/signalr"),
        (
            "cors_origins",
            "https://a.example, https://b.example",
            ("https://a.example", "https://b.example"),
        ),
        ("cors_origins", "*", ("*",)),
    ],
)
def test_environment_values_for_every_text_option(
    name: str, text: str, expected: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(f"AZURE_SIGNALR_{name.upper()}", text)
    app = Flask(__name__)
    signalr = FlaskAzureSignalR(app, connection_string=LOCAL_CONNECTION_STRING)
    assert getattr(signalr.get_state(app).options, name) == expected


def test_native_values() -> None:
    def provider(request: Any) -> dict[str, str]:
        return {"a": "b"}

    options = ServiceOptions(
        claims_provider=provider,
        access_token_lifetime=120,
        cors_origins=["https://a"],
        endpoints=[
            ServiceEndpoint("Endpoint=https://a;AccessKey=k"),
            "Endpoint=https://b;AccessKey=k",
            ("Endpoint=https://c;AccessKey=k", "c", "secondary"),
        ],
    )
    assert options.claims_provider is provider
    assert options.access_token_lifetime == timedelta(minutes=2)
    assert options.cors_origins == ("https://a",)
    assert [(e.endpoint, e.name, e.type) for e in options.endpoints] == [
        ("https://a", "", EndpointType.PRIMARY),
        ("https://b", "", EndpointType.PRIMARY),
        ("https://c", "c", EndpointType.SECONDARY),
    ]


def test_options_are_read_only_and_replace_copies() -> None:
    options = ServiceOptions(application_name="A")
    with pytest.raises(AttributeError, match="read-only"):
        options.application_name = "B"  # type: ignore[misc]
    assert options.replace(application_name="B").application_name == "B"
    assert options.application_name == "A"
    with pytest.raises(TypeError, match="unknown option"):
        ServiceOptions(nonsense=1)


def test_service_hub_name() -> None:
    assert ServiceOptions().service_hub_name("ChatHub") == "chathub"
    assert ServiceOptions(application_name="MyApp").service_hub_name("ChatHub") == "myapp_chathub"


# -- sources --------------------------------------------------------------------------------------


def _options(app: Flask, **keywords: Any) -> ServiceOptions:
    signalr = FlaskAzureSignalR()
    signalr.init_app(app, **keywords)
    return signalr.get_state(app).options


def test_keyword_beats_config_beats_environment_beats_dotenv(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text(
        f"AZURE_SIGNALR_CONNECTION_STRING={LOCAL_CONNECTION_STRING}\n"
        "AZURE_SIGNALR_INITIAL_HUB_SERVER_CONNECTION_COUNT=1\n"
        "AZURE_SIGNALR_APPLICATION_NAME=FromDotenv\n"
        "AZURE_SIGNALR_HANDSHAKE_TIMEOUT=20\n"
        "AZURE_SIGNALR_MAX_POLL_INTERVAL_IN_SECONDS=9\n"
    )
    monkeypatch.setenv("AZURE_SIGNALR_INITIAL_HUB_SERVER_CONNECTION_COUNT", "2")
    monkeypatch.setenv("AZURE_SIGNALR_APPLICATION_NAME", "FromEnv")
    monkeypatch.setenv("AZURE_SIGNALR_HANDSHAKE_TIMEOUT", "21")
    app = Flask(__name__)
    app.config["AZURE_SIGNALR_APPLICATION_NAME"] = "FromConfig"
    app.config["AZURE_SIGNALR_HANDSHAKE_TIMEOUT"] = 22
    options = _options(app, handshake_timeout=23)
    assert options.connection_string == LOCAL_CONNECTION_STRING  # .env
    assert options.max_poll_interval_in_seconds == 9  # .env
    assert options.initial_hub_server_connection_count == 2  # environment over .env
    assert options.application_name == "FromConfig"  # config over environment
    assert options.handshake_timeout == 23  # keyword over config
    assert app.config["AZURE_SIGNALR_HANDSHAKE_TIMEOUT"] == 22


def test_dotenv_is_found_in_a_parent_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text(f"AZURE_SIGNALR_CONNECTION_STRING={LOCAL_CONNECTION_STRING}\n")
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    assert _options(Flask(__name__)).connection_string == LOCAL_CONNECTION_STRING


def test_dotenv_does_not_change_the_process_environment(tmp_path: Path) -> None:
    import os

    (tmp_path / ".env").write_text(f"AZURE_SIGNALR_CONNECTION_STRING={LOCAL_CONNECTION_STRING}\n")
    _options(Flask(__name__))
    assert "AZURE_SIGNALR_CONNECTION_STRING" not in os.environ


def test_config_defaults_are_written_with_setdefault() -> None:
    app = Flask(__name__)
    app.config["AZURE_SIGNALR_ACCESS_TOKEN_ALGORITHM"] = "HS512"
    options = _options(app, connection_string=LOCAL_CONNECTION_STRING)
    assert options.access_token_algorithm == "HS512"
    assert app.config["AZURE_SIGNALR_INITIAL_HUB_SERVER_CONNECTION_COUNT"] == 5
    assert app.config["AZURE_SIGNALR_ACCESS_TOKEN_LIFETIME"] == timedelta(hours=1)
    assert "AZURE_SIGNALR_CONNECTION_STRING" in app.config


def test_callables_are_not_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_SIGNALR_CLAIMS_PROVIDER", "os:getcwd")
    options = _options(Flask(__name__), connection_string=LOCAL_CONNECTION_STRING)
    assert options.claims_provider is None


def test_dotnet_style_environment_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("Azure__SignalR__ConnectionString", LOCAL_CONNECTION_STRING)
    monkeypatch.setenv(
        "Azure__SignalR__ConnectionString__backup__secondary", "Endpoint=https://b;AccessKey=k"
    )
    app = Flask(__name__)
    signalr = FlaskAzureSignalR(app)
    state = signalr.get_state(app)
    assert state.options.connection_string == LOCAL_CONNECTION_STRING
    assert [(e.endpoint, e.name, e.type) for e in state.endpoints] == [
        ("http://localhost:8080", "", EndpointType.PRIMARY),
        ("https://b", "backup", EndpointType.SECONDARY),
    ]


def test_invalid_config_value_raises_at_init_app() -> None:
    app = Flask(__name__)
    app.config["AZURE_SIGNALR_MAX_POLL_INTERVAL_IN_SECONDS"] = 0
    with pytest.raises(
        ConfigurationError, match="AZURE_SIGNALR_MAX_POLL_INTERVAL_IN_SECONDS.*1 to 300"
    ):
        _options(app, connection_string=LOCAL_CONNECTION_STRING)


def test_invalid_connection_string_raises_at_init_app_with_the_sdk_message() -> None:
    with pytest.raises(ConnectionStringError) as raised:
        _options(Flask(__name__), connection_string="Endpoint=https://a;AccessKey=k;Version=2.0")
    assert str(raised.value) == "AZURE_SIGNALR_CONNECTION_STRING: Version 2.0 is not supported."


def test_unknown_keyword_raises() -> None:
    with pytest.raises(TypeError, match="unknown option.*colour"):
        _options(Flask(__name__), connection_string=LOCAL_CONNECTION_STRING, colour="red")
