"""A test app server for the emulator, built from the protocol layer (not a mock of the emulator).

It opens ``/server/?hub=`` WebSockets with a signed server token (``websocket-client``, plain
threads, so it is independent of the emulator's own WebSocket code and of gevent), handshakes,
answers the hub handshake of every client and a few hub methods, and records every service
message it receives. Tests also send any service message through it.

Hub methods (case-insensitive), each answered with a Completion:

- ``Echo(x)`` → x;  ``WhoAmI()`` → the server id;  ``Fail()`` → error;
- ``Join(group)`` / ``Leave(group)`` → JoinGroupWithAck / LeaveGroupWithAck, completes with the Ack status;
- ``Broadcast(text)`` → BroadcastData of ``Receive(text)``;  ``SendGroup(group, text)`` → GroupBroadcastData;
- ``SendUser(user, text)`` → UserData;  ``SendOthers(text)`` → BroadcastData excluding the caller;
- ``Close()`` → CloseConnection of the caller after a Close hub message;
- ``Ask(connection_id)`` → ClientInvocation ``GetValue()`` to that client, completes with its result.

Run as a process (for two-server tests): ``python -m tests.emulator.service_peer CONNECTION_STRING HUB``;
it prints ``ready <server id>`` once connected and serves until stdin closes.
"""

from __future__ import annotations

import itertools
import queue
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Self

import websocket

from flask_azure_signalr.endpoints import ServiceEndpoint
from flask_azure_signalr.protocol import service_messages as sm
from flask_azure_signalr.protocol.handshake import answer_handshake
from flask_azure_signalr.protocol.hub import JSON, MESSAGEPACK, PROTOCOLS
from flask_azure_signalr.protocol.hub_messages import (
    CloseMessage,
    CompletionMessage,
    InvocationMessage,
)
from flask_azure_signalr.protocol.hub_protocol import HubMessageParser, HubProtocol
from flask_azure_signalr.protocol.service import ServiceProtocolParser, encode
from flask_azure_signalr.tokens import generate_server_token

__all__ = ["ServicePeer", "payloads_of"]


def payloads_of(target: str, *arguments: Any) -> dict[str, bytes]:
    """An Invocation of ``target`` in both protocols: a payload map (service-protocol §2.4)."""
    message = InvocationMessage(target=target, arguments=list(arguments))
    return {"json": JSON.encode(message), "messagepack": MESSAGEPACK.encode(message)}


@dataclass
class _Client:
    connection_id: str
    link: int
    open: sm.OpenConnection
    protocol: HubProtocol | None = None
    parser: HubMessageParser | None = None
    handshake: bytearray = field(default_factory=bytearray)
    received: list[Any] = field(default_factory=list)


class _Link:
    """One server connection."""

    def __init__(self, ws: websocket.WebSocket, index: int) -> None:
        self.ws = ws
        self.index = index
        self.lock = threading.Lock()
        self.parser = ServiceProtocolParser()
        self.closed = threading.Event()
        self.connection_id: str | None = None

    def send(self, message: Any) -> None:
        data = encode(message)
        with self.lock:
            self.ws.send(data, opcode=websocket.ABNF.OPCODE_BINARY)

    def send_raw(self, data: bytes) -> None:
        with self.lock:
            self.ws.send(data, opcode=websocket.ABNF.OPCODE_BINARY)


class ServicePeer:
    """App server with ``connections`` server connections to ``hub`` on the emulator."""

    def __init__(
        self,
        connection_string: str,
        hub: str,
        *,
        server_id: str | None = None,
        connections: int = 1,
        migration_level: int = 0,
        connection_type: int = 0,
        answer_pings: bool = True,
    ) -> None:
        self.endpoint = ServiceEndpoint(connection_string)
        self.hub = hub.lower()
        self.server_id = server_id or f"peer_{uuid.uuid4().hex}"
        self.connection_count = connections
        self.migration_level = migration_level
        self.connection_type = connection_type
        self.answer_pings = answer_pings
        self.links: list[_Link] = []
        self.clients: dict[str, _Client] = {}
        self.messages: queue.Queue[tuple[int, Any]] = queue.Queue()
        self.history: list[tuple[int, Any]] = []
        self._history_lock = threading.Condition()
        self._acks = itertools.count(1)
        self._pending_acks: dict[int, Callable[[sm.Ack], None]] = {}
        self._pending_invocations: dict[str, tuple[str, str]] = {}
        self._routed: dict[str, str] = {}
        self._threads: list[threading.Thread] = []

    # ------------------------------------------------------------------ lifecycle

    def url(self) -> str:
        return self.endpoint.server_url(self.hub, str(uuid.uuid4()))

    def headers(self, token: str | None = None) -> list[str]:
        if token is None:
            token = generate_server_token(self.endpoint, self.hub, server_id=self.server_id)
        return [f"Authorization: Bearer {token}", f"X-ASRS-Server-Id: {self.server_id}"]

    def start(self, timeout: float = 10) -> ServicePeer:
        for index in range(self.connection_count):
            ws = websocket.create_connection(self.url(), header=self.headers(), timeout=timeout)
            link = _Link(ws, index)
            link.send(sm.HandshakeRequest(version=1, connection_type=self.connection_type, target="",
                                          migration_level=self.migration_level))
            response = self._read_handshake(link, timeout)
            if response.error_message:
                raise RuntimeError(f"handshake refused: {response.error_message}")
            link.connection_id = response.connection_id
            ws.settimeout(None)
            self.links.append(link)
            thread = threading.Thread(target=self._read_loop, args=(link,), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def _read_handshake(self, link: _Link, timeout: float) -> sm.HandshakeResponse:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            messages = link.parser.feed(link.ws.recv())
            if messages:
                first = messages[0]
                assert isinstance(first, sm.HandshakeResponse), first
                for message in messages[1:]:
                    self._record(link, message)
                return first
        raise TimeoutError("no handshake response")

    def stop(self) -> None:
        for link in self.links:
            try:
                link.ws.close()
            except OSError:
                pass
        for thread in self._threads:
            thread.join(5)

    def drop(self, index: int = 0) -> None:
        """Close one server connection abruptly (no close handshake)."""
        link = self.links[index]
        if link.ws.sock is not None:
            link.ws.sock.shutdown(2)
        link.closed.wait(5)

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
                    self._record(link, message)
                    self._react(link, message)
        except (websocket.WebSocketException, OSError):
            pass
        finally:
            link.closed.set()

    def _record(self, link: _Link, message: Any) -> None:
        with self._history_lock:
            self.history.append((link.index, message))
            self._history_lock.notify_all()

    def wait_for(
        self, kind: type, predicate: Callable[[Any], bool] = lambda m: True, timeout: float = 10
    ) -> Any:
        """The first recorded message of ``kind`` matching ``predicate`` (waits for it)."""
        deadline = time.monotonic() + timeout
        with self._history_lock:
            while True:
                for _, message in self.history:
                    if isinstance(message, kind) and predicate(message):
                        return message
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no {kind.__name__} matching the predicate within {timeout} s")
                self._history_lock.wait(remaining)

    def received(self, kind: type) -> list[Any]:
        with self._history_lock:
            return [m for _, m in self.history if isinstance(m, kind)]

    def link_of(self, message: Any) -> int:
        with self._history_lock:
            for index, recorded in self.history:
                if recorded is message:
                    return index
        raise KeyError(message)

    # ------------------------------------------------------------------ sending

    def send(self, message: Any, link: int = 0) -> None:
        self.links[link].send(message)

    def request_ack(self, build: Callable[[int], Any], link: int = 0, timeout: float = 10) -> sm.Ack:
        """Send an ack-able message built for a fresh ack id and wait for its Ack."""
        ack_id = next(self._acks)
        done: queue.Queue[sm.Ack] = queue.Queue()
        self._pending_acks[ack_id] = done.put
        self.send(build(ack_id), link)
        return done.get(timeout=timeout)

    def to_client(self, connection_id: str, message: Any) -> None:
        """Send a hub message to one client as ConnectionData on its own link."""
        client = self.clients[connection_id]
        assert client.protocol is not None
        self.send(sm.ConnectionData(connection_id=connection_id, payload=client.protocol.encode(message)), client.link)

    # ------------------------------------------------------------------ automatic behaviour

    def _react(self, link: _Link, message: Any) -> None:
        if isinstance(message, sm.Ping):
            if message.get("echo") is not None:
                link.send(message)
            elif self.answer_pings and not message.messages:
                link.send(sm.Ping())
        elif isinstance(message, sm.OpenConnection):
            self.clients[message.connection_id] = _Client(message.connection_id, link.index, message)
        elif isinstance(message, sm.CloseConnection):
            self.clients.pop(message.connection_id, None)
        elif isinstance(message, sm.ConnectionData):
            client = self.clients.get(message.connection_id)
            if client is not None:
                self._client_data(link, client, bytes(message.payload))
        elif isinstance(message, sm.Ack):
            callback = self._pending_acks.pop(message.ack_id, None)
            if callback is not None:
                callback(message)
        elif isinstance(message, sm.ClientInvocation):
            self._routed[message.invocation_id] = message.caller_server_id
        elif isinstance(message, (sm.ClientCompletion, sm.ErrorCompletion)):
            self._finish_ask(message)

    def _client_data(self, link: _Link, client: _Client, data: bytes) -> None:
        if client.protocol is None:
            client.handshake += data
            outcome = answer_handshake(bytes(client.handshake), PROTOCOLS)
            if outcome is None:
                return
            link.send(sm.ConnectionData(connection_id=client.connection_id, payload=outcome.response_bytes))
            if not outcome.ok:
                link.send(sm.CloseConnection(connection_id=client.connection_id, error_message="handshake failed"))
                return
            client.protocol = outcome.protocol
            client.parser = outcome.protocol.parser()
            data = outcome.rest
            if not data:
                return
        assert client.parser is not None
        for hub_message in client.parser.feed(data):
            client.received.append(hub_message)
            if isinstance(hub_message, InvocationMessage):
                self._invoke(link, client, hub_message)
            elif isinstance(hub_message, CompletionMessage):
                self._client_result(client, hub_message)

    def _complete(self, client: _Client, invocation_id: str | None, result: Any = None, error: str | None = None) -> None:
        if invocation_id is None:
            return
        if error is not None:
            message = CompletionMessage.with_error(invocation_id, error)
        else:
            message = CompletionMessage.with_result(invocation_id, result)
        self.to_client(client.connection_id, message)

    def _invoke(self, link: _Link, client: _Client, call: InvocationMessage) -> None:
        name = call.target.lower()
        args = list(call.arguments)
        cid = client.connection_id
        invocation_id = call.invocation_id
        if name == "echo":
            self._complete(client, invocation_id, args[0] if args else None)
        elif name == "whoami":
            self._complete(client, invocation_id, self.server_id)
        elif name in ("join", "leave"):
            kind = sm.JoinGroupWithAck if name == "join" else sm.LeaveGroupWithAck
            ack_id = next(self._acks)
            self._pending_acks[ack_id] = lambda ack: self._complete(client, invocation_id, int(ack.status))
            link.send(kind(connection_id=cid, group_name=args[0], ack_id=ack_id))
        elif name == "broadcast":
            link.send(sm.BroadcastData(payloads=payloads_of("Receive", args[0])))
            self._complete(client, invocation_id, None)
        elif name == "sendothers":
            link.send(sm.BroadcastData(excluded_list=(cid,), payloads=payloads_of("Receive", args[0])))
            self._complete(client, invocation_id, None)
        elif name == "sendgroup":
            link.send(sm.GroupBroadcastData(group_name=args[0], payloads=payloads_of("Receive", args[1])))
            self._complete(client, invocation_id, None)
        elif name == "senduser":
            link.send(sm.UserData(user_id=args[0], payloads=payloads_of("Receive", args[1])))
            self._complete(client, invocation_id, None)
        elif name == "close":
            self._complete(client, invocation_id, None)
            self.to_client(cid, CloseMessage())
            link.send(sm.CloseConnection(connection_id=cid, error_message=""))
        elif name == "ask":
            ask_id = f"{args[0]}-{uuid.uuid4().hex}"
            self._pending_invocations[ask_id] = (cid, invocation_id or "")
            request = InvocationMessage(target="GetValue", arguments=[], invocation_id=ask_id)
            link.send(sm.ClientInvocation(
                invocation_id=ask_id, connection_id=args[0], caller_server_id=self.server_id,
                payloads={"json": JSON.encode(request), "messagepack": MESSAGEPACK.encode(request)},
            ))
        elif name == "fail":
            self._complete(client, invocation_id, error="boom")
        else:
            self._complete(client, invocation_id, error=f"Unknown method {call.target}")

    def _client_result(self, client: _Client, completion: CompletionMessage) -> None:
        """A client answered a ClientInvocation (service-protocol §7.6): ours, or routed here."""
        pending = self._pending_invocations.pop(completion.invocation_id, None)
        if pending is not None:
            caller, invocation_id = pending
            self._complete(self.clients[caller], invocation_id, completion.result, completion.error)
            self.send(sm.ClientCompletion(
                invocation_id=completion.invocation_id, connection_id=client.connection_id,
                caller_server_id=self.server_id, protocol=client.protocol.name if client.protocol else "json",
                payload=b"",
            ), client.link)
            return
        caller_server_id = self._routed.pop(completion.invocation_id, None)
        if caller_server_id is not None and client.protocol is not None:
            self.send(sm.ClientCompletion(
                invocation_id=completion.invocation_id, connection_id=client.connection_id,
                caller_server_id=caller_server_id, protocol=client.protocol.name,
                payload=client.protocol.encode(completion),
            ), client.link)

    def _finish_ask(self, message: Any) -> None:
        pending = self._pending_invocations.pop(message.invocation_id, None)
        if pending is None:
            return
        caller, invocation_id = pending
        client = self.clients.get(caller)
        if client is None:
            return
        if isinstance(message, sm.ErrorCompletion):
            self._complete(client, invocation_id, error=message.error)
            return
        protocol = PROTOCOLS[message.protocol] if message.protocol else JSON
        completion = protocol.decode(message.payload)[0]
        self._complete(client, invocation_id, completion.result, completion.error)


def main(argv: list[str]) -> int:
    connection_string, hub = argv[1], argv[2]
    peer = ServicePeer(connection_string, hub, connections=2).start()
    print(f"ready {peer.server_id}", flush=True)
    sys.stdin.read()
    peer.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
