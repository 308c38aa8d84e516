"""The SDK side for classic clients: one ``@signalr.hub`` class serving jQuery-protocol clients and
ASP.NET Core clients at once (aspnet-classic §2, §3, §4.2; service-protocol §8).

The app runs in this process with its hub runtime, against an in-process emulator with short
classic timers; clients are the Python classic client and the Python ASP.NET Core client of the
emulator tests, so every message crosses the real service protocol.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask

from flask_azure_signalr import FlaskAzureSignalR, Hub, HubException, hub_method
from flask_azure_signalr.emulator import Emulator, EmulatorOptions
from flask_azure_signalr.protocol.classic import HubResponse, ServerError
from flask_azure_signalr.runtime.classic_client import ABORTED
from tests.emulator.classic_client import ClassicClient
from tests.emulator.hub_client import HubClient

from .conftest import CLASSIC_NEGOTIATE

APPLICATION = "Contoso.Chat.Startup"
OPTIONS = EmulatorOptions(classic_keepalive_interval=1.0, classic_disconnect_timeout=1.0, classic_poll_timeout=1.0)

pytestmark = pytest.mark.timeout(30)

signalr = FlaskAzureSignalR()
events: list[tuple[Any, ...]] = []
_events_changed = threading.Condition()


def record(*event: Any) -> None:
    with _events_changed:
        events.append(event)
        _events_changed.notify_all()


def wait_event(predicate: Callable[[tuple[Any, ...]], bool], timeout: float = 10) -> tuple[Any, ...]:
    deadline = time.monotonic() + timeout
    with _events_changed:
        while True:
            for event in events:
                if predicate(event):
                    return event
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no matching event in {events}"
            _events_changed.wait(remaining)


@signalr.hub("ChatHub")
class ChatHub(Hub):
    def on_connected(self) -> None:
        record("connected", self.context.connection_id, self.context.user_identifier, self.context.query.get("room"))

    def on_reconnected(self) -> None:
        record("reconnected", self.context.connection_id)

    def on_disconnected(self, error: BaseException | None) -> None:
        record("disconnected", self.context.connection_id)

    @hub_method("BroadcastMessage")
    def broadcast_message(self, name: str, message: str) -> None:
        self.clients.all.send("broadcastMessage", name, message)

    @hub_method("Echo")
    def echo(self, message: str) -> None:
        self.clients.caller.send("echo", message)

    def add(self, a: int, b: int) -> int:
        return a + b

    def join(self, group: str) -> None:
        self.groups.add_to_group(self.context.connection_id, group)

    def leave(self, group: str) -> None:
        self.groups.remove_from_group(self.context.connection_id, group)

    @hub_method("ToGroup")
    def to_group(self, group: str, message: str) -> None:
        self.clients.group(group).send("groupMessage", group, message)

    @hub_method("ToOthers")
    def to_others(self, message: str) -> None:
        self.clients.others.send("othersMessage", message)

    def refuse(self, message: str) -> None:
        raise HubException(message)

    def crash(self) -> None:
        raise ValueError("internal detail")

    def count(self, n: int) -> Iterator[int]:
        yield from range(n)

    def kick(self) -> None:
        self.context.abort()


@signalr.hub("Moody")
class MoodyHub(Hub):
    def on_connected(self) -> None:
        raise RuntimeError("not today")


@pytest.fixture(scope="module")
def service() -> Iterator[Emulator]:
    emulator = Emulator(port=0, access_key=secrets.token_urlsafe(24), options=OPTIONS)
    emulator.start()
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture(scope="module")
def app(service: Emulator) -> Iterator[Flask]:
    app = Flask(__name__)
    signalr.init_app(
        app,
        connection_string=service.connection_string,
        classic=True,
        application_name=APPLICATION,
        initial_hub_server_connection_count=1,
    )
    signalr.start(app)
    client = app.test_client()
    deadline = time.monotonic() + 15
    while client.get(CLASSIC_NEGOTIATE).status_code != 200:
        assert time.monotonic() < deadline, "the classic application pool did not connect"
        time.sleep(0.05)
    try:
        yield app
    finally:
        signalr.shutdown(app)


@pytest.fixture
def classic(app: Flask, service: Emulator) -> Iterator[Callable[..., ClassicClient]]:
    """``classic(transport="webSockets", hubs=("chathub",), query="")``: connected through negotiate."""
    clients: list[ClassicClient] = []

    def connect(transport: str = "webSockets", hubs: tuple[str, ...] = ("chathub",), query: str = "",
                start: bool = True) -> ClassicClient:
        data = json.dumps([{"name": hub} for hub in hubs])
        answer = app.test_client().get(f"/signalr/negotiate?clientProtocol=2.1&connectionData={data}{query}")
        assert answer.status_code == 200, answer.data
        body = answer.get_json()
        redirect_query = body["RedirectUrl"].partition("?")[2]
        client = ClassicClient(service.endpoint, body["AccessToken"], hubs, transport=transport,
                               redirect_query=redirect_query)
        clients.append(client)
        return client.connect(start=start)

    yield connect
    for client in clients:
        client.close()


@pytest.fixture
def core(app: Flask, service: Emulator) -> Iterator[Callable[[], HubClient]]:
    """An ASP.NET Core client of ChatHub, through the app's Core negotiate."""
    clients: list[HubClient] = []

    def connect() -> HubClient:
        answer = app.test_client().post("/ChatHub/negotiate").get_json()
        hub = answer["url"].split("hub=", 1)[1].split("&", 1)[0]
        client = HubClient(service.endpoint, hub, answer["accessToken"]).connect()
        clients.append(client)
        return client

    yield connect
    for client in clients:
        client.close()


def test_pools_follow_the_classic_sdk(app: Flask) -> None:
    pools = {pool["service_hub"] for pool in signalr.status(app)["classic"]["pools"]}
    assert pools == {"contoso.chat.startup_contoso.chat.startup", "contoso.chat.startup_chathub",
                     "contoso.chat.startup_moody"}


@pytest.mark.parametrize("transport", ["webSockets", "serverSentEvents", "longPolling"])
def test_invocations_results_and_client_calls(classic: Any, transport: str) -> None:
    client = classic(transport, query="&room=lobby")
    assert wait_event(lambda e: e[:2] == ("connected", client.connection_id))[3] == "lobby"
    assert client.invoke("chathub", "add", 2, 3) == HubResponse("0", result=5)
    client.invoke("chathub", "Echo", "just me")
    assert client.wait_call("echo") == ("just me",)
    client.invoke("ChatHub", "broadcastmessage", "ada", "hi")
    assert client.wait_call("broadcastMessage") == ("ada", "hi")
    envelope = next(text for text in client.raw if "broadcastMessage" in text)
    assert {"H": "ChatHub", "M": "broadcastMessage", "A": ["ada", "hi"]} in json.loads(envelope)["M"]


def test_errors_reach_the_caller(classic: Any) -> None:
    client = classic()
    refused = client.invoke("chathub", "refuse", "no way")
    assert (refused.error, refused.hub_exception) == ("no way", True)
    assert client.invoke("chathub", "crash").error == "There was an error invoking Hub method 'chathub.crash'."
    assert client.invoke("chathub", "Missing").error == "There was an error invoking Hub method 'chathub.Missing'."
    assert client.invoke("chathub", "add", 1).error == "There was an error invoking Hub method 'chathub.add'."
    assert client.invoke("nohub", "add").error == "'nohub' Hub could not be resolved."
    assert "cannot call streaming methods" in (client.invoke("chathub", "count", 3).error or "")
    client.send_raw('{"H":"chathub","I":41}')
    malformed = client.wait_for(lambda m: isinstance(m, HubResponse) and m.invocation_id == "41")
    assert malformed.error is not None and "field M" in malformed.error
    assert client.invoke("chathub", "add", 40, 2).result == 42


def test_groups_are_hub_qualified_and_acknowledged(classic: Any, core: Any) -> None:
    member, outsider = classic(), classic("longPolling")
    core_member = core()
    member.invoke("chathub", "join", "devs")
    assert core_member.invoke("join", "devs") is None
    outsider.invoke("chathub", "ToGroup", "devs", "standup")
    assert member.wait_call("groupMessage") == ("devs", "standup")
    assert core_member.received_invocation("groupMessage").arguments == ["devs", "standup"]
    member.invoke("chathub", "leave", "devs")
    outsider.invoke("chathub", "ToGroup", "devs", "again")
    assert core_member.received_invocation("groupMessage").arguments == ["devs", "again"]
    outsider.invoke("chathub", "BroadcastMessage", "x", "marker")
    member.wait_call("broadcastMessage")
    assert member.calls("groupMessage") == [("devs", "standup")]
    assert outsider.calls("groupMessage") == []


def test_core_and_classic_clients_share_broadcasts(classic: Any, core: Any) -> None:
    jquery, dotnet = classic("serverSentEvents"), core()
    jquery.invoke("chathub", "BroadcastMessage", "jquery", "from classic")
    assert dotnet.received_invocation("broadcastMessage").arguments == ["jquery", "from classic"]
    dotnet.invoke("BroadcastMessage", "dotnet", "from core")
    jquery.wait_for(lambda m: getattr(m, "arguments", None) == ("dotnet", "from core"))
    dotnet.invoke("ToOthers", "not for core")
    assert jquery.wait_call("othersMessage") == ("not for core",)
    jquery.invoke("chathub", "ToOthers", "not for jquery")
    assert dotnet.received_invocation("othersMessage").arguments == ["not for jquery"]
    jquery.invoke("chathub", "Echo", "marker")
    jquery.wait_call("echo")
    assert ("not for jquery",) not in jquery.calls("othersMessage")


def test_hub_context_reaches_classic_clients_by_id(app: Flask, classic: Any) -> None:
    client = classic("longPolling")
    context = signalr.hub_context("ChatHub", app)
    context.clients.client(client.connection_id).send("notice", {"n": 1})
    assert client.wait_call("notice") == ({"n": 1},)
    context.groups.add_to_group(client.connection_id, "ops")
    context.clients.group("ops").send("notice", "ops only")
    assert client.wait_for(lambda m: getattr(m, "arguments", None) == ("ops only",))


def test_reconnect_and_disconnect_run_the_hooks(service: Emulator, classic: Any) -> None:
    client = classic("webSockets")
    wait_event(lambda e: e[:2] == ("connected", client.connection_id))
    assert service.drop_classic_transports() >= 1
    assert client.closed.wait(5)
    client.reconnect()
    wait_event(lambda e: e == ("reconnected", client.connection_id))
    assert client.invoke("chathub", "add", 1, 1).result == 2
    client.abort()
    wait_event(lambda e: e == ("disconnected", client.connection_id))


def test_abort_from_the_hub_stops_the_client(classic: Any) -> None:
    client = classic("longPolling")
    client.send("chathub", "kick")
    assert client.wait_for(lambda m: isinstance(m, ServerError)) == ServerError(ABORTED)
    wait_event(lambda e: e == ("disconnected", client.connection_id))


def test_failing_on_connected_refuses_the_client(classic: Any) -> None:
    client = classic("webSockets", hubs=("moody",), start=False)
    assert client.wait_for(lambda m: isinstance(m, ServerError)) == ServerError("not today")


def test_negotiate_with_an_unknown_hub_fails_and_other_paths_are_not_found(app: Flask) -> None:
    test_client = app.test_client()
    unknown = test_client.get('/signalr/negotiate?clientProtocol=2.1&connectionData=[{"name":"nope"}]')
    assert unknown.status_code == 500
    other = test_client.get("/signalr/connect")
    assert (other.status_code, other.data) == (404, b"NotFound")


@pytest.mark.parametrize("path", ["/signalr/hubs", "/signalr/js", "/signalr/HUBS/"])
def test_proxy_script_lists_the_registered_hubs(app: Flask, path: str) -> None:
    response = app.test_client().get(path)
    assert response.status_code == 200
    assert response.content_type == "application/javascript; charset=UTF-8"
    script = response.get_data(as_text=True)
    assert script.startswith("/*!\r\n * ASP.NET SignalR JavaScript ")
    assert 'proxies["chatHub"] = connection.createHubProxy("chatHub")' in script
    assert '"broadcastMessage": function (name, message) {' in script
    assert 'invoke(proxies["chatHub"], "BroadcastMessage", arguments)' in script
    assert '"count"' not in script
    assert '$.hubConnection("/signalr"' in script


def test_application_name_rules_of_the_classic_sdk() -> None:
    connection_string = "Endpoint=http://localhost;AccessKey=x;Version=1.0;"
    extension = FlaskAzureSignalR()
    extension.register_hub(ChatHub, "Chat")
    with pytest.raises(ValueError, match="App name should not be the same as hub name"):
        extension.init_app(Flask(__name__), connection_string=connection_string, classic=True, application_name="Chat")
    with pytest.raises(ValueError, match=r"also \. , ` \[ \] when AZURE_SIGNALR_CLASSIC is on"):
        extension.init_app(Flask(__name__), connection_string=connection_string, application_name="Contoso.Chat")
