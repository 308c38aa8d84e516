"""The classic service endpoints: ``/aspnetserver/`` for apps, ``/aspnetclient/*`` for jQuery clients.

:meth:`ClassicEndpoints.routes` gives the paths and handlers :class:`~.app.EmulatorApp` adds to
its routing table (CORS and preflights are handled there for every path). Paths (aspnet-classic
§1.3-§1.13, §6):

- ``/aspnetserver/?hub={app}_{hub}`` — WebSocket of a classic app's server connection; the token
  audience is ``{scheme}://{host}/aspnetserver/?hub={app}_{hub}`` (service-protocol §8);
- ``/aspnetclient/negotiate`` — classic negotiate answer (never ``availableTransports``);
- ``/aspnetclient/connect``, ``/reconnect``, ``/poll`` — the transports;
- ``/aspnetclient/start``, ``/send``, ``/abort``, ``/ping``.

Every client request carries the client token (``Authorization: Bearer``, or ``access_token`` for
WebSockets and SSE) with audience ``{scheme}://{host}/aspnetclient``, the application name
``asrs.s.apn`` and the SDK version ``asrs.s.vn``; every request after negotiate names its
connection with the ``connectionToken`` the negotiate answer issued.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from ..exceptions import ClassicProtocolError
from ..protocol.classic import ServerError, encode, init_message, parse_query, parse_send_body
from ..websocket import accept, is_websocket_request
from .auth import TokenError, VerifiedToken, bearer_token, verify_token
from .classic_connections import ClassicConnection, classic_claims_error
from .classic_transports import ClassicLongPolling, ClassicServerSentEvents, ClassicWebSocket
from .client_connections import NO_SERVER_ERROR, user_id_of
from .http import BodyTooLarge, Request, StartResponse, json_response, respond
from .long_polling_transport import POLL_HEADERS
from .server_connections import serve_server_connection
from .sse_transport import SSE_HEADERS

if TYPE_CHECKING:
    from .context import EmulatorContext

__all__ = ["CLIENT_PATH", "SERVER_PATH", "ClassicEndpoints"]

log = logging.getLogger("flask_azure_signalr.emulator.classic_app")

SERVER_PATH = "/aspnetserver"
CLIENT_PATH = "/aspnetclient"

#: What ``/start`` and ``/ping`` answer (§1.6, §1.10).
STARTED = {"Response": "started"}
PONG = {"Response": "pong"}

#: Fixed negotiate fields the jQuery client reads (§1.4).
TRANSPORT_CONNECT_TIMEOUT = 5.0
PROTOCOL_VERSION = "2.0"

_TRANSPORTS = ("webSockets", "serverSentEvents", "longPolling")

Handler = Callable[[Request, StartResponse], Iterable[bytes]]


class _Refused(Exception):
    """A request answered with an HTTP error instead of being served."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.text = text


def _guarded(handler: Handler) -> Handler:
    def serve(request: Request, start_response: StartResponse) -> Iterable[bytes]:
        try:
            return handler(request, start_response)
        except _Refused as refusal:
            return respond(start_response, refusal.status, refusal.text)

    return serve


class ClassicEndpoints:
    """The classic half of the emulator's HTTP surface."""

    def __init__(self, context: EmulatorContext, *, is_valid_pool: Callable[[str], bool]) -> None:
        self.context = context
        self._is_valid_pool = is_valid_pool

    def routes(self) -> dict[str, Handler]:
        handlers = {
            SERVER_PATH: self._server,
            f"{CLIENT_PATH}/negotiate": self._negotiate,
            f"{CLIENT_PATH}/connect": lambda r, s: self._transport(r, s, "connect"),
            f"{CLIENT_PATH}/reconnect": lambda r, s: self._transport(r, s, "reconnect"),
            f"{CLIENT_PATH}/poll": lambda r, s: self._transport(r, s, "poll"),
            f"{CLIENT_PATH}/start": self._start,
            f"{CLIENT_PATH}/send": self._send,
            f"{CLIENT_PATH}/abort": self._abort,
            f"{CLIENT_PATH}/ping": self._ping,
        }
        return {path: _guarded(handler) for path, handler in handlers.items()}

    # ----------------------------------------------------------------------------- checks

    def _client_token(self, request: Request) -> VerifiedToken:
        try:
            token = verify_token(
                bearer_token(request.headers, request.query),
                self.context.access_key,
                kind=CLIENT_PATH[1:],
                hub=None,
                hosts=(request.host, self.context.host),
            )
        except TokenError as error:
            raise _Refused(401, str(error)) from None
        problem = classic_claims_error(token)
        if problem is not None:
            raise _Refused(401, problem)
        return token

    def _connection(self, request: Request, token: VerifiedToken) -> ClassicConnection:
        connection_token = request.arg("connectionToken")
        if not connection_token:
            raise _Refused(400, "Protocol error: Missing connection token.")
        try:
            connection = self.context.classic_connections.find(connection_token)
        except ClassicProtocolError as error:
            raise _Refused(400, str(error)) from None
        if connection is None or connection.closed:
            raise _Refused(404, "The connection does not exist.")
        if connection.user_id != user_id_of(token):
            raise _Refused(
                403, "Unrecognized user identity. The user identity cannot change during an active SignalR connection."
            )
        return connection

    # ----------------------------------------------------------------------------- /aspnetserver/

    def _server(self, request: Request, start_response: StartResponse) -> Iterable[bytes]:
        pool = request.arg("hub")
        if pool is None or not self._is_valid_pool(pool):
            raise _Refused(400, "The 'hub' query parameter is missing or is not a valid hub name.")
        pool = pool.lower()
        try:
            token = verify_token(
                bearer_token(request.headers, request.query),
                self.context.access_key,
                kind=SERVER_PATH[1:],
                hub=pool,
                hosts=(request.host, self.context.host),
            )
        except TokenError as error:
            log.info("classic server connection refused for pool %s: %s", pool, error)
            raise _Refused(401, str(error)) from None
        if not is_websocket_request(request.environ):
            raise _Refused(400, "A WebSocket upgrade request is required.")
        server_id = token.get("nameid") or request.headers.get("x-asrs-server-id") or f"server-{request.arg('cid')}"
        ws = accept(request.environ, max_message_size=self.context.options.max_websocket_message)
        serve_server_connection(
            ws, request, self.context, hub=pool, server_id=server_id, router=self.context.classic_router
        )
        return []

    # ----------------------------------------------------------------------------- /aspnetclient

    def _negotiate(self, request: Request, start_response: StartResponse) -> Iterable[bytes]:
        token = self._client_token(request)
        try:
            hubs = parse_query(request.query_string).hubs
        except ClassicProtocolError as error:
            raise _Refused(400, str(error)) from None
        application = token.get("asrs.s.apn") or ""
        if not self.context.classic_router.has_servers(application):
            raise _Refused(500, NO_SERVER_ERROR)
        connection = self.context.classic_connections.create(self.context, token, hubs)
        options = self.context.options
        return json_response(
            start_response,
            {
                "Url": request.environ.get("SCRIPT_NAME", "") + CLIENT_PATH,
                "ConnectionToken": connection.connection_token,
                "ConnectionId": connection.connection_id,
                "KeepAliveTimeout": 2 * options.classic_keepalive_interval,
                "DisconnectTimeout": options.classic_disconnect_timeout,
                "ConnectionTimeout": options.classic_poll_timeout,
                "TryWebSockets": True,
                "ProtocolVersion": PROTOCOL_VERSION,
                "TransportConnectTimeout": TRANSPORT_CONNECT_TIMEOUT,
                "LongPollDelay": 0.0,
            },
        )

    def _transport(self, request: Request, start_response: StartResponse, action: str) -> Iterable[bytes]:
        token = self._client_token(request)
        connection = self._connection(request, token)
        name = request.arg("transport")
        if name not in _TRANSPORTS:
            raise _Refused(400, "Protocol error: Unknown transport.")
        if name != "longPolling" and action == "poll":
            raise _Refused(400, "Protocol error: Only long polling polls.")
        if connection.record is None and not self.context.classic_router.has_servers(connection.application):
            raise _Refused(500, NO_SERVER_ERROR)
        reconnect = action == "reconnect"
        if name == "webSockets":
            return self._websocket(request, connection, reconnect)
        if name == "serverSentEvents":
            return self._sse(request, start_response, connection, reconnect)
        return self._long_poll(request, start_response, connection, action)

    def _init(self, connection: ClassicConnection, reconnect: bool) -> str | None:
        return None if reconnect else init_message(connection.next_cursor())

    def _websocket(self, request: Request, connection: ClassicConnection, reconnect: bool) -> Iterable[bytes]:
        if not is_websocket_request(request.environ):
            raise _Refused(400, "Not a valid web socket request.")
        ws = accept(request.environ, max_message_size=self.context.options.max_websocket_message)
        transport = ClassicWebSocket(connection, self.context, ws)
        if not connection.attach(transport, request, reconnect=reconnect):
            ws.send(encode(ServerError(NO_SERVER_ERROR)))
            ws.close(1000)
            return []
        transport.run(self._init(connection, reconnect))
        return []

    def _sse(
        self, request: Request, start_response: StartResponse, connection: ClassicConnection, reconnect: bool
    ) -> Iterable[bytes]:
        transport = ClassicServerSentEvents(connection, self.context, request)
        if not connection.attach(transport, request, reconnect=reconnect):
            raise _Refused(500, NO_SERVER_ERROR)
        start_response("200 OK", list(SSE_HEADERS))
        return transport.stream(self._init(connection, reconnect))

    def _long_poll(
        self, request: Request, start_response: StartResponse, connection: ClassicConnection, action: str
    ) -> Iterable[bytes]:
        transport = connection.transport
        if not isinstance(transport, ClassicLongPolling):
            transport = ClassicLongPolling(connection, self.context)
        if connection.transport is not transport or action == "reconnect":
            if not connection.attach(transport, request, reconnect=action == "reconnect"):
                raise _Refused(500, NO_SERVER_ERROR)
        body = transport.connected() if action == "connect" else transport.poll()
        return respond(start_response, 200, body, content_type="application/json; charset=UTF-8", headers=POLL_HEADERS)

    def _start(self, request: Request, start_response: StartResponse) -> Iterable[bytes]:
        connection = self._connection(request, self._client_token(request))
        if connection.record is None:
            raise _Refused(400, "The connection has no transport yet.")
        return json_response(start_response, STARTED)

    def _send(self, request: Request, start_response: StartResponse) -> Iterable[bytes]:
        if request.method != "POST":
            raise _Refused(405, "")
        connection = self._connection(request, self._client_token(request))
        limit = self.context.options.max_http_body
        try:
            body = request.read_body(limit)
        except BodyTooLarge:
            raise _Refused(413, f"The message is larger than {limit} bytes.") from None
        except (OSError, ValueError):
            raise _Refused(400, "Failed to read the request body.") from None
        try:
            data = parse_send_body(body)
        except ClassicProtocolError as error:
            raise _Refused(400, str(error)) from None
        connection.receive(data.encode("utf-8"))
        return respond(start_response, 200)

    def _abort(self, request: Request, start_response: StartResponse) -> Iterable[bytes]:
        connection = self._connection(request, self._client_token(request))
        connection.end()
        return respond(start_response, 200)

    def _ping(self, request: Request, start_response: StartResponse) -> Iterable[bytes]:
        self._client_token(request)
        return json_response(start_response, PONG)
