"""GET /indicators: TA-Lib indicators on a symbol's stored candles."""

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response, status
from pydantic import Field

from app import indicators
from app.api.deps import BackendsDep, SettingsDep, candle_limit
from app.core import jsonio
from app.indicators import INDICATOR_NAMES, IndicatorParams
from app.schemas import IndicatorsPublic
from servicekit.market import SYMBOL_PATTERN, Candles, Interval, require_candles

router = APIRouter(tags=["indicators"])


class IndicatorsQuery(IndicatorParams):
    """Which candles, which indicators, and every indicator's parameters."""

    symbol: str = Field(pattern=SYMBOL_PATTERN)
    interval: Interval
    limit: int | None = Field(default=None, ge=1, description="the latest candles; default 1000")
    names: str = Field(
        default=",".join(INDICATOR_NAMES),
        description="comma-separated: " + ", ".join(INDICATOR_NAMES),
    )


def parse_names(text: str) -> list[str]:
    """The asked indicator names, in order, without repeats; 422 on an unknown one."""
    names = list(dict.fromkeys(part.strip().lower() for part in text.split(",") if part.strip()))
    unknown = [name for name in names if name not in INDICATOR_NAMES]
    if unknown or not names:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"unknown indicators: {', '.join(unknown) or '(none named)'}; "
            f"known: {', '.join(INDICATOR_NAMES)}",
        )
    return names


def _describe(names: list[str], params: IndicatorParams) -> str:
    return ", ".join(f"{name}{tuple(params.of(name).values())}" for name in names)


def render(candles: Candles, names: list[str], params: IndicatorParams) -> bytes:
    """Compute and serialise the answer (CPU work: run it in the pool)."""
    values = indicators.compute(candles, names, params)
    body = {
        "symbol": candles.symbol,
        "interval": candles.interval,
        "start_ms": candles.start_ms,
        "close": candles.close,
        "params": {name: params.of(name) for name in names},
        "indicators": values,
    }
    return jsonio.dumps(body)


@router.get("/indicators", response_model=IndicatorsPublic)
async def read_indicators(
    query: Annotated[IndicatorsQuery, Query()], backends: BackendsDep, settings: SettingsDep
) -> Response:
    """Indicators on the latest `limit` candles; warm-up values are null."""
    names = parse_names(query.names)
    params = IndicatorParams.model_validate(
        query.model_dump(include=set(IndicatorParams.model_fields))
    )
    needed = indicators.min_candles(names, params)
    what = _describe(names, params)
    limit = candle_limit(query.limit, settings, needed, what)
    candles = await backends.candles(query.symbol, query.interval, limit)
    require_candles(candles, needed, what)
    return Response(
        await backends.pool.run(render, candles, names, params), media_type="application/json"
    )
