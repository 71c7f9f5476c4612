"""The prediction hot path: request features checked against a model's schema, the cache, the
model's fast path. No pandas, no per-request allocation beyond one small numpy array.
"""

import math
from collections.abc import Mapping, Sequence

import numpy as np

from app.cache import PredictionCache
from app.registry import LoadedModel

Features = Mapping[str, float] | Sequence[float]
THRESHOLD = 0.5  # class 1 ("up") when P(up) >= THRESHOLD


class FeatureError(ValueError):
    """Features that do not fit the model's schema; `fields` name what is wrong."""

    def __init__(self, message: str, **fields) -> None:
        super().__init__(message)
        self.fields = fields


def _at(row: int | None) -> str:
    return "" if row is None else f"row {row}: "


def row_of(model: LoadedModel, values: Features, row: int | None = None) -> tuple[float, ...]:
    """The values in schema order, checked: every name present, none unknown, all finite."""
    schema = model.schema
    if isinstance(values, Mapping):
        if len(values) != len(schema) or any(name not in model.positions for name in values):
            missing = [name for name in schema if name not in values]
            unexpected = [name for name in values if name not in model.positions]
            raise FeatureError(
                f"{_at(row)}features do not match the schema of model version {model.version}"
                f": missing {missing}, unexpected {unexpected}",
                row=row,
                missing=missing,
                unexpected=unexpected,
                expected=list(schema),
            )
        ordered = tuple(values[name] for name in schema)
    else:
        if len(values) != len(schema):
            raise FeatureError(
                f"{_at(row)}model version {model.version} takes {len(schema)} feature values "
                f"(in the order of `expected`), got {len(values)}",
                row=row,
                expected=list(schema),
            )
        ordered = tuple(values)
    if not all(map(math.isfinite, ordered)):
        bad = [name for name, v in zip(schema, ordered, strict=True) if not math.isfinite(v)]
        raise FeatureError(
            f"{_at(row)}features must be finite numbers; not finite: {bad}",
            row=row,
            not_finite=bad,
        )
    return ordered


def predict_one(model: LoadedModel, values: Features, cache: PredictionCache) -> tuple[float, bool]:
    """P(up) for one row and whether it came from the cache."""
    row = row_of(model, values)
    key = (model.version, row)
    if (cached := cache.get(key)) is not None:
        return cached, True
    probability = float(model.learner.predict(np.array([row], dtype=np.float64))[0])
    cache.put(key, probability)
    return probability, False


def predict_rows(
    model: LoadedModel, rows: Sequence[Features], cache: PredictionCache
) -> tuple[list[float], int]:
    """P(up) for each row (all checked first) and how many came from the cache."""
    ordered = [row_of(model, values, i) for i, values in enumerate(rows)]
    keys = [(model.version, row) for row in ordered]
    found = cache.get_many(keys)
    missing = [i for i, value in enumerate(found) if value is None]
    if missing:
        x = np.array([ordered[i] for i in missing], dtype=np.float64)
        computed = model.learner.predict(x).tolist()
        for i, probability in zip(missing, computed, strict=True):
            found[i] = probability
        cache.put_many([(keys[i], p) for i, p in zip(missing, computed, strict=True)])
    return found, len(rows) - len(missing)  # type: ignore[return-value]


def classes(probabilities: Sequence[float]) -> list[int]:
    return [int(p >= THRESHOLD) for p in probabilities]
