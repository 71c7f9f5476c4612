"""A 2xx (or a job `succeeded`) means durable: fsyncs come first, and SIGKILL loses nothing.

Killing a process does not drop the page cache, so the kills here prove what a restart finds
at every step (atomic names, leftovers, the pointer); the recorded fsyncs and renames prove
the order that makes the same hold when the machine itself goes down.
"""

import contextlib
import os
import pickle
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from app import features, learners, training
from app.registry import ACTIVE_FILE, VERSIONS, Registry
from servicekit_testing import crashtest
from tests.conftest import QUICK_PARAMS
from tests.crashing import ROOT, wrappers
from tests.utils import closed_port, frame_to_candles, real_series, train


def open_registry(path) -> Registry:
    registry = Registry(str(path), loaded_versions=4)
    registry.open()
    return registry


def check_durable(ops: list[tuple]) -> None:
    """Each rename stays in one directory, moves something fsync'd (a directory: its files
    too), and its directory is fsync'd afterwards."""
    synced: set[str] = set()
    for i, (operation, paths, *_) in enumerate(ops):
        if operation == "fsync":
            synced.add(paths[0])
            continue
        source, target = paths
        assert Path(source).parent == Path(target).parent, f"{source} -> {target}"
        assert source in synced, f"{source} renamed before its fsync"
        if Path(target).is_dir():
            arrived = {p[1] for o, p, *_ in ops[:i] if o != "fsync"}
            for name in os.listdir(target):
                inner = os.path.join(source, name)
                assert inner in synced or inner in arrived, f"{inner} never fsync'd"
        after = {p[0] for o, p, *_ in ops[i + 1 :] if o == "fsync"}
        assert str(Path(target).parent) in after, f"{target}: its directory is never fsync'd"


def position(ops: list[tuple], operation: str, path: Path, start: int = 0) -> int:
    """Where `operation` on `path` (its target, for a rename) first happens from `start`."""
    found = (i for i, (o, p, *_) in enumerate(ops) if o == operation and p[-1] == str(path))
    return next(i for i in found if i >= start)


def test_every_answer_comes_after_its_fsyncs(make_client, tmp_path, eurusd, monkeypatch) -> None:
    root = tmp_path.resolve()
    client = make_client(model_dir=str(root))
    backends = client.app.state.backends
    ops: list[tuple] = []

    def record(operation: str, paths: list[str]) -> None:
        if not paths[0].startswith(str(root)):
            return  # another thread's business
        active = backends.registry.active
        jobs = {job_id: job.state for job_id, job in backends.jobs._jobs.items()}
        ops.append((operation, paths, None if active is None else active.version, jobs))

    for name, function in wrappers(record).items():
        monkeypatch.setattr(os, name, function)

    first = train(client, eurusd, "sklearn", limit=600, promote=True)
    check_durable(ops)
    # Not `succeeded`, not active, until the last fsync; the pointer only after the version.
    assert all(jobs[first["id"]] == "running" and active is None for *_, active, jobs in ops)
    renamed = position(ops, "rename", root / VERSIONS / str(first["version"]))
    synced = position(ops, "fsync", root / VERSIONS, renamed)
    assert synced < position(ops, "replace", root / ACTIVE_FILE)
    assert ops[-1][:2] == ("fsync", [str(root)])  # active.json's rename made durable, last

    second = train(client, eurusd, "sklearn", limit=700)
    ops.clear()
    promoted = client.post(f"/models/{second['version']}/promote")
    assert promoted.status_code == 200 and promoted.json()["active"] == second["version"]
    # Every fsync happened while the previous version still answered: the swap (and so the
    # answer) came after them.
    assert ops and all(active == first["version"] for *_, active, _ in ops)
    check_durable(ops)
    ops.clear()
    assert client.post("/models/rollback").json()["active"] == first["version"]
    assert ops and all(active == second["version"] for *_, active, _ in ops)
    check_durable(ops)


@pytest.fixture(scope="module")
def quick_model() -> training.TrainedModel:
    data = training.prepare(frame_to_candles("EURUSD", "1h", real_series("EURUSD")[:800]), 0.2)
    return training.fit_and_score(data, "sklearn", learners.SklearnParams(), threads=1)


def test_a_kill_at_any_step_leaves_what_was_acknowledged(tmp_path, quick_model) -> None:
    # Version 1 promoted, then a process saves and promotes version 2 and is killed just
    # before its 1st, 2nd, ... fsync or rename (the last steps are past them all).
    steps = 12
    for step in range(1, steps + 1):
        before = open_registry(tmp_path / f"kill-at-{step}")
        before.save(quick_model, "sklearn", features.FEATURES)
        before.promote(1)
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(quick_model))
    run = subprocess.run(
        [sys.executable, "-m", "tests.crashing", str(tmp_path), str(steps)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    said: dict[int, list[str]] = {step: [] for step in range(1, steps + 1)}
    for line in run.stdout.splitlines():
        step, *words = line.split()
        said[int(step)].append(" ".join(words))
    for step, lines in said.items():
        model_dir = tmp_path / f"kill-at-{step}"
        after = open_registry(model_dir)  # what a restart finds
        versions = [meta["version"] for meta in after.versions()]
        assert versions == [1, 2] if "saved 2" in lines else versions in ([1], [1, 2])
        state = (after.active.version, after.history)
        assert state == (2, [1]) if "promoted 2" in lines else state in ((1, []), (2, [1]))
        for version in versions:  # whatever is listed loads and predicts
            assert np.isfinite(after.model(version).learner.predict(np.zeros((1, 16))))
        leftovers = [p.name for p in model_dir.rglob(".*")]
        assert not leftovers, f"killed at step {step}: {leftovers} left behind"
    ends = [lines[-1] for lines in said.values()]
    killed = ends.index("exit 0")
    assert ends == ["exit -9"] * killed + ["exit 0"] * (steps - killed), ends
    assert killed >= 8, "fewer fsyncs and renames than a durable save and promotion need"


@contextlib.contextmanager
def service(model_dir: Path, log: Path) -> Iterator[tuple[subprocess.Popen, httpx.Client]]:
    """ml-processing under uvicorn in a process of its own (killed at the end at the latest)."""
    port = closed_port()
    env = {**os.environ, "MODEL_DIR": str(model_dir), "LOG_LEVEL": "WARNING"}
    with crashtest.served(ROOT, env, port, log, within=60) as served:
        yield served


def test_what_was_answered_survives_kill_9_of_the_service(tmp_path, eurusd) -> None:
    model_dir, log = tmp_path / "models", tmp_path / "service.log"
    with service(model_dir, log) as (process, client):
        first = train(client, eurusd, "sklearn", promote=True)["version"]
        second = train(client, eurusd, "xgboost", params=QUICK_PARAMS["xgboost"])["version"]
        assert client.post(f"/models/{second}/promote").status_code == 200
        crashtest.kill_9(process)  # at once: no shutdown, nothing flushed by the service
    after = open_registry(model_dir)
    assert [meta["version"] for meta in after.versions()] == [first, second]
    assert (after.active.version, after.active.kind, after.history) == (second, "xgboost", [first])

    with service(model_dir, log) as (process, client):
        answer = {"active": second, "kind": "xgboost", "history": [first]}
        assert client.get("/models/active").json() == answer
        assert client.post("/models/rollback").status_code == 200
        crashtest.kill_9(process)
    after = open_registry(model_dir)
    assert (after.active.version, after.history) == (first, [])
    assert np.isfinite(after.model(second).learner.predict(np.zeros((1, 16))))
