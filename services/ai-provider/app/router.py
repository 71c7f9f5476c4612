"""Routing: which models may answer a request, and in which order they are tried.

`model: "auto"` takes every language model serving the request's task whose estimated cost
(the prompt's tokens plus `max_tokens` at its prices) fits `max_cost_usd`, cheapest first
(`prefer: "cost"`, observed latency breaking ties) or fastest first (`prefer: "latency"`;
models not yet measured come after the measured ones, cheapest first). A named model is
tried first, then its configured fallbacks. offline-template closes every list: it is the
answer when nothing else can give one. `fallback: false` keeps only the first candidate.

The cost ceiling is about language models: when some serve the task but none fits, that is
a 422 naming the cheapest estimate rather than a silent template answer (ask for
`offline-template` by name to get one). When none serves the task at all, the template is
the honest default and answers.
"""

import math
from dataclasses import dataclass

from app.registry import OFFLINE, ModelSpec, Registry


class CostCeilingExceeded(ValueError):
    """No language model's estimate fits the request's max_cost_usd."""

    def __init__(self, ceiling: float, cheapest: ModelSpec, estimate: float) -> None:
        super().__init__(
            f"no model fits max_cost_usd={ceiling:g}: the cheapest estimate is "
            f"{estimate:.8f} USD ({cheapest.id}); raise the ceiling, lower max_tokens, or ask "
            f"for model 'offline-template'"
        )
        self.cheapest = cheapest.id
        self.estimate = estimate


@dataclass(frozen=True)
class Route:
    """The models to try, in order, and their cost estimates."""

    candidates: tuple[ModelSpec, ...]
    estimates: dict[str, float]

    @property
    def ids(self) -> list[str]:
        return [spec.id for spec in self.candidates]


def _ordered(
    specs: list[ModelSpec], estimates: dict[str, float], latency: dict[str, float], prefer: str
) -> list[ModelSpec]:
    def by_cost(spec: ModelSpec) -> tuple:
        return (estimates[spec.id], latency.get(spec.id, math.inf), spec.id)

    def by_latency(spec: ModelSpec) -> tuple:
        return (latency.get(spec.id, math.inf), estimates[spec.id], spec.id)

    return sorted(specs, key=by_latency if prefer == "latency" else by_cost)


def plan(
    registry: Registry,
    *,
    model: str,
    task: str,
    prompt_tokens: int,
    max_tokens: int,
    max_cost_usd: float | None,
    prefer: str,
    fallback: bool,
    latency: dict[str, float],
) -> Route:
    """The candidates for one request (UnknownModel, CostCeilingExceeded when none may try)."""

    def fits(spec: ModelSpec) -> bool:
        return max_cost_usd is None or estimates[spec.id] <= max_cost_usd

    estimates = {spec.id: spec.cost(prompt_tokens, max_tokens) for spec in registry.chat.values()}
    if model == "auto":
        serving = [spec for spec in registry.language_models if spec.serves(task)]
        chosen = [spec for spec in serving if fits(spec)]
        if serving and not chosen:
            cheapest = min(serving, key=lambda spec: estimates[spec.id])
            raise CostCeilingExceeded(max_cost_usd or 0.0, cheapest, estimates[cheapest.id])
        candidates = [*_ordered(chosen, estimates, latency, prefer), OFFLINE]
    else:
        first = registry.chat_model(model)
        if not fits(first):
            raise CostCeilingExceeded(max_cost_usd or 0.0, first, estimates[first.id])
        candidates = [first]
        for name in (*first.fallbacks, OFFLINE.id):
            spec = registry.chat[name]
            if spec not in candidates and fits(spec):
                candidates.append(spec)
    if not fallback:
        candidates = candidates[:1]
    return Route(tuple(candidates), {spec.id: estimates[spec.id] for spec in candidates})
