"""A small ASP.NET Core SignalR client for emulator tests: negotiate, WebSocket, hub protocol.

Plain threads and ``websocket-client``; the hub protocol codecs come from the package. It keeps
every received frame with its opcode, so tests can check text vs binary frames.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import urllib.error
import urllib.request
from datetime import timedelta
from typing import Any, Self

import websocket

from flask_azure_signalr.endpoints import ServiceEndpoint
from flask_azure_signalr.protocol.handshake import (
    HandshakeRequest,
    encode_handshake_request,
    parse_handshake_response,
)
from flask_azure_signalr.protocol.hub import PROTOCOLS
from flask_azure_signalr.protocol.hub_messages import (
    CompletionMessage,
    InvocationMessage,
)
from flask_azure_signalr.tokens import generate_client_token

__all__ = ["HubClient", "client_token", "http"]


def client_token(
    connection_string: str, hub: str, claims: dict[str, Any] | None = None, lifetime: float = 3600
) -> str:
    return generate_client_token(
        ServiceEndpoint(connection_string), hub.lower(), claims or {}, lifetime=timedelta(seconds=lifetime)
    )


def http(
    method: str, url: str, *, token: str | None = None, body: bytes | None = None,
    headers: dict[str, str] | None = None, timeout: float = 10,
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP request: ``(status, headers, body)``, whatever the status."""
    request = urllib.request.Request(url, data=body, method=method, headers=dict(headers or {}))
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


class HubClient:
    """One client connection over WebSockets."""

    def __init__(self, endpoint: str, hub: str, token: str, *, protocol: str = "json") -> None:
        self.endpoint = endpoint
        self.hub = hub
        self.token = token
        self.protocol = PROTOCOLS[protocol]
        self.connection_id: str | None = None
        self.frames: list[tuple[int, bytes]] = []
        self._inbox: list[Any] = []
        self._arrived = threading.Condition()
        self.closed = threading.Event()
        self.close_status: int | None = None
        self.ws: websocket.WebSocket | None = None
        self._parser = self.protocol.parser()
        self._ids = itertools.count(1)
        self._thread: threading.Thread | None = None
        self._handshake: bytes = b""
        self.handshake_response: Any = None

    @property
    def base(self) -> str:
        return f"{self.endpoint}/client/?hub={self.hub}"

    def negotiate(self, version: int | None = 1) -> dict[str, Any]:
        url = f"{self.endpoint}/client/negotiate?hub={self.hub}"
        if version is not None:
            url += f"&negotiateVersion={version}"
        status, _, body = http("POST", url, token=self.token)
        assert status == 200, (status, body)
        return json.loads(body)

    def connect(self, *, negotiate: bool = True, handshake: bool = True, timeout: float = 10) -> HubClient:
        url = self.base.replace("http://", "ws://")
        if negotiate:
            response = self.negotiate()
            self.connection_id = response["connectionId"]
            url += f"&id={response['connectionToken']}"
        self.ws = websocket.create_connection(url, header=[f"Authorization: Bearer {self.token}"], timeout=timeout)
        if handshake:
            self.send_raw(encode_handshake_request(HandshakeRequest(self.protocol.name, 1)), text=True)
            response = self.read_handshake(timeout)
            assert response.ok, response.error
        self._thread = threading.Thread(target=self._read_loop, daemon=True)
        self._thread.start()
        return self

    def read_handshake(self, timeout: float = 10) -> Any:
        assert self.ws is not None
        self.ws.settimeout(timeout)
        while True:
            opcode, data = self.ws.recv_data()
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                raise ConnectionError("closed during the handshake")
            self.frames.append((opcode, data))
            self._handshake += data
            response, rest = parse_handshake_response(self._handshake)
            if response is not None:
                self.handshake_response = response
                for message in self._parser.feed(rest):
                    self._put(message)
                self.ws.settimeout(None)
                return response

    def _read_loop(self) -> None:
        assert self.ws is not None
        try:
            while True:
                opcode, data = self.ws.recv_data(control_frame=False)
                if opcode == websocket.ABNF.OPCODE_CLOSE:
                    self.close_status = int.from_bytes(data[:2], "big") if len(data) >= 2 else None
                    break
                self.frames.append((opcode, data))
                if self.handshake_response is None:
                    self._handshake += data
                    self.handshake_response, data = parse_handshake_response(self._handshake)
                    if self.handshake_response is None:
                        continue
                for message in self._parser.feed(data):
                    self._put(message)
        except (websocket.WebSocketException, OSError):
            pass
        finally:
            self.closed.set()

    def send_raw(self, data: bytes, *, text: bool | None = None) -> None:
        assert self.ws is not None
        is_text = self.protocol.transfer_format == "text" if text is None else text
        opcode = websocket.ABNF.OPCODE_TEXT if is_text else websocket.ABNF.OPCODE_BINARY
        self.ws.send(data.decode("utf-8") if is_text else data, opcode=opcode)

    def send(self, message: Any) -> None:
        self.send_raw(self.protocol.encode(message))

    def invoke(self, target: str, *arguments: Any, timeout: float = 10) -> Any:
        invocation_id = str(next(self._ids))
        self.send(InvocationMessage(target=target, arguments=list(arguments), invocation_id=invocation_id))
        completion = self.wait_for(
            lambda m: isinstance(m, CompletionMessage) and m.invocation_id == invocation_id, timeout
        )
        if completion.error is not None:
            raise RuntimeError(completion.error)
        return completion.result

    def wait_for(self, predicate: Any, timeout: float = 10) -> Any:
        """The oldest received message matching ``predicate`` (taken out); waits for one."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while True:
                for index, message in enumerate(self._inbox):
                    if predicate(message):
                        del self._inbox[index]
                        return message
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("no matching hub message")
                self._arrived.wait(remaining)

    def _put(self, message: Any) -> None:
        with self._arrived:
            self._inbox.append(message)
            self._arrived.notify_all()

    def received_invocation(self, target: str, timeout: float = 10) -> InvocationMessage:
        return self.wait_for(lambda m: isinstance(m, InvocationMessage) and m.target == target, timeout)

    def close(self) -> None:
        if self.ws is not None and not self.closed.is_set():
            try:
                self.ws.close(timeout=1)
            except (websocket.WebSocketException, OSError):
                pass
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
