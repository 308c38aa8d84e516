"""Small helpers shared by the negotiate tests."""

from __future__ import annotations

import base64
import json
from typing import Any

import jwt
from flask import Flask
from flask_login import LoginManager, UserMixin


class User(UserMixin):
    def __init__(self, user_id: str) -> None:
        self.id = user_id


def add_login(app: Flask) -> LoginManager:
    """Flask-Login with a request loader: the ``X-User`` header signs a user in."""
    manager = LoginManager(app)

    @manager.request_loader
    def load(request: Any) -> User | None:
        name = request.headers.get("X-User")
        return User(name) if name else None

    return manager


def token_segment(token: str, index: int) -> bytes:
    part = token.split(".")[index]
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def header(token: str) -> dict[str, Any]:
    return json.loads(token_segment(token, 0))


def verify(token: str, key: str, audience: str, algorithm: str = "HS256") -> dict[str, Any]:
    """Signature, audience and expiry checked by PyJWT, independently of our encoder."""
    return jwt.decode(token, key.encode("utf-8"), algorithms=[algorithm], audience=audience)
