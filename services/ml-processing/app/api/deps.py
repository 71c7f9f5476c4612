"""Dependencies shared by the routes, declared as Annotated types."""

import json
from typing import Annotated, TypeVar

import orjson
from fastapi import Depends, HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from app.core.backends import Backends
from app.core.config import Settings
from app.registry import LoadedModel, NoActiveModel
from servicekit.deps import get_backends, get_settings

SettingsDep = Annotated[Settings, Depends(get_settings)]
BackendsDep = Annotated[Backends, Depends(get_backends)]

M = TypeVar("M", bound=BaseModel)


async def read_body(request: Request, model: type[M]) -> M:
    """The JSON body validated as `model`, for the hot routes: orjson and one pydantic call
    instead of FastAPI's body machinery (which costs more than the prediction itself).
    Errors read as FastAPI's would: 400 for malformed JSON, 422 naming each bad field."""
    raw = await request.body()
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        try:
            # NaN and Infinity are not JSON but Python's json (and its clients) write them:
            # accepted here so that the feature check can name the values that are not finite.
            data = json.loads(raw)
        except ValueError:
            raise HTTPException(
                status.HTTP_400_BAD_REQUEST, "request body is not valid JSON"
            ) from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise RequestValidationError(
            [
                {**error, "loc": ("body", *error["loc"])}
                for error in exc.errors(include_url=False, include_context=False)
            ]
        ) from None


async def model_for(backends: Backends, version: int | None) -> LoadedModel:
    """The named version (loaded from disk in the pool if need be), else the active one."""
    registry = backends.registry
    if version is None:
        # One read of the reference: a promotion meanwhile does not affect this request.
        if (active := registry.active) is None:
            raise NoActiveModel()
        return active
    if (loaded := registry.loaded(version)) is not None:
        return loaded
    return await backends.pool.run(registry.model, version)
