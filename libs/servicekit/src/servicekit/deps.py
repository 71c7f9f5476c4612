"""What a service's lifespan publishes on `app.state`, as FastAPI dependencies.

A service declares its own `Annotated` aliases over these, typed with its own classes
(`SettingsDep = Annotated[Settings, Depends(get_settings)]`), so routes see the real types.
They take an HTTPConnection, so HTTP routes and WebSocket endpoints alike can use them. They
are `async def` although they only read an attribute: FastAPI runs a plain `def` dependency
in its thread pool, a hand-off to another thread and back on every request.
"""

from typing import Any

from starlette.requests import HTTPConnection


async def get_settings(connection: HTTPConnection) -> Any:
    """The settings the app was built with (`app.state.settings`)."""
    return connection.app.state.settings


async def get_backends(connection: HTTPConnection) -> Any:
    """What the service holds for its lifetime (`app.state.backends`)."""
    return connection.app.state.backends
