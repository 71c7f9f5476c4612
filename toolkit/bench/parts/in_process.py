"""in_process: pytest-benchmark in each selected service's test container
(toolkit/bench/measure/in_process.py).

Section: latency["in_process"][service][test] = {median_us, min_us, max_us, rounds} (and
`extra`, a benchmark's extra_info, when it has one).
"""

from __future__ import annotations

from toolkit.bench import fmt
from toolkit.bench.measure import in_process
from toolkit.bench.part import Figure, Measure, Panel, Part, Per, Plan, Series
from toolkit.catalog import Catalog

SERVICE_GUESS = {True: 10, False: 15}  # test image refreshed, then pytest-benchmark


def measure(plan: Plan, run: dict) -> None:
    section = run["latency"].setdefault("in_process", {})
    for service in plan.services:
        section[service.name] = in_process.in_process(plan.catalog, service, quick=plan.quick)


def _tests(run: dict) -> dict:
    return (run.get("latency") or {}).get("in_process") or {}


def markdown(run: dict, catalog: Catalog | None) -> list[str]:
    rows = [
        [service, test, *(fmt.num(f.get(k)) for k in ("median_us", "min_us", "max_us"))]
        for service, tests in _tests(run).items()
        for test, f in tests.items()
    ]
    if not rows:
        return []
    return [
        "## In-process latency (µs)",
        "",
        *fmt.table(["service", "test", "median", "min", "max"], rows),
        "",
    ]


def panels(run: dict, catalog: Catalog | None) -> list[Panel]:
    found = [(f"{s}: {t}", f) for s, tests in _tests(run).items() for t, f in tests.items()]
    return [
        Panel(
            "In process, pytest-benchmark median (µs, log scale, lower is better)",
            "µs",
            [label for label, _ in found],
            [Series("median", "#2a7ab9", [f.get("median_us") for _, f in found])],
            log=True,
        )
    ]


def figures(run: dict):
    for service, tests in _tests(run).items():
        for test, f in tests.items():
            yield Figure(f"in-process {service} {test}", f.get("median_us"), "us")


def headline(run: dict):
    return [f"{name} {len(t)} benchmarks" for name, t in run["latency"]["in_process"].items()]


PARTS = (
    Part(
        name="in_process",
        order=70,
        report_order=35,  # beside the HTTP latency in the report, as one latency section
        measure=Measure(
            measure,
            lambda plan, selected, medians: SERVICE_GUESS[plan.quick] * sum(plan.weights),
            lambda plan: "pytest-benchmark in the test containers",
            per=Per.SERVICE,
        ),
        sections=("latency",),
        markdown=markdown,
        panels=panels,
        figures=figures,
        headline=headline,
    ),
)
