"""From closes to training samples: log returns, sliding windows and a time split.

Sample i reads returns r[i : i+window] and targets r[i+window : i+window+horizon], where
r[t] = log(close[t+1] / close[t]). Samples are split in time, never shuffled across the split:
the first ones train, the last `val_fraction` (at least MIN_VAL) validate, and the horizon - 1
samples between are dropped so that no validation target was ever a training target.

Normalization: returns are divided by the standard deviation of the returns the training
samples cover (no centring), so a zero-return forecast (the random walk: the next closes equal
the last one) is exactly 0 in the model's units. Validation data never shapes the scale.
"""

import math
from dataclasses import dataclass

import numpy as np

from app.forecasting.model import ForecasterConfig

MIN_TRAIN = 64
MIN_VAL = 16


class NotEnoughHistory(Exception):
    """Too few (or too flat) closes to train or validate the forecaster."""


def log_returns(close: np.ndarray) -> np.ndarray:
    """r[t] = log(close[t+1] / close[t]); closes must be positive and finite."""
    return np.diff(np.log(close))


def val_samples(samples: int, fraction: float) -> int:
    """How many of `samples`, at the end, validate."""
    return max(MIN_VAL, math.ceil(fraction * samples))


def split_sizes(samples: int, config: ForecasterConfig) -> tuple[int, int, int]:
    """(train, gap, validation) sample counts for `samples` windows."""
    gap = config.horizon - 1
    n_val = val_samples(samples, config.val_fraction)
    return samples - gap - n_val, gap, n_val


def min_candles(config: ForecasterConfig) -> int:
    """The fewest closes that leave MIN_TRAIN training samples after the gap and validation."""
    samples = MIN_TRAIN + MIN_VAL
    while split_sizes(samples, config)[0] < MIN_TRAIN:
        samples += 1
    # closes n give n - 1 returns and n - window - horizon samples.
    return samples + config.window + config.horizon


def windows(returns: np.ndarray, window: int, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """(inputs (m, window), targets (m, horizon)) of every full sample, in time order."""
    span = np.lib.stride_tricks.sliding_window_view(returns, window + horizon)
    return span[:, :window].copy(), span[:, window:].copy()


@dataclass(frozen=True)
class Dataset:
    """Normalized samples of one training run and the scale that normalized them."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    scale: float  # std of the training returns; model units * scale = log return


def prepare(close: np.ndarray, config: ForecasterConfig) -> Dataset:
    """Samples from closes (ascending), split in time and normalized by the training scale."""
    needed = min_candles(config)
    if len(close) < needed:
        raise NotEnoughHistory(
            f"window={config.window} and horizon={config.horizon} need at least {needed} "
            f"candles ({MIN_TRAIN} training and {MIN_VAL} validation samples); got {len(close)}"
        )
    returns = log_returns(close)
    x, y = windows(returns, config.window, config.horizon)
    n_train, gap, _ = split_sizes(len(x), config)
    # The returns training samples cover: inputs and targets of samples 0 .. n_train - 1.
    scale = float(np.std(returns[: n_train - 1 + config.window + config.horizon]))
    if not math.isfinite(scale) or scale <= 0:
        raise NotEnoughHistory("the training closes never change: there is nothing to learn")
    return Dataset(
        x_train=(x[:n_train] / scale).astype(np.float32),
        y_train=(y[:n_train] / scale).astype(np.float32),
        x_val=(x[n_train + gap :] / scale).astype(np.float32),
        y_val=(y[n_train + gap :] / scale).astype(np.float32),
        scale=scale,
    )
