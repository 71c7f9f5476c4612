"""Forecaster training (one job at a time) and the versioned checkpoints it leaves."""

from fastapi import APIRouter, HTTPException, Response, status

from app.api.deps import BackendsDep, SettingsDep
from app.core.config import Settings
from app.forecasting.data import min_candles
from app.forecasting.jobs import TrainingBusy
from app.forecasting.model import ForecasterConfig
from app.market import require
from app.schemas import ForecasterPublic, ForecasterSummary, JobPublic, TrainCreate
from servicekit.market import candle_limit

router = APIRouter(prefix="/forecasters", tags=["forecasters"])

DEFAULT_EPOCHS = 20


def train_config(body: TrainCreate, settings: Settings) -> ForecasterConfig:
    """The run's config from the request and the defaults; 422 beyond the service's bounds."""
    epochs = DEFAULT_EPOCHS if body.epochs is None else body.epochs
    if epochs > settings.max_epochs:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"epochs must be at most {settings.max_epochs}"
        )
    fields = body.model_dump(exclude={"symbol", "interval", "epochs", "limit"})
    return ForecasterConfig(epochs=epochs, **fields)


def train_limit(limit: int | None, settings: Settings, needed: int) -> int:
    """Candles to read: the asked limit (checked) or the default, at least `needed`."""
    return candle_limit(
        limit,
        default=settings.default_train_candles,
        maximum=settings.max_train_candles,
        needed=needed,
        needs="this window and horizon need",
        reader="training",
    )


@router.post("/train", status_code=status.HTTP_202_ACCEPTED, response_model=JobPublic)
async def train_forecaster(
    body: TrainCreate, backends: BackendsDep, settings: SettingsDep, response: Response
) -> dict:
    """Start training on the latest `limit` stored candles; poll the job it answers with."""
    config = train_config(body, settings)
    needed = min_candles(config)
    limit = train_limit(body.limit, settings, needed)
    try:
        job_id = backends.trainer.reserve(body.symbol, body.interval, config)
    except TrainingBusy as busy:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"a training is running (job {busy.job_id}); one runs at a time: poll "
            f"GET /forecasters/jobs/{busy.job_id} and retry when it has finished",
        ) from None
    try:
        closes = await backends.closes(body.symbol, body.interval, limit)
        require(closes, needed, f"training with window={config.window}, horizon={config.horizon}")
    except BaseException:
        backends.trainer.release(job_id)
        raise
    source = {
        "symbol": body.symbol,
        "interval": body.interval,
        "candles": len(closes),
        "first_start_ms": int(closes.start_ms[0]),
        "last_start_ms": int(closes.start_ms[-1]),
    }
    response.headers["Location"] = f"/forecasters/jobs/{job_id}"
    return backends.trainer.start(job_id, closes.close, source)


@router.get("/jobs/{job_id}", response_model=JobPublic)
async def read_job(job_id: str, backends: BackendsDep) -> dict:
    """A training job's state, progress and, once done, its version and metrics."""
    return backends.trainer.job(job_id)


@router.delete("/jobs/{job_id}", status_code=status.HTTP_202_ACCEPTED, response_model=JobPublic)
async def cancel_job(job_id: str, backends: BackendsDep) -> dict:
    """Stop a running job at its next epoch (it ends `cancelled`, saving nothing)."""
    return backends.trainer.cancel(job_id)


@router.get("", response_model=list[ForecasterSummary])
async def list_forecasters(backends: BackendsDep) -> list[dict]:
    """Every checkpoint, oldest version first."""
    return backends.store.list()


@router.get("/{version}", response_model=ForecasterPublic)
async def read_forecaster(version: int, backends: BackendsDep) -> dict:
    """One checkpoint's config, normalization, band, metrics and loss history."""
    return backends.store.meta(version)
