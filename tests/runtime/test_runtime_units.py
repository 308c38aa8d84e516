"""Small runtime pieces on their own: back-off, acks, claims, and the thread bridge."""

from __future__ import annotations

import threading

import gevent
import pytest

from flask_azure_signalr.exceptions import AckTimeoutError, ServiceConnectionError
from flask_azure_signalr.runtime.client_connection import user_claims
from flask_azure_signalr.runtime.container import AckTable, BackOff
from flask_azure_signalr.runtime.hub_server import should_connect
from flask_azure_signalr.runtime.threading_bridge import RuntimeLoop


def test_back_off_sequence():
    back_off = BackOff()
    delays = [back_off.next_delay() for _ in range(9)]
    assert [int(d) for d in delays] == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert all(0 <= d - int(d) < 1 for d in delays)
    back_off.reset()
    assert int(back_off.next_delay()) == 1


def test_ack_table_statuses():
    table = AckTable()
    first, waiter = table.create()
    second, other = table.create()
    assert (first, second) == (1, 2)
    table.resolve(first, 1, None)
    assert table.wait(first, waiter, 1) is True
    table.resolve(second, 2, "gone")
    assert table.wait(second, other, 1) is False
    third, waiter = table.create()
    table.resolve(third, 3, "service timeout")
    with pytest.raises(AckTimeoutError, match="service timeout"):
        table.wait(third, waiter, 1)
    fourth, waiter = table.create()
    table.resolve(fourth, 9, "odd")
    with pytest.raises(ServiceConnectionError, match="odd"):
        table.wait(fourth, waiter, 1)
    fifth, waiter = table.create()
    with pytest.raises(AckTimeoutError):
        table.wait(fifth, waiter, 0.05)
    table.resolve(fifth, 1, None)
    table.resolve(12345, 1, None)


def test_user_claims_drop_system_claims():
    claims = [("asrs.s.uid", "u"), ("asrs.s.aut", "Cookies"), ("nbf", "1"), ("role", "r"), ("asrs.u.aud", "mine")]
    assert user_claims(claims) == ("u", [("role", "r"), ("aud", "mine")])


def test_runtime_loop_on_its_own_thread():
    loop = RuntimeLoop()
    loop.start(dedicated_thread=True)
    try:
        ident = loop.call(threading.get_ident)
        assert ident != threading.get_ident()
        assert loop.call(lambda: loop.on_loop_thread())
        assert not loop.on_loop_thread()
        assert loop.call(lambda: gevent.sleep(0.01) or "slept") == "slept"
        with pytest.raises(KeyError):
            loop.call(lambda: {}["missing"])
        results = []
        threads = [
            threading.Thread(target=lambda i=i: results.append(loop.call(lambda: i * 2))) for i in range(20)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(5)
        assert sorted(results) == [i * 2 for i in range(20)]
    finally:
        loop.stop()
    assert not loop.running
    with pytest.raises(RuntimeError):
        loop.call(lambda: None)


def test_runtime_loop_on_the_current_hub():
    loop = RuntimeLoop()
    loop.start(dedicated_thread=False)
    try:
        assert loop.on_loop_thread()
        assert loop.call(lambda: threading.get_ident()) == threading.get_ident()
    finally:
        loop.stop()


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, True),
        ({"FLASK_DEBUG": "1"}, True),
        ({"FLASK_RUN_FROM_CLI": "true"}, True),
        ({"FLASK_RUN_FROM_CLI": "true", "FLASK_DEBUG": "0"}, True),
        ({"FLASK_RUN_FROM_CLI": "true", "FLASK_DEBUG": "1"}, False),
        ({"FLASK_RUN_FROM_CLI": "true", "FLASK_DEBUG": "1", "WERKZEUG_RUN_MAIN": "true"}, True),
    ],
)
def test_should_connect_skips_the_reloader_parent(monkeypatch, environ, expected):
    monkeypatch.delenv("FLASK_RUN_FROM_CLI", raising=False)
    monkeypatch.delenv("WERKZEUG_RUN_MAIN", raising=False)
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    assert should_connect() is expected
