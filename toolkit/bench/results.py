"""Benchmark results: one JSON document per run under benchmarks/results/.

A document holds `schema`, `started`, `scope` (what was asked: services, profile, rounds,
parts), `machine` (what a figure depends on), one section per part's figures, `durations`
(seconds per step, which the next run's estimate reads) and `errors` (a failed part's
message). Each part fills its own sections; toolkit/bench/parts/<part>.py documents their
shapes, and renders them (toolkit/bench/report.py). This module only makes, saves and reads
documents, and knows nothing of the parts.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import statistics
from collections.abc import Iterable, Iterator
from pathlib import Path

from toolkit import engine, stack
from toolkit.catalog import ROOT
from toolkit.errors import ToolkitError

RESULTS_DIR = ROOT / "benchmarks" / "results"
SCHEMA = 1


def summary(samples: list[float]) -> dict:
    """Median, min and max of repeated measurements (rounds kept for the record)."""
    if not samples:
        raise ValueError("no samples")
    return {
        "median": round(statistics.median(samples), 3),
        "min": round(min(samples), 3),
        "max": round(max(samples), 3),
        "rounds": [round(s, 3) for s in samples],
    }


def machine_facts() -> dict:
    """What a figure depends on: CPUs, memory, engine and compose versions, kernel."""
    facts = {
        "cpus": os.cpu_count(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9, 1),
        "kernel": platform.release(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "compose": engine.compose_version(),
    }
    try:
        info = stack.client().info()
        facts.update(engine=info.get("ServerVersion"), storage=info.get("Driver"))
    except Exception as exc:  # noqa: BLE001 - a report without the engine version is still useful
        facts["engine"] = f"unknown ({exc})"
    return facts


def new_run(scope: dict, sections: Iterable[str]) -> dict:
    """A document for a run beginning now, with an empty section for each of `sections`."""
    started = dt.datetime.now(dt.UTC).replace(microsecond=0)
    run = {
        "schema": SCHEMA,
        "started": started.isoformat(),
        "scope": scope,
        "machine": machine_facts(),
    }
    run.update({section: {} for section in sections})
    return run


def save(run: dict, name: str | None = None) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = run["started"].replace(":", "").replace("-", "").replace("+0000", "Z")
    path = RESULTS_DIR / (name or f"bench-{stamp}.json")
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(run, indent=2) + "\n")
    tmp.replace(path)  # never a half-written result file
    return path


def load(path: Path) -> dict:
    try:
        run = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ToolkitError(f"{path} not found", "give a file from benchmarks/results/") from None
    if run.get("schema") != SCHEMA:
        raise ToolkitError(
            f"{path} has schema {run.get('schema')}, expected {SCHEMA}",
            "compare runs made by the same toolkit version",
        )
    return run


def previous_runs(section: str = "build") -> Iterator[tuple[dict, str]]:
    """The result files with figures in `section` (build figures by default), newest first,
    each with its name."""
    for path in sorted(RESULTS_DIR.glob("*.json"), reverse=True):
        try:
            run = load(path)
        except (ToolkitError, ValueError):
            continue
        if run.get(section):
            yield run, path.name


def previous_run(section: str = "build") -> tuple[dict, str] | None:
    """The newest result file with figures in `section`, and its name."""
    return next(previous_runs(section), None)
