"""Stopping an app server on SIGTERM, per graceful-shutdown mode (service-protocol §7.8)."""

from __future__ import annotations

import time
import urllib.error
import urllib.request

import pytest

pytestmark = pytest.mark.timeout(60)


def _negotiate_status(app) -> int:
    request = urllib.request.Request(app.hub_url + "/negotiate?negotiateVersion=1", data=b"", method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.parametrize("mode", ["patched", "thread"])
def test_mode_off_stops_at_once(emulator, app_server, connect, mode):
    app = app_server(emulator.connection_string, mode=mode)
    client = connect(app)
    assert client.invoke("Echo", 1) == 1
    started = time.monotonic()
    app.terminate()
    assert app.wait(15) == 0
    assert time.monotonic() - started < 8
    assert client.closed.wait(10)


@pytest.mark.parametrize("mode", ["patched", "thread"])
def test_wait_for_clients_close(emulator, app_server, connect, mode):
    app = app_server(
        emulator.connection_string, mode=mode, options={"graceful_shutdown_mode": "WaitForClientsClose"}
    )
    client = connect(app)
    app.terminate()
    deadline = time.monotonic() + 10
    while _negotiate_status(app) == 200:  # offline at the service: no new clients
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert _negotiate_status(app) == 500
    assert client.invoke("Echo", "still served") == "still served"
    assert app.returncode is None
    client.close()
    assert app.wait(15) == 0


def test_wait_for_clients_close_gives_up_after_the_timeout(emulator, app_server, connect):
    app = app_server(
        emulator.connection_string,
        options={"graceful_shutdown_mode": "WaitForClientsClose", "graceful_shutdown_timeout": 2},
    )
    client = connect(app)
    started = time.monotonic()
    app.terminate()
    assert app.wait(20) == 0
    assert 1.5 <= time.monotonic() - started < 12
    assert client.closed.wait(10)


def test_migrate_clients_to_the_other_server(emulator, app_server, connect):
    options = {"graceful_shutdown_mode": "MigrateClients"}
    leaving = app_server(emulator.connection_string, options=options)
    client = connect(leaving)
    leaving_pid = client.invoke("GetContext")["server"]
    staying = app_server(emulator.connection_string, mode="thread", options=options)
    leaving.terminate()
    assert leaving.wait(20) == 0
    context = client.invoke("GetContext")
    assert context["server"] != leaving_pid
    assert context["connectionId"] == client.connection_id
    assert context["calls"] == 1  # per-connection items do not travel
    assert client.invoke("Echo", "after migration") == "after migration"
    assert not client.closed.is_set()
    assert ["connected", client.connection_id, None] in staying.events()
