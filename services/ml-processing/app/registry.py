"""The model registry: every trained version on disk, the active one in memory.

Layout under MODEL_DIR:
    versions/<n>/meta.json    kind, feature schema, metrics, params, trained-on, created time,
                              the model file's name, size and sha256
    versions/<n>/model.*      the library's own file (ubj, cbm, pkl)
    active.json               {"active": n, "history": [previously promoted, latest last]}

A version is written into a staging directory beside the others (versions/.staging-*), its
files fsynced, then renamed to versions/<n> and versions/ fsynced: a directory there is always
complete. active.json is replaced atomically (temp file, fsync, rename, fsync of MODEL_DIR),
only naming a version already durable, and before the in-memory swap: so a 2xx (or a job's
`succeeded`) is only ever given for what a restart, even after SIGKILL, finds again.

At start, what a kill leaves (staging directories, a pointer's temp file) is removed; a version
whose metadata or model file is damaged (missing, truncated: the recorded size; changed: the
recorded sha256, checked at load) is skipped with a logged reason, and an active version that
cannot be loaded leaves nothing active (said in /health), never a failed start.

Serving reads `registry.active` once per request. Promotion loads the new version first
(off the event loop), then replaces that reference: one assignment, atomic in Python, so a
request in flight finishes on the model it started with and none is ever dropped.

Promotion pushes the version it replaces onto the history; rollback pops it back (so two
rollbacks go back two promotions). Promoting the active version again changes nothing.
"""

import errno
import json
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
from app.core.files import fsync_file, read_json, sha256_file, write_json_atomic
from app.training import TrainedModel
from servicekit.files import fsync_dir

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


class DamagedVersion(ValueError):
    """The version's model file is not the one that was written (it fails its checksum)."""


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


def _sound_state(state) -> bool:
    """active.json's shape: {"active": int | null, "history": [int, ...]}."""
    if not isinstance(state, dict) or not isinstance(history := state.get("history", []), list):
        return False
    active = state.get("active")
    # `type(v) is int`: a bool is an int too, and true would name version 1.
    return all(type(v) is int for v in [*history, *([] if active is None else [active])])


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
        # Versions on disk skipped at start, with the reason (for the active one's load_error).
        self._unusable: dict[int, str] = {}
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
        self._remove_leftovers()
        for directory in self.versions_dir.iterdir():
            if not directory.name.isdigit():
                continue
            version = int(directory.name)
            try:
                self._meta[version] = self._checked_meta(version, directory)
            except (OSError, ValueError) as exc:
                self._unusable[version] = str(exc)
                log.error("skipping model version %s: %s", version, exc)
        state = self._read_active()
        self._history = [v for v in state.get("history", []) if v in self._meta]
        active = state.get("active")
        if active is None:
            return
        try:
            if active in self._unusable:
                raise ValueError(self._unusable[active])
            self.active = self.model(active)
        except Exception as exc:  # noqa: BLE001 - serve without it, say why in /health
            self.load_error = (
                f"active version {active} could not be loaded: {exc}"[:300]
                + " (POST /models/rollback or /models/{version}/promote chooses another)"
            )
            log.error("%s", self.load_error)

    def _remove_leftovers(self) -> None:
        """Drop what a killed process left: never visible, never acknowledged.

        One process owns MODEL_DIR (one worker), so nothing else is writing these now."""
        staging = [
            *self.versions_dir.glob(f"{STAGING_PREFIX}*"),
            *self.root.glob(f"{STAGING_PREFIX}*"),
        ]
        for directory in staging:  # a save that died before its rename (root: older layout)
            shutil.rmtree(directory, ignore_errors=True)
        for path in [*self.root.glob(f".{ACTIVE_FILE}.*.tmp"), *self.root.glob(".health-*")]:
            path.unlink(missing_ok=True)

    def _checked_meta(self, version: int, directory: Path) -> dict:
        """The version's metadata, if it describes a usable model; ValueError saying why not."""
        meta = read_json(directory / META_FILE)
        if not isinstance(meta, dict) or meta.get("version") != version:
            raise ValueError(f"{META_FILE} does not describe version {version}")
        if meta.get("kind") not in learners.LEARNERS or not isinstance(meta.get("file"), str):
            raise ValueError(f"{META_FILE} names no known model kind and file")
        if not isinstance(meta.get("feature_schema"), list):
            raise ValueError(f"{META_FILE} has no feature schema")
        model_file = directory / meta["file"]
        if not model_file.is_file():
            raise ValueError(f"its model file {model_file.name} is missing")
        size = model_file.stat().st_size
        if "size" in meta and size != meta["size"]:  # versions saved before sizes were kept: no
            raise ValueError(
                f"its model file {model_file.name} is truncated or damaged "
                f"({size} bytes, {meta['size']} written)"
            )
        return meta

    def _read_active(self) -> dict:
        """active.json if it is sound, else {} (nothing active), with the reason logged."""
        try:
            state = read_json(self.root / ACTIVE_FILE)
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.error("ignoring unreadable %s: %s", ACTIVE_FILE, exc)
            return {}
        if not _sound_state(state):
            log.error("ignoring malformed %s: %s", ACTIVE_FILE, json.dumps(state)[:200])
            return {}
        return state

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
            directory = self.versions_dir / str(version)
            # A changed byte can still parse (a pickled weight, say): never serve such a file.
            if "sha256" in meta and sha256_file(directory / meta["file"]) != meta["sha256"]:
                raise DamagedVersion(
                    f"the model file of version {version} fails its checksum: it is not the "
                    "file that was written, so it is never served"
                )
            learner = learners.load(meta["kind"], directory)
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
        # Beside the versions: the rename that publishes it stays within one directory.
        staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=self.versions_dir))
        try:
            file_name = trained.learner.save(staging)
            fsync_file(staging / file_name)
            written = {
                "file": file_name,
                "size": (staging / file_name).stat().st_size,
                "sha256": sha256_file(staging / file_name),
            }
            with self._write_lock:
                version = max([*self._meta, *self._unusable], default=0) + 1
                while True:
                    meta = self._new_meta(version, trained, kind, schema, written)
                    write_json_atomic(staging / META_FILE, meta)
                    try:
                        os.rename(staging, self.versions_dir / str(version))
                        break
                    except OSError as exc:
                        if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                            raise
                        # Taken (another process on the same MODEL_DIR): the next one.
                        version += 1
                # Durable before anything names it (the job's `succeeded`, active.json).
                fsync_dir(self.versions_dir)
                self._meta[version] = meta
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        with self._load_lock:
            self._remember(LoadedModel.of(meta, trained.learner))
        return meta

    @staticmethod
    def _new_meta(version, trained: TrainedModel, kind, schema, written: dict) -> dict:
        now = time.time()
        return {
            "version": version,
            "kind": kind,
            "library_version": learners.library_version(kind),
            **written,
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
        """Persist the new state (durably: the answer follows), then swap the reference."""
        write_json_atomic(
            self.root / ACTIVE_FILE,
            {"active": model.version, "history": history, "updated_ms": int(time.time() * 1000)},
        )
        self._history = history
        self.active = model
        self.load_error = None
        log.info("active model is now version %s (%s)", model.version, model.kind)
