"""A job `succeeded` (or a listed version) means durable: fsyncs first, SIGKILL loses nothing.

Killing a process does not drop the page cache, so the kills here prove what a restart finds
at every step (atomic names, leftovers, the latest valid version); the recorded fsyncs and
renames prove the order that makes the same hold when the machine itself goes down.
"""

import contextlib
import errno
import logging
import os
import pickle
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import torch

from app.forecasting.checkpoints import CheckpointStore, file_name
from app.forecasting.jobs import Trainer
from app.forecasting.model import ForecasterConfig
from app.forecasting.training import TrainedForecaster, train
from servicekit_testing import crashtest
from tests.crashing import ROOT, SOURCE, wrappers
from tests.utils import SMALL, closed_port, eurusd_closes, wait_for_job

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def trained() -> TrainedForecaster:
    return train(eurusd_closes()[-600:], ForecasterConfig(**SMALL), CPU)


def fresh_store(directory: Path) -> CheckpointStore:
    """What a restart builds (the old store is never closed: as after SIGKILL)."""
    store = CheckpointStore(directory, CPU, loaded_limit=2)
    store.scan()
    return store


def run_job(trainer: Trainer) -> dict:
    job_id = trainer.reserve("EURUSD", "1h", ForecasterConfig(**SMALL))
    trainer.start(job_id, eurusd_closes()[-600:], SOURCE)
    deadline = time.monotonic() + 120
    while (job := trainer.job(job_id))["state"] == "running":
        assert time.monotonic() < deadline, "the job did not finish in 120 s"
        time.sleep(0.02)
    return job


def test_succeeded_and_listed_only_after_the_fsyncs(tmp_path, monkeypatch) -> None:
    root = tmp_path.resolve()
    store = fresh_store(root)
    trainer = Trainer(store, CPU, jobs_kept=5)
    ops: list[tuple] = []

    def record(operation: str, paths: list[str]) -> None:
        if not paths[0].startswith(str(root)):
            return  # another thread's business
        # Read without the locks: the store holds its own while it saves.
        states = [job["state"] for job in trainer._jobs.values()]
        ops.append((operation, paths, states, sorted(store._meta)))

    for name, function in wrappers(record).items():
        monkeypatch.setattr(os, name, function)
    try:
        job = run_job(trainer)
    finally:
        trainer.close()
    assert job["state"] == "succeeded" and job["version"] == 1
    final = str(root / file_name(1))
    (fsync, [temp], *_), (replace, [source, target], *_), (sync_dir, [directory], *_) = ops
    # The weights reach the disk under a temp name beside the final one, then the rename,
    # then the directory that holds it: only then is the job done and the version listed.
    assert (fsync, replace, sync_dir) == ("fsync", "replace", "fsync")
    assert (source, target, directory) == (temp, final, str(root))
    assert Path(temp).parent == root and Path(temp).name.startswith(".forecaster-")
    assert all(states == ["running"] and listed == [] for *_, states, listed in ops)
    assert [m["version"] for m in store.list()] == [1]


def test_a_failed_directory_fsync_fails_the_job(tmp_path, monkeypatch) -> None:
    store = fresh_store(tmp_path)
    trainer = Trainer(store, CPU, jobs_kept=5)
    real_fsync = os.fsync

    def failing(fd: int) -> None:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            raise OSError(errno.EIO, "Input/output error")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", failing)
    try:
        job = run_job(trainer)
    finally:
        trainer.close()
    # Not known to be durable: never `succeeded`, never listed.
    assert job["state"] == "failed" and "Input/output error" in job["error"]
    assert store.list() == []


def test_a_kill_at_any_step_leaves_what_was_acknowledged(tmp_path, trained) -> None:
    # Version 1 saved, then a process saves version 2 and is killed just before its 1st,
    # 2nd, ... fsync or rename (the last steps are past them all).
    steps = 5
    for step in range(1, steps + 1):
        fresh_store(tmp_path / f"kill-at-{step}").save(trained, SOURCE)
    (tmp_path / "trained.pkl").write_bytes(pickle.dumps(trained))
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
        directory = tmp_path / f"kill-at-{step}"
        after = fresh_store(directory)
        versions = [meta["version"] for meta in after.list()]
        assert versions == [1, 2] if "saved 2" in lines else versions in ([1], [1, 2])
        assert after.latest("EURUSD", "1h")["version"] == versions[-1]
        for version in versions:
            assert isinstance(after.model(version), torch.nn.Module)
        leftovers = [p.name for p in directory.iterdir() if p.name.startswith(".")]
        assert not leftovers, f"killed at step {step}: {leftovers} left behind"
    ends = [lines[-1] for lines in said.values()]
    killed = ends.index("exit 0")
    assert ends == ["exit -9"] * killed + ["exit 0"] * (steps - killed), ends
    assert killed >= 3, "fewer fsyncs and renames than a durable save needs"


@pytest.mark.parametrize("keep", [0.5, 0.0], ids=["truncated", "empty"])
def test_a_damaged_latest_checkpoint_falls_back_to_the_previous(
    tmp_path, trained, keep, caplog
) -> None:
    store = fresh_store(tmp_path)
    store.save(trained, SOURCE)
    store.save(trained, SOURCE)
    latest = tmp_path / file_name(2)
    content = latest.read_bytes()
    latest.write_bytes(content[: int(len(content) * keep)])
    (tmp_path / ".forecaster-k1ll.tmp").write_bytes(content[:100])  # a save a kill cut short
    with caplog.at_level(logging.WARNING, logger="deep-learning.checkpoints"):
        after = fresh_store(tmp_path)
    assert [m["version"] for m in after.list()] == [1]
    assert after.latest("EURUSD", "1h")["version"] == 1  # what POST /forecast now uses
    assert any(file_name(2) in record.getMessage() for record in caplog.records)
    assert sorted(p.name for p in tmp_path.iterdir()) == [file_name(1), file_name(2)]
    # The damaged file is kept for a look, never overwritten: the next version is 3.
    assert after.save(trained, SOURCE)["version"] == 3


@contextlib.contextmanager
def service(directory: Path, log: Path) -> Iterator[tuple[subprocess.Popen, httpx.Client]]:
    """deep-learning under uvicorn in a process of its own (killed at the end at the latest)."""
    port = closed_port()
    env = {
        **os.environ,
        "CHECKPOINT_DIR": str(directory),
        "EMBEDDING_PRELOAD": "false",
        "DEVICE": "cpu",
        "LOG_LEVEL": "WARNING",
    }
    with crashtest.served(ROOT, env, port, log, within=120) as served:
        yield served


def test_what_was_answered_survives_kill_9_of_the_service(tmp_path, eurusd) -> None:
    directory, log = tmp_path / "checkpoints", tmp_path / "service.log"
    body = {"symbol": eurusd, "interval": "1h"}
    with service(directory, log) as (process, client):
        response = client.post("/forecasters/train", json={**body, "limit": 600, **SMALL})
        assert response.status_code == 202, response.text
        job = wait_for_job(client, response.json()["job_id"])
        assert job["state"] == "succeeded", job
        before = client.post("/forecast", json=body)
        assert before.status_code == 200 and before.json()["version"] == job["version"]
        crashtest.kill_9(process)  # at once: no shutdown, nothing flushed by the service
    after = fresh_store(directory)
    assert [m["version"] for m in after.list()] == [job["version"]]
    assert after.latest(eurusd, "1h")["metrics"] == job["metrics"]

    with service(directory, log) as (process, client):
        again = client.post("/forecast", json=body)  # the same forecaster, the same answer
        assert again.status_code == 200 and again.json() == before.json()
        crashtest.kill_9(process)
