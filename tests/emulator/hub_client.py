"""A small ASP.NET Core SignalR client for emulator tests: the service's own negotiate with a
token the test signs, then the shared wire client (``tests/fixtures/wire_client.py``)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import timedelta
from typing import Any, Callable

from flask_azure_signalr.endpoints import ServiceEndpoint
from flask_azure_signalr.protocol.hub_messages import InvocationMessage
from flask_azure_signalr.tokens import generate_client_token
from tests.fixtures.wire_client import WireClient

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


class HubClient(WireClient):
    """One client connection over WebSockets, straight to the emulator's client endpoint.

    ``wait_for`` takes the matching message out, so repeated waits see successive messages.
    """

    FIRST_ID = 1

    def __init__(self, endpoint: str, hub: str, token: str, *, protocol: str = "json") -> None:
        super().__init__(protocol)
        self.endpoint = endpoint
        self.hub = hub
        self.token = token

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
        self.open(url, [f"Authorization: Bearer {self.token}"], handshake=handshake, timeout=timeout)
        if not handshake:
            self.start_reading()
        return self

    def wait_for(self, predicate: Callable[[Any], bool], timeout: float = 10, *, take: bool = True) -> Any:
        return super().wait_for(predicate, timeout, take=take)

    def received_invocation(self, target: str, timeout: float = 10) -> InvocationMessage:
        return self.wait_for(lambda m: isinstance(m, InvocationMessage) and m.target == target, timeout)
