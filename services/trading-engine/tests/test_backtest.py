"""The backtest engine against numbers worked out by hand (the formulas: app.backtest)."""

import math
import statistics

import numpy as np
import pytest

from app import backtest


def test_long_then_flat_without_fees() -> None:
    closes = [100.0, 110.0, 99.0, 99.0, 108.9]
    # Bar returns: 0, +10%, -10%, 0, +10%. Long decided at closes 0 and 1, flat from close 2:
    # bars 1 and 2 are held. Growth: 1, 1.1, 0.9, 1, 1 -> equity 1, 1.1, 0.99, 0.99, 0.99.
    result = backtest.run(np.array(closes), np.array([1, 1, 0, 0, 0]), bars_per_year=365)
    assert result.equity.tolist() == pytest.approx([1.0, 1.1, 0.99, 0.99, 0.99])
    assert result.total_return == pytest.approx(-0.01)
    # Peak 1.1 at bar 1, then 0.99: 1 - 0.99 / 1.1 = 0.1.
    assert result.max_drawdown == pytest.approx(0.1)
    # Per-bar returns 0, 0.1, -0.1, 0, 0 have mean 0: Sharpe 0.
    assert result.sharpe == pytest.approx(0.0, abs=1e-12)
    # Held over bars 1 and 2 of the 4 bars with a return.
    assert result.exposure == pytest.approx(0.5)
    assert result.buy_and_hold_return == pytest.approx(0.089)  # 108.9 / 100 - 1
    [trade] = result.trades
    assert (trade.side, trade.entry_index, trade.exit_index) == (1, 0, 2)
    assert (trade.entry_price, trade.exit_price, trade.open) == (100.0, 99.0, False)
    assert trade.return_ == pytest.approx(-0.01)  # 99 / 100 - 1
    assert trade.pnl == pytest.approx(-0.01)  # on an equity of 1
    assert result.win_rate == 0.0


def test_fees_on_entry_and_exit() -> None:
    closes = [100.0, 110.0, 99.0, 99.0, 108.9]
    # f = 10 bps = 0.001. Growth: g0 = 0.999 (entry fee), g1 = 1.1,
    # g2 = 0.9 * 0.999 = 0.8991 (the bar's -10%, then the exit fee), g3 = g4 = 1.
    # Equity (E_0 = 1000): 999, 1098.9, 1098.9 * 0.8991 = 988.02099, 988.02099, 988.02099.
    result = backtest.run(
        np.array(closes), np.array([1, 1, 0, 0, 0]), fee_bps=10, initial_equity=1000
    )
    assert result.equity.tolist() == pytest.approx([999.0, 1098.9, 988.02099, 988.02099, 988.02099])
    assert result.total_return == pytest.approx(-0.01197901)
    # The initial 1000 is a peak: 1 - 999/1000 = 0.001; the deepest is 1 - 988.02099 / 1098.9
    # = 1 - 0.8991 = 0.1009.
    assert result.max_drawdown == pytest.approx(0.1009)
    # Per-bar returns -0.001, 0.1, -0.1009, 0, 0: mean -0.00038; deviations -0.00062, 0.10038,
    # -0.10052, 0.00038, 0.00038; squares sum to 0.020181088; / 4 = 0.005045272;
    # std = 0.0710300788...; Sharpe = -0.00038 / 0.0710300788 * sqrt(365) = -0.1022097...
    assert result.sharpe == pytest.approx(-0.00038 / math.sqrt(0.005045272) * math.sqrt(365))
    assert result.sharpe == pytest.approx(-0.10221, abs=1e-5)
    [trade] = result.trades
    # (1 - f)^2 * 99 / 100 - 1 = 0.998001 * 0.99 - 1 = -0.01197901; pnl on 1000 before entry.
    assert trade.return_ == pytest.approx(-0.01197901)
    assert trade.pnl == pytest.approx(-11.97901)


def test_short_and_reversal_pay_each_leg() -> None:
    closes = [100.0, 90.0, 99.0, 99.0]
    # Short at close 0, reverse to long at close 1, flat at close 3; f = 1% (100 bps).
    # Bar returns 0, -0.1, +0.1, 0; held -1, +1, +1 over bars 1..3; traded 1, 2, 0, 1.
    # Growth: 0.99; 1.1 * 0.99^2 = 1.07811; 1.1; 0.99.
    # Equity: 0.99, 1.0673289, 1.17406179, 1.1623211721.
    result = backtest.run(np.array(closes), np.array([-1, 1, 1, 0]), fee_bps=100)
    assert result.equity.tolist() == pytest.approx([0.99, 1.0673289, 1.17406179, 1.1623211721])
    short, long_ = result.trades
    # The short: 1 before its entry fee, 1.0673289 / 0.99 = 1.07811 after its exit fee (the
    # long's entry fee, paid at the same close, is the long's): return 0.99 * 1.1 * 0.99 - 1.
    assert (short.side, short.entry_price, short.exit_price) == (-1, 100.0, 90.0)
    assert short.return_ == pytest.approx(0.07811)
    assert short.pnl == pytest.approx(0.07811)
    # The long: from 1.07811 to 1.1623211721, again 0.99 * (99 / 90) * 0.99 - 1 = 0.07811.
    assert (long_.side, long_.entry_price, long_.exit_price) == (1, 90.0, 99.0)
    assert long_.return_ == pytest.approx(0.07811)
    assert long_.pnl == pytest.approx(1.1623211721 - 1.07811)
    assert result.total_return == pytest.approx(0.1623211721)  # 1.07811^2 - 1
    assert result.win_rate == 1.0


def test_a_short_compounds_bar_by_bar() -> None:
    closes = [100.0, 110.0, 121.0]
    # Short over two +10% bars: growth 0.9 then 0.9 (re-sized at each close) = 0.81, not the
    # 1 - (121 / 100 - 1) = 0.79 of a fixed quantity.
    result = backtest.run(np.array(closes), np.array([-1, -1, -1]))
    assert result.equity.tolist() == pytest.approx([1.0, 0.9, 0.81])
    [trade] = result.trades
    assert trade.open and trade.return_ == pytest.approx(-0.19)


def test_a_trade_still_open_is_marked_at_the_last_close() -> None:
    # Long from close 1 (11) to the end (12), f = 0: return 12 / 11 - 1 = 1/11, no exit fee.
    result = backtest.run(np.array([10.0, 11.0, 12.0]), np.array([0, 1, 1]), initial_equity=100)
    [trade] = result.trades
    assert trade.open and (trade.entry_index, trade.exit_index) == (1, 2)
    assert trade.exit_price == 12.0
    assert trade.return_ == pytest.approx(1 / 11)
    assert trade.pnl == pytest.approx(100 / 11)
    assert result.win_rate is None  # no trade has closed


def test_drawdown_counts_the_initial_equity_as_a_peak() -> None:
    # f = 1%: equity 0.99 (entry fee), 0.99 * 0.9 = 0.891, 0.891 * 95/90 = 0.9405.
    # From the initial 1: 1 - 0.891 = 0.109 (from 0.99 it would be only 0.1).
    result = backtest.run(np.array([100.0, 90.0, 95.0]), np.array([1, 1, 1]), fee_bps=100)
    assert result.equity.tolist() == pytest.approx([0.99, 0.891, 0.9405])
    assert result.max_drawdown == pytest.approx(0.109)


def test_sharpe_annualises_with_bars_per_year() -> None:
    closes = [100.0, 101.0, 100.0, 102.0, 102.0, 101.0]
    result = backtest.run(np.array(closes), np.ones(6), bars_per_year=8760)
    # Held over bars 1..5 only, bar 0 has no return: 0, 0.01, -1/101, 0.02, 0, -1/102.
    returns = [0.0, 0.01, 100 / 101 - 1, 0.02, 0.0, 101 / 102 - 1]
    expected = statistics.mean(returns) / statistics.stdev(returns) * math.sqrt(8760)
    assert result.sharpe == pytest.approx(expected)


def test_flat_throughout() -> None:
    result = backtest.run(np.array([1.0, 2.0, 3.0]), np.zeros(3), fee_bps=50)
    assert result.equity.tolist() == [1.0, 1.0, 1.0]
    assert result.total_return == 0.0 and result.max_drawdown == 0.0
    assert result.sharpe is None  # returns that never vary have no ratio
    assert result.trades == [] and result.exposure == 0.0


def test_trade_returns_multiply_to_the_total() -> None:
    rng = np.random.default_rng(7)
    closes = 100 * np.cumprod(1 + rng.normal(0, 0.01, 300))
    positions = rng.choice([-1.0, 0.0, 1.0], size=300, p=[0.1, 0.8, 0.1])
    positions = np.repeat(positions[::5], 5)  # runs of 5 bars
    result = backtest.run(closes, positions, fee_bps=25)
    product = math.prod(1 + trade.return_ for trade in result.trades)
    assert product == pytest.approx(1 + result.total_return, rel=1e-12)


@pytest.mark.parametrize(
    ("closes", "positions", "message"),
    [
        ([1.0], [0], "at least 2 candles"),
        ([1.0, 2.0], [0, 2], "-1, 0 or 1"),
        ([1.0, 2.0], [0, 0.5], "-1, 0 or 1"),
        ([1.0, 2.0, 3.0], [0, 1], "2 positions for 3 candles"),
        ([1.0, -2.0], [0, 1], "positive"),
    ],
)
def test_refused_inputs(closes: list, positions: list, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        backtest.run(np.array(closes), np.array(positions, dtype=float))
