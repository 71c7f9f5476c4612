"""Parts as the owning services answered them (copied from real answers), for the prompt."""

INPUTS = {
    "symbol": "EURUSD",
    "interval": "1h",
    "candles": 500,
    "strategy": "sma_cross",
    "horizon": 5,
    "model": "auto",
    "cache": True,
}

PARTS = {
    "candles": {
        "source": "database-service",
        "count": 500,
        "first_start_ms": 1516219200000,
        "last_start_ms": 1518015600000,
        "last_close": 1.22904,
    },
    "indicators": {
        "source": "trading-engine",
        "start_ms": 1518015600000,
        "close": 1.22904,
        "limit": 500,
        "params": {
            "sma": {"period": 20},
            "macd": {"fast": 12, "slow": 26, "signal": 9},
            "bbands": {"period": 20, "nbdev": 2.0},
        },
        "values": {
            "sma": 1.2368319999999984,
            "macd": {"macd": -0.00071, "signal": -0.00032, "hist": -0.00039},
            "bbands": {"upper": 1.24213, "middle": 1.23683, "lower": 1.23153},
        },
    },
    "signal": {
        "source": "trading-engine",
        "symbol": "EURUSD",
        "strategy": "sma_cross",
        "signal": "hold",
        "position": "flat",
        "last_candle_ms": 1518015600000,
    },
    "prediction": {
        "source": "ml-processing",
        "version": 1,
        "kind": "sklearn",
        "probability": 0.34823513242991533,
        "class": 0,
        "start_ms": 1518015600000,
    },
    "forecast": {
        "source": "deep-learning",
        "version": 1,
        "horizon": 2,
        "last_close": 1.22904,
        "steps": [
            {"step": 1, "close": 1.228807435447633, "lower": 1.22615, "upper": 1.23146},
            {"step": 2, "close": 1.2285551103982313, "lower": 1.22459, "upper": 1.23252},
        ],
    },
}
