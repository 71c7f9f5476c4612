"""A vectorised backtest of target positions on candles: equity, trades and their metrics.

Notation: bars t = 0..n-1 with closes c_t; p_t in {-1, 0, +1} is the position decided at the
close of bar t (from what was known then); f = fee_bps / 10,000 is the fee per unit of equity
traded; E_0 is the initial equity; p_{-1} = 0.

- Orders fill at the close where they are decided; the only cost is the fee.
- Bar return: r_t = c_t / c_{t-1} - 1, and r_0 = 0.
- The position decided at the close of bar t earns the return of bar t+1.
- Growth of bar t: g_t = (1 + p_{t-1} * r_t) * (1 - f) ** |p_t - p_{t-1}|. The fee is paid on
  each unit traded at that close, so a reversal (|Δp| = 2) pays it twice, as the exit and the
  entry it is made of. A position is a share of equity held over the bar (a short of -1 is
  -1 times equity, re-sized at each close without a fee), so a short compounds as Π(1 - r_t).
- Equity at the close of bar t, after that close's trade: E_t = E_0 * Π_{s<=t} g_s.
- Per-bar returns: R_t = g_t - 1 for t = 0..n-1.
- total_return = E_{n-1} / E_0 - 1.
- sharpe = mean(R) / std(R, ddof=1) * sqrt(bars_per_year); risk-free rate 0; null when the
  returns do not vary (std = 0).
- max_drawdown = max_t (1 - E_t / max(E_0, max_{s<=t} E_s)): the initial equity is a peak.
- A trade is a run of bars holding the same non-zero position: entered at the close of bar i
  (price c_i, after paying the entry fee), left at the close of bar j, the first bar whose
  position differs (price c_j, after paying the exit fee). Its equity before entry is
  B = E_i / (1 - f); after exit it is A = E_j, divided by (1 - f) when a new trade enters at
  that same close. pnl = A - B and return = A / B - 1, which for a long is
  (1 - f)² · c_j / c_i - 1. A trade still open at the last bar is marked at the last close
  with no exit fee (`open: true`). Flat bars do not move equity, so
  Π_k (1 + return_k) = E_{n-1} / E_0.
- exposure: the share of bars t >= 1 whose return was held (p_{t-1} != 0);
  buy_and_hold_return = c_{n-1} / c_0 - 1, the same candles without the strategy or fees.

Why not backtesting.py: it brings bokeh (its plots) into the image, runs each bar through a
Python `Strategy.next`, and computes its statistics inside its own code where the formulas are
hard to check; these are a few numpy lines whose every formula is written above.
"""

from dataclasses import dataclass

import numpy as np

# Bars in a year of a market that trades around the clock (365 days): the platform's feeds and
# replays run 24/7. A daily stock series has about 252; backtests may say so (`bars_per_year`).
BARS_PER_YEAR: dict[str, float] = {
    "1m": 365 * 24 * 60,
    "5m": 365 * 24 * 12,
    "1h": 365 * 24,
    "1d": 365,
}


@dataclass(frozen=True)
class Trade:
    side: int  # +1 long, -1 short
    entry_index: int
    exit_index: int  # the last bar for a trade still open
    entry_price: float
    exit_price: float  # the last close for a trade still open
    pnl: float
    return_: float
    open: bool


@dataclass(frozen=True)
class BacktestResult:
    equity: np.ndarray
    returns: np.ndarray
    trades: list[Trade]
    total_return: float
    sharpe: float | None
    max_drawdown: float
    exposure: float
    buy_and_hold_return: float

    @property
    def win_rate(self) -> float | None:
        """The share of closed trades that made money; None before any trade closed."""
        closed = [trade for trade in self.trades if not trade.open]
        if not closed:
            return None
        return sum(trade.pnl > 0 for trade in closed) / len(closed)


def check_positions(positions: np.ndarray, n: int) -> None:
    """Refuse positions the engine does not model (ValueError with the reason)."""
    if positions.shape != (n,):
        raise ValueError(f"{positions.shape[0]} positions for {n} candles")
    if not np.isin(positions, (-1.0, 0.0, 1.0)).all():
        raise ValueError("positions must each be -1, 0 or 1")


def sharpe_ratio(returns: np.ndarray, bars_per_year: float) -> float | None:
    """mean / sample std (ddof=1) of per-bar returns, annualised by sqrt(bars_per_year)."""
    if len(returns) < 2:
        return None
    std = float(np.std(returns, ddof=1))
    # Below float noise the returns are constant: the ratio would be noise over noise.
    if std <= 1e-15 * max(1.0, float(np.max(np.abs(returns)))):
        return None
    return float(np.mean(returns) / std * np.sqrt(bars_per_year))


def max_drawdown(equity: np.ndarray, initial: float) -> float:
    """The deepest fall from a running peak (the initial equity included), as a fraction."""
    peaks = np.maximum.accumulate(np.maximum(equity, initial))
    return float(np.max(1.0 - equity / peaks)) if len(equity) else 0.0


def _trades(positions: np.ndarray, close: np.ndarray, equity: np.ndarray, fee: float) -> list:
    n = len(positions)
    previous = np.concatenate(([0.0], positions[:-1]))
    changes = np.flatnonzero(positions != previous)
    entries = changes[positions[changes] != 0]
    # A trade ends at the next change after its entry, or is still open at the end.
    next_change = np.searchsorted(changes, entries, side="right")
    trades = []
    for entry, k in zip(entries.tolist(), next_change.tolist(), strict=True):
        is_open = k >= len(changes)
        exit_ = n - 1 if is_open else int(changes[k])
        before = equity[entry] / (1.0 - fee)
        after = equity[exit_]
        if not is_open and positions[exit_] != 0:
            after /= 1.0 - fee  # the next trade's entry fee, paid at this same close
        trades.append(
            Trade(
                side=int(positions[entry]),
                entry_index=entry,
                exit_index=exit_,
                entry_price=float(close[entry]),
                exit_price=float(close[exit_]),
                pnl=float(after - before),
                return_=float(after / before - 1.0),
                open=is_open,
            )
        )
    return trades


def run(
    close: np.ndarray,
    positions: np.ndarray,
    *,
    fee_bps: float = 0.0,
    initial_equity: float = 1.0,
    bars_per_year: float = 365.0,
) -> BacktestResult:
    """Backtest `positions` (decided at each close) on `close`, per the module's formulas."""
    n = len(close)
    if n < 2:
        raise ValueError("a backtest needs at least 2 candles")
    positions = np.asarray(positions, dtype=np.float64)
    check_positions(positions, n)
    if not (np.isfinite(close).all() and (close > 0).all()):
        raise ValueError("closes must be positive numbers")
    fee = fee_bps / 10_000.0
    if not 0.0 <= fee < 1.0:
        raise ValueError("fee_bps must be in [0, 10000)")

    bar_returns = np.zeros(n)
    bar_returns[1:] = close[1:] / close[:-1] - 1.0
    held = np.concatenate(([0.0], positions[:-1]))  # p_{t-1}, the position over bar t
    traded = np.abs(positions - held)
    growth = (1.0 + held * bar_returns) * (1.0 - fee) ** traded
    equity = initial_equity * np.cumprod(growth)

    return BacktestResult(
        equity=equity,
        returns=growth - 1.0,
        trades=_trades(positions, close, equity, fee),
        total_return=float(equity[-1] / initial_equity - 1.0),
        sharpe=sharpe_ratio(growth - 1.0, bars_per_year),
        max_drawdown=max_drawdown(equity, initial_equity),
        exposure=float(np.mean(held[1:] != 0)),
        buy_and_hold_return=float(close[-1] / close[0] - 1.0),
    )
