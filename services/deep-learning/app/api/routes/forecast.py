"""POST /forecast: the next closes with a confidence band, from a trained forecaster."""

import numpy as np
from fastapi import APIRouter, HTTPException, status

from app.api.deps import BackendsDep, SettingsDep
from app.forecasting.model import ForecasterConfig
from app.forecasting.predict import BAND_LEVEL, BAND_METHOD, BAND_Z, forecast
from app.market import require
from app.schemas import ForecastCreate, ForecastPublic
from servicekit.market import INTERVAL_MS

router = APIRouter(tags=["forecast"])


def _unprocessable(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail)


def _no_forecaster(body: ForecastCreate) -> HTTPException:
    if body.symbol is not None and body.interval is not None:
        what = f"for {body.symbol} {body.interval}"
        how = (
            f'POST /forecasters/train {{"symbol": "{body.symbol}", "interval": "{body.interval}"}}'
        )
    else:
        what, how = "yet", "POST /forecasters/train {symbol, interval} (or name a version)"
    # 409: the request is sound, the service's state (no checkpoint) is what is missing.
    return HTTPException(
        status.HTTP_409_CONFLICT, f"no trained forecaster {what}: train one with {how}"
    )


def choose_checkpoint(body: ForecastCreate, backends: BackendsDep) -> dict:
    """The named version; else the latest of this symbol and interval; else the latest."""
    if body.version is not None:
        return backends.store.meta(body.version)
    meta = backends.store.latest(body.symbol, body.interval)
    if meta is None:
        raise _no_forecaster(body)
    return meta


@router.post("/forecast", response_model=ForecastPublic)
async def create_forecast(
    body: ForecastCreate, backends: BackendsDep, settings: SettingsDep
) -> dict:
    """Forecast the closes after the stored candles of symbol/interval, or after `history`."""
    from_store = body.history is None
    if from_store and (body.symbol is None or body.interval is None):
        raise _unprocessable(
            "give symbol and interval (to forecast their stored candles) or history (closes)"
        )
    if not from_store and len(body.history) > settings.max_history:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE,
            f"history has {len(body.history)} closes; at most {settings.max_history} "
            "(only the last window + 1 are read)",
        )
    meta = choose_checkpoint(body, backends)
    config = ForecasterConfig(**meta["config"])
    horizon = config.horizon if body.horizon is None else body.horizon
    if horizon > config.horizon:
        raise _unprocessable(
            f"horizon={horizon}: forecaster v{meta['version']} predicts at most "
            f"{config.horizon} steps (train one with a larger horizon)"
        )
    needed = config.window + 1
    what = f"forecaster v{meta['version']} (window {config.window})"
    last_start_ms = None
    if from_store:
        closes = await backends.closes(body.symbol, body.interval, needed)
        require(closes, needed, what)
        close, last_start_ms = closes.close, int(closes.start_ms[-1])
    else:
        if len(body.history) < needed:
            raise _unprocessable(
                f"history has {len(body.history)} closes; {what} needs at least {needed}"
            )
        close = np.asarray(body.history[-needed:], dtype=np.float64)

    def compute() -> list:
        net = backends.store.model(meta["version"])
        scale = meta["normalization"]["scale"]
        rms = meta["band"]["residual_rms"]
        return forecast(net, config, scale, rms, close, horizon, backends.runtime.device)

    steps = await backends.pool.run(compute)
    step_ms = INTERVAL_MS.get(body.interval or "")
    return {
        "version": meta["version"],
        "symbol": body.symbol,
        "interval": body.interval,
        "source": "store" if from_store else "history",
        "last_close": float(close[-1]),
        "last_start_ms": last_start_ms,
        "horizon": horizon,
        "steps": [
            {
                **vars(step),
                "start_ms": None
                if last_start_ms is None or step_ms is None
                else last_start_ms + step.step * step_ms,
            }
            for step in steps
        ],
        "band": {"method": BAND_METHOD, "level": BAND_LEVEL, "z": BAND_Z},
        "metrics": {
            key: meta["metrics"][key]
            for key in ("train_loss", "val_loss", "baseline_val_loss", "val_skill")
        },
    }
