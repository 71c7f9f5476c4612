"""GET /features: the feature rows of the latest stored candles, ready for POST /predict."""

from typing import Annotated

import orjson
from fastapi import APIRouter, Query, Response

from app import features
from app.api.deps import BackendsDep
from app.schemas import FeaturesPublic
from servicekit.market import SYMBOL_PATTERN, Candles, Interval

router = APIRouter(tags=["features"])


def render(candles: Candles, rows: int) -> bytes:
    """The last `rows` bars' features as JSON (NaN, where undefined, as null)."""
    table = features.build(candles)[-rows:]
    return orjson.dumps(
        {
            "symbol": candles.symbol,
            "interval": candles.interval,
            "schema": features.FEATURES,
            "start_ms": candles.start_ms[-rows:],
            "rows": table,
        },
        option=orjson.OPT_SERIALIZE_NUMPY,
    )


@router.get("/features", response_model=FeaturesPublic)
async def read_features(
    backends: BackendsDep,
    symbol: Annotated[str, Query(pattern=SYMBOL_PATTERN)],
    interval: Interval,
    rows: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    """The features of the last `rows` candles (the latest last), computed as for training."""
    candles = await backends.candles(symbol, interval, rows + features.LOOKBACK)
    body = await backends.pool.run(render, candles, min(rows, len(candles)))
    return Response(body, media_type="application/json")
