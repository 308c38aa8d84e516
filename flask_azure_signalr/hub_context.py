"""``HubContext``: a hub's Clients and Groups for code that is not a hub method.

Views, background jobs and CLI commands get one from ``HubServer.hub_context(name)`` (or the
extension's ``hub_context``). There is no caller, so ``caller``, ``others`` and
``others_in_group`` are unavailable; messages sent from here have no ordering among themselves
(service-protocol §7.1). Safe from any thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .clients import HubClients
from .groups import GroupManager

if TYPE_CHECKING:
    from .runtime.hub_host import HubHost

__all__ = ["HubContext"]


class HubContext:
    """``clients`` and ``groups`` of one hub."""

    __slots__ = ("name", "clients", "groups")

    def __init__(self, host: HubHost) -> None:
        self.name = host.name
        self.clients = HubClients(host)
        self.groups = GroupManager(host)

    def __repr__(self) -> str:
        return f"<HubContext {self.name!r}>"
