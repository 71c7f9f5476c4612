"""Checkpoints: atomic files, increasing versions, found again by a fresh store."""

import numpy as np
import pytest
import torch

from app.forecasting.checkpoints import CheckpointStore, UnknownVersion, file_name
from app.forecasting.model import ForecasterConfig
from app.forecasting.predict import forecast
from app.forecasting.training import TrainedForecaster, train
from tests.utils import SMALL, eurusd_closes

CPU = torch.device("cpu")
SOURCE = {"symbol": "EURUSD", "interval": "1h", "candles": 600}


@pytest.fixture(scope="module")
def trained() -> TrainedForecaster:
    return train(eurusd_closes()[-600:], ForecasterConfig(**SMALL), CPU)


def test_save_then_find_after_restart(tmp_path, trained: TrainedForecaster) -> None:
    store = CheckpointStore(tmp_path, CPU, loaded_limit=2)
    assert store.scan() == 0
    first = store.save(trained, SOURCE)
    second = store.save(trained, SOURCE)
    assert (first["version"], second["version"]) == (1, 2)
    assert sorted(p.name for p in tmp_path.iterdir()) == [file_name(1), file_name(2)]

    fresh = CheckpointStore(tmp_path, CPU, loaded_limit=2)
    assert fresh.scan() == 2
    assert [m["version"] for m in fresh.list()] == [1, 2]
    assert fresh.meta(1) == first
    assert fresh.latest("EURUSD", "1h")["version"] == 2
    assert fresh.latest("GBPUSD", "1h") is None

    closes = eurusd_closes()[-100:]
    config = ForecasterConfig(**SMALL)
    args = (config, trained.scale, trained.residual_rms, closes, 3, CPU)
    before = forecast(store.model(1), *args)
    after = forecast(fresh.model(1), *args)
    assert before == after


def test_versions_continue_after_the_largest_on_disk(tmp_path, trained) -> None:
    store = CheckpointStore(tmp_path, CPU, loaded_limit=1)
    store.scan()
    store.save(trained, SOURCE)
    (tmp_path / file_name(1)).rename(tmp_path / file_name(41))
    fresh = CheckpointStore(tmp_path, CPU, loaded_limit=1)
    fresh.scan()
    assert fresh.save(trained, SOURCE)["version"] == 42


def test_unreadable_and_temp_files_are_skipped(tmp_path, trained) -> None:
    store = CheckpointStore(tmp_path, CPU, loaded_limit=1)
    store.scan()
    store.save(trained, SOURCE)
    (tmp_path / file_name(2)).write_bytes(b"half a checkpoint")
    (tmp_path / ".forecaster-abc.tmp").write_bytes(b"a crash left this")
    fresh = CheckpointStore(tmp_path, CPU, loaded_limit=1)
    assert fresh.scan() == 1
    with pytest.raises(UnknownVersion):
        fresh.meta(2)
    with pytest.raises(UnknownVersion):
        fresh.model(2)


def test_loaded_models_are_bounded(tmp_path, trained) -> None:
    store = CheckpointStore(tmp_path, CPU, loaded_limit=1)
    store.scan()
    for _ in range(3):
        store.save(trained, SOURCE)
    for version in (1, 2, 3):
        assert isinstance(store.model(version), torch.nn.Module)
    assert list(store._loaded) == [3]


def test_checkpoint_holds_weights_config_scale_and_metrics(tmp_path, trained) -> None:
    store = CheckpointStore(tmp_path, CPU, loaded_limit=1)
    store.scan()
    store.save(trained, SOURCE)
    content = torch.load(tmp_path / file_name(1), weights_only=True)
    meta = content["meta"]
    assert meta["config"] == ForecasterConfig(**SMALL).as_dict()
    assert meta["normalization"]["scale"] == trained.scale
    assert meta["metrics"]["val_loss"] == trained.metrics["val_loss"]
    assert set(content["state_dict"]) == set(trained.state_dict)
    assert np.isfinite(meta["band"]["residual_rms"]).all()
