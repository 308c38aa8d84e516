"""The servers under test and the baselines, each started as its own process on a free port.

Each class starts its module with ``python -m``, reads the address it prints, and stops it again:
by closing its stdin (our servers), SIGTERM (the emulator, ``bench.raw_ws``), then SIGKILL if it
lingers. stderr goes to a log file whose tail is quoted when a server fails to start. ``rss_kib``
reads the resident set size from ``/proc`` for the memory scenarios.

With :func:`profile_into` set, the emulator and the app server are sampled by ``py-spy record`` for
their whole life (``--nonblocking``, so the measured process is not paused); the raw collapsed
stacks land in that directory, one file per process, named after the scenario label given.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import gevent

__all__ = [
    "AioSignalRServer",
    "AppServer",
    "EmulatorServer",
    "FlaskJsonServer",
    "RawServer",
    "ServerProcess",
    "SocketIOServer",
    "cpu_seconds",
    "profile_into",
    "rss_kib",
    "wait_idle",
]

ROOT = Path(__file__).resolve().parents[1]
LOG_DIR = Path(tempfile.gettempdir()) / "flask-azure-signalr-bench"

_profiling: dict[str, Any] = {"directory": None, "label": "", "files": []}


def profile_into(directory: Path | None, label: str = "") -> list[Path]:
    """Profile the servers started from now on into ``directory`` (None: stop profiling new ones);
    returns the profile files written so far."""
    _profiling["directory"] = directory
    _profiling["label"] = label
    return list(_profiling["files"])


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far (``/proc/<pid>/stat``)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_idle(processes: list[ServerProcess], timeout: float = 5.0, busy: float = 0.05) -> None:
    """Wait (bounded) until none of ``processes`` used more than ``busy`` of a core over 0.2 s:
    the previous run's teardown must not be measured as part of the next one."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = [cpu_seconds(p.pid) for p in processes]
        gevent.sleep(0.2)
        if all(cpu_seconds(p.pid) - b <= busy * 0.2 for p, b in zip(processes, before)):
            return


def rss_kib(pid: int) -> int:
    """Resident set size of a process in KiB (``VmRSS`` in ``/proc/<pid>/status``)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


class ServerProcess:
    """One server process. Subclasses name the module and parse the line announcing the address."""

    module = ""
    pattern = re.compile(r"port=(\d+)")
    stop_by_stdin = True
    #: Sampled by py-spy when profiling is on (the processes whose code is ours).
    profiled = False

    def __init__(self, *args: str, start_timeout: float = 60.0) -> None:
        self.args = list(args)
        self.start_timeout = start_timeout
        self.port = 0
        self.first_line = ""
        self.process: Any = None
        self._log: Any = None
        self._profiler: Any = None

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def pid(self) -> int:
        return int(self.process.pid)

    def rss_kib(self) -> int:
        return rss_kib(self.pid)

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.pid)

    def start(self) -> ServerProcess:
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        name = self.module.rsplit(".", 1)[-1]
        self._log = open(LOG_DIR / f"{name}-{os.getpid()}-{id(self)}.log", "w+b")
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
        self.process = subprocess.Popen(
            [sys.executable, "-m", self.module, *self.args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, cwd=ROOT, env=env,
        )
        try:
            with gevent.Timeout(self.start_timeout, TimeoutError(f"{self.module} did not start in time")):
                line = self.process.stdout.readline().decode("utf-8", "replace").strip()
            match = self.pattern.search(line)
            if match is None:
                raise RuntimeError(f"{self.module} did not announce its port: {line!r}")
        except (OSError, RuntimeError, TimeoutError) as error:
            tail = self.log_tail()
            self.stop()
            raise RuntimeError(f"{self.module} failed to start: {error}\n{tail}") from None
        self.first_line = line
        self.port = int(match.group(1))
        if self.profiled and _profiling["directory"] is not None:
            self._start_profiler(Path(_profiling["directory"]))
        return self

    def _start_profiler(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        name = f"{_profiling['label'] or 'run'}-{self.module.rsplit('.', 1)[-1]}"
        path = directory / f"{name}.txt"
        serial = 1
        while path in _profiling["files"]:
            serial += 1
            path = directory / f"{name}-{serial}.txt"
        self._profiler = subprocess.Popen(
            ["py-spy", "record", "--pid", str(self.pid), "--format", "raw", "--rate", "100", "--nonblocking",
             "--output", str(path)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        _profiling["files"].append(path)

    def log_tail(self, size: int = 2000) -> str:
        if self._log is None:
            return ""
        self._log.flush()
        self._log.seek(0, os.SEEK_END)
        end = self._log.tell()
        self._log.seek(max(0, end - size))
        return self._log.read().decode("utf-8", "replace")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            try:
                if self.stop_by_stdin:
                    process.stdin.close()
                else:
                    process.terminate()
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        for stream in (process.stdin, process.stdout):
            if stream is not None and not stream.closed:
                stream.close()
        profiler, self._profiler = self._profiler, None
        if profiler is not None:
            try:
                profiler.wait(20)
            except subprocess.TimeoutExpired:
                profiler.kill()
                profiler.wait(5)
        if self._log is not None:
            self._log.close()
            self._log = None


class EmulatorServer(ServerProcess):
    """``python -m flask_azure_signalr.emulator --port 0``; its first line is the connection string."""

    module = "flask_azure_signalr.emulator"
    pattern = re.compile(r";Port=(\d+);")
    stop_by_stdin = False
    profiled = True

    def __init__(self) -> None:
        super().__init__("--port", "0", "--log-level", "WARNING")

    @property
    def connection_string(self) -> str:
        return self.first_line


class AppServer(ServerProcess):
    """:mod:`bench.app_server`: the Flask app with the bench hub, attached to the emulator."""

    module = "bench.app_server"
    profiled = True

    def __init__(self, connection_string: str, server_connections: int = 5) -> None:
        super().__init__("--connection-string", connection_string, "--server-connections", str(server_connections))

    @property
    def hub_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bench"


class RawServer(ServerProcess):
    """:mod:`bench.raw_ws`: raw gevent WebSocket echo and fan-out."""

    module = "bench.raw_ws"
    pattern = re.compile(r"ws://[^:]+:(\d+)/")
    stop_by_stdin = False

    def __init__(self) -> None:
        super().__init__("--port", "0")

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/"


class SocketIOServer(ServerProcess):
    module = "bench.baselines.socketio_server"

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"


class AioSignalRServer(ServerProcess):
    module = "bench.baselines.aiosignalr_server"

    @property
    def hub_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bench"


class FlaskJsonServer(ServerProcess):
    module = "bench.baselines.flask_json"
