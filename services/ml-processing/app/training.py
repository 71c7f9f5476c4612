"""Training one model on stored candles, honestly scored.

The labelled rows (bars LOOKBACK .. n-2 whose features are all defined) are split in time,
never shuffled: the model is fit on the head and scored on the tail (`validation_fraction` of
the rows, at least MIN_VALIDATION). Next to its accuracy, log-loss and AUC stand the scores of
the majority-class baseline fit on the same head: always answering the head's more frequent
class (accuracy), and always answering the head's up-rate as the probability (log-loss; its
AUC is 0.5 by definition). A model no better than its baseline shows as such.

The model stored is the one that was scored (fit on the head only), so the metrics describe
exactly what predictions will use.
"""

import math
import time
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import accuracy_score, log_loss, roc_auc_score

from app import features, learners
from servicekit.market import Candles

MIN_TRAIN = 200
MIN_VALIDATION = 50


class NotEnoughCandles(Exception):
    """Fewer usable candles than a training needs; says how many it has and needs."""

    def __init__(self, needed: int, candles: Candles, labelled: int) -> None:
        super().__init__(
            f"training needs at least {needed} candles ({MIN_TRAIN} training and "
            f"{MIN_VALIDATION} validation rows after a {features.LOOKBACK}-candle warm-up, plus "
            f"the unlabelled last candle); {len(candles)} {candles.interval} candles of "
            f"{candles.symbol} were read, giving {labelled} labelled rows"
        )
        self.needed = needed
        self.available = len(candles)


class NothingToLearn(Exception):
    """The training rows never move both ways (e.g. a flat price)."""


def validation_rows(labelled: int, fraction: float) -> int:
    """How many of `labelled` rows, at the end, are held out for validation."""
    return max(MIN_VALIDATION, math.ceil(fraction * labelled))


def min_candles(fraction: float) -> int:
    """The fewest candles whose labelled rows leave MIN_TRAIN after the validation tail."""
    labelled = MIN_TRAIN + MIN_VALIDATION
    while labelled - validation_rows(labelled, fraction) < MIN_TRAIN:
        labelled += 1
    return features.LOOKBACK + labelled + 1


@dataclass(frozen=True)
class TrainedModel:
    """A fit learner, its validation metrics and what it was trained on."""

    learner: learners.Learner
    metrics: dict
    params: dict
    candles: dict
    train_seconds: float


def _metrics(y: np.ndarray, p: np.ndarray, y_train: np.ndarray) -> dict:
    up_rate = float(y_train.mean())
    majority = 1.0 if up_rate >= 0.5 else 0.0
    # Probabilities strictly inside (0, 1), so a constant 0 or 1 cannot make the loss infinite.
    constant = np.full(len(y), min(max(up_rate, 1e-15), 1 - 1e-15))
    both_classes = len(np.unique(y)) == 2
    return {
        "accuracy": float(accuracy_score(y, p >= 0.5)),
        "log_loss": float(log_loss(y, p, labels=[0.0, 1.0])),
        "auc": float(roc_auc_score(y, p)) if both_classes else None,
        "baseline_accuracy": float(accuracy_score(y, np.full(len(y), majority))),
        "baseline_log_loss": float(log_loss(y, constant, labels=[0.0, 1.0])),
        "baseline_auc": 0.5,
        "train_rows": len(y_train),
        "validation_rows": len(y),
        "train_up_rate": up_rate,
        "validation_up_rate": float(y.mean()),
    }


@dataclass(frozen=True)
class Dataset:
    """The labelled rows split in time: fit on the head (`train`), score on the tail."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_valid: np.ndarray
    y_valid: np.ndarray
    candles: dict


def prepare(candles: Candles, fraction: float) -> Dataset:
    """Features and labels of the candles, split; raises when they cannot train a model."""
    x_all, y_all = features.build(candles), features.labels(candles)
    rows = np.flatnonzero(~np.isnan(x_all).any(axis=1) & ~np.isnan(y_all))
    n_validation = validation_rows(len(rows), fraction)
    n_train = len(rows) - n_validation
    if n_train < MIN_TRAIN:
        raise NotEnoughCandles(min_candles(fraction), candles, len(rows))
    train_idx, valid_idx = rows[:n_train], rows[n_train:]
    if len(np.unique(y_all[train_idx])) < 2:
        raise NothingToLearn(
            f"the {n_train} training candles of {candles.symbol} never move both ways: "
            "nothing to learn"
        )
    start_ms = candles.start_ms
    return Dataset(
        x_train=x_all[train_idx],
        y_train=y_all[train_idx],
        x_valid=x_all[valid_idx],
        y_valid=y_all[valid_idx],
        candles={
            "symbol": candles.symbol,
            "interval": candles.interval,
            "count": len(candles),
            "first_start_ms": int(start_ms[0]),
            "last_start_ms": int(start_ms[-1]),
            # The last training row's label is the next close: validation starts after it.
            "train_until_ms": int(start_ms[train_idx[-1]]),
            "validation_from_ms": int(start_ms[valid_idx[0]]),
        },
    )


def fit_and_score(data: Dataset, kind: str, params: learners.Params, threads: int) -> TrainedModel:
    """Fit a `kind` model on the head of the rows and score it on the tail."""
    started = time.perf_counter()
    learner = learners.fit(kind, data.x_train, data.y_train, params, features.FEATURES, threads)
    seconds = time.perf_counter() - started
    metrics = _metrics(data.y_valid, learner.predict(data.x_valid), data.y_train)
    return TrainedModel(
        learner=learner,
        metrics=metrics,
        params=params.model_dump(),
        candles=data.candles,
        train_seconds=seconds,
    )
