"""A bare Flask JSON route shaped like negotiate: the baseline for negotiate requests per second.

``POST /bench/negotiate`` answers a fixed body of the same shape and size as the real negotiate
response (URL and a ~300-byte token), built with ``json.dumps`` per request, on the same gevent
``WSGIServer`` as :mod:`bench.app_server`: what is left is Flask's routing and response cost.

::

    python -m bench.baselines.flask_json
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import json  # noqa: E402
import sys  # noqa: E402

import gevent  # noqa: E402
from flask import Flask, Response  # noqa: E402
from gevent.pywsgi import WSGIServer  # noqa: E402

from bench.listener import listener  # noqa: E402

_TOKEN = "e" * 300


def negotiate() -> Response:
    """The view: a negotiate-shaped body, serialized per request."""
    body = {
        "negotiateVersion": 0,
        "url": "http://127.0.0.1:8888/client/?hub=bench&asrs.op=%2Fbench&asrs_request_id=AAAAAAAAAAA%3D",
        "accessToken": _TOKEN,
        "availableTransports": [],
    }
    return Response(json.dumps(body, separators=(",", ":")), content_type="application/json")


def create_app() -> Flask:
    app = Flask(__name__)
    app.add_url_rule("/bench/negotiate", "negotiate", negotiate, methods=["POST"])
    return app


def main() -> int:
    server = WSGIServer(listener(), create_app(), log=None)
    server.start()
    print(f"port={server.server_port}", flush=True)
    gevent.get_hub().threadpool.spawn(sys.stdin.read).get()
    server.stop(timeout=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
