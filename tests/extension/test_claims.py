"""Client-token claims: service claims, order and formats, user-claim renaming and shortening
(auth-negotiate-options §2.4-§2.6, Appendix A)."""

from __future__ import annotations

import pytest

from flask_azure_signalr.claims import (
    SHORT_CLAIM_TYPES,
    ClaimTypes,
    build_client_claims,
    jwt_user_claims,
    normalize_claims,
)

ALL_CORE = dict(
    user_id="u",
    server_name="srv",
    sticky_mode="Required",
    diagnostic_client=True,
    handshake_timeout=2,
    authentication_type="Cookies",
    endpoint_count=2,
    detailed_errors=True,
    name_claim_type="name",
    role_claim_type="roles",
    max_poll_interval=7,
    transport_types=5,
)


def test_every_core_service_claim_in_sdk_order_and_string_form() -> None:
    claims = build_client_claims([("tenant", "t")], **ALL_CORE)
    assert list(claims.items()) == [
        ("asrs.s.uid", "u"),
        ("asrs.s.sn", "srv"),
        ("asrs.s.ssticky", "Required"),
        ("asrs.s.dc", "true"),
        ("asrs.s.cht", "2"),
        ("asrs.s.aut", "Cookies"),
        ("asrs.s.secn", "2"),
        ("asrs.s.derror", "True"),
        ("asrs.s.nt", "name"),
        ("asrs.s.rt", "roles"),
        ("asrs.s.ttl", "7"),
        ("asrs.s.htt", "5"),
        ("tenant", "t"),
    ]


def test_classic_adds_apn_and_vn_first_and_drops_core_only_claims() -> None:
    claims = build_client_claims(classic=True, application_name="MyApp", **ALL_CORE)
    keys = list(claims)
    assert keys[:3] == ["asrs.s.apn", "asrs.s.vn", "asrs.s.uid"]
    assert claims["asrs.s.apn"] == "MyApp" and claims["asrs.s.vn"] == "1.25.1.0"
    assert "asrs.s.cht" not in claims and "asrs.s.htt" not in claims


def test_defaults_emit_nothing() -> None:
    assert build_client_claims() == {}


@pytest.mark.parametrize(
    ("kwargs", "absent"),
    [
        (dict(sticky_mode="Disabled", server_name="s"), "asrs.s.sn"),
        (dict(sticky_mode="Preferred", server_name=""), "asrs.s.ssticky"),
        (dict(handshake_timeout=15), "asrs.s.cht"),
        (dict(handshake_timeout=31), "asrs.s.cht"),
        (dict(authentication_type="Bearer"), "asrs.s.aut"),
        (dict(endpoint_count=1), "asrs.s.secn"),
        (dict(name_claim_type=ClaimTypes.NAME), "asrs.s.nt"),
        (dict(role_claim_type=ClaimTypes.ROLE), "asrs.s.rt"),
    ],
)
def test_conditions_that_suppress_a_claim(kwargs: dict, absent: str) -> None:
    assert absent not in build_client_claims(**kwargs)


def test_empty_user_id_is_still_emitted() -> None:
    assert build_client_claims(user_id="") == {"asrs.s.uid": ""}


def test_user_claim_renaming_and_shortening() -> None:
    renamed = jwt_user_claims(
        [
            ("sub", "first"),
            ("sub", "second"),
            ("aud", "a"),
            ("nonce", "n"),
            ("http://schemas.microsoft.com/claims/authnclassreference", "acr-long"),
            (ClaimTypes.NAME_IDENTIFIER, "id"),
            (ClaimTypes.NAME, "Name"),
            (ClaimTypes.EMAIL, "e@x"),
            ("Http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name", "case"),
            ("custom", "c"),
        ]
    )
    assert renamed == [
        ("sub", "first"),
        ("asrs.u.sub", "second"),
        ("asrs.u.aud", "a"),
        ("asrs.u.nonce", "n"),
        ("acr", "acr-long"),
        ("nameid", "id"),
        ("unique_name", "Name"),
        ("email", "e@x"),
        ("Http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name", "case"),
        ("custom", "c"),
    ]


def test_short_claim_table_is_complete() -> None:
    assert len(SHORT_CLAIM_TYPES) == 71
    assert SHORT_CLAIM_TYPES[ClaimTypes.ROLE] == "role"
    assert (
        SHORT_CLAIM_TYPES[
            "http://schemas.microsoft.com/ws/2008/06/identity/claims/windowsaccountname"
        ]
        == "winaccountname"
    )
    assert len(set(SHORT_CLAIM_TYPES.values())) == len(SHORT_CLAIM_TYPES)


def test_duplicates_become_an_array_at_the_first_position() -> None:
    claims = build_client_claims(
        [
            (ClaimTypes.ROLE, "admin"),
            ("x", "1"),
            (ClaimTypes.ROLE, "editor"),
            (ClaimTypes.ROLE, "v"),
        ]
    )
    assert list(claims.items()) == [("role", ["admin", "editor", "v"]), ("x", "1")]


def test_normalize_claims_accepts_pairs_and_mappings() -> None:
    assert normalize_claims({"role": ["a", "b"], "n": 3, "skip": None}) == [
        ("role", "a"),
        ("role", "b"),
        ("n", "3"),
    ]
    assert normalize_claims([("a", "1")]) == [("a", "1")]
    assert normalize_claims(None) == []
    with pytest.raises(TypeError, match="claim value"):
        normalize_claims({"bad": object()})
