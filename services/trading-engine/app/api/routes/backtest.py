"""POST /backtest: a strategy's positions run on stored candles (formulas: app.backtest)."""

import numpy as np
from fastapi import APIRouter, HTTPException, Response, status

from app import backtest, ml
from app.api.deps import BackendsDep, SettingsDep, candle_limit, strategy_params
from app.core import jsonio
from app.schemas import BacktestPublic, BacktestRequest
from app.strategies import RULES, MlParams, StrategyParams
from servicekit.market import Candles, require_candles

router = APIRouter(tags=["backtest"])


def _unprocessable(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail)


def _positions(candles: Candles, body: BacktestRequest, params: StrategyParams | None):
    if body.strategy == "positions":
        return np.asarray(body.positions, dtype=np.float64)
    if body.strategy == "ml":
        assert isinstance(params, MlParams)
        return ml.positions(candles, params)
    return RULES[body.strategy].positions(candles, params)[0]


def render(candles: Candles, body: BacktestRequest, params: StrategyParams | None) -> bytes:
    """Positions, the backtest and the serialised answer (CPU work: run it in the pool)."""
    positions = _positions(candles, body, params)
    bars_per_year = body.bars_per_year or backtest.BARS_PER_YEAR[body.interval]
    result = backtest.run(
        candles.close,
        positions,
        fee_bps=body.fee_bps,
        initial_equity=body.initial_equity,
        bars_per_year=bars_per_year,
    )
    start_ms = candles.start_ms.tolist()
    answer = {
        "symbol": candles.symbol,
        "interval": candles.interval,
        "strategy": body.strategy,
        "params": params.model_dump() if params else {},
        "candles": len(candles),
        "first_candle_ms": start_ms[0],
        "last_candle_ms": start_ms[-1],
        "fee_bps": body.fee_bps,
        "initial_equity": body.initial_equity,
        "bars_per_year": bars_per_year,
        "final_equity": float(result.equity[-1]),
        "total_return": result.total_return,
        "sharpe": result.sharpe,
        "max_drawdown": result.max_drawdown,
        "exposure": result.exposure,
        "buy_and_hold_return": result.buy_and_hold_return,
        "win_rate": result.win_rate,
        "trades_count": len(result.trades),
        "trades": [
            {
                "side": "long" if trade.side > 0 else "short",
                "entry_ms": start_ms[trade.entry_index],
                "entry_price": trade.entry_price,
                "exit_ms": start_ms[trade.exit_index],
                "exit_price": trade.exit_price,
                "pnl": trade.pnl,
                "return": trade.return_,
                "open": trade.open,
            }
            for trade in result.trades
        ],
        "equity_curve": [
            {"start_ms": ms, "equity": equity, "position": int(position)}
            for ms, equity, position in zip(
                start_ms, result.equity.tolist(), positions.tolist(), strict=True
            )
        ],
    }
    return jsonio.dumps(answer)


@router.post("/backtest", response_model=BacktestPublic)
async def run_backtest(body: BacktestRequest, backends: BackendsDep, settings: SettingsDep):
    """Equity, trades, total return, Sharpe and max drawdown of a strategy on stored candles."""
    params: StrategyParams | None = None
    if body.strategy == "positions":
        if body.positions is None:
            raise _unprocessable("strategy 'positions' needs `positions`, one per candle")
        if body.params:
            raise _unprocessable("strategy 'positions' takes no `params`")
        needed = len(body.positions)
        if body.limit is not None and body.limit != needed:
            raise _unprocessable(f"limit={body.limit} but {needed} positions were given")
        if needed < 2:
            raise _unprocessable("a backtest needs at least 2 positions")
        what = f"a backtest of {needed} positions"
    else:
        if body.positions is not None:
            raise _unprocessable("`positions` are only for strategy 'positions'")
        params = strategy_params(body.strategy, body.params, ("body", "params"))
        if isinstance(params, MlParams):
            needed = ml.min_backtest_candles(params)
        else:
            needed = RULES[body.strategy].min_candles(params)
        what = f"a backtest of {body.strategy}"
    # Given positions fix the number of candles: the latest `needed` ones (of the window).
    asked = needed if body.strategy == "positions" else body.limit
    limit = candle_limit(asked, settings, needed, what)
    candles = await backends.candles(body.symbol, body.interval, limit, body.start_ms, body.end_ms)
    require_candles(candles, needed, what)
    content = await backends.pool.run(render, candles, body, params)
    return Response(content, media_type="application/json")
