"""A hub method that blocks (sleeps) or computes does not hold up other connections or pings."""

from __future__ import annotations

import threading
import time

import pytest

pytestmark = pytest.mark.timeout(60)

SLOW = {"patched": "SlowEcho", "thread": "GeventSlowEcho"}


@pytest.mark.parametrize("mode", ["patched", "thread"])
def test_sleeping_method_does_not_stall_others(emulator, app_server, connect, mode):
    """``time.sleep`` under monkey-patching, ``gevent.sleep`` under ``flask run``: both yield."""
    app = app_server(emulator.connection_string, mode=mode, timing={"keep_alive_interval": 0.5})
    sleeper, other = connect(app), connect(app)
    started = time.monotonic()
    slow = sleeper.start_invocation(SLOW[mode], "late", 3)
    latencies = []
    while time.monotonic() - started < 2.5:
        sent = time.monotonic()
        assert other.invoke("Echo", "ping") == "ping"
        latencies.append(time.monotonic() - sent)
        time.sleep(0.1)
    assert max(latencies) < 0.5
    assert sleeper.pings() >= 2  # the 1 s heartbeat kept pinging the idle caller meanwhile
    assert sleeper.completion(slow).result == "late"
    assert time.monotonic() - started >= 3


def test_cpu_bound_work_in_the_threadpool(patched_app, connect):
    computing, other = connect(patched_app), connect(patched_app)
    result: dict[str, int] = {}
    worker = threading.Thread(
        target=lambda: result.update(value=computing.invoke("Compute", 3_000_000, timeout=30))
    )
    worker.start()
    sent = time.monotonic()
    assert other.invoke("Echo", 1) == 1
    assert time.monotonic() - sent < 1
    worker.join(30)
    assert result["value"] == sum(i * i for i in range(3_000_000))


def test_invocations_of_one_client_start_in_order(patched_app, connect):
    client = connect(patched_app)
    for index in range(20):
        client.fire("Mark", index)
    patched_app.wait_for_event(lambda e: e == ["mark", client.connection_id, 19])
    marks = [e[2] for e in patched_app.events() if e[0] == "mark" and e[1] == client.connection_id]
    assert marks == list(range(20))
