"""The app server the benchmarks drive: a Flask app with one hub, attached to a (local) service.

``python -m bench.app_server --connection-string "Endpoint=...;"`` monkey-patches, builds the app,
serves negotiate on a free port with gevent's ``WSGIServer`` and starts the hub runtime
(``signalr.start(app)``, as a process that must take clients before its first request does). When the
hub has a live server connection it prints ``port=<n>`` on stdout; it then serves until stdin
closes (the parent's way to stop it without signals). The hub's methods are the scenarios' needs:
echo, broadcast, group join and send, send to one connection.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

import gevent  # noqa: E402
from flask import Flask, Response  # noqa: E402
from gevent.pywsgi import WSGIServer  # noqa: E402

from bench.baselines import flask_json  # noqa: E402
from bench.listener import listener  # noqa: E402
from flask_azure_signalr.extension import FlaskAzureSignalR  # noqa: E402
from flask_azure_signalr.hub import Hub, hub_method  # noqa: E402

HUB_NAME = "bench"
HUB_PATH = "/bench"
#: Client method every fan-out send invokes: ``receive(seq, payload)``.
RECEIVE = "receive"


class BenchHub(Hub):
    """The benchmark hub; arguments always start with the sender's sequence number."""

    def echo(self, seq: int, payload: Any) -> list[Any]:
        """Round trip: the Completion carries both back."""
        return [seq, payload]

    def broadcast(self, seq: int, payload: Any) -> None:
        self.clients.all.send(RECEIVE, seq, payload)

    def join(self, group: str) -> None:
        self.groups.add_to_group(self.context.connection_id, group)

    @hub_method("SendToGroup")
    def send_to_group(self, group: str, seq: int, payload: Any) -> None:
        self.clients.group(group).send(RECEIVE, seq, payload)

    @hub_method("SendTo")
    def send_to(self, connection_id: str, seq: int, payload: Any) -> None:
        self.clients.client(connection_id).send(RECEIVE, seq, payload)


def bare_negotiate() -> Response:
    """The bare JSON route of ``bench.baselines.flask_json``, in this process: it tells the cost of
    negotiate itself apart from the cost of sharing the process with the hub runtime."""
    return flask_json.negotiate()


def create_app(connection_string: str, connection_count: int) -> tuple[Flask, FlaskAzureSignalR]:
    app = Flask(__name__)
    signalr = FlaskAzureSignalR()
    signalr.register_hub(BenchHub, HUB_NAME, path=HUB_PATH)
    signalr.init_app(
        app, connection_string=connection_string, initial_hub_server_connection_count=connection_count
    )
    app.add_url_rule("/bare/negotiate", "bare_negotiate", bare_negotiate, methods=["POST"])
    return app, signalr


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.app_server")
    parser.add_argument("--connection-string", required=True)
    parser.add_argument("--server-connections", type=int, default=5, help="hub server connections (default 5)")
    parser.add_argument("--ready-timeout", type=float, default=30.0)
    args = parser.parse_args(argv)

    app, signalr = create_app(args.connection_string, args.server_connections)
    server = WSGIServer(listener(), app, log=None)
    server.start()
    runtime = signalr.start(app)
    deadline = time.monotonic() + args.ready_timeout
    while not runtime.is_connected(HUB_NAME):
        if time.monotonic() > deadline:
            print("error=hub not connected", flush=True)
            return 1
        gevent.sleep(0.05)
    print(f"port={server.server_port}", flush=True)
    gevent.get_hub().threadpool.spawn(sys.stdin.read).get()
    server.stop(timeout=1)
    signalr.shutdown(app)
    return 0


if __name__ == "__main__":
    sys.exit(main())
