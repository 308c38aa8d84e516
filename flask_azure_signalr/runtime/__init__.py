"""The hub server runtime: server connections to the service, virtual clients, dispatch.

Everything here runs as greenlets on one gevent hub (see ``threading_bridge``); the public entry
point is ``HubServer``.
"""

from __future__ import annotations

from .hub_server import HubServer, should_connect

__all__ = ["HubServer", "should_connect"]
