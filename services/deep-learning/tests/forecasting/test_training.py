"""Training on real EURUSD closes: finite losses, the random-walk baseline, determinism."""

import math
import threading

import numpy as np
import pytest
import torch

from app.forecasting.model import ForecasterConfig
from app.forecasting.training import TrainingCancelled, train
from tests.utils import SMALL, eurusd_closes

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def closes() -> np.ndarray:
    return eurusd_closes()[-800:]


def test_losses_are_finite_and_beside_the_baseline(closes: np.ndarray) -> None:
    trained = train(closes, ForecasterConfig(**SMALL), CPU)
    m = trained.metrics
    for key in ("train_loss", "val_loss", "baseline_train_loss", "baseline_val_loss"):
        assert math.isfinite(m[key]) and m[key] > 0, key
    assert m["val_skill"] == pytest.approx(1 - m["val_loss"] / m["baseline_val_loss"])
    assert len(trained.history) == SMALL["epochs"]
    assert len(trained.residual_rms) == SMALL["horizon"]
    assert all(v > 0 for v in trained.residual_rms)
    assert m["train_samples"] + m["val_samples"] + SMALL["horizon"] - 1 == (
        len(closes) - SMALL["window"] - SMALL["horizon"]
    )


def test_baseline_is_the_mean_square_of_the_targets(closes: np.ndarray) -> None:
    """Zero-return predictions: the baseline loss is mean(y^2) in the model's units."""
    trained = train(closes, ForecasterConfig(**{**SMALL, "epochs": 1}), CPU)
    returns = np.diff(np.log(closes)) / trained.scale
    window, horizon = SMALL["window"], SMALL["horizon"]
    n_val = trained.metrics["val_samples"]
    targets = np.lib.stride_tricks.sliding_window_view(returns, window + horizon)[:, window:]
    assert trained.metrics["baseline_val_loss"] == pytest.approx(
        float(np.mean(targets[-n_val:] ** 2)), rel=1e-5
    )


def test_same_seed_same_model(closes: np.ndarray) -> None:
    first = train(closes, ForecasterConfig(**SMALL, seed=7), CPU)
    second = train(closes, ForecasterConfig(**SMALL, seed=7), CPU)
    assert first.metrics["val_loss"] == second.metrics["val_loss"]
    for name, tensor in first.state_dict.items():
        assert torch.equal(tensor, second.state_dict[name]), name
    other = train(closes, ForecasterConfig(**SMALL, seed=8), CPU)
    assert not torch.equal(first.state_dict["head.weight"], other.state_dict["head.weight"])


def test_cancel_stops_between_epochs(closes: np.ndarray) -> None:
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(TrainingCancelled, match="after 0 of"):
        train(closes, ForecasterConfig(**SMALL), CPU, cancel=cancel)
