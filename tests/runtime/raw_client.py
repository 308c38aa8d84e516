"""A wire-level ASP.NET Core SignalR client for runtime tests (threads and ``websocket-client``).

It does what the JS client does -- negotiate at the app server, follow the redirect to the service,
negotiate there, open the WebSocket with the token, hub handshake -- but keeps every hub message it
receives (Pings and Close included), so tests can check exact bytes, errors and timings. The hub
protocol codecs come from the package.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import urllib.request
from typing import Any, Callable
from urllib.parse import urlsplit, urlunsplit

import websocket

from flask_azure_signalr.protocol.handshake import (
    HandshakeRequest,
    encode_handshake_request,
    parse_handshake_response,
)
from flask_azure_signalr.protocol.hub import PROTOCOLS
from flask_azure_signalr.protocol.hub_messages import (
    CloseMessage,
    CompletionMessage,
    InvocationMessage,
    PingMessage,
    StreamInvocationMessage,
    StreamItemMessage,
)

__all__ = ["RawClient", "post_json"]


def post_json(url: str, *, token: str | None = None) -> dict[str, Any]:
    request = urllib.request.Request(url, data=b"", method="POST")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def _negotiate_url(url: str) -> str:
    parts = urlsplit(url)
    path = parts.path + ("negotiate" if parts.path.endswith("/") else "/negotiate")
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


class RawClient:
    """One client connection; ``messages`` keeps everything received after the handshake."""

    def __init__(
        self, hub_url: str, *, protocol: str = "json", query: str = "", headers: dict[str, str] | None = None
    ) -> None:
        self.hub_url = hub_url
        self.protocol = PROTOCOLS[protocol]
        self.query = query
        self.headers = headers or {}
        self.connection_id: str | None = None
        self.messages: list[Any] = []
        self.handshake_response: Any = None
        self.closed = threading.Event()
        self.ws: websocket.WebSocket | None = None
        self._parser = self.protocol.parser()
        self._ids = itertools.count()
        self._arrived = threading.Condition()
        self._thread: threading.Thread | None = None

    def connect(self, *, handshake: bool = True, timeout: float = 10) -> RawClient:
        extra = f"&{self.query}" if self.query else ""
        redirect = post_json(f"{self.hub_url}/negotiate?negotiateVersion=1{extra}")
        url, token = redirect["url"], redirect["accessToken"]
        negotiated = post_json(_negotiate_url(url), token=token)
        self.connection_id = negotiated["connectionId"]
        ws_url = url.replace("http://", "ws://", 1) + f"&id={negotiated['connectionToken']}"
        headers = [f"Authorization: Bearer {token}"] + [f"{k}: {v}" for k, v in self.headers.items()]
        self.ws = websocket.create_connection(ws_url, header=headers, timeout=timeout)
        if handshake:
            self.send_raw(encode_handshake_request(HandshakeRequest(self.protocol.name, 1)), text=True)
            self.read_handshake(timeout)
            self.start_reading()
        return self

    def start_reading(self) -> None:
        """Read in the background from now on (after ``read_handshake`` when connected without one)."""
        self._thread = threading.Thread(target=self._read_loop, daemon=True)
        self._thread.start()

    def read_handshake(self, timeout: float = 10) -> Any:
        assert self.ws is not None
        self.ws.settimeout(timeout)
        buffer = b""
        while True:
            opcode, data = self.ws.recv_data()
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                raise ConnectionError("closed during the handshake")
            buffer += data
            response, rest = parse_handshake_response(buffer)
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
                    break
                for message in self._parser.feed(data):
                    self._put(message)
        except (websocket.WebSocketException, OSError):
            pass
        finally:
            self.closed.set()
            with self._arrived:
                self._arrived.notify_all()

    def _put(self, message: Any) -> None:
        with self._arrived:
            self.messages.append(message)
            self._arrived.notify_all()

    # -- sending ------------------------------------------------------------------------------------

    def send_raw(self, data: bytes, *, text: bool | None = None) -> None:
        assert self.ws is not None
        is_text = self.protocol.transfer_format == "text" if text is None else text
        opcode = websocket.ABNF.OPCODE_TEXT if is_text else websocket.ABNF.OPCODE_BINARY
        self.ws.send(data.decode("utf-8") if is_text else data, opcode=opcode)

    def send(self, message: Any) -> None:
        self.send_raw(self.protocol.encode(message))

    def next_id(self) -> str:
        return str(next(self._ids))

    def start_invocation(self, target: str, *arguments: Any, stream_ids: tuple[str, ...] = ()) -> str:
        invocation_id = self.next_id()
        self.send(
            InvocationMessage(
                target=target, arguments=list(arguments), invocation_id=invocation_id, stream_ids=stream_ids
            )
        )
        return invocation_id

    def invoke(self, target: str, *arguments: Any, timeout: float = 10) -> Any:
        """The result, or RuntimeError with the exact error text."""
        completion = self.completion(self.start_invocation(target, *arguments), timeout)
        if completion.error is not None:
            raise RuntimeError(completion.error)
        return completion.result

    def fire(self, target: str, *arguments: Any) -> None:
        self.send(InvocationMessage(target=target, arguments=list(arguments)))

    def stream(self, target: str, *arguments: Any) -> str:
        invocation_id = self.next_id()
        self.send(StreamInvocationMessage(invocation_id=invocation_id, target=target, arguments=list(arguments)))
        return invocation_id

    def completion(self, invocation_id: str, timeout: float = 10) -> CompletionMessage:
        return self.wait_for(
            lambda m: isinstance(m, CompletionMessage) and m.invocation_id == invocation_id, timeout
        )

    def stream_items(self, invocation_id: str) -> list[Any]:
        return [
            m.item for m in self.messages if isinstance(m, StreamItemMessage) and m.invocation_id == invocation_id
        ]

    def received(self, target: str) -> list[list[Any]]:
        return [
            list(m.arguments) for m in self.messages if isinstance(m, InvocationMessage) and m.target == target
        ]

    # -- waiting ------------------------------------------------------------------------------------

    def wait_for(self, predicate: Callable[[Any], bool], timeout: float = 10) -> Any:
        """The first received message matching ``predicate``; waits for one."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while True:
                for message in self.messages:
                    if predicate(message):
                        return message
                if self.closed.is_set():
                    raise ConnectionError("connection closed before the expected message")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("no matching hub message")
                self._arrived.wait(remaining)

    def wait_received(self, target: str, count: int = 1, timeout: float = 10) -> list[list[Any]]:
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.received(target)) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"{target} received {len(self.received(target))} of {count} times")
                self._arrived.wait(remaining)
            return self.received(target)

    def close_message(self, timeout: float = 10) -> CloseMessage:
        return self.wait_for(lambda m: isinstance(m, CloseMessage), timeout)

    def pings(self) -> int:
        return sum(isinstance(m, PingMessage) for m in self.messages)

    def close(self) -> None:
        if self.ws is not None:
            try:
                self.ws.close(timeout=1)
            except (websocket.WebSocketException, OSError):
                pass
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> RawClient:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
