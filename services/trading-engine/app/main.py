"""The trading-engine application: indicators, signals and backtests on stored candles."""

from fastapi import FastAPI

from app.api.routes import backtest, indicators, signals
from app.core.backends import Backends
from app.core.config import Settings, get_settings
from app.ml import NotEnoughHistory
from servicekit import market
from servicekit.app import backends_lifespan, create_app

# Without database-service there are no candles, so nothing can be answered: critical (503,
# and Docker sees the container unhealthy). Redis only holds the signal cache: when it is down
# signals are computed every time, so it degrades the service but does not take it down.
CRITICAL = {"database-service"}


def build_app(settings: Settings) -> FastAPI:
    """Assemble the service around `settings` (tests build theirs with other values)."""
    backends = Backends(settings)
    app = create_app(
        settings,
        routers=[indicators.router, signals.router, backtest.router],
        health_checks={"redis": backends.check_redis, "database-service": backends.check_database},
        critical=CRITICAL,
        lifespan=backends_lifespan(settings, backends),
        title="trading-engine",
    )
    market.add_handlers(app)
    app.add_exception_handler(NotEnoughHistory, market.not_enough)
    return app


app = build_app(get_settings())
