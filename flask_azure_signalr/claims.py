"""Client-token claims: who the negotiating user is, and how the SDK writes that into a JWT
(auth-negotiate-options §2.4-§2.6, Appendix A; aspnet-classic §4.1).

The user comes from Flask-Login's ``current_user`` when the app uses Flask-Login (``get_id()`` is
the user id, an optional loader adds claims), and/or from the ``claims_provider(request)`` option,
which replaces the user's claims as ``ClaimsProvider`` does in the C# SDK.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from flask import current_app

try:
    import flask_login
except ImportError:  # Flask-Login is an optional extra
    flask_login = None

__all__ = [
    "ClaimTypes",
    "ClaimsLike",
    "SHORT_CLAIM_TYPES",
    "RESERVED_CLAIM_TYPES",
    "CLASSIC_SDK_VERSION",
    "UserIdentity",
    "normalize_claims",
    "jwt_user_claims",
    "build_client_claims",
    "request_identity",
]

#: Claims as an application writes them: ``(type, value)`` pairs in order, or a mapping whose
#: values may be lists (one claim per item). ``None`` values are skipped.
ClaimsLike = Iterable[tuple[str, Any]] | Mapping[str, Any]


class ClaimTypes:
    """The .NET ``ClaimTypes`` URIs an application is most likely to use; the token carries their
    short JWT names (``nameid``, ``unique_name``, ``role``, ``email``)."""

    NAME_IDENTIFIER = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier"
    NAME = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"
    ROLE = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"
    EMAIL = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"
    GIVEN_NAME = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname"
    SURNAME = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname"


#: Claim types a user claim may not take: they are renamed ``asrs.u.<type>`` (§2.6).
RESERVED_CLAIM_TYPES = frozenset(
    {"aud", "exp", "iat", "nbf", "iss", "actort", "acr", "azp", "c_hash", "jti", "nonce"}
)

#: The version sent as ``asrs.s.vn`` by classic apps; the service needs >= 1.0.9 to apply the
#: ``{app}_{hub}`` naming (aspnet-classic §4.1), so we send the fact sheet's SDK baseline.
CLASSIC_SDK_VERSION = "1.25.1.0"

_WS = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/"
_MS = "http://schemas.microsoft.com/ws/2008/06/identity/claims/"
_ID = "http://schemas.microsoft.com/identity/claims/"
_CERT = "http://schemas.microsoft.com/2012/12/certificatecontext/"
_REQ = "http://schemas.microsoft.com/2012/01/requestcontext/claims/"
_DEV = "http://schemas.microsoft.com/2012/01/devicecontext/claims/"

#: Appendix A: long .NET claim types and the short names the SDK writes (exact, case-sensitive).
SHORT_CLAIM_TYPES: Mapping[str, str] = {
    "http://schemas.xmlsoap.org/ws/2009/09/identity/claims/actor": "actort",
    _WS + "dateofbirth": "birthdate",
    _WS + "emailaddress": "email",
    _WS + "surname": "family_name",
    _WS + "gender": "gender",
    _WS + "givenname": "given_name",
    _WS + "nameidentifier": "nameid",
    _WS + "webpage": "website",
    _WS + "name": "unique_name",
    _ID + "objectidentifier": "oid",
    _ID + "scope": "scp",
    _ID + "tenantid": "tid",
    "http://schemas.microsoft.com/claims/authnclassreference": "acr",
    "http://schemas.xmlsoap.org/claims/EmailAddress": "adfs1email",
    "http://schemas.xmlsoap.org/claims/UPN": "adfs1upn",
    "http://schemas.microsoft.com/claims/authnmethodsreferences": "amr",
    _MS + "authenticationmethod": "authmethod",
    _CERT + "extension/applicationpolicy": "certapppolicy",
    _CERT + "extension/authoritykeyidentifier": "certauthoritykeyidentifier",
    _CERT + "extension/basicconstraints": "certbasicconstraints",
    _CERT + "extension/eku": "certeku",
    _CERT + "field/issuer": "certissuer",
    _CERT + "field/issuername": "certissuername",
    _CERT + "extension/keyusage": "certkeyusage",
    _CERT + "field/notafter": "certnotafter",
    _CERT + "field/notbefore": "certnotbefore",
    _CERT + "extension/certificatepolicy": "certpolicy",
    _WS + "rsa": "certpublickey",
    _CERT + "field/rawdata": "certrawdata",
    _MS + "serialnumber": "certserialnumber",
    _CERT + "field/signaturealgorithm": "certsignaturealgorithm",
    _CERT + "field/subject": "certsubject",
    _CERT + "extension/san": "certsubjectaltname",
    _CERT + "extension/subjectkeyidentifier": "certsubjectkeyidentifier",
    _CERT + "field/subjectname": "certsubjectname",
    _CERT + "extension/certificatetemplateinformation": "certtemplateinformation",
    _CERT + "extension/certificatetemplatename": "certtemplatename",
    _WS + "thumbprint": "certthumbprint",
    _CERT + "field/x509version": "certx509version",
    _REQ + "x-ms-client-application": "clientapplication",
    _REQ + "x-ms-client-ip": "clientip",
    _REQ + "x-ms-client-user-agent": "clientuseragent",
    "http://schemas.xmlsoap.org/claims/CommonName": "commonname",
    _MS + "denyonlyprimarygroupsid": "denyonlyprimarygroupsid",
    _MS + "denyonlyprimarysid": "denyonlyprimarysid",
    _WS + "denyonlysid": "denyonlysid",
    _DEV + "displayname": "devicedispname",
    _DEV + "identifier": "deviceid",
    _DEV + "ismanaged": "deviceismanaged",
    _DEV + "ostype": "deviceostype",
    _DEV + "osversion": "deviceosver",
    _DEV + "userowner": "deviceowner",
    _DEV + "registrationid": "deviceregid",
    _REQ + "x-ms-endpoint-absolute-path": "endpointpath",
    _REQ + "x-ms-forwarded-client-ip": "forwardedclientip",
    "http://schemas.xmlsoap.org/claims/Group": "group",
    _MS + "groupsid": "groupsid",
    _ID + "identityprovider": "idp",
    "http://schemas.microsoft.com/ws/2012/01/insidecorporatenetwork": "insidecorporatenetwork",
    _DEV + "isregistereduser": "isregistereduser",
    _WS + "privatepersonalidentifier": "ppid",
    _MS + "primarygroupsid": "primarygroupsid",
    _MS + "primarysid": "primarysid",
    _REQ + "x-ms-proxy": "proxy",
    "http://schemas.microsoft.com/ws/2012/01/passwordchangeurl": "pwdchgurl",
    "http://schemas.microsoft.com/ws/2012/01/passwordexpirationdays": "pwdexpdays",
    "http://schemas.microsoft.com/ws/2012/01/passwordexpirationtime": "pwdexptime",
    _REQ + "relyingpartytrustid": "relyingpartytrustid",
    _MS + "role": "role",
    _WS + "upn": "upn",
    _MS + "windowsaccountname": "winaccountname",
}

#: An identity whose name/role claim types differ from these is announced with ``asrs.s.nt``/``rt``.
DEFAULT_NAME_CLAIM_TYPE = ClaimTypes.NAME
DEFAULT_ROLE_CLAIM_TYPE = ClaimTypes.ROLE

#: What a Flask-Login session is called in ``asrs.s.aut`` (ASP.NET Core's cookie scheme name).
FLASK_LOGIN_AUTHENTICATION_TYPE = "Cookies"


def normalize_claims(claims: ClaimsLike | None) -> list[tuple[str, str]]:
    """``(type, value)`` string pairs in order; list values expand to one claim per item."""
    if claims is None:
        return []
    items = claims.items() if isinstance(claims, Mapping) else claims
    pairs: list[tuple[str, str]] = []
    for claim_type, value in items:
        values = value if isinstance(value, (list, tuple)) else [value]
        pairs.extend((str(claim_type), _claim_value(v)) for v in values if v is not None)
    return pairs


def _claim_value(value: Any) -> str:
    if isinstance(value, (str, int, float)):
        return str(value)
    raise TypeError(f"a claim value must be a string or a number, not {type(value).__name__}")


def jwt_user_claims(claims: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Rename and shorten user claim types as the SDK does (§2.6): the first ``sub`` stays, later
    ones and reserved names become ``asrs.u.<type>``; long .NET types get their short names."""
    result = []
    seen_sub = False
    for claim_type, value in claims:
        if claim_type == "sub" and not seen_sub:
            seen_sub = True
            result.append((claim_type, value))
        elif claim_type == "sub" or claim_type in RESERVED_CLAIM_TYPES:
            result.append((f"asrs.u.{claim_type}", value))
        else:
            result.append((SHORT_CLAIM_TYPES.get(claim_type, claim_type), value))
    return result


def build_client_claims(
    user_claims: Iterable[tuple[str, str]] = (),
    *,
    user_id: str | None = None,
    classic: bool = False,
    application_name: str | None = None,
    sdk_version: str = CLASSIC_SDK_VERSION,
    server_name: str | None = None,
    sticky_mode: str = "Disabled",
    diagnostic_client: bool = False,
    handshake_timeout: int | None = None,
    authentication_type: str | None = None,
    endpoint_count: int = 0,
    detailed_errors: bool = False,
    name_claim_type: str | None = None,
    role_claim_type: str | None = None,
    max_poll_interval: int | None = None,
    transport_types: int | None = None,
) -> dict[str, str | list[str]]:
    """The claims of a client token before ``nbf/exp/iat/aud``, in the SDK's order (§2.4, §2.5).

    Every service claim is a string. ``handshake_timeout`` (seconds) is emitted only in 1..30 and
    not 15; ``transport_types`` is the WebSockets=1/ServerSentEvents=2/LongPolling=4 bitmask; both
    are ASP.NET Core only. Duplicate user claim types become one array at the first position.
    """
    system: list[tuple[str, str]] = []
    if classic:
        system.append(("asrs.s.apn", application_name or ""))
        system.append(("asrs.s.vn", sdk_version))
    if user_id is not None:
        system.append(("asrs.s.uid", user_id))
    if sticky_mode != "Disabled" and server_name:
        system.append(("asrs.s.sn", server_name))
        system.append(("asrs.s.ssticky", sticky_mode))
    if diagnostic_client:
        system.append(("asrs.s.dc", "true"))
    if not classic and handshake_timeout is not None and 1 <= handshake_timeout <= 30:
        if handshake_timeout != 15:
            system.append(("asrs.s.cht", str(handshake_timeout)))
    if authentication_type is not None and authentication_type != "Bearer":
        system.append(("asrs.s.aut", authentication_type))
    if endpoint_count > 1:
        system.append(("asrs.s.secn", str(endpoint_count)))
    if detailed_errors:
        system.append(("asrs.s.derror", "True"))
    if name_claim_type is not None and name_claim_type != DEFAULT_NAME_CLAIM_TYPE:
        system.append(("asrs.s.nt", name_claim_type))
    if role_claim_type is not None and role_claim_type != DEFAULT_ROLE_CLAIM_TYPE:
        system.append(("asrs.s.rt", role_claim_type))
    if max_poll_interval is not None:
        system.append(("asrs.s.ttl", str(max_poll_interval)))
    if not classic and transport_types is not None:
        system.append(("asrs.s.htt", str(transport_types)))

    merged: dict[str, str | list[str]] = {}
    for claim_type, value in [*system, *jwt_user_claims(user_claims)]:
        existing = merged.get(claim_type)
        if existing is None:
            merged[claim_type] = value
        elif isinstance(existing, list):
            existing.append(value)
        else:
            merged[claim_type] = [existing, value]
    return merged


@dataclass(frozen=True)
class UserIdentity:
    """The negotiating user as the SDK sees it: id, claims in order, and authentication facts."""

    user_id: str | None = None
    claims: tuple[tuple[str, str], ...] = ()
    authentication_type: str | None = None
    is_authenticated: bool = False


def request_identity(
    request: Any,
    *,
    claims_provider: Callable[[Any], ClaimsLike | None] | None = None,
    user_claims_loader: Callable[[Any], ClaimsLike | None] | None = None,
) -> UserIdentity:
    """The identity of the current request.

    With Flask-Login set up on the app, an authenticated ``current_user`` gives the user id
    (``get_id()``), a name-identifier claim with it, and whatever ``user_claims_loader(user)``
    returns. ``claims_provider(request)`` replaces those claims; without Flask-Login its
    name-identifier claim (long or ``nameid`` form) is the user id, and having one means "signed in".
    """
    login_user = _flask_login_user()
    user_id = None
    claims: list[tuple[str, str]] = []
    authentication_type = None
    if login_user is not None and login_user.is_authenticated:
        user_id = str(login_user.get_id())
        authentication_type = FLASK_LOGIN_AUTHENTICATION_TYPE
        claims = [(ClaimTypes.NAME_IDENTIFIER, user_id)]
        if user_claims_loader is not None:
            claims.extend(normalize_claims(user_claims_loader(login_user)))
    if claims_provider is not None:
        claims = normalize_claims(claims_provider(request))
        if login_user is None:
            user_id = next(
                (v for t, v in claims if t in (ClaimTypes.NAME_IDENTIFIER, "nameid")), None
            )
    if login_user is not None:
        authenticated = bool(login_user.is_authenticated)
    else:
        authenticated = user_id is not None
    return UserIdentity(
        user_id=user_id,
        claims=tuple(claims),
        authentication_type=authentication_type,
        is_authenticated=authenticated,
    )


def _flask_login_user() -> Any:
    """Flask-Login's ``current_user`` if Flask-Login manages this app, else None."""
    if flask_login is None or getattr(current_app, "login_manager", None) is None:
        return None
    return flask_login.current_user._get_current_object()
