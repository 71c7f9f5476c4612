"""What a benchmark part is: the one declaration of a figure family, and the plan it runs in.

A part (toolkit/bench/parts/<name>.py, found there by toolkit/bench/parts/__init__.py) says

- what it needs before it measures (`Needs`), and which service it measures, if one must be
  selected for it to run at all (`service`);
- how it measures and roughly how long that takes (`Measure`: parts that share one Measure,
  like the HTTP load and the memory sampled under it, run as one step);
- how it renders: its sections of the results document, its markdown, its chart panels, its
  `--compare` figures (and which direction of each is a regression), its summary line.

Nothing here imports a part or touches Docker; parts import this module, never each other.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from toolkit.catalog import Catalog, Service

TIER_WEIGHT = {1: 1, 2: 3, 3: 4, 4: 8, 5: 15}  # heavier tiers, longer builds and starts (rough)


def tier_weight(tier: int) -> int:
    return TIER_WEIGHT.get(tier, 4)


@dataclass(frozen=True)
class Plan:
    """What one run measures: the services, the profile they run in, the selected part names
    (in running order) and how hard (rounds, quick, the seed-strategy baseline or not)."""

    catalog: Catalog
    services: tuple[Service, ...]
    profile: str
    parts: tuple[str, ...]
    rounds: int = 3
    quick: bool = False
    baseline: bool = True

    @property
    def running_services(self) -> list[Service]:
        """The selected services, as the profile runs them."""
        return [s for s in self.catalog.profile(self.profile) if s in self.services]

    @property
    def weights(self) -> list[int]:
        return [tier_weight(s.tier) for s in self.services]


class Needs(enum.Enum):
    """What must be there before a part measures (toolkit/bench/run.py makes it so)."""

    NOTHING = "nothing"  # the part builds or starts what it uses itself
    IMAGES = "the selected services' production images"
    PROFILE_IMAGES = "the profile's production images"
    PROFILE_UP = "the profile running and healthy"


class Per(enum.Enum):
    """What a step's time grows with, to scale an earlier run's duration to this run."""

    RUN = "run"
    ROUND = "round"
    SERVICE = "service"

    def units(self, scope: dict) -> float:
        if self is Per.ROUND:
            return scope.get("rounds") or 1
        if self is Per.SERVICE:
            return len(scope.get("services") or []) or 1
        return 1


def same_quickness(plan: Plan, scope: dict) -> bool:
    """An earlier run's time says something of this run's when its loads were as long."""
    return scope.get("quick") == plan.quick


@dataclass(frozen=True)
class Measure:
    """How one step measures: `measure(plan, run)` fills the run's sections; `guess(plan,
    selected, medians)` is its seconds when no comparable earlier run says (`selected`: the
    part names of the step this run runs; `medians`: the newest results document with build
    figures, or None); `what(plan)` is its line in the plan table."""

    measure: Callable[[Plan, dict], None]
    guess: Callable[[Plan, tuple[str, ...], dict | None], float]
    what: Callable[[Plan], str]
    needs: Needs = Needs.NOTHING
    per: Per = Per.RUN
    comparable: Callable[[Plan, dict], bool] = same_quickness
    basis: str = "a rough guess"  # what `guess` rests on, for the plan table


@dataclass(frozen=True)
class Figure:
    """One `--compare` figure: a number (or a summary, whose median is compared; anything else
    is skipped), its unit (report.FLOORS has the noise floor per unit) and its direction."""

    name: str
    value: object
    unit: str
    higher_is_better: bool = False


@dataclass(frozen=True)
class Series:
    name: str
    colour: str
    values: Sequence[float | None]


@dataclass(frozen=True)
class Panel:
    """One chart panel: bars per label, one bar per series (a missing value draws none)."""

    title: str
    unit: str
    labels: Sequence[str]
    series: Sequence[Series]
    log: bool = False  # figures spanning orders of magnitude

    def __bool__(self) -> bool:
        return bool(self.labels) and any(v is not None for s in self.series for v in s.values)


Lines = list[str]


def nothing(*_args: object) -> list:
    return []


@dataclass(frozen=True)
class Part:
    """One figure family, selected by `name` with `--parts`."""

    name: str
    order: int  # running order among the parts (build first, devloop last)
    measure: Measure
    sections: tuple[str, ...]  # the results document's sections it fills
    markdown: Callable[[dict, Catalog | None], Lines] = nothing
    panels: Callable[[dict, Catalog | None], Iterable[Panel]] = nothing
    figures: Callable[[dict], Iterable[Figure]] = nothing
    headline: Callable[[dict], Iterable[str]] = nothing  # a few figures, for the summary
    service: str | None = None  # runs only when this service is selected
    scope: Callable[[Plan], dict] = field(default=lambda plan: {})
    report_order: float | None = None  # where its markdown goes, when not in running order

    @property
    def rank(self) -> float:
        return self.order if self.report_order is None else self.report_order
