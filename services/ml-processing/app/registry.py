"""The model registry: every trained version on disk, the active one in memory.

Layout under MODEL_DIR:
    versions/<n>/meta.json    kind, feature schema, metrics, params, trained-on, created time
    versions/<n>/model.*      the library's own file (ubj, cbm, pkl)
    active.json               {"active": n, "history": [previously promoted, latest last]}

A version is written into a staging directory, synced, then renamed to versions/<n>: a
directory there is always complete. active.json is replaced atomically, and written before
the in-memory swap, so what the process serves and what a restart loads agree.

Serving reads `registry.active` once per request. Promotion loads the new version first
(off the event loop), then replaces that reference: one assignment, atomic in Python, so a
request in flight finishes on the model it started with and none is ever dropped.

Promotion pushes the version it replaces onto the history; rollback pops it back (so two
rollbacks go back two promotions). Promoting the active version again changes nothing.
"""

import errno
import logging
import os
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from app import learners
from app.core.files import fsync_dir, fsync_file, read_json, write_json_atomic
from app.training import TrainedModel

log = logging.getLogger("ml-processing.registry")

VERSIONS = "versions"
META_FILE = "meta.json"
ACTIVE_FILE = "active.json"
STAGING_PREFIX = ".staging-"
HISTORY_MAX = 100
LABEL = "1 when the next candle closes higher than this one (close[t+1] > close[t]), else 0"


class UnknownVersion(LookupError):
    """No model with this version is in the registry."""

    def __init__(self, version: int) -> None:
        super().__init__(f"no model version {version}: GET /models lists them")
        self.version = version


class NoActiveModel(Exception):
    """Nothing has been promoted yet."""

    def __init__(self) -> None:
        super().__init__(
            "no model is promoted yet: train one (POST /models/train), then promote it "
            "(POST /models/{version}/promote), or name a version in the request"
        )


class NothingToRollBack(Exception):
    """No earlier promotion to go back to."""


@dataclass(frozen=True)
class LoadedModel:
    """A version ready to predict: its learner and the feature schema it expects."""

    version: int
    kind: str
    schema: tuple[str, ...]
    learner: learners.Learner
    positions: dict[str, int] = field(compare=False)

    @classmethod
    def of(cls, meta: dict, learner: learners.Learner) -> "LoadedModel":
        schema = tuple(meta["feature_schema"])
        return cls(
            version=meta["version"],
            kind=meta["kind"],
            schema=schema,
            learner=learner,
            positions={name: i for i, name in enumerate(schema)},
        )


class Registry:
    """Versions on disk, a few loaded in memory, and the active one."""

    def __init__(self, model_dir: str, loaded_versions: int) -> None:
        self.root = Path(model_dir)
        self.versions_dir = self.root / VERSIONS
        self.capacity = loaded_versions
        self.active: LoadedModel | None = None
        # Set when the active version named on disk cannot be loaded (reported by /health).
        self.load_error: str | None = None
        self._meta: dict[int, dict] = {}
        self._history: list[int] = []
        self._loaded: OrderedDict[int, LoadedModel] = OrderedDict()
        self._write_lock = threading.Lock()  # save, promote, rollback
        self._load_lock = threading.Lock()  # the loaded-versions LRU

    # ---- start-up -------------------------------------------------------------------------

    def open(self) -> None:
        """Read every version's metadata and load the active version (blocking: run in pool)."""
        try:
            self.versions_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            # Serve what can be served; /health's model-dir check reports the directory.
            log.error("cannot create %s: %s", self.versions_dir, exc)
            return
        for leftover in self.root.glob(f"{STAGING_PREFIX}*"):
            # A save that crashed before its rename: never visible, safe to drop.
            shutil.rmtree(leftover, ignore_errors=True)
        for directory in self.versions_dir.iterdir():
            if not directory.name.isdigit():
                continue
            try:
                meta = read_json(directory / META_FILE)
                self._meta[int(directory.name)] = meta
            except (OSError, ValueError) as exc:
                log.error("skipping model version %s: unreadable metadata (%s)", directory, exc)
        state = self._read_active()
        self._history = [v for v in state.get("history", []) if v in self._meta]
        active = state.get("active")
        if active is None:
            return
        try:
            self.active = self.model(active)
        except Exception as exc:  # noqa: BLE001 - serve without it, say why in /health
            self.load_error = f"active version {active} could not be loaded: {exc}"[:300]
            log.error("%s", self.load_error)

    def _read_active(self) -> dict:
        try:
            return read_json(self.root / ACTIVE_FILE)
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.error("ignoring unreadable %s: %s", ACTIVE_FILE, exc)
            return {}

    # ---- reading --------------------------------------------------------------------------

    def versions(self) -> list[dict]:
        """Every version's metadata, oldest first."""
        return [self._meta[v] for v in sorted(self._meta)]

    def meta(self, version: int) -> dict:
        try:
            return self._meta[version]
        except KeyError:
            raise UnknownVersion(version) from None

    @property
    def history(self) -> list[int]:
        """Previously promoted versions, the most recent last (what rollback returns to)."""
        return list(self._history)

    def loaded(self, version: int) -> LoadedModel | None:
        """The version if it is in memory already (no disk access: safe on the event loop)."""
        active = self.active
        if active is not None and active.version == version:
            return active
        return self._loaded.get(version)

    def model(self, version: int) -> LoadedModel:
        """The version, loaded from disk if it is not in memory (blocking: run in pool)."""
        if (found := self.loaded(version)) is not None:
            return found
        meta = self.meta(version)
        with self._load_lock:
            if (found := self._loaded.get(version)) is not None:
                return found
            learner = learners.load(meta["kind"], self.versions_dir / str(version))
            loaded = LoadedModel.of(meta, learner)
            self._remember(loaded)
            return loaded

    def _remember(self, loaded: LoadedModel) -> None:
        """Keep `loaded` in memory; the least recently loaded others go past capacity."""
        self._loaded[loaded.version] = loaded
        while len(self._loaded) > self.capacity:
            self._loaded.popitem(last=False)

    # ---- writing --------------------------------------------------------------------------

    def save(self, trained: TrainedModel, kind: str, schema: tuple[str, ...]) -> dict:
        """Persist a trained model as the next version; its metadata."""
        staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=self.root))
        try:
            file_name = trained.learner.save(staging)
            fsync_file(staging / file_name)
            with self._write_lock:
                version = max(self._meta, default=0) + 1
                while True:
                    meta = self._new_meta(version, trained, kind, schema, file_name)
                    write_json_atomic(staging / META_FILE, meta)
                    try:
                        os.rename(staging, self.versions_dir / str(version))
                        break
                    except OSError as exc:
                        if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                            raise
                        # Taken (another process on the same MODEL_DIR): the next one.
                        version += 1
                fsync_dir(self.versions_dir)
                self._meta[version] = meta
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        with self._load_lock:
            self._remember(LoadedModel.of(meta, trained.learner))
        return meta

    @staticmethod
    def _new_meta(version, trained: TrainedModel, kind, schema, file_name) -> dict:
        now = time.time()
        return {
            "version": version,
            "kind": kind,
            "library_version": learners.library_version(kind),
            "file": file_name,
            "feature_schema": list(schema),
            "label": LABEL,
            "params": trained.params,
            "metrics": trained.metrics,
            "trained_on": trained.candles,
            "train_seconds": round(trained.train_seconds, 4),
            "created_ms": int(now * 1000),
            "created_at": datetime.fromtimestamp(now, UTC).isoformat(timespec="milliseconds"),
        }

    def promote(self, version: int) -> LoadedModel:
        """Make `version` the active model (loading it first); the model now active."""
        model = self.model(version)
        with self._write_lock:
            current = self.active
            if current is not None and current.version == version:
                return current
            history = self._history + ([current.version] if current is not None else [])
            self._switch(model, history[-HISTORY_MAX:])
            return model

    def rollback(self) -> LoadedModel:
        """Go back to the previously promoted version; the model now active."""
        with self._write_lock:
            if not self._history:
                raise NothingToRollBack(
                    "no earlier promotion to roll back to: promote a version instead "
                    "(POST /models/{version}/promote)"
                )
            model = self.model(self._history[-1])
            self._switch(model, self._history[:-1])
            return model

    def _switch(self, model: LoadedModel, history: list[int]) -> None:
        """Persist the new state, then swap the reference the requests read."""
        write_json_atomic(
            self.root / ACTIVE_FILE,
            {"active": model.version, "history": history, "updated_ms": int(time.time() * 1000)},
        )
        self._history = history
        self.active = model
        self.load_error = None
        log.info("active model is now version %s (%s)", model.version, model.kind)
