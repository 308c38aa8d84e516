"""A wire-level ASP.NET Core SignalR client for runtime tests.

It does what the JS client does -- negotiate at the app server, follow the redirect to the service,
negotiate there, open the WebSocket with the token -- and then speaks through the shared wire
client (``tests/fixtures/wire_client.py``), which keeps every hub message it receives.
"""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from flask_azure_signalr.protocol.hub_messages import (
    CloseMessage,
    InvocationMessage,
    PingMessage,
    StreamInvocationMessage,
    StreamItemMessage,
)
from tests.fixtures.wire_client import WireClient

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


class RawClient(WireClient):
    """One client connection through the app's negotiate; ``messages`` keeps everything received."""

    def __init__(
        self, hub_url: str, *, protocol: str = "json", query: str = "", headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(protocol)
        self.hub_url = hub_url
        self.query = query
        self.headers = headers or {}

    def connect(self, *, handshake: bool = True, timeout: float = 10) -> RawClient:
        extra = f"&{self.query}" if self.query else ""
        redirect = post_json(f"{self.hub_url}/negotiate?negotiateVersion=1{extra}")
        url, token = redirect["url"], redirect["accessToken"]
        negotiated = post_json(_negotiate_url(url), token=token)
        self.connection_id = negotiated["connectionId"]
        ws_url = url.replace("http://", "ws://", 1) + f"&id={negotiated['connectionToken']}"
        headers = [f"Authorization: Bearer {token}"] + [f"{k}: {v}" for k, v in self.headers.items()]
        self.open(ws_url, headers, handshake=handshake, timeout=timeout)
        return self

    def fire(self, target: str, *arguments: Any) -> None:
        self.send(InvocationMessage(target=target, arguments=list(arguments)))

    def stream(self, target: str, *arguments: Any) -> str:
        invocation_id = self.next_id()
        self.send(StreamInvocationMessage(invocation_id=invocation_id, target=target, arguments=list(arguments)))
        return invocation_id

    def stream_items(self, invocation_id: str) -> list[Any]:
        return [
            m.item for m in self.messages if isinstance(m, StreamItemMessage) and m.invocation_id == invocation_id
        ]

    def received(self, target: str) -> list[list[Any]]:
        return [
            list(m.arguments) for m in self.messages if isinstance(m, InvocationMessage) and m.target == target
        ]

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
