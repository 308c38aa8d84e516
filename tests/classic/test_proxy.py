"""The generated /signalr/hubs script, checked by running it under Node.js (aspnet-classic §3).

The third-party jQuery SignalR client is replaced by a small stub (proxy_harness.js) that records
what the script does with it.
"""

from __future__ import annotations

import json
import pathlib
import shutil
import subprocess

import pytest

from flask_azure_signalr.classic_proxy import (
    PROXY_CONTENT_TYPE,
    camel_case,
    disabled_proxy,
    generate_proxy,
    proxy_base_path,
)

HARNESS = pathlib.Path(__file__).with_name("proxy_harness.js")
NODE = shutil.which("node")

CHAT_HUBS = {
    "ChatHub": {"BroadcastMessage": ["name", "message"], "Echo": ["message"]},
    "Admin": ["Kick", "default_reply", "Status"],
}


def write(tmp_path: pathlib.Path, script: str) -> pathlib.Path:
    path = tmp_path / "hubs.js"
    path.write_bytes(script.encode("utf-8"))
    return path


def node(*args: str) -> subprocess.CompletedProcess[str]:
    assert NODE, "Node.js is required for the proxy tests"
    return subprocess.run([NODE, *args], capture_output=True, text=True, timeout=30, check=False)


def run_harness(tmp_path: pathlib.Path, script: str, *extra: str) -> dict:
    done = node(str(HARNESS), str(write(tmp_path, script)), *extra)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return run_harness(tmp_path_factory.mktemp("proxy"), generate_proxy(CHAT_HUBS, url="/signalr"))


def test_script_is_valid_javascript(tmp_path: pathlib.Path) -> None:
    done = node("--check", str(write(tmp_path, generate_proxy(CHAT_HUBS))))
    assert done.returncode == 0, done.stderr


def test_banner_is_what_the_sdk_checks() -> None:
    assert generate_proxy(CHAT_HUBS).startswith("/*!\r\n * ASP.NET SignalR JavaScript ")


def test_default_connection_url_and_options(report: dict) -> None:
    assert report["url"] == "/signalr"
    assert report["options"] == {"useDefaultPath": False}


def test_hubs_are_camel_cased_sorted_and_registered_on_the_connection(report: dict) -> None:
    assert report["proxyKeys"] == ["admin", "chatHub"]
    assert report["hubNames"] == ["admin", "chathub"]
    assert report["sameAsConnectionProxies"] is True
    assert report["clients"] == {"admin": {}, "chatHub": {}}


def test_server_wrappers_have_camel_names_and_parameters(report: dict) -> None:
    assert report["servers"]["chatHub"] == [
        {"name": "broadcastMessage", "length": 2, "params": "name, message"},
        {"name": "echo", "length": 1, "params": "message"},
    ]
    assert [m["name"] for m in report["servers"]["admin"]] == ["default_reply", "kick", "status"]


def test_server_wrappers_invoke_the_declared_name_with_every_argument(report: dict) -> None:
    calls = [entry["call"] for entry in report["invocations"]]
    args = ["x", 2, {"deep": [True, None]}, None]
    assert calls == [
        ["invoke", "admin", "default_reply", *args],
        ["invoke", "admin", "Kick", *args],
        ["invoke", "admin", "Status", *args],
        ["invoke", "chathub", "BroadcastMessage", *args],
        ["invoke", "chathub", "Echo", *args],
    ]
    assert [entry["returned"] for entry in report["invocations"]] == [
        {"promiseFor": call[2]} for call in calls
    ]


def test_client_functions_subscribe_on_starting(report: dict) -> None:
    assert report["startingHandlers"] == 1
    after = report["afterStart"]
    assert after["calls"] == [["on", "admin", "broadcastMessage"]]
    assert after["registerCount"] == 1
    assert after["subscriptions"] == [
        {"event": "broadcastMessage", "identityIsHandler": True, "markedAsProxyCallback": True}
    ]
    assert report["handlerCalls"] == [{"thisIsProxy": True, "args": ["alice", "hi"]}]


def test_client_functions_unsubscribe_on_disconnected(report: dict) -> None:
    assert report["afterDisconnect"] == {
        "calls": [["off", "admin", "broadcastMessage"]],
        "remaining": 0,
    }


def test_create_hub_proxies_works_for_other_connections(report: dict) -> None:
    assert report["otherConnection"] == {
        "keys": ["admin", "chatHub"],
        "distinct": True,
        "boundTo": True,
    }


def test_missing_signalr_client_throws_the_classic_message(tmp_path: pathlib.Path) -> None:
    result = run_harness(tmp_path, generate_proxy(CHAT_HUBS), "noSignalR")
    assert result["error"] == (
        "SignalR: SignalR is not loaded. Please ensure jquery.signalR-x.js is referenced "
        "before ~/signalr/js."
    )


def test_unusual_names_and_url_still_give_valid_script(tmp_path: pathlib.Path) -> None:
    hubs = {
        "My.Hub": {"New": ["default", "class", "arguments", "9lives", "x", "x"]},
        "Empty": [],
    }
    url = '/app"</script>/signalr'
    result = run_harness(tmp_path, generate_proxy(hubs, url=url))
    assert result["url"] == url
    assert result["proxyKeys"] == ["empty", "my.hub"]
    assert result["servers"]["empty"] == []
    assert result["servers"]["my.hub"] == [
        {"name": "new", "length": 6, "params": "default_, class_, arguments_, arg3, x, x_5"}
    ]
    assert result["invocations"][0]["call"][:3] == ["invoke", "my.hub", "New"]
    assert "</script>" not in generate_proxy(hubs, url=url)


def test_no_hubs_gives_a_connection_without_proxies(tmp_path: pathlib.Path) -> None:
    script = generate_proxy({})
    assert node("--check", str(write(tmp_path, script))).returncode == 0
    assert "createHubProxy(" not in script
    assert "$.hubConnection(\"/signalr\", { useDefaultPath: false })" in script


def test_colliding_names_are_refused() -> None:
    with pytest.raises(ValueError, match="differ only in case"):
        generate_proxy({"ChatHub": [], "chatHub": []})
    with pytest.raises(ValueError, match="both become 'send'"):
        generate_proxy({"ChatHub": ["Send", "send"]})
    with pytest.raises(TypeError):
        generate_proxy({"ChatHub": "Send"})


def test_same_input_same_script_and_crlf_lines() -> None:
    first = generate_proxy(CHAT_HUBS)
    assert first == generate_proxy(dict(reversed(list(CHAT_HUBS.items()))))
    assert "\n" not in first.replace("\r\n", "")


def test_camel_case_rule() -> None:
    assert camel_case("ChatHub") == "chatHub"
    assert camel_case("Send") == "send"
    assert camel_case("My.Nested.Hub") == "my.nested.hub"
    assert camel_case("chat") == "chat"
    assert camel_case("") == ""


def test_disabled_proxy_throws_the_classic_message(tmp_path: pathlib.Path) -> None:
    script = disabled_proxy()
    done = node("-e", f"try {{ {script} }} catch (e) {{ process.stdout.write(e.message); }}")
    assert done.stdout == "SignalR: JavaScript Hub proxy generation has been disabled."


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/signalr/hubs", "/signalr"),
        ("/signalr/js", "/signalr"),
        ("/signalr/HUBS/", "/signalr"),
        ("/app/signalr/Js", "/app/signalr"),
        ("/hubs", ""),
        ("/signalr/negotiate", None),
        ("/signalr/myhubs", None),
    ],
)
def test_proxy_base_path(path: str, expected: str | None) -> None:
    assert proxy_base_path(path) == expected


def test_content_type() -> None:
    assert PROXY_CONTENT_TYPE == "application/javascript; charset=UTF-8"
