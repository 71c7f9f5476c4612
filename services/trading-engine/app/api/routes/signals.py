"""GET /signals: a strategy's call on the last candle, cached in Redis per candle."""

import time
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request

from app.api.deps import (
    BackendsDep,
    SettingsDep,
    candle_limit,
    strategy_min_candles,
    strategy_params,
)
from app.schemas import SignalPublic
from app.signals import cache_key, compute_signal, last_candle_of
from app.strategies import STRATEGY_NAMES
from servicekit.market import SYMBOL_PATTERN, Interval, require_candles

router = APIRouter(tags=["signals"])

Strategy = Literal[STRATEGY_NAMES]  # type: ignore[valid-type]
OWN_PARAMETERS = frozenset({"symbol", "interval", "strategy", "limit"})


@router.get("/signals", response_model=SignalPublic)
async def read_signal(
    request: Request,
    backends: BackendsDep,
    settings: SettingsDep,
    symbol: Annotated[str, Query(pattern=SYMBOL_PATTERN)],
    interval: Interval,
    strategy: Strategy,
    limit: Annotated[int | None, Query(ge=2, description="history length; default 1000")] = None,
) -> dict:
    """buy, sell or hold on the last candle. Any other query parameter is the strategy's
    (e.g. `fast=5&slow=20` for sma_cross, `model=forest` for ml)."""
    raw = {k: v for k, v in request.query_params.items() if k not in OWN_PARAMETERS}
    params = strategy_params(strategy, raw, ("query",))
    needed = strategy_min_candles(strategy, params)
    limit = candle_limit(limit, settings, needed, strategy)

    # The last candle alone names the cache entry, so a hit reads one candle, not the history.
    latest = await backends.candles(symbol, interval, 1)
    key = cache_key(strategy, params, limit, last_candle_of(latest))
    if (hit := await backends.cache.get(key)) is not None:
        return {**hit, "cached": True}

    candles = await backends.candles(symbol, interval, limit)
    require_candles(candles, needed, strategy)
    answer = await backends.pool.run(compute_signal, candles, strategy, params)
    answer["computed_at_ms"] = int(time.time() * 1000)
    # Keyed by the candles it was computed on: one may have arrived since the probe above.
    await backends.cache.put(cache_key(strategy, params, limit, last_candle_of(candles)), answer)
    return {**answer, "cached": False}
