"""The emulator as its own (monkey-patched) process, with app servers in separate processes.

Also the lifecycle: in-process start/stop in an unpatched process (native thread with its own
hub), restart on the same port, and the ``flask signalr emulator`` command.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from flask_azure_signalr.emulator import DEFAULT_ACCESS_KEY, Emulator
from flask_azure_signalr.protocol.hub_messages import CloseMessage

from .hub_client import HubClient, client_token
from .service_peer import ServicePeer

pytestmark = pytest.mark.timeout(60)

ROOT = Path(__file__).resolve().parents[2]


class PeerProcess:
    """``python -m tests.emulator.service_peer``: an app server with two server connections."""

    def __init__(self, connection_string: str, hub: str = "chat") -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.emulator.service_peer", connection_string, hub],
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            env=dict(os.environ, PYTHONPATH=str(ROOT)),
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line.startswith("ready "), line
        self.server_id = line.split()[1]

    def stop(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        assert self.process.stdout is not None
        self.process.stdout.close()


@pytest.fixture
def peer_processes() -> Iterator[Callable[[str], PeerProcess]]:
    started: list[PeerProcess] = []

    def start(connection_string: str) -> PeerProcess:
        peer = PeerProcess(connection_string)
        started.append(peer)
        return peer

    yield start
    for peer in started:
        peer.stop()


def test_two_app_server_processes_share_clients_groups_and_users(emulator, peer_processes, make_client) -> None:
    first = peer_processes(emulator.connection_string)
    second = peer_processes(emulator.connection_string)
    clients = [make_client(emulator, claims={"asrs.s.uid": f"user{i % 2}"}, protocol=("json", "messagepack")[i % 2])
               for i in range(4)]
    owners = [client.invoke("WhoAmI") for client in clients]
    assert sorted(owners) == sorted([first.server_id, second.server_id] * 2)
    for client in clients[:3]:
        assert client.invoke("Join", "team") == 1
    clients[0].invoke("SendGroup", "team", "g1")
    for client in clients[:3]:
        assert client.received_invocation("Receive").arguments == ["g1"]
    clients[3].invoke("SendUser", "user0", "u0")
    assert clients[0].received_invocation("Receive").arguments == ["u0"]
    assert clients[2].received_invocation("Receive").arguments == ["u0"]
    clients[1].invoke("SendOthers", "others")
    for index in (0, 2, 3):
        assert clients[index].received_invocation("Receive").arguments == ["others"]
    assert clients[1].invoke("Echo", "no echo to myself") == "no echo to myself"
    assert not any(m.target == "Receive" for m in clients[1].messages if hasattr(m, "target"))


def test_an_app_server_process_exit_closes_only_its_clients(emulator, peer_processes, make_client) -> None:
    first = peer_processes(emulator.connection_string)
    second = peer_processes(emulator.connection_string)
    clients = [make_client(emulator) for _ in range(4)]
    owners = [client.invoke("WhoAmI") for client in clients]
    first.stop()
    for client, owner in zip(clients, owners):
        if owner == first.server_id:
            assert client.wait_for(lambda m: isinstance(m, CloseMessage)).allow_reconnect
            assert client.closed.wait(5)
        else:
            assert client.invoke("Echo", 1) == 1
    assert make_client(emulator).invoke("WhoAmI") == second.server_id


def test_restart_on_the_same_port(emulator, make_client) -> None:
    port, connection_string = emulator.port, emulator.connection_string
    peer = ServicePeer(connection_string, "chat").start()
    try:
        client = make_client(emulator)
        assert client.invoke("Echo", 1) == 1
        emulator.restart()
        assert (emulator.port, emulator.connection_string) == (port, connection_string)
        assert peer.links[0].closed.wait(10)
        assert client.closed.wait(10)
    finally:
        peer.stop()
    with ServicePeer(connection_string, "chat") as again:
        assert make_client(emulator).invoke("WhoAmI") == again.server_id


def test_in_process_start_stop_in_an_unpatched_process(make_client) -> None:
    emulator = Emulator(port=0)
    assert emulator.access_key == DEFAULT_ACCESS_KEY
    emulator.start()
    try:
        assert emulator.port != 0
        assert emulator.connection_string == (
            f"Endpoint=http://127.0.0.1;Port={emulator.port};AccessKey={DEFAULT_ACCESS_KEY};Version=1.0;"
        )
        assert any(t.name == "signalr-emulator-0" for t in threading.enumerate())
        with ServicePeer(emulator.connection_string, "chat"):
            assert make_client(emulator).invoke("Echo", "x") == "x"
        with pytest.raises(RuntimeError):
            emulator.start()
    finally:
        emulator.stop()
    emulator.stop()
    assert not any(t.name == "signalr-emulator-0" for t in threading.enumerate())
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", emulator.port), timeout=2)


def test_start_reports_a_port_in_use() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        emulator = Emulator(port=taken.getsockname()[1])
        with pytest.raises(OSError):
            emulator.start()
        assert not emulator.running


def test_flask_cli_command_prints_the_connection_string() -> None:
    code = "from flask_azure_signalr.cli import signalr; signalr(['emulator', '--port', '0', '--access-key', 'k1'])"
    process = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                               stderr=subprocess.DEVNULL, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("Endpoint=http://127.0.0.1;Port=") and line.endswith(";AccessKey=k1;Version=1.0;\n")
        port = int(line.split(";Port=")[1].split(";")[0])
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        process.terminate()
        assert process.wait(10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(5)
        process.stdout.close()


def test_python_m_help() -> None:
    result = subprocess.run([sys.executable, "-m", "flask_azure_signalr.emulator", "--help"], cwd=ROOT,
                            capture_output=True, text=True, timeout=30, check=False, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert result.returncode == 0
    assert "--access-key" in result.stdout and "--port" in result.stdout


def test_neither_the_key_nor_tokens_reach_the_log(tmp_path) -> None:
    key = "secret-key-1234567890"
    log_file = (tmp_path / "emulator.log").open("w+")
    process = subprocess.Popen(
        [sys.executable, "-m", "flask_azure_signalr.emulator", "--port", "0", "--access-key", key, "--log-level", "DEBUG"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=log_file, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    try:
        assert process.stdout is not None
        connection_string = process.stdout.readline().strip()
        endpoint = "http://127.0.0.1:" + connection_string.split(";Port=")[1].split(";")[0]
        token = client_token(connection_string, "chat")
        with ServicePeer(connection_string, "chat"):
            client = HubClient(endpoint, "chat", token).connect()
            assert client.invoke("Echo", 1) == 1
            client.close()
        wrong = HubClient(endpoint, "chat", token + "x")
        with pytest.raises(AssertionError):
            wrong.negotiate()
    finally:
        process.terminate()
        process.wait(10)
        process.stdout.close()
    log_file.seek(0)
    text = log_file.read()
    log_file.close()
    assert "server connection" in text and "DEBUG" in text
    assert key not in text and token not in text
