"""The sample chat app: Flask, Flask-Login demo users and two SignalR hubs: ``chat`` at ``/chat`` for
the ASP.NET Core client page ``/``, and ``ChatHub`` for the classic jQuery page ``/classic``.

Run it from the repository root with ``flask --app sample_app run``. The repository's ``.flaskenv``
sets ``AZURE_SIGNALR_EMULATOR=1``, so without ``AZURE_SIGNALR_CONNECTION_STRING`` the app starts the
embedded emulator; with it set (environment or ``.env``) the app uses that Azure SignalR resource.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from flask import Flask

from .auth import blueprint as auth_blueprint
from .auth import login_manager
from .hubs import signalr
from .views import blueprint as views_blueprint

__all__ = ["create_app", "signalr"]


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app; ``config`` overrides (e.g. ``{"TESTING": True}``) are applied first.

    ``FLASK_*`` environment variables (e.g. ``FLASK_SECRET_KEY``) are read too; without a secret
    key the session cookie is signed with a random one, so logins last as long as the process.
    """
    app = Flask(__name__)
    app.config["SECRET_KEY"] = secrets.token_hex(32)
    app.config.from_prefixed_env()
    app.config.update(config or {})
    # Classic jQuery clients (the /classic page) need an application name: the service names the
    # hubs {app}_{hub}, as the classic SDK's MapAzureSignalR(applicationName) does.
    app.config.setdefault("AZURE_SIGNALR_CLASSIC", True)
    app.config.setdefault("AZURE_SIGNALR_APPLICATION_NAME", "SampleApp")
    login_manager.init_app(app)
    app.register_blueprint(auth_blueprint)
    app.register_blueprint(views_blueprint)
    signalr.init_app(app)
    return app
