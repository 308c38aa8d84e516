"""The hub method table: which methods clients can call, and how arguments bind (hub-protocol §3.2)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import pytest

from flask_azure_signalr.exceptions import ConfigurationError
from flask_azure_signalr.hub import Hub, HubCallerContext, hub_method, method_table


class Sample(Hub):
    def echo(self, value):
        return value

    def add(self, a: int, b: int = 1) -> int:
        return a + b

    def many(self, *values):
        return values

    def counter(self, n: int):
        yield from range(n)

    def lazy(self) -> Iterator[int]:
        return iter(())

    def upload(self, first: str, items: Iterator[int], more: "Iterable[str]", last: int) -> None:
        pass

    @hub_method("SendMessage")
    def send_message(self, text: str) -> None:
        pass

    @staticmethod
    def helper() -> None:
        pass

    @classmethod
    def factory(cls) -> None:
        pass

    def _private(self) -> None:
        pass


def test_names_are_case_insensitive_and_hooks_are_not_invocable():
    table = method_table(Sample)
    assert set(table) == {"echo", "add", "many", "counter", "lazy", "upload", "sendmessage"}
    assert table["sendmessage"].name == "SendMessage"
    assert method_table(Sample) is table


def test_argument_counts():
    table = method_table(Sample)
    assert table["echo"].accepts(1) and not table["echo"].accepts(0) and not table["echo"].accepts(2)
    assert table["add"].accepts(1) and table["add"].accepts(2) and not table["add"].accepts(3)
    assert table["add"].parameter_count == 2
    assert table["many"].accepts(0) and table["many"].accepts(5)


def test_streaming_results_and_stream_parameters():
    table = method_table(Sample)
    assert table["counter"].is_streaming and table["lazy"].is_streaming
    assert not table["echo"].is_streaming
    upload = table["upload"]
    assert upload.stream_positions == (1, 2) and upload.stream_count == 2
    assert upload.parameter_count == 2
    items, more = iter([1]), iter(["x"])
    assert upload.bind(["a", 9], [items, more]) == ["a", items, more, 9]


def test_duplicate_names_differing_in_case_are_refused():
    class Twice(Hub):
        def ping(self):
            pass

        @hub_method("PING")
        def other(self):
            pass

    with pytest.raises(
        ConfigurationError, match=r"^Duplicate definitions of '(ping|PING)'\. Overloading is not supported\.$"
    ):
        method_table(Twice)


def test_only_hub_subclasses():
    class NotAHub:
        pass

    with pytest.raises(ConfigurationError):
        method_table(NotAHub)
    with pytest.raises(ConfigurationError):
        hub_method("")


def test_caller_context():
    aborted = []
    context = HubCallerContext(
        "c1",
        user_identifier="u1",
        claims=[("role", "a"), ("role", "b")],
        query_string="?x=1&x=2&y=",
        headers={"X-Forwarded-For": ["1.2.3.4"]},
        abort=lambda: aborted.append(True),
    )
    assert context.query.getlist("x") == ["1", "2"] and context.query["y"] == ""
    assert context.headers["x-forwarded-for"] == "1.2.3.4"
    assert context.claim("role") == "a" and context.claim("missing") is None
    context.items["k"] = 1
    assert context.items == {"k": 1}
    context.abort()
    assert aborted == [True]
