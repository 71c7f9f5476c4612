"""The three model kinds: how each is fit, saved, loaded and applied on the hot path.

Each kind answers P(label 1) for rows of features in schema order. `predict` is the serving
path, the cheapest call each library has for one row: xgboost's `inplace_predict` on the
numpy array (no DMatrix), catboost's `predict` on the numpy array (no DataFrame), and for the
scikit-learn baseline (standardised logistic regression) the fitted pipeline folded into one
weight vector (microseconds). xgboost 3.x keeps a fixed cost of its own per call, whatever the
trees (strace and perf show it reading the cgroup CPU quota files and building a view of
every tree on each call): that, not the trees, is most of its single-row time.
`reference_predict` is each library's ordinary API, kept to check the fast path against it.

Training uses every pool thread (nthread / thread_count); serving uses one per call, since
requests are already concurrent and OpenMP's start-up for one row costs more than the row.
"""

import math
import pickle
from pathlib import Path
from typing import Annotated, Literal, Protocol

import catboost
import numpy as np
import sklearn
import xgboost as xgb
from pydantic import BaseModel, ConfigDict, Field
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

Kind = Literal["xgboost", "catboost", "sklearn"]
KINDS: tuple[str, ...] = ("xgboost", "catboost", "sklearn")
SEED = 0


class Params(BaseModel):
    """Parameters of one kind; unknown names are refused (422), never ignored."""

    model_config = ConfigDict(extra="forbid")


class XgboostParams(Params):
    """xgboost's booster parameters (binary:logistic, tree_method hist)."""

    n_estimators: Annotated[int, Field(ge=1, le=5_000)] = 200
    max_depth: Annotated[int, Field(ge=1, le=12)] = 4
    learning_rate: Annotated[float, Field(gt=0, le=1)] = 0.05
    subsample: Annotated[float, Field(gt=0, le=1)] = 0.8
    colsample_bytree: Annotated[float, Field(gt=0, le=1)] = 0.8
    min_child_weight: Annotated[float, Field(ge=0)] = 1.0
    reg_lambda: Annotated[float, Field(ge=0)] = 1.0


class CatboostParams(Params):
    """catboost's classifier parameters (Logloss)."""

    iterations: Annotated[int, Field(ge=1, le=5_000)] = 300
    depth: Annotated[int, Field(ge=1, le=10)] = 6
    learning_rate: Annotated[float, Field(gt=0, le=1)] = 0.05
    l2_leaf_reg: Annotated[float, Field(ge=0)] = 3.0


class SklearnParams(Params):
    """The baseline: standardised features, L2 logistic regression."""

    C: Annotated[float, Field(gt=0)] = 1.0
    max_iter: Annotated[int, Field(ge=1, le=10_000)] = 1_000


PARAMS: dict[str, type[Params]] = {
    "xgboost": XgboostParams,
    "catboost": CatboostParams,
    "sklearn": SklearnParams,
}


class Learner(Protocol):
    kind: str

    def predict(self, x: np.ndarray) -> np.ndarray:
        """P(label 1) for each row of the (n, features) float64 array: the serving path."""

    def reference_predict(self, x: np.ndarray) -> np.ndarray:
        """The same through the library's ordinary API."""

    def save(self, directory: Path) -> str:
        """Write the model into `directory`; the file's name."""


class XgboostLearner:
    kind = "xgboost"
    FILE = "model.ubj"

    def __init__(self, booster: xgb.Booster) -> None:
        # Set once, before the learner is shared: set_param is not safe during predictions.
        booster.set_param({"nthread": 1})
        self.booster = booster

    @classmethod
    def fit(cls, x, y, params: XgboostParams, names, threads: int) -> "XgboostLearner":
        booster = xgb.train(
            {
                "objective": "binary:logistic",
                "eval_metric": "logloss",
                "tree_method": "hist",
                "max_depth": params.max_depth,
                "eta": params.learning_rate,
                "subsample": params.subsample,
                "colsample_bytree": params.colsample_bytree,
                "min_child_weight": params.min_child_weight,
                "lambda": params.reg_lambda,
                "nthread": threads,
                "seed": SEED,
            },
            xgb.DMatrix(x, label=y, feature_names=list(names), nthread=threads),
            num_boost_round=params.n_estimators,
        )
        return cls(booster)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.booster.inplace_predict(x)

    def reference_predict(self, x: np.ndarray) -> np.ndarray:
        return self.booster.predict(xgb.DMatrix(x, feature_names=self.booster.feature_names))

    def save(self, directory: Path) -> str:
        self.booster.save_model(directory / self.FILE)
        return self.FILE

    @classmethod
    def load(cls, directory: Path) -> "XgboostLearner":
        booster = xgb.Booster()
        booster.load_model(directory / cls.FILE)
        return cls(booster)


class CatboostLearner:
    kind = "catboost"
    FILE = "model.cbm"

    def __init__(self, model: catboost.CatBoostClassifier) -> None:
        self.model = model

    @classmethod
    def fit(cls, x, y, params: CatboostParams, names, threads: int) -> "CatboostLearner":
        model = catboost.CatBoostClassifier(
            loss_function="Logloss",
            iterations=params.iterations,
            depth=params.depth,
            learning_rate=params.learning_rate,
            l2_leaf_reg=params.l2_leaf_reg,
            thread_count=threads,
            random_seed=SEED,
            verbose=False,
            allow_writing_files=False,  # else it writes catboost_info/ into the working dir
        )
        model.fit(catboost.Pool(x, label=y, feature_names=list(names)))
        return cls(model)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.model.predict(x, prediction_type="Probability", thread_count=1)[:, 1]

    def reference_predict(self, x: np.ndarray) -> np.ndarray:
        return self.model.predict_proba(x)[:, 1]

    def save(self, directory: Path) -> str:
        self.model.save_model(str(directory / self.FILE), format="cbm")
        return self.FILE

    @classmethod
    def load(cls, directory: Path) -> "CatboostLearner":
        model = catboost.CatBoostClassifier()
        model.load_model(str(directory / cls.FILE), format="cbm")
        return cls(model)


class SklearnLearner:
    """Standardisation and logistic regression, folded: z = x @ w + b, p = 1 / (1 + e^-z)."""

    kind = "sklearn"
    FILE = "model.pkl"

    def __init__(self, pipeline: Pipeline) -> None:
        scaler: StandardScaler = pipeline.named_steps["scaler"]
        logistic: LogisticRegression = pipeline.named_steps["logistic"]
        coef = logistic.coef_[0]
        self.pipeline = pipeline
        self.weights = coef / scaler.scale_
        self.bias = float(logistic.intercept_[0] - np.dot(scaler.mean_ / scaler.scale_, coef))

    @classmethod
    def fit(cls, x, y, params: SklearnParams, names, threads: int) -> "SklearnLearner":
        pipeline = Pipeline(
            [
                ("scaler", StandardScaler()),
                ("logistic", LogisticRegression(C=params.C, max_iter=params.max_iter)),
            ]
        )
        return cls(pipeline.fit(x, y))

    def predict(self, x: np.ndarray) -> np.ndarray:
        if len(x) == 1:  # math on one float beats numpy's ufunc dispatch
            z = float(x[0] @ self.weights) + self.bias
            return np.array([_sigmoid(z)])
        z = x @ self.weights + self.bias
        return 1.0 / (1.0 + np.exp(-z))

    def reference_predict(self, x: np.ndarray) -> np.ndarray:
        return self.pipeline.predict_proba(x)[:, 1]

    def save(self, directory: Path) -> str:
        # Pickle is scikit-learn's own persistence; MODEL_DIR is the service's private volume,
        # written only by the service. The library version is stored in the metadata.
        with open(directory / self.FILE, "wb") as out:
            pickle.dump(self.pipeline, out, protocol=pickle.HIGHEST_PROTOCOL)
        return self.FILE

    @classmethod
    def load(cls, directory: Path) -> "SklearnLearner":
        with open(directory / cls.FILE, "rb") as source:
            return cls(pickle.load(source))  # noqa: S301 - our own volume, see save()


def _sigmoid(z: float) -> float:
    # Split by sign so that exp never overflows.
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


LEARNERS = {"xgboost": XgboostLearner, "catboost": CatboostLearner, "sklearn": SklearnLearner}


def fit(kind: str, x: np.ndarray, y: np.ndarray, params: Params, names, threads: int) -> Learner:
    """A learner of `kind` fit on rows `x` and 0/1 labels `y`."""
    return LEARNERS[kind].fit(x, y, params, names, threads)


def load(kind: str, directory: Path) -> Learner:
    """The learner of `kind` saved in `directory`."""
    return LEARNERS[kind].load(directory)


def library_version(kind: str) -> str:
    """The version of the library a model of `kind` is saved with (kept in its metadata)."""
    if kind == "xgboost":
        return xgb.__version__
    if kind == "catboost":
        return catboost.__version__
    return sklearn.__version__
