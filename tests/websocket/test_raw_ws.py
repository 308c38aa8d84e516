"""The raw WebSocket baseline server (``python -m bench.raw_ws``) as a real process."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from flask_azure_signalr.websocket import connect

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def raw_ws_url() -> Iterator[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.raw_ws", "--port", "0"], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    try:
        line = process.stdout.readline()
        match = re.fullmatch(r"listening on (ws://127\.0\.0\.1:\d+/)\n", line)
        assert match, line
        yield match.group(1)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        finally:
            process.kill()
            process.wait()
            process.stdout.close()


@pytest.mark.timeout(30)
def test_echo_and_broadcast(raw_ws_url: str) -> None:
    first, second = connect(raw_ws_url), connect(raw_ws_url)
    first.send("hello")
    assert first.receive(timeout=5) == "hello"
    second.send(b"\x00\x01")
    assert second.receive(timeout=5) == b"\x00\x01"
    first.send("broadcast:news ☃")
    assert first.receive(timeout=5) == "news ☃"
    assert second.receive(timeout=5) == "news ☃"
    second.send(b"broadcast:\xff")
    assert first.receive(timeout=5) == b"\xff"
    assert second.receive(timeout=5) == b"\xff"
    first.close()
    second.close()
    assert first.close_code == second.close_code == 1000
