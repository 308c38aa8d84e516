"""The little WSGI the emulator needs: a parsed request and plain responses.

The emulator is a service, not a Flask app: its endpoints are few and fixed, and its hot paths
(WebSocket upgrades, held polls, event streams) want the raw WSGI environ.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

__all__ = ["STATUS_TEXT", "BodyTooLarge", "Request", "json_response", "respond"]

StartResponse = Callable[..., Any]

STATUS_TEXT = {
    200: "OK",
    202: "Accepted",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Payload Too Large",
    500: "Internal Server Error",
}


class BodyTooLarge(Exception):
    """A request body is over the limit."""


@dataclass(frozen=True, slots=True)
class Request:
    """One HTTP request, decoded once."""

    environ: Mapping[str, Any]
    method: str
    path: str
    query: Mapping[str, list[str]]
    query_string: str
    headers: Mapping[str, str]

    @classmethod
    def from_environ(cls, environ: Mapping[str, Any]) -> Request:
        query_string = environ.get("QUERY_STRING", "")
        headers = {
            key[5:].replace("_", "-").lower(): value for key, value in environ.items() if key.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        if environ.get("CONTENT_LENGTH"):
            headers["content-length"] = environ["CONTENT_LENGTH"]
        return cls(
            environ=environ,
            method=environ.get("REQUEST_METHOD", "GET").upper(),
            path=environ.get("PATH_INFO", "/"),
            query=parse_qs(query_string, keep_blank_values=True),
            query_string=query_string,
            headers=headers,
        )

    def arg(self, name: str) -> str | None:
        """The first value of a query parameter, matched case-insensitively as .NET does."""
        values = self.query.get(name)
        if values is None:
            folded = name.lower()
            for key, candidates in self.query.items():
                if key.lower() == folded:
                    values = candidates
                    break
        return values[0] if values else None

    @property
    def host(self) -> str:
        """The host name the client addressed (Host header without port), lower case."""
        host = self.headers.get("host") or self.environ.get("SERVER_NAME", "")
        if host.startswith("["):
            return host[: host.find("]") + 1].lower()
        return host.rsplit(":", 1)[0].lower() if host.count(":") == 1 else host.lower()

    @property
    def remote_addr(self) -> str:
        return str(self.environ.get("REMOTE_ADDR", ""))

    def read_body(self, limit: int) -> bytes:
        """The whole body, or :class:`BodyTooLarge` once it exceeds ``limit`` bytes."""
        stream = self.environ["wsgi.input"]
        length = self.headers.get("content-length")
        if length is not None:
            try:
                size = int(length)
            except ValueError:
                size = -1
            if size > limit:
                raise BodyTooLarge(size)
            return stream.read(size) if size > 0 else b""
        chunks = []
        total = 0
        while True:
            chunk = stream.read(65536)
            if not chunk:
                return b"".join(chunks)
            total += len(chunk)
            if total > limit:
                raise BodyTooLarge(total)
            chunks.append(chunk)


def respond(
    start_response: StartResponse,
    status: int,
    body: bytes | str = b"",
    *,
    content_type: str = "text/plain; charset=utf-8",
    headers: Iterable[tuple[str, str]] = (),
) -> list[bytes]:
    """A complete response with ``Content-Length``."""
    data = body.encode("utf-8") if isinstance(body, str) else body
    header_list = [("Content-Length", str(len(data)))]
    if data or status not in (202, 204):
        header_list.append(("Content-Type", content_type))
    header_list.extend(headers)
    start_response(f"{status} {STATUS_TEXT.get(status, '')}".rstrip(), header_list)
    return [data] if data else []


def json_response(start_response: StartResponse, payload: Mapping[str, Any], status: int = 200) -> list[bytes]:
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    return respond(start_response, status, body, content_type="application/json")


def watch_disconnect(
    environ: Mapping[str, Any], spawn: Callable[..., Any], on_gone: Callable[[], None]
) -> Any:
    """For a streaming response (SSE): call ``on_gone`` when the client closes its side.

    Nothing more comes on an event-stream request, so EOF or a read error means the client left.
    Returns the watching greenlet (kill it when the response ends), or None where the server
    gives no access to the request's socket.
    """
    rfile = getattr(environ.get("wsgi.input"), "rfile", None)
    if rfile is None:
        return None

    def watch() -> None:
        try:
            while rfile.read1(4096):
                pass
        except (OSError, ValueError):
            pass
        on_gone()

    return spawn(watch)
