"""The raw gevent WebSocket baseline: echo and fan-out with nothing of SignalR on top.

Later benchmarks compare the SignalR layers (emulator, hub runtime) against this server, so it uses
the same WebSocket layer (``flask_azure_signalr.websocket``) and the same gevent ``pywsgi`` server:

- every message is echoed back to its sender, as text or binary as it came;
- a message ``broadcast:<payload>`` sends ``<payload>`` (same type) to every connected client; the
  frame is encoded once and written to each socket in turn, so a peer that stops reading delays the
  others by at most the send timeout (15 s) before it is dropped.

::

    python -m bench.raw_ws --port 8765 [--host 127.0.0.1]

It prints ``listening on ws://HOST:PORT/`` (the real port when ``--port 0``) and serves until
interrupted or terminated.
"""

from __future__ import annotations

import argparse
import signal
from collections.abc import Callable
from typing import Any

import gevent
from gevent.pywsgi import WSGIServer

from flask_azure_signalr.websocket import (
    WebSocket,
    WebSocketHandler,
    accept,
    is_websocket_request,
)


def make_app() -> Callable[[dict[str, Any], Callable[..., Any]], list[bytes]]:
    """The echo / fan-out WSGI app; serve it with ``handler_class=WebSocketHandler``."""
    clients: set[WebSocket] = set()

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        if not is_websocket_request(environ):
            start_response("400 Bad Request", [("Content-Type", "text/plain")])
            return [b"WebSocket upgrade expected\n"]
        ws = accept(environ)
        clients.add(ws)
        try:
            while (message := ws.receive()) is not None:
                prefix: Any = "broadcast:" if isinstance(message, str) else b"broadcast:"
                if message.startswith(prefix):
                    frame = WebSocket.prepare(message[len(prefix) :])
                    for client in list(clients):
                        client.send_prepared(frame)
                else:
                    ws.send(message)
        finally:
            clients.discard(ws)
        return []

    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Raw gevent WebSocket echo / fan-out baseline server.")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, required=True, help="TCP port; 0 picks a free one")
    args = parser.parse_args(argv)
    server = WSGIServer((args.host, args.port), make_app(), handler_class=WebSocketHandler, log=None)
    server.start()
    gevent.signal_handler(signal.SIGTERM, server.stop)
    print(f"listening on ws://{args.host}:{server.server_port}/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        server.stop(timeout=1)


if __name__ == "__main__":
    main()
