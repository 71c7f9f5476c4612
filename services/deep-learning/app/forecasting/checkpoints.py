"""Versioned forecaster checkpoints in CHECKPOINT_DIR, found again after a restart.

One file per version, `forecaster-v000001.pt`, holding {"format", "meta", "state_dict"}:
the weights (CPU tensors, so a checkpoint loads on any device) and, in `meta`, the config,
the normalization scale, the band's residuals, the metrics and where the data came from.
A file appears whole or not at all: it is written to a temp file in the same directory,
fsynced, then renamed over its final name and the directory fsynced; only then is the version
listed and its job `succeeded` (a failed fsync fails the job), so what was acknowledged
survives SIGKILL or a power cut. A crash leaves at most a stray `.forecaster-*.tmp`, removed by
the scan at start; a damaged checkpoint is skipped with a logged reason (POST /forecast then
uses the latest one still readable) and kept on disk, never overwritten.

Files are read with `torch.load(weights_only=True)`: plain containers and tensors only, never
pickled code. Versions count up from the largest on disk; one process writes (one uvicorn
worker, one training at a time), so two savers never race for a number.
"""

import logging
import re
import threading
import time
from collections import OrderedDict
from pathlib import Path

import torch
from torch import nn

from app.forecasting import model as model_lib
from app.forecasting.model import ForecasterConfig
from app.forecasting.training import TrainedForecaster
from servicekit.files import write_atomic

log = logging.getLogger("deep-learning.checkpoints")

FORMAT = 1
NAME = re.compile(r"^forecaster-v(\d{6,})\.pt$")
TEMP_PREFIX = ".forecaster-"
TEMP = re.compile(rf"^{re.escape(TEMP_PREFIX)}.*\.tmp$")


class UnknownVersion(Exception):
    """No checkpoint has this version."""


def file_name(version: int) -> str:
    return f"forecaster-v{version:06d}.pt"


class CheckpointStore:
    """The checkpoints' metadata in memory, their weights loaded on use (a small LRU)."""

    def __init__(self, directory: Path, device: torch.device, loaded_limit: int) -> None:
        self.directory = directory
        self.device = device
        self.loaded_limit = loaded_limit
        self._meta: dict[int, dict] = {}
        self._loaded: OrderedDict[int, nn.Module] = OrderedDict()
        self._lock = threading.Lock()

    def scan(self) -> int:
        """Read every checkpoint's metadata (at startup); unreadable files are logged, skipped."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            # Health reports the directory down; forecasting needs no new files meanwhile.
            log.error("cannot create %s: %s", self.directory, exc)
            return 0
        found: dict[int, dict] = {}
        for path in sorted(self.directory.iterdir()):
            if TEMP.match(path.name):
                # A save a kill cut short: never listed, never acknowledged. The scan runs at
                # start, before any training, so no save of this process is writing it.
                path.unlink(missing_ok=True)
                continue
            if not NAME.match(path.name):
                continue
            try:
                found[int(NAME.match(path.name).group(1))] = self._read(path)["meta"]
            except Exception as exc:  # noqa: BLE001 - one bad file must not stop the service
                log.warning("skipping unreadable checkpoint %s: %s", path.name, exc)
        with self._lock:
            self._meta = found
            self._loaded.clear()
        return len(found)

    def _read(self, path: Path) -> dict:
        content = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(content, dict) or content.get("format") != FORMAT:
            raise ValueError(f"not a format-{FORMAT} forecaster checkpoint")
        return content

    def _next_version(self) -> int:
        on_disk = [int(m.group(1)) for p in self.directory.iterdir() if (m := NAME.match(p.name))]
        return max([0, *self._meta, *on_disk]) + 1

    def save(self, trained: TrainedForecaster, source: dict) -> dict:
        """Write a new version atomically; its metadata (what GET /forecasters/{v} shows)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with self._lock:
            version = self._next_version()
            meta = {
                "version": version,
                "created_at_ms": int(time.time() * 1000),
                **source,
                "model": "lstm",
                "config": trained.config.as_dict(),
                "normalization": {"feature": "log_return", "scale": trained.scale},
                "band": {"residual_rms": trained.residual_rms},
                "metrics": trained.metrics,
                "history": trained.history,
                "torch": str(torch.__version__),
            }
            content = {"format": FORMAT, "meta": meta, "state_dict": trained.state_dict}
            final = self.directory / file_name(version)
            # The rename is durable before anyone is told (listed, job `succeeded`); if that
            # fails the job fails, and a restart may still find the file: never acknowledged.
            write_atomic(final, lambda out: torch.save(content, out), prefix=TEMP_PREFIX)
            self._meta[version] = meta
        log.info("saved forecaster v%d (%s %s)", version, meta.get("symbol"), meta.get("interval"))
        return meta

    def list(self) -> list[dict]:
        with self._lock:
            return [self._meta[v] for v in sorted(self._meta)]

    def meta(self, version: int) -> dict:
        with self._lock:
            if version not in self._meta:
                raise UnknownVersion(f"no forecaster version {version}")
            return self._meta[version]

    def latest(self, symbol: str | None = None, interval: str | None = None) -> dict | None:
        """The newest checkpoint (of this symbol and interval when given), or None."""
        with self._lock:
            for version in sorted(self._meta, reverse=True):
                meta = self._meta[version]
                if symbol is not None and meta.get("symbol") != symbol:
                    continue
                if interval is not None and meta.get("interval") != interval:
                    continue
                return meta
        return None

    def model(self, version: int) -> nn.Module:
        """The version's module on the service's device, loaded once and kept (LRU)."""
        with self._lock:
            if version in self._loaded:
                self._loaded.move_to_end(version)
                return self._loaded[version]
            if version not in self._meta:
                raise UnknownVersion(f"no forecaster version {version}")
            meta = self._meta[version]
        content = self._read(self.directory / file_name(version))
        net = model_lib.build(ForecasterConfig(**meta["config"]), self.device)
        net.load_state_dict(content["state_dict"])
        net.eval()
        with self._lock:
            self._loaded[version] = net
            while len(self._loaded) > self.loaded_limit:
                self._loaded.popitem(last=False)
        return net
