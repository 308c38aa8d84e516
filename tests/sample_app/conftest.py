"""Fixtures ``sample_server`` and ``chat_server``: the sample app served by ``flask --app sample_app
run`` in a subprocess.

``sample_server(env={...})`` starts ``python -m flask --app sample_app run --port 0`` from the
repository root (so the root ``.flaskenv`` applies), reads the port from the server's log, waits
until negotiate answers 200 (the runtime's server connections are up) and returns a
:class:`SampleServer`; ``chat_server`` is one such server shared by the tests of a module. Every
process group is killed at teardown.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUNNING_ON = re.compile(r"Running on http://127\.0\.0\.1:(\d+)")
#: Environment variables that would point the sample at a service other than its own emulator.
SERVICE_VARIABLES = ("AZURE_SIGNALR_CONNECTION_STRING", "Azure__SignalR__ConnectionString")


def wait_for_log(log: Path, pattern: re.Pattern[str], process: subprocess.Popen[bytes], timeout: float) -> re.Match[str]:
    """The first match of ``pattern`` in the file ``log`` is written to, waiting up to ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        text = log.read_text(errors="replace") if log.exists() else ""
        match = pattern.search(text)
        if match is not None:
            return match
        if process.poll() is not None:
            raise RuntimeError(f"the process exited with status {process.returncode}:\n{text[-3000:]}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{pattern.pattern!r} not logged within {timeout} s:\n{text[-3000:]}")
        time.sleep(0.05)


def stop_process_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group started with ``start_new_session``, SIGKILL if it lingers."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        except ProcessLookupError:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)  # children that outlived their parent
    except (ProcessLookupError, PermissionError):
        pass


class HttpSession:
    """A cookie-keeping HTTP client: one user of a sample server."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.cookies = http.cookiejar.CookieJar()
        self._opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))

    def request(self, method: str, path: str, form: dict[str, str] | None = None) -> tuple[int, str]:
        data = urllib.parse.urlencode(form).encode() if form is not None else (b"" if method == "POST" else None)
        request = urllib.request.Request(self.base_url + path, data=data, method=method)
        try:
            with self._opener.open(request, timeout=15) as response:
                return response.status, response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode("utf-8", "replace")

    def login(self, username: str) -> None:
        status, _ = self.request("POST", "/login", {"username": username})
        assert status == 200, status  # after following the 303 to the page

    def negotiate(self) -> dict[str, Any]:
        status, body = self.request("POST", "/chat/negotiate?negotiateVersion=1")
        assert status == 200, (status, body)
        return json.loads(body)

    def negotiate_when_ready(self, timeout: float) -> dict[str, Any]:
        """Negotiate answers 500 until a server connection of ``chat`` is up; wait for 200."""
        deadline = time.monotonic() + timeout
        while True:
            status, body = self.request("POST", "/chat/negotiate?negotiateVersion=1")
            if status == 200:
                return json.loads(body)
            if time.monotonic() > deadline:
                raise TimeoutError(f"negotiate still answers {status} {body!r} after {timeout} s")
            time.sleep(0.05)

    @property
    def cookie_header(self) -> str:
        return "; ".join(f"{cookie.name}={cookie.value}" for cookie in self.cookies)


class SampleServer:
    """One ``flask --app sample_app run`` process."""

    def __init__(self, log: Path, env: dict[str, str] | None = None) -> None:
        self.log = log
        self.env = env or {}
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def hub_url(self) -> str:
        return f"{self.url}/chat"

    def session(self) -> HttpSession:
        return HttpSession(self.url)

    def start(self, timeout: float = 60) -> SampleServer:
        env = {key: value for key, value in os.environ.items() if key not in SERVICE_VARIABLES}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
        env.update(self.env)
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "flask", "--app", "sample_app", "run", "--port", "0"],
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.port = int(wait_for_log(self.log, RUNNING_ON, self.process, timeout).group(1))
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float) -> None:
        try:
            self.session().negotiate_when_ready(timeout)
        except TimeoutError as error:
            raise TimeoutError(f"{error}\n{self.log.read_text()[-3000:]}") from None

    def stop(self) -> None:
        if self.process is not None:
            stop_process_group(self.process)
            self.process = None


@pytest.fixture
def sample_server(tmp_path: Path) -> Iterator[Callable[..., SampleServer]]:
    """Factory: ``sample_server(env=None)`` starts the sample app and returns it once ready."""
    started: list[SampleServer] = []

    def start(env: dict[str, str] | None = None) -> SampleServer:
        server = SampleServer(tmp_path / f"sample-{len(started)}.log", env)
        started.append(server)
        return server.start()

    try:
        yield start
    finally:
        for server in started:
            server.stop()


@pytest.fixture(scope="module")
def chat_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SampleServer]:
    """One sample server (embedded emulator) for all the tests of a module."""
    server = SampleServer(tmp_path_factory.mktemp("chat_server") / "sample.log")
    try:
        yield server.start()
    finally:
        server.stop()
