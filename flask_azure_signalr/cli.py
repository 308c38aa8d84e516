"""``flask signalr ...`` commands (entry point ``flask.commands``: ``signalr``).

``flask signalr emulator [--host H] [--port P] [--access-key KEY]`` runs the local Azure SignalR
Service in the foreground, as ``python -m flask_azure_signalr.emulator`` does.
"""

from __future__ import annotations

import click
from flask.cli import AppGroup

__all__ = ["signalr"]

signalr = AppGroup("signalr", help="Azure SignalR Service tools.")


@signalr.command("emulator", with_appcontext=False)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8888, show_default=True, type=int, help="Port; 0 picks a free one.")
@click.option("--access-key", default=None, help="Key tokens must be signed with (default: the well-known emulator key).")
def emulator_command(host: str, port: int, access_key: str | None) -> None:
    """Run the local Azure SignalR Service emulator (default mode) until Ctrl+C.

    Prints the connection string to use first, e.g.
    ``Endpoint=http://127.0.0.1;Port=8888;AccessKey=...;Version=1.0;``.
    """
    from .emulator.server import run_in_foreground

    run_in_foreground(host, port, access_key)
