"""Signals on the last candle, and their cache in Redis.

A rule strategy's signal is the change of its target position at the last candle: `buy` when
it rose (flat → long, short → flat or long), `sell` when it fell, `hold` when it stayed; the
position itself is reported too. The `ml` strategy's signal is its call on the next candle
(see app.ml): `buy` when P(up) >= 0.5 + margin, `sell` when <= 0.5 - margin, else `hold`.

Cache key: symbol, interval, strategy, a digest of the parameters (the history length
included) and the last candle's start_ms plus a digest of its close, volume and ticks. A new
candle makes a new key; so does a change to the still-forming last candle, which would
otherwise keep serving a signal computed on its earlier state until the TTL ran out.
"""

import hashlib
import json
import logging

import numpy as np
from redis.asyncio import Redis
from redis.exceptions import RedisError

from app import ml
from app.strategies import RULES, MlParams, StrategyParams
from servicekit.market import Candles

log = logging.getLogger("trading-engine.signals")

CACHE_PREFIX = "trading-engine:signal:v1"
POSITION_NAMES = {1: "long", 0: "flat", -1: "short"}


def _last(values: np.ndarray) -> float | None:
    value = float(values[-1])
    return value if np.isfinite(value) else None


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def cache_key(
    strategy: str, params: StrategyParams, limit: int, last_candle: dict[str, float]
) -> str:
    """The Redis key of a signal on these candles with these parameters."""
    settings = _digest(json.dumps({"p": params.model_dump(), "limit": limit}, sort_keys=True))
    state = _digest(json.dumps([last_candle["close"], last_candle["volume"], last_candle["ticks"]]))
    return ":".join(
        (
            CACHE_PREFIX,
            last_candle["symbol"],
            last_candle["interval"],
            strategy,
            settings,
            str(int(last_candle["start_ms"])),
            state,
        )
    )


def last_candle_of(candles: Candles) -> dict[str, float]:
    """The fields of the last candle that the cache key is made of."""
    return {
        "symbol": candles.symbol,
        "interval": candles.interval,
        "start_ms": candles.last_start_ms,
        "close": float(candles.close[-1]),
        "volume": float(candles.volume[-1]),
        "ticks": int(candles.ticks[-1]),
    }


def compute_signal(candles: Candles, strategy: str, params: StrategyParams) -> dict:
    """The signal on the last candle (CPU work: run it in the pool)."""
    answer: dict = {
        "symbol": candles.symbol,
        "interval": candles.interval,
        "strategy": strategy,
        "params": params.model_dump(),
        "last_candle_ms": candles.last_start_ms,
        "last_close": float(candles.close[-1]),
        "candles": len(candles),
    }
    if strategy == "ml":
        assert isinstance(params, MlParams)
        prediction = ml.predict_last(candles, params)
        signal = prediction.signal(params.margin)
        # The position a backtest of ml would take on this call (app.ml.positions).
        position = "long" if signal == "buy" else "flat"
        if signal == "sell" and params.allow_short:
            position = "short"
        answer |= {
            "signal": signal,
            "position": position,
            "details": {
                "model": params.model,
                "features": list(ml.FEATURES),
                "p_up": prediction.p_up,
                "holdout_accuracy": prediction.holdout_accuracy,
                "baseline_accuracy": prediction.baseline_accuracy,
                "train_rows": prediction.train_rows,
                "test_rows": prediction.test_rows,
            },
        }
        return answer
    positions, indicators = RULES[strategy].positions(candles, params)
    now, before = int(positions[-1]), int(positions[-2])
    answer |= {
        "signal": "buy" if now > before else "sell" if now < before else "hold",
        "position": POSITION_NAMES[now],
        "details": {name: _last(values) for name, values in indicators.items()},
    }
    return answer


class SignalCache:
    """Signals kept in Redis for `ttl` seconds. Optional: a Redis failure is logged and the
    signal computed again, since serving it late beats not serving it."""

    def __init__(self, redis: Redis, ttl: int) -> None:
        self.redis = redis
        self.ttl = ttl

    async def get(self, key: str) -> dict | None:
        try:
            raw = await self.redis.get(key)
        except RedisError as exc:
            log.warning("signal cache unavailable (get): %s", exc)
            return None
        if raw is None:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return None  # written by something else: compute it again

    async def put(self, key: str, answer: dict) -> None:
        try:
            await self.redis.set(key, json.dumps(answer), ex=self.ttl)
        except RedisError as exc:
            log.warning("signal cache unavailable (set): %s", exc)
