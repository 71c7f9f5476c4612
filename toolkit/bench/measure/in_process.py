"""In-process benchmarks: each service's tests/benchmarks/, run by pytest-benchmark inside its
test container (the image and the backends its tests use), reported in microseconds.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

from toolkit import stack, testing
from toolkit.catalog import Catalog, Service
from toolkit.console import console, step, table
from toolkit.errors import ToolkitError
from toolkit.names import COMPOSE_TEST_FILE

IN_PROCESS_DIR = "tests/benchmarks"
CONTAINER_OUTPUT = "/bench-output"
SUBPROCESS_TIMEOUT = 1800


def benchmark_figures(report: Mapping) -> dict[str, dict]:
    """latency.in_process[service] from a pytest-benchmark JSON report (seconds -> µs)."""
    figures = {}
    for bench in report.get("benchmarks", []):
        stats = bench["stats"]
        entry = {
            "median_us": round(stats["median"] * 1e6, 3),
            "min_us": round(stats["min"] * 1e6, 3),
            "max_us": round(stats["max"] * 1e6, 3),
            "rounds": int(stats["rounds"]),
        }
        if bench.get("extra_info"):
            entry["extra"] = bench["extra_info"]
        figures[bench["name"]] = entry
    return figures


def in_process_command(service: Service, output_dir: Path, quick: bool = False) -> list[str]:
    """`docker compose run` of the service's benchmarks in its test container, writing the
    pytest-benchmark JSON into `output_dir` (bind-mounted; the test container runs as root)."""
    return [
        *stack.cli(COMPOSE_TEST_FILE, profiles=("test",)).argv(),
        "run",
        "--rm",
        "--quiet-pull",
        "--no-TTY",
        "--volume",
        f"{output_dir}:{CONTAINER_OUTPUT}",
        f"{service.name}-tests",
        "python",
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "-q",
        IN_PROCESS_DIR,
        "--benchmark-only",
        f"--benchmark-json={CONTAINER_OUTPUT}/benchmarks.json",
        f"--benchmark-max-time={0.2 if quick else 1.0}",
    ]


def in_process(
    catalog: Catalog, service: Service | str, quick: bool = False, prepare: bool = True
) -> dict[str, dict]:
    """latency.in_process[service]: its tests/benchmarks/ run by pytest-benchmark inside its
    test container (rebuilt first by `prepare`, so new benchmark files are in it), on the
    stack's network with the backends it needs (compose starts them, as for its tests)."""
    service = catalog.service(service) if isinstance(service, str) else service
    if not (service.directory / IN_PROCESS_DIR).is_dir():
        raise ToolkitError(
            f"{service.name} has no {IN_PROCESS_DIR}/",
            f"add pytest-benchmark tests in services/{service.name}/{IN_PROCESS_DIR}/",
        )
    if prepare:
        testing.prepare(catalog, service)
    output_dir = Path(tempfile.mkdtemp(prefix=f"bench-{service.name}-"))
    try:
        with step(f"{service.name}: in-process benchmarks in its test container") as note:
            try:
                done = subprocess.run(
                    in_process_command(service, output_dir, quick),
                    capture_output=True,
                    text=True,
                    timeout=SUBPROCESS_TIMEOUT,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                raise ToolkitError(
                    f"{service.name}'s benchmarks ran over {SUBPROCESS_TIMEOUT}s",
                    f"run them as tests: nox -s 'tests({service.name})' -- {IN_PROCESS_DIR}",
                ) from None
            report_path = output_dir / "benchmarks.json"
            if done.returncode != 0 or not report_path.exists():
                tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-25:])
                raise ToolkitError(
                    f"{service.name}'s benchmarks failed (pytest exit {done.returncode}):\n{tail}",
                    f"run them as tests: nox -s 'tests({service.name})' -- {IN_PROCESS_DIR}",
                )
            figures = benchmark_figures(json.loads(report_path.read_text()))
            note["note"] = f"{len(figures)} benchmarks"
    finally:
        shutil.rmtree(output_dir, ignore_errors=True)
    if not figures:
        raise ToolkitError(
            f"{service.name}'s benchmark report is empty",
            f"do the tests in services/{service.name}/{IN_PROCESS_DIR}/ use `benchmark`?",
        )
    console.print(
        table(
            f"{service.name}: in process (µs)",
            ["benchmark", "median", "min", "max", "rounds"],
            [
                (name, f["median_us"], f["min_us"], f["max_us"], f["rounds"])
                for name, f in figures.items()
            ],
        )
    )
    return figures
