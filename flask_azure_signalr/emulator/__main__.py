"""``python -m flask_azure_signalr.emulator [--host H] [--port P] [--access-key KEY]``.

The first line on stdout is the connection string (with the real port when ``--port 0``); the
emulator then serves until SIGINT or SIGTERM. The process is monkey-patched first, so the
emulator runs on the main gevent hub.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse
import sys

from .server import DEFAULT_PORT, run_in_foreground


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m flask_azure_signalr.emulator",
        description="Run a local Azure SignalR Service (default mode) for app servers and clients.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port, 0 for any free one (default {DEFAULT_PORT})"
    )
    parser.add_argument("--access-key", default=None, help="the key tokens must be signed with")
    parser.add_argument("--log-level", default="INFO", help="logging level on stderr (default INFO)")
    args = parser.parse_args(argv)
    run_in_foreground(args.host, args.port, args.access_key, log_level=args.log_level)
    return 0


if __name__ == "__main__":
    sys.exit(main())
