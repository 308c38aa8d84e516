"""Test hubs run by the app-server subprocess (hub-protocol §5 conformance hub and more).

``EVENTS`` records what hub code saw, in order, for the tests to read over HTTP (``/events``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import gevent

from flask_azure_signalr import HubException
from flask_azure_signalr.exceptions import InvocationError
from flask_azure_signalr.hub import Hub, hub_method

EVENTS: list[list[Any]] = []


def record(*event: Any) -> None:
    EVENTS.append(list(event))


def _cpu_bound(n: int) -> int:
    return sum(i * i for i in range(n))


class Chat(Hub):
    """Every scenario of the runtime tests; clients call these names case-insensitively."""

    def on_connected(self) -> None:
        record("connected", self.context.connection_id, self.context.user_identifier)
        if self.context.query.get("failconnect"):
            raise HubException("not welcome")
        greeting = self.context.query.get("greet")
        if greeting:
            self.clients.caller.send("Greeting", greeting)

    def on_disconnected(self, error: BaseException | None) -> None:
        record("disconnected", self.context.connection_id, None if error is None else str(error))

    # -- results and errors ---------------------------------------------------------------------

    def echo(self, value: Any) -> Any:
        return value

    def add(self, a: int, b: int) -> int:
        return a + b

    def void(self) -> None:
        record("void", self.context.connection_id)

    def mark(self, index: int) -> None:
        record("mark", self.context.connection_id, index)

    def fail(self) -> None:
        raise ValueError("secret detail")

    @hub_method("FailHub")
    def fail_hub(self) -> None:
        raise HubException("boom")

    # -- streaming ------------------------------------------------------------------------------

    def counter(self, n: int) -> Iterator[int]:
        for i in range(n):
            yield i

    def endless(self) -> Iterator[int]:
        i = 0
        try:
            while True:
                yield i
                i += 1
                gevent.sleep(0.05)
        finally:
            record("endless-stopped", self.context.connection_id, i)

    @hub_method("FailStream")
    def fail_stream(self) -> Iterator[int]:
        yield 1
        raise ValueError("stream broke")

    def sum(self, numbers: Iterator[int]) -> int:
        return sum(numbers)

    # -- timing ---------------------------------------------------------------------------------

    @hub_method("SlowEcho")
    def slow_echo(self, value: Any, seconds: float) -> Any:
        time.sleep(seconds)
        return value

    @hub_method("GeventSlowEcho")
    def gevent_slow_echo(self, value: Any, seconds: float) -> Any:
        gevent.sleep(seconds)
        return value

    def compute(self, n: int) -> int:
        return gevent.get_hub().threadpool.apply(_cpu_bound, (n,))

    # -- context --------------------------------------------------------------------------------

    @hub_method("GetContext")
    def get_context(self) -> dict[str, Any]:
        items = self.context.items
        items["calls"] = items.get("calls", 0) + 1
        return {
            "connectionId": self.context.connection_id,
            "user": self.context.user_identifier,
            "claims": [list(c) for c in self.context.claims],
            "query": self.context.query.get("tag"),
            "header": self.context.headers.get("X-Test-Header"),
            "calls": items["calls"],
            "server": os.getpid(),
        }

    def abort(self) -> None:
        self.context.abort()

    # -- sending --------------------------------------------------------------------------------

    def notify(self, message: str) -> None:
        self.clients.caller.send("ReceiveMessage", message)

    @hub_method("SendAll")
    def send_all(self, message: str) -> None:
        self.clients.all.send("ReceiveMessage", message)

    @hub_method("SendOthers")
    def send_others(self, message: str) -> None:
        self.clients.others.send("ReceiveMessage", message)

    @hub_method("SendAllExcept")
    def send_all_except(self, excluded: list[str], message: str) -> None:
        self.clients.all_except(excluded).send("ReceiveMessage", message)

    @hub_method("SendClient")
    def send_client(self, connection_id: str, message: str) -> None:
        self.clients.client(connection_id).send("ReceiveMessage", message)

    @hub_method("SendClients")
    def send_clients(self, connection_ids: list[str], message: str) -> None:
        self.clients.clients(connection_ids).send("ReceiveMessage", message)

    @hub_method("SendUser")
    def send_user(self, user: str, message: str) -> None:
        self.clients.user(user).send("ReceiveMessage", message)

    @hub_method("SendUsers")
    def send_users(self, users: list[str], message: str) -> None:
        self.clients.users(users).send("ReceiveMessage", message)

    @hub_method("JoinGroup")
    def join_group(self, group: str) -> None:
        self.groups.add_to_group(self.context.connection_id, group)

    @hub_method("LeaveGroup")
    def leave_group(self, group: str) -> None:
        self.groups.remove_from_group(self.context.connection_id, group)

    @hub_method("JoinUserGroup")
    def join_user_group(self, group: str) -> None:
        self.groups.add_user_to_group(self.context.user_identifier or "", group)

    @hub_method("SendGroup")
    def send_group(self, group: str, message: str) -> None:
        self.clients.group(group).send("ReceiveMessage", message)

    @hub_method("SendGroups")
    def send_groups(self, groups: list[str], message: str) -> None:
        self.clients.groups(groups).send("ReceiveMessage", message)

    @hub_method("SendGroupExcept")
    def send_group_except(self, group: str, excluded: list[str], message: str) -> None:
        self.clients.group_except(group, excluded).send("ReceiveMessage", message)

    @hub_method("SendOthersInGroup")
    def send_others_in_group(self, group: str, message: str) -> None:
        self.clients.others_in_group(group).send("ReceiveMessage", message)

    # -- client results -------------------------------------------------------------------------

    @hub_method("AskClient")
    def ask_client(self) -> Any:
        try:
            return self.clients.caller.invoke("GetValue", 5, timeout=5)
        except InvocationError as error:
            raise HubException(str(error)) from None

    @hub_method("AskOther")
    def ask_other(self, connection_id: str) -> Any:
        try:
            return self.clients.client(connection_id).invoke("GetValue", 7, timeout=5)
        except InvocationError as error:
            raise HubException(str(error)) from None
