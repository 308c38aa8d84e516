"""The extension object: init_app pattern, per-app state, hub registration, the connection-string
requirement and the runtime's readiness hook."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
from flask import Flask

from flask_azure_signalr.exceptions import ConfigurationError
from flask_azure_signalr.extension import FlaskAzureSignalR, process_server_id
from flask_azure_signalr.registry import HubRegistration

from .conftest import LOCAL_CONNECTION_STRING, Status


def test_init_app_pattern_and_shared_extension() -> None:
    signalr = FlaskAzureSignalR(application_name="Shared")
    first, second = Flask("first"), Flask("second")
    signalr.init_app(first, connection_string=LOCAL_CONNECTION_STRING)
    signalr.init_app(
        second, connection_string="Endpoint=https://b;AccessKey=k", application_name="Other"
    )
    assert first.extensions["azure_signalr"] is signalr is second.extensions["azure_signalr"]
    assert not hasattr(signalr, "app")
    assert signalr.get_state(first).options.application_name == "Shared"
    assert signalr.get_state(second).options.application_name == "Other"
    assert signalr.get_state(second).endpoints[0].endpoint == "https://b"
    with first.app_context():
        assert signalr.get_state() is signalr.get_state(first)


def test_constructor_with_app() -> None:
    app = Flask(__name__)
    signalr = FlaskAzureSignalR(app, connection_string=LOCAL_CONNECTION_STRING)
    assert app.extensions["azure_signalr"] is signalr
    assert "azure_signalr" in app.blueprints


def test_get_state_of_an_uninitialised_app() -> None:
    with pytest.raises(RuntimeError, match="init_app"):
        FlaskAzureSignalR().get_state(Flask(__name__))


def test_hub_decorators_return_the_class() -> None:
    signalr = FlaskAzureSignalR()

    @signalr.hub
    class ChatHub:
        pass

    @signalr.hub("News", path="/feeds/news/", authorize=True)
    class NewsHub:
        pass

    assert isinstance(ChatHub, type) and isinstance(NewsHub, type)
    assert signalr.hubs == {
        "chathub": HubRegistration("ChatHub", ChatHub, "/ChatHub", None),
        "news": HubRegistration("News", NewsHub, "/feeds/news", True),
    }


def test_register_hub_returns_the_registration() -> None:
    signalr = FlaskAzureSignalR()

    def check() -> bool:
        return True

    registration = signalr.register_hub(type("Chat", (), {}), path="/c", authorize=check)
    assert (registration.name, registration.path, registration.authorize) == ("Chat", "/c", check)
    assert signalr.hubs["chat"] is registration


@pytest.mark.parametrize(
    ("name", "path", "authorize", "message"),
    [
        ("chat", "/other", None, "already registered"),
        ("Other", "/chat", None, "already used"),
        ("1hub", None, None, "Invalid hub name"),
        ("_hub", None, None, "Invalid hub name"),
        ("h" * 129, None, None, "Invalid hub name"),
        ("Fine", "relative", None, "Invalid hub path"),
        ("Fine", "/", None, "Invalid hub path"),
        ("Fine", "/fine", "yes", "authorize must be"),
    ],
)
def test_register_hub_errors(name: str, path: str | None, authorize: Any, message: str) -> None:
    signalr = FlaskAzureSignalR()
    signalr.register_hub(type("Chat", (), {}), path="/chat")
    with pytest.raises(ConfigurationError, match=message):
        signalr.register_hub(type("X", (), {}), name, path=path, authorize=authorize)


def test_hub_names_may_use_the_service_punctuation() -> None:
    registration = FlaskAzureSignalR().register_hub(type("X", (), {}), "Ns.Chat`1[x],y")
    assert registration.key == "ns.chat`1[x],y"


def test_hubs_registered_after_init_app_can_negotiate() -> None:
    app = Flask(__name__)
    signalr = FlaskAzureSignalR(app, connection_string=LOCAL_CONNECTION_STRING)
    signalr.set_status_provider(app, Status("Late"))
    client = app.test_client()
    assert client.post("/late/negotiate").status_code == 404
    signalr.register_hub(type("Late", (), {}), path="/late")
    assert client.post("/late/negotiate").status_code == 200


def test_missing_connection_string_names_the_key() -> None:
    app = Flask(__name__)
    with pytest.raises(ConfigurationError) as raised:
        FlaskAzureSignalR(app)
    message = str(raised.value)
    assert message.startswith("AZURE_SIGNALR_CONNECTION_STRING is not set.")
    assert "AZURE_SIGNALR_EMULATOR=true" in message
    assert "azure_signalr" not in app.extensions


def test_entra_connection_string_fails_at_init_app() -> None:
    with pytest.raises(ConfigurationError, match="Microsoft Entra ID"):
        FlaskAzureSignalR(
            Flask(__name__), connection_string="Endpoint=https://a;AuthType=azure.msi"
        )


def test_endpoints_are_merged_at_init_app() -> None:
    app = Flask(__name__)
    signalr = FlaskAzureSignalR(
        app,
        connection_string="Endpoint=https://a;AccessKey=k",
        endpoints=["Endpoint=https://a;AccessKey=k2", ("Endpoint=https://b;AccessKey=k", "b")],
    )
    state = signalr.get_state(app)
    assert [e.endpoint for e in state.endpoints] == ["https://a", "https://b"]
    assert len(state.options.endpoints) == 2


def test_only_secondary_endpoints_fail_at_init_app() -> None:
    with pytest.raises(ConfigurationError, match="No primary endpoint defined."):
        FlaskAzureSignalR(
            Flask(__name__), endpoints=[("Endpoint=https://b;AccessKey=k", "b", "secondary")]
        )


def test_classic_application_name_must_differ_from_hub_names() -> None:
    signalr = FlaskAzureSignalR()
    signalr.register_hub(type("Chat", (), {}))
    with pytest.raises(ConfigurationError, match="App name should not be the same as hub name."):
        signalr.init_app(
            Flask(__name__),
            connection_string=LOCAL_CONNECTION_STRING,
            classic=True,
            application_name="Chat",
        )


def test_status_provider_hook() -> None:
    app = Flask(__name__)
    signalr = FlaskAzureSignalR(app, connection_string=LOCAL_CONNECTION_STRING)
    assert signalr.is_connected("Chat", app) is False
    signalr.set_status_provider(app, Status("Chat"))
    assert signalr.is_connected("Chat", app) is True
    assert signalr.is_connected("Other", app) is False
    assert signalr.is_connected(None, app) is False
    signalr.set_status_provider(app, None)
    assert signalr.is_connected("Chat", app) is False


def test_server_id_is_fixed_for_the_process() -> None:
    app = Flask(__name__)
    state = FlaskAzureSignalR(app, connection_string=LOCAL_CONNECTION_STRING).get_state(app)
    assert state.server_id == process_server_id()
    assert re.fullmatch(r".+_[0-9a-f]{32}", state.server_id)


def test_secrets_stay_out_of_logs(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="flask_azure_signalr"):
        app = Flask(__name__)
        signalr = FlaskAzureSignalR(
            app,
            connection_string="Endpoint=https://a;AccessKey=TOPSECRET",
            endpoints=["Endpoint=https://a;AccessKey=TOPSECRET2"],
        )
        signalr.register_hub(type("Chat", (), {}))
        signalr.set_status_provider(app, Status("Chat"))
        token = app.test_client().post("/Chat/negotiate").get_json()["accessToken"]
    assert caplog.records
    assert "TOPSECRET" not in caplog.text and token not in caplog.text
