"""Dependencies shared by the routes, declared as Annotated types, and request checks."""

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import Depends
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from app import ml
from app.core.backends import Backends
from app.core.config import Settings
from app.strategies import RULES, MlParams, StrategyParams, params_model
from servicekit import market
from servicekit.deps import get_backends, get_settings

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
    `needed` (servicekit.market.candle_limit)."""
    return market.candle_limit(
        limit,
        default=settings.default_candles,
        maximum=settings.max_candles,
        needed=needed,
        needs=f"{what} needs",
        reader="request",
    )
