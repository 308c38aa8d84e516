"""The scenarios of ``python -m bench``: each starts its servers, measures every system of a case in
turn, repeats the whole round, and reports medians with each figure's ratio to its baseline.

Systems in the same scenario are measured interleaved (round 1 of every system, then round 2 ...)
so that noise on the shared machine falls on all of them alike. The full path is load generator ->
emulator -> app-server hub (``bench.app_server``) -> emulator -> clients; the peers are in
``bench.baselines`` and ``bench.raw_ws``.
"""

from __future__ import annotations

import resource
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import gevent
import gevent.pool

from . import loadgen
from .loadgen import (
    Client,
    HttpPool,
    Measurement,
    RawClient,
    SignalRClient,
    SocketIOClient,
)
from .servers import (
    AioSignalRServer,
    AppServer,
    EmulatorServer,
    FlaskJsonServer,
    RawServer,
    ServerProcess,
    SocketIOServer,
    wait_idle,
)

__all__ = ["FULL", "QUICK", "SCENARIOS", "Params", "Row", "ScenarioResult", "Target", "run_scenario"]

JSON = loadgen.CODECS["json"]
MSGPACK = loadgen.CODECS["messagepack"]

FULL_JSON = "full path, JSON"
FULL_MSGPACK = "full path, MessagePack"
EMULATOR_ONLY = "emulator + trivial app server"
RAW = "raw WebSocket (1 hop)"
RAW_MSGPACK = "raw WebSocket (1 hop), MessagePack bytes"
AIOSIGNALR = "aiosignalr (self-hosted)"
SOCKETIO = "Flask-SocketIO (gevent)"
APP_NEGOTIATE = "app negotiate (FlaskAzureSignalR)"
BARE_FLASK = "bare Flask JSON route"
APP_MEMORY = "app server"
EMULATOR_MEMORY = "emulator"
RAW_MEMORY = "raw WebSocket server"


@dataclass(frozen=True)
class Params:
    """Sizes of every scenario; :data:`FULL` for the report, :data:`QUICK` for the smoke test."""

    repeats: int = 3
    seconds: float = 2.0
    warmup: float = 0.3
    echo_clients: tuple[int, ...] = (1, 100)
    sizes: tuple[int, ...] = (64, 4096)
    broadcast_clients: int = 1000
    group_population: int = 1000
    group_size: int = 10
    group_senders: int = 10
    pairs: int = 50
    window: int = 4
    ramp_count: int = 300
    ramp_concurrency: int = 16
    negotiate_concurrency: int = 8
    memory_warm: int = 100
    memory_counts: tuple[int, ...] = (1000, 10000)
    memory_settle: float = 2.0
    connect_concurrency: int = 32


FULL = Params()
QUICK = Params(repeats=1, seconds=0.25, warmup=0.1, echo_clients=(1, 4), sizes=(64, 4096), broadcast_clients=20,
               group_population=20, group_size=10, group_senders=2, pairs=3, ramp_count=10, ramp_concurrency=4,
               negotiate_concurrency=2, memory_warm=5, memory_counts=(20, 40), memory_settle=0.2,
               connect_concurrency=8)


# -- results ----------------------------------------------------------------------------------------


@dataclass
class Row:
    """One system in one case: the median over repeats, and its ratio to the case's baseline."""

    scenario: str
    case: str
    system: str
    unit: str
    values: list[float] = field(default_factory=list)
    p50s: list[float] = field(default_factory=list)
    p90s: list[float] = field(default_factory=list)
    p99s: list[float] = field(default_factory=list)
    sent: int = 0
    lost: int = 0
    baseline: str | None = None
    ratio: float | None = None
    latency_ratio: float | None = None
    has_latency: bool = True
    #: Cores each process kept busy during the runs (``loadgen`` is the load generator itself).
    cpu: dict[str, list[float]] = field(default_factory=dict)

    @property
    def value(self) -> float:
        return statistics.median(self.values) if self.values else 0.0

    @property
    def p50(self) -> float:
        return statistics.median(self.p50s) if self.p50s else 0.0

    @property
    def p90(self) -> float:
        return statistics.median(self.p90s) if self.p90s else 0.0

    @property
    def p99(self) -> float:
        return statistics.median(self.p99s) if self.p99s else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario, "case": self.case, "system": self.system, "unit": self.unit,
            "value": self.value, "values": self.values, "p50": self.p50, "p90": self.p90, "p99": self.p99,
            "sent": self.sent, "lost": self.lost, "baseline": self.baseline, "ratio": self.ratio,
            "latency_ratio": self.latency_ratio, "has_latency": self.has_latency,
            "cpu": {name: statistics.median(values) for name, values in self.cpu.items()},
        }


@dataclass
class Target:
    """A goal from the issue: ``value`` against ``threshold`` (``at_least`` or at most)."""

    label: str
    value: float
    threshold: float
    at_least: bool = True
    unit: str = "×"

    @property
    def met(self) -> bool:
        return self.value >= self.threshold if self.at_least else self.value <= self.threshold

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "value": self.value, "threshold": self.threshold, "at_least": self.at_least,
                "unit": self.unit, "met": self.met}


@dataclass
class ScenarioResult:
    name: str
    title: str
    rows: list[Row] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str = ""
    seconds: float = 0.0

    def row(self, case: str, system: str) -> Row | None:
        return next((r for r in self.rows if r.case == case and r.system == system), None)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "rows": [r.to_dict() for r in self.rows],
                "targets": [t.to_dict() for t in self.targets], "notes": self.notes, "error": self.error,
                "seconds": self.seconds}


class Collector:
    """Gathers the measurements of one scenario into rows (in first-seen order)."""

    def __init__(self, result: ScenarioResult) -> None:
        self.result = result

    def add(self, case: str, system: str, measurement: Measurement, *, has_latency: bool = True,
            cpu: dict[str, float] | None = None) -> Row:
        row = self.result.row(case, system)
        if row is None:
            row = Row(self.result.name, case, system, measurement.unit, has_latency=has_latency)
            self.result.rows.append(row)
        p50, p90, p99 = loadgen.percentiles(measurement.latencies)
        row.values.append(measurement.rate)
        row.p50s.append(p50)
        row.p90s.append(p90)
        row.p99s.append(p99)
        row.sent += measurement.sent
        row.lost += measurement.lost
        for name, cores in (cpu or {}).items():
            row.cpu.setdefault(name, []).append(cores)
        return row

    def relate(self, case: str, system: str, baseline: str) -> tuple[float, float]:
        """Set ``system``'s ratios to ``baseline`` in ``case``; returns (rate ratio, p50 ratio)."""
        row, base = self.result.row(case, system), self.result.row(case, baseline)
        if row is None or base is None:
            return 0.0, 0.0
        row.baseline = baseline
        row.ratio = row.value / base.value if base.value else 0.0
        if row.has_latency and base.p50:
            row.latency_ratio = row.p50 / base.p50
        return row.ratio, row.latency_ratio or 0.0


# -- helpers ----------------------------------------------------------------------------------------


class BenchError(RuntimeError):
    """A scenario could not run (a server did not start, connections failed)."""


def _connect(connect: Callable[[HttpPool], Client], count: int, params: Params, what: str) -> list[Client]:
    clients, measurement = loadgen.connect_many(connect, count, params.connect_concurrency)
    if measurement.lost:
        loadgen.close_all(clients)
        raise BenchError(f"{what}: {measurement.lost} of {count} connections failed: {measurement.error}")
    return clients


def _signalr(url: str, codec: Any = JSON) -> Callable[[HttpPool], Client]:
    return lambda pool: SignalRClient.connect(url, codec, pool)


def _raw(url: str, codec: Any = JSON) -> Callable[[HttpPool], Client]:
    return lambda pool: RawClient.connect(url, codec)


def _socketio(url: str) -> Callable[[HttpPool], Client]:
    return lambda pool: SocketIOClient.connect(url)


class _Servers:
    """Start several servers; stop all of them whatever happens."""

    def __init__(self) -> None:
        self.started: list[ServerProcess] = []

    def start(self, server: ServerProcess) -> Any:
        server.start()
        self.started.append(server)
        return server

    def __enter__(self) -> _Servers:
        return self

    def __exit__(self, *exc_info: object) -> None:
        for server in reversed(self.started):
            server.stop()


class _Clients:
    """Client sets per system, kept alive with pings, closed at the end."""

    def __init__(self) -> None:
        self.sets: dict[str, list[Client]] = {}
        self._keepalive = loadgen.KeepAlive([])

    def add(self, system: str, clients: list[Client]) -> list[Client]:
        self.sets[system] = []
        return self.extend(system, clients)

    def extend(self, system: str, clients: list[Client]) -> list[Client]:
        self.sets[system].extend(clients)
        self._keepalive.clients.extend(clients)
        return self.sets[system]

    def __enter__(self) -> _Clients:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._keepalive.stop()
        loadgen.close_all([c for clients in self.sets.values() for c in clients])


class CpuMeter:
    """Cores each server process (and the load generator) kept busy while the block ran."""

    def __init__(self, processes: dict[str, ServerProcess]) -> None:
        self.processes = processes
        self.cores: dict[str, float] = {}

    @staticmethod
    def _own() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    def __enter__(self) -> CpuMeter:
        self._started = time.monotonic()
        self._before = {name: p.cpu_seconds() for name, p in self.processes.items()}
        self._own_before = self._own()
        return self

    def __exit__(self, *exc_info: object) -> None:
        wall = time.monotonic() - self._started
        if wall <= 0:
            return
        for name, process in self.processes.items():
            self.cores[name] = (process.cpu_seconds() - self._before[name]) / wall
        self.cores["loadgen"] = (self._own() - self._own_before) / wall


def _measure(processes: dict[str, ServerProcess], workload: Callable[..., Measurement],
             *args: Any) -> tuple[Measurement, dict[str, float]]:
    """``workload(*args)``, with the cores each of ``processes`` kept busy meanwhile."""
    with CpuMeter(processes) as meter:
        measured = workload(*args)
    return measured, meter.cores


def _rotate(items: Sequence[Any], repeat: int) -> list[Any]:
    shift = repeat % len(items)
    return list(items[shift:]) + list(items[:shift])


def _size_label(size: int) -> str:
    return f"{size // 1024} KiB" if size >= 1024 and size % 1024 == 0 else f"{size} B"


def _start_trivial(servers: _Servers) -> dict[str, ServerProcess]:
    """The emulator benchmark's app server built from the protocol layer only (``bench.emulator``),
    on an emulator of its own: two app servers of one hub on one emulator would share its clients.

    Imported here: ``bench.emulator`` monkey-patches on import, which only ``python -m bench`` may do.
    """
    from .emulator import TrivialAppServerProcess

    emulator = servers.start(EmulatorServer())
    return {"emulator": emulator, "app server": servers.start(TrivialAppServerProcess(emulator.connection_string))}


# -- scenarios ------------------------------------------------------------------------------------


def echo_scenario(params: Params) -> ScenarioResult:
    """Closed-loop echo at 1 and 100 clients, 64 B and 4 KiB, against every peer."""
    result = ScenarioResult("echo", "Echo round trips (closed loop, one call in flight per client)")
    collect = Collector(result)
    count = max(params.echo_clients)
    with _Servers() as servers, _Clients() as clients:
        emulator = servers.start(EmulatorServer())
        app = servers.start(AppServer(emulator.connection_string))
        raw = servers.start(RawServer())
        aio = servers.start(AioSignalRServer())
        sio = servers.start(SocketIOServer())
        trivial = _start_trivial(servers)
        connectors = {
            FULL_JSON: _signalr(app.hub_url),
            FULL_MSGPACK: _signalr(app.hub_url, MSGPACK),
            RAW: _raw(raw.url),
            RAW_MSGPACK: _raw(raw.url, MSGPACK),
            AIOSIGNALR: _signalr(aio.hub_url),
            SOCKETIO: _socketio(sio.url),
        }
        full_processes = {"emulator": emulator, "app server": app}
        processes = {FULL_JSON: full_processes, FULL_MSGPACK: full_processes, RAW: {"server": raw},
                     RAW_MSGPACK: {"server": raw}, AIOSIGNALR: {"server": aio}, SOCKETIO: {"server": sio}}
        connectors[EMULATOR_ONLY] = _signalr(trivial["app server"].hub_url)  # type: ignore[attr-defined]
        processes[EMULATOR_ONLY] = trivial
        for system, connect in connectors.items():
            clients.add(system, _connect(connect, count, params, system))
        msgpack_systems = {FULL_MSGPACK, RAW_MSGPACK}
        cases = [(n, size) for n in params.echo_clients for size in params.sizes]
        for repeat in range(params.repeats):
            for n, size in cases:
                case = f"{n} client{'s' if n > 1 else ''}, {_size_label(size)}"
                for system in _rotate(list(connectors), repeat):
                    if system in msgpack_systems and size != min(params.sizes):
                        continue
                    measured, cpu = _measure(processes[system], loadgen.echo, clients.sets[system][:n], size,
                                             params.seconds, params.warmup)
                    collect.add(case, system, measured, cpu=cpu)
        for n, size in cases:
            case = f"{n} client{'s' if n > 1 else ''}, {_size_label(size)}"
            throughput, latency = collect.relate(case, FULL_JSON, RAW)
            collect.relate(case, FULL_MSGPACK, RAW_MSGPACK)
            collect.relate(case, EMULATOR_ONLY, RAW)
            collect.relate(case, SOCKETIO, RAW)
            vs_aio = collect.relate(case, AIOSIGNALR, RAW)[0]
            result.targets.append(Target(f"echo {case}: full-path throughput vs raw 1-hop", throughput, 0.5))
            result.targets.append(Target(f"echo {case}: full-path p50 latency vs raw 1-hop", latency, 2.5,
                                         at_least=False))
            result.targets.append(Target(f"echo {case}: full-path throughput vs aiosignalr",
                                         throughput / vs_aio if vs_aio else 0.0, 1.0))
    return result


def broadcast_scenario(params: Params) -> ScenarioResult:
    """One sender's broadcast reaching every one of ``broadcast_clients`` clients."""
    n = params.broadcast_clients
    result = ScenarioResult("broadcast", f"Broadcast to {n:,} clients (64 B, {params.window} broadcasts in flight)")
    collect = Collector(result)
    case = f"{n:,} clients, 64 B"
    with _Servers() as servers, _Clients() as clients:
        emulator = servers.start(EmulatorServer())
        app = servers.start(AppServer(emulator.connection_string))
        raw = servers.start(RawServer())
        sio = servers.start(SocketIOServer())
        aio = servers.start(AioSignalRServer())
        trivial = _start_trivial(servers)
        connectors = {FULL_JSON: _signalr(app.hub_url), RAW: _raw(raw.url), SOCKETIO: _socketio(sio.url),
                      AIOSIGNALR: _signalr(aio.hub_url)}
        processes = {FULL_JSON: {"emulator": emulator, "app server": app}, RAW: {"server": raw},
                     SOCKETIO: {"server": sio}, AIOSIGNALR: {"server": aio}}
        connectors[EMULATOR_ONLY] = _signalr(trivial["app server"].hub_url)  # type: ignore[attr-defined]
        processes[EMULATOR_ONLY] = trivial
        for system, connect in connectors.items():
            clients.add(system, _connect(connect, n, params, system))
        for repeat in range(params.repeats):
            for system in _rotate(list(connectors), repeat):
                group = clients.sets[system]
                measured, cpu = _measure(processes[system], loadgen.fanout, [(group[0], "broadcast", [], len(group))],
                                         group, 64, params.seconds, params.warmup, params.window)
                collect.add(case, system, measured, cpu=cpu)
        for system in connectors:
            if system != RAW:
                collect.relate(case, system, RAW)
        full, sio_row = result.row(case, FULL_JSON), result.row(case, SOCKETIO)
        if full is not None and sio_row is not None and sio_row.value:
            result.targets.append(Target(f"broadcast to {n:,}: full-path deliveries/s vs Flask-SocketIO",
                                         full.value / sio_row.value, 3.0))
    return result


def _join_groups(clients: list[Client], size: int, concurrency: int) -> None:
    """Client ``i`` joins group ``g{i // size}``; every join must be acknowledged."""
    failures: list[str] = []

    def join(index: int) -> None:
        try:
            loadgen.call(clients[index], "join", [f"g{index // size}"])
        except (OSError, TimeoutError, loadgen.ServerError, loadgen.ConnectionClosed) as error:
            failures.append(f"{type(error).__name__}: {error}")

    pool = gevent.pool.Pool(concurrency)
    for index in range(len(clients)):
        pool.spawn(join, index)
    if not pool.join(timeout=120):
        pool.kill()
        raise BenchError("joining the groups did not finish in 120 s")
    if failures:
        raise BenchError(f"{len(failures)} of {len(clients)} group joins failed: {failures[0]}")


def group_scenario(params: Params) -> ScenarioResult:
    """Sends to groups of ``group_size`` among ``group_population`` clients, one sender per group."""
    size, population, senders = params.group_size, params.group_population, params.group_senders
    result = ScenarioResult(
        "group", f"Send to a group of {size} among {population:,} clients ({senders} senders, each in its own group)")
    result.notes.append(f"Baseline: the raw server fans each message out to its only {size} clients "
                        f"({senders} of them sending), the same {size} deliveries per message.")
    collect = Collector(result)
    case = f"group of {size} / {population:,}, 64 B"
    with _Servers() as servers, _Clients() as clients:
        emulator = servers.start(EmulatorServer())
        app = servers.start(AppServer(emulator.connection_string))
        raw = servers.start(RawServer())
        full = clients.add(FULL_JSON, _connect(_signalr(app.hub_url), population, params, FULL_JSON))
        raw_clients = clients.add(RAW, _connect(_raw(raw.url), size, params, RAW))
        _join_groups(full, size, params.connect_concurrency)
        full_routes = [(full[g * size], "SendToGroup", [f"g{g}"], size) for g in range(senders)]
        raw_routes = [(raw_clients[i], "SendToGroup", ["g"], size) for i in range(min(senders, size))]
        plans = {FULL_JSON: (full_routes, full), RAW: (raw_routes, raw_clients)}
        processes = {FULL_JSON: {"emulator": emulator, "app server": app}, RAW: {"server": raw}}
        for repeat in range(params.repeats):
            for system in _rotate(list(plans), repeat):
                routes, receivers = plans[system]
                measured, cpu = _measure(processes[system], loadgen.fanout, routes, receivers, 64, params.seconds,
                                         params.warmup, params.window)
                collect.add(case, system, measured, cpu=cpu)
        collect.relate(case, FULL_JSON, RAW)
    return result


def send_to_one_scenario(params: Params) -> ScenarioResult:
    """``SendTo(connection id)`` between ``pairs`` pairs of clients, one message in flight per pair."""
    pairs = params.pairs
    result = ScenarioResult("send-to-one", f"Send to one connection ({pairs} sender/receiver pairs, one in flight each)")
    result.notes.append("Baseline: raw 1-hop echo over as many connections (one message, one delivery).")
    collect = Collector(result)
    case = f"{pairs} pairs, 64 B"
    with _Servers() as servers, _Clients() as clients:
        emulator = servers.start(EmulatorServer())
        app = servers.start(AppServer(emulator.connection_string))
        raw = servers.start(RawServer())
        full = clients.add(FULL_JSON, _connect(_signalr(app.hub_url), 2 * pairs, params, FULL_JSON))
        raw_clients = clients.add(RAW, _connect(_raw(raw.url), pairs, params, RAW))
        plans = {
            FULL_JSON: ([(full[i], "SendTo", [full[pairs + i].connection_id], 1) for i in range(pairs)], full),
            RAW: ([(c, "echo", [], 1) for c in raw_clients], raw_clients),
        }
        processes = {FULL_JSON: {"emulator": emulator, "app server": app}, RAW: {"server": raw}}
        for repeat in range(params.repeats):
            for system in _rotate(list(plans), repeat):
                routes, receivers = plans[system]
                measured, cpu = _measure(processes[system], loadgen.fanout, routes, receivers, 64, params.seconds,
                                         params.warmup, 1)
                collect.add(case, system, measured, cpu=cpu)
        collect.relate(case, FULL_JSON, RAW)
    return result


def ramp_scenario(params: Params) -> ScenarioResult:
    """Connections per second, each through the whole client connect sequence of its system."""
    count = params.ramp_count
    result = ScenarioResult("ramp", f"Connection ramp ({count} connections, {params.ramp_concurrency} at a time)")
    result.notes.append("Full path: negotiate at the app, negotiate at the service, WebSocket, hub handshake "
                        "answered by the app server. Raw: TCP + WebSocket upgrade.")
    collect = Collector(result)
    case = f"{count} connections"
    with _Servers() as servers:
        emulator = servers.start(EmulatorServer())
        app = servers.start(AppServer(emulator.connection_string))
        raw = servers.start(RawServer())
        sio = servers.start(SocketIOServer())
        aio = servers.start(AioSignalRServer())
        connectors = {FULL_JSON: _signalr(app.hub_url), RAW: _raw(raw.url), SOCKETIO: _socketio(sio.url),
                      AIOSIGNALR: _signalr(aio.hub_url)}
        for repeat in range(params.repeats):
            for system in _rotate(list(connectors), repeat):
                opened, measured = loadgen.connect_many(connectors[system], count, params.ramp_concurrency)
                collect.add(case, system, measured)
                loadgen.close_all(opened)
                wait_idle(servers.started)
        for system in connectors:
            if system != RAW:
                collect.relate(case, system, RAW)
    return result


def negotiate_scenario(params: Params) -> ScenarioResult:
    """Negotiate requests per second at the app against a bare Flask JSON route."""
    concurrency = params.negotiate_concurrency
    result = ScenarioResult("negotiate", f"Negotiate requests ({concurrency} keep-alive connections)")
    result.notes.append("Both apps run on gevent's WSGIServer in their own process; the negotiate answer "
                        "signs a client access token (HS256) for every request.")
    collect = Collector(result)
    case = "POST /bench/negotiate"
    with _Servers() as servers:
        emulator = servers.start(EmulatorServer())
        app = servers.start(AppServer(emulator.connection_string))
        bare = servers.start(FlaskJsonServer())
        ports = {APP_NEGOTIATE: app.port, BARE_FLASK: bare.port}
        for repeat in range(params.repeats):
            for system in _rotate(list(ports), repeat):
                collect.add(case, system, loadgen.http_rate("127.0.0.1", ports[system], "/bench/negotiate",
                                                            concurrency, params.seconds, params.warmup,
                                                            expect=b"accessToken"))
        ratio = collect.relate(case, APP_NEGOTIATE, BARE_FLASK)[0]
        result.targets.append(Target("negotiate requests/s vs bare Flask JSON route", ratio, 0.8))
    return result


def memory_scenario(params: Params) -> ScenarioResult:
    """Resident memory per idle client in the app server and the emulator, beside the raw server's."""
    counts = params.memory_counts
    result = ScenarioResult("memory", "Memory per idle client (RSS growth / clients added)")
    warm = params.memory_warm
    result.notes.append(
        f"Fresh servers per repeat; RSS read from /proc after {warm} warm-up clients and again at each count, "
        f"once the servers are idle (at least {params.memory_settle:g} s after the last connect); bytes per "
        "client = growth / clients added. The raw server holds as many plain WebSockets, measured after the "
        "full path's clients are closed (the memory floor of a gevent WebSocket server).")
    result.notes.append(f"'held' = one broadcast through the full path reached every one of the "
                        f"{max(counts):,} clients, which had been connected for the whole ramp.")
    collect = Collector(result)
    held_case = f"{max(counts):,} clients held"

    def ramp(connect: Callable[[HttpPool], Client], system: str, processes: dict[str, ServerProcess],
             clients: _Clients) -> list[Client]:
        held = clients.add(system, [])

        def grow(total: int) -> None:
            clients.extend(system, _connect(connect, total - len(held), params, system))
            gevent.sleep(params.memory_settle)
            wait_idle(list(processes.values()), timeout=15)

        grow(warm)
        base = {name: process.rss_kib() for name, process in processes.items()}
        for total in counts:
            grow(total)
            for name, process in processes.items():
                per_client = (process.rss_kib() - base[name]) * 1024 / (total - warm)
                collect.add(f"{total:,} clients", name, Measurement(per_client, "bytes/client"), has_latency=False)
        return held

    for _ in range(params.repeats):
        with _Servers() as servers, _Clients() as clients:
            emulator = servers.start(EmulatorServer())
            app = servers.start(AppServer(emulator.connection_string))
            full = ramp(_signalr(app.hub_url), FULL_JSON, {APP_MEMORY: app, EMULATOR_MEMORY: emulator}, clients)
            collect.add(held_case, FULL_JSON, loadgen.reach(full[0], "broadcast", [], full))
        with _Servers() as servers, _Clients() as clients:
            raw = servers.start(RawServer())
            ramp(_raw(raw.url), RAW, {RAW_MEMORY: raw}, clients)
    for total in counts:
        case = f"{total:,} clients"
        collect.relate(case, APP_MEMORY, RAW_MEMORY)
        collect.relate(case, EMULATOR_MEMORY, RAW_MEMORY)
        row = result.row(case, APP_MEMORY)
        if row is not None:
            result.targets.append(Target(f"app-server memory per client at {total:,} clients", row.value / 1024, 2.0,
                                         at_least=False, unit="KiB"))
    held = result.row(held_case, FULL_JSON)
    if held is not None:
        reached = held.lost == 0 and held.sent == params.repeats
        result.targets.append(Target(f"{max(counts):,} concurrent clients held (all reached by a broadcast)",
                                     1.0 if reached else 0.0, 1.0, unit="yes/no"))
    return result


SCENARIOS: dict[str, Callable[[Params], ScenarioResult]] = {
    "echo": echo_scenario,
    "broadcast": broadcast_scenario,
    "group": group_scenario,
    "send-to-one": send_to_one_scenario,
    "ramp": ramp_scenario,
    "negotiate": negotiate_scenario,
    "memory": memory_scenario,
}


def run_scenario(name: str, params: Params) -> ScenarioResult:
    """Run one scenario; a failure is returned as a result with ``error`` set, not raised."""
    started = time.monotonic()
    try:
        result = SCENARIOS[name](params)
    except Exception as error:  # noqa: BLE001  (one scenario's failure must not stop the others)
        result = ScenarioResult(name, name, error=f"{type(error).__name__}: {error}")
    result.seconds = time.monotonic() - started
    return result
