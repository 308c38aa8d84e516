"""Invocations → hub methods, with the .NET server's exact error texts (hub-protocol §3.2–3.5).

Checks run in the reading greenlet, in arrival order; each accepted invocation then runs in its
own greenlet, so invocations start in the order the client sent them while a slow method never
holds up other connections (or this connection's pings). Non-blocking invocations (no id) get no
reply at all, whatever happens.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Sequence

import gevent
import gevent.queue

from ..exceptions import HubException, HubProtocolError
from ..hub import HubMethod
from ..protocol.hub_messages import (
    CompletionMessage,
    InvocationMessage,
    StreamInvocationMessage,
    StreamItemMessage,
)
from .server_connection import WRITING

if TYPE_CHECKING:
    from .client_connection import ClientConnection
    from .hub_host import HubHost

__all__ = ["Dispatcher", "UploadStream", "error_text"]

logger = logging.getLogger("flask_azure_signalr.runtime.dispatcher")


def error_text(base: str, error: BaseException, detailed: bool) -> str:
    """ErrorMessageHelper: append `` Type: message`` for a HubException or with detailed errors."""
    if isinstance(error, HubException) or detailed:
        return f"{base} {type(error).__name__}: {error}"
    return base


def _failed_to_invoke(target: str) -> str:
    return f"Failed to invoke '{target}' due to an error on the server."


def _unexpected(target: str) -> str:
    return f"An unexpected error occurred invoking '{target}' on the server."


STREAMING_ERROR = "An error occurred on the server while streaming results."


class _InvalidData(Exception):
    """Binding failures; named like .NET's InvalidDataException in detailed errors."""


_InvalidData.__name__ = "InvalidDataException"


class UploadStream(Iterator[Any]):
    """A client-to-server stream as the hub method sees it: iterate until the client completes it.

    A client-side error ends the iteration with a HubException carrying the client's text.
    """

    __slots__ = ("_queue",)

    _END = object()

    def __init__(self) -> None:
        self._queue: gevent.queue.Queue[Any] = gevent.queue.Queue()

    def __iter__(self) -> UploadStream:
        return self

    def __next__(self) -> Any:
        item = self._queue.get()
        if item is UploadStream._END:
            self._queue.put(item)
            raise StopIteration
        if isinstance(item, HubException):
            self._queue.put(UploadStream._END)
            raise item
        return item

    def put(self, item: Any) -> None:
        self._queue.put(item)

    def end(self, error: str | None = None) -> None:
        self._queue.put(HubException(error) if error else UploadStream._END)


class _StreamCanceled(BaseException):
    """Thrown into a producer that is suspended when the client cancels its stream."""


class StreamRun:
    """One running server-to-client stream, cancellable by CancelInvocation (§3.4)."""

    __slots__ = ("greenlet", "canceled", "in_producer")

    def __init__(self) -> None:
        self.greenlet: gevent.Greenlet | None = None
        self.canceled = False
        self.in_producer = False

    def cancel(self) -> None:
        """Stop the producer where it waits (a sleep, a queue); it stops anyway at its next item."""
        self.canceled = True
        if self.in_producer:
            gevent.get_hub().loop.run_callback(self._interrupt)

    def _interrupt(self) -> None:
        """Runs in the hub, where the producer is suspended: throw into it unless it is writing."""
        greenlet = self.greenlet
        if greenlet is None or greenlet.dead or not self.in_producer:
            return
        if greenlet in WRITING:
            timer = gevent.get_hub().loop.timer(0.01)
            timer.start(self._retry, timer)
            return
        greenlet.throw(_StreamCanceled)

    def _retry(self, timer: Any) -> None:
        timer.close()
        self._interrupt()


class Dispatcher:
    """Runs one hub's methods for its clients."""

    def __init__(self, host: HubHost) -> None:
        self.host = host
        self.methods = host.methods
        self.detailed = host.options.enable_detailed_errors

    def invoke(self, client: ClientConnection, message: InvocationMessage | StreamInvocationMessage) -> None:
        """Validate and start one invocation; called in arrival order."""
        target = message.target
        invocation_id = message.invocation_id or None
        streaming_call = isinstance(message, StreamInvocationMessage)
        stream_ids = list(message.stream_ids or ())
        method = self.methods.get(target.lower())
        if method is None:
            self._reject(
                client, invocation_id, f"{_failed_to_invoke(target)} HubException: Method does not exist."
            )
            return
        arguments = list(message.arguments)
        if not method.accepts(len(arguments)):
            error = _InvalidData(
                f"Invocation provides {len(arguments)} argument(s) but target expects {method.parameter_count}."
            )
            self._reject(client, invocation_id, error_text(_failed_to_invoke(target), error, self.detailed))
            return
        if method.is_streaming and not streaming_call:
            self._reject(
                client,
                invocation_id,
                f"The client attempted to invoke the streaming '{target}' method with a non-streaming invocation.",
            )
            return
        if streaming_call and not method.is_streaming:
            self._reject(
                client,
                invocation_id,
                f"The client attempted to invoke the non-streaming '{target}' method with a streaming invocation.",
            )
            return
        if len(stream_ids) != method.stream_count:
            self._reject(
                client,
                invocation_id,
                f"{_unexpected(target)} HubException: Client sent {len(stream_ids)} stream(s), "
                f"Hub method expects {method.stream_count}.",
            )
            return
        if streaming_call and invocation_id in client.streams:
            self._reject(client, invocation_id, f"Invocation ID '{invocation_id}' is already in use.")
            return
        uploads = [client.open_upload(stream_id) for stream_id in stream_ids]
        arguments = method.bind(arguments, uploads)
        if streaming_call:
            assert invocation_id is not None
            run = StreamRun()
            client.streams[invocation_id] = run
            run.greenlet = gevent.spawn(
                self._stream, client, method, target, invocation_id, arguments, stream_ids, run
            )
        else:
            gevent.spawn(self._call, client, method, target, invocation_id, arguments, stream_ids)

    def _reject(self, client: ClientConnection, invocation_id: str | None, error: str) -> None:
        if invocation_id:
            client.send_message(CompletionMessage.with_error(invocation_id, error))

    def _call(
        self,
        client: ClientConnection,
        method: HubMethod,
        target: str,
        invocation_id: str | None,
        arguments: Sequence[Any],
        stream_ids: Sequence[str],
    ) -> None:
        hub = self.host.create_hub(client)
        try:
            result = method.function(hub, *arguments)
        except Exception as error:
            self._log_failure(target, error)
            completion = (
                CompletionMessage.with_error(invocation_id, error_text(_unexpected(target), error, self.detailed))
                if invocation_id
                else None
            )
        else:
            completion = CompletionMessage.with_result(invocation_id, result) if invocation_id else None
        finally:
            client.close_uploads(stream_ids)
        if completion is None or invocation_id is None:
            return
        try:
            client.send_message(completion)
        except HubProtocolError as error:
            self._log_failure(target, error)
            client.send_message(
                CompletionMessage.with_error(invocation_id, error_text(_unexpected(target), error, self.detailed))
            )

    def _stream(
        self,
        client: ClientConnection,
        method: HubMethod,
        target: str,
        invocation_id: str,
        arguments: Sequence[Any],
        stream_ids: Sequence[str],
        run: StreamRun,
    ) -> None:
        hub = self.host.create_hub(client)
        error: str | None = None
        iterator: Iterator[Any] | None = None
        try:
            try:
                iterator = iter(method.function(hub, *arguments))
            except Exception as failure:
                self._log_failure(target, failure)
                error = error_text(_unexpected(target), failure, self.detailed)
                return
            while not run.canceled:
                run.in_producer = True
                try:
                    item = next(iterator)
                except StopIteration:
                    break
                finally:
                    run.in_producer = False
                if run.canceled:
                    break
                client.send_message(StreamItemMessage(invocation_id=invocation_id, item=item))
        except _StreamCanceled:
            pass
        except Exception as failure:
            self._log_failure(target, failure)
            error = error_text(STREAMING_ERROR, failure, self.detailed)
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                try:
                    close()
                except Exception as failure:
                    self._log_failure(target, failure)
            client.streams.pop(invocation_id, None)
            client.close_uploads(stream_ids)
            if error is not None:
                client.send_message(CompletionMessage.with_error(invocation_id, error))
            else:
                client.send_message(CompletionMessage.empty(invocation_id))

    @staticmethod
    def _log_failure(target: str, error: BaseException) -> None:
        if isinstance(error, HubException):
            logger.debug("hub method %r raised HubException: %s", target, error)
        else:
            logger.error("hub method %r failed", target, exc_info=error)
