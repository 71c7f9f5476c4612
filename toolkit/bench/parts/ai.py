"""ai: ai-provider's cache hit rate on a replayed request mix, the market brief's latency with
and without its cache, and a burst past its concurrency limit, when the selection includes
ai-orchestration (the ai profile); toolkit/bench/measure/ai.py.

Section: ai["provider_cache"] = {requests, distinct_prompts, distinct_questions, exact_hits,
semantic_hits, misses, hit_rate, exact_ceiling, wrong_semantic_hits, hit_p50_ms, miss_p50_ms};
ai["models"] = {service: training outcome}; ai["workflow"]["uncached" | "cached"] = {runs,
status, p50_ms, p95_ms, max_ms}; ai["burst"] = {requests, ok, rejected_429, other,
max_concurrent, queue_limit, max_running_seen, retry_after_s, seconds}.
"""

from __future__ import annotations

from toolkit.bench import fmt
from toolkit.bench.measure import ai
from toolkit.bench.part import Figure, Measure, Needs, Panel, Part, Plan, Series
from toolkit.catalog import Catalog

GUESS = {True: 40, False: 90}  # the request mix, a replay, two trainings, briefs, a burst


def measure(plan: Plan, run: dict) -> None:
    run["ai"] = ai.measure(plan.catalog, quick=plan.quick)


def _percent(share: float | None) -> float | None:
    return None if share is None else round(100 * share, 1)


def panels(run: dict, catalog: Catalog | None) -> list[Panel]:
    section = run.get("ai") or {}
    workflow = section.get("workflow") or {}
    runs = list(workflow)
    cache = section.get("provider_cache") or {}
    burst = section.get("burst") or {}
    outcomes = (("answered", "ok"), ("refused (429)", "rejected_429"), ("other", "other"))
    return [
        Panel(
            "Market brief through the gateway (ms, lower is better)",
            "ms",
            runs,
            [
                Series("p50", "#2a7ab9", [workflow[r].get("p50_ms") for r in runs]),
                Series("p95", "#e08a2c", [workflow[r].get("p95_ms") for r in runs]),
            ],
        ),
        Panel(
            "ai-provider cache, replayed mix (% of requests, higher is better)",
            "%",
            ["hit rate", "exact cache's ceiling"] if cache else [],
            [
                Series(
                    "%", "#2b8a3e", [_percent(cache.get(k)) for k in ("hit_rate", "exact_ceiling")]
                )
            ],
        ),
        Panel(
            f"Burst of {burst.get('requests', 0)} uncached briefs (requests)",
            "requests",
            [label for label, _ in outcomes] if burst else [],
            [Series("requests", "#7f5fb5", [burst.get(key) for _, key in outcomes])],
        ),
    ]


def figures(run: dict):
    section = run.get("ai") or {}
    hit_rate = (section.get("provider_cache") or {}).get("hit_rate")
    yield Figure("ai provider cache hit rate", hit_rate, "", higher_is_better=True)
    for name, f in (section.get("workflow") or {}).items():
        for key in ("p50_ms", "p95_ms"):
            yield Figure(f"ai brief {name} {key[:3]}", f.get(key), "ms")


def headline(run: dict):
    section = run["ai"]
    yield f"provider cache hit rate {section['provider_cache']['hit_rate']:.1%}"
    for n, f in section["workflow"].items():
        yield f"brief {n} p50 {f['p50_ms']} ms"
    yield f"burst: {section['burst']['max_running_seen']} running at most"


PARTS = (
    Part(
        name="ai",
        order=60,
        measure=Measure(
            measure,
            lambda plan, selected, medians: GUESS[plan.quick],
            lambda plan: f"through the gateway, profile {plan.profile}",
            needs=Needs.PROFILE_UP,
        ),
        sections=("ai",),
        service="ai-orchestration",
        markdown=fmt.generic(
            "AI tiers: provider cache, market brief latency, concurrency under a burst", "ai"
        ),
        panels=panels,
        figures=figures,
        headline=headline,
    ),
)
