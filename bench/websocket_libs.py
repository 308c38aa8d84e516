"""Which WebSocket implementation to put under gevent: echo round trips per second, server side.

Each candidate runs as the same gevent ``pywsgi`` echo server in its own (monkey-patched) process:
``flask_azure_signalr.websocket`` (wsproto over gevent sockets), gevent-websocket, and simple-websocket
(wsproto plus a thread and an event per connection; ``receive_bytes`` raised to our 64 KiB). One
client process drives every server with the same load: ``--connections`` greenlets, each sending a
pre-masked binary frame and waiting for the whole echo, so the client's own cost is small and equal
for all. Runs are interleaved across servers and the median of ``--repeats`` is printed as Markdown::

    python -m bench.websocket_libs [--seconds 2] [--repeats 5] [--connections 8]
"""

from __future__ import annotations

import argparse
import base64
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

LIBRARIES = ("flask_azure_signalr.websocket", "gevent-websocket", "simple-websocket")
SIZES = (64, 64 * 1024)


def _our_app() -> tuple[Callable[..., Any], Any]:
    from flask_azure_signalr import websocket

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        ws = websocket.accept(environ)
        while (message := ws.receive()) is not None:
            ws.send(message)
        return []

    return app, websocket.WebSocketHandler


def _gevent_websocket_app() -> tuple[Callable[..., Any], Any]:
    from geventwebsocket.handler import WebSocketHandler

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        ws = environ["wsgi.websocket"]
        while (message := ws.receive()) is not None:
            ws.send(message)
        return []

    return app, WebSocketHandler


def _simple_websocket_app() -> tuple[Callable[..., Any], Any]:
    import simple_websocket
    from gevent.pywsgi import WSGIHandler

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        ws = simple_websocket.Server.accept(environ, receive_bytes=65536)
        try:
            while True:
                ws.send(ws.receive())
        except simple_websocket.ConnectionClosed:
            pass
        return []

    return app, WSGIHandler


def serve(library: str) -> None:
    """Run one candidate's echo server on an ephemeral port; print the port, serve until stdin closes."""
    from gevent import monkey

    monkey.patch_all()
    import gevent
    from gevent.pywsgi import WSGIServer

    factories = {
        LIBRARIES[0]: _our_app,
        LIBRARIES[1]: _gevent_websocket_app,
        LIBRARIES[2]: _simple_websocket_app,
    }
    app, handler_class = factories[library]()
    server = WSGIServer(("127.0.0.1", 0), app, handler_class=handler_class, log=None, error_log=None)
    server.start()
    print(server.server_port, flush=True)
    gevent.get_hub().threadpool.spawn(sys.stdin.read).get()
    server.stop(timeout=1)


def _open(port: int) -> Any:
    """A bare client socket after a minimal upgrade; the benchmark then speaks raw frames on it."""
    from gevent import socket

    sock = socket.create_connection(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16))
    sock.sendall(
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    response = b""
    while b"\r\n\r\n" not in response:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("server closed during the upgrade")
        response += chunk
    if not response.startswith(b"HTTP/1.1 101"):
        raise ConnectionError(response.split(b"\r\n", 1)[0].decode("latin-1"))
    return sock


def measure(port: int, size: int, seconds: float, connections: int) -> float:
    """Echo round trips per second over ``connections`` concurrent connections."""
    import gevent
    from wsproto.frame_protocol import FrameProtocol

    payload = os.urandom(size)
    frame = bytes(FrameProtocol(client=True, extensions=[]).send_data(payload))
    expected = len(FrameProtocol(client=False, extensions=[]).send_data(payload))
    counts = [0] * connections
    socks = [_open(port) for _ in range(connections)]
    started = time.perf_counter()
    warm_until = started + min(0.5, seconds / 4)
    stop_at = warm_until + seconds

    def drive(index: int) -> None:
        sock = socks[index]
        buffer = bytearray(expected)
        view = memoryview(buffer)
        while True:
            sock.sendall(frame)
            got = 0
            while got < expected:
                n = sock.recv_into(view[got:])
                if not n:
                    raise ConnectionError("server closed the connection")
                got += n
            now = time.perf_counter()
            if now >= stop_at:
                return
            if now >= warm_until:
                counts[index] += 1

    try:
        gevent.joinall([gevent.spawn(drive, i) for i in range(connections)], raise_error=True)
    finally:
        for sock in socks:
            sock.close()
    return sum(counts) / seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=2.0, help="measured time per run (default 2)")
    parser.add_argument("--repeats", type=int, default=5, help="runs per library and size (default 5)")
    parser.add_argument("--connections", type=int, default=8, help="concurrent connections (default 8)")
    parser.add_argument("--serve", choices=LIBRARIES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve)
        return

    servers: dict[str, tuple[subprocess.Popen[str], int]] = {}
    try:
        for library in LIBRARIES:
            process = subprocess.Popen(
                [sys.executable, "-m", "bench.websocket_libs", "--serve", library],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            assert process.stdout is not None
            servers[library] = (process, int(process.stdout.readline()))
        results: dict[tuple[str, int], list[float]] = {}
        for _ in range(args.repeats):
            for size in SIZES:
                for library, (_, port) in servers.items():
                    rate = measure(port, size, args.seconds, args.connections)
                    results.setdefault((library, size), []).append(rate)
    finally:
        for process, _ in servers.values():
            process.communicate(timeout=10)

    print(f"Echo round trips/s, median of {args.repeats} x {args.seconds:g} s, {args.connections} connections\n")
    print("| payload | " + " | ".join(LIBRARIES) + " |")
    print("|---|" + "---:|" * len(LIBRARIES))
    for size in SIZES:
        label = f"{size} B" if size < 1024 else f"{size // 1024} KiB"
        cells = [f"{statistics.median(results[(library, size)]):,.0f}" for library in LIBRARIES]
        print(f"| {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
