"""Dependencies shared by the routes, declared as Annotated types."""

from typing import Annotated

from fastapi import Depends, Request

from app.core.backends import Backends
from app.core.config import Settings


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_backends(request: Request) -> Backends:
    return request.app.state.backends


SettingsDep = Annotated[Settings, Depends(get_settings)]
BackendsDep = Annotated[Backends, Depends(get_backends)]
