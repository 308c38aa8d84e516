"""Flask-SocketIO on gevent (gevent-websocket, as ``socketio.run`` picks it): echo and broadcast.

``echo`` emits the event's data back to the sender; ``broadcast`` emits it as ``receive`` to every
connected client, the sender included. Events carry ``[seq, payload]``. The ping interval is raised
to 60 s so that clients a scenario holds idle between runs are not timed out.

::

    python -m bench.baselines.socketio_server
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import sys  # noqa: E402
from typing import Any  # noqa: E402

import gevent  # noqa: E402
from flask import Flask  # noqa: E402
from flask_socketio import SocketIO, emit  # noqa: E402
from gevent.pywsgi import WSGIServer  # noqa: E402
from geventwebsocket.handler import WebSocketHandler  # noqa: E402

from bench.listener import listener  # noqa: E402


def create_app() -> Flask:
    app = Flask(__name__)
    socketio = SocketIO(app, async_mode="gevent", ping_interval=60, ping_timeout=60, logger=False,
                        engineio_logger=False)

    @socketio.on("echo")
    def on_echo(data: Any) -> None:
        emit("echo", data)

    @socketio.on("broadcast")
    def on_broadcast(data: Any) -> None:
        emit("receive", data, broadcast=True)

    return app


def main() -> int:
    server = WSGIServer(listener(), create_app(), handler_class=WebSocketHandler, log=None)
    server.start()
    print(f"port={server.server_port}", flush=True)
    gevent.get_hub().threadpool.spawn(sys.stdin.read).get()
    server.stop(timeout=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
