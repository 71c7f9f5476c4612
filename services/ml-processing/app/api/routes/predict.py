"""Predictions: one row on the event loop (microseconds), large batches in the pool."""

import orjson
from fastapi import APIRouter, HTTPException, Request, Response, status

from app.api.deps import model_for, read_body
from app.core.backends import Backends
from app.predictor import THRESHOLD, classes, predict_one, predict_rows
from app.schemas import (
    BatchPredictionPublic,
    BatchPredictRequest,
    PredictionPublic,
    PredictRequest,
)

router = APIRouter(prefix="/predict", tags=["predict"])


def _documented(model: type) -> dict:
    """OpenAPI's request body for a route that reads its body itself (see read_body)."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema()}},
        }
    }


def _json(answer: dict) -> Response:
    # orjson straight to bytes: re-validating the answer through its model would cost more
    # than the prediction itself.
    return Response(orjson.dumps(answer), media_type="application/json")


@router.post("", response_model=PredictionPublic, openapi_extra=_documented(PredictRequest))
async def predict(request: Request) -> Response:
    """P(the next candle closes higher), its class and the model version that answered."""
    body = await read_body(request, PredictRequest)
    backends: Backends = request.app.state.backends
    model = await model_for(backends, body.version)
    # Inline: one row takes microseconds, less than a hop to the pool and back.
    probability, cached = predict_one(model, body.features, backends.cache)
    backends.predictions += 1
    return _json(
        {
            "version": model.version,
            "kind": model.kind,
            "probability": probability,
            "class": int(probability >= THRESHOLD),
            "cached": cached,
        }
    )


@router.post(
    "/batch",
    response_model=BatchPredictionPublic,
    openapi_extra=_documented(BatchPredictRequest),
)
async def predict_batch(request: Request) -> Response:
    """`predict` for many rows at once, all by the same model version."""
    body = await read_body(request, BatchPredictRequest)
    backends: Backends = request.app.state.backends
    settings = backends.settings
    if len(body.rows) > settings.max_batch_rows:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"{len(body.rows)} rows: a batch may hold at most {settings.max_batch_rows}",
        )
    model = await model_for(backends, body.version)
    if len(body.rows) <= settings.inline_batch_rows:
        probabilities, cached = predict_rows(model, body.rows, backends.cache)
    else:
        probabilities, cached = await backends.pool.run(
            predict_rows, model, body.rows, backends.cache
        )
    backends.predictions += len(body.rows)
    return _json(
        {
            "version": model.version,
            "kind": model.kind,
            "probabilities": probabilities,
            "classes": classes(probabilities),
            "cached": cached,
        }
    )
