"""http and memory: load through the gateway (toolkit/loadgen.py) and each service's memory at
idle and sampled under that load (toolkit/bench/measure/resources.py): two parts, one step
when both run (the memory under load is the HTTP part's load).

Sections: latency["http"][name] = {p50_ms, p95_ms, p99_ms, rps, requests, errors,
concurrency, seconds}; memory[service] = {idle_mb, load_mb, load_samples}.
"""

from __future__ import annotations

from toolkit.bench import fmt
from toolkit.bench.measure import http as http_measure
from toolkit.bench.measure import resources
from toolkit.bench.part import Figure, Measure, Needs, Panel, Part, Plan, Series
from toolkit.catalog import Catalog

LOAD_GUESS = {True: 20, False: 35}  # the three scenarios, quick or not, with their set-up
MEMORY_GUESS = 6  # idle samples
KEYS = ["p50_ms", "p95_ms", "p99_ms", "rps", "requests", "errors", "concurrency"]
# Beside every figure: which generator made it and its ceiling (toolkit/bench/measure/http.py).
SOURCE_KEYS = ["generator", "ceiling_rps"]


def measure(plan: Plan, run: dict) -> None:
    """HTTP load through the gateway and/or memory, sampled under that load when both run."""
    options: dict = {"seconds": 5.0 if plan.quick else 10.0, "concurrency": 16}
    if plan.quick:
        options.update(warmup_seconds=1.0, login_requests=4)
    http: dict = {}

    def load() -> None:
        http.update(http_measure.latency_http(plan.catalog, **options))

    if "memory" in plan.parts:
        during = load if "http" in plan.parts else None
        run["memory"] = resources.memory(plan.catalog, plan.running_services, during=during)
    else:
        load()
    if http:
        run["latency"]["http"] = http


def guess(plan: Plan, selected: tuple[str, ...], medians: dict | None) -> float:
    seconds = LOAD_GUESS[plan.quick] if "http" in selected else 0
    return seconds + (MEMORY_GUESS if "memory" in selected else 0)


LOAD = Measure(
    measure,
    guess,
    lambda plan: f"through the gateway, profile {plan.profile}",
    needs=Needs.PROFILE_UP,
)


# ---- http ------------------------------------------------------------------------------------


def _http(run: dict) -> dict:
    return (run.get("latency") or {}).get("http") or {}


def http_markdown(run: dict, catalog: Catalog | None) -> list[str]:
    http = _http(run)
    if not http:
        return []
    rows = []
    for name, figures in http.items():
        service = next(
            (s for s in (catalog.services if catalog else {}) if name.startswith(s)), None
        )
        _, target = fmt.budget(catalog, service or "", "latency_p50_ms")
        p50 = figures.get("p50_ms")
        checks = [(f"p50 > {fmt.num(target, 'ms')}", p50 <= target)] if target and p50 else []
        cells = [fmt.num(figures.get(k)) for k in KEYS]
        source = [str(figures.get("generator") or "python"), fmt.num(figures.get("ceiling_rps"))]
        rows.append([name, *cells, *source, fmt.num(target, "ms"), fmt.verdict(checks)])
    return [
        "## Request latency (HTTP)",
        "",
        "`ceiling_rps`: what the same generator reached on the gateway's GET /health/live in",
        "this run; a figure near it measures the generator as much as the service.",
        "",
        *fmt.table(["endpoint", *KEYS, *SOURCE_KEYS, "p50 target", "verdict"], rows),
        "",
    ]


def http_panels(run: dict, catalog: Catalog | None) -> list[Panel]:
    http = _http(run)
    names = list(http)
    percentiles = [
        Series(key[:3], colour, [http[n].get(key) for n in names])
        for key, colour in (("p50_ms", "#2a7ab9"), ("p95_ms", "#e08a2c"), ("p99_ms", "#c0392b"))
    ]
    return [
        Panel("HTTP latency through the gateway (ms, lower is better)", "ms", names, percentiles),
        Panel(
            "HTTP throughput (requests/s, higher is better)",
            "rps",
            names,
            [Series("requests/s", "#2b8a3e", [http[n].get("rps") for n in names])],
        ),
    ]


def http_figures(run: dict):
    for name, f in _http(run).items():
        for key in ("p50_ms", "p95_ms", "p99_ms"):
            yield Figure(f"latency {name} {key[:3]}", f.get(key), "ms")
        yield Figure(f"latency {name} rps", f.get("rps"), "rps", higher_is_better=True)


def http_headline(run: dict):
    http = run["latency"]["http"]
    return [f"{name} p50 {f['p50_ms']} ms, {f['rps']} rps" for name, f in http.items()]


# ---- memory ----------------------------------------------------------------------------------


def memory_panels(run: dict, catalog: Catalog | None) -> list[Panel]:
    memory = run.get("memory") or {}
    names = list(memory)
    return [
        Panel(
            "Container memory (MB, lower is better)",
            "MB",
            names,
            [
                Series("idle", "#7fb3d8", [memory[n].get("idle_mb") for n in names]),
                Series("under load (max)", "#2a7ab9", [memory[n].get("load_mb") for n in names]),
            ],
        )
    ]


def memory_figures(run: dict):
    for service, f in (run.get("memory") or {}).items():
        for key in ("idle_mb", "load_mb"):
            yield Figure(f"memory {service} {key[:-3]}", f.get(key), "MB")


def memory_headline(run: dict):
    return [
        f"{n} {f['idle_mb']} MB idle, {f['load_mb']} MB loaded" for n, f in run["memory"].items()
    ]


PARTS = (
    Part(
        name="http",
        order=30,
        measure=LOAD,
        sections=("latency",),
        markdown=http_markdown,
        panels=http_panels,
        figures=http_figures,
        headline=http_headline,
    ),
    Part(
        name="memory",
        order=40,
        measure=LOAD,
        sections=("memory",),
        markdown=fmt.generic("Memory (MB)", "memory"),
        panels=memory_panels,
        figures=memory_figures,
        headline=memory_headline,
    ),
)
