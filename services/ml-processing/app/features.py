"""The feature schema: what a model sees of the candles up to bar t, and the label of bar t.

Every feature of bar t uses only candles 0..t (never a later one), and is scale-free (returns,
ratios), so one model can be applied to any price level. Windows are the last `w` bars,
bar t included. The label of bar t is 1 when close[t+1] > close[t], else 0 (an unchanged close
counts as not up); the last bar has no label.

The ordered names are `FEATURES`; they are stored with every model (its feature schema) and a
prediction must name exactly these, or give the values in this order.
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from servicekit.market import Candles, next_close_higher

RETURN_LAGS = (1, 2, 3, 5, 10, 20)

FEATURES: tuple[str, ...] = (
    *(f"ret_{k}" for k in RETURN_LAGS),  # log(close[t] / close[t-k])
    "vol_10",  # standard deviation of the 1-bar log returns over 10 bars
    "vol_20",  # ... and over 20 bars
    "rsi_14",  # gains / (gains + losses) over 14 bars (Cutler's RSI / 100); 0.5 when flat
    "mom_10",  # close / mean(close over 10 bars) - 1
    "sma_5_20",  # mean(close over 5) / mean(close over 20) - 1
    "range_rel",  # (high - low) / close
    "body_rel",  # (close - open) / close
    "close_pos",  # (close - low) / (high - low): where the bar closed in its range; 0.5 if none
    "atr_14",  # mean true range over 14 bars / close
    "volume_rel_20",  # log1p(volume) - mean(log1p(volume) over 20 bars)
)
# Rows 0..LOOKBACK-1 lack some feature (ret_20 and vol_20 need 20 earlier closes).
LOOKBACK = 20


def _rolling(values: np.ndarray, window: int, reduce) -> np.ndarray:
    """`reduce` over each trailing window (bar t and the window-1 before it); NaN before."""
    out = np.full(len(values), np.nan)
    if len(values) >= window:
        out[window - 1 :] = reduce(sliding_window_view(values, window), axis=1)
    return out


def _lagged_log_return(close: np.ndarray, lag: int) -> np.ndarray:
    out = np.full(len(close), np.nan)
    out[lag:] = np.log(close[lag:] / close[:-lag])
    return out


def build(candles: Candles) -> np.ndarray:
    """An (n, len(FEATURES)) float64 array; rows still warming up (or undefined) hold NaN."""
    o, h, lo, c = candles.open, candles.high, candles.low, candles.close
    n = len(c)
    with np.errstate(divide="ignore", invalid="ignore"):
        returns = [_lagged_log_return(c, k) for k in RETURN_LAGS]
        r1 = returns[0]

        diff = np.full(n, np.nan)
        diff[1:] = np.diff(c)
        gains = _rolling(np.clip(diff, 0.0, None), 14, np.sum)
        losses = _rolling(np.clip(-diff, 0.0, None), 14, np.sum)
        moved = gains + losses
        rsi = np.where(moved > 0, gains / moved, 0.5)
        rsi[np.isnan(moved)] = np.nan

        mean_5 = _rolling(c, 5, np.mean)
        mean_10 = _rolling(c, 10, np.mean)
        mean_20 = _rolling(c, 20, np.mean)

        span = h - lo
        close_pos = np.where(span > 0, (c - lo) / span, 0.5)
        previous = np.concatenate(([np.nan], c[:-1]))
        true_range = np.fmax(span, np.fmax(np.abs(h - previous), np.abs(lo - previous)))
        true_range[0] = np.nan

        log_volume = np.log1p(np.clip(candles.volume, 0.0, None))
        columns = (
            *returns,
            _rolling(r1, 10, np.std),
            _rolling(r1, 20, np.std),
            rsi,
            c / mean_10 - 1.0,
            mean_5 / mean_20 - 1.0,
            span / c,
            (c - o) / c,
            close_pos,
            _rolling(true_range, 14, np.mean) / c,
            log_volume - _rolling(log_volume, 20, np.mean),
        )
    table = np.column_stack(columns)
    # Zero or negative prices give infinities: such rows are undefined, like the warm-up.
    table[~np.isfinite(table)] = np.nan
    return table


# The target: 1.0 where the next close is higher, 0.0 where not, NaN on the last bar.
labels = next_close_higher
