"""A small classic (jQuery-protocol) SignalR client for emulator tests: the three transports.

Plain threads, ``websocket-client`` and ``http.client``; messages are parsed with the package's
classic codec. It follows the jQuery client's request shapes (aspnet-classic §1.2-§1.11) but has
no automatic reconnect: tests call :meth:`ClassicClient.reconnect` themselves.
"""

from __future__ import annotations

import contextlib
import http.client
import itertools
import json
import socket
import threading
import time
from datetime import timedelta
from typing import Any, Self
from urllib.parse import quote, urlencode, urlsplit

import websocket

from flask_azure_signalr.claims import CLASSIC_SDK_VERSION
from flask_azure_signalr.endpoints import ServiceEndpoint
from flask_azure_signalr.protocol.classic import (
    ClientInvocation,
    HubResponse,
    PersistentResponse,
    ServerError,
    encode_connection_data,
    parse_server_message,
)
from flask_azure_signalr.tokens import generate_client_token

__all__ = ["ClassicClient", "classic_token"]


def classic_token(connection_string: str, application: str | None = "App", claims: dict[str, Any] | None = None,
                  *, version: str | None = CLASSIC_SDK_VERSION) -> str:
    """A classic client token: ``asrs.s.apn``/``asrs.s.vn`` first, audience ``{host}/aspnetclient``."""
    service: dict[str, Any] = {}
    if application is not None:
        service["asrs.s.apn"] = application
    if version is not None:
        service["asrs.s.vn"] = version
    return generate_client_token(
        ServiceEndpoint(connection_string), None, {**service, **(claims or {})}, classic=True,
        lifetime=timedelta(hours=1),
    )


class ClassicClient:
    """One classic connection through the emulator at ``endpoint`` (``http://host:port``)."""

    def __init__(self, endpoint: str, token: str, hubs: tuple[str, ...] = ("chat",), *,
                 transport: str = "webSockets", redirect_query: str = "") -> None:
        self.endpoint = endpoint
        #: The query of the app's ``RedirectUrl``; the jQuery client appends it to every request.
        self.redirect_query = redirect_query
        self.token = token
        self.hubs = hubs
        self.transport = transport
        self.connection_token = ""
        self.connection_id = ""
        self.negotiated: dict[str, Any] = {}
        self.messages: list[Any] = []
        self.raw: list[str] = []
        self.closed = threading.Event()
        self._condition = threading.Condition()
        self._ids = itertools.count()
        self._ws: websocket.WebSocket | None = None
        self._stream: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._cursor: str | None = None

    # ------------------------------------------------------------------ requests

    def _query(self, **extra: str) -> str:
        head = urlencode({"transport": self.transport, "clientProtocol": "2.1", **extra}, quote_via=quote)
        tail: dict[str, str] = {}
        if self.connection_token:
            tail["connectionToken"] = self.connection_token
        tail["connectionData"] = encode_connection_data(self.hubs)
        middle = f"&{self.redirect_query}" if self.redirect_query else ""
        return f"{head}{middle}&{urlencode(tail, quote_via=quote)}"

    def request(self, method: str, path: str, query: str = "", body: bytes | None = None,
                headers: dict[str, str] | None = None, timeout: float = 15) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(self.endpoint)
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
        try:
            all_headers = {"Authorization": f"Bearer {self.token}", **(headers or {})}
            if body is not None:
                all_headers.setdefault("Content-Type", "application/x-www-form-urlencoded; charset=UTF-8")
            connection.request(method, f"/aspnetclient/{path}?{query}", body=body, headers=all_headers)
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()

    def negotiate(self) -> dict[str, Any]:
        redirect = f"&{self.redirect_query}" if self.redirect_query else "&"
        data = quote(encode_connection_data(self.hubs))
        status, _, body = self.request("GET", "negotiate", f"clientProtocol=2.1{redirect}&connectionData={data}&_=1")
        assert status == 200, (status, body)
        self.negotiated = json.loads(body)
        self.connection_token = self.negotiated["ConnectionToken"]
        self.connection_id = self.negotiated["ConnectionId"]
        return self.negotiated

    def connect(self, *, start: bool = True, timeout: float = 10) -> Self:
        """Negotiate, open the transport, wait for the init message, then ``/start``."""
        self.negotiate()
        self._open("connect")
        self.wait_for(lambda m: isinstance(m, PersistentResponse) and m.initialized, timeout)
        if start:
            status, _, body = self.request("GET", "start", self._query(_="2"))
            assert (status, json.loads(body)) == (200, {"Response": "started"}), (status, body)
        return self

    def reconnect(self, timeout: float = 10) -> None:
        """Open the transport again on ``/reconnect`` (what the jQuery client does after a drop)."""
        self._close_transport()
        self._open("reconnect")

    def _open(self, action: str) -> None:
        self._stopping = False
        self.closed.clear()
        if self.transport == "webSockets":
            url = f"ws{self.endpoint[4:]}/aspnetclient/{action}?{self._query()}&access_token={quote(self.token)}&tid=3"
            self._ws = websocket.create_connection(url, timeout=10)
            self._ws.settimeout(None)
            self._thread = threading.Thread(target=self._read_ws, daemon=True)
        elif self.transport == "serverSentEvents":
            parts = urlsplit(self.endpoint)
            stream = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
            stream.request("GET", f"/aspnetclient/{action}?{self._query()}&access_token={quote(self.token)}&tid=7",
                           headers={"Accept": "text/event-stream"})
            self._stream = stream.sock
            response = stream.getresponse()
            assert response.status == 200, response.status
            self._thread = threading.Thread(target=self._read_sse, args=(response,), daemon=True)
        else:
            self._thread = threading.Thread(target=self._poll_loop, args=(action,), daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ reading

    def _record(self, text: str) -> Any:
        message = parse_server_message(text)
        with self._condition:
            self.raw.append(text)
            if isinstance(message, PersistentResponse):
                if message.message_id:
                    self._cursor = message.message_id
                self.messages.append(message)
                self.messages.extend(message.messages)
            else:
                self.messages.append(message)
            self._condition.notify_all()
        return message

    def _read_ws(self) -> None:
        assert self._ws is not None
        try:
            while True:
                data = self._ws.recv()
                if not data:
                    break
                self._record(data)
        except (websocket.WebSocketException, OSError):
            pass
        finally:
            self.closed.set()

    def _read_sse(self, response: http.client.HTTPResponse) -> None:
        try:
            for line in response:
                text = line.decode("utf-8").rstrip("\r\n")
                if text.startswith("data: ") and text != "data: initialized":
                    self._record(text[6:])
        except (OSError, ValueError):
            pass
        finally:
            self.closed.set()

    def _poll_loop(self, action: str) -> None:
        try:
            path = action
            while not self._stopping:
                body = urlencode({"messageId": self._cursor}).encode() if self._cursor else b""
                status, _, data = self.request("POST", path, self._query(), body=body, timeout=30)
                if status != 200 or self._stopping:
                    break
                message = self._record(data.decode())
                if isinstance(message, ServerError):
                    break
                path = "reconnect" if isinstance(message, PersistentResponse) and message.reconnect else "poll"
        except OSError:
            pass
        finally:
            self.closed.set()

    def wait_for(self, predicate: Any, timeout: float = 10) -> Any:
        deadline = time.monotonic() + timeout
        with self._condition:
            while True:
                for message in self.messages:
                    if predicate(message):
                        return message
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no matching message within {timeout} s; got {self.raw[-5:]}")
                self._condition.wait(remaining)

    def calls(self, method: str) -> list[tuple[Any, ...]]:
        with self._condition:
            return [m.arguments for m in self.messages if isinstance(m, ClientInvocation) and m.method == method]

    def wait_call(self, method: str, timeout: float = 10) -> tuple[Any, ...]:
        message = self.wait_for(lambda m: isinstance(m, ClientInvocation) and m.method == method, timeout)
        return message.arguments

    # ------------------------------------------------------------------ sending

    def send(self, hub: str, method: str, *args: Any) -> str:
        invocation_id = str(next(self._ids))
        text = json.dumps({"H": hub.lower(), "M": method, "A": list(args), "I": int(invocation_id)})
        self.send_raw(text)
        return invocation_id

    def send_raw(self, text: str) -> None:
        if self.transport == "webSockets":
            assert self._ws is not None
            self._ws.send(text)
            return
        status, _, body = self.request("POST", "send", self._query(), body=urlencode({"data": text}).encode())
        assert (status, body) == (200, b""), (status, body)

    def invoke(self, hub: str, method: str, *args: Any, timeout: float = 10) -> HubResponse:
        invocation_id = self.send(hub, method, *args)
        return self.wait_for(lambda m: isinstance(m, HubResponse) and m.invocation_id == invocation_id, timeout)

    # ------------------------------------------------------------------ ending

    def _close_transport(self) -> None:
        self._stopping = True
        if self._ws is not None:
            self._ws.close()
            self._ws = None
        if self._stream is not None:
            with contextlib.suppress(OSError):
                self._stream.shutdown(socket.SHUT_RDWR)
            self._stream.close()
            self._stream = None
        if self._thread is not None and self.transport != "longPolling":
            self._thread.join(5)

    def abort(self) -> int:
        self._close_transport()
        status, _, _ = self.request("POST", "abort", self._query())
        return status

    def close(self) -> None:
        self._close_transport()
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
