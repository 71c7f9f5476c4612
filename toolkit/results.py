"""Benchmark results: one JSON document per run under benchmarks/results/.

Every benchmark module fills its own section of the document; `report` turns a document into
markdown and a chart and compares two documents. Sections and their shapes:

- build[service][case] = summary(seconds)  (cases: cold_wheelhouse, cold_online, warm,
  source_change) and build[service]["image_mb"]; the seed-strategy baseline likewise under
  baseline[service][case] and baseline[service]["image_mb"].
- start["services"][service] = seconds from `compose up` to healthy; start["profiles"][p] = s.
- latency["http"][name] = {p50_ms, p95_ms, p99_ms, rps, requests, errors, concurrency, seconds}
- latency["in_process"][service][test] = {median_us, min_us, max_us, rounds}
- memory[service] = {idle_mb, load_mb}
- stream["ingest"] = {series, ticks, stored, seconds, ticks_per_s}; stream["ingest_volatile"] the
  same with data-bridge's journal off (DURABLE_INTAKE=false), and stream["durability_cost"]
  = 1 - durable / volatile throughput, both measured on fresh processes in the same run
  (stream["ingest_durable"] is the durable one); stream["fanout_direct"] and
  stream["fanout_gateway"] = {subscribers, messages, deliveries, dropped, p50_ms, p95_ms,
  p99_ms, max_ms}
- ai["provider_cache"] = {requests, distinct_prompts, distinct_questions, exact_hits,
  semantic_hits, misses, hit_rate, exact_ceiling, wrong_semantic_hits, hit_p50_ms,
  miss_p50_ms}; ai["models"] = {service: training outcome}; ai["workflow"]["uncached" |
  "cached"] = {runs, status, p50_ms, p95_ms, max_ms}; ai["burst"] = {requests, ok,
  rejected_429, other, max_concurrent, queue_limit, max_running_seen, retry_after_s, seconds}
- layers[service] = {efficiency, wasted_mb}
- devloop[service] = summary(seconds from saving a file to the new code answering)
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import statistics
from pathlib import Path

from toolkit.catalog import ROOT
from toolkit.errors import ToolkitError

RESULTS_DIR = ROOT / "benchmarks" / "results"
SCHEMA = 1
SECTIONS = (
    "build",
    "baseline",
    "start",
    "latency",
    "memory",
    "stream",
    "ai",
    "layers",
    "devloop",
)


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
    from toolkit import engine  # here, so reading results never needs the engine client

    facts = {
        "cpus": os.cpu_count(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9, 1),
        "kernel": platform.release(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "compose": engine.compose_version(),
    }
    try:
        info = engine.client().info()
        facts.update(engine=info.get("ServerVersion"), storage=info.get("Driver"))
    except Exception as exc:  # noqa: BLE001 - a report without the engine version is still useful
        facts["engine"] = f"unknown ({exc})"
    return facts


def new_run(scope: dict) -> dict:
    started = dt.datetime.now(dt.UTC).replace(microsecond=0)
    run = {
        "schema": SCHEMA,
        "started": started.isoformat(),
        "scope": scope,
        "machine": machine_facts(),
    }
    run.update({section: {} for section in SECTIONS})
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
