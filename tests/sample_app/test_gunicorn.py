"""The sample app under ``gunicorn -k gevent`` (monkey-patched workers), as the README deploys it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import ROOT, SERVICE_VARIABLES, HttpSession, stop_process_group

def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.timeout(90)
def test_two_gevent_workers_serve_negotiate_and_hub_calls(emulator, node_client, tmp_path: Path) -> None:
    port = _free_port()
    env = {key: value for key, value in os.environ.items() if key not in SERVICE_VARIABLES}
    env["AZURE_SIGNALR_CONNECTION_STRING"] = emulator.connection_string
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    with (tmp_path / "gunicorn.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-k", "gevent", "-w", "2", "-b", f"127.0.0.1:{port}",
             "sample_app:create_app()"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while not _accepts(port):
            assert process.poll() is None, (tmp_path / "gunicorn.log").read_text()
            assert time.monotonic() < deadline, "gunicorn did not start listening"
            time.sleep(0.05)
        session = HttpSession(f"http://127.0.0.1:{port}")
        session.negotiate_when_ready(60)
        alice = node_client(f"http://127.0.0.1:{port}/chat")
        bob = node_client(f"http://127.0.0.1:{port}/chat", protocol="messagepack")
        alice.on("broadcastMessage")
        alice.start()
        bob.start()
        assert alice.invoke("add", 2, 3) == 5
        bob.invoke("broadcastMessage", "bob", "hi from a gevent worker")
        assert alice.wait_for_message("broadcastMessage") == [["bob", "hi from a gevent worker"]]
    finally:
        stop_process_group(process)


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True
