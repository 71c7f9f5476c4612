"""What a run measures and how long it will take: the plan the arguments select, its steps (the
selected parts, those sharing a Measure together) and their expected seconds."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass

from toolkit.bench import parts
from toolkit.bench.measure.start import profile_for
from toolkit.bench.part import Measure, Part, Plan
from toolkit.catalog import Catalog
from toolkit.console import console, table
from toolkit.errors import ToolkitError

DEFAULT_PROFILE = "core"


def scope(plan: Plan) -> dict:
    """The run's `scope`: what was asked, and what the selected parts add (the build cases)."""
    found = {
        "kind": "bench",
        "services": [s.name for s in plan.services],
        "profile": plan.profile,
        "rounds": plan.rounds,
        "quick": plan.quick,
        "parts": list(plan.parts),
    }
    for part in parts.PARTS:
        if part.name in plan.parts:
            found.update(part.scope(plan))
    return found


def make_plan(catalog: Catalog, args: argparse.Namespace) -> Plan:
    """The services, profile and parts the arguments select; an unknown name is an error that
    lists the valid ones."""
    if args.services:
        services = catalog.select(" ".join(args.services).replace(",", " ").split())
    elif args.tier is not None:
        services = catalog.tier(args.tier)
        if not services:
            filled = sorted({s.tier for s in catalog.services.values()})
            raise ToolkitError(
                f"tier {args.tier} has no services yet",
                f"choose a tier with services: {', '.join(map(str, filled))}",
            )
    else:
        services = catalog.profile(args.profile or DEFAULT_PROFILE)
    profile = args.profile or profile_for(catalog, services)
    every = parts.names()
    chosen = tuple(p for p in (p.strip() for p in args.parts.split(",")) if p)
    unknown = [p for p in chosen if p not in every]
    if unknown or not chosen:
        raise ToolkitError(
            f"unknown part(s): {', '.join(unknown) or '(none given)'}",
            f"choose from: {', '.join(every)}",
        )
    selected = {s.name for s in services}
    for part in parts.PARTS:
        if part.service is None or part.name not in chosen or part.service in selected:
            continue
        if args.parts != ",".join(every):
            profile_needed = profile_for(catalog, [catalog.service(part.service)])
            raise ToolkitError(
                f"the {part.name} part measures {part.service}, which is not selected",
                f"add it: --services {part.service} or --profile {profile_needed}",
            )
        chosen = tuple(p for p in chosen if p != part.name)  # the default parts: skip it quietly
    rounds = args.rounds if args.rounds is not None else 1 if args.quick else 3
    if rounds < 1:
        raise ToolkitError(f"rounds must be at least 1, got {rounds}", "pass --rounds 1 or more")
    if args.tolerance < 0:
        raise ToolkitError(f"tolerance {args.tolerance} is negative", "e.g. --tolerance 0.25")
    return Plan(
        catalog=catalog,
        services=tuple(services),
        profile=profile,
        parts=tuple(p for p in every if p in chosen),  # always in running order
        rounds=rounds,
        quick=args.quick,
        baseline=args.baseline,
    )


@dataclass(frozen=True)
class Step:
    """The selected parts that share one Measure (the load and the memory under it), measured
    together; `name` keys its duration in a results document."""

    parts: tuple[Part, ...]

    @property
    def name(self) -> str:
        return "+".join(p.name for p in self.parts)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.parts)

    @property
    def measure(self) -> Measure:
        return self.parts[0].measure


def steps(plan: Plan) -> list[Step]:
    grouped: dict[Measure, list[Part]] = {}
    for part in parts.PARTS:
        if part.name in plan.parts:
            grouped.setdefault(part.measure, []).append(part)
    return [Step(tuple(group)) for group in grouped.values()]


def estimate(
    plan: Plan, earlier: Sequence[tuple[dict, str]] = (), build_previous: dict | None = None
) -> dict[str, tuple[float, str]]:
    """Expected seconds per step, and their basis: the time the newest comparable earlier run
    (`earlier`: documents with durations and their names, newest first) took for it without
    failing, scaled to this run's rounds or services; else the step's own guess (the build's
    per-build estimate reads the medians of `build_previous` where it has them)."""
    expected = {}
    for step in steps(plan):
        measure = step.measure
        for run, name in earlier:
            before = (run.get("durations") or {}).get(step.name)
            earlier_scope = run.get("scope") or {}
            failed = set(step.names) & set(run.get("errors") or {})
            if before is not None and not failed and measure.comparable(plan, earlier_scope):
                units = measure.per.units(scope(plan)) / measure.per.units(earlier_scope)
                expected[step.name] = (before * units, name)
                break
        else:
            guess = measure.guess(plan, step.names, build_previous)
            expected[step.name] = (guess, measure.basis)
    return expected


def minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 90 else f"{seconds:.0f} s"


def show_plan(plan: Plan, expected: dict[str, tuple[float, str]]) -> None:
    rows = [
        (
            step.name,
            step.measure.what(plan),
            minutes(expected[step.name][0]),
            expected[step.name][1],
        )
        for step in steps(plan)
    ]
    total = sum(seconds for seconds, _ in expected.values())
    console.print(
        table(
            f"benchmark plan: {', '.join(s.name for s in plan.services)} (profile "
            f"{plan.profile}), {plan.rounds} round(s){', quick' if plan.quick else ''}",
            ["part", "what", "about", "from"],
            rows,
        )
    )
    console.print(
        f"expected: about {minutes(total)} in all; a busy engine, or an image built for the "
        "first time, takes longer"
    )
