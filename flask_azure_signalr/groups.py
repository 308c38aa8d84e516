"""``Groups``: connection and user membership, acknowledged by the service (service-protocol §7.5).

Each call waits for the service's Ack (default 10 s). NotFound (unknown connection) is not an
error, as in the SDK; a timeout or a service-side failure raises AckTimeoutError, and no usable
server connection raises ServiceConnectionError. Group names are case-sensitive. Safe from any thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .runtime.client_connection import ClientConnection
    from .runtime.hub_host import HubHost

__all__ = ["GroupManager"]


def _check(value: str, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} must be a non-empty string")
    return value


class GroupManager:
    """Group membership of one hub's connections and users."""

    __slots__ = ("_host", "_caller")

    def __init__(self, host: HubHost, caller: ClientConnection | None = None) -> None:
        self._host = host
        self._caller = caller

    def add_to_group(self, connection_id: str, group_name: str) -> None:
        """Add a connection to a group (JoinGroupWithAck)."""
        lifetime = self._host.lifetime
        self._host.loop.call(
            lifetime.add_to_group,
            _check(connection_id, "connection_id"),
            _check(group_name, "group_name"),
            self._via,
        )

    def remove_from_group(self, connection_id: str, group_name: str) -> None:
        """Remove a connection from a group (LeaveGroupWithAck)."""
        lifetime = self._host.lifetime
        self._host.loop.call(
            lifetime.remove_from_group,
            _check(connection_id, "connection_id"),
            _check(group_name, "group_name"),
            self._via,
        )

    def add_user_to_group(self, user_id: str, group_name: str, ttl: int | None = None) -> None:
        """Add every connection of a user, present and future, to a group; ``ttl`` in seconds."""
        if ttl is not None and (not isinstance(ttl, int) or ttl < 0):
            raise ValueError("ttl must be a non-negative number of seconds")
        lifetime = self._host.lifetime
        self._host.loop.call(
            lifetime.add_user_to_group,
            _check(user_id, "user_id"),
            _check(group_name, "group_name"),
            ttl,
            self._via,
        )

    def remove_user_from_group(self, user_id: str, group_name: str) -> None:
        lifetime = self._host.lifetime
        self._host.loop.call(
            lifetime.remove_user_from_group,
            _check(user_id, "user_id"),
            _check(group_name, "group_name"),
            self._via,
        )

    def remove_user_from_all_groups(self, user_id: str) -> None:
        lifetime = self._host.lifetime
        self._host.loop.call(lifetime.remove_user_from_group, _check(user_id, "user_id"), None, self._via)

    @property
    def _via(self) -> object:
        return self._caller.connection if self._caller is not None else None
