"""Request and response bodies of the trading-engine API (see services/README.md)."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.strategies import STRATEGY_NAMES
from servicekit.market import SYMBOL_PATTERN, Interval

Signal = Literal["buy", "sell", "hold"]
Position = Literal["long", "flat", "short"]
# "positions": the caller's own positions, one per candle, instead of a named strategy.
BacktestStrategy = Literal[(*STRATEGY_NAMES, "positions")]  # type: ignore[valid-type]

Values = list[float | None]


class IndicatorsPublic(BaseModel):
    """Each indicator's values, one per candle (null while it warms up)."""

    symbol: str
    interval: Interval
    start_ms: list[int]
    close: list[float]
    params: dict[str, dict[str, float]]
    indicators: dict[str, Values | dict[str, Values]] = Field(
        description="sma, ema, rsi, atr: one list; macd: {macd, signal, hist}; "
        "bbands: {upper, middle, lower}"
    )


class SignalPublic(BaseModel):
    symbol: str
    interval: Interval
    strategy: str
    params: dict[str, Any]
    signal: Signal
    position: Position
    last_candle_ms: int
    last_close: float
    candles: int
    cached: bool
    computed_at_ms: int
    details: dict[str, Any]


class BacktestRequest(BaseModel):
    """A backtest of a strategy (or of given positions) on stored candles."""

    model_config = ConfigDict(extra="forbid")

    symbol: str = Field(pattern=SYMBOL_PATTERN)
    interval: Interval
    strategy: BacktestStrategy
    params: dict[str, Any] = Field(
        default_factory=dict, description="the strategy's parameters, as GET /signals takes them"
    )
    positions: list[Literal[-1, 0, 1]] | None = Field(
        default=None,
        description="strategy 'positions' only: one per candle, decided at its close; "
        "the backtest runs on that many latest candles (of the window)",
    )
    limit: int | None = Field(default=None, ge=2, description="candles, the latest ones")
    start_ms: int | None = Field(default=None, ge=0)
    end_ms: int | None = Field(default=None, ge=0)
    fee_bps: float = Field(default=10.0, ge=0, le=1_000, description="per unit of equity traded")
    initial_equity: float = Field(default=10_000.0, gt=0, le=1e15)
    bars_per_year: float | None = Field(
        default=None, gt=0, description="annualises Sharpe; default: 24/7 bars of the interval"
    )


class TradePublic(BaseModel):
    side: Literal["long", "short"]
    entry_ms: int
    entry_price: float
    exit_ms: int
    exit_price: float
    pnl: float
    return_: float = Field(alias="return")
    open: bool


class EquityPoint(BaseModel):
    start_ms: int
    equity: float
    position: int


class BacktestPublic(BaseModel):
    symbol: str
    interval: Interval
    strategy: str
    params: dict[str, Any]
    candles: int
    first_candle_ms: int
    last_candle_ms: int
    fee_bps: float
    initial_equity: float
    bars_per_year: float
    final_equity: float
    total_return: float
    sharpe: float | None
    max_drawdown: float
    exposure: float
    buy_and_hold_return: float
    win_rate: float | None
    trades_count: int
    trades: list[TradePublic]
    equity_curve: list[EquityPoint]
