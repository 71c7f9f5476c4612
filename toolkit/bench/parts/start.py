"""start: the profile from scratch until healthy (toolkit/bench/measure/start.py).

Section: start["services"][service] = summary of the seconds from `compose up` to healthy,
start["own"][service] the same from the container's own start, start["infrastructure"][name]
as services, start["profiles"][profile] = summary of the seconds until every container was.
"""

from __future__ import annotations

from toolkit.bench import fmt
from toolkit.bench.measure import start
from toolkit.bench.part import Figure, Measure, Needs, Panel, Part, Per, Plan, Series, tier_weight
from toolkit.catalog import Catalog

ROUND_GUESS = 20  # seconds a tier-1 profile takes per round: removed, then up until healthy


def measure(plan: Plan, run: dict) -> None:
    run["start"] = start.start_times(plan.catalog, plan.profile, plan.rounds)


def guess(plan: Plan, selected: tuple[str, ...], medians: dict | None) -> float:
    heaviest = tier_weight(plan.catalog.profiles[plan.profile])
    return ROUND_GUESS * plan.rounds * heaviest


def _rows(section: dict, catalog: Catalog | None) -> list[tuple]:
    """(what, own start, since compose up, seed's figure, target, judged) per service and
    profile: a service is judged on its own start, a profile on its whole start."""
    rows = []
    own = section.get("own") or {}
    for service, figure in (section.get("services") or {}).items():
        seed, target = fmt.budget(catalog, service, "start_seconds")
        mine = own.get(service)
        rows.append((service, mine, figure, seed, target, fmt.median(mine) if mine else None))
    budgets = catalog.profile_budgets if catalog else {}
    for profile, figure in (section.get("profiles") or {}).items():
        found = budgets.get(profile, {}).get("start_seconds")
        seed, target = (found.seed, found.target) if found else (None, None)
        rows.append((f"profile {profile}", None, figure, seed, target, fmt.median(figure)))
    return rows


def markdown(run: dict, catalog: Catalog | None) -> list[str]:
    section = run.get("start")
    if not section:
        return []
    lines = [
        "## Start to healthy",
        "",
        "A service's own start is from its container starting to its first passing health check "
        "(checks run every 2 s); `since compose up` adds the wait for its dependencies. A "
        "profile's figure is from `compose up` to every container healthy.",
        "",
    ]
    rows = []
    for what, mine, figure, seed, target, value in _rows(section, catalog):
        checks = [(f"> {fmt.num(target, 's')}", value <= target)] if target and value else []
        rows.append(
            [
                what,
                fmt.spread(mine) if mine else "—",
                fmt.spread(figure),
                fmt.num(seed, "s"),
                fmt.num(target, "s"),
                fmt.verdict(checks),
            ]
        )
    header = ["what", "own start", "since compose up", "seed claims", "target", "verdict"]
    return [*lines, *fmt.table(header, rows), ""]


def panels(run: dict, catalog: Catalog | None) -> list[Panel]:
    """Services and profiles apart: a profile's seed claim (minutes) would flatten the rest."""
    rows = _rows(run.get("start") or {}, catalog)
    found = []
    for title, chosen in (
        ("Start to healthy (seconds, lower is better)", [r for r in rows if r[1] is not None]),
        ("Profile start to healthy (seconds, lower is better)", [r for r in rows if r[1] is None]),
    ):
        found.append(
            Panel(
                title,
                "s",
                [r[0] for r in chosen],
                [
                    Series("own start", "#7fb3d8", [fmt.median(r[1]) for r in chosen]),
                    Series("since compose up", "#2a7ab9", [fmt.median(r[2]) for r in chosen]),
                    Series("seed's claim", "#9a9a9a", [r[3] for r in chosen]),
                ],
            )
        )
    return found


def figures(run: dict):
    section = run.get("start") or {}
    for group in ("services", "profiles"):
        for name, figure in (section.get(group) or {}).items():
            yield Figure(f"start {name}", figure, "s")


def headline(run: dict):
    return [f"profile {p} {fmt.seconds(f)}" for p, f in run["start"]["profiles"].items()]


PARTS = (
    Part(
        name="start",
        order=20,
        measure=Measure(
            measure,
            guess,
            lambda plan: f"profile {plan.profile} from scratch",
            needs=Needs.PROFILE_IMAGES,
            per=Per.ROUND,
        ),
        sections=("start",),
        markdown=markdown,
        panels=panels,
        figures=figures,
        headline=headline,
    ),
)
