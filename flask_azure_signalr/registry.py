"""Hub registrations: what `@signalr.hub` records, read by negotiate and by the hub runtime.

Kept apart from both so neither layer imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

#: A hub's authorization rule: None (anyone), True (a logged-in user), or a predicate called in the
#: negotiate request; the predicate returns False to refuse an authenticated user (403).
Authorize = bool | Callable[[], bool] | None


@dataclass(frozen=True, slots=True)
class HubRegistration:
    """One hub as the application declared it.

    ``name`` keeps the case the application gave (ASP.NET Core uses the class name); the service sees
    it lower-cased (auth-negotiate-options §5). ``path`` is where Core clients negotiate
    (``{path}/negotiate``), default ``/<name>``.
    """

    name: str
    hub_class: type[Any]
    path: str
    authorize: Authorize = None

    @property
    def key(self) -> str:
        """Lookup key: hub names are case-insensitive on the service."""
        return self.name.lower()
