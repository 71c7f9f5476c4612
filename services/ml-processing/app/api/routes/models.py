"""The model registry: training jobs, versions, promotion and rollback."""

from fastapi import APIRouter, HTTPException, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from app import training
from app.api.deps import BackendsDep, SettingsDep
from app.learners import PARAMS, Params
from app.schemas import ActivePublic, JobAccepted, ModelPublic, ModelsPublic, TrainCreate

router = APIRouter(prefix="/models", tags=["models"])


def _params(kind: str, raw: dict) -> Params:
    """The kind's parameters, checked; a 422 naming each bad or unknown one."""
    try:
        return PARAMS[kind].model_validate(raw)
    except ValidationError as exc:
        raise RequestValidationError(
            [
                {**error, "loc": ("body", "params", *error["loc"])}
                for error in exc.errors(include_url=False, include_context=False)
            ]
        ) from None


@router.post("/train", status_code=status.HTTP_202_ACCEPTED, response_model=JobAccepted)
async def train_model(
    body: TrainCreate, backends: BackendsDep, settings: SettingsDep, response: Response
) -> dict:
    """Train a model on the latest stored candles, in the background.

    The candles are read and checked before answering: too few is a 409 naming the numbers.
    The answer is 202 with the job; GET /jobs/{id} follows it to `succeeded` (with the new
    version and its validation metrics) or `failed` (with the reason).
    """
    params = _params(body.model, body.params)
    needed = training.min_candles(body.validation_fraction)
    limit = body.limit or max(settings.default_candles, needed)
    if limit > settings.max_candles:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"limit must be at most {settings.max_candles}"
        )
    if limit < needed:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"limit={limit} is too small: training needs at least {needed} candles",
        )
    candles = await backends.candles(body.symbol, body.interval, limit)
    data = await backends.pool.run(training.prepare, candles, body.validation_fraction)
    job = backends.jobs.create(
        kind=body.model,
        symbol=body.symbol,
        interval=body.interval,
        candles=len(candles),
        promote=body.promote,
    )
    backends.start_training(job, data, params)
    status_url = f"/jobs/{job.id}"
    response.headers["Location"] = status_url
    return {**job.public(), "status_url": status_url}


def _public(meta: dict, active: int | None) -> dict:
    return {**meta, "active": meta["version"] == active}


def _active_version(backends: BackendsDep) -> int | None:
    active = backends.registry.active
    return None if active is None else active.version


@router.get("", response_model=ModelsPublic)
async def list_models(backends: BackendsDep) -> dict:
    """Every version (oldest first), the active one and the promotion history."""
    active = _active_version(backends)
    return {
        "active": active,
        "history": backends.registry.history,
        "models": [_public(meta, active) for meta in backends.registry.versions()],
    }


@router.get("/active", response_model=ActivePublic)
async def read_active(backends: BackendsDep) -> dict:
    """The active version (null before the first promotion) and the promotion history."""
    active = backends.registry.active
    return {
        "active": None if active is None else active.version,
        "kind": None if active is None else active.kind,
        "history": backends.registry.history,
    }


@router.get("/{version}", response_model=ModelPublic)
async def read_model(version: int, backends: BackendsDep) -> dict:
    """One version's metadata: kind, feature schema, metrics, parameters, trained-on."""
    return _public(backends.registry.meta(version), _active_version(backends))


@router.post("/{version}/promote", response_model=ActivePublic)
async def promote_model(version: int, backends: BackendsDep) -> dict:
    """Make `version` the active model; requests in flight finish on the previous one."""
    model = await backends.pool.run(backends.registry.promote, version)
    return {"active": model.version, "kind": model.kind, "history": backends.registry.history}


@router.post("/rollback", response_model=ActivePublic)
async def rollback_model(backends: BackendsDep) -> dict:
    """Go back to the previously promoted version (409 when there is none)."""
    model = await backends.pool.run(backends.registry.rollback)
    return {"active": model.version, "kind": model.kind, "history": backends.registry.history}
