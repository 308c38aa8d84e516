"""The test app server: a Flask app with the negotiate blueprint and a HubServer running ``Chat``.

``python -m tests.runtime.apps.serve --mode patched|thread`` (connection string and options in the
environment, see ``tests/fixtures/app_server.py``). ``patched`` is the ``gunicorn -k gevent`` model
(monkey-patched, gevent WSGIServer, runtime on the main hub); ``thread`` is the ``flask run`` model
(Werkzeug threads, runtime on its own thread). Prints ``ready <port>`` once a server connection is
up. SIGTERM or ``POST /shutdown`` stops the runtime gracefully, then the process exits (``patched``
handles SIGTERM itself like gunicorn; ``thread`` relies on HubServer's handler and ``atexit``).

Control routes for the tests: ``/status``, ``/events``, ``POST /send`` (HubContext sends from a
view), ``POST /invoke`` (client result from a view), ``POST /groups`` (membership from a view).
Negotiating with ``?user=<id>`` makes ``<id>`` the client's user id.
"""

from __future__ import annotations

import argparse
import os
import sys


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=("patched", "thread"), default="patched")
    mode = parser.parse_args().mode
    if mode == "patched":
        from gevent import monkey

        monkey.patch_all()
    run(mode)


def build():  # type: ignore[no-untyped-def]
    import json

    from flask import Flask, jsonify, request

    from flask_azure_signalr.exceptions import SignalRError
    from flask_azure_signalr.extension import FlaskAzureSignalR
    from flask_azure_signalr.runtime import HubServer

    from .hubs import EVENTS, Chat

    app = Flask(__name__)
    signalr = FlaskAzureSignalR()
    signalr.register_hub(Chat, "chat")
    options = json.loads(os.environ.get("TEST_SIGNALR_OPTIONS", "{}"))

    def claims(request):  # type: ignore[no-untyped-def]
        user = request.args.get("user")
        return [("nameid", user), ("role", "tester")] if user else []

    signalr.init_app(
        app, connection_string=os.environ["TEST_SIGNALR_CONNECTION_STRING"], claims_provider=claims, **options
    )
    state = signalr.get_state(app)
    timing = json.loads(os.environ.get("TEST_HUB_SERVER_TIMING", "{}"))
    server = HubServer(state.options, signalr.hubs, server_id=state.server_id, endpoints=state.endpoints, **timing)
    signalr.set_status_provider(app, server)
    context = lambda: server.hub_context("chat")  # noqa: E731

    @app.get("/status")
    def status():  # type: ignore[no-untyped-def]
        return jsonify(server.status())

    @app.get("/events")
    def events():  # type: ignore[no-untyped-def]
        return jsonify(EVENTS)

    @app.post("/send")
    def send():  # type: ignore[no-untyped-def]
        body = request.get_json()
        clients = context().clients
        target = body["target"]
        value = body.get("value")
        proxy = getattr(clients, target) if value is None else getattr(clients, target)(*value)
        try:
            proxy.send(body["method"], *body.get("args", []))
        except SignalRError as error:
            return jsonify(error=str(error)), 503
        return jsonify(ok=True)

    @app.post("/invoke")
    def invoke():  # type: ignore[no-untyped-def]
        body = request.get_json()
        try:
            result = (
                context()
                .clients.client(body["connection_id"])
                .invoke(body["method"], *body.get("args", []), timeout=body.get("timeout", 5))
            )
        except SignalRError as error:
            return jsonify(error=str(error), type=type(error).__name__)
        return jsonify(result=result)

    @app.post("/shutdown")
    def shutdown():  # type: ignore[no-untyped-def]
        app.config["TEST_SHUTDOWN"]()
        return jsonify(ok=True)

    @app.post("/groups")
    def groups():  # type: ignore[no-untyped-def]
        body = request.get_json()
        manager = context().groups
        try:
            getattr(manager, body["action"])(*body["args"])
        except SignalRError as error:
            return jsonify(error=str(error), type=type(error).__name__)
        return jsonify(ok=True)

    return app, server


def run(mode: str) -> None:
    import signal
    import threading
    import time

    app, server = build()
    stopped = threading.Event()

    def shutdown() -> None:
        server.stop(graceful=True)
        stopped.set()

    if mode == "patched":
        import gevent
        from gevent.pywsgi import WSGIServer

        http = WSGIServer(("127.0.0.1", 0), app, log=None)
        http.start()
        port = http.server_port
        app.config["TEST_SHUTDOWN"] = lambda: gevent.spawn(shutdown)
        # Like gunicorn: the server's own SIGTERM handler exists before the app starts its runtime.
        gevent.signal_handler(signal.SIGTERM, app.config["TEST_SHUTDOWN"])
    else:
        import logging

        from werkzeug.serving import make_server

        logging.getLogger("werkzeug").setLevel(logging.WARNING)

        http = make_server("127.0.0.1", 0, app, threaded=True)
        port = http.server_port
        threading.Thread(target=http.serve_forever, daemon=True).start()
        app.config["TEST_SHUTDOWN"] = lambda: threading.Thread(target=shutdown).start()
        # SIGTERM: HubServer's own handler (a normal exit, then its atexit stop), as under flask run.
    server.start()
    deadline = time.monotonic() + 20
    while not server.is_connected("chat"):
        if time.monotonic() > deadline:
            print("not connected", flush=True)
            sys.exit(1)
        time.sleep(0.02)
    print(f"ready {port} {server.server_id}", flush=True)
    # Poll like serve_forever does: a signal the OS hands to another thread only runs its Python
    # handler once the main thread wakes up.
    while not stopped.wait(0.2):
        pass
    sys.exit(0)


if __name__ == "__main__":
    main()
