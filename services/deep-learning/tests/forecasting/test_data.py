"""Windows, the time split (no validation target was a training target) and normalization."""

import numpy as np
import pytest

from app.forecasting.data import (
    MIN_TRAIN,
    MIN_VAL,
    NotEnoughHistory,
    log_returns,
    min_candles,
    prepare,
    split_sizes,
    windows,
)
from app.forecasting.model import ForecasterConfig
from tests.utils import eurusd_closes


def test_windows_pair_inputs_with_the_next_returns() -> None:
    returns = np.arange(10.0)
    x, y = windows(returns, window=3, horizon=2)
    assert x.shape == (6, 3) and y.shape == (6, 2)
    assert x[0].tolist() == [0, 1, 2] and y[0].tolist() == [3, 4]
    assert x[-1].tolist() == [5, 6, 7] and y[-1].tolist() == [8, 9]


def test_split_leaves_a_gap_so_targets_never_overlap() -> None:
    config = ForecasterConfig(window=8, horizon=4)
    n_train, gap, n_val = split_sizes(200, config)
    assert gap == 3 and n_train + gap + n_val == 200
    # Sample i's targets are returns i+window .. i+window+horizon-1.
    last_train_target = (n_train - 1) + config.window + config.horizon - 1
    first_val_target = (n_train + gap) + config.window
    assert first_val_target > last_train_target


def test_min_candles_is_exact() -> None:
    config = ForecasterConfig(window=16, horizon=3)
    needed = min_candles(config)
    closes = eurusd_closes()[:needed]
    data = prepare(closes, config)
    assert len(data.x_train) == MIN_TRAIN and len(data.y_val) >= MIN_VAL
    with pytest.raises(NotEnoughHistory, match=f"at least {needed} candles"):
        prepare(closes[:-1], config)


def test_scale_comes_from_training_returns_only() -> None:
    config = ForecasterConfig(window=16, horizon=3)
    closes = eurusd_closes()[:1_000]
    # A wild tail (validation only) must not change the scale.
    wild = closes.copy()
    wild[-50:] *= np.linspace(1.0, 3.0, 50)
    assert prepare(closes, config).scale == prepare(wild, config).scale
    data = prepare(closes, config)
    n_train = len(data.x_train)
    returns = log_returns(closes)
    assert data.scale == pytest.approx(np.std(returns[: n_train - 1 + 16 + 3]))
    assert np.allclose(data.x_train[0] * data.scale, returns[:16], atol=1e-9)


def test_flat_prices_cannot_train() -> None:
    config = ForecasterConfig(window=8, horizon=2)
    with pytest.raises(NotEnoughHistory, match="never change"):
        prepare(np.full(min_candles(config) + 10, 1.25), config)
