"""The load generator: gevent clients speaking the SignalR hub protocols (JSON and MessagePack), plain
WebSocket frames and Socket.IO, and the workloads the scenarios measure with them.

It runs in its own (monkey-patched) process, apart from every server. The hub protocol is encoded
and parsed here with ``json``/``msgpack`` directly, not with the package's codecs, so a codec bug
cannot cancel out. WebSockets come from :mod:`flask_azure_signalr.websocket` for every system alike.

Every message carries a sequence number, and every workload reports, besides its rate and latency
percentiles, how many messages were sent, received and lost -- a fast but lossy run cannot look good.
SignalR clients connect as the JavaScript client does: ``POST {hub}/negotiate?negotiateVersion=1`` to
the app, follow the redirect ``url`` + ``accessToken`` with a second negotiate at the service, then
open the WebSocket with the connection token and send the handshake.
"""

from __future__ import annotations

import itertools
import json
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

import gevent
import gevent.event
import msgpack
from gevent import socket
from gevent.lock import Semaphore

from flask_azure_signalr.websocket import WebSocket
from flask_azure_signalr.websocket import connect as ws_connect

__all__ = [
    "CODECS",
    "Client",
    "ConnectionClosed",
    "HttpConnection",
    "KeepAlive",
    "Measurement",
    "RawClient",
    "ServerError",
    "SignalRClient",
    "SocketIOClient",
    "call",
    "close_all",
    "connect_many",
    "echo",
    "fanout",
    "http_rate",
    "payload_of",
    "percentiles",
    "reach",
]

_RS = "\x1e"
_now = time.perf_counter


class ConnectionClosed(Exception):
    """The server closed the connection (or sent a hub Close message)."""


class ServerError(Exception):
    """The server answered an invocation with an error, or refused a request."""


# -- results ---------------------------------------------------------------------------------------


def percentiles(samples: Sequence[float]) -> tuple[float, float, float]:
    """p50, p90, p99 of ``samples`` in milliseconds (nearest rank); zeros when there are none."""
    if not samples:
        return 0.0, 0.0, 0.0
    ordered = sorted(samples)
    last = len(ordered) - 1

    def rank(q: float) -> float:
        return ordered[min(last, int(q * len(ordered)))] * 1000.0

    return rank(0.50), rank(0.90), rank(0.99)


@dataclass
class Measurement:
    """One run of one workload against one system."""

    rate: float
    unit: str
    sent: int = 0
    received: int = 0
    lost: int = 0
    latencies: list[float] = field(default_factory=list, repr=False)
    extra: dict[str, float] = field(default_factory=dict)
    #: The first error seen (a failed connect or request), for the report.
    error: str = ""

    @property
    def p50(self) -> float:
        return percentiles(self.latencies)[0]

    def summary(self) -> dict[str, float]:
        p50, p90, p99 = percentiles(self.latencies)
        return {"rate": self.rate, "p50": p50, "p90": p90, "p99": p99, "sent": self.sent,
                "received": self.received, "lost": self.lost, **self.extra}


def payload_of(size: int) -> str:
    """A printable payload of ``size`` bytes (the same for JSON and MessagePack)."""
    return (os.urandom(size // 2 + 1).hex())[:size]


# -- hub protocol codecs (independent of the package's) --------------------------------------------


class Codec(Protocol):
    """A hub protocol, reduced to what the workloads need.

    ``parse`` returns one ``(seq, payload)`` per Invocation (its last two arguments) and per Completion
    (its two-element result); ``(None, None)`` for a void Completion; pings are skipped.
    """

    name: str

    def handshake(self) -> str: ...

    def invocation(self, target: str, args: list[Any], invocation_id: str | None) -> str | bytes: ...

    def ping(self) -> str | bytes: ...

    def parse(self, data: str | bytes) -> list[tuple[Any, Any]]: ...


class JsonCodec:
    """JSON hub protocol: records ending in 0x1E, text frames."""

    name = "json"

    def handshake(self) -> str:
        return '{"protocol":"json","version":1}' + _RS

    def invocation(self, target: str, args: list[Any], invocation_id: str | None) -> str:
        message: dict[str, Any] = {"type": 1, "target": target, "arguments": args}
        if invocation_id is not None:
            message["invocationId"] = invocation_id
        return json.dumps(message, separators=(",", ":")) + _RS

    def ping(self) -> str:
        return '{"type":6}' + _RS

    def parse(self, data: str | bytes) -> list[tuple[Any, Any]]:
        if isinstance(data, bytes):
            data = data.decode("utf-8")
        out = []
        for record in data.split(_RS):
            if not record:
                continue
            message = json.loads(record)
            kind = message.get("type")
            if kind == 1:
                arguments = message["arguments"]
                out.append((arguments[-2], arguments[-1]))
            elif kind == 3:
                if "error" in message:
                    raise ServerError(message["error"])
                result = message.get("result")
                out.append((result[0], result[1]) if isinstance(result, list) else (None, None))
            elif kind == 7:
                raise ConnectionClosed(message.get("error") or "hub Close message")
            elif kind is None and message.get("error"):
                raise ServerError(message["error"])
        return out


def _varint(size: int) -> bytes:
    out = bytearray()
    while True:
        byte = size & 0x7F
        size >>= 7
        if size:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


class MessagePackCodec:
    """MessagePack hub protocol: varint length prefixes, binary frames (handshake stays JSON text)."""

    name = "messagepack"

    def handshake(self) -> str:
        return '{"protocol":"messagepack","version":1}' + _RS

    def invocation(self, target: str, args: list[Any], invocation_id: str | None) -> bytes:
        body = msgpack.packb([1, {}, invocation_id, target, args], use_bin_type=True)
        return _varint(len(body)) + body

    def ping(self) -> bytes:
        return b"\x02\x91\x06"

    def parse(self, data: str | bytes) -> list[tuple[Any, Any]]:
        if isinstance(data, str):
            # The handshake response is JSON text even for MessagePack connections.
            return JsonCodec().parse(data)
        out = []
        position, size = 0, len(data)
        while position < size:
            length = shift = 0
            while True:
                byte = data[position]
                position += 1
                length |= (byte & 0x7F) << shift
                shift += 7
                if not byte & 0x80:
                    break
            message = msgpack.unpackb(data[position : position + length], raw=False)
            position += length
            kind = message[0]
            if kind == 1:
                arguments = message[4]
                out.append((arguments[-2], arguments[-1]))
            elif kind == 3:
                if message[3] == 1:
                    raise ServerError(message[4])
                result = message[4] if message[3] == 3 else None
                out.append((result[0], result[1]) if isinstance(result, list) else (None, None))
            elif kind == 7:
                raise ConnectionClosed(message[1] or "hub Close message")
        return out


CODECS: dict[str, Codec] = {"json": JsonCodec(), "messagepack": MessagePackCodec()}


# -- HTTP/1.1 keep-alive client ---------------------------------------------------------------------


class HttpConnection:
    """One keep-alive HTTP/1.1 connection: just enough for negotiate (Content-Length or chunked)."""

    def __init__(self, host: str, port: int, timeout: float = 30.0) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self._sock: Any = None
        self._buffer = b""

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        self._buffer = b""

    def request(self, method: str, target: str, headers: dict[str, str] | None = None,
                body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self.host}:{self.port}", f"Content-Length: {len(body)}"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
        for attempt in (0, 1):
            fresh = self._sock is None
            if fresh:
                self._sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
            try:
                self._sock.sendall(request)
                return self._response()
            except (ConnectionError, OSError):
                self.close()
                if fresh or attempt:
                    raise
        raise AssertionError("unreachable")

    def _fill(self) -> None:
        chunk = self._sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        self._buffer += chunk

    def _take(self, size: int) -> bytes:
        while len(self._buffer) < size:
            self._fill()
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def _line(self) -> bytes:
        while b"\r\n" not in self._buffer:
            self._fill()
        line, self._buffer = self._buffer.split(b"\r\n", 1)
        return line

    def _response(self) -> tuple[int, dict[str, str], bytes]:
        while b"\r\n\r\n" not in self._buffer:
            self._fill()
        head, self._buffer = self._buffer.split(b"\r\n\r\n", 1)
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            body = self._take(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int(self._line().split(b";")[0], 16)
                if not size:
                    self._line()
                    break
                parts.append(self._take(size))
                self._take(2)
            body = b"".join(parts)
        else:
            while True:
                try:
                    self._fill()
                except ConnectionError:
                    break
            body, self._buffer = self._buffer, b""
            self.close()
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, headers, body


class HttpPool:
    """One keep-alive connection per (host, port) for one greenlet's successive requests."""

    def __init__(self) -> None:
        self._connections: dict[tuple[str, int], HttpConnection] = {}

    def post(self, url: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
        parts = urlsplit(url)
        key = (parts.hostname or "127.0.0.1", parts.port or 80)
        connection = self._connections.get(key)
        if connection is None:
            connection = self._connections[key] = HttpConnection(*key)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        status, _, body = connection.request("POST", target, headers)
        if status != 200:
            raise ServerError(f"POST {parts.path} answered {status}: {body[:200]!r}")
        return json.loads(body)

    def close(self) -> None:
        for connection in self._connections.values():
            connection.close()
        self._connections.clear()


def _negotiate_url(url: str) -> str:
    """``http://h/client/?hub=x`` -> ``http://h/client/negotiate?hub=x&negotiateVersion=1`` (as the JS client)."""
    base, _, query = url.partition("?")
    base = base if base.endswith("/") else base + "/"
    query = f"{query}&negotiateVersion=1" if query else "negotiateVersion=1"
    return f"{base}negotiate?{query}"


# -- clients --------------------------------------------------------------------------------------


class Client(ABC):
    """What every workload needs from a connection: send a call, read sequence-numbered messages."""

    def __init__(self, ws: WebSocket, connection_id: str = "") -> None:
        self.ws = ws
        self.connection_id = connection_id
        #: Messages that arrived in the same frame as the handshake response, returned by the next read.
        self.pending: list[tuple[Any, Any]] = []

    @abstractmethod
    def send(self, target: str, args: list[Any], invocation_id: str | None = None) -> None:
        """Call ``target`` on the server with ``args`` (blocking when ``invocation_id`` is set)."""

    def read(self, timeout: float | None = None) -> list[tuple[Any, Any]]:
        """The (seq, payload) pairs of the next frame; pings are answered or skipped (may be empty)."""
        if self.pending:
            messages, self.pending = self.pending, []
            return messages
        data = self.ws.receive(timeout)
        if data is None:
            if self.ws.closed:
                raise ConnectionClosed(f"closed with {self.ws.close_code} {self.ws.close_reason or ''}".strip())
            raise TimeoutError("no message within the timeout")
        return self._parse(data)

    @abstractmethod
    def _parse(self, data: str | bytes) -> list[tuple[Any, Any]]:
        """The (seq, payload) pairs carried by one received frame."""

    def keepalive(self) -> None:
        """Tell the server the client is alive (SignalR servers close clients silent for 30 s)."""

    def close(self) -> None:
        self.ws.close()


class SignalRClient(Client):
    """An ASP.NET Core SignalR client over WebSockets, negotiating like ``@microsoft/signalr``."""

    def __init__(self, ws: WebSocket, codec: Codec, connection_id: str) -> None:
        super().__init__(ws, connection_id)
        self.codec = codec

    @classmethod
    def connect(cls, url: str, codec: Codec, http: HttpPool | None = None, timeout: float = 30.0) -> SignalRClient:
        """``url`` is the hub URL the app serves, e.g. ``http://127.0.0.1:5000/bench``."""
        own = http is None
        pool = http or HttpPool()
        try:
            negotiated = pool.post(_negotiate_url(url))
            headers: dict[str, str] = {}
            for _ in range(100):  # redirects, as the JS client allows
                if "error" in negotiated:
                    raise ServerError(negotiated["error"])
                if "url" not in negotiated:
                    break
                url = negotiated["url"]
                headers = {"Authorization": f"Bearer {negotiated['accessToken']}"}
                negotiated = pool.post(_negotiate_url(url), headers)
        finally:
            if own:
                pool.close()
        token = negotiated.get("connectionToken") or negotiated["connectionId"]
        separator = "&" if "?" in url else "?"
        ws_url = "ws" + url[len("http"):] + f"{separator}id={token}"
        ws = ws_connect(ws_url, headers, timeout=timeout, close_timeout=2.0)
        client = cls(ws, codec, negotiated["connectionId"])
        ws.send(codec.handshake())
        deadline = _now() + timeout
        raw = b""
        while True:
            data = ws.receive(max(deadline - _now(), 0.001))
            if data is None:
                ws.close()
                raise ServerError(f"no handshake response (close code {ws.close_code})")
            raw += data.encode("utf-8") if isinstance(data, str) else data
            if b"\x1e" in raw:
                response, _, rest = raw.partition(b"\x1e")
                error = json.loads(response).get("error")
                if error:
                    ws.close()
                    raise ServerError(error)
                if rest:
                    client.pending = codec.parse(rest.decode("utf-8") if isinstance(data, str) else rest)
                return client

    def send(self, target: str, args: list[Any], invocation_id: str | None = None) -> None:
        self.ws.send(self.codec.invocation(target, args, invocation_id))

    def _parse(self, data: str | bytes) -> list[tuple[Any, Any]]:
        return self.codec.parse(data)

    def keepalive(self) -> None:
        self.ws.send(self.codec.ping())


class RawClient(Client):
    """A bare WebSocket to ``bench.raw_ws``: the same hub-protocol bytes, echoed or fanned out as they are."""

    FANOUT_TARGETS = frozenset({"broadcast", "SendToGroup"})

    def __init__(self, ws: WebSocket, codec: Codec) -> None:
        super().__init__(ws)
        self.codec = codec

    @classmethod
    def connect(cls, url: str, codec: Codec, timeout: float = 30.0) -> RawClient:
        return cls(ws_connect(url, timeout=timeout, close_timeout=2.0), codec)

    def send(self, target: str, args: list[Any], invocation_id: str | None = None) -> None:
        message = self.codec.invocation(target, args, invocation_id)
        if target in self.FANOUT_TARGETS:
            message = ("broadcast:" if isinstance(message, str) else b"broadcast:") + message
        self.ws.send(message)

    def _parse(self, data: str | bytes) -> list[tuple[Any, Any]]:
        return self.codec.parse(data)


class SocketIOClient(Client):
    """A Socket.IO 5 / Engine.IO 4 client over WebSockets; events carry ``[seq, payload]``."""

    def __init__(self, ws: WebSocket, sid: str) -> None:
        super().__init__(ws, sid)

    @classmethod
    def connect(cls, url: str, timeout: float = 30.0) -> SocketIOClient:
        """``url`` like ``ws://127.0.0.1:5000``; opens ``/socket.io/?EIO=4&transport=websocket``."""
        ws = ws_connect(f"{url}/socket.io/?EIO=4&transport=websocket", timeout=timeout, close_timeout=2.0)
        deadline = _now() + timeout
        opened = ws.receive(timeout)
        if not isinstance(opened, str) or not opened.startswith("0"):
            ws.close()
            raise ServerError(f"no Engine.IO open packet: {opened!r}")
        ws.send("40")
        while True:
            packet = ws.receive(max(deadline - _now(), 0.001))
            if packet is None:
                ws.close()
                raise ServerError("no Socket.IO connect packet")
            if isinstance(packet, str) and packet.startswith("40"):
                return cls(ws, json.loads(packet[2:] or "{}").get("sid", ""))
            if packet == "2":
                ws.send("3")

    def send(self, target: str, args: list[Any], invocation_id: str | None = None) -> None:
        self.ws.send("42" + json.dumps([target, args], separators=(",", ":")))

    def _parse(self, data: str | bytes) -> list[tuple[Any, Any]]:
        if isinstance(data, bytes):
            return []
        if data.startswith("42"):
            event = json.loads(data[2:])
            seq, payload = event[1]
            return [(seq, payload)]
        if data == "2":
            self.ws.send("3")
        elif data.startswith(("41", "1")):
            raise ConnectionClosed("Socket.IO disconnect")
        return []


# -- connecting -------------------------------------------------------------------------------------


def connect_many(connect: Callable[[HttpPool], Client], count: int, concurrency: int = 16,
                 timeout: float = 120.0) -> tuple[list[Client], Measurement]:
    """Open ``count`` clients with ``concurrency`` greenlets; the rate is connections per second.

    Each connect's latency is recorded; a failed connect counts as lost (and is not returned).
    """
    clients: list[Client] = []
    latencies: list[float] = []
    failures: list[BaseException] = []
    counter = itertools.count()

    def worker() -> None:
        pool = HttpPool()
        try:
            while next(counter) < count:
                started = _now()
                try:
                    clients.append(connect(pool))
                except (OSError, ServerError, ConnectionClosed, TimeoutError) as error:
                    failures.append(error)
                    pool.close()
                    continue
                latencies.append(_now() - started)
        finally:
            pool.close()

    started = _now()
    workers = [gevent.spawn(worker) for _ in range(min(concurrency, max(count, 1)))]
    finished = gevent.joinall(workers, timeout=timeout)
    if len(finished) != len(workers):
        gevent.killall(workers)
    elapsed = _now() - started
    measurement = Measurement(len(clients) / elapsed if elapsed else 0.0, "connections/s", sent=count,
                              received=len(clients), lost=count - len(clients), latencies=latencies)
    if failures:
        measurement.error = repr(failures[0])
    return clients, measurement


def close_all(clients: Iterable[Client], concurrency: int = 64) -> None:
    """Close every client (bounded: each close waits at most its close timeout)."""
    pending = list(clients)

    def worker() -> None:
        while pending:
            client = pending.pop()
            try:
                client.close()
            except (OSError, ValueError):
                pass

    gevent.joinall([gevent.spawn(worker) for _ in range(concurrency)], timeout=60)


class KeepAlive:
    """Pings every client every ``interval`` seconds while a scenario holds them idle."""

    def __init__(self, clients: list[Client], interval: float = 10.0) -> None:
        self.clients = clients
        self._greenlet = gevent.spawn(self._run, interval)

    def _run(self, interval: float) -> None:
        while True:
            gevent.sleep(interval)
            for index, client in enumerate(list(self.clients)):
                client.keepalive()
                if index % 500 == 499:
                    gevent.sleep(0)

    def stop(self) -> None:
        self._greenlet.kill(block=False)


# -- workloads --------------------------------------------------------------------------------------


def echo(clients: Sequence[Client], size: int, seconds: float, warmup: float = 0.3,
         read_timeout: float = 10.0) -> Measurement:
    """Closed-loop round trips: each client invokes ``echo(seq, payload)`` and waits for its answer.

    Every answer must carry the sequence number just sent and the whole payload; anything else, or
    no answer within ``read_timeout``, counts as lost.
    """
    payload = payload_of(size)
    counts = [0] * len(clients)
    lost = [0] * len(clients)
    latencies: list[float] = []
    started = _now()
    measure_from = started + warmup
    stop_at = measure_from + seconds

    def drive(index: int) -> None:
        client = clients[index]
        seq = 0
        while True:
            seq += 1
            sent = _now()
            client.send("echo", [seq, payload], str(seq))
            got = None
            while got is None:
                try:
                    for reply_seq, reply in client.read(read_timeout):
                        if reply_seq == seq and len(reply) == size:
                            got = reply_seq
                        else:
                            lost[index] += 1
                except (TimeoutError, ConnectionClosed, ServerError):
                    lost[index] += 1
                    return
            now = _now()
            if now >= stop_at:
                return
            if now >= measure_from:
                counts[index] += 1
                latencies.append(now - sent)

    greenlets = [gevent.spawn(drive, i) for i in range(len(clients))]
    gevent.joinall(greenlets, timeout=warmup + seconds + read_timeout + 5)
    gevent.killall(greenlets)
    total = sum(counts)
    return Measurement(total / seconds, "round trips/s", sent=total, received=total, lost=sum(lost),
                       latencies=latencies)


@dataclass
class _Route:
    """One sender: the call it makes and how many clients each of its messages must reach."""

    client: Client
    target: str
    prefix: list[Any]
    fanout: int


def fanout(routes: Sequence[tuple[Client, str, list[Any], int]], receivers: Sequence[Client], size: int,
           seconds: float, warmup: float = 0.3, window: int = 4, drain_timeout: float = 15.0) -> Measurement:
    """Each route's client sends ``target(*prefix, seq, payload)`` with up to ``window`` messages in
    flight (a message is done when all ``fanout`` recipients have it); every receiver reads.

    The rate is deliveries per second within the measured window. After sending stops, the run
    waits (bounded) for every message to arrive: deliveries still missing count as lost, and so do
    unknown or duplicated ones.
    """
    routes_ = [_Route(*route) for route in routes]
    senders = len(routes_)
    payload = payload_of(size)
    remaining: dict[int, int] = {}
    sent_at: dict[int, float] = {}
    windows = [Semaphore(window) for _ in routes_]
    state = {"delivered": 0, "measuring": False, "unexpected": 0, "sent": 0}
    latencies: list[float] = []
    drained = gevent.event.Event()
    stopping = [False]

    def receive(client: Client) -> None:
        while True:
            try:
                messages = client.read()
            except (ConnectionClosed, ServerError):
                state["unexpected"] += 1
                return
            now = _now()
            for seq, body in messages:
                left = remaining.get(seq)
                if left is None or left <= 0 or len(body) != size:
                    state["unexpected"] += 1
                    continue
                if state["measuring"]:
                    state["delivered"] += 1
                    latencies.append(now - sent_at[seq])
                left -= 1
                remaining[seq] = left
                if not left:
                    del remaining[seq]
                    windows[seq % senders].release()
                    if stopping[0] and not remaining:
                        drained.set()

    def send(index: int) -> None:
        route = routes_[index]
        gate = windows[index]
        for k in itertools.count():
            gate.acquire()
            if stopping[0]:
                return
            seq = k * senders + index
            remaining[seq] = route.fanout
            sent_at[seq] = _now()
            state["sent"] += 1
            route.client.send(route.target, [*route.prefix, seq, payload])

    readers = [gevent.spawn(receive, client) for client in receivers]
    writers = [gevent.spawn(send, i) for i in range(senders)]
    gevent.sleep(warmup)
    state["measuring"] = True
    began = _now()
    gevent.sleep(seconds)
    state["measuring"] = False
    elapsed = _now() - began
    delivered = state["delivered"]
    stopping[0] = True
    for gate in windows:
        gate.release()
    gevent.joinall(writers, timeout=5)
    if remaining:
        drained.wait(drain_timeout)
    gevent.killall(writers + readers)
    lost = sum(remaining.values()) + state["unexpected"]
    expected = sum(route.fanout for route in routes_)  # per round of sends
    return Measurement(delivered / elapsed, "deliveries/s", sent=state["sent"],
                       received=delivered, lost=lost, latencies=latencies,
                       extra={"fanout": expected / max(senders, 1)})


def http_rate(host: str, port: int, target: str, concurrency: int, seconds: float, warmup: float = 0.3,
              expect: bytes = b"") -> Measurement:
    """Requests per second of ``POST target`` over ``concurrency`` keep-alive connections; a status other
    than 200, or a body without ``expect``, counts as lost."""
    counts = [0] * concurrency
    lost = [0] * concurrency
    latencies: list[float] = []
    started = _now()
    measure_from = started + warmup
    stop_at = measure_from + seconds

    def drive(index: int) -> None:
        connection = HttpConnection(host, port)
        try:
            while True:
                sent = _now()
                try:
                    status, _, body = connection.request("POST", target)
                except (OSError, ConnectionError):
                    lost[index] += 1
                    connection.close()
                    continue
                now = _now()
                if status != 200 or expect not in body:
                    lost[index] += 1
                elif now >= measure_from:
                    counts[index] += 1
                    latencies.append(now - sent)
                if now >= stop_at:
                    return
        finally:
            connection.close()

    greenlets = [gevent.spawn(drive, i) for i in range(concurrency)]
    gevent.joinall(greenlets, timeout=warmup + seconds + 30)
    gevent.killall(greenlets)
    total = sum(counts)
    return Measurement(total / seconds, "requests/s", sent=total + sum(lost), received=total, lost=sum(lost),
                       latencies=latencies)


def call(client: Client, target: str, args: list[Any], timeout: float = 30.0) -> None:
    """Invoke a void hub method and wait for its Completion (used to join groups before a run)."""
    client.send(target, args, "call")
    deadline = _now() + timeout
    while True:
        if any(seq is None for seq, _ in client.read(max(deadline - _now(), 0.001))):
            return


def reach(sender: Client, target: str, prefix: list[Any], receivers: Sequence[Client], size: int = 64,
          timeout: float = 60.0) -> Measurement:
    """Send one message and wait (bounded) until every receiver has it; missing ones count as lost.

    The rate is deliveries per second from the send to the last arrival; used to show that every
    client of a large idle population is still connected and reachable.
    """
    payload = payload_of(size)
    seq = 1
    arrived: list[float] = []
    done = gevent.event.Event()
    problems = [0]

    def receive(client: Client) -> None:
        while True:
            try:
                messages = client.read()
            except (ConnectionClosed, ServerError):
                problems[0] += 1
                return
            for got, body in messages:
                if got == seq and len(body) == size:
                    arrived.append(_now())
                    if len(arrived) == len(receivers):
                        done.set()
                    return
                problems[0] += 1

    readers = [gevent.spawn(receive, client) for client in receivers]
    started = _now()
    sender.send(target, [*prefix, seq, payload])
    done.wait(timeout)
    gevent.killall(readers)
    elapsed = (max(arrived) - started) if arrived else 0.0
    return Measurement(len(arrived) / elapsed if elapsed else 0.0, "deliveries/s", sent=1,
                       received=len(arrived), lost=len(receivers) - len(arrived) + problems[0],
                       latencies=[t - started for t in arrived])
