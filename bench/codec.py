"""Service-protocol codec speed beside plain msgpack, on the messages every client message becomes.

Two messages: a ConnectionData carrying a 200-byte JSON hub invocation (client traffic, both ways)
and a BroadcastData with the same invocation in JSON and MessagePack (a hub broadcast). Each is
encoded and decoded (``encode_body`` + ``decode_body``) in a loop; beside it, in the same run,
``msgpack.packb``/``unpackb`` of the same array (the baseline the target is set against, ours ≥ 0.5×)
and the same with one reused ``msgpack.Packer`` (msgpack at its fastest, for reference). Runs are
interleaved and the median of ``--repeats`` is printed as Markdown::

    python -m bench.codec [--seconds 0.3] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import msgpack

from flask_azure_signalr.protocol.service import (
    BroadcastData,
    ConnectionData,
    ServiceMessage,
    decode_body,
    encode_body,
)
from flask_azure_signalr.protocol.varint import frame

_JSON_RECORD_SEPARATOR = b"\x1e"


def json_invocation(size: int = 200) -> bytes:
    """A JSON hub invocation record of exactly ``size`` bytes, separator included."""
    head = b'{"type":1,"target":"broadcastMessage","arguments":["alice","'
    tail = b'"]}' + _JSON_RECORD_SEPARATOR
    return head + b"x" * (size - len(head) - len(tail)) + tail


def messagepack_invocation(size: int = 200) -> bytes:
    """The same invocation in the MessagePack hub protocol, framed, of exactly ``size`` bytes."""

    def invocation(text: str) -> bytes:
        return frame(msgpack.packb([1, {}, None, "broadcastMessage", ["alice", text]], use_bin_type=True))

    overhead = len(invocation("x" * 100)) - 100
    return invocation("x" * (size - overhead))


def workloads() -> list[tuple[str, ServiceMessage, list[Any]]]:
    """(label, message, the same message as a plain array) for each benchmarked message."""
    json_payload = json_invocation()
    payloads = {"json": json_payload, "messagepack": messagepack_invocation()}
    connection_id = "Ajk8F3b1mB1Yx0Qv7a2r9w"
    return [
        (
            "ConnectionData (200 B JSON)",
            ConnectionData(connection_id=connection_id, payload=json_payload),
            [6, connection_id, json_payload, {}],
        ),
        (
            "BroadcastData (json + messagepack)",
            BroadcastData(payloads=payloads),
            [10, [], payloads, {}],
        ),
    ]


def _ours(message: ServiceMessage) -> Callable[[int], None]:
    def run(count: int) -> None:
        for _ in range(count):
            decode_body(encode_body(message))

    return run


def _plain(array: list[Any]) -> Callable[[int], None]:
    packb, unpackb = msgpack.packb, msgpack.unpackb

    def run(count: int) -> None:
        for _ in range(count):
            unpackb(packb(array, use_bin_type=True), raw=False, strict_map_key=False)

    return run


def _plain_shared_packer(array: list[Any]) -> Callable[[int], None]:
    pack, unpackb = msgpack.Packer(use_bin_type=True).pack, msgpack.unpackb

    def run(count: int) -> None:
        for _ in range(count):
            unpackb(pack(array), raw=False, strict_map_key=False)

    return run


def _rate(run: Callable[[int], None], count: int) -> float:
    start = time.perf_counter()
    run(count)
    return count / (time.perf_counter() - start)


def _calibrate(run: Callable[[int], None], seconds: float) -> int:
    count = 1000
    while True:
        start = time.perf_counter()
        run(count)
        elapsed = time.perf_counter() - start
        if elapsed >= seconds / 4:
            return max(1000, int(count * seconds / elapsed))
        count *= 4


def measure(seconds: float, repeats: int) -> list[dict[str, Any]]:
    """Median messages/s of each runner per workload."""
    rows = []
    for label, message, array in workloads():
        runners = {
            "ours": _ours(message),
            "plain": _plain(array),
            "packer": _plain_shared_packer(array),
        }
        counts = {name: _calibrate(run, seconds) for name, run in runners.items()}
        samples: dict[str, list[float]] = {name: [] for name in runners}
        for _ in range(repeats):
            for name, run in runners.items():
                samples[name].append(_rate(run, counts[name]))
        medians = {name: statistics.median(values) for name, values in samples.items()}
        rows.append({"label": label, **medians})
    return rows


def to_markdown(rows: list[dict[str, Any]], repeats: int) -> str:
    lines = [
        f"Encode + decode, messages/s, median of {repeats} runs",
        "",
        "| message | ours | plain packb/unpackb | ours / plain | plain, shared Packer | ours / shared |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['label']} | {row['ours']:,.0f} | {row['plain']:,.0f} | "
            f"{row['ours'] / row['plain']:.2f}× | {row['packer']:,.0f} | {row['ours'] / row['packer']:.2f}× |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.3, help="time per run (default 0.3)")
    parser.add_argument("--repeats", type=int, default=5, help="runs per measurement (default 5)")
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.seconds <= 0:
        parser.error("--repeats must be >= 1 and --seconds > 0")
    print(to_markdown(measure(args.seconds, args.repeats), args.repeats))


if __name__ == "__main__":
    main()
