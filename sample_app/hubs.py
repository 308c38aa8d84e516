"""The ``chat`` hub: the sample's contract, one method per line of the README; and ``ChatHub``, the
classic jQuery page's hub.

Wire names are camelCase as clients call them; ``hub_method`` maps them onto Python names.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gevent

from flask_azure_signalr import FlaskAzureSignalR, Hub, HubException, hub_method

__all__ = ["ChatHub", "ClassicChatHub", "signalr"]

signalr = FlaskAzureSignalR()

#: Upper bounds for ``counter``, so one call cannot keep a server busy for long.
MAX_COUNT = 10_000
MAX_DELAY_MS = 10_000


@signalr.hub("chat", path="/chat")
class ChatHub(Hub):
    @hub_method("broadcastMessage")
    def broadcast_message(self, name: str, message: str) -> None:
        self.clients.all.send("broadcastMessage", name, message)

    def echo(self, name: str, message: str) -> None:
        self.clients.caller.send("echo", name, message)

    @hub_method("joinGroup")
    def join_group(self, group: str) -> None:
        self.groups.add_to_group(self.context.connection_id, group)

    @hub_method("leaveGroup")
    def leave_group(self, group: str) -> None:
        self.groups.remove_from_group(self.context.connection_id, group)

    @hub_method("sendToGroup")
    def send_to_group(self, group: str, name: str, message: str) -> None:
        self.clients.group(group).send("groupMessage", group, name, message)

    @hub_method("sendToUser")
    def send_to_user(self, user_id: str, message: str) -> None:
        self.clients.user(user_id).send("privateMessage", self.context.user_identifier, message)

    def whoami(self) -> dict[str, Any]:
        return {"connectionId": self.context.connection_id, "userId": self.context.user_identifier}

    def add(self, a: float, b: float) -> float:
        return a + b

    def counter(self, count: int, delay_ms: int) -> Iterator[int]:
        if not 0 <= count <= MAX_COUNT or not 0 <= delay_ms <= MAX_DELAY_MS:
            raise HubException(f"count must be 0 to {MAX_COUNT} and delayMs 0 to {MAX_DELAY_MS}")
        return self._count(count, delay_ms / 1000)

    @staticmethod
    def _count(count: int, delay: float) -> Iterator[int]:
        for number in range(count):
            yield number
            if delay:
                gevent.sleep(delay)

    @hub_method("sumStream")
    def sum_stream(self, stream: Iterator[float]) -> float:
        return sum(stream)

    def fail(self, message: str) -> None:
        raise HubException(message)

    @hub_method("askCaller")
    def ask_caller(self, question: str) -> Any:
        return self.clients.caller.invoke("answer", question)


@signalr.hub("ChatHub", path="/chathub")
class ClassicChatHub(Hub):
    """The hub of Azure's AspNet.ChatSample, for the classic jQuery page ``/classic``.

    Classic pages reach it as ``$.connection.chatHub`` through the generated ``/signalr/hubs``;
    ASP.NET Core clients can connect to the same hub at ``/chathub`` and share its broadcasts.
    """

    @hub_method("BroadcastMessage")
    def broadcast_message(self, name: str, message: str) -> None:
        self.clients.all.send("broadcastMessage", name, message)

    @hub_method("Echo")
    def echo(self, message: str) -> None:
        self.clients.caller.send("echo", message)

    @hub_method("JoinGroup")
    def join_group(self, group: str) -> None:
        self.groups.add_to_group(self.context.connection_id, group)

    @hub_method("SendToGroup")
    def send_to_group(self, group: str, name: str, message: str) -> None:
        self.clients.group(group).send("groupMessage", group, name, message)

    @hub_method("Fail")
    def fail(self, message: str) -> None:
        raise HubException(message)
