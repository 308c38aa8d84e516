"""The negotiate blueprint: sends SignalR clients on to the service with an access token
(auth-negotiate-options §3.1, §3.2; aspnet-classic §1.3).

ASP.NET Core clients ``POST {hub path}/negotiate`` and get ``{"url", "accessToken"}``; classic
(jQuery) clients ``GET {classic path}/negotiate`` and get ``{"ProtocolVersion": "2.0", "RedirectUrl",
"AccessToken", "TryWebSockets"}``. Under the classic path, ``…/hubs`` and ``…/js`` serve the
generated hub proxy script for the registered hubs (aspnet-classic §3); anything else answers 404
``NotFound`` like the C# SDK.
"""

from __future__ import annotations

import base64
import inspect
import json
import re
import time
from typing import Any
from urllib.parse import parse_qsl, quote

from flask import Blueprint, Response, abort, current_app, request

from .claims import UserIdentity, build_client_claims, request_identity
from .classic_proxy import PROXY_CONTENT_TYPE, generate_proxy, proxy_base_path
from .endpoints import NOT_CONNECTED_MESSAGE, ServiceEndpoint, dotnet_url_encode
from .exceptions import AccessTokenError, ServiceConnectionError
from .hub import method_table
from .options import ServiceOptions
from .registry import HubRegistration
from .tokens import generate_client_token

__all__ = ["create_blueprint", "default_request_id", "BLUEPRINT_NAME"]

BLUEPRINT_NAME = "azure_signalr"
EXTENSION_KEY = "azure_signalr"

NO_ENDPOINT_MESSAGE = "Unable to get the negotiate endpoint"
JSONP_MESSAGE = "JSONP is no longer supported."
_NEGOTIATE_SUFFIX = "/negotiate"
# Classic query parameters that stay with the app and are not passed on to the service (§3.2).
_CLASSIC_PRIVATE_PARAMETERS = frozenset({"clientprotocol", "connectiontoken", "connectiondata"})
_VERSION = re.compile(r"\s*([0-9]+)\.([0-9]+)(?:\.[0-9]+){0,2}\s*")


def default_request_id() -> str:
    """Base64 of an 8-byte little-endian timestamp, the shape of the SDK's default request id."""
    ticks = time.perf_counter_ns() // 100
    return base64.b64encode((ticks & (2**64 - 1)).to_bytes(8, "little")).decode("ascii")


def create_blueprint(options: ServiceOptions) -> Blueprint:
    """The negotiate routes for one app; the classic ones only when ``options.classic`` is on."""
    blueprint = Blueprint(BLUEPRINT_NAME, __name__)
    for rule in ("/<path:hub_path>/negotiate", "/<path:hub_path>/negotiate/"):
        blueprint.add_url_rule(rule, "negotiate", _core_negotiate, methods=["GET", "POST"])
    if options.classic:
        blueprint.add_url_rule(
            f"{options.classic_path}/<path:subpath>",
            "classic",
            _classic_dispatch,
            methods=["GET", "POST"],
        )
    if options.cors_origins:
        blueprint.after_request(_add_cors_headers)
    return blueprint


def _text(status: int, body: str = "") -> Response:
    return Response(body, status=status, mimetype="text/plain")


def _json(body: dict[str, Any], content_type: str) -> Response:
    # Compact and in insertion order: Flask's JSON provider would sort the keys.
    text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    return Response(text, status=200, content_type=content_type)


def _extension() -> Any:
    return current_app.extensions[EXTENSION_KEY]


# -- ASP.NET Core clients (§3.1) ------------------------------------------------------------------


def _core_negotiate(hub_path: str) -> Response:
    extension = _extension()
    state = extension.get_state()
    path = "/" + hub_path.rstrip("/")
    registration = next((r for r in extension.hubs.values() if r.path == path), None)
    if registration is None:
        abort(404)

    identity = _identity(extension, state.options)
    refusal = _authorization_failure(registration, identity)
    if refusal is not None:
        return refusal
    if not extension.is_connected(registration.name, current_app):
        return _text(500, NOT_CONNECTED_MESSAGE)
    endpoint = _negotiate_endpoint(state)
    if isinstance(endpoint, Response):
        return endpoint

    hub = state.options.service_hub_name(registration.name)
    # The route guarantees ``.../negotiate[/]``; what precedes it is the hub path the client used.
    original_path = request.path.rstrip("/")[: -len(_NEGOTIATE_SUFFIX)]
    url = f"{endpoint.client_url(hub)}&asrs.op={dotnet_url_encode(original_path)}"
    query = request.query_string.decode("latin-1")
    if query:
        url += f"&{query}"
    url += f"&asrs_request_id={dotnet_url_encode(state.request_id_provider())}"

    claims = _client_claims(state, identity, classic=False)
    try:
        token = generate_client_token(
            endpoint,
            hub,
            claims,
            lifetime=state.options.access_token_lifetime,
            algorithm=state.options.access_token_algorithm,
        )
    except AccessTokenError as exc:
        return _text(413, str(exc))
    body = {"negotiateVersion": 0, "url": url, "accessToken": token, "availableTransports": []}
    return _json(body, "application/json")


# -- classic ASP.NET SignalR clients (§3.2) -------------------------------------------------------


def _classic_dispatch(subpath: str) -> Response:
    local_path = request.script_root + request.path
    if local_path.lower().endswith(_NEGOTIATE_SUFFIX):
        return _classic_negotiate(local_path)
    base = proxy_base_path(local_path)
    if base is not None:
        return Response(generate_proxy(_proxy_hubs(_extension().hubs), url=base), content_type=PROXY_CONTENT_TYPE)
    return _text(404, "NotFound")


def _proxy_hubs(hubs: dict[str, HubRegistration]) -> dict[str, dict[str, list[str]]]:
    """Declared hub name -> method name -> parameter names, for the proxy script (§3).

    Streaming methods are left out: classic clients cannot call them.
    """
    proxies: dict[str, dict[str, list[str]]] = {}
    for registration in hubs.values():
        methods: dict[str, list[str]] = {}
        for method in method_table(registration.hub_class).values():
            if method.is_streaming or method.stream_count:
                continue
            parameters = list(inspect.signature(method.function).parameters.values())[1:]
            positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
            methods[method.name] = [p.name for p in parameters if p.kind in positional]
        proxies[registration.name] = methods
    return proxies


def _classic_negotiate(local_path: str) -> Response:
    extension = _extension()
    state = extension.get_state()
    options: ServiceOptions = state.options
    identity = _identity(extension, options)
    try:
        registrations = _classic_hubs(extension.hubs, request.args.get("connectionData"))
    except ValueError:
        return _text(500)
    refusals = [_authorization_failure(r, identity) for r in registrations]
    if refusals and all(refusal is not None for refusal in refusals):
        return refusals[0]
    # Classic apps negotiate on the application-level connection, whose "hub" is the app name.
    if not extension.is_connected(options.application_name, current_app):
        return _text(500, NOT_CONNECTED_MESSAGE)
    endpoint = _negotiate_endpoint(state)
    if isinstance(endpoint, Response):
        return endpoint

    redirect_url = endpoint.client_url(classic=True)
    version = _VERSION.fullmatch(request.args.get("clientProtocol", ""))
    if version is not None and (int(version[1]), int(version[2])) >= (2, 1):
        pairs = [
            f"{quote(key, safe='')}={quote(value, safe='')}"
            for key, value in parse_qsl(
                request.query_string.decode("latin-1"), keep_blank_values=True
            )
            if key.lower() not in _CLASSIC_PRIVATE_PARAMETERS
        ]
        pairs.append(f"asrs_request_id={quote(state.request_id_provider(), safe='')}")
        redirect_url += "?" + "&".join(pairs)
        original_path = local_path.rstrip("/")
        if original_path.endswith(_NEGOTIATE_SUFFIX):
            original_path = original_path[: -len(_NEGOTIATE_SUFFIX)]
            if original_path:
                redirect_url += f"&asrs.op={dotnet_url_encode(original_path)}"
    if "callback" in request.args:
        return _text(400, JSONP_MESSAGE)

    claims = _client_claims(state, identity, classic=True)
    try:
        token = generate_client_token(
            endpoint,
            None,
            claims,
            lifetime=options.access_token_lifetime,
            algorithm=options.access_token_algorithm,
            classic=True,
        )
    except AccessTokenError as exc:
        return _text(413, str(exc))
    body = {
        "ProtocolVersion": "2.0",
        "RedirectUrl": redirect_url,
        "AccessToken": token,
        "TryWebSockets": True,
    }
    return _json(body, "application/json; charset=UTF-8")


def _classic_hubs(hubs: dict[str, HubRegistration], data: str | None) -> list[HubRegistration]:
    """The hubs named in ``connectionData``; ValueError for bad JSON, unknown or repeated hubs."""
    if not data:
        return []
    entries = json.loads(data)
    if not isinstance(entries, list):
        raise ValueError("connectionData is not a list")
    registrations: list[HubRegistration] = []
    for entry in entries:
        name = entry.get("name") if isinstance(entry, dict) else None
        if not isinstance(name, str) or name.lower() not in hubs:
            raise ValueError(f"'{name}' Hub could not be resolved.")
        registration = hubs[name.lower()]
        if registration in registrations:
            raise ValueError(f"Duplicate hub names found: {name}")
        registrations.append(registration)
    return registrations


# -- shared steps ---------------------------------------------------------------------------------


def _identity(extension: Any, options: ServiceOptions) -> UserIdentity:
    return request_identity(
        request,
        claims_provider=options.claims_provider,
        user_claims_loader=extension.user_claims_callback,
    )


def _authorization_failure(
    registration: HubRegistration, identity: UserIdentity
) -> Response | None:
    """None when the hub admits the user; else 401 (not signed in) or 403 (signed in, refused)."""
    rule = registration.authorize
    if rule is None:
        return None
    if rule is True:
        admitted = identity.is_authenticated
    else:
        admitted = bool(rule())
    if admitted:
        return None
    if identity.is_authenticated:
        return _text(403, "Forbidden")
    return _text(401, "Unauthorized")


def _negotiate_endpoint(state: Any) -> ServiceEndpoint | Response:
    try:
        endpoint = state.router.get_negotiate_endpoint(request, state.endpoints)
    except ServiceConnectionError as exc:
        return _text(500, str(exc))
    if endpoint is None:
        return _text(500, NO_ENDPOINT_MESSAGE)
    return endpoint


def _client_claims(state: Any, identity: UserIdentity, *, classic: bool) -> dict[str, Any]:
    options: ServiceOptions = state.options
    diagnostic = options.diagnostic_client_filter
    detector = options.transport_type_detector
    return build_client_claims(
        identity.claims,
        user_id=identity.user_id,
        classic=classic,
        application_name=options.application_name,
        server_name=state.server_id,
        sticky_mode=options.server_sticky_mode.value,
        diagnostic_client=bool(diagnostic is not None and diagnostic(request)),
        handshake_timeout=options.handshake_timeout,
        authentication_type=identity.authentication_type,
        endpoint_count=len(options.endpoints),
        detailed_errors=options.enable_detailed_errors,
        max_poll_interval=options.max_poll_interval_in_seconds,
        transport_types=None if detector is None else int(detector(request)),
    )


def _add_cors_headers(response: Response) -> Response:
    """Lets pages on the configured origins call negotiate with credentials (off by default)."""
    origins = _extension().get_state().options.cors_origins or ()
    origin = request.headers.get("Origin")
    if origin and ("*" in origins or origin in origins):
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Credentials"] = "true"
        response.vary.add("Origin")
        if request.method == "OPTIONS":
            response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
            requested = request.headers.get("Access-Control-Request-Headers")
            if requested:
                response.headers["Access-Control-Allow-Headers"] = requested
    return response
