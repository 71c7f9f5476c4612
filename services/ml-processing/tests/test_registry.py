"""The registry on disk: versions, atomic writes, promotion history and reloading."""

import json
import os

import numpy as np
import pytest

from app import features, learners, training
from app.registry import (
    ACTIVE_FILE,
    STAGING_PREFIX,
    VERSIONS,
    NothingToRollBack,
    Registry,
    UnknownVersion,
)
from tests.utils import frame_to_candles, real_series


@pytest.fixture(scope="module")
def models() -> list[training.TrainedModel]:
    """Two quick models (xgboost and the baseline) on real candles."""
    data = training.prepare(frame_to_candles("EURUSD", "1h", real_series("EURUSD")[:800]), 0.2)
    xgb = learners.XgboostParams(n_estimators=10)
    return [
        training.fit_and_score(data, "xgboost", xgb, threads=1),
        training.fit_and_score(data, "sklearn", learners.SklearnParams(), threads=1),
    ]


def open_registry(path) -> Registry:
    registry = Registry(str(path), loaded_versions=4)
    registry.open()
    return registry


def test_versions_are_saved_with_their_metadata(tmp_path, models) -> None:
    registry = open_registry(tmp_path)
    first = registry.save(models[0], "xgboost", features.FEATURES)
    second = registry.save(models[1], "sklearn", features.FEATURES)
    assert (first["version"], second["version"]) == (1, 2)
    on_disk = json.loads((tmp_path / VERSIONS / "1" / "meta.json").read_text())
    assert on_disk == first
    assert on_disk["kind"] == "xgboost" and on_disk["feature_schema"] == list(features.FEATURES)
    assert on_disk["metrics"] == models[0].metrics
    assert on_disk["trained_on"]["symbol"] == "EURUSD" and on_disk["trained_on"]["count"] == 800
    assert on_disk["created_at"].endswith("+00:00") and on_disk["library_version"]
    assert (tmp_path / VERSIONS / "1" / "model.ubj").is_file()
    assert (tmp_path / VERSIONS / "2" / "model.pkl").is_file()
    # Nothing half-written is left behind.
    assert not list(tmp_path.rglob(f"{STAGING_PREFIX}*"))
    assert not list(tmp_path.rglob("*.tmp"))


def test_promote_rollback_and_reload(tmp_path, models) -> None:
    registry = open_registry(tmp_path)
    for trained, kind in zip(models, ("xgboost", "sklearn"), strict=True):
        registry.save(trained, kind, features.FEATURES)
    with pytest.raises(NothingToRollBack):
        registry.rollback()
    assert registry.promote(1).version == 1
    assert registry.promote(2).version == 2
    assert registry.promote(2).version == 2  # already active: no new history entry
    assert registry.history == [1]
    state = json.loads((tmp_path / ACTIVE_FILE).read_text())
    assert (state["active"], state["history"]) == (2, [1])

    reopened = open_registry(tmp_path)
    assert reopened.active.version == 2 and reopened.active.kind == "sklearn"
    assert [meta["version"] for meta in reopened.versions()] == [1, 2]
    assert reopened.rollback().version == 1
    with pytest.raises(NothingToRollBack):
        reopened.rollback()
    assert open_registry(tmp_path).active.version == 1

    x = np.zeros((1, len(features.FEATURES)))
    assert reopened.active.learner.predict(x)[0] == models[0].learner.predict(x)[0]
    with pytest.raises(UnknownVersion):
        reopened.promote(99)


def test_crash_leftovers_and_bad_metadata_are_skipped(tmp_path, models) -> None:
    registry = open_registry(tmp_path)
    registry.save(models[0], "xgboost", features.FEATURES)
    registry.promote(1)
    # A save that died before its rename, and a version whose metadata is damaged.
    (tmp_path / f"{STAGING_PREFIX}dead").mkdir()
    (tmp_path / VERSIONS / "7").mkdir()
    (tmp_path / VERSIONS / "7" / "meta.json").write_text("{not json")
    reopened = open_registry(tmp_path)
    assert [meta["version"] for meta in reopened.versions()] == [1]
    assert reopened.active.version == 1
    assert not (tmp_path / f"{STAGING_PREFIX}dead").exists()


def test_an_unloadable_active_version_is_reported(tmp_path, models) -> None:
    registry = open_registry(tmp_path)
    registry.save(models[0], "xgboost", features.FEATURES)
    registry.promote(1)
    os.remove(tmp_path / VERSIONS / "1" / "model.ubj")
    reopened = open_registry(tmp_path)
    assert reopened.active is None
    assert "active version 1 could not be loaded" in reopened.load_error
