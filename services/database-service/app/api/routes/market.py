"""The market resource of the internal data API (contract: services/README.md, Tier 2)."""

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response, status

from app.api.deps import ClickHouseDep, PoolDep, SettingsDep
from app.market import batches, crud
from app.market.models import (
    CANDLE_LIMIT_DEFAULT,
    CANDLE_LIMIT_MAX,
    EPOCH_MS_MAX,
    SOURCE_PATTERN,
    SYMBOL_PATTERN,
    CandleSeries,
    CandlesUpsert,
    CandlesUpserted,
    Interval,
    SymbolSummary,
    TickBatch,
    TickBatchResult,
    TickCount,
)

router = APIRouter(prefix="/market", tags=["market"])

SymbolQuery = Annotated[str, Query(pattern=SYMBOL_PATTERN)]
# end_ms may lie past the last storable time: it is an exclusive bound, not a stored value.
MsQuery = Annotated[int | None, Query(ge=0, le=2 * EPOCH_MS_MAX)]
UNAVAILABLE = {503: {"description": "ClickHouse or PostgreSQL unavailable: retry later"}}


@router.post(
    "/ticks", responses={409: {"description": "batch id stored with other ticks"}, **UNAVAILABLE}
)
async def store_ticks(
    batch: TickBatch, pool: PoolDep, clickhouse: ClickHouseDep, settings: SettingsDep
) -> TickBatchResult:
    """Store a batch of ticks at most once: a known batch_id is answered `duplicate: true`."""
    try:
        return await batches.store(pool, clickhouse, batch, settings.pool_acquire_timeout)
    except batches.BatchConflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, exc.detail) from exc


@router.post("/candles", responses=UNAVAILABLE)
async def upsert_candles(body: CandlesUpsert, clickhouse: ClickHouseDep) -> CandlesUpserted:
    """Write candles; the latest write of a (symbol, interval, start_ms) wins."""
    return CandlesUpserted(upserted=await crud.upsert_candles(clickhouse, body.candles))


# Answers with the serialized series itself: FastAPI would otherwise dump and validate every
# candle again, which costs more than the query for the 10,000 candles of a default read.
@router.get("/candles", response_model=CandleSeries, responses=UNAVAILABLE)
async def read_candles(
    clickhouse: ClickHouseDep,
    symbol: SymbolQuery,
    interval: Interval,
    start_ms: MsQuery = None,
    end_ms: MsQuery = None,
    limit: Annotated[int, Query(ge=1, le=CANDLE_LIMIT_MAX)] = CANDLE_LIMIT_DEFAULT,
) -> Response:
    """Candles with start_ms <= t < end_ms, ascending; the latest `limit` when more match."""
    series = await crud.read_candles(clickhouse, symbol, interval, start_ms, end_ms, limit)
    return Response(series.model_dump_json(), media_type="application/json")


@router.get("/ticks/count", responses=UNAVAILABLE)
async def count_ticks(
    clickhouse: ClickHouseDep,
    symbol: Annotated[str | None, Query(pattern=SYMBOL_PATTERN)] = None,
    source: Annotated[str | None, Query(pattern=SOURCE_PATTERN)] = None,
) -> TickCount:
    """Stored ticks, optionally of one symbol and/or one source."""
    return TickCount(count=await crud.count_ticks(clickhouse, symbol, source))


@router.get("/symbols", responses=UNAVAILABLE)
async def list_symbols(clickhouse: ClickHouseDep) -> list[SymbolSummary]:
    """Every symbol with stored ticks: its tick count and first and last tick time."""
    return await crud.list_symbols(clickhouse)
