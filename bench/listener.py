"""A listening socket for the benchmark's gevent servers, with ``TCP_NODELAY`` set as gunicorn sets it.

gevent's ``pywsgi`` writes a response's headers and body in two ``send`` calls; without
``TCP_NODELAY`` the body waits for the client's delayed ACK of the headers (about 40 ms on Linux)
on every request of a keep-alive connection after the first. Accepted sockets inherit the option
from the listener on Linux, so setting it once is enough.
"""

from __future__ import annotations

from gevent import socket

__all__ = ["listener"]


def listener(host: str = "127.0.0.1", port: int = 0, backlog: int = 2048) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    return sock
