"""Hypothesis strategies for hub messages, shared by the hub protocol tests.

Values are drawn so that a round trip is exact: lists (not tuples), non-empty ids and errors
(both codecs drop empty ones, as .NET does), and for MessagePack also bytes and UTC datetimes.
"""

from __future__ import annotations

import datetime as dt

from hypothesis import strategies as st

from flask_azure_signalr.protocol.hub_messages import (
    PING,
    AckMessage,
    CancelInvocationMessage,
    CloseMessage,
    CompletionMessage,
    InvocationMessage,
    SequenceMessage,
    StreamInvocationMessage,
    StreamItemMessage,
)

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)

JSON_VALUES = st.recursive(
    _scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(max_size=8), children, max_size=4),
    ),
    max_leaves=12,
)

_utc_datetimes = st.datetimes(
    min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2200, 1, 1), timezones=st.just(dt.timezone.utc)
)

MSGPACK_VALUES = st.recursive(
    st.one_of(_scalars, st.binary(max_size=20), _utc_datetimes),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(max_size=8), children, max_size=4),
    ),
    max_leaves=12,
)

_ids = st.text(min_size=1, max_size=12)
_headers = st.one_of(st.none(), st.dictionaries(st.text(max_size=8), st.text(max_size=8), min_size=1, max_size=3))
_stream_ids = st.lists(_ids, max_size=3).map(tuple)
_sequence_ids = st.integers(min_value=-(2**63), max_value=2**63 - 1)


def hub_messages(values: st.SearchStrategy) -> st.SearchStrategy:
    """Any hub message of types 1-9 whose payload values come from ``values``."""
    arguments = st.lists(values, max_size=4)
    completion = st.one_of(
        st.builds(CompletionMessage, invocation_id=_ids, headers=_headers),
        st.builds(CompletionMessage, invocation_id=_ids, result=values, has_result=st.just(True), headers=_headers),
        st.builds(CompletionMessage, invocation_id=_ids, error=_ids, headers=_headers),
    )
    return st.one_of(
        st.builds(
            InvocationMessage,
            target=_ids,
            arguments=arguments,
            invocation_id=st.one_of(st.none(), _ids),
            stream_ids=_stream_ids,
            headers=_headers,
        ),
        st.builds(StreamItemMessage, invocation_id=_ids, item=values, headers=_headers),
        completion,
        st.builds(
            StreamInvocationMessage,
            invocation_id=_ids,
            target=_ids,
            arguments=arguments,
            stream_ids=_stream_ids,
            headers=_headers,
        ),
        st.builds(CancelInvocationMessage, invocation_id=_ids, headers=_headers),
        st.just(PING),
        st.builds(CloseMessage, error=st.one_of(st.none(), _ids), allow_reconnect=st.booleans()),
        st.builds(AckMessage, sequence_id=_sequence_ids),
        st.builds(SequenceMessage, sequence_id=_sequence_ids),
    )


JSON_MESSAGES = hub_messages(JSON_VALUES)
MSGPACK_MESSAGES = hub_messages(MSGPACK_VALUES)


def cut(data, points: list[int]) -> list:
    """``data`` split at the given offsets (clamped and sorted), keeping empty pieces."""
    offsets = sorted(min(max(p, 0), len(data)) for p in points)
    pieces = []
    start = 0
    for offset in offsets:
        pieces.append(data[start:offset])
        start = offset
    pieces.append(data[start:])
    return pieces
