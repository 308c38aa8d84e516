"""A classic (ASP.NET SignalR) test app server for the emulator, built from the protocol layer.

It opens one ``/aspnetserver/`` WebSocket per pool — the application pool ``{app}_{app}`` and one
``{app}_{hub}`` per hub — with classic server tokens (``websocket-client``, plain threads),
records every service message and answers classic hub invocations of any hub (case-insensitive):

- ``Echo(x)`` → result x;  ``Fail()`` → error result ``boom``;
- ``Broadcast(x)`` → BroadcastData of ``receive(x)`` on the hub's pool; ``Others(x)`` excludes the caller;
- ``Join(g)`` / ``Leave(g)`` → Join/LeaveGroupWithAck of ``hg-{Hub}.{g}`` on the application
  pool; the result is the Ack status;
- ``SendGroup(g, x)`` → GroupBroadcastData of ``receive(x)``; ``SendUser(u, x)`` → UserData;
- ``Close()`` → CloseConnection of the caller with reason ``bye``.

Every payload to the service is double-framed (aspnet-classic §2.5).
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any, Self

import websocket

from flask_azure_signalr.endpoints import ServiceEndpoint
from flask_azure_signalr.protocol import service_messages as sm
from flask_azure_signalr.protocol.classic import (
    ClientInvocation,
    HubResponse,
    encode,
    envelope,
    hub_group_name,
    is_reconnect,
    parse_invocation,
    wrap_payload,
)
from flask_azure_signalr.protocol.service import ServiceProtocolParser
from flask_azure_signalr.protocol.service import encode as encode_service
from flask_azure_signalr.tokens import generate_server_token

__all__ = ["ClassicPeer", "classic_payloads"]


def classic_payloads(hub: str, method: str, *arguments: Any) -> dict[str, bytes]:
    """A client-method call as a classic app's payload map: ``{"json": frame(envelope)}``."""
    return {"json": wrap_payload(envelope(ClientInvocation(hub, method, arguments)))}


class _Link:
    def __init__(self, pool: str, ws: websocket.WebSocket) -> None:
        self.pool = pool
        self.ws = ws
        self.lock = threading.Lock()
        self.parser = ServiceProtocolParser()

    def send(self, message: Any) -> None:
        with self.lock:
            self.ws.send(encode_service(message), opcode=websocket.ABNF.OPCODE_BINARY)


class ClassicPeer:
    """A classic app ``application`` with ``hubs``, one server connection per pool."""

    def __init__(self, connection_string: str, application: str, hubs: tuple[str, ...] = ("Chat",), *,
                 server_id: str | None = None) -> None:
        self.endpoint = ServiceEndpoint(connection_string)
        self.application = application
        self.hubs = {hub.lower(): hub for hub in hubs}
        self.server_id = server_id or f"classic_{uuid.uuid4().hex}"
        self.links: dict[str, _Link] = {}
        self.client_links: dict[str, _Link] = {}
        self.history: list[tuple[str, Any]] = []
        self._condition = threading.Condition()
        self._acks = itertools.count(1)
        self._pending_acks: dict[int, Callable[[sm.Ack], None]] = {}
        self._threads: list[threading.Thread] = []

    def pool(self, hub: str | None = None) -> str:
        """``{app}_{hub}``, or the application pool for None."""
        return f"{self.application}_{hub or self.application}".lower()

    def start(self, timeout: float = 10) -> ClassicPeer:
        for pool in [self.pool(), *(self.pool(hub) for hub in self.hubs.values())]:
            token = generate_server_token(self.endpoint, pool, server_id=self.server_id, classic=True)
            url = self.endpoint.server_url(pool, str(uuid.uuid4()), classic=True)
            ws = websocket.create_connection(
                url, header=[f"Authorization: Bearer {token}", f"X-ASRS-Server-Id: {self.server_id}"], timeout=timeout
            )
            link = _Link(pool, ws)
            link.send(sm.HandshakeRequest(version=1, connection_type=0, target="", migration_level=0))
            response = link.parser.feed(ws.recv())[0]
            assert isinstance(response, sm.HandshakeResponse) and not response.error_message, response
            ws.settimeout(None)
            self.links[pool] = link
            thread = threading.Thread(target=self._read_loop, args=(link,), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        for link in self.links.values():
            try:
                link.ws.close()
            except OSError:
                pass
        for thread in self._threads:
            thread.join(5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ receiving

    def _read_loop(self, link: _Link) -> None:
        try:
            while True:
                data = link.ws.recv()
                if not data:
                    break
                for message in link.parser.feed(data if isinstance(data, bytes) else data.encode()):
                    with self._condition:
                        self.history.append((link.pool, message))
                        self._condition.notify_all()
                    self._react(link, message)
        except (websocket.WebSocketException, OSError):
            pass

    def wait_for(self, kind: type, predicate: Callable[[Any], bool] = lambda m: True, timeout: float = 10) -> Any:
        deadline = time.monotonic() + timeout
        with self._condition:
            while True:
                for _, message in self.history:
                    if isinstance(message, kind) and predicate(message):
                        return message
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no {kind.__name__} matching the predicate within {timeout} s")
                self._condition.wait(remaining)

    def received(self, kind: type) -> list[tuple[str, Any]]:
        with self._condition:
            return [(pool, m) for pool, m in self.history if isinstance(m, kind)]

    def reconnects(self, connection_id: str) -> int:
        data = [m for _, m in self.received(sm.ConnectionData) if m.connection_id == connection_id]
        return sum(1 for m in data if is_reconnect(m.payload))

    # ------------------------------------------------------------------ reacting

    def _react(self, link: _Link, message: Any) -> None:
        if isinstance(message, sm.Ping) and not message.messages:
            link.send(sm.Ping())
        elif isinstance(message, sm.OpenConnection):
            self.client_links[message.connection_id] = link
        elif isinstance(message, sm.Ack):
            callback = self._pending_acks.pop(message.ack_id, None)
            if callback is not None:
                callback(message)
        elif isinstance(message, sm.ConnectionData) and not is_reconnect(message.payload):
            self._invoke(message.connection_id, bytes(message.payload))

    def reply(self, connection_id: str, text: str) -> None:
        """Send classic JSON to one client on the link that opened it (double-framed)."""
        link = self.client_links[connection_id]
        link.send(sm.ConnectionData(connection_id=connection_id, payload=wrap_payload(text)))

    def _invoke(self, cid: str, payload: bytes) -> None:
        call = parse_invocation(payload)
        hub = self.hubs[call.hub_key]
        args = list(call.arguments)
        name = call.method_key
        app_link, hub_link = self.links[self.pool()], self.links[self.pool(hub)]

        def respond(result: Any = None, error: str | None = None) -> None:
            if call.invocation_id is not None:
                self.reply(cid, encode(HubResponse(call.invocation_id, result=result, error=error)))

        if name == "echo":
            respond(args[0])
        elif name == "fail":
            respond(error="boom")
        elif name in ("broadcast", "others"):
            excluded = (cid,) if name == "others" else ()
            hub_link.send(sm.BroadcastData(excluded_list=excluded, payloads=classic_payloads(hub, "receive", args[0])))
            respond()
        elif name in ("join", "leave"):
            kind = sm.JoinGroupWithAck if name == "join" else sm.LeaveGroupWithAck
            ack_id = next(self._acks)
            self._pending_acks[ack_id] = lambda ack: respond(int(ack.status))
            app_link.send(kind(connection_id=cid, group_name=hub_group_name(hub, args[0]), ack_id=ack_id))
        elif name == "sendgroup":
            group = hub_group_name(hub, args[0])
            app_link.send(sm.GroupBroadcastData(group_name=group, payloads=classic_payloads(hub, "receive", args[1])))
            respond()
        elif name == "senduser":
            hub_link.send(sm.UserData(user_id=args[0], payloads=classic_payloads(hub, "receive", args[1])))
            respond()
        elif name == "close":
            self.client_links[cid].send(sm.CloseConnection(connection_id=cid, error_message="bye"))

    def request_ack(self, build: Callable[[int], Any], pool: str, timeout: float = 10) -> sm.Ack:
        ack_id = next(self._acks)
        done: queue.Queue[sm.Ack] = queue.Queue()
        self._pending_acks[ack_id] = done.put
        self.links[pool].send(build(ack_id))
        return done.get(timeout=timeout)
