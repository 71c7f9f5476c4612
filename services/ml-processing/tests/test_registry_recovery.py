"""Starting over a damaged MODEL_DIR: leftovers go, a broken version is never served, and a
damaged pointer means nothing active (with the reason logged), never a failed start."""

import json
import logging

import pytest

from app import features, learners, training
from app.registry import ACTIVE_FILE, STAGING_PREFIX, VERSIONS, DamagedVersion, Registry
from tests.utils import frame_to_candles, real_series

LOGGER = "ml-processing.registry"
KINDS = {
    "xgboost": learners.XgboostParams(n_estimators=10),
    "catboost": learners.CatboostParams(iterations=10),
    "sklearn": learners.SklearnParams(),
}


@pytest.fixture(scope="module")
def models() -> dict[str, training.TrainedModel]:
    data = training.prepare(frame_to_candles("EURUSD", "1h", real_series("EURUSD")[:800]), 0.2)
    return {kind: training.fit_and_score(data, kind, p, threads=1) for kind, p in KINDS.items()}


def open_registry(path) -> Registry:
    registry = Registry(str(path), loaded_versions=4)
    registry.open()
    return registry


def two_promoted(path, models, kind: str) -> tuple[Registry, dict]:
    """Version 1 (sklearn) promoted, then version 2 of `kind`: its metadata."""
    registry = open_registry(path)
    registry.save(models["sklearn"], "sklearn", features.FEATURES)
    registry.promote(1)
    meta = registry.save(models[kind], kind, features.FEATURES)
    registry.promote(2)
    return registry, meta


@pytest.mark.parametrize("kind", KINDS)
def test_a_truncated_active_model_is_never_served(tmp_path, models, kind, caplog) -> None:
    _, meta = two_promoted(tmp_path, models, kind)
    model_file = tmp_path / VERSIONS / "2" / meta["file"]
    content = model_file.read_bytes()
    model_file.write_bytes(content[: len(content) // 2])
    with caplog.at_level(logging.ERROR, logger=LOGGER):
        reopened = open_registry(tmp_path)  # a fresh process: the old one was never closed
    assert reopened.active is None and [m["version"] for m in reopened.versions()] == [1]
    assert "active version 2 could not be loaded" in reopened.load_error
    assert "truncated" in reopened.load_error
    assert any("truncated" in record.getMessage() for record in caplog.records)
    # The previous valid version is one rollback away.
    assert reopened.rollback().version == 1
    assert open_registry(tmp_path).active.version == 1


def test_a_model_file_changed_in_place_is_never_served(tmp_path, models, make_client) -> None:
    _, meta = two_promoted(tmp_path, models, "sklearn")
    model_file = tmp_path / VERSIONS / "2" / meta["file"]
    content = bytearray(model_file.read_bytes())
    content[len(content) // 2] ^= 0xFF  # same size, one byte different: it may well unpickle
    model_file.write_bytes(bytes(content))
    reopened = open_registry(tmp_path)
    assert reopened.active is None
    assert "checksum" in reopened.load_error
    with pytest.raises(DamagedVersion):
        reopened.promote(2)
    # Through the API: 409 saying why, and nothing changes.
    client = make_client(model_dir=str(tmp_path))
    refused = client.post("/models/2/promote")
    assert refused.status_code == 409 and "checksum" in refused.json()["detail"]
    assert client.post("/models/1/promote").json()["active"] == 1


def test_leftover_temporary_files_are_removed(tmp_path, models) -> None:
    two_promoted(tmp_path, models, "sklearn")
    # What a kill leaves: a save before its rename, a pointer never renamed, a health probe.
    leftovers = [
        tmp_path / VERSIONS / f"{STAGING_PREFIX}abc",
        tmp_path / f"{STAGING_PREFIX}old-layout",
    ]
    for directory in leftovers:
        directory.mkdir()
        (directory / "model.pkl").write_bytes(b"half a model")
    pointer = tmp_path / f".{ACTIVE_FILE}.x1y2.tmp"
    pointer.write_text(json.dumps({"active": 1, "history": []}))
    (tmp_path / ".health-abc").write_bytes(b"")
    reopened = open_registry(tmp_path)
    assert (reopened.active.version, reopened.history) == (2, [1])
    assert [m["version"] for m in reopened.versions()] == [1, 2]
    assert not [p.name for p in tmp_path.rglob(".*")]


@pytest.mark.parametrize(
    "content",
    [b"", b'{"active": 2, "hist', b"[2]", b'{"active": 2, "history": 5}', b'{"active": "2"}'],
    ids=["empty", "truncated", "a-list", "bad-history", "a-string"],
)
def test_a_damaged_pointer_means_nothing_active(tmp_path, models, content, caplog) -> None:
    two_promoted(tmp_path, models, "sklearn")
    (tmp_path / ACTIVE_FILE).write_bytes(content)
    with caplog.at_level(logging.ERROR, logger=LOGGER):
        reopened = open_registry(tmp_path)
    assert reopened.active is None and reopened.history == []
    assert [m["version"] for m in reopened.versions()] == [1, 2]
    assert any(ACTIVE_FILE in record.getMessage() for record in caplog.records)
    assert reopened.promote(1).version == 1  # and the registry works on


def test_a_pointer_to_a_missing_version_is_reported(tmp_path, models) -> None:
    two_promoted(tmp_path, models, "sklearn")
    (tmp_path / ACTIVE_FILE).write_text(json.dumps({"active": 9, "history": [1, 2]}))
    reopened = open_registry(tmp_path)
    assert reopened.active is None and reopened.history == [1, 2]
    assert "active version 9 could not be loaded" in reopened.load_error


@pytest.mark.parametrize(
    "meta",
    ["null", "[]", '{"version": 5, "kind": "sklearn"}', '{"version": 3, "kind": "sklearn"}'],
    ids=["null", "a-list", "another-version", "no-file"],
)
def test_metadata_that_describes_no_usable_version_is_skipped(tmp_path, models, meta) -> None:
    two_promoted(tmp_path, models, "sklearn")
    (tmp_path / VERSIONS / "3").mkdir()
    (tmp_path / VERSIONS / "3" / "meta.json").write_text(meta)
    reopened = open_registry(tmp_path)
    assert [m["version"] for m in reopened.versions()] == [1, 2]
    assert reopened.active.version == 2
