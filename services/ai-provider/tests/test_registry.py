"""The registry: hosted models by key, a local server, MODELS, prices and their source."""

import pytest

from app.core.config import ModelConfig, Settings
from app.registry import litellm_prices, load_registry


def settings(**values) -> Settings:
    base = {"local_llm_url": None, "local_llm_model": None, "models": []}
    return Settings(**{**base, **values})


def test_nothing_configured_leaves_the_offline_writer_and_minilm():
    registry = load_registry(settings(), {})
    assert list(registry.chat) == ["offline-template"]
    assert list(registry.embedding) == ["all-minilm-l6-v2"]
    assert registry.language_models == []


def test_a_key_adds_its_provider_with_litellms_prices():
    registry = load_registry(settings(), {"OPENAI_API_KEY": "sk-x", "MISTRAL_API_KEY": "m"})
    gpt = registry.chat["gpt-4o-mini"]
    assert gpt.api_key == "sk-x"
    assert gpt.price_source == "litellm"
    assert (gpt.input_cost_per_1k, gpt.output_cost_per_1k) == litellm_prices("openai/gpt-4o-mini")
    assert "mistral-small-latest" in registry.chat
    assert "text-embedding-3-small" in registry.embedding
    assert list(registry.chat)[-1] == "offline-template"


def test_models_entries_read_their_key_from_the_named_variable():
    entry = ModelConfig(
        id="mine",
        litellm_model="openai/mine",
        api_base="http://127.0.0.1:1/v1",
        api_key_env="MY_KEY",
        input_cost_per_1k=0.3,
    )
    registry = load_registry(settings(models=[entry]), {"MY_KEY": "secret"})
    mine = registry.chat["mine"]
    assert mine.api_key == "secret"
    assert mine.price_source == "configured"
    assert mine.cost(1000, 1000) == pytest.approx(0.3)
    assert "secret" not in repr(mine)


def test_models_is_read_from_the_environment_as_json(monkeypatch):
    monkeypatch.setenv("MODELS", '[{"id": "x", "litellm_model": "openai/x", "tasks": ["brief"]}]')
    registry = load_registry(Settings(local_llm_url=None, local_llm_model=None), {})
    assert registry.chat["x"].tasks == ("brief",)
    assert registry.chat["x"].price_source == "none"


def test_a_duplicate_id_or_unknown_fallback_is_refused():
    twice = [ModelConfig(id="a", litellm_model="openai/a")] * 2
    with pytest.raises(ValueError, match="twice"):
        load_registry(settings(models=twice), {})
    dangling = [ModelConfig(id="a", litellm_model="openai/a", fallbacks=["b"])]
    with pytest.raises(ValueError, match="unknown models"):
        load_registry(settings(models=dangling), {})


def test_a_local_server_without_a_path_is_reached_at_v1():
    registry = load_registry(
        settings(local_llm_url="http://local-llm:8010", local_llm_model="m"), {}
    )
    assert registry.chat["m"].api_base == "http://local-llm:8010/v1"
    given = load_registry(
        settings(local_llm_url="http://ollama:11434/v1/", local_llm_model="m"), {}
    )
    assert given.chat["m"].api_base == "http://ollama:11434/v1"


def test_the_platforms_local_llm_gets_our_internal_credential_and_no_one_else_does():
    local = {"local_llm_url": "http://local-llm:8010", "local_llm_model": "m"}
    ours = settings(**local, local_llm_internal=True, internal_token="ai-provider:s3cret")
    theirs = settings(**local, internal_token="ai-provider:s3cret", local_llm_api_key="k")
    assert load_registry(ours, {}).chat["m"].api_key == "ai-provider:s3cret"
    assert load_registry(theirs, {}).chat["m"].api_key == "k"


def test_the_local_model_serves_auto_only_without_a_hosted_chat_model():
    local = settings(local_llm_url="http://local-llm:8010", local_llm_model="m")
    alone = load_registry(local, {})
    beside = load_registry(local, {"OPENAI_API_KEY": "sk-x"})
    assert alone.chat["m"].serves("brief")
    assert alone.chat["m"].price_source == "free"
    assert not beside.chat["m"].serves("brief")
    assert beside.chat["gpt-4o-mini"].serves("brief")
    assert list(beside.chat)[-1] == "offline-template"
