"""The workflows: GET /workflows lists them, POST /workflows/market-brief runs one."""

from fastapi import APIRouter, HTTPException, status

from app.api.deps import CacheDep, CallerDep, LimiterDep, PeersDep, SettingsDep, StatsDep
from app.schemas import MarketBriefCreate, MarketBriefPublic
from app.workflows import market_brief

router = APIRouter(prefix="/workflows", tags=["workflows"])


@router.get("")
async def list_workflows(settings: SettingsDep) -> list[dict]:
    """Every workflow and its steps: the owning service, optional or not, the timeout."""
    return [market_brief.describe(settings)]


@router.post("/market-brief", response_model=MarketBriefPublic)
async def create_market_brief(
    body: MarketBriefCreate,
    settings: SettingsDep,
    peers: PeersDep,
    limiter: LimiterDep,
    cache: CacheDep,
    stats: StatsDep,
    caller: CallerDep,
) -> dict:
    """Candles, indicators, signal, prediction and forecast, written up by ai-provider.

    404 no candles, 409 too few, 422 bad input or a model ai-provider does not know, 429 (with
    Retry-After) when every slot and the queue are taken, 502 ai-provider failed, 503
    database-service down. Optional parts that could not be had are listed in `missing`."""
    candles = settings.default_candles if body.candles is None else body.candles
    if candles > settings.max_candles:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"candles must be at most {settings.max_candles}",
        )
    inputs = body.model_dump() | {"candles": candles}
    context = market_brief.RunContext(
        peers=peers,
        settings=settings,
        limiter=limiter,
        cache=cache,
        stats=stats,
        forward_headers=caller,
    )
    return await market_brief.run_market_brief(inputs, context)
