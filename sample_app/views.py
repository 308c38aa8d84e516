"""The chat pages and the browser clients they load.

The ``@microsoft/signalr`` bundles (page ``/``) and jQuery with the classic ``signalr`` 2.x client
(page ``/classic``) are served straight from ``sample_app/node_modules`` (installed by
``npm ci --prefix sample_app``), so no copy of them lives in the repository.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, abort, render_template, send_from_directory
from flask_login import current_user

from .auth import DEMO_USERS

__all__ = ["VENDOR_FILES", "blueprint"]

_NODE_MODULES = Path(__file__).resolve().parent / "node_modules"

#: URL name -> (package directory, file) of the browser bundles the page uses.
VENDOR_FILES: dict[str, tuple[str, str]] = {
    "signalr.min.js": ("@microsoft/signalr/dist/browser", "signalr.min.js"),
    "signalr-protocol-msgpack.min.js": (
        "@microsoft/signalr-protocol-msgpack/dist/browser",
        "signalr-protocol-msgpack.min.js",
    ),
    "jquery.min.js": ("jquery/dist", "jquery.min.js"),
    "jquery.signalR.min.js": ("signalr", "jquery.signalR.min.js"),
}

blueprint = Blueprint("views", __name__)


@blueprint.get("/")
def index() -> str:
    user_id = current_user.get_id() if current_user.is_authenticated else None
    return render_template("index.html", user_id=user_id, demo_users=DEMO_USERS)


@blueprint.get("/classic")
def classic() -> str:
    """The AspNet.ChatSample page, unchanged in spirit: jQuery, ``$.connection.chatHub``."""
    user_id = current_user.get_id() if current_user.is_authenticated else None
    return render_template("classic.html", user_id=user_id)


@blueprint.get("/vendor/<name>")
def vendor(name: str) -> Response:
    if name not in VENDOR_FILES:
        abort(404)
    directory, filename = VENDOR_FILES[name]
    if not (_NODE_MODULES / directory / filename).is_file():
        return Response(
            f"{name} is not installed: run `npm ci --prefix sample_app` in the repository.\n",
            status=503,
            mimetype="text/plain",
        )
    return send_from_directory(_NODE_MODULES / directory, filename, mimetype="text/javascript")
