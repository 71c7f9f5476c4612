"""layers: `dive` on each selected service's production image
(toolkit/bench/measure/resources.py).

Section: layers[service] = {efficiency, wasted_mb, image_mb, layers}.
"""

from __future__ import annotations

from toolkit.bench import fmt
from toolkit.bench.measure import resources
from toolkit.bench.part import Figure, Measure, Needs, Panel, Part, Per, Plan, Series
from toolkit.catalog import Catalog

SERVICE_GUESS = 5


def measure(plan: Plan, run: dict) -> None:
    run["layers"] = resources.layers(plan.services)


def _percent(share: float | None) -> float | None:
    return None if share is None else round(100 * share, 2)


def panels(run: dict, catalog: Catalog | None) -> list[Panel]:
    section = run.get("layers") or {}
    names = list(section)
    return [
        Panel(
            "Image layers: efficiency, bytes no later layer overwrites (%, higher is better)",
            "%",
            names,
            [
                Series(
                    "efficiency", "#2b8a3e", [_percent(section[n].get("efficiency")) for n in names]
                )
            ],
        )
    ]


def figures(run: dict):
    for service, f in (run.get("layers") or {}).items():
        yield Figure(f"layers {service} wasted", f.get("wasted_mb"), "MB")


def headline(run: dict):
    return [
        f"{name} {f['efficiency']:.1%} efficient, {f['wasted_mb']} MB wasted"
        for name, f in run["layers"].items()
    ]


PARTS = (
    Part(
        name="layers",
        order=80,
        measure=Measure(
            measure,
            lambda plan, selected, medians: SERVICE_GUESS * sum(plan.weights),
            lambda plan: "dive on the production images",
            needs=Needs.IMAGES,
            per=Per.SERVICE,
        ),
        sections=("layers",),
        markdown=fmt.generic("Image layers", "layers"),
        panels=panels,
        figures=figures,
        headline=headline,
    ),
)
