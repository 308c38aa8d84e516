"""The emulator against the raw gevent WebSocket baseline, measured in the same run.

Two workloads, each run against ``bench.raw_ws`` (the baseline: echo and fan-out with nothing of
SignalR) and against the emulator with a trivial app server attached:

- **fan-out**: one client's ``broadcast(seq, payload)`` reaches ``--clients`` WebSocket clients
  (deliveries/s). Through the emulator that is one BroadcastData from the app server, fanned out
  by the emulator (one frame encoded per protocol, written to every client).
- **echo**: ``--echo-clients`` clients each invoke ``echo(seq, payload)`` and wait for the answer
  (round trips/s). Through the emulator the call travels client → emulator → app server →
  emulator → client.

The trivial app server (``python -m bench.emulator --app-server CONNECTION_STRING``) is built from
the protocol layer only: it answers the hub handshake, ``echo`` with a Completion and
``broadcast`` with one BroadcastData, and serves a negotiate endpoint that redirects to the
emulator, as an app server does. Each system runs in its own process; the load generator
(``bench.loadgen``) runs here. Output is a Markdown table with the emulator / raw ratio::

    python -m bench.emulator [--clients 1000] [--echo-clients 16] [--seconds 3] [--size 64]
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse
import json
import sys
import uuid
from typing import Any

import gevent
from gevent.pywsgi import WSGIServer

from bench import loadgen
from bench.servers import EmulatorServer, RawServer, ServerProcess
from flask_azure_signalr.endpoints import ServiceEndpoint
from flask_azure_signalr.protocol import service_messages as sm
from flask_azure_signalr.protocol.handshake import answer_handshake
from flask_azure_signalr.protocol.hub import JSON, MESSAGEPACK
from flask_azure_signalr.protocol.hub_messages import (
    CompletionMessage,
    InvocationMessage,
)
from flask_azure_signalr.protocol.service import ServiceProtocolParser, encode
from flask_azure_signalr.tokens import generate_client_token, generate_server_token
from flask_azure_signalr.websocket import WebSocket, connect

HUB = "bench"


# -- the trivial app server ---------------------------------------------------------------------------


class TrivialAppServer:
    """App server with ``connections`` server connections; see the module docstring."""

    def __init__(self, connection_string: str, connections: int = 2) -> None:
        self.endpoint = ServiceEndpoint(connection_string)
        self.server_id = f"bench_{uuid.uuid4().hex}"
        self.connections = connections
        self.clients: dict[str, Any] = {}
        self.client_token = generate_client_token(self.endpoint, HUB, {})

    def start(self) -> int:
        """Connect to the service and serve negotiate; returns the negotiate port."""
        for _ in range(self.connections):
            ws = self._connect()
            gevent.spawn(self._serve, ws)
        server = WSGIServer(("127.0.0.1", 0), self._negotiate, log=None)
        server.start()
        return int(server.server_port)

    def _connect(self) -> WebSocket:
        token = generate_server_token(self.endpoint, HUB, server_id=self.server_id)
        ws = connect(self.endpoint.server_url(HUB, str(uuid.uuid4())), {"Authorization": f"Bearer {token}"})
        ws.send(encode(sm.HandshakeRequest()))
        parser = ServiceProtocolParser()
        while True:
            data = ws.receive(15)
            if data is None:
                raise ConnectionError("no handshake response from the service")
            messages = parser.feed(data)
            if messages:
                if not isinstance(messages[0], sm.HandshakeResponse) or messages[0].error_message:
                    raise ConnectionError(f"handshake refused: {messages[0]}")
                return ws

    def _negotiate(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        body = json.dumps({"url": self.endpoint.client_url(HUB), "accessToken": self.client_token,
                           "availableTransports": []}).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    def _serve(self, ws: WebSocket) -> None:
        parser = ServiceProtocolParser()
        while (data := ws.receive()) is not None:
            for message in parser.feed(data):
                if isinstance(message, sm.ConnectionData):
                    self._client_data(ws, message)
                elif isinstance(message, sm.OpenConnection):
                    self.clients[message.connection_id] = [b"", None, None]
                elif isinstance(message, sm.CloseConnection):
                    self.clients.pop(message.connection_id, None)
                elif isinstance(message, sm.Ping) and not message.messages:
                    ws.send(encode(sm.Ping()))

    def _client_data(self, ws: WebSocket, message: sm.ConnectionData) -> None:
        state = self.clients.get(message.connection_id)
        if state is None:
            return
        data = bytes(message.payload)
        if state[1] is None:
            state[0] += data
            outcome = answer_handshake(state[0])
            if outcome is None:
                return
            ws.send(encode(sm.ConnectionData(connection_id=message.connection_id, payload=outcome.response_bytes)))
            if not outcome.ok:
                return
            state[1], state[2], data = outcome.protocol, outcome.protocol.parser(), outcome.rest
        protocol, hub_parser = state[1], state[2]
        for call in hub_parser.feed(data):
            if not isinstance(call, InvocationMessage):
                continue
            if call.target == "echo" and call.invocation_id is not None:
                reply = protocol.encode(CompletionMessage.with_result(call.invocation_id, list(call.arguments)))
                ws.send(encode(sm.ConnectionData(connection_id=message.connection_id, payload=reply)))
            elif call.target == "broadcast":
                payloads = {"json": JSON.encode_invocation("receive", call.arguments),
                            "messagepack": MESSAGEPACK.encode_invocation("receive", call.arguments)}
                ws.send(encode(sm.BroadcastData(payloads=payloads)))


class TrivialAppServerProcess(ServerProcess):
    module = "bench.emulator"

    def __init__(self, connection_string: str) -> None:
        super().__init__("--app-server", connection_string)

    @property
    def hub_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/{HUB}"


def serve_app(connection_string: str) -> None:
    port = TrivialAppServer(connection_string).start()
    print(f"port={port}", flush=True)
    gevent.get_hub().threadpool.spawn(sys.stdin.read).get()


# -- the measurement ------------------------------------------------------------------------------------


def measure(connect_one: Any, clients: int, echo_clients: int, seconds: float, size: int) -> dict[str, loadgen.Measurement]:
    """Fan-out to ``clients`` connections from one of them, then echo over ``echo_clients``."""
    connected, opened = loadgen.connect_many(connect_one, clients, concurrency=32)
    if opened.lost:
        raise RuntimeError(f"{opened.lost} of {clients} connections failed: {opened.error}")
    try:
        keepalive = loadgen.KeepAlive(connected)
        fanout = loadgen.fanout([(connected[0], "broadcast", [], len(connected))], connected, size, seconds)
        echo = loadgen.echo(connected[1 : 1 + echo_clients], size, seconds)
        keepalive.stop()
    finally:
        loadgen.close_all(connected)
    return {"fan-out": fanout, "echo": echo}


def run(clients: int, echo_clients: int, seconds: float, size: int) -> list[tuple[str, loadgen.Measurement, loadgen.Measurement]]:
    codec = loadgen.CODECS["json"]
    with RawServer() as raw:
        baseline = measure(lambda http: loadgen.RawClient.connect(raw.url, codec), clients, echo_clients, seconds, size)
    with EmulatorServer() as emulator, TrivialAppServerProcess(emulator.connection_string) as app:
        through = measure(lambda http: loadgen.SignalRClient.connect(app.hub_url, codec, http),
                          clients, echo_clients, seconds, size)
    return [(name, baseline[name], through[name]) for name in ("fan-out", "echo")]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=1000, help="fan-out receivers (default 1000)")
    parser.add_argument("--echo-clients", type=int, default=16, help="echo connections (default 16)")
    parser.add_argument("--seconds", type=float, default=3.0, help="measured seconds per workload (default 3)")
    parser.add_argument("--size", type=int, default=64, help="payload bytes (default 64)")
    parser.add_argument("--app-server", metavar="CONNECTION_STRING", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.app_server:
        serve_app(args.app_server)
        return
    rows = run(args.clients, args.echo_clients, args.seconds, args.size)
    print(f"{args.clients} fan-out clients, {args.echo_clients} echo clients, {args.size} B payload, "
          f"{args.seconds:g} s per run, JSON protocol\n")
    print("| workload | raw gevent WebSocket | emulator + trivial app server | ratio | lost (raw / emulator) |")
    print("|---|---:|---:|---:|---:|")
    for name, raw, emulated in rows:
        ratio = emulated.rate / raw.rate if raw.rate else 0.0
        print(f"| {name} ({raw.unit}) | {raw.rate:,.0f} | {emulated.rate:,.0f} | {ratio:.2f} | "
              f"{raw.lost} / {emulated.lost} |")


if __name__ == "__main__":
    main()
