"""Routing: candidates by task, cost ceiling and preference; explicit models and fallbacks."""

import pytest

from app.registry import ModelSpec, Registry, UnknownModel
from app.router import CostCeilingExceeded, plan


def spec(model_id: str, price: float, tasks=("*",), fallbacks=()) -> ModelSpec:
    return ModelSpec(
        id=model_id,
        litellm_model=f"openai/{model_id}",
        provider="openai",
        owned_by="openai",
        tasks=tuple(tasks),
        input_cost_per_1k=price,
        output_cost_per_1k=price,
        price_source="configured",
        fallbacks=tuple(fallbacks),
    )


REGISTRY = Registry(
    [
        spec("mid", 1.0),
        spec("dear", 10.0, fallbacks=["mid"]),
        spec("cheap", 0.1, tasks=["chat"]),
        spec("writer", 2.0, tasks=["brief"]),
    ]
)


def route(**kwargs):
    values = {
        "model": "auto",
        "task": "chat",
        "prompt_tokens": 100,
        "max_tokens": 100,
        "max_cost_usd": None,
        "prefer": "cost",
        "fallback": True,
        "latency": {},
        **kwargs,
    }
    return plan(REGISTRY, **values)


def test_auto_orders_by_cost_with_the_offline_writer_last():
    assert route().ids == ["cheap", "mid", "dear", "offline-template"]
    assert route(task="brief").ids == ["mid", "writer", "dear", "offline-template"]


def test_estimates_are_prompt_plus_max_tokens_at_the_prices():
    planned = route(prompt_tokens=300, max_tokens=200)
    assert planned.estimates["mid"] == pytest.approx((300 + 200) * 1.0 / 1000)
    assert planned.estimates["offline-template"] == 0.0


def test_the_ceiling_drops_dearer_models():
    assert route(max_cost_usd=0.2).ids == ["cheap", "mid", "offline-template"]


def test_no_language_model_within_the_ceiling_is_an_error_naming_the_cheapest():
    with pytest.raises(CostCeilingExceeded) as caught:
        route(max_cost_usd=0.001)
    assert caught.value.cheapest == "cheap"
    assert caught.value.estimate == pytest.approx(0.02)


def test_a_task_no_model_serves_leaves_the_offline_writer():
    assert route(task="translate").ids == ["mid", "dear", "offline-template"]
    only_offline = plan(
        Registry([spec("chatty", 1.0, tasks=["chat"])]),
        model="auto",
        task="translate",
        prompt_tokens=1,
        max_tokens=1,
        max_cost_usd=0.0,
        prefer="cost",
        fallback=True,
        latency={},
    )
    assert only_offline.ids == ["offline-template"]


def test_latency_first_puts_measured_models_first():
    latency = {"dear": 50.0, "mid": 400.0}
    assert route(prefer="latency", latency=latency).ids == [
        "dear",
        "mid",
        "cheap",
        "offline-template",
    ]
    # Cost order breaks ties by latency only.
    assert route(prefer="cost", latency=latency).ids[0] == "cheap"


def test_a_named_model_then_its_fallbacks_then_the_offline_writer():
    assert route(model="dear").ids == ["dear", "mid", "offline-template"]
    assert route(model="dear", fallback=False).ids == ["dear"]
    assert route(model="offline-template").ids == ["offline-template"]


def test_a_named_model_over_the_ceiling_is_an_error():
    with pytest.raises(CostCeilingExceeded):
        route(model="dear", max_cost_usd=0.5)


def test_an_unknown_model_lists_the_available():
    with pytest.raises(UnknownModel) as caught:
        route(model="nope")
    assert caught.value.available == ["auto", "mid", "dear", "cheap", "writer", "offline-template"]
