"""aiosignalr (a self-hosted SignalR server on asyncio and aiohttp): the same hub, one hop fewer.

Clients negotiate at ``/bench/negotiate`` and connect to ``/bench`` directly (no service between);
the hub has the same ``echo`` and ``broadcast`` methods as :mod:`bench.app_server`.

::

    python -m bench.baselines.aiosignalr_server
"""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any

from aiosignalr.server import Hub, SignalRServer


class BenchHub(Hub):
    async def echo(self, seq: int, payload: Any) -> list[Any]:
        return [seq, payload]

    async def broadcast(self, seq: int, payload: Any) -> None:
        await self.clients.all_.send("receive", seq, payload)


async def serve() -> None:
    server = SignalRServer(BenchHub, logger=logging.getLogger("bench.aiosignalr"))
    _, port = await server.serve("127.0.0.1", 0, path="/bench")
    print(f"port={port}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await server.close()


def main() -> int:
    logging.getLogger("bench.aiosignalr").setLevel(logging.WARNING)
    asyncio.run(serve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
