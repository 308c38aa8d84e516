"""The sample app over HTTP: page, browser bundles, demo login, and where negotiate sends clients."""

from __future__ import annotations

import signal
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import jwt
import pytest

from sample_app import create_app

ROOT = Path(__file__).resolve().parents[2]


def _token_claims(token: str) -> dict[str, object]:
    return jwt.decode(token, options={"verify_signature": False})


def _user_id(token: str) -> str | None:
    claims = _token_claims(token)
    return claims.get("asrs.s.uid")  # type: ignore[return-value]


def test_flaskenv_opts_into_the_emulator_and_holds_no_connection_string() -> None:
    text = (ROOT / ".flaskenv").read_text()
    settings = dict(
        line.split("=", 1) for line in text.splitlines() if line.strip() and not line.startswith("#")
    )
    assert settings == {"AZURE_SIGNALR_EMULATOR": "1"}


def test_no_connection_string_anywhere_in_the_sample() -> None:
    for path in (ROOT / "sample_app").rglob("*"):
        if "node_modules" in path.parts or not path.is_file() or path.suffix not in {".py", ".html", ".js", ".json"}:
            continue
        assert "AccessKey=" not in path.read_text(errors="replace"), path


def test_page_bundles_and_login(sample_server) -> None:
    server = sample_server()
    session = server.session()

    status, page = session.request("GET", "/")
    assert status == 200
    for element in ('id="status"', 'id="msgpack"', 'id="broadcast"', 'id="join"', 'id="send-private"', 'id="username"'):
        assert element in page
    assert "/vendor/signalr.min.js" in page and "/vendor/signalr-protocol-msgpack.min.js" in page

    status, script = session.request("GET", "/vendor/signalr.min.js")
    assert status == 200 and "HubConnectionBuilder" in script
    status, script = session.request("GET", "/vendor/signalr-protocol-msgpack.min.js")
    assert status == 200 and "MessagePackHubProtocol" in script
    assert session.request("GET", "/vendor/other.js")[0] == 404

    assert _user_id(session.negotiate()["accessToken"]) is None  # anonymous is allowed

    session.login("alice")
    assert 'id="signed-in">alice<' in session.request("GET", "/")[1]
    assert _user_id(session.negotiate()["accessToken"]) == "alice"

    assert session.request("POST", "/logout")[0] == 200
    assert _user_id(session.negotiate()["accessToken"]) is None
    assert session.request("POST", "/login", {"username": "  "})[0] == 400


def test_embedded_emulator_without_a_connection_string(sample_server) -> None:
    server = sample_server()
    answer = server.session().negotiate()
    url = urlsplit(answer["url"])
    assert url.hostname in ("127.0.0.1", "localhost")
    assert url.port not in (None, server.port)
    assert url.path == "/client/" and "hub=sampleapp_chat" in url.query


def test_connection_string_from_the_environment_is_used_unchanged(sample_server, emulator) -> None:
    server = sample_server({"AZURE_SIGNALR_CONNECTION_STRING": emulator.connection_string})
    answer = server.session().negotiate()
    assert urlsplit(answer["url"]).port == emulator.port
    key = emulator.access_key
    claims = jwt.decode(answer["accessToken"], key, algorithms=["HS256"], audience="http://127.0.0.1/client/?hub=sampleapp_chat")
    assert claims["aud"] == "http://127.0.0.1/client/?hub=sampleapp_chat"


def test_create_app_refuses_to_run_without_service_or_emulator(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no .env to read
    for name in (
        "AZURE_SIGNALR_CONNECTION_STRING", "Azure__SignalR__ConnectionString", "AZURE_SIGNALR_EMULATOR",
        "FLASK_DEBUG", "FLASK_TESTING",
    ):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValueError, match="AZURE_SIGNALR_CONNECTION_STRING"):
        create_app()


def test_sigterm_under_flask_run_stops_gracefully(sample_server, emulator, node_client) -> None:
    """``flask run`` starts the runtime in a request thread; SIGTERM still runs the graceful stop."""
    server = sample_server(
        {
            "AZURE_SIGNALR_CONNECTION_STRING": emulator.connection_string,
            "AZURE_SIGNALR_GRACEFUL_SHUTDOWN_MODE": "WaitForClientsClose",
        }
    )
    session = server.session()
    session.negotiate_when_ready(30)
    client = node_client(server.hub_url)
    client.start()
    server.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    while _accepts(server.port):  # the HTTP server stops first; atexit then stops the runtime
        assert time.monotonic() < deadline, "SIGTERM did not stop flask run"
        time.sleep(0.05)
    assert client.invoke("add", 2, 3) == 5  # WaitForClientsClose: existing clients still served
    assert server.process.poll() is None
    client.stop()
    assert server.process.wait(20) == 0


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True
