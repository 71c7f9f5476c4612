"""Dependencies shared by the routes, declared as Annotated types, and request checks."""

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from app import ml
from app.core.backends import Backends
from app.core.config import Settings
from app.strategies import RULES, MlParams, StrategyParams, params_model


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_backends(request: Request) -> Backends:
    return request.app.state.backends


SettingsDep = Annotated[Settings, Depends(get_settings)]
BackendsDep = Annotated[Backends, Depends(get_backends)]


def strategy_params(
    strategy: str, raw: Mapping[str, Any], location: tuple[str, ...]
) -> StrategyParams:
    """Validate a strategy's parameters; a 422 naming each bad one (under `location`)."""
    try:
        return params_model(strategy).model_validate(dict(raw))
    except ValidationError as exc:
        raise RequestValidationError(
            [
                {**error, "loc": (*location, *error["loc"])}
                for error in exc.errors(include_url=False, include_context=False)
            ]
        ) from None


def strategy_min_candles(strategy: str, params: StrategyParams) -> int:
    """Candles a signal of this strategy needs."""
    if strategy == "ml":
        assert isinstance(params, MlParams)
        return ml.min_candles(params)
    return RULES[strategy].min_candles(params)


def candle_limit(limit: int | None, settings: Settings, needed: int, what: str) -> int:
    """The number of candles to read: the asked limit (checked) or the default, at least
    `needed`. A limit below what the computation needs can never work: 422."""
    if needed > settings.max_candles:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"{what} needs {needed} candles, more than one request may read "
            f"({settings.max_candles})",
        )
    if limit is None:
        return max(settings.default_candles, needed)
    if limit > settings.max_candles:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"limit must be at most {settings.max_candles}",
        )
    if limit < needed:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"limit={limit} is too small: {what} needs at least {needed} candles",
        )
    return limit
