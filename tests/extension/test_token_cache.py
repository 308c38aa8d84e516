"""Tokens signed within one second are reused only when every input is the same, so a reused token
is byte for byte the one a fresh signature would give."""

from __future__ import annotations

from datetime import timedelta

import pytest

from flask_azure_signalr import tokens
from flask_azure_signalr.endpoints import ServiceEndpoint
from flask_azure_signalr.tokens import (
    encode_token,
    generate_client_token,
    generate_server_token,
)

from .conftest import EXAMPLE_CONNECTION_STRING

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")

NOW = 1700000000.25
HUB = "myapp_chathub"
CLAIMS = {"asrs.s.uid": "alice", "role": ["admin", "editor"]}


@pytest.fixture
def endpoint() -> ServiceEndpoint:
    return ServiceEndpoint(EXAMPLE_CONNECTION_STRING)


@pytest.fixture(autouse=True)
def counted_signatures(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every token actually signed (cache misses), on an empty cache."""
    monkeypatch.setattr(tokens, "_recent", {})
    signed: list[str] = []

    def counting(*args, **kwargs):
        token = encode_token(*args, **kwargs)
        signed.append(token)
        return token

    monkeypatch.setattr(tokens, "encode_token", counting)
    return signed


def test_same_inputs_within_a_second_sign_once(endpoint, counted_signatures) -> None:
    first = generate_client_token(endpoint, HUB, CLAIMS, now=NOW)
    again = generate_client_token(endpoint, HUB, dict(CLAIMS), now=NOW + 0.7)
    assert again == first
    assert counted_signatures == [first]


def test_reused_token_equals_a_fresh_one(endpoint, monkeypatch) -> None:
    generate_client_token(endpoint, HUB, CLAIMS, now=NOW)
    cached = generate_client_token(endpoint, HUB, CLAIMS, now=NOW)
    monkeypatch.setattr(tokens, "_recent", {})
    assert generate_client_token(endpoint, HUB, CLAIMS, now=NOW) == cached


@pytest.mark.parametrize(
    "change",
    [
        {"now": NOW + 1},
        {"claims": {"asrs.s.uid": "bob", "role": ["admin", "editor"]}},
        {"claims": {"role": ["admin", "editor"], "asrs.s.uid": "alice"}},  # claim order is in the bytes
        {"claims": {"asrs.s.uid": "alice", "role": "admin,editor"}},
        {"hub": "myapp_other"},
        {"lifetime": timedelta(minutes=5)},
        {"algorithm": "HS512"},
        {"kid": "other"},
        {"endpoint": ServiceEndpoint("Endpoint=https://contoso.service.signalr.net;AccessKey=other-key;Version=1.0;")},
    ],
)
def test_any_different_input_signs_anew(endpoint, counted_signatures, change) -> None:
    base = {"endpoint": endpoint, "hub": HUB, "claims": CLAIMS, "now": NOW, "lifetime": timedelta(hours=1),
            "algorithm": "HS256", "kid": None}
    first = generate_client_token(base["endpoint"], base["hub"], base["claims"], now=base["now"])
    changed = {**base, **change}
    second = generate_client_token(
        changed["endpoint"], changed["hub"], changed["claims"], now=changed["now"],
        lifetime=changed["lifetime"], algorithm=changed["algorithm"], kid=changed["kid"],
    )
    assert second != first
    assert counted_signatures == [first, second]


def test_a_fractional_lifetime_keys_on_the_expiry_second(endpoint, counted_signatures) -> None:
    lifetime = timedelta(seconds=0.5)
    early = generate_client_token(endpoint, HUB, CLAIMS, now=1700000000.1, lifetime=lifetime)
    late = generate_client_token(endpoint, HUB, CLAIMS, now=1700000000.9, lifetime=lifetime)
    assert early != late  # same second signed, but exp 1700000000 vs 1700000001
    assert len(counted_signatures) == 2


def test_claims_of_other_types_are_never_reused(endpoint, counted_signatures) -> None:
    one = generate_client_token(endpoint, HUB, {"flag": True}, now=NOW)
    other = generate_client_token(endpoint, HUB, {"flag": 1}, now=NOW)
    assert one != other  # True == 1 in Python, but "true" and "1" in JSON
    assert len(counted_signatures) == 2


def test_client_and_server_tokens_do_not_mix(endpoint, counted_signatures) -> None:
    client = generate_client_token(endpoint, HUB, {"nameid": "s1"}, now=NOW)
    server = generate_server_token(endpoint, HUB, server_id="s1", now=NOW)
    assert client != server
    assert len(counted_signatures) == 2
