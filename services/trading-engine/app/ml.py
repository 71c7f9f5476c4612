"""The scikit-learn strategy: will the next candle close higher than this one?

Features of bar t use only candles up to t: the 1- and 5-bar returns, RSI(14) / 100, the
MACD(12, 26, 9) histogram / close, Bollinger %b (20, 2) and ATR(14) / close. The label of bar t
is 1 when close[t+1] > close[t], else 0 (an unchanged close counts as not up). Bars whose
features are still warming up are left out; the last bar has no label and is the one predicted.

Honesty about accuracy: the labelled bars are split in time, never shuffled. The model is fit
on the head and scored on the held-out tail (`test_fraction` of the rows, at least MIN_TEST);
that score and the score of always answering the head's majority class are both reported, so
a model no better than the base rate shows as such. The call on the last bar is then made by
the same model refit on every labelled bar, the tail included (the tail score is the estimate
of how that refit model does on unseen bars).
"""

import math
from dataclasses import dataclass

import numpy as np
import talib
from sklearn.base import ClassifierMixin
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from app.strategies import MlParams
from servicekit.market import Candles, next_close_higher

FEATURES = ("return_1", "return_5", "rsi", "macd_hist_rel", "bb_percent_b", "atr_rel")
# Leading bars without every feature: MACD(12, 26, 9) is the longest warm-up (25 + 8).
FEATURE_LOOKBACK = 33
MIN_TRAIN = 50
MIN_TEST = 10


class NotEnoughHistory(Exception):
    """Too few (or too uniform) candles to train and test the classifier."""


def features(candles: Candles) -> np.ndarray:
    """An (n, len(FEATURES)) array; rows still warming up hold NaN."""
    close = candles.close
    n = len(close)
    return_1 = np.full(n, np.nan)
    return_5 = np.full(n, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        return_1[1:] = close[1:] / close[:-1] - 1.0
        return_5[5:] = close[5:] / close[:-5] - 1.0
        rsi = talib.RSI(close, timeperiod=14) / 100.0
        _, _, hist = talib.MACD(close, fastperiod=12, slowperiod=26, signalperiod=9)
        upper, _, lower = talib.BBANDS(close, timeperiod=20, nbdevup=2.0, nbdevdn=2.0)
        # A flat window has no band width: %b is undefined there, and the row is dropped.
        percent_b = (close - lower) / (upper - lower)
        atr = talib.ATR(candles.high, candles.low, close, timeperiod=14)
        columns = (return_1, return_5, rsi, hist / close, percent_b, atr / close)
    table = np.column_stack(columns)
    table[~np.isfinite(table)] = np.nan
    return table


# The target: 1.0 where the next close is higher, 0.0 where not, NaN on the last bar.
labels = next_close_higher


def held_out_rows(labelled: int, fraction: float) -> int:
    """How many of `labelled` rows, at the end, are held out."""
    return max(MIN_TEST, math.ceil(fraction * labelled))


def min_candles(params: MlParams) -> int:
    """The fewest candles whose labelled rows leave MIN_TRAIN to train after the held-out tail."""
    labelled = MIN_TRAIN + MIN_TEST
    while labelled - held_out_rows(labelled, params.test_fraction) < MIN_TRAIN:
        labelled += 1
    # Labelled rows are FEATURE_LOOKBACK .. n-2; the last bar (n-1) is predicted.
    return FEATURE_LOOKBACK + labelled + 1


def make_model(kind: str) -> ClassifierMixin:
    """A fresh, deterministic classifier. n_jobs=1: requests already run in parallel."""
    if kind == "forest":
        return RandomForestClassifier(
            n_estimators=100, max_depth=5, min_samples_leaf=5, random_state=0, n_jobs=1
        )
    return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=1_000))


def _fit(kind: str, x: np.ndarray, y: np.ndarray) -> ClassifierMixin:
    if len(np.unique(y)) < 2:
        raise NotEnoughHistory("the training candles never move both ways: nothing to learn")
    return make_model(kind).fit(x, y)


def _p_up(model: ClassifierMixin, x: np.ndarray) -> np.ndarray:
    """P(label 1) for each row (the classes are 0.0 and 1.0, sorted)."""
    return model.predict_proba(x)[:, 1]


@dataclass(frozen=True)
class Prediction:
    """The call on the last candle and how well the model did on the held-out tail."""

    p_up: float
    holdout_accuracy: float
    baseline_accuracy: float
    train_rows: int
    test_rows: int

    def signal(self, margin: float) -> str:
        if self.p_up >= 0.5 + margin:
            return "buy"
        if self.p_up <= 0.5 - margin:
            return "sell"
        return "hold"


def predict_last(candles: Candles, params: MlParams) -> Prediction:
    """Train on the history before the last candle, score the tail, predict the last."""
    x, y = features(candles), labels(candles)
    usable = ~np.isnan(x).any(axis=1)
    if not usable[-1]:
        raise NotEnoughHistory("the last candle's features cannot be computed (flat prices)")
    rows = np.flatnonzero(usable[:-1])
    n_test = held_out_rows(len(rows), params.test_fraction)
    n_train = len(rows) - n_test
    if n_train < MIN_TRAIN:
        raise NotEnoughHistory(
            f"{len(rows)} labelled candles: the model needs {MIN_TRAIN} to train plus a "
            f"held-out tail of {n_test} (at least {min_candles(params)} candles in all)"
        )
    train, test = rows[:n_train], rows[n_train:]
    model = _fit(params.model, x[train], y[train])
    holdout = float(np.mean((_p_up(model, x[test]) >= 0.5) == (y[test] == 1.0)))
    majority = 1.0 if y[train].mean() >= 0.5 else 0.0
    baseline = float(np.mean(y[test] == majority))
    final = _fit(params.model, x[rows], y[rows])
    return Prediction(
        p_up=float(_p_up(final, x[-1:])[0]),
        holdout_accuracy=holdout,
        baseline_accuracy=baseline,
        train_rows=n_train,
        test_rows=n_test,
    )


def positions(candles: Candles, params: MlParams) -> np.ndarray:
    """Out-of-sample positions for a backtest: flat while training, then the model's calls.

    The model is fit once on the first `train_fraction` of the labelled bars. The last of those
    bars' label is the close of the bar after it, which is where trading starts: at that close
    it is known, so no position uses a price it could not have seen.
    """
    x, y = features(candles), labels(candles)
    usable = ~np.isnan(x).any(axis=1)
    rows = np.flatnonzero(usable[:-1])
    n_train = int(len(rows) * params.train_fraction)
    if n_train < MIN_TRAIN or len(rows) - n_train < MIN_TEST:
        raise NotEnoughHistory(
            f"{len(rows)} labelled candles: a backtest of ml trains on {params.train_fraction:g} "
            f"of them, which must be at least {MIN_TRAIN} and leave {MIN_TEST} to trade"
        )
    train = rows[:n_train]
    model = _fit(params.model, x[train], y[train])
    out = np.zeros(len(candles))
    trade = np.arange(train[-1] + 1, len(candles))
    trade = trade[usable[trade]]
    p_up = _p_up(model, x[trade])
    short = -1.0 if params.allow_short else 0.0
    out[trade] = np.where(
        p_up >= 0.5 + params.margin, 1.0, np.where(p_up <= 0.5 - params.margin, short, 0.0)
    )
    return out


def min_backtest_candles(params: MlParams) -> int:
    """The fewest candles `positions` accepts with these parameters."""
    labelled = MIN_TRAIN + MIN_TEST
    while (
        int(labelled * params.train_fraction) < MIN_TRAIN
        or labelled - int(labelled * params.train_fraction) < MIN_TEST
    ):
        labelled += 1
    return FEATURE_LOOKBACK + labelled + 1
