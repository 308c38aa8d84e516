"""Service-protocol test material: the shared vector file and Hypothesis strategies for every message."""

from __future__ import annotations

import base64
import dataclasses
import json
import os
from functools import cache
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from flask_azure_signalr.protocol.service import (
    MESSAGE_TYPES,
    CloseConnection,
    HandshakeRequest,
    ServiceError,
    ServiceEvent,
    ServiceMessage,
)


def shared_folder() -> Path:
    """``shared/`` beside the repository root (as CI lays it out), or ``$FLASK_AZURE_SIGNALR_SHARED``."""
    override = os.environ.get("FLASK_AZURE_SIGNALR_SHARED")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2].parent / "shared"


@cache
def vectors() -> tuple[dict[str, Any], ...]:
    """The 115 vectors of ServiceProtocolFacts.cs (service-protocol §11)."""
    path = shared_folder() / "vectors" / "service-protocol.json"
    return tuple(json.loads(path.read_text(encoding="utf-8")))


def message_from_fields(type_id: int, fields: dict[str, Any]) -> ServiceMessage:
    """The message a vector's ``fields`` describe (bytes are base64, lists become tuples)."""
    values: dict[str, Any] = {}
    for name, value in fields.items():
        if name == "payload_b64":
            values["payload"] = base64.b64decode(value)
        elif name == "payloads_b64":
            values["payloads"] = {protocol: base64.b64decode(data) for protocol, data in value.items()}
        elif name == "claims":
            values["claims"] = tuple((claim_type, claim_value) for claim_type, claim_value in value)
        elif name == "headers":
            values["headers"] = {header: tuple(items) for header, items in value.items()}
        elif isinstance(value, list):
            values[name] = tuple(value)
        else:
            values[name] = value
    return MESSAGE_TYPES[type_id](**values)


INT32 = st.integers(-(2**31), 2**31 - 1)
UINT64 = st.integers(0, 2**64 - 1)
TEXT = st.text(max_size=12)
OPTIONAL_TEXT = st.none() | TEXT
STRINGS = st.lists(OPTIONAL_TEXT, max_size=4).map(tuple)
PAYLOADS = st.dictionaries(TEXT, st.binary(max_size=40), max_size=3)

_BY_FIELD: dict[str, st.SearchStrategy[Any]] = {
    "tracing_id": st.none() | UINT64,
    "ttl": st.none() | INT32,
    "protocol": OPTIONAL_TEXT,
    "filter": OPTIONAL_TEXT,
    "data_message_type": INT32,
    "is_partial": st.booleans(),
    "ack_id": INT32,
    "status": INT32,
    "version": INT32,
    "migration_level": INT32,
    "type": INT32,
    "kind": INT32,
    "payload": st.binary(max_size=60),
    "payloads": PAYLOADS,
    "claims": st.lists(st.tuples(st.sampled_from(["role", "sub", "name"]) | TEXT, TEXT), max_size=4).map(
        tuple
    ),
    "headers": st.dictionaries(TEXT, STRINGS, max_size=3),
    "messages": STRINGS,
    "connection_list": STRINGS,
    "user_list": STRINGS,
    "group_list": STRINGS,
    "excluded_list": STRINGS,
    "excluded_user_list": STRINGS,
}

#: Strings the C# constructors turn from null into "" (so None does not round-trip).
_NEVER_NONE = {
    (CloseConnection, "error_message"),
    (ServiceError, "error_message"),
    (ServiceEvent, "message"),
}


def _handshake_requests() -> st.SearchStrategy[HandshakeRequest]:
    """The writer puts "" in the target slot of a default connection (§3.2 #1)."""

    def build(connection_type: int, target: str, version: int, migration_level: int) -> HandshakeRequest:
        return HandshakeRequest(version, connection_type, target if connection_type else "", migration_level)

    return st.builds(build, INT32, TEXT, INT32, INT32)


def messages_of(cls: type[ServiceMessage]) -> st.SearchStrategy[ServiceMessage]:
    """Any message of ``cls`` that the writer can express (so it survives a round trip)."""
    if cls is HandshakeRequest:
        return _handshake_requests()
    arguments = {}
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        if (cls, field.name) in _NEVER_NONE:
            arguments[field.name] = TEXT
        else:
            arguments[field.name] = _BY_FIELD.get(field.name, OPTIONAL_TEXT)
    return st.builds(cls, **arguments)


def any_message() -> st.SearchStrategy[ServiceMessage]:
    return st.one_of([messages_of(cls) for cls in MESSAGE_TYPES.values()])
