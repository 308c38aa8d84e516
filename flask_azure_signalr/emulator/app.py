"""The emulator's WSGI application: which request goes where, and the HTTP status rules.

Paths (service-protocol §4.1, auth-negotiate-options §3.1):

- ``/server/?hub=`` — app-server WebSocket (server token) → :mod:`.server_connections`;
- ``/client/negotiate?hub=`` — negotiate (client token) → :mod:`.negotiate`;
- ``/client/?hub=`` — the client transports, with the .NET status codes of hub-protocol §1.9;
- ``/aspnetserver/`` and ``/aspnetclient/*`` — classic ASP.NET SignalR apps and clients, see
  :mod:`.classic_app`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from typing import Any

from ..websocket import accept, is_websocket_request
from .auth import TokenError, VerifiedToken, bearer_token, verify_token
from .classic_app import ClassicEndpoints
from .client_connections import ClientConnection
from .context import EmulatorContext
from .http import BodyTooLarge, Request, StartResponse, json_response, respond
from .long_polling_transport import POLL_HEADERS, LongPollingClient
from .negotiate import negotiate
from .server_connections import serve_server_connection
from .sse_transport import SSE_HEADERS, ServerSentEventsClient
from .websocket_transport import WebSocketClient

__all__ = ["HUB_NAME_PATTERN", "EmulatorApp"]

log = logging.getLogger("flask_azure_signalr.emulator.app")

#: Hub (and application) names the service accepts (auth-negotiate-options §5).
HUB_NAME_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_`,.\[\]]{0,127}")

Handler = Callable[[Request, StartResponse], Iterable[bytes]]

_NO_CONNECTION = "No Connection with that ID"
_ID_REQUIRED = "Connection ID required"
_CHANGE_TRANSPORT = "Cannot change transports mid-connection"


class EmulatorApp:
    """WSGI entry point. ``routes`` maps a path (without trailing slash) to its handler."""

    def __init__(self, context: EmulatorContext) -> None:
        self.context = context
        self.routes: dict[str, Handler] = {
            "/server": self._server,
            "/client/negotiate": self._negotiate,
            "/client": self._client,
        }
        classic = ClassicEndpoints(context, is_valid_pool=lambda name: bool(HUB_NAME_PATTERN.fullmatch(name)))
        self.routes.update(classic.routes())

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        request = Request.from_environ(environ)
        handler = self.routes.get(request.path.rstrip("/") or "/")
        if handler is None:
            return respond(start_response, 404, "Not Found")
        if request.method == "OPTIONS" and "origin" in request.headers:
            return respond(start_response, 204, headers=_preflight_headers(request))
        return handler(request, _with_cors(request, start_response))

    # ----------------------------------------------------------------------------- helpers

    def _hub(self, request: Request) -> str | None:
        hub = request.arg("hub")
        if hub is None or not HUB_NAME_PATTERN.fullmatch(hub):
            return None
        return hub.lower()

    def _verify(self, request: Request, kind: str, hub: str) -> VerifiedToken:
        token = bearer_token(request.headers, request.query)
        return verify_token(
            token, self.context.access_key, kind=kind, hub=hub, hosts=(request.host, self.context.host)
        )

    # ----------------------------------------------------------------------------- /server/

    def _server(self, request: Request, start_response: StartResponse) -> Iterable[bytes]:
        hub = self._hub(request)
        if hub is None:
            return respond(start_response, 400, _HUB_ERROR)
        try:
            token = self._verify(request, "server", hub)
        except TokenError as error:
            log.info("server connection refused for hub %s: %s", hub, error)
            return respond(start_response, 401, str(error))
        if not is_websocket_request(request.environ):
            return respond(start_response, 400, "A WebSocket upgrade request is required.")
        server_id = token.get("nameid") or request.headers.get("x-asrs-server-id") or f"server-{request.arg('cid')}"
        ws = accept(request.environ, max_message_size=self.context.options.max_websocket_message)
        serve_server_connection(ws, request, self.context, hub=hub, server_id=server_id)
        return []

    # ----------------------------------------------------------------------------- /client/negotiate

    def _negotiate(self, request: Request, start_response: StartResponse) -> Iterable[bytes]:
        if request.method != "POST":
            return respond(start_response, 405)
        hub = self._hub(request)
        if hub is None:
            return respond(start_response, 400, _HUB_ERROR)
        try:
            token = self._verify(request, "client", hub)
        except TokenError as error:
            return respond(start_response, 401, str(error))
        return json_response(start_response, negotiate(self.context, hub, token, request.arg("negotiateVersion")))

    # ----------------------------------------------------------------------------- /client/

    def _client(self, request: Request, start_response: StartResponse) -> Iterable[bytes]:
        if request.method not in ("GET", "POST", "DELETE"):
            return respond(start_response, 405)
        hub = self._hub(request)
        if hub is None:
            return respond(start_response, 400, _HUB_ERROR)
        try:
            token = self._verify(request, "client", hub)
        except TokenError as error:
            return respond(start_response, 401, str(error))
        key = request.arg("id")
        if request.method == "GET" and is_websocket_request(request.environ):
            return self._websocket(request, start_response, hub, token, key)
        if not key:
            return respond(start_response, 400, _ID_REQUIRED)
        connection = self.context.registry.find(key)
        if connection is None or connection.hub != hub:
            return respond(start_response, 404, _NO_CONNECTION)
        if request.method == "POST":
            return self._post(request, start_response, connection)
        if request.method == "DELETE":
            if not isinstance(connection.transport, LongPollingClient):
                return respond(start_response, 400, "Cannot terminate this connection using the DELETE endpoint.")
            connection.transport.delete()
            return respond(start_response, 202)
        if "text/event-stream" in request.headers.get("accept", ""):
            return self._sse(request, start_response, connection)
        return self._poll(request, start_response, connection)

    def _websocket(
        self, request: Request, start_response: StartResponse, hub: str, token: VerifiedToken, key: str | None
    ) -> Iterable[bytes]:
        if key:
            connection = self.context.registry.find(key)
            if connection is None or connection.hub != hub:
                return respond(start_response, 404, _NO_CONNECTION)
            if connection.transport is not None:
                conflict = isinstance(connection.transport, WebSocketClient)
                return respond(start_response, 409 if conflict else 400, "" if conflict else _CHANGE_TRANSPORT)
        else:
            connection = ClientConnection(hub, token, None)
        if not connection.allows(WebSocketClient.KIND):
            return respond(start_response, 404, _not_supported(WebSocketClient.KIND))
        ws = accept(request.environ, max_message_size=self.context.options.max_websocket_message)
        WebSocketClient(connection, self.context, request, ws).run()
        return []

    def _sse(self, request: Request, start_response: StartResponse, connection: ClientConnection) -> Iterable[bytes]:
        if connection.transport is not None:
            conflict = isinstance(connection.transport, ServerSentEventsClient)
            return respond(start_response, 409 if conflict else 400, "" if conflict else _CHANGE_TRANSPORT)
        if not connection.allows(ServerSentEventsClient.KIND):
            return respond(start_response, 404, _not_supported(ServerSentEventsClient.KIND))
        client = ServerSentEventsClient(connection, self.context, request)
        start_response("200 OK", list(SSE_HEADERS))
        return client.stream()

    def _poll(self, request: Request, start_response: StartResponse, connection: ClientConnection) -> Iterable[bytes]:
        transport = connection.transport
        if transport is None:
            if not connection.allows(LongPollingClient.KIND):
                return respond(start_response, 404, _not_supported(LongPollingClient.KIND))
            transport = LongPollingClient(connection, self.context, request)
        elif not isinstance(transport, LongPollingClient):
            return respond(start_response, 400, _CHANGE_TRANSPORT)
        status, body = transport.poll()
        return respond(start_response, status, body, content_type="application/octet-stream", headers=POLL_HEADERS)

    def _post(self, request: Request, start_response: StartResponse, connection: ClientConnection) -> Iterable[bytes]:
        transport = connection.transport
        if isinstance(transport, WebSocketClient):
            return respond(start_response, 405, "POST requests are not allowed for WebSocket connections.")
        try:
            body = request.read_body(self.context.options.max_http_body)
        except BodyTooLarge:
            return respond(start_response, 413, f"The message is larger than {self.context.options.max_http_body} bytes.")
        except (OSError, ValueError):
            return respond(start_response, 400, "Failed to read the request body.")
        if transport is None or transport.finished:
            return respond(start_response, 404, _NO_CONNECTION)
        transport.receive(body)
        return respond(start_response, 200)


_HUB_ERROR = "The 'hub' query parameter is missing or is not a valid hub name."


def _not_supported(kind: str) -> str:
    return f"{kind} transport not supported by this end point type"


def _preflight_headers(request: Request) -> list[tuple[str, str]]:
    """CORS preflight: any origin, with credentials, as Microsoft's emulator allows (rest-api §3.3)."""
    headers = [
        ("Access-Control-Allow-Origin", request.headers["origin"]),
        ("Access-Control-Allow-Credentials", "true"),
        ("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS"),
        ("Vary", "Origin"),
    ]
    requested = request.headers.get("access-control-request-headers")
    if requested:
        headers.append(("Access-Control-Allow-Headers", requested))
    return headers


def _with_cors(request: Request, start_response: StartResponse) -> StartResponse:
    origin = request.headers.get("origin")
    if not origin:
        return start_response

    def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        extra = [("Access-Control-Allow-Origin", origin), ("Access-Control-Allow-Credentials", "true"), ("Vary", "Origin")]
        return start_response(status, headers + extra, exc_info)

    return start
