"""How the emulator writes to WebSocket clients: straight from the fan-out while the socket takes
the bytes, a writer greenlet only for what it does not take; order kept, slow clients dropped."""

from __future__ import annotations

import dataclasses
import json
import secrets
import socket
from collections.abc import Iterator

import gevent
import pytest
import websocket

from flask_azure_signalr.emulator import Emulator
from flask_azure_signalr.emulator.client_connections import ConnectionRegistry
from flask_azure_signalr.emulator.context import EmulatorContext
from flask_azure_signalr.emulator.router import Router
from flask_azure_signalr.protocol import service_messages as sm

from .conftest import FAST
from .hub_client import client_token
from .service_peer import payloads_of

pytestmark = pytest.mark.timeout(60)

HANDSHAKE_JSON = '{"protocol":"json","version":1}\x1e'


@pytest.fixture
def roomy_emulator() -> Iterator[Emulator]:
    """Fast timers, and a client send buffer big enough that nobody is dropped."""
    options = dataclasses.replace(FAST, client_buffer_limit=64 * 1024 * 1024)
    emulator = Emulator(port=0, access_key=secrets.token_urlsafe(24), options=options)
    emulator.start()
    try:
        yield emulator
    finally:
        emulator.stop()


def _stalled_client(emulator: Emulator, receive_buffer: int = 4096) -> websocket.WebSocket:
    """A bound JSON client with a small receive window, so the emulator's writes end up partial."""
    token = client_token(emulator.connection_string, "chat")
    url = f"{emulator.endpoint}/client/?hub=chat".replace("http", "ws")
    ws = websocket.create_connection(url, header=[f"Authorization: Bearer {token}"], timeout=10)
    ws.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    ws.send(HANDSHAKE_JSON)
    assert ws.recv() == "{}\x1e"
    return ws


def _invocations(ws: websocket.WebSocket, count: int) -> list[list]:
    """The arguments of the next ``count`` JSON invocations, in arrival order."""
    received: list[list] = []
    pending = ""
    while len(received) < count:
        pending += ws.recv()
        *whole, pending = pending.split("\x1e")
        received += [json.loads(text)["arguments"] for text in whole]
    return received


def test_partial_writes_keep_order_and_content(roomy_emulator, make_peer) -> None:
    peer = make_peer(roomy_emulator.connection_string)
    # Not read until all is sent: 6 MB is more than the kernel buffers of both ends hold, so the
    # emulator's writes go partial and frames queue behind them. (A window below the loopback MSS
    # would make TCP itself crawl, hence 256 KiB.)
    ws = _stalled_client(roomy_emulator, receive_buffer=256 * 1024)
    client_id = peer.wait_for(sm.OpenConnection).connection_id
    sizes = [200_000 if index % 3 == 0 else index for index in range(90)]
    for index, size in enumerate(sizes):
        payloads = payloads_of("Receive", index, "x" * size)
        peer.send(sm.MultiConnectionData(connection_list=(client_id,), payloads=payloads))
    received = _invocations(ws, len(sizes))
    assert [arguments[0] for arguments in received] == list(range(len(sizes)))
    assert [len(arguments[1]) for arguments in received] == sizes
    ws.close()


def test_a_stalled_client_does_not_hold_up_a_broadcast_and_is_dropped(fast_emulator, make_peer, make_client) -> None:
    peer = make_peer(fast_emulator.connection_string)
    stalled = _stalled_client(fast_emulator)
    stalled_id = peer.wait_for(sm.OpenConnection).connection_id
    reader = make_client(fast_emulator)
    # Each broadcast reaches the reader while the stalled client's share piles up, until the pile
    # passes the 256 KiB send buffer (after the kernel's own buffers fill) and it is dropped.
    for index in range(400):
        peer.send(sm.BroadcastData(payloads=payloads_of("Receive", index, "y" * 65536)))
        assert reader.received_invocation("Receive").arguments[0] == index
        if peer.received(sm.CloseConnection):
            break
    closed = peer.wait_for(sm.CloseConnection, lambda m: m.connection_id == stalled_id, timeout=20)
    assert "too slow" in closed.error_message
    stalled.sock.close()


def test_idle_clients_are_pinged_and_messages_still_flow(fast_emulator, make_peer) -> None:
    peer = make_peer(fast_emulator.connection_string)
    token = client_token(fast_emulator.connection_string, "chat")
    url = f"{fast_emulator.endpoint}/client/?hub=chat".replace("http", "ws")
    ws = websocket.create_connection(url, header=[f"Authorization: Bearer {token}"], timeout=5)
    ws.send(HANDSHAKE_JSON)
    assert ws.recv() == "{}\x1e"
    client_id = peer.wait_for(sm.OpenConnection).connection_id
    opcode, _ = ws.recv_data(control_frame=True)
    assert opcode == websocket.ABNF.OPCODE_PING  # idle: pinged within 1.5 keep-alive intervals
    peer.send(sm.MultiConnectionData(connection_list=(client_id,), payloads=payloads_of("Receive", 1)))
    opcode, data = ws.recv_data(control_frame=True)
    assert opcode == websocket.ABNF.OPCODE_TEXT and b'"Receive"' in data
    ws.close()


def test_spawn_later_runs_unless_cancelled() -> None:
    context = EmulatorContext(
        access_key="k", host="127.0.0.1", options=FAST, router=Router(instance_id="x"), registry=ConnectionRegistry()
    )
    ran: list[str] = []
    context.spawn_later(0.01, ran.append, "kept")
    context.spawn_later(0.01, ran.append, "cancelled").cancel()
    stopped = context.spawn_later(0.01, ran.append, "after stop")
    gevent.sleep(0.1)
    assert ran == ["kept", "after stop"]
    context.stopping = True
    context.spawn_later(0.01, ran.append, "while stopping")
    gevent.sleep(0.05)
    stopped.cancel()  # a second cancel after the call ran is harmless
    context.kill_all()
    assert ran == ["kept", "after stop"]
