"""The market brief's steps: one call (or two) to the service that owns each part.

Every part carries the owning service's figures as it answered them (never recomputed here)
and `source`, its name, so a reader can ask that service for the same thing and compare.
"""

from collections.abc import Mapping
from typing import Any

from app.clients import Peer
from app.workflows.errors import PartMissing, WorkflowError, detail_of, json_of


def _last(values: list) -> Any:
    return values[-1] if values else None


async def fetch_candles(peer: Peer, inputs: Mapping[str, Any], min_candles: int) -> dict:
    """The latest `candles` stored candles, summarised; 404 none, 409 too few, 503 down."""
    symbol, interval = inputs["symbol"], inputs["interval"]
    response = await peer.client.get(
        "/market/candles",
        params={"symbol": symbol, "interval": interval, "limit": inputs["candles"]},
    )
    if response.status_code != 200:
        raise WorkflowError(
            503, f"database-service answered {response.status_code}: {detail_of(response)}"
        )
    candles = response.json()["candles"]
    if not candles:
        raise WorkflowError(404, f"no {interval} candles stored for {symbol} (database-service)")
    if len(candles) < min_candles:
        raise WorkflowError(
            409,
            f"only {len(candles)} {interval} candles of {symbol} are stored (database-service); "
            f"a market brief needs at least {min_candles}",
            needed=min_candles,
            available=len(candles),
        )
    last = candles[-1]
    return {
        "source": peer.name,
        "count": len(candles),
        "first_start_ms": candles[0]["start_ms"],
        "last_start_ms": last["start_ms"],
        "last_open": last["open"],
        "last_high": last["high"],
        "last_low": last["low"],
        "last_close": last["close"],
        "last_volume": last["volume"],
    }


def _refused(peer: Peer, response, what: str) -> PartMissing:
    return PartMissing(
        f"{peer.name} answered {response.status_code} to {what}: {detail_of(response)}"
    )


async def fetch_indicators(peer: Peer, inputs: Mapping[str, Any]) -> dict:
    """trading-engine's indicators on the same candles: the last bar's values."""
    response = await peer.client.get(
        "/indicators",
        params={
            "symbol": inputs["symbol"],
            "interval": inputs["interval"],
            "limit": inputs["candles"],
        },
    )
    if response.status_code != 200:
        raise _refused(peer, response, "GET /indicators")
    body = json_of(response, peer.name)
    values = {
        name: {key: _last(series) for key, series in value.items()}
        if isinstance(value, dict)
        else _last(value)
        for name, value in body["indicators"].items()
    }
    return {
        "source": peer.name,
        "start_ms": _last(body["start_ms"]),
        "close": _last(body["close"]),
        "limit": inputs["candles"],
        "params": body.get("params"),
        "values": values,
    }


async def fetch_signal(peer: Peer, inputs: Mapping[str, Any]) -> dict:
    """trading-engine's call on the last candle, as it answered it."""
    response = await peer.client.get(
        "/signals",
        params={
            "symbol": inputs["symbol"],
            "interval": inputs["interval"],
            "strategy": inputs["strategy"],
            "limit": inputs["candles"],
        },
    )
    if response.status_code != 200:
        raise _refused(peer, response, "GET /signals")
    return {"source": peer.name, **json_of(response, peer.name)}


async def fetch_prediction(peer: Peer, inputs: Mapping[str, Any]) -> dict:
    """ml-processing's active model on the latest bar's features (its /features, then
    /predict): the probability that the next close is higher."""
    symbol, interval = inputs["symbol"], inputs["interval"]
    response = await peer.client.get(
        "/features", params={"symbol": symbol, "interval": interval, "rows": 1}
    )
    if response.status_code != 200:
        raise _refused(peer, response, "GET /features")
    features = json_of(response, peer.name)
    if not features.get("rows"):
        raise PartMissing(f"{peer.name} has no feature rows for {symbol} {interval}")
    row = features["rows"][-1]
    if any(value is None for value in row):
        undefined = [n for n, v in zip(features["schema"], row, strict=True) if v is None]
        raise PartMissing(
            f"{peer.name} cannot compute the last bar's features ({', '.join(undefined)} "
            "undefined: too little history)"
        )
    response = await peer.client.post(
        "/predict", json={"features": dict(zip(features["schema"], row, strict=True))}
    )
    if response.status_code == 409:
        raise PartMissing(
            f"{peer.name} has no promoted model: POST /api/ml-processing/models/train with "
            f"promote ({peer.name}: {detail_of(response)})"
        )
    if response.status_code != 200:
        raise _refused(peer, response, "POST /predict")
    prediction = json_of(response, peer.name)
    return {
        "source": peer.name,
        "version": prediction.get("version"),
        "kind": prediction.get("kind"),
        "probability": prediction.get("probability"),
        "class": prediction.get("class"),
        "start_ms": _last(features["start_ms"]),
    }


async def fetch_forecast(peer: Peer, inputs: Mapping[str, Any]) -> dict:
    """deep-learning's forecaster on the latest stored candles: the next `horizon` closes."""
    response = await peer.client.post(
        "/forecast",
        json={
            "symbol": inputs["symbol"],
            "interval": inputs["interval"],
            "horizon": inputs["horizon"],
        },
    )
    if response.status_code != 200:
        raise PartMissing(f"{peer.name} cannot forecast: {detail_of(response)}")
    forecast = json_of(response, peer.name)
    keep = ("version", "horizon", "last_close", "last_start_ms", "steps", "band")
    return {"source": peer.name, **{key: forecast.get(key) for key in keep}}
