"""A Python SignalR client (``pysignalr``, asyncio) against the runtime through the emulator.

pysignalr negotiates without ``negotiateVersion`` and, after the app server's redirect, opens an
id-less WebSocket with the redirect token (hub-protocol §1.2): the path a Python client takes.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pysignalr.client import SignalRClient
from pysignalr.protocol.json import JSONProtocol
from pysignalr.protocol.messagepack import MessagepackProtocol

pytestmark = pytest.mark.timeout(60)


async def _scenario(url: str, protocol: Any) -> dict[str, Any]:
    client = SignalRClient(url, protocol=protocol)
    opened = asyncio.Event()
    received: asyncio.Queue[Any] = asyncio.Queue()
    completions: asyncio.Queue[Any] = asyncio.Queue()
    items: list[Any] = []
    stream_done = asyncio.Event()

    async def on_open() -> None:
        opened.set()

    async def on_message(arguments: Any) -> None:
        await received.put(arguments)

    async def on_completion(message: Any) -> None:
        await completions.put(message)

    async def on_item(item: Any) -> None:
        items.append(item)

    async def on_stream_end(message: Any) -> None:
        stream_done.set()

    async def on_error(message: Any) -> None:
        """pysignalr reports error completions here as well as to the invocation's callback."""

    client.on_open(on_open)
    client.on_error(on_error)
    client.on("ReceiveMessage", on_message)
    runner = asyncio.create_task(client.run())
    try:
        await asyncio.wait_for(opened.wait(), 15)
        outcome: dict[str, Any] = {}
        await client.send("Echo", ["hi"], on_invocation=on_completion)
        outcome["echo"] = (await asyncio.wait_for(completions.get(), 10)).result
        await client.send("nope", [], on_invocation=on_completion)
        outcome["unknown"] = (await asyncio.wait_for(completions.get(), 10)).error
        await client.send("Notify", ["from python"])
        outcome["received"] = await asyncio.wait_for(received.get(), 10)
        await client.stream("Counter", [3], on_next=on_item, on_complete=on_stream_end)
        await asyncio.wait_for(stream_done.wait(), 10)
        outcome["items"] = items
        return outcome
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)


@pytest.mark.parametrize("protocol", [JSONProtocol(), MessagepackProtocol()], ids=["json", "messagepack"])
def test_pysignalr(app, protocol):
    outcome = asyncio.run(_scenario(app.hub_url, protocol))
    assert outcome["echo"] == "hi"
    assert (
        outcome["unknown"]
        == "Failed to invoke 'nope' due to an error on the server. HubException: Method does not exist."
    )
    assert outcome["received"] == ["from python"]
    assert outcome["items"] == [0, 1, 2]
