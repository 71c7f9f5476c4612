"""build: our builds against the seed-strategy baseline (toolkit/bench/measure/build.py).

Sections: build[service][case] = summary(seconds) (cases: cold_wheelhouse, cold_online, warm,
source_change) and build[service]["image_mb"]; the seed-strategy baseline likewise under
baseline[service][case] and baseline[service]["image_mb"].
"""

from __future__ import annotations

from toolkit.bench import fmt
from toolkit.bench.measure import build as builds
from toolkit.bench.part import Figure, Measure, Panel, Part, Plan, Series
from toolkit.catalog import Catalog
from toolkit.console import console

PREPARATION_GUESS = 10  # base images and wheelhouse checked, seed projects locked once
# The targets against the seed-strategy baseline (ours / baseline at most this).
RATIO_TARGETS = {"cold_wheelhouse": 1 / 1.5, "cold_online": 1 / 3}
IMAGE_RATIO_TARGET = 0.75  # at least 25 % smaller than the baseline and the seed's figure
SOURCE_CHANGE_TARGET = 3.0  # seconds, when the catalog has no source_change_seconds budget
# Catalog budget per build case (a case whose budget the catalog lacks has no seed figure).
CASE_BUDGETS = {
    "cold_wheelhouse": "build_seconds",
    "cold_online": "build_online_seconds",
    "warm": "warm_seconds",
    "source_change": "source_change_seconds",
}
CASE_NAMES = {
    "cold_wheelhouse": "cold, wheelhouse",
    "cold_online": "cold, online index",
    "warm": "warm (no change)",
    "source_change": "one-line source change",
}
OURS, BASELINE, SEED = "#2a7ab9", "#e08a2c", "#9a9a9a"


def cases(plan: Plan) -> tuple[str, ...]:
    return builds.QUICK_CASES if plan.quick else builds.CASES


# ---- measuring -------------------------------------------------------------------------------


def measure(plan: Plan, run: dict) -> None:
    build, base = builds.measure(
        list(plan.services), plan.rounds, cases(plan), plan.baseline, progress=console.print
    )
    run["build"], run["baseline"] = build, base


def guess(plan: Plan, selected: tuple[str, ...], medians: dict | None) -> float:
    return PREPARATION_GUESS + builds.estimate(
        list(plan.services), plan.rounds, cases(plan), plan.baseline, medians
    )


def what(plan: Plan) -> str:
    sides = "ours and the seed-strategy baseline" if plan.baseline else "ours only"
    return f"{', '.join(cases(plan))}; {sides}"


def comparable(plan: Plan, scope: dict) -> bool:
    """An earlier build step's time counts only for the very same builds."""
    same = (plan.baseline, [s.name for s in plan.services], plan.rounds)
    return scope.get("quick") == plan.quick and (
        (scope.get("baseline"), scope.get("services"), scope.get("rounds")) == same
    )


def scope(plan: Plan) -> dict:
    return {"cases": list(cases(plan)), "baseline": plan.baseline}


# ---- markdown --------------------------------------------------------------------------------


def _build_rows(run: dict, catalog: Catalog | None) -> list[list[str]]:
    rows = []
    base = run.get("baseline") or {}
    for service, service_cases in (run.get("build") or {}).items():
        for case, figure in service_cases.items():
            if not isinstance(figure, dict) or "median" not in figure:
                continue
            ours = figure["median"]
            theirs = fmt.median((base.get(service) or {}).get(case))
            ratio = ours / theirs if theirs else None
            seed, target = fmt.budget(catalog, service, CASE_BUDGETS.get(case, ""))
            if case == "source_change" and target is None:
                target = SOURCE_CHANGE_TARGET
            checks, wanted = [], []
            if target is not None:
                wanted.append(f"≤ {fmt.num(target, 's')}")
                checks.append((f"{fmt.num(ours, 's')} > {fmt.num(target, 's')}", ours <= target))
            if case in RATIO_TARGETS:
                limit = RATIO_TARGETS[case]
                wanted.append(f"≥ {1 / limit:.1f}x faster than baseline")
                if ratio is not None:
                    checks.append((f"only {1 / ratio:.2f}x faster", ratio <= limit))
            rows.append(
                [
                    service,
                    CASE_NAMES.get(case, case),
                    fmt.spread(figure),
                    fmt.spread((base.get(service) or {}).get(case)),
                    fmt.ratio(ratio),
                    fmt.num(seed, "s"),
                    "; ".join(wanted) or "—",
                    fmt.verdict(checks),
                ]
            )
    return rows


def _image_rows(run: dict, catalog: Catalog | None) -> list[list[str]]:
    rows = []
    base = run.get("baseline") or {}
    for service, service_cases in (run.get("build") or {}).items():
        ours = service_cases.get("image_mb")
        if ours is None:
            continue
        theirs = (base.get(service) or {}).get("image_mb")
        seed, target = fmt.budget(catalog, service, "image_mb")
        checks = []
        if target is not None:
            limit = f"{fmt.num(ours, 'MB')} > target {fmt.num(target, 'MB')}"
            checks.append((limit, ours <= target))
        for label, other in (("baseline", theirs), ("seed", seed)):
            if other:
                ok = ours <= IMAGE_RATIO_TARGET * other
                checks.append((f"only {1 - ours / other:.0%} smaller than the {label}", ok))
        rows.append(
            [
                service,
                fmt.num(ours, "MB"),
                fmt.num(theirs, "MB"),
                f"{ours / theirs:.2f}" if theirs else "—",
                fmt.num(seed, "MB"),
                f"{ours / seed:.2f}" if seed else "—",
                f"≤ {fmt.num(target, 'MB')}; ≥ 25% smaller than baseline and seed"
                if target
                else "≥ 25% smaller than baseline and seed",
                fmt.verdict(checks),
            ]
        )
    return rows


def markdown(run: dict, catalog: Catalog | None) -> list[str]:
    lines = []
    rows = _build_rows(run, catalog)
    if rows:
        lines += [
            "## Build time",
            "",
            "Seconds through `docker compose build`, median (min-max) of the rounds. The "
            "baseline is the seed's strategy (benchmarks/seed-strategy/) built in the same run "
            "on the same machine; the seed column is the figure the seed document claims.",
            "",
        ]
        columns = ["service", "case", "ours", "baseline", "ours / baseline", "seed claims"]
        lines += fmt.table([*columns, "target", "verdict"], rows)
        lines.append("")
    rows = _image_rows(run, catalog)
    if rows:
        lines += ["## Image size", "", "Production image, `docker image inspect` Size.", ""]
        columns = ["service", "ours", "baseline", "ours / baseline", "seed claims", "ours / seed"]
        lines += fmt.table([*columns, "target", "verdict"], rows)
        lines.append("")
    return lines


# ---- chart, figures, summary -----------------------------------------------------------------


def _panel(title: str, unit: str, groups: list[tuple]) -> Panel:
    """Grouped bars of (label, ours, baseline, seed's claim)."""
    return Panel(
        title,
        unit,
        [g[0] for g in groups],
        [
            Series(name, colour, [g[index] for g in groups])
            for index, (name, colour) in enumerate(
                (("ours", OURS), ("seed-strategy baseline", BASELINE), ("seed's claim", SEED)), 1
            )
        ],
    )


def panels(run: dict, catalog: Catalog | None) -> list[Panel]:
    """Cold builds (seconds) and image sizes (MB): ours, the baseline and the seed's claim."""
    build = run.get("build") or {}
    base = run.get("baseline") or {}
    groups = []
    for service, service_cases in build.items():
        for case in ("cold_wheelhouse", "cold_online"):
            if case in service_cases:
                seed, _ = fmt.budget(catalog, service, CASE_BUDGETS[case])
                theirs = fmt.median((base.get(service) or {}).get(case))
                label = f"{service}\n{CASE_NAMES[case]}"
                groups.append((label, fmt.median(service_cases[case]), theirs, seed))
    sizes = []
    for service, service_cases in build.items():
        if service_cases.get("image_mb") is not None:
            seed, _ = fmt.budget(catalog, service, "image_mb")
            theirs = (base.get(service) or {}).get("image_mb")
            sizes.append((service, service_cases["image_mb"], theirs, seed))
    return [
        _panel("Cold build (seconds, lower is better)", "s", groups),
        _panel("Production image (MB, lower is better)", "MB", sizes),
    ]


def figures(run: dict):
    for service, service_cases in (run.get("build") or {}).items():
        for case, figure in service_cases.items():
            unit = "MB" if case == "image_mb" else "s"
            yield Figure(f"build {service} {case}", figure, unit)


def headline(run: dict) -> list[str]:
    lines = []
    for name, service_cases in run["build"].items():
        case = next(c for c in builds.CASES if c in service_cases)
        theirs = (run["baseline"].get(name) or {}).get(case)
        lines.append(
            f"{name} {case} {fmt.seconds(service_cases[case])}"
            + (f" (baseline {fmt.seconds(theirs)})" if theirs else "")
            + f", image {service_cases['image_mb']} MB"
        )
    return lines


PARTS = (
    Part(
        name="build",
        order=10,
        measure=Measure(
            measure, guess, what, comparable=comparable, basis="build medians, guesses"
        ),
        sections=("build", "baseline"),
        markdown=markdown,
        panels=panels,
        figures=figures,
        headline=headline,
        scope=scope,
    ),
)
