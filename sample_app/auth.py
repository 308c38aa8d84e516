"""Demo sign-in: any non-empty name is a user whose id is that name (no password, no database).

``POST /login`` (form field ``username``) signs in and sets Flask's session cookie, which scripted
clients pass to negotiate so that the hub sees the user id; ``POST /logout`` signs out. Anonymous
visitors may chat too: their connections simply have no user id.
"""

from __future__ import annotations

from flask import Blueprint, abort, redirect, request, url_for
from flask_login import LoginManager, UserMixin, login_user, logout_user
from werkzeug.wrappers import Response

__all__ = ["DEMO_USERS", "DemoUser", "blueprint", "login_manager"]

#: Names offered on the page; any other non-empty name works as well.
DEMO_USERS = ("alice", "bob", "carol")
#: Longest accepted user name (user ids travel in every access token).
MAX_NAME_LENGTH = 64

blueprint = Blueprint("auth", __name__)
login_manager = LoginManager()


class DemoUser(UserMixin):
    """A user known only by name; ``get_id()`` (the SignalR user id) is the name."""

    def __init__(self, name: str) -> None:
        self.id = name


@login_manager.user_loader
def load_user(user_id: str) -> DemoUser | None:
    return DemoUser(user_id) if user_id else None


@blueprint.post("/login")
def login() -> Response:
    name = request.form.get("username", "").strip()
    if not name or len(name) > MAX_NAME_LENGTH:
        abort(400, f"username must be 1 to {MAX_NAME_LENGTH} characters")
    login_user(DemoUser(name))
    return redirect(url_for("views.index"), code=303)


@blueprint.post("/logout")
def logout() -> Response:
    logout_user()
    return redirect(url_for("views.index"), code=303)
