"""Dependencies shared by the routes, declared as Annotated types."""

from typing import Annotated

from fastapi import Depends, Request

from app.core.backends import Backends
from app.core.config import Settings
from servicekit.deps import get_backends, get_settings

ANONYMOUS = "anonymous"


def caller(request: Request, body_user: str | None = None) -> str:
    """Who the call is accounted to: the gateway's X-User-Id (from the verified token), else
    the body's `user`, else "anonymous"."""
    return request.headers.get("x-user-id") or body_user or ANONYMOUS


def is_admin(request: Request) -> bool:
    """The gateway's X-User-Role (from the verified token; it overwrites any client copy)."""
    return request.headers.get("x-user-role") == "admin"


SettingsDep = Annotated[Settings, Depends(get_settings)]
BackendsDep = Annotated[Backends, Depends(get_backends)]
