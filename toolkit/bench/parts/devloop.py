"""devloop: save-to-reload in dev mode (toolkit/devloop.py); last, as it swaps each service's
container for a dev one (and puts it back itself).

Section: devloop[service] = summary(seconds from saving a file to the new code answering).
"""

from __future__ import annotations

from toolkit import devloop
from toolkit.bench import fmt
from toolkit.bench.measure import start
from toolkit.bench.part import Figure, Measure, Needs, Panel, Part, Per, Plan, Series
from toolkit.catalog import Catalog

SERVICE_GUESS = 20  # dev mode started, the service put back, the profile checked
ROUND_GUESS = 2


def measure(plan: Plan, run: dict) -> None:
    """Save-to-reload per service; each is put back as it was (devloop.measure_reload does it),
    and the profile is checked healthy afterwards, even when a measure failed."""
    try:
        for service in plan.services:
            run["devloop"][service.name] = devloop.measure_reload(
                plan.catalog, service, plan.rounds
            )
    finally:
        start.ensure_up(plan.catalog, plan.profile)


def guess(plan: Plan, selected: tuple[str, ...], medians: dict | None) -> float:
    return (SERVICE_GUESS + ROUND_GUESS * plan.rounds) * sum(plan.weights)


def panels(run: dict, catalog: Catalog | None) -> list[Panel]:
    section = run.get("devloop") or {}
    names = list(section)
    return [
        Panel(
            "Dev loop: save to new code answering (seconds, lower is better)",
            "s",
            names,
            [Series("median", "#2a7ab9", [fmt.median(section[n]) for n in names])],
        )
    ]


def figures(run: dict):
    for service, f in (run.get("devloop") or {}).items():
        yield Figure(f"devloop {service}", f, "s")


def headline(run: dict):
    return [f"{name} {fmt.seconds(f)}" for name, f in run["devloop"].items()]


PARTS = (
    Part(
        name="devloop",
        order=90,
        measure=Measure(
            measure,
            guess,
            lambda plan: "save to new code answering, dev mode",
            needs=Needs.PROFILE_UP,
            per=Per.SERVICE,
        ),
        sections=("devloop",),
        markdown=fmt.generic("Dev loop: save to new code answering (s)", "devloop"),
        panels=panels,
        figures=figures,
        headline=headline,
    ),
)
