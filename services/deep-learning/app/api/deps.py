"""Dependencies shared by the routes, declared as Annotated types."""

from typing import Annotated

from fastapi import Depends

from app.core.backends import Backends
from app.core.config import Settings
from servicekit.deps import get_backends, get_settings

SettingsDep = Annotated[Settings, Depends(get_settings)]
BackendsDep = Annotated[Backends, Depends(get_backends)]
