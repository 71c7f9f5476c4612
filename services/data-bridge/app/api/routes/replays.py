"""Replays of the historical series: POST /replays, GET /replays[/{id}], DELETE /replays/{id}."""

from fastapi import APIRouter, HTTPException, status

from app.api.deps import ReplaysDep
from app.core.pipeline import TooManyError
from app.core.replays import Replay, ReplayConflictError
from app.core.series import UnknownSeriesError
from app.core.ticks import SymbolLimitError
from app.schemas import ReplayCreate, ReplayPublic, ReplayStarted

router = APIRouter(prefix="/replays", tags=["replays"])


def _find(replays: ReplaysDep, replay_id: str) -> Replay:
    replay = replays.replays.get(replay_id)
    if replay is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such replay")
    return replay


@router.post("", status_code=status.HTTP_202_ACCEPTED, response_model=ReplayStarted)
async def start_replay(body: ReplayCreate, replays: ReplaysDep) -> dict:
    """Start replaying a series into `symbol` (the series' name by default)."""
    try:
        replay = replays.start(body.series, body.symbol, body.speed, body.limit)
    except UnknownSeriesError:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"no series {body.series!r}: see GET /series"
        ) from None
    except ReplayConflictError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    except (TooManyError, SymbolLimitError) as exc:
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, str(exc)) from None
    return {
        "replay_id": replay.replay_id,
        "source": replay.source,
        "symbol": replay.symbol,
        "ticks": replay.ticks,
        "series": replay.series,
        "speed": replay.speed,
    }


@router.get("", response_model=list[ReplayPublic])
async def list_replays(replays: ReplaysDep) -> list[dict]:
    return [replays.public(replay) for replay in replays.replays.values()]


@router.get("/{replay_id}", response_model=ReplayPublic)
async def get_replay(replay_id: str, replays: ReplaysDep) -> dict:
    return replays.public(_find(replays, replay_id))


@router.delete("/{replay_id}", response_model=ReplayPublic)
async def cancel_replay(replay_id: str, replays: ReplaysDep) -> dict:
    """Stop a running replay; what it already emitted is still stored."""
    replay = _find(replays, replay_id)
    await replays.cancel(replay)
    return replays.public(replay)
